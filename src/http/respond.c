/*
 * respond.c — writing responses: fixed-length replies, chunked streams, error replies for
 * protocol violations, write-queue accounting (backpressure) and lingering close.
 */
#include "http/internal.h"
#include "core/clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIGH_WATER (256 * 1024) /* stream_write reports "full" above this */
#define LOW_WATER (64 * 1024)   /* on_drain fires once the queue falls to this */
#define LINGER_MS 2000          /* after our FIN, read and discard this long before closing */

typedef struct {
    uv_write_t req;
    conn *c;
    size_t n;
    char data[];
} wreq;

static void maybe_shutdown(conn *c);

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    c->queued -= wr->n;
    free(wr);
    if (c->closed)
        return;
    if (status < 0) {
        c->peer_gone = true;
        or_http__conn_close(c);
        return;
    }
    or_http_req *r = c->req;
    if (r && r->want_drain && c->queued <= LOW_WATER) {
        r->want_drain = false;
        if (r->cb.on_drain)
            r->cb.on_drain(r, r->cb_ud);
        return;
    }
    maybe_shutdown(c);
}

/* Writes the buffers in order: straight from the caller's memory when the socket takes them
 * at once (the usual case for a reply that fits the socket buffer), else what is left is
 * copied and queued. A write error is left to the queued path, which reports it in on_write
 * as before. */
static void writev_(conn *c, uv_buf_t *bufs, unsigned nbufs)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (c->closed || total == 0)
        return;
    int done = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
    size_t skip = done > 0 ? (size_t)done : 0;
    if (skip == total)
        return;
    size_t n = total - skip;
    wreq *wr = malloc(sizeof *wr + n);
    if (!wr) {
        or_http__conn_close(c);
        return;
    }
    char *d = wr->data;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t len = bufs[i].len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(d, bufs[i].base + skip, len - skip);
        d += len - skip;
        skip = 0;
    }
    wr->c = c;
    wr->n = n;
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    c->queued += n;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        c->queued -= n;
        free(wr);
        or_http__conn_close(c);
    }
}

void or_http__write(conn *c, const void *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
    writev_(c, &b, 1);
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
    conn *c = s->data;
    if (c->closed)
        return;
    if (status < 0 || c->peer_gone) {
        or_http__conn_close(c);
        return;
    }
    /* Keep reading (and discarding) briefly so unread request bytes do not turn our close into
     * a reset that destroys the reply before the client reads it. */
    c->state = CONN_CLOSING; /* the deadline then closes */
    or_http__timer_arm(c, LINGER_MS);
}

static void maybe_shutdown(conn *c)
{
    if (!c->close_after || c->queued > 0 || c->closed || c->shutdown.data)
        return;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        or_http__conn_close(c);
}

const char *or_http__date(or_http_worker *w)
{
    int64_t sec = or_clock_wall_ms() / 1000;
    if (sec != w->date_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_sec = sec;
    }
    return w->date;
}

const char *or_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* A response head under construction: on the stack unless the extra headers are large. */
typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
    char small[1536];
} headbuf;

static void hb_init(headbuf *h)
{
    h->p = h->small;
    h->len = 0;
    h->cap = sizeof h->small;
    h->failed = false;
}

static void hb_free(headbuf *h)
{
    if (h->p != h->small)
        free(h->p);
}

static void hb_put(headbuf *h, const char *s, size_t n)
{
    if (h->failed)
        return;
    if (h->len + n > h->cap) {
        size_t cap = (h->len + n) * 2;
        char *p = h->p == h->small ? malloc(cap) : realloc(h->p, cap);
        if (!p) {
            h->failed = true;
            return;
        }
        if (h->p == h->small)
            memcpy(p, h->small, h->len);
        h->p = p;
        h->cap = cap;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

static void hb_str(headbuf *h, const char *s)
{
    hb_put(h, s, strlen(s));
}

/* Decimal (base 10) or hexadecimal (base 16) digits of v. */
static void hb_num(headbuf *h, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    hb_put(h, tmp + i, sizeof tmp - i);
}

/* Status line and common headers. */
static void head(headbuf *h, conn *c, int status, const char *ctype, const char *extra, bool close)
{
    hb_put(h, "HTTP/1.1 ", 9);
    if (status < 0)
        hb_put(h, "-", 1);
    hb_num(h, status < 0 ? -(uint64_t)status : (uint64_t)status, 10);
    hb_put(h, " ", 1);
    hb_str(h, or_http_reason(status));
    hb_put(h, "\r\nDate: ", 8);
    hb_str(h, or_http__date(c->w));
    hb_put(h, "\r\n", 2);
    if (ctype) {
        hb_put(h, "Content-Type: ", 14);
        hb_str(h, ctype);
        hb_put(h, "\r\n", 2);
    }
    if (close)
        hb_str(h, "Connection: close\r\n");
    else if (c->parser.http_minor == 0)
        hb_str(h, "Connection: keep-alive\r\n");
    if (extra)
        hb_str(h, extra);
}

/* A request the handler ended: free it (if its connection is gone) or move the connection on. */
static void finish(or_http_req *r)
{
    r->finished = true;
    conn *c = r->c;
    if (!c) {
        or_http__req_free(r);
        return;
    }
    if (!r->dispatched) {
        /* Answered from the head: close after the reply; the request is freed with the
         * connection. */
        c->close_after = true;
        c->state = CONN_CLOSING;
        or_http__timer_stop(c);
        maybe_shutdown(c);
        return;
    }
    or_http__conn_finish_request(c);
    maybe_shutdown(c);
}

void or_http_respond(or_http_req *r, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len)
{
    if (r->finished || r->responded)
        return;
    r->responded = true;
    conn *c = r->c;
    if (c && !c->closed) {
        bool close = !r->dispatched || !c->keep_alive || c->w->draining;
        if (close)
            c->keep_alive = false;
        headbuf h;
        hb_init(&h);
        head(&h, c, status, content_type, extra_headers, close);
        hb_put(&h, "Content-Length: ", 16);
        hb_num(&h, len, 10);
        hb_put(&h, "\r\n\r\n", 4);
        if (h.failed) {
            or_http__conn_close(c);
        } else {
            uv_buf_t b[2] = {uv_buf_init(h.p, (unsigned)h.len),
                             uv_buf_init((char *)(uintptr_t)body, (unsigned)len)};
            writev_(c, b, len && strcmp(r->method, "HEAD") != 0 ? 2 : 1);
        }
        hb_free(&h);
    }
    finish(r);
}

void or_http__simple_reply(conn *c, int status, const char *msg)
{
    if (c->close_after || c->closed)
        return;
    if (c->req && c->req->responded)
        return;
    char body[256];
    snprintf(body, sizeof body,
             "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
             "\"code\":null}}",
             msg);
    headbuf h;
    hb_init(&h);
    head(&h, c, status, "application/json", NULL, true);
    hb_put(&h, "Content-Length: ", 16);
    hb_num(&h, strlen(body), 10);
    hb_put(&h, "\r\n\r\n", 4);
    hb_str(&h, body);
    if (!h.failed)
        or_http__write(c, h.p, h.len);
    hb_free(&h);
    if (c->req)
        c->req->responded = true;
    c->keep_alive = false;
    c->close_after = true;
    c->state = CONN_CLOSING;
    or_http__timer_stop(c);
    maybe_shutdown(c);
}

void or_http_stream_start(or_http_req *r, int status, const char *content_type,
                          const char *extra_headers)
{
    if (r->finished || r->responded)
        return;
    r->responded = true;
    r->streaming = true;
    conn *c = r->c;
    if (!c || c->closed)
        return;
    /* HTTP/1.0 has no chunked encoding: the body ends when the connection closes. */
    bool raw = c->parser.http_minor == 0;
    if (raw || c->w->draining)
        c->keep_alive = false;
    headbuf h;
    hb_init(&h);
    head(&h, c, status, content_type, extra_headers, !c->keep_alive);
    if (!raw)
        hb_str(&h, "Transfer-Encoding: chunked\r\n");
    hb_put(&h, "\r\n", 2);
    if (h.failed)
        or_http__conn_close(c);
    else
        or_http__write(c, h.p, h.len);
    hb_free(&h);
}

bool or_http_stream_write(or_http_req *r, const void *data, size_t len)
{
    conn *c = r->c;
    if (r->finished || !r->streaming || !c || c->closed || len == 0)
        return false;
    if (c->parser.http_minor == 0) {
        or_http__write(c, data, len);
    } else {
        headbuf h; /* only the chunk size line: never leaves the stack */
        hb_init(&h);
        hb_num(&h, len, 16);
        hb_put(&h, "\r\n", 2);
        uv_buf_t b[3] = {uv_buf_init(h.p, (unsigned)h.len),
                         uv_buf_init((char *)(uintptr_t)data, (unsigned)len),
                         uv_buf_init("\r\n", 2)};
        writev_(c, b, 3);
        if (c->closed)
            return false;
    }
    if (c->queued > HIGH_WATER) {
        r->want_drain = true;
        return true;
    }
    return false;
}

size_t or_http_stream_queued(const or_http_req *r)
{
    return r->c ? r->c->queued : 0;
}

void or_http_stream_end(or_http_req *r)
{
    if (r->finished)
        return;
    conn *c = r->c;
    if (c && !c->closed && r->streaming && c->parser.http_minor == 1) {
        static const char last[] = "0\r\n\r\n";
        or_http__write(c, last, sizeof last - 1);
    }
    finish(r);
}
