/*
 * relay.c — see relay.h. The request side (resolve, build body/URL/headers, start the
 * transfer) and the reply side (passthrough or translated, stream or not) of one request.
 */
#include "gateway/relay.h"
#include "core/clock.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/rand.h"
#include "gateway/sse_events.h"
#include "gateway/sse_lines.h"
#include "gateway/target.h"
#include "gateway/usage.h"
#include "http/reply.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REPLY_BYTES (64u * 1024 * 1024) /* a non-stream reply is kept whole to read it */
#define MAX_SSE_EVENT (8u * 1024 * 1024)
#define MAX_UP_HEADERS 16

typedef struct relay {
    or_http_req *req;
    or_app *app;
    or_snapshot *snap;
    or_target t;
    const or_fmt *cf; /* client format */
    const or_fmt *pf; /* provider format */
    bool translate;
    bool stream;
    or_fmt_opts copts;
    char client_model[256];
    or_up_req *up;
    char *body;
    size_t body_len;
    or_buf url;
    char *auth; /* wiped on free */
    char *extra;
    or_up_header hdrs[MAX_UP_HEADERS];
    size_t nhdrs;
    int up_status;
    char up_ctype[128];
    char retry_after[64];
    or_buf reply;
    or_sse_lines lines;   /* passthrough OpenAI: usage scan */
    or_sse_events events; /* translated streams, and usage of other passthrough formats */
    or_fmt_dec *dec;
    or_fmt_enc *enc;
    json_t *evs; /* IR events produced by one decode step */
    or_buf out;  /* client bytes produced by one step */
    bool enc_done;
    or_usage_row row;
    uint64_t t0;
    bool started; /* the client stream has begun */
    int busy;     /* inside an upstream callback: defer freeing */
    bool dead;
} relay;

static void relay_free(relay *c)
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
    or_buf_free(&c->url);
    or_buf_free(&c->reply);
    or_buf_free(&c->out);
    or_sse_lines_free(&c->lines);
    or_sse_events_free(&c->events);
    if (c->dec)
        c->pf->dec_free(c->dec);
    if (c->enc)
        c->cf->enc_free(c->enc);
    json_decref(c->evs);
    if (c->snap)
        or_snapshot_release(c->snap);
    free(c);
}

/* ---- errors in the client's format ---- */

static json_t *ir_error(int status, const char *code, const char *message)
{
    return json_pack("{s:i, s:s, s:s, s:s?}", "status", status, "error_type",
                     or_reply_error_type(status), "message", message, "code", code);
}

static void reply_ir_error(or_http_req *req, const or_fmt *f, json_t *err, int status,
                           const char *extra_headers)
{
    json_t *body = f->error_from_ir(err);
    json_decref(err);
    or_reply_json(req, status, body, extra_headers);
}

void or_relay_reply_error(or_http_req *req, or_format client, int status, const char *code,
                          const char *extra_headers, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_ir_error(req, or_fmt_get(client), ir_error(status, code, msg), status, extra_headers);
}

/* ---- usage and reply headers ---- */

static void record(relay *c, int status, const char *error)
{
    c->row.status = status;
    c->row.latency_ms = (uint32_t)(or_clock_mono_ms() - c->t0);
    if (error)
        snprintf(c->row.error, sizeof c->row.error, "%s", error);
    or_store_usage_record(c->app->store, &c->row);
}

static void usage_from_ir(relay *c, const json_t *u)
{
    if (!json_is_object(u))
        return;
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        {"input_tokens", offsetof(or_usage_row, tokens_in)},
        {"output_tokens", offsetof(or_usage_row, tokens_out)},
        {"cached_tokens", offsetof(or_usage_row, tokens_cached)},
        {"reasoning_tokens", offsetof(or_usage_row, tokens_reasoning)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(u, fields[i].key);
        if (json_is_integer(v))
            *(int64_t *)((char *)&c->row + fields[i].off) = (int64_t)json_integer_value(v);
    }
}

static void reply_headers(relay *c, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "X-OmniRoute-Provider: %s\r\nX-OmniRoute-Model: %s\r\n"
                     "X-OmniRoute-Request-Id: %s\r\nX-OmniRoute-Latency-Ms: %llu\r\n",
                     c->row.provider, c->row.model, c->row.request_id,
                     (unsigned long long)(or_clock_mono_ms() - c->t0));
    if (c->retry_after[0] && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "Retry-After: %s\r\n", c->retry_after);
}

/* ---- translated streams: provider events → IR → client bytes ---- */

static void encode_events(relay *c)
{
    size_t i;
    json_t *ev;
    json_array_foreach(c->evs, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && strcmp(type, "usage") == 0)
            usage_from_ir(c, json_object_get(ev, "usage"));
        if (c->enc_done || !c->enc)
            continue;
        if (c->cf->enc_event(c->enc, ev, &c->out) != OR_OK)
            or_log_warn("request %s: cannot encode a %s event", c->row.request_id,
                        type ? type : "?");
        if (type && strcmp(type, "done") == 0)
            c->enc_done = true;
    }
    json_array_clear(c->evs);
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len)
{
    relay *c = ud;
    if (!c->translate && !memmem(data, len, "sage", 4))
        return 0; /* passthrough: only events carrying usage / usageMetadata are read */
    or_errbuf eb = {{0}};
    if (c->pf->dec_event(c->dec, event, data, len, c->evs, &eb) != OR_OK)
        or_log_debug("request %s: undecodable upstream event: %s", c->row.request_id, eb.msg);
    encode_events(c);
    return 0;
}

static void on_openai_line(void *ud, const char *line, size_t len, bool cut)
{
    relay *c = ud;
    if (!cut)
        or_usage_from_openai_sse_line(line, len, &c->row);
}

/* ---- upstream callbacks ---- */

static void on_up_head(void *ud, int status, const or_up_header *h, size_t nh)
{
    relay *c = ud;
    c->up_status = status;
    for (size_t i = 0; i < nh; i++) {
        if (strcasecmp(h[i].name, "content-type") == 0)
            snprintf(c->up_ctype, sizeof c->up_ctype, "%s", h[i].value);
        else if (strcasecmp(h[i].name, "retry-after") == 0)
            snprintf(c->retry_after, sizeof c->retry_after, "%s", h[i].value);
    }
    if (!c->stream || status < 200 || status > 299)
        return; /* kept whole and answered in on_done */
    char hdrs[1024];
    reply_headers(c, hdrs, sizeof hdrs - 64);
    strcat(hdrs, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    const char *ctype = !c->translate ? (c->up_ctype[0] ? c->up_ctype : "text/event-stream")
                        : c->cf->id == OR_FMT_GEMINI && !c->copts.gemini_sse
                            ? "application/json"
                            : c->cf->stream_content_type;
    c->started = true;
    c->busy++;
    or_http_stream_start(c->req, status, ctype, hdrs);
    c->busy--;
}

static bool write_out(relay *c)
{
    if (!c->out.len)
        return false;
    c->busy++;
    bool full = or_http_stream_write(c->req, c->out.data, c->out.len);
    c->busy--;
    or_buf_reset(&c->out);
    return full;
}

static bool on_up_data(void *ud, const char *p, size_t n)
{
    relay *c = ud;
    if (!c->started) {
        if (or_buf_append(&c->reply, p, n) != OR_OK)
            c->up_status = -1; /* too large: answered 502 in on_done */
        return false;
    }
    if (!c->row.ttft_ms)
        c->row.ttft_ms = (uint32_t)(or_clock_mono_ms() - c->t0) + 1;
    bool full;
    c->busy++;
    if (c->translate) {
        or_sse_events_feed(&c->events, p, n);
        full = write_out(c);
    } else {
        if (c->pf->id == OR_FMT_OPENAI)
            or_sse_lines_feed(&c->lines, p, n, on_openai_line, c);
        else
            or_sse_events_feed(&c->events, p, n);
        full = or_http_stream_write(c->req, p, n);
    }
    c->busy--;
    if (c->dead) {
        relay_free(c);
        return false;
    }
    return full;
}

static int status_for(or_up_result res)
{
    return res == OR_UP_ETIMEOUT ? 504 : 502;
}

static void end_stream(relay *c, or_up_result res, const char *detail)
{
    or_errbuf eb = {{0}};
    if (c->translate) {
        if (res != OR_UP_OK) {
            json_t *err = ir_error(status_for(res), "upstream_stream_error", detail);
            json_object_set_new(err, "type", json_string("error"));
            json_array_append_new(c->evs, err);
            json_array_append_new(c->evs, json_pack("{s:s}", "type", "done"));
        } else {
            or_sse_events_finish(&c->events);
            c->pf->dec_end(c->dec, c->evs, &eb);
        }
        encode_events(c);
        write_out(c);
        if (c->dead)
            return;
    } else if (res != OR_UP_OK && c->cf->id == OR_FMT_OPENAI) {
        /* Passthrough OpenAI: end with OpenAI's error chunk + terminator, never silence. */
        json_t *err = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", detail, "type",
                                "api_error", "code", "upstream_stream_error");
        char *text = json_dumps(err, JSON_COMPACT);
        json_decref(err);
        if (text && or_buf_printf(&c->out, "data: %s\n\ndata: [DONE]\n\n", text) == OR_OK)
            write_out(c);
        free(text);
        if (c->dead)
            return;
    } else if (res != OR_UP_OK) {
        /* Passthrough of another format: its encoder renders the error termination. */
        or_fmt_enc *enc = c->cf->enc_new(&c->copts);
        json_t *err = ir_error(status_for(res), "upstream_stream_error", detail);
        json_object_set_new(err, "type", json_string("error"));
        if (enc) {
            c->cf->enc_event(enc, err, &c->out);
            json_t *done = json_pack("{s:s}", "type", "done");
            c->cf->enc_event(enc, done, &c->out);
            json_decref(done);
            c->cf->enc_free(enc);
        }
        json_decref(err);
        write_out(c);
        if (c->dead)
            return;
    }
    record(c, c->up_status, res == OR_UP_OK ? NULL : detail);
    or_http_stream_end(c->req);
}

/* A complete non-stream (or failed-before-streaming) reply. */
static void end_whole(relay *c)
{
    char hdrs[1024];
    c->row.ttft_ms = (uint32_t)(or_clock_mono_ms() - c->t0) + 1;
    reply_headers(c, hdrs, sizeof hdrs);
    bool ok = c->up_status >= 200 && c->up_status <= 299;
    if (!c->translate) {
        if (ok && c->reply.len) {
            json_t *doc = json_loadb(c->reply.data, c->reply.len, 0, NULL);
            json_t *ir = NULL;
            or_errbuf eb;
            if (doc && c->pf->resp_to_ir(doc, &ir, &eb) == OR_OK)
                usage_from_ir(c, json_object_get(ir, "usage"));
            json_decref(ir);
            json_decref(doc);
        }
        record(c, c->up_status, ok ? NULL : "upstream error relayed");
        or_http_respond(c->req, c->up_status, c->up_ctype[0] ? c->up_ctype : "application/json",
                        hdrs, c->reply.data, c->reply.len);
        return;
    }
    json_t *doc = c->reply.len ? json_loadb(c->reply.data, c->reply.len, 0, NULL) : NULL;
    if (!ok) {
        json_t *err = c->pf->error_to_ir(c->up_status, doc);
        json_decref(doc);
        json_object_set_new(err, "status", json_integer(c->up_status));
        const char *msg = json_string_value(json_object_get(err, "message"));
        record(c, c->up_status, msg ? msg : "upstream error");
        reply_ir_error(c->req, c->cf, err, c->up_status, hdrs);
        return;
    }
    or_errbuf eb = {{0}};
    json_t *ir = NULL, *out = NULL;
    if (!doc || c->pf->resp_to_ir(doc, &ir, &eb) != OR_OK ||
        c->cf->resp_from_ir(ir, &c->copts, &out, &eb) != OR_OK) {
        json_decref(doc);
        json_decref(ir);
        record(c, 502, doc ? eb.msg : "upstream reply is not JSON");
        reply_ir_error(c->req, c->cf,
                       ir_error(502, "upstream_error",
                                doc ? "could not translate the provider's reply"
                                    : "the provider's reply is not JSON"),
                       502, hdrs);
        return;
    }
    usage_from_ir(c, json_object_get(ir, "usage"));
    json_decref(doc);
    json_decref(ir);
    record(c, 200, NULL);
    or_reply_json(c->req, 200, out, hdrs);
}

static void on_up_done(void *ud, or_up_result res, const char *detail)
{
    relay *c = ud;
    c->up = NULL;
    if (c->dead) { /* the client left during on_head; its abort already recorded the row */
        relay_free(c);
        return;
    }
    const char *why = detail && *detail ? detail : or_up_result_name(res);
    if (c->started) {
        end_stream(c, res, why);
    } else if (res != OR_UP_OK || c->up_status < 0) {
        int status = c->up_status < 0 ? 502 : status_for(res);
        if (c->up_status < 0)
            why = "the provider's reply is too large";
        char hdrs[1024], msg[400];
        reply_headers(c, hdrs, sizeof hdrs);
        snprintf(msg, sizeof msg, "upstream request failed: %s", why);
        record(c, status, why);
        reply_ir_error(
            c->req, c->cf,
            ir_error(status, res == OR_UP_ETIMEOUT ? "upstream_timeout" : "upstream_error", msg),
            status, hdrs);
    } else {
        end_whole(c);
    }
    relay_free(c);
}

static void on_client_drain(or_http_req *req, void *ud)
{
    (void)req;
    relay *c = ud;
    if (c->up)
        or_up_resume(c->up);
}

static void on_client_abort(or_http_req *req, void *ud)
{
    (void)req;
    relay *c = ud;
    if (c->up) {
        or_up_cancel(c->up);
        c->up = NULL;
    }
    record(c, 499, "client closed the connection");
    relay_free(c);
}

/* ---- building the upstream request ---- */

/* Passthrough: the client body with only `model` replaced by the provider's id. */
static or_err splice_model(relay *c, json_t *root, const or_buf *raw)
{
    json_t *m = json_stringn(c->t.model, c->t.model_len);
    char *quoted = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
    or_err err = OR_ENOMEM;
    size_t a, b;
    if (!quoted)
        goto out;
    if (or_json_find_member(raw->data, raw->len, "model", &a, &b)) {
        size_t ql = strlen(quoted);
        c->body_len = a + ql + (raw->len - b);
        c->body = malloc(c->body_len + 1);
        if (!c->body)
            goto out;
        memcpy(c->body, raw->data, a);
        memcpy(c->body + a, quoted, ql);
        memcpy(c->body + a + ql, raw->data + b, raw->len - b);
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

static or_err serialize_body(relay *c, json_t *root, bool model_in_body)
{
    json_t *copy = json_deep_copy(root);
    if (!copy)
        return OR_ENOMEM;
    if (model_in_body)
        json_object_set_new(copy, "model", json_stringn(c->t.model, c->t.model_len));
    c->body = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    if (!c->body)
        return OR_ENOMEM;
    c->body_len = strlen(c->body);
    return OR_OK;
}

static or_err translate_body(relay *c, json_t *root, or_errbuf *eb)
{
    json_t *ir = NULL, *pbody = NULL;
    or_err e = c->cf->req_to_ir(root, &ir, eb);
    if (e != OR_OK)
        return e;
    json_object_set_new(ir, "model", json_stringn(c->t.model, c->t.model_len));
    json_object_set_new(ir, "stream", json_boolean(c->stream));
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

static or_err build_headers(relay *c)
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
        snprintf(c->auth, kl + 8, "%s%s", st == OR_AUTH_BEARER ? "Bearer " : "", key);
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

static bool model_name_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
            return false;
    return true;
}

void or_relay_start(or_http_req *req, or_app *app, json_t *root, const or_relay_opts *o)
{
    const or_fmt *cf = or_fmt_get(o->client);
    if (!o->model || !model_name_ok(o->model)) {
        or_relay_reply_error(req, o->client, 400, "invalid_model", NULL,
                             "`model` is required: a string such as \"openai/gpt-4o-mini\"");
        return;
    }
    relay *c = calloc(1, sizeof *c);
    if (!c) {
        or_relay_reply_error(req, o->client, 500, NULL, NULL, "out of memory");
        return;
    }
    c->req = req;
    c->app = app;
    c->cf = cf;
    c->stream = o->stream;
    c->t0 = or_http_req_start_ms(req);
    or_buf_init(&c->reply, MAX_REPLY_BYTES);
    or_buf_init(&c->url, 8192);
    or_buf_init(&c->out, 0);
    or_sse_lines_init(&c->lines, 1024 * 1024);
    or_sse_events_init(&c->events, MAX_SSE_EVENT, on_sse_event, c);
    c->evs = json_array();
    c->row.ts_ms = or_clock_wall_ms();
    c->row.stream = o->stream;
    or_uuid4(c->row.request_id);
    snprintf(c->row.endpoint, sizeof c->row.endpoint, "%s", o->endpoint);
    snprintf(c->row.model, sizeof c->row.model, "%s", o->model);
    snprintf(c->client_model, sizeof c->client_model, "%s", o->model);
    c->copts = (or_fmt_opts){.stream = o->stream,
                             .gemini_sse = o->gemini_sse,
                             .include_usage = true,
                             .model = c->client_model,
                             .id = c->row.request_id,
                             .created = (long long)(c->row.ts_ms / 1000)};
    if (o->client == OR_FMT_OPENAI) {
        json_t *so = json_object_get(root, "stream_options");
        c->copts.include_usage = json_is_true(json_object_get(so, "include_usage"));
    }

    or_errbuf eb = {{0}};
    char hdrs[256];
    snprintf(hdrs, sizeof hdrs, "X-OmniRoute-Request-Id: %s\r\n", c->row.request_id);
    c->snap = or_store_snapshot(app->store);
    or_err e = or_target_resolve(c->snap, o->model, &c->t, &eb);
    if (e != OR_OK) {
        static const int status[] = {[OR_EINVAL] = 400, [OR_ENOTFOUND] = 404, [OR_EUNAVAIL] = 503};
        static const char *const code[] = {[OR_EINVAL] = "model_not_found",
                                           [OR_ENOTFOUND] = "model_not_found",
                                           [OR_EUNAVAIL] = "no_active_connection"};
        int st = e < (int)(sizeof status / sizeof status[0]) && status[e] ? status[e] : 500;
        if (c->t.provider)
            snprintf(c->row.provider, sizeof c->row.provider, "%s", c->t.provider->id);
        record(c, st, eb.msg);
        reply_ir_error(req, cf, ir_error(st, st == 500 ? NULL : code[e], eb.msg), st, hdrs);
        relay_free(c);
        return;
    }
    c->pf = or_fmt_get(c->t.provider->format);
    /* A Gemini client that wants the JSON-array stream gets it re-encoded: providers are always
     * asked for SSE. */
    c->translate = c->pf != c->cf || (o->client == OR_FMT_GEMINI && o->stream && !o->gemini_sse);
    snprintf(c->row.provider, sizeof c->row.provider, "%s", c->t.provider->id);
    snprintf(c->row.model, sizeof c->row.model, "%.*s", (int)c->t.model_len, c->t.model);
    snprintf(c->row.connection_id, sizeof c->row.connection_id, "%s", c->t.conn->id);
    if (c->translate || c->pf->id != OR_FMT_OPENAI) {
        c->dec = c->pf->dec_new();
        if (c->translate)
            c->enc = c->cf->enc_new(&c->copts);
    }

    if (c->translate)
        e = translate_body(c, root, &eb);
    else if (o->body_not_raw)
        e = serialize_body(c, root, o->model_in_body);
    else if (o->model_in_body)
        e = splice_model(c, root, or_http_body(req));
    else {
        const or_buf *raw = or_http_body(req);
        c->body = malloc(raw->len + 1);
        e = c->body ? OR_OK : OR_ENOMEM;
        if (c->body) {
            memcpy(c->body, raw->data ? raw->data : "", raw->len);
            c->body[raw->len] = '\0';
            c->body_len = raw->len;
        }
    }
    if (e != OR_OK) {
        int st = e == OR_ENOMEM ? 500 : 400;
        record(c, st, eb.msg[0] ? eb.msg : "cannot build the provider request");
        reply_ir_error(req, cf,
                       ir_error(st, st == 400 ? "invalid_request" : NULL,
                                eb.msg[0] ? eb.msg : "out of memory"),
                       st, hdrs);
        relay_free(c);
        return;
    }
    const char *root_url;
    size_t rlen = or_target_api_root(&c->t, &root_url);
    char model[256];
    snprintf(model, sizeof model, "%.*s", (int)c->t.model_len, c->t.model);
    or_err ue = o->path && !c->translate ? (or_buf_append(&c->url, root_url, rlen) == OR_OK
                                                ? or_buf_puts(&c->url, o->path)
                                                : OR_ETOOBIG)
                                         : c->pf->url(root_url, rlen, model, c->stream, &c->url);
    if (ue != OR_OK || build_headers(c) != OR_OK) {
        record(c, 500, "cannot build the provider request");
        reply_ir_error(req, cf, ir_error(500, NULL, "cannot build the provider request"), 500,
                       hdrs);
        relay_free(c);
        return;
    }
    or_up_request rq = {
        .method = "POST",
        .url = c->url.data,
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
    if (or_up_start(or_worker_of(req)->up, &rq, &cbs, c, &c->up) != OR_OK) {
        record(c, 502, "could not start the upstream request");
        reply_ir_error(req, cf,
                       ir_error(502, "upstream_error", "could not start the upstream request"), 502,
                       hdrs);
        relay_free(c);
    }
}
