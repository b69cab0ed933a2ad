/*
 * test_upstream_basic.c — or_upstream against a tiny HTTP/1.1 server on the same uv loop.
 *
 * The server answers by path: /json, /sse/<n>/<delay_ms> (chunked), /big/<n>, /429, /100
 * (interim 100 then 200), /empty, /hang (never answers), /cut and /rst (die mid-body),
 * /bighdr (headers over the cap). It counts accepts and client EOFs so the test can see
 * connection reuse and that a cancel really closes the upstream socket.
 */
#include "check.h"

#include "core/buf.h"
#include "upstream/upstream.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

static uv_loop_t *loop;

/* ---- server --------------------------------------------------------------------------------- */

typedef struct {
    uv_tcp_t lis;
    int port;
    int accepts;
    int eofs;
    uint64_t last_eof_ms;
    int nreq;
    size_t last_body_len;
    char last_auth[128];
    char last_method[16];
    bool saw_expect;
    bool saw_empty;
    bool saw_form_ctype;
} server;

typedef struct {
    uv_tcp_t tcp;
    uv_timer_t tick;
    server *s;
    char *in;
    size_t len, cap;
    int ev_i, ev_n;
    int pending_closes;
    bool closing;
    bool drop_next; /* close instead of answering the next request (a keep-alive race) */
} sconn;

static server srv;

#define IN_MAX (4u << 20)

static void conn_freed(uv_handle_t *h)
{
    sconn *c = h->data;
    if (--c->pending_closes == 0) {
        free(c->in);
        free(c);
    }
}

static void conn_close(sconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_timer_stop(&c->tick);
    uv_close((uv_handle_t *)&c->tick, conn_freed);
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

typedef struct {
    uv_write_t w;
    sconn *c;
    int after; /* 0 nothing, 1 shutdown, 2 reset */
    char data[];
} wreq;

static void on_shut(uv_shutdown_t *sh, int status)
{
    (void)status;
    free(sh);
}

static void on_written(uv_write_t *w, int status)
{
    wreq *q = (wreq *)w;
    if (status == 0 && !q->c->closing) {
        if (q->after == 1) {
            uv_shutdown_t *sh = calloc(1, sizeof *sh);
            uv_shutdown(sh, (uv_stream_t *)&q->c->tcp, on_shut);
        } else if (q->after == 2) {
            q->c->closing = true;
            uv_timer_stop(&q->c->tick);
            uv_close((uv_handle_t *)&q->c->tick, conn_freed);
            uv_tcp_close_reset(&q->c->tcp, conn_freed);
        }
    }
    free(q);
}

static void sendn(sconn *c, const char *p, size_t n, int after)
{
    if (c->closing)
        return;
    wreq *q = malloc(sizeof *q + n);
    memcpy(q->data, p, n);
    q->c = c;
    q->after = after;
    uv_buf_t b = uv_buf_init(q->data, (unsigned)n);
    uv_write(&q->w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static void sends(sconn *c, const char *s)
{
    sendn(c, s, strlen(s), 0);
}

static void sse_event(char *out, size_t cap, int i)
{
    snprintf(out, cap, "data: {\"i\":%d}\n\n", i);
}

static void sse_send_one(sconn *c)
{
    char ev[64], chunk[96];
    sse_event(ev, sizeof ev, c->ev_i++);
    snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(ev), ev);
    sends(c, chunk);
    if (c->ev_i == c->ev_n) {
        sends(c, "0\r\n\r\n");
        uv_timer_stop(&c->tick);
    }
}

static void on_tick(uv_timer_t *t)
{
    sse_send_one(t->data);
}

static unsigned char big_byte(size_t i)
{
    return (unsigned char)((i * 31 + 7) % 251);
}

static void respond(sconn *c, const char *method, const char *path)
{
    char hdr[512];
    int n = 0, d = 0;
    if (strcmp(path, "/drop") == 0) {
        conn_close(c);
    } else if (strcmp(path, "/json") == 0 || strcmp(path, "/json-then-drop") == 0) {
        c->drop_next = strcmp(path, "/json-then-drop") == 0;
        char body[256];
        snprintf(body, sizeof body, "{\"ok\":true,\"method\":\"%s\",\"len\":%zu}", method,
                 c->s->last_body_len);
        snprintf(hdr, sizeof hdr,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad:   spaced out  \r\n"
                 "Content-Length: %zu\r\n\r\n",
                 strlen(body));
        sends(c, hdr);
        sends(c, body);
    } else if (sscanf(path, "/sse/%d/%d", &n, &d) == 2) {
        sends(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
        c->ev_i = 0;
        c->ev_n = n;
        if (d == 0)
            while (c->ev_i < c->ev_n)
                sse_send_one(c);
        else
            uv_timer_start(&c->tick, on_tick, (uint64_t)d, (uint64_t)d);
    } else if (sscanf(path, "/big/%d", &n) == 1) {
        snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n);
        sends(c, hdr);
        char *b = malloc((size_t)n);
        for (size_t i = 0; i < (size_t)n; i++)
            b[i] = (char)big_byte(i);
        sendn(c, b, (size_t)n, 0);
        free(b);
    } else if (strcmp(path, "/429") == 0) {
        sends(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/100") == 0) {
        sends(c, "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    } else if (strcmp(path, "/empty") == 0) {
        sends(c, "HTTP/1.1 204 No Content\r\nX-Empty-Reply: 1\r\n\r\n");
    } else if (strcmp(path, "/cut") == 0 || strcmp(path, "/rst") == 0) {
        char buf[100 + 128];
        int hl = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        memset(buf + hl, 'x', 100);
        sendn(c, buf, (size_t)hl + 100, strcmp(path, "/cut") == 0 ? 1 : 2);
    } else if (strcmp(path, "/bighdr") == 0) {
        sends(c, "HTTP/1.1 200 OK\r\n");
        char line[1100];
        for (int i = 0; i < 70; i++) {
            int k = snprintf(line, sizeof line, "X-Big-%d: ", i);
            memset(line + k, 'a', 1000);
            memcpy(line + k + 1000, "\r\n", 3);
            sends(c, line);
        }
        sends(c, "Content-Length: 0\r\n\r\n");
    }
    /* /hang: say nothing */
}

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            return p + i;
    return NULL;
}

static void process(sconn *c)
{
    for (;;) {
        const char *end = find_crlfcrlf(c->in, c->len);
        if (!end)
            return;
        size_t head_len = (size_t)(end - c->in) + 4;
        size_t clen = 0;
        bool expect = false, empty = false, form = false;
        char auth[128] = "";
        for (const char *l = strstr(c->in, "\r\n") + 2; l < end; l = strstr(l, "\r\n") + 2) {
            if (strncasecmp(l, "Content-Length:", 15) == 0)
                clen = strtoul(l + 15, NULL, 10);
            if (strncasecmp(l, "Expect:", 7) == 0)
                expect = true;
            if (strncasecmp(l, "X-Empty:", 8) == 0)
                empty = true;
            if (strncasecmp(l, "Content-Type: application/x-www-form", 36) == 0)
                form = true;
            if (strncasecmp(l, "Authorization: ", 15) == 0) {
                const char *e = strstr(l, "\r\n");
                size_t k = (size_t)(e - l - 15);
                if (k >= sizeof auth)
                    k = sizeof auth - 1;
                memcpy(auth, l + 15, k);
                auth[k] = '\0';
            }
        }
        if (c->len < head_len + clen)
            return;
        char method[16] = "", target[256] = "";
        sscanf(c->in, "%15s %255s", method, target);
        const char *path = target;
        if (strncmp(path, "http://", 7) == 0) { /* absolute-form through a proxy */
            path = strchr(path + 7, '/');
            if (!path)
                path = "/";
        }
        server *s = c->s;
        s->nreq++;
        s->last_body_len = clen;
        s->saw_expect = expect;
        s->saw_empty = empty;
        s->saw_form_ctype = form;
        snprintf(s->last_auth, sizeof s->last_auth, "%s", auth);
        snprintf(s->last_method, sizeof s->last_method, "%s", method);
        if (c->drop_next) {
            conn_close(c);
            return;
        }
        respond(c, method, path);
        if (c->closing)
            return;
        memmove(c->in, c->in + head_len + clen, c->len - head_len - clen);
        c->len -= head_len + clen;
        c->in[c->len] = '\0';
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    sconn *c = h->data;
    (void)hint;
    if (c->cap - c->len < 65537 && c->cap < IN_MAX) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->in = realloc(c->in, c->cap);
    }
    *b = uv_buf_init(c->in + c->len, (unsigned)(c->cap - c->len - 1));
}

static void on_sread(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    sconn *c = st->data;
    (void)b;
    if (nread < 0) {
        c->s->eofs++;
        c->s->last_eof_ms = uv_now(loop);
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    c->in[c->len] = '\0';
    process(c);
}

static void on_conn(uv_stream_t *lis, int status)
{
    server *s = lis->data;
    if (status < 0)
        return;
    sconn *c = calloc(1, sizeof *c);
    c->s = s;
    c->pending_closes = 2;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->tick);
    c->tcp.data = c;
    c->tick.data = c;
    if (uv_accept(lis, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    s->accepts++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_sread);
}

static void server_start(server *s)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &s->lis);
    s->lis.data = s;
    uv_tcp_bind(&s->lis, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&s->lis, 128, on_conn);
    uv_tcp_getsockname(&s->lis, (struct sockaddr *)&got, &len);
    s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

/* A port nothing listens on: bind, read the number, close. */
static int closed_port(void)
{
    uv_tcp_t t;
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &t);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ntohs(((struct sockaddr_in *)&got)->sin_port);
}

/* ---- client side ------------------------------------------------------------------------------
 */

typedef struct tc tc;
struct tc {
    or_upstream *u;
    or_up_req *req;
    int status, nhead, ndata, ndone;
    bool data_before_head;
    char retry_after[32], xpad[64], interim[8];
    size_t nhdrs;
    or_buf body;
    or_up_result res;
    char detail[256];
    bool done;
    uint64_t t_start, t_done;
    /* behaviours */
    bool pause_each;
    unsigned resume_ms;
    uv_timer_t resume_t;
    bool resume_live, resume_closed;
    int cancel_at; /* cancel inside on_data at this chunk number */
    uint64_t t_cancel;
    bool cancel_in_head;
    bool pause_in_head;
    bool paused_by_test; /* set while the test holds a pause: no on_data may arrive */
    bool data_while_paused;
    tc *chain; /* started from on_head (inside the parser) */
    const char *chain_url;
};

static void t_head(void *ud, int status, const or_up_header *h, size_t n);
static bool t_data(void *ud, const char *p, size_t n);
static void t_done(void *ud, or_up_result res, const char *detail);
static const or_up_callbacks tcb = {t_head, t_data, t_done};

static void on_resume(uv_timer_t *h)
{
    tc *t = h->data;
    t->paused_by_test = false;
    or_up_resume(t->req);
}

static void t_head(void *ud, int status, const or_up_header *h, size_t n)
{
    tc *t = ud;
    t->nhead++;
    t->status = status;
    t->nhdrs = n;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, "Retry-After") == 0)
            snprintf(t->retry_after, sizeof t->retry_after, "%s", h[i].value);
        if (strcasecmp(h[i].name, "X-Pad") == 0)
            snprintf(t->xpad, sizeof t->xpad, "%s", h[i].value);
        if (strcasecmp(h[i].name, "X-Interim") == 0)
            snprintf(t->interim, sizeof t->interim, "%s", h[i].value);
    }
    if (t->chain) {
        or_up_request rq = {.method = "GET", .url = t->chain_url};
        t->chain->t_start = uv_now(loop);
        CHECK(or_up_start(t->u, &rq, &tcb, t->chain, &t->chain->req) == OR_OK);
    }
    if (t->pause_in_head) {
        or_up_pause(t->req);
        t->paused_by_test = true;
        uv_timer_start(&t->resume_t, on_resume, t->resume_ms, 0);
    }
    if (t->cancel_in_head) {
        or_up_cancel(t->req);
        t->t_cancel = uv_now(loop);
        t->done = true;
    }
}

static bool t_data(void *ud, const char *p, size_t n)
{
    tc *t = ud;
    if (!t->nhead)
        t->data_before_head = true;
    if (t->paused_by_test)
        t->data_while_paused = true;
    t->ndata++;
    or_buf_append(&t->body, p, n);
    if (t->cancel_at && t->ndata == t->cancel_at) {
        or_up_cancel(t->req);
        t->t_cancel = uv_now(loop);
        t->done = true;
        return false;
    }
    if (t->pause_each) {
        t->paused_by_test = true;
        uv_timer_start(&t->resume_t, on_resume, t->resume_ms, 0);
        return true;
    }
    return false;
}

static void t_done(void *ud, or_up_result res, const char *detail)
{
    tc *t = ud;
    t->ndone++;
    t->res = res;
    t->t_done = uv_now(loop);
    snprintf(t->detail, sizeof t->detail, "%s", detail);
    t->done = true;
    t->req = NULL;
}

static void tc_init(tc *t, or_upstream *u)
{
    memset(t, 0, sizeof *t);
    t->u = u;
    or_buf_init(&t->body, 8u << 20);
    uv_timer_init(loop, &t->resume_t);
    t->resume_t.data = t;
    t->resume_live = true;
}

static void tc_closed(uv_handle_t *h)
{
    ((tc *)h->data)->resume_closed = true;
}

static void tc_fini(tc *t)
{
    or_buf_free(&t->body);
    if (t->resume_live) {
        uv_close((uv_handle_t *)&t->resume_t, tc_closed);
        while (!t->resume_closed)
            uv_run(loop, UV_RUN_ONCE);
    }
}

static uv_timer_t heartbeat;
static void on_heartbeat(uv_timer_t *h)
{
    (void)h;
}

/* Runs the loop until *flag or ms pass; the heartbeat keeps UV_RUN_ONCE from blocking long. */
static bool run_until(const bool *flag, unsigned ms)
{
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    while (!*flag) {
        if (uv_now(loop) > end)
            return false;
        uv_run(loop, UV_RUN_ONCE);
    }
    return true;
}

static void run_for(unsigned ms)
{
    bool never = false;
    run_until(&never, ms);
}

static char url_buf[8][256];
static int url_i;
static const char *url(const char *path)
{
    char *b = url_buf[url_i++ % 8];
    snprintf(b, 256, "http://127.0.0.1:%d%s", srv.port, path);
    return b;
}

static const or_up_header json_hdrs[] = {
    {"Authorization", "Bearer sk-test-123"},
    {"Content-Type", "application/json"},
    {"X-Empty", ""},
};

static or_up_request post(const char *path)
{
    static const char body[] = "{\"model\":\"m\",\"stream\":true}";
    or_up_request rq = {
        .method = "POST",
        .url = url(path),
        .headers = json_hdrs,
        .nheaders = 3,
        .body = body,
        .body_len = sizeof body - 1,
    };
    return rq;
}

static void start(tc *t, const or_up_request *rq)
{
    t->t_start = uv_now(loop);
    or_err e = or_up_start(t->u, rq, &tcb, t, &t->req);
    CHECK(e == OR_OK);
}

static void expect_sse(tc *t, int n)
{
    or_buf want;
    or_buf_init(&want, 0);
    for (int i = 0; i < n; i++) {
        char ev[64];
        sse_event(ev, sizeof ev, i);
        or_buf_puts(&want, ev);
    }
    CHECK(t->body.len == want.len);
    CHECK(t->body.data && want.data && memcmp(t->body.data, want.data, want.len) == 0);
    or_buf_free(&want);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_json(or_upstream *u)
{
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/json");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK);
    CHECK_STR(t.detail, "");
    CHECK(t.status == 200);
    CHECK(t.nhead == 1 && t.ndone == 1 && !t.data_before_head);
    CHECK_STR(t.xpad, "spaced out");
    CHECK(t.nhdrs == 3);
    CHECK_STR(t.body.data, "{\"ok\":true,\"method\":\"POST\",\"len\":27}");
    CHECK_STR(srv.last_auth, "Bearer sk-test-123");
    CHECK(srv.saw_empty);
    CHECK(!srv.saw_expect);
    tc_fini(&t);
}

static void test_reuse(or_upstream *u)
{
    int acc0 = srv.accepts;
    const char *paths[] = {"/json", "/json", "/sse/5/0", "/429", "/json", "/100"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        tc t;
        tc_init(&t, u);
        or_up_request rq = post(paths[i]);
        start(&t, &rq);
        CHECK(run_until(&t.done, 3000));
        CHECK(t.res == OR_UP_OK);
        tc_fini(&t);
    }
    fprintf(stderr, "reuse: %d accepts for 6 requests\n", srv.accepts - acc0);
    CHECK(srv.accepts - acc0 <= 1);
}

static void test_small_answers(or_upstream *u)
{
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/429");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 429 && t.nhead == 1 && t.ndata == 0);
    CHECK_STR(t.retry_after, "7");
    tc_fini(&t);

    tc_init(&t, u);
    rq = post("/100");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 200 && t.nhead == 1);
    CHECK_STR(t.interim, ""); /* headers of the 1xx block are not the response's */
    CHECK_STR(t.body.data, "ok");
    tc_fini(&t);

    tc_init(&t, u);
    rq = (or_up_request){.method = "GET", .url = url("/empty")};
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 204 && t.nhead == 1 && t.ndata == 0);
    CHECK_STR(srv.last_method, "GET");
    tc_fini(&t);
}

static void test_big_upload(or_upstream *u)
{
    size_t n = 1500000;
    char *body = malloc(n);
    memset(body, 'b', n);
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/json");
    rq.body = body;
    rq.body_len = n;
    rq.nheaders = 1; /* no Content-Type: the client must not invent a form type */
    start(&t, &rq);
    CHECK(run_until(&t.done, 5000));
    CHECK(t.res == OR_UP_OK && t.status == 200);
    CHECK(srv.last_body_len == n);
    CHECK(!srv.saw_expect);
    CHECK(!srv.saw_form_ctype);
    tc_fini(&t);
    free(body);
}

static void test_pause_big(or_upstream *u)
{
    size_t n = 3000000;
    tc t;
    tc_init(&t, u);
    t.pause_each = true;
    t.resume_ms = 0;
    or_up_request rq = post("/big/3000000");
    start(&t, &rq);
    CHECK(run_until(&t.done, 20000));
    CHECK(t.res == OR_UP_OK);
    CHECK(t.body.len == n);
    size_t bad = 0;
    for (size_t i = 0; i < t.body.len && i < n; i++)
        bad += (unsigned char)t.body.data[i] != big_byte(i);
    CHECK(bad == 0);
    fprintf(stderr, "pause/big: %zu bytes in %d chunks, %zu wrong\n", t.body.len, t.ndata, bad);
    tc_fini(&t);
}

static void test_pause_burst(or_upstream *u)
{
    /* 300 events in one burst: the rest of a read stays held after the pause. */
    tc t;
    tc_init(&t, u);
    t.pause_each = true;
    t.resume_ms = 1;
    or_up_request rq = post("/sse/300/0");
    start(&t, &rq);
    CHECK(run_until(&t.done, 10000));
    CHECK(t.res == OR_UP_OK);
    expect_sse(&t, 300);
    fprintf(stderr, "pause/burst: %d chunks\n", t.ndata);
    tc_fini(&t);
}

static void test_burst_unpaused(or_upstream *u)
{
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/sse/300/0");
    start(&t, &rq);
    CHECK(run_until(&t.done, 10000));
    CHECK(t.res == OR_UP_OK);
    expect_sse(&t, 300);
    fprintf(stderr, "burst unpaused: %d chunks\n", t.ndata);
    tc_fini(&t);
}

static void test_pause_in_head(or_upstream *u)
{
    /* The pause lands before the first body byte: the client must keep that byte for later. */
    tc t;
    tc_init(&t, u);
    t.pause_in_head = true;
    t.resume_ms = 100;
    or_up_request rq = post("/sse/50/0");
    start(&t, &rq);
    CHECK(run_until(&t.done, 5000));
    CHECK(t.res == OR_UP_OK && !t.data_while_paused);
    CHECK(t.t_done - t.t_start >= 95);
    expect_sse(&t, 50);
    tc_fini(&t);
}

static tc *outside_pause;
static void pause_outside(uv_timer_t *h)
{
    (void)h;
    or_up_pause(outside_pause->req);
    outside_pause->paused_by_test = true;
    uv_timer_start(&outside_pause->resume_t, on_resume, 200, 0);
}

static void test_pause_outside(or_upstream *u)
{
    tc t;
    tc_init(&t, u);
    outside_pause = &t;
    or_up_request rq = post("/sse/20/10");
    rq.idle_ms = 100;
    start(&t, &rq);
    uv_timer_t pt;
    uv_timer_init(loop, &pt);
    uv_timer_start(&pt, pause_outside, 60, 0);
    CHECK(run_until(&t.done, 5000));
    CHECK(t.res == OR_UP_OK && !t.data_while_paused);
    expect_sse(&t, 20);
    fprintf(stderr, "pause outside: %d chunks in %llu ms\n", t.ndata,
            (unsigned long long)(t.t_done - t.t_start));
    uv_close((uv_handle_t *)&pt, NULL);
    tc_fini(&t);
}

static void test_pause_holds_idle(or_upstream *u)
{
    tc t;
    tc_init(&t, u);
    t.pause_each = true;
    t.resume_ms = 250; /* longer than idle_ms: a paused stream is not idle */
    or_up_request rq = post("/sse/4/30");
    rq.idle_ms = 100;
    start(&t, &rq);
    CHECK(run_until(&t.done, 5000));
    CHECK(t.res == OR_UP_OK);
    expect_sse(&t, 4);
    tc_fini(&t);
}

static void test_cancel_in_data(or_upstream *u)
{
    int eofs0 = srv.eofs;
    tc t;
    tc_init(&t, u);
    t.cancel_at = 3;
    or_up_request rq = post("/sse/100/20");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    bool eof = false;
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + 1000;
    while (!(eof = srv.eofs > eofs0) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(eof);
    fprintf(stderr, "cancel in on_data: server EOF after %llu ms\n",
            (unsigned long long)(srv.last_eof_ms - t.t_cancel));
    CHECK(srv.last_eof_ms - t.t_cancel <= 100);
    run_for(100); /* any stray callback would land now */
    CHECK(t.ndone == 0 && t.ndata == 3);
    tc_fini(&t);
}

static tc *outside_target;
static void cancel_outside(uv_timer_t *h)
{
    (void)h;
    or_up_cancel(outside_target->req);
    outside_target->t_cancel = uv_now(loop);
    outside_target->done = true;
}

static void test_cancel_outside(or_upstream *u)
{
    int eofs0 = srv.eofs;
    tc t;
    tc_init(&t, u);
    outside_target = &t;
    or_up_request rq = post("/hang");
    start(&t, &rq);
    uv_timer_t ct;
    uv_timer_init(loop, &ct);
    uv_timer_start(&ct, cancel_outside, 50, 0);
    CHECK(run_until(&t.done, 3000));
    bool eof = false;
    uint64_t end = uv_now(loop) + 1000;
    while (!(eof = srv.eofs > eofs0) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(eof);
    CHECK(srv.last_eof_ms - t.t_cancel <= 100);
    CHECK(t.ndone == 0 && t.nhead == 0);
    uv_close((uv_handle_t *)&ct, NULL);
    tc_fini(&t);
}

static void test_cancel_in_head_and_chain(or_upstream *u, const char *path)
{
    tc a, b;
    tc_init(&a, u);
    tc_init(&b, u);
    a.cancel_in_head = true;
    a.chain = &b;
    a.chain_url = url("/json");
    or_up_request rq = post(path);
    start(&a, &rq);
    CHECK(run_until(&b.done, 3000));
    CHECK(a.nhead == 1 && a.ndone == 0 && a.ndata == 0);
    CHECK(b.res == OR_UP_OK && b.status == 200);
    CHECK_STR(b.body.data, "{\"ok\":true,\"method\":\"GET\",\"len\":0}");
    run_for(50);
    CHECK(a.ndone == 0);
    tc_fini(&a);
    tc_fini(&b);
}

static void test_timeouts(or_upstream *u)
{
    int eofs0 = srv.eofs;
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/hang");
    rq.first_byte_ms = 200;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ETIMEOUT);
    CHECK_STR(t.detail, "no first byte within 200 ms");
    CHECK(t.t_done - t.t_start >= 190 && t.t_done - t.t_start < 1000);
    CHECK(t.nhead == 0);
    run_for(50);
    CHECK(srv.eofs > eofs0); /* the abandoned connection was closed */
    tc_fini(&t);

    tc_init(&t, u);
    rq = post("/sse/3/400");
    rq.idle_ms = 150;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ETIMEOUT);
    CHECK_STR(t.detail, "no data for 150 ms");
    CHECK(t.nhead == 0); /* no body went out: on_head withheld, the caller may retry */
    tc_fini(&t);

    /* The first byte moves the deadline later than the timer is set for: it fires early,
     * finds the silence limit not reached, and must arm again for it. */
    tc_init(&t, u);
    rq = post("/sse/3/400");
    rq.first_byte_ms = 100;
    rq.idle_ms = 250;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ETIMEOUT);
    CHECK_STR(t.detail, "no data for 250 ms");
    tc_fini(&t);

    tc_init(&t, u);
    rq = post("/hang");
    rq.total_ms = 150;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ETIMEOUT);
    fprintf(stderr, "total timeout: %s\n", t.detail);
    tc_fini(&t);
}

static void test_failures(or_upstream *u)
{
    tc t;
    tc_init(&t, u);
    char cu[64];
    snprintf(cu, sizeof cu, "http://127.0.0.1:%d/json", closed_port());
    or_up_request rq = post("/json");
    rq.url = cu;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ECONNECT);
    fprintf(stderr, "connect refused: %s\n", t.detail);
    tc_fini(&t);

    const char *cuts[] = {"/cut", "/rst"};
    for (int i = 0; i < 2; i++) {
        tc_init(&t, u);
        rq = post(cuts[i]);
        start(&t, &rq);
        CHECK(run_until(&t.done, 3000));
        CHECK(t.res == OR_UP_ERESET);
        CHECK(t.body.len <= 100);
        fprintf(stderr, "%s: %s (%zu body bytes)\n", cuts[i], t.detail, t.body.len);
        tc_fini(&t);
    }

    tc_init(&t, u);
    rq = post("/bighdr");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ETOOBIG && t.nhead == 0);
    tc_fini(&t);

    or_up_header bad[] = {{"X-Inject", "a\r\nHost: evil"}};
    rq = post("/json");
    rq.headers = bad;
    rq.nheaders = 1;
    or_up_req *r = NULL;
    CHECK(or_up_start(u, &rq, &tcb, NULL, &r) == OR_EINVAL && r == NULL);
    /* Names and methods must be tokens (RFC 9110 tchar); every separator is refused. */
    static const char *const bad_names[] = {"X Y", "X:Y", "",     "X\x80", "X\x7f", "(X)",
                                            "X/Y", "X\"", "X,Y",  "X;Y",   "X=Y",   "X?",
                                            "X@Y", "[X]", "X\\Y", "{X}",   "X<>",   "X\tY"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        or_up_header h1[] = {{bad_names[i], "v"}};
        rq = post("/json");
        rq.headers = h1;
        rq.nheaders = 1;
        CHECK(or_up_start(u, &rq, &tcb, NULL, &r) == OR_EINVAL && r == NULL);
        rq = post("/json");
        rq.method = bad_names[i];
        CHECK(or_up_start(u, &rq, &tcb, NULL, &r) == OR_EINVAL && r == NULL);
    }
    or_up_header odd[] = {{"X-!#$%&'*+.^_`|~09azAZ", "v"}};
    tc_init(&t, u);
    rq = post("/json");
    rq.headers = odd;
    rq.nheaders = 1;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 200);
    tc_fini(&t);
    CHECK_STR(or_up_result_name(OR_UP_ERESET), "reset");
}

static void test_proxy(or_upstream *u)
{
    char px[64];
    snprintf(px, sizeof px, "http://127.0.0.1:%d", srv.port);
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/json");
    rq.url = "http://upstream.invalid/json";
    rq.proxy = px;
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 200);
    CHECK_STR(t.body.data, "{\"ok\":true,\"method\":\"POST\",\"len\":27}");
    tc_fini(&t);
}

static void test_stale_reuse(or_upstream *u)
{
    /* The server drops a kept-alive connection just as our next request reaches it: the
     * request goes once more on a fresh connection, and the caller never knows. */
    tc t;
    tc_init(&t, u);
    or_up_request rq = post("/json-then-drop");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 200);
    tc_fini(&t);
    int accepts0 = srv.accepts, nreq0 = srv.nreq;
    tc_init(&t, u);
    rq = post("/json");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_OK && t.status == 200);
    CHECK(srv.accepts == accepts0 + 1 && srv.nreq == nreq0 + 2);
    tc_fini(&t);

    /* Once only: when the fresh connection dies unanswered too, that is the answer. */
    accepts0 = srv.accepts;
    nreq0 = srv.nreq;
    tc_init(&t, u);
    rq = post("/drop");
    start(&t, &rq);
    CHECK(run_until(&t.done, 3000));
    CHECK(t.res == OR_UP_ERESET && t.nhead == 0);
    CHECK(srv.accepts == accepts0 + 1 && srv.nreq == nreq0 + 2);
    fprintf(stderr, "stale reuse: %s\n", t.detail);
    tc_fini(&t);
}

static void test_concurrent(or_upstream *u)
{
    enum { N = 16 };
    static tc ts[N];
    for (int i = 0; i < N; i++) {
        tc_init(&ts[i], u);
        ts[i].pause_each = i % 2 == 1;
        ts[i].resume_ms = 3;
        or_up_request rq = post("/sse/10/5");
        start(&ts[i], &rq);
    }
    bool all = false;
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + 5000;
    while (!all && uv_now(loop) < end) {
        uv_run(loop, UV_RUN_ONCE);
        all = true;
        for (int i = 0; i < N; i++)
            all &= ts[i].done;
    }
    CHECK(all);
    for (int i = 0; i < N; i++) {
        CHECK(ts[i].res == OR_UP_OK);
        expect_sse(&ts[i], 10);
        tc_fini(&ts[i]);
    }
}

int main(void)
{
    loop = uv_default_loop();
    uv_timer_init(loop, &heartbeat);
    uv_timer_start(&heartbeat, on_heartbeat, 10, 10);
    server_start(&srv);
    or_upstream *u = or_upstream_new(loop);
    CHECK(u != NULL);

    test_json(u);
    test_reuse(u);
    test_small_answers(u);
    test_big_upload(u);
    test_pause_big(u);
    test_pause_burst(u);
    test_burst_unpaused(u);
    test_pause_in_head(u);
    test_pause_outside(u);
    test_pause_holds_idle(u);
    test_cancel_in_data(u);
    test_cancel_outside(u);
    test_cancel_in_head_and_chain(u, "/429");      /* on_head from the on_done path */
    test_cancel_in_head_and_chain(u, "/sse/3/10"); /* on_head inside the parser */
    test_timeouts(u);
    test_failures(u);
    test_proxy(u);
    test_stale_reuse(u);
    test_concurrent(u);

    /* Freeing with a transfer in flight: no callback, nothing leaked. */
    tc last;
    tc_init(&last, u);
    or_up_request rq = post("/hang");
    start(&last, &rq);
    run_for(30);
    or_upstream_free(u);
    run_for(30);
    CHECK(last.ndone == 0);
    tc_fini(&last);

    uv_close((uv_handle_t *)&heartbeat, NULL);
    uv_close((uv_handle_t *)&srv.lis, NULL);
    /* The server notices the EOFs and closes its side; then nothing is left. */
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(loop) == 0);
    return check_done();
}
