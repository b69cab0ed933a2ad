/*
 * store.h — persistence on SQLite (WAL) in DATA_DIR/storage.sqlite.
 *
 * Threads and ownership:
 *  - One writer thread owns the write connection. Usage rows are handed to it through a queue
 *    (or_store_usage_record never blocks on SQLite) and written in slices with a short sleep
 *    between them, so a request worker woken on the writer's core never waits behind a whole
 *    batch. Admin writes (connections, settings) run on the writer too, and their caller waits
 *    for the result (rare, small). WAL checkpoints run on an idle-class thread (checkpoint.h).
 *  - The configuration is an immutable, refcounted snapshot (or_snapshot). Every write that
 *    changes configuration builds a new snapshot and swaps it in atomically; readers keep the
 *    one they acquired until they release it. Any thread may acquire/release.
 *  - Provider secrets (api keys) are sealed with libsodium secretbox before they reach SQLite.
 *    The key is STORAGE_ENCRYPTION_KEY (64 hex chars, or any string, hashed to 32 bytes) or a
 *    random key generated once into DATA_DIR/storage.key (mode 0600). In a snapshot, api_key
 *    holds the plaintext; it is wiped when the snapshot is freed.
 *  - Schema changes are numbered migrations applied in order at open (table schema_migrations).
 */
#ifndef OR_STORE_STORE_H
#define OR_STORE_STORE_H

#include "core/err.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct or_store or_store;

/* A provider connection (an account / API key of one provider). */
typedef struct {
    char id[37];
    char *provider; /* provider id, e.g. "openai" */
    char *name;
    char *auth_type;     /* "apikey" (default) | "oauth" | "none" */
    char *api_key;       /* plaintext in memory; NULL when none */
    int priority;        /* 1..100, lower first; default 1 */
    char *default_model; /* or NULL */
    bool active;
    json_t *psd;        /* providerSpecificData object (never holds secrets); never NULL */
    char *test_status;  /* "unknown" | "active" | "error" … */
    char *last_error;   /* or NULL */
    int64_t created_at; /* wall ms */
    int64_t updated_at;
} or_conn;

typedef struct or_snapshot {
    atomic_int refs;
    uint64_t version;
    or_conn *conns; /* sorted by provider, then priority, then created_at */
    size_t nconns;
    json_t *settings; /* object: key → JSON value, from the settings table */
} or_snapshot;

typedef struct {
    int64_t ts_ms; /* wall clock at request start */
    char request_id[40];
    char provider[48];
    char model[160];
    char connection_id[40];
    char api_key_id[40];
    char endpoint[48]; /* "/v1/chat/completions" */
    int status;        /* HTTP status returned to the client (499 = the client went away) */
    int64_t tokens_in, tokens_out, tokens_cached, tokens_reasoning;
    uint32_t latency_ms; /* head to last byte */
    uint32_t ttft_ms;    /* head to first byte sent to the client; 0 if none */
    bool stream;
    char error[200];
} or_usage_row;

/* Opens (creating DATA_DIR and the database if needed), migrates, loads the secret key,
 * starts the writer thread and builds the first snapshot. */
or_err or_store_open(const char *data_dir, or_store **out, or_errbuf *eb);
/* Drains the usage queue, stops the writer, closes. */
void or_store_close(or_store *s);
const char *or_store_data_dir(const or_store *s);

/* ---- configuration snapshot ---- */
or_snapshot *or_store_snapshot(or_store *s); /* +1 ref; never NULL after open */
void or_snapshot_release(or_snapshot *snap);
const or_conn *or_snapshot_conn(const or_snapshot *snap, const char *id);

/* ---- provider connections (synchronous, run on the writer thread) ---- */
/* Insert or replace by id. If in->id is empty a UUID is assigned and written to id_out.
 * created_at/updated_at are set by the store. */
or_err or_store_conn_put(or_store *s, const or_conn *in, char id_out[37], or_errbuf *eb);
or_err or_store_conn_delete(or_store *s, const char *id, or_errbuf *eb); /* OR_ENOTFOUND */
/* Updates only the test status and last error (NULL clears). */
or_err or_store_conn_set_status(or_store *s, const char *id, const char *test_status,
                                const char *last_error, or_errbuf *eb);

/* ---- settings (key → JSON text), synchronous ---- */
or_err or_store_setting_set(or_store *s, const char *key, json_t *value, or_errbuf *eb);
/* Returns a new reference or NULL when absent (reads the current snapshot). */
json_t *or_store_setting_get(or_store *s, const char *key);

/* ---- usage (asynchronous) ---- */
void or_store_usage_record(or_store *s, const or_usage_row *row); /* copies; never blocks */
/* Waits until every row queued before the call is committed (tests, shutdown). */
void or_store_flush(or_store *s);
uint64_t or_store_usage_dropped(const or_store *s);

/* ---- secrets ---- */
/* Seals/opens text with the store key (base64 text out; caller frees). Used for any secret that
 * must live in the database. */
or_err or_store_seal(or_store *s, const char *plain, char **out);
or_err or_store_unseal(or_store *s, const char *sealed, char **out);

/* ---- whole-database operations (for store/backup.h: export, import) ---- */
struct sqlite3;
typedef or_err (*or_store_db_fn)(struct sqlite3 *db, void *arg, or_errbuf *eb);
/* Runs fn(db, arg) on the writer thread with the write connection, after every usage row queued
 * before the call has been written; the caller waits, so call it from a thread pool, not from
 * an event loop, when fn is slow. With reload, a successful fn is taken to have replaced the
 * database's contents: migrations are applied again and the snapshot is rebuilt before this
 * returns, so the next or_store_snapshot() sees the new data. */
or_err or_store_with_db(or_store *s, or_store_db_fn fn, void *arg, bool reload, or_errbuf *eb);
/* A snapshot (refs = 1) read from another open database — a backup or a file about to be
 * imported — with this store's key. A secret sealed with another key comes back as api_key
 * NULL. The caller owns db and may use it from any thread that owns it. */
or_err or_store_snapshot_load_db(or_store *s, struct sqlite3 *db, or_snapshot **out, or_errbuf *eb);

/* Deep copy helpers for or_conn (used by admin to edit a connection from a snapshot). */
or_err or_conn_copy(or_conn *dst, const or_conn *src);
void or_conn_clear(or_conn *c); /* frees members, wipes the key */

#endif
