#include "admin/probe.h"

#include "core/buf.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Header carrying the key, per auth style. */
static const struct {
    const char *name;
    const char *prefix;
} auth_hdr[] = {
    [OR_AUTH_BEARER] = {"Authorization", "Bearer "},
    [OR_AUTH_X_API_KEY] = {"x-api-key", ""},
    [OR_AUTH_GOOG] = {"x-goog-api-key", ""},
    [OR_AUTH_NONE] = {NULL, NULL},
};

/* One-token chat per wire format: before + "<model as JSON string>" + after. A NULL `after`
 * means the model is not in the body (Gemini puts it in the path). */
static const struct {
    const char *before;
    const char *after;
} chat_body[OR_FMT_COUNT] = {
    [OR_FMT_OPENAI] =
        {"{\"model\":",
         ",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],\"max_tokens\":1}"},
    [OR_FMT_ANTHROPIC] = {"{\"model\":", ",\"max_tokens\":1,\"messages\":[{\"role\":\"user\","
                                         "\"content\":\"ping\"}]}"},
    [OR_FMT_GEMINI] = {"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"ping\"}]}],"
                       "\"generationConfig\":{\"maxOutputTokens\":1}}",
                       NULL},
    [OR_FMT_RESPONSES] = {"{\"model\":", ",\"input\":\"ping\",\"max_output_tokens\":16}"},
};

static const char *conn_root(const or_provider *p, const or_conn *c)
{
    const json_t *b = c->psd ? json_object_get(c->psd, "baseUrl") : NULL;
    return json_is_string(b) && json_string_length(b) > 0 ? json_string_value(b) : p->base_url;
}

static or_err build_url(or_probe_plan *pl, const char *root, const char *path, const char *model)
{
    or_buf b;
    or_buf_init(&b, 8192);
    size_t rl = strlen(root);
    while (rl > 0 && root[rl - 1] == '/')
        rl--;
    or_err e = or_buf_append(&b, root, rl);
    const char *ph = strstr(path, "{model}");
    if (e == OR_OK && ph && model) {
        e = or_buf_append(&b, path, (size_t)(ph - path));
        if (e == OR_OK)
            e = or_buf_puts(&b, model);
        if (e == OR_OK)
            e = or_buf_puts(&b, ph + 7);
    } else if (e == OR_OK) {
        e = or_buf_puts(&b, path);
    }
    if (e != OR_OK) {
        or_buf_free(&b);
        return e;
    }
    pl->url = or_buf_take(&b, NULL);
    return OR_OK;
}

static or_err build_body(or_probe_plan *pl, or_format f, const char *model)
{
    or_buf b;
    or_buf_init(&b, 8192);
    or_err e = or_buf_puts(&b, chat_body[f].before);
    if (e == OR_OK && chat_body[f].after) {
        json_t *m = json_string(model);
        char *mj = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
        json_decref(m);
        e = mj ? or_buf_puts(&b, mj) : OR_ENOMEM;
        free(mj);
        if (e == OR_OK)
            e = or_buf_puts(&b, chat_body[f].after);
    }
    if (e != OR_OK) {
        or_buf_free(&b);
        return e;
    }
    pl->body = or_buf_take(&b, NULL);
    return OR_OK;
}

static void add_header(or_probe_plan *pl, const char *name, const char *value)
{
    if (pl->nhdrs < OR_PROBE_MAX_HEADERS)
        pl->hdrs[pl->nhdrs++] = (or_up_header){name, value};
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* "Name: value\n…" → headers pointing into pl->hdr_text. */
static or_err split_headers(or_probe_plan *pl, const char *text)
{
    if (!text)
        return OR_OK;
    if (!(pl->hdr_text = strdup(text)))
        return OR_ENOMEM;
    char *save = NULL;
    for (char *line = strtok_r(pl->hdr_text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *name = trim(line), *value = trim(colon + 1);
        if (*name)
            add_header(pl, name, value);
    }
    return OR_OK;
}

or_err or_probe_plan_build(or_probe_plan *pl, const or_provider *p, const or_conn *c, or_errbuf *eb)
{
    or_err e = OR_OK;
    const char *model = c->default_model ? c->default_model : (p->models ? p->models[0] : NULL);
    bool chat = p->models_path == NULL;

    if (chat && (!model || !*model)) {
        e = or_fail(eb, OR_EINVAL, "no model to test with: set a default model");
        goto out;
    }
    if (chat && (unsigned)p->format >= OR_FMT_COUNT) {
        e = or_fail(eb, OR_EINTERNAL, "provider has an unknown format");
        goto out;
    }
    pl->method = chat ? "POST" : "GET";
    e = build_url(pl, conn_root(p, c), chat ? (p->chat_path ? p->chat_path : "") : p->models_path,
                  model);
    if (e == OR_OK && chat)
        e = build_body(pl, p->format, model);
    if (e != OR_OK) {
        e = or_fail(eb, e, "could not build the test request");
        goto out;
    }
    if ((unsigned)p->auth < sizeof auth_hdr / sizeof *auth_hdr && auth_hdr[p->auth].name &&
        c->api_key && *c->api_key) {
        size_t n = strlen(auth_hdr[p->auth].prefix) + strlen(c->api_key) + 1;
        if (!(pl->auth_value = malloc(n))) {
            e = or_fail(eb, OR_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(pl->auth_value, n, "%s%s", auth_hdr[p->auth].prefix, c->api_key);
        add_header(pl, auth_hdr[p->auth].name, pl->auth_value);
    }
    if (split_headers(pl, p->headers) != OR_OK) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    add_header(pl, "Accept", "application/json");
    if (chat)
        add_header(pl, "Content-Type", "application/json");
out:
    return e;
}

void or_probe_plan_clear(or_probe_plan *pl)
{
    if (pl->auth_value)
        sodium_memzero(pl->auth_value, strlen(pl->auth_value));
    free(pl->auth_value);
    free(pl->url);
    free(pl->body);
    free(pl->hdr_text);
    memset(pl, 0, sizeof *pl);
}

/* Where providers put a human-readable error, in order of preference. */
static const char *error_message(const json_t *j)
{
    const json_t *err = json_object_get(j, "error");
    const json_t *cands[] = {json_object_get(err, "message"), err, json_object_get(j, "message"),
                             json_object_get(j, "detail")};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
        if (json_is_string(cands[i]) && json_string_length(cands[i]) > 0)
            return json_string_value(cands[i]);
    return NULL;
}

void or_probe_error_text(int status, const char *body, size_t len, char *out, size_t cap)
{
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = j ? error_message(j) : NULL;
    if (msg)
        snprintf(out, cap, "HTTP %d: %s", status, msg);
    else
        snprintf(out, cap, "HTTP %d", status);
    for (char *s = out; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = ' ';
    json_decref(j);
}
