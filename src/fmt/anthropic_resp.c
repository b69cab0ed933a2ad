/* anthropic_resp.c — Anthropic Messages responses (non-stream) and error bodies ↔ IR. */
#include "fmt/anthropic_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One response content block → IR part (NULL on ENOMEM). Blocks the IR has no part for
 * (server tool use and results, citations-only blocks…) travel as raw parts. */
static json_t *block_to_part(const json_t *blk)
{
    const char *t = json_string_value(json_object_get(blk, "type"));
    if (t && strcmp(t, "text") == 0 && json_is_string(json_object_get(blk, "text")))
        return json_pack("{s:s,s:O}", "type", "text", "text", json_object_get(blk, "text"));
    if (t && strcmp(t, "thinking") == 0) {
        const char *th = json_string_value(json_object_get(blk, "thinking"));
        const char *sig = json_string_value(json_object_get(blk, "signature"));
        json_t *p = json_pack("{s:s,s:s}", "type", "thinking", "text", th ? th : "");
        if (p && sig && *sig)
            json_object_set_new(p, "signature", json_string(sig));
        return p;
    }
    if (t && strcmp(t, "redacted_thinking") == 0 && json_is_string(json_object_get(blk, "data")))
        return json_pack("{s:s,s:O}", "type", "thinking", "redacted", json_object_get(blk, "data"));
    if (t && strcmp(t, "tool_use") == 0) {
        const json_t *in = json_object_get(blk, "input");
        const char *id = json_string_value(json_object_get(blk, "id"));
        const char *name = json_string_value(json_object_get(blk, "name"));
        char *args = json_is_object(in) ? json_dumps(in, JSON_COMPACT) : strdup("{}");
        json_t *p = args ? json_pack("{s:s,s:s,s:s,s:s}", "type", "tool_call", "id", id ? id : "",
                                     "name", name ? name : "", "arguments", args)
                         : NULL;
        free(args);
        return p;
    }
    return json_pack("{s:s,s:s,s:O}", "type", "raw", "format", "claude", "block", blk);
}

or_err or_anthropic_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb)
{
    *ir = NULL;
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "response: expected a JSON object");
    const json_t *err = json_object_get(body, "error");
    if (json_is_object(err)) {
        const char *m = json_string_value(json_object_get(err, "message"));
        return or_fail(eb, OR_EUPSTREAM, "upstream error: %s", m ? m : "(no message)");
    }
    const json_t *content = json_object_get(body, "content");
    if (content && !json_is_array(content))
        return or_fail(eb, OR_EINVAL, "content: expected an array");
    json_t *r = json_pack("{s:[]}", "content");
    json_t *parts = json_object_get(r, "content");
    or_err e = r ? OR_OK : OR_ENOMEM;
    size_t i;
    const json_t *blk;
    json_array_foreach(content, i, blk)
    {
        if (e != OR_OK)
            break;
        if (!json_is_object(blk)) {
            e = or_fail(eb, OR_EINVAL, "content[%zu]: expected an object", i);
            break;
        }
        if (json_array_append_new(parts, block_to_part(blk)) != 0)
            e = OR_ENOMEM;
    }
    if (e != OR_OK) {
        json_decref(r);
        return e == OR_ENOMEM ? or_fail(eb, e, "out of memory") : e;
    }
    const json_t *id = json_object_get(body, "id"), *model = json_object_get(body, "model");
    if (json_is_string(id))
        json_object_set(r, "id", (json_t *)id);
    if (json_is_string(model))
        json_object_set(r, "model", (json_t *)model);
    json_object_set_new(r, "stop_reason",
                        json_string(or_anthropic_stop_to_ir(
                            json_string_value(json_object_get(body, "stop_reason")))));
    const json_t *u = json_object_get(body, "usage");
    if (json_is_object(u))
        json_object_set_new(r, "usage", or_anthropic_usage_to_ir(u));
    *ir = r;
    return OR_OK;
}

/* IR part → response content block; NULL for parts a Claude client cannot receive. */
static json_t *part_to_block(const json_t *p, int *tools)
{
    const char *t = json_string_value(json_object_get(p, "type"));
    if (!t)
        return NULL;
    if (strcmp(t, "text") == 0) {
        const char *s = json_string_value(json_object_get(p, "text"));
        return s && *s ? json_pack("{s:s,s:s}", "type", "text", "text", s) : NULL;
    }
    if (strcmp(t, "thinking") == 0) {
        const char *red = json_string_value(json_object_get(p, "redacted"));
        const char *s = json_string_value(json_object_get(p, "text"));
        const char *sig = json_string_value(json_object_get(p, "signature"));
        if (red)
            return json_pack("{s:s,s:s}", "type", "redacted_thinking", "data", red);
        /* Reasoning another provider keeps opaque (encrypted) has nothing to show; Anthropic
         * never sends an empty thinking block, and replaying one to it is a 400. */
        if ((!s || !*s) && (!sig || !*sig))
            return NULL;
        return json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", s ? s : "", "signature",
                         sig ? sig : "");
    }
    if (strcmp(t, "tool_call") == 0) {
        const char *id = json_string_value(json_object_get(p, "id"));
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *in = or_anthropic_args_to_input(json_string_value(json_object_get(p, "arguments")));
        (*tools)++;
        return in ? json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id ? id : "", "name",
                              name ? name : "", "input", in)
                  : NULL;
    }
    if (strcmp(t, "raw") == 0) {
        const char *f = json_string_value(json_object_get(p, "format"));
        const json_t *blk = json_object_get(p, "block");
        return f && strcmp(f, "claude") == 0 && json_is_object(blk) ? json_deep_copy(blk) : NULL;
    }
    return NULL;
}

or_err or_anthropic_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body,
                                 or_errbuf *eb)
{
    *body = NULL;
    if (!json_is_object(ir))
        return or_fail(eb, OR_EINVAL, "response: expected an IR object");
    const char *model = o && o->model ? o->model : json_string_value(json_object_get(ir, "model"));
    char *id = or_anthropic_msg_id(json_string_value(json_object_get(ir, "id")), o ? o->id : NULL);
    json_t *content = json_array();
    json_t *usage = or_anthropic_usage_from_ir(json_object_get(ir, "usage"));
    json_t *r = NULL;
    int tools = 0;
    size_t i;
    const json_t *p;
    if (!id || !content || !usage)
        goto out;
    json_array_foreach(json_object_get(ir, "content"), i, p)
    {
        json_t *b = part_to_block(p, &tools);
        if (b)
            json_array_append_new(content, b);
    }
    const char *stop =
        or_anthropic_stop_from_ir(json_string_value(json_object_get(ir, "stop_reason")), tools);
    r = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:n,s:O}", "id", id, "type", "message", "role",
                  "assistant", "model", model ? model : "", "content", content, "stop_reason", stop,
                  "stop_sequence", "usage", usage);
out:
    free(id);
    json_decref(content);
    json_decref(usage);
    if (!r)
        return or_fail(eb, OR_ENOMEM, "out of memory");
    *body = r;
    return OR_OK;
}

/* ---- errors ---- */

/* Non-Anthropic error vocabularies → IR types: Gemini `status`, OpenAI `type`/`code`. */
static const struct {
    const char *name, *ir;
} foreign[] = {
    {"INVALID_ARGUMENT", "invalid_request_error"},
    {"FAILED_PRECONDITION", "invalid_request_error"},
    {"OUT_OF_RANGE", "invalid_request_error"},
    {"UNAUTHENTICATED", "authentication_error"},
    {"PERMISSION_DENIED", "permission_error"},
    {"NOT_FOUND", "not_found_error"},
    {"RESOURCE_EXHAUSTED", "rate_limit_error"},
    {"UNAVAILABLE", "overloaded_error"},
    {"INTERNAL", "api_error"},
    {"DEADLINE_EXCEEDED", "timeout_error"},
    {"server_error", "api_error"},
    {"rate_limit_exceeded", "rate_limit_error"},
    {"insufficient_quota", "rate_limit_error"},
    {"tokens", "rate_limit_error"},
    {"requests", "rate_limit_error"},
    {"invalid_api_key", "authentication_error"},
    {"model_not_found", "not_found_error"},
    {"context_length_exceeded", "invalid_request_error"},
    {"billing_error", "permission_error"},
    {"conflict_error", "invalid_request_error"},
    {"request_too_large", "invalid_request_error"},
};

static const char *ir_type(const char *name)
{
    if (!name)
        return NULL;
    if (or_anthropic_known_type(name))
        return name;
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (strcmp(foreign[i].name, name) == 0)
            return foreign[i].ir;
    return NULL;
}

/* Gemini RetryInfo: details[{ "@type": "...RetryInfo", retryDelay: "2s" }] → "2". */
static json_t *retry_after(const json_t *err)
{
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(err, "details"), i, d)
    {
        const char *s = json_string_value(json_object_get(d, "retryDelay"));
        if (!s)
            continue;
        size_t n = strspn(s, "0123456789");
        if (n && n < 16)
            return json_stringn(s, n);
    }
    return NULL;
}

json_t *or_anthropic_error_to_ir(int status, const json_t *body)
{
    const json_t *b = json_is_array(body) ? json_array_get(body, 0) : body;
    const json_t *err = json_object_get(b, "error");
    const char *msg = NULL, *type = NULL;
    if (json_is_object(err)) {
        msg = json_string_value(json_object_get(err, "message"));
        type = ir_type(json_string_value(json_object_get(err, "type")));
        if (!type)
            type = ir_type(json_string_value(json_object_get(err, "status")));
        if (!type)
            type = ir_type(json_string_value(json_object_get(err, "code")));
        if (status < 400 && json_is_integer(json_object_get(err, "code")))
            status = (int)json_integer_value(json_object_get(err, "code"));
    } else if (json_is_string(err)) {
        msg = json_string_value(err);
    }
    static const char *const msg_keys[] = {"message", "detail", "error_description", "msg"};
    for (size_t i = 0; !msg && i < sizeof msg_keys / sizeof msg_keys[0]; i++)
        msg = json_string_value(json_object_get(b, msg_keys[i]));
    if (!msg)
        msg = json_string_value(b);
    if (status < 400 || status > 599) /* an error inside a 200 stream, or no status at all */
        status =
            type && or_anthropic_status_of_type(type) ? or_anthropic_status_of_type(type) : 502;
    if (!type)
        type = ir_type(or_anthropic_type_of_status(status));
    char fallback[48];
    if (!msg) {
        snprintf(fallback, sizeof fallback, "upstream returned HTTP %d", status);
        msg = fallback;
    }
    json_t *r = json_pack("{s:i,s:s,s:s}", "status", status, "error_type", type, "message", msg);
    json_t *ra = json_is_object(err) ? retry_after(err) : NULL;
    if (r && ra)
        json_object_set(r, "retry_after", ra);
    json_decref(ra);
    return r;
}

json_t *or_anthropic_error_from_ir(const json_t *err)
{
    const json_t *st = json_object_get(err, "status");
    int status = json_is_integer(st) ? (int)json_integer_value(st) : 500;
    const char *t = json_string_value(json_object_get(err, "error_type"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    /* Statuses Anthropic gives their own type (402, 409, 413) keep it; otherwise the IR type
     * when Anthropic has it, else the type of the status. */
    const char *by_status = or_anthropic_type_of_status(status);
    const char *type = or_anthropic_status_of_type(by_status) == status &&
                               (status == 402 || status == 409 || status == 413)
                           ? by_status
                       : t && or_anthropic_status_of_type(t) ? t
                                                             : by_status;
    return json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", type, "message",
                     msg ? msg : "error");
}
