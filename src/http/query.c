#include "http/query.h"

#include <string.h>

int or_http_hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

bool or_http_query_param(const char *query, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *q = query; q && *q;) {
        const char *end = q + strcspn(q, "&");
        if ((size_t)(end - q) > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
            size_t n = 0;
            for (const char *v = q + nlen + 1; v < end; v++) {
                char ch = *v;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && end - v > 2 && or_http_hexval(v[1]) >= 0 &&
                           or_http_hexval(v[2]) >= 0) {
                    ch = (char)(or_http_hexval(v[1]) * 16 + or_http_hexval(v[2]));
                    v += 2;
                }
                if ((unsigned char)ch < 0x20 || ch == 0x7f || n + 1 >= cap)
                    return false;
                out[n++] = ch;
            }
            out[n] = '\0';
            return n > 0;
        }
        q = *end ? end + 1 : end;
    }
    return false;
}
