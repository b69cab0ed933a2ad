/* The JSON string scanner's portable (word-at-a-time) variant, compiled in here on purpose: on
 * x86-64 the library builds the SSE2 one, and this one would otherwise never run. */
#define OR_JSON_PORTABLE 1
#include "../../src/core/json_scan.c"

#include "json_strings_check.h"

int main(void)
{
    check_string_scanning();
    return check_done();
}
