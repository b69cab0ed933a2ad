/*
 * keys.h — /api/keys: the client API keys (auth/apikey.h holds the format, storage and checks).
 *
 *   GET    /api/keys        → 200 {keys:[{id, name, prefix, allowedModels, scopes, isActive,
 *                                         expiresAt, createdAt, lastUsedAt}]}
 *   POST   /api/keys        {name, allowedModels?, scopes?, expiresAt?, isActive?}
 *                           → 201 {id, name, key, …the same fields}: the raw key, this once
 *   GET    /api/keys/{id}   → 200 one key, 404
 *   PATCH  /api/keys/{id}   any of name, allowedModels, scopes, isActive, expiresAt → 200 the key
 *                           (PUT is the same)
 *   DELETE /api/keys/{id}   → 200 {success:true}, 404
 * Times are ISO 8601 strings (null when unset); expiresAt also accepts ms since the epoch.
 * A bad or unknown field → 400 naming it.
 *
 * Handlers run on the worker thread; a write blocks it until the store has committed (a few
 * milliseconds), as the other management writes do.
 */
#ifndef OR_ADMIN_KEYS_H
#define OR_ADMIN_KEYS_H

#include "gateway/app.h"

void or_keys_list(or_http_req *req, or_app *app, const or_route_params *p);
void or_keys_create(or_http_req *req, or_app *app, const or_route_params *p);
void or_keys_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_keys_update(or_http_req *req, or_app *app, const or_route_params *p);
void or_keys_delete(or_http_req *req, or_app *app, const or_route_params *p);

#endif
