/*
 * tunnel.h — the handshakes that open a tunnel through an outbound proxy, as sans-IO state
 * machines: HTTP CONNECT (RFC 9110 §9.3.6) and SOCKS5 (RFC 1928, username/password per
 * RFC 1929). The connection engine owns the socket: it writes what these give it, feeds them
 * what the proxy sends, and once a handshake says DONE the same socket is a byte pipe to the
 * target (TLS, if any, starts on it then).
 *
 * Nothing here allocates except the caller's or_buf; parser state is fixed-size and every byte
 * the network feeds is bounded (CONNECT reply head: OR_TUN_CONNECT_HEAD_MAX; SOCKS5 replies are
 * at most 262 bytes by construction). The feed functions share one contract: *used is how many
 * of the n bytes were consumed. MORE consumed all n and wants more. DONE stops right after the
 * handshake's last byte: the rest of p belongs to the tunnel and must be kept by the caller.
 * FAIL stops at the byte that decided it and writes the reason into eb. DONE and FAIL are
 * final: feeding again returns the same step with *used = 0.
 *
 * Secrets: the proxy credentials. The SOCKS5 state holds a copy until its auth message has
 * been written to out, and wipes it then, on DONE/FAIL, and in or_socks5_wipe(). The bytes
 * written into out (CONNECT request with Authorization, SOCKS5 auth message) contain the
 * credentials: the caller wipes its buffer (sodium_memzero) once they are sent. Failure texts
 * never contain a credential.
 *
 * The names keep the engine's vocabulary (or_tun_*, or_socks5_*) rather than or_tunnel_*.
 * Threads: pure functions over caller-owned state; any thread, one state per connection.
 */
#ifndef OR_UPSTREAM_TUNNEL_H
#define OR_UPSTREAM_TUNNEL_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { OR_TUN_MORE, OR_TUN_DONE, OR_TUN_FAIL } or_tun_step;

#define OR_TUN_HOST_MAX 255           /* a target host name or address, without brackets */
#define OR_TUN_CONNECT_HEAD_MAX 16384 /* all of a CONNECT reply's heads together */
#define OR_TUN_HTTP_CRED_MAX 1024     /* "user:pass" for Basic, before base64 */
#define OR_TUN_SOCKS5_CRED_MAX 255    /* user and password each (RFC 1929 length bytes) */

/* ---- HTTP CONNECT --------------------------------------------------------------------------- */

/* Appends "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n[Proxy-Authorization: Basic
 * b64(user:pass)\r\n]\r\n" to out. host is a name or an address literal (IPv6 with or without
 * brackets; sent bracketed). user/pass are already %-decoded; the header is sent when user is
 * non-empty (pass NULL = ""). OR_EINVAL for a host that is empty, too long, holds control
 * characters or spaces, or has a ':' without being an IPv6 literal, for port 0 or > 65535, for
 * a user with ':' (Basic cannot carry it); OR_ETOOBIG past OR_TUN_HTTP_CRED_MAX or out's cap.
 * On error out is unchanged. */
or_err or_tun_connect_request(or_buf *out, const char *host, unsigned port, const char *user,
                              const char *pass, or_errbuf *eb);

/* The reply parser. Accepts HTTP/1.x status lines, CRLF or bare LF line ends, header lines of
 * any content (they are skipped: on a 2xx reply to CONNECT there is no body whatever
 * Content-Length says, RFC 9110 §9.3.6), and interim 1xx heads before the final one. A non-2xx
 * status fails as soon as its status line is complete. */
typedef struct {
    uint8_t st;         /* parser state (tunnel.c) */
    uint8_t idx;        /* position inside "HTTP/1." or the status digits */
    uint8_t why;        /* what made it final (tunnel.c) */
    uint8_t reason_len; /* bytes kept of the reason phrase */
    int status;         /* last status code read; 0 until one is complete and valid */
    int code;           /* the status code being read */
    size_t seen;        /* head bytes consumed so far (cap: OR_TUN_CONNECT_HEAD_MAX) */
    char reason[96];    /* the start of the reason phrase, printable ASCII only */
} or_tun_connect;

void or_tun_connect_init(or_tun_connect *c);
/* Feeds proxy bytes (see the contract above). DONE on a 2xx final status. FAIL texts:
 * "proxy CONNECT refused: 407 Proxy Authentication Required", "malformed proxy CONNECT reply",
 * "proxy CONNECT reply head over 16384 bytes". */
or_tun_step or_tun_connect_feed(or_tun_connect *c, const char *p, size_t n, size_t *used,
                                or_errbuf *eb);
/* The final status (the 2xx of a DONE, the refusal's code), or 0 when none was read or the
 * reply was malformed. */
int or_tun_connect_status(const or_tun_connect *c);

/* ---- SOCKS5 --------------------------------------------------------------------------------- */

/* Offers "no auth" always and "username/password" when a user is set. The target goes out as
 * ATYP IPv4 / IPv6 for literals and ATYP DOMAIN for names, so the proxy resolves them
 * (socks5h). One CONNECT command; the bound address in the reply is read and dropped. */
typedef struct {
    uint8_t st;      /* handshake phase (tunnel.c) */
    uint8_t pending; /* the phase's request is still to be handed out */
    uint8_t why;     /* what made it final (tunnel.c) */
    uint8_t method;  /* method the proxy chose (0xff: none acceptable) */
    int rep;         /* REP of the CONNECT reply, -1 until read */
    uint16_t port;
    uint8_t atyp;                         /* 1 IPv4, 3 domain, 4 IPv6 */
    uint8_t addr_len;                     /* bytes used in addr */
    uint8_t addr[OR_TUN_HOST_MAX];        /* address bytes or the domain name */
    uint8_t has_auth;                     /* a user was given: offer username/password */
    uint8_t user_len, pass_len;           /* secret, like the bytes */
    uint8_t user[OR_TUN_SOCKS5_CRED_MAX]; /* secret */
    uint8_t pass[OR_TUN_SOCKS5_CRED_MAX]; /* secret */
    uint16_t rlen, rneed;                 /* the reply being read */
    uint8_t r[4 + 1 + 255 + 2];           /* largest reply: CONNECT with a domain */
} or_socks5;

/* Validates and copies the target and the credentials (user NULL or "" = no auth; pass NULL =
 * ""). OR_EINVAL for an empty/bad host, port 0 or > 65535; OR_ETOOBIG for a host, user or
 * password over 255 bytes. On error s holds no credential and any later call fails. */
or_err or_socks5_init(or_socks5 *s, const char *host, unsigned port, const char *user,
                      const char *pass, or_errbuf *eb);
/* Appends what is to be sent now (nothing while waiting for the proxy or after the end).
 * Call after init and after every feed. On an error (out's cap, memory) nothing was appended
 * and the same bytes are offered again on the next call. OR_EINVAL after a failed init. */
or_err or_socks5_out(or_socks5 *s, or_buf *out);
/* Feeds proxy bytes (see the contract above). FAIL texts: "SOCKS5 proxy requires
 * authentication", "SOCKS5 proxy accepted none of the offered authentication methods",
 * "SOCKS5 authentication failed", "SOCKS5 connect failed: connection refused" (one text per
 * RFC 1928 REP code), "malformed SOCKS5 reply", "SOCKS5 proxy replied before the request was
 * sent" (SOCKS5 is lock-step: a proxy never has a reason to answer a request it has not got, so
 * bytes fed while or_socks5_out still has a request to give are a protocol violation). */
or_tun_step or_socks5_feed(or_socks5 *s, const char *p, size_t n, size_t *used, or_errbuf *eb);
/* The CONNECT reply's REP code (0 success), -1 when the handshake did not get that far. */
int or_socks5_rep(const or_socks5 *s);
/* The text for a REP code ("connection refused"; "unassigned reply code" past 0x08). */
const char *or_socks5_rep_text(int rep);
/* Wipes the credentials (sodium_memzero); safe to call at any time and more than once. */
void or_socks5_wipe(or_socks5 *s);

#endif
