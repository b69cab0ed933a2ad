/*
 * retry_after.h — the wait an upstream asks for, read from its reply headers and error body.
 *
 * Sources, strongest first: `retry-after-ms`; `Retry-After` (delta seconds or HTTP-date);
 * Google's RetryInfo `retryDelay` in error.details[]; `x-ratelimit-reset-after`;
 * `x-ratelimit-reset-requests` / `-tokens` and Anthropic's `anthropic-ratelimit-*-reset`
 * (durations like "1s", "6m0s", "20ms", RFC 3339 dates); `x-ratelimit-reset` (epoch seconds,
 * epoch milliseconds or delta seconds); finally hints in the error text ("Please try again in
 * 20s", "retry after 5 seconds"). Absolute times are made relative to or_clock_wall_ms().
 * Every result is in milliseconds, 0 meaning "no hint", and capped at OR_RETRY_AFTER_CAP_MS.
 *
 * An or_retry_after collector is a plain value on the caller's stack: feed it each header of
 * one reply and, on an error, the body; then read the answer. Pure functions; any thread.
 */
#ifndef OR_RESILIENCE_RETRY_AFTER_H
#define OR_RESILIENCE_RETRY_AFTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OR_RETRY_AFTER_CAP_MS (3600u * 1000u)

/* One slot per source, in precedence order. */
typedef enum {
    OR_RA_MS,          /* retry-after-ms */
    OR_RA_RETRY_AFTER, /* Retry-After */
    OR_RA_BODY_DELAY,  /* Google RetryInfo retryDelay */
    OR_RA_RESET_AFTER, /* x-ratelimit-reset-after */
    OR_RA_RESET_LIMIT, /* the exhausted one of the reset-requests / reset-tokens pair */
    OR_RA_RESET,       /* x-ratelimit-reset */
    OR_RA_BODY_TEXT,   /* "try again in 20s" */
    OR_RA_COUNT
} or_ra_source;

typedef struct {
    uint64_t ms[OR_RA_COUNT]; /* 0 = not seen */
    uint64_t reset_requests, reset_tokens;
    int remaining_requests, remaining_tokens; /* -1 unknown */
} or_retry_after;

void or_retry_after_init(or_retry_after *ra);
/* Feeds one response header (name case-insensitive; value need not be NUL-terminated).
 * Headers that carry no wait are ignored. */
void or_retry_after_header(or_retry_after *ra, const char *name, const char *value, size_t vlen);
/* Feeds the error body: JSON retryDelay, then text hints. */
void or_retry_after_body(or_retry_after *ra, const char *body, size_t len);
/* The wait to honour, in ms (0 = none). */
uint64_t or_retry_after_ms(const or_retry_after *ra);

/* The parsers, exposed for tests and callers with a single value. All return ms, 0 = none. */
uint64_t or_retry_after_parse_header(const char *value, size_t len); /* delta s or HTTP-date */
uint64_t or_retry_after_parse_duration(const char *s, size_t len);   /* "6m0s", "20ms", "2.5s" */
uint64_t or_retry_after_parse_reset(const char *s, size_t len);   /* epoch s/ms, delta, duration */
uint64_t or_retry_after_parse_body(const char *body, size_t len); /* retryDelay only */
uint64_t or_retry_after_parse_text(const char *text, size_t len); /* phrase hints only */
/* An HTTP-date (IMF-fixdate, RFC 850, asctime) or RFC 3339 time → Unix ms; false if not one. */
bool or_retry_after_parse_date(const char *s, size_t len, int64_t *epoch_ms);

#endif
