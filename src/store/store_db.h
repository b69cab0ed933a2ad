/*
 * store_db.h — the SQL side of the store: schema migrations, config writes, usage batches, and
 * building a configuration snapshot from the tables.
 *
 * Every function here takes the write connection, which only the store's writer thread uses
 * once the store is open (or_store_open uses it before that thread starts). Nothing here locks.
 */
#ifndef OR_STORE_STORE_DB_H
#define OR_STORE_STORE_DB_H

#include "store/store.h"

#include <sqlite3.h>

/* Opens path (creating it with mode 0600), sets WAL, busy_timeout and foreign keys, and applies
 * pending migrations. */
or_err or_store_db_open(const char *path, sqlite3 **out, or_errbuf *eb);
void or_store_db_close(sqlite3 *db);
/* Applies pending migrations (what open does); a database newer than this binary is left as it
 * is, with a warning. Used by the backup module on a database it is about to import. */
or_err or_store_db_migrate(sqlite3 *db, or_errbuf *eb);
/* The newest migration this binary knows. */
int or_store_db_schema_version(void);

or_err or_store_db_conn_put(sqlite3 *db, const unsigned char *key, const or_conn *in,
                            const char *id, int64_t now_ms, or_errbuf *eb);
or_err or_store_db_conn_delete(sqlite3 *db, const char *id, or_errbuf *eb);
or_err or_store_db_conn_set_status(sqlite3 *db, const char *id, const char *test_status,
                                   const char *last_error, int64_t now_ms, or_errbuf *eb);
/* value NULL deletes the setting. */
or_err or_store_db_setting_set(sqlite3 *db, const char *key, json_t *value, or_errbuf *eb);

/* The writer's usage statements, prepared once: ins[k] inserts 2^k rows in one statement
 * (VALUES repeated), so a batch pays statement overhead per group rather than per row; begin
 * and commit spare parsing the transaction's bounds for every batch. */
#define OR_STORE_USAGE_SIZES 6 /* 1 .. 32 rows */
typedef struct {
    sqlite3_stmt *ins[OR_STORE_USAGE_SIZES];
    sqlite3_stmt *begin, *commit;
} or_store_usage_stmts;

/* The single-row usage insert (the backup module prepares it to check that an imported usage
 * table matches). */
or_err or_store_db_usage_prepare(sqlite3 *db, sqlite3_stmt **out, or_errbuf *eb);
/* Prepares every size, once, on the writer's connection; on failure none is left. */
or_err or_store_db_usage_prepare_all(sqlite3 *db, or_store_usage_stmts *out, or_errbuf *eb);
void or_store_db_usage_finalize(or_store_usage_stmts *ins); /* idempotent */
/* Writes rows in one transaction. Rows are read until the call returns (text is bound without a
 * copy). */
or_err or_store_db_usage_write(sqlite3 *db, const or_store_usage_stmts *ins,
                               const or_usage_row *rows, size_t n, or_errbuf *eb);

/* A new snapshot (refs = 1) read from the tables; api keys are unsealed with key. */
or_err or_store_db_snapshot_load(sqlite3 *db, const unsigned char *key, or_snapshot **out,
                                 or_errbuf *eb);
/* Frees a snapshot whose refcount reached zero, wiping api keys. */
void or_store_db_snapshot_free(or_snapshot *snap);

#endif
