/* Fuzz target: any JSON through the Anthropic request, response and error converters, both
 * directions. The input is used as a Messages body and, unchanged, as an IR, so the builders
 * also see shapes no parser would produce. Nothing may crash, leak or return OK without
 * output. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(or_err e, const json_t *out)
{
    if ((e == OR_OK) != (out != NULL))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_anthropic;
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!in)
        return 0;
    or_errbuf eb = {{0}};
    json_t *ir = NULL, *out = NULL;
    or_err e = f->req_to_ir(in, &ir, &eb);
    check(e, ir);
    if (e == OR_OK) {
        e = f->req_from_ir(ir, &out, &eb);
        check(e, out);
        json_decref(out);
        out = NULL;
    }
    json_decref(ir);
    ir = NULL;
    e = f->req_from_ir(in, &out, &eb);
    check(e, out);
    json_decref(out);
    out = NULL;

    or_fmt_opts o = {.model = "m", .id = "req", .created = 1};
    e = f->resp_to_ir(in, &ir, &eb);
    check(e, ir);
    if (e == OR_OK) {
        e = f->resp_from_ir(ir, &o, &out, &eb);
        check(e, out);
        json_decref(out);
        out = NULL;
    }
    json_decref(ir);
    e = f->resp_from_ir(in, &o, &out, &eb);
    check(e, out);
    json_decref(out);

    json_t *err = f->error_to_ir((int)(size % 700), in);
    if (!err)
        abort();
    json_t *w = f->error_from_ir(err);
    json_t *w2 = f->error_from_ir(in);
    if (!w || !w2)
        abort();
    json_decref(w);
    json_decref(w2);
    json_decref(err);
    json_decref(in);
    return 0;
}
