#include "admin/combos.h"
#include "admin/admin.h"
#include "admin/conn_json.h"
#include "core/clock.h"
#include "core/rand.h"
#include "http/reply.h"
#include "route/plan.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define STEP_MAX_BYTES 255 /* a target must fit a plan step (route/plan.h) */

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const strategies[] = {
    "priority", "round-robin", "random", "weighted", "least-used", "cost-optimized", NULL,
};

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OR_COMBO_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '/' || ch == '.' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; s && *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* "prefix/model": something before and after the first '/'. */
static bool is_model_id(const char *m)
{
    const char *slash = strchr(m, '/');
    return slash && slash != m && slash[1];
}

/* A non-empty string of at most STEP_MAX_BYTES without control characters. */
static const char *step_text(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > STEP_MAX_BYTES || strlen(s) != json_string_length(v))
        return NULL;
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return NULL;
    return s;
}

static const char *step_model(const json_t *step)
{
    return json_is_object(step) ? json_string_value(json_object_get(step, "model"))
                                : json_string_value(step);
}

static or_err check_models(const json_t *models, or_errbuf *eb)
{
    if (!json_is_array(models) || json_array_size(models) > OR_PLAN_MAX_STEPS)
        return or_fail(eb, OR_EINVAL, "models: must be an array of at most %d steps",
                       OR_PLAN_MAX_STEPS);
    size_t i;
    const json_t *step;
    json_array_foreach(models, i, step)
    {
        if (json_is_object(step)) {
            const json_t *w = json_object_get(step, "weight");
            if (!step_text(json_object_get(step, "model")))
                return or_fail(eb, OR_EINVAL,
                               "models[%zu].model: must be a non-empty string of at most %d bytes",
                               i, STEP_MAX_BYTES);
            if (w && !json_is_null(w) &&
                (!json_is_number(w) || json_number_value(w) < 0 || json_number_value(w) > 100))
                return or_fail(eb, OR_EINVAL, "models[%zu].weight: must be a number from 0 to 100",
                               i);
        } else if (!step_text(step)) {
            return or_fail(eb, OR_EINVAL,
                           "models[%zu]: must be a non-empty string of at most %d bytes or "
                           "{model, weight}",
                           i, STEP_MAX_BYTES);
        }
    }
    return OR_OK;
}

static or_err check_config(const json_t *config, or_errbuf *eb)
{
    if (!json_is_object(config))
        return or_fail(eb, OR_EINVAL, "config: must be an object");
    const json_t *sticky = json_object_get(config, "stickyRoundRobinLimit");
    if (sticky && !json_is_null(sticky) &&
        (!json_is_integer(sticky) || json_integer_value(sticky) < 0 ||
         json_integer_value(sticky) > 1000))
        return or_fail(eb, OR_EINVAL,
                       "config.stickyRoundRobinLimit: must be an integer from 0 to 1000");
    return OR_OK;
}

/* The body's fields onto c, each checked on its own. */
static or_err apply_fields(json_t *c, const json_t *body, bool create, or_errbuf *eb)
{
    const json_t *name = json_object_get(body, "name");
    const json_t *models = json_object_get(body, "models");
    const json_t *strategy = json_object_get(body, "strategy");
    const json_t *config = json_object_get(body, "config");
    if ((name || create) && (!json_is_string(name) || !name_ok(json_string_value(name))))
        return or_fail(eb, OR_EINVAL,
                       "name: required, 1 to %d letters, digits, '_', '/', '.' or '-'",
                       OR_COMBO_NAME_MAX);
    if (models && check_models(models, eb) != OR_OK)
        return OR_EINVAL;
    if (strategy && !json_is_null(strategy) && !one_of(json_string_value(strategy), strategies))
        return or_fail(eb, OR_EINVAL,
                       "strategy: must be one of priority, round-robin, random, weighted, "
                       "least-used, cost-optimized");
    if (config && !json_is_null(config) && check_config(config, eb) != OR_OK)
        return OR_EINVAL;
    if (name)
        json_object_set(c, "name", (json_t *)name);
    if (models)
        json_object_set_new(c, "models", json_deep_copy(models));
    else if (create)
        json_object_set_new(c, "models", json_array());
    if (strategy && !json_is_null(strategy))
        json_object_set(c, "strategy", (json_t *)strategy);
    else if (create || strategy)
        json_object_set_new(c, "strategy", json_string("priority"));
    if (config && !json_is_null(config))
        json_object_set_new(c, "config", json_deep_copy(config));
    else if (create || config)
        json_object_set_new(c, "config", json_object());
    return OR_OK;
}

or_err or_combos_apply(json_t *combos, size_t at, const json_t *body, const char *new_id,
                       int64_t now_ms, json_t **out, or_errbuf *eb)
{
    bool create = at == SIZE_MAX;
    char now[32];
    or_conn_json_time(now_ms, now);
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "body: must be a JSON object");
    if (create && json_array_size(combos) >= OR_COMBOS_MAX)
        return or_fail(eb, OR_EINVAL, "combos: at most %d", OR_COMBOS_MAX);
    json_t *c = create ? json_pack("{s:s}", "id", new_id) : json_array_get(combos, at);
    if (!c)
        return or_fail(eb, OR_ENOMEM, "out of memory");
    or_err e = apply_fields(c, body, create, eb);
    if (create && e == OR_OK) {
        json_object_set_new(c, "createdAt", json_string(now));
        e = json_array_append(combos, c) == 0 ? OR_OK : or_fail(eb, OR_ENOMEM, "out of memory");
    }
    if (create)
        json_decref(c); /* the list holds it now, or it was never added */
    if (e != OR_OK)
        return e;
    json_object_set_new(c, "updatedAt", json_string(now));
    const char *name = json_string_value(json_object_get(c, "name"));
    size_t i;
    const json_t *other;
    json_array_foreach(combos, i, other)
    {
        const char *on = json_string_value(json_object_get(other, "name"));
        if (other != c && on && strcmp(on, name) == 0)
            return or_fail(eb, OR_EINVAL, "name: a combo named '%s' already exists", name);
    }
    const json_t *step;
    json_array_foreach(json_object_get(body, "models"), i, step)
    {
        const char *m = step_model(step);
        if (m && !is_model_id(m) && !or_plan_find_combo(combos, m))
            return or_fail(eb, OR_EINVAL,
                           "models[%zu]: '%.100s' is neither provider/model nor a combo's name", i,
                           m);
    }
    if ((e = or_plan_check_combos(combos, name, eb)) != OR_OK)
        return e;
    *out = c;
    return OR_OK;
}

static json_t *current_combos(or_app *app)
{
    json_t *combos = or_store_setting_get(app->store, OR_COMBOS_KEY);
    if (!json_is_array(combos)) {
        json_decref(combos);
        combos = json_array();
    }
    return combos;
}

static size_t find_combo(const json_t *combos, const char *id)
{
    size_t i;
    const json_t *c;
    json_array_foreach(combos, i, c)
    {
        const char *cid = json_string_value(json_object_get(c, "id"));
        if (cid && strcmp(cid, id) == 0)
            return i;
    }
    return SIZE_MAX;
}

void or_combos_list(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_reply_json(req, 200, json_pack("{s:o}", "combos", current_combos(app)), NULL);
}

/* Create (id NULL) or update; one writer at a time so concurrent edits are not lost. */
static void write_combo(or_http_req *req, or_app *app, const char *id)
{
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    or_errbuf eb = {{0}};
    pthread_mutex_lock(&write_lock);
    json_t *combos = current_combos(app), *combo = NULL;
    size_t at = id ? find_combo(combos, id) : SIZE_MAX;
    if (id && at == SIZE_MAX) {
        or_reply_error(req, 404, NULL, "not_found", "combo not found");
        goto out;
    }
    char new_id[37];
    or_uuid4(new_id);
    or_err e = or_combos_apply(combos, at, body, new_id, or_clock_wall_ms(), &combo, &eb);
    if (e == OR_OK)
        e = or_store_setting_set(app->store, OR_COMBOS_KEY, combos, &eb);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        goto out;
    }
    or_reply_json(req, id ? 200 : 201, json_incref(combo), NULL);
out:
    pthread_mutex_unlock(&write_lock);
    json_decref(combos);
    json_decref(body);
}

void or_combos_create(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    write_combo(req, app, NULL);
}

void or_combos_update(or_http_req *req, or_app *app, const or_route_params *p)
{
    write_combo(req, app, p->v[0]);
}

void or_combos_delete(or_http_req *req, or_app *app, const or_route_params *p)
{
    or_errbuf eb = {{0}};
    pthread_mutex_lock(&write_lock);
    json_t *combos = current_combos(app);
    size_t at = find_combo(combos, p->v[0]);
    if (at == SIZE_MAX) {
        or_reply_error(req, 404, NULL, "not_found", "combo not found");
    } else {
        json_array_remove(combos, at);
        or_err e = or_store_setting_set(app->store, OR_COMBOS_KEY, combos, &eb);
        if (e != OR_OK)
            or_admin_reply_err(req, e, &eb);
        else
            or_reply_json(req, 200, json_pack("{s:b}", "success", 1), NULL);
    }
    pthread_mutex_unlock(&write_lock);
    json_decref(combos);
}
