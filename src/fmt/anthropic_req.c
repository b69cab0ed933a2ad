/* anthropic_req.c — Anthropic Messages request → IR. */
#include "fmt/anthropic_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *ir;    /* the result being built */
    json_t *sys;   /* ir.system (borrowed) */
    json_t *msgs;  /* ir.messages (borrowed) */
    json_t *names; /* tool_use id → name, to fill tool_result.name (owned) */
    or_errbuf *eb;
} pctx;

/* Where a block may appear decides which block types are accepted. */
enum { IN_USER, IN_ASSISTANT, IN_RESULT, IN_SYSTEM };

static void keep_cache_control(json_t *part, const json_t *blk)
{
    json_t *cc = json_object_get(blk, "cache_control");
    if (cc)
        json_object_set(part, "cache_control", cc);
}

static or_err need_string(const json_t *o, const char *k, const char *path, const char **out,
                          or_errbuf *eb)
{
    const json_t *v = json_object_get(o, k);
    *out = json_string_value(v); /* NULL on failure: callers' values are never left unset */
    if (!json_is_string(v))
        return or_fail(eb, OR_EINVAL, "%s.%s: expected a string", path, k);
    return OR_OK;
}

static json_t *raw_part(const json_t *blk)
{
    return json_pack("{s:s,s:s,s:O}", "type", "raw", "format", "claude", "block", blk);
}

static or_err text_part(const json_t *blk, const char *path, json_t **part, or_errbuf *eb)
{
    const char *t;
    or_err e = need_string(blk, "text", path, &t, eb);
    if (e != OR_OK)
        return e;
    *part = json_pack("{s:s,s:O}", "type", "text", "text", json_object_get(blk, "text"));
    return *part ? OR_OK : OR_ENOMEM;
}

static or_err image_part(const json_t *blk, const char *path, json_t **part, or_errbuf *eb)
{
    const json_t *src = json_object_get(blk, "source");
    const char *st = json_string_value(json_object_get(src, "type"));
    if (!json_is_object(src) || !st)
        return or_fail(eb, OR_EINVAL, "%s.source: expected an object with a type", path);
    if (strcmp(st, "base64") == 0) {
        const char *mt, *data;
        or_err e = need_string(src, "media_type", path, &mt, eb);
        if (e == OR_OK)
            e = need_string(src, "data", path, &data, eb);
        if (e != OR_OK)
            return e;
        *part = json_pack("{s:s,s:s,s:s}", "type", "image", "media_type", mt, "data", data);
    } else if (strcmp(st, "url") == 0) {
        const char *u;
        or_err e = need_string(src, "url", path, &u, eb);
        if (e != OR_OK)
            return e;
        *part = json_pack("{s:s,s:s}", "type", "image", "url", u);
    } else {
        *part = raw_part(blk); /* file ids and future sources: only a Claude target knows them */
    }
    return *part ? OR_OK : OR_ENOMEM;
}

/* A document the IR can carry is text: a plain-text source or inline text blocks. PDFs and
 * file ids cannot be translated, and silently dropping them would change the answer. */
static or_err document_part(const json_t *blk, const char *path, json_t **part, or_errbuf *eb)
{
    const json_t *src = json_object_get(blk, "source");
    const char *st = json_string_value(json_object_get(src, "type"));
    const char *mt = json_string_value(json_object_get(src, "media_type"));
    if (st && strcmp(st, "text") == 0 && json_is_string(json_object_get(src, "data"))) {
        *part = json_pack("{s:s,s:O}", "type", "text", "text", json_object_get(src, "data"));
        return *part ? OR_OK : OR_ENOMEM;
    }
    if (st && strcmp(st, "content") == 0 && json_is_array(json_object_get(src, "content"))) {
        const json_t *c = json_object_get(src, "content");
        or_buf b;
        or_buf_init(&b, 0);
        size_t i;
        const json_t *x;
        or_err e = OR_OK;
        json_array_foreach(c, i, x)
        {
            const char *t = json_string_value(json_object_get(x, "text"));
            if (t && e == OR_OK)
                e = or_buf_printf(&b, "%s%s", b.len ? "\n" : "", t);
        }
        if (e == OR_OK) {
            *part = json_pack("{s:s,s:s#}", "type", "text", "text", b.data ? b.data : "", b.len);
            e = *part ? OR_OK : OR_ENOMEM;
        }
        or_buf_free(&b);
        return e;
    }
    return or_fail(eb, OR_EINVAL, "%s: document with source type '%s'%s%s%s is not supported", path,
                   st ? st : "?", mt ? " (" : "", mt ? mt : "", mt ? ")" : "");
}

static or_err result_content(pctx *c, const json_t *blk, const char *path, json_t *part);

static or_err block_to_part(pctx *c, const json_t *blk, const char *path, int where, json_t **part)
{
    *part = NULL;
    if (!json_is_object(blk))
        return or_fail(c->eb, OR_EINVAL, "%s: expected an object", path);
    const char *type = json_string_value(json_object_get(blk, "type"));
    if (!type)
        return or_fail(c->eb, OR_EINVAL, "%s.type: expected a string", path);
    or_err e = OR_OK;
    if (strcmp(type, "text") == 0) {
        e = text_part(blk, path, part, c->eb);
    } else if (where == IN_SYSTEM) {
        return or_fail(c->eb, OR_EINVAL, "%s.type: expected 'text', got '%s'", path, type);
    } else if (strcmp(type, "image") == 0) {
        e = image_part(blk, path, part, c->eb);
    } else if (strcmp(type, "document") == 0) {
        e = document_part(blk, path, part, c->eb);
    } else if (strcmp(type, "tool_use") == 0 && where == IN_ASSISTANT) {
        const char *id, *name;
        if ((e = need_string(blk, "id", path, &id, c->eb)) != OR_OK ||
            (e = need_string(blk, "name", path, &name, c->eb)) != OR_OK)
            return e;
        const json_t *in = json_object_get(blk, "input");
        if (in && !json_is_object(in))
            return or_fail(c->eb, OR_EINVAL, "%s.input: expected an object", path);
        char *args = in ? json_dumps(in, JSON_COMPACT) : strdup("{}");
        if (!args)
            return OR_ENOMEM;
        *part = json_pack("{s:s,s:s,s:s,s:s}", "type", "tool_call", "id", id, "name", name,
                          "arguments", args);
        free(args);
        if (*part && json_object_set(c->names, id, json_object_get(blk, "name")) != 0)
            e = OR_ENOMEM;
    } else if (strcmp(type, "tool_result") == 0 && where == IN_USER) {
        const char *id;
        if ((e = need_string(blk, "tool_use_id", path, &id, c->eb)) != OR_OK)
            return e;
        *part = json_pack("{s:s,s:s}", "type", "tool_result", "tool_call_id", id);
        json_t *name = json_object_get(c->names, id);
        if (*part && name)
            json_object_set(*part, "name", name);
        if (*part && json_is_true(json_object_get(blk, "is_error")))
            json_object_set_new(*part, "is_error", json_true());
        if (*part)
            e = result_content(c, blk, path, *part);
    } else if (strcmp(type, "thinking") == 0 && where == IN_ASSISTANT) {
        const char *t;
        if ((e = need_string(blk, "thinking", path, &t, c->eb)) != OR_OK)
            return e;
        *part = json_pack("{s:s,s:s}", "type", "thinking", "text", t);
        const char *sig = json_string_value(json_object_get(blk, "signature"));
        if (*part && sig)
            json_object_set_new(*part, "signature", json_string(sig));
    } else if (strcmp(type, "redacted_thinking") == 0 && where == IN_ASSISTANT) {
        const char *d;
        if ((e = need_string(blk, "data", path, &d, c->eb)) != OR_OK)
            return e;
        *part = json_pack("{s:s,s:s}", "type", "thinking", "redacted", d);
    } else if (strcmp(type, "tool_use") == 0 || strcmp(type, "tool_result") == 0 ||
               strcmp(type, "thinking") == 0 || strcmp(type, "redacted_thinking") == 0) {
        return or_fail(c->eb, OR_EINVAL, "%s.type: '%s' is not allowed in %s", path, type,
                       where == IN_RESULT ? "a tool_result"
                       : where == IN_USER ? "user"
                                          : "an assistant message");
    } else {
        *part = raw_part(blk); /* server tools, search results, containers: Claude-only blocks */
    }
    if (e == OR_OK && !*part)
        e = OR_ENOMEM;
    if (e == OR_OK)
        keep_cache_control(*part, blk);
    if (e != OR_OK) {
        json_decref(*part);
        *part = NULL;
    }
    return e;
}

static or_err result_content(pctx *c, const json_t *blk, const char *path, json_t *part)
{
    const json_t *content = json_object_get(blk, "content");
    json_t *arr = json_array();
    if (!arr)
        return OR_ENOMEM;
    json_object_set_new(part, "content", arr);
    if (!content)
        return OR_OK;
    if (json_is_string(content)) {
        json_t *t = json_pack("{s:s,s:O}", "type", "text", "text", content);
        return t && json_array_append_new(arr, t) == 0 ? OR_OK : OR_ENOMEM;
    }
    if (!json_is_array(content))
        return or_fail(c->eb, OR_EINVAL, "%s.content: expected a string or an array", path);
    size_t i;
    const json_t *x;
    json_array_foreach(content, i, x)
    {
        char sub[160];
        snprintf(sub, sizeof sub, "%s.content[%zu]", path, i);
        json_t *p;
        or_err e = block_to_part(c, x, sub, IN_RESULT, &p);
        if (e != OR_OK)
            return e;
        if (json_array_append_new(arr, p) != 0)
            return OR_ENOMEM;
    }
    return OR_OK;
}

/* Appends `*parts` as a message when it holds anything, and leaves a fresh empty array. */
static or_err flush(pctx *c, const char *role, json_t **parts)
{
    if (json_array_size(*parts) == 0)
        return OR_OK;
    json_t *m = json_pack("{s:s,s:o}", "role", role, "content", *parts);
    *parts = json_array();
    return m && *parts && json_array_append_new(c->msgs, m) == 0 ? OR_OK : OR_ENOMEM;
}

/* Content (string or blocks) → parts. Tool results split the message: each run of results is
 * its own IR `tool` message, placed where it was. */
static or_err content(pctx *c, const json_t *m, const char *path, int where, const char *role)
{
    const json_t *ct = json_object_get(m, "content");
    json_t *parts = json_array(), *results = json_array();
    or_err e = OR_OK;
    if (!parts || !results) {
        e = OR_ENOMEM;
        goto out;
    }
    if (json_is_string(ct)) {
        json_t *t = json_pack("{s:s,s:O}", "type", "text", "text", ct);
        if (!t || json_array_append_new(parts, t) != 0)
            e = OR_ENOMEM;
    } else if (json_is_array(ct)) {
        size_t i;
        const json_t *x;
        json_array_foreach(ct, i, x)
        {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.content[%zu]", path, i);
            json_t *p;
            if ((e = block_to_part(c, x, sub, where, &p)) != OR_OK)
                goto out;
            int is_result =
                strcmp(json_string_value(json_object_get(p, "type")), "tool_result") == 0;
            e = is_result ? flush(c, role, &parts) : flush(c, "tool", &results);
            if (e != OR_OK) {
                json_decref(p);
                goto out;
            }
            if (json_array_append_new(is_result ? results : parts, p) != 0) {
                e = OR_ENOMEM;
                goto out;
            }
        }
    } else {
        e = or_fail(c->eb, OR_EINVAL, "%s.content: expected a string or an array", path);
        goto out;
    }
    if (where == IN_SYSTEM)
        e = json_array_extend(c->sys, parts) == 0 ? OR_OK : OR_ENOMEM;
    else if ((e = flush(c, role, &parts)) == OR_OK)
        e = flush(c, "tool", &results);
out:
    json_decref(parts);
    json_decref(results);
    return e;
}

static or_err f_system(pctx *c, const json_t *v)
{
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return OR_OK;
        json_t *t = json_pack("{s:s,s:O}", "type", "text", "text", v);
        return t && json_array_append_new(c->sys, t) == 0 ? OR_OK : OR_ENOMEM;
    }
    if (!json_is_array(v))
        return or_fail(c->eb, OR_EINVAL, "system: expected a string or an array");
    json_t *wrap = json_pack("{s:O}", "content", v);
    if (!wrap)
        return OR_ENOMEM;
    or_err e = content(c, wrap, "system", IN_SYSTEM, NULL);
    json_decref(wrap);
    return e;
}

static or_err f_messages(pctx *c, const json_t *v)
{
    if (!json_is_array(v))
        return or_fail(c->eb, OR_EINVAL, "messages: expected an array");
    size_t i;
    const json_t *m;
    json_array_foreach(v, i, m)
    {
        char path[48];
        snprintf(path, sizeof path, "messages[%zu]", i);
        if (!json_is_object(m))
            return or_fail(c->eb, OR_EINVAL, "%s: expected an object", path);
        const char *role = json_string_value(json_object_get(m, "role"));
        int where = !role                            ? -1
                    : strcmp(role, "user") == 0      ? IN_USER
                    : strcmp(role, "assistant") == 0 ? IN_ASSISTANT
                    : strcmp(role, "system") == 0    ? IN_SYSTEM
                                                     : -1;
        if (where < 0)
            return or_fail(c->eb, OR_EINVAL, "%s.role: expected 'user', 'assistant' or 'system'",
                           path);
        or_err e = content(c, m, path, where, role);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

static or_err f_number(pctx *c, const json_t *v, const char *k, const char *irk)
{
    if (!json_is_number(v))
        return or_fail(c->eb, OR_EINVAL, "%s: expected a number", k);
    return json_object_set(c->ir, irk, (json_t *)v) == 0 ? OR_OK : OR_ENOMEM;
}

static or_err f_int(pctx *c, const json_t *v, const char *k, const char *irk)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return or_fail(c->eb, OR_EINVAL, "%s: expected a non-negative integer", k);
    return json_object_set(c->ir, irk, (json_t *)v) == 0 ? OR_OK : OR_ENOMEM;
}

static or_err f_stop(pctx *c, const json_t *v)
{
    size_t i;
    const json_t *x;
    if (!json_is_array(v))
        return or_fail(c->eb, OR_EINVAL, "stop_sequences: expected an array of strings");
    json_array_foreach(v, i, x) if (!json_is_string(x)) return or_fail(
        c->eb, OR_EINVAL, "stop_sequences[%zu]: expected a string", i);
    return json_object_set(c->ir, "stop", (json_t *)v) == 0 ? OR_OK : OR_ENOMEM;
}

static or_err f_stream(pctx *c, const json_t *v)
{
    if (!json_is_boolean(v))
        return or_fail(c->eb, OR_EINVAL, "stream: expected a boolean");
    return json_object_set(c->ir, "stream", (json_t *)v) == 0 ? OR_OK : OR_ENOMEM;
}

/* Custom tools → IR tools; server tools ({type:"web_search_20250305",…}) cannot be expressed
 * in the IR and wait in extra.claude.tools for a Claude target. */
static or_err f_tools(pctx *c, const json_t *v)
{
    if (!json_is_array(v))
        return or_fail(c->eb, OR_EINVAL, "tools: expected an array");
    json_t *tools = json_array(), *server = json_array();
    or_err e = OR_OK;
    size_t i;
    const json_t *t;
    if (!tools || !server) {
        e = OR_ENOMEM;
        goto out;
    }
    json_array_foreach(v, i, t)
    {
        if (!json_is_object(t)) {
            e = or_fail(c->eb, OR_EINVAL, "tools[%zu]: expected an object", i);
            goto out;
        }
        const char *type = json_string_value(json_object_get(t, "type"));
        const json_t *schema = json_object_get(t, "input_schema");
        if (type && strcmp(type, "custom") != 0 && !schema) {
            if (json_array_append(server, (json_t *)t) != 0)
                e = OR_ENOMEM;
            continue;
        }
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name || !*name) {
            e = or_fail(c->eb, OR_EINVAL, "tools[%zu].name: expected a non-empty string", i);
            goto out;
        }
        if (schema && !json_is_object(schema)) {
            e = or_fail(c->eb, OR_EINVAL, "tools[%zu].input_schema: expected an object", i);
            goto out;
        }
        json_t *it = json_pack("{s:s}", "name", name);
        const json_t *d = json_object_get(t, "description");
        if (it && json_is_string(d))
            json_object_set(it, "description", (json_t *)d);
        if (it)
            json_object_set_new(it, "parameters",
                                schema ? json_deep_copy(schema)
                                       : json_pack("{s:s,s:{}}", "type", "object", "properties"));
        if (it)
            keep_cache_control(it, t);
        if (!it || json_array_append_new(tools, it) != 0) {
            e = OR_ENOMEM;
            goto out;
        }
    }
    if (json_array_size(tools) && json_object_set(c->ir, "tools", tools) != 0)
        e = OR_ENOMEM;
    if (e == OR_OK && json_array_size(server)) {
        json_t *extra = json_object_get(json_object_get(c->ir, "extra"), "claude");
        if (json_object_set(extra, "tools", server) != 0)
            e = OR_ENOMEM;
    }
out:
    json_decref(tools);
    json_decref(server);
    return e;
}

static or_err f_tool_choice(pctx *c, const json_t *v)
{
    static const struct {
        const char *wire, *ir;
    } map[] = {{"auto", "auto"}, {"any", "required"}, {"tool", "tool"}, {"none", "none"}};
    const char *type = json_string_value(json_object_get(v, "type"));
    const char *ir = NULL;
    for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].wire, type) == 0)
            ir = map[i].ir;
    if (!json_is_object(v) || !ir)
        return or_fail(c->eb, OR_EINVAL, "tool_choice.type: expected auto, any, tool or none");
    json_t *tc = json_pack("{s:s}", "type", ir);
    if (!tc)
        return OR_ENOMEM;
    if (strcmp(ir, "tool") == 0) {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (!name) {
            json_decref(tc);
            return or_fail(c->eb, OR_EINVAL, "tool_choice.name: expected a string");
        }
        json_object_set_new(tc, "name", json_string(name));
    }
    json_object_set_new(c->ir, "tool_choice", tc);
    if (json_is_true(json_object_get(v, "disable_parallel_tool_use")))
        json_object_set_new(c->ir, "parallel_tool_calls", json_false());
    return OR_OK;
}

static or_err f_thinking(pctx *c, const json_t *v)
{
    const char *type = json_string_value(json_object_get(v, "type"));
    if (!json_is_object(v) || !type ||
        (strcmp(type, "enabled") != 0 && strcmp(type, "disabled") != 0 &&
         strcmp(type, "adaptive") != 0))
        return or_fail(c->eb, OR_EINVAL, "thinking.type: expected enabled, disabled or adaptive");
    json_t *th = json_pack("{s:s}", "type", type);
    if (!th)
        return OR_ENOMEM;
    const json_t *b = json_object_get(v, "budget_tokens");
    if (strcmp(type, "enabled") == 0 && !json_is_integer(b)) {
        json_decref(th);
        return or_fail(c->eb, OR_EINVAL, "thinking.budget_tokens: expected an integer");
    }
    if (json_is_integer(b))
        json_object_set(th, "budget_tokens", (json_t *)b);
    json_object_set_new(c->ir, "thinking", th);
    return OR_OK;
}

static or_err f_metadata(pctx *c, const json_t *v)
{
    if (!json_is_object(v))
        return or_fail(c->eb, OR_EINVAL, "metadata: expected an object");
    const json_t *u = json_object_get(v, "user_id");
    if (json_is_string(u))
        json_object_set(c->ir, "user", (json_t *)u);
    return OR_OK;
}

/* Structured output: output_config.format (GA) or the older beta top-level output_format,
 * {type:"json_schema", schema} → IR response_format. The rest of output_config (effort…)
 * stays in extra.claude for a Claude target. */
static or_err output_format(pctx *c, const json_t *fmt, const char *path)
{
    const char *type = json_string_value(json_object_get(fmt, "type"));
    const json_t *schema = json_object_get(fmt, "schema");
    if (!json_is_object(fmt) || !type || strcmp(type, "json_schema") != 0 ||
        !json_is_object(schema))
        return or_fail(c->eb, OR_EINVAL, "%s: expected {type:\"json_schema\", schema:{…}}", path);
    json_t *rf = json_pack("{s:s,s:O}", "type", "json_schema", "schema", schema);
    return rf && json_object_set_new(c->ir, "response_format", rf) == 0 ? OR_OK : OR_ENOMEM;
}

static or_err f_output_config(pctx *c, const json_t *v)
{
    if (!json_is_object(v))
        return or_fail(c->eb, OR_EINVAL, "output_config: expected an object");
    const json_t *fmt = json_object_get(v, "format");
    or_err e = fmt && !json_is_null(fmt) ? output_format(c, fmt, "output_config.format") : OR_OK;
    json_t *rest = json_copy((json_t *)v);
    if (e == OR_OK && !rest)
        e = OR_ENOMEM;
    if (e == OR_OK) {
        json_object_del(rest, "format");
        json_t *extra = json_object_get(json_object_get(c->ir, "extra"), "claude");
        if (json_object_size(rest) && json_object_set(extra, "output_config", rest) != 0)
            e = OR_ENOMEM;
    }
    json_decref(rest);
    return e;
}

static or_err field(pctx *c, const char *k, const json_t *v)
{
    static const struct {
        const char *key, *irk;
        int kind;
    } tbl[] = {
        {"system", NULL, 0},         {"messages", NULL, 1},       {"temperature", "temperature", 2},
        {"top_p", "top_p", 2},       {"top_k", "top_k", 3},       {"max_tokens", "max_tokens", 3},
        {"stop_sequences", NULL, 4}, {"stream", NULL, 5},         {"tools", NULL, 6},
        {"tool_choice", NULL, 7},    {"thinking", NULL, 8},       {"metadata", NULL, 9},
        {"model", NULL, 10},         {"output_config", NULL, 11}, {"output_format", NULL, 12},
    };
    for (size_t i = 0; i < sizeof tbl / sizeof tbl[0]; i++) {
        if (strcmp(tbl[i].key, k) != 0)
            continue;
        if (json_is_null(v) && tbl[i].kind != 1)
            return OR_OK; /* an explicit null means "not set" */
        switch (tbl[i].kind) {
        case 0:
            return f_system(c, v);
        case 1:
            return f_messages(c, v);
        case 2:
            return f_number(c, v, k, tbl[i].irk);
        case 3:
            return f_int(c, v, k, tbl[i].irk);
        case 4:
            return f_stop(c, v);
        case 5:
            return f_stream(c, v);
        case 6:
            return f_tools(c, v);
        case 7:
            return f_tool_choice(c, v);
        case 8:
            return f_thinking(c, v);
        case 9:
            return f_metadata(c, v);
        case 11:
            return f_output_config(c, v);
        case 12:
            return output_format(c, v, "output_format");
        default:
            if (!json_is_string(v))
                return or_fail(c->eb, OR_EINVAL, "model: expected a string");
            return json_object_set(c->ir, "model", (json_t *)v) == 0 ? OR_OK : OR_ENOMEM;
        }
    }
    /* Unknown: verbatim into extra.claude (output_config, context_management, service_tier…). */
    json_t *extra = json_object_get(json_object_get(c->ir, "extra"), "claude");
    return json_object_set(extra, k, (json_t *)v) == 0 ? OR_OK : OR_ENOMEM;
}

/* Claude Code pairs thinking:{type:adaptive} with output_config.effort; the IR carries the
 * effort on `thinking` so other targets can map it to their reasoning knob. */
static void effort(pctx *c)
{
    json_t *th = json_object_get(c->ir, "thinking");
    const char *ef = json_string_value(
        json_object_get(json_object_get(json_object_get(json_object_get(c->ir, "extra"), "claude"),
                                        "output_config"),
                        "effort"));
    if (th && ef && (!strcmp(ef, "low") || !strcmp(ef, "medium") || !strcmp(ef, "high")))
        json_object_set_new(th, "effort", json_string(ef));
}

or_err or_anthropic_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb)
{
    pctx c = {.eb = eb};
    or_err e = OR_OK;
    *ir = NULL;
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "request body: expected a JSON object");
    if (!json_is_array(json_object_get(body, "messages")))
        return or_fail(eb, OR_EINVAL, "messages: expected an array");
    c.ir = json_pack("{s:[],s:[],s:{s:{}}}", "system", "messages", "extra", "claude");
    c.names = json_object();
    if (!c.ir || !c.names) {
        e = OR_ENOMEM;
        goto out;
    }
    c.sys = json_object_get(c.ir, "system");
    c.msgs = json_object_get(c.ir, "messages");
    /* system first so its parts precede any role:"system" message found in messages. */
    const json_t *sys = json_object_get(body, "system");
    if (sys && (e = f_system(&c, sys)) != OR_OK)
        goto out;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        if (strcmp(k, "system") == 0)
            continue;
        if ((e = field(&c, k, v)) != OR_OK)
            goto out;
    }
    effort(&c);
    json_t *extra = json_object_get(c.ir, "extra");
    if (json_object_size(json_object_get(extra, "claude")) == 0)
        json_object_del(c.ir, "extra");
out:
    json_decref(c.names);
    if (e != OR_OK) {
        if (e == OR_ENOMEM)
            or_fail(eb, e, "out of memory");
        json_decref(c.ir);
        return e;
    }
    *ir = c.ir;
    return OR_OK;
}
