/* fill-first: the first eligible connection in the caller's order (priority ascending), so
 * one account is used until it fails or cools down. */
#include "route/account.h"

static size_t pick(const or_account_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n; i++)
        if (or_account_eligible(ctx, i))
            return i;
    return OR_ACCOUNT_NONE;
}

const or_account_strategy or_account_fill_first = {"fill-first", pick};
