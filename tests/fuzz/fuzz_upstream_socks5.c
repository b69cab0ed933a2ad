/* Fuzz target: the SOCKS5 client driven by an arbitrary proxy. Input byte 0 picks the setup
 * (credentials or not; target a name, IPv4, IPv6 or a 255-byte name), byte 1 seeds the piece
 * sizes, the rest is what the proxy sends. The driver alternates out() and feed() like the
 * engine does. Invariants: *used <= n and MORE consumes everything; what out() hands over is
 * exactly the protocol's messages for this setup, in order; the credentials are gone from the
 * state once the auth message is out and once the handshake is final; a final state stays final;
 * and, unless the proxy sent bytes early, feeding in pieces ends exactly like feeding byte by
 * byte. */
#include "upstream/tunnel.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const hosts[] = {"api.example.com", "192.0.2.7", "[2001:db8::5]", NULL};
static const char early_msg[] = "SOCKS5 proxy replied before the request was sent";

typedef struct {
    or_tun_step step;
    size_t used;
    int rep;
    or_errbuf eb;
    or_buf sent;
} result;

static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static bool zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void check_wiped(const or_socks5 *s)
{
    if (!zero(s->user, sizeof s->user) || !zero(s->pass, sizeof s->pass) || s->user_len ||
        s->pass_len)
        abort();
}

/* seed 0: byte by byte */
static void run(const char *host, const char *user, const char *pass, const char *p, size_t n,
                uint32_t seed, result *r)
{
    or_socks5 s;
    memset(&r->eb, 0, sizeof r->eb);
    r->used = 0;
    if (or_socks5_init(&s, host, 1080, user, pass, &r->eb) != OR_OK)
        abort();
    r->step = OR_TUN_MORE;
    size_t off = 0;
    for (;;) {
        size_t before = r->sent.len;
        if (or_socks5_out(&s, &r->sent) != OR_OK)
            abort();
        /* the auth message is the only one holding secrets: after it the state has none */
        if (r->sent.len > before && r->sent.data[before] == 1)
            check_wiped(&s);
        if (off >= n || r->step != OR_TUN_MORE)
            break;
        size_t k = 1;
        if (seed)
            k = 1 + next(&seed) % (next(&seed) % 4 == 0 ? 300 : 6);
        k = k < n - off ? k : n - off;
        size_t used = (size_t)-1;
        r->step = or_socks5_feed(&s, p + off, k, &used, &r->eb);
        if (used > k || (r->step == OR_TUN_MORE && used != k) || s.rlen > sizeof s.r)
            abort();
        r->used += used;
        off += k;
    }
    r->rep = or_socks5_rep(&s);
    if (r->step != OR_TUN_MORE) {
        check_wiped(&s);
        size_t used = 1;
        or_errbuf eb;
        if (or_socks5_feed(&s, "\x05\x00", 2, &used, &eb) != r->step || used != 0)
            abort();
    }
    if (r->step == OR_TUN_DONE && r->rep != 0)
        abort();
    if (r->step != OR_TUN_FAIL)
        r->eb.msg[0] = '\0';
    or_socks5_wipe(&s);
    check_wiped(&s);
}

/* What a correct client sends, given how far the handshake got: the greeting, then the auth
 * message if the proxy chose username/password, then the CONNECT request. */
static void check_sent(const result *r, bool auth, const char *host, const char *user,
                       const char *pass)
{
    const uint8_t *m = (const uint8_t *)r->sent.data;
    size_t len = r->sent.len, k = auth ? 4 : 3;
    if (len < k || memcmp(m, auth ? "\x05\x02\x00\x02" : "\x05\x01\x00", k) != 0)
        abort();
    if (len > k && m[k] == 1) {
        size_t ul = strlen(user), pl = strlen(pass);
        if (!auth || len < k + 3 + ul + pl || m[k + 1] != ul || memcmp(m + k + 2, user, ul) ||
            m[k + 2 + ul] != pl || memcmp(m + k + 3 + ul, pass, pl))
            abort();
        k += 3 + ul + pl;
    }
    if (len == k)
        return;
    if (len < k + 5 || memcmp(m + k, "\x05\x01\x00", 3) != 0)
        abort();
    uint8_t atyp = m[k + 3];
    size_t want = atyp == 3 ? 7u + m[k + 4] : atyp == 1 ? 10u : atyp == 4 ? 22u : 0u;
    if (!want || len != k + want || (atyp == 3 && m[k + 4] != strlen(host)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    char longname[256];
    memset(longname, 'n', 255);
    longname[255] = '\0';
    const char *host = hosts[data[0] & 3] ? hosts[data[0] & 3] : longname;
    bool auth = data[0] & 4;
    const char *user = auth ? "someone" : NULL, *pass = auth ? "hunter2" : NULL;
    size_t n = size - 2;
    char *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 2, n);

    result bytewise, pieces;
    or_buf_init(&bytewise.sent, 4096);
    or_buf_init(&pieces.sent, 4096);
    run(host, user, pass, p, n, 0, &bytewise);
    run(host, user, pass, p, n, 0x2545f491u ^ data[1], &pieces);
    check_sent(&bytewise, auth, host, user, pass);
    check_sent(&pieces, auth, host, user, pass);
    if (strcmp(bytewise.eb.msg, early_msg) == 0)
        abort(); /* impossible when out() runs between every byte */
    if (strcmp(pieces.eb.msg, early_msg) != 0 &&
        (bytewise.step != pieces.step || bytewise.used != pieces.used ||
         bytewise.rep != pieces.rep || strcmp(bytewise.eb.msg, pieces.eb.msg) != 0 ||
         bytewise.sent.len != pieces.sent.len ||
         memcmp(bytewise.sent.data, pieces.sent.data, pieces.sent.len) != 0))
        abort();
    if ((auth && strstr(bytewise.eb.msg, pass)) || (auth && strstr(pieces.eb.msg, pass)))
        abort();
    or_buf_free(&bytewise.sent);
    or_buf_free(&pieces.sent);
    free(p);
    return 0;
}
