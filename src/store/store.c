#include "store/store.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "store/checkpoint.h"
#include "store/store_db.h"
#include "store/store_key.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

/* Rows waiting for the writer, per recording thread (USAGE_SHARD_MAX below: a quarter of
 * this). A batch of thousands commits in milliseconds, so reaching it means the disk has
 * stalled for a long time; the buffers only grow that far during a stall (about 16 MB per
 * recording thread at the cap). */
#define USAGE_MAX 100000
/* A usage row waits at most this long for others to share its commit. */
#define GROUP_COMMIT_MS 20
#define GROUP_COMMIT_MAX_ROWS 4096

/* Row capacity the writer keeps between batches; a burst's larger buffer is given back. */
#define USAGE_KEEP 4096
#define USAGE_FIRST 256
/* After the first drop, warn once per this many, so a stall does not flood the log. */
#define DROP_WARN_EVERY 10000

typedef enum {
    JOB_CONN_PUT,
    JOB_CONN_DELETE,
    JOB_CONN_STATUS,
    JOB_SETTING_SET,
    JOB_FLUSH,
    JOB_WITH_DB,
    JOB_KIND_COUNT
} job_kind;

/* A synchronous request; it lives on the caller's stack and the caller sleeps until done. */
typedef struct job {
    job_kind kind;
    const or_conn *conn;
    const char *id;
    const char *text1; /* test_status | setting key */
    const char *text2; /* last_error */
    json_t *value;
    or_store_db_fn fn; /* JOB_WITH_DB */
    void *arg;
    bool reload; /* fn replaced the database: migrate and rebuild the snapshot */
    or_err rc;
    or_errbuf eb;
    bool done;
    struct job *next;
} job;

typedef struct {
    or_usage_row *rows;
    size_t len, cap;
} row_vec;

/* Usage rows are queued per recording thread: a queue shared by the request workers had its
 * lock and rows bounce between their cores on every request. Each thread takes a shard on its
 * first row (round robin); the writer drains them all. Aligned so shards share no cache line. */
#define USAGE_SHARDS 8
#define USAGE_SHARD_MAX (USAGE_MAX / 4) /* rows one thread may have waiting (640 B each) */
typedef struct {
    _Alignas(64) pthread_mutex_t mu;
    row_vec rows;
} usage_shard;

struct or_store {
    char *data_dir;
    unsigned char *key; /* sodium_malloc'd; read-only after open */
    /* Writer-thread only (after open): */
    sqlite3 *db;
    or_store_usage_stmts usage_ins;
    row_vec batch;     /* the rows of all shards, gathered for one transaction */
    size_t last_batch; /* rows in the previous one: the writer is behind when large */
    uint64_t snap_version;
    pthread_t writer;
    bool writer_started;
    or_ckpt *ckpt;

    pthread_mutex_t mu; /* guards rows_waiting, jobs, stopping */
    pthread_cond_t wake;
    pthread_cond_t done;
    bool rows_waiting; /* a shard got a row since the writer last looked */
    job *jobs_head, *jobs_tail;
    bool stopping;
    atomic_uint_least64_t dropped;
    usage_shard shards[USAGE_SHARDS];
    atomic_uint next_shard;

    /* Held only to read the pointer and take a reference, so a reader can never pick up a
     * snapshot whose last reference is being dropped by the swap. */
    pthread_mutex_t snap_mu;
    or_snapshot *snap;
};

/* ---- snapshot ---- */

or_snapshot *or_store_snapshot(or_store *s)
{
    pthread_mutex_lock(&s->snap_mu);
    or_snapshot *snap = s->snap;
    atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->snap_mu);
    return snap;
}

void or_snapshot_release(or_snapshot *snap)
{
    if (snap && atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1)
        or_store_db_snapshot_free(snap);
}

const or_conn *or_snapshot_conn(const or_snapshot *snap, const char *id)
{
    for (size_t i = 0; snap && id && i < snap->nconns; i++) {
        if (strcmp(snap->conns[i].id, id) == 0)
            return &snap->conns[i];
    }
    return NULL;
}

static or_err rebuild_snapshot(or_store *s, or_errbuf *eb)
{
    or_snapshot *snap = NULL;
    or_err rc = or_store_db_snapshot_load(s->db, s->key, &snap, eb);
    if (rc != OR_OK)
        return rc;
    snap->version = ++s->snap_version;
    pthread_mutex_lock(&s->snap_mu);
    or_snapshot *old = s->snap;
    s->snap = snap;
    pthread_mutex_unlock(&s->snap_mu);
    or_snapshot_release(old);
    return OR_OK;
}

/* ---- writer thread ---- */

static or_err run_conn_put(or_store *s, job *j)
{
    return or_store_db_conn_put(s->db, s->key, j->conn, j->id, or_clock_wall_ms(), &j->eb);
}

static or_err run_conn_delete(or_store *s, job *j)
{
    return or_store_db_conn_delete(s->db, j->id, &j->eb);
}

static or_err run_conn_status(or_store *s, job *j)
{
    return or_store_db_conn_set_status(s->db, j->id, j->text1, j->text2, or_clock_wall_ms(),
                                       &j->eb);
}

static or_err run_setting_set(or_store *s, job *j)
{
    return or_store_db_setting_set(s->db, j->text1, j->value, &j->eb);
}

/* Usage rows taken in the same pass are written before jobs run, so a flush completes after
 * every row queued before it. */
static or_err run_flush(or_store *s, job *j)
{
    (void)s;
    (void)j;
    return OR_OK;
}

static or_err run_with_db(or_store *s, job *j)
{
    or_err rc = j->fn(s->db, j->arg, &j->eb);
    if (rc == OR_OK && j->reload)
        rc = or_store_db_migrate(s->db, &j->eb);
    return rc;
}

static const struct {
    or_err (*run)(or_store *s, job *j);
    bool changes_config;
} handlers[JOB_KIND_COUNT] = {
    [JOB_CONN_PUT] = {run_conn_put, true},
    [JOB_CONN_DELETE] = {run_conn_delete, true},
    [JOB_CONN_STATUS] = {run_conn_status, true},
    [JOB_SETTING_SET] = {run_setting_set, true},
    [JOB_FLUSH] = {run_flush, false},
    [JOB_WITH_DB] = {run_with_db, false},
};

static bool changes_config(const job *j)
{
    return j->rc == OR_OK && (handlers[j->kind].changes_config || j->reload);
}

static void write_usage(or_store *s, const row_vec *batch)
{
    or_errbuf eb = {{0}};
    if (or_store_db_usage_write(s->db, &s->usage_ins, batch->rows, batch->len, &eb) != OR_OK)
        or_log_error("store: lost %zu usage rows: %s", batch->len, eb.msg);
}

/* Runs the jobs, rebuilds the snapshot once if any changed configuration (so the caller sees
 * its write in the next acquire), then wakes the callers. */
static void run_jobs(or_store *s, job *jobs)
{
    bool changed = false;
    for (job *j = jobs; j; j = j->next) {
        j->rc = handlers[j->kind].run(s, j);
        changed |= changes_config(j);
    }
    if (changed) {
        or_errbuf eb = {{0}};
        or_err rc = rebuild_snapshot(s, &eb);
        if (rc != OR_OK) {
            or_log_error("store: snapshot rebuild failed: %s", eb.msg);
            for (job *j = jobs; j; j = j->next) {
                if (changes_config(j)) {
                    j->rc = rc;
                    j->eb = eb;
                }
            }
        }
    }
    pthread_mutex_lock(&s->mu);
    for (job *j = jobs, *next; j; j = next) {
        next = j->next; /* j belongs to a caller that may return as soon as done is set */
        j->done = true;
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
}

static int reserve_rows(row_vec *q, size_t n, size_t max);

/* Moves every shard's rows into s->batch (writer thread). A shard's lock is held only for
 * the copy; rows that do not fit the batch's growth stay for the next pass. */
static void gather_rows(or_store *s)
{
    bool left = false;
    for (size_t i = 0; i < USAGE_SHARDS; i++) {
        usage_shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->mu);
        size_t n = sh->rows.len;
        if (n && reserve_rows(&s->batch, n, SIZE_MAX) == 0) {
            memcpy(s->batch.rows + s->batch.len, sh->rows.rows, n * sizeof *sh->rows.rows);
            s->batch.len += n;
            sh->rows.len = 0;
        } else if (n) {
            left = true; /* out of memory for the batch: the next pass tries again */
        }
        if (!sh->rows.len && sh->rows.cap > USAGE_KEEP) {
            free(sh->rows.rows);
            sh->rows = (row_vec){0};
        }
        pthread_mutex_unlock(&sh->mu);
    }
    if (left) {
        pthread_mutex_lock(&s->mu);
        s->rows_waiting = true;
        pthread_mutex_unlock(&s->mu);
    }
}

static void *writer_main(void *arg)
{
    or_store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && !s->rows_waiting && !s->jobs_head)
            pthread_cond_wait(&s->wake, &s->mu);
        s->rows_waiting = false;
        /* Group commit: rows arriving within GROUP_COMMIT_MS share one transaction (one WAL
         * append instead of one per request). Jobs and close cut the wait short: they signal
         * `wake`, while further rows do not. A writer that is behind does not wait. */
        if (!s->stopping && !s->jobs_head && s->last_batch < GROUP_COMMIT_MAX_ROWS) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += GROUP_COMMIT_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!s->stopping && !s->jobs_head &&
                   pthread_cond_timedwait(&s->wake, &s->mu, &until) == 0)
                ;
        }
        job *jobs = s->jobs_head;
        s->jobs_head = s->jobs_tail = NULL;
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);

        /* Taken after the jobs: a flush job finds every row queued before it in this batch. */
        gather_rows(s);
        row_vec *batch = &s->batch;
        bool idle = batch->len == 0 && !jobs;
        s->last_batch = batch->len;
        if (batch->len)
            write_usage(s, batch);
        batch->len = 0;
        if (batch->cap > USAGE_KEEP) {
            free(batch->rows);
            *batch = (row_vec){0};
        }
        if (jobs)
            run_jobs(s, jobs);
        if (stop && idle)
            break;
    }
    return NULL;
}

static or_err submit(or_store *s, job *j, or_errbuf *eb)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return or_fail(eb, OR_EUNAVAIL, "store is closing");
    }
    if (s->jobs_tail)
        s->jobs_tail->next = j;
    else
        s->jobs_head = j;
    s->jobs_tail = j;
    pthread_cond_signal(&s->wake);
    while (!j->done)
        pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (j->rc != OR_OK && eb)
        *eb = j->eb;
    return j->rc;
}

/* ---- open / close ---- */

static or_err mkdir_p(const char *dir, or_errbuf *eb)
{
    or_err rc = OR_OK;
    char *p = strdup(dir);
    struct stat st;
    if (!p)
        return or_fail(eb, OR_ENOMEM, "data dir");
    for (char *c = p + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = or_fail(eb, OR_EIO, "mkdir %s: %s", p, strerror(errno));
            goto out;
        }
        *c = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        rc = or_fail(eb, OR_EIO, "mkdir %s: %s", p, strerror(errno));
        goto out;
    }
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = or_fail(eb, OR_EIO, "%s is not a directory", p);
out:
    free(p);
    return rc;
}

static or_err start_writer(or_store *s, or_errbuf *eb)
{
    sigset_t all, old;
    /* Signals belong to the event loop threads, not to the writer. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&s->writer, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return or_fail(eb, OR_EINTERNAL, "pthread_create: %s", strerror(e));
    pthread_setname_np(s->writer, "or-store");
    s->writer_started = true;
    return OR_OK;
}

or_err or_store_open(const char *data_dir, or_store **out, or_errbuf *eb)
{
    or_err rc = OR_OK;
    char *db_path = NULL;
    or_store *s = NULL;
    *out = NULL;
    if (!data_dir || !*data_dir) {
        rc = or_fail(eb, OR_EINVAL, "DATA_DIR is empty");
        goto out;
    }
    if (sodium_init() < 0) {
        rc = or_fail(eb, OR_ECRYPTO, "sodium_init failed");
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = or_fail(eb, OR_ENOMEM, "store");
        goto out;
    }
    pthread_mutex_init(&s->mu, NULL);
    for (size_t i = 0; i < USAGE_SHARDS; i++)
        pthread_mutex_init(&s->shards[i].mu, NULL);
    pthread_mutex_init(&s->snap_mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->done, NULL);
    atomic_init(&s->dropped, 0);
    atomic_init(&s->next_shard, 0);
    if (!(s->data_dir = strdup(data_dir)) ||
        asprintf(&db_path, "%s/storage.sqlite", data_dir) < 0) {
        db_path = NULL;
        rc = or_fail(eb, OR_ENOMEM, "store");
        goto out;
    }
    if ((rc = mkdir_p(data_dir, eb)) != OR_OK ||
        (rc = or_store_key_load(data_dir, &s->key, eb)) != OR_OK ||
        (rc = or_store_db_open(db_path, &s->db, eb)) != OR_OK ||
        (rc = or_store_db_usage_prepare_all(s->db, &s->usage_ins, eb)) != OR_OK ||
        (rc = rebuild_snapshot(s, eb)) != OR_OK ||
        (rc = or_ckpt_start(db_path, s->db, &s->ckpt, eb)) != OR_OK || /* before the writer runs */
        (rc = start_writer(s, eb)) != OR_OK)
        goto out;
    or_log_info("store: opened %s (%zu connections)", db_path, s->snap->nconns);
out:
    free(db_path);
    if (rc != OR_OK)
        or_store_close(s);
    else
        *out = s;
    return rc;
}

void or_store_close(or_store *s)
{
    if (!s)
        return;
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
    }
    or_ckpt_stop(s->ckpt); /* before the writer connection closes (its hook points here) */
    uint64_t dropped = atomic_load(&s->dropped);
    if (dropped)
        or_log_warn("store: %llu usage rows were dropped (queue full)",
                    (unsigned long long)dropped);
    or_store_db_usage_finalize(&s->usage_ins);
    or_store_db_close(s->db);
    or_store_key_free(s->key);
    or_snapshot_release(s->snap);
    for (size_t i = 0; i < USAGE_SHARDS; i++) {
        free(s->shards[i].rows.rows);
        pthread_mutex_destroy(&s->shards[i].mu);
    }
    free(s->batch.rows);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->snap_mu);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->done);
    free(s->data_dir);
    free(s);
}

const char *or_store_data_dir(const or_store *s)
{
    return s->data_dir;
}

/* ---- synchronous writes ---- */

or_err or_store_conn_put(or_store *s, const or_conn *in, char id_out[37], or_errbuf *eb)
{
    char id[37];
    if (!in || !in->provider || !*in->provider)
        return or_fail(eb, OR_EINVAL, "connection needs a provider");
    if (in->priority < 0 || in->priority > 100)
        return or_fail(eb, OR_EINVAL, "priority must be 1..100");
    if (in->psd && !json_is_object(in->psd))
        return or_fail(eb, OR_EINVAL, "providerSpecificData must be an object");
    if (strnlen(in->id, sizeof in->id) == sizeof in->id)
        return or_fail(eb, OR_EINVAL, "connection id too long");
    if (in->id[0])
        memcpy(id, in->id, sizeof id);
    else
        or_uuid4(id);
    job j = {.kind = JOB_CONN_PUT, .conn = in, .id = id};
    or_err rc = submit(s, &j, eb);
    if (rc == OR_OK && id_out)
        memcpy(id_out, id, sizeof id);
    return rc;
}

or_err or_store_conn_delete(or_store *s, const char *id, or_errbuf *eb)
{
    if (!id || !*id)
        return or_fail(eb, OR_EINVAL, "connection id is empty");
    job j = {.kind = JOB_CONN_DELETE, .id = id};
    return submit(s, &j, eb);
}

or_err or_store_conn_set_status(or_store *s, const char *id, const char *test_status,
                                const char *last_error, or_errbuf *eb)
{
    if (!id || !*id || !test_status || !*test_status)
        return or_fail(eb, OR_EINVAL, "connection id and test status are required");
    job j = {.kind = JOB_CONN_STATUS, .id = id, .text1 = test_status, .text2 = last_error};
    return submit(s, &j, eb);
}

or_err or_store_setting_set(or_store *s, const char *key, json_t *value, or_errbuf *eb)
{
    if (!key || !*key)
        return or_fail(eb, OR_EINVAL, "setting key is empty");
    job j = {.kind = JOB_SETTING_SET, .text1 = key, .value = value};
    return submit(s, &j, eb);
}

/* A deep copy, not an incref: the snapshot's values are shared by every thread, and a caller
 * that edits what it got back must not change them. */
json_t *or_store_setting_get(or_store *s, const char *key)
{
    or_snapshot *snap = or_store_snapshot(s);
    json_t *v = key ? json_object_get(snap->settings, key) : NULL;
    json_t *copy = v ? json_deep_copy(v) : NULL;
    or_snapshot_release(snap);
    return copy;
}

/* ---- usage ---- */

/* 0 when q has room for n more rows without passing max. */
static int reserve_rows(row_vec *q, size_t n, size_t max)
{
    if (q->cap - q->len >= n)
        return 0;
    if (q->len + n > max)
        return -1;
    size_t ncap = q->cap ? q->cap : USAGE_FIRST;
    while (ncap < q->len + n)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    or_usage_row *grown = realloc(q->rows, ncap * sizeof *grown);
    if (!grown)
        return -1;
    q->rows = grown;
    q->cap = ncap;
    return 0;
}

/* The calling thread's shard, taken on its first row. A thread records for one store at a
 * time in practice; another store's index is as good as any. */
static usage_shard *my_shard(or_store *s)
{
    static _Thread_local unsigned idx = 0; /* shard index + 1; 0: none yet */
    if (!idx)
        idx = atomic_fetch_add(&s->next_shard, 1) % USAGE_SHARDS + 1;
    return &s->shards[idx - 1];
}

void or_store_usage_record(or_store *s, const or_usage_row *row)
{
    bool wake = false, dropped = false;
    usage_shard *sh = my_shard(s);
    pthread_mutex_lock(&sh->mu);
    if (reserve_rows(&sh->rows, 1, USAGE_SHARD_MAX) != 0) {
        dropped = true;
    } else {
        or_usage_row *r = &sh->rows.rows[sh->rows.len++];
        *r = *row;
        if (!r->ts_ms)
            r->ts_ms = or_clock_wall_ms();
        /* The writer empties every shard when it wakes: only a first row must wake it. */
        wake = sh->rows.len == 1;
    }
    pthread_mutex_unlock(&sh->mu);
    if (wake) {
        pthread_mutex_lock(&s->mu);
        s->rows_waiting = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
    }
    if (dropped) {
        uint64_t n = atomic_fetch_add(&s->dropped, 1) + 1;
        if (n == 1 || n % DROP_WARN_EVERY == 0)
            or_log_warn("store: usage queue full; %llu rows dropped so far", (unsigned long long)n);
    }
}

void or_store_flush(or_store *s)
{
    job j = {.kind = JOB_FLUSH};
    submit(s, &j, NULL);
}

uint64_t or_store_usage_dropped(const or_store *s)
{
    return atomic_load(&s->dropped);
}

/* ---- whole-database operations ---- */

or_err or_store_with_db(or_store *s, or_store_db_fn fn, void *arg, bool reload, or_errbuf *eb)
{
    if (!fn)
        return or_fail(eb, OR_EINVAL, "no function to run");
    job j = {.kind = JOB_WITH_DB, .fn = fn, .arg = arg, .reload = reload};
    return submit(s, &j, eb);
}

or_err or_store_snapshot_load_db(or_store *s, sqlite3 *db, or_snapshot **out, or_errbuf *eb)
{
    if (!db || !out)
        return or_fail(eb, OR_EINVAL, "no database");
    return or_store_db_snapshot_load(db, s->key, out, eb);
}

/* ---- secrets and connection copies ---- */

or_err or_store_seal(or_store *s, const char *plain, char **out)
{
    if (!plain || !out)
        return OR_EINVAL;
    return or_store_key_seal(s->key, plain, out);
}

or_err or_store_unseal(or_store *s, const char *sealed, char **out)
{
    if (!sealed || !out)
        return OR_EINVAL;
    return or_store_key_unseal(s->key, sealed, out);
}

static int dup_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return (src && !*dst) ? -1 : 0;
}

or_err or_conn_copy(or_conn *dst, const or_conn *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst->id, src->id, sizeof dst->id);
    dst->priority = src->priority;
    dst->active = src->active;
    dst->created_at = src->created_at;
    dst->updated_at = src->updated_at;
    dst->psd = src->psd ? json_deep_copy(src->psd) : json_object();
    if (!dst->psd || dup_str(&dst->provider, src->provider) || dup_str(&dst->name, src->name) ||
        dup_str(&dst->auth_type, src->auth_type) || dup_str(&dst->api_key, src->api_key) ||
        dup_str(&dst->default_model, src->default_model) ||
        dup_str(&dst->test_status, src->test_status) ||
        dup_str(&dst->last_error, src->last_error)) {
        or_conn_clear(dst);
        return OR_ENOMEM;
    }
    return OR_OK;
}

void or_conn_clear(or_conn *c)
{
    if (!c)
        return;
    if (c->api_key) {
        sodium_memzero(c->api_key, strlen(c->api_key));
        free(c->api_key);
    }
    free(c->provider);
    free(c->name);
    free(c->auth_type);
    free(c->default_model);
    free(c->test_status);
    free(c->last_error);
    json_decref(c->psd);
    memset(c, 0, sizeof *c);
}
