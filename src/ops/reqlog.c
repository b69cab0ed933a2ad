#include "ops/reqlog.h"

#include "core/log.h"
#include "store/logs_db.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_KEEP 10000
#define DEFAULT_QUEUE 4096
/* An entry waits at most this long for others to share its commit. */
#define BATCH_WAIT_MS 50
#define FLUSH_WAIT_MS 1000

struct or_reqlog {
    or_reqlog_limits lim;
    sqlite3 *wdb; /* writer thread only */
    pthread_t writer;
    bool started;

    pthread_mutex_t mu; /* guards the queue, the sequence numbers and stopping */
    pthread_cond_t wake, written;
    json_t **queue;
    size_t qlen;
    uint64_t queued_seq, written_seq;
    bool stopping;
    bool flushing; /* a caller waits: write now instead of waiting for more */
    atomic_uint_least64_t dropped;

    pthread_mutex_t read_mu; /* serializes rdb */
    sqlite3 *rdb;
};

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static const char *str_of(json_t *e, const char *key)
{
    return json_string_value(json_object_get(e, key));
}

static void write_batch(or_reqlog *l, json_t **batch, size_t n)
{
    or_logs_db_row *rows = calloc(n, sizeof *rows);
    char **texts = calloc(n, sizeof *texts);
    or_errbuf eb = {{0}};
    if (!rows || !texts) {
        or_log_error("request logs: out of memory; %zu entries lost", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = batch[i];
        texts[i] = json_dumps(e, JSON_COMPACT);
        rows[i] = (or_logs_db_row){
            .ts_ms = (int64_t)json_integer_value(json_object_get(e, "ts")),
            .request_id = str_of(e, "requestId"),
            .method = str_of(e, "method"),
            .path = str_of(e, "path"),
            .status = (int)json_integer_value(json_object_get(e, "status")),
            .provider = str_of(e, "provider"),
            .model = str_of(e, "model"),
            .latency_ms = (uint32_t)json_integer_value(json_object_get(e, "latencyMs")),
            .entry = texts[i],
        };
    }
    if (or_logs_db_insert(l->wdb, rows, n, l->lim.keep_rows, &eb) != OR_OK)
        or_log_error("request logs: %zu entries lost: %s", n, eb.msg);
out:
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(rows);
}

static void *writer_main(void *arg)
{
    or_reqlog *l = arg;
    json_t **batch = calloc(l->lim.queue_max, sizeof *batch);
    if (!batch)
        abort(); /* sized at open; nothing sensible to continue with */
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!l->stopping && l->qlen == 0)
            pthread_cond_wait(&l->wake, &l->mu);
        if (!l->stopping) {
            /* Let a burst share one commit; a stop or a flush cuts the wait short. */
            struct timespec until;
            deadline_in(&until, BATCH_WAIT_MS);
            while (!l->stopping && !l->flushing && l->qlen < l->lim.queue_max / 2 &&
                   pthread_cond_timedwait(&l->wake, &l->mu, &until) == 0)
                ;
        }
        size_t n = l->qlen;
        memcpy(batch, l->queue, n * sizeof *batch);
        l->qlen = 0;
        l->flushing = false;
        uint64_t seq = l->queued_seq;
        bool stop = l->stopping;
        pthread_mutex_unlock(&l->mu);

        if (n)
            write_batch(l, batch, n);
        for (size_t i = 0; i < n; i++)
            json_decref(batch[i]);

        pthread_mutex_lock(&l->mu);
        l->written_seq = seq;
        pthread_cond_broadcast(&l->written);
        bool done = stop && l->qlen == 0;
        pthread_mutex_unlock(&l->mu);
        if (done)
            break;
    }
    free(batch);
    return NULL;
}

or_err or_reqlog_open(const char *data_dir, const or_reqlog_limits *lim, or_reqlog **out,
                      or_errbuf *eb)
{
    or_err rc = OR_OK;
    *out = NULL;
    or_reqlog *l = calloc(1, sizeof *l);
    if (!l)
        return or_fail(eb, OR_ENOMEM, "request logs");
    l->lim.keep_rows = lim && lim->keep_rows ? lim->keep_rows : DEFAULT_KEEP;
    l->lim.queue_max = lim && lim->queue_max ? lim->queue_max : DEFAULT_QUEUE;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->read_mu, NULL);
    pthread_cond_init(&l->wake, NULL);
    pthread_cond_init(&l->written, NULL);
    atomic_init(&l->dropped, 0);
    if (!(l->queue = calloc(l->lim.queue_max, sizeof *l->queue))) {
        rc = or_fail(eb, OR_ENOMEM, "request logs");
        goto out;
    }
    if ((rc = or_logs_db_open(data_dir, false, &l->wdb, eb)) != OR_OK ||
        (rc = or_logs_db_open(data_dir, true, &l->rdb, eb)) != OR_OK)
        goto out;
    sigset_t all, old;
    sigfillset(&all); /* signals belong to the server's threads */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&l->writer, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        rc = or_fail(eb, OR_EINTERNAL, "request logs: cannot start the writer thread");
        goto out;
    }
    pthread_setname_np(l->writer, "or-reqlog");
    l->started = true;
out:
    if (rc != OR_OK)
        or_reqlog_close(l);
    else
        *out = l;
    return rc;
}

void or_reqlog_close(or_reqlog *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_cond_signal(&l->wake);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->writer, NULL);
    }
    for (size_t i = 0; i < l->qlen; i++)
        json_decref(l->queue[i]);
    uint64_t dropped = atomic_load(&l->dropped);
    if (dropped)
        or_log_warn("request logs: %llu entries were dropped (queue full)",
                    (unsigned long long)dropped);
    or_logs_db_close(l->wdb);
    or_logs_db_close(l->rdb);
    free(l->queue);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->read_mu);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->written);
    free(l);
}

void or_reqlog_add(or_reqlog *l, json_t *entry)
{
    if (!l || !entry) {
        json_decref(entry);
        return;
    }
    bool dropped = false;
    pthread_mutex_lock(&l->mu);
    if (l->stopping || l->qlen >= l->lim.queue_max) {
        dropped = true;
    } else {
        l->queue[l->qlen++] = entry;
        l->queued_seq++;
        if (l->qlen == 1 || l->qlen >= l->lim.queue_max / 2)
            pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&l->mu);
    if (dropped) {
        json_decref(entry);
        atomic_fetch_add(&l->dropped, 1);
    }
}

void or_reqlog_flush(or_reqlog *l)
{
    if (!l)
        return;
    struct timespec until;
    deadline_in(&until, FLUSH_WAIT_MS);
    pthread_mutex_lock(&l->mu);
    uint64_t target = l->queued_seq;
    l->flushing = true;
    pthread_cond_signal(&l->wake);
    while (l->written_seq < target && pthread_cond_timedwait(&l->written, &l->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&l->mu);
}

or_err or_reqlog_list(or_reqlog *l, unsigned limit, unsigned offset, json_t **out, int64_t *total,
                      or_errbuf *eb)
{
    pthread_mutex_lock(&l->read_mu);
    or_err rc = or_logs_db_list(l->rdb, limit, offset, out, total, eb);
    pthread_mutex_unlock(&l->read_mu);
    return rc;
}

uint64_t or_reqlog_dropped(or_reqlog *l)
{
    return l ? atomic_load(&l->dropped) : 0;
}
