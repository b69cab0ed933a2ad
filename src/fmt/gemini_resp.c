/* Gemini generateContent responses ↔ IR, and Gemini error bodies ↔ IR errors. */
#include "fmt/gemini_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- responses ---- */

static bool has_call(const json_t *content)
{
    size_t i;
    const json_t *p;
    json_array_foreach(content, i, p)
    {
        const char *t = json_string_value(json_object_get(p, "type"));
        if (t && strcmp(t, "tool_call") == 0)
            return true;
    }
    return false;
}

or_err or_gemini_resp_to_ir(const json_t *body, json_t **ir_out, or_errbuf *eb)
{
    json_t *ir = NULL;
    or_err e = OR_ENOMEM;
    or_gemini_ids ids;
    *ir_out = NULL;
    if (!json_is_object(body)) {
        e = or_fail(eb, OR_EINVAL, "body: expected a JSON object");
        goto out;
    }
    if (json_is_object(json_object_get(body, "error"))) {
        const char *m =
            json_string_value(json_object_get(json_object_get(body, "error"), "message"));
        e = or_fail(eb, OR_EUPSTREAM, "upstream error: %s", m ? m : "(no message)");
        goto out;
    }
    const json_t *rid = json_object_get(body, "responseId");
    const json_t *model = json_object_get(body, "modelVersion");
    const json_t *cand = json_array_get(json_object_get(body, "candidates"), 0);
    const json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
    const json_t *fb = json_object_get(body, "promptFeedback");
    if (!(ir = json_pack("{s:[]}", "content")))
        goto out;
    if (json_is_string(rid))
        json_object_set(ir, "id", (json_t *)rid);
    if (json_is_string(model))
        json_object_set(ir, "model", (json_t *)model);
    or_gemini_parts_ids_init(&ids, json_string_value(rid));
    e = or_gemini_parts_model_to_ir(parts, "candidates[0].content.parts", false, &ids,
                                    json_object_get(ir, "content"), NULL, eb);
    if (e != OR_OK)
        goto out;
    const char *stop;
    if (!cand && json_string_value(json_object_get(fb, "blockReason")))
        stop = "content_filter"; /* the prompt itself was blocked */
    else
        stop =
            or_gemini_parts_finish_to_ir(json_string_value(json_object_get(cand, "finishReason")),
                                         has_call(json_object_get(ir, "content")));
    e = OR_ENOMEM;
    if (json_object_set_new(ir, "stop_reason", json_string(stop)) != 0)
        goto out;
    json_t *u = or_gemini_parts_usage_to_ir(json_object_get(body, "usageMetadata"));
    if (u && json_object_set_new(ir, "usage", u) != 0)
        goto out;
    *ir_out = ir;
    ir = NULL;
    e = OR_OK;
out:
    json_decref(ir);
    return e;
}

or_err or_gemini_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body_out,
                              or_errbuf *eb)
{
    json_t *body = NULL, *parts = NULL;
    or_err e = OR_ENOMEM;
    *body_out = NULL;
    if (!json_is_object(ir)) {
        e = or_fail(eb, OR_EINVAL, "ir: expected an object");
        goto out;
    }
    if (!(parts = or_gemini_parts_model_from_ir(json_object_get(ir, "content"), true, false)))
        goto out;
    /* Clients index parts[0]; an empty answer is one empty text part, as Gemini sends. */
    if (json_array_size(parts) == 0 &&
        json_array_append_new(parts, json_pack("{s:s}", "text", "")) != 0)
        goto out;
    const char *reason =
        or_gemini_parts_finish_from_ir(json_string_value(json_object_get(ir, "stop_reason")));
    body = json_pack("{s:[{s:{s:O,s:s},s:s,s:i}]}", "candidates", "content", "parts", parts, "role",
                     "model", "finishReason", reason, "index", 0);
    if (!body)
        goto out;
    json_t *u = or_gemini_parts_usage_from_ir(json_object_get(ir, "usage"));
    if (u && json_object_set_new(body, "usageMetadata", u) != 0)
        goto out;
    const char *model = o && o->model ? o->model : json_string_value(json_object_get(ir, "model"));
    const char *id = json_string_value(json_object_get(ir, "id"));
    if (!id && o)
        id = o->id;
    if (model && json_object_set_new(body, "modelVersion", json_string(model)) != 0)
        goto out;
    if (id && json_object_set_new(body, "responseId", json_string(id)) != 0)
        goto out;
    *body_out = body;
    body = NULL;
    e = OR_OK;
out:
    json_decref(parts);
    json_decref(body);
    return e;
}

/* ---- errors ---- */

static const struct {
    const char *gstatus; /* google.rpc.Code name */
    const char *type;    /* IR error_type */
    int http;
} codes[] = {
    {"INVALID_ARGUMENT", "invalid_request_error", 400},
    {"UNAUTHENTICATED", "authentication_error", 401},
    {"PERMISSION_DENIED", "permission_error", 403},
    {"NOT_FOUND", "not_found_error", 404},
    {"RESOURCE_EXHAUSTED", "rate_limit_error", 429},
    {"INTERNAL", "api_error", 500},
    {"UNAVAILABLE", "overloaded_error", 503},
    {"DEADLINE_EXCEEDED", "timeout_error", 504},
    /* Only read, never written: the first row per type above is what we render. */
    {"FAILED_PRECONDITION", "invalid_request_error", 400},
    {"OUT_OF_RANGE", "invalid_request_error", 400},
    {"ALREADY_EXISTS", "invalid_request_error", 409},
    {"ABORTED", "api_error", 409},
    {"CANCELLED", "api_error", 499},
    {"UNKNOWN", "api_error", 500},
    {"UNIMPLEMENTED", "invalid_request_error", 501},
    {"DATA_LOSS", "api_error", 500},
};
#define NCODES (sizeof codes / sizeof codes[0])

static const char *type_of_http(int status)
{
    static const struct {
        int status;
        const char *type;
    } tab[] = {
        {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
        {404, "not_found_error"},       {408, "timeout_error"},        {429, "rate_limit_error"},
        {503, "overloaded_error"},      {504, "timeout_error"},        {529, "overloaded_error"}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].status == status)
            return tab[i].type;
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

static bool known_type(const char *t)
{
    for (size_t i = 0; t && i < NCODES; i++)
        if (strcmp(codes[i].type, t) == 0)
            return true;
    return false;
}

/* RetryInfo.retryDelay is a protobuf Duration ("37s", "1.5s"): whole seconds, rounded up. */
static json_t *retry_after(const json_t *details)
{
    size_t i;
    const json_t *d;
    json_array_foreach(details, i, d)
    {
        const char *type = json_string_value(json_object_get(d, "@type"));
        const char *delay = json_string_value(json_object_get(d, "retryDelay"));
        size_t tl = type ? strlen(type) : 0;
        if (!delay || tl < 9 || strcmp(type + tl - 9, "RetryInfo") != 0)
            continue;
        char *end;
        double s = strtod(delay, &end);
        if (end == delay || !(s >= 0 && s < 1e9) || (*end && strcmp(end, "s") != 0))
            continue;
        long long whole = (long long)s;
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", whole + (s > (double)whole));
        return json_string(buf);
    }
    return NULL;
}

json_t *or_gemini_resp_error_to_ir(int status, const json_t *body)
{
    const json_t *b = json_is_array(body) ? json_array_get(body, 0) : body;
    const json_t *err = json_object_get(b, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *gstatus = json_string_value(json_object_get(err, "status"));
    const char *type = NULL;
    const json_t *code = json_object_get(err, "code");
    char fallback[64];
    if (!msg)
        msg = json_string_value(err);
    if (!msg)
        msg = json_string_value(json_object_get(b, "message"));
    if (status <= 0)
        status = json_is_integer(code) && json_integer_value(code) >= 400 &&
                         json_integer_value(code) <= 599
                     ? (int)json_integer_value(code)
                     : 502;
    if (!msg) {
        snprintf(fallback, sizeof fallback, "upstream error (HTTP %d)", status);
        msg = fallback;
    }
    for (size_t i = 0; gstatus && i < NCODES && !type; i++)
        if (strcmp(codes[i].gstatus, gstatus) == 0)
            type = codes[i].type;
    if (!type) {
        /* Another format's error body (an OpenAI-compatible Gemini proxy, Anthropic…). */
        const char *t = json_string_value(json_object_get(err, "type"));
        type = known_type(t) ? t : type_of_http(status);
    }
    json_t *ir = json_pack("{s:i,s:s,s:s}", "status", status, "error_type", type, "message", msg);
    json_t *ra = retry_after(json_object_get(err, "details"));
    if (ir && ra)
        json_object_set_new(ir, "retry_after", ra);
    else
        json_decref(ra);
    return ir;
}

json_t *or_gemini_resp_error_from_ir(const json_t *err)
{
    const char *type = json_string_value(json_object_get(err, "error_type"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    const json_t *st = json_object_get(err, "status");
    const json_t *ra = json_object_get(err, "retry_after");
    int status = json_is_integer(st) ? (int)json_integer_value(st) : 0;
    const char *gstatus = NULL;
    for (size_t i = 0; type && i < NCODES && !gstatus; i++)
        if (strcmp(codes[i].type, type) == 0) {
            gstatus = codes[i].gstatus;
            if (status <= 0)
                status = codes[i].http;
        }
    if (status <= 0)
        status = 500;
    if (!gstatus) {
        const char *t = type_of_http(status);
        for (size_t i = 0; i < NCODES && !gstatus; i++)
            if (strcmp(codes[i].type, t) == 0)
                gstatus = codes[i].gstatus;
    }
    json_t *e = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status, "message",
                          msg ? msg : "upstream error", "status", gstatus);
    char delay[48] = "";
    if (json_is_string(ra))
        snprintf(delay, sizeof delay, "%.32ss", json_string_value(ra));
    else if (json_is_integer(ra))
        snprintf(delay, sizeof delay, "%llds", (long long)json_integer_value(ra));
    if (e && *delay)
        json_object_set_new(json_object_get(e, "error"), "details",
                            json_pack("[{s:s,s:s}]", "@type",
                                      "type.googleapis.com/google.rpc.RetryInfo", "retryDelay",
                                      delay));
    return e;
}
