/*
 * clock.h — injectable time source.
 *
 * All time-dependent logic (timeouts, breakers, backoff, JWT expiry, usage timestamps) reads the
 * clock through these calls so tests can drive time by hand. The default source is the OS.
 * or_clock_set() is for tests and startup only; the readers are thread-safe.
 */
#ifndef OR_CORE_CLOCK_H
#define OR_CORE_CLOCK_H

#include <stdint.h>

typedef struct {
    uint64_t (*mono_ms)(void *ud); /* monotonic milliseconds */
    int64_t (*wall_ms)(void *ud);  /* Unix epoch milliseconds */
    void *ud;
} or_clock_source;

uint64_t or_clock_mono_ms(void);
int64_t or_clock_wall_ms(void);
/* NULL restores the OS clock. */
void or_clock_set(const or_clock_source *src);

#endif
