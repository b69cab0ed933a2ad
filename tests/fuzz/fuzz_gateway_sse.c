/* Fuzz target: the SSE line splitter and the usage reader, fed the input in two pieces split
 * at a point chosen by the first byte. */
#include "gateway/sse_lines.h"
#include "gateway/usage.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(void *ud, const char *line, size_t len, bool cut)
{
    or_usage_row *row = ud;
    if (!cut)
        or_usage_from_openai_sse_line(line, len, row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t split = data[0] % size;
    or_usage_row row = {0};
    or_sse_lines s;
    or_sse_lines_init(&s, 4096);
    or_sse_lines_feed(&s, (const char *)data + 1, split ? split - 1 : 0, on_line, &row);
    or_sse_lines_feed(&s, (const char *)data + (split ? split : 1), size - (split ? split : 1),
                      on_line, &row);
    or_sse_lines_free(&s);
    return 0;
}
