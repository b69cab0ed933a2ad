#include "admin/custom_models.h"
#include "http/query.h"
#include "admin/admin.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <pthread.h>
#include <string.h>

#define MODEL_MAX 200 /* bytes of modelId and modelName */
#define PROVIDER_MAX 128

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* The provider id for a provider id, alias, node providerId or node prefix. */
static bool canonical(or_app *app, const char *name, char out[PROVIDER_MAX])
{
    or_snapshot *snap = or_store_snapshot(app->store);
    or_provider scratch;
    const or_provider *p = or_provider_lookup(
        json_object_get(snap->settings, OR_PROVIDER_NODES_KEY), name, strlen(name), &scratch);
    bool ok = p && p->id && strlen(p->id) < PROVIDER_MAX;
    if (ok)
        strcpy(out, p->id);
    or_snapshot_release(snap);
    return ok;
}

static json_t *current(or_app *app)
{
    json_t *all = or_store_setting_get(app->store, OR_CUSTOM_MODELS_KEY);
    if (!json_is_object(all)) {
        json_decref(all);
        all = json_object();
    }
    return all;
}

static json_t *row(const char *provider, const json_t *m)
{
    const char *id = json_string_value(json_object_get(m, "modelId"));
    const char *name = json_string_value(json_object_get(m, "modelName"));
    return id ? json_pack("{s:s, s:s, s:s}", "provider", provider, "modelId", id, "modelName",
                          name ? name : id)
              : NULL;
}

static size_t find_model(const json_t *list, const char *id)
{
    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *mid = json_string_value(json_object_get(m, "modelId"));
        if (mid && strcmp(mid, id) == 0)
            return i;
    }
    return SIZE_MAX;
}

void or_custom_models_list(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char want[PROVIDER_MAX], raw[PROVIDER_MAX];
    bool filter = or_http_query_param(or_http_query(req), "provider", raw, sizeof raw);
    bool known = filter && canonical(app, raw, want);
    json_t *all = current(app), *out = json_array();
    const char *provider;
    json_t *list;
    json_object_foreach(all, provider, list)
    {
        if (filter && (!known || strcmp(provider, want) != 0))
            continue;
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m)
        {
            json_t *r = row(provider, m);
            if (r)
                json_array_append_new(out, r);
        }
    }
    json_decref(all);
    or_reply_json(req, 200, json_pack("{s:o}", "models", out), NULL);
}

static const char *text_of(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > MODEL_MAX || strlen(s) != json_string_length(v))
        return NULL;
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return NULL;
    return s;
}

void or_custom_models_add(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    or_errbuf eb = {{0}};
    char pid[PROVIDER_MAX];
    const char *provider = text_of(json_object_get(body, "provider"));
    const char *id = text_of(json_object_get(body, "modelId"));
    const json_t *jname = json_object_get(body, "modelName");
    const char *name = jname && !json_is_null(jname) ? text_of(jname) : id;
    if (!provider || !canonical(app, provider, pid)) {
        or_reply_error(req, 400, NULL, NULL, "provider: required, a known provider id or prefix");
        json_decref(body);
        return;
    }
    if (!id || !name) {
        or_reply_error(req, 400, NULL, NULL, "%s: a non-empty string of at most %d bytes",
                       !id ? "modelId" : "modelName", MODEL_MAX);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&write_lock);
    json_t *all = current(app);
    json_t *list = json_object_get(all, pid);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(all, pid, list);
    }
    size_t at = find_model(list, id);
    int status = at == SIZE_MAX ? 201 : 200;
    json_t *m = json_pack("{s:s, s:s}", "modelId", id, "modelName", name);
    or_err e = OR_OK;
    if (at == SIZE_MAX && json_array_size(list) >= OR_CUSTOM_MODELS_MAX)
        e = or_fail(&eb, OR_EINVAL, "modelId: at most %d custom models per provider",
                    OR_CUSTOM_MODELS_MAX);
    else if (at == SIZE_MAX)
        json_array_append(list, m);
    else
        json_array_set(list, at, m);
    if (e == OR_OK)
        e = or_store_setting_set(app->store, OR_CUSTOM_MODELS_KEY, all, &eb);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        or_reply_json(req, status, json_pack("{s:o}", "model", row(pid, m)), NULL);
    pthread_mutex_unlock(&write_lock);
    json_decref(m);
    json_decref(all);
    json_decref(body);
}

void or_custom_models_delete(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char raw[PROVIDER_MAX], pid[PROVIDER_MAX], id[MODEL_MAX * 3 + 1];
    const char *q = or_http_query(req);
    if (!or_http_query_param(q, "provider", raw, sizeof raw) ||
        (!or_http_query_param(q, "model", id, sizeof id) &&
         !or_http_query_param(q, "modelId", id, sizeof id))) {
        or_reply_error(req, 400, NULL, NULL, "provider and model query parameters are required");
        return;
    }
    if (!canonical(app, raw, pid)) {
        or_reply_error(req, 404, NULL, "not_found", "custom model not found");
        return;
    }
    or_errbuf eb = {{0}};
    pthread_mutex_lock(&write_lock);
    json_t *all = current(app);
    json_t *list = json_object_get(all, pid);
    size_t at = find_model(list, id);
    if (at == SIZE_MAX) {
        or_reply_error(req, 404, NULL, "not_found", "custom model not found");
    } else {
        json_array_remove(list, at);
        if (!json_array_size(list))
            json_object_del(all, pid);
        or_err e = or_store_setting_set(app->store, OR_CUSTOM_MODELS_KEY, all, &eb);
        if (e != OR_OK)
            or_admin_reply_err(req, e, &eb);
        else
            or_reply_json(req, 200, json_pack("{s:b}", "success", 1), NULL);
    }
    pthread_mutex_unlock(&write_lock);
    json_decref(all);
}
