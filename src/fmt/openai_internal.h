/*
 * openai_internal.h — private glue between the OpenAI Chat Completions translator files:
 * openai_req.c (client request → IR), openai_build.c (IR → provider request, URL),
 * openai_resp.c (responses, usage, stop reasons, errors),
 * openai_stream.c (chunk decoder and encoder), openai.c (the or_fmt_openai descriptor).
 *
 * Same contract as fmt.h: pure functions, inputs borrowed, returned json_t are new references
 * the caller owns. Any thread; stream codec objects belong to one stream at a time.
 */
#ifndef OR_FMT_OPENAI_INTERNAL_H
#define OR_FMT_OPENAI_INTERNAL_H

#include "fmt/fmt.h"

/* Caps on what an upstream or client can make us accumulate. */
#define OR_OPENAI_MAX_TOOL_ARGS (4u << 20) /* buffered arguments of one nameless tool call */
#define OR_OPENAI_MAX_PENDING (8u << 20)   /* all buffered arguments of a stream */
#define OR_OPENAI_MAX_TOOLS 512            /* tool calls in one streamed answer */
#define OR_OPENAI_MAX_ERR_TEXT 512         /* raw body quoted in an error message */

/* jansson shorthands: put/push steal v (also on failure) and turn failure into OR_ENOMEM. */
static inline or_err put(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) ? OR_ENOMEM : OR_OK;
}

static inline or_err push(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) ? OR_ENOMEM : OR_OK;
}

static inline const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- openai_req.c ---- */
or_err or_openai_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
/* reasoning_effort word → IR effort ("low"/"medium"/"high"), "none" for a disabling word,
 * NULL when unknown. */
const char *or_openai_req_effort(const char *word);

/* ---- openai_build.c ---- */
or_err or_openai_build_req(const json_t *ir, json_t **body, or_errbuf *eb);
or_err or_openai_build_url(const char *root, size_t root_len, const char *model, bool stream,
                           or_buf *out);

/* ---- openai_resp.c ---- */
or_err or_openai_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_openai_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body, or_errbuf *eb);
/* `status` <= 0 means "unknown" (an error object inside a 200 stream): it is guessed from the
 * body, else 502. Never NULL except on allocation failure. */
json_t *or_openai_resp_error_to_ir(int status, const json_t *body);
json_t *or_openai_resp_error_from_ir(const json_t *err);
/* OpenAI `usage` object → IR usage, and back (NULL when the input is not an object). */
json_t *or_openai_resp_usage_to_ir(const json_t *usage);
json_t *or_openai_resp_usage_from_ir(const json_t *usage);
/* finish_reason → IR stop_reason (a static string; unknown values → "stop"), and back. */
const char *or_openai_resp_stop_to_ir(const char *finish_reason);
const char *or_openai_resp_stop_from_ir(const char *stop_reason);
/* A JSON value as a JSON string (arguments sent as objects by lenient upstreams). */
json_t *or_openai_resp_args_string(const json_t *v);

/* ---- openai_stream.c ---- */
or_fmt_dec *or_openai_stream_dec_new(void);
or_err or_openai_stream_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                                  json_t *out, or_errbuf *eb);
or_err or_openai_stream_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb);
void or_openai_stream_dec_free(or_fmt_dec *d);
or_fmt_enc *or_openai_stream_enc_new(const or_fmt_opts *o);
or_err or_openai_stream_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out);
void or_openai_stream_enc_free(or_fmt_enc *e);

#endif
