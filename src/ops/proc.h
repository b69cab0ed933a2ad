/*
 * proc.h — process metrics for /metrics in the names Prometheus clients use everywhere:
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
 * process_open_fds, process_max_fds, process_start_time_seconds; plus omniroute_uptime_seconds
 * and omniroute_build_info. Read from /proc/self (Linux) and getrusage at scrape time.
 *
 * Any thread.
 */
#ifndef OR_OPS_PROC_H
#define OR_OPS_PROC_H

#include "core/buf.h"
#include "core/err.h"

#include <stdint.h>

typedef struct {
    uint64_t rss_bytes, vsize_bytes; /* 0 when unknown */
    double cpu_seconds;              /* user + system */
    long open_fds, max_fds;          /* -1 when unknown */
} or_proc_stats;

void or_proc_read(or_proc_stats *out);

/* Appends the process families. started_wall_ms: when the process started (wall clock);
 * uptime_ms: how long it has run (monotonic). */
or_err or_proc_render(or_buf *b, int64_t started_wall_ms, uint64_t uptime_ms, const char *version);

#endif
