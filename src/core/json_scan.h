/*
 * json_scan.h — find a top-level member of a JSON object in raw bytes, without building a tree.
 *
 * The data plane rewrites only the `model` of a request body and passes every other byte
 * through untouched; this scanner finds where that value sits. It is a bounded, allocation-free
 * walk over the text (strings with escapes, nesting); it does not validate JSON — callers parse
 * the body with jansson first. Keys are compared byte for byte (an escaped key is not found,
 * and callers then fall back to re-serializing). Pure function, any thread.
 */
#ifndef OR_CORE_JSON_SCAN_H
#define OR_CORE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* On success sets [*val_start, *val_end) to the value's bytes (a string value includes its
 * quotes) and returns true. */
bool or_json_find_member(const char *json, size_t len, const char *key, size_t *val_start,
                         size_t *val_end);

/* The same search, trying the object's last few members first (walking back from the closing
 * brace) and falling back to the forward walk when the key is not among them or the tail does
 * not read back cleanly. For a member the provider puts near the end (OpenAI's "usage"), it
 * skips the long values before it. On a valid JSON object with the key once the answer is the
 * forward one; with the key twice it may be either. */
bool or_json_find_member_last(const char *json, size_t len, const char *key, size_t *val_start,
                              size_t *val_end);

/* True when json[0..len) is one syntactically valid JSON value (RFC 8259, whitespace around
 * allowed, nesting up to max_depth). No allocation; a fraction of a full parse's cost, for the
 * passthrough path that forwards the bytes instead of building a tree. */
bool or_json_valid(const char *json, size_t len, unsigned max_depth);

/* The string value of a top-level member, copied unescaped into out (NUL-terminated). False
 * when absent, not a string, longer than cap-1, or containing escapes (callers then parse). */
bool or_json_member_string(const char *json, size_t len, const char *key, char *out, size_t cap);

/* A top-level member that is true/false: 1 or 0; -1 when absent; -2 when not a boolean. */
int or_json_member_bool(const char *json, size_t len, const char *key);

#endif
