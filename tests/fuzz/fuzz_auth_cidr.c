/* Fuzz target: the CIDR parser and what is built on it. Each input is parsed as one address or
 * CIDR (and must then format to a canonical text that parses back to the same network, which
 * contains its own address), and as JSON for the settings validator, whose output must only hold
 * entries the parser accepts. Nothing may crash or leak. */
#include "auth/iprules.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const char *s, size_t len)
{
    or_cidr c, back;
    if (or_cidr_parse(s, len, &c, NULL) != OR_OK)
        return;
    if (c.bits > 128)
        abort();
    char text[OR_IPRULES_TEXT_MAX];
    or_cidr_format(&c, text, sizeof text);
    if (or_cidr_parse(text, strlen(text), &back, NULL) != OR_OK || back.bits != c.bits ||
        memcmp(back.addr, c.addr, 16) != 0 || !or_cidr_contains(&c, c.addr))
        abort();
    uint8_t ip[16];
    if (or_ip_parse(s, len, ip) && !or_cidr_contains(&c, ip))
        abort(); /* an address without a prefix is its own network */
}

static void validator(const char *s, size_t len)
{
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY, NULL);
    if (!v)
        return;
    or_errbuf eb = {{0}};
    json_t *out = or_iprules_setting_validate("ipBlocklist", v, &eb);
    if (out) {
        const char *key;
        json_t *list;
        json_object_foreach(out, key, list)
        {
            size_t i;
            json_t *e;
            json_array_foreach(list, i, e)
            {
                or_cidr c;
                if (or_cidr_parse(json_string_value(e), json_string_length(e), &c, NULL) != OR_OK)
                    abort();
            }
        }
        uint8_t ip[16];
        if (or_ip_parse("10.1.2.3", 8, ip)) {
            json_t *settings = json_pack("{s:O}", "ipBlocklist", out);
            (void)or_iprules_check(settings, OR_IP_CLIENT, "10.1.2.3", NULL);
            json_decref(settings);
        }
    } else if (!eb.msg[0]) {
        abort(); /* a refusal always says why */
    }
    json_decref(out);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roundtrip((const char *)data, size);
    validator((const char *)data, size);
    return 0;
}
