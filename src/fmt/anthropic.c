/* anthropic.c — the Anthropic Messages descriptor and the helpers its files share. */
#include "fmt/anthropic_internal.h"
#include "core/json_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static or_err url(const char *root, size_t root_len, const char *model, bool stream, or_buf *out)
{
    (void)model;
    (void)stream;
    while (root_len && root[root_len - 1] == '/')
        root_len--;
    or_err e = or_buf_append(out, root, root_len);
    if (e == OR_OK)
        e = or_buf_puts(out, "/messages");
    return e;
}

const or_fmt or_fmt_anthropic = {
    .id = OR_FMT_ANTHROPIC,
    .name = "claude",
    .req_to_ir = or_anthropic_req_to_ir,
    .req_from_ir = or_anthropic_req_from_ir,
    .url = url,
    .resp_to_ir = or_anthropic_resp_to_ir,
    .resp_from_ir = or_anthropic_resp_from_ir,
    .dec_new = or_anthropic_dec_new,
    .dec_event = or_anthropic_dec_event,
    .dec_end = or_anthropic_dec_end,
    .dec_free = or_anthropic_dec_free,
    .enc_new = or_anthropic_enc_new,
    .enc_event = or_anthropic_enc_event,
    .enc_free = or_anthropic_enc_free,
    .error_to_ir = or_anthropic_error_to_ir,
    .error_from_ir = or_anthropic_error_from_ir,
    .stream_content_type = "text/event-stream",
};

json_t *or_anthropic_args_to_input(const char *args)
{
    size_t n = args ? strlen(args) : 0;
    size_t i = 0;
    while (i < n && (args[i] == ' ' || args[i] == '\t' || args[i] == '\n' || args[i] == '\r'))
        i++;
    if (i == n)
        return json_object();
    json_t *v = or_json_loadb(args, n, JSON_DECODE_ANY, NULL);
    if (json_is_object(v))
        return v;
    json_decref(v);
    return json_pack("{s:s%}", "_raw", args, n);
}

/* Anthropic stop_reason ↔ IR stop_reason. First match wins in the reverse direction. */
static const struct {
    const char *wire, *ir;
} stops[] = {
    {"end_turn", "stop"},
    {"max_tokens", "length"},
    {"tool_use", "tool_calls"},
    {"refusal", "content_filter"},
    {"stop_sequence", "stop"},
    {"pause_turn", "stop"},
    {"model_context_window_exceeded", "length"},
};

const char *or_anthropic_stop_to_ir(const char *stop_reason)
{
    for (size_t i = 0; stop_reason && i < sizeof stops / sizeof stops[0]; i++)
        if (strcmp(stops[i].wire, stop_reason) == 0)
            return stops[i].ir;
    return "stop";
}

const char *or_anthropic_stop_from_ir(const char *stop_reason, int had_tools)
{
    const char *r = "end_turn";
    for (size_t i = 0; stop_reason && i < sizeof stops / sizeof stops[0]; i++)
        if (strcmp(stops[i].ir, stop_reason) == 0) {
            r = stops[i].wire;
            break;
        }
    if (had_tools && strcmp(r, "end_turn") == 0)
        r = "tool_use";
    return r;
}

static json_int_t int_field(const json_t *o, const char *k, int *present)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_integer(v)) {
        *present = 1;
        return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
    }
    if (json_is_real(v)) {
        *present = 1;
        return json_real_value(v) > 0 ? (json_int_t)json_real_value(v) : 0;
    }
    return 0;
}

json_t *or_anthropic_usage_to_ir(const json_t *u)
{
    json_t *r = json_object();
    if (!r || !json_is_object(u))
        return r;
    int has_in = 0, has_out = 0, has_read = 0, has_create = 0;
    json_int_t in = int_field(u, "input_tokens", &has_in);
    json_int_t out = int_field(u, "output_tokens", &has_out);
    json_int_t rd = int_field(u, "cache_read_input_tokens", &has_read);
    json_int_t cr = int_field(u, "cache_creation_input_tokens", &has_create);
    if (has_in || has_read || has_create)
        json_object_set_new(r, "input_tokens", json_integer(in + rd + cr));
    if (has_out)
        json_object_set_new(r, "output_tokens", json_integer(out));
    if (has_read)
        json_object_set_new(r, "cached_tokens", json_integer(rd));
    if (has_create)
        json_object_set_new(r, "cache_creation_tokens", json_integer(cr));
    return r;
}

json_t *or_anthropic_usage_from_ir(const json_t *u)
{
    int p = 0;
    json_int_t in = int_field(u, "input_tokens", &p);
    json_int_t out = int_field(u, "output_tokens", &p);
    json_int_t rd = int_field(u, "cached_tokens", &p);
    json_int_t cr = int_field(u, "cache_creation_tokens", &p);
    json_int_t plain = in - rd - cr;
    /* The API always reports the cache fields (0 when nothing was cached); clients and cost
     * tools read them unconditionally. */
    return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", plain > 0 ? plain : 0,
                     "cache_creation_input_tokens", cr, "cache_read_input_tokens", rd,
                     "output_tokens", out);
}

char *or_anthropic_msg_id(const char *ir_id, const char *fallback)
{
    if (ir_id && strncmp(ir_id, "msg_", 4) == 0)
        return strdup(ir_id);
    const char *base = ir_id && *ir_id ? ir_id : fallback && *fallback ? fallback : "0";
    size_t n = strlen(base) + 5;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "msg_%s", base);
    return s;
}

/* Anthropic's documented error types with their statuses; `ir` is the IR type each maps to. */
static const struct {
    const char *type;
    int status;
    const char *ir;
} etypes[] = {
    {"invalid_request_error", 400, "invalid_request_error"},
    {"authentication_error", 401, "authentication_error"},
    {"billing_error", 402, "permission_error"},
    {"permission_error", 403, "permission_error"},
    {"not_found_error", 404, "not_found_error"},
    {"conflict_error", 409, "invalid_request_error"},
    {"request_too_large", 413, "invalid_request_error"},
    {"rate_limit_error", 429, "rate_limit_error"},
    {"api_error", 500, "api_error"},
    {"timeout_error", 504, "timeout_error"},
    {"overloaded_error", 529, "overloaded_error"},
};

int or_anthropic_status_of_type(const char *type)
{
    for (size_t i = 0; type && i < sizeof etypes / sizeof etypes[0]; i++)
        if (strcmp(etypes[i].type, type) == 0)
            return etypes[i].status;
    return 0;
}

const char *or_anthropic_type_of_status(int status)
{
    static const struct {
        int status;
        const char *type;
    } extra[] = {{408, "timeout_error"}, {503, "overloaded_error"}, {422, "invalid_request_error"}};
    for (size_t i = 0; i < sizeof etypes / sizeof etypes[0]; i++)
        if (etypes[i].status == status)
            return etypes[i].type;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (extra[i].status == status)
            return extra[i].type;
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

int or_anthropic_known_type(const char *type)
{
    for (size_t i = 0; type && i < sizeof etypes / sizeof etypes[0]; i++)
        if (strcmp(etypes[i].ir, type) == 0 && strcmp(etypes[i].type, type) == 0)
            return 1;
    return 0;
}
