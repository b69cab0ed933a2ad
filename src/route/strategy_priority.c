/* priority (alias fill-first): the order the combo lists. */
#include "route/strategy.h"

static void order(const or_strategy_ctx *ctx, size_t n, size_t out[])
{
    (void)ctx;
    or_strategy_identity(n, out);
}

const or_strategy or_strategy_priority = {"priority", order};
