/*
 * lockout.h — brute-force brake for the login: after OR_LOCKOUT_MAX_FAILS failed logins from one
 * client address within OR_LOCKOUT_WINDOW_MS, that address is refused (429 + Retry-After) for
 * OR_LOCKOUT_WINDOW_MS.
 *
 * Process-wide table of OR_LOCKOUT_SLOTS addresses behind one mutex (logins are rare); when full,
 * the entry whose window started first is reused. Time is the monotonic clock (clock.h), so
 * tests drive it by hand. Any thread.
 */
#ifndef OR_AUTH_LOCKOUT_H
#define OR_AUTH_LOCKOUT_H

#define OR_LOCKOUT_MAX_FAILS 5
#define OR_LOCKOUT_WINDOW_MS (15u * 60u * 1000u)
#define OR_LOCKOUT_SLOTS 512

/* Seconds until ip may try again (rounded up); 0 when it may try now. */
unsigned or_lockout_wait_s(const char *ip);
/* Counts one failed login from ip. */
void or_lockout_fail(const char *ip);
/* A successful login forgets ip's failures. */
void or_lockout_clear(const char *ip);
/* Forgets everything (tests). */
void or_lockout_reset(void);

#endif
