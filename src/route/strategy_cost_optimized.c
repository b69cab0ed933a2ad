/* cost-optimized: cheapest input price first; targets with no known price go last, in list
 * order. */
#include "route/strategy.h"

#include <stdbool.h>

static bool known(double c)
{
    return c >= 0; /* false for NaN too */
}

static int cheaper(const void *ud, size_t a, size_t b)
{
    const or_target_stats *t = ((const or_strategy_ctx *)ud)->targets;
    double ca = t[a].cost, cb = t[b].cost;
    if (known(ca) != known(cb))
        return known(ca) ? -1 : 1;
    if (!known(ca) || ca == cb)
        return 0;
    return ca < cb ? -1 : 1;
}

static void order(const or_strategy_ctx *ctx, size_t n, size_t out[])
{
    or_strategy_identity(n, out);
    if (ctx->targets)
        or_strategy_sort(n, out, cheaper, ctx);
}

const or_strategy or_strategy_cost_optimized = {"cost-optimized", order};
