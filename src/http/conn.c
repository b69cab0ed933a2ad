/*
 * conn.c — one client connection: reading, llhttp parsing, limits, timers, pipelining.
 *
 * A connection is in one state at a time (internal.h, enum conn_state). While a request is
 * with its handler (CONN_HANDLER) the socket is still read, so a disconnect is seen at once
 * (read EOF → on_abort → the handler cancels its upstream transfer); bytes of pipelined
 * requests that arrive meanwhile wait in `pending` and are parsed after the response ends.
 */
#include "http/internal.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/park.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PENDING_MAX (256 * 1024) /* pipelined bytes kept while a response is in progress */
#define READ_CHUNK (64 * 1024)
#define SPARE_BUF_MAX (16 * 1024) /* a recycled request keeps buffers up to this size */

static const or_http_limits *limits_of(conn *c)
{
    return &c->w->srv->cfg.limits;
}

/* ---- request objects ---- */

/* A keep-alive connection's requests reuse one object: the struct, its three buffers and its
 * header array would otherwise be five allocations and frees per request. */
static void buf_recycle(or_buf *b, size_t max)
{
    if (b->cap > SPARE_BUF_MAX)
        or_buf_free(b); /* one big request does not pin its memory to the connection */
    or_buf_reset(b);
    b->max = max ? max : SIZE_MAX - 1; /* as or_buf_init; on_head may have raised the body's */
}

/* Poisons (park) or unpoisons what a parked request owns besides its struct, which the
 * callers unpoison before and poison after this (it reads the struct). */
static void park_owned(or_http_req *r, bool park)
{
    const struct {
        void *p;
        size_t n;
    } owned[] = {
        {r->url.data, r->url.cap},
        {r->hdr.data, r->hdr.cap},
        {r->body.data, r->body.cap},
        {r->hdrs, r->hdrs_cap * sizeof *r->hdrs},
    };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        if (!owned[i].p)
            continue;
        if (park)
            OR_PARK(owned[i].p, owned[i].n);
        else
            OR_UNPARK(owned[i].p, owned[i].n);
    }
}

static or_http_req *req_new(conn *c)
{
    const or_http_limits *l = limits_of(c);
    or_http_req *r = c->spare;
    if (r) {
        c->spare = NULL;
        OR_UNPARK(r, sizeof *r);
        park_owned(r, false);
        or_http_req keep = *r;
        memset(r, 0, sizeof *r);
        r->url = keep.url;
        r->hdr = keep.hdr;
        r->body = keep.body;
        r->hdrs = keep.hdrs;
        r->hdrs_cap = keep.hdrs_cap;
    } else if (!(r = calloc(1, sizeof *r))) {
        return NULL;
    }
    r->c = c;
    r->w = c->w;
    buf_recycle(&r->url, l->max_url_bytes);
    buf_recycle(&r->hdr, l->max_header_bytes);
    buf_recycle(&r->body, l->max_body_bytes);
    return r;
}

/* The finished request becomes the connection's spare. Under ASan it is poisoned while parked,
 * so a handler that touches its request after ending it is still caught. */
static void req_park(conn *c, or_http_req *r)
{
    if (c->spare) {
        or_http__req_free(r);
        return;
    }
    if (r->hdrs_cap * sizeof *r->hdrs > SPARE_BUF_MAX) {
        free(r->hdrs);
        r->hdrs = NULL;
        r->hdrs_cap = 0;
    }
    c->spare = r;
    park_owned(r, true);
    OR_PARK(r, sizeof *r);
}

static void req_spare_free(conn *c)
{
    or_http_req *r = c->spare;
    if (!r)
        return;
    c->spare = NULL;
    OR_UNPARK(r, sizeof *r);
    park_owned(r, false);
    or_http__req_free(r);
}

void or_http__req_free(or_http_req *r)
{
    if (!r)
        return;
    or_buf_free(&r->url);
    or_buf_free(&r->hdr);
    or_buf_free(&r->body);
    free(r->hdrs);
    free(r);
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t);

/* Restarting the libuv timer is a heap removal and insertion, and every request changed the
 * deadline three times (head, body, idle): so the timer is only restarted when the new
 * deadline comes before the one it is armed for. Firing early, it re-arms for what is left;
 * in steady keep-alive traffic it is not touched at all between requests. */
static void arm_at(conn *c, uint64_t due)
{
    c->due = due;
    if (c->armed && c->armed_for <= due)
        return;
    uint64_t now = uv_now(c->timer.loop);
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
    c->armed = true;
    c->armed_for = due;
}

void or_http__timer_arm(conn *c, unsigned ms)
{
    arm_at(c, uv_now(c->timer.loop) + ms);
}

void or_http__timer_stop(conn *c)
{
    c->due = 0;
}

static void arm_idle(conn *c)
{
    or_http__timer_arm(c, limits_of(c)->idle_timeout_ms);
}

static void arm_head(conn *c)
{
    c->head_deadline = or_clock_mono_ms() + limits_of(c)->header_timeout_ms;
    or_http__timer_arm(c, limits_of(c)->header_timeout_ms);
}

static void arm_body(conn *c)
{
    c->body_window_bytes = 0;
    or_http__timer_arm(c, limits_of(c)->body_rate_window_ms);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    const or_http_limits *l = limits_of(c);
    c->armed = false;
    if (!c->due)
        return;
    if (uv_now(t->loop) < c->due) {
        arm_at(c, c->due);
        return;
    }
    c->due = 0;
    switch (c->state) {
    case CONN_IDLE:
        or_http__conn_close(c);
        break;
    case CONN_HEAD:
        or_http__simple_reply(c, 408, "request header timeout");
        break;
    case CONN_BODY: {
        uint64_t need = (uint64_t)l->body_min_rate_bps * l->body_rate_window_ms / 1000;
        if (c->body_window_bytes < need)
            or_http__simple_reply(c, 408, "request body too slow");
        else
            arm_body(c); /* the next window */
        break;
    }
    case CONN_CLOSING:
        or_http__conn_close(c);
        break;
    default:
        break;
    }
}

/* ---- llhttp callbacks ---- */

static int fail(conn *c, int status, const char *why)
{
    or_http__simple_reply(c, status, why);
    return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
    conn *c = p->data;
    c->req = req_new(c);
    if (!c->req)
        return fail(c, 500, "out of memory");
    if (c->state == CONN_IDLE) {
        c->state = CONN_HEAD;
        arm_head(c);
    }
    c->head_bytes = 0;
    return 0;
}

static int count_head(conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes > limits_of(c)->max_header_bytes)
        return fail(c, 431, "request header fields too large");
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (or_buf_append(&c->req->url, at, n) != OR_OK)
        return fail(c, 414, "URI too long");
    return count_head(c, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    or_http_req *r = c->req;
    if (count_head(c, n))
        return HPE_USER;
    if (r->nhdrs == 0 || r->hdrs[r->nhdrs - 1].value_off != UINT32_MAX) {
        /* a new header starts */
        if (r->nhdrs == r->hdrs_cap) {
            size_t ncap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
            hdr_ref *nh = realloc(r->hdrs, ncap * sizeof *nh);
            if (!nh)
                return fail(c, 500, "out of memory");
            r->hdrs = nh;
            r->hdrs_cap = ncap;
        }
        r->hdrs[r->nhdrs].name_off = (uint32_t)r->hdr.len;
        r->hdrs[r->nhdrs].value_off = UINT32_MAX;
        r->nhdrs++;
    }
    if (or_buf_append(&r->hdr, at, n) != OR_OK)
        return fail(c, 431, "request header fields too large");
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    conn *c = p->data;
    or_http_req *r = c->req;
    if (or_buf_append(&r->hdr, "", 1) != OR_OK)
        return fail(c, 431, "request header fields too large");
    r->hdrs[r->nhdrs - 1].value_off = (uint32_t)r->hdr.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    or_http_req *r = c->req;
    if (count_head(c, n))
        return HPE_USER;
    if (memchr(at, '\0', n))
        return fail(c, 400, "NUL byte in a header value");
    /* llhttp 8 folds obs-fold continuation lines into the value; RFC 9112 lets a server
     * reject them, and a proxy must not pass them on. */
    if (memchr(at, '\n', n) || memchr(at, '\r', n))
        return fail(c, 400, "obsolete line folding in a header");
    if (c->value_open) {
        /* A value reported in pieces must be contiguous: pieces split by a read boundary touch
         * the buffer edges; any gap means llhttp skipped a fold ("\r\n "). */
        bool contiguous = c->value_seq == c->exec_seq ? at == c->value_end
                                                      : (c->value_at_buf_end && at == c->exec_base);
        if (!contiguous)
            return fail(c, 400, "obsolete line folding in a header");
    }
    c->value_open = true;
    c->value_end = at + n;
    c->value_seq = c->exec_seq;
    c->value_at_buf_end = at + n == c->exec_end;
    if (or_buf_append(&r->hdr, at, n) != OR_OK)
        return fail(c, 431, "request header fields too large");
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    conn *c = p->data;
    c->value_open = false;
    /* An empty value gets no on_header_value call; the NUL alone makes it "". */
    if (or_buf_append(&c->req->hdr, "", 1) != OR_OK)
        return fail(c, 431, "request header fields too large");
    return 0;
}

static void split_target(or_http_req *r)
{
    char *q = memchr(r->url.data ? r->url.data : "", '?', r->url.len);
    if (q) {
        *q = '\0';
        r->query_off = (size_t)(q - r->url.data) + 1;
        r->has_query = true;
    }
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = p->data;
    or_http_req *r = c->req;
    r->start_ms = or_clock_mono_ms();
    const char *method = llhttp_method_name(p->method); /* no printf on every request */
    size_t mlen = strnlen(method, sizeof r->method - 1);
    memcpy(r->method, method, mlen);
    r->method[mlen] = '\0';
    if (!r->url.data || r->url.data[0] != '/') {
        if (!(r->url.data && strcmp(r->url.data, "*") == 0))
            return fail(c, 400, "bad request target");
    }
    split_target(r);
    if (p->http_major != 1)
        return fail(c, 505, "HTTP version not supported");
    if (p->http_minor == 1 && !or_http_header(r, "host"))
        return fail(c, 400, "missing Host header");
    c->keep_alive = llhttp_should_keep_alive(p) && !c->w->draining;

    const or_http_app *app = &c->w->srv->app;
    r->accepted = app->on_head ? app->on_head(r, app->app) : true;
    if (!r->accepted) {
        /* The app answered from the head alone (respond.c closes the connection after an
         * early reply, so an unread body cannot desync the stream). */
        if (!r->responded)
            return fail(c, 500, "no response");
        return HPE_USER;
    }
    /* Checked after on_head, which may have set this request's own cap (or_http_set_max_body);
     * still before any 100 Continue, so a refused body is never invited. */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->body.max)
        return fail(c, 413, "request body too large");
    const char *expect = or_http_header(r, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_minor == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        or_http__write(c, cont, sizeof cont - 1);
    }
    c->state = CONN_BODY;
    arm_body(c);
    return 0;
}

static int on_chunk_header(llhttp_t *p)
{
    conn *c = p->data;
    c->chunk_has_data = false;
    return 0;
}

/* llhttp 8.1 skips the two bytes after chunk data without looking at them; a request whose
 * chunk data is not followed by CRLF is malformed (and a smuggling vector), so look here. */
static int on_chunk_complete(llhttp_t *p)
{
    conn *c = p->data;
    if (!c->chunk_has_data)
        return 0;
    char got[2];
    if (c->body_end_seq == c->exec_seq) {
        memcpy(got, c->body_end, 2);
    } else {
        memcpy(got, c->carry, c->ncarry);
        memcpy(got + c->ncarry, c->exec_base, 2 - c->ncarry);
    }
    c->chunk_has_data = false;
    c->ncarry = 0;
    if (got[0] != '\r' || got[1] != '\n')
        return fail(c, 400, "chunk data not followed by CRLF");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    c->chunk_has_data = true;
    c->body_end = at + n;
    c->body_end_seq = c->exec_seq;
    c->ncarry = 0;
    c->body_window_bytes += n;
    if (or_buf_append(&c->req->body, at, n) != OR_OK)
        return fail(c, 413, "request body too large");
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    or_http_req *r = c->req;
    or_http__timer_stop(c);
    c->state = CONN_HANDLER;
    r->dispatched = true;
    const or_http_app *app = &c->w->srv->app;
    app->on_request(r, app->app);
    /* The handler may have finished (and the next request begun parsing is not allowed from
     * here): always pause; the caller of llhttp_execute continues with what is left. */
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
    .on_message_complete = on_message_complete,
};

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    /* One static buffer per thread: bytes are parsed (copied where kept) before the next read. */
    static _Thread_local char chunk[READ_CHUNK];
    buf->base = chunk;
    buf->len = sizeof chunk;
}

/* Feeds bytes to the parser until they are used up, a request is dispatched (the rest is kept
 * in `pending`), or an error closes the connection. */
static void parse(conn *c, const char *data, size_t n)
{
    c->in_parse = true;
    while (n > 0 && !c->close_after && !c->closed) {
        c->exec_base = data;
        c->exec_end = data + n;
        c->exec_seq++;
        llhttp_errno_t e = llhttp_execute(&c->parser, data, n);
        if (c->chunk_has_data && c->body_end_seq == c->exec_seq) {
            /* Chunk data ended in this buffer but its CRLF did not arrive yet: keep what did. */
            size_t tail = (size_t)(data + n - c->body_end);
            c->ncarry = tail < 2 ? (int)tail : 2;
            memcpy(c->carry, c->body_end, (size_t)c->ncarry);
        }
        if (e == HPE_OK)
            break;
        if (e == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(&c->parser);
            size_t used = pos ? (size_t)(pos - data) : n;
            data += used;
            n -= used;
            if (c->state == CONN_HANDLER) {
                /* Keep the rest for after the response. */
                if (n && or_buf_append(&c->pending, data, n) != OR_OK)
                    c->keep_alive = false;
                break;
            }
            llhttp_resume(&c->parser);
            continue;
        }
        if (e == HPE_INVALID_VERSION) {
            or_http__simple_reply(c, 505, "HTTP version not supported");
        } else if (e != HPE_USER) { /* on HPE_USER our callback replied already */
            or_log_debug("http parse error from %s: %s (%s)", c->peer, llhttp_errno_name(e),
                         llhttp_get_error_reason(&c->parser));
            or_http__simple_reply(c, 400, "malformed request");
        }
        break;
    }
    c->in_parse = false;
}

static void abort_request(conn *c)
{
    or_http_req *r = c->req;
    if (!r || !r->dispatched || r->finished)
        return;
    r->aborted = true;
    if (r->cb.on_abort) {
        void (*cb)(or_http_req *, void *) = r->cb.on_abort;
        r->cb.on_abort = NULL;
        cb(r, r->cb_ud);
        /* The handler is done with it. */
        c->req = NULL;
        or_http__req_free(r);
    }
    /* Without an abort callback the handler still owns the request: it is freed when the
     * handler ends it (writes are dropped). */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        c->peer_gone = true;
        abort_request(c);
        or_http__conn_close(c);
        return;
    }
    if (c->close_after)
        return; /* answering an error; the rest is ignored */
    if (c->state == CONN_HANDLER) {
        if (or_buf_append(&c->pending, buf->base, (size_t)nread) != OR_OK ||
            c->pending.len > PENDING_MAX) {
            uv_read_stop(s); /* resumed when the response ends */
            c->reading = false;
        }
        return;
    }
    parse(c, buf->base, (size_t)nread);
}

/* ---- lifecycle ---- */

static void on_close(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    or_http_worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    if (c->req && c->req->dispatched && !c->req->finished)
        c->req->c = NULL; /* the handler still holds it; freed when it ends the response */
    else
        or_http__req_free(c->req);
    req_spare_free(c);
    or_buf_free(&c->pending);
    free(c);
    or_http__worker_conn_gone(w);
}

void or_http__conn_close(conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    if (c->req && c->req->dispatched && !c->req->finished && !c->req->aborted)
        abort_request(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_close);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void or_http__conn_accept(or_http_worker *w)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    or_buf_init(&c->pending, PENDING_MAX * 2);
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
        or_http__conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->state = CONN_IDLE;
    arm_head(c); /* a fresh connection must start its first request in time */
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->reading = true;
}

/* Called by respond.c when the response of the current request is complete (all queued). */
void or_http__conn_finish_request(conn *c)
{
    or_http_req *r = c->req;
    c->req = NULL;
    if (r && !c->closed)
        req_park(c, r);
    else
        or_http__req_free(r);
    if (c->closed)
        return;
    if (!c->keep_alive || c->close_after || c->w->draining) {
        c->close_after = true;
        c->state = CONN_CLOSING;
        return; /* respond.c shuts down once the writes flush */
    }
    c->state = CONN_IDLE;
    arm_idle(c);
    if (c->in_parse)
        return; /* parse() resumes the parser and goes on with the bytes it holds */
    llhttp_resume(&c->parser);
    if (!c->reading) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        c->reading = true;
    }
    if (c->pending.len) {
        size_t n = 0;
        char *data = or_buf_take(&c->pending, &n);
        parse(c, data, n);
        free(data);
    }
}

/* Shutdown: close idle connections now; busy ones close after their response (force: now). */
void or_http__conn_drain(or_http_worker *w, bool force)
{
    conn *next;
    for (conn *c = w->conns; c; c = next) {
        next = c->next;
        if (force || c->state == CONN_IDLE || c->state == CONN_HEAD)
            or_http__conn_close(c);
        else
            c->keep_alive = false;
    }
}

/* ---- request accessors ---- */

const char *or_http_method(const or_http_req *r)
{
    return r->method;
}

const char *or_http_path(const or_http_req *r)
{
    return r->url.data ? r->url.data : "";
}

const char *or_http_query(const or_http_req *r)
{
    return r->has_query ? r->url.data + r->query_off : "";
}

const char *or_http_header(const or_http_req *r, const char *name)
{
    /* Names of another length are skipped without strcasecmp: a complete name is stored as its
     * bytes and one NUL right before its value (on_header_field_complete), so its length is
     * value_off - name_off - 1, and llhttp admits no NUL inside a name to shorten it. */
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nhdrs; i++) {
        if (r->hdrs[i].value_off == UINT32_MAX ||
            r->hdrs[i].value_off - r->hdrs[i].name_off - 1 != n)
            continue;
        if (strcasecmp(r->hdr.data + r->hdrs[i].name_off, name) == 0)
            return r->hdr.data + r->hdrs[i].value_off;
    }
    return NULL;
}

size_t or_http_header_count(const or_http_req *r)
{
    return r->nhdrs;
}

void or_http_header_at(const or_http_req *r, size_t i, const char **name, const char **value)
{
    *name = r->hdr.data + r->hdrs[i].name_off;
    *value = r->hdrs[i].value_off == UINT32_MAX ? "" : r->hdr.data + r->hdrs[i].value_off;
}

const or_buf *or_http_body(const or_http_req *r)
{
    return &r->body;
}

void or_http_set_max_body(or_http_req *r, size_t max)
{
    r->body.max = max;
}

char *or_http_body_take(or_http_req *r, size_t *len)
{
    return or_buf_take(&r->body, len);
}

const char *or_http_peer_ip(const or_http_req *r)
{
    return r->c ? r->c->peer : "";
}

or_http_worker *or_http_req_worker(or_http_req *r)
{
    return r->w;
}

uint64_t or_http_req_start_ms(const or_http_req *r)
{
    return r->start_ms;
}

void or_http_set_ud(or_http_req *r, void *ud)
{
    r->ud = ud;
}

void *or_http_ud(const or_http_req *r)
{
    return r->ud;
}

void or_http_set_stream_cb(or_http_req *r, const or_http_stream_cb *cb, void *ud)
{
    r->cb = *cb;
    r->cb_ud = ud;
}
