/*
 * limiter.h — per-connection request limits: requests per minute, a minimum gap between
 * request starts, and a cap on concurrent requests, with a bounded FIFO of waiters.
 *
 * The pipeline asks before each attempt on a connection:
 *   OR_LIMIT_OK     a slot is taken; call or_limiter_release(…, &ticket) when the attempt ends.
 *   OR_LIMIT_WAIT   come back in *wait_ms (arm a timer, keep the ticket: it holds the place in
 *                   the queue); or give up with or_limiter_cancel(…, &ticket).
 *   OR_LIMIT_REJECT the queue is full or the wait would pass max_wait_ms: try another account
 *                   or answer 429/503; *wait_ms then estimates when capacity returns (for a
 *                   Retry-After), 0 if unknown.
 * Rate is a token bucket (burst up to rpm, refilled continuously); the gap is measured between
 * request starts; concurrency has no known end time, so a waiter blocked only by it is told to
 * poll every OR_LIMITER_POLL_MS. A queued ticket that stops polling is evicted once it is past
 * its max wait, so a lost waiter cannot block the queue.
 *
 * Connections without a configuration are unlimited (nothing is recorded for them). `now` is
 * monotonic ms (or_clock_mono_ms()). The registry copies ids; tickets belong to the caller
 * (zero-initialise one per request and connection). Thread-safe: one mutex per registry.
 */
#ifndef OR_RESILIENCE_LIMITER_H
#define OR_RESILIENCE_LIMITER_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define OR_LIMITER_POLL_MS 25
#define OR_LIMITER_QUEUE_MAX 128

typedef struct {
    uint32_t rpm;            /* requests per minute; 0 = unlimited */
    uint32_t min_gap_ms;     /* between request starts; 0 = none */
    uint32_t max_concurrent; /* 0 = unlimited */
    uint32_t max_queue;      /* waiters allowed (<= OR_LIMITER_QUEUE_MAX); 0 = never wait */
    uint32_t max_wait_ms;    /* the longest a request may wait for a slot */
} or_limiter_conf;

typedef enum { OR_LIMIT_OK, OR_LIMIT_WAIT, OR_LIMIT_REJECT } or_limiter_verdict;

typedef struct {
    uint64_t id;    /* place in the queue; 0 = not queued */
    uint64_t since; /* when it started waiting */
    bool held;      /* holds a concurrency slot */
} or_limiter_ticket;

typedef struct or_limiter_reg or_limiter_reg;

or_limiter_reg *or_limiter_new(void);
void or_limiter_free(or_limiter_reg *reg);

/* The original's automatic limits for API-key connections: 100 rpm, 200 ms gap, 10 at once
 * (here with a queue of 20 and a 30 s wait). */
const or_limiter_conf *or_limiter_apikey_default(void);

/* Sets (or replaces) a connection's limits; counters in flight are kept. NULL removes the
 * connection's limits once nothing is in flight or queued (until then they read unlimited). */
or_err or_limiter_configure(or_limiter_reg *reg, const char *conn_id, const or_limiter_conf *c);
bool or_limiter_get_conf(or_limiter_reg *reg, const char *conn_id, or_limiter_conf *out);

or_limiter_verdict or_limiter_try(or_limiter_reg *reg, const char *conn_id, uint64_t now,
                                  or_limiter_ticket *t, uint64_t *wait_ms);
/* Leaves the queue without a slot (timeout, client gone, another account chosen). */
void or_limiter_cancel(or_limiter_reg *reg, const char *conn_id, or_limiter_ticket *t);
/* The attempt that got OK is over. Safe to call on a ticket that holds nothing. */
void or_limiter_release(or_limiter_reg *reg, const char *conn_id, or_limiter_ticket *t);

/* {"<conn>": {"rpm","min_gap_ms","max_concurrent","max_queue","max_wait_ms","in_flight",
 * "queued","tokens"}}. New reference. */
json_t *or_limiter_export(or_limiter_reg *reg, uint64_t now);

#endif
