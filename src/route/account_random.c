/* random: a uniform choice among the eligible accounts. Excluding the failed one and picking
 * again is a step of a Fisher–Yates shuffle, so a request visits accounts in a random order
 * without repeats. */
#include "route/account.h"

#include "core/rand.h"

static size_t pick(const or_account_ctx *ctx)
{
    size_t m = or_account_eligible_count(ctx);
    if (!m)
        return OR_ACCOUNT_NONE;
    size_t k = or_rand_uniform(m > UINT32_MAX ? UINT32_MAX : (uint32_t)m);
    for (size_t i = 0; i < ctx->n; i++)
        if (or_account_eligible(ctx, i) && k-- == 0)
            return i;
    return OR_ACCOUNT_NONE;
}

const or_account_strategy or_account_random = {"random", pick};
