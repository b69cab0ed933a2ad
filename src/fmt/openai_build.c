/* IR → OpenAI Chat Completions provider request (see docs/internals/IR.md), and the URL. */
#include "fmt/openai_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_MAX (64u << 20) /* joined text of one message; the body itself is capped earlier */

/* Concatenates the `text` of every part of `type`, separated by sep. */
static json_t *join(const json_t *parts, const char *type, const char *sep, size_t *count)
{
    or_buf b;
    or_buf_init(&b, JOIN_MAX);
    size_t i, n = 0;
    json_t *p, *r = NULL;
    json_array_foreach(parts, i, p)
    {
        json_t *t = json_object_get(p, "text");
        if (!json_is_string(t) || strcmp(str(p, "type") ? str(p, "type") : "", type) != 0)
            continue;
        if ((n++ && or_buf_puts(&b, sep) != OR_OK) ||
            or_buf_append(&b, json_string_value(t), json_string_length(t)) != OR_OK)
            goto out;
    }
    r = json_stringn(b.data ? b.data : "", b.len);
out:
    or_buf_free(&b);
    if (count)
        *count = n;
    return r;
}

static json_t *image_url(const json_t *p)
{
    json_t *iu;
    const char *url = str(p, "url");
    if (url) {
        iu = json_pack("{s:s}", "url", url);
    } else {
        const char *mt = str(p, "media_type"), *data = str(p, "data");
        if (!mt || !data)
            return NULL;
        size_t n = strlen(mt) + strlen(data) + 16;
        char *s = malloc(n);
        if (!s)
            return NULL;
        snprintf(s, n, "data:%s;base64,%s", mt, data);
        iu = json_pack("{s:s}", "url", s);
        free(s);
    }
    const char *detail = str(p, "detail");
    if (iu && detail && put(iu, "detail", json_string(detail)) != OR_OK) {
        json_decref(iu);
        return NULL;
    }
    return json_pack("{s:s,s:o}", "type", "image_url", "image_url", iu);
}

/* User content: a plain string when there is only text (every compatible upstream takes that),
 * else the parts array. */
static json_t *user_wire(const json_t *parts)
{
    size_t i, images = 0;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        images += str(p, "type") && strcmp(str(p, "type"), "image") == 0;
    }
    if (!images)
        return join(parts, "text", "\n\n", NULL);
    json_t *a = json_array();
    if (!a)
        return NULL;
    json_array_foreach(parts, i, p)
    {
        const char *type = str(p, "type");
        json_t *w = NULL;
        if (type && strcmp(type, "text") == 0 && json_is_string(json_object_get(p, "text")))
            w = json_pack("{s:s,s:O}", "type", "text", "text", json_object_get(p, "text"));
        else if (type && strcmp(type, "image") == 0 && !(w = image_url(p)))
            continue;
        if (w && push(a, w) != OR_OK) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static or_err wire_msg(json_t *msgs, const char *role, json_t *content)
{
    if (!content)
        return OR_ENOMEM;
    return push(msgs, json_pack("{s:s,s:o}", "role", role, "content", content));
}

/* `pending` collects the call ids waiting for their result. */
static or_err assistant_wire(json_t *msgs, const json_t *parts, json_t *pending)
{
    size_t ntext, nthink, i;
    json_t *text = join(parts, "text", "", &ntext);
    json_t *think = join(parts, "thinking", "", &nthink);
    json_t *calls = json_array(), *m = NULL, *p;
    or_err e = OR_ENOMEM;
    if (!text || !think || !calls)
        goto out;
    json_array_foreach(parts, i, p)
    {
        const char *type = str(p, "type");
        json_t *id = json_object_get(p, "id"), *name = json_object_get(p, "name");
        if (!type || strcmp(type, "tool_call") != 0 || !json_is_string(id) || !json_is_string(name))
            continue;
        json_t *args = json_object_get(p, "arguments");
        args = json_is_string(args) ? json_incref(args) : json_string("{}");
        json_t *tc = json_pack("{s:O,s:s,s:{s:O,s:o}}", "id", id, "type", "function", "function",
                               "name", name, "arguments", args);
        if (!tc || push(calls, tc) != OR_OK ||
            json_object_set(pending, json_string_value(id), json_true()))
            goto out;
    }
    bool has_calls = json_array_size(calls) > 0;
    m = json_pack("{s:s,s:O}", "role", "assistant", "content",
                  ntext || !has_calls ? text : json_null());
    if (!m)
        goto out;
    /* Replayed reasoning: DeepSeek, Kimi and friends reject a history without it. */
    if (nthink && json_string_length(think) && put(m, "reasoning_content", json_incref(think)))
        goto out;
    if (has_calls && put(m, "tool_calls", json_incref(calls)) != OR_OK)
        goto out;
    e = push(msgs, m);
    m = NULL;
out:
    json_decref(text);
    json_decref(think);
    json_decref(calls);
    json_decref(m);
    return e;
}

/* Tool results become tool messages (text only: images are named, not sent). OpenAI takes a
 * result only right after the turn that made the call, so any other one (an orphan, a duplicate,
 * a late one) is labelled user text instead of being rejected. */
static or_err tool_wire(json_t *msgs, const json_t *parts, json_t *pending)
{
    size_t i, j;
    json_t *r, *c;
    json_array_foreach(parts, i, r)
    {
        const char *id = str(r, "tool_call_id");
        const json_t *content = json_object_get(r, "content");
        json_t *flat = json_array();
        if (!id || !flat) {
            json_decref(flat);
            continue;
        }
        json_array_foreach(content, j, c)
        {
            const char *type = str(c, "type");
            json_t *t = json_object_get(c, "text");
            if (type && strcmp(type, "image") == 0)
                t = json_string("[image]");
            else if (json_is_string(t))
                json_incref(t);
            else
                continue;
            if (push(flat, json_pack("{s:s,s:o}", "type", "text", "text", t)) != OR_OK) {
                json_decref(flat);
                return OR_ENOMEM;
            }
        }
        json_t *text = join(flat, "text", "\n", NULL);
        json_decref(flat);
        if (!text)
            return OR_ENOMEM;
        or_err e;
        if (json_object_del(pending, id) == 0) {
            e = push(msgs, json_pack("{s:s,s:s,s:o}", "role", "tool", "tool_call_id", id, "content",
                                     text));
        } else {
            size_t n = json_string_length(text) + strlen(id) + 32;
            char *s = malloc(n);
            if (s)
                snprintf(s, n, "[tool result %s] %s", id, json_string_value(text));
            json_decref(text);
            e = wire_msg(msgs, "user", s ? json_string(s) : NULL);
            free(s);
        }
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

/* OpenAI rejects a history where a call is not answered before the next turn; such a call gets
 * an empty result (a call in the last turn is left alone: the client is answering it now). */
static or_err answer_pending(json_t *msgs, json_t *pending)
{
    const char *id;
    json_t *v;
    json_object_foreach(pending, id, v)
    {
        if (push(msgs,
                 json_pack("{s:s,s:s,s:s}", "role", "tool", "tool_call_id", id, "content", "")))
            return OR_ENOMEM;
    }
    json_object_clear(pending);
    return OR_OK;
}

static or_err messages_wire(const json_t *ir, json_t *body)
{
    json_t *msgs = json_array(), *pending = json_object(), *m;
    or_err e = OR_ENOMEM;
    if (!msgs || !pending)
        goto out;
    const json_t *system = json_object_get(ir, "system");
    size_t n, i;
    json_t *sys = join(system, "text", "\n\n", &n);
    if (n && (e = wire_msg(msgs, "system", sys)) != OR_OK)
        goto out;
    if (!n)
        json_decref(sys);
    e = OR_OK;
    json_array_foreach(json_object_get(ir, "messages"), i, m)
    {
        const char *role = str(m, "role");
        const json_t *parts = json_object_get(m, "content");
        if (!role || !json_is_array(parts))
            continue;
        if (strcmp(role, "tool") != 0 && (e = answer_pending(msgs, pending)) != OR_OK)
            goto out;
        if (strcmp(role, "user") == 0)
            e = wire_msg(msgs, "user", user_wire(parts));
        else if (strcmp(role, "assistant") == 0)
            e = assistant_wire(msgs, parts, pending);
        else if (strcmp(role, "tool") == 0)
            e = tool_wire(msgs, parts, pending);
        if (e != OR_OK)
            goto out;
    }
    e = put(body, "messages", msgs);
    msgs = NULL;
out:
    json_decref(msgs);
    json_decref(pending);
    return e;
}

static or_err tools_wire(const json_t *ir, json_t *body)
{
    const json_t *tools = json_object_get(ir, "tools");
    if (!json_array_size(tools))
        return OR_OK; /* tool_choice / parallel_tool_calls without tools are a 400 at OpenAI */
    json_t *a = json_array(), *t;
    size_t i;
    if (!a)
        return OR_ENOMEM;
    json_array_foreach(tools, i, t)
    {
        json_t *name = json_object_get(t, "name");
        if (!json_is_string(name))
            continue;
        json_t *fn = json_pack("{s:O}", "name", name);
        json_t *desc = json_object_get(t, "description"),
               *params = json_object_get(t, "parameters");
        json_t *strict = json_object_get(t, "strict");
        bool ok = fn && !(json_is_string(desc) && put(fn, "description", json_incref(desc))) &&
                  !put(fn, "parameters",
                       json_is_object(params)
                           ? json_incref(params)
                           : json_pack("{s:s,s:{}}", "type", "object", "properties")) &&
                  !(json_is_true(strict) && put(fn, "strict", json_true()));
        if (!ok) {
            json_decref(fn);
            json_decref(a);
            return OR_ENOMEM;
        }
        if (push(a, json_pack("{s:s,s:o}", "type", "function", "function", fn))) {
            json_decref(a);
            return OR_ENOMEM;
        }
    }
    if (!json_array_size(a)) {
        json_decref(a);
        return OR_OK;
    }
    if (put(body, "tools", a) != OR_OK)
        return OR_ENOMEM;
    const json_t *tc = json_object_get(ir, "tool_choice");
    const char *type = str(tc, "type");
    json_t *w = NULL;
    if (type && strcmp(type, "tool") == 0 && str(tc, "name"))
        w = json_pack("{s:s,s:{s:s}}", "type", "function", "function", "name", str(tc, "name"));
    else if (type && (strcmp(type, "auto") == 0 || strcmp(type, "none") == 0 ||
                      strcmp(type, "required") == 0))
        w = json_string(type);
    if (w && put(body, "tool_choice", w) != OR_OK)
        return OR_ENOMEM;
    json_t *ptc = json_object_get(ir, "parallel_tool_calls");
    if (json_is_boolean(ptc) && put(body, "parallel_tool_calls", json_incref(ptc)) != OR_OK)
        return OR_ENOMEM;
    return OR_OK;
}

/* Model families that take reasoning_effort. Clients of other formats ask for thinking on every
 * request (Claude Code does), and OpenAI-compatible upstreams without reasoning reject the
 * field with a 400, so translated thinking becomes reasoning_effort only for these. */
static bool takes_effort(const char *model)
{
    static const char *const families[] = {"o1", "o3", "o4", "gpt-5", "gpt-oss", "grok-3-mini"};
    if (!model)
        return false;
    const char *base = strrchr(model, '/'); /* "openai/gpt-oss-120b" on Groq, OpenRouter */
    base = base ? base + 1 : model;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strncmp(base, families[i], strlen(families[i])) == 0)
            return true;
    return false;
}

/* The reasoning_effort to send: thinking.effort, or the client's own word when it came from an
 * OpenAI client and means the same ("minimal"/"xhigh" survive an OpenAI → OpenAI trip). */
static const char *effort_word(const json_t *ir)
{
    const json_t *extra = json_object_get(json_object_get(ir, "extra"), "openai");
    const json_t *th = json_object_get(ir, "thinking");
    const char *effort = str(th, "effort"), *orig = str(extra, "reasoning_effort");
    const char *type = str(th, "type"), *bucket = or_openai_req_effort(orig);
    if (type && strcmp(type, "disabled") == 0)
        return orig && strcmp(orig, "none") == 0 ? orig : NULL;
    if (effort && bucket && strcmp(bucket, effort) == 0)
        return orig;
    if (!orig && !takes_effort(str(ir, "model")))
        return NULL;
    return effort;
}

static or_err sampling_wire(const json_t *ir, json_t *body)
{
    const json_t *extra = json_object_get(json_object_get(ir, "extra"), "openai");
    json_t *v = json_object_get(ir, "max_tokens");
    /* OpenAI reasoning models reject max_tokens; a reasoning request (or a client that used the
     * newer name) gets max_completion_tokens, everything else the name every compatible
     * upstream knows. */
    const char *effort = effort_word(ir);
    bool completion =
        json_object_get(extra, "max_completion_tokens") || (effort && strcmp(effort, "none") != 0);
    if (json_is_integer(v) &&
        put(body, completion ? "max_completion_tokens" : "max_tokens", json_incref(v)))
        return OR_ENOMEM;
    static const char *const nums[] = {"temperature", "top_p"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (json_is_number(v = json_object_get(ir, nums[i])) && put(body, nums[i], json_incref(v)))
            return OR_ENOMEM;
    /* OpenAI takes at most 4 stop sequences; Anthropic and Gemini clients may send more. */
    json_t *stop = json_object_get(ir, "stop");
    if (json_array_size(stop)) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < json_array_size(stop) && i < 4; i++)
            if (push(a, json_incref(json_array_get(stop, i))) != OR_OK)
                break;
        if (!a || put(body, "stop", a))
            return OR_ENOMEM;
    }
    /* The gateway records usage, so a streamed request always asks for the usage chunk; the
     * client-side encoder drops it when the client did not ask. */
    if (json_is_true(json_object_get(ir, "stream"))) {
        if (put(body, "stream", json_true()) ||
            put(body, "stream_options", json_pack("{s:b}", "include_usage", 1)))
            return OR_ENOMEM;
    } else if (json_is_false(json_object_get(ir, "stream")) && put(body, "stream", json_false())) {
        return OR_ENOMEM;
    }
    return OR_OK;
}

static or_err options_wire(const json_t *ir, json_t *body)
{
    const json_t *extra = json_object_get(json_object_get(ir, "extra"), "openai");
    const char *effort = effort_word(ir);
    if (effort && put(body, "reasoning_effort", json_string(effort)))
        return OR_ENOMEM;

    const json_t *rf = json_object_get(ir, "response_format");
    const char *rt = str(rf, "type");
    json_t *w = NULL;
    if (rt && strcmp(rt, "json_schema") == 0) {
        json_t *js = json_pack("{s:s}", "name", str(rf, "name") ? str(rf, "name") : "response");
        static const char *const keys[] = {"description", "schema", "strict"};
        for (size_t i = 0; js && i < sizeof keys / sizeof keys[0]; i++) {
            json_t *x = json_object_get(rf, keys[i]);
            if (x && put(js, keys[i], json_incref(x))) {
                json_decref(js);
                js = NULL;
            }
        }
        w = js ? json_pack("{s:s,s:o}", "type", "json_schema", "json_schema", js) : NULL;
        if (!w)
            return OR_ENOMEM;
    } else if (rt && (strcmp(rt, "json_object") == 0 || strcmp(rt, "text") == 0)) {
        w = json_pack("{s:s}", "type", rt);
    }
    if (w && put(body, "response_format", w))
        return OR_ENOMEM;
    json_t *user = json_object_get(ir, "user");
    if (json_is_string(user) && put(body, "user", json_incref(user)))
        return OR_ENOMEM;

    /* Same-format passthrough of the fields this translator does not model. */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)extra, k, v)
    {
        if (strcmp(k, "max_completion_tokens") == 0 || strcmp(k, "reasoning_effort") == 0 ||
            json_object_get(body, k))
            continue;
        if (put(body, k, json_incref(v)))
            return OR_ENOMEM;
    }
    return OR_OK;
}

or_err or_openai_build_req(const json_t *ir, json_t **body, or_errbuf *eb)
{
    or_err e;
    json_t *b = json_object();
    *body = NULL;
    if (!b)
        return OR_ENOMEM;
    if (!json_is_object(ir)) {
        e = or_fail(eb, OR_EINVAL, "IR request: expected an object");
        goto out;
    }
    json_t *model = json_object_get(ir, "model");
    if (json_is_string(model) && (e = put(b, "model", json_incref(model))) != OR_OK)
        goto out;
    if ((e = messages_wire(ir, b)) != OR_OK || (e = tools_wire(ir, b)) != OR_OK ||
        (e = sampling_wire(ir, b)) != OR_OK || (e = options_wire(ir, b)) != OR_OK)
        goto out;
    *body = b;
    b = NULL;
out:
    if (e == OR_ENOMEM)
        or_fail(eb, e, "out of memory building the OpenAI request");
    json_decref(b);
    return e;
}

or_err or_openai_build_url(const char *root, size_t root_len, const char *model, bool stream,
                           or_buf *out)
{
    (void)model;
    (void)stream;
    while (root_len && root[root_len - 1] == '/')
        root_len--;
    or_err e = or_buf_append(out, root, root_len);
    return e != OR_OK ? e : or_buf_puts(out, "/chat/completions");
}
