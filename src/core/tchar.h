/*
 * tchar.h — RFC 9110 token characters: what an HTTP method, a header name or a MIME parameter
 * name may hold (visible ASCII but the separators "(),/:;<=>?@[\]{} and DQUOTE).
 *
 * One table for the HTTP server's multipart parser and the upstream client's request checks.
 * Read-only data; any thread.
 */
#ifndef OR_CORE_TCHAR_H
#define OR_CORE_TCHAR_H

#include <stdbool.h>

extern const bool or_tchar_table[256];

static inline bool or_tchar(char c)
{
    return or_tchar_table[(unsigned char)c];
}

#endif
