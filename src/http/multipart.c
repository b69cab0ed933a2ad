#include "http/multipart.h"
#include "core/tchar.h"

#include <string.h>
#include <strings.h>

#define MEDIA_TYPE "multipart/form-data"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && is_ows(*p))
        p++;
    return p;
}

/* A parameter list ("; a=b; c=\"d\"") read one pair at a time from [*pp, end). */
typedef struct {
    char key[32];
    char val[256];
} param;

/* *got: a parameter was read (false: the list ended). OR_EINVAL when malformed or too long. */
static or_err next_param(const char **pp, const char *end, param *out, bool *got, or_errbuf *eb)
{
    const char *p = skip_ows(*pp, end);
    size_t k = 0, v = 0;
    *got = false;
    if (p == end)
        return OR_OK;
    if (*p != ';')
        return or_fail(eb, OR_EINVAL, "expected ';' between parameters");
    p = skip_ows(p + 1, end);
    if (p == end) /* a trailing ';' is common and harmless */
        return OR_OK;
    while (p < end && or_tchar(*p)) {
        if (k + 1 >= sizeof out->key)
            return or_fail(eb, OR_EINVAL, "parameter name too long");
        out->key[k++] = *p++;
    }
    out->key[k] = '\0';
    if (k == 0 || p == end || *p != '=')
        return or_fail(eb, OR_EINVAL, "malformed parameter");
    p++;
    if (p < end && *p == '"') {
        for (p++;; p++) {
            if (p == end)
                return or_fail(eb, OR_EINVAL, "unterminated quoted parameter %s", out->key);
            if (*p == '"')
                break;
            if (*p == '\\' && p + 1 < end)
                p++;
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return or_fail(eb, OR_EINVAL, "control character in parameter %s", out->key);
            if (v + 1 >= sizeof out->val)
                return or_fail(eb, OR_EINVAL, "parameter %s too long", out->key);
            out->val[v++] = *p;
        }
        p++;
    } else {
        while (p < end && or_tchar(*p)) {
            if (v + 1 >= sizeof out->val)
                return or_fail(eb, OR_EINVAL, "parameter %s too long", out->key);
            out->val[v++] = *p++;
        }
        if (v == 0)
            return or_fail(eb, OR_EINVAL, "parameter %s has no value", out->key);
    }
    out->val[v] = '\0';
    *pp = p;
    *got = true;
    return OR_OK;
}

/* The media type at the start of a header value: [start, return) without trailing OWS. */
static const char *media_type_end(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q != ';')
        q++;
    while (q > p && is_ows(q[-1]))
        q--;
    return q;
}

static bool type_is(const char *p, const char *end, const char *want)
{
    p = skip_ows(p, end);
    size_t n = strlen(want);
    return (size_t)(media_type_end(p, end) - p) == n && strncasecmp(p, want, n) == 0;
}

bool or_multipart_is(const char *content_type)
{
    return content_type && type_is(content_type, content_type + strlen(content_type), MEDIA_TYPE);
}

static bool starts(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* After a delimiter's boundary at *pos: "--" closes, otherwise transport padding then CRLF. */
static or_err after_delimiter(or_multipart *m, size_t pos, or_errbuf *eb)
{
    const char *p = m->body + pos, *end = m->body + m->len;
    if (starts(p, end, "--", 2)) {
        m->done = true; /* the epilogue, if any, is ignored */
        m->pos = m->len;
        return OR_OK;
    }
    p = skip_ows(p, end);
    if (!starts(p, end, "\r\n", 2))
        return or_fail(eb, OR_EINVAL, "multipart: delimiter not followed by CRLF");
    m->pos = (size_t)(p + 2 - m->body);
    return OR_OK;
}

or_err or_multipart_init(or_multipart *m, const char *content_type, const char *body, size_t len,
                         or_errbuf *eb)
{
    memset(m, 0, sizeof *m);
    m->body = body;
    m->len = len;
    m->done = m->failed = true; /* until the opening delimiter is found */
    if (!or_multipart_is(content_type))
        return or_fail(eb, OR_EINVAL, "Content-Type is not multipart/form-data");
    const char *end = content_type + strlen(content_type);
    const char *p = media_type_end(skip_ows(content_type, end), end);
    param prm;
    bool got, found = false;
    or_err e;
    while ((e = next_param(&p, end, &prm, &got, eb)) == OR_OK && got) {
        if (strcasecmp(prm.key, "boundary") != 0)
            continue;
        if (found)
            return or_fail(eb, OR_EINVAL, "multipart: two boundary parameters");
        size_t n = strlen(prm.val);
        if (n == 0 || n > OR_MULTIPART_MAX_BOUNDARY)
            return or_fail(eb, OR_EINVAL, "multipart: boundary must be 1 to 70 characters");
        memcpy(m->delim, "\r\n--", 4);
        memcpy(m->delim + 4, prm.val, n);
        m->delim_len = n + 4;
        found = true;
    }
    if (e != OR_OK)
        return e;
    if (!found)
        return or_fail(eb, OR_EINVAL, "multipart: Content-Type has no boundary");
    /* The first delimiter may open the body (no CRLF before it) or follow a preamble. */
    size_t at;
    if (len >= m->delim_len - 2 && memcmp(body, m->delim + 2, m->delim_len - 2) == 0) {
        at = m->delim_len - 2;
    } else {
        const char *d = len ? memmem(body, len, m->delim, m->delim_len) : NULL;
        if (!d)
            return or_fail(eb, OR_EINVAL, "multipart: no delimiter for the boundary");
        at = (size_t)(d - body) + m->delim_len;
    }
    m->done = m->failed = false;
    e = after_delimiter(m, at, eb);
    if (e != OR_OK)
        m->done = m->failed = true;
    return e;
}

/* Content-Disposition: form-data; name="…"; filename="…" */
static or_err disposition(const char *v, const char *end, or_multipart_part *part, or_errbuf *eb)
{
    v = skip_ows(v, end);
    if (!type_is(v, end, "form-data"))
        return or_fail(eb, OR_EINVAL, "multipart: part disposition is not form-data");
    const char *p = media_type_end(v, end);
    param prm;
    bool got, has_name = false;
    or_err e;
    while ((e = next_param(&p, end, &prm, &got, eb)) == OR_OK && got) {
        bool is_name = strcasecmp(prm.key, "name") == 0;
        bool is_file = strcasecmp(prm.key, "filename") == 0;
        if ((is_name && has_name) || (is_file && part->has_filename))
            return or_fail(eb, OR_EINVAL, "multipart: duplicate %s parameter", prm.key);
        if (is_name) {
            if (strlen(prm.val) >= sizeof part->name)
                return or_fail(eb, OR_EINVAL, "multipart: field name too long");
            memcpy(part->name, prm.val, strlen(prm.val) + 1);
            has_name = true;
        } else if (is_file) {
            memcpy(part->filename, prm.val, strlen(prm.val) + 1); /* same size as val */
            part->has_filename = true;
        }
    }
    if (e != OR_OK)
        return e;
    if (!has_name)
        return or_fail(eb, OR_EINVAL, "multipart: part has no name");
    return OR_OK;
}

static or_err content_type_of(const char *v, const char *end, or_multipart_part *part,
                              or_errbuf *eb)
{
    v = skip_ows(v, end);
    while (end > v && is_ows(end[-1]))
        end--;
    size_t n = (size_t)(end - v);
    if (n >= sizeof part->content_type)
        return or_fail(eb, OR_EINVAL, "multipart: part Content-Type too long");
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
            return or_fail(eb, OR_EINVAL, "multipart: control character in a part header");
    }
    memcpy(part->content_type, v, n);
    part->content_type[n] = '\0';
    return OR_OK;
}

static const struct {
    const char *name;
    or_err (*read)(const char *v, const char *end, or_multipart_part *part, or_errbuf *eb);
} part_headers[] = {
    {"content-disposition", disposition},
    {"content-type", content_type_of},
};

/* One header line [p, end) without its CRLF. Unknown headers are skipped. */
static or_err header_line(const char *p, const char *end, bool seen[], or_multipart_part *part,
                          or_errbuf *eb)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || colon == p)
        return or_fail(eb, OR_EINVAL, "multipart: malformed part header");
    for (const char *q = p; q < colon; q++) {
        if (!or_tchar(*q))
            return or_fail(eb, OR_EINVAL, "multipart: malformed part header name");
    }
    for (size_t i = 0; i < sizeof part_headers / sizeof *part_headers; i++) {
        size_t n = strlen(part_headers[i].name);
        if ((size_t)(colon - p) != n || strncasecmp(p, part_headers[i].name, n) != 0)
            continue;
        if (seen[i])
            return or_fail(eb, OR_EINVAL, "multipart: duplicate %s header", part_headers[i].name);
        seen[i] = true;
        return part_headers[i].read(colon + 1, end, part, eb);
    }
    return OR_OK;
}

static or_err part_headers_block(const char *p, const char *end, or_multipart_part *part,
                                 or_errbuf *eb)
{
    bool seen[sizeof part_headers / sizeof *part_headers] = {false};
    /* Folding is checked first, so a folded header is refused as such, not as what its first
     * line lacks. */
    for (const char *q = p; q < end; q++) {
        if ((q == p || (q[-1] == '\n' && q - 1 > p && q[-2] == '\r')) && is_ows(*q))
            return or_fail(eb, OR_EINVAL, "multipart: folded part header");
    }
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *line_end = eol ? eol : end;
        or_err e = header_line(p, line_end, seen, part, eb);
        if (e != OR_OK)
            return e;
        p = eol ? eol + 2 : end;
    }
    if (!seen[0])
        return or_fail(eb, OR_EINVAL, "multipart: part without Content-Disposition");
    return OR_OK;
}

or_err or_multipart_next(or_multipart *m, or_multipart_part *part, or_errbuf *eb)
{
    or_err e = OR_OK;
    memset(part, 0, sizeof *part);
    if (m->failed)
        return or_fail(eb, OR_EINVAL, "multipart: the body is malformed");
    if (m->done)
        return or_fail(eb, OR_ENOTFOUND, "multipart: no more parts");
    const char *p = m->body + m->pos, *end = m->body + m->len;
    const char *data;
    if (starts(p, end, "\r\n", 2)) { /* no headers: the blank line comes first */
        e = or_fail(eb, OR_EINVAL, "multipart: part without Content-Disposition");
        goto out;
    }
    size_t window = (size_t)(end - p);
    if (window > OR_MULTIPART_MAX_HEADER + 4)
        window = OR_MULTIPART_MAX_HEADER + 4;
    const char *blank = memmem(p, window, "\r\n\r\n", 4);
    if (!blank) {
        e = or_fail(eb, OR_EINVAL,
                    window > OR_MULTIPART_MAX_HEADER ? "multipart: part headers too large"
                                                     : "multipart: part headers not terminated");
        goto out;
    }
    if ((e = part_headers_block(p, blank, part, eb)) != OR_OK)
        goto out;
    data = blank + 4;
    const char *d = memmem(data, (size_t)(end - data), m->delim, m->delim_len);
    if (!d) {
        e = or_fail(eb, OR_EINVAL, "multipart: part %s has no closing delimiter", part->name);
        goto out;
    }
    part->data = data;
    part->len = (size_t)(d - data);
    e = after_delimiter(m, (size_t)(d - m->body) + m->delim_len, eb);
out:
    if (e != OR_OK) {
        m->done = m->failed = true;
        memset(part, 0, sizeof *part);
    }
    return e;
}

or_err or_multipart_find(const char *content_type, const char *body, size_t len, const char *name,
                         or_multipart_part *part, or_errbuf *eb)
{
    or_multipart m;
    or_err e = or_multipart_init(&m, content_type, body, len, eb);
    while (e == OR_OK) {
        e = or_multipart_next(&m, part, eb);
        if (e == OR_OK && strcmp(part->name, name) == 0)
            return OR_OK;
    }
    if (e == OR_ENOTFOUND)
        or_fail(eb, OR_ENOTFOUND, "multipart: no part named %s", name);
    memset(part, 0, sizeof *part);
    return e;
}
