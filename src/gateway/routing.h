/*
 * routing.h — the process-wide state the request pipeline routes with: the resilience
 * registries (breakers, cooldowns, limits), the combo strategies' memory (route/plan.h) and the
 * account strategies' memory (round-robin position per provider, last use per connection).
 *
 * Created once by main() before the server starts, freed after it stops. Every call is
 * thread-safe (workers share it); each lock is held for lookups only. Each thread remembers,
 * per map, the last key it found and where its value lives (map entries never move and are
 * only freed with the whole routing), so a worker that keeps routing to the same provider and
 * account compares a key instead of hashing it; gen tells one routing from a later one made at
 * the same address.
 */
#ifndef OR_GATEWAY_ROUTING_H
#define OR_GATEWAY_ROUTING_H

#include "core/err.h"
#include "resilience/keymap.h"
#include "resilience/resilience.h"
#include "route/account.h"
#include "route/plan.h"

#include <pthread.h>

typedef struct or_routing {
    uint64_t gen; /* unique per or_routing_init in the process */
    or_resilience res;
    or_route_state *plans;
    pthread_mutex_t lock; /* guards the four maps below */
    or_keymap rr;         /* provider id → or_account_rr */
    or_keymap used;       /* connection id → int64_t last use (wall ms) */
    or_keymap latency;    /* provider id → latency ring (routing.c) */
    or_keymap streak;     /* provider id → the account picked last and how many times in a row */
} or_routing;

or_err or_routing_init(or_routing *r);
void or_routing_free(or_routing *r);

/* What the account pick reads, under one lock: for each of n connection ids its last use
 * (wall ms, 0 = never) and its streak (how many times in a row it was the provider's last
 * pick: p2c health) into the caller's arrays; the result is the provider's round-robin memory
 * (stable pointer; NULL when out of memory). */
or_account_rr *or_routing_accounts(or_routing *r, const char *provider, const char *const *conns,
                                   size_t n, int64_t *last_used, unsigned *streaks);

/* Recording a use of a connection, and a pick of it for the provider. */
void or_routing_touch(or_routing *r, const char *conn, int64_t now_ms);
void or_routing_picked(or_routing *r, const char *provider, const char *conn);

/* A successful request's latency (head to last byte) for a provider; the last 1024 per provider
 * are kept. */
void or_routing_latency(or_routing *r, const char *provider, uint32_t ms);
/* {"<provider>": {"count", "p50", "p95", "p99"}} over the kept samples. New reference. */
json_t *or_routing_latency_export(or_routing *r);

#endif
