/* OpenAI Chat Completions responses, usage, stop reasons and error bodies ↔ IR. */
#include "fmt/openai_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small shared pieces ---- */

json_t *or_openai_resp_args_string(const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    if (!v || json_is_null(v))
        return json_string("{}");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *r = s ? json_string(s) : NULL;
    free(s);
    return r;
}

static const struct {
    const char *wire, *ir;
} stops[] = {
    {"stop", "stop"},
    {"length", "length"},
    {"tool_calls", "tool_calls"},
    {"function_call", "tool_calls"},
    {"content_filter", "content_filter"},
    /* what some compatible upstreams say instead */
    {"eos", "stop"},
    {"end_turn", "stop"},
    {"max_tokens", "length"},
    {"tool_use", "tool_calls"},
    {"MALFORMED_FUNCTION_CALL", "tool_calls"},
    {"SAFETY", "content_filter"},
};

const char *or_openai_resp_stop_to_ir(const char *finish_reason)
{
    for (size_t i = 0; finish_reason && i < sizeof stops / sizeof stops[0]; i++)
        if (strcmp(stops[i].wire, finish_reason) == 0)
            return stops[i].ir;
    return "stop";
}

const char *or_openai_resp_stop_from_ir(const char *stop_reason)
{
    /* The first rows are the OpenAI words; an IR "error" or anything unknown ends as "stop"
     * (clients with strict enums reject other words; the error itself travels separately). */
    for (size_t i = 0; stop_reason && i < 5; i++)
        if (strcmp(stops[i].ir, stop_reason) == 0)
            return stops[i].wire;
    return "stop";
}

static json_int_t num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 1e15)
        return (json_int_t)json_real_value(v);
    return 0;
}

/* OpenAI reports cached and reasoning tokens (0 when none) and has no cache writes, so the IR
 * gets all five counters. */
json_t *or_openai_resp_usage_to_ir(const json_t *u)
{
    if (!json_is_object(u))
        return NULL;
    const json_t *pd = json_object_get(u, "prompt_tokens_details");
    const json_t *cd = json_object_get(u, "completion_tokens_details");
    /* DeepSeek reports cache hits at the top level. */
    json_int_t cached = json_object_get(pd, "cached_tokens") ? num(pd, "cached_tokens")
                                                             : num(u, "prompt_cache_hit_tokens");
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "input_tokens", num(u, "prompt_tokens"),
                     "output_tokens", num(u, "completion_tokens"), "cached_tokens", cached,
                     "reasoning_tokens", num(cd, "reasoning_tokens"), "cache_creation_tokens",
                     (json_int_t)0);
}

/* As OpenAI itself answers: the details objects are always there. */
json_t *or_openai_resp_usage_from_ir(const json_t *u)
{
    if (!json_is_object(u))
        return NULL;
    json_int_t in = num(u, "input_tokens"), out = num(u, "output_tokens");
    return json_pack("{s:I,s:I,s:I,s:{s:I},s:{s:I}}", "prompt_tokens", in, "completion_tokens", out,
                     "total_tokens", in + out, "prompt_tokens_details", "cached_tokens",
                     num(u, "cached_tokens"), "completion_tokens_details", "reasoning_tokens",
                     num(u, "reasoning_tokens"));
}

/* ---- non-stream responses ---- */

static or_err message_parts(const json_t *msg, json_t *content)
{
    json_t *r = json_object_get(msg, "reasoning_content");
    if (!json_is_string(r) || !json_string_length(r))
        r = json_object_get(msg, "reasoning");
    if (json_is_string(r) && json_string_length(r) &&
        push(content, json_pack("{s:s,s:O}", "type", "thinking", "text", r)))
        return OR_ENOMEM;

    size_t before = json_array_size(content), i;
    json_t *c = json_object_get(msg, "content"), *p;
    if (json_is_string(c) && json_string_length(c) &&
        push(content, json_pack("{s:s,s:O}", "type", "text", "text", c)))
        return OR_ENOMEM;
    json_array_foreach(c, i, p)
    {
        /* parts: text, or Mistral's thinking {thinking:[{text}]} */
        const char *type = str(p, "type");
        bool think = type && strcmp(type, "thinking") == 0;
        json_t *t = json_object_get(p, "text"), *tl = json_object_get(p, "thinking"), *q;
        size_t j;
        if (think)
            json_array_foreach(tl, j, q)
            {
                json_t *qt = json_object_get(q, "text");
                if (json_is_string(qt) && json_string_length(qt) &&
                    push(content, json_pack("{s:s,s:O}", "type", "thinking", "text", qt)))
                    return OR_ENOMEM;
            }
        if (!think && json_is_string(t) && json_string_length(t) &&
            push(content, json_pack("{s:s,s:O}", "type", "text", "text", t)))
            return OR_ENOMEM;
    }
    json_t *refusal = json_object_get(msg, "refusal");
    if (json_array_size(content) == before && json_is_string(refusal) &&
        json_string_length(refusal) &&
        push(content, json_pack("{s:s,s:O}", "type", "text", "text", refusal)))
        return OR_ENOMEM;

    json_t *calls = json_object_get(msg, "tool_calls"), *tc;
    json_t *fc = json_object_get(msg, "function_call");
    size_t ncalls = json_array_size(calls) + (json_is_object(fc) ? 1 : 0);
    for (i = 0; i < ncalls; i++) {
        tc = json_array_get(calls, i);
        json_t *fn = tc ? json_object_get(tc, "function") : fc;
        json_t *id = json_object_get(tc, "id"), *name = json_object_get(fn, "name");
        if (!json_is_string(name))
            continue;
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "call_%zu", i + 1);
        json_t *p2 = json_pack(
            "{s:s,s:s,s:O,s:o}", "type", "tool_call", "id",
            json_is_string(id) && json_string_length(id) ? json_string_value(id) : idbuf, "name",
            name, "arguments", or_openai_resp_args_string(json_object_get(fn, "arguments")));
        if (push(content, p2))
            return OR_ENOMEM;
    }
    return OR_OK;
}

static bool has_tool_call(const json_t *content)
{
    size_t i;
    json_t *p;
    json_array_foreach(content, i, p)
    {
        if (str(p, "type") && strcmp(str(p, "type"), "tool_call") == 0)
            return true;
    }
    return false;
}

or_err or_openai_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb)
{
    or_err e = OR_ENOMEM;
    json_t *r = NULL;
    *ir = NULL;
    if (!json_is_object(body))
        return or_fail(eb, OR_EUPSTREAM, "response: expected a JSON object");
    const json_t *ch = json_array_get(json_object_get(body, "choices"), 0);
    const json_t *msg = json_object_get(ch, "message");
    if (!json_is_object(msg)) {
        json_t *err = or_openai_resp_error_to_ir(0, body);
        e = or_fail(eb, OR_EUPSTREAM, "response has no choices[0].message%s%.200s",
                    json_object_get(body, "error") ? ": " : "",
                    json_object_get(body, "error") ? str(err, "message") : "");
        json_decref(err);
        return e;
    }
    if (!(r = json_pack("{s:[]}", "content")))
        goto out;
    json_t *content = json_object_get(r, "content");
    static const char *const ids[] = {"id", "model"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_t *v = json_object_get(body, ids[i]);
        if (json_is_string(v) && put(r, ids[i], json_incref(v)))
            goto out;
    }
    if (message_parts(msg, content) != OR_OK)
        goto out;
    const char *stop = or_openai_resp_stop_to_ir(str(ch, "finish_reason"));
    /* Some compatible upstreams say "stop" after tool calls; clients then think the turn ended. */
    if (strcmp(stop, "stop") == 0 && has_tool_call(content))
        stop = "tool_calls";
    if (put(r, "stop_reason", json_string(stop)))
        goto out;
    json_t *u = or_openai_resp_usage_to_ir(json_object_get(body, "usage"));
    if (u && put(r, "usage", u))
        goto out;
    *ir = r;
    r = NULL;
    e = OR_OK;
out:
    json_decref(r);
    if (e != OR_OK)
        or_fail(eb, e, "out of memory reading the OpenAI response");
    return e;
}

/* Text of the IR parts of `type`, concatenated as a stream would have delivered them. */
static json_t *concat(const json_t *content, const char *type, size_t *count)
{
    or_buf b;
    or_buf_init(&b, 0);
    size_t i, n = 0;
    json_t *p, *r = NULL;
    json_array_foreach(content, i, p)
    {
        json_t *t = json_object_get(p, "text");
        if (!str(p, "type") || strcmp(str(p, "type"), type) != 0 || !json_is_string(t))
            continue;
        n++;
        if (or_buf_append(&b, json_string_value(t), json_string_length(t)) != OR_OK)
            goto out;
    }
    r = json_stringn(b.data ? b.data : "", b.len);
out:
    or_buf_free(&b);
    *count = n;
    return r;
}

static json_t *wire_message(const json_t *content)
{
    size_t ntext, nthink, i;
    json_t *text = concat(content, "text", &ntext), *think = concat(content, "thinking", &nthink);
    json_t *calls = json_array(), *m = NULL, *p;
    if (!text || !think || !calls)
        goto fail;
    json_array_foreach(content, i, p)
    {
        json_t *id = json_object_get(p, "id"), *name = json_object_get(p, "name");
        json_t *args = json_object_get(p, "arguments");
        if (!str(p, "type") || strcmp(str(p, "type"), "tool_call") != 0 || !json_is_string(id) ||
            !json_is_string(name))
            continue;
        if (push(calls, json_pack("{s:O,s:s,s:{s:O,s:o}}", "id", id, "type", "function", "function",
                                  "name", name, "arguments", or_openai_resp_args_string(args))))
            goto fail;
    }
    bool has_calls = json_array_size(calls) > 0;
    m = json_pack("{s:s,s:O}", "role", "assistant", "content",
                  ntext || !has_calls ? text : json_null());
    if (!m || (nthink && put(m, "reasoning_content", json_incref(think))) ||
        (has_calls && put(m, "tool_calls", json_incref(calls))))
        goto fail;
    json_decref(text);
    json_decref(think);
    json_decref(calls);
    return m;
fail:
    json_decref(text);
    json_decref(think);
    json_decref(calls);
    json_decref(m);
    return NULL;
}

or_err or_openai_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body, or_errbuf *eb)
{
    *body = NULL;
    if (!json_is_object(ir))
        return or_fail(eb, OR_EINVAL, "IR response: expected an object");
    const char *id = str(ir, "id") ? str(ir, "id") : (o && o->id ? o->id : "chatcmpl-omniroute");
    const char *model = o && o->model ? o->model : (str(ir, "model") ? str(ir, "model") : "");
    json_t *msg = wire_message(json_object_get(ir, "content"));
    json_t *b =
        msg ? json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s}]}", "id", id, "object",
                        "chat.completion", "created", (json_int_t)(o ? o->created : 0), "model",
                        model, "choices", "index", 0, "message", msg, "finish_reason",
                        or_openai_resp_stop_from_ir(str(ir, "stop_reason")))
            : NULL;
    json_t *u = b ? or_openai_resp_usage_from_ir(json_object_get(ir, "usage")) : NULL;
    if (!b || (u && put(b, "usage", u))) {
        json_decref(b);
        return or_fail(eb, OR_ENOMEM, "out of memory building the OpenAI response");
    }
    *body = b;
    return OR_OK;
}

/* ---- errors ---- */

static const struct {
    int status;
    const char *type;
} by_status[] = {
    {400, "invalid_request_error"}, {401, "authentication_error"}, {402, "permission_error"},
    {403, "permission_error"},      {404, "not_found_error"},      {408, "timeout_error"},
    {429, "rate_limit_error"},      {503, "overloaded_error"},     {504, "timeout_error"},
    {529, "overloaded_error"},
};

/* Type words seen in error bodies (IR names, OpenAI, Gemini status) → IR type, and the status
 * an in-stream error of that type gets. */
static const struct {
    const char *word, *type;
    int status;
} by_word[] = {
    {"invalid_request_error", "invalid_request_error", 400},
    {"authentication_error", "authentication_error", 401},
    {"permission_error", "permission_error", 403},
    {"not_found_error", "not_found_error", 404},
    {"rate_limit_error", "rate_limit_error", 429},
    {"api_error", "api_error", 500},
    {"overloaded_error", "overloaded_error", 529},
    {"timeout_error", "timeout_error", 504},
    {"server_error", "api_error", 500},
    {"insufficient_quota", "rate_limit_error", 429},
    {"rate_limit_exceeded", "rate_limit_error", 429},
    {"tokens", "rate_limit_error", 429},
    {"requests", "rate_limit_error", 429},
    {"invalid_api_key", "authentication_error", 401},
    {"INVALID_ARGUMENT", "invalid_request_error", 400},
    {"FAILED_PRECONDITION", "invalid_request_error", 400},
    {"UNAUTHENTICATED", "authentication_error", 401},
    {"PERMISSION_DENIED", "permission_error", 403},
    {"NOT_FOUND", "not_found_error", 404},
    {"RESOURCE_EXHAUSTED", "rate_limit_error", 429},
    {"INTERNAL", "api_error", 500},
    {"UNAVAILABLE", "overloaded_error", 503},
    {"DEADLINE_EXCEEDED", "timeout_error", 504},
};

static int word_index(const char *w)
{
    for (size_t i = 0; w && i < sizeof by_word / sizeof by_word[0]; i++)
        if (strcmp(by_word[i].word, w) == 0)
            return (int)i;
    return -1;
}

static const char *status_type(int status, const char *from_body)
{
    for (size_t i = 0; i < sizeof by_status / sizeof by_status[0]; i++)
        if (by_status[i].status == status)
            return by_status[i].type;
    if (from_body)
        return from_body;
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

/* Gemini RetryInfo {"retryDelay":"1.5s"} → "2" (whole seconds, rounded up). */
static json_t *retry_after(const json_t *err)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(err, "details"), i, d)
    {
        const char *delay = str(d, "retryDelay");
        char *end;
        double s = delay ? strtod(delay, &end) : -1;
        if (delay && end != delay && s >= 0 && s < 1e9) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)ceil(s));
            return json_string(buf);
        }
    }
    return NULL;
}

json_t *or_openai_resp_error_to_ir(int status, const json_t *body)
{
    const json_t *b = json_is_array(body) ? json_array_get(body, 0) : body;
    const json_t *err = json_object_get(b, "error");
    const char *msg = NULL, *type = NULL;
    json_t *code = NULL;
    if (json_is_object(err)) {
        msg = str(err, "message");
        type = str(err, "type") ? str(err, "type") : str(err, "status");
        code = json_object_get(err, "code");
        if (word_index(type) < 0 && word_index(json_string_value(code)) >= 0)
            type = json_string_value(code);
    } else if (json_is_string(err)) {
        msg = json_string_value(err);
    }
    static const char *const msg_keys[] = {"message", "detail", "error_message", "msg"};
    for (size_t i = 0; !msg && i < sizeof msg_keys / sizeof msg_keys[0]; i++)
        msg = str(b, msg_keys[i]);
    if (!msg && json_is_string(b))
        msg = json_string_value(b);

    int wi = word_index(type);
    if (status <= 0) {
        json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;
        status = c >= 400 && c <= 599 ? (int)c : wi >= 0 ? by_word[wi].status : 502;
    }
    /* A status with one meaning wins over the body's word (OpenAI calls a bad key an
     * invalid_request_error); otherwise the word, then the status class. */
    const char *irtype = status_type(status, wi >= 0 ? by_word[wi].type : NULL);

    char fallback[OR_OPENAI_MAX_ERR_TEXT + 64];
    if (!msg) {
        char *dump = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (dump && strcmp(dump, "{}") != 0 && strcmp(dump, "null") != 0)
            snprintf(fallback, sizeof fallback, "upstream returned HTTP %d: %.*s", status,
                     OR_OPENAI_MAX_ERR_TEXT, dump);
        else
            snprintf(fallback, sizeof fallback, "upstream returned HTTP %d", status);
        free(dump);
        msg = fallback;
    }
    json_t *r = json_pack("{s:i,s:s,s:s}", "status", status, "error_type", irtype, "message", msg);
    json_t *ra = json_is_object(err) ? retry_after(err) : NULL;
    if (r && ra && put(r, "retry_after", ra)) {
        json_decref(r);
        return NULL;
    }
    if (!r)
        json_decref(ra);
    return r;
}

/* IR type → OpenAI error.type and error.code, as OpenAI itself words them (a bad key is an
 * invalid_request_error with code invalid_api_key; a 429 is type "requests"). */
static const struct {
    const char *ir, *type, *code;
} wire_types[] = {
    {"invalid_request_error", "invalid_request_error", NULL},
    {"authentication_error", "invalid_request_error", "invalid_api_key"},
    {"permission_error", "permission_error", NULL},
    {"not_found_error", "invalid_request_error", NULL},
    {"rate_limit_error", "requests", "rate_limit_exceeded"},
    {"api_error", "server_error", NULL},
    {"overloaded_error", "server_error", NULL},
    {"timeout_error", "server_error", "timeout"},
};

json_t *or_openai_resp_error_from_ir(const json_t *err)
{
    const char *t = str(err, "error_type"), *msg = str(err, "message");
    size_t i = 0, n = sizeof wire_types / sizeof wire_types[0];
    while (i < n && (!t || strcmp(wire_types[i].ir, t) != 0))
        i++;
    const char *type = i < n ? wire_types[i].type : "server_error";
    const char *code = i < n ? wire_types[i].code : NULL;
    return json_pack("{s:{s:s,s:s,s:n,s:s?}}", "error", "message", msg ? msg : "upstream error",
                     "type", type, "param", "code", code);
}
