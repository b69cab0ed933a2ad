/* Fuzz target: the OpenAI stream decoder fed one event per input line (the first byte picks
 * options), then its IR events through the OpenAI encoder. Checks the IR stream always ends with
 * `done` and the encoded stream with [DONE]. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_openai;
    if (size == 0)
        return 0;
    bool include_usage = data[0] & 1, call_end = !(data[0] & 2);
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    or_fmt_dec *d = f->dec_new();
    json_t *evs = json_array();
    or_errbuf eb;
    or_err err = OR_OK;
    while (p < end && err == OR_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        err = f->dec_event(d, n > 5 && memcmp(p, "error", 5) == 0 ? "error" : NULL, p, n, evs, &eb);
        p += n + 1;
    }
    if (err == OR_OK && call_end) {
        err = f->dec_end(d, evs, &eb);
        size_t k = json_array_size(evs);
        const char *last = json_string_value(json_object_get(json_array_get(evs, k - 1), "type"));
        if (err == OR_OK && (!last || strcmp(last, "done") != 0))
            abort();
    }
    f->dec_free(d);

    or_fmt_opts o = {
        .stream = true, .include_usage = include_usage, .model = "m", .id = "c", .created = 1};
    or_fmt_enc *e = f->enc_new(&o);
    or_buf out;
    or_buf_init(&out, 64 << 20);
    size_t i;
    json_t *ev;
    bool done = false;
    json_array_foreach(evs, i, ev)
    {
        if (f->enc_event(e, ev, &out) != OR_OK)
            abort();
        const char *t = json_string_value(json_object_get(ev, "type"));
        done = done || (t && strcmp(t, "done") == 0);
    }
    if (done && (out.len < 14 || memcmp(out.data + out.len - 14, "data: [DONE]\n\n", 14) != 0))
        abort();
    f->enc_free(e);
    or_buf_free(&out);
    json_decref(evs);
    return 0;
}
