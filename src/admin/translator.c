#include "admin/translator.h"
#include "admin/admin.h"
#include "fmt/fmt.h"
#include "gateway/relay.h"
#include "gateway/sse_events.h"
#include "http/reply.h"

#include <string.h>

static bool has(const json_t *o, const char *k)
{
    return json_object_get(o, k) != NULL;
}

/* Block types that only Anthropic uses inside message content. */
static bool anthropic_blocks(const json_t *content)
{
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *t = json_string_value(json_object_get(part, "type"));
        json_t *src = json_object_get(part, "source");
        if (t && (strcmp(t, "tool_use") == 0 || strcmp(t, "tool_result") == 0 ||
                  (strcmp(t, "image") == 0 && json_is_object(src))))
            return true;
    }
    return false;
}

or_format or_translator_detect(const json_t *body)
{
    static const char *const responses_keys[] = {"input", "max_output_tokens",
                                                 "previous_response_id", "reasoning"};
    static const char *const openai_keys[] = {
        "stream_options",   "response_format",   "logprobs",   "n",
        "presence_penalty", "frequency_penalty", "logit_bias", "user"};
    for (size_t i = 0; i < sizeof responses_keys / sizeof *responses_keys; i++)
        if (has(body, responses_keys[i]))
            return OR_FMT_RESPONSES;
    if (json_is_array(json_object_get(body, "contents")))
        return OR_FMT_GEMINI;
    for (size_t i = 0; i < sizeof openai_keys / sizeof *openai_keys; i++)
        if (has(body, openai_keys[i]))
            return OR_FMT_OPENAI;
    json_t *first = json_array_get(json_object_get(body, "messages"), 0);
    json_t *content = json_object_get(first, "content");
    if (json_is_array(content)) {
        if (has(body, "system") || has(body, "anthropic_version") || anthropic_blocks(content))
            return OR_FMT_ANTHROPIC;
        return OR_FMT_OPENAI;
    }
    if (has(body, "system") ||
        (has(body, "max_tokens") && !has(body, "max_completion_tokens") && !has(body, "tools")))
        return has(body, "system") ? OR_FMT_ANTHROPIC : OR_FMT_OPENAI;
    return OR_FMT_OPENAI;
}

void or_translator_detect_api(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    (void)p;
    json_t *in = or_admin_body_object(req);
    if (!in)
        return;
    json_t *body = json_object_get(in, "body");
    if (!json_is_object(body)) {
        json_decref(in);
        or_reply_error(req, 400, NULL, "invalid_body", "`body` must be a JSON object");
        return;
    }
    or_format f = or_translator_detect(body);
    json_decref(in);
    or_reply_json(req, 200, json_pack("{s:s}", "format", or_format_name(f)), NULL);
}

static const or_fmt *format_field(or_http_req *req, const json_t *in, const char *key)
{
    const char *name = json_string_value(json_object_get(in, key));
    const or_fmt *f = name ? or_fmt_by_name(name) : NULL;
    if (!f)
        or_reply_error(req, 400, NULL, "invalid_format",
                       "`%s` must be one of openai, claude, gemini, openai-responses", key);
    return f;
}

typedef struct {
    const or_fmt *src;
    or_fmt_dec *dec;
    json_t *evs;
    json_t *ir_events;
    or_errbuf *eb;
    or_err err;
} stream_job;

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    stream_job *j = ud;
    if (j->src->dec_event(j->dec, event, data, len, j->evs, j->eb) != OR_OK) {
        j->err = OR_EINVAL;
        return 1;
    }
    return 0;
}

/* SSE text in the source format → IR events → SSE text in the target format. */
static or_err translate_stream(const or_fmt *src, const or_fmt *dst, const char *text,
                               json_t **result, json_t **ir, or_errbuf *eb)
{
    stream_job j = {src, src->dec_new(), json_array(), NULL, eb, OR_OK};
    or_sse_events ev;
    or_sse_events_init(&ev, 8u * 1024 * 1024, on_event, &j);
    or_sse_events_feed(&ev, text, strlen(text));
    or_sse_events_finish(&ev);
    or_sse_events_free(&ev);
    if (j.err == OR_OK)
        j.err = src->dec_end(j.dec, j.evs, eb);
    src->dec_free(j.dec);
    if (j.err != OR_OK) {
        json_decref(j.evs);
        return j.err;
    }
    or_fmt_opts o = {.stream = true,
                     .gemini_sse = true,
                     .include_usage = true,
                     .model = "translated",
                     .id = "translator",
                     .created = 0};
    or_fmt_enc *enc = dst->enc_new(&o);
    or_buf out;
    or_buf_init(&out, 64u * 1024 * 1024);
    size_t i;
    json_t *e;
    json_array_foreach(j.evs, i, e) dst->enc_event(enc, e, &out);
    dst->enc_free(enc);
    *result = json_stringn(out.data ? out.data : "", out.len);
    *ir = j.evs;
    or_buf_free(&out);
    return OR_OK;
}

void or_translator_translate_api(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    (void)p;
    json_t *in = or_admin_body_object(req), *ir = NULL, *result = NULL;
    if (!in)
        return;
    const or_fmt *src = format_field(req, in, "sourceFormat");
    const or_fmt *dst = src ? format_field(req, in, "targetFormat") : NULL;
    if (!dst)
        goto out;
    const char *dir = json_string_value(json_object_get(in, "direction"));
    json_t *body = json_object_get(in, "body");
    or_errbuf eb = {{0}};
    or_err e;
    if (dir && strcmp(dir, "stream") == 0) {
        if (!json_is_string(body)) {
            or_reply_error(req, 400, NULL, "invalid_body", "`body` must be the SSE text");
            goto out;
        }
        e = translate_stream(src, dst, json_string_value(body), &result, &ir, &eb);
    } else if (!json_is_object(body)) {
        or_reply_error(req, 400, NULL, "invalid_body", "`body` must be a JSON object");
        goto out;
    } else if (dir && strcmp(dir, "response") == 0) {
        or_fmt_opts o = {.model = json_string_value(json_object_get(body, "model")),
                         .id = "translator"};
        e = src->resp_to_ir(body, &ir, &eb);
        if (e == OR_OK)
            e = dst->resp_from_ir(ir, &o, &result, &eb);
    } else if (!dir || strcmp(dir, "request") == 0) {
        e = src->req_to_ir(body, &ir, &eb);
        if (e == OR_OK)
            e = dst->req_from_ir(ir, &result, &eb);
    } else {
        or_reply_error(req, 400, NULL, "invalid_direction",
                       "`direction` must be request, response or stream");
        goto out;
    }
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        goto out;
    }
    or_reply_json(req, 200,
                  json_pack("{s:s, s:s, s:O, s:O}", "sourceFormat", src->name, "targetFormat",
                            dst->name, "result", result, "ir", ir ? ir : json_null()),
                  NULL);
out:
    json_decref(result);
    json_decref(ir);
    json_decref(in);
}

void or_translator_send_api(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *in = or_admin_body_object(req);
    if (!in)
        return;
    json_t *body = json_object_get(in, "body");
    const char *model = json_string_value(json_object_get(in, "model"));
    if (!json_is_object(body) || !model) {
        json_decref(in);
        or_reply_error(req, 400, NULL, "invalid_body",
                       "expected {model, body} with body a JSON object");
        return;
    }
    const char *fname = json_string_value(json_object_get(in, "format"));
    const or_fmt *f = fname ? or_fmt_by_name(fname) : or_fmt_get(or_translator_detect(body));
    if (!f) {
        json_decref(in);
        or_reply_error(req, 400, NULL, "invalid_format",
                       "`format` must be one of openai, claude, gemini, openai-responses");
        return;
    }
    or_relay_opts o = {
        .client = f->id,
        .endpoint = "/api/translator/send",
        .model = model,
        .stream = json_is_true(json_object_get(body, "stream")),
        .gemini_sse = true,
        .model_in_body = f->id != OR_FMT_GEMINI,
        .body_not_raw = true,
    };
    or_relay_start(req, app, body, &o);
    json_decref(in);
}
