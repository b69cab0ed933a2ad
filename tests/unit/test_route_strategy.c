/* Combo strategies: the name table, and each strategy's order (round-robin stickiness,
 * weighted draws against their weights with a seeded source, least-used and cost order). */
#include "check.h"

#include "core/rand.h"
#include "route/strategy.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 0x9e3779b97f4a7c15ull;

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

static bool is_perm(const size_t *o, size_t n)
{
    bool seen[64] = {0};
    for (size_t i = 0; i < n; i++) {
        if (o[i] >= n || seen[o[i]])
            return false;
        seen[o[i]] = true;
    }
    return true;
}

static void test_table(void)
{
    CHECK(or_strategy_count() == 6);
    for (size_t i = 0; i < or_strategy_count(); i++)
        CHECK(or_strategy_find(or_strategy_at(i)->name) == or_strategy_at(i));
    CHECK(or_strategy_at(6) == NULL);
    CHECK(or_strategy_find(NULL) == &or_strategy_priority);
    CHECK(or_strategy_find("") == &or_strategy_priority);
    CHECK(or_strategy_find("fill-first") == &or_strategy_priority);
    CHECK(or_strategy_find("round_robin") == &or_strategy_round_robin);
    CHECK(or_strategy_find("usage") == &or_strategy_least_used);
    CHECK(or_strategy_find("cost_optimized") == &or_strategy_cost_optimized);
    CHECK(or_strategy_find("round-robin-x") == NULL);
    CHECK(or_strategy_find("auto") == NULL);
}

static void test_priority(void)
{
    size_t o[5];
    or_strategy_ctx ctx = {0};
    or_strategy_priority.order(&ctx, 5, o);
    for (size_t i = 0; i < 5; i++)
        CHECK(o[i] == i);
    or_strategy_priority.order(&ctx, 0, o); /* nothing to do, nothing touched */
}

static void test_round_robin(void)
{
    _Atomic uint64_t counter = 0;
    or_strategy_ctx ctx = {.rr_counter = &counter, .sticky_limit = 3};
    size_t o[3], firsts[12];
    for (int i = 0; i < 12; i++) {
        or_strategy_round_robin.order(&ctx, 2, o);
        CHECK(is_perm(o, 2));
        firsts[i] = o[0];
    }
    static const size_t want[12] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
    CHECK(memcmp(firsts, want, sizeof want) == 0);
    /* the rest follow from the start, wrapping */
    counter = 3;
    ctx.sticky_limit = 1;
    or_strategy_round_robin.order(&ctx, 3, o);
    CHECK(o[0] == 0 && o[1] == 1 && o[2] == 2);
    or_strategy_round_robin.order(&ctx, 3, o);
    CHECK(o[0] == 1 && o[1] == 2 && o[2] == 0);
    or_strategy_round_robin.order(&ctx, 3, o);
    CHECK(o[0] == 2 && o[1] == 0 && o[2] == 1);
    /* sticky 0 means the default 3 */
    counter = 0;
    ctx.sticky_limit = 0;
    int first1 = 0;
    for (int i = 0; i < 6; i++) {
        or_strategy_round_robin.order(&ctx, 2, o);
        first1 += o[0] == 1;
    }
    CHECK(first1 == 3);
}

static void test_random(void)
{
    or_strategy_ctx ctx = {0};
    size_t o[4];
    int firsts[4] = {0};
    for (int i = 0; i < 40000; i++) {
        or_strategy_random.order(&ctx, 4, o);
        CHECK(is_perm(o, 4));
        firsts[o[0]]++;
    }
    for (int i = 0; i < 4; i++)
        CHECK(firsts[i] > 9000 && firsts[i] < 11000);
}

static void test_weighted(void)
{
    or_target_stats t[4] = {{.weight = 70}, {.weight = 20}, {.weight = 10}, {.weight = 0}};
    or_strategy_ctx ctx = {.targets = t};
    size_t o[4];
    int firsts[4] = {0};
    const int draws = 100000;
    for (int i = 0; i < draws; i++) {
        or_strategy_weighted.order(&ctx, 4, o);
        CHECK(is_perm(o, 4));
        firsts[o[0]]++;
    }
    CHECK(fabs(firsts[0] / (double)draws - 0.70) < 0.01);
    CHECK(fabs(firsts[1] / (double)draws - 0.20) < 0.01);
    CHECK(fabs(firsts[2] / (double)draws - 0.10) < 0.01);
    CHECK(firsts[3] == 0); /* weight 0 is a fallback only */
    /* behind the drawn one, the others by weight, heaviest first */
    for (int i = 0; i < 100; i++) {
        or_strategy_weighted.order(&ctx, 4, o);
        for (size_t k = 2; k < 4; k++)
            CHECK(t[o[k - 1]].weight >= t[o[k]].weight);
        CHECK(o[3] == 3);
    }
    /* all zero (or negative, or NaN): uniform */
    or_target_stats z[3] = {{.weight = 0}, {.weight = -5}, {.weight = NAN}};
    ctx.targets = z;
    int zf[3] = {0};
    for (int i = 0; i < 30000; i++) {
        or_strategy_weighted.order(&ctx, 3, o);
        zf[o[0]]++;
    }
    for (int i = 0; i < 3; i++)
        CHECK(zf[i] > 9000 && zf[i] < 11000);
    /* one target */
    or_strategy_weighted.order(&ctx, 1, o);
    CHECK(o[0] == 0);
}

static void test_least_used(void)
{
    or_target_stats t[5] = {
        {.uses = 5, .last_used_ms = 1},   {.uses = 1, .last_used_ms = 900},
        {.uses = 1, .last_used_ms = 100}, {.uses = 0, .last_used_ms = 0},
        {.uses = 1, .last_used_ms = 100},
    };
    or_strategy_ctx ctx = {.targets = t};
    size_t o[5];
    or_strategy_least_used.order(&ctx, 5, o);
    static const size_t want[5] = {3, 2, 4, 1, 0}; /* ties keep list order */
    CHECK(memcmp(o, want, sizeof want) == 0);
}

static void test_cost(void)
{
    or_target_stats t[5] = {
        {.cost = 3.0}, {.cost = -1}, {.cost = 0.5}, {.cost = NAN}, {.cost = 0.5}};
    or_strategy_ctx ctx = {.targets = t};
    size_t o[5];
    or_strategy_cost_optimized.order(&ctx, 5, o);
    static const size_t want[5] = {2, 4, 0, 1, 3}; /* unknown prices last, in list order */
    CHECK(memcmp(o, want, sizeof want) == 0);
    ctx.targets = NULL; /* no stats: list order */
    or_strategy_cost_optimized.order(&ctx, 5, o);
    CHECK(o[0] == 0 && o[4] == 4);
}

int main(void)
{
    or_rand_set(xorshift, NULL);
    test_table();
    test_priority();
    test_round_robin();
    test_random();
    test_weighted();
    test_least_used();
    test_cost();
    or_rand_set(NULL, NULL);
    return check_done();
}
