/* random: a Fisher–Yates shuffle of every target. */
#include "route/strategy.h"

static void order(const or_strategy_ctx *ctx, size_t n, size_t out[])
{
    (void)ctx;
    or_strategy_identity(n, out);
    or_strategy_shuffle(n, out);
}

const or_strategy or_strategy_random = {"random", order};
