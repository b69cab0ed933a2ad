/*
 * upstream.h — outbound HTTP/1.1 (and HTTPS) on a worker's libuv loop, with a keep-alive pool.
 *
 * One or_upstream per worker thread (created on that thread, used only there). Connections are
 * pooled per origin and proxy and reused across requests (conn.c opens them, upstream.c runs
 * requests on them). A transfer reports, in order: on_head once (status and headers, before any
 * body byte), on_data zero or more times, on_done exactly once — unless the caller cancels it
 * first, after which no callback fires.
 *
 * Backpressure: on_data may return true ("pause"); the connection stops being read until
 * or_up_resume(). Cancel closes the request's connection if a response was in flight.
 *
 * Timeouts: connect_ms (DNS, TCP, proxy and TLS legs), first_byte_ms (request sent → first
 * response byte), idle_ms (no body bytes for that long while not paused), total_ms (0 = none).
 *
 * Re-entrancy: start, pause, resume and cancel may be called from inside any callback (also
 * the request's own). on_done is never called from inside start/pause/resume/cancel; resume may
 * deliver on_data before it returns. On a failure on_head fires only if body bytes were already
 * delivered, so a failed transfer with no body is one clean on_done the caller can retry. The
 * header array given to on_head stays valid until on_done or cancel. or_upstream_free must not
 * be called from inside a callback.
 *
 * Proxies: http://, https:// (TLS to the proxy) and socks5:// or socks5h:// (names resolved by
 * the proxy either way), credentials %-encoded in the URL. The URL is copied at start (and
 * wiped when the request ends), so the caller may wipe its own copy right after. The
 * environment is never read here: NULL or "" means a direct connection.
 */
#ifndef OR_UPSTREAM_UPSTREAM_H
#define OR_UPSTREAM_UPSTREAM_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct or_upstream or_upstream;
typedef struct or_up_req or_up_req;

typedef struct {
    const char *name;
    const char *value;
} or_up_header;

typedef enum {
    OR_UP_OK = 0,
    OR_UP_ECONNECT, /* DNS, TCP, TLS failure */
    OR_UP_ETIMEOUT, /* connect, first byte, idle or total timeout */
    OR_UP_ERESET,   /* connection reset / closed mid-response */
    OR_UP_EPROTO,   /* malformed HTTP from upstream */
    OR_UP_ETOOBIG,  /* response headers over the cap */
    OR_UP_EINTERNAL,
} or_up_result;

typedef struct {
    /* Response status and headers, before any body. Header names as sent; values trimmed. */
    void (*on_head)(void *ud, int status, const or_up_header *hdrs, size_t nhdrs);
    /* A piece of the response body; return true to pause the transfer. */
    bool (*on_data)(void *ud, const char *p, size_t n);
    /* The transfer is over. detail is a short human string ("" on success). */
    void (*on_done)(void *ud, or_up_result res, const char *detail);
} or_up_callbacks;

typedef struct {
    const char *method; /* "POST" */
    const char *url;
    const or_up_header *headers; /* request headers; Content-Length is set by the client */
    size_t nheaders;
    const char *body; /* borrowed; must stay valid until on_done or cancel */
    size_t body_len;
    unsigned connect_ms;    /* default 10 000 */
    unsigned first_byte_ms; /* default 120 000 */
    unsigned idle_ms;       /* default 120 000 */
    unsigned total_ms;      /* 0 = no total limit */
    const char *proxy;      /* proxy URL, or NULL / "" for a direct connection */
} or_up_request;

or_upstream *or_upstream_new(uv_loop_t *loop);
/* Cancels every transfer still running (no callbacks) and frees. Call on the loop's thread
 * before the loop closes; the uv handles close asynchronously, so run the loop once after. */
void or_upstream_free(or_upstream *u);

or_err or_up_start(or_upstream *u, const or_up_request *rq, const or_up_callbacks *cb, void *ud,
                   or_up_req **out);
void or_up_pause(or_up_req *r);
void or_up_resume(or_up_req *r);
void or_up_cancel(or_up_req *r); /* no callbacks after this; r is freed */

const char *or_up_result_name(or_up_result r);

#endif
