#include "store/store_db.h"

#include "core/clock.h"
#include "core/log.h"
#include "store/store_key.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000

/* Append-only: a released migration is never edited; schema changes get a new number. */
static const struct {
    int version;
    const char *sql;
} migrations[] = {
    {1, "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE provider_connections("
        " id TEXT PRIMARY KEY, provider TEXT NOT NULL, name TEXT NOT NULL,"
        " auth_type TEXT NOT NULL DEFAULT 'apikey', api_key_enc TEXT,"
        " priority INTEGER NOT NULL DEFAULT 1, default_model TEXT,"
        " is_active INTEGER NOT NULL DEFAULT 1,"
        " provider_specific_data TEXT NOT NULL DEFAULT '{}',"
        " test_status TEXT NOT NULL DEFAULT 'unknown', last_error TEXT,"
        " created_at INTEGER, updated_at INTEGER);"
        "CREATE TABLE usage("
        " id INTEGER PRIMARY KEY, ts INTEGER, request_id TEXT, provider TEXT, model TEXT,"
        " connection_id TEXT, api_key_id TEXT, endpoint TEXT, status INTEGER,"
        " tokens_in INTEGER, tokens_out INTEGER, tokens_cached INTEGER,"
        " tokens_reasoning INTEGER, latency_ms INTEGER, ttft_ms INTEGER, stream INTEGER,"
        " error TEXT);"
        "CREATE INDEX usage_ts ON usage(ts);"
        "CREATE INDEX usage_provider_model ON usage(provider, model);"},
    /* Every proxied request inserts a usage row; each index is another b-tree insert on the
     * store thread (≈ 1 µs a row). Nothing queries by (provider, model) without a time range,
     * which usage_ts serves, so this one only cost writes. */
    {2, "DROP INDEX IF EXISTS usage_provider_model;"},
};

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/* Before SQLite initialises: without memory statistics its allocator takes no global mutex
 * (they were a third of the locks a proxied request cost, all on the usage insert path). Too
 * late once something else has opened a database: SQLITE_MISUSE, harmless. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static or_err db_fail(or_errbuf *eb, sqlite3 *db, const char *what)
{
    return or_fail(eb, OR_EDB, "%s: %s", what, sqlite3_errmsg(db));
}

static or_err exec(sqlite3 *db, const char *sql, or_errbuf *eb)
{
    char *msg = NULL;
    or_err rc = OR_OK;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        rc = or_fail(eb, OR_EDB, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return rc;
}

static int bind_str(sqlite3_stmt *st, int idx, const char *s)
{
    return s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);
}

/* Fixed-size fields of or_usage_row may fill their array without a NUL; empty means NULL. */
static int bind_fixed(sqlite3_stmt *st, int idx, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n ? sqlite3_bind_text(st, idx, s, (int)n, SQLITE_STATIC) : sqlite3_bind_null(st, idx);
}

/* 0 ok (*out NULL for SQL NULL), -1 out of memory. */
static int col_str(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const char *t = (const char *)sqlite3_column_text(st, i);
    *out = strdup(t ? t : "");
    return *out ? 0 : -1;
}

int or_store_db_schema_version(void)
{
    return migrations[sizeof migrations / sizeof migrations[0] - 1].version;
}

or_err or_store_db_migrate(sqlite3 *db, or_errbuf *eb)
{
    or_err rc = exec(db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations("
                     "version INTEGER PRIMARY KEY, applied_at INTEGER)",
                     eb);
    sqlite3_stmt *st = NULL;
    int current = 0;
    if (rc != OR_OK)
        goto out;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = db_fail(eb, db, "reading schema version");
        goto out;
    }
    current = sqlite3_column_int(st, 0);
    sqlite3_finalize(st); /* an open read keeps tables locked against DROP in a migration */
    st = NULL;
    size_t count = sizeof migrations / sizeof migrations[0];
    if (current > migrations[count - 1].version)
        or_log_warn("store: database schema v%d is newer than this binary (v%d)", current,
                    migrations[count - 1].version);
    for (size_t i = 0; i < count; i++) {
        char done[128];
        if (migrations[i].version <= current)
            continue;
        snprintf(done, sizeof done,
                 "INSERT INTO schema_migrations(version, applied_at) VALUES(%d, %lld); COMMIT",
                 migrations[i].version, (long long)or_clock_wall_ms());
        rc = exec(db, "BEGIN IMMEDIATE", eb);
        if (rc == OR_OK)
            rc = exec(db, migrations[i].sql, eb);
        if (rc == OR_OK)
            rc = exec(db, done, eb);
        if (rc != OR_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            or_log_error("store: migration %d failed", migrations[i].version);
            goto out;
        }
        or_log_info("store: applied migration %d", migrations[i].version);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static or_err set_pragmas(sqlite3 *db, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    or_err rc = OR_OK;
    if (sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        rc = db_fail(eb, db, "busy_timeout");
        goto out;
    }
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = db_fail(eb, db, "journal_mode");
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        rc = or_fail(eb, OR_EDB, "journal_mode is %s, not wal", mode ? mode : "?");
        goto out;
    }
    rc = exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", eb);
out:
    sqlite3_finalize(st);
    return rc;
}

or_err or_store_db_open(const char *path, sqlite3 **out, or_errbuf *eb)
{
    sqlite3 *db = NULL;
    or_err rc = OR_OK;
    *out = NULL;
    /* SQLite would create the file 0644; it holds sealed secrets and usage, so create it 0600
     * first (the -wal and -shm files inherit the database file's mode). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = or_fail(eb, OR_EIO, "open %s: %s", path, strerror(errno));
        goto out;
    }
    close(fd);
    pthread_once(&sqlite_once, sqlite_setup);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = or_fail(eb, OR_EDB, "open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    rc = set_pragmas(db, eb);
    if (rc == OR_OK)
        rc = or_store_db_migrate(db, eb);
out:
    if (rc != OR_OK)
        or_store_db_close(db);
    else
        *out = db;
    return rc;
}

void or_store_db_close(sqlite3 *db)
{
    if (db && sqlite3_close(db) != SQLITE_OK)
        or_log_error("store: close: %s", sqlite3_errmsg(db));
}

/* ---- configuration writes ---- */

static const char conn_upsert_sql[] =
    "INSERT INTO provider_connections(id, provider, name, auth_type, api_key_enc, priority,"
    " default_model, is_active, provider_specific_data, test_status, last_error, created_at,"
    " updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)"
    " ON CONFLICT(id) DO UPDATE SET provider = excluded.provider, name = excluded.name,"
    " auth_type = excluded.auth_type, api_key_enc = excluded.api_key_enc,"
    " priority = excluded.priority, default_model = excluded.default_model,"
    " is_active = excluded.is_active, provider_specific_data = excluded.provider_specific_data,"
    " test_status = excluded.test_status, last_error = excluded.last_error,"
    " updated_at = excluded.updated_at";

or_err or_store_db_conn_put(sqlite3 *db, const unsigned char *key, const or_conn *in,
                            const char *id, int64_t now_ms, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    char *sealed = NULL, *psd = NULL;
    or_err rc = OR_OK;
    if (in->api_key && *in->api_key) {
        rc = or_store_key_seal(key, in->api_key, &sealed);
        if (rc != OR_OK) {
            or_fail(eb, rc, "sealing the api key failed");
            goto out;
        }
    }
    psd = in->psd ? json_dumps(in->psd, JSON_COMPACT) : strdup("{}");
    if (!psd) {
        rc = or_fail(eb, OR_ENOMEM, "encoding providerSpecificData");
        goto out;
    }
    if (sqlite3_prepare_v2(db, conn_upsert_sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(eb, db, "prepare conn upsert");
        goto out;
    }
    bind_str(st, 1, id);
    bind_str(st, 2, in->provider);
    bind_str(st, 3, in->name ? in->name : in->provider);
    bind_str(st, 4, in->auth_type ? in->auth_type : "apikey");
    bind_str(st, 5, sealed);
    sqlite3_bind_int(st, 6, in->priority > 0 ? in->priority : 1);
    bind_str(st, 7, in->default_model);
    sqlite3_bind_int(st, 8, in->active ? 1 : 0);
    bind_str(st, 9, psd);
    bind_str(st, 10, in->test_status ? in->test_status : "unknown");
    bind_str(st, 11, in->last_error);
    sqlite3_bind_int64(st, 12, now_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(eb, db, "saving connection");
out:
    sqlite3_finalize(st);
    free(sealed);
    free(psd);
    return rc;
}

/* Runs a one-statement write with text parameters; OR_ENOTFOUND when no row changed. */
static or_err write_row(sqlite3 *db, const char *sql, const char *const *args, int nargs,
                        int64_t now_ms, const char *what, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    or_err rc = OR_OK;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(eb, db, what);
        goto out;
    }
    for (int i = 0; i < nargs; i++)
        bind_str(st, i + 1, args[i]);
    if (sqlite3_bind_parameter_count(st) > nargs)
        sqlite3_bind_int64(st, nargs + 1, now_ms);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(eb, db, what);
        goto out;
    }
    if (sqlite3_changes(db) == 0)
        rc = or_fail(eb, OR_ENOTFOUND, "no connection with id %s", args[0]);
out:
    sqlite3_finalize(st);
    return rc;
}

or_err or_store_db_conn_delete(sqlite3 *db, const char *id, or_errbuf *eb)
{
    const char *args[] = {id};
    return write_row(db, "DELETE FROM provider_connections WHERE id = ?1", args, 1, 0,
                     "deleting connection", eb);
}

or_err or_store_db_conn_set_status(sqlite3 *db, const char *id, const char *test_status,
                                   const char *last_error, int64_t now_ms, or_errbuf *eb)
{
    const char *args[] = {id, test_status, last_error};
    return write_row(db,
                     "UPDATE provider_connections SET test_status = ?2, last_error = ?3,"
                     " updated_at = ?4 WHERE id = ?1",
                     args, 3, now_ms, "updating connection status", eb);
}

or_err or_store_db_setting_set(sqlite3 *db, const char *key, json_t *value, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    char *text = NULL;
    or_err rc = OR_OK;
    const char *sql = "DELETE FROM settings WHERE key = ?1";
    if (value) {
        text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
            rc = or_fail(eb, OR_ENOMEM, "encoding setting %s", key);
            goto out;
        }
        sql = "INSERT INTO settings(key, value) VALUES(?1, ?2)"
              " ON CONFLICT(key) DO UPDATE SET value = excluded.value";
    }
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(eb, db, "prepare setting");
        goto out;
    }
    bind_str(st, 1, key);
    if (text)
        bind_str(st, 2, text);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(eb, db, "saving setting");
out:
    sqlite3_finalize(st);
    free(text);
    return rc;
}

/* ---- usage ---- */

#define USAGE_COLS 16
#define USAGE_INSERT_HEAD                                                                          \
    "INSERT INTO usage(ts, request_id, provider, model, connection_id, api_key_id, endpoint,"      \
    " status, tokens_in, tokens_out, tokens_cached, tokens_reasoning, latency_ms, ttft_ms,"        \
    " stream, error) VALUES"
#define USAGE_VALUES_ONE "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

enum {
    USAGE_SLICE_ROWS = 32,        /* ≈ 0.1 ms of inserts */
    USAGE_SLICED_BATCH_MAX = 512, /* rows per 20 ms group commit: ≈ 25k requests/s */
};

#define USAGE_GROUP_MAX (1 << (OR_STORE_USAGE_SIZES - 1))
_Static_assert(USAGE_SLICE_ROWS % USAGE_GROUP_MAX == 0,
               "a group must not straddle a light-load slice boundary");
_Static_assert((USAGE_GROUP_MAX * USAGE_COLS) <= 999, "SQLite's historical parameter limit");

static or_err usage_prepare_rows(sqlite3 *db, int rows, sqlite3_stmt **out, or_errbuf *eb)
{
    char sql[sizeof USAGE_INSERT_HEAD + USAGE_GROUP_MAX * sizeof USAGE_VALUES_ONE];
    size_t len = sizeof USAGE_INSERT_HEAD - 1;
    memcpy(sql, USAGE_INSERT_HEAD, len);
    for (int i = 0; i < rows; i++) {
        if (i)
            sql[len++] = ',';
        memcpy(sql + len, USAGE_VALUES_ONE, sizeof USAGE_VALUES_ONE - 1);
        len += sizeof USAGE_VALUES_ONE - 1;
    }
    if (sqlite3_prepare_v3(db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return db_fail(eb, db, "prepare usage insert");
    return OR_OK;
}

or_err or_store_db_usage_prepare(sqlite3 *db, sqlite3_stmt **out, or_errbuf *eb)
{
    return usage_prepare_rows(db, 1, out, eb);
}

or_err or_store_db_usage_prepare_all(sqlite3 *db, or_store_usage_stmts *out, or_errbuf *eb)
{
    or_err rc = OR_OK;
    memset(out, 0, sizeof *out);
    for (int k = 0; k < OR_STORE_USAGE_SIZES && rc == OR_OK; k++)
        rc = usage_prepare_rows(db, 1 << k, &out->ins[k], eb);
    if (rc == OR_OK && (sqlite3_prepare_v3(db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT, &out->begin,
                                           NULL) != SQLITE_OK ||
                        sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
                                           &out->commit, NULL) != SQLITE_OK))
        rc = db_fail(eb, db, "prepare usage transaction");
    if (rc != OR_OK)
        or_store_db_usage_finalize(out);
    return rc;
}

void or_store_db_usage_finalize(or_store_usage_stmts *ins)
{
    for (int k = 0; k < OR_STORE_USAGE_SIZES; k++) {
        sqlite3_finalize(ins->ins[k]); /* NULL is a no-op */
        ins->ins[k] = NULL;
    }
    sqlite3_finalize(ins->begin);
    sqlite3_finalize(ins->commit);
    ins->begin = ins->commit = NULL;
}

#define BIND_FIXED(st, idx, field) bind_fixed(st, idx, field, sizeof field)

/* Every parameter is bound for every row, so nothing from the previous row survives and
 * sqlite3_clear_bindings is not needed. Text is bound SQLITE_STATIC: the rows outlive the step. */
static void usage_bind(sqlite3_stmt *st, int base, const or_usage_row *r)
{
    sqlite3_bind_int64(st, base + 1, r->ts_ms);
    BIND_FIXED(st, base + 2, r->request_id);
    BIND_FIXED(st, base + 3, r->provider);
    BIND_FIXED(st, base + 4, r->model);
    BIND_FIXED(st, base + 5, r->connection_id);
    BIND_FIXED(st, base + 6, r->api_key_id);
    BIND_FIXED(st, base + 7, r->endpoint);
    sqlite3_bind_int(st, base + 8, r->status);
    sqlite3_bind_int64(st, base + 9, r->tokens_in);
    sqlite3_bind_int64(st, base + 10, r->tokens_out);
    sqlite3_bind_int64(st, base + 11, r->tokens_cached);
    sqlite3_bind_int64(st, base + 12, r->tokens_reasoning);
    sqlite3_bind_int64(st, base + 13, r->latency_ms);
    sqlite3_bind_int64(st, base + 14, r->ttft_ms);
    sqlite3_bind_int(st, base + 15, r->stream ? 1 : 0);
    BIND_FIXED(st, base + 16, r->error);
}

/* rows[0..n) in one statement of n rows (a power of two); the statement's rows are all written
 * or none is (a failed statement is rolled back). */
static bool usage_insert_group(sqlite3_stmt *st, const or_usage_row *rows, int n)
{
    for (int k = 0; k < n; k++)
        usage_bind(st, k * USAGE_COLS, &rows[k]);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

/* Writes the largest power-of-two group that fits in n; returns how many rows it consumed.
 * One statement pays the statement setup (transaction check, cursor opens, halt, reset) for
 * the whole group. Groups shrink along a batch, so a batch of n rows takes at most
 * n / USAGE_GROUP_MAX + OR_STORE_USAGE_SIZES - 1 statements, and a group starts at a multiple
 * of its size (it never straddles a slice). A group that fails is retried row by row, so one
 * bad row costs only itself, as with single inserts. */
static size_t usage_insert_some(sqlite3 *db, const or_store_usage_stmts *ins,
                                const or_usage_row *rows, size_t n, size_t *failed)
{
    int k = OR_STORE_USAGE_SIZES - 1;
    while ((size_t)1 << k > n)
        k--;
    int size = 1 << k;
    if (usage_insert_group(ins->ins[k], rows, size))
        return (size_t)size;
    for (int i = 0; i < size; i++) {
        if ((size == 1 || !usage_insert_group(ins->ins[0], &rows[i], 1)) && (*failed)++ == 0)
            or_log_error("store: usage insert: %s", sqlite3_errmsg(db));
    }
    return (size_t)size;
}

/* Runs a prepared statement that returns no rows, leaving it ready for the next time. */
static or_err run_once(sqlite3 *db, sqlite3_stmt *st, const char *what, or_errbuf *eb)
{
    or_err rc = sqlite3_step(st) == SQLITE_DONE ? OR_OK : db_fail(eb, db, what);
    sqlite3_reset(st);
    return rc;
}

or_err or_store_db_usage_write(sqlite3 *db, const or_store_usage_stmts *ins,
                               const or_usage_row *rows, size_t n, or_errbuf *eb)
{
    size_t failed = 0;
    or_err rc = run_once(db, ins->begin, "BEGIN", eb);
    if (rc != OR_OK)
        goto out;
    for (size_t i = 0; i < n;) {
        size_t next = i + usage_insert_some(db, ins, rows + i, n - i, &failed);
        /* A thread that mostly sleeps is favoured by the scheduler: a request worker woken on
         * this core would wait for the whole batch (that was the concurrency-1 p99 tail).
         * So, under light load (a small batch), sleep between slices: sched_yield does not
         * help (we would be picked again), a real sleep does. Under heavy load (a big batch)
         * each request already waits in queues far longer, and the sleeps' context switches
         * cost ~10% throughput (measured), so the batch runs through. */
        if (n < USAGE_SLICED_BATCH_MAX && next / USAGE_SLICE_ROWS > i / USAGE_SLICE_ROWS) {
            struct timespec pause = {0, 1000};
            nanosleep(&pause, NULL);
        }
        i = next;
    }
    rc = run_once(db, ins->commit, "COMMIT", eb);
    if (rc != OR_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    if (failed)
        or_log_error("store: %zu of %zu usage rows were not written", failed, n);
out:
    return rc;
}

/* ---- snapshot ---- */

static const char conn_select_sql[] =
    "SELECT id, provider, name, auth_type, api_key_enc, priority, default_model, is_active,"
    " provider_specific_data, test_status, last_error, created_at, updated_at"
    " FROM provider_connections ORDER BY provider, priority, created_at, id";

/* A key that cannot be unsealed (STORAGE_ENCRYPTION_KEY changed) leaves api_key NULL rather
 * than refusing to start: the admin can re-enter it. */
static int conn_from_row(sqlite3_stmt *st, const unsigned char *key, or_conn *c)
{
    char *sealed = NULL, *psd = NULL;
    int rc = -1;
    const char *id = (const char *)sqlite3_column_text(st, 0);
    snprintf(c->id, sizeof c->id, "%s", id ? id : "");
    if (col_str(st, 1, &c->provider) || col_str(st, 2, &c->name) || col_str(st, 3, &c->auth_type) ||
        col_str(st, 4, &sealed) || col_str(st, 6, &c->default_model) || col_str(st, 8, &psd) ||
        col_str(st, 9, &c->test_status) || col_str(st, 10, &c->last_error))
        goto out;
    if (!c->provider || !c->name || !c->auth_type || !c->test_status)
        goto out;
    c->priority = sqlite3_column_int(st, 5);
    c->active = sqlite3_column_int(st, 7) != 0;
    c->created_at = sqlite3_column_int64(st, 11);
    c->updated_at = sqlite3_column_int64(st, 12);
    if (sealed) {
        or_err e = or_store_key_unseal(key, sealed, &c->api_key);
        if (e == OR_ENOMEM)
            goto out;
        if (e != OR_OK)
            or_log_error("store: connection %s: api key cannot be decrypted (was "
                         "STORAGE_ENCRYPTION_KEY changed?)",
                         c->id);
    }
    c->psd = psd ? json_loads(psd, 0, NULL) : NULL;
    if (c->psd && !json_is_object(c->psd)) {
        json_decref(c->psd);
        c->psd = NULL;
    }
    if (!c->psd)
        c->psd = json_object();
    rc = c->psd ? 0 : -1;
out:
    free(sealed);
    free(psd);
    return rc;
}

static or_err load_conns(sqlite3 *db, const unsigned char *key, or_snapshot *snap, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int step;
    or_err rc = OR_OK;
    if (sqlite3_prepare_v2(db, conn_select_sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(eb, db, "prepare connection select");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (snap->nconns == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            or_conn *grown = realloc(snap->conns, ncap * sizeof *grown);
            if (!grown) {
                rc = or_fail(eb, OR_ENOMEM, "loading connections");
                goto out;
            }
            snap->conns = grown;
            cap = ncap;
        }
        or_conn *c = &snap->conns[snap->nconns];
        memset(c, 0, sizeof *c);
        if (conn_from_row(st, key, c) != 0) {
            or_conn_clear(c);
            rc = or_fail(eb, OR_ENOMEM, "loading connections");
            goto out;
        }
        snap->nconns++;
    }
    if (step != SQLITE_DONE)
        rc = db_fail(eb, db, "reading connections");
out:
    sqlite3_finalize(st);
    return rc;
}

static or_err load_settings(sqlite3 *db, or_snapshot *snap, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    int step;
    or_err rc = OR_OK;
    snap->settings = json_object();
    if (!snap->settings) {
        rc = or_fail(eb, OR_ENOMEM, "loading settings");
        goto out;
    }
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM settings", -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(eb, db, "prepare settings select");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        json_error_t jerr;
        json_t *j = v ? json_loads(v, JSON_DECODE_ANY, &jerr) : NULL;
        if (!j) {
            or_log_warn("store: setting %s is not valid JSON; ignored", k ? k : "?");
            continue;
        }
        if (!k || json_object_set_new(snap->settings, k, j) != 0) {
            rc = or_fail(eb, OR_ENOMEM, "loading settings");
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = db_fail(eb, db, "reading settings");
out:
    sqlite3_finalize(st);
    return rc;
}

or_err or_store_db_snapshot_load(sqlite3 *db, const unsigned char *key, or_snapshot **out,
                                 or_errbuf *eb)
{
    or_err rc = OR_OK;
    or_snapshot *snap = calloc(1, sizeof *snap);
    *out = NULL;
    if (!snap) {
        rc = or_fail(eb, OR_ENOMEM, "snapshot");
        goto out;
    }
    atomic_init(&snap->refs, 1);
    /* One read transaction so connections and settings come from the same database state. */
    rc = exec(db, "BEGIN", eb);
    if (rc != OR_OK)
        goto out;
    rc = load_conns(db, key, snap, eb);
    if (rc == OR_OK)
        rc = load_settings(db, snap, eb);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
    if (rc != OR_OK)
        or_store_db_snapshot_free(snap);
    else
        *out = snap;
    return rc;
}

void or_store_db_snapshot_free(or_snapshot *snap)
{
    if (!snap)
        return;
    for (size_t i = 0; i < snap->nconns; i++)
        or_conn_clear(&snap->conns[i]);
    free(snap->conns);
    json_decref(snap->settings);
    free(snap);
}
