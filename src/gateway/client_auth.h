/*
 * client_auth.h — the data plane's gate: which API key (if any) a client request carries, whether
 * REQUIRE_API_KEY lets it through, and whether its key may use the model it asks for.
 *
 * Credentials, looked for in this order: Authorization: Bearer (OpenAI clients), x-api-key
 * (Anthropic), x-goog-api-key and ?key= (Gemini). The first one in our key format counts
 * (auth/apikey.h). A dashboard session (the auth_token cookie, or a session JWT as Bearer) also
 * passes, so the dashboard's own testers work.
 *
 * REQUIRE_API_KEY=true (app->require_api_key): no valid key and no session → 401 in the route's
 * client format (missing, mistyped, unknown, revoked, expired say so). Otherwise anonymous calls
 * pass: clients send placeholder keys, which are ignored; a valid key is still attributed in the
 * usage rows and held to its allowedModels. A key whose allowedModels do not match the model the
 * client asked for → 403 in the client's format.
 *
 * Handlers' worker thread only. When a key's lastUsedAt is due to be written, the write is queued
 * on the libuv thread pool (it blocks on the store).
 */
#ifndef OR_GATEWAY_CLIENT_AUTH_H
#define OR_GATEWAY_CLIENT_AUTH_H

#include "fmt/fmt.h"
#include "gateway/app.h"

/* The client format of a client route, for its error replies (by method and path). */
or_format or_client_auth_format(const char *method, const char *path);

/* A valid, unrevoked dashboard session: the auth_token cookie or a session JWT as Bearer (the
 * management API's check too). */
bool or_client_auth_session(or_http_req *req, or_app *app, const or_snapshot *snap);
/* Runs for every client route before its handler. False after replying 401. */
bool or_client_auth_gate(or_http_req *req, or_app *app);

/* Runs when the model is known (the relay's start). id_out gets the key's id ("" when the call
 * is anonymous or by session). False after replying 403 in format f. */
bool or_client_auth_model(or_http_req *req, or_app *app, or_snapshot *snap, or_format f,
                          const char *model, char id_out[40]);

/* For listings: false only when the request carries a valid key whose allowedModels exclude
 * model (nothing is replied). */
bool or_client_auth_allows(or_http_req *req, or_app *app, or_snapshot *snap, const char *model);

#endif
