#include "gateway/client_auth.h"

#include "auth/apikey.h"
#include "auth/auth.h"
#include "auth/cookie.h"
#include "core/clock.h"
#include "core/log.h"
#include "gateway/relay.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *method; /* NULL: any */
    const char *prefix;
    or_format f;
} path_formats[] = {
    {NULL, "/v1/messages", OR_FMT_ANTHROPIC},  {NULL, "/v1beta/", OR_FMT_GEMINI},
    {"POST", "/v1/models/", OR_FMT_GEMINI}, /* @google/genai with apiVersion v1 */
    {NULL, "/v1/responses", OR_FMT_RESPONSES}, {NULL, "/responses", OR_FMT_RESPONSES},
};

or_format or_client_auth_format(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof path_formats / sizeof *path_formats; i++) {
        const char *pre = path_formats[i].prefix;
        if ((!path_formats[i].method || strcmp(path_formats[i].method, method) == 0) &&
            strncmp(path, pre, strlen(pre)) == 0)
            return path_formats[i].f;
    }
    return OR_FMT_OPENAI;
}

/* ---- credentials ---- */

typedef struct {
    const char *p;
    size_t len;
} span;

static span trimmed(const char *v)
{
    span s = {v, 0};
    if (!v)
        return s;
    while (*s.p == ' ' || *s.p == '\t')
        s.p++;
    s.len = strlen(s.p);
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

static span bearer_of(const char *h)
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return (span){NULL, 0};
    return trimmed(h + 7);
}

static span bearer(or_http_req *req)
{
    return bearer_of(or_http_header(req, "authorization"));
}

/* The headers a key may come in, in the order they count (the query's key= comes after). */
enum { H_AUTHORIZATION, H_X_API_KEY, H_X_GOOG_API_KEY, NKEY_HEADERS };
// clang-format off
#define KEY_HEADER(lit) {lit, sizeof lit - 1}
// clang-format on
static const struct {
    const char *name;
    size_t len;
} key_headers[NKEY_HEADERS] = {
    KEY_HEADER("authorization"),
    KEY_HEADER("x-api-key"),
    KEY_HEADER("x-goog-api-key"),
};
#undef KEY_HEADER

/* Which key header name is (NKEY_HEADERS: none). This runs for every header of every request:
 * names of another length are passed over without a comparison. */
static size_t key_header_of(const char *name)
{
    size_t n = strlen(name);
    for (size_t k = 0; k < NKEY_HEADERS; k++)
        if (n == key_headers[k].len && strcasecmp(name, key_headers[k].name) == 0)
            return k;
    return NKEY_HEADERS;
}

/* The first value of each key header, in one walk over the head: most requests carry none of
 * them, and a lookup per name would walk the head three times to say so. */
static void key_header_values(or_http_req *req, const char *v[NKEY_HEADERS])
{
    size_t n = or_http_header_count(req);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        or_http_header_at(req, i, &name, &value);
        size_t k = key_header_of(name);
        if (k < NKEY_HEADERS && !v[k])
            v[k] = value;
    }
}

static span query_key(or_http_req *req)
{
    for (const char *q = or_http_query(req); q && *q;) {
        size_t n = strcspn(q, "&");
        if (n > 4 && strncmp(q, "key=", 4) == 0)
            return (span){q + 4, n - 4};
        q += n;
        if (*q == '&')
            q++;
    }
    return (span){NULL, 0};
}

/* Every place a client may put its key, in the order they count. */
static size_t credentials(or_http_req *req, span out[4])
{
    const char *h[NKEY_HEADERS] = {NULL};
    key_header_values(req, h);
    span all[4] = {bearer_of(h[H_AUTHORIZATION]), trimmed(h[H_X_API_KEY]),
                   trimmed(h[H_X_GOOG_API_KEY]), query_key(req)};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        if (all[i].p && all[i].len)
            out[n++] = all[i];
    return n;
}

/* The first credential in our format decides: OR_APIKEY_OK with *key set (not yet checked).
 * Without one, MALFORMED when something was presented, MISSING when nothing was. */
static or_apikey_status find_key(or_http_req *req, span *key)
{
    span c[4];
    size_t n = credentials(req, c);
    for (size_t i = 0; i < n; i++) {
        if (or_apikey_well_formed(c[i].p, c[i].len)) {
            *key = c[i];
            return OR_APIKEY_OK;
        }
    }
    return n ? OR_APIKEY_MALFORMED : OR_APIKEY_MISSING;
}

static int64_t sessions_from(const or_snapshot *snap)
{
    const json_t *v = json_object_get(snap->settings, OR_AUTH_SESSIONS_FROM);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

bool or_client_auth_session(or_http_req *req, or_app *app, const or_snapshot *snap)
{
    int64_t from = sessions_from(snap);
    size_t n = or_http_header_count(req);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value, *tok;
        size_t len;
        or_http_header_at(req, i, &name, &value);
        if (strcasecmp(name, "cookie") == 0 &&
            or_cookie_get(value, strlen(value), OR_AUTH_COOKIE, &tok, &len) &&
            or_auth_session_verify_since(app->jwt_key, tok, len, from, NULL) == OR_OK)
            return true;
    }
    span b = bearer(req);
    return b.len && !or_apikey_well_formed(b.p, b.len) &&
           or_auth_session_verify_since(app->jwt_key, b.p, b.len, from, NULL) == OR_OK;
}

/* ---- lastUsedAt write-back, off the loop ---- */

static void save_work(uv_work_t *w)
{
    or_app *app = w->data;
    or_errbuf eb = {{0}};
    if (or_apikeys_save_usage(app->apikeys, app->store, &eb) != OR_OK)
        or_log_warn("apikeys: could not save lastUsedAt: %s", eb.msg);
}

static void save_done(uv_work_t *w, int status)
{
    (void)status;
    free(w);
}

static void note_use(or_http_req *req, or_app *app, const or_apikey_who *who)
{
    if (!who->persist_due)
        return;
    uv_work_t *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->data = app;
    if (uv_queue_work(or_http_worker_loop(or_http_req_worker(req)), w, save_work, save_done) != 0)
        free(w);
}

/* ---- the two checks ---- */

bool or_client_auth_gate(or_http_req *req, or_app *app)
{
    span key = {NULL, 0};
    or_apikey_status st = find_key(req, &key);
    if (st != OR_APIKEY_OK && !app->require_api_key)
        return true; /* anonymous use is allowed: nothing to check or attribute */
    or_snapshot *snap = or_store_snapshot(app->store);
    or_apikey_who who = {0};
    if (st == OR_APIKEY_OK)
        st = or_apikeys_check(app->apikeys, snap, key.p, key.len, NULL, or_clock_wall_ms(), &who);
    bool ok = st == OR_APIKEY_OK || !app->require_api_key || or_client_auth_session(req, app, snap);
    or_snapshot_release(snap);
    if (st == OR_APIKEY_OK)
        note_use(req, app, &who);
    if (!ok)
        or_relay_reply_error(req, or_client_auth_format(or_http_method(req), or_http_path(req)),
                             401, "invalid_api_key", "WWW-Authenticate: Bearer\r\n", "%s",
                             or_apikey_status_text(st));
    return ok;
}

bool or_client_auth_model(or_http_req *req, or_app *app, or_snapshot *snap, or_format f,
                          const char *model, char id_out[40])
{
    span key = {NULL, 0};
    or_apikey_who who = {0};
    id_out[0] = '\0';
    if (find_key(req, &key) != OR_APIKEY_OK)
        return true; /* anonymous or by session: the gate has decided */
    or_apikey_status st = or_apikeys_check(app->apikeys, snap, key.p, key.len, model ? model : "",
                                           or_clock_wall_ms(), &who);
    if (st == OR_APIKEY_OK) {
        memcpy(id_out, who.id, sizeof who.id);
        note_use(req, app, &who);
    }
    if (st != OR_APIKEY_MODEL)
        return true; /* anything else was the gate's to refuse */
    or_relay_reply_error(req, f, 403, "model_not_allowed", NULL,
                         "This API key may not use the model '%.200s' (see its allowedModels)",
                         model ? model : "");
    return false;
}

bool or_client_auth_allows(or_http_req *req, or_app *app, or_snapshot *snap, const char *model)
{
    span key = {NULL, 0};
    or_apikey_who who = {0};
    if (find_key(req, &key) != OR_APIKEY_OK)
        return true;
    return or_apikeys_check(app->apikeys, snap, key.p, key.len, model, or_clock_wall_ms(), &who) !=
           OR_APIKEY_MODEL;
}
