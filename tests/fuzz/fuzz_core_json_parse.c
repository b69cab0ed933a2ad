/* Fuzz target: or_json_loadb must agree with json_loadb on every input, for each flag set the
 * gateway uses: both accept with json_equal trees, or both reject. The portable string scanner
 * is compiled in here too (renamed), so both variants meet the same inputs. */
#define OR_JSON_PARSE_PORTABLE 1
#define or_json_loadb or_json_loadb_portable
#include "../../src/core/json_parse.c"
#undef or_json_loadb

#include <stdint.h>
#include <stdlib.h>

json_t *or_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void compare(const char *s, size_t n, size_t flags)
{
    json_error_t je, oe, pe;
    json_t *theirs = json_loadb(s, n, flags, &je);
    json_t *ours = or_json_loadb(s, n, flags, &oe);
    json_t *port = or_json_loadb_portable(s, n, flags, &pe);
    if (!theirs != !ours || !theirs != !port)
        abort();
    if (theirs && (!json_equal(theirs, ours) || !json_equal(theirs, port)))
        abort();
    /* Error kinds are not compared: jansson lexes one token ahead, so on malformed text it may
     * report the next token's overflow where we report the bad separator before it. */
    (void)je;
    (void)oe;
    (void)pe;
    json_decref(theirs);
    json_decref(ours);
    json_decref(port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t flag_sets[] = {0, JSON_DECODE_ANY, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                                       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY};
    for (size_t k = 0; k < sizeof flag_sets / sizeof flag_sets[0]; k++)
        compare((const char *)data, size, flag_sets[k]);
    return 0;
}
