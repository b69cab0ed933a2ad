/*
 * resilience.h — the three resilience registries behind one handle, and the two calls the
 * request pipeline makes after every upstream attempt.
 *
 * One or_resilience lives for the process (all workers share it; every registry is
 * thread-safe). Per attempt the pipeline:
 *   1. skips a target whose provider breaker says DENY (or_breaker_allow; keep the token),
 *      and accounts whose or_cooldown_peek() is in the future (route/account.h does that);
 *   2. takes a limiter slot (or_limiter_try … or_limiter_release);
 *   3. classifies the outcome (or_failure_classify + or_retry_after_*), then calls
 *      or_resilience_on_failure / _on_success / _on_abort exactly once with the breaker token,
 *      and follows the returned or_fail_next.
 */
#ifndef OR_RESILIENCE_RESILIENCE_H
#define OR_RESILIENCE_RESILIENCE_H

#include "core/err.h"
#include "resilience/breaker.h"
#include "resilience/cooldown.h"
#include "resilience/failure.h"
#include "resilience/limiter.h"
#include "resilience/retry_after.h"

/* Quota/credit exhaustion with no reset time given: try the account again after an hour. */
#define OR_RESILIENCE_QUOTA_COOLDOWN_MS (3600u * 1000u)

typedef struct {
    or_breaker_reg *breakers;
    or_cooldown_reg *cooldowns;
    or_limiter_reg *limiters;
} or_resilience;

/* Which attempt: breaker id (usually the provider id), connection id, upstream model id. */
typedef struct {
    const char *provider;
    const char *conn;
    const char *model;
} or_attempt;

typedef struct {
    or_fail_next next;
    or_fail_scope scope;
    int64_t cooldown_until; /* wall ms set on the scope's identifier, 0 if none */
    bool breaker_failure;   /* counted against the provider's breaker */
} or_failure_effect;

or_err or_resilience_init(or_resilience *r);
void or_resilience_cleanup(or_resilience *r);

/* A failed attempt (mask from or_failure_classify; retry_after_ms from or_retry_after_ms;
 * status the upstream HTTP status or 0). Applies the cooldown of the mask's scope and reports
 * the breaker (a provider that answered sanely counts as alive). */
void or_resilience_on_failure(or_resilience *r, const or_attempt *a, uint32_t mask,
                              uint64_t retry_after_ms, int status, uint64_t probe_token,
                              or_failure_effect *out);
/* A successful attempt: breaker success, cooldowns of this connection (and model) cleared. */
void or_resilience_on_success(or_resilience *r, const or_attempt *a, uint64_t probe_token);
/* The client went away: nobody's fault, only a probe slot is freed. */
void or_resilience_on_abort(or_resilience *r, const or_attempt *a, uint64_t probe_token);

/* "Reset all": breakers closed, every cooldown and lockout lifted. */
void or_resilience_reset_all(or_resilience *r);

/* {"breakers":{…}, "cooldowns":[…], "limits":{…}} for GET /api/monitoring/health. */
json_t *or_resilience_export(or_resilience *r);

#endif
