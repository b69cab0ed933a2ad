#include "gateway/usage.h"
#include "core/json_scan.h"

#include <stdint.h>
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

/* A member of the object text that is a JSON integer literal (-?(0|[1-9][0-9]*)) within int64,
 * else 0 — what json_is_integer would have said of it. */
static int64_t raw_int_at(const char *json, size_t len, const char *key)
{
    size_t a, b;
    if (!json || !or_json_find_member(json, len, key, &a, &b))
        return 0;
    const char *p = json + a, *end = json + b;
    bool neg = p < end && *p == '-';
    p += neg;
    if (p == end || (*p == '0' && end - p > 1))
        return 0;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (lim - (uint64_t)(*p - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return neg ? (int64_t)(0 - v) : (int64_t)v;
}

/* The object member key's raw text, or NULL. */
static const char *raw_obj_at(const char *json, size_t len, const char *key, size_t *n)
{
    size_t a, b;
    if (!or_json_find_member(json, len, key, &a, &b) || json[a] != '{')
        return NULL;
    *n = b - a;
    return json + a;
}

bool or_usage_from_openai_json(const char *json, size_t len, or_usage_row *row)
{
    size_t i = 0, pn = 0, cn = 0;
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
        i++;
    if (i == len || json[i] != '{')
        return false;
    const char *pd = raw_obj_at(json, len, "prompt_tokens_details", &pn);
    const char *cd = raw_obj_at(json, len, "completion_tokens_details", &cn);
    row->tokens_in = raw_int_at(json, len, "prompt_tokens");
    row->tokens_out = raw_int_at(json, len, "completion_tokens");
    row->tokens_cached = raw_int_at(pd, pn, "cached_tokens");
    row->tokens_reasoning = raw_int_at(cd, cn, "reasoning_tokens");
    return true;
}

bool or_usage_from_openai_sse_line(const char *line, size_t len, or_usage_row *row)
{
    /* Cheap filter first: only chunks that mention usage are parsed. */
    if (len < 6 || memcmp(line, "data:", 5) != 0 || !memmem(line, len, "\"usage\"", 7))
        return false;
    /* The usage member read in place: a jansson parse of the whole chunk cost ~50k
     * instructions, once per stream. */
    size_t a, b;
    return or_json_find_member(line + 5, len - 5, "usage", &a, &b) &&
           or_usage_from_openai_json(line + 5 + a, b - a, row);
}
