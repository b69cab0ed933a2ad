/*
 * plan.h — model resolution: the client's model name → the ordered list of concrete
 * "prefix/model" targets the request pipeline tries, first to last (issue: combos, account
 * routing and resilience).
 *
 * Inputs come from a configuration snapshot's settings object (borrowed):
 *   combos          [{id, name, models:[ "p/m" | "<combo name>" | {model, weight} ], strategy,
 *                     config?, createdAt, updatedAt}]
 *   wildcardAliases [{pattern, target}]   ('*' and '?'; the most specific pattern wins)
 *   fallbackChains  {"<model>": ["p/m" | "<combo name>", …]}  (appended after the model's own
 *                     targets)
 *   customModels    {"<provider>": [{modelId, modelName}]}
 *   stickyRoundRobinLimit, pricing {prefix:{model:{input}}} (round-robin, cost-optimized)
 * Resolution: "combo/<name>" or a combo's name → its steps (nested combos expanded in place,
 * depth ≤ OR_PLAN_MAX_DEPTH, a combo never expands into itself), ordered by the combo's
 * strategy (route/strategy.h); else the most specific wildcard alias → its target (resolved
 * once more); else "prefix/model" as is. Then the model's fallback chain, duplicates dropped.
 *
 * Details:
 *  - Each combo orders its own steps with its own strategy; a nested combo then takes its
 *    step's place with its own order. Weights belong to the step ({model, weight}; a plain
 *    string weighs 0). Least-used counts and cost are those of the step's targets (a nested
 *    combo: the sum of uses, the price of its first target). A combo without a known strategy
 *    keeps its list order.
 *  - Round-robin sticks to a start for config.stickyRoundRobinLimit requests, else the
 *    settings' stickyRoundRobinLimit, else 3 (≤ 1: rotate every request). Its counter is per
 *    combo name and advances on every resolution; or_plan_used feeds least-used only.
 *  - Aliases: the pattern with more literal characters wins; on a tie the one with fewer '*';
 *    then the earlier entry. An alias target is a combo name or "prefix/model".
 *  - Fallback chains: the entry for the requested name, then for the resolved name (alias
 *    target or combo name) when it differs. Entries that name combos expand.
 *  - Dropped silently: a step that is neither a combo nor "prefix/model" (its combo was
 *    deleted), a combo deeper than OR_PLAN_MAX_DEPTH or already on the path, names of 256
 *    bytes or more, and everything past OR_PLAN_MAX targets.
 *
 * or_route_state holds what strategies remember across requests (round-robin counters and
 * usage per combo): process-wide, thread-safe. or_plan_resolve is otherwise pure.
 */
#ifndef OR_ROUTE_PLAN_H
#define OR_ROUTE_PLAN_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define OR_PLAN_MAX 32
#define OR_PLAN_MAX_DEPTH 4  /* combos on one nesting path, the outermost included */
#define OR_PLAN_MAX_STEPS 64 /* steps one combo may hold (the API refuses more) */

typedef struct {
    char model[256]; /* "prefix/model" */
} or_plan_step;

typedef struct {
    or_plan_step steps[OR_PLAN_MAX];
    size_t n;
    char combo[128]; /* the combo's name when the model named one, else "" */
} or_plan;

typedef struct or_route_state or_route_state;

or_route_state *or_route_state_new(void);
void or_route_state_free(or_route_state *st);

/* OR_EINVAL (eb names the model) when the name is neither a combo, an alias nor "prefix/model". */
or_err or_plan_resolve(or_route_state *st, const json_t *settings, const char *model, or_plan *out,
                       or_errbuf *eb);
/* A step of a combo served a request (least-used and round-robin bookkeeping). */
void or_plan_used(or_route_state *st, const char *combo, const char *model);

/* The combo (an element of combos) a step or model name refers to: the exact name, else
 * "combo/<name>". NULL when none. */
const json_t *or_plan_find_combo(const json_t *combos, const char *name);
/* Write-time check of a whole combo list: no combo reaches itself through nested combos and no
 * nesting path holds more than OR_PLAN_MAX_DEPTH combos. OR_EINVAL with the path named in eb
 * ("models: cycle a → b → a"). The combo named `first` is checked first, so an error that
 * involves it names it. Pure. */
or_err or_plan_check_combos(const json_t *combos, const char *first, or_errbuf *eb);

#endif
