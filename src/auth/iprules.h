/*
 * iprules.h — IP access control: CIDR allow/block lists for client and management routes
 * (settings ipAllowlist / ipBlocklist), and temporary bans.
 *
 * Addresses live in one 16-byte space: IPv4 is mapped to ::ffff:a.b.c.d, so "10.0.0.0/8" is
 * ::ffff:10.0.0.0/104 and an IPv4 peer seen on an IPv6 socket ("::ffff:10.1.2.3") matches it.
 *
 * Settings shape (both keys optional; an array alone means "the same list for both"):
 *   ipAllowlist {client: [cidr…], management: [cidr…]}   empty list = everyone allowed
 *   ipBlocklist {client: [cidr…], management: [cidr…]}
 * A cidr is "1.2.3.4", "10.0.0.0/8", "2001:db8::/32" or "::1". Stored normalized (host bits
 * cleared, no "/32" or "/128"), so the request path parses what it reads without surprises.
 * Verdict order: ban, then blocklist, then allowlist. The peer address of the TCP connection is
 * what counts; X-Forwarded-For is not trusted.
 *
 * Parsing and matching are pure (any thread, no allocation). The ban table is process-wide,
 * behind one mutex taken only while at least one ban exists (an atomic count says so); expiry
 * reads the monotonic clock (core/clock.h), so tests drive it by hand. Bans are not persisted:
 * a restart forgets them.
 */
#ifndef OR_AUTH_IPRULES_H
#define OR_AUTH_IPRULES_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OR_IPRULES_MAX 1000      /* entries in one list */
#define OR_IPRULES_TEXT_MAX 64   /* longest address or CIDR text accepted */
#define OR_IPBAN_SLOTS 1024      /* bans held at once */
#define OR_IPBAN_DEFAULT_S 3600u /* a ban without a duration */
#define OR_IPBAN_MAX_S (30u * 24u * 3600u)

#define OR_IPRULES_ALLOW_KEY "ipAllowlist"
#define OR_IPRULES_BLOCK_KEY "ipBlocklist"

typedef struct {
    uint8_t addr[16]; /* host bits cleared */
    uint8_t bits;     /* prefix length in the 128-bit space */
} or_cidr;

typedef enum { OR_IP_CLIENT, OR_IP_MANAGEMENT } or_ip_scope;

typedef enum {
    OR_IP_ALLOW = 0,
    OR_IP_BANNED,      /* a temporary ban covers the address */
    OR_IP_BLOCKED,     /* the scope's blocklist holds it */
    OR_IP_NOT_ALLOWED, /* the scope's allowlist is non-empty and does not hold it */
} or_ip_verdict;

/* An address (no prefix) → 16 bytes. False for anything else (zone ids, spaces, empty). */
bool or_ip_parse(const char *s, size_t len, uint8_t out[16]);
/* An address or CIDR; OR_EINVAL when it is neither (eb says why). Host bits are cleared. */
or_err or_cidr_parse(const char *s, size_t len, or_cidr *out, or_errbuf *eb);
bool or_cidr_contains(const or_cidr *c, const uint8_t ip[16]);
/* Canonical text ("10.0.0.0/8", "::1", "1.2.3.4"); always NUL-terminates (cap ≥ 1). */
void or_cidr_format(const or_cidr *c, char *out, size_t cap);

/* True when ip lies in an entry of list (a JSON array of CIDR strings; entries that do not
 * parse never match). */
bool or_iprules_list_match(const json_t *list, const uint8_t ip[16]);

/* The verdict for a peer address (text, as the HTTP layer gives it) on a scope, from the
 * settings object of a snapshot. An address that does not parse is only refused by an
 * allowlist. When banned, *ban_left_s (may be NULL) gets the seconds left. */
or_ip_verdict or_iprules_check(const json_t *settings, or_ip_scope scope, const char *ip,
                               unsigned *ban_left_s);
/* True when or_iprules_check would allow every address on this scope right now: no ban is held
 * and the scope has neither a blocklist entry nor an allowlist. Lets the request path skip
 * finding out who the caller is when no rule could refuse them (the usual configuration). */
bool or_iprules_open(const json_t *settings, or_ip_scope scope);

/* or_iprules_open for the settings of a snapshot, whose lists are looked up once per settings
 * object instead of once per request. The memo holds a reference to the settings it judged, so
 * no other object can come to share their address while it remembers them; the caller must
 * not change those settings (a snapshot's never change). One memo per thread; clear it (drops
 * the reference) before the thread ends. Bans are not memoized: they are read live. */
typedef struct {
    json_t *settings;
    bool open[2]; /* by or_ip_scope */
} or_iprules_memo;
bool or_iprules_open_memo(or_iprules_memo *m, json_t *settings, or_ip_scope scope);
void or_iprules_memo_clear(or_iprules_memo *m);

/* Settings validator for ipAllowlist / ipBlocklist (the or_setting_field.validate shape):
 * the normalized {client:[…], management:[…]} (new reference), or NULL with eb naming the
 * field and entry ("ipBlocklist.client[2]: …"). */
json_t *or_iprules_setting_validate(const char *name, const json_t *v, or_errbuf *eb);

/* The address a request counts as: peer (the TCP peer's text), or, when xff is given (the
 * X-Forwarded-For value, passed only when a trusted proxy is in front), its last entry — the one
 * that proxy appended; earlier entries are whatever the client claimed. A last entry that is
 * not an address leaves the peer. Always NUL-terminates out. */
void or_iprules_client_addr(const char *peer, const char *xff, char out[OR_IPRULES_TEXT_MAX]);

/* ---- temporary bans (process-wide, any thread) ---- */
/* Bans an address or CIDR for seconds (0 → OR_IPBAN_DEFAULT_S; capped at OR_IPBAN_MAX_S);
 * banning it again replaces the expiry. OR_EINVAL for a bad address, OR_ETOOBIG when the table
 * is full of live bans. canon (may be NULL, ≥ OR_IPRULES_TEXT_MAX bytes) gets the text stored. */
or_err or_iprules_ban(const char *cidr, unsigned seconds, char *canon, or_errbuf *eb);
/* Lifts the ban on exactly this address or CIDR; false when there was none. */
bool or_iprules_unban(const char *cidr);
/* Seconds left (rounded up) on the longest ban covering ip; 0 when none. */
unsigned or_iprules_ban_left_s(const uint8_t ip[16]);
/* [{ip, secondsLeft, expiresAt (ISO 8601)}] of the live bans, soonest expiry first. */
json_t *or_iprules_bans_export(void);
void or_iprules_bans_reset(void); /* tests */

#endif
