#include "upstream/tunnel.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- the target host ------------------------------------------------------------------------ */

typedef enum { HOST_BAD, HOST_NAME, HOST_V4, HOST_V6 } host_kind;

typedef struct {
    host_kind kind;
    const char *text; /* the name or literal as given, brackets stripped */
    size_t len;
    uint8_t bin[16]; /* the address of a literal */
} host_info;

/* Bytes that cannot be part of a host in a request line or a SOCKS5 name: controls and space
 * (request splitting), and URL delimiters that mean the caller split the URL wrongly. */
static bool name_byte_ok(unsigned char ch)
{
    return ch > 0x20 && ch != 0x7f && !strchr("[]/\\@?#:", ch);
}

static host_kind host_parse(const char *host, host_info *h, or_errbuf *eb, or_err *e)
{
    char lit[OR_TUN_HOST_MAX + 1];
    size_t len = host ? strlen(host) : 0;
    h->kind = HOST_BAD;
    h->text = host;
    h->len = len;
    *e = OR_EINVAL;
    if (len == 0) {
        or_fail(eb, OR_EINVAL, "proxy target host is empty");
        return HOST_BAD;
    }
    if (host[0] == '[') {
        if (len < 3 || host[len - 1] != ']') {
            or_fail(eb, OR_EINVAL, "proxy target host has an unclosed '['");
            return HOST_BAD;
        }
        h->text = host + 1;
        h->len = len - 2;
    }
    if (h->len > OR_TUN_HOST_MAX) {
        *e = or_fail(eb, OR_ETOOBIG, "proxy target host over %d bytes", OR_TUN_HOST_MAX);
        return HOST_BAD;
    }
    memcpy(lit, h->text, h->len);
    lit[h->len] = '\0';
    if (memchr(lit, ':', h->len)) {
        if (inet_pton(AF_INET6, lit, h->bin) != 1) {
            or_fail(eb, OR_EINVAL, "proxy target host is not a valid IPv6 address");
            return HOST_BAD;
        }
        h->kind = HOST_V6;
    } else if (h->text != host) {
        or_fail(eb, OR_EINVAL, "proxy target host in brackets is not an IPv6 address");
        return HOST_BAD;
    } else if (inet_pton(AF_INET, lit, h->bin) == 1) {
        h->kind = HOST_V4;
    } else {
        for (size_t i = 0; i < h->len; i++)
            if (!name_byte_ok((unsigned char)lit[i])) {
                or_fail(eb, OR_EINVAL, "proxy target host has a forbidden byte 0x%02x",
                        (unsigned char)lit[i]);
                return HOST_BAD;
            }
        h->kind = HOST_NAME;
    }
    *e = OR_OK;
    return h->kind;
}

static or_err port_check(unsigned port, or_errbuf *eb)
{
    if (port == 0 || port > 65535)
        return or_fail(eb, OR_EINVAL, "proxy target port %u out of range", port);
    return OR_OK;
}

/* ---- HTTP CONNECT request ------------------------------------------------------------------- */

or_err or_tun_connect_request(or_buf *out, const char *host, unsigned port, const char *user,
                              const char *pass, or_errbuf *eb)
{
    /* "user:pass" and its base64 live on the stack only long enough to be copied into out */
    char cred[OR_TUN_HTTP_CRED_MAX + 1];
    char b64[sodium_base64_ENCODED_LEN(OR_TUN_HTTP_CRED_MAX, sodium_base64_VARIANT_ORIGINAL)];
    host_info h;
    or_err e = OR_OK;
    bool auth = user && user[0];
    size_t ulen = 0, plen = 0;
    b64[0] = '\0';

    if (host_parse(host, &h, eb, &e) == HOST_BAD)
        goto out;
    if ((e = port_check(port, eb)) != OR_OK)
        goto out;
    if (auth) {
        pass = pass ? pass : "";
        ulen = strlen(user);
        plen = strlen(pass);
        if (memchr(user, ':', ulen)) {
            e = or_fail(eb, OR_EINVAL, "proxy user name contains ':' (Basic cannot carry it)");
            goto out;
        }
        if (ulen + 1 + plen > OR_TUN_HTTP_CRED_MAX) {
            e = or_fail(eb, OR_ETOOBIG, "proxy credentials over %d bytes", OR_TUN_HTTP_CRED_MAX);
            goto out;
        }
        memcpy(cred, user, ulen);
        cred[ulen] = ':';
        memcpy(cred + ulen + 1, pass, plen);
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)cred, ulen + 1 + plen,
                          sodium_base64_VARIANT_ORIGINAL);
    }
    /* one append: out grows (and may move) before the credential is written into it, so no
     * freed block keeps a copy; on failure out is unchanged */
    const char *lb = h.kind == HOST_V6 ? "[" : "", *rb = h.kind == HOST_V6 ? "]" : "";
    int hl = (int)h.len;
    e = or_buf_printf(out, "CONNECT %s%.*s%s:%u HTTP/1.1\r\nHost: %s%.*s%s:%u\r\n%s%s%s\r\n", lb,
                      hl, h.text, rb, port, lb, hl, h.text, rb, port,
                      auth ? "Proxy-Authorization: Basic " : "", b64, auth ? "\r\n" : "");
    if (e != OR_OK)
        or_fail(eb, e, "proxy CONNECT request does not fit its buffer");
out:
    if (auth) {
        sodium_memzero(cred, sizeof cred);
        sodium_memzero(b64, sizeof b64);
    }
    return e;
}

/* ---- HTTP CONNECT reply --------------------------------------------------------------------- */

enum {
    C_VER,       /* "HTTP/1." */
    C_MINOR,     /* the minor version digit */
    C_SP,        /* the space(s) before the code */
    C_CODE,      /* three digits */
    C_AFTER,     /* space, or the end of the status line */
    C_REASON,    /* the reason phrase */
    C_STATUS_CR, /* CR seen in the status line: LF must follow */
    C_H_START,   /* at the start of a header line (or the blank line) */
    C_H_CR,      /* CR at the start of a line */
    C_H_LINE,    /* inside a header line: skipped */
    C_FINAL,
};

enum { CW_NONE, CW_DONE, CW_REFUSED, CW_MALFORMED, CW_TOOBIG };

void or_tun_connect_init(or_tun_connect *c)
{
    memset(c, 0, sizeof *c);
    c->st = C_VER;
}

int or_tun_connect_status(const or_tun_connect *c)
{
    return c->why == CW_MALFORMED || c->why == CW_TOOBIG ? 0 : c->status;
}

static void connect_report(const or_tun_connect *c, or_errbuf *eb)
{
    size_t a = 0, b = c->reason_len;
    switch (c->why) {
    case CW_REFUSED:
        while (a < b && c->reason[a] == ' ')
            a++;
        while (b > a && c->reason[b - 1] == ' ')
            b--;
        or_fail(eb, OR_EUPSTREAM, "proxy CONNECT refused: %d%s%.*s", c->status, a < b ? " " : "",
                (int)(b - a), c->reason + a);
        break;
    case CW_MALFORMED:
        or_fail(eb, OR_EUPSTREAM, "malformed proxy CONNECT reply");
        break;
    case CW_TOOBIG:
        or_fail(eb, OR_ETOOBIG, "proxy CONNECT reply head over %d bytes", OR_TUN_CONNECT_HEAD_MAX);
        break;
    default:
        break;
    }
}

static void reason_put(or_tun_connect *c, unsigned char ch)
{
    if (c->reason_len >= sizeof c->reason - 1)
        return;
    /* the phrase ends up in logs and client errors: printable ASCII only */
    c->reason[c->reason_len++] = (char)(ch == '\t' ? ' ' : (ch >= 0x20 && ch < 0x7f ? ch : '?'));
    c->reason[c->reason_len] = '\0';
}

/* The status line is complete: decide what the code means. */
static uint8_t status_end(or_tun_connect *c)
{
    if (c->code < 100) {
        c->status = 0;
        return CW_MALFORMED;
    }
    c->status = c->code;
    if (c->code / 100 == 2 || (c->code / 100 == 1 && c->code != 101)) {
        c->st = C_H_START;
        return CW_NONE;
    }
    return CW_REFUSED;
}

/* The blank line after a head: a 2xx opens the tunnel, an interim 1xx is followed by another
 * status line. */
static uint8_t head_end(or_tun_connect *c)
{
    if (c->status / 100 == 2)
        return CW_DONE;
    c->st = C_VER;
    c->idx = 0;
    c->code = 0;
    c->reason_len = 0;
    c->reason[0] = '\0';
    return CW_NONE;
}

static uint8_t code_digit(or_tun_connect *c, unsigned char ch)
{
    c->code = c->code * 10 + (ch - '0');
    if (++c->idx == 3)
        c->st = C_AFTER;
    return CW_NONE;
}

/* One byte of reply head; returns the final outcome once there is one. */
static uint8_t connect_byte(or_tun_connect *c, unsigned char ch)
{
    static const char ver[] = "HTTP/1.";
    bool digit = ch >= '0' && ch <= '9';
    switch (c->st) {
    case C_VER:
        if (ch != (unsigned char)ver[c->idx])
            return CW_MALFORMED;
        if (++c->idx == sizeof ver - 1)
            c->st = C_MINOR;
        return CW_NONE;
    case C_MINOR:
        c->st = C_SP;
        c->idx = 0;
        return digit ? CW_NONE : CW_MALFORMED;
    case C_SP:
        if (ch == ' ') {
            c->idx = 1;
            return CW_NONE;
        }
        if (!c->idx || !digit)
            return CW_MALFORMED;
        c->st = C_CODE;
        c->idx = 0;
        c->code = 0;
        return code_digit(c, ch);
    case C_CODE:
        return digit ? code_digit(c, ch) : CW_MALFORMED;
    case C_AFTER:
        if (ch == ' ') {
            c->st = C_REASON;
            return CW_NONE;
        }
        if (ch == '\r') {
            c->st = C_STATUS_CR;
            return CW_NONE;
        }
        return ch == '\n' ? status_end(c) : CW_MALFORMED;
    case C_REASON:
        if (ch == '\r')
            c->st = C_STATUS_CR;
        else if (ch == '\n')
            return status_end(c);
        else
            reason_put(c, ch);
        return CW_NONE;
    case C_STATUS_CR:
        return ch == '\n' ? status_end(c) : CW_MALFORMED;
    case C_H_START:
        if (ch == '\n')
            return head_end(c);
        c->st = ch == '\r' ? C_H_CR : C_H_LINE;
        return CW_NONE;
    case C_H_CR:
        if (ch == '\n')
            return head_end(c);
        c->st = C_H_LINE;
        return CW_NONE;
    case C_H_LINE:
        if (ch == '\n')
            c->st = C_H_START;
        return CW_NONE;
    default:
        return CW_MALFORMED;
    }
}

or_tun_step or_tun_connect_feed(or_tun_connect *c, const char *p, size_t n, size_t *used,
                                or_errbuf *eb)
{
    size_t i = 0;
    if (c->why == CW_NONE) {
        while (i < n) {
            if (c->seen >= OR_TUN_CONNECT_HEAD_MAX) {
                c->why = CW_TOOBIG;
                break;
            }
            c->seen++;
            c->why = connect_byte(c, (unsigned char)p[i++]);
            if (c->why != CW_NONE)
                break;
        }
        if (c->why != CW_NONE)
            c->st = C_FINAL;
    }
    *used = i;
    if (c->why == CW_NONE)
        return OR_TUN_MORE;
    if (c->why == CW_DONE)
        return OR_TUN_DONE;
    connect_report(c, eb);
    return OR_TUN_FAIL;
}

/* ---- SOCKS5 --------------------------------------------------------------------------------- */

enum { S_GREET, S_AUTH, S_CONNECT, S_FINAL };

enum {
    SW_NONE,
    SW_DONE,
    SW_NEEDAUTH,
    SW_NOMETHOD,
    SW_BADMETHOD,
    SW_AUTHFAIL,
    SW_REP,
    SW_MALFORMED,
    SW_EARLY,
    SW_UNSET,
    SW_COUNT
};

static const char *const socks_why[SW_COUNT] = {
    [SW_NEEDAUTH] = "SOCKS5 proxy requires authentication",
    [SW_NOMETHOD] = "SOCKS5 proxy accepted none of the offered authentication methods",
    [SW_BADMETHOD] = "SOCKS5 proxy chose an authentication method that was not offered",
    [SW_AUTHFAIL] = "SOCKS5 authentication failed",
    [SW_MALFORMED] = "malformed SOCKS5 reply",
    [SW_EARLY] = "SOCKS5 proxy replied before the request was sent",
    [SW_UNSET] = "SOCKS5 handshake was not set up",
};

/* RFC 1928 §6 */
static const char *const rep_text[] = {
    "succeeded",
    "general SOCKS server failure",
    "connection not allowed by ruleset",
    "network unreachable",
    "host unreachable",
    "connection refused",
    "TTL expired",
    "command not supported",
    "address type not supported",
};

const char *or_socks5_rep_text(int rep)
{
    if (rep >= 0 && (size_t)rep < sizeof rep_text / sizeof rep_text[0])
        return rep_text[rep];
    return "unassigned reply code";
}

int or_socks5_rep(const or_socks5 *s)
{
    return s->rep;
}

void or_socks5_wipe(or_socks5 *s)
{
    sodium_memzero(s->user, sizeof s->user);
    sodium_memzero(s->pass, sizeof s->pass);
    s->user_len = s->pass_len = 0;
}

or_err or_socks5_init(or_socks5 *s, const char *host, unsigned port, const char *user,
                      const char *pass, or_errbuf *eb)
{
    host_info h;
    or_err e = OR_OK;
    size_t ulen = user ? strlen(user) : 0, plen = pass ? strlen(pass) : 0;

    memset(s, 0, sizeof *s);
    s->st = S_FINAL;
    s->why = SW_UNSET;
    s->rep = -1;
    if (host_parse(host, &h, eb, &e) == HOST_BAD)
        goto out;
    if ((e = port_check(port, eb)) != OR_OK)
        goto out;
    if (ulen > OR_TUN_SOCKS5_CRED_MAX || (ulen && plen > OR_TUN_SOCKS5_CRED_MAX)) {
        e = or_fail(eb, OR_ETOOBIG, "SOCKS5 %s over %d bytes",
                    ulen > OR_TUN_SOCKS5_CRED_MAX ? "user name" : "password",
                    OR_TUN_SOCKS5_CRED_MAX);
        goto out;
    }
    static const uint8_t atyp[] = {[HOST_NAME] = 3, [HOST_V4] = 1, [HOST_V6] = 4};
    static const uint8_t alen[] = {[HOST_V4] = 4, [HOST_V6] = 16};
    s->atyp = atyp[h.kind];
    s->addr_len = (uint8_t)(h.kind == HOST_NAME ? h.len : alen[h.kind]);
    memcpy(s->addr, h.kind == HOST_NAME ? (const void *)h.text : (const void *)h.bin, s->addr_len);
    s->port = (uint16_t)port;
    if (ulen) {
        s->has_auth = 1;
        s->user_len = (uint8_t)ulen;
        s->pass_len = (uint8_t)plen;
        memcpy(s->user, user, ulen);
        if (plen)
            memcpy(s->pass, pass, plen);
    }
    s->st = S_GREET;
    s->pending = 1;
    s->why = SW_NONE;
out:
    return e;
}

/* The request of the current phase into m; returns its length. */
static size_t socks_request(const or_socks5 *s, uint8_t *m)
{
    size_t k = 0;
    switch (s->st) {
    case S_GREET:
        m[k++] = 5;
        m[k++] = s->has_auth ? 2 : 1;
        m[k++] = 0; /* no authentication */
        if (s->has_auth)
            m[k++] = 2; /* username/password */
        break;
    case S_AUTH: /* RFC 1929 */
        m[k++] = 1;
        m[k++] = s->user_len;
        memcpy(m + k, s->user, s->user_len);
        k += s->user_len;
        m[k++] = s->pass_len;
        memcpy(m + k, s->pass, s->pass_len);
        k += s->pass_len;
        break;
    case S_CONNECT:
        m[k++] = 5;
        m[k++] = 1; /* CONNECT */
        m[k++] = 0;
        m[k++] = s->atyp;
        if (s->atyp == 3)
            m[k++] = s->addr_len;
        memcpy(m + k, s->addr, s->addr_len);
        k += s->addr_len;
        m[k++] = (uint8_t)(s->port >> 8);
        m[k++] = (uint8_t)(s->port & 0xff);
        break;
    default:
        break;
    }
    return k;
}

or_err or_socks5_out(or_socks5 *s, or_buf *out)
{
    uint8_t m[3 + 2 * OR_TUN_SOCKS5_CRED_MAX] = {0}; /* zeroed: gcc -O2 cannot see k's bound */
    or_err e = OR_OK;
    size_t k = 0;
    if (s->why == SW_UNSET) {
        e = OR_EINVAL;
        goto out;
    }
    if (s->st == S_FINAL || !s->pending)
        goto out;
    k = socks_request(s, m);
    /* or_buf_append grows out before copying, so no stale copy of a secret is left behind */
    if ((e = or_buf_append(out, m, k)) != OR_OK)
        goto out;
    s->pending = 0;
    if (s->st == S_AUTH)
        or_socks5_wipe(s); /* sent: the state needs them no more */
out:
    if (k)
        sodium_memzero(m, k);
    return e;
}

/* The method the proxy chose. */
static uint8_t socks_method(or_socks5 *s, uint8_t method)
{
    s->method = method;
    if (method == 0) {
        s->st = S_CONNECT;
        return SW_NONE;
    }
    if (method == 2 && s->has_auth) {
        s->st = S_AUTH;
        return SW_NONE;
    }
    if (method == 2 || (method == 0xff && !s->has_auth))
        return SW_NEEDAUTH;
    return method == 0xff ? SW_NOMETHOD : SW_BADMETHOD;
}

/* One byte of a reply; the byte is already in r[rlen - 1]. */
static uint8_t socks_byte(or_socks5 *s)
{
    const uint8_t *r = s->r;
    uint8_t b = r[s->rlen - 1];
    switch (s->st) {
    case S_GREET:
        if (s->rlen == 1)
            return b == 5 ? SW_NONE : SW_MALFORMED;
        s->rlen = 0;
        s->pending = 1;
        return socks_method(s, b);
    case S_AUTH: /* RFC 1929 says VER 1; some servers echo 5 */
        if (s->rlen == 1)
            return b == 1 || b == 5 ? SW_NONE : SW_MALFORMED;
        if (b != 0)
            return SW_AUTHFAIL;
        s->rlen = 0;
        s->st = S_CONNECT;
        s->pending = 1;
        return SW_NONE;
    case S_CONNECT:
        switch (s->rlen) {
        case 1:
            return b == 5 ? SW_NONE : SW_MALFORMED;
        case 2:
            s->rep = b;
            return b == 0 ? SW_NONE : SW_REP;
        case 3: /* RSV */
            return SW_NONE;
        case 4:
            if (b == 1 || b == 4)
                s->rneed = (uint16_t)(4 + (b == 1 ? 4 : 16) + 2);
            else if (b == 3)
                s->rneed = 5; /* the name's length byte comes next */
            else
                return SW_MALFORMED;
            return SW_NONE;
        case 5:
            if (r[3] == 3)
                s->rneed = (uint16_t)(5 + b + 2);
            break;
        default:
            break;
        }
        return s->rlen == s->rneed ? SW_DONE : SW_NONE;
    default:
        return SW_MALFORMED;
    }
}

or_tun_step or_socks5_feed(or_socks5 *s, const char *p, size_t n, size_t *used, or_errbuf *eb)
{
    size_t i = 0;
    if (s->why == SW_NONE) {
        while (i < n) {
            if (s->pending) {
                s->why = SW_EARLY;
                i++;
                break;
            }
            s->r[s->rlen++] = (uint8_t)p[i++];
            s->why = socks_byte(s);
            if (s->why != SW_NONE)
                break;
        }
        if (s->why != SW_NONE) {
            s->st = S_FINAL;
            or_socks5_wipe(s);
        }
    }
    *used = i;
    if (s->why == SW_NONE)
        return OR_TUN_MORE;
    if (s->why == SW_DONE)
        return OR_TUN_DONE;
    if (s->why == SW_REP)
        or_fail(eb, OR_EUPSTREAM, "SOCKS5 connect failed: %s", or_socks5_rep_text(s->rep));
    else
        or_fail(eb, OR_EUPSTREAM, "%s", socks_why[s->why]);
    return OR_TUN_FAIL;
}
