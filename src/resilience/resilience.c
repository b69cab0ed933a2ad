#include "resilience/resilience.h"

#include "core/clock.h"

or_err or_resilience_init(or_resilience *r)
{
    r->breakers = or_breaker_new();
    r->cooldowns = or_cooldown_new();
    r->limiters = or_limiter_new();
    if (r->breakers && r->cooldowns && r->limiters)
        return OR_OK;
    or_resilience_cleanup(r);
    return OR_ENOMEM;
}

void or_resilience_cleanup(or_resilience *r)
{
    or_breaker_free(r->breakers);
    or_cooldown_free(r->cooldowns);
    or_limiter_free(r->limiters);
    r->breakers = NULL;
    r->cooldowns = NULL;
    r->limiters = NULL;
}

void or_resilience_on_failure(or_resilience *r, const or_attempt *a, uint32_t mask,
                              uint64_t retry_after_ms, int status, uint64_t probe_token,
                              or_failure_effect *out)
{
    or_failure_effect eff = {or_failure_next(mask), or_failure_scope(mask), 0,
                             or_failure_counts_for_breaker(mask)};
    or_breaker_outcome bo = eff.breaker_failure           ? OR_BREAKER_FAILURE
                            : mask & OR_FAIL_CLIENT_ABORT ? OR_BREAKER_NEUTRAL
                                                          : OR_BREAKER_SUCCESS;
    if (a->provider)
        or_breaker_report(r->breakers, a->provider, bo, probe_token);

    if ((mask & (OR_FAIL_QUOTA | OR_FAIL_STATUS_402)) && !retry_after_ms)
        retry_after_ms = OR_RESILIENCE_QUOTA_COOLDOWN_MS;
    switch (eff.scope) {
    case OR_SCOPE_KEY:
    case OR_SCOPE_ACCOUNT:
    case OR_SCOPE_MODEL:
        if (a->conn)
            eff.cooldown_until = or_cooldown_fail(r->cooldowns, eff.scope, a->conn, a->model,
                                                  retry_after_ms, status);
        break;
    case OR_SCOPE_PROVIDER:
        /* The breaker counts these; a wait the upstream asked for holds the whole provider. */
        if (retry_after_ms && a->provider)
            eff.cooldown_until = or_cooldown_fail(r->cooldowns, OR_SCOPE_PROVIDER, a->provider,
                                                  NULL, retry_after_ms, status);
        break;
    case OR_SCOPE_NONE:
    case OR_SCOPE_COUNT:
        break;
    }
    if (out)
        *out = eff;
}

void or_resilience_on_success(or_resilience *r, const or_attempt *a, uint64_t probe_token)
{
    if (a->provider) {
        or_breaker_report(r->breakers, a->provider, OR_BREAKER_SUCCESS, probe_token);
        or_cooldown_success(r->cooldowns, OR_SCOPE_PROVIDER, a->provider, NULL);
    }
    if (a->conn) {
        or_cooldown_success(r->cooldowns, OR_SCOPE_KEY, a->conn, NULL);
        if (a->model) {
            or_cooldown_success(r->cooldowns, OR_SCOPE_ACCOUNT, a->conn, a->model);
            or_cooldown_success(r->cooldowns, OR_SCOPE_MODEL, a->conn, a->model);
        }
    }
}

void or_resilience_on_abort(or_resilience *r, const or_attempt *a, uint64_t probe_token)
{
    if (a->provider)
        or_breaker_report(r->breakers, a->provider, OR_BREAKER_NEUTRAL, probe_token);
}

void or_resilience_reset_all(or_resilience *r)
{
    or_breaker_reset(r->breakers, NULL);
    or_cooldown_unlock_all(r->cooldowns);
}

json_t *or_resilience_export(or_resilience *r)
{
    json_t *root = json_object();
    if (!root || json_object_set_new(root, "breakers", or_breaker_export(r->breakers)) != 0 ||
        json_object_set_new(root, "cooldowns", or_cooldown_export(r->cooldowns)) != 0 ||
        json_object_set_new(root, "limits", or_limiter_export(r->limiters, or_clock_mono_ms())) !=
            0) {
        json_decref(root);
        return NULL;
    }
    return root;
}
