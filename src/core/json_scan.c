#include "core/json_scan.h"

#include <stdint.h>
#include <string.h>

#define UNTERMINATED SIZE_MAX

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] == '"'; returns the index just past the closing quote, or UNTERMINATED. */
static size_t skip_string(const char *s, size_t i, size_t len)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return UNTERMINATED;
}

/* Returns the index just past the value starting at s[i], or UNTERMINATED. */
static size_t skip_value(const char *s, size_t i, size_t len)
{
    if (i >= len)
        return UNTERMINATED;
    if (s[i] == '"')
        return skip_string(s, i, len);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        for (; i < len; i++) {
            char ch = s[i];
            if (ch == '"') {
                i = skip_string(s, i, len);
                if (i == UNTERMINATED)
                    return UNTERMINATED;
                i--;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return UNTERMINATED;
    }
    /* number, true, false, null */
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        i++;
    return i;
}

bool or_json_find_member(const char *json, size_t len, const char *key, size_t *val_start,
                         size_t *val_end)
{
    size_t klen = strlen(key);
    size_t i = skip_ws(json, 0, len);
    if (i >= len || json[i] != '{')
        return false;
    i++;
    for (;;) {
        i = skip_ws(json, i, len);
        if (i >= len || json[i] != '"')
            return false;
        size_t kstart = i + 1;
        size_t kend = skip_string(json, i, len);
        if (kend == UNTERMINATED || kend >= len)
            return false;
        bool match = kend - 1 - kstart == klen && memcmp(json + kstart, key, klen) == 0;
        i = skip_ws(json, kend, len);
        if (i >= len || json[i] != ':')
            return false;
        i = skip_ws(json, i + 1, len);
        size_t vend = skip_value(json, i, len);
        if (vend == UNTERMINATED || vend == i)
            return false;
        if (match) {
            *val_start = i;
            *val_end = vend;
            return true;
        }
        i = skip_ws(json, vend, len);
        if (i >= len || json[i] != ',')
            return false;
        i++;
    }
}
