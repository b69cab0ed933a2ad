#include "gateway/sse_events.h"

#include <string.h>

void or_sse_events_init(or_sse_events *s, size_t max_event, or_sse_event_fn fn, void *ud)
{
    memset(s, 0, sizeof *s);
    or_sse_lines_init(&s->lines, max_event);
    or_buf_init(&s->event, 256);
    or_buf_init(&s->data, max_event);
    s->fn = fn;
    s->ud = ud;
}

void or_sse_events_free(or_sse_events *s)
{
    or_sse_lines_free(&s->lines);
    or_buf_free(&s->event);
    or_buf_free(&s->data);
}

static void dispatch(or_sse_events *s)
{
    if (s->have_data && !s->oversize && !s->stopped)
        s->stopped = s->fn(s->ud, s->event.len ? s->event.data : NULL,
                           s->data.data ? s->data.data : "", s->data.len);
    if (s->oversize)
        s->dropped++;
    or_buf_reset(&s->event);
    or_buf_reset(&s->data);
    s->have_data = false;
    s->oversize = false;
}

static void on_line(void *ud, const char *line, size_t len, bool cut)
{
    or_sse_events *s = ud;
    if (cut) {
        s->oversize = true;
        return;
    }
    if (len == 0) {
        dispatch(s);
        return;
    }
    if (line[0] == ':')
        return; /* comment */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *val = colon ? colon + 1 : line + len;
    size_t vlen = colon ? len - flen - 1 : 0;
    if (vlen && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if ((s->have_data && or_buf_append(&s->data, "\n", 1) != OR_OK) ||
            or_buf_append(&s->data, val, vlen) != OR_OK)
            s->oversize = true;
        s->have_data = true;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        or_buf_reset(&s->event);
        if (or_buf_append(&s->event, val, vlen) != OR_OK)
            s->oversize = true;
    }
}

int or_sse_events_feed(or_sse_events *s, const char *p, size_t n)
{
    if (!s->stopped)
        or_sse_lines_feed(&s->lines, p, n, on_line, s);
    return s->stopped;
}

int or_sse_events_finish(or_sse_events *s)
{
    if (s->lines.partial.len)
        or_sse_lines_feed(&s->lines, "\n", 1, on_line, s);
    dispatch(s);
    return s->stopped;
}
