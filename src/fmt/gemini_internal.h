/*
 * gemini_internal.h — private glue between the Gemini generateContent format files:
 * gemini_req.c (requests to IR, URL), gemini_build.c (IR to requests), gemini_parts.c (parts ↔ IR
 * content, stop reasons, usage, ids; shared by requests, responses and streams), gemini_resp.c
 * (responses and errors), gemini_stream.c (chunk decoder and encoder), gemini.c (the descriptor).
 *
 * Same contract as fmt.h: pure functions, inputs borrowed, returned json_t are new references
 * the caller owns. Any thread; a stream codec belongs to one stream at a time.
 *
 * Choices this format makes where the IR leaves room (see also the report to the others):
 *  - A Gemini thoughtSignature on a part that is not a functionCall (a text part, or a bare
 *    signature part) becomes an IR thinking part {"text":"","signature":S} placed just before
 *    that text. Building Gemini parts does the reverse: a thinking signature is re-attached to
 *    the next text/functionCall part of the same turn (else the previous one), never sent as
 *    an empty text part, which Gemini rejects.
 *  - Only that marker form carries a signature into Gemini (requests, responses and streams to
 *    Gemini clients): a signature on thinking with text is another vendor's (Anthropic), which
 *    Gemini would reject. Thought text is not sent back upstream (Gemini ignores it and Gemini
 *    CLI drops it too).
 *  - A stream that ends without a finishReason was cut: the decoder ends it with an error
 *    (502 api_error), not a stop. MALFORMED_FUNCTION_CALL / UNEXPECTED_TOOL_CALL map to
 *    stop_reason "error" (no usable call exists, so "tool_calls" would be a lie).
 *  - ir.extra.gemini holds unknown top-level fields verbatim, plus private keys starting with
 *    "_" (never re-emitted as fields): "_tools" (non-function tools such as googleSearch),
 *    "_generationConfig" (generationConfig fields the IR has no slot for), "_toolConfig" and
 *    "_thinkingConfig" ({"orig":…, "ir":…}: the original object, re-emitted verbatim when the
 *    IR value derived from it is unchanged).
 */
#ifndef OR_FMT_GEMINI_INTERNAL_H
#define OR_FMT_GEMINI_INTERNAL_H

#include "fmt/fmt.h"

/* Largest argument text buffered for one streamed tool call (Gemini wants calls whole). */
#define OR_GEMINI_ARGS_MAX ((size_t)4 << 20)
/* Tool calls remembered while numbering/matching ids in one request. */
#define OR_GEMINI_MAX_CALLS 4096
/* Sentinel Google documents for function calls that have no real signature (history from
 * another model); Gemini 3 rejects such calls otherwise. */
#define OR_GEMINI_SKIP_SIG "skip_thought_signature_validator"

/* ---- gemini_req.c, gemini_build.c (or_gemini_req_from_ir) ---- */
or_err or_gemini_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_gemini_req_from_ir(const json_t *ir, json_t **body, or_errbuf *eb);
or_err or_gemini_req_url(const char *root, size_t root_len, const char *model, bool stream,
                         or_buf *out);

/* ---- gemini_parts.c ---- */
/* o[camel], else o[snake_case of camel]: the REST API accepts both spellings of field names and
 * Google's own curl examples use snake_case (system_instruction, inline_data, …). Keys of
 * user data (tool args, schemas) are never renamed; only lookups are doubled. */
json_t *or_gemini_parts_get(const json_t *o, const char *camel);
/* Top-level/request key `k` in its camelCase spelling into out (cap bytes). */
void or_gemini_parts_camel(const char *k, char *out, size_t cap);

/* Tool call numbering: generated ids are prefix + n (n = 1, 2, … in order of appearance). */
typedef struct {
    unsigned n;
    char prefix[96];
} or_gemini_ids;

/* prefix "call_" or, when the response has an id, "call_<responseId>_" so that ids stay
 * unique across the turns of a conversation. */
void or_gemini_parts_ids_init(or_gemini_ids *ids, const char *response_id);
/* Next generated id into out (NUL-terminated, truncated to cap). */
void or_gemini_parts_next_id(or_gemini_ids *ids, char *out, size_t cap);

/* Gemini model-turn parts → IR assistant parts appended to `out`. `strict` (requests) fails
 * with OR_EINVAL on a part with no known field, naming it via `path`; responses skip those.
 * `calls`, when non-NULL, receives one {"id","name"} per functionCall (for id matching). */
or_err or_gemini_parts_model_to_ir(const json_t *parts, const char *path, bool strict,
                                   or_gemini_ids *ids, json_t *out, json_t *calls, or_errbuf *eb);
/* IR assistant content → Gemini parts. `thoughts` emits thinking text as thought parts
 * (responses to clients); `sentinel` gives the first functionCall the skip sentinel when no
 * call of the turn has a signature (requests to Gemini). NULL only on ENOMEM. */
json_t *or_gemini_parts_model_from_ir(const json_t *content, bool thoughts, bool sentinel);
/* IR image part → inlineData / fileData part; NULL when not an image. */
json_t *or_gemini_parts_image_from_ir(const json_t *part);
/* inlineData / fileData object → IR image part; NULL when malformed. */
json_t *or_gemini_parts_image_to_ir(const json_t *gpart);
/* Tool call args object → IR arguments string ("{}" when absent). Caller frees. */
char *or_gemini_parts_args_to_ir(const json_t *args);
/* IR arguments string → args object: "" → {}, non-object → {"_raw": text}. */
json_t *or_gemini_parts_args_from_ir(const char *args);

/* finishReason → IR stop_reason (static string). `had_calls` turns STOP into tool_calls. */
const char *or_gemini_parts_finish_to_ir(const char *reason, bool had_calls);
/* IR stop_reason → finishReason (static string). */
const char *or_gemini_parts_finish_from_ir(const char *stop_reason);
/* usageMetadata ↔ IR usage (new objects; NULL when `u` is not an object). */
json_t *or_gemini_parts_usage_to_ir(const json_t *u);
json_t *or_gemini_parts_usage_from_ir(const json_t *u);

/* ---- gemini_resp.c ---- */
or_err or_gemini_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_gemini_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body, or_errbuf *eb);
/* `status` <= 0 means unknown (an error inside a 200 stream): taken from error.code, else
 * 502. Never NULL except on allocation failure. */
json_t *or_gemini_resp_error_to_ir(int status, const json_t *body);
json_t *or_gemini_resp_error_from_ir(const json_t *err);

/* ---- gemini_stream.c ---- */
or_fmt_dec *or_gemini_stream_dec_new(void);
or_err or_gemini_stream_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                                  json_t *out, or_errbuf *eb);
or_err or_gemini_stream_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb);
void or_gemini_stream_dec_free(or_fmt_dec *d);
or_fmt_enc *or_gemini_stream_enc_new(const or_fmt_opts *o);
or_err or_gemini_stream_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out);
void or_gemini_stream_enc_free(or_fmt_enc *e);

/* Set/append taking ownership of v; OR_ENOMEM when v is NULL or the insert fails, so a chain of
 * builder steps fails on the first allocation that did. */
static inline or_err or_gemini_set(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0 ? OR_OK : OR_ENOMEM;
}

static inline or_err or_gemini_push(json_t *a, json_t *v)
{
    return v && json_array_append_new(a, v) == 0 ? OR_OK : OR_ENOMEM;
}

#endif
