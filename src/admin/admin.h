/*
 * admin.h — the management API handlers the route table calls (session, login, provider
 * connections), and the session check the router runs before every management route.
 *
 * Every handler has the or_route_fn signature, runs on the request's worker thread and ends the
 * request — at once, or later from a callback on the same loop (login hashes on the libuv thread
 * pool; the connection test waits for the upstream). If the client goes away first, the pending
 * work is cancelled or its result dropped. Replies are JSON; errors use {error:{message,type,
 * code}}.
 *
 * Routes (method, path → handler):
 *   POST   /api/auth/login            → or_admin_login     (public: no session needed)
 *   POST   /api/auth/logout           → or_admin_logout
 *   GET    /api/auth/status           → or_admin_auth_status (public)
 *   POST   /api/auth/password         → or_admin_password {currentPassword, newPassword}
 *   GET    /api/providers             → or_providers_list
 *   POST   /api/providers             → or_providers_create
 *   GET    /api/providers/{id}        → or_providers_get
 *   PUT    /api/providers/{id}        → or_providers_update (PATCH too)
 *   DELETE /api/providers/{id}        → or_providers_delete
 *   POST   /api/providers/{id}/test   → or_providers_test
 */
#ifndef OR_ADMIN_ADMIN_H
#define OR_ADMIN_ADMIN_H

#include "gateway/app.h"

#include <jansson.h>
#include <stdbool.h>

/* True when the request carries a valid, unexpired session: the auth_token cookie or
 * "Authorization: Bearer <session jwt>", issued after the last password change. */
bool or_admin_session_ok(or_http_req *req, or_app *app);
/* The check before every management route. Passes when the requireLogin setting is false, on a
 * session, or on "Authorization: Bearer <client API key>" whose key has the admin scope.
 * Otherwise replies 401 (nothing valid presented) or 403 (a valid key without the admin scope)
 * and returns false. */
bool or_admin_gate(or_http_req *req, or_app *app);
/* The requireLogin setting (default true), from the current snapshot. */
bool or_admin_login_required(or_app *app);

/* Failed logins are counted per client address (auth/lockout.h): the TCP peer, or with
 * OMNIROUTE_TRUST_PROXY=1 (behind a reverse proxy) the last X-Forwarded-For entry. */
void or_admin_login(or_http_req *req, or_app *app, const or_route_params *p);
/* Checks currentPassword (not needed while no password is configured), stores newPassword's
 * argon2id hash, revokes every earlier session and answers with a fresh session cookie. A wrong
 * current password → 403 and counts as a failed login. */
void or_admin_password(or_http_req *req, or_app *app, const or_route_params *p);
void or_admin_logout(or_http_req *req, or_app *app, const or_route_params *p);
/* {authenticated, needsSetup, requireLogin} — lets the dashboard pick between login and setup
 * screens. */
void or_admin_auth_status(or_http_req *req, or_app *app, const or_route_params *p);

/* Shared by the admin handlers. The request body as a JSON object (new reference), or NULL
 * after replying 400 itself. */
json_t *or_admin_body_object(or_http_req *req);
/* Replies with the HTTP status that matches e and eb's text as the message. */
void or_admin_reply_err(or_http_req *req, or_err e, const or_errbuf *eb);

#include "admin/providers.h"

#endif
