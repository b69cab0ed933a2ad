/* The OpenAI Responses format descriptor, its URL rule and the helpers its files share. */
#include "fmt/responses_internal.h"

#include <stdlib.h>
#include <string.h>

const char *or_responses_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

json_t *or_responses_get(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

int or_responses_set(json_t *o, const char *key, json_t *v)
{
    if (!v)
        return -1;
    return json_object_set_new(o, key, v);
}

int or_responses_push(json_t *a, json_t *v)
{
    if (!v)
        return -1;
    return json_array_append_new(a, v);
}

static json_int_t int_at(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v) < 0 ? 0 : json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 9e15)
        return (json_int_t)json_real_value(v);
    return 0;
}

json_t *or_responses_usage_to_ir(const json_t *usage)
{
    if (!json_is_object(usage))
        return NULL;
    json_t *u = json_object();
    int bad = 0;
    /* Some Responses-compatible upstreams still report chat-style names. */
    json_int_t in = json_object_get(usage, "input_tokens") ? int_at(usage, "input_tokens")
                                                           : int_at(usage, "prompt_tokens");
    json_int_t out = json_object_get(usage, "output_tokens") ? int_at(usage, "output_tokens")
                                                             : int_at(usage, "completion_tokens");
    bad |= or_responses_set(u, "input_tokens", json_integer(in));
    bad |= or_responses_set(u, "output_tokens", json_integer(out));
    bad |= or_responses_set(
        u, "cached_tokens",
        json_integer(int_at(json_object_get(usage, "input_tokens_details"), "cached_tokens")));
    bad |= or_responses_set(
        u, "reasoning_tokens",
        json_integer(int_at(json_object_get(usage, "output_tokens_details"), "reasoning_tokens")));
    /* OpenAI writes caches without a separate charge: nothing is ever "created". */
    bad |= or_responses_set(u, "cache_creation_tokens", json_integer(0));
    if (bad) {
        json_decref(u);
        return NULL;
    }
    return u;
}

json_t *or_responses_usage_from_ir(const json_t *usage)
{
    json_int_t in = int_at(usage, "input_tokens"), out = int_at(usage, "output_tokens");
    return json_pack("{s:I, s:{s:I}, s:I, s:{s:I}, s:I}", "input_tokens", in,
                     "input_tokens_details", "cached_tokens", int_at(usage, "cached_tokens"),
                     "output_tokens", out, "output_tokens_details", "reasoning_tokens",
                     int_at(usage, "reasoning_tokens"), "total_tokens", in + out);
}

const char *or_responses_norm_effort(const char *effort)
{
    static const struct {
        const char *wire, *ir;
    } efforts[] = {{"low", "low"},     {"medium", "medium"}, {"high", "high"},
                   {"minimal", "low"}, {"xhigh", "high"},    {"max", "high"}};
    for (size_t i = 0; effort && i < sizeof efforts / sizeof efforts[0]; i++)
        if (strcmp(efforts[i].wire, effort) == 0)
            return efforts[i].ir;
    return NULL;
}

const char *or_responses_stop_to_ir(const char *status, const char *incomplete_reason,
                                    bool has_calls)
{
    if (status && strcmp(status, "incomplete") == 0)
        return incomplete_reason && strcmp(incomplete_reason, "content_filter") == 0
                   ? "content_filter"
                   : "length";
    if (status && (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0))
        return "error";
    return has_calls ? "tool_calls" : "stop";
}

const char *or_responses_status_from_stop(const char *stop, const char **incomplete_reason)
{
    static const struct {
        const char *stop, *status, *reason;
    } map[] = {
        {"length", "incomplete", "max_output_tokens"},
        {"content_filter", "incomplete", "content_filter"},
        {"error", "failed", NULL},
    };
    *incomplete_reason = NULL;
    for (size_t i = 0; stop && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].stop, stop) == 0) {
            *incomplete_reason = map[i].reason;
            return map[i].status;
        }
    return "completed";
}

/* IR error types, with the OpenAI code each one is rendered with. */
static const struct {
    const char *type, *code;
} type_codes[] = {
    {"invalid_request_error", "invalid_request_error"}, {"authentication_error", "invalid_api_key"},
    {"permission_error", "permission_denied"},          {"not_found_error", "model_not_found"},
    {"rate_limit_error", "rate_limit_exceeded"},        {"api_error", "server_error"},
    {"overloaded_error", "server_is_overloaded"},       {"timeout_error", "timeout"},
};

const char *or_responses_code_from_type(const char *error_type)
{
    for (size_t i = 0; error_type && i < sizeof type_codes / sizeof type_codes[0]; i++)
        if (strcmp(type_codes[i].type, error_type) == 0)
            return type_codes[i].code;
    return "server_error";
}

const char *or_responses_type_for(int status, const char *code, const char *type)
{
    static const struct {
        int status;
        const char *type;
    } by_status[] = {
        {401, "authentication_error"}, {403, "permission_error"}, {404, "not_found_error"},
        {408, "timeout_error"},        {429, "rate_limit_error"}, {503, "overloaded_error"},
        {504, "timeout_error"},        {529, "overloaded_error"},
    };
    /* OpenAI codes, Gemini statuses and Anthropic types that name the kind of failure. */
    static const struct {
        const char *code, *type;
    } by_code[] = {
        {"rate_limit_exceeded", "rate_limit_error"},
        {"insufficient_quota", "rate_limit_error"},
        {"usage_limit_reached", "rate_limit_error"},
        {"RESOURCE_EXHAUSTED", "rate_limit_error"},
        {"invalid_api_key", "authentication_error"},
        {"UNAUTHENTICATED", "authentication_error"},
        {"PERMISSION_DENIED", "permission_error"},
        {"model_not_found", "not_found_error"},
        {"NOT_FOUND", "not_found_error"},
        {"context_length_exceeded", "invalid_request_error"},
        {"invalid_prompt", "invalid_request_error"},
        {"INVALID_ARGUMENT", "invalid_request_error"},
        {"FAILED_PRECONDITION", "invalid_request_error"},
        {"server_is_overloaded", "overloaded_error"},
        {"slow_down", "overloaded_error"},
        {"UNAVAILABLE", "overloaded_error"},
        {"DEADLINE_EXCEEDED", "timeout_error"},
        {"server_error", "api_error"},
        {"INTERNAL", "api_error"},
    };
    for (size_t i = 0; i < sizeof by_status / sizeof by_status[0]; i++)
        if (by_status[i].status == status)
            return by_status[i].type;
    for (int pass = 0; pass < 2; pass++) {
        const char *c = pass ? type : code;
        for (size_t i = 0; c && i < sizeof by_code / sizeof by_code[0]; i++)
            if (strcmp(by_code[i].code, c) == 0)
                return by_code[i].type;
        for (size_t i = 0; c && i < sizeof type_codes / sizeof type_codes[0]; i++)
            if (strcmp(type_codes[i].type, c) == 0)
                return type_codes[i].type;
    }
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

int or_responses_status_for_code(const char *code)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {
        {"invalid_request_error", 400}, {"authentication_error", 401}, {"permission_error", 403},
        {"not_found_error", 404},       {"rate_limit_error", 429},     {"overloaded_error", 503},
        {"timeout_error", 504},
    };
    const char *t = or_responses_type_for(0, code, NULL);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].type, t) == 0)
            return map[i].status;
    return 500;
}

json_t *or_responses_ir_error(int status, const char *error_type, const char *message,
                              const char *code)
{
    json_t *e = json_pack("{s:i, s:s, s:s}", "status", status, "error_type", error_type, "message",
                          message ? message : "upstream error");
    if (e && code && or_responses_set(e, "code", json_string(code)) != 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static or_err url(const char *root, size_t root_len, const char *model, bool stream, or_buf *out)
{
    (void)model;
    (void)stream;
    while (root_len > 0 && root[root_len - 1] == '/')
        root_len--;
    or_err e = or_buf_append(out, root, root_len);
    if (e == OR_OK)
        e = or_buf_puts(out, "/responses");
    return e;
}

const or_fmt or_fmt_responses = {
    .id = OR_FMT_RESPONSES,
    .name = "openai-responses",
    .req_to_ir = or_responses_req_to_ir,
    .req_from_ir = or_responses_req_from_ir,
    .url = url,
    .resp_to_ir = or_responses_resp_to_ir,
    .resp_from_ir = or_responses_resp_from_ir,
    .dec_new = or_responses_dec_new,
    .dec_event = or_responses_dec_event,
    .dec_end = or_responses_dec_end,
    .dec_free = or_responses_dec_free,
    .enc_new = or_responses_enc_new,
    .enc_event = or_responses_enc_event,
    .enc_free = or_responses_enc_free,
    .error_to_ir = or_responses_error_to_ir,
    .error_from_ir = or_responses_error_from_ir,
    .stream_content_type = "text/event-stream",
};
