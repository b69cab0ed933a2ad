/* Fuzz target: the upstream URL splitter. Whatever it accepts must be self-consistent: a host
 * without NUL that fits, a port in range, a target that starts with '/' and lies inside the
 * input, credentials only when allowed. */
#include "upstream/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (int creds = 0; creds < 2; creds++) {
        or_url u;
        if (or_url_parse(s, creds, &u, NULL) != OR_OK)
            continue;
        size_t len = strlen(s);
        if (!u.host[0] || strlen(u.host) >= sizeof u.host || u.port == 0 || u.port > 65535)
            abort();
        if (u.target_len == 0 || u.target[0] != '/')
            abort();
        if (strcmp(u.target, "/") != 0 && (u.target < s || u.target + u.target_len > s + len))
            abort();
        if (u.has_user && !creds)
            abort();
        if (u.ipv6 && !u.ip)
            abort();
        or_url_wipe(&u);
    }
    free(s);
    return 0;
}
