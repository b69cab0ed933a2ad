/*
 * chat.c — POST /v1/chat/completions: OpenAI chat in, OpenAI-format provider out.
 *
 * Same format on both sides, so the body passes through with only `model` rewritten (spliced in
 * place; every other byte untouched) and the reply streams back as it arrives, with
 * backpressure: when the client socket is full the upstream transfer is paused, and resumed
 * when it drains. A client that goes away cancels the upstream transfer at once. Usage is read
 * on the way (non-stream: the JSON's `usage`; stream: the chunk that carries it) and handed to
 * the store's writer thread.
 */
#include "core/clock.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/rand.h"
#include "gateway/gateway.h"
#include "gateway/sse_lines.h"
#include "gateway/target.h"
#include "gateway/usage.h"
#include "http/reply.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_MODEL_LEN 256
#define MAX_REPLY_BYTES (64u * 1024 * 1024) /* a non-stream reply kept to read its usage */
#define MAX_SSE_LINE (1024 * 1024)
#define MAX_UP_HEADERS 16

typedef struct chat {
    or_http_req *req;
    or_app *app;
    or_snapshot *snap;
    or_target t;
    or_up_req *up;
    char *body;
    size_t body_len;
    char *url;
    char *auth;  /* "Bearer …" or the bare key; wiped on free */
    char *extra; /* copy of the provider's default headers, split in place */
    or_up_header hdrs[MAX_UP_HEADERS];
    size_t nhdrs;
    bool stream;
    int up_status;
    char up_ctype[128];
    char retry_after[64];
    or_buf reply;
    or_sse_lines lines;
    or_usage_row row;
    uint64_t t0;
    bool started; /* bytes reached the client */
    bool client_gone;
    int busy; /* inside an upstream callback: defer freeing */
    bool dead;
} chat;

static void chat_free(chat *c)
{
    if (c->busy > 0) {
        c->dead = true;
        return;
    }
    if (c->auth) {
        sodium_memzero(c->auth, strlen(c->auth));
        free(c->auth);
    }
    free(c->extra);
    free(c->body);
    free(c->url);
    or_buf_free(&c->reply);
    or_sse_lines_free(&c->lines);
    if (c->snap)
        or_snapshot_release(c->snap);
    free(c);
}

/* The usage row is written once, whatever way the request ends. */
static void record(chat *c, int status, const char *error)
{
    c->row.status = status;
    c->row.latency_ms = (uint32_t)(or_clock_mono_ms() - c->t0);
    if (error)
        snprintf(c->row.error, sizeof c->row.error, "%s", error);
    or_store_usage_record(c->app->store, &c->row);
}

/* X-OmniRoute-* reply headers (+ Retry-After relayed from the provider). */
static void reply_headers(chat *c, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "X-OmniRoute-Provider: %s\r\nX-OmniRoute-Model: %s\r\n"
                     "X-OmniRoute-Request-Id: %s\r\nX-OmniRoute-Latency-Ms: %llu\r\n",
                     c->row.provider, c->row.model, c->row.request_id,
                     (unsigned long long)(or_clock_mono_ms() - c->t0));
    if (c->retry_after[0] && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "Retry-After: %s\r\n", c->retry_after);
}

static bool header_is(const char *name, const char *want)
{
    return strcasecmp(name, want) == 0;
}

static void on_up_head(void *ud, int status, const or_up_header *h, size_t nh)
{
    chat *c = ud;
    c->up_status = status;
    for (size_t i = 0; i < nh; i++) {
        if (header_is(h[i].name, "content-type"))
            snprintf(c->up_ctype, sizeof c->up_ctype, "%s", h[i].value);
        else if (header_is(h[i].name, "retry-after"))
            snprintf(c->retry_after, sizeof c->retry_after, "%s", h[i].value);
    }
    if (!c->stream || status < 200 || status > 299)
        return; /* buffered: relayed whole in on_done */
    char hdrs[1024];
    reply_headers(c, hdrs, sizeof hdrs - 64);
    strcat(hdrs, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    c->started = true;
    or_http_stream_start(c->req, status, c->up_ctype[0] ? c->up_ctype : "text/event-stream", hdrs);
}

static void on_sse_line(void *ud, const char *line, size_t len, bool cut)
{
    chat *c = ud;
    if (!cut)
        or_usage_from_openai_sse_line(line, len, &c->row);
}

static bool on_up_data(void *ud, const char *p, size_t n)
{
    chat *c = ud;
    if (!c->started) {
        if (or_buf_append(&c->reply, p, n) != OR_OK) {
            or_log_warn("request %s: upstream reply over %u bytes", c->row.request_id,
                        MAX_REPLY_BYTES);
            c->up_status = -1; /* reported as 502 in on_done */
        }
        return false;
    }
    if (!c->row.ttft_ms)
        c->row.ttft_ms = (uint32_t)(or_clock_mono_ms() - c->t0) + 1;
    or_sse_lines_feed(&c->lines, p, n, on_sse_line, c);
    c->busy++;
    bool full = or_http_stream_write(c->req, p, n);
    c->busy--;
    if (c->dead) {
        chat_free(c);
        return false;
    }
    return full;
}

static int status_for(or_up_result res)
{
    return res == OR_UP_ETIMEOUT ? 504 : 502;
}

static void on_up_done(void *ud, or_up_result res, const char *detail)
{
    chat *c = ud;
    c->up = NULL;
    or_http_req *req = c->req;
    char hdrs[1024];
    if (c->started) {
        if (res != OR_UP_OK) {
            /* Bytes already reached the client: end the stream with OpenAI's own error chunk
             * and the terminator, so SDKs raise instead of seeing a silent EOF. */
            json_t *err = json_pack(
                "{s:{s:s+, s:s, s:s}}", "error", "message",
                "upstream stream failed: ", detail && *detail ? detail : or_up_result_name(res),
                "type", "api_error", "code", "upstream_stream_error");
            char *text = json_dumps(err, JSON_COMPACT);
            json_decref(err);
            or_buf b;
            or_buf_init(&b, 0);
            if (text && or_buf_printf(&b, "data: %s\n\ndata: [DONE]\n\n", text) == OR_OK)
                or_http_stream_write(req, b.data, b.len);
            or_buf_free(&b);
            free(text);
        }
        record(c, c->up_status, res == OR_UP_OK ? NULL : detail);
        or_http_stream_end(req);
    } else if (res != OR_UP_OK || c->up_status < 0) {
        int status = c->up_status < 0 ? 502 : status_for(res);
        const char *why = c->up_status < 0 ? "upstream reply too large"
                                           : (detail && *detail ? detail : or_up_result_name(res));
        record(c, status, why);
        reply_headers(c, hdrs, sizeof hdrs);
        json_t *body =
            json_pack("{s:{s:s+, s:s, s:s}}", "error", "message", "upstream request failed: ", why,
                      "type", res == OR_UP_ETIMEOUT ? "timeout_error" : "api_error", "code",
                      res == OR_UP_ETIMEOUT ? "upstream_timeout" : "upstream_error");
        or_reply_json(req, status, body, hdrs);
    } else {
        if (c->up_status >= 200 && c->up_status <= 299 && c->reply.len) {
            json_t *doc = json_loadb(c->reply.data, c->reply.len, 0, NULL);
            or_usage_from_openai(json_object_get(doc, "usage"), &c->row);
            json_decref(doc);
        }
        c->row.ttft_ms = (uint32_t)(or_clock_mono_ms() - c->t0) + 1; /* the whole reply goes now */
        record(c, c->up_status, NULL);
        reply_headers(c, hdrs, sizeof hdrs);
        or_http_respond(req, c->up_status, c->up_ctype[0] ? c->up_ctype : "application/json", hdrs,
                        c->reply.data, c->reply.len);
    }
    chat_free(c);
}

static void on_client_drain(or_http_req *req, void *ud)
{
    (void)req;
    chat *c = ud;
    if (c->up)
        or_up_resume(c->up);
}

static void on_client_abort(or_http_req *req, void *ud)
{
    (void)req;
    chat *c = ud;
    c->client_gone = true;
    if (c->up) {
        or_up_cancel(c->up);
        c->up = NULL;
    }
    record(c, 499, "client closed the connection");
    chat_free(c);
}

/* Writes the body with `model` replaced by the provider's own model id. */
static or_err rewrite_body(chat *c, json_t *root, const char *raw, size_t raw_len)
{
    json_t *m = json_stringn(c->t.model, c->t.model_len);
    char *quoted = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
    or_err err = OR_ENOMEM;
    size_t a, b;
    if (!quoted)
        goto out;
    if (or_json_find_member(raw, raw_len, "model", &a, &b)) {
        size_t ql = strlen(quoted);
        c->body_len = a + ql + (raw_len - b);
        c->body = malloc(c->body_len + 1);
        if (!c->body)
            goto out;
        memcpy(c->body, raw, a);
        memcpy(c->body + a, quoted, ql);
        memcpy(c->body + a + ql, raw + b, raw_len - b);
        c->body[c->body_len] = '\0';
    } else {
        /* An escaped key the scanner does not match: re-serialize instead. */
        json_object_set(root, "model", m);
        c->body = json_dumps(root, JSON_COMPACT);
        if (!c->body)
            goto out;
        c->body_len = strlen(c->body);
    }
    err = OR_OK;
out:
    free(quoted);
    json_decref(m);
    return err;
}

static or_err build_request(chat *c)
{
    const char *root;
    size_t rlen = or_target_api_root(&c->t, &root);
    const char *path = c->t.provider->chat_path;
    c->url = malloc(rlen + strlen(path) + 1);
    if (!c->url)
        return OR_ENOMEM;
    memcpy(c->url, root, rlen);
    strcpy(c->url + rlen, path);

    c->hdrs[c->nhdrs++] = (or_up_header){"Content-Type", "application/json"};
    c->hdrs[c->nhdrs++] =
        (or_up_header){"Accept", c->stream ? "text/event-stream" : "application/json"};
    const char *key = c->t.conn->api_key;
    if (key && *key) {
        static const char *const auth_names[] = {
            [OR_AUTH_BEARER] = "Authorization",
            [OR_AUTH_X_API_KEY] = "x-api-key",
            [OR_AUTH_GOOG] = "x-goog-api-key",
        };
        or_auth_style st = c->t.provider->auth;
        if (st != OR_AUTH_NONE) {
            size_t kl = strlen(key);
            c->auth = malloc(kl + 8);
            if (!c->auth)
                return OR_ENOMEM;
            snprintf(c->auth, kl + 8, "%s%s", st == OR_AUTH_BEARER ? "Bearer " : "", key);
            c->hdrs[c->nhdrs++] = (or_up_header){auth_names[st], c->auth};
        }
    }
    if (c->t.provider->headers) {
        c->extra = strdup(c->t.provider->headers);
        if (!c->extra)
            return OR_ENOMEM;
        for (char *line = strtok(c->extra, "\n"); line && c->nhdrs < MAX_UP_HEADERS;
             line = strtok(NULL, "\n")) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = '\0';
            c->hdrs[c->nhdrs++] = (or_up_header){line, colon + 1 + strspn(colon + 1, " ")};
        }
    }
    return OR_OK;
}

static bool model_name_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > MAX_MODEL_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
            return false;
    return true;
}

void or_gw_chat_completions(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    const or_buf *raw = or_http_body(req);
    json_error_t jerr;
    json_t *root = NULL;
    chat *c = NULL;
    or_errbuf eb = {{0}};

    if (raw->len == 0) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_body",
                       "Request body is empty: expected a JSON object");
        goto out;
    }
    root = json_loadb(raw->data, raw->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_json",
                       "Request body is not a valid JSON object: %s",
                       root ? "top-level value is not an object" : jerr.text);
        goto out;
    }
    json_t *jm = json_object_get(root, "model");
    if (!json_is_string(jm) || !model_name_ok(json_string_value(jm))) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_model",
                       "`model` is required: a string such as \"openai/gpt-4o-mini\"");
        goto out;
    }
    const char *model = json_string_value(jm);
    json_t *js = json_object_get(root, "stream");
    if (js && !json_is_boolean(js)) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_stream",
                       "`stream` must be a boolean");
        goto out;
    }

    c = calloc(1, sizeof *c);
    if (!c) {
        or_reply_error(req, 500, "api_error", NULL, "out of memory");
        goto out;
    }
    c->req = req;
    c->app = app;
    c->t0 = or_http_req_start_ms(req);
    c->stream = json_is_true(js);
    or_buf_init(&c->reply, MAX_REPLY_BYTES);
    or_sse_lines_init(&c->lines, MAX_SSE_LINE);
    c->row.ts_ms = or_clock_wall_ms();
    c->row.stream = c->stream;
    or_uuid4(c->row.request_id);
    snprintf(c->row.endpoint, sizeof c->row.endpoint, "/v1/chat/completions");
    snprintf(c->row.model, sizeof c->row.model, "%s", model);

    c->snap = or_store_snapshot(app->store);
    or_err e = or_target_resolve(c->snap, model, &c->t, &eb);
    if (e != OR_OK) {
        static const int status[] = {[OR_EINVAL] = 400, [OR_ENOTFOUND] = 404, [OR_EUNAVAIL] = 503};
        static const char *const code[] = {[OR_EINVAL] = "model_not_found",
                                           [OR_ENOTFOUND] = "model_not_found",
                                           [OR_EUNAVAIL] = "no_active_connection"};
        int st = e < (int)(sizeof status / sizeof status[0]) && status[e] ? status[e] : 500;
        if (c->t.provider)
            snprintf(c->row.provider, sizeof c->row.provider, "%s", c->t.provider->id);
        record(c, st, eb.msg);
        char hdrs[256];
        snprintf(hdrs, sizeof hdrs, "X-OmniRoute-Request-Id: %s\r\n", c->row.request_id);
        or_reply_json(req, st,
                      json_pack("{s:{s:s, s:s, s:s?}}", "error", "message", eb.msg, "type",
                                or_reply_error_type(st), "code", st == 500 ? NULL : code[e]),
                      hdrs);
        chat_free(c);
        goto out;
    }
    snprintf(c->row.provider, sizeof c->row.provider, "%s", c->t.provider->id);
    snprintf(c->row.model, sizeof c->row.model, "%.*s", (int)c->t.model_len, c->t.model);
    snprintf(c->row.connection_id, sizeof c->row.connection_id, "%s", c->t.conn->id);

    if (rewrite_body(c, root, raw->data, raw->len) != OR_OK || build_request(c) != OR_OK) {
        record(c, 500, "out of memory");
        or_reply_error(req, 500, "api_error", NULL, "out of memory");
        chat_free(c);
        goto out;
    }
    or_up_request rq = {
        .method = "POST",
        .url = c->url,
        .headers = c->hdrs,
        .nheaders = c->nhdrs,
        .body = c->body,
        .body_len = c->body_len,
        .connect_ms = 10000,
        .first_byte_ms = 300000,
        .idle_ms = 300000,
    };
    static const or_up_callbacks cbs = {on_up_head, on_up_data, on_up_done};
    static const or_http_stream_cb client_cbs = {on_client_drain, on_client_abort};
    or_http_set_stream_cb(req, &client_cbs, c);
    e = or_up_start(or_worker_of(req)->up, &rq, &cbs, c, &c->up);
    if (e != OR_OK) {
        record(c, 502, "could not start the upstream request");
        or_reply_error(req, 502, "api_error", "upstream_error",
                       "could not start the upstream request");
        chat_free(c);
    }
out:
    json_decref(root);
}
