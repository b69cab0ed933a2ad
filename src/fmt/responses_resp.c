/* OpenAI Responses non-stream responses and error bodies ↔ IR. */
#include "fmt/responses_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Joined text of the parts of `arr` with the given type. */
static json_t *join_texts(const json_t *arr, const char *type)
{
    or_buf b;
    or_buf_init(&b, 0);
    size_t i;
    json_t *p;
    or_err e = OR_OK;
    json_array_foreach(arr, i, p)
    {
        const char *t = or_responses_str(p, "text"), *ty = or_responses_str(p, "type");
        if (!t || (ty && strcmp(ty, type) != 0))
            continue;
        if (b.len && e == OR_OK)
            e = or_buf_puts(&b, "\n\n");
        if (e == OR_OK)
            e = or_buf_puts(&b, t);
    }
    json_t *s = e == OR_OK ? json_stringn(b.data ? b.data : "", b.len) : NULL;
    or_buf_free(&b);
    return s;
}

json_t *or_responses_reasoning_to_ir(const json_t *item)
{
    static const struct {
        const char *prefix, *field;
    } markers[] = {{OR_RESPONSES_SIG_PREFIX, "signature"},
                   {OR_RESPONSES_REDACTED_PREFIX, "redacted"}};
    json_t *text = join_texts(json_object_get(item, "summary"), "summary_text");
    if (text && json_string_length(text) == 0) { /* no summary: the raw reasoning, if shown */
        json_decref(text);
        text = join_texts(json_object_get(item, "content"), "reasoning_text");
    }
    json_t *part = text ? json_pack("{s:s, s:o}", "type", "thinking", "text", text) : NULL;
    const char *enc = or_responses_str(item, "encrypted_content");
    const char *id = or_responses_str(item, "id");
    const char *field = "encrypted_content";
    int bad = part ? 0 : -1;
    for (size_t i = 0; enc && i < sizeof markers / sizeof markers[0]; i++) {
        size_t n = strlen(markers[i].prefix);
        if (strncmp(enc, markers[i].prefix, n) == 0) {
            enc += n;
            field = markers[i].field;
            break;
        }
    }
    if (!bad && enc && strcmp(field, "redacted") == 0)
        json_object_del(part, "text");
    if (!bad && enc)
        bad |= or_responses_set(part, field, json_string(enc));
    if (!bad && id)
        bad |= or_responses_set(part, "id", json_string(id));
    if (bad) {
        json_decref(part);
        return NULL;
    }
    return part;
}

bool or_responses_thinking_empty(const json_t *part)
{
    const char *text = or_responses_str(part, "text");
    return (!text || !*text) && !json_object_get(part, "encrypted_content") &&
           !json_object_get(part, "signature") && !json_object_get(part, "redacted");
}

int or_responses_item_to_ir(const json_t *item, json_t *content, bool *has_call)
{
    const char *type = or_responses_str(item, "type");
    json_t *p;
    size_t i;
    int bad = 0;
    if (!type)
        return 0;
    if (strcmp(type, "message") == 0) {
        json_array_foreach(json_object_get(item, "content"), i, p)
        {
            const char *t = or_responses_str(p, "text");
            if (!t)
                t = or_responses_str(p, "refusal");
            if (t)
                bad |=
                    or_responses_push(content, json_pack("{s:s, s:s}", "type", "text", "text", t));
        }
    } else if (strcmp(type, "function_call") == 0) {
        const char *id = or_responses_str(item, "call_id"), *name = or_responses_str(item, "name");
        const char *args = or_responses_str(item, "arguments");
        if (!id)
            id = or_responses_str(item, "id");
        if (id && name) {
            bad |= or_responses_push(content, json_pack("{s:s, s:s, s:s, s:s}", "type", "tool_call",
                                                        "id", id, "name", name, "arguments",
                                                        args && *args ? args : "{}"));
            *has_call = true;
        }
    } else if (strcmp(type, "reasoning") == 0) {
        /* An item with neither summary nor encrypted content carries nothing, and an empty
         * thinking block is something Anthropic clients cannot replay. */
        json_t *th = or_responses_reasoning_to_ir(item);
        if (th && or_responses_thinking_empty(th))
            json_decref(th);
        else
            bad |= or_responses_push(content, th);
    }
    return bad;
}

json_t *or_responses_reasoning_item(const char *id, const char *text, const json_t *thinking)
{
    json_t *summary = json_array();
    int bad = 0;
    if (text && *text)
        bad |= or_responses_push(summary,
                                 json_pack("{s:s, s:s}", "type", "summary_text", "text", text));
    json_t *item = json_pack("{s:s, s:s, s:o}", "id", id, "type", "reasoning", "summary", summary);
    const char *enc = or_responses_str(thinking, "encrypted_content");
    const char *sig = or_responses_str(thinking, "signature");
    const char *red = or_responses_str(thinking, "redacted");
    if (!item || bad) {
        json_decref(item);
        return NULL;
    }
    if (enc) {
        bad |= or_responses_set(item, "encrypted_content", json_string(enc));
    } else if (sig || red) {
        or_buf b;
        or_buf_init(&b, 0);
        if (or_buf_puts(&b, sig ? OR_RESPONSES_SIG_PREFIX : OR_RESPONSES_REDACTED_PREFIX) !=
                OR_OK ||
            or_buf_puts(&b, sig ? sig : red) != OR_OK)
            bad = -1;
        else
            bad |= or_responses_set(item, "encrypted_content", json_stringn(b.data, b.len));
        or_buf_free(&b);
    }
    if (bad) {
        json_decref(item);
        return NULL;
    }
    return item;
}

char *or_responses_resp_id(const char *ir_id, const or_fmt_opts *o)
{
    if (ir_id && *ir_id)
        return strdup(ir_id);
    const char *base = o && o->id && *o->id ? o->id : "0";
    size_t n = strlen(base) + 6;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "resp_%s", base);
    return s;
}

or_err or_responses_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb)
{
    *ir = NULL;
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "response: expected a JSON object");
    json_t *output = json_object_get(body, "output"), *item;
    if (output && !json_is_array(output))
        return or_fail(eb, OR_EINVAL, "response.output: expected an array");
    json_t *r = json_object(), *content = json_array(), *v;
    int bad = or_responses_set(r, "content", content);
    bool has_call = false;
    size_t i;
    if ((v = json_object_get(body, "id")) && json_is_string(v))
        bad |= or_responses_set(r, "id", json_copy(v));
    if ((v = json_object_get(body, "model")) && json_is_string(v))
        bad |= or_responses_set(r, "model", json_copy(v));
    json_array_foreach(output, i, item) bad |= or_responses_item_to_ir(item, content, &has_call);
    const char *reason = or_responses_str(json_object_get(body, "incomplete_details"), "reason");
    bad |= or_responses_set(
        r, "stop_reason",
        json_string(or_responses_stop_to_ir(or_responses_str(body, "status"), reason, has_call)));
    if ((v = or_responses_usage_to_ir(json_object_get(body, "usage"))))
        bad |= or_responses_set(r, "usage", v);
    if (bad || !r) {
        json_decref(r);
        return OR_ENOMEM;
    }
    *ir = r;
    return OR_OK;
}

/* One IR content part → one output item, its id derived from the response (`n` = index). */
static json_t *out_item(const json_t *p, const char *base, size_t n)
{
    const char *type = or_responses_str(p, "type"), *text = or_responses_str(p, "text");
    char id[160];
    if (!type)
        return NULL;
    if (strcmp(type, "text") == 0 && text) {
        snprintf(id, sizeof id, "msg_%.120s_%zu", base, n);
        return json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:[]}]}", "id", id, "type", "message",
                         "status", "completed", "role", "assistant", "content", "type",
                         "output_text", "text", text, "annotations");
    }
    if (strcmp(type, "tool_call") == 0) {
        const char *cid = or_responses_str(p, "id"), *args = or_responses_str(p, "arguments");
        const char *name = or_responses_str(p, "name");
        snprintf(id, sizeof id, "fc_%.120s_%zu", base, n);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "type", "function_call",
                         "status", "completed", "call_id", cid ? cid : id, "name", name ? name : "",
                         "arguments", args ? args : "");
    }
    if (strcmp(type, "thinking") == 0) {
        snprintf(id, sizeof id, "rs_%.120s_%zu", base, n);
        const char *own = or_responses_str(p, "id");
        return or_responses_reasoning_item(own ? own : id, text, p);
    }
    return NULL;
}

or_err or_responses_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body,
                                 or_errbuf *eb)
{
    *body = NULL;
    if (!json_is_object(ir))
        return or_fail(eb, OR_EINVAL, "ir: expected an object");
    const char *ir_id = or_responses_str(ir, "id");
    char *rid = or_responses_resp_id(ir_id, o);
    const char *base = o && o->id && *o->id ? o->id : ir_id && *ir_id ? ir_id : "0";
    const char *model = o && o->model ? o->model : or_responses_str(ir, "model");
    const char *reason = NULL;
    const char *status =
        or_responses_status_from_stop(or_responses_str(ir, "stop_reason"), &reason);
    json_t *output = json_array(), *p;
    size_t i, n = 0;
    int bad = rid && output ? 0 : -1;
    json_array_foreach(json_object_get(ir, "content"), i, p)
    {
        json_t *item = out_item(p, base, n);
        if (item) {
            bad |= or_responses_push(output, item);
            n++;
        }
    }
    json_t *b = json_pack(
        "{s:s, s:s, s:I, s:s, s:n, s:n, s:s, s:o, s:b, s:o}", "id", rid ? rid : "", "object",
        "response", "created_at", (json_int_t)(o ? o->created : 0), "status", status, "error",
        "incomplete_details", "model", model ? model : "", "output", output, "parallel_tool_calls",
        1, "usage", or_responses_usage_from_ir(json_object_get(ir, "usage")));
    free(rid);
    if (b && reason)
        bad |= or_responses_set(b, "incomplete_details", json_pack("{s:s}", "reason", reason));
    if (b && strcmp(status, "failed") == 0)
        bad |= or_responses_set(
            b, "error",
            json_pack("{s:s, s:s}", "code", "server_error", "message", "the upstream failed"));
    if (!b || bad) {
        json_decref(b);
        return OR_ENOMEM;
    }
    *body = b;
    return OR_OK;
}

/* The object holding the error in the shapes providers use: OpenAI/Anthropic/Gemini
 * {error:{…}}, Gemini's [ {error} ], a failed response {response:{error}}, or the body. */
static const json_t *error_obj(const json_t *body)
{
    if (json_is_array(body))
        body = json_array_get(body, 0);
    const json_t *resp = json_object_get(body, "response");
    if (json_is_object(json_object_get(resp, "error")))
        return json_object_get(resp, "error");
    if (json_is_object(json_object_get(body, "error")))
        return json_object_get(body, "error");
    return body;
}

json_t *or_responses_error_to_ir(int status, const json_t *body)
{
    const json_t *e = error_obj(body);
    char fallback[64];
    const char *msg = or_responses_str(e, "message");
    if (!msg)
        msg = or_responses_str(e, "error"); /* {error:"…"} */
    if (!msg)
        msg = or_responses_str(e, "detail");
    if (!msg && json_is_string(body))
        msg = json_string_value(body);
    if (!msg || !*msg) {
        snprintf(fallback, sizeof fallback, "upstream returned HTTP %d", status);
        msg = fallback;
    }
    const char *code = or_responses_str(e, "code");
    const char *type = or_responses_str(e, "type");
    if (!type || strcmp(type, "error") == 0)
        type = or_responses_str(e, "status"); /* Gemini: RESOURCE_EXHAUSTED, … */
    if (status < 400)                         /* an error carried inside a 200 stream */
        status = or_responses_status_for_code(code ? code : type);
    return or_responses_ir_error(status, or_responses_type_for(status, code, type), msg, code);
}

json_t *or_responses_error_from_ir(const json_t *err)
{
    /* What OpenAI itself sends for each kind of failure. */
    static const struct {
        const char *ir, *type, *code;
    } wire[] = {
        {"invalid_request_error", "invalid_request_error", NULL},
        {"authentication_error", "invalid_request_error", "invalid_api_key"},
        {"permission_error", "invalid_request_error", NULL},
        {"not_found_error", "invalid_request_error", "model_not_found"},
        {"rate_limit_error", "requests", "rate_limit_exceeded"},
        {"api_error", "server_error", NULL},
        {"overloaded_error", "server_error", NULL},
        {"timeout_error", "server_error", NULL},
    };
    const char *t = or_responses_str(err, "error_type"), *msg = or_responses_str(err, "message");
    const char *code = or_responses_str(err, "code");
    size_t i = 0, n = sizeof wire / sizeof wire[0];
    while (i < n && (!t || strcmp(wire[i].ir, t) != 0))
        i++;
    /* An OpenAI-style code from the upstream (context_length_exceeded, …) says more. */
    bool snake = code && *code && strspn(code, "abcdefghijklmnopqrstuvwxyz_") == strlen(code);
    return json_pack("{s:{s:s, s:s, s:n, s:s?}}", "error", "message", msg ? msg : "upstream error",
                     "type", i < n ? wire[i].type : "server_error", "param", "code",
                     snake   ? code
                     : i < n ? wire[i].code
                             : NULL);
}
