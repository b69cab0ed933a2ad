/*
 * models.c — GET /v1/models: the models of every provider with an active connection, as
 * "prefix/model" ids in OpenAI's list shape (plus each connection's default model and the
 * provider's custom models), then every combo (owned_by "combo").
 */
#include "gateway/gateway.h"
#include "gateway/client_auth.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <string.h>

static bool has_active_conn(const or_snapshot *snap, const char *provider)
{
    for (size_t i = 0; i < snap->nconns; i++)
        if (snap->conns[i].active && strcmp(snap->conns[i].provider, provider) == 0)
            return true;
    return false;
}

static void add(json_t *out, json_t *seen, const or_provider *p, const char *model)
{
    char id[512];
    snprintf(id, sizeof id, "%s/%s", p->alias ? p->alias : p->id, model);
    if (json_object_get(seen, id))
        return;
    json_object_set_new(seen, id, json_true());
    json_array_append_new(out, json_pack("[s,s]", id, p->id));
}

/* settings.customModels["<provider id>"] (route/plan.h, admin/custom_models.h). */
static void add_custom_models(json_t *out, json_t *seen, const or_snapshot *snap,
                              const or_provider *p)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(snap->settings, "customModels"), p->id), i,
                       m)
    {
        const char *id = json_string_value(json_object_get(m, "modelId"));
        if (id && *id)
            add(out, seen, p, id);
    }
}

/* Every combo (settings.combos, route/plan.h) is a model too, owned by "combo". */
static void add_combos(json_t *out, json_t *seen, const or_snapshot *snap)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(snap->settings, "combos"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name || json_object_get(seen, name))
            continue;
        json_object_set_new(seen, name, json_true());
        json_array_append_new(out, json_pack("[s,s]", name, "combo"));
    }
}

static void add_provider(json_t *out, json_t *seen, const or_snapshot *snap, const or_provider *p)
{
    if (!has_active_conn(snap, p->id))
        return;
    for (const char *const *m = p->models; m && *m; m++)
        add(out, seen, p, *m);
    add_custom_models(out, seen, snap, p);
    for (size_t k = 0; k < snap->nconns; k++) {
        const or_conn *c = &snap->conns[k];
        if (c->active && c->default_model && strcmp(c->provider, p->id) == 0)
            add(out, seen, p, c->default_model);
    }
}

/* Drops the ids the request's API key may not use (its allowedModels), in place. */
static void filter_for_key(or_http_req *req, or_app *app, or_snapshot *snap, json_t *ids)
{
    for (size_t i = json_array_size(ids); i-- > 0;) {
        const char *id = json_string_value(json_array_get(json_array_get(ids, i), 0));
        if (id && !or_client_auth_allows(req, app, snap, id))
            json_array_remove(ids, i);
    }
}

/* Every "prefix/model" id of providers (and provider nodes) with an active connection, once
 * each, in table order. Returns an array of [id, owner] pairs. */
static json_t *list_models(const or_snapshot *snap)
{
    json_t *out = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < or_provider_count(); i++)
        add_provider(out, seen, snap, or_provider_at(i));
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(snap->settings, OR_PROVIDER_NODES_KEY), i, node)
    {
        or_provider row;
        if (or_provider_from_node(node, &row))
            add_provider(out, seen, snap, &row);
    }
    add_combos(out, seen, snap);
    json_decref(seen);
    return out;
}

void or_gw_models(or_http_req *req, or_app *app, const or_route_params *params)
{
    (void)params;
    or_snapshot *snap = or_store_snapshot(app->store);
    json_t *ids = list_models(snap);
    filter_for_key(req, app, snap, ids);
    or_snapshot_release(snap);
    json_t *data = json_array();
    size_t i;
    json_t *pair;
    json_array_foreach(ids, i, pair)
    {
        json_array_append_new(data, json_pack("{s:O, s:s, s:i, s:O}", "id", json_array_get(pair, 0),
                                              "object", "model", "created", 1700000000, "owned_by",
                                              json_array_get(pair, 1)));
    }
    json_decref(ids);
    or_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data), NULL);
}

void or_gw_gemini_models(or_http_req *req, or_app *app, const or_route_params *params)
{
    (void)params;
    or_snapshot *snap = or_store_snapshot(app->store);
    json_t *ids = list_models(snap);
    filter_for_key(req, app, snap, ids);
    or_snapshot_release(snap);
    json_t *models = json_array();
    size_t i;
    json_t *pair;
    json_array_foreach(ids, i, pair)
    {
        const char *id = json_string_value(json_array_get(pair, 0));
        char name[600];
        snprintf(name, sizeof name, "models/%s", id);
        json_array_append_new(models,
                              json_pack("{s:s, s:s, s:s, s:[s,s,s]}", "name", name, "displayName",
                                        id, "version", "1", "supportedGenerationMethods",
                                        "generateContent", "streamGenerateContent", "countTokens"));
    }
    json_decref(ids);
    or_reply_json(req, 200, json_pack("{s:o}", "models", models), NULL);
}
