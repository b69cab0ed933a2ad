/* Usage rows written through the writer's grouped inserts come back exactly: every one of the
 * 16 columns, NULL for an empty text field, a field that fills its array without a NUL kept
 * whole, for batch sizes around and between the group sizes. A group with one bad row loses
 * only that row. */
#include "check.h"

#include "core/rand.h"
#include "store/store.h"
#include "store/store_db.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[64];

/* Row number i of the test, all fields distinct from those of any other i. */
static void make_row(int i, or_usage_row *r)
{
    memset(r, 0, sizeof *r);
    r->ts_ms = 1700000000000 + (int64_t)i * 7;
    if (i % 5 == 0)
        memset(r->request_id, 'a' + i % 26, sizeof r->request_id); /* no NUL */
    else
        snprintf(r->request_id, sizeof r->request_id, "req-%d", i);
    if (i % 3)
        snprintf(r->provider, sizeof r->provider, "prov-%d", i);
    snprintf(r->model, sizeof r->model, "model-%d-%s", i, i % 2 ? "mini" : "large");
    if (i % 4)
        snprintf(r->connection_id, sizeof r->connection_id, "conn-%d", i * 3);
    if (i % 6)
        snprintf(r->api_key_id, sizeof r->api_key_id, "key-%d", i * 11);
    snprintf(r->endpoint, sizeof r->endpoint, "/v1/ep/%d", i);
    r->status = 200 + i % 300;
    r->tokens_in = (int64_t)i * 3;
    r->tokens_out = (int64_t)i * 5 + 1;
    r->tokens_cached = i % 17;
    r->tokens_reasoning = (int64_t)i << 33;
    r->latency_ms = UINT32_MAX - (uint32_t)i;
    r->ttft_ms = (uint32_t)i * 2;
    r->stream = i % 2;
    if (i % 7 == 0)
        memset(r->error, 'e', sizeof r->error); /* no NUL */
    else if (i % 2)
        snprintf(r->error, sizeof r->error, "upstream said %d", i);
}

/* The text a fixed field should be stored as, or NULL. */
static const char *expect_text(const char *field, size_t cap, char *out)
{
    size_t n = strnlen(field, cap);
    if (!n)
        return NULL;
    memcpy(out, field, n);
    out[n] = '\0';
    return out;
}

static int text_matches(sqlite3_stmt *st, int col, const char *field, size_t cap)
{
    char want[256];
    const char *w = expect_text(field, cap, want);
    if (!w)
        return sqlite3_column_type(st, col) == SQLITE_NULL;
    const char *got = (const char *)sqlite3_column_text(st, col);
    return sqlite3_column_type(st, col) == SQLITE_TEXT && got && strcmp(got, w) == 0 &&
           sqlite3_column_bytes(st, col) == (int)strlen(w);
}

#define TEXT_OK(st, col, field) text_matches(st, col, field, sizeof field)

/* Reads every usage row of the database at path in insertion order, through a connection of its
 * own (so only committed rows count), and compares it with make_row(ids[k]); returns how many
 * rows were read. */
static size_t check_rows(const char *path, const int *ids, size_t want)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    size_t k = 0, bad = 0;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT ts, request_id, provider, model, connection_id, api_key_id,"
                             " endpoint, status, tokens_in, tokens_out, tokens_cached,"
                             " tokens_reasoning, latency_ms, ttft_ms, stream, error"
                             " FROM usage ORDER BY id",
                             -1, &st, NULL) == SQLITE_OK);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        or_usage_row r;
        if (k >= want) {
            k++;
            continue;
        }
        make_row(ids[k], &r);
        int ok = sqlite3_column_int64(st, 0) == r.ts_ms && TEXT_OK(st, 1, r.request_id) &&
                 TEXT_OK(st, 2, r.provider) && TEXT_OK(st, 3, r.model) &&
                 TEXT_OK(st, 4, r.connection_id) && TEXT_OK(st, 5, r.api_key_id) &&
                 TEXT_OK(st, 6, r.endpoint) && sqlite3_column_int(st, 7) == r.status &&
                 sqlite3_column_int64(st, 8) == r.tokens_in &&
                 sqlite3_column_int64(st, 9) == r.tokens_out &&
                 sqlite3_column_int64(st, 10) == r.tokens_cached &&
                 sqlite3_column_int64(st, 11) == r.tokens_reasoning &&
                 sqlite3_column_int64(st, 12) == (int64_t)r.latency_ms &&
                 sqlite3_column_int64(st, 13) == (int64_t)r.ttft_ms &&
                 sqlite3_column_int(st, 14) == (r.stream ? 1 : 0) && TEXT_OK(st, 15, r.error);
        static const int ints[] = {0, 7, 8, 9, 10, 11, 12, 13, 14};
        for (size_t j = 0; j < sizeof ints / sizeof ints[0]; j++)
            ok &= sqlite3_column_type(st, ints[j]) == SQLITE_INTEGER;
        if (!ok && bad++ < 5)
            fprintf(stderr, "row %zu (make_row %d) differs\n", k, ids[k]);
        k++;
    }
    CHECK(bad == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return k;
}

/* path receives the database's path (256 bytes). */
static sqlite3 *open_fresh(const char *name, char *path, or_store_usage_stmts *ins)
{
    sqlite3 *db = NULL;
    or_errbuf eb = {{0}};
    snprintf(path, 256, "%s/%s", root, name);
    CHECK(or_store_db_open(path, &db, &eb) == OR_OK);
    CHECK(db && or_store_db_usage_prepare_all(db, ins, &eb) == OR_OK);
    return db;
}

/* Batches of every size from 0 to 70 (every group size, around each), then 1000 rows (over
 * the sliced-batch limit, not a multiple of any group), then 511 (just under it). */
static void test_batches(void)
{
    enum { TOTAL = 70 * 71 / 2 + 1000 + 511 };
    static or_usage_row rows[1000];
    static int ids[TOTAL];
    or_store_usage_stmts ins;
    or_errbuf eb = {{0}};
    char path[256];
    sqlite3 *db = open_fresh("batches.sqlite", path, &ins);
    size_t written = 0;
    for (int n = 0; n <= 70; n++) {
        for (int j = 0; j < n; j++) {
            ids[written + (size_t)j] = (int)written + j;
            make_row((int)written + j, &rows[j]);
        }
        CHECK(or_store_db_usage_write(db, &ins, rows, (size_t)n, &eb) == OR_OK);
        written += (size_t)n;
    }
    static const int big[] = {1000, 511};
    for (size_t b = 0; b < 2; b++) {
        for (int j = 0; j < big[b]; j++) {
            ids[written + (size_t)j] = (int)written + j;
            make_row((int)written + j, &rows[j]);
        }
        CHECK(or_store_db_usage_write(db, &ins, rows, (size_t)big[b], &eb) == OR_OK);
        written += (size_t)big[b];
    }
    CHECK(written == TOTAL);
    CHECK(check_rows(path, ids, written) == written);
    or_store_db_usage_finalize(&ins);
    or_store_db_usage_finalize(&ins); /* idempotent */
    or_store_db_close(db);
}

/* A trigger refuses one row: its group fails as a whole and is retried row by row, so every
 * other row of the batch is written once, in order. */
static void test_bad_row(void)
{
    enum { N = 77, BAD = 41 }; /* rows 32..63 form one group of 32 */
    or_usage_row rows[N];
    int ids[N];
    or_store_usage_stmts ins;
    or_errbuf eb = {{0}};
    char path[256];
    sqlite3 *db = open_fresh("bad.sqlite", path, &ins);
    CHECK(sqlite3_exec(db,
                       "CREATE TRIGGER refuse BEFORE INSERT ON usage"
                       " WHEN NEW.request_id = 'req-41' BEGIN SELECT RAISE(ABORT, 'no'); END",
                       NULL, NULL, NULL) == SQLITE_OK);
    size_t k = 0;
    for (int i = 0; i < N; i++) {
        make_row(i, &rows[i]);
        if (i != BAD)
            ids[k++] = i;
    }
    CHECK(or_store_db_usage_write(db, &ins, rows, N, &eb) == OR_OK);
    CHECK(check_rows(path, ids, k) == k);
    or_store_db_usage_finalize(&ins);
    or_store_db_close(db);
}

/* The same rows through the store's queue and writer thread. */
static void test_through_store(void)
{
    enum { N = 1000 };
    static int ids[N];
    char dir[128];
    or_store *s = NULL;
    or_errbuf eb = {{0}};
    snprintf(dir, sizeof dir, "%s/store", root);
    CHECK(or_store_open(dir, &s, &eb) == OR_OK);
    if (!s)
        return;
    for (int i = 0; i < N; i++) {
        or_usage_row r;
        make_row(i, &r);
        ids[i] = i;
        or_store_usage_record(s, &r);
        if (i % 97 == 0)
            or_store_flush(s); /* cut the queue into uneven batches */
    }
    or_store_flush(s); /* committed: visible to another connection while the store is open */
    char path[192];
    snprintf(path, sizeof path, "%s/storage.sqlite", dir);
    CHECK(check_rows(path, ids, N) == N);
    or_store_close(s);
}

int main(void)
{
    or_rand_init();
    unsetenv("STORAGE_ENCRYPTION_KEY");
    strcpy(root, "/tmp/or_store_usage_XXXXXX");
    if (!mkdtemp(root))
        return 1;
    test_batches();
    test_bad_row();
    test_through_store();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_done();
}
