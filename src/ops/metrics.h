/*
 * metrics.h — the request metrics registry behind GET /metrics: counters and histograms keyed
 * by bounded label sets, updated once per request from the request path and rendered in the
 * Prometheus text format.
 *
 * Families (label names in braces):
 *   omniroute_requests_total{endpoint,provider,model,status}   status = "2xx", "4xx", …
 *   omniroute_request_errors_total{provider,code}              requests answered >= 400
 *   omniroute_tokens_total{provider,model,type}                type = input|output|cached|reasoning
 *   omniroute_request_duration_seconds{provider}               histogram, head to last byte
 *   omniroute_time_to_first_token_seconds{provider}            histogram, head to first byte
 *
 * Storage: one series per (endpoint, provider, model) holds every per-request value (status
 * classes, tokens, both histograms); render sums them by (provider, model) and by provider.
 * Errors have a table of (provider, code) of their own.
 *
 * Bounded cardinality: each table holds at most `max_series` label sets. Past that, a new set
 * is folded: its model (errors: its provider) becomes "other", using up to `fold_reserve` more
 * sets; past those, everything lands in one all-"other" set. Label values are cut to 128 bytes
 * (at a UTF-8 boundary).
 *
 * Threads: or_metrics_observe is lock-free once a label set exists: relaxed atomic adds into
 * the calling thread's shard of the series (shards are cache-line separated, so workers do not
 * contend); the first observation of a new set takes the table's mutex to insert it. Render
 * runs on any thread concurrently with observers, summing the shards; a histogram's _count is
 * derived from its buckets, so a scrape is always self-consistent. Series are never removed
 * while the registry lives.
 */
#ifndef OR_OPS_METRICS_H
#define OR_OPS_METRICS_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct or_metrics or_metrics;

typedef struct {
    size_t max_series;   /* per table; default 2000 */
    size_t fold_reserve; /* per table; default 256 */
} or_metrics_limits;

/* One finished request, as the request path saw it. Strings are borrowed for the call. */
typedef struct {
    const char *endpoint; /* "/v1/chat/completions" */
    const char *provider; /* "" when no provider was chosen (unknown model) */
    const char *model;
    int status;          /* HTTP status sent to the client; 499 when the client went away */
    uint32_t latency_ms; /* head to last byte */
    uint32_t ttft_ms;    /* head to first byte to the client; 0 when none */
    int64_t tokens_in, tokens_out, tokens_cached, tokens_reasoning;
} or_metrics_sample;

/* lim NULL: defaults. NULL when out of memory. */
or_metrics *or_metrics_new(const or_metrics_limits *lim);
void or_metrics_free(or_metrics *m);

/* The process-wide registry the request path records into (created on first use; never NULL
 * unless memory ran out at that moment, in which case observations are dropped). */
or_metrics *or_metrics_global(void);
/* Frees the process-wide registry; only after every thread that records has stopped. */
void or_metrics_global_free(void);

void or_metrics_observe(or_metrics *m, const or_metrics_sample *s);

/* Appends every family (HELP, TYPE, samples) to out. */
or_err or_metrics_render(or_metrics *m, or_buf *out);

/* Label sets held across all families, and observations that had to be folded. */
size_t or_metrics_series(or_metrics *m);
uint64_t or_metrics_folded(or_metrics *m);

#endif
