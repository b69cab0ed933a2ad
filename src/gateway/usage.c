#include "gateway/usage.h"

#include <string.h>

static int64_t int_at(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

bool or_usage_from_openai(const json_t *usage, or_usage_row *row)
{
    if (!json_is_object(usage))
        return false;
    row->tokens_in = int_at(usage, "prompt_tokens");
    row->tokens_out = int_at(usage, "completion_tokens");
    row->tokens_cached = int_at(json_object_get(usage, "prompt_tokens_details"), "cached_tokens");
    row->tokens_reasoning =
        int_at(json_object_get(usage, "completion_tokens_details"), "reasoning_tokens");
    return true;
}

bool or_usage_from_openai_sse_line(const char *line, size_t len, or_usage_row *row)
{
    /* Cheap filter first: only chunks that mention usage are parsed. */
    if (len < 6 || memcmp(line, "data:", 5) != 0 || !memmem(line, len, "\"usage\"", 7))
        return false;
    json_t *chunk = json_loadb(line + 5, len - 5, 0, NULL);
    bool got = chunk && or_usage_from_openai(json_object_get(chunk, "usage"), row);
    json_decref(chunk);
    return got;
}
