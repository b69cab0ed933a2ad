/*
 * responses_internal.h — private helpers shared by the OpenAI Responses format files
 * (responses.c, responses_req.c, responses_build.c, responses_resp.c, responses_stream.c).
 *
 * Everything here is pure: JSON in, new JSON out. Returned json_t values are new references the
 * caller owns; arguments are borrowed. Any thread may call these (no globals, no I/O).
 */
#ifndef OR_FMT_RESPONSES_INTERNAL_H
#define OR_FMT_RESPONSES_INTERNAL_H

#include "fmt/fmt.h"

#include <jansson.h>
#include <stdbool.h>

/* The key under ir.extra that holds this format's unknown fields. */
#define OR_RESPONSES_EXTRA "openai-responses"

/* Anthropic thinking signatures and redacted thinking have no slot in a Responses reasoning
 * item, so they travel in encrypted_content behind these markers and are restored when the
 * client sends the item back. */
#define OR_RESPONSES_SIG_PREFIX "or-sig:"
#define OR_RESPONSES_REDACTED_PREFIX "or-redacted:"

/* Cap on text accumulated per stream (arguments waiting for a name, the final response). */
#define OR_RESPONSES_MAX_ACCUM (8u * 1024u * 1024u)

/* ---- small JSON helpers (responses.c) ---- */
const char *or_responses_str(const json_t *o, const char *key); /* string value or NULL */
/* A non-null member, or NULL when absent or JSON null. */
json_t *or_responses_get(const json_t *o, const char *key);
/* json_object_set_new that reports failure as -1, so builders can OR the results together. */
int or_responses_set(json_t *o, const char *key, json_t *v);
int or_responses_push(json_t *a, json_t *v);

/* ---- usage, stop reasons, errors (responses.c) ---- */
/* Wire usage {input_tokens, input_tokens_details.cached_tokens, …} → IR usage. */
json_t *or_responses_usage_to_ir(const json_t *usage);
/* IR usage (may be NULL) → wire usage with total_tokens. */
json_t *or_responses_usage_from_ir(const json_t *usage);
/* A reasoning effort → the IR's low|medium|high (minimal → low, xhigh → high), or NULL. */
const char *or_responses_norm_effort(const char *effort);
/* Response status (+ incomplete reason) → IR stop_reason. */
const char *or_responses_stop_to_ir(const char *status, const char *incomplete_reason,
                                    bool has_calls);
/* IR stop_reason → response status and incomplete reason (NULL when complete). */
const char *or_responses_status_from_stop(const char *stop, const char **incomplete_reason);
/* IR error type → an OpenAI error code; IR error type for an HTTP status or an OpenAI code. */
const char *or_responses_code_from_type(const char *error_type);
const char *or_responses_type_for(int status, const char *code, const char *type);
/* An IR error {status, error_type, message[, code]}. */
json_t *or_responses_ir_error(int status, const char *error_type, const char *message,
                              const char *code);
/* Status implied by an in-stream failure code (429 for rate limits, else 502). */
int or_responses_status_for_code(const char *code);

/* ---- items (responses_resp.c) ---- */
/* One output item → IR content parts appended to `content`; sets *has_call for function
 * calls. Unknown item types are skipped. Returns -1 on allocation failure. */
int or_responses_item_to_ir(const json_t *item, json_t *content, bool *has_call);
/* A reasoning item → an IR thinking part {text, encrypted_content?, id?}; the markers above
 * are decoded back into signature / redacted. */
json_t *or_responses_reasoning_to_ir(const json_t *item);
/* A thinking part with no text and nothing to replay (no encrypted content or signature). */
bool or_responses_thinking_empty(const json_t *part);
/* IR reasoning text + encrypted content/signature → a reasoning item. */
json_t *or_responses_reasoning_item(const char *id, const char *text, const json_t *thinking);
/* Response id for opts/IR: the IR's id, else "resp_<opts->id>". */
char *or_responses_resp_id(const char *ir_id, const or_fmt_opts *o);

/* ---- entry points (one file each) ---- */
or_err or_responses_req_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_responses_req_from_ir(const json_t *ir, json_t **body, or_errbuf *eb);
or_err or_responses_resp_to_ir(const json_t *body, json_t **ir, or_errbuf *eb);
or_err or_responses_resp_from_ir(const json_t *ir, const or_fmt_opts *o, json_t **body,
                                 or_errbuf *eb);
json_t *or_responses_error_to_ir(int status, const json_t *body);
json_t *or_responses_error_from_ir(const json_t *err);

or_fmt_dec *or_responses_dec_new(void);
or_err or_responses_dec_event(or_fmt_dec *d, const char *event, const char *data, size_t len,
                              json_t *out, or_errbuf *eb);
or_err or_responses_dec_end(or_fmt_dec *d, json_t *out, or_errbuf *eb);
void or_responses_dec_free(or_fmt_dec *d);
or_fmt_enc *or_responses_enc_new(const or_fmt_opts *o);
or_err or_responses_enc_event(or_fmt_enc *e, const json_t *ev, or_buf *out);
void or_responses_enc_free(or_fmt_enc *e);

#endif
