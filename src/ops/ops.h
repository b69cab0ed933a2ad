/*
 * ops.h — what the request path reports once per finished request: the metrics registry
 * (ops/metrics.h, always), a structured access log line on stderr (OMNIROUTE_ACCESS_LOG=1),
 * and a redacted request/response summary in the request logs (ENABLE_REQUEST_LOGS=true,
 * ops/reqlog.h).
 *
 * Threads: or_ops_start / or_ops_stop run on the main thread, before the workers start and
 * after they stop; the configuration is read-only in between. or_ops_record runs on the
 * request's worker thread (it reads the request) and never blocks: metrics are atomic adds,
 * the access log is one write(2), a request-log entry is queued for its writer thread.
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

/* A finished request as the request path knows it. Strings borrowed for the call. */
typedef struct {
    const char *method;
    const char *path;
    const char *query;
    const char *const *headers; /* name, value, …, NULL (or NULL) */
    const char *body;           /* the client's request body */
    size_t body_len;
    const char *reply; /* the provider's reply body when it was kept whole, else NULL */
    size_t reply_len;
    const or_usage_row *row; /* status, provider, model, tokens, latency … */
} or_ops_request;

/* The request path's one call, made when a relayed request has its final status. */
void or_ops_record(or_http_req *req, const or_usage_row *row, const char *reply, size_t reply_len);

/* The same from plain data (or_ops_record extracts it from the request). */
void or_ops_observe(const or_ops_request *r);

/* One access-log line (JSON object + '\n'): ts, request_id, method, path, status, latency_ms,
 * ttft_ms, provider, model, bytes_in, bytes_out, tokens_in, tokens_out. Exposed for tests. */
or_err or_ops_access_line(const or_ops_request *r, int64_t now_ms, or_buf *out);

/* The request-log summary of a request, secrets redacted, bodies cut to body_cap bytes (new
 * reference; NULL when out of memory). Exposed for tests. */
json_t *or_ops_log_entry(const or_ops_request *r, size_t body_cap);

/* Wall ms → "2024-05-01T12:00:00.000Z". */
void or_ops_iso_time(int64_t ms, char out[32]);

#endif
