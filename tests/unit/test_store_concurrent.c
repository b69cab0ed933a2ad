/* Many threads at once: usage producers never lose rows, readers always see a whole snapshot
 * whose version only moves forward, while the main thread keeps swapping configuration. */
#include "check.h"

#include "core/rand.h"
#include "store/store.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCERS 10 /* more threads than the store has usage shards (8): some share one */
#define ROWS_EACH 10000
#define READERS 2
#define WRITES 150

static or_store *store;
static atomic_bool writes_done;
static atomic_int reader_errors;
static atomic_long reader_acquires;

static void *produce(void *arg)
{
    int who = (int)(intptr_t)arg;
    or_usage_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.provider, sizeof r.provider, "p%d", who);
    strcpy(r.model, "model");
    r.status = 200;
    for (int i = 0; i < ROWS_EACH; i++) {
        r.tokens_in = i;
        or_store_usage_record(store, &r);
    }
    return NULL;
}

static void *read_snapshots(void *arg)
{
    (void)arg;
    uint64_t last_version = 0;
    json_int_t last_n = -1;
    while (!atomic_load(&writes_done)) {
        or_snapshot *snap = or_store_snapshot(store);
        json_int_t n = json_integer_value(json_object_get(snap->settings, "n"));
        const or_conn *c = or_snapshot_conn(snap, "the-conn");
        if (snap->version < last_version || n < last_n ||
            (c && (!c->api_key || strcmp(c->api_key, "sk-concurrent") != 0)))
            atomic_fetch_add(&reader_errors, 1);
        last_version = snap->version;
        last_n = n;
        atomic_fetch_add(&reader_acquires, 1);
        or_snapshot_release(snap);
        sched_yield(); /* two cores are shared; leave the writer room to run */
    }
    return NULL;
}

static long long count_rows(const char *dir)
{
    char path[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    snprintf(path, sizeof path, "%s/storage.sqlite", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM usage", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

int main(void)
{
    char dir[] = "/tmp/or_store_conc_XXXXXX";
    or_errbuf eb = {{0}};
    pthread_t prod[PRODUCERS], rd[READERS];
    or_rand_init();
    unsetenv("STORAGE_ENCRYPTION_KEY");
    if (!mkdtemp(dir))
        return 1;
    CHECK(or_store_open(dir, &store, &eb) == OR_OK);
    if (!store)
        return check_done();

    for (int i = 0; i < READERS; i++)
        pthread_create(&rd[i], NULL, read_snapshots, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&prod[i], NULL, produce, (void *)(intptr_t)i);

    or_conn c;
    memset(&c, 0, sizeof c);
    strcpy(c.id, "the-conn");
    c.provider = "openai";
    c.name = "n";
    c.api_key = "sk-concurrent";
    c.active = true;
    int failed = 0;
    for (int i = 0; i < WRITES; i++) {
        json_t *v = json_integer(i);
        failed += or_store_setting_set(store, "n", v, &eb) != OR_OK;
        json_decref(v);
        c.priority = 1 + i % 100;
        failed += or_store_conn_put(store, &c, NULL, &eb) != OR_OK;
        if (i % 10 == 0)
            or_store_flush(store);
    }
    CHECK(failed == 0);

    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    atomic_store(&writes_done, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(rd[i], NULL);

    or_store_flush(store);
    CHECK(count_rows(dir) == (long long)PRODUCERS * ROWS_EACH);
    CHECK(or_store_usage_dropped(store) == 0);
    CHECK(atomic_load(&reader_errors) == 0);
    CHECK(atomic_load(&reader_acquires) > 0);
    or_snapshot *snap = or_store_snapshot(store);
    CHECK(json_integer_value(json_object_get(snap->settings, "n")) == WRITES - 1);
    or_snapshot_release(snap);

    /* Rows queued right before close are written by close itself. */
    or_usage_row r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 500; i++)
        or_store_usage_record(store, &r);
    or_store_close(store);
    CHECK(count_rows(dir) == (long long)PRODUCERS * ROWS_EACH + 500);
    fprintf(stderr, "reader acquires: %ld\n", atomic_load(&reader_acquires));

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
