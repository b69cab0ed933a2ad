/* OpenAI Chat Completions requests ↔ IR (see docs/internals/IR.md). */
#include "fmt/openai_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    json_t *ir;
    json_t *system;     /* borrowed from ir */
    json_t *messages;   /* borrowed from ir */
    json_t *extra;      /* extra.openai, created on first use; borrowed from ir */
    json_t *last_tool;  /* the IR tool message consecutive tool messages merge into */
    json_t *call_names; /* tool_call id → name, for tool_result.name */
    json_t *fn_open;    /* legacy function_call ids not answered yet: [{name,id}] */
    int gen;            /* counter for generated call ids */
    or_errbuf *eb;
} rctx;

static json_t *text_part(json_t *text)
{
    return json_pack("{s:s,s:O}", "type", "text", "text", text);
}

static or_err gen_id(rctx *c, char *out, size_t n)
{
    snprintf(out, n, "call_%d", ++c->gen);
    return OR_OK;
}

/* ---- client request → IR ---- */

/* "data:image/png;base64,AAAA" → {media_type, data}; anything else (http URLs, non-base64 data
 * URLs) stays a URL. */
static json_t *image_part(const char *url, const char *detail)
{
    json_t *p = NULL;
    const char *comma = strchr(url, ',');
    if (strncasecmp(url, "data:", 5) == 0 && comma) {
        const char *hdr = url + 5;
        size_t hlen = (size_t)(comma - hdr);
        const char *semi = memchr(hdr, ';', hlen);
        if (semi && hlen >= 7 && strncasecmp(comma - 7, ";base64", 7) == 0 && semi > hdr)
            p = json_pack("{s:s,s:s%,s:s}", "type", "image", "media_type", hdr,
                          (size_t)(semi - hdr), "data", comma + 1);
    }
    if (!p)
        p = json_pack("{s:s,s:s}", "type", "image", "url", url);
    if (p && detail && put(p, "detail", json_string(detail)) != OR_OK) {
        json_decref(p);
        p = NULL;
    }
    return p;
}

/* One part of a user/tool content array. */
static or_err user_part(rctx *c, json_t *p, json_t *parts, size_t mi, size_t pi)
{
    const char *type = str(p, "type");
    if (!type)
        return or_fail(c->eb, OR_EINVAL, "messages[%zu].content[%zu].type: expected a string", mi,
                       pi);
    if (strcmp(type, "text") == 0) {
        json_t *t = json_object_get(p, "text");
        if (!json_is_string(t))
            return or_fail(c->eb, OR_EINVAL, "messages[%zu].content[%zu].text: expected a string",
                           mi, pi);
        return push(parts, text_part(t));
    }
    if (strcmp(type, "image_url") == 0) {
        json_t *iu = json_object_get(p, "image_url");
        const char *url = json_is_string(iu) ? json_string_value(iu) : str(iu, "url");
        if (!url)
            return or_fail(c->eb, OR_EINVAL,
                           "messages[%zu].content[%zu].image_url.url: expected a string", mi, pi);
        return push(parts, image_part(url, str(iu, "detail")));
    }
    return or_fail(c->eb, OR_EINVAL,
                   "messages[%zu].content[%zu].type: unsupported part type \"%.40s\"", mi, pi,
                   type);
}

/* String or array content of a user or tool message → IR parts appended to `parts`. */
static or_err user_content(rctx *c, json_t *content, json_t *parts, size_t mi)
{
    if (json_is_string(content))
        return push(parts, text_part(content));
    if (!json_is_array(content))
        return or_fail(c->eb, OR_EINVAL, "messages[%zu].content: expected a string or an array",
                       mi);
    size_t i;
    json_t *p;
    json_array_foreach(content, i, p)
    {
        if (!json_is_object(p))
            return or_fail(c->eb, OR_EINVAL, "messages[%zu].content[%zu]: expected an object", mi,
                           i);
        or_err e = user_part(c, p, parts, mi, i);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

/* System/developer content: only text survives as IR system parts; empty text is dropped. */
static or_err system_msg(rctx *c, json_t *m, size_t mi)
{
    json_t *content = json_object_get(m, "content");
    if (json_is_string(content))
        return json_string_length(content) ? push(c->system, text_part(content)) : OR_OK;
    if (!json_is_array(content))
        return or_fail(c->eb, OR_EINVAL, "messages[%zu].content: expected a string or an array",
                       mi);
    size_t i;
    json_t *p;
    json_array_foreach(content, i, p)
    {
        json_t *t = json_object_get(p, "text");
        const char *type = str(p, "type");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(t))
            return or_fail(c->eb, OR_EINVAL,
                           "messages[%zu].content[%zu]: system messages take only text parts", mi,
                           i);
        if (json_string_length(t) && push(c->system, text_part(t)) != OR_OK)
            return OR_ENOMEM;
    }
    return OR_OK;
}

static or_err add_message(rctx *c, const char *role, json_t *parts)
{
    json_t *m = json_pack("{s:s,s:o}", "role", role, "content", parts);
    if (!m)
        return OR_ENOMEM;
    c->last_tool = strcmp(role, "tool") == 0 ? m : NULL;
    return push(c->messages, m);
}

static or_err user_msg(rctx *c, json_t *m, size_t mi)
{
    json_t *parts = json_array();
    if (!parts)
        return OR_ENOMEM;
    or_err e = user_content(c, json_object_get(m, "content"), parts, mi);
    if (e != OR_OK) {
        json_decref(parts);
        return e;
    }
    return add_message(c, "user", parts);
}

static or_err tool_call(rctx *c, json_t *parts, json_t *id, json_t *fn, size_t mi, size_t ti)
{
    json_t *name = json_object_get(fn, "name");
    if (!json_is_string(name))
        return or_fail(c->eb, OR_EINVAL,
                       "messages[%zu].tool_calls[%zu].function.name: expected a string", mi, ti);
    char idbuf[32];
    if (!json_is_string(id) || !json_string_length(id)) {
        gen_id(c, idbuf, sizeof idbuf);
        id = json_string(idbuf);
    } else {
        json_incref(id);
    }
    json_t *args = or_openai_resp_args_string(json_object_get(fn, "arguments"));
    json_t *p = json_pack("{s:s,s:o,s:O,s:o}", "type", "tool_call", "id", id, "name", name,
                          "arguments", args);
    if (!p || push(parts, p) != OR_OK)
        return OR_ENOMEM;
    return json_object_set(c->call_names, json_string_value(json_object_get(p, "id")), name)
               ? OR_ENOMEM
               : OR_OK;
}

static or_err assistant_msg(rctx *c, json_t *m, size_t mi)
{
    or_err e = OR_OK;
    json_t *parts = json_array();
    if (!parts)
        return OR_ENOMEM;
    /* DeepSeek-style reasoning comes first in the IR, as it did in the model's answer. */
    json_t *r = json_object_get(m, "reasoning_content");
    if (!json_is_string(r) || !json_string_length(r))
        r = json_object_get(m, "reasoning");
    if (json_is_string(r) && json_string_length(r) &&
        (e = push(parts, json_pack("{s:s,s:O}", "type", "thinking", "text", r))) != OR_OK)
        goto out;

    json_t *content = json_object_get(m, "content");
    if (json_is_string(content)) {
        if (json_string_length(content) && (e = push(parts, text_part(content))) != OR_OK)
            goto out;
    } else if (json_is_array(content)) {
        size_t i;
        json_t *p;
        json_array_foreach(content, i, p)
        {
            const char *type = str(p, "type");
            json_t *t =
                json_object_get(p, type && strcmp(type, "refusal") == 0 ? "refusal" : "text");
            if (!type || (strcmp(type, "text") != 0 && strcmp(type, "refusal") != 0) ||
                !json_is_string(t)) {
                e = or_fail(
                    c->eb, OR_EINVAL,
                    "messages[%zu].content[%zu]: assistant messages take text or refusal parts", mi,
                    i);
                goto out;
            }
            if (json_string_length(t) && (e = push(parts, text_part(t))) != OR_OK)
                goto out;
        }
    } else if (content && !json_is_null(content)) {
        e = or_fail(c->eb, OR_EINVAL, "messages[%zu].content: expected a string, an array or null",
                    mi);
        goto out;
    }

    json_t *calls = json_object_get(m, "tool_calls");
    if (calls && !json_is_null(calls) && !json_is_array(calls)) {
        e = or_fail(c->eb, OR_EINVAL, "messages[%zu].tool_calls: expected an array", mi);
        goto out;
    }
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc)
    {
        json_t *fn = json_object_get(tc, "function");
        if (!json_is_object(fn)) {
            e = or_fail(c->eb, OR_EINVAL,
                        "messages[%zu].tool_calls[%zu].function: expected an object", mi, i);
            goto out;
        }
        if ((e = tool_call(c, parts, json_object_get(tc, "id"), fn, mi, i)) != OR_OK)
            goto out;
    }
    /* Legacy single function_call: its id is generated and remembered for the `function` reply. */
    json_t *fc = json_object_get(m, "function_call");
    if (json_is_object(fc)) {
        if ((e = tool_call(c, parts, NULL, fc, mi, 0)) != OR_OK)
            goto out;
        json_t *last = json_array_get(parts, json_array_size(parts) - 1);
        if (push(c->fn_open, json_pack("{s:O,s:O}", "name", json_object_get(last, "name"), "id",
                                       json_object_get(last, "id"))) != OR_OK) {
            e = OR_ENOMEM;
            goto out;
        }
    }
    if (json_array_size(parts) == 0)
        goto out; /* nothing to say: an empty assistant turn is dropped */
    e = add_message(c, "assistant", parts);
    parts = NULL;
out:
    json_decref(parts);
    return e;
}

/* Tool results: consecutive tool messages become one IR tool message. */
static or_err tool_msg(rctx *c, json_t *m, size_t mi, bool legacy)
{
    or_err e = OR_OK;
    json_t *id = json_object_get(m, "tool_call_id"), *name = NULL;
    json_t *content = json_array(), *res = NULL;
    if (!content)
        return OR_ENOMEM;
    if (legacy) {
        /* role "function": match the oldest unanswered function_call of that name. */
        name = json_object_get(m, "name");
        if (!json_is_string(name)) {
            e = or_fail(c->eb, OR_EINVAL, "messages[%zu].name: expected a string", mi);
            goto out;
        }
        id = NULL;
        size_t i;
        json_t *o;
        json_array_foreach(c->fn_open, i, o)
        {
            if (json_equal(json_object_get(o, "name"), name)) {
                id = json_incref(json_object_get(o, "id"));
                json_array_remove(c->fn_open, i);
                break;
            }
        }
        if (!id) {
            char idbuf[32];
            gen_id(c, idbuf, sizeof idbuf);
            id = json_string(idbuf);
        }
    } else {
        if (!json_is_string(id)) {
            e = or_fail(c->eb, OR_EINVAL, "messages[%zu].tool_call_id: expected a string", mi);
            goto out;
        }
        json_incref(id);
        name = json_object_get(c->call_names, json_string_value(id));
    }
    json_t *body = json_object_get(m, "content");
    if (json_is_null(body) || !body)
        e = OR_OK; /* an empty result */
    else
        e = user_content(c, body, content, mi);
    if (e != OR_OK) {
        json_decref(id);
        goto out;
    }
    res = json_pack("{s:s,s:o,s:O}", "type", "tool_result", "tool_call_id", id, "content", content);
    if (!res) {
        e = OR_ENOMEM;
        goto out;
    }
    if (json_is_string(name) && (e = put(res, "name", json_incref(name))) != OR_OK)
        goto out;
    if (c->last_tool) {
        e = push(json_object_get(c->last_tool, "content"), res);
        res = NULL;
        goto out;
    }
    json_t *parts = json_array();
    if (!parts || push(parts, res) != OR_OK) {
        res = NULL;
        json_decref(parts);
        e = OR_ENOMEM;
        goto out;
    }
    res = NULL;
    e = add_message(c, "tool", parts);
out:
    json_decref(content);
    json_decref(res);
    return e;
}

static or_err h_messages(rctx *c, const char *key, json_t *v)
{
    (void)key;
    if (!json_is_array(v))
        return or_fail(c->eb, OR_EINVAL, "messages: expected an array");
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        const char *role = str(m, "role");
        or_err e;
        if (!role)
            return or_fail(c->eb, OR_EINVAL, "messages[%zu].role: expected a string", i);
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
            e = system_msg(c, m, i);
        else if (strcmp(role, "user") == 0)
            e = user_msg(c, m, i);
        else if (strcmp(role, "assistant") == 0)
            e = assistant_msg(c, m, i);
        else if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)
            e = tool_msg(c, m, i, role[0] == 'f');
        else
            return or_fail(c->eb, OR_EINVAL, "messages[%zu].role: unknown role \"%.40s\"", i, role);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

static or_err one_tool(rctx *c, json_t *fn, json_t *tools, const char *key, size_t i)
{
    json_t *name = json_object_get(fn, "name"), *desc = json_object_get(fn, "description");
    json_t *params = json_object_get(fn, "parameters"), *strict = json_object_get(fn, "strict");
    if (!json_is_string(name))
        return or_fail(c->eb, OR_EINVAL, "%s[%zu].function.name: expected a string", key, i);
    json_t *t = json_pack("{s:O}", "name", name);
    if (!t)
        return OR_ENOMEM;
    or_err e = OR_OK;
    if (json_is_string(desc) && json_string_length(desc))
        e = put(t, "description", json_incref(desc));
    if (e == OR_OK)
        e = put(t, "parameters",
                json_is_object(params) ? json_incref(params)
                                       : json_pack("{s:s,s:{}}", "type", "object", "properties"));
    if (e == OR_OK && json_is_boolean(strict))
        e = put(t, "strict", json_incref(strict));
    if (e != OR_OK) {
        json_decref(t);
        return e;
    }
    return push(tools, t);
}

/* tools (type "function") and the legacy `functions` list. */
static or_err h_tools(rctx *c, const char *key, json_t *v)
{
    bool legacy = strcmp(key, "functions") == 0;
    if (!json_is_array(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected an array", key);
    json_t *tools = json_object_get(c->ir, "tools");
    if (!tools && put(c->ir, "tools", tools = json_array()) != OR_OK)
        return OR_ENOMEM;
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t)
    {
        const char *type = str(t, "type");
        json_t *fn = legacy ? t : json_object_get(t, "function");
        if (!legacy && type && strcmp(type, "function") != 0)
            return or_fail(c->eb, OR_EINVAL, "%s[%zu].type: unsupported tool type \"%.40s\"", key,
                           i, type);
        if (!json_is_object(fn))
            return or_fail(c->eb, OR_EINVAL, "%s[%zu].function: expected an object", key, i);
        or_err e = one_tool(c, fn, tools, key, i);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

/* tool_choice and the legacy function_call. */
static or_err h_tool_choice(rctx *c, const char *key, json_t *v)
{
    json_t *tc = NULL;
    const char *s = json_string_value(v);
    if (s && (strcmp(s, "auto") == 0 || strcmp(s, "none") == 0 || strcmp(s, "required") == 0))
        tc = json_pack("{s:s}", "type", s);
    else if (json_is_object(v)) {
        json_t *fn = strcmp(key, "function_call") == 0 ? v : json_object_get(v, "function");
        json_t *name = json_object_get(fn, "name");
        if (json_is_string(name))
            tc = json_pack("{s:s,s:O}", "type", "tool", "name", name);
        else
            return or_fail(c->eb, OR_EINVAL,
                           "%s: expected {\"type\":\"function\",\"function\":{\"name\":…}}", key);
    } else
        return or_fail(c->eb, OR_EINVAL,
                       "%s: expected \"auto\", \"none\", \"required\" or an object", key);
    return put(c->ir, "tool_choice", tc);
}

static or_err h_max_tokens(rctx *c, const char *key, json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return or_fail(c->eb, OR_EINVAL, "%s: expected a non-negative integer", key);
    /* max_completion_tokens wins over max_tokens; which one the client used is remembered so a
     * same-format request sends that one again (OpenAI reasoning models reject max_tokens). */
    if (strcmp(key, "max_completion_tokens") == 0) {
        if (put(c->extra, key, json_true()) != OR_OK)
            return OR_ENOMEM;
    } else if (json_object_get(c->ir, "max_tokens")) {
        return OR_OK;
    }
    return put(c->ir, "max_tokens", json_incref(v));
}

static or_err h_number(rctx *c, const char *key, json_t *v)
{
    if (!json_is_number(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected a number", key);
    return put(c->ir, key, json_incref(v));
}

static or_err h_bool(rctx *c, const char *key, json_t *v)
{
    if (!json_is_boolean(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected a boolean", key);
    return put(c->ir, key, json_incref(v));
}

static or_err h_string(rctx *c, const char *key, json_t *v)
{
    if (!json_is_string(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected a string", key);
    return put(c->ir, key, json_incref(v));
}

static or_err h_stop(rctx *c, const char *key, json_t *v)
{
    json_t *a = json_array();
    if (!a)
        return OR_ENOMEM;
    if (json_is_string(v)) {
        if (push(a, json_incref(v)) != OR_OK)
            goto nomem;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s)
        {
            if (!json_is_string(s)) {
                json_decref(a);
                return or_fail(c->eb, OR_EINVAL, "%s[%zu]: expected a string", key, i);
            }
            if (push(a, json_incref(s)) != OR_OK)
                goto nomem;
        }
    } else {
        json_decref(a);
        return or_fail(c->eb, OR_EINVAL, "%s: expected a string or an array of strings", key);
    }
    return put(c->ir, "stop", a);
nomem:
    json_decref(a);
    return OR_ENOMEM;
}

static or_err h_stream_options(rctx *c, const char *key, json_t *v)
{
    if (!json_is_object(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected an object", key);
    json_t *iu = json_object_get(v, "include_usage");
    if (json_is_boolean(iu))
        return put(c->ir, "include_usage", json_incref(iu));
    return OR_OK;
}

static or_err h_response_format(rctx *c, const char *key, json_t *v)
{
    const char *type = str(v, "type");
    json_t *rf = NULL;
    if (type && (strcmp(type, "text") == 0 || strcmp(type, "json_object") == 0)) {
        rf = json_pack("{s:s}", "type", type);
    } else if (type && strcmp(type, "json_schema") == 0) {
        json_t *js = json_object_get(v, "json_schema");
        if (!json_is_object(js))
            return or_fail(c->eb, OR_EINVAL, "%s.json_schema: expected an object", key);
        rf = json_pack("{s:s}", "type", type);
        const char *keys[] = {"name", "schema", "strict", "description"};
        for (size_t i = 0; rf && i < sizeof keys / sizeof keys[0]; i++) {
            json_t *x = json_object_get(js, keys[i]);
            if (x && !json_is_null(x) && put(rf, keys[i], json_incref(x)) != OR_OK) {
                json_decref(rf);
                rf = NULL;
            }
        }
    } else {
        return or_fail(c->eb, OR_EINVAL,
                       "%s.type: expected \"text\", \"json_object\" or \"json_schema\"", key);
    }
    return put(c->ir, "response_format", rf);
}

/* reasoning_effort → thinking. The IR knows low/medium/high; the exact word is also kept in
 * extra.openai so an OpenAI upstream receives it unchanged. */
static const struct {
    const char *word, *effort; /* effort NULL: thinking disabled */
} efforts[] = {{"none", NULL},   {"minimal", "low"}, {"low", "low"}, {"medium", "medium"},
               {"high", "high"}, {"xhigh", "high"},  {"max", "high"}};

static or_err h_reasoning_effort(rctx *c, const char *key, json_t *v)
{
    const char *s = json_string_value(v);
    if (!s)
        return or_fail(c->eb, OR_EINVAL, "%s: expected a string", key);
    if (put(c->extra, key, json_incref(v)) != OR_OK)
        return OR_ENOMEM;
    for (size_t i = 0; i < sizeof efforts / sizeof efforts[0]; i++)
        if (strcmp(efforts[i].word, s) == 0)
            return put(c->ir, "thinking",
                       efforts[i].effort
                           ? json_pack("{s:s,s:s}", "type", "enabled", "effort", efforts[i].effort)
                           : json_pack("{s:s}", "type", "disabled"));
    return OR_OK; /* an unknown word only travels in extra */
}

static or_err h_metadata(rctx *c, const char *key, json_t *v)
{
    if (!json_is_object(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected an object", key);
    /* Also kept in extra: it reaches OpenAI upstreams but not strict compatible ones that reject
     * unknown fields (see req_from_ir). */
    if (put(c->extra, key, json_incref(v)) != OR_OK)
        return OR_ENOMEM;
    return put(c->ir, key, json_incref(v));
}

static const struct {
    const char *key;
    or_err (*fn)(rctx *c, const char *key, json_t *v);
} handlers[] = {
    {"model", h_string},
    {"messages", h_messages},
    {"tools", h_tools},
    {"functions", h_tools},
    {"tool_choice", h_tool_choice},
    {"function_call", h_tool_choice},
    {"parallel_tool_calls", h_bool},
    {"max_tokens", h_max_tokens},
    {"max_completion_tokens", h_max_tokens},
    {"temperature", h_number},
    {"top_p", h_number},
    {"stop", h_stop},
    {"stream", h_bool},
    {"stream_options", h_stream_options},
    {"response_format", h_response_format},
    {"reasoning_effort", h_reasoning_effort},
    {"user", h_string},
    {"metadata", h_metadata},
};

or_err or_openai_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb)
{
    or_err e = OR_OK;
    rctx c = {.eb = eb};
    *ir = NULL;
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "body: expected a JSON object");
    if (!json_is_array(json_object_get(body, "messages")))
        return or_fail(eb, OR_EINVAL, "messages: expected an array");
    c.ir = json_pack("{s:[],s:[]}", "system", "messages");
    c.extra = json_object();
    c.call_names = json_object();
    c.fn_open = json_array();
    if (!c.ir || !c.extra || !c.call_names || !c.fn_open) {
        e = OR_ENOMEM;
        goto out;
    }
    c.system = json_object_get(c.ir, "system");
    c.messages = json_object_get(c.ir, "messages");

    /* Handlers run in table order (max_completion_tokens after max_tokens), so the result does
     * not depend on the body's key order. */
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        json_t *v = json_object_get(body, handlers[i].key);
        if (v && !json_is_null(v) && (e = handlers[i].fn(&c, handlers[i].key, v)) != OR_OK)
            goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        bool known = false;
        for (size_t i = 0; !known && i < sizeof handlers / sizeof handlers[0]; i++)
            known = strcmp(handlers[i].key, k) == 0;
        if (!known && (e = put(c.extra, k, json_incref(v))) != OR_OK)
            goto out;
    }
    if (json_object_size(c.extra)) {
        e = put(c.ir, "extra", json_pack("{s:O}", "openai", c.extra));
        if (e != OR_OK)
            goto out;
    }
    *ir = c.ir;
    c.ir = NULL;
out:
    json_decref(c.ir);
    json_decref(c.extra);
    json_decref(c.call_names);
    json_decref(c.fn_open);
    return e;
}

const char *or_openai_req_effort(const char *word)
{
    for (size_t i = 0; word && i < sizeof efforts / sizeof efforts[0]; i++)
        if (strcmp(efforts[i].word, word) == 0)
            return efforts[i].effort ? efforts[i].effort : "none";
    return NULL;
}
