#include "core/json_scan.h"
#include "core/json_plain.h"

#include <stdint.h>
#include <string.h>

#define UNTERMINATED SIZE_MAX

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] == '"'; returns the index just past the closing quote, or UNTERMINATED. memchr finds
 * the next quote and any backslash before it; the quote found is kept until the scan passes
 * it, so a string full of escapes is still read once. */
static size_t skip_string(const char *s, size_t i, size_t len)
{
    const char *q = NULL;
    for (i++; i < len;) {
        if (!q || (size_t)(q - s) < i) {
            q = memchr(s + i, '"', len - i);
            if (!q)
                return UNTERMINATED;
        }
        const char *bs = memchr(s + i, '\\', (size_t)(q - s) - i);
        if (!bs)
            return (size_t)(q - s) + 1;
        i = (size_t)(bs - s) + 2; /* past the escaped byte, whatever it is */
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

bool or_json_iter_init(or_json_iter *it, const char *json, size_t len)
{
    size_t i = json ? skip_ws(json, 0, len) : len;
    *it = (or_json_iter){.json = json, .len = len, .i = i + 1};
    return i < len && json[i] == '{';
}

bool or_json_iter_next(or_json_iter *it, or_json_member *m)
{
    const char *s = it->json;
    size_t len = it->len, i = it->i;
    if (it->done || i > len)
        goto stop;
    i = skip_ws(s, i, len);
    if (i < len && s[i] == '}' && !it->started)
        goto stop; /* {} */
    if (it->started) {
        if (i >= len || s[i] != ',')
            goto stop;
        i = skip_ws(s, i + 1, len);
    }
    if (i >= len || s[i] != '"')
        goto stop;
    size_t kend = skip_string(s, i, len);
    if (kend == UNTERMINATED || kend >= len)
        goto stop;
    m->key = s + i + 1;
    m->key_len = kend - i - 2;
    i = skip_ws(s, kend, len);
    if (i >= len || s[i] != ':')
        goto stop;
    i = skip_ws(s, i + 1, len);
    size_t vend = skip_value(s, i, len);
    if (vend == UNTERMINATED || vend == i)
        goto stop;
    m->start = i;
    m->end = vend;
    it->i = vend;
    it->started = true;
    return true;
stop:
    it->done = true;
    return false;
}

bool or_json_find_member(const char *json, size_t len, const char *key, size_t *val_start,
                         size_t *val_end)
{
    size_t klen = strlen(key);
    or_json_iter it;
    or_json_member m;
    if (!or_json_iter_init(&it, json, len))
        return false;
    while (or_json_iter_next(&it, &m)) {
        if (m.key_len == klen && memcmp(m.key, key, klen) == 0) {
            *val_start = m.start;
            *val_end = m.end;
            return true;
        }
    }
    return false;
}

/* ---- the same from the end ---- */

/* Backward walking is exact on valid JSON: inside a string every quote is escaped, so it has an
 * odd run of backslashes before it, while a string's opening quote follows a structural
 * character or whitespace (an even run: none). Anything unexpected answers UNTERMINATED and the
 * caller walks forward instead. Indices below are exclusive ends unless named start. */

static size_t rskip_ws(const char *s, size_t end)
{
    while (end > 0 &&
           (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\n' || s[end - 1] == '\r'))
        end--;
    return end;
}

/* s[end-1] == '"' closes a string; returns the index of its opening quote. */
static size_t rskip_string(const char *s, size_t end)
{
    size_t j = end - 1;
    while (j > 0) {
        const char *q = NULL;
        for (size_t k = j; k > 0; k--)
            if (s[k - 1] == '"') {
                q = s + k - 1;
                break;
            }
        if (!q)
            return UNTERMINATED;
        size_t at = (size_t)(q - s), bs = 0;
        while (bs < at && s[at - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return at;
        j = at - bs; /* past the escaped quote and its backslashes */
    }
    return UNTERMINATED;
}

static bool scalar_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '-' || ch == '+' || ch == '.';
}

/* The start of the value that ends at end, or UNTERMINATED. */
static size_t rskip_value(const char *s, size_t end)
{
    if (end == 0)
        return UNTERMINATED;
    char last = s[end - 1];
    if (last == '"')
        return rskip_string(s, end);
    if (last == '}' || last == ']') {
        size_t depth = 0;
        for (size_t k = end; k > 0; k--) {
            char ch = s[k - 1];
            if (ch == '"') {
                size_t open = rskip_string(s, k);
                if (open == UNTERMINATED)
                    return UNTERMINATED;
                k = open + 1;
            } else if (ch == '}' || ch == ']') {
                depth++;
            } else if ((ch == '{' || ch == '[') && --depth == 0) {
                return k - 1;
            }
        }
        return UNTERMINATED;
    }
    size_t k = end;
    while (k > 0 && scalar_char(s[k - 1]))
        k--;
    return k < end ? k : UNTERMINATED;
}

#define TAIL_MEMBERS 8 /* members tried from the end before walking forward */

bool or_json_find_member_last(const char *json, size_t len, const char *key, size_t *val_start,
                              size_t *val_end)
{
    size_t klen = strlen(key);
    size_t end = rskip_ws(json, len), first = skip_ws(json, 0, len);
    if (end == 0 || json[end - 1] != '}' || first >= len || json[first] != '{')
        goto forward;
    end--; /* now the end of the last member */
    for (unsigned m = 0; m < TAIL_MEMBERS; m++) {
        size_t vend = rskip_ws(json, end);
        size_t vstart = rskip_value(json, vend);
        if (vstart == UNTERMINATED)
            goto forward;
        size_t colon = rskip_ws(json, vstart);
        if (colon == 0 || json[colon - 1] != ':')
            goto forward;
        size_t kend = rskip_ws(json, colon - 1);
        if (kend < 2 || json[kend - 1] != '"')
            goto forward;
        size_t kopen = rskip_string(json, kend);
        if (kopen == UNTERMINATED)
            goto forward;
        size_t before = rskip_ws(json, kopen);
        if (before == 0 || (json[before - 1] != ',' && json[before - 1] != '{'))
            goto forward;
        /* The value read back must also read forward to the same end: then the member is what
         * the forward walk would see at this place. */
        if (kend - kopen - 2 == klen && memcmp(json + kopen + 1, key, klen) == 0 &&
            skip_value(json, vstart, len) == vend) {
            *val_start = vstart;
            *val_end = vend;
            return true;
        }
        if (json[before - 1] == '{')
            break; /* the first member: the key is not there (the forward walk confirms) */
        end = before - 1;
    }
forward:
    return or_json_find_member(json, len, key, val_start, val_end);
}

/* ---- validation ---- */

typedef struct {
    const unsigned char *s;
    size_t i, len;
    unsigned depth, max_depth;
    const char *const *keys; /* top-level members to locate while validating */
    size_t nkeys;
    or_json_span *spans;
} vstate;

/* Records where the top-level member whose key is s[kstart, kend) has its value, if that key is
 * wanted and not seen yet (the first of duplicates wins, as in or_json_find_member). */
static void v_note_member(vstate *v, size_t kstart, size_t kend, size_t vstart)
{
    for (size_t k = 0; k < v->nkeys; k++) {
        if (v->spans[k].end == 0 && strlen(v->keys[k]) == kend - kstart &&
            memcmp(v->s + kstart, v->keys[k], kend - kstart) == 0) {
            v->spans[k] = (or_json_span){vstart, v->i};
            return;
        }
    }
}

static bool v_value(vstate *v);

static void v_ws(vstate *v)
{
    while (v->i < v->len &&
           (v->s[v->i] == ' ' || v->s[v->i] == '\t' || v->s[v->i] == '\n' || v->s[v->i] == '\r'))
        v->i++;
}

/* Four hex digits at v->i into *cp. */
static bool v_hex4(vstate *v, unsigned *cp)
{
    *cp = 0;
    for (int k = 0; k < 4; k++, v->i++) {
        if (v->i >= v->len)
            return false;
        unsigned char ch = v->s[v->i];
        unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                              : 16u;
        if (d > 15)
            return false;
        *cp = *cp << 4 | d;
    }
    return true;
}

/* After "\u": one code point; a high surrogate must be followed by "\u" + a low one. */
static bool v_escape_u(vstate *v)
{
    unsigned cp, lo;
    if (!v_hex4(v, &cp))
        return false;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return false;
    if (cp < 0xd800 || cp > 0xdbff)
        return true;
    if (v->len - v->i < 2 || v->s[v->i] != '\\' || v->s[v->i + 1] != 'u')
        return false;
    v->i += 2;
    return v_hex4(v, &lo) && lo >= 0xdc00 && lo <= 0xdfff;
}

/* A UTF-8 sequence starting at v->s[v->i] (>= 0x80): well-formed, shortest form, no
 * surrogates. */
static bool v_utf8(vstate *v)
{
    unsigned char c0 = v->s[v->i];
    size_t n;
    unsigned cp;
    if (c0 >= 0xc2 && c0 <= 0xdf) {
        n = 1;
        cp = c0 & 0x1f;
    } else if (c0 >= 0xe0 && c0 <= 0xef) {
        n = 2;
        cp = c0 & 0x0f;
    } else if (c0 >= 0xf0 && c0 <= 0xf4) {
        n = 3;
        cp = c0 & 0x07;
    } else {
        return false;
    }
    if (v->i + n >= v->len)
        return false;
    for (size_t k = 1; k <= n; k++) {
        unsigned char ck = v->s[v->i + k];
        if ((ck & 0xc0) != 0x80)
            return false;
        cp = (cp << 6) | (ck & 0x3f);
    }
    static const unsigned min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    v->i += n + 1;
    return true;
}

static bool v_string(vstate *v)
{
    v->i++; /* opening quote */
    while (v->i < v->len) {
        v->i += or_json_plain_run(v->s, v->i, v->len);
        if (v->i >= v->len)
            break;
        unsigned char ch = v->s[v->i];
        if (ch == '"') {
            v->i++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            if (++v->i >= v->len)
                return false;
            ch = v->s[v->i];
            if (ch == 'u') {
                v->i++;
                if (!v_escape_u(v))
                    return false;
                continue;
            }
            if (!strchr("\"\\/bfnrt", ch) || ch == '\0')
                return false;
            v->i++;
        } else if (ch >= 0x80) {
            if (!v_utf8(v))
                return false;
        } else {
            v->i++;
        }
    }
    return false;
}

static bool v_digits(vstate *v)
{
    size_t start = v->i;
    while (v->i < v->len && v->s[v->i] >= '0' && v->s[v->i] <= '9')
        v->i++;
    return v->i > start;
}

static bool v_number(vstate *v)
{
    if (v->s[v->i] == '-')
        v->i++;
    if (v->i < v->len && v->s[v->i] == '0')
        v->i++;
    else if (!v_digits(v))
        return false;
    if (v->i < v->len && v->s[v->i] == '.') {
        v->i++;
        if (!v_digits(v))
            return false;
    }
    if (v->i < v->len && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
        v->i++;
        if (v->i < v->len && (v->s[v->i] == '+' || v->s[v->i] == '-'))
            v->i++;
        if (!v_digits(v))
            return false;
    }
    return true;
}

static bool v_literal(vstate *v, const char *lit)
{
    size_t n = strlen(lit);
    if (v->len - v->i < n || memcmp(v->s + v->i, lit, n) != 0)
        return false;
    v->i += n;
    return true;
}

static bool v_container(vstate *v, char close)
{
    if (++v->depth > v->max_depth)
        return false;
    v->i++;
    v_ws(v);
    if (v->i < v->len && v->s[v->i] == (unsigned char)close) {
        v->i++;
        v->depth--;
        return true;
    }
    bool top = v->depth == 1 && close == '}' && v->nkeys > 0;
    for (;;) {
        size_t kstart = 0, kend = 0;
        if (close == '}') {
            v_ws(v);
            kstart = v->i + 1;
            if (v->i >= v->len || v->s[v->i] != '"' || !v_string(v))
                return false;
            kend = v->i - 1;
            v_ws(v);
            if (v->i >= v->len || v->s[v->i] != ':')
                return false;
            v->i++;
        }
        v_ws(v);
        size_t vstart = v->i;
        if (!v_value(v))
            return false;
        if (top)
            v_note_member(v, kstart, kend, vstart);
        v_ws(v);
        if (v->i >= v->len)
            return false;
        if (v->s[v->i] == ',') {
            v->i++;
            continue;
        }
        if (v->s[v->i] != (unsigned char)close)
            return false;
        v->i++;
        v->depth--;
        return true;
    }
}

static bool v_value(vstate *v)
{
    v_ws(v);
    if (v->i >= v->len)
        return false;
    switch (v->s[v->i]) {
    case '{':
        return v_container(v, '}');
    case '[':
        return v_container(v, ']');
    case '"':
        return v_string(v);
    case 't':
        return v_literal(v, "true");
    case 'f':
        return v_literal(v, "false");
    case 'n':
        return v_literal(v, "null");
    default:
        return (v->s[v->i] == '-' || (v->s[v->i] >= '0' && v->s[v->i] <= '9')) && v_number(v);
    }
}

static bool validate(vstate *v)
{
    if (!v->s || !v_value(v))
        return false;
    v_ws(v);
    return v->i == v->len;
}

bool or_json_valid(const char *json, size_t len, unsigned max_depth)
{
    vstate v = {.s = (const unsigned char *)json, .len = len, .max_depth = max_depth};
    return validate(&v);
}

bool or_json_valid_object(const char *json, size_t len, unsigned max_depth, const char *const *keys,
                          size_t nkeys, or_json_span *spans)
{
    for (size_t k = 0; k < nkeys; k++)
        spans[k] = (or_json_span){0, 0};
    vstate v = {.s = (const unsigned char *)json,
                .len = len,
                .max_depth = max_depth,
                .keys = keys,
                .nkeys = nkeys,
                .spans = spans};
    size_t i = json ? skip_ws(json, 0, len) : 0;
    return i < len && json[i] == '{' && validate(&v);
}

bool or_json_span_string(const char *json, or_json_span sp, char *out, size_t cap)
{
    if (sp.end - sp.start < 2 || json[sp.start] != '"')
        return false;
    size_t n = sp.end - sp.start - 2;
    if (n >= cap || memchr(json + sp.start + 1, '\\', n))
        return false;
    memcpy(out, json + sp.start + 1, n);
    out[n] = '\0';
    return true;
}

int or_json_span_bool(const char *json, or_json_span sp)
{
    size_t n = sp.end - sp.start;
    if (sp.end == 0)
        return -1;
    if (n == 4 && memcmp(json + sp.start, "true", 4) == 0)
        return 1;
    if (n == 5 && memcmp(json + sp.start, "false", 5) == 0)
        return 0;
    return -2;
}

static or_json_span member_span(const char *json, size_t len, const char *key)
{
    size_t a, b;
    if (!or_json_find_member(json, len, key, &a, &b))
        return (or_json_span){0, 0};
    return (or_json_span){a, b};
}

int or_json_member_bool(const char *json, size_t len, const char *key)
{
    return or_json_span_bool(json, member_span(json, len, key));
}
