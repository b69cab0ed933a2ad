/*
 * redact.h — keeping secrets out of stored request logs: header values that carry credentials,
 * JSON members named like a credential, and credential query parameters are replaced by
 * "[REDACTED]". Outputs are capped excerpts and always valid UTF-8 (invalid bytes become '?'),
 * so they can be stored as text and put into JSON as is.
 *
 * Pure functions: any thread.
 */
#ifndef OR_OPS_REDACT_H
#define OR_OPS_REDACT_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define OR_REDACTED "[REDACTED]"

/* True for a header whose value must never be stored (Authorization, x-api-key,
 * x-goog-api-key, Cookie, …); case-insensitive. */
bool or_redact_header(const char *name);

/* True for a JSON member or query parameter name that holds a credential ("apiKey", "api_key",
 * "key", "password", "access_token", …); case-insensitive, exact. */
bool or_redact_name(const char *name, size_t len);

/* Copies up to cap bytes of JSON text (possibly invalid or cut) into out, with the string value
 * of every member whose name or_redact_name accepts replaced by "[REDACTED]". Returns true when
 * the output was cut at cap. A value the cut falls into is redacted whole. out is reset first. */
bool or_redact_json(const char *in, size_t len, size_t cap, or_buf *out);

/* A query string ("alt=sse&key=AIza…") with credential parameters' values redacted, up to cap
 * bytes. out is reset first. */
void or_redact_query(const char *q, size_t cap, or_buf *out);

/* Replaces invalid UTF-8 (and NUL) in buf with '?' and drops a character cut at the end. */
void or_redact_utf8(or_buf *b);

#endif
