/*
 * custom_models.h — /api/provider-models: model ids the user adds to a provider at run time
 * (a model the built-in list lacks, or a provider node's models).
 *
 *   GET    /api/provider-models[?provider=]          → {models:[{provider, modelId, modelName}]}
 *   POST   /api/provider-models {provider, modelId, modelName?}
 *                                                    → 201 {model} (200 when it existed: renamed)
 *   DELETE /api/provider-models?provider=&model=     → {success:true} | 404
 *
 * `provider` may be a provider id, its alias, a node's providerId or a node's prefix; it is
 * stored under the provider id. Stored as the settings key "customModels":
 * {"<provider id>": [{modelId, modelName}]} (route/plan.h documents it; GET /v1/models lists
 * them for providers with an active connection).
 *
 * Handlers run on a worker thread; writes are serialized by a module lock (read-modify-write of
 * one setting).
 */
#ifndef OR_ADMIN_CUSTOM_MODELS_H
#define OR_ADMIN_CUSTOM_MODELS_H

#include "gateway/app.h"

#include <stdbool.h>
#include <stddef.h>

#define OR_CUSTOM_MODELS_KEY "customModels"
#define OR_CUSTOM_MODELS_MAX 1000 /* per provider */

void or_custom_models_list(or_http_req *req, or_app *app, const or_route_params *p);
void or_custom_models_add(or_http_req *req, or_app *app, const or_route_params *p);
void or_custom_models_delete(or_http_req *req, or_app *app, const or_route_params *p);

/* Decoded value of `name` in a query string ("a=1&b=x%2Fy" → "x/y"; '+' is a space) into out,
 * or false when absent, too long for out, or holding a NUL or control byte. */

#endif
