/* Shared by test_core_basic (the library's string scanner: SSE2 on x86-64) and
 * test_core_json_portable (the word-at-a-time variant): every special byte at every offset of
 * strings long enough to cross several 8- and 16-byte boundaries, answers compared with
 * jansson's, and every cut-short document refused without reading past its end. */
#ifndef TEST_JSON_STRINGS_CHECK_H
#define TEST_JSON_STRINGS_CHECK_H

#include "check.h"
#include "core/json_scan.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static bool jansson_valid(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_decref(j);
    return j != NULL;
}

static void check_string_scanning(void)
{
    static const char *const specials[] = {"\"",   "\\",   "\\n",      "\\u0041", "\x01",
                                           "\x1f", "\x7f", "\xc3\xa9", "\xff",    "\xe2\x82",
                                           "\\x",  "\x20", "~"};
    char body[64], doc[128];
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
        for (size_t at = 0; at < 40; at++) {
            memset(body, 'a', sizeof body);
            memcpy(body + at, specials[k], strlen(specials[k]));
            int n = snprintf(doc, sizeof doc, "{\"k\":\"%.*s\"}", 48, body);
            CHECK(or_json_valid(doc, (size_t)n, 8) == jansson_valid(doc, (size_t)n));
            for (int cut = 0; cut < n; cut += 7)
                CHECK(!or_json_valid(doc, (size_t)cut, 8));
        }
    }
}

#endif
