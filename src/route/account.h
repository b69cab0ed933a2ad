/*
 * account.h — account strategies: which connection of a provider serves the next attempt.
 *
 * The caller (the request pipeline) describes the candidate connections in an array of
 * or_account_info, filled from the connection snapshot and resilience/cooldown.h
 * (or_cooldown_peek gives cooldown_until, level and last status). A connection is eligible
 * unless it is `excluded` (already tried in this request, disabled, not allowed for the API
 * key) or cooling down (cooldown_until > now). pick() returns the index of one eligible
 * connection, or OR_ACCOUNT_NONE. To fail over within a provider, mark the failed one
 * excluded and pick again: repeated picks of `random` are a Fisher–Yates draw.
 *
 * Each strategy is one file exporting one vtable; or_account_find() maps the settings name
 * (`fallbackStrategy`) to it through one table. Pure apart from the round-robin state
 * (atomic, owned by the caller: one per provider) and core/rand.h: any thread.
 */
#ifndef OR_ROUTE_ACCOUNT_H
#define OR_ROUTE_ACCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OR_ACCOUNT_NONE SIZE_MAX
#define OR_ACCOUNT_STICKY_DEFAULT 3u

typedef struct {
    int priority;              /* lower is preferred (1 = first) */
    int64_t last_used_ms;      /* wall ms; 0 = never */
    int64_t cooldown_until;    /* wall ms; in the future → not eligible */
    unsigned backoff_level;    /* cooldown level (health) */
    int last_error_status;     /* HTTP status of the last failure, 0 = none (health) */
    unsigned consecutive_uses; /* picks in a row (health) */
    int quota_headroom;        /* percent of quota left 0..100, -1 = unknown (health) */
    bool quota_exhausted;      /* (health) */
    bool excluded;
} or_account_info;

/* Round-robin memory: the current account and how many picks it has had. Zero-initialise. */
typedef struct {
    _Atomic uint64_t state;
} or_account_rr;

typedef struct {
    const or_account_info *accounts;
    size_t n;
    int64_t now_ms;        /* wall ms (or_clock_wall_ms) */
    unsigned sticky_limit; /* round-robin: 0 → 3; 1 → rotate on every pick */
    or_account_rr *rr;     /* round-robin state; NULL behaves like fill-first */
} or_account_ctx;

typedef struct {
    const char *name; /* as in settings: "fill-first" */
    size_t (*pick)(const or_account_ctx *ctx);
} or_account_strategy;

extern const or_account_strategy or_account_fill_first;
extern const or_account_strategy or_account_round_robin;
extern const or_account_strategy or_account_p2c;
extern const or_account_strategy or_account_random;
extern const or_account_strategy or_account_least_used;
extern const or_account_strategy or_account_cost_optimized;

/* By name ('_' reads as '-'); NULL or "" → fill-first, the default; NULL when unknown. */
const or_account_strategy *or_account_find(const char *name);
size_t or_account_strategy_count(void);
const or_account_strategy *or_account_strategy_at(size_t i);

bool or_account_eligible(const or_account_ctx *ctx, size_t i);
size_t or_account_eligible_count(const or_account_ctx *ctx);
/* When nothing is eligible because of cooldowns: the earliest cooldown_until among the
 * non-excluded accounts (for Retry-After, or to wait briefly), 0 if none. */
int64_t or_account_next_free_at(const or_account_ctx *ctx);
/* The P2C health score: lower is healthier. */
int or_account_health(const or_account_info *a, int64_t now_ms);

#endif
