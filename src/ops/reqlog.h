/*
 * reqlog.h — request logs (ENABLE_REQUEST_LOGS=true): redacted request/response summaries
 * kept in a capped table (store/logs_db.h), written by a thread of their own.
 *
 * Threads and ownership: or_reqlog_add is called from worker threads; it takes the entry and
 * queues it without touching SQLite (a full queue drops the entry and counts it). One writer
 * thread owns the write connection and commits batches, pruning to the newest `keep_rows`.
 * or_reqlog_list reads through a second connection (serialized by a mutex), from any thread.
 * open/close: main thread, before the workers start and after they stop.
 */
#ifndef OR_OPS_REQLOG_H
#define OR_OPS_REQLOG_H

#include "core/err.h"

#include <jansson.h>
#include <stdint.h>

typedef struct or_reqlog or_reqlog;

typedef struct {
    unsigned keep_rows; /* rows kept; default 10000 */
    size_t queue_max;   /* entries waiting for the writer before new ones are dropped; 4096 */
} or_reqlog_limits;

or_err or_reqlog_open(const char *data_dir, const or_reqlog_limits *lim, or_reqlog **out,
                      or_errbuf *eb);
/* Writes what is queued, stops the writer, closes. */
void or_reqlog_close(or_reqlog *l);

/* Queues a summary (a JSON object; the reference is stolen). Its members requestId, method,
 * path, status, provider, model, latencyMs and ts (wall ms) fill the table's columns. */
void or_reqlog_add(or_reqlog *l, json_t *entry);

/* Waits (at most about a second) until every entry queued before the call is committed. */
void or_reqlog_flush(or_reqlog *l);

/* Newest first. *out: new array reference. */
or_err or_reqlog_list(or_reqlog *l, unsigned limit, unsigned offset, json_t **out, int64_t *total,
                      or_errbuf *eb);

uint64_t or_reqlog_dropped(or_reqlog *l);

#endif
