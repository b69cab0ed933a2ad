#include "core/rand.h"

#include <sodium.h>
#include <stdio.h>

static or_rand_fill_fn fill_fn;
static void *fill_ud;

int or_rand_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

void or_rand_set(or_rand_fill_fn fn, void *ud)
{
    fill_fn = fn;
    fill_ud = ud;
}

void or_rand_bytes(void *buf, size_t n)
{
    if (fill_fn)
        fill_fn(buf, n, fill_ud);
    else
        randombytes_buf(buf, n);
}

uint32_t or_rand_uniform(uint32_t upper_bound)
{
    if (upper_bound < 2)
        return 0;
    if (!fill_fn)
        return randombytes_uniform(upper_bound);
    uint32_t v;
    or_rand_bytes(&v, sizeof v);
    return v % upper_bound;
}

void or_uuid4(char out[37])
{
    unsigned char b[16];
    or_rand_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void or_rand_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        unsigned char c;
        or_rand_bytes(&c, 1);
        out[2 * i] = hex[c >> 4];
        out[2 * i + 1] = hex[c & 15];
    }
    out[2 * nbytes] = '\0';
}
