#include "admin/settings.h"
#include "admin/admin.h"
#include "http/reply.h"
#include "route/plan.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define ALIASES_MAX 500
#define ALIAS_PATTERN_MAX 200
#define CHAINS_MAX 500
#define NAME_MAX_BYTES 255 /* a target must fit a plan step (route/plan.h) */

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* A non-empty string of at most max bytes without control characters. */
static const char *text_of(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    return s && *s && json_string_length(v) <= max && strlen(s) == json_string_length(v) &&
                   printable(s)
               ? s
               : NULL;
}

static json_t *aliases(const char *name, const json_t *v, or_errbuf *eb)
{
    if (json_array_size(v) > ALIASES_MAX) {
        or_fail(eb, OR_EINVAL, "%s: at most %d aliases", name, ALIASES_MAX);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(v, i, a)
    {
        const char *pat = text_of(json_object_get(a, "pattern"), ALIAS_PATTERN_MAX);
        const char *target = text_of(json_object_get(a, "target"), NAME_MAX_BYTES);
        if (!json_is_object(a) || !pat || !target) {
            or_fail(eb, OR_EINVAL, "%s[%zu]: must be {pattern, target}: %s", name, i,
                    !pat ? "pattern is a non-empty string of at most 200 bytes"
                         : "target is a non-empty string of at most 255 bytes");
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_pack("{s:s, s:s}", "pattern", pat, "target", target));
    }
    return out;
}

static json_t *chains(const char *name, const json_t *v, or_errbuf *eb)
{
    if (json_object_size(v) > CHAINS_MAX) {
        or_fail(eb, OR_EINVAL, "%s: at most %d chains", name, CHAINS_MAX);
        return NULL;
    }
    const char *key;
    const json_t *chain;
    json_object_foreach((json_t *)v, key, chain)
    {
        if (!*key || strlen(key) > NAME_MAX_BYTES || !printable(key)) {
            or_fail(eb, OR_EINVAL, "%s: a model name is 1 to 255 bytes", name);
            return NULL;
        }
        if (!json_is_array(chain) || json_array_size(chain) > OR_PLAN_MAX) {
            or_fail(eb, OR_EINVAL, "%s.%.100s: must be an array of at most %d models", name, key,
                    OR_PLAN_MAX);
            return NULL;
        }
        size_t i;
        const json_t *m;
        json_array_foreach(chain, i, m)
        {
            if (!text_of(m, NAME_MAX_BYTES)) {
                or_fail(eb, OR_EINVAL,
                        "%s.%.100s[%zu]: must be a non-empty string of at most 255 bytes", name,
                        key, i);
                return NULL;
            }
        }
    }
    return json_deep_copy(v);
}

static const char *const account_strategies[] = {
    "fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized", NULL,
};

/* Only fields something reads or the dashboard shows. */
static const struct {
    or_setting_field f;
    json_int_t min, max;        /* OR_SETTING_INT */
    const char *const *choices; /* OR_SETTING_STRING, NULL-terminated, or NULL */
} fields[] = {
    {{"requireLogin", OR_SETTING_BOOL, NULL, "true"}, 0, 0, NULL},
    {{"fallbackStrategy", OR_SETTING_STRING, NULL, "\"fill-first\""}, 0, 0, account_strategies},
    {{"stickyRoundRobinLimit", OR_SETTING_INT, NULL, "3"}, 0, 1000, NULL},
    {{"wildcardAliases", OR_SETTING_ARRAY, aliases, "[]"}, 0, 0, NULL},
    {{"fallbackChains", OR_SETTING_OBJECT, chains, "{}"}, 0, 0, NULL},
    {{"requestRetry", OR_SETTING_INT, NULL, "3"}, 0, 10, NULL},
    {{"maxRetryIntervalSec", OR_SETTING_INT, NULL, "30"}, 0, 3600, NULL},
};

#define NFIELDS (sizeof fields / sizeof fields[0])

size_t or_settings_count(void)
{
    return NFIELDS;
}

const or_setting_field *or_settings_at(size_t i)
{
    return i < NFIELDS ? &fields[i].f : NULL;
}

static size_t index_of(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].f.name, name) == 0)
            return i;
    return NFIELDS;
}

const or_setting_field *or_settings_find(const char *name)
{
    return name ? or_settings_at(index_of(name)) : NULL;
}

static const char *const type_names[] = {
    [OR_SETTING_BOOL] = "a boolean",   [OR_SETTING_INT] = "an integer",
    [OR_SETTING_STRING] = "a string",  [OR_SETTING_ARRAY] = "an array",
    [OR_SETTING_OBJECT] = "an object",
};

static bool has_type(const json_t *v, or_setting_type t)
{
    switch (t) {
    case OR_SETTING_BOOL:
        return json_is_boolean(v);
    case OR_SETTING_INT:
        return json_is_integer(v);
    case OR_SETTING_STRING:
        return json_is_string(v);
    case OR_SETTING_ARRAY:
        return json_is_array(v);
    case OR_SETTING_OBJECT:
        return json_is_object(v);
    }
    return false;
}

/* One field's normalized value (new reference; json_null() resets), or NULL with eb. */
static json_t *check_field(size_t i, const json_t *v, or_errbuf *eb)
{
    const char *name = fields[i].f.name;
    if (json_is_null(v))
        return json_null();
    if (!has_type(v, fields[i].f.type)) {
        or_fail(eb, OR_EINVAL, "%s: must be %s", name, type_names[fields[i].f.type]);
        return NULL;
    }
    if (fields[i].f.type == OR_SETTING_INT &&
        (json_integer_value(v) < fields[i].min || json_integer_value(v) > fields[i].max)) {
        or_fail(eb, OR_EINVAL, "%s: must be an integer from %lld to %lld", name,
                (long long)fields[i].min, (long long)fields[i].max);
        return NULL;
    }
    if (fields[i].choices) {
        const char *const *c = fields[i].choices;
        while (*c && strcmp(*c, json_string_value(v)) != 0)
            c++;
        if (!*c) {
            char list[200];
            size_t len = 0;
            for (c = fields[i].choices; *c && len < sizeof list; c++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                        c == fields[i].choices ? "" : ", ", *c);
            or_fail(eb, OR_EINVAL, "%s: must be one of %s", name, list);
            return NULL;
        }
    }
    return fields[i].f.validate ? fields[i].f.validate(name, v, eb) : json_deep_copy(v);
}

json_t *or_settings_validate(const json_t *body, or_errbuf *eb)
{
    if (!json_is_object(body)) {
        or_fail(eb, OR_EINVAL, "body: must be a JSON object");
        return NULL;
    }
    json_t *out = json_object();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        size_t i = index_of(key);
        json_t *norm = NULL;
        if (i == NFIELDS)
            or_fail(eb, OR_EINVAL, "%.100s: unknown setting", key);
        else
            norm = check_field(i, v, eb);
        if (!norm) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, key, norm);
    }
    return out;
}

json_t *or_settings_view(const json_t *stored)
{
    json_t *out = json_object();
    for (size_t i = 0; i < NFIELDS; i++) {
        const json_t *v = json_object_get(stored, fields[i].f.name);
        json_t *val = v && has_type(v, fields[i].f.type)
                          ? json_deep_copy(v)
                          : json_loads(fields[i].f.default_json, JSON_DECODE_ANY, NULL);
        json_object_set_new(out, fields[i].f.name, val);
    }
    return out;
}

static void reply_view(or_http_req *req, or_app *app)
{
    or_snapshot *snap = or_store_snapshot(app->store);
    json_t *view = or_settings_view(snap->settings);
    or_snapshot_release(snap);
    or_reply_json(req, 200, view, NULL);
}

void or_settings_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    reply_view(req, app);
}

void or_settings_put(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    or_errbuf eb = {{0}};
    json_t *upd = or_settings_validate(body, &eb);
    json_decref(body);
    if (!upd) {
        or_admin_reply_err(req, eb.msg[0] ? OR_EINVAL : OR_ENOMEM, &eb);
        return;
    }
    or_err e = OR_OK;
    pthread_mutex_lock(&write_lock);
    const char *key;
    json_t *v;
    json_object_foreach(upd, key, v)
    {
        e = or_store_setting_set(app->store, key, json_is_null(v) ? NULL : v, &eb);
        if (e != OR_OK)
            break;
    }
    pthread_mutex_unlock(&write_lock);
    json_decref(upd);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        reply_view(req, app);
}
