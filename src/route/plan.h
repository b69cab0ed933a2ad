/*
 * plan.h — model resolution: the client's model name → the ordered list of concrete
 * "prefix/model" targets the request pipeline tries, first to last (issue: combos, account
 * routing and resilience).
 *
 * Inputs come from a configuration snapshot's settings object (borrowed):
 *   combos          [{id, name, models:[ "p/m" | "<combo name>" | {model, weight} ], strategy,
 *                     config?, createdAt, updatedAt}]
 *   wildcardAliases [{pattern, target}]   ('*' and '?'; the most specific pattern wins)
 *   fallbackChains  {"<model>": ["p/m", …]}  (appended after the model's own targets)
 *   customModels    {"<provider>": [{modelId, modelName}]}
 * Resolution: "combo/<name>" or a combo's name → its steps (nested combos expanded in place,
 * depth ≤ OR_PLAN_MAX_DEPTH, a combo never expands into itself), ordered by the combo's
 * strategy (route/strategy.h); else the most specific wildcard alias → its target (resolved
 * once more); else "prefix/model" as is. Then the model's fallback chain, duplicates dropped.
 *
 * or_route_state holds what strategies remember across requests (round-robin counters and
 * usage per combo): process-wide, thread-safe. or_plan_resolve is otherwise pure.
 */
#ifndef OR_ROUTE_PLAN_H
#define OR_ROUTE_PLAN_H

#include "core/err.h"

#include <jansson.h>
#include <stddef.h>

#define OR_PLAN_MAX 32
#define OR_PLAN_MAX_DEPTH 4

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
or_err or_plan_resolve(or_route_state *st, const json_t *settings, const char *model,
                       or_plan *out, or_errbuf *eb);
/* A step of a combo served a request (least-used and round-robin bookkeeping). */
void or_plan_used(or_route_state *st, const char *combo, const char *model);

#endif
