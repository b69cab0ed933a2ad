#include "core/buf.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void or_buf_init(or_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SIZE_MAX - 1;
}

void or_buf_free(or_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void or_buf_wipe_free(or_buf *b)
{
    if (b->data)
        sodium_memzero(b->data, b->cap);
    or_buf_free(b);
}

void or_buf_reset(or_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

or_err or_buf_reserve(or_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return OR_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return OR_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return OR_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return OR_OK;
}

or_err or_buf__append_grow(or_buf *b, const void *p, size_t n)
{
    or_err e = or_buf_reserve(b, n);
    if (e != OR_OK)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return OR_OK;
}

or_err or_buf_vprintf(or_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return OR_EINVAL;
    or_err e = or_buf_reserve(b, (size_t)n);
    if (e != OR_OK)
        return e;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return OR_OK;
}

or_err or_buf_printf(or_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    or_err e = or_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return e;
}

void or_buf_consume(or_buf *b, size_t n)
{
    if (n >= b->len) {
        or_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *or_buf_take(or_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    size_t max = b->max;
    or_buf_init(b, max);
    return p;
}
