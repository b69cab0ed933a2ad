#include "store/logs_db.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000

/* Schema versions (PRAGMA user_version), applied in order; append only. */
static const char *const schema[] = {
    "CREATE TABLE request_logs(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, request_id TEXT,"
    " method TEXT, path TEXT, status INTEGER, provider TEXT, model TEXT, latency_ms INTEGER,"
    " entry TEXT NOT NULL);",
};

static or_err fail(or_errbuf *eb, sqlite3 *db, const char *what)
{
    return or_fail(eb, OR_EDB, "request logs: %s: %s", what,
                   db ? sqlite3_errmsg(db) : "out of memory");
}

static or_err exec(sqlite3 *db, const char *sql, or_errbuf *eb)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return OR_OK;
    or_err rc = or_fail(eb, OR_EDB, "request logs: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return rc;
}

static or_err migrate(sqlite3 *db, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    or_err rc = OR_OK;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = fail(eb, db, "user_version");
        goto out;
    }
    int version = sqlite3_column_int(st, 0);
    int latest = (int)(sizeof schema / sizeof schema[0]);
    if (version > latest) {
        rc = or_fail(eb, OR_EDB, "request logs: schema %d is newer than this build (%d)", version,
                     latest);
        goto out;
    }
    for (int v = version; v < latest && rc == OR_OK; v++) {
        char sql[2048];
        snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", schema[v],
                 v + 1);
        rc = exec(db, sql, eb);
        if (rc != OR_OK)
            exec(db, "ROLLBACK", NULL);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

or_err or_logs_db_open(const char *data_dir, bool readonly, sqlite3 **out, or_errbuf *eb)
{
    sqlite3 *db = NULL;
    or_err rc = OR_OK;
    char path[4096];
    *out = NULL;
    if (snprintf(path, sizeof path, "%s/%s", data_dir, OR_LOGS_DB_FILE) >= (int)sizeof path)
        return or_fail(eb, OR_EINVAL, "request logs: data dir path too long");
    if (!readonly) {
        /* Summaries are redacted, but still private: create the file 0600 before SQLite would
         * create it 0644 (the -wal and -shm files take the database file's mode). */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return or_fail(eb, OR_EIO, "open %s: %s", path, strerror(errno));
        close(fd);
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = fail(eb, db, "open");
        goto out;
    }
    if (sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        rc = fail(eb, db, "busy_timeout");
        goto out;
    }
    if (readonly) {
        rc = exec(db, "PRAGMA query_only=ON", eb);
        goto out;
    }
    rc = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", eb);
    if (rc == OR_OK)
        rc = migrate(db, eb);
out:
    if (rc != OR_OK)
        or_logs_db_close(db);
    else
        *out = db;
    return rc;
}

void or_logs_db_close(sqlite3 *db)
{
    if (db && sqlite3_close(db) != SQLITE_OK)
        or_log_error("request logs: close: %s", sqlite3_errmsg(db));
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

or_err or_logs_db_insert(sqlite3 *db, const or_logs_db_row *rows, size_t n, unsigned keep,
                         or_errbuf *eb)
{
    sqlite3_stmt *ins = NULL, *prune = NULL;
    or_err rc = exec(db, "BEGIN IMMEDIATE", eb);
    if (rc != OR_OK)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO request_logs(ts, request_id, method, path, status, "
                           "provider, model, latency_ms, entry) VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "DELETE FROM request_logs WHERE id <= "
                           "(SELECT MAX(id) FROM request_logs) - ?",
                           -1, &prune, NULL) != SQLITE_OK) {
        rc = fail(eb, db, "prepare");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const or_logs_db_row *r = &rows[i];
        sqlite3_reset(ins);
        if (sqlite3_bind_int64(ins, 1, r->ts_ms) != SQLITE_OK ||
            bind_text(ins, 2, r->request_id) != SQLITE_OK ||
            bind_text(ins, 3, r->method) != SQLITE_OK || bind_text(ins, 4, r->path) != SQLITE_OK ||
            sqlite3_bind_int(ins, 5, r->status) != SQLITE_OK ||
            bind_text(ins, 6, r->provider) != SQLITE_OK ||
            bind_text(ins, 7, r->model) != SQLITE_OK ||
            sqlite3_bind_int64(ins, 8, r->latency_ms) != SQLITE_OK ||
            bind_text(ins, 9, r->entry ? r->entry : "{}") != SQLITE_OK ||
            sqlite3_step(ins) != SQLITE_DONE) {
            rc = fail(eb, db, "insert");
            goto out;
        }
    }
    if (sqlite3_bind_int64(prune, 1, keep) != SQLITE_OK || sqlite3_step(prune) != SQLITE_DONE) {
        rc = fail(eb, db, "prune");
        goto out;
    }
    rc = exec(db, "COMMIT", eb);
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(prune);
    if (rc != OR_OK)
        exec(db, "ROLLBACK", NULL);
    return rc;
}

or_err or_logs_db_list(sqlite3 *db, unsigned limit, unsigned offset, json_t **out, int64_t *total,
                       or_errbuf *eb)
{
    sqlite3_stmt *count = NULL, *page = NULL;
    or_err rc = OR_OK;
    json_t *arr = json_array();
    *out = NULL;
    *total = 0;
    if (!arr)
        return or_fail(eb, OR_ENOMEM, "request logs");
    /* One read transaction, so the count and the page agree. */
    if ((rc = exec(db, "BEGIN", eb)) != OR_OK)
        goto out;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM request_logs", -1, &count, NULL) !=
            SQLITE_OK ||
        sqlite3_step(count) != SQLITE_ROW) {
        rc = fail(eb, db, "count");
        goto out;
    }
    *total = sqlite3_column_int64(count, 0);
    if (sqlite3_prepare_v2(db,
                           "SELECT id, entry FROM request_logs ORDER BY id DESC LIMIT ? OFFSET ?",
                           -1, &page, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(page, 1, limit) != SQLITE_OK ||
        sqlite3_bind_int64(page, 2, offset) != SQLITE_OK) {
        rc = fail(eb, db, "select");
        goto out;
    }
    int step;
    while ((step = sqlite3_step(page)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(page, 1);
        json_t *e = text ? json_loads(text, 0, NULL) : NULL;
        if (!json_is_object(e)) {
            json_decref(e);
            e = json_pack("{s:s}", "error", "unreadable log entry");
        }
        if (e)
            json_object_set_new(e, "id", json_integer(sqlite3_column_int64(page, 0)));
        if (!e || json_array_append_new(arr, e) != 0) {
            rc = or_fail(eb, OR_ENOMEM, "request logs");
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = fail(eb, db, "select");
out:
    sqlite3_finalize(count);
    sqlite3_finalize(page);
    exec(db, "COMMIT", NULL);
    if (rc == OR_OK)
        *out = arr;
    else
        json_decref(arr);
    return rc;
}
