#include "gateway/target.h"

#include <string.h>

or_err or_target_provider(const or_snapshot *snap, const char *model, or_target *out, or_errbuf *eb)
{
    const char *slash = strchr(model, '/');
    if (!slash || slash == model || !slash[1])
        return or_fail(eb, OR_EINVAL,
                       "The model `%s` does not exist: use provider/model (for example "
                       "openai/gpt-4o-mini)",
                       model);
    const or_provider *p =
        or_provider_lookup(json_object_get(snap->settings, OR_PROVIDER_NODES_KEY), model,
                           (size_t)(slash - model), &out->node);
    if (!p)
        return or_fail(eb, OR_ENOTFOUND, "The model `%s` does not exist: unknown provider `%.*s`",
                       model, (int)(slash - model), model);
    out->provider = p;
    out->model = slash + 1;
    out->model_len = strlen(slash + 1);
    out->conn = NULL;
    return OR_OK;
}

or_err or_target_resolve(const or_snapshot *snap, const char *model, or_target *out, or_errbuf *eb)
{
    or_err e = or_target_provider(snap, model, out, eb);
    if (e != OR_OK)
        return e;
    const or_provider *p = out->provider;
    for (size_t i = 0; i < snap->nconns; i++) {
        const or_conn *c = &snap->conns[i];
        if (c->active && strcmp(c->provider, p->id) == 0) {
            out->conn = c;
            break;
        }
    }
    if (!out->conn)
        return or_fail(eb, OR_EUNAVAIL,
                       "No active connection for provider `%s` (model `%s`): add one in the "
                       "dashboard or with POST /api/providers",
                       p->id, model);
    return OR_OK;
}

size_t or_target_api_root(const or_target *t, const char **root)
{
    const char *r = t->provider->base_url;
    json_t *bu = t->conn ? json_object_get(t->conn->psd, "baseUrl") : NULL;
    if (json_is_string(bu) && json_string_length(bu) > 0)
        r = json_string_value(bu);
    size_t n = strlen(r);
    while (n > 0 && r[n - 1] == '/')
        n--;
    *root = r;
    return n;
}
