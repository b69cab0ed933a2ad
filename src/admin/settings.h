/*
 * settings.h — /api/settings: the user-editable settings, each validated by one row of a field
 * table {name, type, validator, default}.
 *
 *   GET       /api/settings  → every field of the table, its stored value or its default
 *   PUT/PATCH /api/settings  partial update {field: value | null (back to the default)}
 *                            → the same view; unknown field or bad value → 400 naming it
 *
 * Each field is its own settings key in the store (snapshot->settings.<name>), which is where
 * the request pipeline reads them (route/plan.h reads wildcardAliases, fallbackChains and
 * stickyRoundRobinLimit). Only the table's fields are ever shown: internal keys (passwordHash,
 * combos, providerNodes, customModels, secrets) are not in it.
 *
 * The table functions are pure (any thread); the handlers run on a worker thread, and updates
 * are serialized by a module lock so two partial updates never interleave.
 */
#ifndef OR_ADMIN_SETTINGS_H
#define OR_ADMIN_SETTINGS_H

#include "core/err.h"
#include "gateway/app.h"

#include <jansson.h>
#include <stddef.h>

typedef enum {
    OR_SETTING_BOOL,
    OR_SETTING_INT,
    OR_SETTING_STRING,
    OR_SETTING_ARRAY,
    OR_SETTING_OBJECT,
} or_setting_type;

typedef struct {
    const char *name;
    or_setting_type type;
    /* Called after the type check. Returns the value to store (new reference, normalized) or
     * NULL with eb naming the field. */
    json_t *(*validate)(const char *name, const json_t *v, or_errbuf *eb);
    const char *default_json; /* the value GET shows when nothing is stored */
} or_setting_field;

size_t or_settings_count(void);
const or_setting_field *or_settings_at(size_t i);
const or_setting_field *or_settings_find(const char *name);

/* A partial update → {name: normalized value | null} (new reference), or NULL with eb naming
 * the first bad field ("stickyRoundRobinLimit: must be an integer from 0 to 1000"). */
json_t *or_settings_validate(const json_t *body, or_errbuf *eb);
/* The view GET returns: the table's fields, from stored (an object, may be NULL) or default. */
json_t *or_settings_view(const json_t *stored);

void or_settings_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_settings_put(or_http_req *req, or_app *app, const or_route_params *p);

#endif
