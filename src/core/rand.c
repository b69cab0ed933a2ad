#include "core/rand.h"

#include <sodium.h>
#include <string.h>

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

enum { POOL = 256 };
static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_off = POOL; /* pool[pool_off..) not served yet */

/* Small requests come from a per-thread buffer of CSPRNG output refilled POOL bytes at a time:
 * libsodium makes one getrandom system call per call, and every request takes an id. Served
 * bytes are wiped from the buffer. */
static void pooled(void *buf, size_t n)
{
    if (n > POOL / 4) {
        randombytes_buf(buf, n);
        return;
    }
    if (POOL - pool_off < n) {
        randombytes_buf(pool, POOL);
        pool_off = 0;
    }
    memcpy(buf, pool + pool_off, n);
    sodium_memzero(pool + pool_off, n);
    pool_off += n;
}

void or_rand_bytes(void *buf, size_t n)
{
    if (fill_fn)
        fill_fn(buf, n, fill_ud);
    else
        pooled(buf, n);
}

uint32_t or_rand_uniform(uint32_t upper_bound)
{
    if (upper_bound < 2)
        return 0;
    uint32_t v;
    if (fill_fn) {
        or_rand_bytes(&v, sizeof v);
        return v % upper_bound;
    }
    /* Rejection sampling, as randombytes_uniform does: values below 2^32 mod upper_bound would
     * make the low results more likely. */
    uint32_t min = (1U + ~upper_bound) % upper_bound;
    do
        pooled(&v, sizeof v);
    while (v < min);
    return v % upper_bound;
}

void or_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    or_rand_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *p = out;
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
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
