/*
 * buf.h — growable byte buffer with a hard cap.
 *
 * Every buffer fed from the network is an or_buf with a `max`: appends past it fail with
 * OR_ETOOBIG and leave the buffer unchanged. The owner of the struct owns `data`. The contents
 * are always NUL-terminated (the NUL is not counted in len), so text can be used as a C string.
 * Not thread-safe; a buffer belongs to one thread at a time.
 */
#ifndef OR_CORE_BUF_H
#define OR_CORE_BUF_H

#include "core/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard cap on len; 0 means SIZE_MAX */
} or_buf;

void or_buf_init(or_buf *b, size_t max);
void or_buf_free(or_buf *b);
/* or_buf_free for a buffer that held a secret: its whole capacity is zeroed first. */
void or_buf_wipe_free(or_buf *b);
void or_buf_reset(or_buf *b); /* len = 0, keeps memory */
or_err or_buf_reserve(or_buf *b, size_t extra);
or_err or_buf__append_grow(or_buf *b, const void *p, size_t n); /* or_buf_append's slow path */

/* Inline: appends run tens of times per proxied request, nearly always into room already
 * there; inlined, a literal's strlen is folded away too. */
static inline or_err or_buf_append(or_buf *b, const void *p, size_t n)
{
    if (n >= b->cap - b->len || n > b->max - b->len) /* no room (or none allocated yet) */
        return or_buf__append_grow(b, p, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return OR_OK;
}

static inline or_err or_buf_puts(or_buf *b, const char *s)
{
    return or_buf_append(b, s, strlen(s));
}
or_err or_buf_printf(or_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
or_err or_buf_vprintf(or_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n <= len). */
void or_buf_consume(or_buf *b, size_t n);
/* Hands data to the caller (who frees it) and re-inits b with the same max. */
char *or_buf_take(or_buf *b, size_t *len);

#endif
