/*
 * conn.c — an outbound connection: DNS, TCP, proxy TLS, tunnel, origin TLS (see conn.h).
 *
 * Bytes climb a short stack. Level 0 is the socket. Level 1 is what the proxy's TLS decrypts
 * (or the socket itself without one): the tunnel handshake reads it, and after that it carries
 * the origin's bytes. Level 2 is what the origin's TLS decrypts (or level 1 without one): the
 * owner's plaintext. Writing goes down the same stack. TLS engines are sans-IO (tls.h), so a
 * TLS session inside a TLS tunnel costs nothing special.
 *
 * Pausing stops reading the socket and keeps what the owner did not take in `held`. Bytes
 * still inside a TLS engine stay there; resume offers `held` first, then drains the engines,
 * then reads the socket again.
 */
#include "upstream/conn.h"

#include "core/buf.h"
#include "upstream/tls.h"
#include "upstream/tunnel.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    READ_BUF = 64 * 1024,
    PLAIN_BUF = 16 * 1024,
    HANDSHAKE_OUT_MAX = 4096,
    KEEPALIVE_S = 60,
};

typedef enum {
    ST_RESOLVE,
    ST_CONNECT,
    ST_PROXY_TLS,
    ST_TUNNEL,
    ST_ORIGIN_TLS,
    ST_READY,
    ST_DEAD, /* on_end raised or closed */
} state;

typedef enum { TUN_NONE, TUN_CONNECT, TUN_SOCKS5 } tunnel_kind;

struct or_upconn {
    uv_loop_t *loop;
    uv_tcp_t *tcp; /* one per connect attempt; freed by its close callback */
    uv_getaddrinfo_t gai;
    bool gai_busy;
    struct addrinfo *ai, *ai_next;
    uv_connect_t creq;
    int refs; /* the struct itself + closing handles + a pending lookup */

    state st;
    bool closed; /* the owner let go */
    bool paused;
    bool reading;
    bool forwarding;
    or_url origin, proxy;
    bool has_proxy;

    or_tls *ptls, *otls; /* proxy leg, origin leg */
    tunnel_kind tun;
    or_tun_connect tc;
    or_socks5 sx;

    or_buf held; /* plaintext the owner did not take yet */
    size_t held_off;

    const or_upconn_events *ev;
    void *ud;
    char detail[512];
};

/* Raw reads land here; uv never runs two read callbacks at once on one thread, and everything
 * read is consumed (copied into a TLS engine or `held`) before the callback returns. */
static _Thread_local char read_buf[READ_BUF];

static void unref(or_upconn *c)
{
    if (--c->refs > 0)
        return;
    if (c->ai)
        uv_freeaddrinfo(c->ai);
    or_buf_free(&c->held);
    or_url_wipe(&c->origin);
    or_url_wipe(&c->proxy);
    or_socks5_wipe(&c->sx);
    free(c);
}

static void on_tcp_closed(uv_handle_t *h)
{
    or_upconn *c = h->data;
    free(h);
    unref(c);
}

static void drop_tcp(or_upconn *c)
{
    if (!c->tcp)
        return;
    uv_close((uv_handle_t *)c->tcp, on_tcp_closed);
    c->tcp = NULL;
    c->reading = false;
}

static void free_engines(or_upconn *c)
{
    if (c->ptls)
        or_tls_free(c->ptls);
    if (c->otls)
        or_tls_free(c->otls);
    c->ptls = c->otls = NULL;
}

/* Raises on_end once; the owner is expected to close. */
static void end(or_upconn *c, or_up_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void end(or_upconn *c, or_up_result res, const char *fmt, ...)
{
    if (c->st == ST_DEAD || c->closed)
        return;
    c->st = ST_DEAD;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
    if (c->tcp && c->reading)
        uv_read_stop((uv_stream_t *)c->tcp);
    c->reading = false;
    c->ev->on_end(c->ud, res, c->detail);
}

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct {
    uv_write_t w;
    char data[];
} wreq;

static void on_written(uv_write_t *w, int status)
{
    or_upconn *c = w->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED && c && !c->closed)
        end(c, OR_UP_ERESET, "send failed: %s", uv_strerror(status));
}

/* Level 0. Whatever the kernel does not take at once is copied and queued (after a queued
 * write uv_try_write refuses, which keeps the order). Errors surface on the read side, so no
 * event fires inside a write. */
static void send_raw(or_upconn *c, const uv_buf_t *bufs, unsigned n)
{
    if (!c->tcp || c->st == ST_DEAD)
        return;
    size_t total = 0, done = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    int w = uv_try_write((uv_stream_t *)c->tcp, bufs, n);
    if (w > 0)
        done = (size_t)w;
    if (done == total)
        return;
    if (w < 0 && w != UV_EAGAIN)
        return; /* the socket is dead: its read side reports the reset or EOF */
    wreq *q = malloc(sizeof *q + (total - done));
    if (!q)
        return; /* the request's deadline will notice */
    size_t off = 0, skip = done;
    for (unsigned i = 0; i < n; i++) {
        size_t len = bufs[i].len;
        const char *p = bufs[i].base;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(q->data + off, p + skip, len - skip);
        off += len - skip;
        skip = 0;
    }
    q->w.data = c;
    uv_buf_t b = uv_buf_init(q->data, (unsigned)off);
    if (uv_write(&q->w, (uv_stream_t *)c->tcp, &b, 1, on_written) != 0)
        free(q);
}

/* Moves an engine's pending ciphertext one level down. */
static void flush_tls(or_upconn *c, or_tls *t, bool to_raw);

static void send_l1(or_upconn *c, const uv_buf_t *bufs, unsigned n)
{
    if (!c->ptls) {
        send_raw(c, bufs, n);
        return;
    }
    or_errbuf eb;
    for (unsigned i = 0; i < n; i++)
        if (bufs[i].len && or_tls_write(c->ptls, bufs[i].base, bufs[i].len, &eb) != OR_OK) {
            end(c, OR_UP_ECONNECT, "proxy TLS: %s", eb.msg);
            return;
        }
    flush_tls(c, c->ptls, true);
}

static void flush_tls(or_upconn *c, or_tls *t, bool to_raw)
{
    char small[PLAIN_BUF];
    size_t n;
    while ((n = or_tls_pending(t)) > 0) {
        char *p = n <= sizeof small ? small : malloc(n);
        if (!p)
            return;
        n = or_tls_take(t, p, n <= sizeof small ? sizeof small : n);
        uv_buf_t b = uv_buf_init(p, (unsigned)n);
        if (to_raw)
            send_raw(c, &b, 1);
        else
            send_l1(c, &b, 1);
        if (p != small)
            free(p);
    }
}

void or_upconn_write(or_upconn *c, const uv_buf_t *bufs, unsigned nbufs)
{
    if (c->closed || c->st != ST_READY)
        return;
    if (!c->otls) {
        send_l1(c, bufs, nbufs);
        return;
    }
    or_errbuf eb;
    for (unsigned i = 0; i < nbufs; i++)
        if (bufs[i].len && or_tls_write(c->otls, bufs[i].base, bufs[i].len, &eb) != OR_OK) {
            snprintf(c->detail, sizeof c->detail, "TLS: %s", eb.msg);
            return;
        }
    flush_tls(c, c->otls, false);
}

/* ---- the legs ------------------------------------------------------------------------------- */

static void start_reading(or_upconn *c);
static void become_ready(or_upconn *c);

static const char *dial_host(const or_upconn *c)
{
    return c->has_proxy ? c->proxy.host : c->origin.host;
}

/* One handshake step of the proxy's or the origin's engine (the first one writes the
 * ClientHello); its output goes one level down. On OR_TLS_FAIL the connection has ended. */
static or_tls_step tls_step(or_upconn *c, or_tls *t)
{
    or_errbuf eb;
    or_tls_step s = or_tls_handshake(t, &eb);
    flush_tls(c, t, t == c->ptls);
    if (s == OR_TLS_FAIL)
        end(c, OR_UP_ECONNECT, "TLS with %s%s: %s", t == c->ptls ? "proxy " : "",
            t == c->ptls ? c->proxy.host : c->origin.host, eb.msg);
    return s;
}

/* A new engine for host in *t, and its first step. */
static void tls_start(or_upconn *c, const char *host, or_tls **t)
{
    or_errbuf eb;
    if (or_tls_new(host, true, t, &eb) != OR_OK)
        end(c, OR_UP_ECONNECT, "TLS with %s: %s", host, eb.msg);
    else
        tls_step(c, *t);
}

static void start_origin_tls(or_upconn *c)
{
    if (c->origin.scheme != OR_URL_HTTPS || c->forwarding) {
        become_ready(c);
        return;
    }
    c->st = ST_ORIGIN_TLS;
    tls_start(c, c->origin.host, &c->otls);
}

static void start_tunnel(or_upconn *c)
{
    or_errbuf eb;
    or_buf out;
    or_buf_init(&out, HANDSHAKE_OUT_MAX);
    or_err e = OR_OK;
    const char *user = c->proxy.has_user ? c->proxy.user : NULL;
    const char *pass = c->proxy.has_user ? c->proxy.pass : NULL;
    if (!c->has_proxy || c->forwarding) {
        start_origin_tls(c);
        goto out;
    }
    c->st = ST_TUNNEL;
    if (c->proxy.scheme == OR_URL_SOCKS5) {
        c->tun = TUN_SOCKS5;
        if ((e = or_socks5_init(&c->sx, c->origin.host, c->origin.port, user, pass, &eb)) == OR_OK)
            e = or_socks5_out(&c->sx, &out);
    } else {
        c->tun = TUN_CONNECT;
        or_tun_connect_init(&c->tc);
        e = or_tun_connect_request(&out, c->origin.host, c->origin.port, user, pass, &eb);
    }
    if (e != OR_OK) {
        end(c, OR_UP_ECONNECT, "proxy: %s", eb.msg);
        goto out;
    }
    uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
    send_l1(c, &b, 1);
out:
    or_buf_wipe_free(&out); /* proxy credentials */
}

static void start_proxy_tls(or_upconn *c)
{
    start_reading(c);
    if (!c->has_proxy || c->proxy.scheme != OR_URL_HTTPS) {
        start_tunnel(c);
        return;
    }
    c->st = ST_PROXY_TLS;
    tls_start(c, c->proxy.host, &c->ptls);
}

static void become_ready(or_upconn *c)
{
    c->st = ST_READY;
    c->ev->on_ready(c->ud);
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Offers p to the owner; keeps what it does not take and pauses. */
static void deliver(or_upconn *c, const char *p, size_t n)
{
    if (c->st != ST_READY) {
        end(c, OR_UP_EPROTO, "data from %s before the request", dial_host(c));
        return;
    }
    size_t took = c->ev->on_data(c->ud, p, n);
    if (c->closed || c->st == ST_DEAD || took >= n)
        return;
    if (or_buf_append(&c->held, p + took, n - took) != OR_OK) {
        end(c, OR_UP_EINTERNAL, "out of memory holding a paused response");
        return;
    }
    or_upconn_pause(c);
}

static bool live(const or_upconn *c)
{
    return !c->closed && c->st != ST_DEAD;
}

/* Drains the origin engine's plaintext to the owner until it pauses or runs dry. */
static void drain_origin(or_upconn *c)
{
    char buf[PLAIN_BUF];
    or_errbuf eb;
    while (live(c) && !c->paused) {
        ptrdiff_t k = or_tls_read(c->otls, buf, sizeof buf, &eb);
        if (k > 0) {
            deliver(c, buf, (size_t)k);
        } else if (k == 0) {
            break;
        } else if (k == OR_TLS_READ_EOF) {
            end(c, OR_UP_OK, "closed");
        } else {
            end(c, OR_UP_ERESET, "TLS: %s", eb.msg);
        }
    }
    if (live(c))
        flush_tls(c, c->otls, false); /* post-handshake replies (key updates) */
}

static void feed_tunnel(or_upconn *c, const char **p, size_t *n)
{
    or_errbuf eb;
    size_t used = 0;
    or_tun_step s;
    if (c->tun == TUN_SOCKS5) {
        s = or_socks5_feed(&c->sx, *p, *n, &used, &eb);
        if (s == OR_TUN_MORE) {
            or_buf out;
            or_buf_init(&out, HANDSHAKE_OUT_MAX);
            if (or_socks5_out(&c->sx, &out) == OR_OK && out.len) {
                uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
                send_l1(c, &b, 1);
            }
            or_buf_wipe_free(&out);
        }
    } else {
        s = or_tun_connect_feed(&c->tc, *p, *n, &used, &eb);
    }
    *p += used;
    *n -= used;
    if (s == OR_TUN_FAIL) {
        end(c, OR_UP_ECONNECT, "%s", eb.msg);
    } else if (s == OR_TUN_DONE) {
        or_socks5_wipe(&c->sx);
        start_origin_tls(c);
    }
}

/* Bytes above the proxy's TLS (or the socket's, without one). */
static void feed_l1(or_upconn *c, const char *p, size_t n)
{
    if (live(c) && c->st == ST_TUNNEL)
        feed_tunnel(c, &p, &n);
    if (!live(c) || n == 0)
        return;
    if (!c->otls) {
        deliver(c, p, n);
        return;
    }
    if (or_tls_feed(c->otls, p, n) != OR_OK) {
        end(c, OR_UP_EPROTO, "TLS: more unread data from %s than the cap", c->origin.host);
        return;
    }
    if (c->st == ST_ORIGIN_TLS && tls_step(c, c->otls) == OR_TLS_DONE)
        become_ready(c);
    if (live(c) && c->st == ST_READY)
        drain_origin(c);
}

/* Drains the proxy engine into level 1 (which may pause the owner: then stop, the rest stays
 * in the engine). */
static void drain_proxy(or_upconn *c)
{
    char buf[PLAIN_BUF];
    or_errbuf eb;
    if (c->st == ST_PROXY_TLS) {
        if (tls_step(c, c->ptls) != OR_TLS_DONE)
            return;
        start_tunnel(c);
    }
    while (live(c) && !c->paused) {
        ptrdiff_t k = or_tls_read(c->ptls, buf, sizeof buf, &eb);
        if (k > 0)
            feed_l1(c, buf, (size_t)k);
        else if (k == 0)
            break;
        else if (k == OR_TLS_READ_EOF)
            end(c, OR_UP_OK, "closed");
        else
            end(c, OR_UP_ERESET, "proxy TLS: %s", eb.msg);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    *b = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    or_upconn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF)
            end(c, OR_UP_OK, "closed");
        else
            end(c, OR_UP_ERESET, "connection to %s: %s", dial_host(c), uv_strerror((int)nread));
        return;
    }
    if (c->ptls) {
        if (or_tls_feed(c->ptls, b->base, (size_t)nread) != OR_OK) {
            end(c, OR_UP_EPROTO, "proxy TLS: more unread data than the cap");
            return;
        }
        drain_proxy(c);
    } else {
        feed_l1(c, b->base, (size_t)nread);
    }
}

static void start_reading(or_upconn *c)
{
    if (c->reading || !c->tcp || !live(c))
        return;
    if (uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

void or_upconn_pause(or_upconn *c)
{
    c->paused = true;
    if (c->reading && c->tcp)
        uv_read_stop((uv_stream_t *)c->tcp);
    c->reading = false;
}

void or_upconn_resume(or_upconn *c)
{
    if (!c->paused || !live(c))
        return;
    c->paused = false;
    while (live(c) && !c->paused && c->held_off < c->held.len) {
        size_t n = c->held.len - c->held_off;
        size_t took = c->ev->on_data(c->ud, c->held.data + c->held_off, n);
        if (!live(c))
            return;
        c->held_off += took < n ? took : n;
        if (took < n)
            c->paused = true;
    }
    if (c->paused) {
        or_upconn_pause(c);
        return;
    }
    or_buf_reset(&c->held);
    c->held_off = 0;
    if (c->ptls)
        drain_proxy(c);
    else if (c->otls)
        drain_origin(c);
    if (live(c) && !c->paused)
        start_reading(c);
}

/* ---- connecting ----------------------------------------------------------------------------- */

static int try_connect(or_upconn *c, const struct sockaddr *sa);

static void on_connected(uv_connect_t *rq, int status)
{
    or_upconn *c = rq->data;
    if (c->closed)
        return;
    if (status < 0) {
        drop_tcp(c);
        while (c->ai_next && c->ai_next->ai_family != AF_INET && c->ai_next->ai_family != AF_INET6)
            c->ai_next = c->ai_next->ai_next;
        if (status != UV_ECANCELED && c->ai_next) {
            const struct sockaddr *next = c->ai_next->ai_addr;
            c->ai_next = c->ai_next->ai_next;
            if ((status = try_connect(c, next)) == 0)
                return;
        }
        end(c, OR_UP_ECONNECT, "connect to %s:%u: %s", dial_host(c),
            c->has_proxy ? c->proxy.port : c->origin.port, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(c->tcp, 1);
    uv_tcp_keepalive(c->tcp, 1, KEEPALIVE_S);
    start_proxy_tls(c);
}

static int try_connect(or_upconn *c, const struct sockaddr *sa)
{
    c->st = ST_CONNECT;
    if (!(c->tcp = malloc(sizeof *c->tcp)))
        return UV_ENOMEM;
    int rc = uv_tcp_init(c->loop, c->tcp);
    if (rc != 0) {
        free(c->tcp);
        c->tcp = NULL;
        return rc;
    }
    c->tcp->data = c;
    c->refs++;
    c->creq.data = c;
    if ((rc = uv_tcp_connect(&c->creq, c->tcp, sa, on_connected)) != 0)
        drop_tcp(c);
    return rc;
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
    or_upconn *c = g->data;
    c->gai_busy = false;
    c->ai = ai;
    if (c->closed) {
        unref(c);
        return;
    }
    c->refs--; /* the lookup's reference; the struct's own one remains */
    struct addrinfo *a = ai;
    while (a && a->ai_family != AF_INET && a->ai_family != AF_INET6)
        a = a->ai_next;
    if (status < 0 || !a) {
        end(c, OR_UP_ECONNECT, "cannot resolve %s: %s", dial_host(c),
            status < 0 ? uv_strerror(status) : "no address");
        return;
    }
    c->ai_next = a->ai_next;
    int rc = try_connect(c, a->ai_addr);
    if (rc != 0)
        end(c, OR_UP_ECONNECT, "connect to %s: %s", dial_host(c), uv_strerror(rc));
}

or_err or_upconn_open(uv_loop_t *loop, const or_url *origin, const or_url *proxy,
                      const or_upconn_events *ev, void *ud, or_upconn **out, or_errbuf *eb)
{
    or_err e = OR_OK;
    or_upconn *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return or_fail(eb, OR_ENOMEM, "out of memory");
    c->loop = loop;
    c->refs = 1;
    c->origin = *origin;
    c->has_proxy = proxy != NULL;
    if (proxy)
        c->proxy = *proxy;
    c->forwarding = proxy && proxy->scheme != OR_URL_SOCKS5 && origin->scheme == OR_URL_HTTP;
    c->ev = ev;
    c->ud = ud;
    or_buf_init(&c->held, 0);

    const or_url *dial = proxy ? proxy : origin;
    struct sockaddr_storage ss;
    int rc;
    if (dial->ip) {
        rc = dial->ipv6 ? uv_ip6_addr(dial->host, (int)dial->port, (struct sockaddr_in6 *)&ss)
                        : uv_ip4_addr(dial->host, (int)dial->port, (struct sockaddr_in *)&ss);
        if (rc != 0) {
            e = or_fail(eb, OR_EINVAL, "bad address %s", dial->host);
            goto out;
        }
        if ((rc = try_connect(c, (struct sockaddr *)&ss)) != 0) {
            e = or_fail(eb, OR_EUPSTREAM, "connect to %s: %s", dial->host, uv_strerror(rc));
            goto out;
        }
    } else {
        char port[8];
        snprintf(port, sizeof port, "%u", dial->port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        c->st = ST_RESOLVE;
        c->gai.data = c;
        c->refs++;
        c->gai_busy = true;
        rc = uv_getaddrinfo(loop, &c->gai, on_resolved, dial->host, port, &hints);
        if (rc != 0) {
            c->refs--;
            c->gai_busy = false;
            e = or_fail(eb, OR_EUPSTREAM, "cannot resolve %s: %s", dial->host, uv_strerror(rc));
            goto out;
        }
    }
out:
    if (e != OR_OK) {
        c->closed = true;
        drop_tcp(c);
        unref(c);
        return e;
    }
    *out = c;
    return OR_OK;
}

void or_upconn_bind(or_upconn *c, const or_upconn_events *ev, void *ud)
{
    c->ev = ev;
    c->ud = ud;
}

void or_upconn_trim(or_upconn *c)
{
    if (c->ptls)
        or_tls_trim(c->ptls);
    if (c->otls)
        or_tls_trim(c->otls);
    or_buf_free(&c->held);
    or_buf_init(&c->held, 0);
    c->held_off = 0;
}

bool or_upconn_forwarding(const or_upconn *c)
{
    return c->forwarding;
}

void or_upconn_close(or_upconn *c)
{
    if (!c || c->closed)
        return;
    c->closed = true;
    c->st = ST_DEAD;
    free_engines(c);
    drop_tcp(c);
    if (c->gai_busy)
        uv_cancel((uv_req_t *)&c->gai); /* on_resolved drops the lookup's reference */
    unref(c);
}
