/*
 * checkpoint.h — WAL checkpoints off the request path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages: a few
 * milliseconds of copying on the writer thread, which a request worker woken on the same core
 * waited behind (the concurrency-1 tail). Instead, a thread in the SCHED_IDLE class checkpoints
 * (PASSIVE: never blocks the writer) on its own connection every second, so the copying only
 * ever uses a core nothing else wants. If the machine is saturated that thread may not run for
 * a while; the writer then checkpoints itself once the WAL holds OR_CKPT_FALLBACK_FRAMES, so
 * the file stays bounded.
 *
 * Owned by the store: started after the writer connection is open and migrated, stopped
 * before it is closed. The fallback runs on the writer's thread (SQLite's WAL hook).
 */
#ifndef OR_STORE_CHECKPOINT_H
#define OR_STORE_CHECKPOINT_H

#include "core/err.h"

#include <sqlite3.h>

#define OR_CKPT_INTERVAL_MS 1000
#define OR_CKPT_FALLBACK_FRAMES 16384 /* 64 MiB of 4 KiB pages */

typedef struct or_ckpt or_ckpt;

or_err or_ckpt_start(const char *db_path, sqlite3 *writer, or_ckpt **out, or_errbuf *eb);
void or_ckpt_stop(or_ckpt *c); /* NULL is fine */

#endif
