#include "admin/resilience_api.h"
#include "admin/admin.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/reply.h"

#include <stdio.h>
#include <string.h>

/* JSON field ↔ profile member, for reading and editing profiles through one table. */
static const struct {
    const char *name;
    size_t off;
    bool is_unsigned_int; /* `threshold` is unsigned, the rest uint32_t */
    uint32_t min, max;
} profile_fields[] = {
    {"threshold", offsetof(or_breaker_profile, threshold), true, 1, 64},
    {"windowMs", offsetof(or_breaker_profile, window_ms), false, 1000, 3600000},
    {"cooldownMs", offsetof(or_breaker_profile, cooldown_ms), false, 100, 3600000},
    {"maxCooldownMs", offsetof(or_breaker_profile, max_cooldown_ms), false, 100, 86400000},
};

static json_t *profile_json(const or_breaker_profile *p)
{
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof profile_fields / sizeof *profile_fields; i++) {
        const char *at = (const char *)p + profile_fields[i].off;
        json_int_t v =
            profile_fields[i].is_unsigned_int ? *(const unsigned *)at : *(const uint32_t *)at;
        json_object_set_new(o, profile_fields[i].name, json_integer(v));
    }
    return o;
}

static json_t *view(or_app *app)
{
    or_resilience *res = &app->routing.res;
    json_t *profiles = json_object();
    for (int k = 0; k < OR_BREAKER_KIND_COUNT; k++) {
        or_breaker_profile p;
        or_breaker_get_profile(res->breakers, (or_breaker_kind)k, &p);
        json_object_set_new(profiles, or_breaker_kind_name((or_breaker_kind)k), profile_json(&p));
    }
    json_t *state = or_resilience_export(res);
    json_t *out = json_pack("{s:o}", "profiles", profiles);
    json_object_update(out, state);
    json_decref(state);
    return out;
}

void or_resilience_api_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_reply_json(req, 200, view(app), NULL);
}

/* Applies {profiles:{<kind>:{field: n}}} after validating all of it. */
static or_err apply_profiles(or_app *app, const json_t *profiles, or_errbuf *eb)
{
    or_breaker_profile next[OR_BREAKER_KIND_COUNT];
    bool touched[OR_BREAKER_KIND_COUNT] = {false};
    for (int k = 0; k < OR_BREAKER_KIND_COUNT; k++)
        or_breaker_get_profile(app->routing.res.breakers, (or_breaker_kind)k, &next[k]);
    const char *kind;
    json_t *fields;
    json_object_foreach((json_t *)profiles, kind, fields)
    {
        int k = or_breaker_kind_from_name(kind);
        if (k < 0 || !json_is_object(fields))
            return or_fail(eb, OR_EINVAL, "profiles.%s: unknown profile (apikey, oauth, local)",
                           kind);
        const char *name;
        json_t *v;
        json_object_foreach(fields, name, v)
        {
            size_t i = 0, n = sizeof profile_fields / sizeof *profile_fields;
            while (i < n && strcmp(profile_fields[i].name, name) != 0)
                i++;
            if (i == n)
                return or_fail(eb, OR_EINVAL, "profiles.%s.%s: unknown field", kind, name);
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x < profile_fields[i].min || x > profile_fields[i].max)
                return or_fail(eb, OR_EINVAL, "profiles.%s.%s: an integer from %u to %u", kind,
                               name, profile_fields[i].min, profile_fields[i].max);
            char *at = (char *)&next[k] + profile_fields[i].off;
            if (profile_fields[i].is_unsigned_int)
                *(unsigned *)at = (unsigned)x;
            else
                *(uint32_t *)at = (uint32_t)x;
            touched[k] = true;
        }
    }
    for (int k = 0; k < OR_BREAKER_KIND_COUNT; k++)
        if (touched[k] && or_breaker_set_profile(app->routing.res.breakers, (or_breaker_kind)k,
                                                 &next[k]) != OR_OK)
            return or_fail(eb, OR_EINVAL, "profiles.%s: inconsistent values",
                           or_breaker_kind_name((or_breaker_kind)k));
    return OR_OK;
}

void or_resilience_api_patch(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    or_errbuf eb = {{0}};
    const char *key;
    json_t *v;
    or_err e = OR_OK;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "profiles") != 0 || !json_is_object(v)) {
            e = or_fail(&eb, OR_EINVAL, "%s: unknown field (expected profiles:{…})", key);
            break;
        }
        e = apply_profiles(app, v, &eb);
        if (e != OR_OK)
            break;
    }
    json_decref(body);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        return;
    }
    or_reply_json(req, 200, view(app), NULL);
}

void or_resilience_api_reset(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    const or_buf *raw = or_http_body(req);
    json_t *body = raw->len ? or_admin_body_object(req) : json_object();
    if (!body)
        return;
    json_t *id = json_object_get(body, "id");
    or_resilience *res = &app->routing.res;
    size_t removed = 0;
    if (json_is_string(id)) {
        const char *s = json_string_value(id);
        or_breaker_reset(res->breakers, s);
        removed = or_cooldown_unlock_id(res->cooldowns, s);
    } else if (id && !json_is_null(id)) {
        json_decref(body);
        or_reply_error(req, 400, NULL, "invalid_id", "id: must be a string");
        return;
    } else {
        removed = or_cooldown_count(res->cooldowns);
        or_resilience_reset_all(res);
    }
    json_decref(body);
    or_log_info("admin: resilience reset (%zu cooldown(s) lifted)", removed);
    or_reply_json(req, 200, json_pack("{s:b, s:I}", "success", 1, "removed", (json_int_t)removed),
                  NULL);
}

/* VmRSS and VmHWM in bytes from /proc/self/status. */
static json_t *memory_json(void)
{
    long long rss = 0, hwm = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %lld", &rss);
        sscanf(line, "VmHWM: %lld", &hwm);
    }
    if (f)
        fclose(f);
    return json_pack("{s:I, s:I}", "rssBytes", (json_int_t)rss * 1024, "peakRssBytes",
                     (json_int_t)hwm * 1024);
}

void or_health_api(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *state = or_resilience_export(&app->routing.res);
    json_t *out = json_pack(
        "{s:s, s:s, s:I, s:o, s:s, s:o}", "status", "ok", "version", OR_VERSION, "uptimeSec",
        (json_int_t)((or_clock_mono_ms() - app->started_mono_ms) / 1000), "memory", memory_json(),
        "dataDir", app->data_dir, "latency", or_routing_latency_export(&app->routing));
    json_object_update(out, state);
    json_decref(state);
    or_reply_json(req, 200, out, NULL);
}

void or_resilience_api_load(or_app *app)
{
    json_t *st = or_store_setting_get(app->store, OR_RESILIENCE_STATE_KEY);
    if (!st)
        return;
    or_errbuf eb = {{0}};
    if (or_breaker_import(app->routing.res.breakers, json_object_get(st, "breakers"), &eb) !=
            OR_OK ||
        or_cooldown_import(app->routing.res.cooldowns, json_object_get(st, "cooldowns"), &eb) !=
            OR_OK)
        or_log_warn("resilience: saved state not restored: %s", eb.msg);
    json_decref(st);
}

void or_resilience_api_save(or_app *app)
{
    json_t *all = or_resilience_export(&app->routing.res);
    json_t *keep = json_pack("{s:O?, s:O?}", "breakers", json_object_get(all, "breakers"),
                             "cooldowns", json_object_get(all, "cooldowns"));
    json_decref(all);
    or_errbuf eb = {{0}};
    if (keep && or_store_setting_set(app->store, OR_RESILIENCE_STATE_KEY, keep, &eb) != OR_OK)
        or_log_warn("resilience: state not saved: %s", eb.msg);
    json_decref(keep);
}
