/* Account strategies over a handful of connections: fill-first stays until a failure,
 * round-robin sticky 3 (also under threads), p2c steering away from cooldowns and sick
 * accounts, random as Fisher–Yates, least-used, cost-optimized, and the health score. */
#include "check.h"

#include "core/rand.h"
#include "route/account.h"

#include <pthread.h>
#include <string.h>

static uint64_t seed = 0x2545f4914f6cdd1dull;

static void xorshift(void *buf, size_t n, void *ud)
{
    (void)ud;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        p[i] = (unsigned char)(seed >> 24);
    }
}

#define NOW 1700000000000LL

static or_account_info acc(int priority)
{
    return (or_account_info){.priority = priority, .quota_headroom = -1};
}

static void test_table(void)
{
    CHECK(or_account_strategy_count() == 6);
    for (size_t i = 0; i < or_account_strategy_count(); i++)
        CHECK(or_account_find(or_account_strategy_at(i)->name) == or_account_strategy_at(i));
    CHECK(or_account_find(NULL) == &or_account_fill_first);
    CHECK(or_account_find("p2c") == &or_account_p2c);
    CHECK(or_account_find("least_used") == &or_account_least_used);
    CHECK(or_account_find("strict-random") == NULL);
}

static void test_fill_first(void)
{
    or_account_info a[3] = {acc(1), acc(2), acc(3)};
    or_account_ctx ctx = {.accounts = a, .n = 3, .now_ms = NOW};
    for (int i = 0; i < 10; i++)
        CHECK(or_account_fill_first.pick(&ctx) == 0);
    a[0].cooldown_until = NOW + 1000; /* it failed */
    CHECK(or_account_fill_first.pick(&ctx) == 1);
    a[1].excluded = true; /* tried in this request */
    CHECK(or_account_fill_first.pick(&ctx) == 2);
    a[2].excluded = true;
    CHECK(or_account_fill_first.pick(&ctx) == OR_ACCOUNT_NONE);
    CHECK(or_account_next_free_at(&ctx) == NOW + 1000);
    a[1].excluded = a[2].excluded = false;
    ctx.now_ms = NOW + 1000; /* the cooldown is over: back to the first */
    CHECK(or_account_fill_first.pick(&ctx) == 0);
    CHECK(or_account_next_free_at(&ctx) == 0);
}

static void test_round_robin(void)
{
    or_account_info a[2] = {acc(1), acc(1)};
    or_account_rr rr = {0};
    or_account_ctx ctx = {.accounts = a, .n = 2, .now_ms = NOW, .sticky_limit = 0, .rr = &rr};
    size_t picks[12];
    int count[2] = {0};
    for (int i = 0; i < 12; i++) {
        picks[i] = or_account_round_robin.pick(&ctx);
        count[picks[i]]++;
    }
    static const size_t want[12] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
    CHECK(memcmp(picks, want, sizeof want) == 0);
    CHECK(count[0] == 6 && count[1] == 6);
    /* an account in cooldown loses its turn at once */
    a[0].cooldown_until = NOW + 5000;
    for (int i = 0; i < 7; i++)
        CHECK(or_account_round_robin.pick(&ctx) == 1);
    a[0].cooldown_until = 0;
    /* 1 rotates every pick; three accounts cycle */
    or_account_info b[3] = {acc(1), acc(1), acc(1)};
    or_account_rr rr3 = {0};
    or_account_ctx c3 = {.accounts = b, .n = 3, .now_ms = NOW, .sticky_limit = 1, .rr = &rr3};
    for (int i = 0; i < 9; i++)
        CHECK(or_account_round_robin.pick(&c3) == (size_t)(i % 3));
    /* the list shrank under the state: start over safely */
    c3.n = 1;
    CHECK(or_account_round_robin.pick(&c3) == 0);
    /* nothing eligible */
    b[0].excluded = true;
    CHECK(or_account_round_robin.pick(&c3) == OR_ACCOUNT_NONE);
    /* no state given: fill-first */
    c3.rr = NULL;
    c3.n = 3;
    CHECK(or_account_round_robin.pick(&c3) == 1);
}

typedef struct {
    or_account_ctx *ctx;
    _Atomic int count[2];
} rr_race;

static void *rr_worker(void *ud)
{
    rr_race *r = ud;
    for (int i = 0; i < 3000; i++)
        atomic_fetch_add(&r->count[or_account_round_robin.pick(r->ctx)], 1);
    return NULL;
}

static void test_round_robin_threads(void)
{
    or_account_info a[2] = {acc(1), acc(1)};
    or_account_rr rr = {0};
    or_account_ctx ctx = {.accounts = a, .n = 2, .now_ms = NOW, .sticky_limit = 3, .rr = &rr};
    rr_race r = {.ctx = &ctx};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, rr_worker, &r);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* every pick is one step of the same rotation: 12000 picks split exactly */
    CHECK(atomic_load(&r.count[0]) == 6000 && atomic_load(&r.count[1]) == 6000);
}

static void test_p2c(void)
{
    or_account_info a[4] = {acc(1), acc(1), acc(1), acc(1)};
    a[2].cooldown_until = NOW + 60000;
    or_account_ctx ctx = {.accounts = a, .n = 4, .now_ms = NOW};
    int count[4] = {0};
    for (int i = 0; i < 3000; i++)
        count[or_account_p2c.pick(&ctx)]++;
    CHECK(count[2] == 0);                                      /* never the one in cooldown */
    CHECK(count[0] > 600 && count[1] > 600 && count[3] > 600); /* equal health: spread */

    /* a sick account (recent 429, backoff) loses every duel: it is never chosen */
    a[2].cooldown_until = 0;
    a[1].last_error_status = 429;
    a[1].backoff_level = 2;
    memset(count, 0, sizeof count);
    for (int i = 0; i < 3000; i++)
        count[or_account_p2c.pick(&ctx)]++;
    CHECK(count[1] == 0);
    CHECK(count[0] > 0 && count[2] > 0 && count[3] > 0);

    /* two eligible: the healthier one, always */
    a[0].excluded = a[3].excluded = true;
    for (int i = 0; i < 20; i++)
        CHECK(or_account_p2c.pick(&ctx) == 2);
    a[2].excluded = true;
    CHECK(or_account_p2c.pick(&ctx) == 1); /* the only one left */
    a[1].excluded = true;
    CHECK(or_account_p2c.pick(&ctx) == OR_ACCOUNT_NONE);
}

static void test_health(void)
{
    or_account_info h = acc(1);
    CHECK(or_account_health(&h, NOW) == 4); /* unknown headroom */
    h.quota_headroom = 100;
    CHECK(or_account_health(&h, NOW) == 0);
    h.quota_headroom = 20; /* round(80/8)=10, +4 for <= 25 */
    CHECK(or_account_health(&h, NOW) == 14);
    h.quota_headroom = 100;
    h.last_error_status = 429;
    CHECK(or_account_health(&h, NOW) == 30);
    h.last_error_status = 401;
    CHECK(or_account_health(&h, NOW) == 24);
    h.last_error_status = 503;
    CHECK(or_account_health(&h, NOW) == 16);
    h.last_error_status = 0;
    h.backoff_level = 9; /* capped at 40 */
    CHECK(or_account_health(&h, NOW) == 40);
    h.backoff_level = 0;
    h.last_used_ms = NOW - 10000;
    CHECK(or_account_health(&h, NOW) == 3);
    h.last_used_ms = NOW - 120000;
    CHECK(or_account_health(&h, NOW) == 1);
    h.last_used_ms = 0;
    h.consecutive_uses = 10; /* capped at 12 */
    h.priority = 20;         /* capped at 6 */
    CHECK(or_account_health(&h, NOW) == 18);
    h = acc(1);
    h.quota_exhausted = true;
    CHECK(or_account_health(&h, NOW) == 200);
}

static void test_random(void)
{
    or_account_info a[4] = {acc(1), acc(1), acc(1), acc(1)};
    a[1].excluded = true;
    or_account_ctx ctx = {.accounts = a, .n = 4, .now_ms = NOW};
    int count[4] = {0};
    for (int i = 0; i < 30000; i++)
        count[or_account_random.pick(&ctx)]++;
    CHECK(count[1] == 0);
    for (int i = 0; i < 4; i++)
        CHECK(i == 1 || (count[i] > 9000 && count[i] < 11000));
    /* failing over by excluding each pick visits every account once: a Fisher–Yates walk */
    a[1].excluded = false;
    bool seen[4] = {0};
    for (int i = 0; i < 4; i++) {
        size_t k = or_account_random.pick(&ctx);
        CHECK(k < 4 && !seen[k]);
        seen[k] = true;
        a[k].excluded = true;
    }
    CHECK(or_account_random.pick(&ctx) == OR_ACCOUNT_NONE);
}

static void test_least_used_cost(void)
{
    or_account_info a[4] = {acc(3), acc(2), acc(1), acc(1)};
    a[0].last_used_ms = NOW - 1000;
    a[1].last_used_ms = NOW - 9000;
    a[2].last_used_ms = NOW - 5000;
    a[3].last_used_ms = 0; /* never used */
    or_account_ctx ctx = {.accounts = a, .n = 4, .now_ms = NOW};
    CHECK(or_account_least_used.pick(&ctx) == 3);
    a[3].cooldown_until = NOW + 1;
    CHECK(or_account_least_used.pick(&ctx) == 1);
    /* cost-optimized: lowest priority value, first of equals */
    CHECK(or_account_cost_optimized.pick(&ctx) == 2);
    a[2].excluded = true;
    CHECK(or_account_cost_optimized.pick(&ctx) == 1);
    a[3].cooldown_until = 0;
    CHECK(or_account_cost_optimized.pick(&ctx) == 3);
    ctx.n = 0;
    CHECK(or_account_cost_optimized.pick(&ctx) == OR_ACCOUNT_NONE);
    CHECK(or_account_least_used.pick(&ctx) == OR_ACCOUNT_NONE);
    CHECK(or_account_eligible_count(&ctx) == 0);
}

int main(void)
{
    or_rand_set(xorshift, NULL);
    test_table();
    test_fill_first();
    test_round_robin();
    test_round_robin_threads();
    test_p2c();
    test_health();
    test_random();
    test_least_used_cost();
    or_rand_set(NULL, NULL);
    return check_done();
}
