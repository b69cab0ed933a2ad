/*
 * upstream.c — libcurl multi on a libuv loop (see upstream.h for the contract).
 *
 * Re-entrancy is the hard part. libcurl forbids adding/removing easy handles from inside its
 * callbacks, and our users' on_head/on_data run inside curl's write callback. So every user
 * operation (start, pause, resume, cancel) only records what it wants and queues the request;
 * drain() applies the queue once no libcurl call is on the stack (u->depth == 0). on_done is
 * only ever called from drain() or from a uv timer callback, never from inside libcurl.
 *
 * Pausing: on_data has already consumed its bytes when it asks for a pause, so the write
 * callback returns them as written and the pause is applied with curl_easy_pause() right after
 * the libcurl call returns. Any body libcurl tries to hand over in between is refused with
 * CURL_WRITEFUNC_PAUSE: libcurl then keeps exactly those bytes and passes them again after
 * CURLPAUSE_CONT, so nothing is lost or delivered twice.
 */
#include "upstream/upstream.h"

#include "core/buf.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    HEAD_MAX = 64 * 1024, /* status line + all header lines, interim responses included */
    MAX_CONNECTS = 64,
    DEF_CONNECT_MS = 10000,
    DEF_FIRST_BYTE_MS = 120000,
    DEF_IDLE_MS = 120000,
    KEEPALIVE_IDLE_S = 60,
    KEEPALIVE_INTVL_S = 30,
    EASY_POOL = 16,
};

/* What the per-request timer is currently measuring. */
typedef enum {
    PH_FIRST_BYTE, /* start → first response byte */
    PH_IDLE,       /* last body byte → now, while not paused */
    PH_FAIL,       /* a failure found outside a safe point; finish on the next tick */
} phase;

typedef struct sock sock;
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    or_upstream *u;
    int events;  /* uv events polled now; 0 = stopped */
    bool wanted; /* libcurl watches the socket (from its first callback until REMOVE) */
    bool owned;  /* opened by on_open_socket: libcurl closes it through on_close_socket */
    sock *prev, *next;
};

struct or_up_req {
    or_upstream *u;
    CURL *easy;
    struct curl_slist *hdrs; /* request headers; may hold credentials, wiped on free */
    or_up_callbacks cb;
    void *ud;

    uv_timer_t timer;
    phase ph;
    unsigned first_byte_ms, idle_ms;
    uint64_t last_ms; /* loop time of the last body byte (idle is re-armed lazily) */

    or_up_req *prev, *next;   /* u->active */
    or_up_req *qprev, *qnext; /* u->qhead, while queued */
    bool queued;

    or_buf head;       /* "name\0value\0" pairs of the current response block */
    size_t head_bytes; /* raw header bytes seen, for the cap */
    size_t nhdrs;
    or_up_header *hdrv; /* built for on_head, kept until the request is freed */
    int status;

    bool got_byte;  /* any response byte arrived */
    bool head_done; /* final (non-1xx) header block complete */
    bool head_sent; /* on_head called */
    bool need_add;  /* curl_multi_add_handle deferred */
    bool added;
    bool want_paused; /* what the user asked for */
    bool curl_paused; /* what libcurl believes */
    bool cancelled;
    bool in_done; /* finish() is calling the user */
    bool ended;   /* easy handle gone; no more callbacks from libcurl */
    bool torn;

    bool failed; /* our own verdict overrides libcurl's */
    or_up_result fail;
    char detail[CURL_ERROR_SIZE];
    char errbuf[CURL_ERROR_SIZE];
};

struct or_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    or_up_req *active;
    or_up_req *qhead, *qtail;
    sock *socks;
    sock **byfd; /* owned sockets by descriptor: libcurl forgets its assignment on REMOVE */
    size_t nbyfd;
    CURL *pool[EASY_POOL]; /* reset easy handles kept for the next transfers */
    size_t npool;
    int depth; /* > 0 while a libcurl call that may run our callbacks is on the stack */
    bool draining;
};

static const char *const result_names[] = {
    [OR_UP_OK] = "ok",
    [OR_UP_ECONNECT] = "connect",
    [OR_UP_ETIMEOUT] = "timeout",
    [OR_UP_ERESET] = "reset",
    [OR_UP_EPROTO] = "protocol",
    [OR_UP_ETOOBIG] = "too_big",
    [OR_UP_EINTERNAL] = "internal",
};

const char *or_up_result_name(or_up_result r)
{
    if ((unsigned)r >= sizeof result_names / sizeof result_names[0] || !result_names[r])
        return "unknown";
    return result_names[r];
}

static const struct {
    CURLcode code;
    or_up_result res;
} code_map[] = {
    {CURLE_COULDNT_RESOLVE_PROXY, OR_UP_ECONNECT},
    {CURLE_COULDNT_RESOLVE_HOST, OR_UP_ECONNECT},
    {CURLE_COULDNT_CONNECT, OR_UP_ECONNECT},
    {CURLE_SSL_CONNECT_ERROR, OR_UP_ECONNECT},
    {CURLE_PEER_FAILED_VERIFICATION, OR_UP_ECONNECT},
    {CURLE_SSL_CERTPROBLEM, OR_UP_ECONNECT},
    {CURLE_SSL_CIPHER, OR_UP_ECONNECT},
    {CURLE_SSL_CACERT_BADFILE, OR_UP_ECONNECT},
    {CURLE_SSL_ISSUER_ERROR, OR_UP_ECONNECT},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, OR_UP_ECONNECT},
    {CURLE_PROXY, OR_UP_ECONNECT},
    {CURLE_OPERATION_TIMEDOUT, OR_UP_ETIMEOUT},
    {CURLE_RECV_ERROR, OR_UP_ERESET},
    {CURLE_PARTIAL_FILE, OR_UP_ERESET},
    {CURLE_GOT_NOTHING, OR_UP_ERESET},
    {CURLE_SEND_ERROR, OR_UP_ERESET},
    {CURLE_HTTP2_STREAM, OR_UP_ERESET},
    {CURLE_WEIRD_SERVER_REPLY, OR_UP_EPROTO},
    {CURLE_BAD_CONTENT_ENCODING, OR_UP_EPROTO},
    {CURLE_HTTP2, OR_UP_EPROTO},
    {CURLE_HTTP3, OR_UP_EPROTO},
};

static or_up_result map_code(CURLcode c)
{
    for (size_t i = 0; i < sizeof code_map / sizeof code_map[0]; i++)
        if (code_map[i].code == c)
            return code_map[i].res;
    return OR_UP_EINTERNAL;
}

/* ---- lists ------------------------------------------------------------------------------ */

static void q_push(or_upstream *u, or_up_req *r)
{
    if (r->queued || r->torn)
        return;
    r->queued = true;
    r->qnext = NULL;
    r->qprev = u->qtail;
    if (u->qtail)
        u->qtail->qnext = r;
    else
        u->qhead = r;
    u->qtail = r;
}

static void q_unlink(or_upstream *u, or_up_req *r)
{
    if (!r->queued)
        return;
    if (r->qprev)
        r->qprev->qnext = r->qnext;
    else
        u->qhead = r->qnext;
    if (r->qnext)
        r->qnext->qprev = r->qprev;
    else
        u->qtail = r->qprev;
    r->qprev = r->qnext = NULL;
    r->queued = false;
}

static void active_link(or_upstream *u, or_up_req *r)
{
    r->prev = NULL;
    r->next = u->active;
    if (u->active)
        u->active->prev = r;
    u->active = r;
}

static void active_unlink(or_upstream *u, or_up_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (u->active == r)
        u->active = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* ---- sockets and the multi timer ---------------------------------------------------------- */

static void drain(or_upstream *u);

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sock_close(or_upstream *u, sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        u->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->owned && (size_t)s->fd < u->nbyfd)
        u->byfd[s->fd] = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static sock *sock_new(or_upstream *u, curl_socket_t fd)
{
    sock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (uv_poll_init_socket(u->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->fd = fd;
    s->u = u;
    s->poll.data = s;
    s->next = u->socks;
    if (u->socks)
        u->socks->prev = s;
    u->socks = s;
    return s;
}

static sock *sock_owned(or_upstream *u, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < u->nbyfd ? u->byfd[fd] : NULL;
}

/* Polls for ev unless that is what is polled already: uv_poll_start always costs an
 * epoll_ctl DEL and ADD, even for unchanged events. */
static void sock_poll(sock *s, int ev, uv_poll_cb cb)
{
    if (ev == s->events)
        return;
    if (ev)
        uv_poll_start(&s->poll, ev, cb);
    else
        uv_poll_stop(&s->poll);
    s->events = ev;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock *s = h->data;
    or_upstream *u = s->u;
    int flags = 0, running = 0;
    if (!s->wanted) {
        /* An idle keep-alive connection stirred (the server closed it, most likely): stop
         * watching; libcurl checks the connection before it reuses it. */
        sock_poll(s, 0, on_poll);
        return;
    }
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else
        flags = ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
                ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
    u->depth++;
    curl_multi_socket_action(u->multi, s->fd, flags, &running);
    u->depth--;
    drain(u);
}

/* An owned socket keeps its poll handle from open to close: a keep-alive connection's next
 * transfer then usually asks for the events still polled, and costs no epoll_ctl at all.
 * Sockets libcurl opens itself (the resolver's socketpair) are closed without telling us, so
 * their handle goes on REMOVE, before the descriptor can be reused. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *uptr, void *sockp)
{
    or_upstream *u = uptr;
    sock *s = sockp ? sockp : sock_owned(u, fd);
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            s->wanted = false;
            if (!s->owned)
                sock_close(u, s);
        }
        return 0;
    }
    if (!s && !(s = sock_new(u, fd)))
        return -1;
    if (!sockp)
        curl_multi_assign(u->multi, fd, s);
    s->wanted = true;
    int ev = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
    sock_poll(s, ev, on_poll);
    return 0;
}

static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    or_upstream *u = clientp;
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    if ((size_t)fd >= u->nbyfd) {
        size_t n = u->nbyfd ? u->nbyfd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        sock **p = realloc(u->byfd, n * sizeof *p);
        if (!p)
            goto fail;
        memset(p + u->nbyfd, 0, (n - u->nbyfd) * sizeof *p);
        u->byfd = p;
        u->nbyfd = n;
    }
    sock *s = sock_new(u, fd);
    if (!s)
        goto fail;
    s->owned = true;
    u->byfd[fd] = s;
    return fd;
fail:
    close(fd);
    return CURL_SOCKET_BAD;
}

/* The poll handle goes first: libuv must not watch a descriptor number that is about to be
 * reused. */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    or_upstream *u = clientp;
    sock *s = sock_owned(u, fd);
    if (s)
        sock_close(u, s);
    return close(fd);
}

static void on_multi_timer(uv_timer_t *t)
{
    or_upstream *u = t->data;
    int running = 0;
    u->depth++;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    u->depth--;
    drain(u);
}

static int on_curl_timer(CURLM *multi, long ms, void *uptr)
{
    or_upstream *u = uptr;
    (void)multi;
    if (ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, on_multi_timer, (uint64_t)ms, 0);
    return 0;
}

/* ---- request lifetime ------------------------------------------------------------------- */

static void on_req_closed(uv_handle_t *h)
{
    free(h->data);
}

static void free_hdrs(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        sodium_memzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/* Takes the easy handle out of libcurl. Only at depth 0. Removing an unfinished transfer makes
 * libcurl close its HTTP/1 connection, which is what stops an abandoned upstream stream. */
static void detach(or_up_req *r)
{
    uv_timer_stop(&r->timer);
    if (r->easy) {
        or_upstream *u = r->u;
        if (r->added)
            curl_multi_remove_handle(u->multi, r->easy);
        if (u->npool < EASY_POOL) {
            curl_easy_reset(r->easy);
            u->pool[u->npool++] = r->easy;
        } else {
            curl_easy_cleanup(r->easy);
        }
        r->easy = NULL;
        r->added = false;
    }
    r->ended = true;
}

static void teardown(or_up_req *r)
{
    if (r->torn)
        return;
    detach(r);
    r->torn = true;
    q_unlink(r->u, r);
    active_unlink(r->u, r);
    free_hdrs(r->hdrs);
    r->hdrs = NULL;
    free(r->hdrv);
    r->hdrv = NULL;
    or_buf_free(&r->head);
    uv_close((uv_handle_t *)&r->timer, on_req_closed);
}

static bool deliver_head(or_up_req *r)
{
    if (r->nhdrs) {
        r->hdrv = calloc(r->nhdrs, sizeof *r->hdrv);
        if (!r->hdrv)
            return false;
        const char *p = r->head.data;
        for (size_t i = 0; i < r->nhdrs; i++) {
            r->hdrv[i].name = p;
            p += strlen(p) + 1;
            r->hdrv[i].value = p;
            p += strlen(p) + 1;
        }
    }
    r->head_sent = true;
    r->cb.on_head(r->ud, r->status, r->hdrv, r->nhdrs);
    return true;
}

/* Ends a transfer and tells the user. Only at depth 0 (drain or a uv timer callback). */
static void finish(or_up_req *r, CURLcode rc)
{
    if (r->cancelled) {
        teardown(r);
        return;
    }
    or_up_result res = OR_UP_OK;
    const char *detail = "";
    if (r->failed) {
        res = r->fail;
        detail = r->detail;
    } else if (rc != CURLE_OK) {
        res = map_code(rc);
        detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    } else if (!r->head_done) {
        res = OR_UP_EPROTO;
        detail = "response ended before its headers";
    }
    detach(r);
    r->in_done = true;
    /* On failure on_head is withheld if no body byte went out, so the caller sees one clean
     * error it can retry elsewhere. */
    if (res == OR_UP_OK && !r->head_sent && !deliver_head(r)) {
        res = OR_UP_EINTERNAL;
        detail = "out of memory";
    }
    if (!r->cancelled)
        r->cb.on_done(r->ud, res, detail);
    teardown(r);
}

static void on_req_timer(uv_timer_t *t);

/* uv_timer_start needs the callback every time; keep the one place that knows it. */
static void timer_start(or_up_req *r, uint64_t ms)
{
    uv_timer_start(&r->timer, on_req_timer, ms, 0);
}

static void fail_later(or_up_req *r, or_up_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a verdict and lets the request timer end the transfer from a safe point. */
static void fail_later(or_up_req *r, or_up_result res, const char *fmt, ...)
{
    if (r->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    r->failed = true;
    r->fail = res;
    r->ph = PH_FAIL;
    timer_start(r, 0);
}

static void arm_idle(or_up_req *r)
{
    r->ph = PH_IDLE;
    r->last_ms = uv_now(r->u->loop);
    if (!r->want_paused)
        timer_start(r, r->idle_ms);
}

static void on_req_timer(uv_timer_t *t)
{
    or_up_req *r = t->data;
    if (r->ended)
        return;
    switch (r->ph) {
    case PH_FIRST_BYTE:
        r->failed = true;
        r->fail = OR_UP_ETIMEOUT;
        snprintf(r->detail, sizeof r->detail, "no first byte within %u ms", r->first_byte_ms);
        break;
    case PH_IDLE: {
        if (r->want_paused)
            return;
        uint64_t quiet = uv_now(r->u->loop) - r->last_ms;
        if (quiet < r->idle_ms) {
            timer_start(r, r->idle_ms - quiet);
            return;
        }
        r->failed = true;
        r->fail = OR_UP_ETIMEOUT;
        snprintf(r->detail, sizeof r->detail, "no data for %u ms", r->idle_ms);
        break;
    }
    case PH_FAIL:
        break;
    }
    finish(r, CURLE_OK);
    drain(r->u);
}

/* Applies the user's queued wishes. Only at depth 0. */
static void apply(or_up_req *r)
{
    or_upstream *u = r->u;
    if (r->cancelled) {
        if (!r->in_done)
            teardown(r);
        return;
    }
    if (r->ended)
        return;
    if (r->need_add) {
        r->need_add = false;
        if (curl_multi_add_handle(u->multi, r->easy) != CURLM_OK) {
            r->failed = true;
            r->fail = OR_UP_EINTERNAL;
            snprintf(r->detail, sizeof r->detail, "curl_multi_add_handle failed");
            finish(r, CURLE_OK);
            return;
        }
        r->added = true;
    }
    if (r->want_paused && !r->curl_paused) {
        /* Fails harmlessly before the connection exists; the write callback pauses then. */
        if (curl_easy_pause(r->easy, CURLPAUSE_RECV) == CURLE_OK)
            r->curl_paused = true;
    } else if (!r->want_paused && r->curl_paused) {
        r->curl_paused = false;
        u->depth++;
        CURLcode rc = curl_easy_pause(r->easy, CURLPAUSE_CONT);
        u->depth--;
        if (rc != CURLE_OK && !r->cancelled)
            fail_later(r, map_code(rc), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    }
}

static void drain(or_upstream *u)
{
    if (u->depth > 0 || u->draining)
        return;
    u->draining = true;
    for (;;) {
        bool any = false;
        CURLMsg *m;
        int left = 0;
        while ((m = curl_multi_info_read(u->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            /* m dies with the handle; copy what we need first. */
            CURL *easy = m->easy_handle;
            CURLcode rc = m->data.result;
            char *priv = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
            finish((or_up_req *)(void *)priv, rc);
            any = true;
        }
        or_up_req *r = u->qhead;
        if (r) {
            q_unlink(u, r);
            apply(r);
            any = true;
        }
        if (!any)
            break;
    }
    u->draining = false;
}

/* Queues r and applies at once when nothing forbids it. */
static void kick(or_up_req *r)
{
    q_push(r->u, r);
    drain(r->u);
}

/* ---- libcurl callbacks --------------------------------------------------------------------- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static void parse_status(or_up_req *r, const char *p, size_t n)
{
    const char *sp = memchr(p, ' ', n);
    int code = 0;
    if (sp && (size_t)(sp - p) + 4 <= n) {
        for (int i = 1; i <= 3; i++) {
            char c = sp[i];
            if (c < '0' || c > '9') {
                code = 0;
                break;
            }
            code = code * 10 + (c - '0');
        }
    }
    r->status = code;
    r->nhdrs = 0;
    or_buf_reset(&r->head);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    or_up_req *r = ud;
    size_t n = size * nmemb;
    if (r->cancelled || r->failed)
        return 0;
    if (!r->got_byte) {
        r->got_byte = true;
        arm_idle(r);
    }
    if (r->head_done)
        return n; /* trailers: not part of the contract */
    r->head_bytes += n;
    if (r->head_bytes > HEAD_MAX) {
        r->failed = true;
        r->fail = OR_UP_ETOOBIG;
        snprintf(r->detail, sizeof r->detail, "response headers over %d bytes", HEAD_MAX);
        return 0;
    }
    size_t len = n;
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len == 0) { /* end of a header block; 1xx blocks are dropped */
        if (r->status >= 200)
            r->head_done = true;
        else
            parse_status(r, "", 0);
        return n;
    }
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        parse_status(r, p, len);
        return n;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p || is_ws(p[0]))
        return n; /* obsolete folding or junk: curl would have rejected real garbage */
    const char *v = colon + 1, *end = p + len;
    while (v < end && is_ws(*v))
        v++;
    while (end > v && is_ws(end[-1]))
        end--;
    static const char nul = '\0';
    if (or_buf_append(&r->head, p, (size_t)(colon - p)) != OR_OK ||
        or_buf_append(&r->head, &nul, 1) != OR_OK ||
        or_buf_append(&r->head, v, (size_t)(end - v)) != OR_OK ||
        or_buf_append(&r->head, &nul, 1) != OR_OK) {
        r->failed = true;
        r->fail = OR_UP_ETOOBIG;
        snprintf(r->detail, sizeof r->detail, "response headers over %d bytes", HEAD_MAX);
        return 0;
    }
    r->nhdrs++;
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    or_up_req *r = ud;
    size_t n = size * nmemb;
    if (r->cancelled || r->failed)
        return 0; /* aborts the transfer; drain() or the request timer ends it */
    if (r->want_paused) {
        r->curl_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!r->head_sent) {
        if (!r->head_done) {
            long code = 0;
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
            r->status = (int)code;
            r->head_done = true;
        }
        if (!deliver_head(r)) {
            r->failed = true;
            r->fail = OR_UP_EINTERNAL;
            snprintf(r->detail, sizeof r->detail, "out of memory");
            return 0;
        }
        if (r->cancelled)
            return 0;
        if (r->want_paused) {
            r->curl_paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
    }
    if (n == 0)
        return 0;
    r->last_ms = uv_now(r->u->loop);
    bool pause = r->cb.on_data(r->ud, p, n);
    if (r->cancelled)
        return 0; /* aborts the transfer; drain() removes it */
    if (pause && !r->want_paused) {
        r->want_paused = true;
        if (r->ph == PH_IDLE)
            uv_timer_stop(&r->timer);
        q_push(r->u, r);
    }
    return n;
}

/* ---- public API ------------------------------------------------------------------------------ */

or_upstream *or_upstream_new(uv_loop_t *loop)
{
    or_upstream *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->loop = loop;
    u->multi = curl_multi_init();
    if (!u->multi) {
        free(u);
        return NULL;
    }
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS);
    return u;
}

static void on_upstream_closed(uv_handle_t *h)
{
    free(h->data);
}

void or_upstream_free(or_upstream *u)
{
    if (!u)
        return;
    while (u->active) {
        u->active->cancelled = true;
        teardown(u->active);
    }
    while (u->npool)
        curl_easy_cleanup(u->pool[--u->npool]);
    curl_multi_cleanup(u->multi); /* closes the cached connections through on_close_socket */
    u->multi = NULL;
    while (u->socks)
        sock_close(u, u->socks);
    free(u->byfd);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, on_upstream_closed);
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return true;
    return false;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *s))
            return false;
    return true;
}

/* Request headers the client owns itself. */
static const char *const owned_hdrs[] = {"Content-Length", "Expect", "Transfer-Encoding"};

static bool is_owned(const char *name)
{
    for (size_t i = 0; i < sizeof owned_hdrs / sizeof owned_hdrs[0]; i++)
        if (strcasecmp(name, owned_hdrs[i]) == 0)
            return true;
    return false;
}

static or_err add_hdr(or_up_req *r, const char *name, const char *value)
{
    char small[512], *line = small;
    size_t nl = strlen(name), vl = strlen(value);
    size_t n = nl + 2 + vl + 1;
    or_err e = OR_OK;
    if (n > sizeof small && !(line = malloc(n)))
        return OR_ENOMEM;
    memcpy(line, name, nl);
    /* "Name;" is curl's spelling of a header with an empty value; "Name:" would delete it. */
    if (vl) {
        memcpy(line + nl, ": ", 2);
        memcpy(line + nl + 2, value, vl + 1);
    } else {
        memcpy(line + nl, ";", 2);
    }
    struct curl_slist *l = curl_slist_append(r->hdrs, line);
    if (l)
        r->hdrs = l;
    else
        e = OR_ENOMEM;
    sodium_memzero(line, n);
    if (line != small)
        free(line);
    return e;
}

static or_err build_headers(or_up_req *r, const or_up_request *rq)
{
    or_err e = OR_OK;
    bool has_ctype = false;
    for (size_t i = 0; i < rq->nheaders; i++) {
        const or_up_header *h = &rq->headers[i];
        if (!h->name || !h->value || !is_token(h->name) || has_ctl(h->value)) {
            e = OR_EINVAL;
            goto out;
        }
        if (is_owned(h->name))
            continue;
        has_ctype |= strcasecmp(h->name, "Content-Type") == 0;
        if ((e = add_hdr(r, h->name, h->value)) != OR_OK)
            goto out;
    }
    /* Plain removals: no 100-continue round trip; no invented form content type. */
    struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
    if (!l) {
        e = OR_ENOMEM;
        goto out;
    }
    r->hdrs = l;
    if (!has_ctype && rq->body) {
        if (!(l = curl_slist_append(r->hdrs, "Content-Type:"))) {
            e = OR_ENOMEM;
            goto out;
        }
        r->hdrs = l;
    }
out:
    return e;
}

static const struct {
    CURLoption opt;
    long val;
} fixed_opts[] = {
    {CURLOPT_NOSIGNAL, 1L},
    {CURLOPT_TCP_NODELAY, 1L},
    {CURLOPT_TCP_KEEPALIVE, 1L},
    {CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_S},
    {CURLOPT_TCP_KEEPINTVL, KEEPALIVE_INTVL_S},
    {CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS},
    {CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L}, /* a proxy's CONNECT reply is not the response */
    {CURLOPT_FOLLOWLOCATION, 0L},
};

#define SETOPT(h, o, v)                                                                            \
    do {                                                                                           \
        if (curl_easy_setopt((h), (o), (v)) != CURLE_OK) {                                         \
            e = OR_EINTERNAL;                                                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static or_err configure(or_up_req *r, const or_up_request *rq)
{
    or_err e = OR_OK;
    CURL *h = r->easy;
    const char *method = rq->method ? rq->method : (rq->body ? "POST" : "GET");
    if (!is_token(method)) {
        e = OR_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < sizeof fixed_opts / sizeof fixed_opts[0]; i++)
        SETOPT(h, fixed_opts[i].opt, fixed_opts[i].val);
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(h, CURLOPT_URL, rq->url);
    SETOPT(h, CURLOPT_PRIVATE, (void *)r);
    SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SETOPT(h, CURLOPT_OPENSOCKETDATA, (void *)r->u);
    SETOPT(h, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    SETOPT(h, CURLOPT_CLOSESOCKETDATA, (void *)r->u);
    SETOPT(h, CURLOPT_ERRORBUFFER, r->errbuf);
    SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(h, CURLOPT_HEADERDATA, (void *)r);
    SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(h, CURLOPT_WRITEDATA, (void *)r);
    SETOPT(h, CURLOPT_HTTPHEADER, r->hdrs);
    SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(rq->connect_ms ? rq->connect_ms : DEF_CONNECT_MS));
    if (rq->total_ms)
        SETOPT(h, CURLOPT_TIMEOUT_MS, (long)rq->total_ms);
    if (rq->proxy) { /* the caller decided: NO_PROXY from the environment must not undo it */
        SETOPT(h, CURLOPT_PROXY, rq->proxy);
        SETOPT(h, CURLOPT_NOPROXY, "");
    }
    if (strcmp(method, "HEAD") == 0) {
        SETOPT(h, CURLOPT_NOBODY, 1L);
    } else if (!rq->body && strcmp(method, "GET") == 0) {
        SETOPT(h, CURLOPT_HTTPGET, 1L);
    } else {
        /* Size first, so curl never strlen()s a body that is not a C string. */
        SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
        SETOPT(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        if (strcmp(method, "POST") != 0)
            SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
    }
out:
    return e;
}

or_err or_up_start(or_upstream *u, const or_up_request *rq, const or_up_callbacks *cb, void *ud,
                   or_up_req **out)
{
    or_err e = OR_OK;
    or_up_req *r = NULL;
    if (out)
        *out = NULL;
    if (!u || !rq || !rq->url || !cb || !cb->on_head || !cb->on_data || !cb->on_done) {
        e = OR_EINVAL;
        goto out;
    }
    if (!(r = calloc(1, sizeof *r))) {
        e = OR_ENOMEM;
        goto out;
    }
    r->u = u;
    r->cb = *cb;
    r->ud = ud;
    r->first_byte_ms = rq->first_byte_ms ? rq->first_byte_ms : DEF_FIRST_BYTE_MS;
    r->idle_ms = rq->idle_ms ? rq->idle_ms : DEF_IDLE_MS;
    or_buf_init(&r->head, HEAD_MAX);
    uv_timer_init(u->loop, &r->timer);
    r->timer.data = r;
    r->easy = u->npool ? u->pool[--u->npool] : curl_easy_init();
    if (!r->easy) {
        e = OR_ENOMEM;
        goto out;
    }
    if ((e = build_headers(r, rq)) != OR_OK || (e = configure(r, rq)) != OR_OK)
        goto out;
    if (u->depth > 0) {
        r->need_add = true; /* libcurl forbids adding from inside its callbacks */
        q_push(u, r);
    } else if (curl_multi_add_handle(u->multi, r->easy) != CURLM_OK) {
        e = OR_EINTERNAL;
        goto out;
    } else {
        r->added = true;
    }
    active_link(u, r);
    r->ph = PH_FIRST_BYTE;
    timer_start(r, r->first_byte_ms);
    if (out)
        *out = r;
    r = NULL;
out:
    if (r)
        teardown(r);
    return e;
}

void or_up_pause(or_up_req *r)
{
    if (!r || r->ended || r->cancelled || r->want_paused)
        return;
    r->want_paused = true;
    if (r->ph == PH_IDLE)
        uv_timer_stop(&r->timer);
    kick(r);
}

void or_up_resume(or_up_req *r)
{
    if (!r || r->ended || r->cancelled || !r->want_paused)
        return;
    r->want_paused = false;
    if (r->ph == PH_IDLE) {
        r->last_ms = uv_now(r->u->loop);
        timer_start(r, r->idle_ms);
    }
    kick(r);
}

void or_up_cancel(or_up_req *r)
{
    if (!r || r->cancelled)
        return;
    r->cancelled = true;
    if (r->in_done)
        return; /* finish() tears down after the callback returns */
    if (r->u->depth > 0) {
        uv_timer_stop(&r->timer);
        q_push(r->u, r);
        return;
    }
    teardown(r);
}
