/*
 * json_scan.h — find a top-level member of a JSON object in raw bytes, without building a tree.
 *
 * The data plane rewrites only the `model` of a request body and passes every other byte
 * through untouched; this scanner finds where that value sits. It is a bounded, allocation-free
 * walk over the text (strings with escapes, nesting). The finders do not validate: callers
 * validate first (or_json_valid / or_json_valid_object, which can also note where the members
 * they want sit, in the same pass). Keys are compared byte for byte (an escaped key is not
 * found, and callers then fall back to a parse). Pure functions, any thread.
 */
#ifndef OR_CORE_JSON_SCAN_H
#define OR_CORE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* A member's value bytes [start, end) in the text (a string includes its quotes); end == 0
 * when the member is absent. */
typedef struct {
    size_t start, end;
} or_json_span;

/* One member met by the iterator: the key's raw bytes (between the quotes, escapes as written)
 * and its value's span. */
typedef struct {
    const char *key;
    size_t key_len;
    size_t start, end;
} or_json_member;

/* Walks the members of one object in order, each value skipped once: reading several members
 * costs one pass instead of one per member. */
typedef struct {
    const char *json;
    size_t len, i;
    bool started, done;
} or_json_iter;

/* False when json (after whitespace) does not open an object; the iterator then yields nothing. */
bool or_json_iter_init(or_json_iter *it, const char *json, size_t len);
/* The next member, or false at the object's end or at the first malformed byte. */
bool or_json_iter_next(or_json_iter *it, or_json_member *m);

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

/* or_json_valid for a value that must be an object, which also notes in spans[k] where the
 * top-level member keys[k] has its value (the first one, when a key repeats): a request's
 * `model` and `stream` come out of the validating pass instead of a walk each. */
bool or_json_valid_object(const char *json, size_t len, unsigned max_depth, const char *const *keys,
                          size_t nkeys, or_json_span *spans);

/* A span's string value copied unescaped into out (NUL-terminated). False when absent, not a
 * string, longer than cap-1, or containing escapes (callers then parse). */
bool or_json_span_string(const char *json, or_json_span sp, char *out, size_t cap);
/* A span that is true/false: 1 or 0; -1 when absent; -2 when not a boolean. */
int or_json_span_bool(const char *json, or_json_span sp);

/* or_json_span_bool of a top-level member found by or_json_find_member. */
int or_json_member_bool(const char *json, size_t len, const char *key);

#endif
