/*
 * cookie.h — reading one cookie out of a request's Cookie header (RFC 6265 §5.4 shape:
 * "a=1; b=2"), tolerant of extra spaces, empty pairs and quoted values.
 *
 * The result points into the caller's header string (borrowed, not NUL-terminated at the
 * value's end). Scanning stops after OR_COOKIE_MAX_HEADER bytes. Pure: any thread.
 */
#ifndef OR_AUTH_COOKIE_H
#define OR_AUTH_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#define OR_COOKIE_MAX_HEADER 16384

/* Finds the first cookie named `name` (case-sensitive, as browsers send it) in header (hlen
 * bytes). On success *val and *vlen hold its value, surrounding double quotes removed. */
bool or_cookie_get(const char *header, size_t hlen, const char *name, const char **val,
                   size_t *vlen);

#endif
