/* Cooldowns per scope with an injected clock: exponential backoff, Retry-After winning, burst
 * de-duplication, quiet-period reset, success, force-unlock, export/import; and the
 * or_resilience facade that applies a classified failure to the right registry. */
#include "check.h"

#include "core/clock.h"
#include "resilience/resilience.h"

#include <string.h>

static int64_t fake_wall = 1700000000000;

static uint64_t mono(void *ud)
{
    (void)ud;
    return (uint64_t)fake_wall;
}

static int64_t wall(void *ud)
{
    (void)ud;
    return fake_wall;
}

static void test_backoff(void)
{
    or_cooldown_reg *r = or_cooldown_new();
    int64_t t0 = fake_wall;
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o") == 0);
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o", 0, 429) == t0 + 1000);
    /* a burst of concurrent failures during the cooldown is one step, not N */
    for (int i = 0; i < 5; i++)
        CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o", 0, 429) == t0 + 1000);
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o") == t0 + 1000);
    /* the model is part of the identity */
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o-mini") == 0);
    /* ...and the scope */
    CHECK(or_cooldown_until(r, OR_SCOPE_KEY, "c1", NULL) == 0);
    /* expiry is lazy and exact */
    fake_wall = t0 + 999;
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o") == t0 + 1000);
    fake_wall = t0 + 1000;
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o") == 0);
    /* the next failures double: 2, 4, 8 ... capped at 5 min */
    uint64_t expect[] = {2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        int64_t now = fake_wall;
        CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o", 0, 429) ==
              now + (int64_t)expect[i]);
        fake_wall = or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o");
    }
    /* a quiet period of one cap after the cooldown forgets the level */
    fake_wall += 300001;
    int64_t now = fake_wall;
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "gpt-4o", 0, 429) == now + 1000);
    or_cooldown_free(r);
}

static void test_retry_after_wins(void)
{
    or_cooldown_reg *r = or_cooldown_new();
    int64_t now = fake_wall;
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "m", 7000, 429) == now + 7000);
    /* a shorter hint during the cooldown does not shorten it; a longer one extends it */
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "m", 2000, 429) == now + 7000);
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "m", 9000, 429) == now + 9000);
    /* the hint also beats a long backoff */
    fake_wall = now + 9000;
    now = fake_wall;
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "m", 500, 429) == now + 500);
    /* a model lockout starts at 60 s */
    CHECK(or_cooldown_fail(r, OR_SCOPE_MODEL, "c1", "m", 0, 404) == now + 60000);
    or_cooldown_free(r);
}

static void test_peek_success_unlock(void)
{
    or_cooldown_reg *r = or_cooldown_new();
    int64_t now = fake_wall;
    or_cooldown_fail(r, OR_SCOPE_KEY, "c1", "ignored", 3000, 401);
    or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "m", 5000, 429);
    or_cooldown_fail(r, OR_SCOPE_PROVIDER, "openai", NULL, 8000, 503);
    or_cooldown_fail(r, OR_SCOPE_MODEL, "c2", "m", 0, 404);
    /* KEY ignores the model */
    CHECK(or_cooldown_until(r, OR_SCOPE_KEY, "c1", NULL) == now + 3000);
    CHECK(or_cooldown_until(r, OR_SCOPE_KEY, "c1", "other") == now + 3000);

    or_cooldown_info info;
    CHECK(or_cooldown_peek(r, "openai", "c1", "m", &info) == now + 8000);
    CHECK(info.status == 503 && info.level == 1);
    CHECK(or_cooldown_peek(r, NULL, "c1", "m", &info) == now + 5000 && info.status == 429);
    CHECK(or_cooldown_peek(r, NULL, "c1", "x", &info) == now + 3000 && info.status == 401);
    CHECK(or_cooldown_peek(r, NULL, "c1", NULL, NULL) == now + 3000);
    CHECK(or_cooldown_peek(r, "anthropic", "c3", "m", &info) == 0 && info.until == 0);

    /* success clears the connection's entries */
    or_cooldown_success(r, OR_SCOPE_ACCOUNT, "c1", "m");
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "m") == 0);
    /* a model lockout halves its level instead of forgetting it */
    for (int i = 0; i < 3; i++) { /* level 4 */
        fake_wall = or_cooldown_until(r, OR_SCOPE_MODEL, "c2", "m");
        or_cooldown_fail(r, OR_SCOPE_MODEL, "c2", "m", 0, 404);
    }
    or_cooldown_success(r, OR_SCOPE_MODEL, "c2", "m");
    CHECK(or_cooldown_until(r, OR_SCOPE_MODEL, "c2", "m") == 0);
    now = fake_wall;
    CHECK(or_cooldown_fail(r, OR_SCOPE_MODEL, "c2", "m", 0, 404) ==
          now + 240000 /* level 4 → 2 → 3 */);

    /* force-unlock: one, by id, all */
    fake_wall = now;
    or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "a", 0, 429);
    or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c1", "b", 0, 429);
    or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "c10", "a", 0, 429);
    CHECK(or_cooldown_unlock(r, OR_SCOPE_ACCOUNT, "c1", "a") == 1);
    CHECK(or_cooldown_unlock(r, OR_SCOPE_ACCOUNT, "c1", "a") == 0);
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c1", "b") != 0);
    size_t before = or_cooldown_count(r);
    CHECK(or_cooldown_unlock_id(r, "c1") == 2); /* KEY c1 and ACCOUNT c1/b, not c10 */
    CHECK(or_cooldown_count(r) == before - 2);
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "c10", "a") != 0);
    CHECK(or_cooldown_unlock_all(r) == or_cooldown_count(r) + before - 2);
    CHECK(or_cooldown_count(r) == 0);

    /* invalid identifiers are refused, not stored */
    char longid[600];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY, NULL, NULL, 0, 401) == 0);
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY, "", NULL, 0, 401) == 0);
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY,
                           "a\x1f"
                           "b",
                           NULL, 0, 401) == 0);
    CHECK(or_cooldown_fail(r, OR_SCOPE_ACCOUNT, "a", "m\x1f", 0, 401) == 0);
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY, longid, NULL, 0, 401) == 0);
    CHECK(or_cooldown_fail(r, OR_SCOPE_NONE, "a", NULL, 0, 401) == 0);
    CHECK(or_cooldown_count(r) == 0);
    or_cooldown_free(r);
}

static void test_policy_gc_export(void)
{
    or_cooldown_reg *r = or_cooldown_new();
    or_cooldown_policy p = {500, 3, 4000};
    CHECK(or_cooldown_set_policy(r, OR_SCOPE_KEY, &p) == OR_OK);
    or_cooldown_policy bad = {0, 2, 10};
    CHECK(or_cooldown_set_policy(r, OR_SCOPE_KEY, &bad) == OR_EINVAL);
    CHECK(or_cooldown_set_policy(r, OR_SCOPE_NONE, &p) == OR_EINVAL);
    int64_t now = fake_wall;
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY, "k", NULL, 0, 401) == now + 500);
    fake_wall += 500;
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY, "k", NULL, 0, 401) == fake_wall + 1500);
    fake_wall += 1500;
    CHECK(or_cooldown_fail(r, OR_SCOPE_KEY, "k", NULL, 0, 401) == fake_wall + 4000);

    or_cooldown_fail(r, OR_SCOPE_MODEL, "c1", "claude-x", 0, 404);
    or_cooldown_fail(r, OR_SCOPE_PROVIDER, "gemini", NULL, 2000, 503);
    json_t *j = or_cooldown_export(r);
    CHECK(json_array_size(j) == 3);
    size_t i;
    json_t *o;
    int seen = 0;
    json_array_foreach(j, i, o)
    {
        const char *scope = json_string_value(json_object_get(o, "scope"));
        const char *id = json_string_value(json_object_get(o, "id"));
        if (strcmp(scope, "model") == 0) {
            CHECK_STR(id, "c1");
            CHECK_STR(json_string_value(json_object_get(o, "model")), "claude-x");
            CHECK(json_integer_value(json_object_get(o, "status")) == 404);
            seen |= 1;
        } else if (strcmp(scope, "provider") == 0) {
            CHECK_STR(id, "gemini");
            CHECK(json_is_null(json_object_get(o, "model")));
            CHECK(json_integer_value(json_object_get(o, "until")) == fake_wall + 2000);
            seen |= 2;
        } else {
            CHECK_STR(scope, "key");
            CHECK(json_integer_value(json_object_get(o, "level")) == 3);
            seen |= 4;
        }
    }
    CHECK(seen == 7);

    or_cooldown_reg *r2 = or_cooldown_new();
    or_errbuf eb;
    CHECK(or_cooldown_import(r2, j, &eb) == OR_OK);
    CHECK(or_cooldown_until(r2, OR_SCOPE_MODEL, "c1", "claude-x") == fake_wall + 60000);
    CHECK(or_cooldown_until(r2, OR_SCOPE_PROVIDER, "gemini", NULL) == fake_wall + 2000);
    json_decref(j);
    CHECK(or_cooldown_import(r2, NULL, &eb) == OR_EINVAL);
    json_t *junk = json_pack("[{s:s}, {s:s, s:s, s:I}, i]", "scope", "key", "scope", "key", "id",
                             "old", "until", (json_int_t)(fake_wall - 1));
    CHECK(or_cooldown_import(r2, junk, &eb) == OR_OK);
    json_decref(junk);
    CHECK(or_cooldown_until(r2, OR_SCOPE_KEY, "old", NULL) == 0);

    /* gc: entries long past their cooldown go; live ones stay */
    fake_wall += 4000 + 4001;
    CHECK(or_cooldown_gc(r) == 1); /* the KEY entry (cap 4 s) */
    CHECK(or_cooldown_count(r) == 2);
    or_cooldown_free(r);
    or_cooldown_free(r2);
}

/* Thousands of identifiers: the map grows, sweeps the long-expired ones, finds the rest. */
static void test_many(void)
{
    or_cooldown_reg *r = or_cooldown_new();
    char id[32];
    int64_t t0 = fake_wall;
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "conn-%d", i);
        or_cooldown_fail(r, OR_SCOPE_ACCOUNT, id, "m", 1000, 429);
    }
    CHECK(or_cooldown_count(r) == 3000);
    for (int i = 0; i < 3000; i += 7) {
        snprintf(id, sizeof id, "conn-%d", i);
        CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, id, "m") == t0 + 1000);
    }
    fake_wall = t0 + 1000 + 300001; /* all long expired */
    /* the sweep runs when the map doubles past its last size: the dead go, the live stay */
    for (int i = 0; i < 1200; i++) {
        snprintf(id, sizeof id, "fresh-%d", i);
        or_cooldown_fail(r, OR_SCOPE_ACCOUNT, id, "m", 1000, 429);
    }
    CHECK(or_cooldown_count(r) < 3000);
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "fresh-0", "m") == fake_wall + 1000);
    CHECK(or_cooldown_until(r, OR_SCOPE_ACCOUNT, "fresh-1199", "m") == fake_wall + 1000);
    size_t live_and_dead = or_cooldown_count(r);
    CHECK(or_cooldown_gc(r) == live_and_dead - 1200);
    CHECK(or_cooldown_count(r) == 1200);
    or_cooldown_free(r);
}

static void test_facade(void)
{
    or_resilience res;
    CHECK(or_resilience_init(&res) == OR_OK);
    or_attempt a = {"openai", "conn-1", "gpt-4o"};
    or_failure_effect eff;
    int64_t now = fake_wall;

    /* 429 with a hint: the account+model cools for exactly that long; the breaker is untouched */
    uint32_t m = or_failure_classify(429, "rate limit", 10, OR_TRANSPORT_NONE);
    or_resilience_on_failure(&res, &a, m, 20000, 429, 0, &eff);
    CHECK(eff.next == OR_NEXT_ACCOUNT && eff.scope == OR_SCOPE_ACCOUNT && !eff.breaker_failure);
    CHECK(eff.cooldown_until == now + 20000);
    CHECK(or_cooldown_peek(res.cooldowns, "openai", "conn-1", "gpt-4o", NULL) == now + 20000);
    CHECK(or_cooldown_peek(res.cooldowns, "openai", "conn-1", "gpt-4o-mini", NULL) == 0);

    /* quota exhaustion with no reset time: the whole key for an hour */
    m = or_failure_classify(429, "insufficient_quota", 18, OR_TRANSPORT_NONE);
    or_resilience_on_failure(&res, &a, m, 0, 429, 0, &eff);
    CHECK(eff.scope == OR_SCOPE_KEY && eff.cooldown_until == now + 3600000);

    /* 5xx: the provider's breaker, no connection cooldown */
    or_attempt b = {"groq", "conn-2", "llama"};
    m = or_failure_classify(503, "", 0, OR_TRANSPORT_NONE);
    for (int i = 0; i < 12; i++)
        or_resilience_on_failure(&res, &b, m, 0, 503, 0, &eff);
    CHECK(eff.breaker_failure && eff.cooldown_until == 0);
    CHECK(or_breaker_allow(res.breakers, "groq", NULL) == OR_BREAKER_DENY);
    CHECK(or_cooldown_peek(res.cooldowns, "groq", "conn-2", "llama", NULL) == 0);
    /* a 503 with Retry-After holds the provider */
    or_attempt c = {"mistral", "conn-3", "large"};
    or_resilience_on_failure(&res, &c, m, 5000, 503, 0, &eff);
    CHECK(or_cooldown_peek(res.cooldowns, "mistral", "conn-9", NULL, NULL) == now + 5000);

    /* the half-open probe hits a client abort: slot freed, nothing counted */
    fake_wall += 30000;
    uint64_t probe;
    CHECK(or_breaker_allow(res.breakers, "groq", &probe) == OR_BREAKER_PROBE);
    or_resilience_on_abort(&res, &b, probe);
    CHECK(or_breaker_allow(res.breakers, "groq", &probe) == OR_BREAKER_PROBE);
    /* the probe gets a 401: the provider answered, so it is alive; the key cools */
    m = or_failure_classify(401, "bad key", 7, OR_TRANSPORT_NONE);
    or_resilience_on_failure(&res, &b, m, 0, 401, probe, &eff);
    CHECK(eff.scope == OR_SCOPE_KEY && eff.cooldown_until == fake_wall + 1000);
    CHECK(or_breaker_allow(res.breakers, "groq", NULL) == OR_BREAKER_ALLOW);

    /* context length: next target, nothing cools */
    m = or_failure_classify(400, "context_length_exceeded", 23, OR_TRANSPORT_NONE);
    or_resilience_on_failure(&res, &a, m, 0, 400, 0, &eff);
    CHECK(eff.next == OR_NEXT_TARGET && eff.cooldown_until == 0);

    /* success clears the connection */
    or_resilience_on_success(&res, &a, 0);
    CHECK(or_cooldown_peek(res.cooldowns, "openai", "conn-1", "gpt-4o", NULL) == 0);

    json_t *j = or_resilience_export(&res);
    CHECK(json_is_object(json_object_get(j, "breakers")));
    CHECK(json_is_array(json_object_get(j, "cooldowns")));
    CHECK(json_is_object(json_object_get(j, "limits")));
    json_decref(j);

    /* reset all */
    m = or_failure_classify(0, NULL, 0, OR_TRANSPORT_CONNECT);
    for (int i = 0; i < 12; i++)
        or_resilience_on_failure(&res, &b, m, 0, 0, 0, NULL);
    CHECK(or_breaker_allow(res.breakers, "groq", NULL) == OR_BREAKER_DENY);
    or_resilience_reset_all(&res);
    CHECK(or_breaker_allow(res.breakers, "groq", NULL) == OR_BREAKER_ALLOW);
    CHECK(or_cooldown_count(res.cooldowns) == 0);
    or_resilience_cleanup(&res);
}

int main(void)
{
    or_clock_source src = {mono, wall, NULL};
    or_clock_set(&src);
    test_backoff();
    test_retry_after_wins();
    test_peek_success_unlock();
    test_policy_gc_export();
    test_many();
    test_facade();
    or_clock_set(NULL);
    return check_done();
}
