#include "route/account.h"
#include "route/strategy.h"

static const or_account_strategy *const table[] = {
    &or_account_fill_first, &or_account_round_robin, &or_account_p2c,
    &or_account_random,     &or_account_least_used,  &or_account_cost_optimized,
};

const or_account_strategy *or_account_find(const char *name)
{
    if (!name || !*name)
        return &or_account_fill_first;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (or_strategy_name_eq(name, table[i]->name))
            return table[i];
    return NULL;
}

size_t or_account_strategy_count(void)
{
    return sizeof table / sizeof table[0];
}

const or_account_strategy *or_account_strategy_at(size_t i)
{
    return i < or_account_strategy_count() ? table[i] : NULL;
}

bool or_account_eligible(const or_account_ctx *ctx, size_t i)
{
    if (i >= ctx->n)
        return false;
    const or_account_info *a = &ctx->accounts[i];
    return !a->excluded && a->cooldown_until <= ctx->now_ms;
}

size_t or_account_eligible_count(const or_account_ctx *ctx)
{
    size_t k = 0;
    for (size_t i = 0; i < ctx->n; i++)
        k += or_account_eligible(ctx, i);
    return k;
}

int64_t or_account_next_free_at(const or_account_ctx *ctx)
{
    int64_t best = 0;
    for (size_t i = 0; i < ctx->n; i++) {
        const or_account_info *a = &ctx->accounts[i];
        if (!a->excluded && a->cooldown_until > ctx->now_ms && (!best || a->cooldown_until < best))
            best = a->cooldown_until;
    }
    return best;
}

/* ---- the P2C health score (after the original's table; lower is better) ---- */

static const struct {
    int lo, hi, points;
} error_points[] = {
    {429, 429, 24}, /* rate limited: the worst news short of an exhausted quota */
    {401, 401, 18},
    {403, 403, 18},
    {500, 599, 10},
};

static const struct {
    int64_t within_ms;
    int points;
} recency_points[] = {{15000, 3}, {60000, 2}, {300000, 1}};

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

int or_account_health(const or_account_info *a, int64_t now_ms)
{
    int score = a->quota_exhausted ? 200 : 0;
    if (a->last_error_status) {
        score += 6;
        for (size_t i = 0; i < sizeof error_points / sizeof error_points[0]; i++)
            if (a->last_error_status >= error_points[i].lo &&
                a->last_error_status <= error_points[i].hi) {
                score += error_points[i].points;
                break;
            }
    }
    score += min_int(40, 8 * (int)min_int((int)a->backoff_level, 40));
    if (a->quota_headroom >= 0) {
        int h = min_int(a->quota_headroom, 100);
        score += (100 - h + 4) / 8 + (h <= 10 ? 10 : h <= 25 ? 4 : 0);
    } else if (!a->quota_exhausted) {
        score += 4;
    }
    score += min_int(12, 2 * (int)min_int((int)a->consecutive_uses, 12));
    if (a->last_used_ms) {
        for (size_t i = 0; i < sizeof recency_points / sizeof recency_points[0]; i++)
            if (now_ms - a->last_used_ms < recency_points[i].within_ms) {
                score += recency_points[i].points;
                break;
            }
    }
    if (a->priority > 1)
        score += min_int(6, a->priority - 1);
    return score;
}
