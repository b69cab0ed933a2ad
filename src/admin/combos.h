/*
 * combos.h — /api/combos: named lists of models (or other combos) with a strategy.
 *
 *   GET       /api/combos        → {combos:[…]}
 *   POST      /api/combos        {name, models:[…], strategy?, config?} → 201 the combo
 *   PUT/PATCH /api/combos/{id}   partial update → the combo
 *   DELETE    /api/combos/{id}   → {success:true}
 *
 * A combo is {id, name, models, strategy, config, createdAt, updatedAt}. A step is a string
 * ("prefix/model", or another combo's name, or "combo/<name>") or {model, weight 0–100}; other
 * members of a step object are kept and ignored, other body fields are ignored. A step must
 * name an existing combo unless it is "prefix/model" (checked when models are written). Names
 * match ^[a-zA-Z0-9_/.-]+$ (≤ 100) and
 * are unique. Write-time checks over the whole list (route/plan.h or_plan_check_combos): no
 * cycle, no nesting deeper than OR_PLAN_MAX_DEPTH. A deleted or renamed combo leaves the steps
 * that named it dangling; resolution drops them.
 *
 * Stored as the settings key "combos" (an array), where route/plan.h reads it. Handlers run on a
 * worker thread; writes are serialized by a module lock (read-modify-write of one setting).
 */
#ifndef OR_ADMIN_COMBOS_H
#define OR_ADMIN_COMBOS_H

#include "core/err.h"
#include "gateway/app.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define OR_COMBOS_KEY "combos"
#define OR_COMBOS_MAX 500     /* combos in all */
#define OR_COMBO_NAME_MAX 100 /* bytes */

/* Applies a create (at == SIZE_MAX; the combo gets new_id) or a partial update of
 * combos[at] onto combos (a private copy the caller owns), then checks the whole list. On
 * success combos holds the new list and *out the changed combo (borrowed from it). OR_EINVAL
 * with eb naming the field ("models[2]: …", "name: …"); combos is then half-changed: discard
 * it. Pure. */
or_err or_combos_apply(json_t *combos, size_t at, const json_t *body, const char *new_id,
                       int64_t now_ms, json_t **out, or_errbuf *eb);

void or_combos_list(or_http_req *req, or_app *app, const or_route_params *p);
void or_combos_create(or_http_req *req, or_app *app, const or_route_params *p);
void or_combos_update(or_http_req *req, or_app *app, const or_route_params *p);
void or_combos_delete(or_http_req *req, or_app *app, const or_route_params *p);

#endif
