/* round-robin: stay on the current account for sticky_limit picks, then move to the next
 * eligible one in cyclic order (which is also the least recently used of them). An account
 * that becomes ineligible loses its turn at once. The state is one atomic word: the current
 * index + 1 in the high half, the picks it has had in the low half. */
#include "route/account.h"

static size_t first_eligible_after(const or_account_ctx *ctx, size_t cur, bool have_cur)
{
    for (size_t k = 1; k <= ctx->n; k++) {
        size_t i = have_cur ? (cur + k) % ctx->n : k - 1;
        if (or_account_eligible(ctx, i))
            return i;
    }
    return OR_ACCOUNT_NONE;
}

static size_t pick(const or_account_ctx *ctx)
{
    uint64_t sticky = ctx->sticky_limit ? ctx->sticky_limit : OR_ACCOUNT_STICKY_DEFAULT;
    if (!ctx->rr)
        return first_eligible_after(ctx, 0, false);
    uint64_t old = atomic_load(&ctx->rr->state);
    for (;;) {
        uint64_t hi = old >> 32, count = old & 0xffffffffu;
        bool have_cur = hi != 0 && hi - 1 < ctx->n;
        size_t cur = have_cur ? (size_t)(hi - 1) : 0, chosen;
        uint64_t next;
        if (have_cur && count < sticky && or_account_eligible(ctx, cur)) {
            chosen = cur;
            next = (hi << 32) | (count + 1);
        } else {
            chosen = first_eligible_after(ctx, cur, have_cur);
            if (chosen == OR_ACCOUNT_NONE)
                return chosen;
            next = ((uint64_t)(chosen + 1) << 32) | 1u;
        }
        if (atomic_compare_exchange_weak(&ctx->rr->state, &old, next))
            return chosen;
    }
}

const or_account_strategy or_account_round_robin = {"round-robin", pick};
