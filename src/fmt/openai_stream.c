/* OpenAI Chat Completions streams: chat.completion.chunk events → IR events (decoder) and IR
 * events → `data: {chunk}` frames (encoder). */
#include "fmt/openai_internal.h"
#include "core/json_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_NONE, K_TEXT, K_THINK, K_TOOL };

/* ---- decoder ---- */

/* One upstream tool call, keyed by its delta index. Arguments are held back until the name is
 * known, because some upstreams (GLM) send the id, the name and the arguments separately. */
typedef struct {
    json_int_t oa_index;
    int ir_index; /* -1 until the IR tool_call was emitted */
    json_t *id, *name;
    or_buf args;
} dtool;

struct or_fmt_dec {
    dtool *tools;
    size_t ntools, cap;
    size_t pending;   /* bytes buffered across all nameless calls */
    json_t *usage;    /* IR usage, the latest reported */
    const char *stop; /* IR stop reason once finish_reason was seen */
    int next_index, open_kind, open_index, emitted_tools;
    bool started, finished;
};

or_fmt_dec *or_openai_stream_dec_new(void)
{
    return calloc(1, sizeof(or_fmt_dec));
}

void or_openai_stream_dec_free(or_fmt_dec *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->ntools; i++) {
        json_decref(d->tools[i].id);
        json_decref(d->tools[i].name);
        or_buf_free(&d->tools[i].args);
    }
    free(d->tools);
    json_decref(d->usage);
    free(d);
}

static or_err emit(json_t *out, json_t *ev)
{
    return push(out, ev);
}

static or_err text_event(or_fmt_dec *d, int kind, json_t *text, json_t *out)
{
    if (d->open_kind != kind) {
        d->open_kind = kind;
        d->open_index = d->next_index++;
    }
    return emit(out, json_pack("{s:s,s:i,s:O}", "type", kind == K_TEXT ? "text" : "thinking",
                               "index", d->open_index, "text", text));
}

static or_err emit_tool(or_fmt_dec *d, dtool *t, json_t *out)
{
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "call_%d", d->emitted_tools + 1);
    t->ir_index = d->next_index++;
    d->open_kind = K_TOOL;
    d->emitted_tools++;
    or_err e =
        emit(out, json_pack("{s:s,s:i,s:s,s:O}", "type", "tool_call", "index", t->ir_index, "id",
                            t->id ? json_string_value(t->id) : idbuf, "name", t->name));
    if (e == OR_OK && t->args.len)
        e = emit(out, json_pack("{s:s,s:i,s:s%}", "type", "tool_args", "index", t->ir_index,
                                "arguments", t->args.data, t->args.len));
    d->pending -= t->args.len;
    or_buf_free(&t->args);
    or_buf_init(&t->args, OR_OPENAI_MAX_TOOL_ARGS);
    return e;
}

static dtool *find_tool(or_fmt_dec *d, const json_t *jidx, const json_t *id, const json_t *name)
{
    if (json_is_integer(jidx)) {
        for (size_t i = d->ntools; i-- > 0;) {
            dtool *t = &d->tools[i];
            if (t->oa_index != json_integer_value(jidx))
                continue;
            /* A named call with a new id on a used index is a new call (lenient upstreams
             * number every call 0). */
            if (id && name && t->id && !json_equal(t->id, id))
                return NULL;
            return t;
        }
        return NULL;
    }
    /* No index at all: match by id, else continue the latest call. */
    for (size_t i = 0; id && i < d->ntools; i++)
        if (d->tools[i].id && json_equal(d->tools[i].id, id))
            return &d->tools[i];
    return !id && d->ntools ? &d->tools[d->ntools - 1] : NULL;
}

static or_err tool_delta(or_fmt_dec *d, const json_t *item, json_t *out, or_errbuf *eb)
{
    const json_t *jidx = json_object_get(item, "index"), *fn = json_object_get(item, "function");
    json_t *id = json_object_get(item, "id"), *name = json_object_get(fn, "name");
    json_t *args = json_object_get(fn, "arguments");
    if (!json_is_string(id) || !json_string_length(id))
        id = NULL;
    if (!json_is_string(name) || !json_string_length(name))
        name = NULL;
    dtool *t = find_tool(d, jidx, id, name);
    if (!t) {
        if (d->ntools >= OR_OPENAI_MAX_TOOLS)
            return or_fail(eb, OR_ETOOBIG, "stream: more than %d tool calls", OR_OPENAI_MAX_TOOLS);
        if (d->ntools == d->cap) {
            size_t ncap = d->cap ? d->cap * 2 : 4;
            dtool *n = realloc(d->tools, ncap * sizeof *n);
            if (!n)
                return OR_ENOMEM;
            d->tools = n;
            d->cap = ncap;
        }
        t = &d->tools[d->ntools++];
        *t = (dtool){.oa_index = json_is_integer(jidx) ? json_integer_value(jidx)
                                                       : (json_int_t)d->ntools - 1,
                     .ir_index = -1};
        or_buf_init(&t->args, OR_OPENAI_MAX_TOOL_ARGS);
    }
    if (id && !t->id)
        t->id = json_incref(id);
    if (name && !t->name)
        t->name = json_incref(name);

    or_err e = OR_OK;
    json_t *a = NULL;
    if (json_is_string(args))
        a = json_incref(args);
    else if (args && !json_is_null(args)) /* an object, from lenient upstreams */
        a = or_openai_resp_args_string(args);
    if (a && json_string_length(a)) {
        if (t->ir_index >= 0) {
            e = emit(out, json_pack("{s:s,s:i,s:O}", "type", "tool_args", "index", t->ir_index,
                                    "arguments", a));
        } else if (d->pending + json_string_length(a) > OR_OPENAI_MAX_PENDING ||
                   or_buf_append(&t->args, json_string_value(a), json_string_length(a)) != OR_OK) {
            e = or_fail(eb, OR_ETOOBIG,
                        "stream: tool call arguments before its name exceed the cap");
        } else {
            d->pending += json_string_length(a);
        }
    }
    json_decref(a);
    if (e == OR_OK && t->name && t->ir_index < 0)
        e = emit_tool(d, t, out);
    return e;
}

static or_err delta_events(or_fmt_dec *d, const json_t *delta, json_t *out, or_errbuf *eb)
{
    json_t *r = json_object_get(delta, "reasoning_content");
    if (!json_is_string(r) || !json_string_length(r))
        r = json_object_get(delta, "reasoning");
    json_t *c = json_object_get(delta, "content");
    or_err e = OR_OK;
    if (json_is_string(r) && json_string_length(r) && (e = text_event(d, K_THINK, r, out)))
        return e;
    if (json_is_string(c) && json_string_length(c) && (e = text_event(d, K_TEXT, c, out)))
        return e;
    size_t i, j;
    json_t *item, *t;
    /* Mistral's reasoning models stream content as parts: text, and thinking holding text. */
    json_array_foreach(c, i, item)
    {
        const char *type = str(item, "type");
        bool think = type && strcmp(type, "thinking") == 0;
        json_t *list = think ? json_object_get(item, "thinking") : NULL;
        if (think && json_is_string(list) && json_string_length(list))
            e = text_event(d, K_THINK, list, out);
        json_array_foreach(list, j, t)
        {
            json_t *text = json_object_get(t, "text");
            if (e == OR_OK && json_is_string(text) && json_string_length(text))
                e = text_event(d, K_THINK, text, out);
        }
        json_t *text = json_object_get(item, "text");
        if (e == OR_OK && type && strcmp(type, "text") == 0 && json_is_string(text) &&
            json_string_length(text))
            e = text_event(d, K_TEXT, text, out);
        if (e != OR_OK)
            return e;
    }
    json_array_foreach(json_object_get(delta, "tool_calls"), i, item)
    {
        if (json_is_object(item) && (e = tool_delta(d, item, out, eb)) != OR_OK)
            return e;
    }
    return OR_OK;
}

static or_err finish(or_fmt_dec *d, json_t *out)
{
    or_err e = OR_OK;
    d->finished = true;
    if (!d->started)
        e = emit(out, json_pack("{s:s}", "type", "start"));
    if (e == OR_OK && d->usage)
        e = emit(out, json_pack("{s:s,s:O}", "type", "usage", "usage", d->usage));
    const char *stop = d->stop ? d->stop : "stop";
    if (strcmp(stop, "stop") == 0 && d->emitted_tools)
        stop = "tool_calls";
    if (e == OR_OK)
        e = emit(out, json_pack("{s:s,s:s}", "type", "stop", "stop_reason", stop));
    return e != OR_OK ? e : emit(out, json_pack("{s:s}", "type", "done"));
}

static or_err fail_stream(or_fmt_dec *d, json_t *err, json_t *out)
{
    d->finished = true;
    if (!err || put(err, "type", json_string("error")) != OR_OK) {
        json_decref(err);
        return OR_ENOMEM;
    }
    or_err e = emit(out, err);
    return e != OR_OK ? e : emit(out, json_pack("{s:s}", "type", "done"));
}

static or_err chunk_events(or_fmt_dec *d, const char *event, const json_t *j, json_t *out,
                           or_errbuf *eb)
{
    or_err e;
    const json_t *choices = json_object_get(j, "choices");
    if ((event && strcmp(event, "error") == 0) ||
        (json_object_get(j, "error") && !json_is_null(json_object_get(j, "error")) &&
         !json_array_size(choices)))
        return fail_stream(d, or_openai_resp_error_to_ir(0, j), out);
    if (!d->started) {
        json_t *st = json_pack("{s:s}", "type", "start");
        static const char *const keys[] = {"id", "model"};
        for (size_t i = 0; st && i < 2; i++) {
            json_t *v = json_object_get(j, keys[i]);
            if (json_is_string(v) && put(st, keys[i], json_incref(v)) != OR_OK) {
                json_decref(st);
                st = NULL;
            }
        }
        if ((e = emit(out, st)) != OR_OK)
            return e;
        d->started = true;
    }
    const json_t *u = json_object_get(j, "usage");
    if (!json_is_object(u)) /* Groq's older place for it */
        u = json_object_get(json_object_get(j, "x_groq"), "usage");
    if (json_is_object(u)) {
        json_decref(d->usage);
        if (!(d->usage = or_openai_resp_usage_to_ir(u)))
            return OR_ENOMEM;
    }
    size_t i;
    json_t *ch;
    json_array_foreach(choices, i, ch)
    {
        const json_t *idx = json_object_get(ch, "index");
        if (json_is_integer(idx) && json_integer_value(idx) != 0)
            continue; /* n > 1: the IR carries the first choice only */
        if ((e = delta_events(d, json_object_get(ch, "delta"), out, eb)) != OR_OK)
            return e;
        const char *fr = str(ch, "finish_reason");
        if (fr)
            d->stop = or_openai_resp_stop_to_ir(fr);
    }
    return OR_OK;
}

or_err or_openai_stream_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                                  json_t *out, or_errbuf *eb)
{
    if (d->finished)
        return OR_OK;
    while (len && isspace((unsigned char)data[0])) {
        data++;
        len--;
    }
    while (len && isspace((unsigned char)data[len - 1]))
        len--;
    if (!len)
        return OR_OK;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return finish(d, out);
    json_error_t je;
    json_t *j = or_json_loadb(data, len, 0, &je);
    if (!j)
        return or_fail(eb, OR_EUPSTREAM, "stream chunk is not JSON: %.100s", je.text);
    or_err e = json_is_object(j) ? chunk_events(d, event, j, out, eb)
                                 : or_fail(eb, OR_EUPSTREAM, "stream chunk: expected an object");
    json_decref(j);
    return e;
}

or_err or_openai_stream_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb)
{
    (void)eb;
    if (d->finished)
        return OR_OK;
    /* A finish_reason without [DONE] is a complete answer from a sloppy upstream; without
     * either, the connection was cut and the gateway must know. */
    if (d->stop)
        return finish(d, out);
    return fail_stream(d,
                       json_pack("{s:i,s:s,s:s}", "status", 502, "error_type", "api_error",
                                 "message", "upstream stream ended before completion"),
                       out);
}

/* ---- encoder ---- */

struct or_fmt_enc {
    char *id, *model;
    long long created;
    json_t *usage; /* OpenAI-shaped, sent just before [DONE] */
    int *tool_ir;  /* IR index of each tool call, by its position */
    size_t ntool, cap;
    bool include_usage, role_sent, stop_sent, done, emitted;
};

or_fmt_enc *or_openai_stream_enc_new(const or_fmt_opts *o)
{
    or_fmt_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->id = strdup(o && o->id ? o->id : "chatcmpl-omniroute");
    e->model = o && o->model ? strdup(o->model) : NULL;
    e->created = o ? o->created : 0;
    e->include_usage = o && o->include_usage;
    if (!e->id || (o && o->model && !e->model)) {
        or_openai_stream_enc_free(e);
        return NULL;
    }
    return e;
}

void or_openai_stream_enc_free(or_fmt_enc *e)
{
    if (!e)
        return;
    free(e->id);
    free(e->model);
    free(e->tool_ir);
    json_decref(e->usage);
    free(e);
}

static or_err frame(json_t *j, or_buf *out)
{
    if (!j)
        return OR_ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return OR_ENOMEM;
    or_err err = or_buf_printf(out, "data: %s\n\n", s);
    free(s);
    return err;
}

static json_t *envelope(or_fmt_enc *e)
{
    return json_pack("{s:s,s:s,s:I,s:s}", "id", e->id, "object", "chat.completion.chunk", "created",
                     (json_int_t)e->created, "model", e->model ? e->model : "");
}

/* One chunk of choice 0; `delta` is stolen. The first chunk says who is speaking. */
static or_err chunk(or_fmt_enc *e, json_t *delta, const char *finish, or_buf *out)
{
    json_t *d = delta;
    if (d && !e->role_sent) {
        d = json_pack("{s:s}", "role", "assistant");
        if (d && json_object_update(d, delta)) {
            json_decref(d);
            d = NULL;
        }
        json_decref(delta);
    }
    json_t *c = envelope(e);
    if (!d || !c ||
        put(c, "choices",
            json_pack("[{s:i,s:o,s:o}]", "index", 0, "delta", d, "finish_reason",
                      finish ? json_string(finish) : json_null()))) {
        json_decref(c);
        return OR_ENOMEM;
    }
    e->role_sent = true;
    e->emitted = true;
    return frame(c, out);
}

static or_err on_start(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    /* The IR id names the answer unless something was already sent under the gateway's id. */
    const char *id = str(ev, "id"), *model = str(ev, "model");
    char *nid = id && !e->emitted ? strdup(id) : NULL;
    if (nid) {
        free(e->id);
        e->id = nid;
    }
    if (!e->model && model && !(e->model = strdup(model)))
        return OR_ENOMEM;
    if (e->role_sent)
        return OR_OK;
    return chunk(e, json_pack("{s:s}", "content", ""), NULL, out);
}

static or_err on_text(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    json_t *t = json_object_get(ev, "text");
    if (!json_is_string(t) || !json_string_length(t))
        return OR_OK;
    const char *type = str(ev, "type");
    return chunk(e,
                 json_pack("{s:O}", strcmp(type, "text") == 0 ? "content" : "reasoning_content", t),
                 NULL, out);
}

static or_err on_tool_call(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    json_t *id = json_object_get(ev, "id"), *name = json_object_get(ev, "name");
    json_t *index = json_object_get(ev, "index");
    if (!json_is_string(name))
        return OR_OK;
    if (e->ntool == e->cap) {
        if (e->cap >= OR_OPENAI_MAX_TOOLS)
            return OR_ETOOBIG;
        size_t ncap = e->cap ? e->cap * 2 : 4;
        int *n = realloc(e->tool_ir, ncap * sizeof *n);
        if (!n)
            return OR_ENOMEM;
        e->tool_ir = n;
        e->cap = ncap;
    }
    size_t pos = e->ntool++;
    e->tool_ir[pos] = json_is_integer(index) ? (int)json_integer_value(index) : -1;
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "call_%zu", pos + 1);
    return chunk(e,
                 json_pack("{s:[{s:I,s:s,s:s,s:{s:O,s:s}}]}", "tool_calls", "index",
                           (json_int_t)pos, "id",
                           json_is_string(id) ? json_string_value(id) : idbuf, "type", "function",
                           "function", "name", name, "arguments", ""),
                 NULL, out);
}

static or_err on_tool_args(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    json_t *args = json_object_get(ev, "arguments"), *index = json_object_get(ev, "index");
    if (!json_is_string(args) || !json_string_length(args) || !json_is_integer(index))
        return OR_OK;
    for (size_t pos = e->ntool; pos-- > 0;)
        if (e->tool_ir[pos] == json_integer_value(index))
            return chunk(e,
                         json_pack("{s:[{s:I,s:{s:O}}]}", "tool_calls", "index", (json_int_t)pos,
                                   "function", "arguments", args),
                         NULL, out);
    return OR_OK; /* arguments of a call never opened: nothing a client could attach them to */
}

static or_err on_usage(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    (void)out;
    json_t *u = or_openai_resp_usage_from_ir(json_object_get(ev, "usage"));
    if (!u)
        return OR_OK;
    json_decref(e->usage);
    e->usage = u;
    return OR_OK;
}

static or_err on_stop(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    if (e->stop_sent)
        return OR_OK;
    e->stop_sent = true;
    const char *stop = str(ev, "stop_reason");
    if (!stop) /* a stream closed by `done` alone */
        stop = e->ntool ? "tool_calls" : "stop";
    return chunk(e, json_object(), or_openai_resp_stop_from_ir(stop), out);
}

static or_err on_done(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    or_err err = OR_OK;
    if (!e->stop_sent)
        err = on_stop(e, ev, out);
    /* The usage chunk exists only for clients that asked (stream_options.include_usage). */
    if (err == OR_OK && e->usage && e->include_usage) {
        json_t *c = envelope(e);
        if (!c || put(c, "choices", json_array()) || put(c, "usage", json_incref(e->usage))) {
            json_decref(c);
            return OR_ENOMEM;
        }
        err = frame(c, out);
    }
    e->done = true;
    return err != OR_OK ? err : or_buf_puts(out, "data: [DONE]\n\n");
}

static or_err on_error(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    e->done = true;
    or_err err = frame(or_openai_resp_error_from_ir(ev), out);
    return err != OR_OK ? err : or_buf_puts(out, "data: [DONE]\n\n");
}

static const struct {
    const char *type;
    or_err (*fn)(or_fmt_enc *e, const json_t *ev, or_buf *out);
} handlers[] = {
    {"start", on_start},         {"text", on_text},           {"thinking", on_text},
    {"tool_call", on_tool_call}, {"tool_args", on_tool_args}, {"usage", on_usage},
    {"stop", on_stop},           {"done", on_done},           {"error", on_error},
    /* thinking_signature and tool_signature have no place in this format */
};

or_err or_openai_stream_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    const char *type = str(ev, "type");
    if (e->done || !type)
        return OR_OK;
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].type, type) == 0)
            return handlers[i].fn(e, ev, out);
    return OR_OK;
}
