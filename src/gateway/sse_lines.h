/*
 * sse_lines.h — splits a byte stream into lines (SSE framing) across arbitrary chunk borders.
 *
 * Complete lines inside one chunk are handed out in place (no copy); only a line split across
 * chunks is assembled in `partial`, which is capped: a longer line is reported truncated
 * (`cut` set) rather than growing without bound. One reader per stream; not thread-safe.
 */
#ifndef OR_GATEWAY_SSE_LINES_H
#define OR_GATEWAY_SSE_LINES_H

#include "core/buf.h"

#include <stdbool.h>

typedef void (*or_sse_line_fn)(void *ud, const char *line, size_t len, bool cut);

typedef struct {
    or_buf partial;
    bool cut;
} or_sse_lines;

void or_sse_lines_init(or_sse_lines *s, size_t max_line);
void or_sse_lines_free(or_sse_lines *s);
/* Calls fn for each complete line (without "\n" or "\r\n"). */
void or_sse_lines_feed(or_sse_lines *s, const char *p, size_t n, or_sse_line_fn fn, void *ud);

#endif
