#include "admin/proxy.h"
#include "http/query.h"

#include "admin/admin.h"
#include "admin/custom_models.h"
#include "core/buf.h"
#include "core/clock.h"
#include "gateway/proxy_pick.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ID_MAX 255
#define MAP_MAX 1000
#define CRED_MAX 255
#define TEST_URL_MAX 2048
#define TEST_BODY_MAX 4096

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* The per-id maps, in the order the view lists them. */
static const char *const maps[] = {"providers", "combos", "keys"};
#define NMAPS (sizeof maps / sizeof *maps)

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static const char *text(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    return s && json_string_length(v) <= max && strlen(s) == json_string_length(v) && printable(s)
               ? s
               : NULL;
}

/* ---- validation and merging ---- */

static const char *const entry_fields[] = {"type", "host", "port", "username", "password"};

/* One proxy entry in → stored form (new reference), or NULL with eb. prev is the entry it
 * replaces (its sealed password is kept when none is given), may be NULL. */
static json_t *entry_in(or_store *st, const char *field, const json_t *in, const json_t *prev,
                        or_errbuf *eb)
{
    json_t *out = NULL;
    char *sealed = NULL;
    if (!json_is_object(in)) {
        or_fail(eb, OR_EINVAL, "%s: must be {type, host, port, username?, password?} or null",
                field);
        goto out;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        size_t i = 0;
        while (i < sizeof entry_fields / sizeof *entry_fields && strcmp(entry_fields[i], key))
            i++;
        if (i == sizeof entry_fields / sizeof *entry_fields) {
            or_fail(eb, OR_EINVAL, "%s.%.60s: unknown field", field, key);
            goto out;
        }
    }
    const char *type = json_string_value(json_object_get(in, "type"));
    if (type && strcmp(type, "direct") == 0) {
        out = json_pack("{s:s}", "type", "direct");
        goto out;
    }
    const json_t *user = json_object_get(in, "username"), *pw = json_object_get(in, "password");
    if (user && !json_is_null(user) && !text(user, CRED_MAX)) {
        or_fail(eb, OR_EINVAL, "%s.username: must be a string of at most %d bytes", field,
                CRED_MAX);
        goto out;
    }
    if (pw && !json_is_null(pw) && !text(pw, CRED_MAX)) {
        or_fail(eb, OR_EINVAL, "%s.password: must be a string of at most %d bytes", field,
                CRED_MAX);
        goto out;
    }
    const char *u = json_string_value(user);
    const char *pass = json_string_value(pw);
    if (pass && *pass && !(u && *u)) {
        or_fail(eb, OR_EINVAL, "%s.password: needs a username", field);
        goto out;
    }
    if (!text(json_object_get(in, "host"), 255)) {
        or_fail(eb, OR_EINVAL, "%s.host: must be a host name or an address", field);
        goto out;
    }
    out = json_pack("{s:O?, s:O, s:O?}", "type", json_object_get(in, "type"), "host",
                    json_object_get(in, "host"), "port", json_object_get(in, "port"));
    if (out && u && *u)
        json_object_set_new(out, "username", json_string(u));
    char url[OR_PROXY_URL_MAX];
    or_errbuf why = {{0}};
    if (!out || or_proxy_pick_url(out, NULL, url, sizeof url, &why) != OR_OK) {
        or_fail(eb, OR_EINVAL, "%s.%s", field, out ? why.msg : "out of memory");
        json_decref(out);
        out = NULL;
        goto out;
    }
    if (pass && *pass) {
        if (or_store_seal(st, pass, &sealed) != OR_OK) {
            or_fail(eb, OR_ECRYPTO, "%s.password: cannot be sealed", field);
            json_decref(out);
            out = NULL;
            goto out;
        }
        json_object_set_new(out, "passwordSealed", json_string(sealed));
    } else if (!pw && u && *u) {
        const json_t *old = json_object_get(prev, "passwordSealed");
        if (json_is_string(old))
            json_object_set(out, "passwordSealed", (json_t *)old);
    }
out:
    free(sealed);
    return out;
}

static json_t *merge_map(or_store *st, const char *name, const json_t *cur, const json_t *upd,
                         or_errbuf *eb)
{
    if (!json_is_object(upd)) {
        or_fail(eb, OR_EINVAL, "%s: must be an object {id: proxy | null} or null", name);
        return NULL;
    }
    json_t *out = json_is_object(cur) ? json_deep_copy(cur) : json_object();
    const char *id;
    const json_t *v;
    json_object_foreach((json_t *)upd, id, v)
    {
        char field[ID_MAX + 64];
        snprintf(field, sizeof field, "%s.%.*s", name, ID_MAX, id);
        if (!*id || strlen(id) > ID_MAX || !printable(id)) {
            or_fail(eb, OR_EINVAL, "%s: an id is 1 to %d printable bytes", name, ID_MAX);
            goto fail;
        }
        if (json_is_null(v)) {
            json_object_del(out, id);
            continue;
        }
        json_t *e = entry_in(st, field, v, json_object_get(cur, id), eb);
        if (!e)
            goto fail;
        json_object_set_new(out, id, e);
    }
    if (json_object_size(out) > MAP_MAX) {
        or_fail(eb, OR_EINVAL, "%s: at most %d entries", name, MAP_MAX);
        goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

json_t *or_proxy_settings_merge(or_store *st, const json_t *cur, const json_t *upd, or_errbuf *eb)
{
    if (!json_is_object(upd)) {
        or_fail(eb, OR_EINVAL, "body: must be a JSON object");
        return NULL;
    }
    json_t *out = json_is_object(cur) ? json_deep_copy(cur) : json_object();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)upd, key, v)
    {
        size_t m = 0;
        while (m < NMAPS && strcmp(maps[m], key) != 0)
            m++;
        json_t *val = NULL;
        if (strcmp(key, "global") != 0 && m == NMAPS) {
            or_fail(eb, OR_EINVAL, "%.60s: unknown field (global, providers, combos or keys)", key);
            goto fail;
        }
        if (json_is_null(v)) {
            json_object_del(out, key);
            continue;
        }
        val = m == NMAPS ? entry_in(st, "global", v, json_object_get(cur, "global"), eb)
                         : merge_map(st, key, json_object_get(cur, key), v, eb);
        if (!val)
            goto fail;
        if (m < NMAPS && json_object_size(val) == 0) { /* an emptied map is no map */
            json_decref(val);
            json_object_del(out, key);
        } else {
            json_object_set_new(out, key, val);
        }
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static json_t *entry_view(const json_t *e)
{
    json_t *out = json_object();
    static const char *const shown[] = {"type", "host", "port", "username"};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        json_t *v = json_object_get(e, shown[i]);
        if (v)
            json_object_set(out, shown[i], v);
    }
    const char *type = json_string_value(json_object_get(e, "type"));
    if (!type || strcmp(type, "direct") != 0)
        json_object_set_new(out, "hasPassword",
                            json_boolean(json_is_string(json_object_get(e, "passwordSealed"))));
    return out;
}

json_t *or_proxy_settings_view(const json_t *cfg)
{
    const json_t *g = json_object_get(cfg, "global");
    json_t *out = json_pack("{s:o}", "global", json_is_object(g) ? entry_view(g) : json_null());
    for (size_t m = 0; m < NMAPS; m++) {
        json_t *map = json_object();
        const char *id;
        const json_t *e;
        json_object_foreach(json_object_get(cfg, maps[m]), id, e)
        {
            if (json_is_object(e))
                json_object_set_new(map, id, entry_view(e));
        }
        json_object_set_new(out, maps[m], map);
    }
    return out;
}

/* ---- handlers ---- */

static void reply_view(or_http_req *req, or_app *app)
{
    json_t *cfg = or_store_setting_get(app->store, OR_PROXY_SETTINGS_KEY);
    or_reply_json(req, 200, or_proxy_settings_view(cfg), NULL);
    json_decref(cfg);
}

void or_proxy_api_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    reply_view(req, app);
}

/* Stores cfg (NULL or nothing configured: removes the key). Caller holds write_lock. */
static or_err store_cfg(or_app *app, json_t *cfg, or_errbuf *eb)
{
    bool empty = !cfg || json_object_size(cfg) == 0;
    return or_store_setting_set(app->store, OR_PROXY_SETTINGS_KEY, empty ? NULL : cfg, eb);
}

void or_proxy_api_put(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_errbuf eb = {{0}};
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    pthread_mutex_lock(&write_lock);
    json_t *cur = or_store_setting_get(app->store, OR_PROXY_SETTINGS_KEY);
    json_t *next = or_proxy_settings_merge(app->store, cur, body, &eb);
    or_err e = next ? store_cfg(app, next, &eb) : (eb.msg[0] ? OR_EINVAL : OR_ENOMEM);
    pthread_mutex_unlock(&write_lock);
    json_decref(cur);
    json_decref(next);
    json_decref(body);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        reply_view(req, app);
}

void or_proxy_api_delete(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char level[32] = "", id[ID_MAX + 1] = "";
    const char *q = or_http_query(req);
    bool has_level = or_http_query_param(q, "level", level, sizeof level);
    bool has_id = or_http_query_param(q, "id", id, sizeof id);
    static const struct {
        const char *name, *key;
    } levels[] = {
        {"global", "global"}, {"providers", "providers"}, {"provider", "providers"},
        {"combos", "combos"}, {"combo", "combos"},        {"keys", "keys"},
        {"key", "keys"},
    };
    const char *key = NULL;
    for (size_t i = 0; has_level && i < sizeof levels / sizeof *levels; i++)
        if (strcmp(levels[i].name, level) == 0)
            key = levels[i].key;
    if (has_level && (!key || (strcmp(key, "global") != 0 && !has_id))) {
        or_reply_error(req, 400, NULL, NULL,
                       key ? "id: required with level=%s"
                           : "level: must be global, providers, combos or keys (got %s)",
                       level);
        return;
    }
    or_errbuf eb = {{0}};
    or_err e = OR_OK;
    pthread_mutex_lock(&write_lock);
    json_t *cur = or_store_setting_get(app->store, OR_PROXY_SETTINGS_KEY);
    json_t *next = cur ? json_deep_copy(cur) : json_object();
    if (!key)
        json_object_clear(next);
    else if (strcmp(key, "global") == 0 ? json_object_del(next, "global") != 0
                                        : json_object_del(json_object_get(next, key), id) != 0)
        e = or_fail(&eb, OR_ENOTFOUND, "no %s proxy%s%s", level, has_id ? " for " : "", id);
    if (key && e == OR_OK && strcmp(key, "global") != 0 &&
        json_object_size(json_object_get(next, key)) == 0)
        json_object_del(next, key);
    if (e == OR_OK)
        e = store_cfg(app, next, &eb);
    pthread_mutex_unlock(&write_lock);
    json_decref(cur);
    json_decref(next);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        reply_view(req, app);
}

/* ---- test ---- */

typedef struct {
    or_http_req *req;
    or_up_req *up;
    uint64_t t0;
    int status;
    char url[TEST_URL_MAX + 1];
    char shown[OR_PROXY_URL_MAX]; /* the proxy URL without credentials */
    or_buf resp;
} proxy_test;

static void test_free(proxy_test *t)
{
    or_buf_free(&t->resp);
    free(t);
}

static void test_head(void *ud, int status, const or_up_header *hdrs, size_t nhdrs)
{
    (void)hdrs;
    (void)nhdrs;
    ((proxy_test *)ud)->status = status;
}

static bool test_data(void *ud, const char *p, size_t n)
{
    (void)ud;
    (void)p;
    (void)n;
    return false; /* the body does not matter: reaching the target does */
}

static void test_reply(proxy_test *t, bool ok, const char *error)
{
    json_t *r =
        json_pack("{s:b, s:I, s:s, s:s}", "ok", ok, "latencyMs",
                  (json_int_t)(or_clock_mono_ms() - t->t0), "url", t->url, "proxy", t->shown);
    if (r && t->status > 0)
        json_object_set_new(r, "statusCode", json_integer(t->status));
    if (r && error)
        json_object_set_new(r, "error", json_string(error));
    or_reply_json(t->req, 200, r, NULL);
}

static void test_done(void *ud, or_up_result res, const char *detail)
{
    proxy_test *t = ud;
    char msg[320] = "";
    t->up = NULL;
    if (res != OR_UP_OK)
        snprintf(msg, sizeof msg, "%s%s%s", or_up_result_name(res), detail && *detail ? ": " : "",
                 detail ? detail : "");
    else if (t->status == 407)
        snprintf(msg, sizeof msg, "the proxy refused the credentials (407)");
    test_reply(t, msg[0] == '\0', msg[0] ? msg : NULL);
    test_free(t);
}

static void test_abort(or_http_req *req, void *ud)
{
    (void)req;
    proxy_test *t = ud;
    if (t->up)
        or_up_cancel(t->up);
    test_free(t);
}

/* The URL to test against when none is given: the first connection's API root. */
static bool default_url(or_app *app, char *out, size_t cap)
{
    bool found = false;
    or_snapshot *snap = or_store_snapshot(app->store);
    for (size_t i = 0; i < snap->nconns && !found; i++) {
        const or_conn *c = &snap->conns[i];
        const json_t *b = json_object_get(c->psd, "baseUrl");
        const char *root = json_string_value(b);
        or_provider row;
        const or_provider *prov =
            root && *root
                ? NULL
                : or_provider_lookup(json_object_get(snap->settings, OR_PROVIDER_NODES_KEY),
                                     c->provider, strlen(c->provider), &row);
        if (!(root && *root) && prov)
            root = prov->base_url;
        if (root && *root && strlen(root) < cap) {
            snprintf(out, cap, "%s", root);
            found = true;
        }
    }
    or_snapshot_release(snap);
    return found;
}

/* The proxy URL to test (plaintext credentials: the caller wipes it) and its shown form. */
static or_err test_proxy_url(or_app *app, const json_t *body, char *url, char *shown, or_errbuf *eb)
{
    or_err e = OR_OK;
    json_t *entry = NULL, *cfg = NULL;
    char *password = NULL;
    const json_t *given = json_object_get(body, "proxy");
    const char *level = json_string_value(json_object_get(body, "level"));
    if (given) {
        if (!(entry = entry_in(app->store, "proxy", given, NULL, eb))) {
            e = OR_EINVAL;
            goto out;
        }
        const json_t *pw = json_object_get(given, "password");
        password = json_is_string(pw) ? strdup(json_string_value(pw)) : NULL;
    } else if (level) {
        const char *id = json_string_value(json_object_get(body, "id"));
        cfg = or_store_setting_get(app->store, OR_PROXY_SETTINGS_KEY);
        const json_t *stored = strcmp(level, "global") == 0
                                   ? json_object_get(cfg, "global")
                                   : json_object_get(json_object_get(cfg, level), id ? id : "");
        if (!json_is_object(stored)) {
            e = or_fail(eb, OR_ENOTFOUND, "no stored %s proxy%s%s", level, id ? " for " : "",
                        id ? id : "");
            goto out;
        }
        entry = json_incref((json_t *)stored);
        const char *sealed = json_string_value(json_object_get(stored, "passwordSealed"));
        if (sealed && or_store_unseal(app->store, sealed, &password) != OR_OK) {
            e = or_fail(eb, OR_ECRYPTO, "the stored password cannot be opened");
            goto out;
        }
    } else {
        e = or_fail(eb, OR_EINVAL, "proxy: required (or level and id of a stored proxy)");
        goto out;
    }
    e = or_proxy_pick_url(entry, password, url, OR_PROXY_URL_MAX, eb);
    if (e == OR_OK)
        e = or_proxy_pick_url(entry, NULL, shown, OR_PROXY_URL_MAX, eb);
    if (e == OR_OK && !*url)
        e = or_fail(eb, OR_EINVAL, "proxy.type: direct has nothing to test");
out:
    if (password) {
        sodium_memzero(password, strlen(password));
        free(password);
    }
    json_decref(entry);
    json_decref(cfg);
    return e;
}

static const or_up_callbacks test_cb = {test_head, test_data, test_done};

void or_proxy_api_test(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_errbuf eb = {{0}};
    or_err e = OR_OK;
    char proxy_url[OR_PROXY_URL_MAX] = "";
    proxy_test *t = NULL;
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    if (!(t = calloc(1, sizeof *t))) {
        e = or_fail(&eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    t->req = req;
    or_buf_init(&t->resp, TEST_BODY_MAX);
    const json_t *u = json_object_get(body, "url");
    const char *url = text(u, TEST_URL_MAX);
    if (u &&
        !(url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0))) {
        e = or_fail(&eb, OR_EINVAL, "url: must be an http:// or https:// URL of at most %d bytes",
                    TEST_URL_MAX);
        goto out;
    }
    if (url)
        snprintf(t->url, sizeof t->url, "%s", url);
    else if (!default_url(app, t->url, sizeof t->url)) {
        e = or_fail(&eb, OR_EINVAL, "url: required (no provider connection to test against)");
        goto out;
    }
    if ((e = test_proxy_url(app, body, proxy_url, t->shown, &eb)) != OR_OK)
        goto out;
    or_up_request rq = {
        .method = "GET",
        .url = t->url,
        .connect_ms = 10000,
        .first_byte_ms = 15000,
        .idle_ms = 15000,
        .total_ms = 20000,
        .proxy = proxy_url,
    };
    t->t0 = or_clock_mono_ms();
    or_err started = or_up_start(or_worker_of(req)->up, &rq, &test_cb, t, &t->up);
    sodium_memzero(proxy_url, sizeof proxy_url); /* the upstream client has its own copy */
    if (started != OR_OK) {
        test_reply(t, false, "could not start the test request");
        goto out;
    }
    or_http_set_stream_cb(req, &(or_http_stream_cb){NULL, test_abort}, t);
    t = NULL; /* owned by the transfer until test_done or test_abort */
out:
    sodium_memzero(proxy_url, sizeof proxy_url);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    if (t)
        test_free(t);
    json_decref(body);
}
