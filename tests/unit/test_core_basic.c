/* Unit tests of core: capped buffers, the raw JSON member finder, the injectable clock. */
#include "check.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json_scan.h"
#include "json_strings_check.h"
#include "core/rand.h"

#include <stdlib.h>
#include <string.h>

static void test_buf(void)
{
    or_buf b;
    or_buf_init(&b, 8);
    CHECK(or_buf_append(&b, "abcd", 4) == OR_OK);
    CHECK(or_buf_printf(&b, "%d", 1234) == OR_OK);
    CHECK(b.len == 8);
    CHECK_STR(b.data, "abcd1234");
    CHECK(or_buf_append(&b, "x", 1) == OR_ETOOBIG);
    CHECK(b.len == 8); /* unchanged on failure */
    or_buf_consume(&b, 3);
    CHECK_STR(b.data, "d1234");
    size_t n;
    char *taken = or_buf_take(&b, &n);
    CHECK(n == 5 && b.data == NULL && b.max == 8);
    free(taken);
    or_buf_free(&b);

    /* The inline path up to the last byte of room (the NUL included), then growth. */
    char chunk[255];
    memset(chunk, 'q', sizeof chunk);
    or_buf_init(&b, 0);
    CHECK(or_buf_append(&b, "", 0) == OR_OK && b.data && b.data[0] == '\0');
    CHECK(or_buf_append(&b, chunk, sizeof chunk) == OR_OK);
    size_t cap = b.cap;
    CHECK(b.len == 255 && cap == 256 && b.data[255] == '\0');
    CHECK(or_buf_puts(&b, "z") == OR_OK && b.cap > cap && b.len == 256);
    CHECK(b.data[254] == 'q' && b.data[255] == 'z' && b.data[256] == '\0');
    or_buf_free(&b);
}

/* Both finders (forward, and from the end with the forward walk as fallback) must agree. */
static void check_member(const char *json, const char *key, const char *want)
{
    for (int from_end = 0; from_end < 2; from_end++) {
        size_t a, z;
        bool found = from_end ? or_json_find_member_last(json, strlen(json), key, &a, &z)
                              : or_json_find_member(json, strlen(json), key, &a, &z);
        if (!want) {
            CHECK(!found);
            continue;
        }
        CHECK(found);
        if (found) {
            char got[256];
            snprintf(got, sizeof got, "%.*s", (int)(z - a), json + a);
            CHECK_STR(got, want);
        }
    }
    /* The validating pass notes the same member, when the text is a valid object. */
    const char *const keys[] = {"zz", key};
    or_json_span sp[2];
    if (!or_json_valid_object(json, strlen(json), 64, keys, 2, sp))
        return;
    CHECK(sp[0].end == 0);
    CHECK((sp[1].end != 0) == (want != NULL));
    if (want && sp[1].end) {
        char got[256];
        snprintf(got, sizeof got, "%.*s", (int)(sp[1].end - sp[1].start), json + sp[1].start);
        CHECK_STR(got, want);
    }
}

/* Every member the iterator yields, as "key=value;" (key bytes as written). */
static void check_members(const char *json, const char *want)
{
    char got[512] = "";
    size_t n = 0;
    or_json_iter it;
    or_json_member m;
    bool obj = or_json_iter_init(&it, json, strlen(json));
    while (or_json_iter_next(&it, &m))
        n += (size_t)snprintf(got + n, sizeof got - n, "%.*s=%.*s;", (int)m.key_len, m.key,
                              (int)(m.end - m.start), json + m.start);
    CHECK(obj == (json[strspn(json, " ")] == '{'));
    CHECK_STR(got, want);
    CHECK(!or_json_iter_next(&it, &m)); /* stays ended */
}

static void test_json_members(void)
{
    check_members("{\"a\":1,\"b\" : [1,{\"c\":2}] , \"d\":\"x\\\"}\"}",
                  "a=1;b=[1,{\"c\":2}];d=\"x\\\"}\";");
    check_members(" {}", "");
    check_members("{\"k\\u0041\":true}", "k\\u0041=true;");
    check_members("{\"a\":1,,\"b\":2}", "a=1;"); /* stops at the first bad byte */
    check_members("{\"a\":1 \"b\":2}", "a=1;");
    check_members("{\"a\":}", "");
    check_members("{\"a\"", "");
    check_members("[{\"a\":1}]", "");
    check_members("", "");

    /* Validating with spans: first of duplicates, several keys, nested ones ignored, and a
     * valid value that is not an object refused. */
    const char *const keys[] = {"model", "stream", "n"};
    or_json_span sp[3];
    const char *doc = "{\"x\":{\"model\":0,\"stream\":1},\"stream\":false,\"model\":\"m\","
                      "\"model\":\"second\"}";
    CHECK(or_json_valid_object(doc, strlen(doc), 8, keys, 3, sp));
    char model[16];
    CHECK(or_json_span_string(doc, sp[0], model, sizeof model) && strcmp(model, "m") == 0);
    CHECK(or_json_span_bool(doc, sp[1]) == 0 && or_json_span_bool(doc, sp[2]) == -1);
    CHECK(!or_json_span_string(doc, sp[2], model, sizeof model));
    CHECK(!or_json_valid_object("[1]", 3, 8, keys, 3, sp));
    CHECK(!or_json_valid_object("{\"a\":1} x", 9, 8, keys, 3, sp));
    CHECK(!or_json_valid_object(" \"s\" ", strlen(" \"s\" "), 8, keys, 3, sp));
    CHECK(!or_json_valid_object("{\"model\":\"m\"", strlen("{\"model\":\"m\""), 8, keys, 3, sp));
    CHECK(!or_json_valid_object("{\"model\":[[[1]]]}", strlen("{\"model\":[[[1]]]}"), 3, keys, 3,
                                sp)); /* too deep */
    CHECK(or_json_valid_object("{\"model\":[[1]]} ", strlen("{\"model\":[[1]]} "), 3, keys, 3, sp));
    CHECK(or_json_valid_object(" {} ", strlen(" {} "), 1, NULL, 0, NULL));
    const char *esc = "{\"stream\":true,\"model\":\"a\\u0062\"}";
    CHECK(or_json_valid_object(esc, strlen(esc), 8, keys, 3, sp));
    CHECK(or_json_span_bool(esc, sp[1]) == 1);
    CHECK(!or_json_span_string(esc, sp[0], model, sizeof model)); /* escaped: callers parse */
    CHECK(!or_json_span_string("\"abcd\"", (or_json_span){0, 6}, model, 4)); /* too long */
}

static void test_json_scan(void)
{
    check_member("{\"model\":\"gpt-4o\"}", "model", "\"gpt-4o\"");
    check_member(" { \"a\" : [1,{\"model\":2}], \"model\" : \"x\\\"y\" } ", "model", "\"x\\\"y\"");
    check_member("{\"msg\":\"model\",\"model\":null}", "model", "null");
    check_member("{\"a\":{\"model\":1}}", "model", NULL); /* nested only */
    check_member("{\"models\":1}", "model", NULL);
    check_member("{\"model\":\"unterminated", "model", NULL);
    check_member("[\"model\"]", "model", NULL);
    check_member("", "model", NULL);
    check_member("{\"n\":-1.5e3,\"model\":true}", "model", "true");
    /* found from the end: usage before trailing members, escapes and quotes in the tail */
    check_member("{\"choices\":[{\"t\":\"}\\\"usage\\\":{\"}],\"usage\":{\"p\":1,\"s\":\"a\\\\\"},"
                 "\"service_tier\":\"default\",\"n\":null, \"x\" : -2e5 }\n",
                 "usage", "{\"p\":1,\"s\":\"a\\\\\"}");
    check_member("{\"a\":\"\\\"usage\\\":{}\"}", "usage", NULL); /* only inside a string */
    check_member("{\"a\":{\"usage\":1}}", "usage", NULL);        /* only nested */
    check_member("{\"usage\":[1,\"]\"],\"z\":{}}", "usage", "[1,\"]\"]");
    check_member("x{\"usage\":1}", "usage", NULL);
    check_member("{\"usage\":1,}", "usage", "1"); /* a tail not read back: the forward walk */
    check_member("{\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,"
                 "\"usage\":0,\"j\":9}",
                 "usage", "0");
    check_member("{\"usage\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,"
                 "\"j\":9}",
                 "usage", "0"); /* beyond the members tried from the end */
}

static uint64_t fake_mono(void *ud)
{
    return *(uint64_t *)ud;
}

static int64_t fake_wall(void *ud)
{
    return (int64_t) * (uint64_t *)ud;
}

static void counting_fill(void *buf, size_t n, void *ud)
{
    (void)ud;
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)i;
}

static void test_clock_and_ids(void)
{
    uint64_t now = 42;
    or_clock_source src = {fake_mono, fake_wall, &now};
    or_clock_set(&src);
    CHECK(or_clock_mono_ms() == 42);
    now = 1000;
    CHECK(or_clock_wall_ms() == 1000);
    or_clock_set(NULL);
    CHECK(or_clock_mono_ms() != 1000 || or_clock_wall_ms() != 1000);

    CHECK(or_rand_init() == 0);
    char a[37], b[37];
    or_uuid4(a);
    or_uuid4(b);
    CHECK(strlen(a) == 36 && a[14] == '4' && strcmp(a, b) != 0);
    /* Pooled bytes: many small draws, never two equal 16-byte ones, uniform stays in range. */
    unsigned char x[16], y[16];
    for (int i = 0; i < 100; i++) {
        or_rand_bytes(x, sizeof x);
        or_rand_bytes(y, sizeof y);
        CHECK(memcmp(x, y, sizeof x) != 0);
        CHECK(or_rand_uniform(7) < 7 && or_rand_uniform(1) == 0);
    }
    unsigned char big[300];
    or_rand_bytes(big, sizeof big);
    or_rand_set(counting_fill, NULL);
    or_uuid4(a);
    CHECK_STR(a, "00010203-0405-4607-8809-0a0b0c0d0e0f");
    or_rand_set(NULL, NULL);
}

int main(void)
{
    test_buf();
    test_json_scan();
    test_json_members();
    check_string_scanning();
    test_clock_and_ids();
    return check_done();
}
