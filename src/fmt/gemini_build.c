/* IR → Gemini generateContent requests. */
#include "fmt/gemini_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy without "$schema" (Gemini rejects it in tool and response schemas). */
static json_t *schema_from_ir(const json_t *s)
{
    if (json_is_array(s)) {
        json_t *a = json_array();
        size_t i;
        const json_t *v;
        json_array_foreach(s, i, v) json_array_append_new(a, schema_from_ir(v));
        return a;
    }
    if (!json_is_object(s))
        return json_deep_copy(s);
    json_t *o = json_object();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        if (strcmp(k, "$schema") != 0)
            json_object_set_new(o, k, schema_from_ir(v));
    }
    return o;
}

/* The original Gemini object kept by req_to_ir under extra.gemini[key], when the IR value
 * derived from it is still the same (see gemini_internal.h). */
static const json_t *kept(const json_t *ir, const char *key, const json_t *irv)
{
    const json_t *k = json_object_get(json_object_get(json_object_get(ir, "extra"), "gemini"), key);
    const json_t *was = json_object_get(k, "ir");
    if (!json_is_object(k))
        return NULL;
    if ((!was && !irv) || (was && irv && json_equal(was, irv)))
        return json_object_get(k, "orig");
    return NULL;
}

/* ===================================================================== */
/* IR → Gemini request                                                    */
/* ===================================================================== */

typedef struct {
    json_t *contents; /* built contents */
    json_t *calls;    /* tool_call id → name, for the calls seen so far */
} build_ctx;

/* Append parts under `role`, merging into the previous content when it has the same role
 * (Gemini rejects two consecutive user or model contents). Steals `parts`. */
static or_err add_content(build_ctx *b, const char *role, json_t *parts)
{
    or_err e = OR_OK;
    if (!parts)
        return OR_ENOMEM;
    if (json_array_size(parts) == 0)
        goto out;
    json_t *last = json_array_get(b->contents, json_array_size(b->contents) - 1);
    if (last && strcmp(json_string_value(json_object_get(last, "role")), role) == 0) {
        if (json_array_extend(json_object_get(last, "parts"), parts) != 0)
            e = OR_ENOMEM;
        goto out;
    }
    e = or_gemini_push(b->contents, json_pack("{s:s,s:O}", "role", role, "parts", parts));
out:
    json_decref(parts);
    return e;
}

static json_t *user_parts(const json_t *content)
{
    json_t *parts = json_array();
    size_t i;
    const json_t *p;
    json_array_foreach(content, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        const json_t *t = json_object_get(p, "text");
        json_t *g = NULL;
        if (!parts || !type)
            continue;
        if (strcmp(type, "text") == 0 && json_string_length(t) > 0)
            g = json_pack("{s:s%}", "text", json_string_value(t), json_string_length(t));
        else if (strcmp(type, "image") == 0)
            g = or_gemini_parts_image_from_ir(p);
        if (g && json_array_append_new(parts, g) != 0) {
            json_decref(parts);
            parts = NULL;
        }
    }
    return parts;
}

/* Text parts of a tool_result joined by newlines (into a fresh buffer). */
static char *result_text(const json_t *content)
{
    or_buf b;
    size_t i;
    const json_t *p;
    or_buf_init(&b, 0);
    if (json_is_string(content) && or_buf_puts(&b, json_string_value(content)) != OR_OK)
        goto fail;
    json_array_foreach(content, i, p)
    {
        const json_t *t = json_object_get(p, "text");
        if (!json_is_string(t))
            continue;
        if ((b.len && or_buf_puts(&b, "\n") != OR_OK) ||
            or_buf_append(&b, json_string_value(t), json_string_length(t)) != OR_OK)
            goto fail;
    }
    if (or_buf_append(&b, "", 0) != OR_OK)
        goto fail;
    return or_buf_take(&b, NULL);
fail:
    or_buf_free(&b);
    return NULL;
}

static json_t *function_response(const json_t *tr, const char *id, const char *name,
                                 const char *text)
{
    json_t *resp = json_loads(text, 0, NULL);
    if (!json_is_object(resp)) {
        json_decref(resp);
        resp = json_pack("{s:s}",
                         json_is_true(json_object_get(tr, "is_error")) ? "error" : "result", text);
    }
    json_t *fr = resp ? json_pack("{s:s,s:o}", "name", name, "response", resp) : NULL;
    if (fr && id && *id)
        json_object_set_new(fr, "id", json_string(id));
    return fr ? json_pack("{s:o}", "functionResponse", fr) : NULL;
}

static or_err tool_msg(build_ctx *b, const json_t *content)
{
    json_t *fparts = json_array(), *uparts = json_array();
    or_err e = OR_ENOMEM;
    size_t i, j;
    const json_t *tr, *p;
    char *text = NULL;
    if (!fparts || !uparts)
        goto out;
    json_array_foreach(content, i, tr)
    {
        const char *type = json_string_value(json_object_get(tr, "type"));
        if (!type || strcmp(type, "tool_result") != 0)
            continue;
        const char *id = json_string_value(json_object_get(tr, "tool_call_id"));
        const char *name = json_string_value(json_object_get(tr, "name"));
        const json_t *known = id ? json_object_get(b->calls, id) : NULL;
        const json_t *rc = json_object_get(tr, "content");
        free(text);
        if (!(text = result_text(rc)))
            goto out;
        if (!known) {
            /* An orphan: Gemini rejects a functionResponse with no call before it. */
            char *s = NULL;
            if (asprintf(&s, "[tool result %s] %s", id ? id : "", text) < 0)
                goto out;
            e = or_gemini_push(uparts, json_pack("{s:s}", "text", s));
            free(s);
            if (e != OR_OK)
                goto out;
            e = OR_ENOMEM;
        } else if (or_gemini_push(fparts,
                                  function_response(tr, id, name ? name : json_string_value(known),
                                                    text)) != OR_OK) {
            goto out;
        }
        json_array_foreach(rc, j, p)
        {
            const char *pt = json_string_value(json_object_get(p, "type"));
            json_t *img = pt && strcmp(pt, "image") == 0 ? or_gemini_parts_image_from_ir(p) : NULL;
            if (img && or_gemini_push(uparts, img) != OR_OK)
                goto out;
        }
    }
    /* Responses first, then what rides along (images, labelled orphans), in one user turn. */
    if (json_array_extend(fparts, uparts) != 0)
        goto out;
    e = add_content(b, "user", json_incref(fparts));
out:
    free(text);
    json_decref(fparts);
    json_decref(uparts);
    return e;
}

static or_err messages_from_ir(build_ctx *b, const json_t *msgs, or_errbuf *eb)
{
    size_t i, j;
    const json_t *m, *p;
    or_err e;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const json_t *content = json_object_get(m, "content");
        if (!role)
            return or_fail(eb, OR_EINVAL, "messages[%zu].role: expected a string", i);
        if (strcmp(role, "assistant") == 0) {
            json_array_foreach(content, j, p)
            {
                const char *id = json_string_value(json_object_get(p, "id"));
                const json_t *name = json_object_get(p, "name");
                const char *type = json_string_value(json_object_get(p, "type"));
                if (type && strcmp(type, "tool_call") == 0 && id && json_is_string(name) &&
                    json_object_set(b->calls, id, (json_t *)name) != 0)
                    return OR_ENOMEM;
            }
            e = add_content(b, "model", or_gemini_parts_model_from_ir(content, false, true));
        } else if (strcmp(role, "tool") == 0) {
            e = tool_msg(b, content);
        } else {
            e = add_content(b, "user", user_parts(content));
        }
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

static json_t *tools_from_ir(const json_t *ir)
{
    json_t *decls = json_array(), *tools = json_array();
    size_t i;
    const json_t *t;
    if (!decls || !tools)
        goto fail;
    json_array_foreach(json_object_get(ir, "tools"), i, t)
    {
        const json_t *name = json_object_get(t, "name");
        const json_t *desc = json_object_get(t, "description");
        const json_t *params = json_object_get(t, "parameters");
        if (!json_is_string(name))
            continue;
        json_t *d = json_pack("{s:O}", "name", name);
        if (d && json_is_string(desc))
            json_object_set(d, "description", (json_t *)desc);
        /* parametersJsonSchema takes full JSON Schema (additionalProperties, anyOf, $ref…)
         * where `parameters` takes only Gemini's OpenAPI subset and rejects the rest. */
        if (d && json_is_object(params) && json_object_size(params))
            json_object_set_new(d, "parametersJsonSchema", schema_from_ir(params));
        if (or_gemini_push(decls, d) != OR_OK)
            goto fail;
    }
    if (json_array_size(decls) &&
        or_gemini_push(tools, json_pack("{s:O}", "functionDeclarations", decls)) != OR_OK)
        goto fail;
    const json_t *others =
        json_object_get(json_object_get(json_object_get(ir, "extra"), "gemini"), "_tools");
    if (json_is_array(others) && json_array_extend(tools, (json_t *)others) != 0)
        goto fail;
    json_decref(decls);
    return tools;
fail:
    json_decref(decls);
    json_decref(tools);
    return NULL;
}

static json_t *tool_config_from_ir(const json_t *ir)
{
    const json_t *choice = json_object_get(ir, "tool_choice");
    const json_t *orig = kept(ir, "_toolConfig", choice);
    if (orig)
        return json_deep_copy(orig);
    const char *type = json_string_value(json_object_get(choice, "type"));
    const json_t *name = json_object_get(choice, "name");
    if (!type)
        return NULL;
    if (strcmp(type, "none") == 0)
        return json_pack("{s:{s:s}}", "functionCallingConfig", "mode", "NONE");
    if (strcmp(type, "required") == 0)
        return json_pack("{s:{s:s}}", "functionCallingConfig", "mode", "ANY");
    if (strcmp(type, "tool") == 0 && json_is_string(name))
        return json_pack("{s:{s:s,s:[O]}}", "functionCallingConfig", "mode", "ANY",
                         "allowedFunctionNames", name);
    return json_pack("{s:{s:s}}", "functionCallingConfig", "mode", "AUTO");
}

/* Gemini 3 and later take thinkingLevel; 2.x take only thinkingBudget. */
static bool gemini3(const char *model)
{
    const char *g = model ? strstr(model, "gemini-") : NULL;
    return g && isdigit((unsigned char)g[7]) && atoi(g + 7) >= 3;
}

static json_t *thinking_from_ir(const json_t *ir)
{
    static const struct {
        const char *effort, *level;
        int budget;
    } efforts[] = {{"low", "LOW", 1024}, {"medium", "MEDIUM", 8192}, {"high", "HIGH", 24576}};
    const json_t *th = json_object_get(ir, "thinking");
    const json_t *orig = kept(ir, "_thinkingConfig", th);
    const char *model = json_string_value(json_object_get(ir, "model"));
    if (orig)
        return json_deep_copy(orig);
    const char *type = json_string_value(json_object_get(th, "type"));
    const char *effort = json_string_value(json_object_get(th, "effort"));
    json_int_t budget = json_integer_value(json_object_get(th, "budget_tokens"));
    if (!type)
        return NULL;
    if (strcmp(type, "disabled") == 0) {
        /* Pro models cannot switch thinking off and reject a zero budget. */
        return model && strstr(model, "-pro") ? NULL : json_pack("{s:i}", "thinkingBudget", 0);
    }
    json_t *tc = json_pack("{s:b}", "includeThoughts", 1);
    if (tc && budget > 0 && strcmp(type, "enabled") == 0) {
        json_object_set_new(tc, "thinkingBudget", json_integer(budget));
        return tc;
    }
    for (size_t i = 0; tc && effort && i < sizeof efforts / sizeof efforts[0]; i++)
        if (strcmp(efforts[i].effort, effort) == 0) {
            if (gemini3(model))
                json_object_set_new(tc, "thinkingLevel", json_string(efforts[i].level));
            else
                json_object_set_new(tc, "thinkingBudget", json_integer(efforts[i].budget));
        }
    return tc;
}

static or_err response_format_from_ir(const json_t *ir, json_t *gc)
{
    const json_t *rf = json_object_get(ir, "response_format");
    const json_t *orig = kept(ir, "_responseFormat", rf);
    if (orig)
        return json_object_update(gc, (json_t *)orig) == 0 ? OR_OK : OR_ENOMEM;
    const char *type = json_string_value(json_object_get(rf, "type"));
    const json_t *schema = json_object_get(rf, "schema");
    or_err e = OR_OK;
    if (!type || strcmp(type, "text") == 0)
        return OR_OK;
    e = or_gemini_set(gc, "responseMimeType", json_string("application/json"));
    /* responseJsonSchema, not responseSchema: it takes JSON Schema as the IR holds it. */
    if (e == OR_OK && strcmp(type, "json_schema") == 0 && json_is_object(schema))
        e = or_gemini_set(gc, "responseJsonSchema", schema_from_ir(schema));
    return e;
}

static or_err gen_config_from_ir(const json_t *ir, const json_t *gx, json_t *body)
{
    static const struct {
        const char *ir, *gemini;
    } nums[] = {{"temperature", "temperature"},
                {"top_p", "topP"},
                {"top_k", "topK"},
                {"max_tokens", "maxOutputTokens"},
                {"stop", "stopSequences"}};
    json_t *gc = json_object();
    or_err e = OR_ENOMEM;
    if (!gc)
        goto out;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        const json_t *v = json_object_get(ir, nums[i].ir);
        if (v && (e = or_gemini_set(gc, nums[i].gemini, json_deep_copy(v))) != OR_OK)
            goto out;
    }
    json_t *tc = thinking_from_ir(ir);
    if (tc && (e = or_gemini_set(gc, "thinkingConfig", tc)) != OR_OK)
        goto out;
    if ((e = response_format_from_ir(ir, gc)) != OR_OK)
        goto out;
    const json_t *rest = json_object_get(gx, "_generationConfig");
    if (json_is_object(rest) && json_object_update_missing(gc, (json_t *)rest) != 0) {
        e = OR_ENOMEM;
        goto out;
    }
    e = OR_OK;
    if (json_object_size(gc))
        e = or_gemini_set(body, "generationConfig", json_incref(gc));
out:
    json_decref(gc);
    return e;
}

static json_t *system_from_ir(const json_t *sys)
{
    json_t *parts = json_array();
    size_t i;
    const json_t *p;
    json_array_foreach(sys, i, p)
    {
        const json_t *t = json_object_get(p, "text");
        if (parts && json_string_length(t) > 0 &&
            json_array_append_new(parts, json_pack("{s:s%}", "text", json_string_value(t),
                                                   json_string_length(t))) != 0) {
            json_decref(parts);
            parts = NULL;
        }
    }
    if (!parts || json_array_size(parts) == 0) {
        json_decref(parts);
        return NULL;
    }
    return json_pack("{s:o}", "parts", parts);
}

or_err or_gemini_req_from_ir(const json_t *ir, json_t **body_out, or_errbuf *eb)
{
    build_ctx b = {0};
    json_t *body = NULL, *v;
    const json_t *gx = json_object_get(json_object_get(ir, "extra"), "gemini");
    or_err e = OR_ENOMEM;
    *body_out = NULL;
    if (!json_is_object(ir)) {
        e = or_fail(eb, OR_EINVAL, "ir: expected an object");
        goto out;
    }
    body = json_object();
    b.contents = json_array();
    b.calls = json_object();
    if (!body || !b.contents || !b.calls)
        goto out;
    if ((e = messages_from_ir(&b, json_object_get(ir, "messages"), eb)) != OR_OK)
        goto out;
    if ((e = or_gemini_set(body, "contents", json_incref(b.contents))) != OR_OK)
        goto out;
    e = OR_ENOMEM;
    if ((v = system_from_ir(json_object_get(ir, "system"))) &&
        json_object_set_new(body, "systemInstruction", v) != 0)
        goto out;
    if (!(v = tools_from_ir(ir)))
        goto out;
    if (json_array_size(v) == 0)
        json_decref(v);
    else if (json_object_set_new(body, "tools", v) != 0)
        goto out;
    if ((v = tool_config_from_ir(ir)) && json_object_set_new(body, "toolConfig", v) != 0)
        goto out;
    if ((e = gen_config_from_ir(ir, gx, body)) != OR_OK)
        goto out;
    /* Unknown top-level fields of a Gemini client (safetySettings, cachedContent, labels…). */
    const char *k;
    json_object_foreach((json_t *)gx, k, v)
    {
        if (k[0] != '_' && !json_object_get(body, k) &&
            json_object_set_new(body, k, json_deep_copy(v)) != 0) {
            e = OR_ENOMEM;
            goto out;
        }
    }
    *body_out = body;
    body = NULL;
    e = OR_OK;
out:
    json_decref(body);
    json_decref(b.contents);
    json_decref(b.calls);
    return e;
}
