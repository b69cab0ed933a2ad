#include "auth/iprules.h"

#include "core/clock.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_v4(const uint8_t a[16])
{
    return memcmp(a, v4_prefix, sizeof v4_prefix) == 0;
}

bool or_ip_parse(const char *s, size_t len, uint8_t out[16])
{
    char tmp[OR_IPRULES_TEXT_MAX];
    if (!s || len == 0 || len >= sizeof tmp || memchr(s, '\0', len))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, tmp, &a4) == 1) {
        memcpy(out, v4_prefix, sizeof v4_prefix);
        memcpy(out + 12, &a4, 4);
        return true;
    }
    return inet_pton(AF_INET6, tmp, out) == 1;
}

static void clear_host_bits(or_cidr *c)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned first = i * 8; /* the first bit of this byte */
        if (first >= c->bits)
            c->addr[i] = 0;
        else if (c->bits - first < 8)
            c->addr[i] &= (uint8_t)(0xffu << (8 - (c->bits - first)));
    }
}

or_err or_cidr_parse(const char *s, size_t len, or_cidr *out, or_errbuf *eb)
{
    const char *slash = s ? memchr(s, '/', len) : NULL;
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (!or_ip_parse(s, alen, out->addr))
        return or_fail(eb, OR_EINVAL, "not an IP address or CIDR");
    unsigned max = is_v4(out->addr) && memchr(s, ':', alen) == NULL ? 32 : 128;
    unsigned bits = max;
    if (slash) {
        const char *d = slash + 1, *end = s + len;
        size_t nd = (size_t)(end - d);
        if (nd == 0 || nd > 3 || (nd > 1 && *d == '0'))
            return or_fail(eb, OR_EINVAL, "bad prefix length");
        bits = 0;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return or_fail(eb, OR_EINVAL, "bad prefix length");
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > max)
            return or_fail(eb, OR_EINVAL, "prefix length over /%u", max);
    }
    /* An IPv4 prefix counts bits of the mapped form; "::ffff:1.2.3.4/120" is already 128-based. */
    out->bits = (uint8_t)(max == 32 ? bits + 96 : bits);
    clear_host_bits(out);
    return OR_OK;
}

bool or_cidr_contains(const or_cidr *c, const uint8_t ip[16])
{
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, ip, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (ip[full] & mask) == c->addr[full];
}

void or_cidr_format(const or_cidr *c, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    bool v4 = c->bits >= 96 && is_v4(c->addr);
    unsigned bits = v4 ? c->bits - 96u : c->bits;
    if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? c->addr + 12 : c->addr, a, sizeof a))
        a[0] = '\0';
    if (bits == (v4 ? 32u : 128u))
        snprintf(out, cap, "%s", a);
    else
        snprintf(out, cap, "%s/%u", a, bits);
}

bool or_iprules_list_match(const json_t *list, const uint8_t ip[16])
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        or_cidr c;
        if (json_is_string(v) &&
            or_cidr_parse(json_string_value(v), json_string_length(v), &c, NULL) == OR_OK &&
            or_cidr_contains(&c, ip))
            return true;
    }
    return false;
}

static const char *const scope_keys[] = {
    [OR_IP_CLIENT] = "client",
    [OR_IP_MANAGEMENT] = "management",
};

or_ip_verdict or_iprules_check(const json_t *settings, or_ip_scope scope, const char *ip,
                               unsigned *ban_left_s)
{
    uint8_t a[16];
    bool parsed = ip && or_ip_parse(ip, strlen(ip), a);
    if (parsed) {
        unsigned left = or_iprules_ban_left_s(a);
        if (left > 0) {
            if (ban_left_s)
                *ban_left_s = left;
            return OR_IP_BANNED;
        }
    }
    const char *sk = scope_keys[scope == OR_IP_MANAGEMENT ? OR_IP_MANAGEMENT : OR_IP_CLIENT];
    const json_t *block = json_object_get(json_object_get(settings, OR_IPRULES_BLOCK_KEY), sk);
    if (parsed && or_iprules_list_match(block, a))
        return OR_IP_BLOCKED;
    const json_t *allow = json_object_get(json_object_get(settings, OR_IPRULES_ALLOW_KEY), sk);
    if (json_array_size(allow) > 0 && !(parsed && or_iprules_list_match(allow, a)))
        return OR_IP_NOT_ALLOWED;
    return OR_IP_ALLOW;
}

/* The text cut at cap - 1 bytes, as snprintf would, without its format machinery (this runs
 * for every request that meets a rule). */
static void copy_capped(char *out, size_t cap, const char *s, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void or_iprules_client_addr(const char *peer, const char *xff, char out[OR_IPRULES_TEXT_MAX])
{
    peer = peer ? peer : "";
    copy_capped(out, OR_IPRULES_TEXT_MAX, peer, strnlen(peer, OR_IPRULES_TEXT_MAX));
    if (!xff)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    last += strspn(last, " \t");
    size_t n = strcspn(last, " \t");
    uint8_t a[16];
    if (last[n + strspn(last + n, " \t")] == '\0' && or_ip_parse(last, n, a))
        copy_capped(out, OR_IPRULES_TEXT_MAX, last, n);
}

/* One list → its normalized copy, or NULL with eb naming field and entry. */
static json_t *normalize_list(const char *name, const char *sk, const json_t *v, or_errbuf *eb)
{
    if (!json_is_array(v)) {
        or_fail(eb, OR_EINVAL, "%s.%s: must be an array of IP addresses or CIDRs", name, sk);
        return NULL;
    }
    if (json_array_size(v) > OR_IPRULES_MAX) {
        or_fail(eb, OR_EINVAL, "%s.%s: at most %d entries", name, sk, OR_IPRULES_MAX);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        or_cidr c;
        or_errbuf why = {{0}};
        const char *s = json_string_value(e);
        if (!s || or_cidr_parse(s, json_string_length(e), &c, &why) != OR_OK) {
            or_fail(eb, OR_EINVAL, "%s.%s[%zu]: %s", name, sk, i,
                    s ? why.msg : "must be a string (an IP address or CIDR)");
            json_decref(out);
            return NULL;
        }
        char canon[OR_IPRULES_TEXT_MAX];
        or_cidr_format(&c, canon, sizeof canon);
        json_array_append_new(out, json_string(canon));
    }
    return out;
}

json_t *or_iprules_setting_validate(const char *name, const json_t *v, or_errbuf *eb)
{
    json_t *out = NULL;
    if (!json_is_object(v) && !json_is_array(v)) {
        or_fail(eb, OR_EINVAL, "%s: must be {client:[…], management:[…]} or an array", name);
        return NULL;
    }
    if (json_is_object(v)) {
        const char *key;
        const json_t *x;
        json_object_foreach((json_t *)v, key, x)
        {
            if (strcmp(key, "client") != 0 && strcmp(key, "management") != 0) {
                or_fail(eb, OR_EINVAL, "%s.%.60s: unknown list (client or management)", name, key);
                return NULL;
            }
        }
    }
    out = json_object();
    for (size_t i = 0; i < sizeof scope_keys / sizeof *scope_keys; i++) {
        const json_t *list = json_is_array(v) ? v : json_object_get(v, scope_keys[i]);
        json_t *norm = list ? normalize_list(name, scope_keys[i], list, eb) : json_array();
        if (!norm) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, scope_keys[i], norm);
    }
    return out;
}

/* ---- bans ---- */

typedef struct {
    or_cidr c;
    uint64_t until; /* mono ms */
} ban;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ban bans[OR_IPBAN_SLOTS]; /* [0, nbans) used, unordered */
static atomic_size_t nbans;      /* read without the lock by the fast path */

/* Drops expired entries; the caller holds mu. */
static void sweep(uint64_t now)
{
    size_t n = atomic_load(&nbans);
    for (size_t i = 0; i < n;) {
        if (bans[i].until <= now)
            bans[i] = bans[--n];
        else
            i++;
    }
    atomic_store(&nbans, n);
}

static ban *find_exact(const or_cidr *c)
{
    size_t n = atomic_load(&nbans);
    for (size_t i = 0; i < n; i++)
        if (bans[i].c.bits == c->bits && memcmp(bans[i].c.addr, c->addr, 16) == 0)
            return &bans[i];
    return NULL;
}

or_err or_iprules_ban(const char *cidr, unsigned seconds, char *canon, or_errbuf *eb)
{
    or_cidr c;
    or_err e = or_cidr_parse(cidr, cidr ? strlen(cidr) : 0, &c, eb);
    if (e != OR_OK)
        return e;
    if (seconds == 0)
        seconds = OR_IPBAN_DEFAULT_S;
    if (seconds > OR_IPBAN_MAX_S)
        seconds = OR_IPBAN_MAX_S;
    uint64_t now = or_clock_mono_ms();
    pthread_mutex_lock(&mu);
    sweep(now);
    ban *b = find_exact(&c);
    size_t n = atomic_load(&nbans);
    if (!b && n < OR_IPBAN_SLOTS) {
        b = &bans[n];
        b->c = c;
        atomic_store(&nbans, n + 1);
    }
    if (b)
        b->until = now + (uint64_t)seconds * 1000u;
    pthread_mutex_unlock(&mu);
    if (!b)
        return or_fail(eb, OR_ETOOBIG, "too many bans (%d): lift some first", OR_IPBAN_SLOTS);
    if (canon)
        or_cidr_format(&c, canon, OR_IPRULES_TEXT_MAX);
    return OR_OK;
}

bool or_iprules_unban(const char *cidr)
{
    or_cidr c;
    if (!cidr || or_cidr_parse(cidr, strlen(cidr), &c, NULL) != OR_OK)
        return false;
    pthread_mutex_lock(&mu);
    sweep(or_clock_mono_ms());
    ban *b = find_exact(&c);
    if (b) {
        size_t n = atomic_load(&nbans) - 1;
        *b = bans[n];
        atomic_store(&nbans, n);
    }
    pthread_mutex_unlock(&mu);
    return b != NULL;
}

unsigned or_iprules_ban_left_s(const uint8_t ip[16])
{
    if (atomic_load(&nbans) == 0)
        return 0;
    uint64_t now = or_clock_mono_ms(), until = 0;
    pthread_mutex_lock(&mu);
    size_t n = atomic_load(&nbans);
    for (size_t i = 0; i < n; i++)
        if (bans[i].until > now && bans[i].until > until && or_cidr_contains(&bans[i].c, ip))
            until = bans[i].until;
    pthread_mutex_unlock(&mu);
    return until ? (unsigned)((until - now + 999) / 1000) : 0;
}

/* Neither list of the scope could refuse anyone. */
static bool lists_open(const json_t *settings, or_ip_scope scope)
{
    const char *sk = scope_keys[scope == OR_IP_MANAGEMENT ? OR_IP_MANAGEMENT : OR_IP_CLIENT];
    const json_t *block = json_object_get(settings, OR_IPRULES_BLOCK_KEY);
    if (block && json_array_size(json_object_get(block, sk)) > 0)
        return false;
    const json_t *allow = json_object_get(settings, OR_IPRULES_ALLOW_KEY);
    return !allow || json_array_size(json_object_get(allow, sk)) == 0;
}

bool or_iprules_open(const json_t *settings, or_ip_scope scope)
{
    return atomic_load(&nbans) == 0 && lists_open(settings, scope);
}

bool or_iprules_open_memo(or_iprules_memo *m, json_t *settings, or_ip_scope scope)
{
    if (atomic_load(&nbans) != 0)
        return false;
    if (!settings)
        return lists_open(NULL, scope);
    if (m->settings != settings) {
        json_decref(m->settings);
        m->settings = json_incref(settings);
        m->open[OR_IP_CLIENT] = lists_open(settings, OR_IP_CLIENT);
        m->open[OR_IP_MANAGEMENT] = lists_open(settings, OR_IP_MANAGEMENT);
    }
    return m->open[scope == OR_IP_MANAGEMENT ? OR_IP_MANAGEMENT : OR_IP_CLIENT];
}

void or_iprules_memo_clear(or_iprules_memo *m)
{
    json_decref(m->settings);
    m->settings = NULL;
}

static int by_until(const void *a, const void *b)
{
    const ban *x = a, *y = b;
    return (x->until > y->until) - (x->until < y->until);
}

json_t *or_iprules_bans_export(void)
{
    json_t *out = json_array();
    uint64_t now = or_clock_mono_ms();
    int64_t wall = or_clock_wall_ms();
    pthread_mutex_lock(&mu);
    sweep(now);
    size_t n = atomic_load(&nbans);
    qsort(bans, n, sizeof *bans, by_until); /* the table has no order of its own */
    for (size_t i = 0; out && i < n; i++) {
        char text[OR_IPRULES_TEXT_MAX], iso[32];
        or_cidr_format(&bans[i].c, text, sizeof text);
        uint64_t left = bans[i].until - now;
        time_t t = (time_t)((wall + (int64_t)left) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_array_append_new(out, json_pack("{s:s, s:I, s:s}", "ip", text, "secondsLeft",
                                             (json_int_t)((left + 999) / 1000), "expiresAt", iso));
    }
    pthread_mutex_unlock(&mu);
    return out;
}

void or_iprules_bans_reset(void)
{
    pthread_mutex_lock(&mu);
    atomic_store(&nbans, 0);
    pthread_mutex_unlock(&mu);
}
