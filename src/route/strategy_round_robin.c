/* round-robin: the start rotates through the targets, staying on one for sticky_limit requests
 * (prompt caches stay warm); the rest follow in list order from there. */
#include "route/strategy.h"

static void order(const or_strategy_ctx *ctx, size_t n, size_t out[])
{
    if (!n)
        return;
    uint64_t sticky = ctx->sticky_limit ? ctx->sticky_limit : OR_STRATEGY_STICKY_DEFAULT;
    uint64_t c = ctx->rr_counter ? atomic_fetch_add(ctx->rr_counter, 1) : 0;
    size_t start = (size_t)((c / sticky) % n);
    for (size_t i = 0; i < n; i++)
        out[i] = (start + i) % n;
}

const or_strategy or_strategy_round_robin = {"round-robin", order};
