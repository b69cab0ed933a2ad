#include "gateway/sse_lines.h"

#include <string.h>

void or_sse_lines_init(or_sse_lines *s, size_t max_line)
{
    or_buf_init(&s->partial, max_line);
    s->cut = false;
}

void or_sse_lines_free(or_sse_lines *s)
{
    or_buf_free(&s->partial);
}

static void emit(const char *line, size_t len, bool cut, or_sse_line_fn fn, void *ud)
{
    if (len && line[len - 1] == '\r')
        len--;
    fn(ud, line, len, cut);
}

void or_sse_lines_feed(or_sse_lines *s, const char *p, size_t n, or_sse_line_fn fn, void *ud)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (!nl) {
            if (or_buf_append(&s->partial, p, seg) != OR_OK)
                s->cut = true;
            return;
        }
        if (s->partial.len || s->cut) {
            if (or_buf_append(&s->partial, p, seg) != OR_OK)
                s->cut = true;
            emit(s->partial.data ? s->partial.data : "", s->partial.len, s->cut, fn, ud);
            or_buf_reset(&s->partial);
            s->cut = false;
        } else {
            emit(p, seg, false, fn, ud);
        }
        p += seg + 1;
        n -= seg + 1;
    }
}
