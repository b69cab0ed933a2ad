/* Fuzz target: the raw top-level member finders (forward and from the end) must never read out of
 * bounds, and what it returns must lie inside the input. */
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
    return 0;
}
