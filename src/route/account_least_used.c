/* least-used: the account used longest ago (never used first); ties → lower priority, then
 * list order. */
#include "route/account.h"

static bool before(const or_account_info *a, const or_account_info *b)
{
    if (a->last_used_ms != b->last_used_ms)
        return a->last_used_ms < b->last_used_ms;
    return a->priority < b->priority;
}

static size_t pick(const or_account_ctx *ctx)
{
    size_t best = OR_ACCOUNT_NONE;
    for (size_t i = 0; i < ctx->n; i++)
        if (or_account_eligible(ctx, i) &&
            (best == OR_ACCOUNT_NONE || before(&ctx->accounts[i], &ctx->accounts[best])))
            best = i;
    return best;
}

const or_account_strategy or_account_least_used = {"least-used", pick};
