/*
 * logs_db.h — the SQL side of request logs: a capped table of request/response summaries in
 * its own database file, DATA_DIR/request-logs.sqlite (WAL, mode 0600).
 *
 * Why a file of its own: logs are written at request rate and read rarely; keeping them out of
 * storage.sqlite means they never take the configuration database's write lock (the store's
 * writer stays the only writer there), never grow its backups, and a backup import (which
 * replaces storage.sqlite's contents) leaves them alone.
 *
 * Each row holds a few columns to page by plus the summary as JSON text (already redacted by
 * the caller). Threads: a connection belongs to one thread at a time (ops/reqlog.c owns one
 * writer and one reader connection). Nothing here locks.
 */
#ifndef OR_STORE_LOGS_DB_H
#define OR_STORE_LOGS_DB_H

#include "core/err.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define OR_LOGS_DB_FILE "request-logs.sqlite"

typedef struct {
    int64_t ts_ms;
    const char *request_id;
    const char *method;
    const char *path;
    int status;
    const char *provider;
    const char *model;
    uint32_t latency_ms;
    const char *entry; /* the summary, a JSON object as text */
} or_logs_db_row;

/* Opens (creating it when writable) the database in data_dir and applies its schema. */
or_err or_logs_db_open(const char *data_dir, bool readonly, sqlite3 **out, or_errbuf *eb);
void or_logs_db_close(sqlite3 *db);

/* Inserts rows in one transaction, then deletes all but the newest `keep` rows. */
or_err or_logs_db_insert(sqlite3 *db, const or_logs_db_row *rows, size_t n, unsigned keep,
                         or_errbuf *eb);

/* Newest first: *out = array of the stored summaries, each with "id" added; *total = rows
 * stored. */
or_err or_logs_db_list(sqlite3 *db, unsigned limit, unsigned offset, json_t **out, int64_t *total,
                       or_errbuf *eb);

#endif
