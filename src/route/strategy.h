/*
 * strategy.h — combo strategies: the starting order in which a combo's targets are tried.
 *
 * A strategy only orders; the combo loop then walks the order, skipping targets whose breaker
 * is open or whose accounts are all cooling down, and moving on after a retryable failure
 * (resilience/failure.h). Each strategy is one file exporting one vtable; or_strategy_find()
 * maps a name (as stored in a combo's `strategy`) to it through one table.
 *
 * The context is borrowed for the call. Strategies are pure apart from the per-combo
 * round-robin counter (atomic) and the random source (core/rand.h): any thread.
 */
#ifndef OR_ROUTE_STRATEGY_H
#define OR_ROUTE_STRATEGY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    double weight;        /* weighted: share of first picks (>= 0; all 0 → uniform) */
    uint64_t uses;        /* least-used: requests recorded for this target */
    int64_t last_used_ms; /* least-used tie-break (older first; 0 = never) */
    double cost;          /* cost-optimized: input price per 1M tokens; < 0 = unknown */
} or_target_stats;

typedef struct {
    const or_target_stats *targets; /* n entries; NULL for priority/random/round-robin */
    _Atomic uint64_t *rr_counter;   /* round-robin: one per combo, owned by the caller */
    unsigned sticky_limit;          /* round-robin: requests per target before moving on;
                                       0 → 3, 1 → rotate on every request */
} or_strategy_ctx;

typedef struct {
    const char *name; /* as in the API: "round-robin" */
    /* Writes a permutation of 0..n-1 into out_order (n entries). */
    void (*order)(const or_strategy_ctx *ctx, size_t n, size_t out_order[]);
} or_strategy;

#define OR_STRATEGY_STICKY_DEFAULT 3u

extern const or_strategy or_strategy_priority;
extern const or_strategy or_strategy_round_robin;
extern const or_strategy or_strategy_random;
extern const or_strategy or_strategy_weighted;
extern const or_strategy or_strategy_least_used;
extern const or_strategy or_strategy_cost_optimized;

/* By name or alias ("fill-first" → priority, "usage" → least-used; '_' reads as '-').
 * NULL when unknown. NULL or "" → priority, the default. */
const or_strategy *or_strategy_find(const char *name);
size_t or_strategy_count(void);
const or_strategy *or_strategy_at(size_t i);

/* Strategy names as users write them: '_' reads as '-' ("round_robin" = "round-robin"). Shared
 * with the account strategies (account.h). */
bool or_strategy_name_eq(const char *a, const char *b);

/* Shared by the strategy files. */
void or_strategy_identity(size_t n, size_t out[]);
/* Fisher–Yates over out[0..n) with core/rand.h. */
void or_strategy_shuffle(size_t n, size_t out[]);
/* Stable sort of the indices in out; cmp(ud, a, b) < 0 puts a first. */
void or_strategy_sort(size_t n, size_t out[], int (*cmp)(const void *ud, size_t a, size_t b),
                      const void *ud);

#endif
