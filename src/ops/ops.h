/*
 * ops.h — what the request path reports once per finished request: the metrics registry
 * (ops/metrics.h, always), a structured access log line on stderr (OMNIROUTE_ACCESS_LOG=1),
 * and a redacted request/response summary in the request logs (ENABLE_REQUEST_LOGS=true,
 * ops/reqlog.h).
 *
 * Threads: or_ops_start / or_ops_stop run on the main thread, before the workers start and
 * after they stop; the configuration is read-only in between. or_ops_capture / or_ops_record
 * run on the request's worker thread and never block: metrics are atomic adds, the access log
 * is one write(2), a request-log entry is queued for its writer thread.
 */
#ifndef OR_OPS_OPS_H
#define OR_OPS_OPS_H

#include "core/buf.h"
#include "core/err.h"
#include "http/http.h"
#include "ops/reqlog.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct {
    bool access_log;       /* OMNIROUTE_ACCESS_LOG */
    bool request_logs;     /* ENABLE_REQUEST_LOGS */
    unsigned log_rows;     /* CALL_LOG_MAX_ENTRIES: request-log rows kept (10000) */
    size_t log_body_bytes; /* OMNIROUTE_REQUEST_LOG_BODY_BYTES: excerpt cap per body (8192) */
} or_ops_config;

void or_ops_config_from_env(or_ops_config *cfg);
/* Applies cfg; opens the request-log database in data_dir when enabled. */
or_err or_ops_start(const or_ops_config *cfg, const char *data_dir, or_errbuf *eb);
void or_ops_stop(void);

/* The request logs, or NULL when they are off. */
or_reqlog *or_ops_reqlog(void);

/* What the access log and the request logs need from a request, copied when it starts: the
 * request may have ended (and been freed) by the time its outcome is recorded. Empty (and
 * free to take) when both are off. Owned by the request's handler; one thread. */
#define OR_OPS_PATH_MAX 512
typedef struct {
    char method[16];
    char path[OR_OPS_PATH_MAX]; /* cut to fit */
    size_t body_len;
    json_t *entry; /* request-log entry so far (method, path, query, request{…}), or NULL */
} or_ops_req;

/* At the start of a request (before anything replies to it). */
void or_ops_capture(or_ops_req *r, or_http_req *req);
/* The request path's call when a request has its final status; the request itself may be gone.
 * reply: the provider's reply body when it was kept whole, else NULL. Consumes r's entry. */
void or_ops_record(or_ops_req *r, const or_usage_row *row, const char *reply, size_t reply_len);
/* Frees what a capture holds when no record followed (idempotent). */
void or_ops_release(or_ops_req *r);

/* ---- the pieces, pure (exposed for tests) ---- */

/* One access-log line (JSON object + '\n'): ts, request_id, method, path, status, latency_ms,
 * ttft_ms, provider, model, stream, bytes_in, bytes_out, tokens_in, tokens_out. */
or_err or_ops_access_line(const or_ops_req *r, const or_usage_row *row, size_t bytes_out,
                          int64_t now_ms, or_buf *out);

/* The request half of a request-log entry: {method, path, query, request:{headers, body,
 * bodyBytes, truncated}}, secrets redacted (headers: name, value, …, NULL), body cut to
 * body_cap bytes. New reference; NULL when out of memory. */
json_t *or_ops_request_json(const char *method, const char *path, const char *query,
                            const char *const *headers, const char *body, size_t body_len,
                            size_t body_cap);

/* Completes an entry from or_ops_request_json (reference stolen) with the outcome: ts,
 * timestamp, requestId, endpoint, status, provider, model, connectionId, apiKeyId, stream,
 * latencyMs, ttftMs, tokens{…}, error, response:{body, bodyBytes, truncated} | null. */
json_t *or_ops_log_entry(json_t *request, const or_usage_row *row, const char *reply,
                         size_t reply_len, size_t body_cap);

/* Wall ms → "2024-05-01T12:00:00.000Z". */
void or_ops_iso_time(int64_t ms, char out[32]);

#endif
