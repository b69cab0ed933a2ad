/*
 * breaker.h — per-provider circuit breakers: stop sending traffic to a provider that keeps
 * failing, and find out cheaply when it is back.
 *
 * CLOSED: traffic flows; failures are counted in a sliding window (a success takes one back,
 * so only a failure-dominated provider trips). `threshold` failures within `window_ms` → OPEN:
 * every request is denied until `next_probe_at`. Then exactly one request gets a PROBE verdict
 * (the breaker is HALF_OPEN while it runs); its success closes the breaker, its failure
 * re-opens it with the cooldown doubled (capped at max_cooldown_ms). Recovery is lazy: there is
 * no timer, allow() makes the transition when asked. A probe that never reports (its request
 * vanished) frees the slot after probe_timeout_ms.
 *
 * Only provider-scoped failures belong here (or_failure_counts_for_breaker): rate limits and
 * credential errors are the cooldown registry's business, client aborts nobody's.
 *
 * Time is or_clock_wall_ms(), so exported state means the same after a restart.
 * The registry owns its entries; ids are copied. Every function is thread-safe (one mutex per
 * registry, held for a few hundred nanoseconds; while every breaker is closed with no failure
 * counted, allow() and success reports answer from an atomic without taking it).
 */
#ifndef OR_RESILIENCE_BREAKER_H
#define OR_RESILIENCE_BREAKER_H

#include "core/err.h"

#include <jansson.h>
#include <stdint.h>

#define OR_BREAKER_MAX_THRESHOLD 64

typedef enum { OR_BREAKER_CLOSED, OR_BREAKER_OPEN, OR_BREAKER_HALF_OPEN } or_breaker_state;
typedef enum { OR_BREAKER_ALLOW, OR_BREAKER_PROBE, OR_BREAKER_DENY } or_breaker_verdict;
typedef enum {
    OR_BREAKER_SUCCESS,
    OR_BREAKER_FAILURE,
    OR_BREAKER_NEUTRAL, /* no verdict on the provider (client abort, request-scoped error) */
} or_breaker_outcome;

/* Provider classes with their own thresholds. */
typedef enum {
    OR_BREAKER_APIKEY,
    OR_BREAKER_OAUTH,
    OR_BREAKER_LOCAL,
    OR_BREAKER_KIND_COUNT
} or_breaker_kind;

typedef struct {
    unsigned threshold; /* failures within window_ms that open it (1..64) */
    uint32_t window_ms;
    uint32_t cooldown_ms;      /* first open */
    uint32_t max_cooldown_ms;  /* cap of the doubling */
    uint32_t probe_timeout_ms; /* an unreported probe frees its slot after this */
} or_breaker_profile;

typedef struct or_breaker_reg or_breaker_reg;

or_breaker_reg *or_breaker_new(void);
void or_breaker_free(or_breaker_reg *reg);

const char *or_breaker_kind_name(or_breaker_kind k);   /* "apikey", "oauth", "local" */
int or_breaker_kind_from_name(const char *name);       /* -1 if unknown */
const char *or_breaker_state_name(or_breaker_state s); /* "CLOSED", "OPEN", "HALF_OPEN" */
const or_breaker_profile *or_breaker_profile_default(or_breaker_kind k);

/* Profiles are per registry (editable from settings); ids default to OR_BREAKER_APIKEY. */
or_err or_breaker_set_profile(or_breaker_reg *reg, or_breaker_kind k, const or_breaker_profile *p);
void or_breaker_get_profile(or_breaker_reg *reg, or_breaker_kind k, or_breaker_profile *out);
or_err or_breaker_set_kind(or_breaker_reg *reg, const char *id, or_breaker_kind k);

/* Before calling the provider. *probe_token (may be NULL) receives the token to hand back to
 * or_breaker_report: 0 for ALLOW, the probe's id for PROBE. */
or_breaker_verdict or_breaker_allow(or_breaker_reg *reg, const char *id, uint64_t *probe_token);
/* After the attempt. A PROBE must always be reported (NEUTRAL frees it without a verdict). */
void or_breaker_report(or_breaker_reg *reg, const char *id, or_breaker_outcome outcome,
                       uint64_t probe_token);
/* The effective state without side effects: OPEN whose cooldown is over reads HALF_OPEN.
 * *next_probe_at (may be NULL) gets the wall ms of the next probe, 0 when not OPEN. */
or_breaker_state or_breaker_state_of(or_breaker_reg *reg, const char *id, int64_t *next_probe_at);
/* Forgets one provider's state, or every provider's with id NULL (profiles/kinds stay). */
void or_breaker_reset(or_breaker_reg *reg, const char *id);

/* {"<id>": {"state","kind","failures","opened_at","next_probe_at","cooldown_ms","trips",
 * "last_failure_at"}} — times in Unix ms or null. New reference, NULL on ENOMEM. */
json_t *or_breaker_export(or_breaker_reg *reg);
/* Restores an export (entries it names are replaced; malformed entries are skipped). A probe
 * in flight at export time is lost, so HALF_OPEN comes back as OPEN and due for a probe. */
or_err or_breaker_import(or_breaker_reg *reg, const json_t *state, or_errbuf *eb);

#endif
