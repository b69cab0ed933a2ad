/* Fuzz target: the multipart/form-data reader. The input's first line is the Content-Type
 * value, the rest the body. Invariants: no read outside the body, every part's data lies inside
 * it, names are NUL-terminated within their arrays, and the walk ends. */
#include "http/multipart.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const or_multipart_part *p, const char *body, size_t len)
{
    if (!p->data || p->data < body || p->len > len || (size_t)(p->data - body) > len - p->len)
        abort();
    if (!memchr(p->name, '\0', sizeof p->name) || !memchr(p->filename, '\0', sizeof p->filename) ||
        !memchr(p->content_type, '\0', sizeof p->content_type))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : size;
    size_t body_len = nl ? size - ct_len - 1 : 0;
    char *ct = malloc(ct_len + 1);
    char *body = malloc(body_len ? body_len : 1); /* exact size: ASan sees overreads */
    if (!ct || !body)
        goto out;
    memcpy(ct, data, ct_len);
    ct[ct_len] = '\0';
    if (body_len)
        memcpy(body, nl + 1, body_len);
    or_multipart m;
    or_multipart_part part;
    or_errbuf eb;
    if (or_multipart_init(&m, ct, body, body_len, &eb) == OR_OK) {
        size_t parts = 0;
        while (or_multipart_next(&m, &part, &eb) == OR_OK) {
            inside(&part, body, body_len);
            if (++parts > body_len) /* each part consumes at least one byte */
                abort();
        }
    }
    if (or_multipart_find(ct, body, body_len, "file", &part, &eb) == OR_OK)
        inside(&part, body, body_len);
out:
    free(ct);
    free(body);
    return 0;
}
