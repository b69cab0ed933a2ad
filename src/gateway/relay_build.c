/* relay_build.c — an attempt's upstream body (spliced, re-serialized or translated) and its
 * headers (auth by the provider's style, its defaults, the client's own protocol headers). */
#include "gateway/relay_internal.h"

#include "core/json_parse.h"
#include "core/json_scan.h"
#include "gateway/sigcache.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void or_relay__copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The client body as a tree, parsed on first need: a passthrough never needs it. */
json_t *or_relay__root(relay *c)
{
    if (!c->root) {
        const or_buf *raw = or_http_body(c->req);
        c->root = or_json_loadb(raw->data ? raw->data : "", raw->len, 0, NULL);
    }
    return c->root;
}

/* Passthrough: the client body with only `model` replaced by the provider's id. */
/* True when the model can be written between quotes as is (the usual case); else jansson
 * quotes it (and refuses invalid UTF-8). */
static bool model_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return false;
    return true;
}

or_err or_relay__splice_model(relay *c, const or_buf *raw)
{
    char *quoted = NULL;
    json_t *m = NULL;
    or_err err = OR_ENOMEM;
    size_t a, b;
    bool plain = model_plain(c->t.model, c->t.model_len);
    if (!plain) {
        m = json_stringn(c->t.model, c->t.model_len);
        if (!m || !(quoted = json_dumps(m, JSON_ENCODE_ANY)))
            goto out;
    }
    if (or_json_find_member(raw->data, raw->len, "model", &a, &b)) {
        /* Written straight into the body when plain: no quoted copy to allocate. */
        size_t ql = plain ? c->t.model_len + 2 : strlen(quoted);
        c->body_len = a + ql + (raw->len - b);
        c->body = malloc(c->body_len + 1);
        if (!c->body)
            goto out;
        memcpy(c->body, raw->data, a);
        if (plain) {
            c->body[a] = '"';
            memcpy(c->body + a + 1, c->t.model, c->t.model_len);
            c->body[a + ql - 1] = '"';
        } else {
            memcpy(c->body + a, quoted, ql);
        }
        memcpy(c->body + a + ql, raw->data + b, raw->len - b);
        c->body[c->body_len] = '\0';
        err = OR_OK;
        goto out;
    }
    /* An escaped key the scanner does not match: re-serialize instead. */
    json_t *copy = json_deep_copy(or_relay__root(c));
    json_decref(m);
    m = json_stringn(c->t.model, c->t.model_len);
    if (copy && m && json_object_set(copy, "model", m) == 0)
        c->body = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    if (c->body) {
        c->body_len = strlen(c->body);
        err = OR_OK;
    }
out:
    free(quoted);
    json_decref(m);
    return err;
}

or_err or_relay__serialize_body(relay *c)
{
    json_t *copy = json_deep_copy(or_relay__root(c));
    if (!copy)
        return OR_ENOMEM;
    if (c->model_in_body)
        json_object_set_new(copy, "model", json_stringn(c->t.model, c->t.model_len));
    c->body = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    if (!c->body)
        return OR_ENOMEM;
    c->body_len = strlen(c->body);
    return OR_OK;
}

or_err or_relay__translate_body(relay *c, or_errbuf *eb)
{
    json_t *ir = NULL, *pbody = NULL;
    if (!or_relay__root(c))
        return or_fail(eb, OR_EINVAL, "request body is not valid JSON");
    or_err e = c->cf->req_to_ir(c->root, &ir, eb);
    if (e != OR_OK)
        return e;
    json_object_set_new(ir, "model", json_stringn(c->t.model, c->t.model_len));
    json_object_set_new(ir, "stream", json_boolean(c->stream));
    if (c->pf->id == OR_FMT_GEMINI && c->cf->id != OR_FMT_GEMINI)
        or_sigcache_fill(ir); /* the client's format had nowhere to keep them */
    e = c->pf->req_from_ir(ir, &pbody, eb);
    json_decref(ir);
    if (e != OR_OK)
        return e;
    c->body = json_dumps(pbody, JSON_COMPACT);
    json_decref(pbody);
    if (!c->body)
        return OR_ENOMEM;
    c->body_len = strlen(c->body);
    return OR_OK;
}

static void add_header(relay *c, const char *name, const char *value)
{
    if (c->nhdrs < MAX_UP_HEADERS)
        c->hdrs[c->nhdrs++] = (or_up_header){name, value};
}

or_err or_relay__build_headers(relay *c)
{
    add_header(c, "Content-Type", "application/json");
    add_header(c, "Accept", c->stream ? "text/event-stream" : "application/json");
    const char *key = c->t.conn->api_key;
    or_auth_style st = c->t.provider->auth;
    if (key && *key && st != OR_AUTH_NONE) {
        static const char *const names[] = {
            [OR_AUTH_BEARER] = "Authorization",
            [OR_AUTH_X_API_KEY] = "x-api-key",
            [OR_AUTH_GOOG] = "x-goog-api-key",
        };
        size_t kl = strlen(key);
        c->auth = malloc(kl + 8);
        if (!c->auth)
            return OR_ENOMEM;
        size_t pl = st == OR_AUTH_BEARER ? 7 : 0;
        memcpy(c->auth, "Bearer ", pl);
        memcpy(c->auth + pl, key, kl + 1);
        add_header(c, names[st], c->auth);
    }
    if (c->t.provider->headers) {
        c->extra = strdup(c->t.provider->headers);
        if (!c->extra)
            return OR_ENOMEM;
        char *save = NULL;
        for (char *line = strtok_r(c->extra, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = '\0';
            const char *name = line, *value = colon + 1 + strspn(colon + 1, " ");
            /* Same format on both sides: the client's own protocol headers win. */
            const char *client = c->translate ? NULL : or_http_header(c->req, name);
            add_header(c, name, client ? client : value);
        }
    }
    if (!c->translate && c->pf->id == OR_FMT_ANTHROPIC) {
        const char *beta = or_http_header(c->req, "anthropic-beta");
        if (beta)
            add_header(c, "anthropic-beta", beta);
    }
    return OR_OK;
}
