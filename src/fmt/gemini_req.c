/* Gemini generateContent requests → IR (gemini_build.c goes the other way), and the URL. */
#include "fmt/gemini_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GET or_gemini_parts_get

/* ---- shared small helpers ---- */

/* JSON Schema copy with Gemini's OpenAPI spelling of types ("OBJECT") lowered to JSON Schema
 * ("object"), so the IR holds one dialect. Gemini CLI's router sends upper-case types even in
 * responseJsonSchema. */
static json_t *schema_to_ir(const json_t *s)
{
    if (json_is_array(s)) {
        json_t *a = json_array();
        size_t i;
        const json_t *v;
        json_array_foreach(s, i, v) json_array_append_new(a, schema_to_ir(v));
        return a;
    }
    if (!json_is_object(s))
        return json_deep_copy(s);
    json_t *o = json_object();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        if (strcmp(k, "type") == 0 && json_is_string(v)) {
            char low[16];
            const char *t = json_string_value(v);
            size_t n = strlen(t), j;
            if (n < sizeof low) {
                for (j = 0; j < n; j++)
                    low[j] = (char)tolower((unsigned char)t[j]);
                low[j] = '\0';
                json_object_set_new(o, k, json_string(low));
                continue;
            }
        }
        json_object_set_new(o, k, schema_to_ir(v));
    }
    return o;
}

/* Remember a Gemini object together with the IR value derived from it, so that building the
 * same format re-emits the original when the IR value was not changed on the way. */
static or_err keep(json_t *extra, const char *key, const json_t *orig, const json_t *irv)
{
    json_t *k = json_pack("{s:O}", "orig", orig);
    if (k && irv)
        json_object_set_new(k, "ir", json_deep_copy(irv));
    return or_gemini_set(extra, key, k);
}

/* ===================================================================== */
/* Gemini request → IR                                                    */
/* ===================================================================== */

typedef struct {
    json_t *msgs;  /* ir.messages */
    json_t *calls; /* unanswered calls, {"id","name"}, in order */
    or_gemini_ids ids;
    or_errbuf *eb;
} req_ctx;

/* functionResponse.response → IR tool_result content; {"result": text} and {"error": text}
 * unwrap (the shapes this format builds); anything else travels as JSON text, which
 * req_from_ir turns back into the object. */
static or_err response_to_ir(const json_t *fr, json_t *tr)
{
    const json_t *resp = json_object_get(fr, "response");
    json_t *content = json_array();
    char *dump = NULL;
    or_err e = OR_ENOMEM;
    if (!content)
        goto out;
    if (json_is_object(resp) && json_object_size(resp) == 1) {
        const json_t *r = json_object_get(resp, "result");
        const json_t *er = json_object_get(resp, "error");
        if (json_is_string(r) || json_is_string(er)) {
            const json_t *t = r ? r : er;
            if (or_gemini_push(content, json_pack("{s:s,s:s%}", "type", "text", "text",
                                                  json_string_value(t), json_string_length(t))) !=
                OR_OK)
                goto out;
            if (er && json_object_set_new(tr, "is_error", json_true()) != 0)
                goto out;
            resp = NULL;
        }
    }
    if (resp) {
        if (!(dump = json_dumps(resp, JSON_COMPACT | JSON_ENCODE_ANY)) ||
            or_gemini_push(content, json_pack("{s:s,s:s}", "type", "text", "text", dump)) != OR_OK)
            goto out;
    }
    /* Gemini 3 multimodal function responses: images inside the response. */
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(fr, "parts"), i, p)
    {
        json_t *img = or_gemini_parts_image_to_ir(p);
        if (img && or_gemini_push(content, img) != OR_OK)
            goto out;
    }
    e = or_gemini_set(tr, "content", json_incref(content));
out:
    free(dump);
    json_decref(content);
    return e;
}

/* The id of the call a functionResponse answers: its own id, else the earliest unanswered call
 * with the same name, else a fresh one (an orphan the builders will label). */
static json_t *match_call(req_ctx *c, const char *id, const char *name)
{
    size_t i;
    json_t *call;
    json_array_foreach(c->calls, i, call)
    {
        const char *cid = json_string_value(json_object_get(call, "id"));
        const char *cname = json_string_value(json_object_get(call, "name"));
        if (id ? strcmp(cid, id) == 0 : strcmp(cname, name) == 0) {
            json_t *r = json_incref(json_object_get(call, "id"));
            json_array_remove(c->calls, i);
            return r;
        }
    }
    if (id)
        return json_string(id);
    char gen[160];
    or_gemini_parts_next_id(&c->ids, gen, sizeof gen);
    return json_string(gen);
}

static or_err tool_result_to_ir(req_ctx *c, const json_t *fr, const char *path, json_t *msg)
{
    const char *name = json_string_value(json_object_get(fr, "name"));
    const char *id = json_string_value(json_object_get(fr, "id"));
    if (!name)
        return or_fail(c->eb, OR_EINVAL, "%s.functionResponse.name: expected a string", path);
    json_t *idv = match_call(c, id && *id ? id : NULL, name);
    json_t *tr =
        json_pack("{s:s,s:o,s:s}", "type", "tool_result", "tool_call_id", idv, "name", name);
    if (!tr)
        return OR_ENOMEM;
    or_err e = response_to_ir(fr, tr);
    if (e == OR_OK)
        e = or_gemini_push(json_object_get(msg, "content"), json_incref(tr));
    json_decref(tr);
    return e;
}

/* The message new parts of `role` go to: the last one when it has that role, else a new one. */
static json_t *msg_for(req_ctx *c, const char *role, bool *fresh)
{
    json_t *last = json_array_get(c->msgs, json_array_size(c->msgs) - 1);
    if (last && *fresh == false &&
        strcmp(json_string_value(json_object_get(last, "role")), role) == 0)
        return last;
    json_t *m = json_pack("{s:s,s:[]}", "role", role, "content");
    if (!m || json_array_append_new(c->msgs, m) != 0)
        return NULL;
    *fresh = false;
    return m;
}

static or_err user_to_ir(req_ctx *c, const json_t *parts, size_t ci)
{
    char path[96];
    size_t i;
    const json_t *p;
    bool fresh = true; /* a Gemini content starts new IR messages */
    json_array_foreach(parts, i, p)
    {
        snprintf(path, sizeof path, "contents[%zu].parts[%zu]", ci, i);
        if (!json_is_object(p))
            return or_fail(c->eb, OR_EINVAL, "%s: expected an object", path);
        const json_t *fr = GET(p, "functionResponse");
        const json_t *text = json_object_get(p, "text");
        json_t *conv = NULL, *m;
        or_err e;
        if (json_is_object(fr)) {
            if (!(m = msg_for(c, "tool", &fresh)))
                return OR_ENOMEM;
            if ((e = tool_result_to_ir(c, fr, path, m)) != OR_OK)
                return e;
            continue;
        }
        if (json_is_string(text)) {
            if (json_string_length(text) == 0 || json_is_true(json_object_get(p, "thought")))
                continue;
            conv = json_pack("{s:s,s:s%}", "type", "text", "text", json_string_value(text),
                             json_string_length(text));
        } else if (GET(p, "inlineData") || GET(p, "fileData")) {
            if (!(conv = or_gemini_parts_image_to_ir(p)))
                return or_fail(c->eb, OR_EINVAL,
                               "%s: inlineData needs mimeType and data, "
                               "fileData needs fileUri",
                               path);
        } else if (GET(p, "thoughtSignature") || GET(p, "videoMetadata")) {
            continue;
        } else {
            return or_fail(c->eb, OR_EINVAL,
                           "%s: unsupported part (expected text, inlineData, fileData or "
                           "functionResponse)",
                           path);
        }
        if (!conv || !(m = msg_for(c, "user", &fresh)))
            return json_decref(conv), OR_ENOMEM;
        if ((e = or_gemini_push(json_object_get(m, "content"), conv)) != OR_OK)
            return e;
    }
    return OR_OK;
}

static or_err contents_to_ir(req_ctx *c, const json_t *contents)
{
    size_t ci;
    const json_t *ct;
    char path[64];
    or_err e;
    if (!json_is_array(contents))
        return or_fail(c->eb, OR_EINVAL, "contents: expected an array");
    json_array_foreach(contents, ci, ct)
    {
        if (!json_is_object(ct))
            return or_fail(c->eb, OR_EINVAL, "contents[%zu]: expected an object", ci);
        const json_t *rv = json_object_get(ct, "role");
        const char *role = rv ? json_string_value(rv) : "user";
        const json_t *parts = json_object_get(ct, "parts");
        snprintf(path, sizeof path, "contents[%zu].parts", ci);
        if (!json_is_array(parts))
            return or_fail(c->eb, OR_EINVAL, "%s: expected an array", path);
        if (role && strcmp(role, "model") == 0) {
            json_t *m = json_pack("{s:s,s:[]}", "role", "assistant", "content");
            if (!m)
                return OR_ENOMEM;
            if (json_array_size(c->calls) > OR_GEMINI_MAX_CALLS) {
                json_decref(m);
                return or_fail(c->eb, OR_ETOOBIG, "contents: more than %d function calls",
                               OR_GEMINI_MAX_CALLS);
            }
            e = or_gemini_parts_model_to_ir(parts, path, true, &c->ids,
                                            json_object_get(m, "content"), c->calls, c->eb);
            if (e == OR_OK && json_array_size(json_object_get(m, "content")) > 0)
                e = or_gemini_push(c->msgs, json_incref(m));
            json_decref(m);
        } else if (role && (strcmp(role, "user") == 0 || strcmp(role, "function") == 0)) {
            e = user_to_ir(c, parts, ci);
        } else {
            e = or_fail(c->eb, OR_EINVAL, "contents[%zu].role: expected \"user\" or \"model\"", ci);
        }
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

static or_err system_to_ir(const json_t *si, json_t *sys, or_errbuf *eb)
{
    if (json_is_string(si))
        return or_gemini_push(
            sys, json_pack("{s:s,s:s}", "type", "text", "text", json_string_value(si)));
    const json_t *parts = json_object_get(si, "parts");
    if (!json_is_object(si) || !json_is_array(parts))
        return or_fail(eb, OR_EINVAL, "systemInstruction: expected {\"parts\": [...]}");
    size_t i;
    const json_t *p;
    json_array_foreach(parts, i, p)
    {
        const json_t *t = json_object_get(p, "text");
        if (json_is_string(t) && json_string_length(t) > 0 &&
            or_gemini_push(sys, json_pack("{s:s,s:s%}", "type", "text", "text",
                                          json_string_value(t), json_string_length(t))) != OR_OK)
            return OR_ENOMEM;
    }
    return OR_OK;
}

static or_err tools_to_ir(const json_t *tools, json_t *ir, json_t *extra, or_errbuf *eb)
{
    json_t *out = json_array(), *others = json_array();
    or_err e = OR_ENOMEM;
    size_t i, j;
    const json_t *t, *d;
    if (!out || !others)
        goto out;
    if (!json_is_array(tools)) {
        e = or_fail(eb, OR_EINVAL, "tools: expected an array");
        goto out;
    }
    json_array_foreach(tools, i, t)
    {
        if (!json_is_object(t)) {
            e = or_fail(eb, OR_EINVAL, "tools[%zu]: expected an object", i);
            goto out;
        }
        const json_t *decls = GET(t, "functionDeclarations");
        json_array_foreach(decls, j, d)
        {
            const char *name = json_string_value(json_object_get(d, "name"));
            if (!name) {
                e = or_fail(eb, OR_EINVAL,
                            "tools[%zu].functionDeclarations[%zu].name: expected "
                            "a string",
                            i, j);
                goto out;
            }
            json_t *tool = json_pack("{s:s}", "name", name);
            const json_t *desc = json_object_get(d, "description");
            const json_t *params = GET(d, "parametersJsonSchema");
            if (!params)
                params = json_object_get(d, "parameters");
            if (tool && json_is_string(desc))
                json_object_set(tool, "description", (json_t *)desc);
            if (tool && json_is_object(params))
                json_object_set_new(tool, "parameters", schema_to_ir(params));
            if (or_gemini_push(out, tool) != OR_OK)
                goto out;
        }
        /* Built-in tools (googleSearch, codeExecution, urlContext, …) have no IR form. */
        json_t *rest = json_deep_copy(t);
        if (!rest)
            goto out;
        json_object_del(rest, "functionDeclarations");
        json_object_del(rest, "function_declarations");
        if (json_object_size(rest) == 0)
            json_decref(rest);
        else if (or_gemini_push(others, rest) != OR_OK)
            goto out;
    }
    e = OR_OK;
    if (json_array_size(out))
        e = or_gemini_set(ir, "tools", json_incref(out));
    if (e == OR_OK && json_array_size(others))
        e = or_gemini_set(extra, "_tools", json_incref(others));
out:
    json_decref(out);
    json_decref(others);
    return e;
}

static or_err tool_config_to_ir(const json_t *tc, json_t *ir, json_t *extra, or_errbuf *eb)
{
    if (!json_is_object(tc))
        return or_fail(eb, OR_EINVAL, "toolConfig: expected an object");
    const json_t *fcc = GET(tc, "functionCallingConfig");
    const char *mode = json_string_value(json_object_get(fcc, "mode"));
    const json_t *names = GET(fcc, "allowedFunctionNames");
    json_t *choice = NULL;
    if (mode && strcasecmp(mode, "NONE") == 0)
        choice = json_pack("{s:s}", "type", "none");
    else if (mode && strcasecmp(mode, "ANY") == 0 && json_array_size(names) == 1 &&
             json_is_string(json_array_get(names, 0)))
        choice = json_pack("{s:s,s:O}", "type", "tool", "name", json_array_get(names, 0));
    else if (mode && (strcasecmp(mode, "ANY") == 0 || strcasecmp(mode, "VALIDATED") == 0))
        choice = json_pack("{s:s}", "type", "required");
    else if (fcc)
        choice = json_pack("{s:s}", "type", "auto");
    or_err e = keep(extra, "_toolConfig", tc, choice);
    if (e == OR_OK && choice)
        e = or_gemini_set(ir, "tool_choice", json_incref(choice));
    json_decref(choice);
    return e;
}

static or_err thinking_to_ir(const json_t *tc, json_t *ir, json_t *extra, or_errbuf *eb)
{
    static const struct {
        const char *level, *effort;
    } levels[] = {{"minimal", "low"}, {"low", "low"}, {"medium", "medium"}, {"high", "high"}};
    if (!json_is_object(tc))
        return or_fail(eb, OR_EINVAL, "generationConfig.thinkingConfig: expected an object");
    const json_t *budget = GET(tc, "thinkingBudget");
    const char *level = json_string_value(GET(tc, "thinkingLevel"));
    const json_t *inc = GET(tc, "includeThoughts");
    json_t *th = json_object();
    or_err e = OR_ENOMEM;
    if (!th)
        goto out;
    if (budget && !json_is_integer(budget)) {
        e = or_fail(eb, OR_EINVAL,
                    "generationConfig.thinkingConfig.thinkingBudget: expected an "
                    "integer");
        goto out;
    }
    if (budget) {
        json_int_t b = json_integer_value(budget);
        json_object_set_new(th, "type",
                            json_string(b == 0  ? "disabled"
                                        : b < 0 ? "adaptive"
                                                : "enabled"));
        if (b > 0)
            json_object_set_new(th, "budget_tokens", json_integer(b));
    }
    for (size_t i = 0; level && i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(levels[i].level, level) == 0) {
            json_object_set_new(th, "effort", json_string(levels[i].effort));
            if (!budget)
                json_object_set_new(th, "type", json_string("enabled"));
        }
    if (!json_object_get(th, "type") && json_is_true(inc))
        json_object_set_new(th, "type", json_string("adaptive"));
    if (json_object_size(th) == 0) {
        json_decref(th);
        th = NULL;
    }
    e = keep(extra, "_thinkingConfig", tc, th);
    if (e == OR_OK && th)
        e = or_gemini_set(ir, "thinking", json_incref(th));
out:
    json_decref(th);
    return e;
}

static or_err response_format_to_ir(const json_t *gc, json_t *ir, json_t *extra)
{
    const json_t *mime = GET(gc, "responseMimeType");
    const json_t *js = GET(gc, "responseJsonSchema");
    const json_t *os = GET(gc, "responseSchema");
    if (!mime && !js && !os)
        return OR_OK;
    json_t *orig = json_object();
    if (!orig)
        return OR_ENOMEM;
    if (mime)
        json_object_set(orig, "responseMimeType", (json_t *)mime);
    if (js)
        json_object_set(orig, "responseJsonSchema", (json_t *)js);
    if (os)
        json_object_set(orig, "responseSchema", (json_t *)os);
    json_t *rf = NULL;
    const char *m = json_string_value(mime);
    if (m && strcasecmp(m, "application/json") == 0) {
        const json_t *s = js ? js : os;
        rf = s ? json_pack("{s:s,s:o}", "type", "json_schema", "schema", schema_to_ir(s))
               : json_pack("{s:s}", "type", "json_object");
    } else if (!m || strcasecmp(m, "text/plain") == 0) {
        rf = json_pack("{s:s}", "type", "text");
    }
    /* Other MIME types (text/x.enum) have no IR form: only the kept original carries them. */
    or_err e = keep(extra, "_responseFormat", orig, rf);
    if (e == OR_OK && rf)
        e = or_gemini_set(ir, "response_format", json_incref(rf));
    json_decref(rf);
    json_decref(orig);
    return e;
}

static or_err gen_config_to_ir(const json_t *gc, json_t *ir, json_t *extra, or_errbuf *eb)
{
    static const struct {
        const char *gemini, *ir;
        bool integer;
    } nums[] = {{"temperature", "temperature", false},
                {"topP", "top_p", false},
                {"topK", "top_k", false},
                {"maxOutputTokens", "max_tokens", true}};
    static const char *const mapped[] = {
        "temperature",      "topP",           "topK",
        "maxOutputTokens",  "stopSequences",  "thinkingConfig",
        "responseMimeType", "responseSchema", "responseJsonSchema"};
    if (!json_is_object(gc))
        return or_fail(eb, OR_EINVAL, "generationConfig: expected an object");
    or_err e;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        const json_t *v = GET(gc, nums[i].gemini);
        if (!v || json_is_null(v))
            continue;
        if (nums[i].integer ? !json_is_integer(v) : !json_is_number(v))
            return or_fail(eb, OR_EINVAL, "generationConfig.%s: expected %s", nums[i].gemini,
                           nums[i].integer ? "an integer" : "a number");
        if ((e = or_gemini_set(ir, nums[i].ir, json_deep_copy(v))) != OR_OK)
            return e;
    }
    const json_t *stop = GET(gc, "stopSequences");
    if (stop) {
        size_t i;
        const json_t *s;
        if (!json_is_array(stop))
            return or_fail(eb, OR_EINVAL, "generationConfig.stopSequences: expected an array");
        json_array_foreach(stop, i, s) if (!json_is_string(s)) return or_fail(
            eb, OR_EINVAL, "generationConfig.stopSequences[%zu]: expected a string", i);
        if ((e = or_gemini_set(ir, "stop", json_deep_copy(stop))) != OR_OK)
            return e;
    }
    const json_t *tc = GET(gc, "thinkingConfig");
    if (tc && (e = thinking_to_ir(tc, ir, extra, eb)) != OR_OK)
        return e;
    if ((e = response_format_to_ir(gc, ir, extra)) != OR_OK)
        return e;
    json_t *rest = json_object();
    const char *k;
    const json_t *v;
    if (!rest)
        return OR_ENOMEM;
    json_object_foreach((json_t *)gc, k, v)
    {
        char camel[64];
        bool known = false;
        or_gemini_parts_camel(k, camel, sizeof camel);
        for (size_t i = 0; i < sizeof mapped / sizeof mapped[0] && !known; i++)
            known = strcmp(mapped[i], camel) == 0;
        if (!known)
            json_object_set(rest, k, (json_t *)v);
    }
    if (json_object_size(rest))
        return or_gemini_set(extra, "_generationConfig", rest);
    json_decref(rest);
    return OR_OK;
}

or_err or_gemini_req_to_ir(const json_t *body, json_t **ir_out, or_errbuf *eb)
{
    static const char *const known[] = {"contents",   "systemInstruction", "tools",
                                        "toolConfig", "generationConfig",  "model"};
    req_ctx c = {.eb = eb};
    json_t *ir = NULL, *extra = NULL;
    or_err e = OR_ENOMEM;
    const json_t *v;
    const char *k;
    *ir_out = NULL;
    if (!json_is_object(body)) {
        e = or_fail(eb, OR_EINVAL, "body: expected a JSON object");
        goto out;
    }
    ir = json_pack("{s:[],s:[]}", "system", "messages");
    extra = json_object();
    c.calls = json_array();
    if (!ir || !extra || !c.calls)
        goto out;
    c.msgs = json_object_get(ir, "messages");
    or_gemini_parts_ids_init(&c.ids, NULL);
    if ((v = GET(body, "systemInstruction")) && !json_is_null(v) &&
        (e = system_to_ir(v, json_object_get(ir, "system"), eb)) != OR_OK)
        goto out;
    if ((v = json_object_get(body, "contents")) == NULL) {
        e = or_fail(eb, OR_EINVAL, "contents: required");
        goto out;
    }
    if ((e = contents_to_ir(&c, v)) != OR_OK)
        goto out;
    if ((v = json_object_get(body, "tools")) && (e = tools_to_ir(v, ir, extra, eb)) != OR_OK)
        goto out;
    if ((v = GET(body, "toolConfig")) && (e = tool_config_to_ir(v, ir, extra, eb)) != OR_OK)
        goto out;
    if ((v = GET(body, "generationConfig")) && !json_is_null(v) &&
        (e = gen_config_to_ir(v, ir, extra, eb)) != OR_OK)
        goto out;
    json_object_foreach((json_t *)body, k, v)
    {
        char camel[64];
        bool is_known = false;
        or_gemini_parts_camel(k, camel, sizeof camel);
        for (size_t i = 0; i < sizeof known / sizeof known[0] && !is_known; i++)
            is_known = strcmp(known[i], camel) == 0;
        if (!is_known && k[0] != '_' && (e = or_gemini_set(extra, k, json_deep_copy(v))) != OR_OK)
            goto out;
    }
    e = OR_OK;
    if (json_object_size(extra))
        e = or_gemini_set(ir, "extra", json_pack("{s:O}", "gemini", extra));
    if (e == OR_OK) {
        *ir_out = ir;
        ir = NULL;
    }
out:
    json_decref(ir);
    json_decref(extra);
    json_decref(c.calls);
    return e;
}

/* ===================================================================== */
/* URL                                                                    */
/* ===================================================================== */

or_err or_gemini_req_url(const char *root, size_t root_len, const char *model, bool stream,
                         or_buf *out)
{
    or_err e;
    if (!model || !*model)
        return OR_EINVAL;
    while (root_len && root[root_len - 1] == '/')
        root_len--;
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    if ((e = or_buf_append(out, root, root_len)) != OR_OK || (e = or_buf_puts(out, "/models/")))
        return e;
    for (const unsigned char *c = (const unsigned char *)model; *c; c++) {
        if (isalnum(*c) || strchr("-._~", *c))
            e = or_buf_append(out, c, 1);
        else
            e = or_buf_printf(out, "%%%02X", *c);
        if (e != OR_OK)
            return e;
    }
    return or_buf_puts(out, stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}
