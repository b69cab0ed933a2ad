/*
 * providers.h — /api/providers: CRUD of provider connections and the connection test.
 *
 * Reads come from a store snapshot (acquired and released within the handler); writes go
 * through or_store_conn_put / _delete on the store's writer thread (the handler waits, briefly).
 * The test handler is asynchronous: it starts one upstream request on the worker's or_upstream
 * and replies from its on_done callback; if the client leaves first, the transfer is cancelled.
 * All handlers run on the request's worker thread.
 */
#ifndef OR_ADMIN_PROVIDERS_H
#define OR_ADMIN_PROVIDERS_H

#include "gateway/app.h"

void or_providers_list(or_http_req *req, or_app *app, const or_route_params *p);
void or_providers_create(or_http_req *req, or_app *app, const or_route_params *p);
void or_providers_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_providers_update(or_http_req *req, or_app *app, const or_route_params *p);
void or_providers_delete(or_http_req *req, or_app *app, const or_route_params *p);
void or_providers_test(or_http_req *req, or_app *app, const or_route_params *p);

#endif
