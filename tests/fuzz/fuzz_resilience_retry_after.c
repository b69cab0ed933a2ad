/* Fuzz target: every retry-hint parser on arbitrary bytes. The first byte picks a header name
 * (so the collector's header paths are all reached); the rest is the value, then the body.
 * Invariants: no out-of-bounds read, and every answer within the cap. */
#include "resilience/retry_after.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-reset",
    "x-ratelimit-reset-after",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-tokens-remaining",
};

static void within_cap(uint64_t ms)
{
    if (ms > OR_RETRY_AFTER_CAP_MS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *name = names[data[0] % (sizeof names / sizeof names[0])];
    /* an exact-size heap copy so ASan sees any read past the end */
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);

    within_cap(or_retry_after_parse_header(s, n));
    within_cap(or_retry_after_parse_duration(s, n));
    within_cap(or_retry_after_parse_reset(s, n));
    within_cap(or_retry_after_parse_text(s, n));
    within_cap(or_retry_after_parse_body(s, n));
    int64_t when;
    (void)or_retry_after_parse_date(s, n, &when);

    /* the value up to the first newline is the header, the rest the body */
    size_t v = 0;
    while (v < n && s[v] != '\n')
        v++;
    or_retry_after ra;
    or_retry_after_init(&ra);
    or_retry_after_header(&ra, name, s, v);
    if (v < n)
        or_retry_after_body(&ra, s + v + 1, n - v - 1);
    within_cap(or_retry_after_ms(&ra));
    free(s);
    return 0;
}
