/* OpenAI Responses streams: upstream typed SSE events → IR events (decoder), and IR events →
 * the typed events Codex CLI and the openai SDK parse (encoder). */
#include "fmt/responses_internal.h"
#include "core/json_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096 /* output items per stream */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ======================================================================== decoder */

enum { K_OTHER, K_MSG, K_CALL, K_REASON };

typedef struct {
    bool used;
    int kind;
    int index;  /* IR block index, -1 until something was emitted */
    bool named; /* the IR tool_call went out */
    bool got_delta;
    long summary; /* last reasoning summary_index seen, -1 before any */
    char *item_id, *call_id, *name;
    or_buf args; /* argument deltas held until the name is known */
} dslot;

struct or_fmt_dec {
    bool started, finished, any_content, has_call;
    int next_index;
    size_t held;  /* argument bytes held across all slots */
    dslot *slots; /* by upstream output_index */
    size_t nslots;
};

or_fmt_dec *or_responses_dec_new(void)
{
    return calloc(1, sizeof(or_fmt_dec));
}

void or_responses_dec_free(or_fmt_dec *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nslots; i++) {
        free(d->slots[i].item_id);
        free(d->slots[i].call_id);
        free(d->slots[i].name);
        or_buf_free(&d->slots[i].args);
    }
    free(d->slots);
    free(d);
}

static or_err push(json_t *out, json_t *ev)
{
    return or_responses_push(out, ev) ? OR_ENOMEM : OR_OK;
}

static or_err start(or_fmt_dec *d, const json_t *resp, json_t *out)
{
    if (d->started)
        return OR_OK;
    d->started = true;
    json_t *ev = json_pack("{s:s}", "type", "start");
    const char *id = or_responses_str(resp, "id"), *model = or_responses_str(resp, "model");
    int bad = ev ? 0 : -1;
    if (!bad && id)
        bad |= or_responses_set(ev, "id", json_string(id));
    if (!bad && model)
        bad |= or_responses_set(ev, "model", json_string(model));
    if (bad) {
        json_decref(ev);
        return OR_ENOMEM;
    }
    return push(out, ev);
}

/* The slot of an event: by output_index, else by item_id, else a new one. */
static or_err slot_for(or_fmt_dec *d, const json_t *ev, dslot **out, or_errbuf *eb)
{
    json_t *oi = json_object_get(ev, "output_index");
    const char *item_id = or_responses_str(ev, "item_id");
    if (!item_id)
        item_id = or_responses_str(json_object_get(ev, "item"), "id");
    size_t idx = d->nslots;
    if (json_is_integer(oi) && json_integer_value(oi) >= 0) {
        if (json_integer_value(oi) >= MAX_ITEMS)
            return or_fail(eb, OR_ETOOBIG, "upstream output_index over %d", MAX_ITEMS);
        idx = (size_t)json_integer_value(oi);
    } else {
        for (size_t i = 0; item_id && i < d->nslots; i++)
            if (d->slots[i].item_id && strcmp(d->slots[i].item_id, item_id) == 0)
                idx = i;
        if (idx == d->nslots && d->nslots >= MAX_ITEMS)
            return or_fail(eb, OR_ETOOBIG, "more than %d upstream output items", MAX_ITEMS);
    }
    if (idx >= d->nslots) {
        dslot *ns = realloc(d->slots, (idx + 1) * sizeof *ns);
        if (!ns)
            return OR_ENOMEM;
        memset(ns + d->nslots, 0, (idx + 1 - d->nslots) * sizeof *ns);
        d->slots = ns;
        d->nslots = idx + 1;
    }
    dslot *s = &d->slots[idx];
    if (!s->used) {
        s->used = true;
        s->index = -1;
        s->summary = -1;
        or_buf_init(&s->args, OR_RESPONSES_MAX_ACCUM);
    }
    if (item_id && !s->item_id && !(s->item_id = strdup(item_id)))
        return OR_ENOMEM;
    *out = s;
    return OR_OK;
}

static int index_of(or_fmt_dec *d, dslot *s)
{
    if (s->index < 0)
        s->index = d->next_index++;
    d->any_content = true;
    return s->index;
}

static or_err emit_text(or_fmt_dec *d, dslot *s, const char *type, const char *text, const char *id,
                        json_t *out)
{
    if (!text || !*text)
        return OR_OK;
    bool first = s->index < 0;
    json_t *ev = json_pack("{s:s, s:i, s:s}", "type", type, "index", index_of(d, s), "text", text);
    /* The reasoning item's id rides on its first thinking event, so a Responses client gets
     * the upstream's id back. */
    if (ev && first && id && or_responses_set(ev, "id", json_string(id)) != 0) {
        json_decref(ev);
        return OR_ENOMEM;
    }
    return push(out, ev);
}

static or_err emit_args(or_fmt_dec *d, dslot *s, const char *args, size_t len, json_t *out)
{
    if (!len)
        return OR_OK;
    return push(out, json_pack("{s:s, s:i, s:s%}", "type", "tool_args", "index", index_of(d, s),
                               "arguments", args, len));
}

/* Opens the IR tool call once both its id and name are known, then releases held args. */
static or_err name_call(or_fmt_dec *d, dslot *s, json_t *out)
{
    if (s->named || !s->name || !*s->name)
        return OR_OK;
    const char *id = s->call_id ? s->call_id : s->item_id;
    or_err e = push(out, json_pack("{s:s, s:i, s:s, s:s}", "type", "tool_call", "index",
                                   index_of(d, s), "id", id ? id : "", "name", s->name));
    s->named = true;
    d->has_call = true;
    if (e == OR_OK)
        e = emit_args(d, s, s->args.data, s->args.len, out);
    d->held -= s->args.len;
    or_buf_free(&s->args);
    return e;
}

static or_err call_args(or_fmt_dec *d, dslot *s, const char *delta, size_t len, json_t *out,
                        or_errbuf *eb)
{
    s->got_delta = true;
    if (s->named)
        return emit_args(d, s, delta, len, out);
    if (d->held + len > OR_RESPONSES_MAX_ACCUM || or_buf_append(&s->args, delta, len) != OR_OK)
        return or_fail(eb, OR_ETOOBIG, "tool arguments over %u bytes before the tool name",
                       OR_RESPONSES_MAX_ACCUM);
    d->held += len;
    return OR_OK;
}

static or_err take_call_fields(dslot *s, const json_t *item)
{
    const char *cid = or_responses_str(item, "call_id"), *name = or_responses_str(item, "name");
    if (cid && !s->call_id && !(s->call_id = strdup(cid)))
        return OR_ENOMEM;
    if (name && *name && !s->name && !(s->name = strdup(name)))
        return OR_ENOMEM;
    return OR_OK;
}

static const struct {
    const char *type;
    int kind;
} item_kinds[] = {{"message", K_MSG}, {"function_call", K_CALL}, {"reasoning", K_REASON}};

static int kind_of(const json_t *item)
{
    const char *t = or_responses_str(item, "type");
    for (size_t i = 0; t && i < sizeof item_kinds / sizeof item_kinds[0]; i++)
        if (strcmp(item_kinds[i].type, t) == 0)
            return item_kinds[i].kind;
    return K_OTHER;
}

static or_err on_item_added(or_fmt_dec *d, dslot *s, const json_t *ev, json_t *out, or_errbuf *eb)
{
    json_t *item = json_object_get(ev, "item");
    s->kind = kind_of(item);
    if (s->kind != K_CALL)
        return OR_OK;
    or_err e = take_call_fields(s, item);
    const char *args = or_responses_str(item, "arguments");
    if (e == OR_OK && args && *args)
        e = call_args(d, s, args, strlen(args), out, eb);
    if (e == OR_OK)
        e = name_call(d, s, out);
    return e;
}

static or_err on_item_done(or_fmt_dec *d, dslot *s, const json_t *ev, json_t *out, or_errbuf *eb)
{
    json_t *item = json_object_get(ev, "item"), *p;
    size_t i;
    or_err e = OR_OK;
    s->kind = kind_of(item);
    if (s->kind == K_MSG && !s->got_delta) { /* an upstream that only sends whole items */
        json_array_foreach(json_object_get(item, "content"), i, p)
        {
            const char *t = or_responses_str(p, "text");
            if (e == OR_OK)
                e = emit_text(d, s, "text", t ? t : or_responses_str(p, "refusal"), NULL, out);
        }
    } else if (s->kind == K_CALL) {
        const char *args = or_responses_str(item, "arguments");
        e = take_call_fields(s, item);
        if (e == OR_OK && !s->got_delta && args && *args)
            e = call_args(d, s, args, strlen(args), out, eb);
        if (e == OR_OK)
            e = name_call(d, s, out);
    } else if (s->kind == K_REASON) {
        json_t *th = or_responses_reasoning_to_ir(item);
        if (!th)
            return OR_ENOMEM;
        const char *id = or_responses_str(item, "id");
        const char *enc = or_responses_str(th, "encrypted_content");
        if (!s->got_delta)
            e = emit_text(d, s, "thinking", or_responses_str(th, "text"), id, out);
        if (e == OR_OK && enc) {
            /* Not a `signature`: other vendors' encoders would hand OpenAI's blob to a client that
             * may replay it to their API. */
            json_t *sig = json_pack("{s:s, s:i, s:s}", "type", "thinking_signature", "index",
                                    index_of(d, s), "encrypted_content", enc);
            if (sig && id && or_responses_set(sig, "id", json_string(id)) != 0) {
                json_decref(sig);
                sig = NULL;
            }
            e = push(out, sig);
        }
        json_decref(th);
    }
    return e;
}

/* Content of a final response whose items never streamed (some proxies send only it). */
static or_err replay_output(or_fmt_dec *d, const json_t *resp, json_t *out)
{
    json_t *content = json_array(), *p;
    size_t i;
    bool has_call = false;
    or_err e = OR_OK;
    json_array_foreach(json_object_get(resp, "output"), i, p)
    {
        if (or_responses_item_to_ir(p, content, &has_call) != 0)
            e = OR_ENOMEM;
    }
    d->has_call |= has_call;
    json_array_foreach(content, i, p)
    {
        const char *type = or_responses_str(p, "type"), *text = or_responses_str(p, "text");
        int idx = d->next_index++;
        json_t *ev = NULL;
        if (text && *text)
            ev = json_pack("{s:s, s:i, s:s}", "type", type, "index", idx, "text", text);
        if (ev && strcmp(type, "thinking") == 0 && json_object_get(p, "id"))
            json_object_set(ev, "id", json_object_get(p, "id"));
        if (strcmp(type, "tool_call") == 0)
            ev = json_pack("{s:s, s:i, s:O, s:O}", "type", "tool_call", "index", idx, "id",
                           json_object_get(p, "id"), "name", json_object_get(p, "name"));
        if (e == OR_OK && ev)
            e = push(out, ev);
        else
            json_decref(ev);
        if (e == OR_OK && strcmp(type, "tool_call") == 0)
            e = push(out, json_pack("{s:s, s:i, s:O}", "type", "tool_args", "index", idx,
                                    "arguments", json_object_get(p, "arguments")));
        const char *enc = or_responses_str(p, "encrypted_content");
        if (e == OR_OK && enc)
            e = push(out, json_pack("{s:s, s:i, s:s}", "type", "thinking_signature", "index", idx,
                                    "encrypted_content", enc));
    }
    json_decref(content);
    return e;
}

static or_err finish(or_fmt_dec *d, const json_t *resp, json_t *out)
{
    or_err e = OR_OK;
    if (!d->any_content && json_array_size(json_object_get(resp, "output")))
        e = replay_output(d, resp, out);
    json_t *usage = or_responses_usage_to_ir(json_object_get(resp, "usage"));
    if (e == OR_OK && usage)
        e = push(out, json_pack("{s:s, s:o}", "type", "usage", "usage", usage));
    else
        json_decref(usage);
    const char *reason = or_responses_str(json_object_get(resp, "incomplete_details"), "reason");
    const char *stop =
        or_responses_stop_to_ir(or_responses_str(resp, "status"), reason, d->has_call);
    if (e == OR_OK)
        e = push(out, json_pack("{s:s, s:s}", "type", "stop", "stop_reason", stop));
    if (e == OR_OK)
        e = push(out, json_pack("{s:s}", "type", "done"));
    d->finished = true;
    return e;
}

static or_err fail(or_fmt_dec *d, json_t *err, json_t *out)
{
    d->finished = true;
    if (!err || or_responses_set(err, "type", json_string("error")) != 0) {
        json_decref(err);
        return OR_ENOMEM;
    }
    or_err e = push(out, err);
    if (e == OR_OK)
        e = push(out, json_pack("{s:s}", "type", "done"));
    return e;
}

or_err or_responses_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                              json_t *out, or_errbuf *eb)
{
    static const char *const text_deltas[] = {"response.output_text.delta",
                                              "response.refusal.delta"};
    static const char *const think_deltas[] = {"response.reasoning_summary_text.delta",
                                               "response.reasoning_text.delta"};
    or_err e = OR_OK;
    if (d->finished || !data)
        return OR_OK;
    /* Non-JSON data ([DONE], keep-alives) carries nothing; a stream that never completes is
     * reported by dec_end. */
    json_t *ev = or_json_loadb(data, len, 0, NULL);
    if (!json_is_object(ev))
        goto out;
    const char *type = or_responses_str(ev, "type");
    if (!type)
        type = event;
    if (!type)
        goto out;
    json_t *resp = json_object_get(ev, "response");
    const char *delta = or_responses_str(ev, "delta");
    dslot *s = NULL;
    bool is_text = false, is_think = false;
    for (size_t i = 0; i < 2; i++) {
        is_text |= strcmp(type, text_deltas[i]) == 0;
        is_think |= strcmp(type, think_deltas[i]) == 0;
    }
    if (strcmp(type, "response.failed") == 0 || strcmp(type, "error") == 0) {
        e = fail(d, or_responses_error_to_ir(0, ev), out);
        goto out;
    }
    if ((e = start(d, resp, out)) != OR_OK)
        goto out;
    if (strcmp(type, "response.completed") == 0 || strcmp(type, "response.incomplete") == 0) {
        e = finish(d, resp, out);
        goto out;
    }
    bool on_item = strncmp(type, "response.output_item.", 21) == 0 || is_text || is_think ||
                   strncmp(type, "response.function_call_arguments.", 33) == 0;
    if (!on_item)
        goto out; /* created, in_progress, content_part.*, *.done summaries: nothing new */
    if ((e = slot_for(d, ev, &s, eb)) != OR_OK)
        goto out;
    if (strcmp(type, "response.output_item.added") == 0) {
        e = on_item_added(d, s, ev, out, eb);
    } else if (strcmp(type, "response.output_item.done") == 0) {
        e = on_item_done(d, s, ev, out, eb);
    } else if (is_text && delta) {
        s->got_delta = true;
        e = emit_text(d, s, "text", delta, NULL, out);
    } else if (is_think && delta) {
        /* Summary parts are separate paragraphs of one thinking block. */
        json_t *si = json_object_get(ev, "summary_index");
        long idx = json_is_integer(si) ? (long)json_integer_value(si) : s->summary;
        if (s->summary >= 0 && idx != s->summary && *delta)
            e = emit_text(d, s, "thinking", "\n\n", NULL, out);
        s->summary = idx < 0 ? 0 : idx;
        s->got_delta = true;
        if (e == OR_OK)
            e = emit_text(d, s, "thinking", delta, s->item_id, out);
    } else if (strcmp(type, "response.function_call_arguments.delta") == 0 && delta) {
        e = call_args(d, s, delta, strlen(delta), out, eb);
    } else if (strcmp(type, "response.function_call_arguments.done") == 0) {
        const char *args = or_responses_str(ev, "arguments");
        e = take_call_fields(s, ev);
        if (e == OR_OK && !s->got_delta && args && *args)
            e = call_args(d, s, args, strlen(args), out, eb);
        if (e == OR_OK)
            e = name_call(d, s, out);
    }
out:
    json_decref(ev);
    return e;
}

or_err or_responses_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb)
{
    (void)eb;
    if (d->finished)
        return OR_OK;
    /* Without response.completed the answer may be cut anywhere: Codex itself treats this as
     * a disconnect, so the client hears an error, not a clean stop. */
    return fail(
        d, or_responses_ir_error(502, "api_error", "upstream stream ended before completion", NULL),
        out);
}

/* ======================================================================== encoder */

#define ENC_MAX_TEXT (32u * 1024u * 1024u) /* text + arguments kept for response.completed */

typedef struct {
    int kind;
    int index; /* IR block index */
    bool open;
    bool summary_part; /* a reasoning item announced its summary part */
    char id[160];
    char *call_id, *name;
    or_buf text; /* message text, reasoning summary or call arguments so far */
    json_t *sig; /* reasoning: {encrypted_content} or {signature}, for the final item */
} eitem;

struct or_fmt_enc {
    char *base;  /* item ids are <prefix>_<base>_<n> */
    char *model; /* from opts; else the start event's */
    char *resp_id;
    long long created;
    long long seq;
    bool started, finished, has_call;
    eitem *items; /* by output_index */
    size_t n;
    int cur; /* output_index of the open item, -1 if none */
    json_t *usage;
    char *stop;
    size_t kept; /* bytes in all item buffers */
};

or_fmt_enc *or_responses_enc_new(const or_fmt_opts *o)
{
    or_fmt_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cur = -1;
    e->created = o ? o->created : 0;
    e->base = strdup(o && o->id && *o->id ? o->id : "0");
    e->model = dup_or_null(o ? o->model : NULL);
    if (!e->base || (o && o->model && !e->model)) {
        or_responses_enc_free(e);
        return NULL;
    }
    /* The response id waits for the start event, which may carry the upstream's. */
    return e;
}

void or_responses_enc_free(or_fmt_enc *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].call_id);
        free(e->items[i].name);
        or_buf_free(&e->items[i].text);
        json_decref(e->items[i].sig);
    }
    free(e->items);
    free(e->base);
    free(e->model);
    free(e->resp_id);
    json_decref(e->usage);
    free(e->stop);
    free(e);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return or_buf_append(data, buf, size) == OR_OK ? 0 : -1;
}

/* Writes `event: <type>` + data {type, sequence_number, …fields}; takes `fields`. */
static or_err sse(or_fmt_enc *e, or_buf *out, const char *type, json_t *fields)
{
    json_t *o = json_pack("{s:s, s:I}", "type", type, "sequence_number", (json_int_t)e->seq);
    or_err err = OR_OK;
    if (!o || !fields || json_object_update(o, fields) != 0) {
        err = OR_ENOMEM;
        goto out;
    }
    e->seq++;
    size_t mark = out->len;
    if ((err = or_buf_printf(out, "event: %s\ndata: ", type)) != OR_OK ||
        json_dump_callback(o, dump_cb, out, JSON_COMPACT) != 0 ||
        (err = or_buf_puts(out, "\n\n")) != OR_OK) {
        out->len = mark; /* never half an event */
        if (out->data)
            out->data[mark] = '\0';
        if (err == OR_OK)
            err = OR_ETOOBIG;
    }
out:
    json_decref(o);
    json_decref(fields);
    return err;
}

/* The item as output_item.done and response.completed show it. */
static json_t *final_item(const eitem *it)
{
    const char *text = it->text.data ? it->text.data : "";
    if (it->kind == K_MSG)
        return json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s%, s:[]}]}", "id", it->id, "type",
                         "message", "status", "completed", "role", "assistant", "content", "type",
                         "output_text", "text", text, it->text.len, "annotations");
    if (it->kind == K_CALL)
        return json_pack("{s:s, s:s, s:s, s:s%, s:s, s:s}", "id", it->id, "type", "function_call",
                         "status", "completed", "arguments", it->text.len ? text : "{}",
                         it->text.len ? it->text.len : 2, "call_id", it->call_id, "name", it->name);
    return or_responses_reasoning_item(it->id, text, it->sig);
}

static json_t *response_obj(or_fmt_enc *e, const char *status, bool with_output)
{
    json_t *output = json_array();
    int bad = output ? 0 : -1;
    for (size_t i = 0; with_output && !bad && i < e->n; i++)
        if (!e->items[i].open)
            bad |= or_responses_push(output, final_item(&e->items[i]));
    json_t *usage = with_output && e->usage ? or_responses_usage_from_ir(e->usage) : json_null();
    json_t *r = json_pack("{s:s, s:s, s:I, s:s, s:n, s:n, s:s, s:o, s:b, s:o}", "id", e->resp_id,
                          "object", "response", "created_at", (json_int_t)e->created, "status",
                          status, "error", "incomplete_details", "model", e->model ? e->model : "",
                          "output", output, "parallel_tool_calls", 1, "usage", usage);
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

static or_err begin(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    if (e->started)
        return OR_OK;
    const char *id = or_responses_str(ev, "id"), *model = or_responses_str(ev, "model");
    or_fmt_opts o = {.id = e->base};
    e->started = true;
    if (!e->model && model && !(e->model = strdup(model)))
        return OR_ENOMEM;
    if (!(e->resp_id = or_responses_resp_id(id, &o)))
        return OR_ENOMEM;
    or_err err = sse(e, out, "response.created",
                     json_pack("{s:o}", "response", response_obj(e, "in_progress", false)));
    if (err == OR_OK)
        err = sse(e, out, "response.in_progress",
                  json_pack("{s:o}", "response", response_obj(e, "in_progress", false)));
    return err;
}

static or_err close_item(or_fmt_enc *e, size_t oi, or_buf *out)
{
    eitem *it = &e->items[oi];
    const char *text = it->text.data ? it->text.data : "";
    or_err err = OR_OK;
    if (!it->open)
        return OR_OK;
    it->open = false;
    if ((int)oi == e->cur)
        e->cur = -1;
    if (it->kind == K_MSG) {
        err = sse(e, out, "response.output_text.done",
                  json_pack("{s:s, s:i, s:i, s:s%, s:[]}", "item_id", it->id, "output_index",
                            (int)oi, "content_index", 0, "text", text, it->text.len, "logprobs"));
        if (err == OR_OK)
            err = sse(e, out, "response.content_part.done",
                      json_pack("{s:s, s:i, s:i, s:{s:s, s:s%, s:[]}}", "item_id", it->id,
                                "output_index", (int)oi, "content_index", 0, "part", "type",
                                "output_text", "text", text, it->text.len, "annotations"));
    } else if (it->kind == K_REASON && it->summary_part) {
        err = sse(e, out, "response.reasoning_summary_text.done",
                  json_pack("{s:s, s:i, s:i, s:s%}", "item_id", it->id, "output_index", (int)oi,
                            "summary_index", 0, "text", text, it->text.len));
        if (err == OR_OK)
            err = sse(e, out, "response.reasoning_summary_part.done",
                      json_pack("{s:s, s:i, s:i, s:{s:s, s:s%}}", "item_id", it->id, "output_index",
                                (int)oi, "summary_index", 0, "part", "type", "summary_text", "text",
                                text, it->text.len));
    } else if (it->kind == K_CALL) {
        err = sse(e, out, "response.function_call_arguments.done",
                  json_pack("{s:s, s:i, s:s%, s:s}", "item_id", it->id, "output_index", (int)oi,
                            "arguments", it->text.len ? text : "{}",
                            it->text.len ? it->text.len : 2, "name", it->name));
    }
    if (err == OR_OK)
        err = sse(e, out, "response.output_item.done",
                  json_pack("{s:i, s:o}", "output_index", (int)oi, "item", final_item(it)));
    return err;
}

static or_err close_all(or_fmt_enc *e, or_buf *out)
{
    or_err err = OR_OK;
    for (size_t i = 0; i < e->n && err == OR_OK; i++)
        err = close_item(e, i, out);
    return err;
}

/* The latest item for IR block `index` of this kind (open or closed), or NULL. */
static eitem *find_item(or_fmt_enc *e, int index, int kind)
{
    for (size_t i = e->n; i-- > 0;)
        if (e->items[i].index == index && e->items[i].kind == kind)
            return &e->items[i];
    return NULL;
}

/* A new item at the next output_index, announced with output_item.added after the item
 * before is closed: one item streams at a time, as OpenAI does. */
static or_err open_item(or_fmt_enc *e, int kind, const json_t *ev, or_buf *out, eitem **res)
{
    static const char *const prefix[] = {[K_MSG] = "msg", [K_CALL] = "fc", [K_REASON] = "rs"};
    or_err err = OR_OK;
    if (e->cur >= 0 && (err = close_item(e, (size_t)e->cur, out)) != OR_OK)
        return err;
    if (e->n >= MAX_ITEMS)
        return OR_ETOOBIG;
    eitem *ni = realloc(e->items, (e->n + 1) * sizeof *ni);
    if (!ni)
        return OR_ENOMEM;
    e->items = ni;
    size_t oi = e->n++;
    eitem *it = &e->items[oi];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->open = true;
    json_t *idx = json_object_get(ev, "index");
    it->index = json_is_integer(idx) ? (int)json_integer_value(idx) : -1;
    or_buf_init(&it->text, ENC_MAX_TEXT);
    const char *own = kind == K_REASON ? or_responses_str(ev, "id") : NULL;
    if (own && strlen(own) < sizeof it->id)
        snprintf(it->id, sizeof it->id, "%s", own);
    else
        snprintf(it->id, sizeof it->id, "%s_%.120s_%zu", prefix[kind], e->base, oi);
    json_t *item;
    if (kind == K_CALL) {
        const char *cid = or_responses_str(ev, "id"), *name = or_responses_str(ev, "name");
        it->call_id = strdup(cid && *cid ? cid : it->id);
        it->name = strdup(name ? name : "");
        if (!it->call_id || !it->name)
            return OR_ENOMEM;
        item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", it->id, "type", "function_call",
                         "status", "in_progress", "arguments", "", "call_id", it->call_id, "name",
                         it->name);
        e->has_call = true;
        e->cur = (int)oi;
    } else if (kind == K_MSG) {
        item = json_pack("{s:s, s:s, s:s, s:s, s:[]}", "id", it->id, "type", "message", "status",
                         "in_progress", "role", "assistant", "content");
        e->cur = (int)oi;
    } else {
        item = json_pack("{s:s, s:s, s:[]}", "id", it->id, "type", "reasoning", "summary");
        e->cur = (int)oi;
    }
    err = sse(e, out, "response.output_item.added",
              json_pack("{s:i, s:o}", "output_index", (int)oi, "item", item));
    if (err == OR_OK && kind == K_MSG)
        err = sse(e, out, "response.content_part.added",
                  json_pack("{s:s, s:i, s:i, s:{s:s, s:s, s:[]}}", "item_id", it->id,
                            "output_index", (int)oi, "content_index", 0, "part", "type",
                            "output_text", "text", "", "annotations"));
    *res = it;
    return err;
}

static or_err keep(or_fmt_enc *e, eitem *it, const char *s, size_t len)
{
    if (e->kept + len > ENC_MAX_TEXT || or_buf_append(&it->text, s, len) != OR_OK)
        return OR_ETOOBIG;
    e->kept += len;
    return OR_OK;
}

static or_err on_text(or_fmt_enc *e, const json_t *ev, or_buf *out, int kind)
{
    json_t *t = json_object_get(ev, "text");
    const char *s = json_string_value(t);
    size_t len = json_string_length(t);
    eitem *it = find_item(e, (int)json_integer_value(json_object_get(ev, "index")), kind);
    or_err err = OR_OK;
    if (!s || !len)
        return OR_OK;
    if (!it || !it->open)
        err = open_item(e, kind, ev, out, &it);
    if (err == OR_OK && kind == K_REASON && !it->summary_part) {
        it->summary_part = true;
        err = sse(e, out, "response.reasoning_summary_part.added",
                  json_pack("{s:s, s:i, s:i, s:{s:s, s:s}}", "item_id", it->id, "output_index",
                            (int)(it - e->items), "summary_index", 0, "part", "type",
                            "summary_text", "text", ""));
    }
    if (err == OR_OK)
        err = keep(e, it, s, len);
    if (err != OR_OK)
        return err;
    if (kind == K_MSG)
        return sse(e, out, "response.output_text.delta",
                   json_pack("{s:s, s:i, s:i, s:s%, s:[]}", "item_id", it->id, "output_index",
                             (int)(it - e->items), "content_index", 0, "delta", s, len,
                             "logprobs"));
    return sse(e, out, "response.reasoning_summary_text.delta",
               json_pack("{s:s, s:i, s:i, s:s%}", "item_id", it->id, "output_index",
                         (int)(it - e->items), "summary_index", 0, "delta", s, len));
}

static or_err on_signature(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    eitem *it = find_item(e, (int)json_integer_value(json_object_get(ev, "index")), K_REASON);
    const char *enc = or_responses_str(ev, "encrypted_content");
    const char *sig = or_responses_str(ev, "signature");
    or_err err = OR_OK;
    if (!enc && !sig)
        return OR_OK;
    /* Reasoning without summary text gets an item of its own; a signature arriving after its
     * item closed still reaches response.completed. */
    if (!it && (err = open_item(e, K_REASON, ev, out, &it)) != OR_OK)
        return err;
    json_decref(it->sig);
    it->sig =
        enc ? json_pack("{s:s}", "encrypted_content", enc) : json_pack("{s:s}", "signature", sig);
    return it->sig ? OR_OK : OR_ENOMEM;
}

static or_err on_tool_call(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    eitem *it;
    if (find_item(e, (int)json_integer_value(json_object_get(ev, "index")), K_CALL))
        return OR_OK; /* announced already */
    return open_item(e, K_CALL, ev, out, &it);
}

static or_err on_tool_args(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    json_t *a = json_object_get(ev, "arguments");
    eitem *it = find_item(e, (int)json_integer_value(json_object_get(ev, "index")), K_CALL);
    size_t len = json_string_length(a);
    if (!it || !json_is_string(a) || !len)
        return OR_OK;
    /* Arguments for a call already closed (deltas of parallel calls interleaving) are still
     * sent against its output_index: the SDK accumulates them and response.completed carries
     * the whole arguments. */
    or_err err = keep(e, it, json_string_value(a), len);
    if (err == OR_OK)
        err = sse(e, out, "response.function_call_arguments.delta",
                  json_pack("{s:s, s:i, s:s%}", "item_id", it->id, "output_index",
                            (int)(it - e->items), "delta", json_string_value(a), len));
    return err;
}

static or_err on_usage(or_fmt_enc *e, const json_t *ev)
{
    json_t *u = json_object_get(ev, "usage");
    if (!json_is_object(u))
        return OR_OK;
    json_decref(e->usage);
    e->usage = json_deep_copy(u);
    return e->usage ? OR_OK : OR_ENOMEM;
}

static or_err on_stop(or_fmt_enc *e, const json_t *ev)
{
    const char *s = or_responses_str(ev, "stop_reason");
    if (!s)
        return OR_OK;
    free(e->stop);
    e->stop = strdup(s);
    return e->stop ? OR_OK : OR_ENOMEM;
}

static or_err failed(or_fmt_enc *e, const char *code, const char *message, or_buf *out)
{
    json_t *r = response_obj(e, "failed", true);
    e->finished = true;
    if (r && or_responses_set(r, "error",
                              json_pack("{s:s, s:s}", "code", code, "message",
                                        message ? message : "upstream error")) != 0) {
        json_decref(r);
        r = NULL;
    }
    return sse(e, out, "response.failed", json_pack("{s:o}", "response", r));
}

static or_err on_done(or_fmt_enc *e, or_buf *out)
{
    const char *reason = NULL;
    const char *stop = e->stop ? e->stop : e->has_call ? "tool_calls" : "stop";
    const char *status = or_responses_status_from_stop(stop, &reason);
    or_err err = close_all(e, out);
    if (err != OR_OK)
        return err;
    if (strcmp(status, "failed") == 0)
        return failed(e, "server_error", "the upstream stopped with an error", out);
    e->finished = true;
    json_t *r = response_obj(e, status, true);
    if (r && reason &&
        or_responses_set(r, "incomplete_details", json_pack("{s:s}", "reason", reason)) != 0) {
        json_decref(r);
        r = NULL;
    }
    return sse(e, out, reason ? "response.incomplete" : "response.completed",
               json_pack("{s:o}", "response", r));
}

or_err or_responses_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    const char *type = or_responses_str(ev, "type");
    or_err err;
    if (e->finished || !type)
        return OR_OK;
    if ((err = begin(e, ev, out)) != OR_OK || strcmp(type, "start") == 0)
        return err;
    if (strcmp(type, "text") == 0)
        return on_text(e, ev, out, K_MSG);
    if (strcmp(type, "thinking") == 0)
        return on_text(e, ev, out, K_REASON);
    if (strcmp(type, "thinking_signature") == 0)
        return on_signature(e, ev, out);
    if (strcmp(type, "tool_call") == 0)
        return on_tool_call(e, ev, out);
    if (strcmp(type, "tool_args") == 0)
        return on_tool_args(e, ev, out);
    if (strcmp(type, "usage") == 0)
        return on_usage(e, ev);
    if (strcmp(type, "stop") == 0)
        return on_stop(e, ev);
    if (strcmp(type, "done") == 0)
        return on_done(e, out);
    if (strcmp(type, "error") == 0) {
        /* Codex treats response.failed as a dropped stream and retries; the openai SDK raises
         * it as an error. Either way it is never mistaken for the answer. */
        const char *et = or_responses_str(ev, "error_type");
        const char *code = or_responses_str(ev, "code");
        return failed(e, code ? code : or_responses_code_from_type(et),
                      or_responses_str(ev, "message"), out);
    }
    return OR_OK; /* tool_signature and unknown events have no Responses form */
}
