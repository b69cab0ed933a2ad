/*
 * relay.h — one client request relayed to one provider connection: the body translated (or
 * passed through with only the model changed), the reply streamed back translated (or passed
 * through), usage recorded.
 *
 * Client and provider format equal → passthrough: the body is spliced in place, reply bytes are
 * forwarded untouched (usage read on the way). Different → hub and spoke through the IR
 * (docs/internals/IR.md): request client→IR→provider; reply provider events→IR→client events.
 * Every error the client sees is in its own format. Runs on the request's worker thread and
 * owns the request until it ends it.
 */
#ifndef OR_GATEWAY_RELAY_H
#define OR_GATEWAY_RELAY_H

#include "fmt/fmt.h"
#include "gateway/app.h"

typedef struct {
    or_format client;     /* the format the client speaks (from the endpoint) */
    const char *endpoint; /* for usage rows: "/v1/messages" */
    const char *model;    /* the model the client asked for ("openai/gpt-4o-mini") */
    bool stream;          /* the client wants a stream */
    bool gemini_sse;      /* Gemini client: ?alt=sse */
    bool model_in_body;   /* passthrough must rewrite the body's model (not for Gemini) */
    const char *path;     /* passthrough only: this path under the API root instead of the
                             format's (count_tokens) */
    bool body_not_raw;    /* the JSON body is not the request's raw body (translator/send): a
                             passthrough re-serializes it instead of splicing the raw bytes */
    bool include_usage;   /* OpenAI client without a parsed body: stream_options.include_usage,
                             read by the endpoint's validating pass over the raw body */
} or_relay_opts;

/* body: the parsed client body (borrowed), or NULL: the relay then parses the request's raw
 * body only if an attempt needs the tree (translation), never for a passthrough. Ends the
 * request now or later. */
void or_relay_start(or_http_req *req, or_app *app, json_t *body, const or_relay_opts *o);

/* Frees what the relay keeps per worker for reuse; at the worker's end, on its thread. */
void or_relay_worker_fini(or_worker_ctx *wc);

/* Replies with an error in the given client format ({status, error_type, message} IR error). */
void or_relay_reply_error(or_http_req *req, or_format client, int status, const char *code,
                          const char *extra_headers, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
