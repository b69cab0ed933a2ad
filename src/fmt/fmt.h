/*
 * fmt.h — a wire format: the one descriptor each format file exports (fmt/openai.c,
 * fmt/anthropic.c, fmt/gemini.c, fmt/responses.c).
 *
 * Formats convert between their wire JSON and the IR described in docs/internals/IR.md. Every
 * function is pure (no I/O, no globals), so the conformance matrix runs them without sockets.
 * Ownership: inputs are borrowed; outputs are new references the caller owns. Stream codecs
 * keep their state in an object created by *_new and freed by *_free; one per stream, one
 * thread at a time.
 */
#ifndef OR_FMT_FMT_H
#define OR_FMT_FMT_H

#include "core/buf.h"
#include "core/err.h"
#include "provider/provider.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct or_fmt_dec or_fmt_dec; /* stream decoder state (format-private) */
typedef struct or_fmt_enc or_fmt_enc; /* stream encoder state (format-private) */

typedef struct {
    bool stream;        /* the client asked for a stream */
    bool gemini_sse;    /* Gemini client: ?alt=sse (else a streamed JSON array) */
    bool include_usage; /* OpenAI client: stream_options.include_usage */
    const char *model;  /* the model name to show the client (what it asked for) */
    const char *id;     /* response id to use when the IR has none (the gateway's request id) */
    long long created;  /* Unix seconds for formats that stamp responses (OpenAI `created`) */
} or_fmt_opts;

typedef struct or_fmt {
    or_format id;
    const char *name; /* "openai", "claude", "gemini", "openai-responses" */

    /* ---- requests ---- */
    /* Client wire request → IR. OR_EINVAL with a message naming the field on bad input. */
    or_err (*req_to_ir)(const json_t *body, json_t **ir, or_errbuf *eb);
    /* IR → provider wire request (model taken from ir.model; Gemini leaves it out of the body). */
    or_err (*req_from_ir)(const json_t *ir, json_t **body, or_errbuf *eb);
    /* The provider URL for a request: API root + this format's path. */
    or_err (*url)(const char *root, size_t root_len, const char *model, bool stream, or_buf *out);

    /* ---- non-stream responses ---- */
    or_err (*resp_to_ir)(const json_t *body, json_t **ir, or_errbuf *eb);
    or_err (*resp_from_ir)(const json_t *ir, const or_fmt_opts *o, json_t **body, or_errbuf *eb);

    /* ---- streams ---- */
    /* Decoder: one upstream SSE event (event name may be NULL; data without the "data:" prefix,
     * joined lines) → IR events appended to `out` (a JSON array). Gemini's JSON-array stream is
     * fed as one event per array element. */
    or_fmt_dec *(*dec_new)(void);
    or_err (*dec_event)(or_fmt_dec *d, const char *event, const char *data, size_t len, json_t *out,
                        or_errbuf *eb);
    /* Called at upstream EOF: emits what a well-formed end needs (stop/done) if missing. */
    or_err (*dec_end)(or_fmt_dec *d, json_t *out, or_errbuf *eb);
    void (*dec_free)(or_fmt_dec *d);
    /* Encoder: one IR event → client wire bytes appended to out. */
    or_fmt_enc *(*enc_new)(const or_fmt_opts *o);
    or_err (*enc_event)(or_fmt_enc *e, const json_t *ev, or_buf *out);
    void (*enc_free)(or_fmt_enc *e);

    /* ---- errors ---- */
    /* Provider error body (any JSON, maybe not this format's) → IR error {message, error_type}. */
    json_t *(*error_to_ir)(int status, const json_t *body);
    /* IR error → this format's error body (non-stream). */
    json_t *(*error_from_ir)(const json_t *err);

    /* Content type of a stream to the client. */
    const char *stream_content_type;
} or_fmt;

const or_fmt *or_fmt_get(or_format f);
const or_fmt *or_fmt_by_name(const char *name); /* also accepts "anthropic", "responses" */

extern const or_fmt or_fmt_openai;
extern const or_fmt or_fmt_anthropic;
extern const or_fmt or_fmt_gemini;
extern const or_fmt or_fmt_responses;

#endif
