/*
 * failure.h — the failure taxonomy: what kind of failure an upstream attempt was, whether the
 * request should move on to another account/target, and which identifier a cooldown applies to.
 *
 * A failure is a bitmask of classes (several may hold at once: 429 + account-wide quota text).
 * The pipeline classifies each failed attempt once (or_failure_classify) and every consumer —
 * the combo loop, the cooldown registry, the breaker — reads the same mask through the
 * decision functions below, which are driven by one table in failure.c.
 * Pure functions over static tables; any thread.
 */
#ifndef OR_RESILIENCE_FAILURE_H
#define OR_RESILIENCE_FAILURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OR_FAIL_CONNECT = 1u << 0,           /* DNS, TCP, TLS */
    OR_FAIL_TIMEOUT = 1u << 1,           /* connect / first byte / idle deadline */
    OR_FAIL_RESET = 1u << 2,             /* connection reset or malformed reply before any byte */
    OR_FAIL_STATUS_401 = 1u << 3,        /* credential rejected */
    OR_FAIL_STATUS_402 = 1u << 4,        /* payment required */
    OR_FAIL_STATUS_403 = 1u << 5,        /* forbidden for this account */
    OR_FAIL_STATUS_404 = 1u << 6,        /* model/endpoint not found for this account */
    OR_FAIL_STATUS_408 = 1u << 7,        /* upstream request timeout */
    OR_FAIL_STATUS_429 = 1u << 8,        /* rate limited */
    OR_FAIL_5XX = 1u << 9,               /* upstream server error */
    OR_FAIL_CONTEXT_LENGTH = 1u << 10,   /* the input is too long for this model */
    OR_FAIL_MODEL_SCOPED_400 = 1u << 11, /* 400 about the model (unknown, unsupported, access) */
    OR_FAIL_MALFORMED_400 = 1u << 12,    /* the request itself is bad: no target will take it */
    OR_FAIL_STREAM_CUT = 1u << 13,       /* the upstream stream ended or broke midway */
    OR_FAIL_CLIENT_ABORT = 1u << 14,     /* our client went away: never the provider's fault */
    OR_FAIL_QUOTA = 1u << 15,            /* account-wide quota/credit/rate exhaustion text */
    OR_FAIL_OTHER_4XX = 1u << 16,        /* any other 4xx (405, 409, 413, 415, 422…) */
} or_fail_class;

/* How the attempt ended below HTTP; the pipeline maps its upstream result onto this. */
typedef enum {
    OR_TRANSPORT_NONE = 0,
    OR_TRANSPORT_CONNECT,
    OR_TRANSPORT_TIMEOUT,
    OR_TRANSPORT_RESET, /* reset, or a malformed/oversized reply */
    OR_TRANSPORT_STREAM_CUT,
    OR_TRANSPORT_CLIENT_ABORT,
} or_transport_error;

/* Which identifier a cooldown applies to. */
typedef enum {
    OR_SCOPE_NONE = 0, /* request-scoped: nothing to cool down */
    OR_SCOPE_KEY,      /* the connection's credential, every model (401, 402, 403, quota) */
    OR_SCOPE_ACCOUNT,  /* the connection for this model: rate limit (429) */
    OR_SCOPE_MODEL,    /* model lockout on this connection (404, model-scoped 400) */
    OR_SCOPE_PROVIDER, /* the provider as a whole: the circuit breaker (5xx, transport) */
    OR_SCOPE_COUNT
} or_fail_scope;

/* What the request does next. */
typedef enum {
    OR_NEXT_STOP = 0, /* answer the client with this error */
    OR_NEXT_ACCOUNT,  /* try another account of this target, then the next target */
    OR_NEXT_TARGET,   /* skip the remaining accounts of this model: go to the next target */
} or_fail_next;

/* Classifies one attempt. status: the upstream HTTP status (0 if none arrived); body: the
 * error body (may be NULL; only the first 64 KiB are scanned); transport: how it ended below
 * HTTP. Returns 0 for a success (2xx/3xx with no transport error). */
uint32_t or_failure_classify(int status, const char *body, size_t len, int transport);

or_fail_next or_failure_next(uint32_t mask);
/* or_failure_next(mask) != OR_NEXT_STOP. */
bool or_failure_should_fallback(uint32_t mask);
or_fail_scope or_failure_scope(uint32_t mask);
/* Whether this failure counts against the provider's circuit breaker. */
bool or_failure_counts_for_breaker(uint32_t mask);

const char *or_failure_scope_name(or_fail_scope s); /* "none", "key", "account", … */
/* Comma-separated class names ("status_429,quota") into out; returns out. */
const char *or_failure_describe(uint32_t mask, char *out, size_t cap);

#endif
