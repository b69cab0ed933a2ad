#include "core/json_parse.h"
#include "core/json_plain.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Anything else (JSON_DISABLE_EOF_CHECK, JSON_DECODE_INT_AS_REAL) is rare enough to leave to
 * jansson rather than reproduce its lexer's look-ahead rules. */
#define HANDLED_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)
#define INLINE_DEPTH 64
#define INLINE_SCRATCH 512
#define NUMBER_INLINE 64

typedef enum {
    E_OK,
    E_ARGS,
    E_MEMORY,
    E_DEPTH,
    E_EOF,
    E_TRAILING,
    E_TOP,
    E_VALUE,
    E_CONTROL,
    E_ESCAPE,
    E_SURROGATE,
    E_UTF8,
    E_NUL,
    E_KEY_NUL,
    E_DUPLICATE,
    E_KEY,
    E_COLON,
    E_ARRAY_SEP,
    E_OBJECT_SEP,
    E_INT_BIG,
    E_INT_BIG_NEG,
    E_REAL_BIG,
    E_NUMBER,
} perr;

static const struct {
    enum json_error_code code;
    const char *text;
} errs[] = {
    [E_OK] = {json_error_unknown, ""},
    [E_ARGS] = {json_error_invalid_argument, "wrong arguments"},
    [E_MEMORY] = {json_error_out_of_memory, "out of memory"},
    [E_DEPTH] = {json_error_stack_overflow, "maximum parsing depth reached"},
    [E_EOF] = {json_error_premature_end_of_input, "premature end of input"},
    [E_TRAILING] = {json_error_end_of_input_expected, "end of file expected"},
    [E_TOP] = {json_error_invalid_syntax, "'[' or '{' expected"},
    [E_VALUE] = {json_error_invalid_syntax, "unexpected token"},
    [E_CONTROL] = {json_error_invalid_syntax, "control character in string"},
    [E_ESCAPE] = {json_error_invalid_syntax, "invalid escape"},
    [E_SURROGATE] = {json_error_invalid_syntax, "invalid Unicode escape (unpaired surrogate)"},
    [E_UTF8] = {json_error_invalid_utf8, "unable to decode byte (invalid UTF-8)"},
    [E_NUL] = {json_error_null_character, "\\u0000 is not allowed without JSON_ALLOW_NUL"},
    [E_KEY_NUL] = {json_error_null_byte_in_key, "NUL byte in object key not supported"},
    [E_DUPLICATE] = {json_error_duplicate_key, "duplicate object key"},
    [E_KEY] = {json_error_invalid_syntax, "string or '}' expected"},
    [E_COLON] = {json_error_invalid_syntax, "':' expected"},
    [E_ARRAY_SEP] = {json_error_invalid_syntax, "',' or ']' expected"},
    [E_OBJECT_SEP] = {json_error_invalid_syntax, "',' or '}' expected"},
    [E_INT_BIG] = {json_error_numeric_overflow, "too big integer"},
    [E_INT_BIG_NEG] = {json_error_numeric_overflow, "too big negative integer"},
    [E_REAL_BIG] = {json_error_numeric_overflow, "real number overflow"},
    [E_NUMBER] = {json_error_invalid_syntax, "invalid number"},
};

typedef struct {
    const unsigned char *s;
    size_t i, len, flags;
    perr e;
    /* The open containers, innermost last; borrowed: each is already attached to its parent
     * (or is the root), so freeing the root on error frees everything. */
    json_t **stack;
    size_t depth, stack_cap;
    /* Escaped strings are decoded here: a pending key at the start (key_used bytes), a value
     * after it. Either inline or one allocation of the input's length, which bounds any key
     * and value together (decoding never lengthens), so it never moves under a pending key. */
    char *scratch;
    size_t key_used;
    json_t *stack_inline[INLINE_DEPTH];
    char scratch_inline[INLINE_SCRATCH];
} pstate;

static bool fail(pstate *p, perr e)
{
    p->e = e;
    return false;
}

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline void ws(pstate *p)
{
    while (p->i < p->len && is_ws(p->s[p->i]))
        p->i++;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A byte that can sit in a string as it is: printable ASCII other than '"' and '\\'. */
static bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The length of the well-formed UTF-8 sequence at s[i] (s[i] >= 0x80), or 0: shortest form
 * only, no surrogates, nothing past U+10FFFF (jansson's rules). */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t len)
{
    static const struct {
        unsigned char lo, hi, mask;
        size_t n;
        unsigned min;
    } leads[] = {
        {0xc2, 0xdf, 0x1f, 2, 0x80},
        {0xe0, 0xef, 0x0f, 3, 0x800},
        {0xf0, 0xf4, 0x07, 4, 0x10000},
    };
    unsigned char c0 = s[i];
    for (size_t r = 0; r < sizeof leads / sizeof leads[0]; r++) {
        if (c0 < leads[r].lo || c0 > leads[r].hi)
            continue;
        size_t n = leads[r].n;
        if (len - i < n)
            return 0;
        unsigned cp = c0 & leads[r].mask;
        for (size_t k = 1; k < n; k++) {
            unsigned char ck = s[i + k];
            if ((ck & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (ck & 0x3fu);
        }
        if (cp < leads[r].min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        return n;
    }
    return 0;
}

/* Four hex digits at s[i], or -1 (also when fewer than four bytes are left). */
static long hex4(const unsigned char *s, size_t i, size_t len)
{
    if (i > len || len - i < 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        unsigned char c = s[i + k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* What each single-character escape stands for; 0: not an escape. */
static const char unescape[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

static bool is_high(long cp)
{
    return cp >= 0xd800 && cp <= 0xdbff;
}

static bool is_low(long cp)
{
    return cp >= 0xdc00 && cp <= 0xdfff;
}

/* Checks the escape at s[*i] == '\\' and steps past it: a \u high surrogate must be followed
 * by a \u low one, and a low one never stands alone. */
static bool check_escape(pstate *p, size_t *i)
{
    const unsigned char *s = p->s;
    size_t len = p->len;
    if (len - *i < 2)
        return fail(p, E_EOF);
    if (s[*i + 1] != 'u') {
        if (!unescape[s[*i + 1]])
            return fail(p, E_ESCAPE);
        *i += 2;
        return true;
    }
    long cp = hex4(s, *i + 2, len);
    if (cp < 0)
        return fail(p, E_ESCAPE);
    *i += 6;
    if (is_low(cp))
        return fail(p, E_SURROGATE);
    if (!is_high(cp))
        return true;
    if (len - *i < 2 || s[*i] != '\\' || s[*i + 1] != 'u')
        return fail(p, E_SURROGATE);
    long lo = hex4(s, *i + 2, len);
    if (lo < 0)
        return fail(p, E_ESCAPE);
    if (!is_low(lo))
        return fail(p, E_SURROGATE);
    *i += 6;
    return true;
}

/* Validates the string whose opening quote is at s[p->i]; its raw content is s[*start, *end)
 * and *esc says whether it holds an escape. p->i ends past the closing quote. */
static bool scan_string(pstate *p, size_t *start, size_t *end, bool *esc)
{
    const unsigned char *s = p->s;
    size_t i = p->i + 1, len = p->len;
    *start = i;
    *esc = false;
    for (;;) {
        i += or_json_plain_run(s, i, len);
        while (i < len && plain_byte(s[i]))
            i++;
        if (i >= len)
            return fail(p, E_EOF);
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            *esc = true;
            if (!check_escape(p, &i))
                return false;
        } else if (c >= 0x80) {
            size_t n = utf8_seq(s, i, len);
            if (!n)
                return fail(p, E_UTF8);
            i += n;
        } else {
            return fail(p, E_CONTROL);
        }
    }
    *end = i;
    p->i = i + 1;
    return true;
}

static size_t utf8_put(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the already validated raw content s[i, end) into out; returns the decoded length
 * (never more than end - i) and sets *nul when it holds a \u0000. */
static size_t decode(const unsigned char *s, size_t i, size_t end, char *out, bool *nul)
{
    size_t o = 0;
    *nul = false;
    while (i < end) {
        const unsigned char *bs = memchr(s + i, '\\', end - i);
        size_t run = bs ? (size_t)(bs - s) - i : end - i;
        memcpy(out + o, s + i, run);
        o += run;
        i += run;
        if (i >= end)
            break;
        if (s[i + 1] != 'u') {
            out[o++] = unescape[s[i + 1]];
            i += 2;
            continue;
        }
        long cp = hex4(s, i + 2, end);
        i += 6;
        if (is_high(cp)) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(s, i + 2, end) - 0xdc00);
            i += 6;
        }
        *nul |= cp == 0;
        o += utf8_put(out + o, (unsigned long)cp);
    }
    return o;
}

/* A string's bytes: in place in the input when it has no escape, else decoded into the
 * scratch area at offset at. */
static bool string_bytes(pstate *p, size_t at, const char **out, size_t *n, bool *nul)
{
    size_t start, end;
    bool esc;
    if (!scan_string(p, &start, &end, &esc))
        return false;
    *nul = false;
    if (!esc) {
        *out = (const char *)p->s + start;
        *n = end - start;
        return true;
    }
    if (!p->scratch) {
        p->scratch = p->len <= INLINE_SCRATCH ? p->scratch_inline : malloc(p->len);
        if (!p->scratch)
            return fail(p, E_MEMORY);
    }
    *n = decode(p->s, start, end, p->scratch + at, nul);
    *out = p->scratch + at;
    return true;
}

static json_t *string_value(pstate *p)
{
    const char *v;
    size_t n;
    bool nul;
    if (!string_bytes(p, p->key_used, &v, &n, &nul))
        return NULL;
    if (nul && !(p->flags & JSON_ALLOW_NUL)) {
        fail(p, E_NUL);
        return NULL;
    }
    json_t *j = json_stringn_nocheck(v, n);
    if (!j)
        fail(p, E_MEMORY);
    return j;
}

/* A member's key and the colon after it; the key stays valid until the value is attached. */
static bool member_key(pstate *p, json_t *obj, const char **key, size_t *klen)
{
    bool nul;
    if (p->i >= p->len || p->s[p->i] != '"')
        return fail(p, p->i >= p->len ? E_EOF : E_KEY);
    if (!string_bytes(p, 0, key, klen, &nul))
        return false;
    if (nul)
        return fail(p, E_KEY_NUL);
    if (p->scratch && *key == p->scratch)
        p->key_used = *klen; /* decoded into scratch: a string value goes after it */
    if ((p->flags & JSON_REJECT_DUPLICATES) && json_object_getn(obj, *key, *klen))
        return fail(p, E_DUPLICATE);
    ws(p);
    if (p->i >= p->len || p->s[p->i] != ':')
        return fail(p, p->i >= p->len ? E_EOF : E_COLON);
    p->i++;
    ws(p);
    return true;
}

/* jansson's lexer reads one byte past a number or literal and puts it back; when that byte is a
 * NUL, its stream buffer takes the put-back NUL for "empty" and the byte is lost. A drop-in has
 * to accept the same texts, so that one NUL is skipped here too. */
static void skip_lost_nul(pstate *p)
{
    if (p->i < p->len && p->s[p->i] == '\0')
        p->i++;
}

/* A number: an integer when it has neither fraction nor exponent (then it must fit
 * json_int_t), a real otherwise (strtod, as jansson does; the process keeps the C locale). */
static json_t *number(pstate *p)
{
    const unsigned char *s = p->s;
    size_t i = p->i, len = p->len, start = i;
    bool neg = s[i] == '-';
    json_t *j = NULL;
    char inline_text[NUMBER_INLINE], *text = inline_text;
    if (neg)
        i++;
    size_t digits = i;
    if (i < len && s[i] == '0') {
        i++;
    } else {
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i == digits) {
        fail(p, i >= len ? E_EOF : E_NUMBER);
        goto out;
    }
    if (i < len && is_digit(s[i])) { /* a leading zero */
        fail(p, E_NUMBER);
        goto out;
    }
    if (i >= len || (s[i] != '.' && s[i] != 'e' && s[i] != 'E')) {
        /* At most 19 digits fit in 64 bits without wrapping; more never fit json_int_t. */
        size_t nd = i - digits;
        uint64_t u = 0;
        for (size_t k = digits; k < i && nd <= 19; k++)
            u = u * 10 + (uint64_t)(s[k] - '0');
        uint64_t limit = neg ? (uint64_t)LLONG_MAX + 1 : (uint64_t)LLONG_MAX;
        if (nd > 19 || u > limit) {
            fail(p, neg ? E_INT_BIG_NEG : E_INT_BIG);
            goto out;
        }
        p->i = i;
        skip_lost_nul(p);
        json_int_t v =
            neg ? (u == (uint64_t)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)u) : (json_int_t)u;
        j = json_integer(v);
        if (!j)
            fail(p, E_MEMORY);
        goto out;
    }
    if (s[i] == '.') {
        size_t f = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == f) {
            fail(p, i >= len ? E_EOF : E_NUMBER);
            goto out;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == e) {
            fail(p, i >= len ? E_EOF : E_NUMBER);
            goto out;
        }
    }
    size_t n = i - start;
    if (n >= NUMBER_INLINE && !(text = malloc(n + 1))) {
        fail(p, E_MEMORY);
        goto out;
    }
    memcpy(text, s + start, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) {
        fail(p, E_REAL_BIG);
        goto out;
    }
    p->i = i;
    skip_lost_nul(p);
    j = json_real(d);
    if (!j)
        fail(p, E_MEMORY);
out:
    if (text != inline_text)
        free(text);
    return j;
}

static json_t *literal(pstate *p)
{
    static const struct {
        const char *text;
        size_t n;
        json_t *(*make)(void);
    } lits[] = {{"true", 4, json_true}, {"false", 5, json_false}, {"null", 4, json_null}};
    for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
        if (p->len - p->i >= lits[k].n && memcmp(p->s + p->i, lits[k].text, lits[k].n) == 0) {
            p->i += lits[k].n;
            skip_lost_nul(p);
            return lits[k].make();
        }
    }
    fail(p, E_VALUE);
    return NULL;
}

/* The value at s[p->i] (whitespace skipped): a scalar, or a new empty container. */
static json_t *value(pstate *p)
{
    switch (p->s[p->i]) {
    case '{':
        return json_object();
    case '[':
        return json_array();
    case '"':
        return string_value(p);
    case 't':
    case 'f':
    case 'n':
        return literal(p);
    default:
        if (p->s[p->i] == '-' || is_digit(p->s[p->i]))
            return number(p);
        fail(p, E_VALUE);
        return NULL;
    }
}

/* Hands v (a new reference) to the innermost open container, or makes it the root. */
static bool attach(pstate *p, json_t **root, json_t *v, const char *key, size_t klen)
{
    if (p->depth == 0) {
        *root = v;
        return true;
    }
    json_t *top = p->stack[p->depth - 1];
    int rc = json_is_object(top) ? json_object_setn_new_nocheck(top, key, klen, v)
                                 : json_array_append_new(top, v);
    p->key_used = 0;
    return rc == 0 || fail(p, E_MEMORY);
}

static bool push(pstate *p, json_t *c)
{
    if (p->depth == p->stack_cap) {
        size_t cap = p->stack_cap * 4;
        json_t **st = malloc(cap * sizeof *st);
        if (!st)
            return fail(p, E_MEMORY);
        memcpy(st, p->stack, p->depth * sizeof *st);
        if (p->stack != p->stack_inline)
            free(p->stack);
        p->stack = st;
        p->stack_cap = cap;
    }
    p->stack[p->depth++] = c;
    return true;
}

/* After a value: closes the containers that end here; true when the next thing is another
 * element (its key already read for an object), false at the end of the root or on error
 * (p->e tells which). */
static bool next_element(pstate *p, const char **key, size_t *klen)
{
    for (;;) {
        ws(p);
        if (p->depth == 0)
            return false;
        if (p->i >= p->len)
            return fail(p, E_EOF);
        json_t *top = p->stack[p->depth - 1];
        bool obj = json_is_object(top);
        unsigned char c = p->s[p->i++];
        if (c == ',') {
            ws(p);
            return obj ? member_key(p, top, key, klen) : true;
        }
        if (c != (obj ? '}' : ']'))
            return fail(p, obj ? E_OBJECT_SEP : E_ARRAY_SEP);
        p->depth--;
    }
}

static json_t *parse(pstate *p)
{
    json_t *root = NULL;
    const char *key = NULL;
    size_t klen = 0;
    ws(p);
    if (!(p->flags & JSON_DECODE_ANY) &&
        (p->i >= p->len || (p->s[p->i] != '{' && p->s[p->i] != '['))) {
        fail(p, E_TOP);
        goto out;
    }
    for (;;) {
        if (p->i >= p->len) {
            fail(p, E_EOF);
            goto out;
        }
        /* jansson counts every value's depth, the root's being 1. */
        if (p->depth >= JSON_PARSER_MAX_DEPTH) {
            fail(p, E_DEPTH);
            goto out;
        }
        unsigned char first = p->s[p->i];
        json_t *v = value(p);
        if (!v) {
            if (p->e == E_OK)
                fail(p, E_MEMORY);
            goto out;
        }
        if (!attach(p, &root, v, key, klen))
            goto out;
        if (first == '{' || first == '[') {
            p->i++;
            if (!push(p, v))
                goto out;
            ws(p);
            if (p->i < p->len && p->s[p->i] == (first == '{' ? '}' : ']')) {
                p->i++;
                p->depth--;
            } else {
                if (first == '{' && !member_key(p, v, &key, &klen))
                    goto out;
                continue;
            }
        }
        if (!next_element(p, &key, &klen)) {
            if (p->e != E_OK)
                goto out;
            break;
        }
    }
    if (p->i != p->len)
        fail(p, E_TRAILING);
out:
    if (p->e != E_OK) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

static void report(const pstate *p, json_error_t *err)
{
    size_t line = 1, col = 0, at = p->i < p->len ? p->i : p->len;
    for (size_t k = 0; k < at; k++) {
        if (p->s && p->s[k] == '\n') {
            line++;
            col = 0;
        } else {
            col++;
        }
    }
    err->line = line > INT_MAX ? INT_MAX : (int)line;
    err->column = col > INT_MAX ? INT_MAX : (int)col;
    err->position = at > INT_MAX ? INT_MAX : (int)at;
    snprintf(err->text, JSON_ERROR_TEXT_LENGTH - 1, "%s", errs[p->e].text);
    err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)errs[p->e].code;
}

json_t *or_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    if (flags & ~(size_t)HANDLED_FLAGS)
        return json_loadb(buf, len, flags, err);
    pstate p = {.s = (const unsigned char *)buf, .len = len, .flags = flags};
    p.stack = p.stack_inline;
    p.stack_cap = INLINE_DEPTH;
    if (err) {
        err->line = err->column = -1;
        err->position = 0;
        err->text[0] = '\0';
        snprintf(err->source, sizeof err->source, "%s", "<buffer>");
    }
    json_t *root = NULL;
    if (!buf)
        fail(&p, E_ARGS);
    else
        root = parse(&p);
    if (p.stack != p.stack_inline)
        free(p.stack);
    if (p.scratch && p.scratch != p.scratch_inline)
        free(p.scratch);
    if (!root && err)
        report(&p, err);
    return root;
}
