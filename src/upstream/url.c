/*
 * url.c — absolute URL splitting for the upstream client (see url.h).
 */
#include "upstream/url.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    or_url_scheme scheme;
    unsigned port;
} schemes[] = {
    {"http", OR_URL_HTTP, 80},
    {"https", OR_URL_HTTPS, 443},
    {"socks5", OR_URL_SOCKS5, 1080},
    {"socks5h", OR_URL_SOCKS5, 1080},
};

unsigned or_url_default_port(or_url_scheme s)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (schemes[i].scheme == s)
            return schemes[i].port;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %-decodes p[0..n) into out (NUL-terminated). Decoded NULs are refused: they would cut the
 * credential short without anyone noticing. */
static or_err decode(const char *p, size_t n, char *out, size_t cap, or_errbuf *eb)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
                return or_fail(eb, OR_EINVAL, "bad %%-escape in URL credentials");
            c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
            i += 2;
            if (c == 0)
                return or_fail(eb, OR_EINVAL, "NUL in URL credentials");
        }
        if (o + 1 >= cap)
            return or_fail(eb, OR_ETOOBIG, "URL credentials too long");
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return OR_OK;
}

static bool bad_char(unsigned char c)
{
    return c <= ' ' || c == 0x7f;
}

static or_err parse_port(const char *p, size_t n, unsigned *port, or_errbuf *eb)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return or_fail(eb, OR_EINVAL, "bad port in URL");
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return or_fail(eb, OR_EINVAL, "bad port in URL");
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return or_fail(eb, OR_EINVAL, "port out of range in URL");
    *port = v;
    return OR_OK;
}

/* host[:port] or [v6]:port, from p[0..n). */
static or_err parse_hostport(const char *p, size_t n, or_url *u, or_errbuf *eb)
{
    const char *hp = p, *port = NULL;
    size_t hn = n, pn = 0;
    if (n && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (!close)
            return or_fail(eb, OR_EINVAL, "unclosed '[' in URL host");
        hp = p + 1;
        hn = (size_t)(close - hp);
        const char *rest = close + 1;
        size_t rn = n - (size_t)(rest - p);
        if (rn) {
            if (rest[0] != ':')
                return or_fail(eb, OR_EINVAL, "junk after ']' in URL host");
            port = rest + 1;
            pn = rn - 1;
        }
        u->ipv6 = true;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon) {
            hn = (size_t)(colon - p);
            port = colon + 1;
            pn = n - hn - 1;
        }
    }
    if (hn == 0)
        return or_fail(eb, OR_EINVAL, "empty host in URL");
    if (hn >= sizeof u->host)
        return or_fail(eb, OR_ETOOBIG, "URL host too long");
    for (size_t i = 0; i < hn; i++)
        if (strchr("/?#@[]\\%", hp[i]) && !(u->ipv6 && hp[i] == '%'))
            return or_fail(eb, OR_EINVAL, "bad character in URL host");
    memcpy(u->host, hp, hn);
    u->host[hn] = '\0';
    unsigned char tmp[16];
    if (u->ipv6) {
        if (inet_pton(AF_INET6, u->host, tmp) != 1)
            return or_fail(eb, OR_EINVAL, "bad IPv6 address in URL");
        u->ip = true;
    } else {
        u->ip = inet_pton(AF_INET, u->host, tmp) == 1;
    }
    /* "host:" (empty port) means the default port, as browsers read it. */
    return port && pn ? parse_port(port, pn, &u->port, eb) : OR_OK;
}

or_err or_url_parse(const char *s, bool allow_creds, or_url *u, or_errbuf *eb)
{
    or_err e = OR_OK;
    /* Field by field: a target URL is parsed per request, and the credential arrays are
     * most of the struct (they are wiped on failure below, and hold nothing otherwise). */
    u->host[0] = u->user[0] = u->pass[0] = '\0';
    u->ipv6 = u->ip = u->has_user = false;
    u->port = 0;
    u->target = NULL;
    u->target_len = 0;
    const char *sep = s ? strstr(s, "://") : NULL;
    size_t i;
    if (!sep) {
        e = or_fail(eb, OR_EINVAL, "URL without a scheme");
        goto out;
    }
    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strlen(schemes[i].name) == (size_t)(sep - s) &&
            strncasecmp(s, schemes[i].name, (size_t)(sep - s)) == 0)
            break;
    if (i == sizeof schemes / sizeof schemes[0]) {
        e = or_fail(eb, OR_EINVAL, "unsupported URL scheme");
        goto out;
    }
    u->scheme = schemes[i].scheme;
    u->port = schemes[i].port;
    const char *auth = sep + 3;
    size_t an = strcspn(auth, "/?#");
    for (const char *c = s; *c; c++)
        if (bad_char((unsigned char)*c)) {
            e = or_fail(eb, OR_EINVAL, "space or control character in URL");
            goto out;
        }
    /* The last '@' ends the credentials: a password may hold an unescaped '@'. */
    const char *at = NULL;
    for (const char *c = auth; c < auth + an; c++)
        if (*c == '@')
            at = c;
    if (at) {
        if (!allow_creds) {
            e = or_fail(eb, OR_EINVAL, "credentials in a target URL");
            goto out;
        }
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t un = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        if ((e = decode(auth, un, u->user, sizeof u->user, eb)) != OR_OK)
            goto out;
        if (colon &&
            (e = decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass, eb)) != OR_OK)
            goto out;
        u->has_user = true;
        an -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    if ((e = parse_hostport(auth, an, u, eb)) != OR_OK)
        goto out;
    const char *t = auth + an;
    size_t tn = strcspn(t, "#");
    if (tn == 0 || t[0] == '#') {
        u->target = "/";
        u->target_len = 1;
    } else if (t[0] == '?') { /* "http://h?q" asks for "/?q"; keep it simple and refuse */
        e = or_fail(eb, OR_EINVAL, "URL query without a path");
        goto out;
    } else {
        u->target = t;
        u->target_len = tn;
    }
out:
    if (e != OR_OK)
        or_url_wipe(u);
    return e;
}

void or_url_wipe(or_url *u)
{
    sodium_memzero(u->user, sizeof u->user);
    sodium_memzero(u->pass, sizeof u->pass);
}
