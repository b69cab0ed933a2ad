/*
 * checkpoint.c — WAL checkpoints on an idle-class thread (see checkpoint.h).
 */
#include "store/checkpoint.h"

#include "core/log.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct or_ckpt {
    sqlite3 *writer;
    sqlite3 *db; /* the checkpointer's own connection */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stopping;
};

/* Writer thread, after each commit: only when the idle checkpointer has fallen far behind. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)arg;
    if (frames >= OR_CKPT_FALLBACK_FRAMES)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    or_ckpt *c = arg;
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
        or_log_debug("store: SCHED_IDLE refused; checkpoints run at normal priority");
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += OR_CKPT_INTERVAL_MS / 1000;
        while (!c->stopping && pthread_cond_timedwait(&c->wake, &c->mu, &until) == 0)
            ;
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->mu);
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            or_log_warn("store: checkpoint: %s", sqlite3_errmsg(c->db));
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

or_err or_ckpt_start(const char *db_path, sqlite3 *writer, or_ckpt **out, or_errbuf *eb)
{
    or_err rc = OR_OK;
    *out = NULL;
    or_ckpt *c = calloc(1, sizeof *c);
    if (!c)
        return or_fail(eb, OR_ENOMEM, "checkpointer");
    c->writer = writer;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (sqlite3_open_v2(db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = or_fail(eb, OR_EDB, "checkpoint connection: %s",
                     c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto out;
    }
    /* A connection learns that the database is in WAL mode on its first read; until then a
     * checkpoint on it is a silent no-op. */
    if (sqlite3_exec(c->db, "PRAGMA journal_mode", NULL, NULL, NULL) != SQLITE_OK) {
        rc = or_fail(eb, OR_EDB, "checkpoint connection: %s", sqlite3_errmsg(c->db));
        goto out;
    }
    sigset_t all, old;
    sigfillset(&all); /* signals belong to the event loop threads */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&c->thread, NULL, ckpt_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        rc = or_fail(eb, OR_EINTERNAL, "pthread_create: %s", strerror(e));
        goto out;
    }
    pthread_setname_np(c->thread, "or-ckpt");
    /* Replaces SQLite's automatic checkpoint on the writer connection. */
    sqlite3_wal_hook(writer, on_wal, NULL);
out:
    if (rc != OR_OK) {
        sqlite3_close(c->db);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->wake);
        free(c);
        return rc;
    }
    *out = c;
    return OR_OK;
}

void or_ckpt_stop(or_ckpt *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_wal_autocheckpoint(c->writer, 1000); /* back to SQLite's own, for the close */
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    free(c);
}
