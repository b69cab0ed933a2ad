#include "gateway/routing.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LATENCY_SAMPLES 1024

typedef struct {
    char conn[40];
    unsigned count;
} streak;

typedef struct {
    uint32_t ms[LATENCY_SAMPLES];
    uint32_t n;    /* samples kept (≤ LATENCY_SAMPLES) */
    uint32_t next; /* ring position */
} latency_ring;

/* ---- per-thread memo of the last key found in each map ---- */

enum { M_RR, M_USED, M_LATENCY, M_STREAK, NMAPS };

typedef struct {
    uint64_t gen; /* the routing it was found in; 0 = empty */
    void *slot;
    char key[64]; /* longer keys are not remembered */
} memo;

static _Thread_local memo memos[NMAPS];
static atomic_uint_fast64_t last_gen;

static void *remember(const or_routing *r, size_t which, const char *key, void *slot)
{
    size_t n = strlen(key);
    if (slot && n < sizeof memos[which].key) {
        memcpy(memos[which].key, key, n + 1);
        memos[which].gen = r->gen;
        memos[which].slot = slot;
    }
    return slot;
}

static void *recalled(const or_routing *r, size_t which, const char *key)
{
    const memo *m = &memos[which];
    return m->gen == r->gen && strcmp(m->key, key) == 0 ? m->slot : NULL;
}

/* or_keymap_get / or_keymap_put through the memo; the caller holds r->lock. */
static void *map_get(or_routing *r, or_keymap *map, size_t which, const char *key)
{
    void *v = recalled(r, which, key);
    return v ? v : remember(r, which, key, or_keymap_get(map, key));
}

static void *map_put(or_routing *r, or_keymap *map, size_t which, const char *key)
{
    void *v = recalled(r, which, key);
    return v ? v : remember(r, which, key, or_keymap_put(map, key, NULL));
}

or_err or_routing_init(or_routing *r)
{
    memset(r, 0, sizeof *r);
    r->gen = atomic_fetch_add(&last_gen, 1) + 1;
    or_err e = or_resilience_init(&r->res);
    if (e != OR_OK)
        return e;
    r->plans = or_route_state_new();
    if (!r->plans) {
        or_resilience_cleanup(&r->res);
        return OR_ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    or_keymap_init(&r->rr, sizeof(or_account_rr));
    or_keymap_init(&r->used, sizeof(int64_t));
    or_keymap_init(&r->latency, sizeof(latency_ring));
    or_keymap_init(&r->streak, sizeof(streak));
    return OR_OK;
}

void or_routing_free(or_routing *r)
{
    if (!r->plans)
        return;
    or_route_state_free(r->plans);
    or_resilience_cleanup(&r->res);
    or_keymap_free(&r->rr);
    or_keymap_free(&r->used);
    or_keymap_free(&r->latency);
    or_keymap_free(&r->streak);
    pthread_mutex_destroy(&r->lock);
    r->plans = NULL;
}

void or_routing_touch(or_routing *r, const char *conn, int64_t now_ms)
{
    pthread_mutex_lock(&r->lock);
    int64_t *v = map_put(r, &r->used, M_USED, conn);
    if (v)
        *v = now_ms;
    pthread_mutex_unlock(&r->lock);
}

void or_routing_latency(or_routing *r, const char *provider, uint32_t ms)
{
    pthread_mutex_lock(&r->lock);
    latency_ring *ring = map_put(r, &r->latency, M_LATENCY, provider);
    if (ring) {
        ring->ms[ring->next] = ms;
        ring->next = (ring->next + 1) % LATENCY_SAMPLES;
        if (ring->n < LATENCY_SAMPLES)
            ring->n++;
    }
    pthread_mutex_unlock(&r->lock);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t percentile(const uint32_t *sorted, uint32_t n, unsigned pct)
{
    uint32_t rank = (uint32_t)(((uint64_t)n * pct + 99) / 100); /* nearest rank */
    return sorted[rank ? rank - 1 : 0];
}

json_t *or_routing_latency_export(or_routing *r)
{
    json_t *out = json_object();
    uint32_t tmp[LATENCY_SAMPLES];
    or_keymap_iter it = {0, NULL};
    const char *key = NULL;
    pthread_mutex_lock(&r->lock);
    latency_ring *ring;
    while ((ring = or_keymap_next(&r->latency, &it, &key)) != NULL) {
        if (!ring->n)
            continue;
        memcpy(tmp, ring->ms, ring->n * sizeof tmp[0]);
        qsort(tmp, ring->n, sizeof tmp[0], cmp_u32);
        json_object_set_new(out, key,
                            json_pack("{s:i, s:i, s:i, s:i}", "count", (int)ring->n, "p50",
                                      (int)percentile(tmp, ring->n, 50), "p95",
                                      (int)percentile(tmp, ring->n, 95), "p99",
                                      (int)percentile(tmp, ring->n, 99)));
    }
    pthread_mutex_unlock(&r->lock);
    return out;
}

or_account_rr *or_routing_accounts(or_routing *r, const char *provider, const char *const *conns,
                                   size_t n, int64_t *last_used, unsigned *streaks)
{
    /* One lock round for everything the account pick reads (a concurrent pick lands either
     * side of the whole read). */
    pthread_mutex_lock(&r->lock);
    const streak *st = map_get(r, &r->streak, M_STREAK, provider);
    for (size_t i = 0; i < n; i++) {
        const int64_t *v = map_get(r, &r->used, M_USED, conns[i]);
        last_used[i] = v ? *v : 0;
        streaks[i] = st && strcmp(st->conn, conns[i]) == 0 ? st->count : 0;
    }
    or_account_rr *rr = map_put(r, &r->rr, M_RR, provider);
    pthread_mutex_unlock(&r->lock);
    return rr;
}

void or_routing_picked(or_routing *r, const char *provider, const char *conn)
{
    pthread_mutex_lock(&r->lock);
    streak *st = map_put(r, &r->streak, M_STREAK, provider);
    if (st) {
        if (strcmp(st->conn, conn) == 0) {
            st->count++;
        } else {
            snprintf(st->conn, sizeof st->conn, "%s", conn);
            st->count = 1;
        }
    }
    pthread_mutex_unlock(&r->lock);
}
