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

#endif
