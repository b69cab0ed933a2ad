/* Fuzz target: the allocation-free JSON validator must agree with jansson on every input (both
 * accept or both reject), and never read out of bounds. */
#include "core/json_scan.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool ours = or_json_valid((const char *)data, size, 64);
    json_error_t err;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    bool theirs = j != NULL;
    json_decref(j);
    /* We cap depth at 64 (jansson: 2048), so we may reject more; but we must not accept what
     * jansson rejects, except numbers too large for its integer/double types, which are valid
     * JSON that jansson cannot represent. */
    if (ours && !theirs && !strstr(err.text, "overflow") && !strstr(err.text, "too big"))
        abort();
    return 0;
}
