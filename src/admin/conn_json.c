#include "admin/conn_json.h"

#include "provider/provider.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- output ---- */

/* Substrings (lowercase) of providerSpecificData keys that hold credentials. */
static const char *const secret_words[] = {
    "apikey",      "api_key",      "secret",       "password",
    "accesstoken", "access_token", "refreshtoken", "refresh_token",
};

static bool secret_key(const char *k)
{
    char low[128];
    size_t i = 0;
    for (; k[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)k[i]);
    low[i] = '\0';
    for (size_t w = 0; w < sizeof secret_words / sizeof *secret_words; w++)
        if (strstr(low, secret_words[w]))
            return true;
    return false;
}

static json_t *public_psd(const json_t *psd)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    if (!o || !json_is_object(psd))
        return o;
    json_object_foreach((json_t *)psd, k, v)
    {
        if (!secret_key(k) && json_object_set(o, k, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

void or_conn_json_time(int64_t ms, char out[32])
{
    if (ms < 0)
        ms = 0;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

json_t *or_conn_json_encode(const or_conn *c)
{
    char created[32], updated[32];
    or_conn_json_time(c->created_at, created);
    or_conn_json_time(c->updated_at, updated);
    json_t *psd = public_psd(c->psd);
    if (!psd)
        return NULL;
    return json_pack("{s:s, s:s?, s:s?, s:s, s:i, s:s?, s:b, s:s, s:s?, s:o, s:s, s:s, s:b}", "id",
                     c->id, "provider", c->provider, "name", c->name, "authType",
                     c->auth_type ? c->auth_type : "apikey", "priority", c->priority,
                     "defaultModel", c->default_model, "isActive", c->active, "testStatus",
                     c->test_status ? c->test_status : "unknown", "lastError", c->last_error,
                     "providerSpecificData", psd, "createdAt", created, "updatedAt", updated,
                     "hasApiKey", c->api_key && *c->api_key);
}

/* ---- input ---- */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Values that end up in upstream request headers or URLs must not smuggle CR/LF. */
static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static or_err set_str(char **dst, const char *v)
{
    char *d = v ? strdup(v) : NULL;
    if (v && !d)
        return OR_ENOMEM;
    free(*dst);
    *dst = d;
    return OR_OK;
}

bool or_conn_json_url_ok(const char *s)
{
    size_t skip;
    if (!s || strlen(s) > OR_CONN_URL_MAX || has_ctl(s) || strchr(s, ' '))
        return false;
    if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else
        return false;
    return s[skip] != '\0' && !strchr("/?#@:", s[skip]);
}

typedef or_err (*field_fn)(or_conn *c, const json_t *v, bool create, or_errbuf *eb);

static or_err apply_provider(or_conn *c, const json_t *v, bool create, const json_t *nodes,
                             or_errbuf *eb)
{
    const char *s = json_string_value(v);
    or_provider scratch;
    const or_provider *p = s ? or_provider_lookup(nodes, s, strlen(s), &scratch) : NULL;
    if (!s)
        return or_fail(eb, OR_EINVAL, "provider: must be a string");
    if (!p)
        return or_fail(eb, OR_EINVAL, "provider: unknown provider '%.64s'", s);
    if (!create && c->provider && strcmp(c->provider, p->id) != 0)
        return or_fail(eb, OR_EINVAL, "provider: cannot be changed; create a new connection");
    return set_str(&c->provider, p->id);
}

static or_err f_name(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    const char *s = json_string_value(v);
    if (!s || !*s || utf8_chars(s) > OR_CONN_NAME_MAX)
        return or_fail(eb, OR_EINVAL, "name: must be a string of 1 to %d characters",
                       OR_CONN_NAME_MAX);
    return set_str(&c->name, s);
}

static or_err f_api_key(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    if (json_is_null(v))
        return OR_OK; /* "keep the current key", as the dashboard sends it */
    const char *s = json_string_value(v);
    if (!s || utf8_chars(s) > OR_CONN_APIKEY_MAX || has_ctl(s))
        return or_fail(eb, OR_EINVAL, "apiKey: must be a string of at most %d printable characters",
                       OR_CONN_APIKEY_MAX);
    if (!*s)
        return OR_OK;
    if (c->api_key)
        sodium_memzero(c->api_key, strlen(c->api_key));
    return set_str(&c->api_key, s);
}

static const char *const auth_types[] = {"apikey", "oauth", "none"};

static or_err f_auth_type(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < sizeof auth_types / sizeof *auth_types; i++)
        if (strcmp(s, auth_types[i]) == 0)
            return set_str(&c->auth_type, s);
    return or_fail(eb, OR_EINVAL, "authType: must be \"apikey\", \"oauth\" or \"none\"");
}

static or_err f_priority(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    double d = json_is_integer(v) ? (double)json_integer_value(v)
                                  : (json_is_real(v) ? json_real_value(v) : -1);
    if (d < 1 || d > 100 || d != (double)(int)d)
        return or_fail(eb, OR_EINVAL, "priority: must be an integer from 1 to 100");
    c->priority = (int)d;
    return OR_OK;
}

static or_err f_default_model(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    if (json_is_null(v))
        return set_str(&c->default_model, NULL);
    const char *s = json_string_value(v);
    if (!s || strlen(s) > OR_CONN_MODEL_MAX || has_ctl(s))
        return or_fail(eb, OR_EINVAL, "defaultModel: must be a string of at most %d bytes",
                       OR_CONN_MODEL_MAX);
    return set_str(&c->default_model, *s ? s : NULL);
}

static or_err f_active(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    if (!json_is_boolean(v))
        return or_fail(eb, OR_EINVAL, "isActive: must be a boolean");
    c->active = json_is_true(v);
    return OR_OK;
}

static or_err f_test_status(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    (void)create;
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n > 32 || strspn(s, "abcdefghijklmnopqrstuvwxyz_-") != n)
        return or_fail(eb, OR_EINVAL, "testStatus: must be a short lowercase word");
    return set_str(&c->test_status, s);
}

/* Array-valued providerSpecificData fields with a documented size cap. */
static const struct {
    const char *key;
    size_t max;
} psd_arrays[] = {{"tags", 50}, {"excludedModels", 100}};

static or_err check_psd(const json_t *psd, or_errbuf *eb)
{
    const json_t *base = json_object_get(psd, "baseUrl");
    if (base && !json_is_null(base) && !or_conn_json_url_ok(json_string_value(base)))
        return or_fail(eb, OR_EINVAL,
                       "providerSpecificData.baseUrl: must be an http:// or https:// URL");
    for (size_t i = 0; i < sizeof psd_arrays / sizeof *psd_arrays; i++) {
        const json_t *a = json_object_get(psd, psd_arrays[i].key);
        if (a && !json_is_null(a) && (!json_is_array(a) || json_array_size(a) > psd_arrays[i].max))
            return or_fail(eb, OR_EINVAL,
                           "providerSpecificData.%s: must be an array of at most %zu",
                           psd_arrays[i].key, psd_arrays[i].max);
    }
    char *text = json_dumps(psd, JSON_COMPACT);
    size_t n = text ? strlen(text) : 0;
    free(text);
    if (!text)
        return or_fail(eb, OR_ENOMEM, "out of memory");
    if (n > OR_CONN_PSD_MAX)
        return or_fail(eb, OR_EINVAL, "providerSpecificData: larger than %d bytes",
                       OR_CONN_PSD_MAX);
    return OR_OK;
}

static or_err f_psd(or_conn *c, const json_t *v, bool create, or_errbuf *eb)
{
    if (!json_is_object(v))
        return or_fail(eb, OR_EINVAL, "providerSpecificData: must be an object");
    json_t *next = create || !c->psd ? json_object() : json_deep_copy(c->psd);
    const char *k;
    json_t *val;
    if (!next)
        return or_fail(eb, OR_ENOMEM, "out of memory");
    json_object_foreach((json_t *)v, k, val)
    {
        if (json_is_null(val) && !create) {
            json_object_del(next, k);
            continue;
        }
        if (json_object_set(next, k, val) != 0) {
            json_decref(next);
            return or_fail(eb, OR_ENOMEM, "out of memory");
        }
    }
    or_err e = check_psd(next, eb);
    if (e != OR_OK) {
        json_decref(next);
        return e;
    }
    json_decref(c->psd);
    c->psd = next;
    return OR_OK;
}

/* Applied in this order: provider first, since the apiKey rule depends on it. */
static const struct {
    const char *name;
    field_fn fn;
} fields[] = {
    {"name", f_name},
    {"apiKey", f_api_key},
    {"authType", f_auth_type},
    {"priority", f_priority},
    {"defaultModel", f_default_model},
    {"isActive", f_active},
    {"testStatus", f_test_status},
    {"providerSpecificData", f_psd},
};

static or_err set_defaults(or_conn *c, const json_t *nodes)
{
    or_provider scratch;
    const or_provider *p = or_provider_lookup(nodes, c->provider, strlen(c->provider), &scratch);
    c->priority = 1;
    c->active = true;
    if (!c->psd && !(c->psd = json_object()))
        return OR_ENOMEM;
    if (set_str(&c->auth_type, p && p->auth == OR_AUTH_NONE ? "none" : "apikey") != OR_OK ||
        set_str(&c->test_status, "unknown") != OR_OK)
        return OR_ENOMEM;
    return OR_OK;
}

or_err or_conn_json_apply(or_conn *c, const json_t *body, bool create, const json_t *nodes,
                          or_errbuf *eb)
{
    or_err e = OR_OK;

    if (!json_is_object(body)) {
        e = or_fail(eb, OR_EINVAL, "body: must be a JSON object");
        goto out;
    }
    if (create) {
        const json_t *pv = json_object_get(body, "provider");
        if (!pv) {
            e = or_fail(eb, OR_EINVAL, "provider: required");
            goto out;
        }
        if ((e = apply_provider(c, pv, true, nodes, eb)) != OR_OK)
            goto out;
        if ((e = set_defaults(c, nodes)) != OR_OK) {
            e = or_fail(eb, e, "out of memory");
            goto out;
        }
    }
    const json_t *pv = json_object_get(body, "provider");
    if (!create && pv && (e = apply_provider(c, pv, false, nodes, eb)) != OR_OK)
        goto out;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const json_t *v = json_object_get(body, fields[i].name);
        if (!v)
            continue;
        if ((e = fields[i].fn(c, v, create, eb)) != OR_OK) {
            if (e == OR_ENOMEM)
                or_fail(eb, e, "out of memory");
            goto out;
        }
    }
    if (!c->name) {
        e = or_fail(eb, OR_EINVAL, "name: required");
        goto out;
    }
    or_provider scratch;
    const or_provider *p =
        c->provider ? or_provider_lookup(nodes, c->provider, strlen(c->provider), &scratch) : NULL;
    if (p && p->auth != OR_AUTH_NONE && (!c->api_key || !*c->api_key) &&
        !(c->auth_type && strcmp(c->auth_type, "oauth") == 0)) {
        e = or_fail(eb, OR_EINVAL, "apiKey: required for provider '%s'", p->id);
        goto out;
    }
out:
    return e;
}
