/* cost-optimized: the lowest priority value (operators rank cheaper accounts first); ties →
 * list order. Unlike fill-first it does not trust the caller's order. */
#include "route/account.h"

static size_t pick(const or_account_ctx *ctx)
{
    size_t best = OR_ACCOUNT_NONE;
    for (size_t i = 0; i < ctx->n; i++)
        if (or_account_eligible(ctx, i) &&
            (best == OR_ACCOUNT_NONE || ctx->accounts[i].priority < ctx->accounts[best].priority))
            best = i;
    return best;
}

const or_account_strategy or_account_cost_optimized = {"cost-optimized", pick};
