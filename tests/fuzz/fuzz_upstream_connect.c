/* Fuzz target: the HTTP CONNECT reply parser on arbitrary bytes. The first input byte seeds the
 * split points; the rest is the proxy's reply. The reply is fed whole and then in random pieces:
 * both must give the same step, the same consumed count, status and text. Other invariants:
 * *used <= n, MORE consumes everything, DONE means a 2xx, a refusal is not a 2xx, the text is
 * printable, and a final state stays final. */
#include "upstream/tunnel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    or_tun_step step;
    size_t used;
    int status;
    or_errbuf eb;
} result;

static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            abort();
}

/* seed 0: all at once */
static void run(const char *p, size_t n, uint32_t seed, result *r)
{
    or_tun_connect c;
    or_tun_connect_init(&c);
    memset(r, 0, sizeof *r);
    r->step = OR_TUN_MORE;
    size_t off = 0;
    while (off < n && r->step == OR_TUN_MORE) {
        size_t k = n - off;
        if (seed) {
            size_t piece = 1 + next(&seed) % (next(&seed) % 4 == 0 ? 512 : 8);
            k = piece < k ? piece : k;
        }
        size_t used = (size_t)-1;
        r->step = or_tun_connect_feed(&c, p + off, k, &used, &r->eb);
        if (used > k || (r->step == OR_TUN_MORE && used != k))
            abort();
        r->used += used;
        off += k;
    }
    r->status = or_tun_connect_status(&c);
    if (r->step == OR_TUN_DONE && r->status / 100 != 2)
        abort();
    if (r->step == OR_TUN_FAIL) {
        printable(r->eb.msg);
        if (r->status / 100 == 2)
            abort();
        size_t used = 1;
        or_errbuf eb;
        if (or_tun_connect_feed(&c, "HTTP/1.1 200 OK\r\n\r\n", 19, &used, &eb) != OR_TUN_FAIL ||
            used != 0 || strcmp(eb.msg, r->eb.msg) != 0)
            abort();
    }
    if (r->step != OR_TUN_FAIL)
        r->eb.msg[0] = '\0';
    if (r->used > OR_TUN_CONNECT_HEAD_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* an exact-size heap copy so ASan sees any read past the end */
    size_t n = size - 1;
    char *p = malloc(n ? n : 1);
    if (!p)
        return 0;
    memcpy(p, data + 1, n);
    result whole, cut;
    run(p, n, 0, &whole);
    run(p, n, 0x9e3779b9u ^ data[0], &cut);
    if (whole.step != cut.step || whole.used != cut.used || whole.status != cut.status ||
        strcmp(whole.eb.msg, cut.eb.msg) != 0)
        abort();
    free(p);
    return 0;
}
