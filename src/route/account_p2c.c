/* p2c (power of two choices): two distinct random eligible accounts, the healthier wins
 * (or_account_health; ties → lower priority, then the first drawn, so equals share the load).
 * Spreads load while steering away from sick accounts without having to rank them all. */
#include "route/account.h"

#include "core/rand.h"

static size_t better(const or_account_ctx *ctx, size_t a, size_t b)
{
    int ha = or_account_health(&ctx->accounts[a], ctx->now_ms);
    int hb = or_account_health(&ctx->accounts[b], ctx->now_ms);
    if (ha != hb)
        return ha < hb ? a : b;
    if (ctx->accounts[a].priority != ctx->accounts[b].priority)
        return ctx->accounts[a].priority < ctx->accounts[b].priority ? a : b;
    return a;
}

/* The k-th eligible account. */
static size_t nth_eligible(const or_account_ctx *ctx, size_t k)
{
    for (size_t i = 0; i < ctx->n; i++)
        if (or_account_eligible(ctx, i) && k-- == 0)
            return i;
    return OR_ACCOUNT_NONE;
}

static size_t pick(const or_account_ctx *ctx)
{
    size_t m = or_account_eligible_count(ctx);
    if (m == 0)
        return OR_ACCOUNT_NONE;
    if (m == 1)
        return nth_eligible(ctx, 0);
    uint32_t m32 = m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
    size_t x = or_rand_uniform(m32);
    size_t y = or_rand_uniform(m32 - 1);
    if (y >= x) /* distinct: draw from the other m-1 */
        y++;
    return better(ctx, nth_eligible(ctx, x), nth_eligible(ctx, y));
}

const or_account_strategy or_account_p2c = {"p2c", pick};
