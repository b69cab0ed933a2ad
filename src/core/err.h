/*
 * err.h — the project's one error enum.
 *
 * Fallible functions return or_err and leave through a single `out:` label. Human detail goes
 * into a caller-owned or_errbuf; the enum says what kind of failure it was, the buffer says why.
 * Thread-safe: pure data.
 */
#ifndef OR_CORE_ERR_H
#define OR_CORE_ERR_H

#include <stddef.h>

typedef enum {
    OR_OK = 0,
    OR_ENOMEM,    /* allocation failed */
    OR_EINVAL,    /* caller or client gave bad input */
    OR_ENOTFOUND, /* no such row, route, provider, model */
    OR_ETOOBIG,   /* a cap was exceeded */
    OR_EEXIST,    /* conflict with an existing row */
    OR_EIO,       /* filesystem or socket failure */
    OR_EDB,       /* SQLite failure */
    OR_ECRYPTO,   /* libsodium failure, bad ciphertext */
    OR_EAUTH,     /* authentication failed */
    OR_EUPSTREAM, /* upstream failed (connect, reset, bad reply) */
    OR_ETIMEOUT,  /* a deadline passed */
    OR_EUNAVAIL,  /* nothing available to serve (no connection, shutting down) */
    OR_EINTERNAL, /* a bug: an invariant did not hold */
    OR_ERR_COUNT
} or_err;

/* Fixed-size detail buffer; never heap, never holds secrets. */
typedef struct {
    char msg[256];
} or_errbuf;

const char *or_err_name(or_err e);

/* Formats into eb (if non-NULL) and returns e, so `return or_fail(eb, OR_EINVAL, "...")` reads
 * as one statement. */
or_err or_fail(or_errbuf *eb, or_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
