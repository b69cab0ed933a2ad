/*
 * sse_events.h — assembles Server-Sent Events (event name + data lines) from a byte stream,
 * on top of or_sse_lines. Comment lines and unknown fields are ignored; multiple data lines
 * are joined with "\n" as the SSE spec says. The data of one event is capped (a longer event is
 * dropped and counted). One reader per stream; not thread-safe.
 */
#ifndef OR_GATEWAY_SSE_EVENTS_H
#define OR_GATEWAY_SSE_EVENTS_H

#include "gateway/sse_lines.h"

/* event is NULL when the event had no "event:" field. Return non-zero to stop feeding. */
typedef int (*or_sse_event_fn)(void *ud, const char *event, const char *data, size_t len);

typedef struct {
    or_sse_lines lines;
    or_buf event;
    or_buf data;
    bool have_data;
    bool oversize;
    unsigned dropped;
    or_sse_event_fn fn;
    void *ud;
    int stopped;
} or_sse_events;

void or_sse_events_init(or_sse_events *s, size_t max_event, or_sse_event_fn fn, void *ud);
void or_sse_events_free(or_sse_events *s);
/* Returns the callback's non-zero value if it stopped, else 0. */
int or_sse_events_feed(or_sse_events *s, const char *p, size_t n);
/* At EOF: dispatches a last event that lacked its blank line. */
int or_sse_events_finish(or_sse_events *s);

#endif
