/*
 * anthropic_internal.h — private glue between the Anthropic Messages format files
 * (anthropic.c descriptor + shared helpers, anthropic_req.c parsing, anthropic_build.c
 * request building, anthropic_resp.c responses and errors, anthropic_stream.c SSE codecs).
 *
 * Same rules as fmt.h: pure functions, inputs borrowed, outputs are new references the caller
 * owns, any thread. Nothing here is visible outside src/fmt.
 *
 * IR extensions this format relies on (documented in the report to the other formats):
 *  - "cache_control" on IR parts, system parts and tools: kept so claude→claude keeps caching
 *    breakpoints; other builders ignore it.
 *  - {"type":"raw","format":"claude","block":{…}}: a content block the IR has no part for
 *    (server_tool_use, web_search_tool_result, search_result, container_upload, …); re-emitted
 *    verbatim by this format's builder, to be skipped by the others.
 *  - stream event {"type":"thinking","index":n,"text":"","redacted":"<data>"}: a
 *    redacted_thinking block (its data arrives whole in content_block_start).
 *  - stream event {"type":"raw","index":n,"format":"claude","block":{…}}: a complete block
 *    with no IR event (server_tool_use with its input, web_search_tool_result…), so Claude
 *    Code's web search works claude→claude; other encoders skip it.
 */
#ifndef OR_FMT_ANTHROPIC_INTERNAL_H
#define OR_FMT_ANTHROPIC_INTERNAL_H

#include "fmt/fmt.h"

/* Largest buffered tool-argument text (decoder waiting for a name, encoder queueing a
 * parallel call): past this a stream fails with OR_ETOOBIG. */
#define OR_ANTHROPIC_ARGS_MAX ((size_t)4 << 20)

/* ---- requests (anthropic_req.c, anthropic_build.c) ---- */
or_err or_anthropic_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_anthropic_req_from_ir(const json_t *ir, json_t **body, or_errbuf *eb);

/* ---- responses and errors (anthropic_resp.c) ---- */
or_err or_anthropic_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_anthropic_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body,
                                 or_errbuf *eb);
json_t *or_anthropic_error_to_ir(int status, const json_t *body);
json_t *or_anthropic_error_from_ir(const json_t *err);

/* ---- streams (anthropic_stream.c) ---- */
or_fmt_dec *or_anthropic_dec_new(void);
or_err or_anthropic_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                              json_t *out, or_errbuf *eb);
or_err or_anthropic_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb);
void or_anthropic_dec_free(or_fmt_dec *d);
or_fmt_enc *or_anthropic_enc_new(const or_fmt_opts *o);
or_err or_anthropic_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out);
void or_anthropic_enc_free(or_fmt_enc *e);

/* ---- shared helpers (anthropic.c) ---- */
/* IR tool_call arguments (a JSON string) → tool_use input object. "" → {}; text that is not a
 * JSON object → {"_raw": text}, so nothing the model produced is lost. NULL only on ENOMEM. */
json_t *or_anthropic_args_to_input(const char *args);
/* Anthropic stop_reason → IR stop_reason ("stop" for unknown or NULL). */
const char *or_anthropic_stop_to_ir(const char *stop_reason);
/* IR stop_reason → Anthropic; `had_tools` turns a plain stop into tool_use, because Claude
 * clients run tools only on stop_reason "tool_use". */
const char *or_anthropic_stop_from_ir(const char *stop_reason, int had_tools);
/* Anthropic usage (input_tokens uncached + cache read + cache creation) → IR usage where
 * input_tokens counts everything. Fields absent in `u` stay absent. New object. */
json_t *or_anthropic_usage_to_ir(const json_t *u);
/* IR usage → Anthropic usage (input_tokens = total − cached − creation, never negative).
 * Always has input_tokens, both cache fields and output_tokens. New object. */
json_t *or_anthropic_usage_from_ir(const json_t *u);
/* Message id "msg_…": the IR id when it already looks like one, else "msg_" + (IR id, or
 * fallback, or "0"). Caller frees. */
char *or_anthropic_msg_id(const char *ir_id, const char *fallback);
/* Error type ↔ HTTP status (Anthropic's table; unknown type → 0, unknown status → api_error). */
int or_anthropic_status_of_type(const char *type);
const char *or_anthropic_type_of_status(int status);
/* True when `type` is one of the IR error types. */
int or_anthropic_known_type(const char *type);

#endif
