/* Fuzz target: the allocation-free JSON validator must agree with jansson on every input (both
 * accept or both reject), and never read out of bounds; its object form must accept exactly the
 * valid objects and note the same members the finder finds. */
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

    static const char *const keys[] = {"model", "stream"};
    or_json_span sp[2];
    bool obj = or_json_valid_object((const char *)data, size, 64, keys, 2, sp);
    size_t i = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (obj != (ours && i < size && data[i] == '{'))
        abort();
    for (size_t k = 0; obj && k < 2; k++) {
        size_t a = 0, b = 0;
        bool found = or_json_find_member((const char *)data, size, keys[k], &a, &b);
        if (found != (sp[k].end != 0) || (found && (a != sp[k].start || b != sp[k].end)))
            abort();
    }
    return 0;
}
