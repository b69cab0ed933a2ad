/*
 * upstream.c — HTTP/1.1 requests over pooled connections on a worker's loop (see upstream.h).
 *
 * A request serialises its head once, takes an idle connection to the same origin through the
 * same proxy (or opens one: conn.c), writes head and body, and parses the response with llhttp.
 * When the response ends cleanly on a connection that may stay open, the connection goes back
 * to the pool before on_done runs, so a retry from inside on_done reuses it at once.
 *
 * A reused connection can have been closed by the server just before our request reached it.
 * When such a connection ends before the first response byte, the request is sent once more on
 * a fresh connection: the server never saw it (it would have answered), so this is safe even
 * for POST — the same rule browsers and curl follow.
 *
 * One timer per request measures the current phase: connect (DNS, TCP, TLS, proxy legs), the
 * first response byte, silence between body bytes while not paused, and a total limit if one
 * is set. Silence is measured lazily: a body byte only records the time, and the timer, when
 * it fires early, re-arms itself for the rest.
 *
 * on_done never runs inside or_up_start/pause/resume/cancel: a request that ends while one of
 * those is on the stack finishes from its timer, at 0 ms.
 */
#include "upstream/upstream.h"

#include "core/buf.h"
#include "core/park.h"
#include "core/tchar.h"
#include "upstream/conn.h"
#include "upstream/tls.h"
#include "upstream/url.h"

#include <llhttp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    HEAD_MAX = 64 * 1024, /* response status line and headers, interim responses included */
    REQ_HEAD_MAX = 256 * 1024,
    DEF_CONNECT_MS = 10000,
    DEF_FIRST_BYTE_MS = 120000,
    DEF_IDLE_MS = 120000,
    POOL_MAX = 64,        /* idle connections kept per worker */
    POOL_IDLE_MS = 55000, /* servers commonly drop idle connections after 60 s or more */
    POOL_SWEEP_MS = 5000,
    KEY_MAX = 2048,
};

typedef enum {
    PH_CONNECT,
    PH_FIRST_BYTE,
    PH_BODY,   /* idle between body bytes */
    PH_PAUSED, /* no silence limit; total only */
    PH_FINISH, /* ended inside an API call; finish on the next tick */
} phase;

typedef struct pooled pooled;

/* upstream.c's record of one connection: its pool key and where it is. */
struct pooled {
    or_upstream *u;
    or_upconn *c;
    char *key;
    uint64_t key_hash;
    uint64_t idle_since;
    or_up_req *req; /* bound request, or NULL while idle */
    bool reused;    /* served a request before */
    pooled *prev, *next;
};

struct or_up_req {
    or_upstream *u;
    or_up_callbacks cb;
    void *ud;
    pooled *pc;

    or_url *proxy; /* parsed proxy URL, NULL for a direct connection */
    char *key;
    uint64_t key_hash;
    or_buf out_fwd;   /* the same in absolute form with proxy credentials, when forwarding */
    const char *body; /* borrowed */
    size_t body_len;
    bool head_only; /* HEAD: the response has no body whatever it says */
    bool sent_once;

    uv_timer_t timer;
    uint64_t armed_for; /* loop time the timer is set to fire at, while armed */
    bool armed;
    phase ph;
    unsigned connect_ms, first_byte_ms, idle_ms;
    uint64_t started, phase_at, last_byte, deadline_total;

    llhttp_t parser;
    or_buf held;   /* body the parser gave while on_head asked for a pause */
    bool in_value; /* the last header bytes were a value */
    size_t nhdrs;
    int status;

    bool got_byte;
    bool head_done; /* final head complete */
    bool head_sent;
    bool complete; /* message complete */
    bool want_pause;
    bool paused;
    bool ended;    /* on_done called or cancelled: no more user callbacks */
    bool no_reuse; /* bytes after the response, or a body delimited by the close */
    bool in_parse; /* llhttp_execute is on the stack */
    bool too_big;
    or_up_result fail;
    or_up_req *prev, *next; /* u->active */

    /* Allocations kept when the request is recycled (u->spare), emptied then: set up once,
     * when the request is first allocated, and left out of the zeroing at start. */
    or_buf out;  /* request head as sent through a tunnel or directly (wiped when done) */
    or_buf head; /* "name\0value\0" pairs of the current response head */
    or_up_header *hdrv;
    size_t hdrv_cap;

    /* Large and always written before use: left out of the zeroing at start (it was ~4% of
     * a request's instructions). Keep them last. */
    or_url origin;
    char detail[512];
};

struct or_upstream {
    uv_loop_t *loop;
    or_up_req *spare[16]; /* finished requests, recycled by the next ones (parked) */
    size_t nspare;
    size_t closing; /* request timers being closed: their callbacks still use u */
    bool freed;     /* or_upstream_free was called: u goes once nothing is closing */
    bool sweep_closed;
    pooled *idle; /* most recently used first */
    size_t nidle;
    or_up_req *active;
    uv_timer_t sweep;
    int api_depth; /* > 0 while start/pause/resume/cancel run */
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

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void free_key(char **k)
{
    if (*k) {
        sodium_memzero(*k, strlen(*k));
        free(*k);
        *k = NULL;
    }
}

/* ---- the pool ------------------------------------------------------------------------------- */

static void pool_unlink(or_upstream *u, pooled *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else if (u->idle == p)
        u->idle = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    u->nidle--;
}

static void pooled_close(pooled *p)
{
    or_upconn_close(p->c);
    free_key(&p->key);
    free(p);
}

static void idle_on_ready(void *ud)
{
    (void)ud;
}

/* An idle connection must stay silent: anything it says, even EOF, ends it. */
static size_t idle_on_data(void *ud, const char *p, size_t n)
{
    (void)p;
    pooled *pc = ud;
    pool_unlink(pc->u, pc);
    pooled_close(pc);
    return n;
}

static void idle_on_end(void *ud, or_up_result res, const char *detail)
{
    (void)res;
    (void)detail;
    pooled *pc = ud;
    pool_unlink(pc->u, pc);
    pooled_close(pc);
}

static const or_upconn_events idle_events = {idle_on_ready, idle_on_data, idle_on_end};

static void on_sweep(uv_timer_t *t)
{
    or_upstream *u = t->data;
    uint64_t now = uv_now(u->loop);
    for (pooled *p = u->idle, *next; p; p = next) {
        next = p->next;
        if (now - p->idle_since >= POOL_IDLE_MS) {
            pool_unlink(u, p);
            pooled_close(p);
        }
    }
    if (!u->idle)
        uv_timer_stop(t);
}

static void pool_put(or_upstream *u, pooled *p)
{
    p->req = NULL;
    p->reused = true;
    p->idle_since = uv_now(u->loop);
    or_upconn_bind(p->c, &idle_events, p);
    or_upconn_trim(p->c);
    if (u->nidle >= POOL_MAX) { /* drop the least recently used */
        pooled *last = u->idle;
        while (last->next)
            last = last->next;
        pool_unlink(u, last);
        pooled_close(last);
    }
    p->prev = NULL;
    p->next = u->idle;
    if (u->idle)
        u->idle->prev = p;
    u->idle = p;
    u->nidle++;
    if (!uv_is_active((uv_handle_t *)&u->sweep))
        uv_timer_start(&u->sweep, on_sweep, POOL_SWEEP_MS, POOL_SWEEP_MS);
    /* Listen again if the response ended in a pause (EOF must be seen while idle). Anything
     * this delivers closes p through idle_on_data: p must not be touched after. */
    or_upconn_resume(p->c);
}

static pooled *pool_take(or_upstream *u, const char *key, uint64_t hash)
{
    for (pooled *p = u->idle; p; p = p->next)
        if (p->key_hash == hash && strcmp(p->key, key) == 0) {
            pool_unlink(u, p);
            return p;
        }
    return NULL;
}

/* ---- finishing ------------------------------------------------------------------------------ */

static void req_free(or_up_req *r)
{
    or_buf_free(&r->head);
    or_buf_free(&r->held);
    or_buf_wipe_free(&r->out); /* the head carries credentials */
    or_buf_wipe_free(&r->out_fwd);
    free(r->hdrv);
    free_key(&r->key);
    if (r->proxy) {
        or_url_wipe(r->proxy);
        free(r->proxy);
    }
    free(r);
}

enum { SPARE_BUF_MAX = 16 * 1024, SPARE_HDRS_MAX = 64 };

/* Empties a finished request for reuse, keeping its head buffers and header array when they
 * are of ordinary size. False when it is not worth keeping. */
static bool recycle(or_up_req *r)
{
    if (r->out.cap > SPARE_BUF_MAX || r->head.cap > SPARE_BUF_MAX || r->hdrv_cap > SPARE_HDRS_MAX)
        return false;
    sodium_memzero(r->out.data, r->out.len); /* the head carried credentials */
    or_buf_reset(&r->out);
    or_buf_reset(&r->head);
    or_buf_free(&r->held);
    or_buf_wipe_free(&r->out_fwd);
    free_key(&r->key);
    if (r->proxy) {
        or_url_wipe(r->proxy);
        free(r->proxy);
        r->proxy = NULL;
    }
    return true;
}

/* Frees u once or_upstream_free was called and no handle of it is still closing. */
static void upstream_release(or_upstream *u)
{
    if (!u->freed || !u->sweep_closed || u->closing)
        return;
    while (u->nspare) {
        or_up_req *r = u->spare[--u->nspare];
        OR_UNPARK(r, sizeof *r);
        req_free(r);
    }
    free(u);
}

static void on_req_closed(uv_handle_t *h)
{
    or_up_req *r = h->data;
    or_upstream *u = r->u;
    u->closing--;
    if (!u->freed && u->nspare < sizeof u->spare / sizeof *u->spare && recycle(r)) {
        u->spare[u->nspare++] = r;
        OR_PARK(r, sizeof *r);
    } else {
        req_free(r);
    }
    upstream_release(u);
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

/* Lets go of the connection: back to the pool when it can carry another request. */
static void release_conn(or_up_req *r, bool reusable)
{
    pooled *p = r->pc;
    if (!p)
        return;
    r->pc = NULL;
    if (reusable)
        pool_put(r->u, p);
    else
        pooled_close(p);
}

static void teardown(or_up_req *r)
{
    r->ended = true;
    active_unlink(r->u, r);
    uv_timer_stop(&r->timer);
    r->u->closing++;
    uv_close((uv_handle_t *)&r->timer, on_req_closed);
}

static void deliver_head(or_up_req *r)
{
    if (r->head_sent)
        return;
    r->head_sent = true;
    r->cb.on_head(r->ud, r->status, r->hdrv, r->nhdrs);
}

static void finish(or_up_req *r, or_up_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void on_timer(uv_timer_t *t);
static void start_timer(or_up_req *r, uint64_t due);

/* Calls on_done (on_head first for a success whose head is still held) and lets r go. */
static void report(or_up_req *r)
{
    if (r->fail == OR_UP_OK)
        deliver_head(r);
    if (r->ended)
        return;
    or_up_callbacks cb = r->cb;
    void *ud = r->ud;
    or_up_result res = r->fail;
    char detail[sizeof r->detail];
    memcpy(detail, r->detail, sizeof detail);
    teardown(r);
    cb.on_done(ud, res, detail);
}

static void finish(or_up_req *r, or_up_result res, const char *fmt, ...)
{
    if (r->ended || r->ph == PH_FINISH)
        return;
    if (res == OR_UP_OK) { /* every request ends here: no formatting for "" */
        r->detail[0] = '\0';
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof r->detail, fmt, ap);
        va_end(ap);
    }
    r->fail = res;
    release_conn(r, res == OR_UP_OK && r->complete && !r->no_reuse &&
                        llhttp_should_keep_alive(&r->parser));
    if (r->u->api_depth > 0) { /* inside start/pause/resume/cancel: on the next tick */
        r->ph = PH_FINISH;
        start_timer(r, 0);
        return;
    }
    report(r);
}

/* ---- timing --------------------------------------------------------------------------------- */

static uint64_t phase_limit(const or_up_req *r)
{
    switch (r->ph) {
    case PH_CONNECT:
        return r->phase_at + r->connect_ms;
    case PH_FIRST_BYTE:
        return r->phase_at + r->first_byte_ms;
    case PH_BODY:
        return r->last_byte + r->idle_ms;
    default:
        return UINT64_MAX;
    }
}

static void start_timer(or_up_req *r, uint64_t due)
{
    uint64_t now = uv_now(r->u->loop);
    uv_timer_start(&r->timer, on_timer, due > now ? due - now : 0, 0);
    r->armed = true;
    r->armed_for = due;
}

/* Sets the timer for the current phase's deadline. It is only restarted when that comes
 * before the one it is armed for (a heap removal and insertion each time): the first byte
 * moves the deadline later, so a request normally starts it once. Firing early, on_timer
 * finds the deadline not reached and arms again for it. */
static void arm(or_up_req *r)
{
    uint64_t due = phase_limit(r);
    if (r->deadline_total && r->deadline_total < due)
        due = r->deadline_total;
    if (due == UINT64_MAX || (r->armed && r->armed_for <= due))
        return;
    start_timer(r, due);
}

static void enter(or_up_req *r, phase ph)
{
    r->ph = ph;
    r->phase_at = r->last_byte = uv_now(r->u->loop);
    arm(r);
}

static void on_timer(uv_timer_t *t)
{
    or_up_req *r = t->data;
    uint64_t now = uv_now(r->u->loop);
    r->armed = false;
    if (r->ph == PH_FINISH) {
        report(r);
        return;
    }
    if (r->deadline_total && now >= r->deadline_total) {
        finish(r, OR_UP_ETIMEOUT, "no complete response within %llu ms",
               (unsigned long long)(r->deadline_total - r->started));
        return;
    }
    if (now < phase_limit(r)) { /* a body byte came since the timer was set */
        arm(r);
        return;
    }
    switch (r->ph) {
    case PH_CONNECT:
        finish(r, OR_UP_ETIMEOUT, "no connection to %s within %u ms",
               r->proxy ? r->proxy->host : r->origin.host, r->connect_ms);
        break;
    case PH_FIRST_BYTE:
        finish(r, OR_UP_ETIMEOUT, "no first byte within %u ms", r->first_byte_ms);
        break;
    default:
        finish(r, OR_UP_ETIMEOUT, "no data for %u ms", r->idle_ms);
        break;
    }
}

/* ---- the response --------------------------------------------------------------------------- */

static or_up_req *req_of(llhttp_t *p)
{
    return p->data;
}

static int head_bytes(or_up_req *r, const char *at, size_t n)
{
    if (or_buf_append(&r->head, at, n) != OR_OK) {
        r->too_big = true;
        return -1;
    }
    return 0;
}

static int on_hfield(llhttp_t *p, const char *at, size_t n)
{
    return head_bytes(req_of(p), at, n);
}

static int on_hvalue(llhttp_t *p, const char *at, size_t n)
{
    return head_bytes(req_of(p), at, n);
}

static int on_hfield_done(llhttp_t *p)
{
    or_up_req *r = req_of(p);
    r->in_value = false;
    return head_bytes(r, "", 1);
}

static int on_hvalue_done(llhttp_t *p)
{
    or_up_req *r = req_of(p);
    /* Trailing blanks; the name's NUL stops an empty value's trim. */
    while (r->head.len &&
           (r->head.data[r->head.len - 1] == ' ' || r->head.data[r->head.len - 1] == '\t'))
        r->head.len--;
    r->nhdrs++;
    return head_bytes(r, "", 1);
}

static void build_hdrv(or_up_req *r)
{
    if (r->nhdrs > r->hdrv_cap) {
        free(r->hdrv);
        r->hdrv_cap = 0;
        if (!(r->hdrv = calloc(r->nhdrs, sizeof *r->hdrv))) {
            r->nhdrs = 0;
            return;
        }
        r->hdrv_cap = r->nhdrs;
    }
    const char *s = r->head.data;
    for (size_t i = 0; i < r->nhdrs; i++) {
        r->hdrv[i].name = s;
        s += strlen(s) + 1;
        r->hdrv[i].value = s;
        s += strlen(s) + 1;
    }
}

static int on_headers_done(llhttp_t *p)
{
    or_up_req *r = req_of(p);
    r->status = p->status_code;
    if (r->status >= 100 && r->status < 200) /* interim: forget it, the real head follows */
        return 0;
    r->head_done = true;
    build_hdrv(r);
    return r->head_only ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    or_up_req *r = req_of(p);
    if (!n)
        return 0;
    r->last_byte = uv_now(r->u->loop);
    deliver_head(r);
    if (r->ended)
        return HPE_PAUSED;
    if (r->want_pause) { /* on_head paused: keep these bytes for the resume */
        if (or_buf_append(&r->held, at, n) != OR_OK)
            return -1;
        r->want_pause = false;
        r->paused = true;
        return HPE_PAUSED;
    }
    bool pause = r->cb.on_data(r->ud, at, n);
    if (r->ended)
        return HPE_PAUSED;
    if (pause || r->want_pause) {
        r->want_pause = false;
        r->paused = true;
        return HPE_PAUSED;
    }
    return 0;
}

static int on_message_done(llhttp_t *p)
{
    or_up_req *r = req_of(p);
    if (!r->head_done) { /* the end of an interim response */
        or_buf_reset(&r->head);
        r->nhdrs = 0;
        return 0;
    }
    r->complete = true;
    return HPE_PAUSED; /* nothing may follow: we never pipeline */
}

static const llhttp_settings_t parser_settings = {
    .on_header_field = on_hfield,
    .on_header_value = on_hvalue,
    .on_header_field_complete = on_hfield_done,
    .on_header_value_complete = on_hvalue_done,
    .on_headers_complete = on_headers_done,
    .on_body = on_body,
    .on_message_complete = on_message_done,
};

static void parse_failed(or_up_req *r)
{
    if (r->too_big)
        finish(r, OR_UP_ETOOBIG, "response headers over %d bytes", HEAD_MAX);
    else
        finish(r, OR_UP_EPROTO, "malformed response: %s", llhttp_get_error_reason(&r->parser));
}

static size_t req_on_data(void *ud, const char *p, size_t n)
{
    or_up_req *r = ud;
    if (r->ended || r->complete)
        return n;
    if (!r->got_byte) {
        r->got_byte = true;
        if (r->ph == PH_FIRST_BYTE) {
            r->ph = PH_BODY; /* silence is measured from here */
            r->last_byte = uv_now(r->u->loop);
            arm(r);
        }
    }
    r->in_parse = true;
    llhttp_errno_t rc = llhttp_execute(&r->parser, p, n);
    r->in_parse = false;
    size_t used = n;
    if (rc == HPE_PAUSED) {
        used = (size_t)(llhttp_get_error_pos(&r->parser) - p);
        llhttp_resume(&r->parser);
    } else if (rc != HPE_OK) {
        parse_failed(r);
        return n;
    }
    if (r->ended)
        return n;
    if (r->complete) {
        r->no_reuse |= used < n; /* bytes after the response: never reuse this connection */
        finish(r, OR_UP_OK, "%s", "");
        return n;
    }
    if (r->paused) {
        r->ph = PH_PAUSED;
        arm(r);
        or_upconn_pause(r->pc->c); /* also when the pause fell on the last byte given */
    }
    return used;
}

static void open_conn(or_up_req *r, bool fresh_only);
static void send_request(or_up_req *r);

static void req_on_ready(void *ud)
{
    or_up_req *r = ud;
    if (!r->ended)
        send_request(r);
}

static void req_on_end(void *ud, or_up_result res, const char *detail)
{
    or_up_req *r = ud;
    if (r->ended)
        return;
    pooled *p = r->pc;
    if (!r->got_byte && p && p->reused && r->sent_once && res != OR_UP_ECONNECT) {
        release_conn(r, false); /* stale keep-alive connection: once more on a fresh one */
        open_conn(r, true);
        return;
    }
    if (res == OR_UP_OK && r->got_byte && !r->complete) {
        /* End of stream: the end of a body delimited by the close, or a cut. */
        if (llhttp_finish(&r->parser) == HPE_OK && r->complete) {
            r->no_reuse = true;
            finish(r, OR_UP_OK, "%s", "");
            return;
        }
    }
    if (res == OR_UP_OK)
        res = OR_UP_ERESET;
    if (!r->got_byte)
        finish(r, res, "%s",
               res == OR_UP_ERESET ? "connection closed before any response" : detail);
    else
        finish(r, res, "%s",
               res == OR_UP_ERESET && strcmp(detail, "closed") == 0
                   ? "connection closed mid-response"
                   : detail);
}

static const or_upconn_events req_events = {req_on_ready, req_on_data, req_on_end};

/* ---- the request ---------------------------------------------------------------------------- */

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return true;
    return false;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!or_tchar(*s))
            return false;
    return true;
}

/* Request headers the client writes itself; names of another length skip the comparison. */
static const struct {
    const char *name;
    size_t len;
} owned_hdrs[] = {{"Host", 4}, {"Content-Length", 14}, {"Expect", 6}, {"Transfer-Encoding", 17}};

static bool is_owned(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof owned_hdrs / sizeof owned_hdrs[0]; i++)
        if (n == owned_hdrs[i].len && strcasecmp(name, owned_hdrs[i].name) == 0)
            return true;
    return false;
}

/* Appends the pieces in order; the request head is built on every request, so no printf. */
static or_err put(or_buf *b, const char *const *parts, size_t n)
{
    or_err e = OR_OK;
    for (size_t i = 0; e == OR_OK && i < n; i++)
        e = or_buf_puts(b, parts[i]);
    return e;
}

static or_err put_uint(or_buf *b, size_t v)
{
    char digits[24], *p = digits + sizeof digits;
    *--p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) && p > digits);
    return or_buf_puts(b, p);
}

static or_err put_authority(or_buf *b, const or_url *u)
{
    or_err e = u->ipv6 ? put(b, (const char *[]){"[", u->host, "]"}, 3) : or_buf_puts(b, u->host);
    if (e == OR_OK && u->port != or_url_default_port(u->scheme)) {
        e = or_buf_puts(b, ":");
        if (e == OR_OK)
            e = put_uint(b, u->port);
    }
    return e;
}

static or_err put_proxy_auth(or_buf *b, const or_url *px)
{
    char cred[2 * OR_URL_CRED_MAX + 2];
    char b64[sizeof cred * 4 / 3 + 4];
    int n = snprintf(cred, sizeof cred, "%s:%s", px->user, px->pass);
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)cred, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
    or_err e = or_buf_printf(b, "Proxy-Authorization: Basic %s\r\n", b64);
    sodium_memzero(cred, sizeof cred);
    sodium_memzero(b64, sizeof b64);
    return e;
}

/* The request head; absolute form with the proxy's credentials when forward is set. */
static or_err build_head(or_up_req *r, or_buf *b, const or_up_request *rq, const char *method,
                         bool forward)
{
    or_err e = put(b, (const char *[]){method, " "}, 2);
    if (e == OR_OK && forward) {
        e = or_buf_puts(b, r->origin.scheme == OR_URL_HTTPS ? "https://" : "http://");
        if (e == OR_OK)
            e = put_authority(b, &r->origin);
    }
    if (e == OR_OK)
        e = or_buf_append(b, r->origin.target, r->origin.target_len);
    if (e == OR_OK)
        e = or_buf_puts(b, " HTTP/1.1\r\nHost: ");
    if (e == OR_OK)
        e = put_authority(b, &r->origin);
    if (e == OR_OK)
        e = or_buf_puts(b, "\r\n");
    for (size_t i = 0; e == OR_OK && i < rq->nheaders; i++) {
        const or_up_header *h = &rq->headers[i];
        if (!is_owned(h->name))
            e = put(b, (const char *[]){h->name, ": ", h->value, "\r\n"}, 4);
    }
    if (e == OR_OK && forward && r->proxy->has_user)
        e = put_proxy_auth(b, r->proxy);
    bool bodyless = !rq->body && (strcmp(method, "GET") == 0 || r->head_only);
    if (e == OR_OK && !bodyless) {
        e = or_buf_puts(b, "Content-Length: ");
        if (e == OR_OK)
            e = put_uint(b, rq->body ? rq->body_len : 0);
        if (e == OR_OK)
            e = or_buf_puts(b, "\r\n");
    }
    if (e == OR_OK)
        e = or_buf_puts(b, "\r\n");
    return e;
}

static void send_request(or_up_req *r)
{
    const or_buf *h = or_upconn_forwarding(r->pc->c) ? &r->out_fwd : &r->out;
    uv_buf_t bufs[2] = {uv_buf_init(h->data, (unsigned)h->len),
                        uv_buf_init((char *)(r->body ? r->body : ""), (unsigned)r->body_len)};
    llhttp_init(&r->parser, HTTP_RESPONSE, &parser_settings);
    r->parser.data = r;
    or_buf_reset(&r->head);
    r->nhdrs = 0;
    r->sent_once = true;
    enter(r, PH_FIRST_BYTE);
    or_upconn_write(r->pc->c, bufs, r->body_len ? 2 : 1);
}

static void open_conn(or_up_req *r, bool fresh_only)
{
    or_upstream *u = r->u;
    pooled *p = fresh_only ? NULL : pool_take(u, r->key, r->key_hash);
    if (p) {
        p->req = r;
        r->pc = p;
        or_upconn_bind(p->c, &req_events, r);
        send_request(r);
        return;
    }
    or_errbuf eb;
    if (!(p = calloc(1, sizeof *p)) || !(p->key = strdup(r->key))) {
        free(p);
        finish(r, OR_UP_EINTERNAL, "out of memory");
        return;
    }
    p->u = u;
    p->key_hash = r->key_hash;
    p->req = r;
    r->pc = p;
    enter(r, PH_CONNECT);
    if (or_upconn_open(u->loop, &r->origin, r->proxy, &req_events, r, &p->c, &eb) != OR_OK) {
        r->pc = NULL;
        free_key(&p->key);
        free(p);
        finish(r, OR_UP_ECONNECT, "%s", eb.msg);
    }
}

static or_err make_key(or_up_req *r, const char *proxy)
{
    or_buf k;
    or_buf_init(&k, KEY_MAX);
    or_err e = put(&k,
                   (const char *[]){r->origin.scheme == OR_URL_HTTPS ? "https://" : "http://",
                                    r->origin.host, ":"},
                   3);
    if (e == OR_OK)
        e = put_uint(&k, r->origin.port);
    if (e == OR_OK)
        e = put(&k, (const char *[]){"|", proxy ? proxy : ""}, 2);
    if (e == OR_OK) {
        r->key = or_buf_take(&k, NULL);
        r->key_hash = hash_str(r->key);
    }
    or_buf_free(&k);
    return e;
}

static or_err prepare(or_up_req *r, const or_up_request *rq, const char **method)
{
    or_errbuf eb;
    const char *proxy = rq->proxy && *rq->proxy ? rq->proxy : NULL;
    or_err e = or_url_parse(rq->url, false, &r->origin, &eb);
    if (e != OR_OK || r->origin.scheme == OR_URL_SOCKS5)
        return OR_EINVAL;
    if (proxy && !(r->proxy = malloc(sizeof *r->proxy)))
        return OR_ENOMEM;
    if (proxy && (e = or_url_parse(proxy, true, r->proxy, &eb)) != OR_OK)
        return OR_EINVAL;
    *method = rq->method ? rq->method : (rq->body ? "POST" : "GET");
    if (!is_token(*method))
        return OR_EINVAL;
    for (size_t i = 0; i < rq->nheaders; i++) {
        const or_up_header *h = &rq->headers[i];
        if (!h->name || !h->value || !is_token(h->name) || has_ctl(h->value))
            return OR_EINVAL;
    }
    r->head_only = strcmp(*method, "HEAD") == 0;
    r->body = rq->body;
    r->body_len = rq->body ? rq->body_len : 0;
    r->connect_ms = rq->connect_ms ? rq->connect_ms : DEF_CONNECT_MS;
    r->first_byte_ms = rq->first_byte_ms ? rq->first_byte_ms : DEF_FIRST_BYTE_MS;
    r->idle_ms = rq->idle_ms ? rq->idle_ms : DEF_IDLE_MS;
    or_buf_init(&r->held, 0);
    or_buf_init(&r->out_fwd, REQ_HEAD_MAX);
    if ((e = build_head(r, &r->out, rq, *method, false)) != OR_OK)
        return e;
    bool can_forward =
        r->proxy && r->proxy->scheme != OR_URL_SOCKS5 && r->origin.scheme == OR_URL_HTTP;
    if (can_forward && (e = build_head(r, &r->out_fwd, rq, *method, true)) != OR_OK)
        return e;
    return make_key(r, proxy);
}

or_err or_up_start(or_upstream *u, const or_up_request *rq, const or_up_callbacks *cb, void *ud,
                   or_up_req **out)
{
    or_err e = OR_OK;
    or_up_req *r = NULL;
    const char *method = NULL;
    if (out)
        *out = NULL;
    if (!u || !rq || !rq->url || !cb || !cb->on_head || !cb->on_data || !cb->on_done)
        return OR_EINVAL;
    if (u->nspare) {
        r = u->spare[--u->nspare];
        OR_UNPARK(r, sizeof *r);
    } else if ((r = malloc(sizeof *r))) {
        or_buf_init(&r->out, REQ_HEAD_MAX);
        or_buf_init(&r->head, HEAD_MAX);
        r->hdrv = NULL;
        r->hdrv_cap = 0;
    } else {
        return OR_ENOMEM;
    }
    memset(r, 0, offsetof(or_up_req, out));
    r->detail[0] = '\0';
    r->u = u;
    r->cb = *cb;
    r->ud = ud;
    if ((e = prepare(r, rq, &method)) != OR_OK) {
        req_free(r);
        return e;
    }
    u->api_depth++;
    uv_timer_init(u->loop, &r->timer);
    r->timer.data = r;
    r->started = uv_now(u->loop);
    r->deadline_total = rq->total_ms ? r->started + rq->total_ms : 0;
    r->next = u->active;
    if (u->active)
        u->active->prev = r;
    u->active = r;
    if (out)
        *out = r;
    open_conn(r, false);
    u->api_depth--;
    return OR_OK;
}

void or_up_pause(or_up_req *r)
{
    if (!r || r->ended || r->paused)
        return;
    r->want_pause = true; /* inside the parser: on_body stops it when the callback returns */
    if (r->in_parse || !r->pc || !r->got_byte)
        return;
    r->paused = true;
    r->want_pause = false;
    r->ph = PH_PAUSED;
    arm(r);
    or_upconn_pause(r->pc->c);
}

void or_up_resume(or_up_req *r)
{
    if (!r || r->ended)
        return;
    r->want_pause = false;
    if (!r->paused)
        return;
    r->paused = false;
    enter(r, PH_BODY);
    r->u->api_depth++;
    if (r->held.len) {
        bool again = r->cb.on_data(r->ud, r->held.data, r->held.len);
        or_buf_reset(&r->held);
        r->paused = again || r->want_pause;
        r->want_pause = false;
    }
    /* The parser stopped inside its input; with nothing left it may still owe the end of
     * the message (a body that ended exactly at the pause). */
    if (!r->ended && !r->paused && r->pc)
        req_on_data(r, "", 0);
    if (!r->ended && !r->paused && r->pc)
        or_upconn_resume(r->pc->c);
    if (!r->ended && r->paused) {
        r->ph = PH_PAUSED;
        arm(r);
    }
    r->u->api_depth--;
}

void or_up_cancel(or_up_req *r)
{
    if (!r || r->ended)
        return;
    release_conn(r, false); /* a response may be in flight: the connection cannot be reused */
    teardown(r);
}

/* ---- lifetime ------------------------------------------------------------------------------- */

or_upstream *or_upstream_new(uv_loop_t *loop)
{
    or_upstream *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->loop = loop;
    uv_timer_init(loop, &u->sweep);
    u->sweep.data = u;
    uv_unref((uv_handle_t *)&u->sweep); /* idle connections never keep a loop alive */
    return u;
}

static void on_upstream_closed(uv_handle_t *h)
{
    or_upstream *u = h->data;
    u->sweep_closed = true;
    upstream_release(u);
}

void or_upstream_free(or_upstream *u)
{
    if (!u)
        return;
    while (u->active)
        or_up_cancel(u->active);
    while (u->idle) {
        pooled *p = u->idle;
        pool_unlink(u, p);
        pooled_close(p);
    }
    uv_timer_stop(&u->sweep);
    u->freed = true;
    uv_close((uv_handle_t *)&u->sweep, on_upstream_closed);
}
