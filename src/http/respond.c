/*
 * respond.c — writing responses: fixed-length replies, chunked streams, error replies for
 * protocol violations, write-queue accounting (backpressure) and lingering close.
 */
#include "http/internal.h"
#include "core/clock.h"

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

void or_http__write(conn *c, const void *p, size_t n)
{
    if (c->closed || n == 0)
        return;
    wreq *wr = malloc(sizeof *wr + n);
    if (!wr) {
        or_http__conn_close(c);
        return;
    }
    wr->c = c;
    wr->n = n;
    memcpy(wr->data, p, n);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    c->queued += n;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        c->queued -= n;
        free(wr);
        or_http__conn_close(c);
    }
}

static void on_linger_timeout(uv_timer_t *t)
{
    or_http__conn_close(t->data);
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
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
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

/* Status line and common headers into b. */
static or_err head(or_buf *b, conn *c, int status, const char *ctype, const char *extra, bool close)
{
    or_err e = or_buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, or_http_reason(status),
                             or_http__date(c->w));
    if (e == OR_OK && ctype)
        e = or_buf_printf(b, "Content-Type: %s\r\n", ctype);
    if (e == OR_OK && close)
        e = or_buf_puts(b, "Connection: close\r\n");
    else if (e == OR_OK && c->parser.http_minor == 0)
        e = or_buf_puts(b, "Connection: keep-alive\r\n");
    if (e == OR_OK && extra)
        e = or_buf_puts(b, extra);
    return e;
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
        uv_timer_stop(&c->timer);
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
        or_buf b;
        or_buf_init(&b, 0);
        or_err e = head(&b, c, status, content_type, extra_headers, close);
        if (e == OR_OK)
            e = or_buf_printf(&b, "Content-Length: %zu\r\n\r\n", len);
        if (e == OR_OK && len && strcmp(r->method, "HEAD") != 0)
            e = or_buf_append(&b, body, len);
        if (e == OR_OK)
            or_http__write(c, b.data, b.len);
        else
            or_http__conn_close(c);
        or_buf_free(&b);
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
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                     "\"code\":null}}",
                     msg);
    or_buf b;
    or_buf_init(&b, 0);
    if (head(&b, c, status, "application/json", NULL, true) == OR_OK &&
        or_buf_printf(&b, "Content-Length: %d\r\n\r\n%s", n, body) == OR_OK)
        or_http__write(c, b.data, b.len);
    or_buf_free(&b);
    if (c->req)
        c->req->responded = true;
    c->keep_alive = false;
    c->close_after = true;
    c->state = CONN_CLOSING;
    uv_timer_stop(&c->timer);
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
    or_buf b;
    or_buf_init(&b, 0);
    or_err e = head(&b, c, status, content_type, extra_headers, !c->keep_alive);
    if (e == OR_OK && !raw)
        e = or_buf_puts(&b, "Transfer-Encoding: chunked\r\n");
    if (e == OR_OK)
        e = or_buf_puts(&b, "\r\n");
    if (e == OR_OK)
        or_http__write(c, b.data, b.len);
    else
        or_http__conn_close(c);
    or_buf_free(&b);
}

bool or_http_stream_write(or_http_req *r, const void *data, size_t len)
{
    conn *c = r->c;
    if (r->finished || !r->streaming || !c || c->closed || len == 0)
        return false;
    if (c->parser.http_minor == 0) {
        or_http__write(c, data, len);
    } else {
        wreq *wr = malloc(sizeof *wr + len + 32);
        if (!wr) {
            or_http__conn_close(c);
            return false;
        }
        int h = snprintf(wr->data, 24, "%zx\r\n", len);
        memcpy(wr->data + h, data, len);
        memcpy(wr->data + h + len, "\r\n", 2);
        wr->c = c;
        wr->n = (size_t)h + len + 2;
        uv_buf_t b = uv_buf_init(wr->data, (unsigned)wr->n);
        c->queued += wr->n;
        if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
            c->queued -= wr->n;
            free(wr);
            or_http__conn_close(c);
            return false;
        }
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
