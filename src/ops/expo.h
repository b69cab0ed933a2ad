/*
 * expo.h — writing the Prometheus text exposition format (version 0.0.4) into an or_buf.
 *
 * A family is announced once (# HELP, # TYPE) and followed by its samples; label values are
 * escaped (backslash, double quote, newline) and must be UTF-8 (callers pass text that is).
 * Labels are given as a NULL-terminated list of name, value pairs. Pure functions on a caller's
 * buffer: any thread. Every call returns OR_ETOOBIG when the buffer's cap is hit.
 */
#ifndef OR_OPS_EXPO_H
#define OR_OPS_EXPO_H

#include "core/buf.h"
#include "core/err.h"

#include <stdint.h>

/* The Content-Type of a scrape reply. */
#define OR_EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* type: "counter" | "gauge" | "histogram". */
or_err or_expo_family(or_buf *b, const char *name, const char *type, const char *help);
/* name{labels} value. labels: {"provider", "openai", "model", "gpt-4o", NULL} or NULL. */
or_err or_expo_u64(or_buf *b, const char *name, const char *const *labels, uint64_t v);
or_err or_expo_f64(or_buf *b, const char *name, const char *const *labels, double v);
/* name{labels,extra_name="extra_value"} value: the extra label comes last (histogram `le`,
 * enum-style `state`). */
or_err or_expo_u64_x(or_buf *b, const char *name, const char *const *labels, const char *extra_name,
                     const char *extra_value, uint64_t v);
/* A label value, quoted and escaped. */
or_err or_expo_label_value(or_buf *b, const char *v);

#endif
