/*
 * url.h — splitting the absolute URLs the upstream client dials: targets (http, https) and
 * proxies (http, https, socks5, socks5h).
 *
 * Only what a client needs: scheme, host (brackets stripped from IPv6 literals), port (the
 * scheme's default when absent), credentials (%-decoded) and the request target (path and
 * query, "/" when empty; the fragment dropped). The target points into the parsed string, so
 * the string must outlive its use. Credentials are secrets: or_url_wipe when done.
 * Pure; any thread.
 */
#ifndef OR_UPSTREAM_URL_H
#define OR_UPSTREAM_URL_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define OR_URL_HOST_MAX 256 /* a DNS name is at most 253 characters */
#define OR_URL_CRED_MAX 256 /* SOCKS5 allows 255 bytes each for user and password */

typedef enum {
    OR_URL_HTTP,
    OR_URL_HTTPS,
    OR_URL_SOCKS5, /* socks5:// and socks5h://: the proxy resolves names either way */
} or_url_scheme;

typedef struct {
    or_url_scheme scheme;
    char host[OR_URL_HOST_MAX];
    bool ipv6; /* host is an IPv6 literal (it needs brackets in Host and CONNECT lines) */
    bool ip;   /* host is an IP literal of either family */
    unsigned port;
    bool has_user;
    char user[OR_URL_CRED_MAX], pass[OR_URL_CRED_MAX];
    const char *target; /* "/path?query" within the parsed string, or "/" */
    size_t target_len;
} or_url;

/* Fails with OR_EINVAL (eb names the part) for anything but the schemes above, empty or
 * malformed hosts, bad ports, control characters or spaces, and credentials in target URLs
 * (allowed only when allow_creds); OR_ETOOBIG for hosts or credentials over the caps. */
or_err or_url_parse(const char *s, bool allow_creds, or_url *u, or_errbuf *eb);

/* The default port of a scheme (80, 443, 1080). */
unsigned or_url_default_port(or_url_scheme s);

void or_url_wipe(or_url *u);

#endif
