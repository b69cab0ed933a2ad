/*
 * query.h — reading a request's query string ("a=1&b=x%2Fy"): one parameter's value,
 * %-decoded, and the hex digit decoding the route matcher shares. Pure; any thread.
 */
#ifndef OR_HTTP_QUERY_H
#define OR_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* The value of the first `name=` parameter, %-decoded ('+' → space) into out (NUL-terminated).
 * False when absent, empty, longer than cap-1, or decoding to a control character. */
bool or_http_query_param(const char *query, const char *name, char *out, size_t cap);
/* 0–15 for a hex digit, -1 otherwise. */
int or_http_hexval(char ch);

#endif
