/* least-used: fewest recorded requests first; ties go to the one used longest ago. */
#include "route/strategy.h"

static int less_used(const void *ud, size_t a, size_t b)
{
    const or_target_stats *t = ((const or_strategy_ctx *)ud)->targets;
    if (t[a].uses != t[b].uses)
        return t[a].uses < t[b].uses ? -1 : 1;
    if (t[a].last_used_ms != t[b].last_used_ms)
        return t[a].last_used_ms < t[b].last_used_ms ? -1 : 1;
    return 0;
}

static void order(const or_strategy_ctx *ctx, size_t n, size_t out[])
{
    or_strategy_identity(n, out);
    if (ctx->targets)
        or_strategy_sort(n, out, less_used, ctx);
}

const or_strategy or_strategy_least_used = {"least-used", order};
