/* Fuzz target: the Responses stream codec. First byte bit 0 clear: each following line is an
 * upstream event's data for the decoder, whose IR events then go through the encoder; set: each
 * line is an IR event fed straight to the encoder. Checks that a decoded stream always ends with
 * `done`, and that an encoded stream that saw `done` ends with a terminal response event. */
#include "fmt/fmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ends_terminal(const or_buf *out)
{
    static const char *const terminal[] = {"response.completed", "response.incomplete",
                                           "response.failed"};
    const char *last = out->data && strncmp(out->data, "event: ", 7) == 0 ? out->data + 7 : NULL;
    /* event lines start a line; JSON data never holds a raw newline */
    for (const char *p = out->data; p && (p = strstr(p, "\nevent: ")); p += 8)
        last = p + 8;
    for (size_t i = 0; last && i < sizeof terminal / sizeof terminal[0]; i++)
        if (strncmp(last, terminal[i], strlen(terminal[i])) == 0 &&
            last[strlen(terminal[i])] == '\n')
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const or_fmt *f = &or_fmt_responses;
    if (size == 0)
        return 0;
    bool raw_ir = data[0] & 1;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    or_fmt_dec *d = f->dec_new();
    json_t *evs = json_array();
    or_errbuf eb;
    or_err err = OR_OK;
    while (p < end && err == OR_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (raw_ir) {
            json_t *ev = json_loadb(p, n, 0, NULL);
            if (ev)
                json_array_append_new(evs, ev);
        } else {
            err = f->dec_event(d, NULL, p, n, evs, &eb);
        }
        p += n + 1;
    }
    if (!raw_ir && err == OR_OK) {
        err = f->dec_end(d, evs, &eb);
        size_t k = json_array_size(evs);
        const char *last = json_string_value(json_object_get(json_array_get(evs, k - 1), "type"));
        if (err == OR_OK && (!last || strcmp(last, "done") != 0))
            abort();
    }
    f->dec_free(d);

    or_fmt_opts o = {.stream = true, .model = "m", .id = "c", .created = 1};
    or_fmt_enc *e = f->enc_new(&o);
    or_buf out;
    or_buf_init(&out, 64 << 20);
    size_t i;
    json_t *ev;
    bool done = false, failed = false;
    json_array_foreach(evs, i, ev)
    {
        if (f->enc_event(e, ev, &out) != OR_OK) {
            if (!raw_ir) /* what our decoder emits is always encodable */
                abort();
            failed = true;
            break;
        }
        const char *t = json_string_value(json_object_get(ev, "type"));
        done = done || (t && (strcmp(t, "done") == 0 || strcmp(t, "error") == 0));
    }
    if (done && !failed && !ends_terminal(&out))
        abort();
    f->enc_free(e);
    or_buf_free(&out);
    json_decref(evs);
    return 0;
}
