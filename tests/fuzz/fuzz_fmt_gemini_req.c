/* Fuzz target: any JSON body through the Gemini request, response and error translators.
 * Whatever req_to_ir accepts, req_from_ir must build (and the result must serialize); nothing
 * may crash, leak or read out of bounds. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (j && !s)
        abort();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_gemini;
    or_errbuf eb = {{0}};
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    json_t *ir = NULL, *out = NULL;
    if (!in)
        return 0;
    if (f->req_to_ir(in, &ir, &eb) == OR_OK) {
        if (!ir)
            abort();
        /* Both thinking shapes of the builder: Gemini 3 levels and 2.x budgets. */
        json_object_set_new(ir, "model", json_string(size & 1 ? "gemini-3-pro" : "gemini-2.5-pro"));
        if (f->req_from_ir(ir, &out, &eb) != OR_OK || !out)
            abort();
        check(out);
        json_decref(out);
        out = NULL;
        json_decref(ir);
        ir = NULL;
    }
    /* The same bytes as an IR request (other formats' parsers produce any shape). */
    if (f->req_from_ir(in, &out, &eb) == OR_OK)
        check(out);
    json_decref(out);
    out = NULL;
    or_fmt_opts o = {.model = "m", .id = "id"};
    if (f->resp_to_ir(in, &ir, &eb) == OR_OK) {
        if (f->resp_from_ir(ir, &o, &out, &eb) != OR_OK)
            abort();
        check(out);
        json_decref(out);
        out = NULL;
        json_decref(ir);
        ir = NULL;
    }
    if (f->resp_from_ir(in, &o, &out, &eb) == OR_OK)
        check(out);
    json_decref(out);
    json_t *err = f->error_to_ir((int)(size % 700) - 100, in);
    if (!err)
        abort();
    json_t *back = f->error_from_ir(err);
    if (!back)
        abort();
    json_decref(back);
    back = f->error_from_ir(in);
    json_decref(back);
    json_decref(err);
    json_decref(in);
    return 0;
}
