/* Fuzz target: the Gemini stream codecs. Input lines are upstream chunks fed to the decoder
 * (whose IR events then drive both encoder modes) and, separately, IR events fed straight to
 * the encoder. The decoder must always end with done; nothing may crash or leak. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode(const json_t *events, bool sse)
{
    const or_fmt *f = &or_fmt_gemini;
    or_fmt_opts o = {.stream = true, .gemini_sse = sse, .model = "m", .id = "id"};
    or_fmt_enc *e = f->enc_new(&o);
    or_buf b;
    size_t i;
    const json_t *ev;
    if (!e)
        abort();
    or_buf_init(&b, 64u << 20);
    json_array_foreach(events, i, ev)
    {
        if (f->enc_event(e, ev, &b) == OR_ENOMEM)
            abort();
    }
    f->enc_free(e);
    or_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_gemini;
    or_errbuf eb = {{0}};
    or_fmt_dec *d = f->dec_new();
    json_t *out = json_array(), *direct = json_array();
    const char *p = (const char *)data, *end = p + size;
    or_err e = OR_OK;
    if (!d || !out || !direct)
        abort();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (e == OR_OK)
            e = f->dec_event(d, NULL, p, len, out, &eb);
        json_t *ev = json_loadb(p, len, 0, NULL);
        if (json_is_object(ev))
            json_array_append(direct, ev);
        json_decref(ev);
        p += len + 1;
    }
    if (e == OR_OK) {
        if (f->dec_end(d, out, &eb) != OR_OK)
            abort();
        const char *last = json_string_value(
            json_object_get(json_array_get(out, json_array_size(out) - 1), "type"));
        if (!last || strcmp(last, "done") != 0)
            abort();
    }
    f->dec_free(d);
    encode(out, true);
    encode(out, false);
    encode(direct, size & 1);
    json_decref(out);
    json_decref(direct);
    return 0;
}
