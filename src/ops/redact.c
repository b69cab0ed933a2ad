#include "ops/redact.h"

#include <string.h>
#include <strings.h>

static const char *const secret_headers[] = {
    "authorization", "proxy-authorization", "x-api-key",   "x-goog-api-key", "api-key",
    "cookie",        "set-cookie",          "x-auth-token"};

/* Member and parameter names compared without case; "apiKey" and "apikey" are one entry. */
static const char *const secret_names[] = {
    "apikey",   "api_key",       "api-key",       "key",          "x-api-key",
    "password", "secret",        "client_secret", "access_token", "refresh_token",
    "id_token", "authorization", "token"};

bool or_redact_header(const char *name)
{
    for (size_t i = 0; name && i < sizeof secret_headers / sizeof secret_headers[0]; i++)
        if (strcasecmp(name, secret_headers[i]) == 0)
            return true;
    return false;
}

bool or_redact_name(const char *name, size_t len)
{
    for (size_t i = 0; name && i < sizeof secret_names / sizeof secret_names[0]; i++)
        if (strlen(secret_names[i]) == len && strncasecmp(name, secret_names[i], len) == 0)
            return true;
    return false;
}

/* Appends what fits under cap; false (and *cut) when not all of it did. */
static bool put(or_buf *out, const char *p, size_t n, size_t cap, bool *cut)
{
    size_t room = out->len < cap ? cap - out->len : 0;
    size_t k = n < room ? n : room;
    if (k && or_buf_append(out, p, k) != OR_OK)
        k = 0;
    if (k < n)
        *cut = true;
    return k == n;
}

/* Index just past the string that opens at in[i] == '"' (len when it never closes). */
static size_t string_end(const char *in, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (in[i] == '\\')
            i++;
        else if (in[i] == '"')
            return i + 1;
    }
    return len;
}

static size_t skip_space(const char *in, size_t len, size_t i)
{
    while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r'))
        i++;
    return i;
}

bool or_redact_json(const char *in, size_t len, size_t cap, or_buf *out)
{
    bool cut = false;
    size_t i = 0;
    or_buf_reset(out);
    while (i < len && !cut) {
        if (in[i] != '"') {
            size_t run = i;
            while (run < len && in[run] != '"')
                run++;
            put(out, in + i, run - i, cap, &cut);
            i = run;
            continue;
        }
        size_t start = i, end = string_end(in, len, i);
        size_t colon = skip_space(in, len, end);
        bool closed = end - start >= 2 && in[end - 1] == '"';
        if (!put(out, in + start, end - start, cap, &cut))
            break;
        i = end;
        if (!closed || colon >= len || in[colon] != ':' ||
            !or_redact_name(in + start + 1, end - start - 2))
            continue;
        size_t value = skip_space(in, len, colon + 1);
        if (!put(out, in + end, value - end, cap, &cut))
            break;
        i = value;
        if (value < len && in[value] == '"') {
            put(out, "\"" OR_REDACTED "\"", sizeof OR_REDACTED + 1, cap, &cut);
            i = string_end(in, len, value);
        }
    }
    or_redact_utf8(out);
    return cut;
}

void or_redact_query(const char *q, size_t cap, or_buf *out)
{
    bool cut = false;
    or_buf_reset(out);
    for (const char *p = q ? q : ""; *p && !cut;) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        if (p != q)
            put(out, "&", 1, cap, &cut);
        if (eq && or_redact_name(p, (size_t)(eq - p))) {
            put(out, p, (size_t)(eq - p) + 1, cap, &cut);
            put(out, OR_REDACTED, sizeof OR_REDACTED - 1, cap, &cut);
        } else {
            put(out, p, plen, cap, &cut);
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    or_redact_utf8(out);
}

/* Length of the valid UTF-8 character at s[0..n): 1..4; 0 when invalid; -1 when cut short. */
static int utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0x01 && c < 0x80)
        return 1;
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n)
            return -1;
        unsigned char b = s[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
            return 0;
    }
    return need + 1;
}

void or_redact_utf8(or_buf *b)
{
    unsigned char *s = (unsigned char *)b->data;
    for (size_t i = 0; s && i < b->len;) {
        int n = utf8_char(s + i, b->len - i);
        if (n > 0) {
            i += (size_t)n;
        } else if (n < 0) {
            b->len = i; /* a character cut by a cap: drop its first bytes */
            b->data[i] = '\0';
        } else {
            s[i++] = '?';
        }
    }
}
