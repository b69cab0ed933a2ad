/*
 * routes.h — the route table and the HTTP application that dispatches to it.
 *
 * Every route is one row {method, pattern, handler, scope}. Scope decides who may call it:
 * public, client (data plane, /v1/...), management (needs a session). The table is static and
 * read by every worker.
 */
#ifndef OR_APP_ROUTES_H
#define OR_APP_ROUTES_H

#include "gateway/app.h"
#include "http/http.h"

/* The or_http_app to hand the server: routing on head, dispatch on body, per-worker upstream
 * client. `app` must outlive the server. */
or_http_app or_routes_http_app(or_app *app);

/* Matches pattern ("/api/providers/{id}") against path; fills params (%-decoded into buf).
 * Exposed for unit tests. */
bool or_routes_match(const char *pattern, const char *path, or_route_params *p, char *buf,
                     size_t buflen);

#endif
