/*
 * test_upstream_tunnel.c — the proxy handshakes (HTTP CONNECT, SOCKS5) as byte-in/byte-out
 * machines: exact request bytes, replies cut at every byte boundary giving the same outcome,
 * refusals and their texts, leftover tunnel bytes, caps, and that credentials are wiped.
 */
#include "check.h"

#include "core/buf.h"
#include "upstream/tunnel.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- CONNECT request ------------------------------------------------------------------------ */

static void request_is(const char *host, unsigned port, const char *user, const char *pass,
                       const char *want)
{
    or_buf b;
    or_errbuf eb = {{0}};
    or_buf_init(&b, 4096);
    CHECK(or_tun_connect_request(&b, host, port, user, pass, &eb) == OR_OK);
    CHECK_STR(b.data, want);
    or_buf_free(&b);
}

static void request_fails(const char *host, unsigned port, const char *user, const char *pass,
                          or_err want)
{
    or_buf b;
    or_errbuf eb = {{0}};
    or_buf_init(&b, 4096);
    or_buf_puts(&b, "X"); /* what was there stays, nothing is added */
    CHECK(or_tun_connect_request(&b, host, port, user, pass, &eb) == want);
    CHECK(b.len == 1 && b.data[0] == 'X');
    CHECK(eb.msg[0] != '\0');
    if (pass && pass[0])
        CHECK(strstr(eb.msg, pass) == NULL);
    or_buf_free(&b);
}

static void test_connect_request(void)
{
    request_is("example.com", 443, NULL, NULL,
               "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    request_is("example.com", 443, "", "ignored",
               "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    /* RFC 7617's example */
    request_is("api.openai.com", 443, "Aladdin", "open sesame",
               "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n"
               "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
    request_is("h", 80, "u", NULL, /* "u:" */
               "CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\nProxy-Authorization: Basic dTo=\r\n\r\n");
    request_is("::1", 8443, NULL, NULL, "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    request_is("[2001:db8::7]", 443, NULL, NULL,
               "CONNECT [2001:db8::7]:443 HTTP/1.1\r\nHost: [2001:db8::7]:443\r\n\r\n");
    request_is("10.0.0.1", 65535, NULL, NULL,
               "CONNECT 10.0.0.1:65535 HTTP/1.1\r\nHost: 10.0.0.1:65535\r\n\r\n");

    request_fails("", 443, NULL, NULL, OR_EINVAL);
    request_fails(NULL, 443, NULL, NULL, OR_EINVAL);
    request_fails("evil.com\r\nX-Injected: 1", 443, NULL, NULL, OR_EINVAL);
    request_fails("a b", 443, NULL, NULL, OR_EINVAL);
    request_fails("a/b", 443, NULL, NULL, OR_EINVAL);
    request_fails("example.com", 0, NULL, NULL, OR_EINVAL);
    request_fails("example.com", 65536, NULL, NULL, OR_EINVAL);
    request_fails("[::1", 443, NULL, NULL, OR_EINVAL);
    request_fails("[example.com]", 443, NULL, NULL, OR_EINVAL);
    request_fails("1:2:zz", 443, NULL, NULL, OR_EINVAL);
    request_fails("example.com", 443, "us:er", "topsecret", OR_EINVAL);

    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    request_fails(big, 443, NULL, NULL, OR_ETOOBIG);
    big[OR_TUN_HOST_MAX] = '\0'; /* exactly the cap is fine */
    or_buf b;
    or_errbuf eb = {{0}};
    or_buf_init(&b, 4096);
    CHECK(or_tun_connect_request(&b, big, 1, NULL, NULL, &eb) == OR_OK);
    or_buf_free(&b);

    char *pass = malloc(OR_TUN_HTTP_CRED_MAX + 1);
    memset(pass, 'p', OR_TUN_HTTP_CRED_MAX);
    pass[OR_TUN_HTTP_CRED_MAX] = '\0';
    request_fails("example.com", 443, "u", pass, OR_ETOOBIG);
    pass[OR_TUN_HTTP_CRED_MAX - 2] = '\0'; /* "u:" + 1022 = the cap */
    or_buf_init(&b, 4096);
    CHECK(or_tun_connect_request(&b, "example.com", 443, "u", pass, &eb) == OR_OK);
    or_buf_free(&b);
    free(pass);

    /* out's own cap: the request is not left half-written */
    or_buf_init(&b, 100); /* the first line fits, the Authorization line does not */
    or_buf_puts(&b, "X");
    CHECK(or_tun_connect_request(&b, "example.com", 443, "Aladdin", "open sesame", &eb) ==
          OR_ETOOBIG);
    CHECK(b.len == 1 && strcmp(b.data, "X") == 0);
    or_buf_free(&b);
}

/* ---- CONNECT reply -------------------------------------------------------------------------- */

typedef struct {
    or_tun_step step;
    size_t used;
    int status;
    char msg[256];
} cres;

/* Feeds reply in pieces of `piece` bytes (0: all at once), stopping at the first final step. */
static void connect_run(const char *reply, size_t len, size_t first, size_t piece, cres *r)
{
    or_tun_connect c;
    or_errbuf eb = {{0}};
    or_tun_connect_init(&c);
    r->step = OR_TUN_MORE;
    r->used = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off;
        if (off == 0 && first && first < n)
            n = first;
        else if (off && piece && piece < n)
            n = piece;
        size_t used = 0;
        r->step = or_tun_connect_feed(&c, reply + off, n, &used, &eb);
        CHECK(used <= n);
        if (r->step == OR_TUN_MORE)
            CHECK(used == n);
        r->used += used;
        off += n;
        if (r->step != OR_TUN_MORE)
            break;
    }
    r->status = or_tun_connect_status(&c);
    snprintf(r->msg, sizeof r->msg, "%s", r->step == OR_TUN_FAIL ? eb.msg : "");
    if (r->step != OR_TUN_MORE) { /* final is final */
        size_t used = 99;
        CHECK(or_tun_connect_feed(&c, "HTTP/1.1 200 OK\r\n\r\n", 19, &used, &eb) == r->step);
        CHECK(used == 0);
    }
}

static bool cres_eq(const cres *a, const cres *b)
{
    return a->step == b->step && a->used == b->used && a->status == b->status &&
           strcmp(a->msg, b->msg) == 0;
}

/* The reply in one piece, then cut in two at every boundary, then byte by byte: all agree. */
static void connect_case(const char *reply, size_t len, or_tun_step step, size_t used, int status,
                         const char *msg)
{
    cres ref, r;
    connect_run(reply, len, 0, 0, &ref);
    CHECK(ref.step == step);
    CHECK(ref.used == used);
    CHECK(ref.status == status);
    CHECK_STR(ref.msg, msg);
    int bad = 0;
    for (size_t cut = 1; cut < len; cut++) {
        connect_run(reply, len, cut, 0, &r);
        bad += !cres_eq(&ref, &r);
    }
    connect_run(reply, len, 1, 1, &r);
    bad += !cres_eq(&ref, &r);
    connect_run(reply, len, 3, 7, &r);
    bad += !cres_eq(&ref, &r);
    CHECK(bad == 0);
}

static void test_connect_reply(void)
{
    connect_case(LIT("HTTP/1.1 200 Connection established\r\n\r\n"), OR_TUN_DONE, 39, 200, "");
    connect_case(LIT("HTTP/1.0 200 Connection established\r\n\r\n"), OR_TUN_DONE, 39, 200, "");
    connect_case(LIT("HTTP/1.1 200\r\n\r\n"), OR_TUN_DONE, 16, 200, "");
    /* leftover bytes after the blank line are the tunnel's, even with a Content-Length */
    static const char lo[] = "HTTP/1.1 200 OK\r\nVia: 1.1 squid\r\nContent-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n\x16\x03\x01TLS...";
    connect_case(LIT(lo), OR_TUN_DONE, strstr(lo, "\x16") - lo, 200, "");
    /* bare LF line ends, header lines of any content */
    static const char lf[] = "HTTP/1.0 204 No Content\nX: \x01\xff\t\r odd\n: \nnot a header\n\nT";
    connect_case(LIT(lf), OR_TUN_DONE, sizeof lf - 2, 204, "");
    connect_case(LIT("HTTP/1.1 200 OK\r\n\n"), OR_TUN_DONE, 18, 200, "");
    connect_case(LIT("HTTP/1.1   200   OK\r\n\r\n"), OR_TUN_DONE, 23, 200, "");
    /* interim 1xx heads are skipped */
    connect_case(LIT("HTTP/1.1 100 Continue\r\nA: b\r\n\r\nHTTP/1.1 200 OK\r\n\r\nX"), OR_TUN_DONE,
                 50, 200, "");
    connect_case(LIT("HTTP/1.1 101 Switching Protocols\r\n\r\n"), OR_TUN_FAIL, 34, 101,
                 "proxy CONNECT refused: 101 Switching Protocols");

    static const char r407[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                               "Proxy-Authenticate: Basic realm=\"test\"\r\n\r\n";
    connect_case(LIT(r407), OR_TUN_FAIL, 44, 407,
                 "proxy CONNECT refused: 407 Proxy Authentication Required");
    connect_case(LIT("HTTP/1.1 502 Bad Gateway\r\n\r\n"), OR_TUN_FAIL, 26, 502,
                 "proxy CONNECT refused: 502 Bad Gateway");
    connect_case(LIT("HTTP/1.0 403\n\n"), OR_TUN_FAIL, 13, 403, "proxy CONNECT refused: 403");
    connect_case(LIT("HTTP/1.1 403  \r\n"), OR_TUN_FAIL, 16, 403, "proxy CONNECT refused: 403");
    connect_case(LIT("HTTP/1.1 301 Moved\r\nLocation: x\r\n\r\n"), OR_TUN_FAIL, 20, 301,
                 "proxy CONNECT refused: 301 Moved");
    /* the reason is made printable and kept short */
    connect_case(LIT("HTTP/1.1 407 Bad\x01\xff\tX\r\n"), OR_TUN_FAIL, 22, 407,
                 "proxy CONNECT refused: 407 Bad?? X");
    char longr[400];
    int ln = snprintf(longr, sizeof longr, "HTTP/1.1 500 %0300d\r\n", 7);
    char want[256];
    snprintf(want, sizeof want, "proxy CONNECT refused: 500 %.95s", longr + 13);
    connect_case(longr, (size_t)ln, OR_TUN_FAIL, (size_t)ln, 500, want);

    /* malformed: status 0, the reply's bytes are read up to the one that gave it away */
    const char *mal = "malformed proxy CONNECT reply";
    connect_case(LIT("HTTP/2 200\r\n\r\n"), OR_TUN_FAIL, 6, 0, mal);
    connect_case(LIT("SSH-2.0-OpenSSH_9.2\r\n"), OR_TUN_FAIL, 1, 0, mal);
    connect_case(LIT("\x05\x00"), OR_TUN_FAIL, 1, 0, mal);
    connect_case(LIT("HTTP/1.x 200 OK\r\n\r\n"), OR_TUN_FAIL, 8, 0, mal);
    connect_case(LIT("HTTP/1.1200 OK\r\n\r\n"), OR_TUN_FAIL, 9, 0, mal);
    connect_case(LIT("HTTP/1.1 20\r\n\r\n"), OR_TUN_FAIL, 12, 0, mal);
    connect_case(LIT("HTTP/1.1 2000 OK\r\n\r\n"), OR_TUN_FAIL, 13, 0, mal);
    connect_case(LIT("HTTP/1.1 099 Odd\r\n\r\n"), OR_TUN_FAIL, 18, 0, mal);
    connect_case(LIT("HTTP/1.1 200 OK\rX\r\n\r\n"), OR_TUN_FAIL, 17, 0, mal);
    connect_case(LIT("\r\nHTTP/1.1 200 OK\r\n\r\n"), OR_TUN_FAIL, 1, 0, mal);
    /* an incomplete head wants more */
    connect_case(LIT("HTTP/1.1 200 OK\r\nVia: x\r\n"), OR_TUN_MORE, 25, 200, "");
    connect_case(LIT(""), OR_TUN_MORE, 0, 0, "");

    /* the head cap: exactly 16 KiB passes, one byte more fails */
    size_t cap = OR_TUN_CONNECT_HEAD_MAX;
    char *big = malloc(cap + 16);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', cap - 24);
    memcpy(big + cap - 4, "\r\n\r\nT", 5);
    cres r;
    connect_run(big, cap + 1, 0, 0, &r);
    CHECK(r.step == OR_TUN_DONE && r.used == cap && r.status == 200);
    connect_run(big, cap + 1, 1, 1, &r);
    CHECK(r.step == OR_TUN_DONE && r.used == cap);
    memset(big + 20, 'a', cap - 23);
    memcpy(big + cap - 3, "\r\n\r\n", 4);
    connect_run(big, cap + 1, 0, 0, &r);
    CHECK(r.step == OR_TUN_FAIL && r.used == cap && r.status == 0);
    CHECK_STR(r.msg, "proxy CONNECT reply head over 16384 bytes");
    connect_run(big, cap + 1, 100, 1000, &r);
    CHECK(r.step == OR_TUN_FAIL && r.used == cap);
    /* endless interim heads count against the same cap */
    size_t off = 0;
    while (off + 23 <= cap + 16) {
        memcpy(big + off, "HTTP/1.1 100 Continue\n\n", 23);
        off += 23;
    }
    connect_run(big, off, 0, 0, &r);
    CHECK(r.step == OR_TUN_FAIL && r.used == cap);
    free(big);
}

/* ---- SOCKS5 --------------------------------------------------------------------------------- */

typedef struct {
    const char *host;
    unsigned port;
    const char *user, *pass;
} starget;

typedef struct {
    const char *data;
    size_t len;
} bytes;

typedef struct {
    or_tun_step step;
    size_t used; /* over all replies */
    int rep;
    char msg[256];
    char sent[1024]; /* everything out() handed over */
    size_t sent_len;
    bool wiped; /* credentials gone once final */
    bool quiet; /* out() gave nothing while a reply was pending */
} sres;

/* Plays the proxy's replies in order; each is fed in two pieces cut at `cut` (0: whole, SIZE_MAX:
 * byte by byte), with out() called before each reply and between pieces. */
static void socks_run(const starget *t, const bytes *replies, size_t nrep, size_t cut, sres *r)
{
    or_socks5 s;
    or_errbuf eb = {{0}};
    or_buf out;
    memset(r, 0, sizeof *r);
    r->quiet = true;
    CHECK(or_socks5_init(&s, t->host, t->port, t->user, t->pass, &eb) == OR_OK);
    or_buf_init(&out, 4096);
    r->step = OR_TUN_MORE;
    for (size_t k = 0; k < nrep && r->step == OR_TUN_MORE; k++) {
        CHECK(or_socks5_out(&s, &out) == OR_OK);
        size_t off = 0;
        const bytes *b = &replies[k];
        while (off < b->len && r->step == OR_TUN_MORE) {
            size_t n = b->len - off;
            if (cut == SIZE_MAX)
                n = 1;
            else if (off == 0 && cut && cut < n)
                n = cut;
            size_t used = 0, before = out.len;
            r->step = or_socks5_feed(&s, b->data + off, n, &used, &eb);
            CHECK(used <= n);
            if (r->step == OR_TUN_MORE)
                CHECK(used == n);
            r->used += used;
            off += n;
            if (r->step == OR_TUN_MORE && off < b->len) {
                CHECK(or_socks5_out(&s, &out) == OR_OK);
                r->quiet = r->quiet && out.len == before;
            }
        }
    }
    if (r->step != OR_TUN_MORE) {
        size_t before = out.len, used = 9;
        CHECK(or_socks5_out(&s, &out) == OR_OK);
        CHECK(out.len == before);
        CHECK(or_socks5_feed(&s, "\x05\x00", 2, &used, &eb) == r->step);
        CHECK(used == 0);
        r->wiped = all_zero(s.user, sizeof s.user) && all_zero(s.pass, sizeof s.pass) &&
                   s.user_len == 0 && s.pass_len == 0;
    }
    r->rep = or_socks5_rep(&s);
    snprintf(r->msg, sizeof r->msg, "%s", r->step == OR_TUN_FAIL ? eb.msg : "");
    CHECK(out.len <= sizeof r->sent);
    r->sent_len = out.len < sizeof r->sent ? out.len : sizeof r->sent;
    if (out.len)
        memcpy(r->sent, out.data, r->sent_len);
    or_socks5_wipe(&s);
    or_buf_free(&out);
}

static bool sres_eq(const sres *a, const sres *b)
{
    return a->step == b->step && a->used == b->used && a->rep == b->rep &&
           strcmp(a->msg, b->msg) == 0 && a->sent_len == b->sent_len &&
           memcmp(a->sent, b->sent, a->sent_len) == 0 && a->wiped == b->wiped;
}

/* One conversation, checked whole and then with every reply cut at every position. */
static void socks_case(const starget *t, const bytes *replies, size_t nrep, const char *sent,
                       size_t sent_len, or_tun_step step, size_t used, int rep, const char *msg)
{
    sres ref, r;
    socks_run(t, replies, nrep, 0, &ref);
    CHECK(ref.step == step);
    CHECK(ref.used == used);
    CHECK(ref.rep == rep);
    CHECK_STR(ref.msg, msg);
    CHECK(ref.sent_len == sent_len && memcmp(ref.sent, sent, sent_len) == 0);
    CHECK(ref.quiet);
    if (step != OR_TUN_MORE)
        CHECK(ref.wiped);
    if (t->pass && t->pass[0])
        CHECK(strstr(ref.msg, t->pass) == NULL);
    size_t longest = 0;
    for (size_t k = 0; k < nrep; k++)
        longest = replies[k].len > longest ? replies[k].len : longest;
    int bad = 0;
    for (size_t cut = 1; cut < longest; cut++) {
        socks_run(t, replies, nrep, cut, &r);
        bad += !sres_eq(&ref, &r) || !r.quiet;
    }
    socks_run(t, replies, nrep, SIZE_MAX, &r);
    bad += !sres_eq(&ref, &r) || !r.quiet;
    CHECK(bad == 0);
}

#define B(s)                                                                                       \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }

static const char ok_v4[] = "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\xd2";

static void test_socks5_no_auth(void)
{
    starget t = {"example.com", 443, NULL, NULL};
    static const char sent[] = "\x05\x01\x00"
                               "\x05\x01\x00\x03\x0b"
                               "example.com\x01\xbb";
    /* reply ATYP IPv4, tunnel bytes right behind it */
    bytes r1[] = {B("\x05\x00"), B("\x05\x00\x00\x01\x7f\x00\x00\x01\x04\xd2TUNNEL")};
    socks_case(&t, r1, 2, LIT(sent), OR_TUN_DONE, 12, 0, "");
    /* ATYP domain: variable length */
    bytes r2[] = {B("\x05\x00"), B("\x05\x00\x00\x03\x09proxy.lan\x1f\x90\x16\x03")};
    socks_case(&t, r2, 2, LIT(sent), OR_TUN_DONE, 2 + 16, 0, "");
    bytes r2e[] = {B("\x05\x00"), B("\x05\x00\x00\x03\x00\x00\x00X")}; /* empty name */
    socks_case(&t, r2e, 2, LIT(sent), OR_TUN_DONE, 2 + 7, 0, "");
    /* ATYP IPv6 */
    bytes r3[] = {B("\x05\x00"),
                  B("\x05\x00\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                    "\x00\x01\x00\x50"
                    "abc")};
    socks_case(&t, r3, 2, LIT(sent), OR_TUN_DONE, 2 + 22, 0, "");
    /* a reply not finished yet */
    bytes r4[] = {B("\x05\x00"), B("\x05\x00\x00\x04\x20\x01")};
    socks_case(&t, r4, 2, LIT(sent), OR_TUN_MORE, 8, 0, "");
    /* RSV is not checked (some servers put junk there) */
    bytes r5[] = {B("\x05\x00"), B("\x05\x00\x07\x01\x01\x02\x03\x04\x00\x01")};
    socks_case(&t, r5, 2, LIT(sent), OR_TUN_DONE, 12, 0, "");

    /* address literals go out as ATYP IPv4 / IPv6: the proxy resolves names only */
    starget t4 = {"127.0.0.1", 8080, NULL, NULL};
    bytes ok[] = {B("\x05\x00"), {ok_v4, 10}};
    socks_case(&t4, ok, 2, LIT("\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x1f\x90"), OR_TUN_DONE,
               12, 0, "");
    starget t6 = {"[2001:db8::1]", 443, NULL, NULL};
    static const char sent6[] = "\x05\x01\x00\x05\x01\x00\x04"
                                "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                                "\x01\xbb";
    socks_case(&t6, ok, 2, LIT(sent6), OR_TUN_DONE, 12, 0, "");
    starget t6b = {"::1", 1, NULL, NULL};
    static const char sent6b[] = "\x05\x01\x00\x05\x01\x00\x04"
                                 "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                                 "\x00\x01";
    socks_case(&t6b, ok, 2, LIT(sent6b), OR_TUN_DONE, 12, 0, "");

    /* the longest name */
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    starget tl = {name, 443, NULL, NULL};
    char sentl[3 + 5 + 255 + 2];
    memcpy(sentl, "\x05\x01\x00\x05\x01\x00\x03\xff", 8);
    memset(sentl + 8, 'n', 255);
    memcpy(sentl + 263, "\x01\xbb", 2);
    socks_case(&tl, ok, 2, sentl, sizeof sentl, OR_TUN_DONE, 12, 0, "");
}

static void test_socks5_auth(void)
{
    starget t = {"example.com", 443, "user", "secret"};
    static const char sent[] = "\x05\x02\x00\x02"
                               "\x01\x04user\x06secret"
                               "\x05\x01\x00\x03\x0b"
                               "example.com\x01\xbb";
    bytes r1[] = {B("\x05\x02"), B("\x01\x00"), {ok_v4, 10}};
    socks_case(&t, r1, 3, LIT(sent), OR_TUN_DONE, 14, 0, "");
    /* some servers answer the RFC 1929 exchange with version 5 */
    bytes r1b[] = {B("\x05\x02"), B("\x05\x00"), {ok_v4, 10}};
    socks_case(&t, r1b, 3, LIT(sent), OR_TUN_DONE, 14, 0, "");
    /* offered, but the proxy is happy without: no auth message goes out */
    static const char sent2[] = "\x05\x02\x00\x02"
                                "\x05\x01\x00\x03\x0b"
                                "example.com\x01\xbb";
    bytes r2[] = {B("\x05\x00"), {ok_v4, 10}};
    socks_case(&t, r2, 2, LIT(sent2), OR_TUN_DONE, 12, 0, "");
    /* refused login */
    bytes r3[] = {B("\x05\x02"), B("\x01\x01")};
    socks_case(&t, r3, 2, LIT("\x05\x02\x00\x02\x01\x04user\x06secret"), OR_TUN_FAIL, 4, -1,
               "SOCKS5 authentication failed");
    /* an empty password is sent as a zero length */
    starget te = {"h", 1, "u", NULL};
    bytes r4[] = {B("\x05\x02"), B("\x01\x00"), {ok_v4, 10}};
    socks_case(&te, r4, 3, LIT("\x05\x02\x00\x02\x01\x01u\x00\x05\x01\x00\x03\x01h\x00\x01"),
               OR_TUN_DONE, 14, 0, "");

    /* the state forgets the credentials as soon as they are handed out */
    or_socks5 s;
    or_errbuf eb = {{0}};
    or_buf out;
    size_t used;
    or_buf_init(&out, 1024);
    CHECK(or_socks5_init(&s, "example.com", 443, "user", "secret", &eb) == OR_OK);
    CHECK(s.user_len == 4 && memcmp(s.pass, "secret", 6) == 0);
    CHECK(or_socks5_out(&s, &out) == OR_OK);
    CHECK(or_socks5_feed(&s, "\x05\x02", 2, &used, &eb) == OR_TUN_MORE);
    /* out's cap: nothing is appended and the same message is offered again */
    or_buf small;
    or_buf_init(&small, 5);
    CHECK(or_socks5_out(&s, &small) == OR_ETOOBIG);
    CHECK(small.len == 0);
    CHECK(memcmp(s.user, "user", 4) == 0);
    or_buf_free(&small);
    or_buf_reset(&out);
    CHECK(or_socks5_out(&s, &out) == OR_OK);
    CHECK(out.len == 13 && memcmp(out.data, "\x01\x04user\x06secret", 13) == 0);
    CHECK(all_zero(s.user, sizeof s.user) && all_zero(s.pass, sizeof s.pass));
    CHECK(s.user_len == 0 && s.pass_len == 0);
    or_socks5_wipe(&s);
    or_socks5_wipe(&s);
    or_buf_free(&out);

    /* wipe() mid-handshake */
    CHECK(or_socks5_init(&s, "example.com", 443, "user", "secret", &eb) == OR_OK);
    or_socks5_wipe(&s);
    CHECK(all_zero(s.user, sizeof s.user) && all_zero(s.pass, sizeof s.pass));
}

static void test_socks5_refusals(void)
{
    starget t = {"example.com", 443, NULL, NULL};
    starget ta = {"example.com", 443, "user", "secret"};
    static const char sent[] = "\x05\x01\x00";
    static const char senta[] = "\x05\x02\x00\x02";
    bytes ff[] = {B("\x05\xff")};
    socks_case(&t, ff, 1, LIT(sent), OR_TUN_FAIL, 2, -1, "SOCKS5 proxy requires authentication");
    bytes two[] = {B("\x05\x02")};
    socks_case(&t, two, 1, LIT(sent), OR_TUN_FAIL, 2, -1, "SOCKS5 proxy requires authentication");
    socks_case(&ta, ff, 1, LIT(senta), OR_TUN_FAIL, 2, -1,
               "SOCKS5 proxy accepted none of the offered authentication methods");
    bytes gss[] = {B("\x05\x01")};
    socks_case(&ta, gss, 1, LIT(senta), OR_TUN_FAIL, 2, -1,
               "SOCKS5 proxy chose an authentication method that was not offered");

    /* every REP code: the failure is known at the REP byte */
    static const char *const texts[] = {
        NULL,
        "general SOCKS server failure",
        "connection not allowed by ruleset",
        "network unreachable",
        "host unreachable",
        "connection refused",
        "TTL expired",
        "command not supported",
        "address type not supported",
        "unassigned reply code",
    };
    static const char sentc[] = "\x05\x01\x00\x05\x01\x00\x03\x0b"
                                "example.com\x01\xbb";
    for (int rep = 1; rep <= 10; rep++) {
        int code = rep == 10 ? 0xff : rep;
        char reply[10] = {5, (char)code, 0, 1, 0, 0, 0, 0, 0, 0};
        bytes rr[] = {B("\x05\x00"), {reply, sizeof reply}};
        char want[128];
        snprintf(want, sizeof want, "SOCKS5 connect failed: %s", texts[rep < 10 ? rep : 9]);
        socks_case(&t, rr, 2, LIT(sentc), OR_TUN_FAIL, 4, code, want);
    }
    CHECK_STR(or_socks5_rep_text(5), "connection refused");
    CHECK_STR(or_socks5_rep_text(0), "succeeded");
    CHECK_STR(or_socks5_rep_text(9), "unassigned reply code");
    CHECK_STR(or_socks5_rep_text(-1), "unassigned reply code");
}

static void test_socks5_garbage(void)
{
    starget t = {"example.com", 443, NULL, NULL};
    starget ta = {"example.com", 443, "user", "secret"};
    const char *mal = "malformed SOCKS5 reply";
    static const char sent[] = "\x05\x01\x00";
    static const char sentc[] = "\x05\x01\x00\x05\x01\x00\x03\x0b"
                                "example.com\x01\xbb";
    /* an HTTP proxy on the SOCKS port */
    bytes h[] = {B("HTTP/1.1 400 Bad Request\r\n\r\n")};
    socks_case(&t, h, 1, LIT(sent), OR_TUN_FAIL, 1, -1, mal);
    bytes v4[] = {B("\x04\x5a")};
    socks_case(&t, v4, 1, LIT(sent), OR_TUN_FAIL, 1, -1, mal);
    bytes badver[] = {B("\x05\x00"), B("\x04\x00\x00\x01")};
    socks_case(&t, badver, 2, LIT(sentc), OR_TUN_FAIL, 3, -1, mal);
    bytes atyp[] = {B("\x05\x00"), B("\x05\x00\x00\x07\x00\x00")};
    socks_case(&t, atyp, 2, LIT(sentc), OR_TUN_FAIL, 6, 0, mal);
    bytes authver[] = {B("\x05\x02"), B("\x09\x00")};
    socks_case(&ta, authver, 2, LIT("\x05\x02\x00\x02\x01\x04user\x06secret"), OR_TUN_FAIL, 3, -1,
               mal);
    /* more than the reply in one read: the proxy answered a request it has not got */
    bytes early[] = {B("\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x04\xd2")};
    sres r;
    socks_run(&t, early, 1, 0, &r);
    CHECK(r.step == OR_TUN_FAIL && r.used == 3 && r.wiped);
    CHECK_STR(r.msg, "SOCKS5 proxy replied before the request was sent");

    /* bytes before the greeting was taken */
    or_socks5 s;
    or_errbuf eb = {{0}};
    size_t used;
    CHECK(or_socks5_init(&s, "example.com", 443, NULL, NULL, &eb) == OR_OK);
    CHECK(or_socks5_feed(&s, "\x05\x00", 2, &used, &eb) == OR_TUN_FAIL);
    CHECK(used == 1);
    CHECK_STR(eb.msg, "SOCKS5 proxy replied before the request was sent");
    /* nothing fed: still waiting */
    CHECK(or_socks5_init(&s, "example.com", 443, NULL, NULL, &eb) == OR_OK);
    CHECK(or_socks5_feed(&s, "", 0, &used, &eb) == OR_TUN_MORE && used == 0);
}

static void socks_init_fails(const char *host, unsigned port, const char *user, const char *pass,
                             or_err want)
{
    or_socks5 s;
    or_errbuf eb = {{0}};
    or_buf out;
    size_t used = 7;
    CHECK(or_socks5_init(&s, host, port, user, pass, &eb) == want);
    CHECK(eb.msg[0] != '\0');
    CHECK(all_zero(s.user, sizeof s.user) && all_zero(s.pass, sizeof s.pass));
    or_buf_init(&out, 100);
    CHECK(or_socks5_out(&s, &out) == OR_EINVAL);
    CHECK(out.len == 0);
    CHECK(or_socks5_feed(&s, "\x05\x00", 2, &used, &eb) == OR_TUN_FAIL);
    CHECK(used == 0);
    CHECK_STR(eb.msg, "SOCKS5 handshake was not set up");
    or_buf_free(&out);
}

static void test_socks5_init(void)
{
    char l256[257];
    memset(l256, 'x', 256);
    l256[256] = '\0';
    socks_init_fails("", 443, NULL, NULL, OR_EINVAL);
    socks_init_fails(NULL, 443, NULL, NULL, OR_EINVAL);
    socks_init_fails(l256, 443, NULL, NULL, OR_ETOOBIG);
    socks_init_fails("a\nb", 443, NULL, NULL, OR_EINVAL);
    socks_init_fails("fe80::1%eth0", 443, NULL, NULL, OR_EINVAL);
    socks_init_fails("example.com", 0, NULL, NULL, OR_EINVAL);
    socks_init_fails("example.com", 70000, NULL, NULL, OR_EINVAL);
    socks_init_fails("example.com", 443, l256, "p", OR_ETOOBIG);
    socks_init_fails("example.com", 443, "u", l256, OR_ETOOBIG);

    /* a password without a user is no login: "no auth" only */
    or_socks5 s;
    or_errbuf eb = {{0}};
    or_buf out;
    or_buf_init(&out, 100);
    CHECK(or_socks5_init(&s, "example.com", 443, "", "stray", &eb) == OR_OK);
    CHECK(or_socks5_out(&s, &out) == OR_OK);
    CHECK(out.len == 3 && memcmp(out.data, "\x05\x01\x00", 3) == 0);
    CHECK(all_zero(s.pass, sizeof s.pass));
    /* nothing more to send while waiting */
    CHECK(or_socks5_out(&s, &out) == OR_OK && out.len == 3);
    or_buf_free(&out);
}

int main(void)
{
    test_connect_request();
    test_connect_reply();
    test_socks5_no_auth();
    test_socks5_auth();
    test_socks5_refusals();
    test_socks5_garbage();
    test_socks5_init();
    return check_done();
}
