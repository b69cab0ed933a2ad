#include "resilience/limiter.h"

#include "resilience/keymap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define UNIT 60000u /* one request in bucket units: rpm units refill per ms */

static const or_limiter_conf apikey_default = {100, 200, 10, 20, 30000};

typedef struct {
    uint64_t id, since;
} waiter;

typedef struct {
    or_limiter_conf conf;
    bool removed; /* unconfigured; deleted once idle */
    uint64_t tokens, last_refill, last_start;
    uint32_t in_flight;
    uint32_t qhead, qlen;
    waiter q[OR_LIMITER_QUEUE_MAX];
} lim;

struct or_limiter_reg {
    pthread_mutex_t mu;
    or_keymap map;
    uint64_t next_ticket;
};

or_limiter_reg *or_limiter_new(void)
{
    or_limiter_reg *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    or_keymap_init(&reg->map, sizeof(lim));
    return reg;
}

void or_limiter_free(or_limiter_reg *reg)
{
    if (!reg)
        return;
    or_keymap_free(&reg->map);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

const or_limiter_conf *or_limiter_apikey_default(void)
{
    return &apikey_default;
}

static bool limited(const lim *l)
{
    return !l->removed && (l->conf.rpm || l->conf.min_gap_ms || l->conf.max_concurrent);
}

static void delete_if_idle(or_limiter_reg *reg, const char *conn_id, lim *l)
{
    if (l->removed && !l->in_flight && !l->qlen)
        or_keymap_del(&reg->map, conn_id);
}

or_err or_limiter_configure(or_limiter_reg *reg, const char *conn_id, const or_limiter_conf *c)
{
    or_err rc = OR_OK;
    if (!conn_id || (c && c->max_queue > OR_LIMITER_QUEUE_MAX))
        return OR_EINVAL;
    pthread_mutex_lock(&reg->mu);
    lim *l = c ? or_keymap_put(&reg->map, conn_id, NULL) : or_keymap_get(&reg->map, conn_id);
    if (!l) {
        rc = c ? OR_ENOMEM : OR_OK;
        goto out;
    }
    if (c) {
        if (l->conf.rpm != c->rpm)
            l->last_refill = 0; /* a new rate starts with a full bucket */
        l->conf = *c;
        l->removed = false;
    } else {
        memset(&l->conf, 0, sizeof l->conf);
        l->removed = true;
        delete_if_idle(reg, conn_id, l);
    }
out:
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

bool or_limiter_get_conf(or_limiter_reg *reg, const char *conn_id, or_limiter_conf *out)
{
    pthread_mutex_lock(&reg->mu);
    const lim *l = or_keymap_get(&reg->map, conn_id);
    bool found = l && !l->removed;
    if (found)
        *out = l->conf;
    pthread_mutex_unlock(&reg->mu);
    return found;
}

/* ---- the queue: a ring of waiters, FIFO ---- */

static waiter *q_at(lim *l, uint32_t i)
{
    return &l->q[(l->qhead + i) % OR_LIMITER_QUEUE_MAX];
}

static void q_remove(lim *l, uint64_t id)
{
    uint32_t i = 0;
    while (i < l->qlen && q_at(l, i)->id != id)
        i++;
    if (i == l->qlen)
        return;
    for (; i + 1 < l->qlen; i++)
        *q_at(l, i) = *q_at(l, i + 1);
    l->qlen--;
}

/* Waiters past their deadline (plus a poll's grace) stopped asking: drop them. */
static void q_evict(lim *l, uint64_t now)
{
    uint64_t limit = (uint64_t)l->conf.max_wait_ms + 4 * OR_LIMITER_POLL_MS;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < l->qlen; i++) {
        waiter w = *q_at(l, i);
        if (now < w.since || now - w.since <= limit)
            *q_at(l, keep++) = w;
    }
    l->qlen = keep;
}

static void refill(lim *l, uint64_t now)
{
    uint64_t cap = (uint64_t)l->conf.rpm * UNIT;
    if (!l->last_refill) {
        l->tokens = cap;
    } else if (now - l->last_refill >= 60000 && now > l->last_refill) {
        l->tokens = cap; /* a full minute refills any bucket (and the product cannot overflow) */
    } else if (now > l->last_refill) {
        uint64_t add = (now - l->last_refill) * l->conf.rpm;
        l->tokens = add >= cap - l->tokens ? cap : l->tokens + add;
    }
    if (!l->last_refill || now > l->last_refill)
        l->last_refill = now ? now : 1;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* The time until rate and gap allow a start (known exactly), and whether concurrency blocks
 * (not known). */
static uint64_t known_wait(const lim *l, uint64_t now, bool *conc_full)
{
    uint64_t w = 0;
    if (l->conf.rpm && l->tokens < UNIT)
        w = (UNIT - l->tokens + l->conf.rpm - 1) / l->conf.rpm;
    if (l->conf.min_gap_ms && l->last_start && now < l->last_start + l->conf.min_gap_ms)
        w = max_u64(w, l->last_start + l->conf.min_gap_ms - now);
    *conc_full = l->conf.max_concurrent && l->in_flight >= l->conf.max_concurrent;
    return w;
}

or_limiter_verdict or_limiter_try(or_limiter_reg *reg, const char *conn_id, uint64_t now,
                                  or_limiter_ticket *t, uint64_t *wait_ms)
{
    or_limiter_verdict v = OR_LIMIT_OK;
    uint64_t wait = 0;
    pthread_mutex_lock(&reg->mu);
    lim *l = or_keymap_get(&reg->map, conn_id);
    if (!l || !limited(l)) {
        if (l && t->id) {
            q_remove(l, t->id);
            delete_if_idle(reg, conn_id, l);
        }
        t->id = 0;
        goto out;
    }
    refill(l, now);
    q_evict(l, now);
    if (t->id) { /* evicted while away, or this registry never saw it: queue again */
        uint32_t i = 0;
        while (i < l->qlen && q_at(l, i)->id != t->id)
            i++;
        if (i == l->qlen)
            t->id = 0;
    }
    bool conc_full;
    uint64_t known = known_wait(l, now, &conc_full);
    bool my_turn = t->id ? q_at(l, 0)->id == t->id : l->qlen == 0;
    if (my_turn && !known && !conc_full) {
        if (l->conf.rpm)
            l->tokens -= UNIT;
        l->last_start = now ? now : 1;
        l->in_flight++;
        if (t->id)
            q_remove(l, t->id);
        t->id = 0;
        t->held = true;
        goto out;
    }
    uint64_t waited = t->id && now > t->since ? now - t->since : 0;
    if (waited + known > l->conf.max_wait_ms || waited >= l->conf.max_wait_ms ||
        (!t->id && l->qlen >= l->conf.max_queue)) {
        if (t->id)
            q_remove(l, t->id);
        t->id = 0;
        v = OR_LIMIT_REJECT;
        wait = known;
        goto out;
    }
    if (!t->id) {
        t->id = ++reg->next_ticket;
        t->since = now;
        *q_at(l, l->qlen++) = (waiter){t->id, now};
    }
    v = OR_LIMIT_WAIT;
    wait = known;
    if (conc_full || !my_turn)
        wait = max_u64(wait, OR_LIMITER_POLL_MS);
    if (wait > l->conf.max_wait_ms - waited)
        wait = l->conf.max_wait_ms - waited;
    if (!wait)
        wait = 1;
out:
    pthread_mutex_unlock(&reg->mu);
    if (wait_ms)
        *wait_ms = wait;
    return v;
}

void or_limiter_cancel(or_limiter_reg *reg, const char *conn_id, or_limiter_ticket *t)
{
    if (!t->id)
        return;
    pthread_mutex_lock(&reg->mu);
    lim *l = or_keymap_get(&reg->map, conn_id);
    if (l) {
        q_remove(l, t->id);
        delete_if_idle(reg, conn_id, l);
    }
    t->id = 0;
    pthread_mutex_unlock(&reg->mu);
}

void or_limiter_release(or_limiter_reg *reg, const char *conn_id, or_limiter_ticket *t)
{
    if (!t->held)
        return;
    t->held = false;
    pthread_mutex_lock(&reg->mu);
    lim *l = or_keymap_get(&reg->map, conn_id);
    if (l) {
        if (l->in_flight)
            l->in_flight--;
        delete_if_idle(reg, conn_id, l);
    }
    pthread_mutex_unlock(&reg->mu);
}

json_t *or_limiter_export(or_limiter_reg *reg, uint64_t now)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    pthread_mutex_lock(&reg->mu);
    or_keymap_iter it = {0};
    const char *id;
    lim *l;
    while ((l = or_keymap_next(&reg->map, &it, &id))) {
        if (l->removed)
            continue;
        refill(l, now);
        json_t *o =
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rpm", (json_int_t)l->conf.rpm,
                      "min_gap_ms", (json_int_t)l->conf.min_gap_ms, "max_concurrent",
                      (json_int_t)l->conf.max_concurrent, "max_queue",
                      (json_int_t)l->conf.max_queue, "max_wait_ms", (json_int_t)l->conf.max_wait_ms,
                      "in_flight", (json_int_t)l->in_flight, "queued", (json_int_t)l->qlen,
                      "tokens", (json_int_t)(l->conf.rpm ? l->tokens / UNIT : 0));
        if (!o || json_object_set_new(root, id, o) != 0) {
            json_decref(root);
            root = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return root;
}
