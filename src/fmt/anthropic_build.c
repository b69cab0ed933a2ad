/* anthropic_build.c — IR → Anthropic Messages request (what a Claude-format provider accepts).
 *
 * The Messages API is strict where other formats are lax, so the builder repairs rather than
 * forwards: roles alternate (adjacent same-role turns merge), tool results sit first in the user
 * turn right after their tool_use, results without a matching call become labelled text, calls
 * left unanswered in the middle of the history get an error result, empty text blocks go,
 * thinking without a signature goes, and sampling knobs that thinking forbids are dropped.
 *
 * response_format json_schema is Anthropic's structured output (output_config.format);
 * json_object, which has no schema-less equivalent there, becomes a system instruction. */
#include "fmt/anthropic_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *msgs; /* output messages */
    json_t *sys;  /* output system blocks */
    unsigned gen; /* generated tool ids */
    or_errbuf *eb;
} bctx;

static void copy_cc(json_t *blk, const json_t *part)
{
    json_t *cc = json_object_get(part, "cache_control");
    if (cc)
        json_object_set(blk, "cache_control", cc);
}

static json_t *text_block(const json_t *part)
{
    const char *t = json_string_value(json_object_get(part, "text"));
    if (!t || !*t)
        return NULL;
    json_t *b = json_pack("{s:s,s:s}", "type", "text", "text", t);
    if (b)
        copy_cc(b, part);
    return b;
}

/* data:<mt>;base64,<data> → base64 source; anything else is a URL the API fetches itself. */
static json_t *image_block(const json_t *part)
{
    const char *mt = json_string_value(json_object_get(part, "media_type"));
    const char *data = json_string_value(json_object_get(part, "data"));
    const char *u = json_string_value(json_object_get(part, "url"));
    json_t *src = NULL;
    if (data) {
        src = json_pack("{s:s,s:s,s:s}", "type", "base64", "media_type", mt ? mt : "image/png",
                        "data", data);
    } else if (u && strncmp(u, "data:", 5) == 0 && strstr(u, ";base64,")) {
        const char *semi = strchr(u, ';'), *comma = strstr(u, ";base64,") + 8;
        src = json_pack("{s:s,s:s%,s:s}", "type", "base64", "media_type", u + 5,
                        (size_t)(semi - u - 5), "data", comma);
    } else if (u) {
        src = json_pack("{s:s,s:s}", "type", "url", "url", u);
    }
    if (!src)
        return NULL;
    json_t *b = json_pack("{s:s,s:o}", "type", "image", "source", src);
    if (b)
        copy_cc(b, part);
    return b;
}

static json_t *raw_block(const json_t *part)
{
    const char *f = json_string_value(json_object_get(part, "format"));
    json_t *blk = json_object_get(part, "block");
    if (!f || strcmp(f, "claude") != 0 || !json_is_object(blk))
        return NULL; /* another format's private block: meaningless here */
    return json_deep_copy(blk);
}

/* Parts of a tool result → Messages tool_result content blocks (text, image, raw). */
static json_t *result_blocks(const json_t *content)
{
    json_t *arr = json_array();
    size_t i;
    const json_t *p;
    if (json_is_string(content)) {
        if (json_string_length(content))
            json_array_append_new(arr, json_pack("{s:s,s:O}", "type", "text", "text", content));
        return arr;
    }
    json_array_foreach(content, i, p)
    {
        const char *t = json_string_value(json_object_get(p, "type"));
        json_t *b = !t                        ? NULL
                    : strcmp(t, "text") == 0  ? text_block(p)
                    : strcmp(t, "image") == 0 ? image_block(p)
                    : strcmp(t, "raw") == 0   ? raw_block(p)
                                              : NULL;
        if (b)
            json_array_append_new(arr, b);
    }
    return arr;
}

static json_t *result_block(const json_t *part, const char *id)
{
    json_t *b = json_pack("{s:s,s:s}", "type", "tool_result", "tool_use_id", id);
    json_t *c = result_blocks(json_object_get(part, "content"));
    if (b && json_array_size(c))
        json_object_set(b, "content", c);
    json_decref(c);
    if (b && json_is_true(json_object_get(part, "is_error")))
        json_object_set_new(b, "is_error", json_true());
    if (b)
        copy_cc(b, part);
    return b;
}

static or_err tool_use_block(bctx *c, const json_t *part, const char *path, json_t **out)
{
    const char *name = json_string_value(json_object_get(part, "name"));
    const char *id = json_string_value(json_object_get(part, "id"));
    char gen[32];
    if (!name || !*name)
        return or_fail(c->eb, OR_EINVAL, "%s.name: a tool call needs a name", path);
    if (!id || !*id) {
        snprintf(gen, sizeof gen, "call_%u", ++c->gen);
        id = gen;
    }
    json_t *in = or_anthropic_args_to_input(json_string_value(json_object_get(part, "arguments")));
    *out =
        in ? json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name", name, "input", in)
           : NULL;
    if (*out)
        copy_cc(*out, part);
    return *out ? OR_OK : OR_ENOMEM;
}

/* Only signed thinking can be sent back: Anthropic verifies the signature, and reasoning from
 * other providers has none. */
static json_t *thinking_block(const json_t *part)
{
    const char *red = json_string_value(json_object_get(part, "redacted"));
    const char *sig = json_string_value(json_object_get(part, "signature"));
    const char *t = json_string_value(json_object_get(part, "text"));
    if (red)
        return json_pack("{s:s,s:s}", "type", "redacted_thinking", "data", red);
    if (sig && *sig)
        return json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", t ? t : "", "signature",
                         sig);
    return NULL;
}

/* Appends blocks to the last message when it has the same role (Anthropic wants strict
 * user/assistant alternation), else starts a message. Steals `blocks`. */
static or_err push(bctx *c, const char *role, json_t *blocks)
{
    or_err e = OR_OK;
    if (json_array_size(blocks) == 0)
        goto out;
    size_t n = json_array_size(c->msgs);
    json_t *last = n ? json_array_get(c->msgs, n - 1) : NULL;
    if (last && strcmp(json_string_value(json_object_get(last, "role")), role) == 0) {
        e = json_array_extend(json_object_get(last, "content"), blocks) == 0 ? OR_OK : OR_ENOMEM;
        goto out;
    }
    json_t *m = json_pack("{s:s,s:O}", "role", role, "content", blocks);
    e = m && json_array_append_new(c->msgs, m) == 0 ? OR_OK : OR_ENOMEM;
out:
    json_decref(blocks);
    return e;
}

static or_err message(bctx *c, const json_t *m, size_t mi)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    const json_t *content = json_object_get(m, "content");
    int asst = role && strcmp(role, "assistant") == 0;
    if (!role || (!asst && strcmp(role, "user") != 0 && strcmp(role, "tool") != 0 &&
                  strcmp(role, "system") != 0))
        return or_fail(c->eb, OR_EINVAL, "messages[%zu].role: expected user, assistant or tool",
                       mi);
    int sys = strcmp(role, "system") == 0;
    json_t *blocks = json_array();
    if (!blocks)
        return OR_ENOMEM;
    if (json_is_string(content)) {
        json_t *b = json_string_length(content)
                        ? json_pack("{s:s,s:O}", "type", "text", "text", content)
                        : NULL;
        if (b)
            json_array_append_new(blocks, b);
    }
    size_t i;
    const json_t *p;
    json_array_foreach(content, i, p)
    {
        const char *t = json_string_value(json_object_get(p, "type"));
        json_t *b = NULL;
        if (!t)
            continue;
        if (strcmp(t, "text") == 0) {
            b = text_block(p);
        } else if (sys) {
            continue;
        } else if (strcmp(t, "image") == 0) {
            b = image_block(p);
        } else if (strcmp(t, "raw") == 0) {
            b = raw_block(p);
        } else if (strcmp(t, "tool_call") == 0 && asst) {
            char path[64];
            snprintf(path, sizeof path, "messages[%zu].content[%zu]", mi, i);
            or_err e = tool_use_block(c, p, path, &b);
            if (e != OR_OK) {
                json_decref(blocks);
                return e;
            }
        } else if (strcmp(t, "thinking") == 0 && asst) {
            b = thinking_block(p);
        } else if (strcmp(t, "tool_result") == 0 && !asst) {
            const char *id = json_string_value(json_object_get(p, "tool_call_id"));
            b = result_block(p, id ? id : "");
        }
        if (b && json_array_append_new(blocks, b) != 0) {
            json_decref(blocks);
            return OR_ENOMEM;
        }
    }
    if (sys) {
        or_err e = json_array_extend(c->sys, blocks) == 0 ? OR_OK : OR_ENOMEM;
        json_decref(blocks);
        return e;
    }
    return push(c, asst ? "assistant" : "user", blocks);
}

static int is_type(const json_t *b, const char *t)
{
    const char *bt = json_string_value(json_object_get(b, "type"));
    return bt && strcmp(bt, t) == 0;
}

/* "[tool result <id>] text…" for a result the API would reject (no tool_use right before). */
static json_t *orphan_text(const json_t *res)
{
    or_buf b;
    or_buf_init(&b, 0);
    or_err e = or_buf_printf(&b, "[tool result %s]",
                             json_string_value(json_object_get(res, "tool_use_id")));
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(res, "content"), i, x)
    {
        const char *t = json_string_value(json_object_get(x, "text"));
        if (t && e == OR_OK)
            e = or_buf_printf(&b, " %s", t);
    }
    json_t *r = e == OR_OK ? json_pack("{s:s,s:s}", "type", "text", "text", b.data) : NULL;
    or_buf_free(&b);
    return r;
}

/* Makes every user turn valid against the assistant turn before it: results answering its
 * tool_use ids first (once each), other results as text, and an error result for each id
 * left unanswered (the API rejects a tool_use not followed by its result). A trailing
 * assistant turn keeps its open calls: the client is answering them now. */
static or_err pair_results(bctx *c)
{
    size_t n = json_array_size(c->msgs);
    for (size_t k = 0; k < n; k++) {
        json_t *m = json_array_get(c->msgs, k);
        if (strcmp(json_string_value(json_object_get(m, "role")), "user") != 0)
            continue;
        json_t *prev = k ? json_array_get(c->msgs, k - 1) : NULL;
        json_t *ids = json_object(), *front = json_array(), *rest = json_array();
        or_err e = ids && front && rest ? OR_OK : OR_ENOMEM;
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(prev, "content"), i,
                           b) if (e == OR_OK && is_type(b, "tool_use"))
            json_object_set_new(ids, json_string_value(json_object_get(b, "id")), json_false());
        json_array_foreach(json_object_get(m, "content"), i, b)
        {
            if (e != OR_OK)
                break;
            if (!is_type(b, "tool_result")) {
                e = json_array_append(rest, b) == 0 ? OR_OK : OR_ENOMEM;
                continue;
            }
            const char *id = json_string_value(json_object_get(b, "tool_use_id"));
            json_t *seen = json_object_get(ids, id);
            if (json_is_false(seen)) {
                json_object_set_new(ids, id, json_true());
                e = json_array_append(front, b) == 0 ? OR_OK : OR_ENOMEM;
            } else {
                e = json_array_append_new(rest, orphan_text(b)) == 0 ? OR_OK : OR_ENOMEM;
            }
        }
        /* Unanswered calls, in call order, ahead of the answered ones is fine for the API. */
        json_array_foreach(json_object_get(prev, "content"), i, b)
        {
            const char *id = json_string_value(json_object_get(b, "id"));
            if (e != OR_OK || !is_type(b, "tool_use") || !json_is_false(json_object_get(ids, id)))
                continue;
            json_t *r =
                json_pack("{s:s,s:s,s:[{s:s,s:s}],s:b}", "type", "tool_result", "tool_use_id", id,
                          "content", "type", "text", "text", "[no result]", "is_error", 1);
            e = json_array_append_new(front, r) == 0 ? OR_OK : OR_ENOMEM;
            json_object_set_new(ids, id, json_true());
        }
        if (e == OR_OK && json_array_extend(front, rest) != 0)
            e = OR_ENOMEM;
        if (e == OR_OK)
            json_object_set(m, "content", front);
        json_decref(ids);
        json_decref(front);
        json_decref(rest);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

/* A manual budget for thinking requested by effort only (OpenAI reasoning_effort). */
static json_int_t effort_budget(const char *effort)
{
    static const struct {
        const char *effort;
        json_int_t budget;
    } tbl[] = {{"minimal", 1024}, {"low", 1024}, {"medium", 10240}, {"high", 32000}};
    for (size_t i = 0; effort && i < sizeof tbl / sizeof tbl[0]; i++)
        if (strcmp(tbl[i].effort, effort) == 0)
            return tbl[i].budget;
    return 10240;
}

/* With thinking on, the API wants the assistant turn of an ongoing tool loop to start with its
 * (signed) thinking block. History from another provider has none: thinking must go then. */
static int loop_without_thinking(const bctx *c)
{
    size_t n = json_array_size(c->msgs);
    if (n < 2)
        return 0;
    const json_t *last = json_array_get(c->msgs, n - 1);
    const json_t *asst = json_array_get(c->msgs, n - 2);
    const json_t *first = json_array_get(json_object_get(asst, "content"), 0);
    if (strcmp(json_string_value(json_object_get(last, "role")), "user") != 0 ||
        !is_type(json_array_get(json_object_get(last, "content"), 0), "tool_result"))
        return 0;
    return !is_type(first, "thinking") && !is_type(first, "redacted_thinking");
}

/* Sets body.thinking; returns the budget in force (0 when thinking is off). */
static json_int_t thinking(const bctx *c, const json_t *ir, json_t *body)
{
    const json_t *th = json_object_get(ir, "thinking");
    const char *type = json_string_value(json_object_get(th, "type"));
    const char *tc = json_string_value(json_object_get(json_object_get(ir, "tool_choice"), "type"));
    if (!type)
        return 0;
    if (strcmp(type, "disabled") == 0) {
        json_object_set_new(body, "thinking", json_pack("{s:s}", "type", "disabled"));
        return 0;
    }
    /* Forced tool use is incompatible with thinking; the forced call is what the caller needs. */
    if ((tc && (strcmp(tc, "required") == 0 || strcmp(tc, "tool") == 0)) ||
        loop_without_thinking(c))
        return 0;
    if (strcmp(type, "adaptive") == 0) {
        json_object_set_new(body, "thinking", json_pack("{s:s}", "type", "adaptive"));
        return -1;
    }
    const json_t *b = json_object_get(th, "budget_tokens");
    json_int_t budget = json_is_integer(b)
                            ? json_integer_value(b)
                            : effort_budget(json_string_value(json_object_get(th, "effort")));
    if (budget <= 0) {
        json_object_set_new(body, "thinking", json_pack("{s:s}", "type", "disabled"));
        return 0;
    }
    if (budget < 1024)
        budget = 1024; /* the API's minimum */
    json_object_set_new(body, "thinking",
                        json_pack("{s:s,s:I}", "type", "enabled", "budget_tokens", budget));
    return budget;
}

static void sampling(const json_t *ir, json_t *body, int think)
{
    const json_t *t = json_object_get(ir, "temperature");
    const json_t *p = json_object_get(ir, "top_p");
    const json_t *k = json_object_get(ir, "top_k");
    int has_t = json_is_number(t) && !think;
    if (has_t) {
        double v = json_number_value(t);
        json_object_set_new(body, "temperature", json_real(v < 0 ? 0 : v > 1 ? 1 : v));
    }
    /* Current models reject temperature and top_p together; thinking needs top_p >= 0.95. */
    if (json_is_number(p) && !has_t && (!think || json_number_value(p) >= 0.95))
        json_object_set(body, "top_p", (json_t *)p);
    if (json_is_integer(k) && !think)
        json_object_set(body, "top_k", (json_t *)k);
}

static void stops(const json_t *ir, json_t *body)
{
    const json_t *s = json_object_get(ir, "stop");
    json_t *arr = json_array();
    size_t i;
    const json_t *x;
    if (json_is_string(s))
        json_array_append(arr, (json_t *)s);
    json_array_foreach(s, i, x)
    {
        const char *v = json_string_value(x);
        if (v && v[strspn(v, " \t\r\n")]) /* the API rejects whitespace-only sequences */
            json_array_append(arr, (json_t *)x);
    }
    if (json_array_size(arr))
        json_object_set(body, "stop_sequences", arr);
    json_decref(arr);
}

static or_err tools(bctx *c, const json_t *ir, json_t *body)
{
    const json_t *src = json_object_get(ir, "tools");
    const json_t *server =
        json_object_get(json_object_get(json_object_get(ir, "extra"), "claude"), "tools");
    json_t *arr = json_array();
    size_t i;
    const json_t *t;
    if (!arr)
        return OR_ENOMEM;
    json_array_foreach(src, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name || !*name) {
            json_decref(arr);
            return or_fail(c->eb, OR_EINVAL, "tools[%zu].name: expected a non-empty string", i);
        }
        const json_t *params = json_object_get(t, "parameters");
        json_t *schema = json_is_object(params) ? json_deep_copy(params) : json_object();
        if (schema && !json_object_get(schema, "type"))
            json_object_set_new(schema, "type", json_string("object"));
        json_t *o = json_pack("{s:s}", "name", name);
        const json_t *d = json_object_get(t, "description");
        if (o && json_is_string(d) && json_string_length(d))
            json_object_set(o, "description", (json_t *)d);
        if (o && schema)
            json_object_set(o, "input_schema", schema);
        json_decref(schema);
        if (o)
            copy_cc(o, t);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return OR_ENOMEM;
        }
    }
    json_array_foreach(server, i, t) if (json_is_object(t)) json_array_append(arr, (json_t *)t);
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return OR_OK;
    }
    json_object_set_new(body, "tools", arr);

    static const struct {
        const char *ir, *wire;
    } map[] = {{"auto", "auto"}, {"required", "any"}, {"tool", "tool"}, {"none", "none"}};
    const json_t *tc = json_object_get(ir, "tool_choice");
    const char *type = json_string_value(json_object_get(tc, "type"));
    const char *name = json_string_value(json_object_get(tc, "name"));
    const char *wire = NULL;
    for (size_t k = 0; type && k < sizeof map / sizeof map[0]; k++)
        if (strcmp(map[k].ir, type) == 0)
            wire = map[k].wire;
    if (wire && strcmp(wire, "tool") == 0 && !name)
        wire = "any";
    int serial = json_is_false(json_object_get(ir, "parallel_tool_calls"));
    if (!wire && serial)
        wire = "auto";
    if (!wire)
        return OR_OK;
    json_t *o = json_pack("{s:s}", "type", wire);
    if (o && strcmp(wire, "tool") == 0)
        json_object_set_new(o, "name", json_string(name));
    if (o && serial && strcmp(wire, "none") != 0)
        json_object_set_new(o, "disable_parallel_tool_use", json_true());
    return o && json_object_set_new(body, "tool_choice", o) == 0 ? OR_OK : OR_ENOMEM;
}

/* json_schema → output_config.format (structured outputs; merged with the output_config a
 * Claude client sent, e.g. its effort). json_object has no Messages equivalent (structured
 * outputs need a schema): it becomes a system instruction to answer with JSON only. */
static or_err response_format(bctx *c, const json_t *ir, json_t *body)
{
    const json_t *rf = json_object_get(ir, "response_format");
    const char *type = json_string_value(json_object_get(rf, "type"));
    const json_t *schema = json_object_get(rf, "schema");
    const json_t *oc =
        json_object_get(json_object_get(json_object_get(ir, "extra"), "claude"), "output_config");
    if (type && strcmp(type, "json_schema") == 0 && json_is_object(schema)) {
        json_t *o = json_is_object(oc) ? json_deep_copy(oc) : json_object();
        json_t *f = json_pack("{s:s,s:O}", "type", "json_schema", "schema", schema);
        if (!o || !f || json_object_set_new(o, "format", f) != 0) {
            json_decref(o);
            return OR_ENOMEM;
        }
        return json_object_set_new(body, "output_config", o) == 0 ? OR_OK : OR_ENOMEM;
    }
    if (!type || strcmp(type, "json_object") != 0)
        return OR_OK;
    json_t *blk = json_pack("{s:s,s:s}", "type", "text", "text",
                            "Respond with a single valid JSON object and nothing else: no prose, "
                            "no code fences.");
    return blk && json_array_append_new(c->sys, blk) == 0 ? OR_OK : OR_ENOMEM;
}

or_err or_anthropic_req_from_ir(const json_t *ir, json_t **body, or_errbuf *eb)
{
    bctx c = {.eb = eb};
    json_t *b = NULL;
    or_err e = OR_OK;
    size_t i;
    const json_t *x;
    *body = NULL;
    if (!json_is_object(ir))
        return or_fail(eb, OR_EINVAL, "request: expected an IR object");
    const json_t *msgs = json_object_get(ir, "messages");
    if (msgs && !json_is_array(msgs))
        return or_fail(eb, OR_EINVAL, "messages: expected an array");
    c.msgs = json_array();
    c.sys = json_array();
    b = json_object();
    if (!c.msgs || !c.sys || !b) {
        e = OR_ENOMEM;
        goto out;
    }
    const json_t *sys = json_object_get(ir, "system");
    if (json_is_string(sys) && json_string_length(sys))
        json_array_append_new(c.sys, json_pack("{s:s,s:O}", "type", "text", "text", sys));
    json_array_foreach(sys, i, x)
    {
        json_t *blk = text_block(x);
        if (blk && json_array_append_new(c.sys, blk) != 0) {
            e = OR_ENOMEM;
            goto out;
        }
    }
    json_array_foreach(msgs, i, x)
    {
        if (!json_is_object(x)) {
            e = or_fail(eb, OR_EINVAL, "messages[%zu]: expected an object", i);
            goto out;
        }
        if ((e = message(&c, x, i)) != OR_OK)
            goto out;
    }
    if ((e = pair_results(&c)) != OR_OK || (e = response_format(&c, ir, b)) != OR_OK)
        goto out;

    const json_t *model = json_object_get(ir, "model");
    if (json_is_string(model))
        json_object_set(b, "model", (json_t *)model);
    const json_t *mt = json_object_get(ir, "max_tokens");
    json_int_t max =
        json_is_integer(mt) && json_integer_value(mt) > 0 ? json_integer_value(mt) : 4096;
    json_object_set_new(b, "max_tokens", json_integer(max));
    if (json_array_size(c.sys))
        json_object_set(b, "system", c.sys);
    json_object_set(b, "messages", c.msgs);
    if ((e = tools(&c, ir, b)) != OR_OK)
        goto out;
    json_int_t budget = thinking(&c, ir, b);
    if (budget > 0 && max <= budget)
        json_object_set_new(b, "max_tokens", json_integer(budget + 1024));
    sampling(ir, b, budget != 0);
    stops(ir, b);
    const json_t *stream = json_object_get(ir, "stream");
    if (json_is_boolean(stream))
        json_object_set(b, "stream", (json_t *)stream);
    const char *user = json_string_value(json_object_get(ir, "user"));
    if (user)
        json_object_set_new(b, "metadata", json_pack("{s:s}", "user_id", user));
    /* Passthrough of what a Claude client sent that the IR does not model. */
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(ir, "extra"), "claude"), k, v)
    {
        if (strcmp(k, "tools") != 0 && !json_object_get(b, k))
            json_object_set(b, k, v);
    }
out:
    json_decref(c.msgs);
    json_decref(c.sys);
    if (e != OR_OK) {
        if (e == OR_ENOMEM)
            or_fail(eb, e, "out of memory");
        json_decref(b);
        return e;
    }
    *body = b;
    return OR_OK;
}
