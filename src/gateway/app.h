/*
 * app.h — the process-wide application context and the handler signature shared by the data
 * plane (gateway/) and the management API (admin/).
 *
 * Ownership: main() creates one or_app, fills it from the environment, and frees it after the
 * server has stopped. Fields are read-only once the server runs, except through the modules
 * that own them (the store owns configuration). Per-worker state (the upstream client) lives
 * in or_worker_ctx, reached from a request with or_worker_of().
 */
#ifndef OR_GATEWAY_APP_H
#define OR_GATEWAY_APP_H

#include "gateway/routing.h"
#include "http/http.h"
#include "store/store.h"
#include "upstream/upstream.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct or_app {
    or_store *store;
    char *data_dir;
    char *host;
    int port;
    char *initial_password;    /* INITIAL_PASSWORD or NULL */
    bool cookie_secure;        /* AUTH_COOKIE_SECURE */
    bool require_api_key;      /* REQUIRE_API_KEY */
    bool trust_proxy;          /* OMNIROUTE_TRUST_PROXY: client address from X-Forwarded-For */
    unsigned char jwt_key[32]; /* JWT_SECRET (hashed) or generated once and persisted */
    unsigned jwt_ttl_s;        /* session lifetime; default 24 h */
    uint64_t started_mono_ms;
    or_routing routing; /* breakers, cooldowns, strategy memory (gateway/routing.h) */

    struct or_apikeys *apikeys; /* client API keys: secret and lookup (auth/apikey.h) */
} or_app;

typedef struct or_worker_ctx {
    or_app *app;
    or_upstream *up;
    or_http_worker *w;
    /* relay.c: finished relays kept for the next requests (as many as run at once, up to 16) */
    struct relay *spare_relays[16];
    size_t nspare_relays;
} or_worker_ctx;

or_worker_ctx *or_worker_of(or_http_req *req);

/* Path parameters captured by the route table ("/api/providers/{id}" → params[0]). */
#define OR_ROUTE_MAX_PARAMS 4
typedef struct {
    const char *v[OR_ROUTE_MAX_PARAMS]; /* NUL-terminated, %-decoded */
    int n;
} or_route_params;

/* A route handler: runs on the worker thread when the whole request body is in. It must end
 * the request (reply or stream) now or later from a callback of the same loop. */
typedef void (*or_route_fn)(or_http_req *req, or_app *app, const or_route_params *p);

#endif
