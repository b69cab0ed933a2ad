/* weighted: the first target is drawn with probability weight/total (uniformly when every
 * weight is 0); the others follow by weight, heaviest first, as fallbacks. */
#include "route/strategy.h"

#include "core/rand.h"

#define RESOLUTION (1u << 30)

static double weight_of(const or_strategy_ctx *ctx, size_t i)
{
    double w = ctx->targets ? ctx->targets[i].weight : 0;
    return w > 0 ? w : 0; /* NaN and negatives count as 0 */
}

static int heavier_first(const void *ud, size_t a, size_t b)
{
    double wa = weight_of(ud, a), wb = weight_of(ud, b);
    return wa > wb ? -1 : wa < wb ? 1 : 0;
}

static void order(const or_strategy_ctx *ctx, size_t n, size_t out[])
{
    if (!n)
        return;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weight_of(ctx, i);
    size_t first = n - 1;
    if (total > 0) {
        double r = (double)or_rand_uniform(RESOLUTION) / RESOLUTION * total, acc = 0;
        for (size_t i = 0; i < n; i++) {
            acc += weight_of(ctx, i);
            if (r < acc && weight_of(ctx, i) > 0) {
                first = i;
                break;
            }
        }
        while (weight_of(ctx, first) <= 0 && first > 0) /* rounding at the top end */
            first--;
    } else {
        first = or_rand_uniform((uint32_t)n);
    }
    out[0] = first;
    for (size_t i = 0, k = 1; i < n; i++)
        if (i != first)
            out[k++] = i;
    or_strategy_sort(n - 1, out + 1, heavier_first, ctx);
}

const or_strategy or_strategy_weighted = {"weighted", order};
