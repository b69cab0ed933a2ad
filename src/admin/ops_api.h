/*
 * ops_api.h — GET /metrics: the Prometheus scrape (text format 0.0.4), public like /healthz.
 *
 * Families: the request registry (ops/metrics.h: requests, errors, tokens, latency and TTFT
 * histograms), circuit breaker state per provider (from the resilience registries; a provider
 * with an active connection and no breaker record is closed), active cooldowns, rows dropped
 * by the usage and request-log queues, the registry's own size, and the process
 * (ops/proc.h: RSS, CPU, fds, start time, uptime, build info).
 *
 * Runs on the request's worker thread; reads only thread-safe registries and a snapshot.
 */
#ifndef OR_ADMIN_OPS_API_H
#define OR_ADMIN_OPS_API_H

#include "core/buf.h"
#include "gateway/app.h"

void or_ops_api_metrics(or_http_req *req, or_app *app, const or_route_params *p);

/* The whole scrape into out (exposed for tests). */
or_err or_ops_api_render(or_app *app, or_buf *out);

#endif
