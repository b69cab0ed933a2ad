#include "auth/cookie.h"

#include <string.h>

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

bool or_cookie_get(const char *header, size_t hlen, const char *name, const char **val,
                   size_t *vlen)
{
    if (!header || !name)
        return false;
    size_t nlen = strlen(name);
    if (hlen > OR_COOKIE_MAX_HEADER)
        hlen = OR_COOKIE_MAX_HEADER;
    const char *p = header, *end = header + hlen;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi ? semi : end;
        while (p < pair_end && is_ws(*p))
            p++;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq) {
            const char *ne = eq;
            while (ne > p && is_ws(ne[-1]))
                ne--;
            if ((size_t)(ne - p) == nlen && memcmp(p, name, nlen) == 0) {
                const char *v = eq + 1, *ve = pair_end;
                while (v < ve && is_ws(*v))
                    v++;
                while (ve > v && is_ws(ve[-1]))
                    ve--;
                if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                    v++;
                    ve--;
                }
                *val = v;
                *vlen = (size_t)(ve - v);
                return true;
            }
        }
        p = semi ? semi + 1 : end;
    }
    return false;
}
