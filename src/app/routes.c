#include "app/routes.h"
#include "admin/admin.h"
#include "admin/backups.h"
#include "admin/combos.h"
#include "admin/catalog.h"
#include "admin/custom_models.h"
#include "admin/ipaccess.h"
#include "admin/keys.h"
#include "gateway/relay.h"
#include "admin/logs.h"
#include "admin/nodes.h"
#include "admin/ops_api.h"
#include "admin/proxy.h"
#include "admin/settings.h"
#include "admin/resilience_api.h"
#include "admin/translator.h"
#include "core/clock.h"
#include "gateway/client_auth.h"
#include "gateway/gateway.h"
#include "http/query.h"
#include "http/reply.h"

#include <stdlib.h>
#include <string.h>

typedef enum { SCOPE_PUBLIC, SCOPE_CLIENT, SCOPE_MANAGE } route_scope;

typedef struct {
    const char *method;
    const char *pattern;
    or_route_fn fn;
    route_scope scope;
} route;

static void healthz(or_http_req *req, or_app *app, const or_route_params *p);
static void root(or_http_req *req, or_app *app, const or_route_params *p);

static const route routes[] = {
    {"GET", "/healthz", healthz, SCOPE_PUBLIC},
    {"GET", "/metrics", or_ops_api_metrics, SCOPE_PUBLIC},
    {"GET", "/", root, SCOPE_PUBLIC},
    {"HEAD", "/", root, SCOPE_PUBLIC},
    {"POST", "/v1/chat/completions", or_gw_chat_completions, SCOPE_CLIENT},
    {"POST", "/chat/completions", or_gw_chat_completions, SCOPE_CLIENT},
    {"GET", "/v1/models", or_gw_models, SCOPE_CLIENT},
    {"GET", "/models", or_gw_models, SCOPE_CLIENT},
    {"POST", "/v1/providers/{provider}/chat/completions", or_gw_pinned_chat, SCOPE_CLIENT},
    {"POST", "/v1/messages", or_gw_messages, SCOPE_CLIENT},
    {"POST", "/v1/messages/count_tokens", or_gw_count_tokens, SCOPE_CLIENT},
    {"POST", "/v1/responses", or_gw_responses, SCOPE_CLIENT},
    {"POST", "/responses", or_gw_responses, SCOPE_CLIENT},
    {"GET", "/v1/responses", or_gw_responses_get, SCOPE_CLIENT},
    {"GET", "/v1beta/models", or_gw_gemini_models, SCOPE_CLIENT},
    {"POST", "/v1beta/models/{*model}", or_gw_gemini, SCOPE_CLIENT},
    {"POST", "/v1/models/{*model}", or_gw_gemini, SCOPE_CLIENT}, /* @google/genai apiVersion v1 */
    {"POST", "/api/auth/login", or_admin_login, SCOPE_PUBLIC},
    {"POST", "/api/auth/logout", or_admin_logout, SCOPE_PUBLIC},
    {"GET", "/api/auth/status", or_admin_auth_status, SCOPE_PUBLIC},
    {"POST", "/api/auth/password", or_admin_password, SCOPE_MANAGE},
    {"GET", "/api/keys", or_keys_list, SCOPE_MANAGE},
    {"POST", "/api/keys", or_keys_create, SCOPE_MANAGE},
    {"GET", "/api/keys/{id}", or_keys_get, SCOPE_MANAGE},
    {"PATCH", "/api/keys/{id}", or_keys_update, SCOPE_MANAGE},
    {"PUT", "/api/keys/{id}", or_keys_update, SCOPE_MANAGE},
    {"DELETE", "/api/keys/{id}", or_keys_delete, SCOPE_MANAGE},
    {"GET", "/api/providers", or_providers_list, SCOPE_MANAGE},
    {"POST", "/api/providers", or_providers_create, SCOPE_MANAGE},
    {"GET", "/api/providers/{id}", or_providers_get, SCOPE_MANAGE},
    {"PUT", "/api/providers/{id}", or_providers_update, SCOPE_MANAGE},
    {"PATCH", "/api/providers/{id}", or_providers_update, SCOPE_MANAGE},
    {"DELETE", "/api/providers/{id}", or_providers_delete, SCOPE_MANAGE},
    {"POST", "/api/providers/{id}/test", or_providers_test, SCOPE_MANAGE},
    {"GET", "/api/resilience", or_resilience_api_get, SCOPE_MANAGE},
    {"PATCH", "/api/resilience", or_resilience_api_patch, SCOPE_MANAGE},
    {"POST", "/api/resilience/reset", or_resilience_api_reset, SCOPE_MANAGE},
    {"GET", "/api/monitoring/health", or_health_api, SCOPE_MANAGE},
    {"GET", "/api/provider-nodes", or_nodes_list, SCOPE_MANAGE},
    {"POST", "/api/provider-nodes", or_nodes_create, SCOPE_MANAGE},
    {"PUT", "/api/provider-nodes/{id}", or_nodes_update, SCOPE_MANAGE},
    {"PATCH", "/api/provider-nodes/{id}", or_nodes_update, SCOPE_MANAGE},
    {"DELETE", "/api/provider-nodes/{id}", or_nodes_delete, SCOPE_MANAGE},
    {"GET", "/api/combos", or_combos_list, SCOPE_MANAGE},
    {"POST", "/api/combos", or_combos_create, SCOPE_MANAGE},
    {"PUT", "/api/combos/{id}", or_combos_update, SCOPE_MANAGE},
    {"PATCH", "/api/combos/{id}", or_combos_update, SCOPE_MANAGE},
    {"DELETE", "/api/combos/{id}", or_combos_delete, SCOPE_MANAGE},
    {"GET", "/api/settings/proxy", or_proxy_api_get, SCOPE_MANAGE},
    {"PUT", "/api/settings/proxy", or_proxy_api_put, SCOPE_MANAGE},
    {"PATCH", "/api/settings/proxy", or_proxy_api_put, SCOPE_MANAGE},
    {"DELETE", "/api/settings/proxy", or_proxy_api_delete, SCOPE_MANAGE},
    {"POST", "/api/settings/proxy/test", or_proxy_api_test, SCOPE_MANAGE},
    {"GET", "/api/settings/security", or_ipaccess_get, SCOPE_MANAGE},
    {"PUT", "/api/settings/security", or_ipaccess_put, SCOPE_MANAGE},
    {"PATCH", "/api/settings/security", or_ipaccess_put, SCOPE_MANAGE},
    {"GET", "/api/security/bans", or_ipaccess_bans, SCOPE_MANAGE},
    {"POST", "/api/security/ban", or_ipaccess_ban, SCOPE_MANAGE},
    {"DELETE", "/api/security/ban/{*ip}", or_ipaccess_unban, SCOPE_MANAGE},
    {"GET", "/api/settings", or_settings_get, SCOPE_MANAGE},
    {"PUT", "/api/settings", or_settings_put, SCOPE_MANAGE},
    {"PATCH", "/api/settings", or_settings_put, SCOPE_MANAGE},
    {"GET", "/api/provider-models", or_custom_models_list, SCOPE_MANAGE},
    {"POST", "/api/provider-models", or_custom_models_add, SCOPE_MANAGE},
    {"DELETE", "/api/provider-models", or_custom_models_delete, SCOPE_MANAGE},
    {"GET", "/api/models/catalog", or_catalog_get, SCOPE_MANAGE},
    {"GET", "/api/usage/request-logs", or_logs_request_logs, SCOPE_MANAGE},
    {"POST", "/api/translator/detect", or_translator_detect_api, SCOPE_MANAGE},
    {"POST", "/api/translator/translate", or_translator_translate_api, SCOPE_MANAGE},
    {"POST", "/api/translator/send", or_translator_send_api, SCOPE_MANAGE},
    {"GET", "/api/db-backups/export", or_backups_export, SCOPE_MANAGE},
    {"GET", "/api/db-backups/exportAll", or_backups_export_all, SCOPE_MANAGE},
    {"POST", "/api/db-backups/import", or_backups_import, SCOPE_MANAGE},
};

/* Routes whose body may exceed the server's cap (limits.max_body_bytes). The raised cap is
 * granted in on_head only after the management check, so an anonymous client can never make
 * the server buffer more than the default; a Content-Length above it is answered at once. */
static const struct {
    or_route_fn fn;
    size_t max_body;
} big_bodies[] = {
    {or_backups_import, OR_BACKUPS_IMPORT_MAX_BODY},
};

#define NROUTES (sizeof routes / sizeof routes[0])
#define PARAM_BUF 1024

static void healthz(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    uint64_t up = (or_clock_mono_ms() - app->started_mono_ms) / 1000;
    or_reply_json(req, 200,
                  json_pack("{s:s, s:s, s:I}", "status", "ok", "version", OR_VERSION, "uptimeSec",
                            (json_int_t)up),
                  NULL);
}

static void root(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    (void)p;
    or_reply_json(req, 200, json_pack("{s:s, s:s}", "name", "omniroute", "version", OR_VERSION),
                  NULL);
}

bool or_routes_match(const char *pattern, const char *path, or_route_params *p, char *buf,
                     size_t buflen)
{
    size_t used = 0;
    p->n = 0;
    if (!strchr(pattern, '{')) /* most routes: a plain comparison */
        return strcmp(pattern, path) == 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *close = strchr(pattern, '}');
            if (!close || p->n == OR_ROUTE_MAX_PARAMS)
                return false;
            bool rest = pattern[1] == '*'; /* {*name} takes the rest of the path, '/' included */
            pattern = close + 1;
            const char *start = buf + used;
            size_t seglen = rest ? strlen(path) : strcspn(path, "/");
            if (seglen == 0)
                return false;
            for (size_t i = 0; i < seglen; i++) {
                char ch = path[i];
                if (ch == '%' && i + 2 < seglen + 1 && or_http_hexval(path[i + 1]) >= 0 &&
                    or_http_hexval(path[i + 2]) >= 0) {
                    ch = (char)(or_http_hexval(path[i + 1]) * 16 + or_http_hexval(path[i + 2]));
                    i += 2;
                }
                if (ch == '\0' || used + 2 > buflen)
                    return false;
                buf[used++] = ch;
            }
            buf[used++] = '\0';
            p->v[p->n++] = start;
            path += seglen;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* The route for the request, or NULL with *status set to 404 or 405. */
static const route *find(or_http_req *req, or_route_params *p, char *buf, int *status)
{
    const char *method = or_http_method(req);
    const char *path = or_http_path(req);
    *status = 404;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!or_routes_match(routes[i].pattern, path, p, buf, PARAM_BUF))
            continue;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
        *status = 405;
    }
    return NULL;
}

/* false: replied (401/403 from the management check, or 400 for a body over the cap). */
static bool body_cap(or_http_req *req, or_app *app, const route *r)
{
    for (size_t i = 0; i < sizeof big_bodies / sizeof *big_bodies; i++) {
        if (big_bodies[i].fn != r->fn)
            continue;
        if (r->scope == SCOPE_MANAGE && !or_admin_gate(req, app))
            return false;
        const char *cl = or_http_header(req, "content-length");
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
        if (n > big_bodies[i].max_body) {
            or_reply_error(req, 400, "invalid_request_error", "file_too_large",
                           "The upload (%llu bytes) is larger than the %zu MB limit", n,
                           big_bodies[i].max_body >> 20);
            return false;
        }
        or_http_set_max_body(req, big_bodies[i].max_body);
    }
    return true;
}

static bool on_head(or_http_req *req, void *appv)
{
    or_route_params p;
    char buf[PARAM_BUF];
    int status;
    const route *r = find(req, &p, buf, &status);
    /* IP rules before any body byte is read; /healthz stays open to health checkers. An
     * unknown path counts as management (a blocked address learns nothing). */
    if (!(r && r->fn == healthz) &&
        !or_ipaccess_gate(req, appv,
                          r && r->scope == SCOPE_CLIENT ? OR_IP_CLIENT : OR_IP_MANAGEMENT))
        return false; /* replied 403 */
    if (r)
        return body_cap(req, appv, r);
    if (status == 405)
        or_reply_error(req, 405, "invalid_request_error", "method_not_allowed",
                       "Method %s is not allowed on %s", or_http_method(req), or_http_path(req));
    else
        or_reply_error(req, 404, "not_found_error", "not_found", "No route for %s %s",
                       or_http_method(req), or_http_path(req));
    return false;
}

static void on_request(or_http_req *req, void *appv)
{
    or_app *app = appv;
    or_route_params p;
    char buf[PARAM_BUF];
    int status;
    const route *r = find(req, &p, buf, &status);
    if (!r) {
        or_reply_error(req, status, NULL, NULL, "No route for %s %s", or_http_method(req),
                       or_http_path(req));
        return;
    }
    if (r->scope == SCOPE_MANAGE && !or_admin_gate(req, app))
        return; /* replied 401/403 */
    if (r->scope == SCOPE_CLIENT && !or_client_auth_gate(req, app))
        return; /* replied 401 in the client's format */
    r->fn(req, app, &p);
}

static void *worker_init(or_http_worker *w, void *appv)
{
    or_worker_ctx *wc = calloc(1, sizeof *wc);
    if (!wc)
        abort(); /* startup: nothing sensible to continue with */
    wc->app = appv;
    wc->w = w;
    wc->up = or_upstream_new(or_http_worker_loop(w));
    if (!wc->up)
        abort();
    return wc;
}

static void worker_fini(or_http_worker *w, void *wdata, void *appv)
{
    (void)w;
    (void)appv;
    or_worker_ctx *wc = wdata;
    if (!wc)
        return;
    or_relay_worker_fini(wc);
    or_upstream_free(wc->up);
    free(wc);
}

or_http_app or_routes_http_app(or_app *app)
{
    return (or_http_app){
        .on_head = on_head,
        .on_request = on_request,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .app = app,
    };
}
