#include "admin/catalog.h"
#include "http/query.h"

#include "admin/custom_models.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <string.h>
#include <strings.h>

/* Substrings (any case) that mark a model as producing images, then embeddings. Image first:
 * "gemini-2.5-flash-image" is an image model whatever else its name says. */
static const char *const image_patterns[] = {
    "dall-e", "gpt-image",  "imagen",   "flux",    "stable-diffusion", "sdxl",
    "sd3",    "midjourney", "ideogram", "recraft", "seedream",         "playground-v",
    "-image", "image-gen",  "cogview",  "kolors",  "hidream",          "wanx"};
static const char *const embedding_patterns[] = {
    "embed", "bge-", "gte-", "/e5-", "multilingual-e5", "voyage-", "jina-clip", "colbert"};

static const char *const types[] = {"chat", "embedding", "image"};
#define NTYPES (sizeof types / sizeof types[0])

static bool matches_any(const char *s, const char *const *pats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasestr(s, pats[i]))
            return true;
    return false;
}

const char *or_catalog_model_type(const char *model)
{
    if (!model)
        return "chat";
    if (matches_any(model, image_patterns, sizeof image_patterns / sizeof image_patterns[0]))
        return "image";
    if (strncasecmp(model, "e5-", 3) == 0 ||
        matches_any(model, embedding_patterns,
                    sizeof embedding_patterns / sizeof embedding_patterns[0]))
        return "embedding";
    return "chat";
}

static const char *known_type(const char *t)
{
    for (size_t i = 0; t && i < NTYPES; i++)
        if (strcmp(t, types[i]) == 0)
            return types[i];
    return NULL;
}

typedef struct {
    const char *id, *alias, *name, *format, *kind;
    const char *const *models; /* NULL-terminated, or NULL */
    const char *forced_type;   /* every model of a node is this type, or NULL */
} prov;

typedef struct {
    const or_snapshot *snap;
    const char *type; /* filter or NULL */
} ctx;

static void add_model(ctx *c, json_t *models, json_t *seen, const prov *p, const char *model,
                      const char *type, const char *source)
{
    if (!model || !*model || json_object_get(seen, model))
        return;
    json_object_set_new(seen, model, json_true());
    if (!type)
        type = p->forced_type ? p->forced_type : or_catalog_model_type(model);
    if (c->type && strcmp(c->type, type) != 0)
        return;
    char full[512];
    snprintf(full, sizeof full, "%s/%s", p->alias && *p->alias ? p->alias : p->id, model);
    json_array_append_new(models, json_pack("{s:s, s:s, s:s, s:s}", "id", model, "fullId", full,
                                            "type", type, "source", source));
}

static json_t *provider_entry(ctx *c, const prov *p)
{
    json_t *models = json_array(), *seen = json_object();
    size_t active = 0;
    for (const char *const *m = p->models; m && *m; m++)
        add_model(c, models, seen, p, *m, NULL, "builtin");
    size_t i;
    json_t *cm;
    json_array_foreach(
        json_object_get(json_object_get(c->snap->settings, OR_CUSTOM_MODELS_KEY), p->id), i, cm)
    {
        add_model(c, models, seen, p, json_string_value(json_object_get(cm, "modelId")),
                  known_type(json_string_value(json_object_get(cm, "type"))), "custom");
    }
    for (size_t k = 0; k < c->snap->nconns; k++) {
        const or_conn *conn = &c->snap->conns[k];
        if (!conn->provider || strcmp(conn->provider, p->id) != 0)
            continue;
        if (conn->active)
            active++;
        add_model(c, models, seen, p, conn->default_model, NULL, "default");
    }
    json_decref(seen);
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:b, s:I, s:o}", "id", p->id, "alias", p->alias,
                     "name", p->name, "format", p->format, "kind", p->kind, "active", active > 0,
                     "connections", (json_int_t)active, "models", models);
}

static bool wanted(const prov *p, const char *provider)
{
    return !provider || strcmp(provider, p->id) == 0 ||
           (p->alias && strcmp(provider, p->alias) == 0);
}

static void append(json_t *out, json_t *entry, bool active_only)
{
    if (entry && (!active_only || json_is_true(json_object_get(entry, "active"))))
        json_array_append(out, entry);
    json_decref(entry);
}

json_t *or_catalog_build(const or_snapshot *snap, const char *type, const char *provider,
                         bool active_only)
{
    ctx c = {.snap = snap, .type = type};
    json_t *out = json_array();
    for (size_t i = 0; i < or_provider_count(); i++) {
        const or_provider *r = or_provider_at(i);
        prov p = {r->id, r->alias, r->name, or_format_name(r->format), "builtin", r->models, NULL};
        if (wanted(&p, provider))
            append(out, provider_entry(&c, &p), active_only);
    }
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(snap->settings, OR_PROVIDER_NODES_KEY), i, n)
    {
        const char *api = json_string_value(json_object_get(n, "apiType"));
        const char *ntype = json_string_value(json_object_get(n, "type"));
        prov p = {json_string_value(json_object_get(n, "providerId")),
                  json_string_value(json_object_get(n, "prefix")),
                  json_string_value(json_object_get(n, "name")),
                  ntype && strncmp(ntype, "anthropic", 9) == 0 ? "claude" : "openai",
                  "node",
                  NULL,
                  api && strcmp(api, "embeddings") == 0 ? "embedding" : NULL};
        if (p.id && wanted(&p, provider))
            append(out, provider_entry(&c, &p), active_only);
    }
    json_int_t count[NTYPES] = {0}, total = 0;
    json_t *e, *m;
    json_array_foreach(out, i, e)
    {
        size_t k;
        json_array_foreach(json_object_get(e, "models"), k, m)
        {
            const char *t = json_string_value(json_object_get(m, "type"));
            for (size_t x = 0; t && x < NTYPES; x++)
                count[x] += strcmp(t, types[x]) == 0;
            total++;
        }
    }
    return json_pack("{s:o, s:{s:I, s:I, s:I, s:I}}", "providers", out, "counts", types[0],
                     count[0], types[1], count[1], types[2], count[2], "total", total);
}

void or_catalog_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char type[32], provider[256], active[16];
    const char *q = or_http_query(req);
    bool has_type = or_http_query_param(q, "type", type, sizeof type);
    bool has_provider = or_http_query_param(q, "provider", provider, sizeof provider);
    bool active_only = or_http_query_param(q, "active", active, sizeof active) &&
                       (strcmp(active, "true") == 0 || strcmp(active, "1") == 0);
    if (has_type && !known_type(type)) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_type",
                       "type must be chat, embedding or image");
        return;
    }
    or_snapshot *snap = or_store_snapshot(app->store);
    json_t *cat =
        or_catalog_build(snap, has_type ? type : NULL, has_provider ? provider : NULL, active_only);
    or_snapshot_release(snap);
    if (!cat) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        return;
    }
    or_reply_json(req, 200, cat, NULL);
}
