/*
 * models.c — GET /v1/models: the models of every provider with an active connection, as
 * "prefix/model" ids in OpenAI's list shape (plus each connection's default model).
 */
#include "gateway/gateway.h"
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

static void add_model(json_t *data, json_t *seen, const or_provider *p, const char *model)
{
    char id[512];
    snprintf(id, sizeof id, "%s/%s", p->alias ? p->alias : p->id, model);
    if (json_object_get(seen, id))
        return;
    json_object_set_new(seen, id, json_true());
    json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model",
                                          "created", 1700000000, "owned_by", p->id));
}

void or_gw_models(or_http_req *req, or_app *app, const or_route_params *params)
{
    (void)params;
    or_snapshot *snap = or_store_snapshot(app->store);
    json_t *data = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < or_provider_count(); i++) {
        const or_provider *p = or_provider_at(i);
        if (!has_active_conn(snap, p->id))
            continue;
        for (const char *const *m = p->models; m && *m; m++)
            add_model(data, seen, p, *m);
        for (size_t k = 0; k < snap->nconns; k++) {
            const or_conn *c = &snap->conns[k];
            if (c->active && c->default_model && strcmp(c->provider, p->id) == 0)
                add_model(data, seen, p, c->default_model);
        }
    }
    json_decref(seen);
    or_snapshot_release(snap);
    or_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data), NULL);
}
