/* The provider circuit breaker with an injected clock: N failures open it, DENY while open,
 * exactly one PROBE after the cooldown, success closes, failure re-opens with a doubled
 * (capped) cooldown, lost probes, stale reports, export/import round trip, and many threads
 * racing for the probe. */
#include "check.h"

#include "core/clock.h"
#include "resilience/breaker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic int64_t fake_wall = 1700000000000;

static uint64_t mono(void *ud)
{
    (void)ud;
    return (uint64_t)atomic_load(&fake_wall);
}

static int64_t wall(void *ud)
{
    (void)ud;
    return atomic_load(&fake_wall);
}

static void advance(int64_t ms)
{
    atomic_fetch_add(&fake_wall, ms);
}

static void fail_n(or_breaker_reg *r, const char *id, int n)
{
    for (int i = 0; i < n; i++)
        or_breaker_report(r, id, OR_BREAKER_FAILURE, 0);
}

static void test_profiles(void)
{
    const or_breaker_profile *k = or_breaker_profile_default(OR_BREAKER_APIKEY);
    const or_breaker_profile *o = or_breaker_profile_default(OR_BREAKER_OAUTH);
    CHECK(k->threshold == 12 && k->window_ms == 30000 && k->cooldown_ms == 30000);
    CHECK(o->threshold == 8 && o->window_ms == 60000 && o->cooldown_ms == 60000);
    CHECK(or_breaker_kind_from_name("oauth") == OR_BREAKER_OAUTH);
    CHECK(or_breaker_kind_from_name("nope") == -1);
    CHECK_STR(or_breaker_kind_name(OR_BREAKER_LOCAL), "local");
    or_breaker_reg *r = or_breaker_new();
    or_breaker_profile bad = *k;
    bad.threshold = 0;
    CHECK(or_breaker_set_profile(r, OR_BREAKER_APIKEY, &bad) == OR_EINVAL);
    bad.threshold = OR_BREAKER_MAX_THRESHOLD + 1;
    CHECK(or_breaker_set_profile(r, OR_BREAKER_APIKEY, &bad) == OR_EINVAL);
    or_breaker_profile p = *k;
    p.threshold = 3;
    CHECK(or_breaker_set_profile(r, OR_BREAKER_APIKEY, &p) == OR_OK);
    or_breaker_profile got;
    or_breaker_get_profile(r, OR_BREAKER_APIKEY, &got);
    CHECK(got.threshold == 3);
    or_breaker_free(r);
}

static void test_state_machine(void)
{
    or_breaker_reg *r = or_breaker_new();
    uint64_t tok = 99;
    /* unknown provider: allowed, nothing stored */
    CHECK(or_breaker_allow(r, "openai", &tok) == OR_BREAKER_ALLOW && tok == 0);
    CHECK(or_breaker_state_of(r, "openai", NULL) == OR_BREAKER_CLOSED);

    /* 11 failures: still closed (threshold 12) */
    fail_n(r, "openai", 11);
    CHECK(or_breaker_allow(r, "openai", NULL) == OR_BREAKER_ALLOW);
    /* the 12th within the window opens it */
    fail_n(r, "openai", 1);
    int64_t at = 0;
    CHECK(or_breaker_state_of(r, "openai", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 30000);
    CHECK(or_breaker_allow(r, "openai", &tok) == OR_BREAKER_DENY && tok == 0);
    /* other providers are untouched */
    CHECK(or_breaker_allow(r, "anthropic", NULL) == OR_BREAKER_ALLOW);

    /* late reports from requests let through before it opened change nothing */
    or_breaker_report(r, "openai", OR_BREAKER_SUCCESS, 0);
    or_breaker_report(r, "openai", OR_BREAKER_FAILURE, 0);
    CHECK(or_breaker_state_of(r, "openai", &at) == OR_BREAKER_OPEN);

    advance(29999);
    CHECK(or_breaker_allow(r, "openai", NULL) == OR_BREAKER_DENY);
    advance(1);
    CHECK(or_breaker_state_of(r, "openai", NULL) == OR_BREAKER_HALF_OPEN); /* lazily due */
    uint64_t probe = 0;
    CHECK(or_breaker_allow(r, "openai", &probe) == OR_BREAKER_PROBE && probe != 0);
    /* exactly one probe */
    for (int i = 0; i < 5; i++)
        CHECK(or_breaker_allow(r, "openai", &tok) == OR_BREAKER_DENY);
    /* a report without the probe's token is not the probe */
    or_breaker_report(r, "openai", OR_BREAKER_SUCCESS, 0);
    or_breaker_report(r, "openai", OR_BREAKER_SUCCESS, probe + 1);
    CHECK(or_breaker_allow(r, "openai", NULL) == OR_BREAKER_DENY);

    /* the probe fails: re-open with the cooldown doubled */
    or_breaker_report(r, "openai", OR_BREAKER_FAILURE, probe);
    CHECK(or_breaker_state_of(r, "openai", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 60000);
    advance(30000);
    CHECK(or_breaker_allow(r, "openai", NULL) == OR_BREAKER_DENY);
    advance(30000);
    CHECK(or_breaker_allow(r, "openai", &probe) == OR_BREAKER_PROBE);
    or_breaker_report(r, "openai", OR_BREAKER_FAILURE, probe);
    CHECK(or_breaker_state_of(r, "openai", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 120000);

    /* keep failing: the cooldown stops at the cap (16 x 30 s) */
    for (int i = 0; i < 10; i++) {
        advance(1000000);
        CHECK(or_breaker_allow(r, "openai", &probe) == OR_BREAKER_PROBE);
        or_breaker_report(r, "openai", OR_BREAKER_FAILURE, probe);
    }
    or_breaker_state_of(r, "openai", &at);
    CHECK(at == atomic_load(&fake_wall) + 480000);

    /* the probe succeeds: closed, counters and backoff forgotten */
    advance(480000);
    CHECK(or_breaker_allow(r, "openai", &probe) == OR_BREAKER_PROBE);
    or_breaker_report(r, "openai", OR_BREAKER_SUCCESS, probe);
    CHECK(or_breaker_state_of(r, "openai", &at) == OR_BREAKER_CLOSED && at == 0);
    CHECK(or_breaker_allow(r, "openai", &tok) == OR_BREAKER_ALLOW && tok == 0);
    fail_n(r, "openai", 12);
    CHECK(or_breaker_state_of(r, "openai", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 30000); /* back to the base cooldown */
    or_breaker_free(r);
}

static void test_window_and_success(void)
{
    or_breaker_reg *r = or_breaker_new();
    /* failures spread wider than the window never open it */
    for (int i = 0; i < 40; i++) {
        fail_n(r, "glm", 1);
        advance(3000); /* 10 per 30 s */
    }
    CHECK(or_breaker_state_of(r, "glm", NULL) == OR_BREAKER_CLOSED);
    /* successes take failures back: 50% failure rate never trips */
    or_breaker_reset(r, "glm");
    for (int i = 0; i < 100; i++) {
        or_breaker_report(r, "glm", OR_BREAKER_FAILURE, 0);
        or_breaker_report(r, "glm", OR_BREAKER_SUCCESS, 0);
    }
    CHECK(or_breaker_state_of(r, "glm", NULL) == OR_BREAKER_CLOSED);
    /* OAuth providers trip at 8 */
    CHECK(or_breaker_set_kind(r, "cc", OR_BREAKER_OAUTH) == OR_OK);
    fail_n(r, "cc", 7);
    CHECK(or_breaker_state_of(r, "cc", NULL) == OR_BREAKER_CLOSED);
    fail_n(r, "cc", 1);
    int64_t at;
    CHECK(or_breaker_state_of(r, "cc", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 60000);
    /* reset one */
    or_breaker_reset(r, "cc");
    CHECK(or_breaker_allow(r, "cc", NULL) == OR_BREAKER_ALLOW);
    /* reset keeps the kind */
    fail_n(r, "cc", 8);
    CHECK(or_breaker_state_of(r, "cc", NULL) == OR_BREAKER_OPEN);
    /* reset all */
    fail_n(r, "glm", 12);
    or_breaker_reset(r, NULL);
    CHECK(or_breaker_state_of(r, "cc", NULL) == OR_BREAKER_CLOSED);
    CHECK(or_breaker_state_of(r, "glm", NULL) == OR_BREAKER_CLOSED);
    or_breaker_free(r);
}

static void test_lost_and_neutral_probe(void)
{
    or_breaker_reg *r = or_breaker_new();
    fail_n(r, "x", 12);
    advance(30000);
    uint64_t p1, p2;
    CHECK(or_breaker_allow(r, "x", &p1) == OR_BREAKER_PROBE);
    /* the probe's client went away: NEUTRAL frees the slot at once */
    or_breaker_report(r, "x", OR_BREAKER_NEUTRAL, p1);
    CHECK(or_breaker_allow(r, "x", &p2) == OR_BREAKER_PROBE && p2 != p1);
    /* this one never reports: after the probe timeout another request may probe */
    advance(119999);
    CHECK(or_breaker_allow(r, "x", NULL) == OR_BREAKER_DENY);
    advance(1);
    uint64_t p3;
    CHECK(or_breaker_allow(r, "x", &p3) == OR_BREAKER_PROBE && p3 != p2);
    /* the lost probe's late answer is ignored; the live one decides */
    or_breaker_report(r, "x", OR_BREAKER_SUCCESS, p2);
    CHECK(or_breaker_allow(r, "x", NULL) == OR_BREAKER_DENY);
    or_breaker_report(r, "x", OR_BREAKER_SUCCESS, p3);
    CHECK(or_breaker_allow(r, "x", NULL) == OR_BREAKER_ALLOW);
    or_breaker_free(r);
}

static void test_export_import(void)
{
    or_breaker_reg *r = or_breaker_new();
    or_breaker_set_kind(r, "cc", OR_BREAKER_OAUTH);
    fail_n(r, "cc", 8); /* open */
    fail_n(r, "groq", 12);
    advance(30000);
    fail_n(r, "openai", 3); /* closed with failures */
    uint64_t p;
    CHECK(or_breaker_allow(r, "groq", &p) == OR_BREAKER_PROBE); /* half-open, probe out */

    json_t *j = or_breaker_export(r);
    CHECK(j != NULL);
    json_t *cc = json_object_get(j, "cc");
    CHECK_STR(json_string_value(json_object_get(cc, "state")), "OPEN");
    CHECK_STR(json_string_value(json_object_get(cc, "kind")), "oauth");
    CHECK(json_integer_value(json_object_get(cc, "failures")) == 8);
    CHECK(json_integer_value(json_object_get(cc, "next_probe_at")) ==
          atomic_load(&fake_wall) + 30000);
    json_t *oa = json_object_get(j, "openai");
    CHECK_STR(json_string_value(json_object_get(oa, "state")), "CLOSED");
    CHECK(json_integer_value(json_object_get(oa, "failures")) == 3);
    CHECK(json_is_null(json_object_get(oa, "opened_at")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "groq"), "state")), "HALF_OPEN");

    /* through text, as the store would keep it */
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    free(text);

    /* "restart": a fresh registry */
    or_breaker_reg *r2 = or_breaker_new();
    or_errbuf eb;
    CHECK(or_breaker_import(r2, back, &eb) == OR_OK);
    json_decref(back);
    int64_t at;
    CHECK(or_breaker_state_of(r2, "cc", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 30000);
    CHECK(or_breaker_allow(r2, "cc", NULL) == OR_BREAKER_DENY);
    /* closed with 3 failures: 9 more open it */
    fail_n(r2, "openai", 8);
    CHECK(or_breaker_state_of(r2, "openai", NULL) == OR_BREAKER_CLOSED);
    fail_n(r2, "openai", 1);
    CHECK(or_breaker_state_of(r2, "openai", NULL) == OR_BREAKER_OPEN);
    /* the oauth kind came back: its next trip uses 60 s */
    advance(30000);
    CHECK(or_breaker_allow(r2, "cc", &p) == OR_BREAKER_PROBE);
    or_breaker_report(r2, "cc", OR_BREAKER_SUCCESS, p);
    fail_n(r2, "cc", 8);
    CHECK(or_breaker_state_of(r2, "cc", &at) == OR_BREAKER_OPEN);
    CHECK(at == atomic_load(&fake_wall) + 60000);
    /* the half-open probe died with the old process: due for a new one now */
    CHECK(or_breaker_allow(r2, "groq", &p) == OR_BREAKER_PROBE);

    /* bad input */
    CHECK(or_breaker_import(r2, NULL, &eb) == OR_EINVAL);
    json_t *arr = json_array();
    CHECK(or_breaker_import(r2, arr, &eb) == OR_EINVAL);
    json_decref(arr);
    json_t *junk =
        json_pack("{s:s, s:{s:s}, s:{s:i}}", "a", "x", "b", "state", "WEIRD", "c", "state", 3);
    CHECK(or_breaker_import(r2, junk, &eb) == OR_OK); /* skipped, not fatal */
    json_decref(junk);
    CHECK(or_breaker_state_of(r2, "b", NULL) == OR_BREAKER_CLOSED);
    or_breaker_free(r);
    or_breaker_free(r2);
}

/* Many threads after the cooldown: exactly one gets the probe. */
typedef struct {
    or_breaker_reg *r;
    _Atomic int probes, denies;
} race;

static void *racer(void *ud)
{
    race *rc = ud;
    for (int i = 0; i < 1000; i++) {
        uint64_t t;
        or_breaker_verdict v = or_breaker_allow(rc->r, "p", &t);
        if (v == OR_BREAKER_PROBE)
            atomic_fetch_add(&rc->probes, 1);
        else if (v == OR_BREAKER_DENY)
            atomic_fetch_add(&rc->denies, 1);
        or_breaker_report(rc->r, "q", OR_BREAKER_FAILURE, 0); /* contention elsewhere */
    }
    return NULL;
}

static void test_threads(void)
{
    race rc = {.r = or_breaker_new()};
    fail_n(rc.r, "p", 12);
    advance(30000);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, racer, &rc);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&rc.probes) == 1);
    CHECK(atomic_load(&rc.denies) == 7999);
    CHECK(or_breaker_state_of(rc.r, "q", NULL) == OR_BREAKER_OPEN);
    or_breaker_free(rc.r);
}

int main(void)
{
    or_clock_source src = {mono, wall, NULL};
    or_clock_set(&src);
    test_profiles();
    test_state_machine();
    test_window_and_success();
    test_lost_and_neutral_probe();
    test_export_import();
    test_threads();
    or_clock_set(NULL);
    return check_done();
}
