/*
 * usage.h — reading token usage out of provider replies into a usage row.
 * Pure functions; any thread.
 */
#ifndef OR_GATEWAY_USAGE_H
#define OR_GATEWAY_USAGE_H

#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

/* OpenAI chat `usage` object → row (prompt/completion/cached/reasoning tokens). Returns true
 * when usage was present. */
bool or_usage_from_openai(const json_t *usage, or_usage_row *row);
/* The same from the usage object's raw JSON text, without building a tree (the passthrough
 * reads nothing else of a reply). A member that is not an integer literal within int64 counts
 * as 0. False (row untouched) when the text is not an object. */
bool or_usage_from_openai_json(const char *json, size_t len, or_usage_row *row);
/* One SSE line of an OpenAI chat stream; picks usage out of a `data:` chunk that carries it. */
bool or_usage_from_openai_sse_line(const char *line, size_t len, or_usage_row *row);

#endif
