#include "gateway/routing.h"

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

or_err or_routing_init(or_routing *r)
{
    memset(r, 0, sizeof *r);
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
    int64_t *v = or_keymap_put(&r->used, conn, NULL);
    if (v)
        *v = now_ms;
    pthread_mutex_unlock(&r->lock);
}

void or_routing_latency(or_routing *r, const char *provider, uint32_t ms)
{
    pthread_mutex_lock(&r->lock);
    latency_ring *ring = or_keymap_put(&r->latency, provider, NULL);
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
    const streak *st = or_keymap_get(&r->streak, provider);
    for (size_t i = 0; i < n; i++) {
        const int64_t *v = or_keymap_get(&r->used, conns[i]);
        last_used[i] = v ? *v : 0;
        streaks[i] = st && strcmp(st->conn, conns[i]) == 0 ? st->count : 0;
    }
    or_account_rr *rr = or_keymap_put(&r->rr, provider, NULL);
    pthread_mutex_unlock(&r->lock);
    return rr;
}

void or_routing_picked(or_routing *r, const char *provider, const char *conn)
{
    pthread_mutex_lock(&r->lock);
    streak *st = or_keymap_put(&r->streak, provider, NULL);
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
