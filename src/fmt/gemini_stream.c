/* Gemini streamGenerateContent: upstream chunk decoder and client-side encoder.
 *
 * Every chunk of a Gemini stream is a whole GenerateContentResponse (SSE `data:` with alt=sse,
 * else one element of a streamed JSON array). Function calls always arrive whole, so the
 * decoder emits tool_call + one tool_args; the encoder, facing IR argument deltas, buffers
 * each call until a non-tool event and then sends it whole. */
#include "fmt/gemini_internal.h"
#include "core/json_parse.h"

#include <stdlib.h>
#include <string.h>

/* ===================================================================== */
/* decoder                                                                */
/* ===================================================================== */

enum { B_NONE, B_TEXT, B_THINKING, B_OTHER };

struct or_fmt_dec {
    bool started, stopped, finished, had_calls;
    int open;       /* kind of the block events currently go to */
    long long idx;  /* its index */
    long long next; /* next block index */
    json_t *usage;  /* last usageMetadata seen, as IR usage */
    char *pending;  /* a bare signature waiting for the call it belongs to */
    or_gemini_ids ids;
};

or_fmt_dec *or_gemini_stream_dec_new(void)
{
    return calloc(1, sizeof(or_fmt_dec));
}

void or_gemini_stream_dec_free(or_fmt_dec *d)
{
    if (!d)
        return;
    json_decref(d->usage);
    free(d->pending);
    free(d);
}

static or_err emit(json_t *out, json_t *ev)
{
    return ev && json_array_append_new(out, ev) == 0 ? OR_OK : OR_ENOMEM;
}

/* The index for content of `kind`: the open block when it is of that kind, else a new one. */
static long long block(or_fmt_dec *d, int kind)
{
    if (d->open != kind || kind == B_OTHER) {
        d->open = kind;
        d->idx = d->next++;
    }
    return d->idx;
}

/* A Gemini signature not on a call becomes an empty thinking block carrying it (the marker the
 * non-stream side produces too). */
static or_err sig_block(or_fmt_dec *d, const char *sig, json_t *out)
{
    long long i = block(d, B_OTHER);
    return emit(out, json_pack("{s:s,s:I,s:s}", "type", "thinking_signature", "index", i,
                               "signature", sig));
}

static or_err flush_pending(or_fmt_dec *d, json_t *out)
{
    if (!d->pending)
        return OR_OK;
    or_err e = sig_block(d, d->pending, out);
    free(d->pending);
    d->pending = NULL;
    return e;
}

static or_err call(or_fmt_dec *d, const json_t *fc, const char *sig, json_t *out)
{
    const char *name = json_string_value(json_object_get(fc, "name"));
    const char *id = json_string_value(json_object_get(fc, "id"));
    char gen[160];
    or_err e;
    if (!name)
        return OR_OK;
    or_gemini_parts_next_id(&d->ids, gen, sizeof gen);
    if (!id || !*id)
        id = gen;
    char *args = or_gemini_parts_args_to_ir(json_object_get(fc, "args"));
    if (!args)
        return OR_ENOMEM;
    long long i = block(d, B_OTHER);
    d->had_calls = true;
    e = emit(out, json_pack("{s:s,s:I,s:s,s:s}", "type", "tool_call", "index", i, "id", id, "name",
                            name));
    if (e == OR_OK)
        e = emit(out,
                 json_pack("{s:s,s:I,s:s}", "type", "tool_args", "index", i, "arguments", args));
    free(args);
    if (e == OR_OK && !sig && d->pending) {
        e = emit(out, json_pack("{s:s,s:I,s:s}", "type", "tool_signature", "index", i, "signature",
                                d->pending));
        free(d->pending);
        d->pending = NULL;
    } else if (e == OR_OK && sig) {
        e = emit(out, json_pack("{s:s,s:I,s:s}", "type", "tool_signature", "index", i, "signature",
                                sig));
    }
    return e;
}

static or_err text(or_fmt_dec *d, const json_t *p, const json_t *t, const char *sig, json_t *out)
{
    size_t len = json_string_length(t);
    bool thought = json_is_true(json_object_get(p, "thought"));
    or_err e;
    if (!thought && len == 0) {
        if (!sig)
            return OR_OK;
        if ((e = flush_pending(d, out)) != OR_OK)
            return e;
        return (d->pending = strdup(sig)) ? OR_OK : OR_ENOMEM;
    }
    if ((e = flush_pending(d, out)) != OR_OK)
        return e;
    if (!thought && sig && (e = sig_block(d, sig, out)) != OR_OK)
        return e;
    if (len > 0) {
        long long i = block(d, thought ? B_THINKING : B_TEXT);
        e = emit(out, json_pack("{s:s,s:I,s:s%}", "type", thought ? "thinking" : "text", "index", i,
                                "text", json_string_value(t), len));
        if (e != OR_OK)
            return e;
    }
    return thought && sig ? sig_block(d, sig, out) : OR_OK;
}

static or_err finish(or_fmt_dec *d, const char *stop, json_t *out)
{
    or_err e = flush_pending(d, out);
    if (e == OR_OK && d->usage)
        e = emit(out, json_pack("{s:s,s:O}", "type", "usage", "usage", d->usage));
    if (e == OR_OK)
        e = emit(out, json_pack("{s:s,s:s}", "type", "stop", "stop_reason", stop));
    d->stopped = true;
    return e;
}

static or_err chunk(or_fmt_dec *d, const json_t *c, json_t *out, or_errbuf *eb)
{
    or_err e = OR_OK;
    size_t i;
    const json_t *p;
    if (!json_is_object(c))
        return or_fail(eb, OR_EUPSTREAM, "gemini stream: a chunk is not a JSON object");
    if (json_object_get(c, "error")) {
        json_t *ev = or_gemini_resp_error_to_ir(0, c);
        if (ev && json_object_set_new(ev, "type", json_string("error")) != 0) {
            json_decref(ev);
            ev = NULL;
        }
        d->finished = true;
        if ((e = emit(out, ev)) == OR_OK)
            e = emit(out, json_pack("{s:s}", "type", "done"));
        return e;
    }
    const json_t *rid = json_object_get(c, "responseId");
    if (!d->started) {
        const json_t *model = json_object_get(c, "modelVersion");
        json_t *ev = json_pack("{s:s}", "type", "start");
        if (ev && json_is_string(rid))
            json_object_set(ev, "id", (json_t *)rid);
        if (ev && json_is_string(model))
            json_object_set(ev, "model", (json_t *)model);
        if ((e = emit(out, ev)) != OR_OK)
            return e;
        or_gemini_parts_ids_init(&d->ids, json_string_value(rid));
        d->started = true;
    }
    if (d->stopped)
        return OR_OK; /* Gemini sends nothing after the finish; ignore if something does */
    const json_t *cand = json_array_get(json_object_get(c, "candidates"), 0);
    json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, p)
    {
        if (!json_is_object(p))
            continue;
        const char *sig = json_string_value(or_gemini_parts_get(p, "thoughtSignature"));
        const json_t *fc = or_gemini_parts_get(p, "functionCall");
        const json_t *t = json_object_get(p, "text");
        if (sig && !*sig)
            sig = NULL;
        if (json_is_object(fc))
            e = call(d, fc, sig, out);
        else if (json_is_string(t))
            e = text(d, p, t, sig, out);
        else if (sig && (e = flush_pending(d, out)) == OR_OK)
            e = (d->pending = strdup(sig)) ? OR_OK : OR_ENOMEM;
        if (e != OR_OK)
            return e;
    }
    json_t *u = or_gemini_parts_usage_to_ir(json_object_get(c, "usageMetadata"));
    if (u) {
        json_decref(d->usage);
        d->usage = u;
    }
    const char *reason = json_string_value(json_object_get(cand, "finishReason"));
    if (reason)
        return finish(d, or_gemini_parts_finish_to_ir(reason, d->had_calls), out);
    if (!cand &&
        json_string_value(json_object_get(json_object_get(c, "promptFeedback"), "blockReason")))
        return finish(d, "content_filter", out);
    return OR_OK;
}

or_err or_gemini_stream_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                                  json_t *out, or_errbuf *eb)
{
    json_error_t jerr;
    (void)event;
    if (d->finished)
        return OR_OK;
    /* Tolerate the JSON-array framing around an element ("[", ",", "]"). */
    while (len && strchr(" \t\r\n[,", *data)) {
        data++;
        len--;
    }
    while (len && strchr(" \t\r\n],", data[len - 1]))
        len--;
    if (len == 0)
        return OR_OK;
    json_t *v = or_json_loadb(data, len, 0, &jerr);
    if (!v)
        return or_fail(eb, OR_EUPSTREAM, "gemini stream: bad JSON chunk: %s", jerr.text);
    or_err e = chunk(d, v, out, eb);
    json_decref(v);
    return e;
}

or_err or_gemini_stream_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb)
{
    or_err e = OR_OK;
    (void)eb;
    if (d->finished)
        return OR_OK;
    /* Gemini always ends with a finishReason: without one the stream was cut, and the client
     * must see a failure, not a normal end (Gemini CLI would print the partial answer as if
     * complete). */
    if (!d->stopped)
        e = emit(out, json_pack("{s:s,s:i,s:s,s:s}", "type", "error", "status", 502, "error_type",
                                "api_error", "message", "upstream stream ended before completion"));
    if (e == OR_OK)
        e = emit(out, json_pack("{s:s}", "type", "done"));
    d->finished = true;
    return e;
}

/* ===================================================================== */
/* encoder                                                                */
/* ===================================================================== */

#define MAX_PENDING_CALLS 256

typedef struct {
    long long index;
    char *id, *name, *sig;
    or_buf args;
} pending_call;

struct or_fmt_enc {
    bool sse;
    bool wrote;  /* a chunk went out (array framing: "[" already written) */
    bool ended;  /* the final chunk or an error went out */
    bool closed; /* done: nothing more is written */
    char *model, *id;
    json_t *usage;         /* IR usage, for the final chunk */
    long long thought_idx; /* index of the last thinking block that had text, else -1 */
    pending_call *calls;
    size_t ncalls;
    size_t buffered; /* argument bytes across pending calls */
};

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

or_fmt_enc *or_gemini_stream_enc_new(const or_fmt_opts *o)
{
    or_fmt_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->sse = o && o->gemini_sse;
    e->thought_idx = -1;
    e->model = dup(o ? o->model : NULL);
    e->id = dup(o ? o->id : NULL);
    if ((o && o->model && !e->model) || (o && o->id && !e->id)) {
        or_gemini_stream_enc_free(e);
        return NULL;
    }
    return e;
}

static void drop_calls(or_fmt_enc *e)
{
    for (size_t i = 0; i < e->ncalls; i++) {
        free(e->calls[i].id);
        free(e->calls[i].name);
        free(e->calls[i].sig);
        or_buf_free(&e->calls[i].args);
    }
    e->ncalls = 0;
    e->buffered = 0;
}

void or_gemini_stream_enc_free(or_fmt_enc *e)
{
    if (!e)
        return;
    drop_calls(e);
    free(e->calls);
    json_decref(e->usage);
    free(e->model);
    free(e->id);
    free(e);
}

static or_err write_json(or_fmt_enc *e, const json_t *j, or_buf *out)
{
    char *s = json_dumps(j, JSON_COMPACT);
    or_err r;
    if (!s)
        return OR_ENOMEM;
    if (e->sse)
        r = or_buf_printf(out, "data: %s\r\n\r\n", s);
    else
        r = or_buf_printf(out, "%s%s", e->wrote ? ",\r\n" : "[", s);
    free(s);
    if (r == OR_OK)
        e->wrote = true;
    return r;
}

/* One GenerateContentResponse chunk with `parts` (stolen). */
static or_err write_parts(or_fmt_enc *e, json_t *parts, const char *finish, or_buf *out)
{
    json_t *c = parts ? json_pack("{s:[{s:{s:o,s:s},s:i}]}", "candidates", "content", "parts",
                                  parts, "role", "model", "index", 0)
                      : NULL;
    or_err r = OR_ENOMEM;
    if (!c)
        return OR_ENOMEM;
    if (finish) {
        json_t *cand = json_array_get(json_object_get(c, "candidates"), 0);
        json_t *u = or_gemini_parts_usage_from_ir(e->usage);
        if (json_object_set_new(cand, "finishReason", json_string(finish)) != 0 ||
            (u && json_object_set_new(c, "usageMetadata", u) != 0))
            goto out;
    }
    if ((e->model && json_object_set_new(c, "modelVersion", json_string(e->model)) != 0) ||
        (e->id && json_object_set_new(c, "responseId", json_string(e->id)) != 0))
        goto out;
    r = write_json(e, c, out);
out:
    json_decref(c);
    return r;
}

static or_err flush_calls(or_fmt_enc *e, or_buf *out)
{
    or_err r = OR_OK;
    for (size_t i = 0; i < e->ncalls && r == OR_OK; i++) {
        pending_call *pc = &e->calls[i];
        json_t *args = or_gemini_parts_args_from_ir(pc->args.data ? pc->args.data : "");
        json_t *fc = args ? json_pack("{s:s,s:o}", "name", pc->name, "args", args) : NULL;
        if (fc && pc->id)
            json_object_set_new(fc, "id", json_string(pc->id));
        json_t *part = fc ? json_pack("{s:o}", "functionCall", fc) : NULL;
        if (part && pc->sig)
            json_object_set_new(part, "thoughtSignature", json_string(pc->sig));
        r = part ? write_parts(e, json_pack("[o]", part), NULL, out) : OR_ENOMEM;
    }
    drop_calls(e);
    return r;
}

static pending_call *find_call(or_fmt_enc *e, const json_t *ev)
{
    const json_t *ix = json_object_get(ev, "index");
    for (size_t i = e->ncalls; i-- > 0;)
        if (!ix || json_integer_value(ix) == e->calls[i].index)
            return &e->calls[i];
    return NULL;
}

static or_err open_call(or_fmt_enc *e, const json_t *ev)
{
    const char *name = json_string_value(json_object_get(ev, "name"));
    if (!name)
        return OR_EINVAL;
    if (e->ncalls >= MAX_PENDING_CALLS)
        return OR_ETOOBIG;
    pending_call *n = realloc(e->calls, (e->ncalls + 1) * sizeof *n);
    if (!n)
        return OR_ENOMEM;
    e->calls = n;
    pending_call *pc = &e->calls[e->ncalls];
    memset(pc, 0, sizeof *pc);
    pc->index = json_integer_value(json_object_get(ev, "index"));
    pc->name = strdup(name);
    pc->id = dup(json_string_value(json_object_get(ev, "id")));
    or_buf_init(&pc->args, OR_GEMINI_ARGS_MAX);
    e->ncalls++;
    return pc->name ? OR_OK : OR_ENOMEM;
}

static or_err call_event(or_fmt_enc *e, const char *type, const json_t *ev)
{
    if (strcmp(type, "tool_call") == 0)
        return open_call(e, ev);
    pending_call *pc = find_call(e, ev);
    if (!pc)
        return OR_OK; /* args of a call never opened: nothing to attach them to */
    if (strcmp(type, "tool_args") == 0) {
        const json_t *a = json_object_get(ev, "arguments");
        size_t n = json_string_length(a);
        if (n > OR_GEMINI_ARGS_MAX - e->buffered)
            return OR_ETOOBIG;
        e->buffered += n;
        return or_buf_append(&pc->args, json_string_value(a) ? json_string_value(a) : "", n);
    }
    const char *sig = json_string_value(json_object_get(ev, "signature"));
    if (!sig)
        return OR_OK;
    free(pc->sig);
    return (pc->sig = strdup(sig)) ? OR_OK : OR_ENOMEM;
}

static or_err content_event(or_fmt_enc *e, const char *type, const json_t *ev, or_buf *out)
{
    const json_t *t = json_object_get(ev, "text");
    json_t *part = NULL;
    if (strcmp(type, "text") == 0 || strcmp(type, "thinking") == 0) {
        if (json_string_length(t) == 0)
            return OR_OK;
        part = json_pack("{s:s%}", "text", json_string_value(t), json_string_length(t));
        if (part && type[1] == 'h') {
            json_object_set_new(part, "thought", json_true());
            e->thought_idx = json_integer_value(json_object_get(ev, "index"));
        }
    } else { /* thinking_signature: the bare signature part Gemini itself sends */
        const char *sig = json_string_value(json_object_get(ev, "signature"));
        /* Only Gemini's own signatures travel, and those come on blocks without thought text
         * (the decoder's markers); a signature closing a thinking block with text is another
         * vendor's, meaningless to a Gemini client. */
        if (!sig || json_integer_value(json_object_get(ev, "index")) == e->thought_idx)
            return OR_OK;
        part = json_pack("{s:s,s:s}", "text", "", "thoughtSignature", sig);
    }
    return part ? write_parts(e, json_pack("[o]", part), NULL, out) : OR_ENOMEM;
}

static or_err error_event(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    json_t *err = or_gemini_resp_error_from_ir(ev);
    or_err r = err ? write_json(e, err, out) : OR_ENOMEM;
    json_decref(err);
    return r;
}

or_err or_gemini_stream_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    or_err r = OR_OK;
    if (!type || e->closed)
        return OR_OK;
    bool is_call = strcmp(type, "tool_call") == 0 || strcmp(type, "tool_args") == 0 ||
                   strcmp(type, "tool_signature") == 0;
    if (is_call)
        return e->ended ? OR_OK : call_event(e, type, ev);
    if (strcmp(type, "start") == 0) {
        const char *id = json_string_value(json_object_get(ev, "id"));
        const char *model = json_string_value(json_object_get(ev, "model"));
        if (id) { /* the upstream's id wins over the gateway's request id */
            free(e->id);
            if (!(e->id = strdup(id)))
                return OR_ENOMEM;
        }
        if (model && !e->model && !(e->model = strdup(model)))
            return OR_ENOMEM;
        return OR_OK;
    }
    if (strcmp(type, "usage") == 0) {
        json_decref(e->usage);
        e->usage = json_deep_copy(json_object_get(ev, "usage"));
        return OR_OK;
    }
    if (strcmp(type, "error") == 0) {
        /* A call cut off by the error may be incomplete: it is not sent. */
        drop_calls(e);
        if (!e->ended)
            r = error_event(e, ev, out);
        e->ended = true;
        return r;
    }
    if (!e->ended && (r = flush_calls(e, out)) != OR_OK)
        return r;
    if (strcmp(type, "text") == 0 || strcmp(type, "thinking") == 0 ||
        strcmp(type, "thinking_signature") == 0)
        return e->ended ? OR_OK : content_event(e, type, ev, out);
    if (strcmp(type, "stop") == 0 || strcmp(type, "done") == 0) {
        /* Gemini CLI retries a stream whose last chunk has no finishReason. */
        if (!e->ended) {
            const char *stop = json_string_value(json_object_get(ev, "stop_reason"));
            r = write_parts(e, json_pack("[{s:s}]", "text", ""),
                            or_gemini_parts_finish_from_ir(stop), out);
            e->ended = true;
        }
        if (r == OR_OK && type[0] == 'd') {
            if (!e->sse)
                r = or_buf_puts(out, e->wrote ? "]" : "[]");
            e->closed = true;
        }
    }
    return r;
}
