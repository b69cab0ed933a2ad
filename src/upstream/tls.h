/*
 * tls.h — a sans-IO TLS client engine (OpenSSL 3, memory BIOs) for the upstream HTTP client.
 *
 * The engine does no I/O: ciphertext read from the socket goes in with or_tls_feed, plaintext
 * comes out of or_tls_read; plaintext goes in with or_tls_write, ciphertext for the socket
 * comes out of or_tls_take. Because nothing here touches a socket, sessions stack: through an
 * https proxy, the outer session's plaintext is the inner session's ciphertext.
 *
 * Flush rule: any call may leave ciphertext to send (handshake messages, records, an alert
 * after a failure, close_notify; a read may also release writes held back, see or_tls_write),
 * so after each handshake/read/write/shutdown the caller drains or_tls_pending/or_tls_take
 * into the socket.
 *
 * Ownership: the caller owns an or_tls and frees it with or_tls_free; one session is used by
 * one thread at a time (the worker that owns the connection). The process-wide SSL_CTX is made
 * lazily by the first or_tls_global_init (any thread; pthread_once) and freed at exit by
 * or_tls_global_free, after every session is gone.
 *
 * Memory: inbound ciphertext is buffered until or_tls_read consumes it; a caller that stops
 * reading (backpressure) must stop feeding too — or_tls_feed refuses past OR_TLS_FEED_MAX
 * unread bytes. Idle connections should call or_tls_trim to give back buffer memory.
 */
#ifndef OR_UPSTREAM_TLS_H
#define OR_UPSTREAM_TLS_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct or_tls or_tls;

/* Unread inbound ciphertext a session holds at most (a cap on a network-fed buffer). */
#define OR_TLS_FEED_MAX ((size_t)4 << 20)

/* Process-wide client context, made once on first use (thread-safe). Trust: OpenSSL's default
 * verify paths (so SSL_CERT_FILE / SSL_CERT_DIR apply) plus the PEM file named by
 * NODE_EXTRA_CA_CERTS if set (a missing or bad file is logged once and ignored). TLS >= 1.2,
 * ALPN "http/1.1", no renegotiation. Both are read from the environment at the first call
 * only (NODE_EXTRA_CA_CERTS naming the default file again is skipped). Call it when the first
 * https connection is made, not at startup: with the Debian CA bundle the context costs about
 * 4 MB of RSS (1.3 MB heap, the rest OpenSSL's own pages). Calling it again is cheap; after
 * or_tls_global_free it fails with OR_EUNAVAIL. */
or_err or_tls_global_init(or_errbuf *eb);
/* At exit, when no session is left; for leak-free tests. */
void or_tls_global_free(void);

/* A client session for host: a DNS name, or an IP literal (IPv6 with or without brackets).
 * Names are sent as SNI, literals are not. With verify, the chain must reach a trusted root
 * and the certificate must match host (a name against DNS SANs, a literal against IP SANs).
 * verify=false accepts any certificate: tests only. Calls or_tls_global_init itself. */
or_err or_tls_new(const char *host, bool verify, or_tls **out, or_errbuf *eb);
void or_tls_free(or_tls *t);

/* Ciphertext from below. Takes all of it, or none with OR_ETOOBIG past OR_TLS_FEED_MAX. */
or_err or_tls_feed(or_tls *t, const char *p, size_t n);

typedef enum { OR_TLS_DONE, OR_TLS_WANT, OR_TLS_FAIL } or_tls_step;

/* Advance the handshake: DONE once established (and on every later call), WANT when more
 * ciphertext must be fed, FAIL for good, with the reason in eb ("certificate verify failed:
 * hostname mismatch", an alert from the peer, a protocol error). */
or_tls_step or_tls_handshake(or_tls *t, or_errbuf *eb);
bool or_tls_established(const or_tls *t);

enum { OR_TLS_READ_EOF = -1, OR_TLS_READ_ERR = -2 };

/* Decrypted plaintext into buf: > 0 bytes; 0 = nothing until more ciphertext is fed;
 * OR_TLS_READ_EOF = the peer sent close_notify (and will again on every call);
 * OR_TLS_READ_ERR = fatal, eb says why. Post-handshake messages (TLS 1.3 session tickets,
 * KeyUpdate) are handled here and never surface as data. Call until it returns <= 0. */
ptrdiff_t or_tls_read(or_tls *t, char *buf, size_t cap, or_errbuf *eb);

/* Takes all of p (only once established, else OR_EINVAL) and encrypts it; the records wait in
 * or_tls_pending. One case holds the plaintext back instead: while a post-handshake message
 * split over records is half read, OpenSSL cannot write, and the held data is encrypted by the
 * or_tls_read that completes the message (or the next write). Order is kept either way. */
or_err or_tls_write(or_tls *t, const char *p, size_t n, or_errbuf *eb);

/* Ciphertext waiting for the socket: how much, and take (copies up to cap, returns count). */
size_t or_tls_pending(const or_tls *t);
size_t or_tls_take(or_tls *t, char *buf, size_t cap);

/* Queues a close_notify, after any held-back writes (no-op before the handshake is done or
 * after a failure). Write nothing after it. */
void or_tls_shutdown(or_tls *t);

/* Gives back buffer memory (drained ciphertext buffers, OpenSSL's record buffers) for a
 * connection going idle in a pool: about 36 KB → 18 KB per idle session, more after big
 * transfers; costs a few small allocations when the connection is used again. Buffers over
 * 256 KB are given back without it, by the or_tls_read that finds them drained. */
void or_tls_trim(or_tls *t);

#endif
