/*
 * http.h — the HTTP/1.1 server: N worker threads, each with its own libuv loop and its own
 * SO_REUSEPORT listener, parsing with llhttp.
 *
 * Ownership and threads:
 *  - A connection and its current request live on one worker thread. Every or_http_* call on a
 *    request must be made on that worker's thread (from a callback of its loop).
 *  - The server owns or_http_req. It is valid from on_request until the handler finishes the
 *    response (or_http_respond / or_http_stream_end) or until on_abort returns, whichever comes
 *    first. After on_abort the handler must not touch the request again.
 *  - Requests on one connection are answered in order (pipelining): the next request is parsed
 *    only after the current response ends.
 *
 * Limits (or_http_limits) are enforced here: header bytes (431), URL length (414), body size
 * (413), header deadline (408), minimum body rate (408), idle keep-alive timeout.
 */
#ifndef OR_HTTP_HTTP_H
#define OR_HTTP_HTTP_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct or_http_server or_http_server;
typedef struct or_http_worker or_http_worker;
typedef struct or_http_req or_http_req;

typedef struct {
    size_t max_header_bytes;      /* request line + headers; default 64 KiB → 431 */
    size_t max_url_bytes;         /* default 16 KiB → 414 */
    size_t max_body_bytes;        /* default 32 MiB → 413 */
    unsigned header_timeout_ms;   /* whole head must arrive within this; default 10 s → 408 */
    unsigned idle_timeout_ms;     /* keep-alive idle; default 60 s → close */
    unsigned body_min_rate_bps;   /* bytes/s averaged over body_rate_window_ms; default 256 */
    unsigned body_rate_window_ms; /* default 10 s */
    unsigned shutdown_grace_ms;   /* SIGTERM: finish in-flight up to this; default 10 s */
} or_http_limits;

void or_http_limits_default(or_http_limits *l);

/*
 * The application. on_head runs when the request head is complete (before the body): return
 * true to receive the body and later on_request; or answer at once with or_http_respond() and
 * return false (the connection then closes if a body was pending). on_request runs when the
 * whole body has arrived (body in or_http_body()).
 */
typedef struct {
    bool (*on_head)(or_http_req *req, void *app);
    void (*on_request)(or_http_req *req, void *app);
    /* Called once per worker thread after its loop exists and before it accepts; may be NULL.
     * Returns a per-worker pointer stored in the worker (or_http_worker_data). */
    void *(*worker_init)(or_http_worker *w, void *app);
    void (*worker_fini)(or_http_worker *w, void *wdata, void *app);
    void *app;
} or_http_app;

typedef struct {
    const char *host; /* "127.0.0.1" */
    int port;         /* 0 picks a free port (see or_http_server_port) */
    int workers;      /* 0 = number of CPUs */
    or_http_limits limits;
} or_http_config;

or_err or_http_server_start(const or_http_config *cfg, const or_http_app *app, or_http_server **out,
                            or_errbuf *eb);
int or_http_server_port(const or_http_server *s);
/* Blocks until SIGTERM/SIGINT (or or_http_server_stop), drains, joins workers. */
void or_http_server_wait(or_http_server *s);
void or_http_server_stop(or_http_server *s); /* thread-safe */
void or_http_server_free(or_http_server *s);

uv_loop_t *or_http_worker_loop(or_http_worker *w);
void *or_http_worker_data(or_http_worker *w);
int or_http_worker_index(or_http_worker *w);

/* ---- request accessors (valid while the request is) ---- */
const char *or_http_method(const or_http_req *r); /* "GET", "POST", … */
const char *or_http_path(const or_http_req *r);   /* raw path, no query, not %-decoded */
const char *or_http_query(const or_http_req *r);  /* after '?', "" if none */
/* Case-insensitive; returns the first value or NULL. */
const char *or_http_header(const or_http_req *r, const char *name);
size_t or_http_header_count(const or_http_req *r);
void or_http_header_at(const or_http_req *r, size_t i, const char **name, const char **value);
const or_buf *or_http_body(const or_http_req *r);
/* From on_head only: this request's body cap instead of limits.max_body_bytes (a route that
 * takes large uploads raises it for itself). Content-Length is checked against it once on_head
 * returns, and a body streaming past it is cut off the same way: 413. */
void or_http_set_max_body(or_http_req *r, size_t max);
/* Hands the body to the caller, who frees it (free()); the request's body is then empty. For a
 * handler that keeps a large body past the request (e.g. on the thread pool). NULL if empty. */
char *or_http_body_take(or_http_req *r, size_t *len);
const char *or_http_peer_ip(const or_http_req *r);
or_http_worker *or_http_req_worker(or_http_req *r);
uint64_t or_http_req_start_ms(const or_http_req *r); /* monotonic time the head completed */
/* Per-request handler state. */
void or_http_set_ud(or_http_req *r, void *ud);
void *or_http_ud(const or_http_req *r);

/* ---- responses ---- */
/* extra_headers: preformatted "Name: value\r\n" lines or NULL. Adds Date, Content-Length,
 * Connection as needed. Ends the request. */
void or_http_respond(or_http_req *r, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len);

/* Streaming (chunked). Callbacks: on_drain when the socket write queue fell below the low-water
 * mark after or_http_stream_write returned true ("full"); on_abort when the client went away
 * (EOF, error) or the server is shutting down past its grace period. */
typedef struct {
    void (*on_drain)(or_http_req *r, void *ud);
    void (*on_abort)(or_http_req *r, void *ud);
} or_http_stream_cb;

void or_http_set_stream_cb(or_http_req *r, const or_http_stream_cb *cb, void *ud);
void or_http_stream_start(or_http_req *r, int status, const char *content_type,
                          const char *extra_headers);
/* Queues data as one chunk. Returns true when the write queue is above the high-water mark:
 * the caller should stop producing until on_drain. */
bool or_http_stream_write(or_http_req *r, const void *data, size_t len);
size_t or_http_stream_queued(const or_http_req *r); /* bytes not yet written to the socket */
void or_http_stream_end(or_http_req *r);            /* ends the request */

/* Reason phrase for a status code. */
const char *or_http_reason(int status);

#endif
