/*
 * provider.h — the provider table: one row per provider the gateway can call.
 *
 * A provider is data: id, alias (model prefix), API root, wire format, auth style, default
 * headers, known models. Rows are static and immutable; any thread may read them.
 * `base_url` is the API root as the provider documents it ("https://api.openai.com/v1"); the
 * format's path ("/chat/completions") is appended. A connection may override the root with
 * providerSpecificData.baseUrl.
 */
#ifndef OR_PROVIDER_PROVIDER_H
#define OR_PROVIDER_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    OR_FMT_OPENAI,    /* OpenAI chat completions */
    OR_FMT_ANTHROPIC, /* Anthropic Messages */
    OR_FMT_GEMINI,    /* Gemini generateContent */
    OR_FMT_RESPONSES, /* OpenAI Responses */
    OR_FMT_COUNT
} or_format;

typedef enum {
    OR_AUTH_BEARER,    /* Authorization: Bearer <key> */
    OR_AUTH_X_API_KEY, /* x-api-key: <key> */
    OR_AUTH_GOOG,      /* x-goog-api-key: <key> */
    OR_AUTH_NONE,
} or_auth_style;

typedef struct {
    const char *id;          /* "deepseek" */
    const char *alias;       /* "ds", or NULL */
    const char *name;        /* "DeepSeek" */
    const char *base_url;    /* API root */
    const char *chat_path;   /* appended for chat: "/chat/completions" */
    const char *models_path; /* for connection tests: "/models", or NULL */
    or_format format;
    or_auth_style auth;
    const char *headers;       /* extra request headers, "Name: value\n…", or NULL */
    const char *const *models; /* NULL-terminated list of well-known model ids */
} or_provider;

/* By id or alias, exact match on the first len bytes. NULL when unknown. */
const or_provider *or_provider_find(const char *id_or_alias, size_t len);
size_t or_provider_count(void);
const or_provider *or_provider_at(size_t i);
const char *or_format_name(or_format f); /* "openai", "claude", "gemini", "openai-responses" */

/*
 * Provider nodes: custom OpenAI- or Anthropic-compatible endpoints the user adds at run time,
 * kept in the settings under OR_PROVIDER_NODES_KEY as an array of
 * {id, name, prefix, type:"openai-compatible"|"anthropic-compatible", apiType:"chat"|"responses",
 *  baseUrl}. A node's provider id is "<type>-<id>"; its prefix addresses its models.
 */
#define OR_PROVIDER_NODES_KEY "providerNodes"

/* Fills *out from a node (strings borrowed from the node JSON). False if the node is malformed. */
bool or_provider_from_node(const void *node_json, or_provider *out);
/* A static row by id or alias, else a node of `nodes` (a JSON array, may be NULL) by provider id
 * or prefix, filled into *scratch. NULL when neither knows the name. */
const or_provider *or_provider_lookup(const void *nodes_json, const char *id_or_alias, size_t len,
                                      or_provider *scratch);

#endif
