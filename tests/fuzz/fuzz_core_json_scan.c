/* Fuzz target: the raw top-level member finders (forward and from the end) and the member
 * iterator must never read out of bounds, and what they return must lie inside the input, in
 * order. */
#include "core/json_scan.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t a = 0, b = 0;
    if (or_json_find_member((const char *)data, size, "model", &a, &b)) {
        if (a > b || b > size)
            abort();
    }
    if (or_json_find_member_last((const char *)data, size, "model", &a, &b)) {
        if (a > b || b > size)
            abort();
    }
    or_json_iter it;
    or_json_member m;
    size_t prev_end = 0;
    or_json_iter_init(&it, (const char *)data, size);
    while (or_json_iter_next(&it, &m)) {
        const char *k = m.key;
        if (k < (const char *)data + prev_end || k + m.key_len > (const char *)data + size ||
            m.start > m.end || m.end > size || m.start < (size_t)(k - (const char *)data))
            abort();
        prev_end = m.end;
    }
    return 0;
}
