/* OpenAI Responses requests: wire body ↔ IR (docs/internals/IR.md). */
#include "fmt/responses_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== wire → IR */

typedef struct {
    json_t *ir;
    json_t *system;   /* ir.system */
    json_t *messages; /* ir.messages */
    json_t *extra;    /* ir.extra["openai-responses"] */
    json_t *calls;    /* call_id → function name, to name the tool results */
    or_errbuf *eb;
} rq;

static json_t *text_part(const char *s)
{
    return json_pack("{s:s, s:s}", "type", "text", "text", s);
}

/* A data URL becomes media_type + base64 data; anything else stays a URL. */
static json_t *image_from_url(const char *u)
{
    const char *comma = strchr(u, ',');
    if (strncmp(u, "data:", 5) == 0 && comma) {
        const char *semi = strchr(u + 5, ';');
        if (semi && semi < comma && strncmp(semi, ";base64,", 8) == 0)
            return json_pack("{s:s, s:s%, s:s}", "type", "image", "media_type", u + 5,
                             (size_t)(semi - (u + 5)), "data", comma + 1);
    }
    return json_pack("{s:s, s:s}", "type", "image", "url", u);
}

static or_err parse_image(rq *q, const json_t *p, const char *where, json_t **part)
{
    json_t *iu = or_responses_get(p, "image_url");
    const char *u = json_is_object(iu) ? or_responses_str(iu, "url") : json_string_value(iu);
    const char *file_id = or_responses_str(p, "file_id");
    if (u)
        *part = image_from_url(u);
    else if (file_id) /* an IR extension: only a Responses target can resolve it */
        *part = json_pack("{s:s, s:s}", "type", "image", "file_id", file_id);
    else
        return or_fail(q->eb, OR_EINVAL, "%s.image_url: expected a string", where);
    return *part ? OR_OK : OR_ENOMEM;
}

/* One content part of a message or tool output → IR part (text or image). */
static or_err parse_part(rq *q, const json_t *p, const char *where, json_t *content)
{
    static const struct {
        const char *type, *field;
    } texts[] = {{"input_text", "text"},
                 {"output_text", "text"},
                 {"text", "text"},
                 {"refusal", "refusal"},
                 {"summary_text", "text"}};
    if (json_is_string(p))
        return or_responses_push(content, text_part(json_string_value(p))) ? OR_ENOMEM : OR_OK;
    const char *type = or_responses_str(p, "type");
    if (!type)
        return or_fail(q->eb, OR_EINVAL, "%s.type: expected a string", where);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (strcmp(texts[i].type, type) != 0)
            continue;
        const char *s = or_responses_str(p, texts[i].field);
        if (!s)
            return or_fail(q->eb, OR_EINVAL, "%s.%s: expected a string", where, texts[i].field);
        return or_responses_push(content, text_part(s)) ? OR_ENOMEM : OR_OK;
    }
    if (strcmp(type, "input_image") == 0 || strcmp(type, "image_url") == 0) {
        json_t *img = NULL;
        or_err e = parse_image(q, p, where, &img);
        if (e == OR_OK && or_responses_push(content, img))
            e = OR_ENOMEM;
        return e;
    }
    return or_fail(q->eb, OR_EINVAL, "%s.type: unsupported content type \"%.40s\"", where, type);
}

/* content: a string or an array of parts → IR parts appended to `content`. */
static or_err parse_content(rq *q, const json_t *c, const char *where, json_t *content)
{
    char sub[96];
    if (!c)
        return OR_OK;
    if (json_is_string(c))
        return or_responses_push(content, text_part(json_string_value(c))) ? OR_ENOMEM : OR_OK;
    if (!json_is_array(c))
        return or_fail(q->eb, OR_EINVAL, "%s: expected a string or an array", where);
    for (size_t i = 0; i < json_array_size(c); i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", where, i);
        or_err e = parse_part(q, json_array_get(c, i), sub, content);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

/* The content array of the trailing message with this role, created when the last message
 * has another role (consecutive assistant items form one assistant turn). */
static json_t *trailing(rq *q, const char *role)
{
    json_t *last = json_array_get(q->messages, json_array_size(q->messages) - 1);
    const char *r = or_responses_str(last, "role");
    if (r && strcmp(r, role) == 0)
        return json_object_get(last, "content");
    json_t *content = json_array();
    if (or_responses_push(q->messages, json_pack("{s:s, s:o}", "role", role, "content", content)) !=
        0)
        return NULL;
    return content;
}

static or_err item_message(rq *q, const json_t *it, const char *where)
{
    static const struct {
        const char *wire, *ir;
    } roles[] = {{"user", "user"},
                 {"assistant", "assistant"},
                 {"system", "system"},
                 {"developer", "system"}};
    char sub[96];
    const char *role = or_responses_str(it, "role"), *ir_role = NULL;
    for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].wire, role) == 0)
            ir_role = roles[i].ir;
    if (!ir_role)
        return or_fail(q->eb, OR_EINVAL, "%s.role: expected user, assistant, system or developer",
                       where);
    json_t *parts = json_array();
    if (!parts)
        return OR_ENOMEM;
    snprintf(sub, sizeof sub, "%s.content", where);
    or_err e = parse_content(q, or_responses_get(it, "content"), sub, parts);
    if (e != OR_OK)
        goto out;
    if (strcmp(ir_role, "user") == 0) {
        if (or_responses_push(q->messages,
                              json_pack("{s:s, s:O}", "role", "user", "content", parts)) != 0)
            e = OR_ENOMEM;
        goto out;
    }
    bool sys = strcmp(ir_role, "system") == 0;
    json_t *dst = sys ? q->system : trailing(q, "assistant");
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        /* only text is meaningful in a system prompt */
        if (sys && strcmp(or_responses_str(p, "type"), "text") != 0)
            continue;
        if (!dst || json_array_append(dst, p) != 0) {
            e = OR_ENOMEM;
            goto out;
        }
    }
out:
    json_decref(parts);
    return e;
}

static or_err item_call(rq *q, const json_t *it, const char *where)
{
    const char *call_id = or_responses_str(it, "call_id"), *name = or_responses_str(it, "name");
    json_t *args = or_responses_get(it, "arguments"), *a;
    if (!call_id)
        return or_fail(q->eb, OR_EINVAL, "%s.call_id: expected a string", where);
    if (!name)
        return or_fail(q->eb, OR_EINVAL, "%s.name: expected a string", where);
    if (!args) {
        a = json_string("{}");
    } else if (json_is_string(args)) {
        a = json_copy(args);
    } else { /* an object where a JSON string belongs */
        char *s = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
        a = s ? json_string(s) : NULL;
        free(s);
    }
    json_t *content = a ? trailing(q, "assistant") : NULL;
    if (!content) {
        json_decref(a);
        return OR_ENOMEM;
    }
    if (or_responses_push(content, json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_call", "id",
                                             call_id, "name", name, "arguments", a)) != 0 ||
        or_responses_set(q->calls, call_id, json_string(name)) != 0)
        return OR_ENOMEM;
    return OR_OK;
}

static or_err item_output(rq *q, const json_t *it, const char *where)
{
    char sub[96];
    const char *call_id = or_responses_str(it, "call_id");
    json_t *out = or_responses_get(it, "output");
    if (!call_id)
        return or_fail(q->eb, OR_EINVAL, "%s.call_id: expected a string", where);
    json_t *parts = json_array();
    json_t *res = json_pack("{s:s, s:s, s:o}", "type", "tool_result", "tool_call_id", call_id,
                            "content", parts);
    if (!parts || !res) {
        json_decref(res);
        return OR_ENOMEM;
    }
    or_err e = OR_OK;
    snprintf(sub, sizeof sub, "%s.output", where);
    if (!out || json_is_string(out) || json_is_array(out)) {
        e = parse_content(q, out, sub, parts);
    } else { /* some clients send a JSON value; the model sees its text */
        char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s || or_responses_push(parts, text_part(s)) != 0)
            e = OR_ENOMEM;
        free(s);
    }
    json_t *name = json_object_get(q->calls, call_id);
    if (e == OR_OK && name && json_object_set(res, "name", name) != 0)
        e = OR_ENOMEM;
    json_t *content = e == OR_OK ? trailing(q, "tool") : NULL;
    if (e == OR_OK && (!content || json_array_append(content, res) != 0))
        e = OR_ENOMEM;
    json_decref(res);
    return e;
}

static or_err item_reasoning(rq *q, const json_t *it, const char *where)
{
    (void)where;
    json_t *part = or_responses_reasoning_to_ir(it);
    if (part && or_responses_thinking_empty(part)) { /* an id alone: nothing any target can use */
        json_decref(part);
        return OR_OK;
    }
    json_t *content = part ? trailing(q, "assistant") : NULL;
    if (!content) {
        json_decref(part);
        return OR_ENOMEM;
    }
    return json_array_append_new(content, part) ? OR_ENOMEM : OR_OK;
}

static or_err parse_item(rq *q, const json_t *it, size_t idx)
{
    static const struct {
        const char *type;
        or_err (*fn)(rq *, const json_t *, const char *);
    } kinds[] = {{"message", item_message},
                 {"function_call", item_call},
                 {"function_call_output", item_output},
                 {"reasoning", item_reasoning}};
    char where[48];
    snprintf(where, sizeof where, "input[%zu]", idx);
    if (!json_is_object(it))
        return or_fail(q->eb, OR_EINVAL, "%s: expected an object", where);
    const char *type = or_responses_str(it, "type");
    if (!type && or_responses_get(it, "role"))
        type = "message";
    if (!type)
        return or_fail(q->eb, OR_EINVAL, "%s.type: expected a string", where);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].type, type) == 0)
            return kinds[i].fn(q, it, where);
    /* Server-side tool calls (web_search_call, …) and item references have no IR form; the
     * model's own history without them is still coherent. */
    return OR_OK;
}

static or_err f_model(rq *q, const json_t *v)
{
    if (!json_is_string(v))
        return or_fail(q->eb, OR_EINVAL, "model: expected a string");
    return or_responses_set(q->ir, "model", json_copy((json_t *)v)) ? OR_ENOMEM : OR_OK;
}

static or_err f_instructions(rq *q, const json_t *v)
{
    if (json_is_string(v))
        return or_responses_push(q->system, text_part(json_string_value(v))) ? OR_ENOMEM : OR_OK;
    if (!json_is_array(v))
        return or_fail(q->eb, OR_EINVAL, "instructions: expected a string or an array");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *it = json_array_get(v, i);
        or_err e = json_is_string(it)
                       ? (or_responses_push(q->system, text_part(json_string_value(it))) ? OR_ENOMEM
                                                                                         : OR_OK)
                       : parse_item(q, it, i);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

static or_err f_input(rq *q, const json_t *v)
{
    if (json_is_string(v)) {
        json_t *c = json_array();
        if (or_responses_push(c, text_part(json_string_value(v))) != 0 ||
            or_responses_push(q->messages, json_pack("{s:s, s:o}", "role", "user", "content", c)) !=
                0)
            return OR_ENOMEM;
        return OR_OK;
    }
    if (!json_is_array(v))
        return or_fail(q->eb, OR_EINVAL, "input: expected a string or an array");
    for (size_t i = 0; i < json_array_size(v); i++) {
        or_err e = parse_item(q, json_array_get(v, i), i);
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

/* Keeps the part of the value under extra[key][sub] (creating extra[key]). */
static int extra_sub(rq *q, const char *key, const char *sub, const json_t *v)
{
    json_t *o = json_object_get(q->extra, key);
    if (!o && or_responses_set(q->extra, key, o = json_object()) != 0)
        return -1;
    return or_responses_set(o, sub, json_deep_copy(v));
}

static or_err f_tools(rq *q, const json_t *v)
{
    if (!json_is_array(v))
        return or_fail(q->eb, OR_EINVAL, "tools: expected an array");
    json_t *tools = json_array();
    if (or_responses_set(q->ir, "tools", tools) != 0)
        return OR_ENOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *t = json_array_get(v, i);
        const char *type = or_responses_str(t, "type");
        if (!type)
            return or_fail(q->eb, OR_EINVAL, "tools[%zu].type: expected a string", i);
        if (strcmp(type, "function") != 0) { /* built-in tools only a Responses target knows */
            json_t *keep = json_object_get(q->extra, "tools");
            if (!keep && or_responses_set(q->extra, "tools", keep = json_array()) != 0)
                return OR_ENOMEM;
            if (or_responses_push(keep, json_deep_copy(t)) != 0)
                return OR_ENOMEM;
            continue;
        }
        /* Chat-style {type, function:{…}} is accepted too. */
        const json_t *f =
            json_is_object(json_object_get(t, "function")) ? json_object_get(t, "function") : t;
        const char *name = or_responses_str(f, "name");
        if (!name)
            return or_fail(q->eb, OR_EINVAL, "tools[%zu].name: expected a string", i);
        json_t *ir_t = json_pack("{s:s}", "name", name);
        if (or_responses_push(tools, ir_t) != 0)
            return OR_ENOMEM;
        json_t *d = or_responses_get(f, "description"), *p = or_responses_get(f, "parameters");
        json_t *s = or_responses_get(f, "strict");
        if (d && !json_is_string(d))
            return or_fail(q->eb, OR_EINVAL, "tools[%zu].description: expected a string", i);
        if (p && !json_is_object(p))
            return or_fail(q->eb, OR_EINVAL, "tools[%zu].parameters: expected an object", i);
        if ((d && or_responses_set(ir_t, "description", json_copy(d)) != 0) ||
            (p && or_responses_set(ir_t, "parameters", json_deep_copy(p)) != 0) ||
            (json_is_boolean(s) && or_responses_set(ir_t, "strict", json_copy(s)) != 0))
            return OR_ENOMEM;
    }
    return OR_OK;
}

static or_err f_tool_choice(rq *q, const json_t *v)
{
    static const char *const simple[] = {"auto", "none", "required"};
    const char *s = json_string_value(v);
    const char *type = s ? s : or_responses_str(v, "type");
    if (!s && !json_is_object(v))
        return or_fail(q->eb, OR_EINVAL, "tool_choice: expected a string or an object");
    for (size_t i = 0; type && i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(simple[i], type) == 0)
            return or_responses_set(q->ir, "tool_choice", json_pack("{s:s}", "type", type))
                       ? OR_ENOMEM
                       : OR_OK;
    if (s)
        return or_fail(q->eb, OR_EINVAL, "tool_choice: expected auto, none or required");
    const char *name = or_responses_str(v, "name");
    if (type && strcmp(type, "function") == 0 && name)
        return or_responses_set(q->ir, "tool_choice",
                                json_pack("{s:s, s:s}", "type", "tool", "name", name))
                   ? OR_ENOMEM
                   : OR_OK;
    /* allowed_tools, a built-in tool type, mcp, custom: only a Responses target knows them. */
    return or_responses_set(q->extra, "tool_choice", json_deep_copy(v)) ? OR_ENOMEM : OR_OK;
}

static or_err f_max_output_tokens(rq *q, const json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return or_fail(q->eb, OR_EINVAL, "max_output_tokens: expected a non-negative integer");
    return or_responses_set(q->ir, "max_tokens", json_copy((json_t *)v)) ? OR_ENOMEM : OR_OK;
}

static or_err number(rq *q, const json_t *v, const char *wire, const char *ir)
{
    if (!json_is_number(v))
        return or_fail(q->eb, OR_EINVAL, "%s: expected a number", wire);
    return or_responses_set(q->ir, ir, json_copy((json_t *)v)) ? OR_ENOMEM : OR_OK;
}

static or_err f_temperature(rq *q, const json_t *v)
{
    return number(q, v, "temperature", "temperature");
}

static or_err f_top_p(rq *q, const json_t *v)
{
    return number(q, v, "top_p", "top_p");
}

static or_err boolean(rq *q, const json_t *v, const char *key)
{
    if (!json_is_boolean(v))
        return or_fail(q->eb, OR_EINVAL, "%s: expected a boolean", key);
    return or_responses_set(q->ir, key, json_copy((json_t *)v)) ? OR_ENOMEM : OR_OK;
}

static or_err f_stream(rq *q, const json_t *v)
{
    return boolean(q, v, "stream");
}

static or_err f_parallel(rq *q, const json_t *v)
{
    return boolean(q, v, "parallel_tool_calls");
}

static or_err f_reasoning(rq *q, const json_t *v)
{
    if (!json_is_object(v))
        return or_fail(q->eb, OR_EINVAL, "reasoning: expected an object");
    const char *key;
    json_t *val;
    int bad = 0;
    json_object_foreach((json_t *)v, key, val)
    {
        const char *eff = strcmp(key, "effort") == 0 ? json_string_value(val) : NULL;
        const char *ir = or_responses_norm_effort(eff);
        if (ir)
            bad |= or_responses_set(q->ir, "thinking",
                                    json_pack("{s:s, s:s}", "type", "enabled", "effort", ir));
        else if (eff && strcmp(eff, "none") == 0)
            bad |= or_responses_set(q->ir, "thinking", json_pack("{s:s}", "type", "disabled"));
        if (json_is_null(val) || (ir && strcmp(ir, eff) == 0))
            continue;
        /* summary, and an effort the IR could not say exactly, stay for a Responses target */
        bad |= extra_sub(q, "reasoning", key, val);
    }
    return bad ? OR_ENOMEM : OR_OK;
}

static or_err f_text(rq *q, const json_t *v)
{
    static const char *const kinds[] = {"json_schema", "json_object", "text"};
    if (!json_is_object(v))
        return or_fail(q->eb, OR_EINVAL, "text: expected an object");
    const char *key;
    json_t *val;
    int bad = 0;
    json_object_foreach((json_t *)v, key, val)
    {
        const char *type = strcmp(key, "format") == 0 ? or_responses_str(val, "type") : NULL;
        bool known = false;
        for (size_t i = 0; type && i < sizeof kinds / sizeof kinds[0]; i++)
            known |= strcmp(kinds[i], type) == 0;
        if (!known) {
            if (!json_is_null(val))
                bad |= extra_sub(q, "text", key, val);
            continue;
        }
        json_t *rf = json_pack("{s:s}", "type", type);
        bad |= or_responses_set(q->ir, "response_format", rf);
        if (bad || strcmp(type, "json_schema") != 0)
            continue;
        json_t *name = or_responses_get(val, "name"), *schema = or_responses_get(val, "schema");
        json_t *strict = or_responses_get(val, "strict");
        if (json_is_string(name))
            bad |= or_responses_set(rf, "name", json_copy(name));
        if (json_is_object(schema))
            bad |= or_responses_set(rf, "schema", json_deep_copy(schema));
        if (json_is_boolean(strict))
            bad |= or_responses_set(rf, "strict", json_copy(strict));
    }
    return bad ? OR_ENOMEM : OR_OK;
}

static or_err f_metadata(rq *q, const json_t *v)
{
    if (!json_is_object(v))
        return or_fail(q->eb, OR_EINVAL, "metadata: expected an object");
    return or_responses_set(q->ir, "metadata", json_deep_copy(v)) ? OR_ENOMEM : OR_OK;
}

static or_err f_user(rq *q, const json_t *v)
{
    if (!json_is_string(v))
        return or_fail(q->eb, OR_EINVAL, "user: expected a string");
    return or_responses_set(q->ir, "user", json_copy((json_t *)v)) ? OR_ENOMEM : OR_OK;
}

/* In this order: instructions land in the system prompt before any developer item. */
static const struct {
    const char *key;
    or_err (*fn)(rq *, const json_t *);
} fields[] = {
    {"model", f_model},
    {"instructions", f_instructions},
    {"input", f_input},
    {"tools", f_tools},
    {"tool_choice", f_tool_choice},
    {"max_output_tokens", f_max_output_tokens},
    {"temperature", f_temperature},
    {"top_p", f_top_p},
    {"stream", f_stream},
    {"parallel_tool_calls", f_parallel},
    {"reasoning", f_reasoning},
    {"text", f_text},
    {"metadata", f_metadata},
    {"user", f_user},
};

static bool known_field(const char *key)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].key, key) == 0)
            return true;
    return false;
}

or_err or_responses_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb)
{
    or_err e = OR_OK;
    rq q = {.eb = eb};
    *ir = NULL;
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "body: expected a JSON object");
    q.ir = json_object();
    q.calls = json_object();
    json_t *extra = json_object();
    if (!q.ir || !q.calls || or_responses_set(q.ir, "system", q.system = json_array()) ||
        or_responses_set(q.ir, "messages", q.messages = json_array()) ||
        or_responses_set(q.ir, "extra", extra) ||
        /* always present: it also tells req_from_ir the request began as a Responses one */
        or_responses_set(extra, OR_RESPONSES_EXTRA, q.extra = json_object())) {
        e = OR_ENOMEM;
        goto out;
    }
    if (!json_is_string(json_object_get(body, "model"))) {
        e = or_fail(eb, OR_EINVAL, "model: expected a string");
        goto out;
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = or_responses_get(body, fields[i].key);
        if (v && (e = fields[i].fn(&q, v)) != OR_OK)
            goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (!known_field(key) && or_responses_set(q.extra, key, json_deep_copy(v)) != 0) {
            e = OR_ENOMEM;
            goto out;
        }
    }
out:
    json_decref(q.calls);
    if (e != OR_OK)
        json_decref(q.ir);
    else
        *ir = q.ir;
    return e;
}
