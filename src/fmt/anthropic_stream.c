/* anthropic_stream.c — Anthropic Messages SSE: decoder (upstream events → IR events) and
 * encoder (IR events → the named events Claude Code and the Anthropic SDKs parse). */
#include "fmt/anthropic_internal.h"
#include "core/json_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caps on what a stream can make us hold. */
#define MAX_BLOCKS 65536

/* Block kinds. K_RAW: a block the IR has no event for (server_tool_use,
 * web_search_tool_result…), forwarded whole as a "raw" event once complete. */
enum { K_NONE, K_TEXT, K_THINK, K_TOOL, K_RAW, K_IGNORE };

/* ======================= decoder ======================= */

struct or_fmt_dec {
    int started, stopped, done;
    int *map; /* Anthropic block index → IR index (−1: block the IR ignores) */
    unsigned char *kind;
    size_t nmap;
    int next;     /* next IR index */
    int tools;    /* tool_use blocks seen */
    json_t *raw;  /* Anthropic usage merged over message_start and message_delta */
    json_t *blk;  /* the raw block being assembled, or NULL */
    int blk_ir;   /* its IR index */
    or_buf input; /* its streamed input JSON (server_tool_use) */
};

or_fmt_dec *or_anthropic_dec_new(void)
{
    or_fmt_dec *d = calloc(1, sizeof *d);
    if (d && !(d->raw = json_object())) {
        free(d);
        d = NULL;
    }
    if (d)
        or_buf_init(&d->input, OR_ANTHROPIC_ARGS_MAX);
    return d;
}

void or_anthropic_dec_free(or_fmt_dec *d)
{
    if (!d)
        return;
    free(d->map);
    free(d->kind);
    json_decref(d->raw);
    json_decref(d->blk);
    or_buf_free(&d->input);
    free(d);
}

static or_err add(json_t *out, json_t *ev)
{
    return ev && json_array_append_new(out, ev) == 0 ? OR_OK : OR_ENOMEM;
}

/* Assigns the IR index of Anthropic block `ai` (first sight decides its kind). */
static or_err block(or_fmt_dec *d, json_int_t ai, int kind, int *ir, or_errbuf *eb)
{
    if (ai < 0 || ai >= MAX_BLOCKS)
        return or_fail(eb, OR_ETOOBIG, "stream: content block index %lld out of range",
                       (long long)ai);
    if ((size_t)ai >= d->nmap) {
        size_t n = (size_t)ai + 16;
        int *m = realloc(d->map, n * sizeof *m);
        if (!m)
            return OR_ENOMEM;
        d->map = m;
        unsigned char *k = realloc(d->kind, n);
        if (!k)
            return OR_ENOMEM;
        d->kind = k;
        memset(d->kind + d->nmap, K_NONE, n - d->nmap);
        d->nmap = n;
    }
    if (d->kind[ai] == K_NONE) {
        d->kind[ai] = (unsigned char)kind;
        d->map[ai] = kind == K_IGNORE ? -1 : d->next++;
        d->tools += kind == K_TOOL;
    }
    *ir = d->map[ai];
    return OR_OK;
}

static or_err start(or_fmt_dec *d, const json_t *msg, json_t *out)
{
    if (d->started)
        return OR_OK;
    d->started = 1;
    json_t *ev = json_pack("{s:s}", "type", "start");
    const json_t *id = json_object_get(msg, "id"), *model = json_object_get(msg, "model");
    if (ev && json_is_string(id))
        json_object_set(ev, "id", (json_t *)id);
    if (ev && json_is_string(model))
        json_object_set(ev, "model", (json_t *)model);
    return add(out, ev);
}

/* Later numbers win, except a zero that would erase a number already reported (some
 * Anthropic-compatible providers repeat input_tokens:0 in message_delta). */
static void merge_usage(or_fmt_dec *d, const json_t *u)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)u, k, v)
    {
        if (!json_is_integer(v))
            continue;
        const json_t *old = json_object_get(d->raw, k);
        if (json_integer_value(v) == 0 && json_is_integer(old) && json_integer_value(old) > 0)
            continue;
        json_object_set(d->raw, k, v);
    }
}

static or_err text_ev(json_t *out, const char *type, int ir, const char *key, const char *s)
{
    if (!s || !*s)
        return OR_OK;
    return add(out, json_pack("{s:s,s:i,s:s}", "type", type, "index", ir, key, s));
}

/* Emits the raw block being assembled, with its streamed input in place. */
static or_err raw_flush(or_fmt_dec *d, json_t *out)
{
    json_t *blk = d->blk;
    or_err e = OR_OK;
    if (!blk)
        return OR_OK;
    d->blk = NULL;
    if (d->input.len) {
        json_t *in = or_json_loadb(d->input.data, d->input.len, 0, NULL);
        if (!json_is_object(in)) {
            json_decref(in);
            in = json_pack("{s:s%}", "_raw", d->input.data, d->input.len);
        }
        if (!in || json_object_set_new(blk, "input", in) != 0)
            e = OR_ENOMEM;
    }
    or_buf_reset(&d->input);
    if (e == OR_OK)
        e = add(out, json_pack("{s:s,s:i,s:s,s:O}", "type", "raw", "index", d->blk_ir, "format",
                               "claude", "block", blk));
    json_decref(blk);
    return e;
}

static or_err on_block_start(or_fmt_dec *d, const json_t *ev, json_t *out, or_errbuf *eb)
{
    const json_t *cb = json_object_get(ev, "content_block");
    const json_t *idx = json_object_get(ev, "index");
    const char *t = json_string_value(json_object_get(cb, "type"));
    if (!json_is_integer(idx) || !t)
        return or_fail(eb, OR_EUPSTREAM, "content_block_start: missing index or type");
    static const struct {
        const char *type;
        int kind;
    } kinds[] = {{"text", K_TEXT},
                 {"thinking", K_THINK},
                 {"redacted_thinking", K_THINK},
                 {"tool_use", K_TOOL}};
    int kind = K_RAW, ir;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].type, t) == 0)
            kind = kinds[i].kind;
    or_err e = start(d, NULL, out);
    if (e == OR_OK)
        e = raw_flush(d, out); /* a raw block whose stop never came */
    if (e == OR_OK)
        e = block(d, json_integer_value(idx), kind, &ir, eb);
    if (e != OR_OK || ir < 0)
        return e;
    if (kind == K_RAW) {
        d->blk = json_deep_copy(cb);
        d->blk_ir = ir;
        return d->blk ? OR_OK : OR_ENOMEM;
    }
    if (strcmp(t, "text") == 0)
        return text_ev(out, "text", ir, "text", json_string_value(json_object_get(cb, "text")));
    if (strcmp(t, "redacted_thinking") == 0)
        return add(out, json_pack("{s:s,s:i,s:s,s:s}", "type", "thinking", "index", ir, "text", "",
                                  "redacted",
                                  json_string_value(json_object_get(cb, "data"))
                                      ? json_string_value(json_object_get(cb, "data"))
                                      : ""));
    if (strcmp(t, "thinking") == 0) {
        e = text_ev(out, "thinking", ir, "text",
                    json_string_value(json_object_get(cb, "thinking")));
        if (e == OR_OK)
            e = text_ev(out, "thinking_signature", ir, "signature",
                        json_string_value(json_object_get(cb, "signature")));
        return e;
    }
    const char *id = json_string_value(json_object_get(cb, "id"));
    const char *name = json_string_value(json_object_get(cb, "name"));
    e = add(out, json_pack("{s:s,s:i,s:s,s:s}", "type", "tool_call", "index", ir, "id",
                           id ? id : "", "name", name ? name : ""));
    /* Some compatible providers send the whole input here instead of as deltas. */
    const json_t *in = json_object_get(cb, "input");
    if (e == OR_OK && json_is_object(in) && json_object_size(in)) {
        char *s = json_dumps(in, JSON_COMPACT);
        e = s ? text_ev(out, "tool_args", ir, "arguments", s) : OR_ENOMEM;
        free(s);
    }
    return e;
}

static or_err on_block_delta(or_fmt_dec *d, const json_t *ev, json_t *out, or_errbuf *eb)
{
    static const struct {
        const char *delta, *field, *ir_type, *ir_key;
        int kind;
    } tbl[] = {
        {"text_delta", "text", "text", "text", K_TEXT},
        {"thinking_delta", "thinking", "thinking", "text", K_THINK},
        {"signature_delta", "signature", "thinking_signature", "signature", K_THINK},
        {"input_json_delta", "partial_json", "tool_args", "arguments", K_TOOL},
    };
    const json_t *delta = json_object_get(ev, "delta");
    const json_t *idx = json_object_get(ev, "index");
    const char *t = json_string_value(json_object_get(delta, "type"));
    if (!json_is_integer(idx) || !t)
        return or_fail(eb, OR_EUPSTREAM, "content_block_delta: missing index or delta type");
    json_int_t ai = json_integer_value(idx);
    if (ai >= 0 && (size_t)ai < d->nmap && d->kind[ai] == K_RAW) {
        const char *pj = json_string_value(json_object_get(delta, "partial_json"));
        if (!d->blk || d->map[ai] != d->blk_ir || strcmp(t, "input_json_delta") != 0 || !pj)
            return OR_OK;
        return or_buf_puts(&d->input, pj) == OR_OK
                   ? OR_OK
                   : or_fail(eb, OR_ETOOBIG, "stream: server tool input over %zu bytes",
                             (size_t)OR_ANTHROPIC_ARGS_MAX);
    }
    for (size_t i = 0; i < sizeof tbl / sizeof tbl[0]; i++) {
        if (strcmp(tbl[i].delta, t) != 0)
            continue;
        int ir;
        or_err e = start(d, NULL, out);
        if (e == OR_OK) /* a delta without its start still gets a block of the right kind */
            e = block(d, ai, tbl[i].kind, &ir, eb);
        if (e != OR_OK || ir < 0)
            return e;
        return text_ev(out, tbl[i].ir_type, ir, tbl[i].ir_key,
                       json_string_value(json_object_get(delta, tbl[i].field)));
    }
    return OR_OK; /* citations_delta and future deltas: nothing the IR carries */
}

static or_err emit_end(or_fmt_dec *d, const char *stop, json_t *out)
{
    or_err e = OR_OK;
    if (d->stopped)
        return OR_OK;
    d->stopped = 1;
    if (json_object_size(d->raw))
        e = add(out,
                json_pack("{s:s,s:o}", "type", "usage", "usage", or_anthropic_usage_to_ir(d->raw)));
    if (e == OR_OK)
        e = add(out, json_pack("{s:s,s:s}", "type", "stop", "stop_reason", stop));
    return e;
}

static or_err on_message_delta(or_fmt_dec *d, const json_t *ev, json_t *out)
{
    const json_t *u = json_object_get(ev, "usage");
    if (json_is_object(u))
        merge_usage(d, u);
    const char *sr =
        json_string_value(json_object_get(json_object_get(ev, "delta"), "stop_reason"));
    if (!sr)
        return OR_OK;
    or_err e = start(d, NULL, out);
    return e == OR_OK ? emit_end(d, or_anthropic_stop_to_ir(sr), out) : e;
}

static or_err on_error(or_fmt_dec *d, const json_t *ev, json_t *out)
{
    json_t *err = or_anthropic_error_to_ir(0, ev);
    if (!err)
        return OR_ENOMEM;
    json_object_set_new(err, "type", json_string("error"));
    d->done = 1;
    or_err e = add(out, err);
    return e == OR_OK ? add(out, json_pack("{s:s}", "type", "done")) : e;
}

or_err or_anthropic_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                              json_t *out, or_errbuf *eb)
{
    or_err e = OR_OK;
    if (d->done || !data || len == 0 || (event && strcmp(event, "ping") == 0))
        return OR_OK;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return OR_OK;
    json_error_t jerr;
    json_t *ev = or_json_loadb(data, len, 0, &jerr);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return or_fail(eb, OR_EUPSTREAM, "stream event%s%s: invalid JSON", event ? " " : "",
                       event ? event : "");
    }
    const char *t = json_string_value(json_object_get(ev, "type"));
    if (!t)
        t = event ? event : "";
    if (strcmp(t, "message_start") == 0) {
        const json_t *msg = json_object_get(ev, "message");
        e = start(d, msg, out);
        if (json_is_object(json_object_get(msg, "usage")))
            merge_usage(d, json_object_get(msg, "usage"));
    } else if (strcmp(t, "content_block_start") == 0) {
        e = on_block_start(d, ev, out, eb);
    } else if (strcmp(t, "content_block_delta") == 0) {
        e = on_block_delta(d, ev, out, eb);
    } else if (strcmp(t, "content_block_stop") == 0) {
        e = raw_flush(d, out);
    } else if (strcmp(t, "message_delta") == 0) {
        if ((e = raw_flush(d, out)) == OR_OK)
            e = on_message_delta(d, ev, out);
    } else if (strcmp(t, "message_stop") == 0) {
        if ((e = start(d, NULL, out)) == OR_OK && (e = raw_flush(d, out)) == OR_OK &&
            (e = emit_end(d, d->tools ? "tool_calls" : "stop", out)) == OR_OK) {
            d->done = 1;
            e = add(out, json_pack("{s:s}", "type", "done"));
        }
    } else if (strcmp(t, "error") == 0) {
        e = on_error(d, ev, out);
    }
    /* ping and unknown events carry nothing for the IR. */
    json_decref(ev);
    if (e == OR_ENOMEM)
        or_fail(eb, e, "out of memory");
    return e;
}

or_err or_anthropic_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb)
{
    or_err e = OR_OK;
    if (d->done)
        return OR_OK;
    d->done = 1;
    /* A Messages stream always ends with message_stop: EOF before it is a cut stream, which
     * the client must see as an error, not as a short answer. */
    if (!d->stopped)
        e = add(out, json_pack("{s:s,s:i,s:s,s:s}", "type", "error", "status", 502, "error_type",
                               "api_error", "message", "upstream stream ended before completion"));
    if (e == OR_OK)
        e = add(out, json_pack("{s:s}", "type", "done"));
    if (e != OR_OK)
        or_fail(eb, e, "out of memory");
    return e;
}

/* ======================= encoder ======================= */

struct or_fmt_enc {
    char *model;   /* what the client asked for (opts), else the IR start's */
    char *id;      /* opts->id fallback for the message id */
    int started;   /* message_start sent */
    int finished;  /* message_stop or error sent: nothing more may follow */
    int next;      /* next Anthropic block index */
    int open_kind; /* K_NONE when no block is open */
    json_int_t open_ir;
    json_t *queue;  /* parallel tool calls waiting for the open one: [{ir,id,name,args}] */
    size_t queued;  /* bytes of queued arguments */
    json_t *closed; /* IR indexes of tool calls already sent, as keys */
    json_t *usage;  /* last IR usage */
    char *stop;     /* IR stop reason */
    int tools;      /* tool_use blocks sent */
};

or_fmt_enc *or_anthropic_enc_new(const or_fmt_opts *o)
{
    or_fmt_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->model = o && o->model ? strdup(o->model) : NULL;
    e->id = o && o->id ? strdup(o->id) : NULL;
    e->queue = json_array();
    e->closed = json_object();
    if ((o && o->model && !e->model) || (o && o->id && !e->id) || !e->queue || !e->closed) {
        or_anthropic_enc_free(e);
        return NULL;
    }
    return e;
}

void or_anthropic_enc_free(or_fmt_enc *e)
{
    if (!e)
        return;
    free(e->model);
    free(e->id);
    free(e->stop);
    json_decref(e->queue);
    json_decref(e->closed);
    json_decref(e->usage);
    free(e);
}

/* `event: name` + one data line of compact JSON. Steals obj. */
static or_err emit(or_buf *out, const char *name, json_t *obj)
{
    if (!obj)
        return OR_ENOMEM;
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s)
        return OR_ENOMEM;
    or_err r = or_buf_printf(out, "event: %s\ndata: %s\n\n", name, s);
    free(s);
    return r;
}

static or_err msg_start(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    if (e->started)
        return OR_OK;
    e->started = 1;
    const char *model = e->model ? e->model : json_string_value(json_object_get(ev, "model"));
    char *id = or_anthropic_msg_id(json_string_value(json_object_get(ev, "id")), e->id);
    if (!id)
        return OR_ENOMEM;
    /* IR usage normally arrives at the end; message_delta carries the real numbers. */
    json_t *u = or_anthropic_usage_from_ir(e->usage);
    if (u)
        json_object_set_new(u, "output_tokens", json_integer(0));
    json_t *m =
        u ? json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:o}}", "type", "message_start",
                      "message", "id", id, "type", "message", "role", "assistant", "model",
                      model ? model : "", "content", "stop_reason", "stop_sequence", "usage", u)
          : NULL;
    free(id);
    return emit(out, "message_start", m);
}

static or_err block_stop(or_fmt_enc *e, or_buf *out)
{
    if (e->open_kind == K_NONE)
        return OR_OK;
    if (e->open_kind == K_TOOL) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)e->open_ir);
        json_object_set_new(e->closed, key, json_true());
    }
    e->open_kind = K_NONE;
    return emit(out, "content_block_stop",
                json_pack("{s:s,s:i}", "type", "content_block_stop", "index", e->next - 1));
}

/* Closes the open block and starts `cb` (stolen) as the next one. */
static or_err block_start(or_fmt_enc *e, int kind, json_int_t ir, json_t *cb, or_buf *out)
{
    or_err r = block_stop(e, out);
    if (r != OR_OK) {
        json_decref(cb);
        return r;
    }
    if (!cb)
        return OR_ENOMEM;
    e->open_kind = kind;
    e->open_ir = ir;
    e->tools += kind == K_TOOL;
    return emit(out, "content_block_start",
                json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index", e->next++,
                          "content_block", cb));
}

static or_err delta(or_fmt_enc *e, const char *type, const char *key, const char *val, or_buf *out)
{
    return emit(out, "content_block_delta",
                json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_delta", "index",
                          e->next - 1, "delta", "type", type, key, val));
}

static or_err tool_block(or_fmt_enc *e, json_int_t ir, const char *id, const char *name,
                         const char *args, or_buf *out)
{
    or_err r = block_start(
        e, K_TOOL, ir,
        json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id", id, "name", name, "input"), out);
    if (r == OR_OK && args && *args)
        r = delta(e, "input_json_delta", "partial_json", args, out);
    return r;
}

static json_t *queued(or_fmt_enc *e, json_int_t ir)
{
    size_t i;
    json_t *q;
    json_array_foreach(e->queue, i,
                       q) if (json_integer_value(json_object_get(q, "ir")) == ir) return q;
    return NULL;
}

static or_err flush_queue(or_fmt_enc *e, or_buf *out)
{
    size_t i;
    json_t *q;
    or_err r = OR_OK;
    json_array_foreach(e->queue, i, q)
    {
        if (r == OR_OK)
            r = tool_block(e, json_integer_value(json_object_get(q, "ir")),
                           json_string_value(json_object_get(q, "id")),
                           json_string_value(json_object_get(q, "name")),
                           json_string_value(json_object_get(q, "args")), out);
    }
    json_array_clear(e->queue);
    e->queued = 0;
    return r;
}

static or_err on_tool_call(or_fmt_enc *e, const json_t *ev, json_int_t ir, or_buf *out)
{
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *name = json_string_value(json_object_get(ev, "name"));
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)ir);
    if ((e->open_kind == K_TOOL && e->open_ir == ir) || queued(e, ir) ||
        json_object_get(e->closed, key))
        return OR_OK; /* the same call announced twice */
    if (!id || !*id) {
        snprintf(key, sizeof key, "toolu_%lld", (long long)ir);
        id = key;
    }
    /* Anthropic blocks cannot interleave: a call starting while another streams its
     * arguments waits, whole, until the end of the message. */
    if (e->open_kind == K_TOOL) {
        json_t *q = json_pack("{s:I,s:s,s:s,s:s}", "ir", ir, "id", id, "name", name ? name : "",
                              "args", "");
        return q && json_array_append_new(e->queue, q) == 0 ? OR_OK : OR_ENOMEM;
    }
    return tool_block(e, ir, id, name ? name : "", NULL, out);
}

static or_err on_tool_args(or_fmt_enc *e, const json_t *ev, json_int_t ir, or_buf *out)
{
    const char *a = json_string_value(json_object_get(ev, "arguments"));
    if (!a || !*a)
        return OR_OK;
    if (e->open_kind == K_TOOL && e->open_ir == ir)
        return delta(e, "input_json_delta", "partial_json", a, out);
    json_t *q = queued(e, ir);
    if (!q)
        return OR_OK; /* arguments of a call already closed (or never announced): no place */
    size_t n = strlen(a);
    const char *old = json_string_value(json_object_get(q, "args"));
    size_t on = strlen(old);
    if (n > OR_ANTHROPIC_ARGS_MAX - e->queued)
        return OR_ETOOBIG;
    char *s = malloc(on + n + 1);
    if (!s)
        return OR_ENOMEM;
    memcpy(s, old, on);
    memcpy(s + on, a, n + 1);
    e->queued += n;
    json_object_set_new(q, "args", json_stringn(s, on + n));
    free(s);
    return OR_OK;
}

static or_err on_text(or_fmt_enc *e, const json_t *ev, json_int_t ir, int kind, or_buf *out)
{
    const char *t = json_string_value(json_object_get(ev, "text"));
    const char *red = json_string_value(json_object_get(ev, "redacted"));
    or_err r = OR_OK;
    if (red)
        return (r = block_start(e, K_THINK, ir,
                                json_pack("{s:s,s:s}", "type", "redacted_thinking", "data", red),
                                out)) == OR_OK
                   ? block_stop(e, out)
                   : r;
    if (!t || !*t)
        return OR_OK;
    if (e->open_kind != kind || e->open_ir != ir)
        r = block_start(e, kind, ir,
                        kind == K_TEXT ? json_pack("{s:s,s:s}", "type", "text", "text", "")
                                       : json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking",
                                                   "", "signature", ""),
                        out);
    if (r == OR_OK)
        r = kind == K_TEXT ? delta(e, "text_delta", "text", t, out)
                           : delta(e, "thinking_delta", "thinking", t, out);
    return r;
}

static or_err on_signature(or_fmt_enc *e, const json_t *ev, json_int_t ir, or_buf *out)
{
    const char *sig = json_string_value(json_object_get(ev, "signature"));
    or_err r = OR_OK;
    if (!sig || !*sig)
        return OR_OK;
    if (e->open_kind != K_THINK || e->open_ir != ir)
        r = block_start(
            e, K_THINK, ir,
            json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", "", "signature", ""), out);
    return r == OR_OK ? delta(e, "signature_delta", "signature", sig, out) : r;
}

/* A whole block the IR does not model (server tool use and results), from a Claude upstream:
 * sent as it came, input included in content_block_start. Other formats' raw blocks mean
 * nothing to a Claude client. */
static or_err on_raw(or_fmt_enc *e, const json_t *ev, json_int_t ir, or_buf *out)
{
    const char *f = json_string_value(json_object_get(ev, "format"));
    const json_t *blk = json_object_get(ev, "block");
    if (!f || strcmp(f, "claude") != 0 || !json_is_object(blk))
        return OR_OK;
    or_err r = block_start(e, K_RAW, ir, json_deep_copy(blk), out);
    return r == OR_OK ? block_stop(e, out) : r;
}

static or_err finish(or_fmt_enc *e, or_buf *out)
{
    or_err r = msg_start(e, NULL, out);
    if (r == OR_OK)
        r = block_stop(e, out);
    if (r == OR_OK)
        r = flush_queue(e, out);
    if (r == OR_OK)
        r = block_stop(e, out);
    if (r != OR_OK)
        return r;
    e->finished = 1;
    json_t *u = or_anthropic_usage_from_ir(e->usage);
    json_t *md =
        u ? json_pack("{s:s,s:{s:s,s:n},s:o}", "type", "message_delta", "delta", "stop_reason",
                      or_anthropic_stop_from_ir(e->stop, e->tools), "stop_sequence", "usage", u)
          : NULL;
    r = emit(out, "message_delta", md);
    if (r == OR_OK)
        r = emit(out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    return r;
}

static or_err on_error_ev(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    e->finished = 1; /* Anthropic SDKs raise on `error`; nothing may follow it */
    return emit(out, "error", or_anthropic_error_from_ir(ev));
}

or_err or_anthropic_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    const char *t = json_string_value(json_object_get(ev, "type"));
    json_int_t ir = json_integer_value(json_object_get(ev, "index"));
    if (!t || e->finished)
        return OR_OK;
    if (strcmp(t, "error") == 0)
        return on_error_ev(e, ev, out);
    if (strcmp(t, "usage") == 0) {
        json_t *u = json_object_get(ev, "usage");
        if (json_is_object(u)) {
            json_decref(e->usage);
            e->usage = json_deep_copy(u);
        }
        return OR_OK;
    }
    if (strcmp(t, "stop") == 0) {
        const char *s = json_string_value(json_object_get(ev, "stop_reason"));
        free(e->stop);
        e->stop = s ? strdup(s) : NULL;
        return s && !e->stop ? OR_ENOMEM : OR_OK;
    }
    or_err r = msg_start(e, strcmp(t, "start") == 0 ? ev : NULL, out);
    if (r != OR_OK || strcmp(t, "start") == 0)
        return r;
    if (strcmp(t, "text") == 0)
        return on_text(e, ev, ir, K_TEXT, out);
    if (strcmp(t, "thinking") == 0)
        return on_text(e, ev, ir, K_THINK, out);
    if (strcmp(t, "thinking_signature") == 0)
        return on_signature(e, ev, ir, out);
    if (strcmp(t, "tool_call") == 0)
        return on_tool_call(e, ev, ir, out);
    if (strcmp(t, "tool_args") == 0)
        return on_tool_args(e, ev, ir, out);
    if (strcmp(t, "raw") == 0)
        return on_raw(e, ev, ir, out);
    if (strcmp(t, "done") == 0)
        return finish(e, out);
    return OR_OK; /* tool_signature (Gemini) and unknown events have no Anthropic form */
}
