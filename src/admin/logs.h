/*
 * logs.h — GET /api/usage/request-logs?limit=&offset= (management scope): the stored request
 * logs, newest first.
 *
 *   → 200 {enabled, logs:[{id, ts, timestamp, requestId, method, path, query, endpoint, status,
 *          provider, model, connectionId, apiKeyId, stream, latencyMs, ttftMs,
 *          tokens:{input, output, cached, reasoning}, error,
 *          request:{headers, body, bodyBytes, truncated}, response:{body, bodyBytes, truncated}
 *          | null}], total, limit, offset}
 *   limit 1..1000 (default 50), offset >= 0 (default 0); anything else → 400.
 *
 * With ENABLE_REQUEST_LOGS off: {enabled:false, logs:[], total:0, …}. Entries queued a moment
 * ago are committed before the read. Runs on the request's worker thread.
 */
#ifndef OR_ADMIN_LOGS_H
#define OR_ADMIN_LOGS_H

#include "gateway/app.h"

void or_logs_request_logs(or_http_req *req, or_app *app, const or_route_params *p);

#endif
