/* Per-connection limits with explicit time: token-bucket rpm, minimum gap, max concurrent,
 * the bounded FIFO of waiters, rejects with a Retry-After estimate, lost waiters, and a
 * thread race that must never exceed the concurrency cap. */
#include "check.h"

#include "resilience/limiter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static or_limiter_verdict try_at(or_limiter_reg *r, const char *id, uint64_t now,
                                 or_limiter_ticket *t, uint64_t *w)
{
    return or_limiter_try(r, id, now, t, w);
}

static void test_unconfigured(void)
{
    or_limiter_reg *r = or_limiter_new();
    uint64_t w = 7;
    for (int i = 0; i < 1000; i++) {
        or_limiter_ticket t = {0};
        CHECK(try_at(r, "c", 1000, &t, &w) == OR_LIMIT_OK && w == 0);
        or_limiter_release(r, "c", &t);
    }
    const or_limiter_conf *d = or_limiter_apikey_default();
    CHECK(d->rpm == 100 && d->min_gap_ms == 200 && d->max_concurrent == 10);
    or_limiter_conf c;
    CHECK(!or_limiter_get_conf(r, "c", &c));
    or_limiter_conf big = {0, 0, 0, OR_LIMITER_QUEUE_MAX + 1, 0};
    CHECK(or_limiter_configure(r, "c", &big) == OR_EINVAL);
    or_limiter_free(r);
}

static void test_rpm(void)
{
    or_limiter_reg *r = or_limiter_new();
    or_limiter_conf c = {.rpm = 2, .max_queue = 5, .max_wait_ms = 60000};
    CHECK(or_limiter_configure(r, "c", &c) == OR_OK);
    uint64_t w;
    or_limiter_ticket a = {0}, b = {0}, x = {0};
    CHECK(try_at(r, "c", 1000, &a, &w) == OR_LIMIT_OK); /* burst up to rpm */
    CHECK(try_at(r, "c", 1000, &b, &w) == OR_LIMIT_OK);
    CHECK(try_at(r, "c", 1000, &x, &w) == OR_LIMIT_WAIT && w == 30000); /* one token per 30 s */
    CHECK(x.id != 0);
    CHECK(try_at(r, "c", 20000, &x, &w) == OR_LIMIT_WAIT && w == 11000);
    CHECK(try_at(r, "c", 31000, &x, &w) == OR_LIMIT_OK && x.id == 0);
    or_limiter_release(r, "c", &a);
    or_limiter_release(r, "c", &b);
    or_limiter_release(r, "c", &x);
    /* a wait beyond max_wait is refused at once, with the estimate for a Retry-After */
    c.max_wait_ms = 1000;
    or_limiter_configure(r, "c", &c);
    or_limiter_ticket y = {0};
    CHECK(try_at(r, "c", 31000, &y, &w) == OR_LIMIT_REJECT && w == 30000 && y.id == 0);
    or_limiter_conf got;
    CHECK(or_limiter_get_conf(r, "c", &got) && got.rpm == 2 && got.max_wait_ms == 1000);
    or_limiter_free(r);
}

static void test_gap(void)
{
    or_limiter_reg *r = or_limiter_new();
    or_limiter_conf c = {.min_gap_ms = 200, .max_queue = 5, .max_wait_ms = 5000};
    or_limiter_configure(r, "c", &c);
    uint64_t w;
    or_limiter_ticket a = {0}, b = {0};
    CHECK(try_at(r, "c", 1000, &a, &w) == OR_LIMIT_OK);
    CHECK(try_at(r, "c", 1050, &b, &w) == OR_LIMIT_WAIT && w == 150);
    CHECK(try_at(r, "c", 1199, &b, &w) == OR_LIMIT_WAIT && w == 1);
    CHECK(try_at(r, "c", 1200, &b, &w) == OR_LIMIT_OK);
    or_limiter_release(r, "c", &a);
    or_limiter_release(r, "c", &b);
    or_limiter_release(r, "c", &b); /* twice is harmless */
    or_limiter_free(r);
}

static void test_concurrency_fifo(void)
{
    or_limiter_reg *r = or_limiter_new();
    or_limiter_conf c = {.max_concurrent = 1, .max_queue = 2, .max_wait_ms = 1000};
    or_limiter_configure(r, "c", &c);
    uint64_t w;
    or_limiter_ticket a = {0}, b = {0}, d = {0}, e = {0};
    CHECK(try_at(r, "c", 100, &a, &w) == OR_LIMIT_OK && a.held);
    CHECK(try_at(r, "c", 100, &b, &w) == OR_LIMIT_WAIT && w == OR_LIMITER_POLL_MS);
    CHECK(try_at(r, "c", 101, &d, &w) == OR_LIMIT_WAIT);
    /* the queue holds 2: a third waiter is turned away */
    CHECK(try_at(r, "c", 102, &e, &w) == OR_LIMIT_REJECT && e.id == 0);
    json_t *j = or_limiter_export(r, 102);
    json_t *o = json_object_get(j, "c");
    CHECK(json_integer_value(json_object_get(o, "in_flight")) == 1);
    CHECK(json_integer_value(json_object_get(o, "queued")) == 2);
    CHECK(json_integer_value(json_object_get(o, "max_concurrent")) == 1);
    json_decref(j);
    or_limiter_release(r, "c", &a);
    CHECK(!a.held);
    /* first come, first served: d polls first but b is ahead */
    CHECK(try_at(r, "c", 110, &d, &w) == OR_LIMIT_WAIT && w == OR_LIMITER_POLL_MS);
    CHECK(try_at(r, "c", 111, &b, &w) == OR_LIMIT_OK);
    /* a newcomer does not jump the queue either */
    or_limiter_release(r, "c", &b);
    or_limiter_ticket f = {0};
    CHECK(try_at(r, "c", 112, &f, &w) == OR_LIMIT_WAIT);
    CHECK(try_at(r, "c", 113, &d, &w) == OR_LIMIT_OK);
    /* f gives up; the queue is empty again */
    or_limiter_cancel(r, "c", &f);
    CHECK(f.id == 0);
    or_limiter_release(r, "c", &d);
    or_limiter_ticket g = {0};
    CHECK(try_at(r, "c", 114, &g, &w) == OR_LIMIT_OK);
    /* waiting past max_wait is a reject */
    or_limiter_ticket h = {0};
    CHECK(try_at(r, "c", 200, &h, &w) == OR_LIMIT_WAIT);
    CHECK(try_at(r, "c", 1190, &h, &w) == OR_LIMIT_WAIT && w == 10); /* never past the limit */
    CHECK(try_at(r, "c", 1200, &h, &w) == OR_LIMIT_REJECT && h.id == 0);
    /* a waiter that stops polling is evicted and does not block the queue */
    or_limiter_ticket lost = {0}, k = {0};
    CHECK(try_at(r, "c", 2000, &lost, &w) == OR_LIMIT_WAIT);
    CHECK(try_at(r, "c", 2001, &k, &w) == OR_LIMIT_WAIT);
    or_limiter_release(r, "c", &g);
    CHECK(try_at(r, "c", 2500, &k, &w) == OR_LIMIT_WAIT); /* lost is still ahead */
    /* past lost's deadline (plus grace) it is dropped and k, next in line, is served */
    CHECK(try_at(r, "c", 2000 + 1000 + 4 * OR_LIMITER_POLL_MS + 1, &k, &w) == OR_LIMIT_OK);
    or_limiter_release(r, "c", &k);
    or_limiter_ticket n = {0};
    CHECK(try_at(r, "c", 3200, &n, &w) == OR_LIMIT_OK);
    /* the lost one coming back late is a stranger: it queues again */
    CHECK(try_at(r, "c", 3201, &lost, &w) == OR_LIMIT_WAIT && lost.since == 3201);
    or_limiter_cancel(r, "c", &lost);
    or_limiter_release(r, "c", &n);
    /* no queue at all: a busy connection rejects at once */
    c.max_queue = 0;
    or_limiter_configure(r, "c", &c);
    or_limiter_ticket p = {0}, q = {0};
    CHECK(try_at(r, "c", 4000, &p, &w) == OR_LIMIT_OK);
    CHECK(try_at(r, "c", 4000, &q, &w) == OR_LIMIT_REJECT && w == 0);
    /* unconfigure while busy: unlimited at once, deleted when idle */
    CHECK(or_limiter_configure(r, "c", NULL) == OR_OK);
    CHECK(try_at(r, "c", 4001, &q, &w) == OR_LIMIT_OK && !q.held);
    j = or_limiter_export(r, 4001);
    CHECK(json_object_size(j) == 0);
    json_decref(j);
    or_limiter_release(r, "c", &p);
    or_limiter_conf got;
    CHECK(!or_limiter_get_conf(r, "c", &got));
    or_limiter_free(r);
}

typedef struct {
    or_limiter_reg *r;
    _Atomic int inside, max_inside, ok, rejected;
    _Atomic uint64_t now;
} race;

static void *worker(void *ud)
{
    race *rc = ud;
    for (int i = 0; i < 2000; i++) {
        or_limiter_ticket t = {0};
        uint64_t w;
        or_limiter_verdict v;
        while ((v = or_limiter_try(rc->r, "c", atomic_fetch_add(&rc->now, 1), &t, &w)) ==
               OR_LIMIT_WAIT)
            ;
        if (v == OR_LIMIT_REJECT) {
            atomic_fetch_add(&rc->rejected, 1);
            continue;
        }
        int in = atomic_fetch_add(&rc->inside, 1) + 1;
        int m = atomic_load(&rc->max_inside);
        while (in > m && !atomic_compare_exchange_weak(&rc->max_inside, &m, in))
            ;
        atomic_fetch_sub(&rc->inside, 1);
        or_limiter_release(rc->r, "c", &t);
        atomic_fetch_add(&rc->ok, 1);
    }
    return NULL;
}

static void test_threads(void)
{
    race rc = {.r = or_limiter_new(), .now = 1};
    or_limiter_conf c = {.max_concurrent = 3, .max_queue = 8, .max_wait_ms = 1000000};
    or_limiter_configure(rc.r, "c", &c);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, worker, &rc);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&rc.max_inside) <= 3);
    CHECK(atomic_load(&rc.ok) + atomic_load(&rc.rejected) == 16000);
    CHECK(atomic_load(&rc.ok) > 0);
    json_t *j = or_limiter_export(rc.r, atomic_load(&rc.now));
    json_t *o = json_object_get(j, "c");
    CHECK(json_integer_value(json_object_get(o, "in_flight")) == 0);
    CHECK(json_integer_value(json_object_get(o, "queued")) == 0);
    json_decref(j);
    or_limiter_free(rc.r);
}

int main(void)
{
    test_unconfigured();
    test_rpm();
    test_gap();
    test_concurrency_fifo();
    test_threads();
    return check_done();
}
