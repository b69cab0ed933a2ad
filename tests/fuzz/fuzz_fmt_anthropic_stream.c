/* Fuzz target: bytes as an Anthropic SSE transcript ("event:"/"data:" lines, blank-line
 * separated) → decoder → IR events → encoder → decoder again. A data line holding a JSON
 * array is also fed, element by element, straight to an encoder, so the encoder sees IR
 * events in any order and shape. Nothing may crash or leak; the encoder's own output must
 * decode without error. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const or_fmt *f = &or_fmt_anthropic;

/* Feeds an SSE text to a decoder; returns the first error. */
static or_err decode(const char *s, size_t n, json_t *out, or_fmt_enc *raw)
{
    or_fmt_dec *d = f->dec_new();
    or_errbuf eb = {{0}};
    or_err r = OR_OK;
    char ev[64] = "";
    const char *dat = NULL;
    size_t dl = 0;
    or_buf junk;
    or_buf_init(&junk, 1 << 20);
    while (n && r == OR_OK) {
        const char *nl = memchr(s, '\n', n);
        size_t ll = nl ? (size_t)(nl - s) : n;
        if (ll == 0) {
            if (dat)
                r = f->dec_event(d, ev[0] ? ev : NULL, dat, dl, out, &eb);
            if (raw && dat) {
                json_t *arr = json_loadb(dat, dl, 0, NULL);
                size_t i;
                json_t *x;
                json_array_foreach(arr, i, x)(void) f->enc_event(raw, x, &junk);
                json_decref(arr);
            }
            ev[0] = 0;
            dat = NULL;
        } else if (ll > 7 && memcmp(s, "event: ", 7) == 0 && ll - 7 < sizeof ev) {
            memcpy(ev, s + 7, ll - 7);
            ev[ll - 7] = 0;
        } else if (ll >= 6 && memcmp(s, "data: ", 6) == 0) {
            dat = s + 6;
            dl = ll - 6;
        }
        s += nl ? ll + 1 : ll;
        n -= nl ? ll + 1 : ll;
    }
    if (r == OR_OK && dat)
        r = f->dec_event(d, ev[0] ? ev : NULL, dat, dl, out, &eb);
    if (r == OR_OK)
        r = f->dec_end(d, out, &eb);
    f->dec_free(d);
    or_buf_free(&junk);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    or_fmt_opts o = {.stream = true, .model = "m", .id = "req1", .created = 1};
    json_t *ir = json_array();
    or_fmt_enc *raw = f->enc_new(&o);
    decode((const char *)data, size, ir, raw);
    f->enc_free(raw);

    or_fmt_enc *e = f->enc_new(&o);
    or_buf wire;
    or_buf_init(&wire, 64u << 20);
    size_t i;
    json_t *ev;
    or_err r = OR_OK;
    json_array_foreach(ir, i, ev) if (r == OR_OK) r = f->enc_event(e, ev, &wire);
    f->enc_free(e);
    if (r == OR_OK && wire.len) {
        json_t *again = json_array();
        if (decode(wire.data, wire.len, again, NULL) != OR_OK)
            abort(); /* what we emit must parse as Anthropic SSE */
        json_decref(again);
    }
    or_buf_free(&wire);
    json_decref(ir);
    return 0;
}
