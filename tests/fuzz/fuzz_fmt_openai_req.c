/* Fuzz target: an OpenAI Chat Completions body through every non-stream converter: request →
 * IR → request (and the result parsed again), response → IR → response, error → IR → error. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_openai;
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    or_errbuf eb;
    json_t *ir = NULL, *out = NULL, *ir2 = NULL;
    if (f->req_to_ir(body, &ir, &eb) == OR_OK) {
        if (f->req_from_ir(ir, &out, &eb) != OR_OK)
            abort(); /* every IR the parser accepts must build */
        /* What we send must be something we would accept ourselves. */
        if (f->req_to_ir(out, &ir2, &eb) != OR_OK)
            abort();
    }
    json_decref(ir);
    json_decref(ir2);
    json_decref(out);

    ir = out = NULL;
    or_fmt_opts o = {.model = "m", .id = "chatcmpl-x", .created = 1};
    if (f->resp_to_ir(body, &ir, &eb) == OR_OK) {
        if (f->resp_from_ir(ir, &o, &out, &eb) != OR_OK)
            abort();
    }
    json_decref(ir);
    json_decref(out);

    ir = f->error_to_ir((int)(size % 600), body);
    if (!ir)
        abort();
    out = f->error_from_ir(ir);
    if (!out)
        abort();
    json_decref(ir);
    json_decref(out);
    json_decref(body);
    return 0;
}
