/* OpenAI Responses requests: IR → a clean wire body for a Responses provider. */
#include "fmt/responses_internal.h"

#include <string.h>

typedef struct {
    json_t *input;  /* body.input */
    json_t *called; /* ids of the tool calls emitted so far (orphan detection) */
    int bad;        /* an allocation failed somewhere */
} rb;

static json_t *wire_image(const json_t *p)
{
    const char *url = or_responses_str(p, "url"), *data = or_responses_str(p, "data");
    const char *mt = or_responses_str(p, "media_type"), *fid = or_responses_str(p, "file_id");
    if (data) {
        or_buf b;
        or_buf_init(&b, 0);
        json_t *img = NULL;
        if (or_buf_printf(&b, "data:%s;base64,", mt ? mt : "image/png") == OR_OK &&
            or_buf_puts(&b, data) == OR_OK)
            img = json_pack("{s:s, s:s%}", "type", "input_image", "image_url", b.data, b.len);
        or_buf_free(&b);
        return img;
    }
    if (url)
        return json_pack("{s:s, s:s}", "type", "input_image", "image_url", url);
    if (fid)
        return json_pack("{s:s, s:s}", "type", "input_image", "file_id", fid);
    return NULL;
}

static bool is_type(const json_t *p, const char *type)
{
    const char *t = or_responses_str(p, "type");
    return t && strcmp(t, type) == 0;
}

static void push_message(rb *b, const char *role, json_t *content)
{
    if (json_array_size(content) == 0) {
        json_decref(content);
        return;
    }
    b->bad |= or_responses_push(b->input, json_pack("{s:s, s:s, s:o}", "type", "message", "role",
                                                    role, "content", content));
}

static void emit_user(rb *b, const json_t *msg)
{
    json_t *content = json_array(), *p;
    size_t i;
    json_array_foreach(json_object_get(msg, "content"), i, p)
    {
        const char *text = or_responses_str(p, "text");
        if (is_type(p, "text") && text && *text)
            b->bad |= or_responses_push(
                content, json_pack("{s:s, s:s}", "type", "input_text", "text", text));
        else if (is_type(p, "image"))
            or_responses_push(content, wire_image(p)); /* a source-less image is skipped */
    }
    push_message(b, "user", content);
}

static void emit_assistant(rb *b, const json_t *msg)
{
    json_t *pending = NULL, *p;
    size_t i;
    json_array_foreach(json_object_get(msg, "content"), i, p)
    {
        const char *text = or_responses_str(p, "text");
        if (is_type(p, "text")) {
            if (!text || !*text)
                continue;
            if (!pending)
                pending = json_array();
            b->bad |= or_responses_push(
                pending, json_pack("{s:s, s:s}", "type", "output_text", "text", text));
            continue;
        }
        if (pending)
            push_message(b, "assistant", pending);
        pending = NULL;
        const char *id = or_responses_str(p, "id");
        if (is_type(p, "thinking") && id && or_responses_str(p, "encrypted_content")) {
            /* Only OpenAI's own encrypted reasoning can go back: an id alone names a stored
             * item that stateless requests do not have, strict backends reject plaintext
             * `content`, and another vendor's signature means nothing here. */
            b->bad |= or_responses_push(b->input, or_responses_reasoning_item(id, text, p));
        } else if (is_type(p, "tool_call")) {
            const char *cid = or_responses_str(p, "id"), *name = or_responses_str(p, "name");
            const char *args = or_responses_str(p, "arguments");
            if (!cid || !name)
                continue;
            b->bad |= or_responses_push(
                b->input, json_pack("{s:s, s:s, s:s, s:s}", "type", "function_call", "call_id", cid,
                                    "name", name, "arguments", args && *args ? args : "{}"));
            b->bad |= json_object_set_new(b->called, cid, json_true());
        }
    }
    if (pending)
        push_message(b, "assistant", pending);
}

/* A tool result's content: a string when it is one text, else input_text/input_image parts. */
static json_t *tool_output(const json_t *content)
{
    if (json_is_string(content))
        return json_copy((json_t *)content);
    size_t n = json_array_size(content), i;
    json_t *first = json_array_get(content, 0), *p;
    if (n == 0)
        return json_string("");
    if (n == 1 && is_type(first, "text") && or_responses_str(first, "text"))
        return json_string(or_responses_str(first, "text"));
    json_t *arr = json_array();
    json_array_foreach(content, i, p)
    {
        if (is_type(p, "text") && or_responses_str(p, "text"))
            or_responses_push(arr, json_pack("{s:s, s:s}", "type", "input_text", "text",
                                             or_responses_str(p, "text")));
        else if (is_type(p, "image"))
            or_responses_push(arr, wire_image(p));
    }
    return arr;
}

/* "[tool result <id>] text…" for a result whose call is not in the history: the API rejects
 * a function_call_output without its function_call. */
static json_t *orphan_text(const json_t *res)
{
    or_buf b;
    or_buf_init(&b, 0);
    const char *id = or_responses_str(res, "tool_call_id");
    or_err e = or_buf_printf(&b, "[tool result %s]", id ? id : "?");
    json_t *content = json_object_get(res, "content"), *p;
    size_t i;
    if (json_is_string(content) && e == OR_OK)
        e = or_buf_printf(&b, " %s", json_string_value(content));
    json_array_foreach(content, i, p)
    {
        if (e == OR_OK && or_responses_str(p, "text"))
            e = or_buf_printf(&b, " %s", or_responses_str(p, "text"));
    }
    json_t *part =
        e == OR_OK ? json_pack("{s:s, s:s%}", "type", "input_text", "text", b.data, b.len) : NULL;
    or_buf_free(&b);
    return part;
}

static void emit_tool(rb *b, const json_t *msg)
{
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(msg, "content"), i, p)
    {
        const char *id = or_responses_str(p, "tool_call_id");
        if (!is_type(p, "tool_result"))
            continue;
        if (id && json_object_get(b->called, id)) {
            json_t *out = tool_output(json_object_get(p, "content"));
            b->bad |= or_responses_push(b->input,
                                        json_pack("{s:s, s:s, s:o}", "type", "function_call_output",
                                                  "call_id", id, "output", out));
            continue;
        }
        json_t *content = json_array();
        b->bad |= or_responses_push(content, orphan_text(p));
        push_message(b, "user", content);
    }
}

static json_t *build_input(const json_t *ir, or_errbuf *eb, or_err *err)
{
    static const struct {
        const char *role;
        void (*fn)(rb *, const json_t *);
    } roles[] = {{"user", emit_user}, {"assistant", emit_assistant}, {"tool", emit_tool}};
    rb b = {.input = json_array(), .called = json_object()};
    json_t *m;
    size_t i;
    *err = OR_OK;
    json_array_foreach(json_object_get(ir, "messages"), i, m)
    {
        const char *role = or_responses_str(m, "role");
        size_t k = 0;
        while (k < sizeof roles / sizeof roles[0] && (!role || strcmp(roles[k].role, role) != 0))
            k++;
        if (k == sizeof roles / sizeof roles[0]) {
            *err =
                or_fail(eb, OR_EINVAL, "messages[%zu].role: expected user, assistant or tool", i);
            break;
        }
        roles[k].fn(&b, m);
    }
    json_decref(b.called);
    if (*err == OR_OK && (b.bad || !b.input))
        *err = OR_ENOMEM;
    if (*err != OR_OK) {
        json_decref(b.input);
        return NULL;
    }
    return b.input;
}

static json_t *build_instructions(const json_t *ir)
{
    or_buf b;
    or_buf_init(&b, 0);
    json_t *p, *s = NULL;
    size_t i;
    or_err e = OR_OK;
    json_array_foreach(json_object_get(ir, "system"), i, p)
    {
        const char *t = or_responses_str(p, "text");
        if (!t || !*t)
            continue;
        if (b.len && e == OR_OK)
            e = or_buf_puts(&b, "\n\n");
        if (e == OR_OK)
            e = or_buf_puts(&b, t);
    }
    if (e == OR_OK && b.len)
        s = json_stringn(b.data, b.len);
    or_buf_free(&b);
    return s;
}

static json_t *build_tools(const json_t *tools)
{
    json_t *arr = json_array(), *t;
    size_t i;
    json_array_foreach(tools, i, t)
    {
        const char *name = or_responses_str(t, "name");
        json_t *params = json_object_get(t, "parameters"), *strict = json_object_get(t, "strict");
        if (!name)
            continue;
        json_t *w = json_pack("{s:s, s:s}", "type", "function", "name", name);
        int bad = or_responses_push(arr, w);
        if (!bad && or_responses_str(t, "description"))
            bad |=
                or_responses_set(w, "description", json_string(or_responses_str(t, "description")));
        if (!bad)
            bad |= or_responses_set(w, "parameters",
                                    json_is_object(params)
                                        ? json_deep_copy(params)
                                        : json_pack("{s:s, s:{}}", "type", "object", "properties"));
        /* The Responses API makes function tools strict unless told otherwise, and most
         * client schemas are not strict-compatible. */
        if (!bad)
            bad |= or_responses_set(w, "strict", json_boolean(json_is_true(strict)));
        if (bad) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *build_tool_choice(const json_t *tc)
{
    static const char *const simple[] = {"auto", "none", "required"};
    const char *type = or_responses_str(tc, "type"), *name = or_responses_str(tc, "name");
    for (size_t i = 0; type && i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(simple[i], type) == 0)
            return json_string(type);
    if (type && strcmp(type, "tool") == 0 && name)
        return json_pack("{s:s, s:s}", "type", "function", "name", name);
    return NULL;
}

/* IR thinking → reasoning.effort; NULL when reasoning should not be asked for. */
static const char *effort_for(const json_t *th)
{
    const char *type = or_responses_str(th, "type");
    json_t *budget = json_object_get(th, "budget_tokens");
    if (!th || (type && strcmp(type, "disabled") == 0))
        return NULL;
    if (or_responses_norm_effort(or_responses_str(th, "effort")))
        return or_responses_norm_effort(or_responses_str(th, "effort"));
    if (json_is_integer(budget))
        return json_integer_value(budget) < 4096    ? "low"
               : json_integer_value(budget) < 16384 ? "medium"
                                                    : "high";
    return "medium";
}

static int build_reasoning(json_t *body, const json_t *ir, const json_t *extra)
{
    const json_t *th = json_object_get(ir, "thinking");
    const char *eff = effort_for(th);
    /* An exact effort the IR could only approximate (minimal, xhigh, none) is restored when
     * the IR still says the same thing. */
    const char *orig = or_responses_str(json_object_get(extra, "reasoning"), "effort");
    const char *type = or_responses_str(th, "type");
    if (orig && eff && or_responses_norm_effort(orig) &&
        strcmp(or_responses_norm_effort(orig), eff) == 0)
        eff = orig;
    else if (orig && !eff && strcmp(orig, "none") == 0 && type && strcmp(type, "disabled") == 0)
        eff = orig;
    if (!eff)
        return 0;
    return or_responses_set(body, "reasoning", json_pack("{s:s}", "effort", eff));
}

static json_t *build_format(const json_t *rf)
{
    const char *type = or_responses_str(rf, "type");
    if (!type)
        return NULL;
    json_t *f = json_pack("{s:s}", "type", type);
    if (f && strcmp(type, "json_schema") == 0) {
        json_t *schema = json_object_get(rf, "schema"), *strict = json_object_get(rf, "strict");
        const char *name = or_responses_str(rf, "name");
        int bad = or_responses_set(f, "name", json_string(name ? name : "response"));
        bad |= or_responses_set(f, "schema",
                                json_is_object(schema) ? json_deep_copy(schema)
                                                       : json_pack("{s:s}", "type", "object"));
        if (json_is_boolean(strict))
            bad |= or_responses_set(f, "strict", json_copy(strict));
        if (bad) {
            json_decref(f);
            return NULL;
        }
    }
    return json_pack("{s:o}", "format", f);
}

/* Fields the request carried that the IR has no word for: a field the IR did not produce is
 * added; an object the IR produced only gains the members it lacks; built-in tools join the
 * function tools. */
static int merge_extra(json_t *body, const json_t *extra)
{
    const char *key, *sub;
    json_t *v, *sv;
    int bad = 0;
    json_object_foreach((json_t *)extra, key, v)
    {
        json_t *cur = json_object_get(body, key);
        if (strcmp(key, "tools") == 0 && json_is_array(v)) {
            if (!cur)
                bad |= or_responses_set(body, key, cur = json_array());
            size_t i;
            json_array_foreach(v, i, sv)
            {
                if (json_is_array(cur))
                    bad |= or_responses_push(cur, json_deep_copy(sv));
            }
        } else if (!cur) {
            bad |= or_responses_set(body, key, json_deep_copy(v));
        } else if (json_is_object(cur) && json_is_object(v)) {
            json_object_foreach(v, sub, sv)
            {
                if (!json_object_get(cur, sub))
                    bad |= or_responses_set(cur, sub, json_deep_copy(sv));
            }
        }
    }
    return bad;
}

or_err or_responses_req_from_ir(const json_t *ir, json_t **body, or_errbuf *eb)
{
    or_err e = OR_OK;
    int bad = 0;
    *body = NULL;
    if (!json_is_object(ir))
        return or_fail(eb, OR_EINVAL, "ir: expected an object");
    const json_t *extra = json_object_get(json_object_get(ir, "extra"), OR_RESPONSES_EXTRA);
    bool same = json_is_object(extra); /* the request began as a Responses request */
    json_t *b = json_object(), *v;
    if (!b)
        return OR_ENOMEM;
    if ((v = json_object_get(ir, "model")) && json_is_string(v))
        bad |= or_responses_set(b, "model", json_copy(v));
    if ((v = build_instructions(ir)))
        bad |= or_responses_set(b, "instructions", v);
    json_t *input = build_input(ir, eb, &e);
    if (e != OR_OK)
        goto out;
    bad |= or_responses_set(b, "input", input);
    if (json_array_size(json_object_get(ir, "tools")))
        bad |= or_responses_set(b, "tools", build_tools(json_object_get(ir, "tools")));
    if ((v = build_tool_choice(json_object_get(ir, "tool_choice"))))
        bad |= or_responses_set(b, "tool_choice", v);
    if (json_is_boolean(v = json_object_get(ir, "parallel_tool_calls")))
        bad |= or_responses_set(b, "parallel_tool_calls", json_copy(v));
    if (json_is_integer(v = json_object_get(ir, "max_tokens"))) /* the API's minimum is 16 */
        bad |=
            or_responses_set(b, "max_output_tokens",
                             json_integer(json_integer_value(v) < 16 ? 16 : json_integer_value(v)));
    if (json_is_number(v = json_object_get(ir, "temperature")))
        bad |= or_responses_set(b, "temperature", json_copy(v));
    if (json_is_number(v = json_object_get(ir, "top_p")))
        bad |= or_responses_set(b, "top_p", json_copy(v));
    if (json_is_boolean(v = json_object_get(ir, "stream")))
        bad |= or_responses_set(b, "stream", json_copy(v));
    bad |= build_reasoning(b, ir, extra);
    if ((v = json_object_get(ir, "response_format")) && (v = build_format(v)))
        bad |= or_responses_set(b, "text", v);
    /* metadata and user mean something else (or are refused, as on the Codex backend) when
     * they come from another client format. */
    if (same && json_is_object(v = json_object_get(ir, "metadata")))
        bad |= or_responses_set(b, "metadata", json_deep_copy(v));
    if (same && json_is_string(v = json_object_get(ir, "user")))
        bad |= or_responses_set(b, "user", json_copy(v));
    if (same)
        bad |= merge_extra(b, extra);
    if (bad)
        e = OR_ENOMEM;
out:
    if (e != OR_OK)
        json_decref(b);
    else
        *body = b;
    return e;
}
