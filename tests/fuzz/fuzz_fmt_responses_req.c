/* Fuzz target: bytes → JSON → the Responses request parser and builder, then the builder's
 * output parsed again (a body we build must be one we accept); the same JSON also goes through
 * the response and error converters. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_responses;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    or_errbuf eb;
    json_t *ir = NULL, *body = NULL, *ir2 = NULL;
    if (f->req_to_ir(j, &ir, &eb) == OR_OK) {
        if (f->req_from_ir(ir, &body, &eb) != OR_OK ||
            !json_is_array(json_object_get(body, "input")))
            abort();
        if (f->req_to_ir(body, &ir2, &eb) != OR_OK)
            abort();
    }
    json_t *resp = NULL, *wire = NULL;
    or_fmt_opts o = {.id = "f", .model = "m", .created = 1};
    if (f->resp_to_ir(j, &resp, &eb) == OR_OK) {
        if (f->resp_from_ir(resp, &o, &wire, &eb) != OR_OK)
            abort();
    }
    json_t *err = f->error_to_ir(data[0] % 2 ? 429 : 200, j);
    json_t *werr = f->error_from_ir(err);
    if (!err || !werr)
        abort();
    json_decref(werr);
    json_decref(err);
    json_decref(wire);
    json_decref(resp);
    json_decref(ir2);
    json_decref(body);
    json_decref(ir);
    json_decref(j);
    return 0;
}
