#include "gateway/usage.h"
#include "core/json_scan.h"

#include <stddef.h>
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

/* A value's text that is a JSON integer literal (-?(0|[1-9][0-9]*)) within int64, else 0 —
 * what json_is_integer would have said of it. */
static int64_t raw_int(const char *p, const char *end)
{
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

/* Where each count sits: a member of usage, or of an object member of usage (parent). */
typedef struct {
    const char *s;
    size_t len;
} name;
// clang-format off
#define NAME(lit) {lit, sizeof lit - 1}
// clang-format on

static const struct {
    name parent, key; /* parent.s NULL: a member of usage itself */
    size_t off;
} counts[] = {
    {{NULL, 0}, NAME("prompt_tokens"), offsetof(or_usage_row, tokens_in)},
    {{NULL, 0}, NAME("completion_tokens"), offsetof(or_usage_row, tokens_out)},
    {NAME("prompt_tokens_details"), NAME("cached_tokens"), offsetof(or_usage_row, tokens_cached)},
    {NAME("completion_tokens_details"), NAME("reasoning_tokens"),
     offsetof(or_usage_row, tokens_reasoning)},
};
#define NCOUNTS (sizeof counts / sizeof *counts)

static bool key_is(const or_json_member *m, name key)
{
    return key.len == m->key_len && memcmp(m->key, key.s, key.len) == 0;
}

static int64_t *count_field(or_usage_row *row, size_t k)
{
    return (int64_t *)(void *)((char *)row + counts[k].off);
}

bool or_usage_from_openai_json(const char *json, size_t len, or_usage_row *row)
{
    or_json_iter it;
    or_json_member m;
    if (!or_json_iter_init(&it, json, len))
        return false;
    for (size_t k = 0; k < NCOUNTS; k++)
        *count_field(row, k) = 0;
    /* One walk over usage; the first of a repeated key decides, as a lookup would. */
    unsigned seen = 0;
    while (or_json_iter_next(&it, &m)) {
        for (size_t k = 0; k < NCOUNTS; k++) {
            bool top = counts[k].parent.s == NULL;
            if ((seen & 1u << k) || !key_is(&m, top ? counts[k].key : counts[k].parent))
                continue;
            seen |= 1u << k;
            size_t a, b;
            if (top)
                *count_field(row, k) = raw_int(json + m.start, json + m.end);
            else if (json[m.start] == '{' &&
                     or_json_find_member(json + m.start, m.end - m.start, counts[k].key.s, &a, &b))
                *count_field(row, k) = raw_int(json + m.start + a, json + m.start + b);
        }
    }
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
