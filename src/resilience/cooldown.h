/*
 * cooldown.h — cooldowns per identifier: which connection (or connection+model, or provider)
 * must not be tried again before when.
 *
 * Scopes (failure.h): KEY = a connection for every model (credential/quota trouble);
 * ACCOUNT = a connection for one model (rate limit); MODEL = a model lockout on a connection
 * (not found / not allowed); PROVIDER = a provider-wide wait an upstream asked for. `id` is the
 * connection id (the provider id for PROVIDER); `model` is ignored for KEY and PROVIDER.
 *
 * A failure sets `until = now + wait`: the upstream's Retry-After when it gave one, otherwise
 * exponential backoff base·factor^(level-1) capped per scope. A failure while the identifier
 * is already cooling down does not escalate (N concurrent requests hitting the same 429 make
 * one step, not N); a hint may only push `until` later. After a quiet period of one cap past
 * `until` the level is forgotten. Success clears the entry (a model lockout halves its level
 * instead). Expiry is lazy: until() compares with the clock.
 *
 * Time is or_clock_wall_ms(). The registry copies ids. Every function is thread-safe (one
 * mutex per registry; while nothing is cooling down, the per-request peek/until/success calls
 * answer from atomics without taking it).
 */
#ifndef OR_RESILIENCE_COOLDOWN_H
#define OR_RESILIENCE_COOLDOWN_H

#include "core/err.h"
#include "resilience/failure.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t base_ms;
    uint32_t factor; /* >= 1 */
    uint32_t cap_ms;
} or_cooldown_policy;

typedef struct {
    int64_t until; /* wall ms; 0 = not cooling down */
    unsigned level;
    int status; /* the last failure's HTTP status, 0 if none */
} or_cooldown_info;

typedef struct or_cooldown_reg or_cooldown_reg;

or_cooldown_reg *or_cooldown_new(void);
void or_cooldown_free(or_cooldown_reg *reg);

const or_cooldown_policy *or_cooldown_policy_default(or_fail_scope scope);
or_err or_cooldown_set_policy(or_cooldown_reg *reg, or_fail_scope scope,
                              const or_cooldown_policy *p);
void or_cooldown_get_policy(or_cooldown_reg *reg, or_fail_scope scope, or_cooldown_policy *out);

/* Records a failure; returns the wall ms the identifier is cooled down until (0 when the scope
 * is NONE, an argument is invalid or memory ran out). retry_after_ms: the upstream's wait
 * (0 = none), which wins over the backoff. */
int64_t or_cooldown_fail(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                         const char *model, uint64_t retry_after_ms, int status);
/* Clears (or, for MODEL, decays) the entry after a success. */
void or_cooldown_success(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                         const char *model);
/* Wall ms until which the identifier is cooling down, 0 if it is free. */
int64_t or_cooldown_until(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                          const char *model);
/* Everything that keeps connection `conn` of `provider` from serving `model`: the latest of
 * the PROVIDER, KEY, ACCOUNT and MODEL entries (the scope that ends last in *info). Any of
 * provider/model may be NULL. Returns info->until. */
int64_t or_cooldown_peek(or_cooldown_reg *reg, const char *provider, const char *conn,
                         const char *model, or_cooldown_info *info);
/* The same at a wall time the caller already read (ms), so a pick over several accounts reads
 * the clock once. */
int64_t or_cooldown_peek_at(or_cooldown_reg *reg, const char *provider, const char *conn,
                            const char *model, int64_t now, or_cooldown_info *info);

/* Force-unlock: one entry; every entry naming id (in any scope, any model); everything.
 * Return how many entries were removed. */
size_t or_cooldown_unlock(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                          const char *model);
size_t or_cooldown_unlock_id(or_cooldown_reg *reg, const char *id);
size_t or_cooldown_unlock_all(or_cooldown_reg *reg);
/* Drops entries that expired long enough ago that their level no longer matters. */
size_t or_cooldown_gc(or_cooldown_reg *reg);
size_t or_cooldown_count(or_cooldown_reg *reg);

/* Active entries: [{"scope","id","model"|null,"until","level","status"}]. New reference. */
json_t *or_cooldown_export(or_cooldown_reg *reg);
/* Restores an export; expired or malformed entries are skipped. */
or_err or_cooldown_import(or_cooldown_reg *reg, const json_t *state, or_errbuf *eb);

#endif
