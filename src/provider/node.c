/*
 * node.c — provider nodes as provider rows. The node JSON is owned by a configuration snapshot;
 * the row borrows its strings, so it lives as long as that snapshot.
 */
#include "provider/provider.h"

#include <jansson.h>
#include <string.h>

typedef struct {
    const char *type;
    const char *api_type;
    or_format format;
    or_auth_style auth;
    const char *path;
    const char *headers;
} node_kind;

static const node_kind kinds[] = {
    {"openai-compatible", "chat", OR_FMT_OPENAI, OR_AUTH_BEARER, "/chat/completions", NULL},
    {"openai-compatible", "responses", OR_FMT_RESPONSES, OR_AUTH_BEARER, "/responses", NULL},
    {"anthropic-compatible", "chat", OR_FMT_ANTHROPIC, OR_AUTH_X_API_KEY, "/messages",
     "anthropic-version: 2023-06-01\n"},
};

bool or_provider_from_node(const void *node_json, or_provider *out)
{
    const json_t *n = node_json;
    const char *id = json_string_value(json_object_get(n, "providerId"));
    const char *type = json_string_value(json_object_get(n, "type"));
    const char *api = json_string_value(json_object_get(n, "apiType"));
    const char *base = json_string_value(json_object_get(n, "baseUrl"));
    if (!id || !type || !base)
        return false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].type, type) != 0 || strcmp(kinds[i].api_type, api ? api : "chat") != 0)
            continue;
        *out = (or_provider){
            .id = id,
            .alias = json_string_value(json_object_get(n, "prefix")),
            .name = json_string_value(json_object_get(n, "name")),
            .base_url = base,
            .chat_path = kinds[i].path,
            .models_path = "/models",
            .format = kinds[i].format,
            .auth = kinds[i].auth,
            .headers = kinds[i].headers,
            .models = NULL,
        };
        return true;
    }
    return false;
}

static bool same(const char *name, const char *s, size_t len)
{
    return name && strlen(name) == len && memcmp(name, s, len) == 0;
}

const or_provider *or_provider_lookup(const void *nodes_json, const char *id_or_alias, size_t len,
                                      or_provider *scratch)
{
    const or_provider *p = or_provider_find(id_or_alias, len);
    if (p)
        return p;
    size_t i;
    json_t *n;
    json_array_foreach((const json_t *)nodes_json, i, n)
    {
        if (!same(json_string_value(json_object_get(n, "providerId")), id_or_alias, len) &&
            !same(json_string_value(json_object_get(n, "prefix")), id_or_alias, len))
            continue;
        if (or_provider_from_node(n, scratch))
            return scratch;
    }
    return NULL;
}
