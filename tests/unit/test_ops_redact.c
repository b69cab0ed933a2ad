/* Redaction for stored request logs: credential members of JSON bodies (whole or cut),
 * credential headers and query parameters, and output that is always valid UTF-8. */
#include "check.h"

#include "ops/redact.h"

#include <string.h>

static void json_case(const char *in, size_t cap, const char *want, bool want_cut)
{
    or_buf out;
    or_buf_init(&out, 0);
    bool cut = or_redact_json(in, strlen(in), cap, &out);
    CHECK_STR(out.data ? out.data : "", want);
    CHECK(cut == want_cut);
    or_buf_free(&out);
}

static void test_json(void)
{
    json_case("{\"model\":\"gpt-4o\",\"apiKey\":\"sk-secret\"}", 1000,
              "{\"model\":\"gpt-4o\",\"apiKey\":\"[REDACTED]\"}", false);
    json_case("{\"a\":{\"API_KEY\" : \"sk-1\",\"key\":\"k\\\"2\"},\"keys\":\"fine\"}", 1000,
              "{\"a\":{\"API_KEY\" : \"[REDACTED]\",\"key\":\"[REDACTED]\"},\"keys\":\"fine\"}",
              false);
    /* a name inside a string value is text, not a member */
    json_case("{\"content\":\"my \\\"key\\\": \\\"abc\\\"\"}", 1000,
              "{\"content\":\"my \\\"key\\\": \\\"abc\\\"\"}", false);
    /* non-string values are left alone */
    json_case("{\"key\":123,\"token\":null}", 1000, "{\"key\":123,\"token\":null}", false);
    /* the secret is redacted whole even when the cap falls inside it */
    json_case("{\"password\":\"hunter2hunter2hunter2\"}", 20, "{\"password\":\"[REDACT", true);
    /* an unterminated secret (cut input) is still redacted */
    json_case("{\"secret\":\"abc", 100, "{\"secret\":\"[REDACTED]\"", false);
    /* cut inside a two-byte character: the partial character is dropped */
    json_case("{\"t\":\"\xc3\xa9\xc3\xa9\"}", 7, "{\"t\":\"", true);
    /* invalid UTF-8 and NUL become '?' */
    or_buf out;
    or_buf_init(&out, 0);
    const char bad[] = {'"', 'a', (char)0xff, 0, 'b', '"'};
    or_redact_json(bad, sizeof bad, 100, &out);
    CHECK(out.len == 6 && memcmp(out.data, "\"a??b\"", 6) == 0);
    or_buf_free(&out);
}

static void test_headers_and_query(void)
{
    CHECK(or_redact_header("Authorization"));
    CHECK(or_redact_header("x-api-key"));
    CHECK(or_redact_header("X-Goog-Api-Key"));
    CHECK(or_redact_header("cookie"));
    CHECK(!or_redact_header("content-type"));
    CHECK(!or_redact_header("x-request-id"));
    or_buf out;
    or_buf_init(&out, 0);
    or_redact_query("alt=sse&key=AIzaSECRET&x=1", 1000, &out);
    CHECK_STR(out.data, "alt=sse&key=[REDACTED]&x=1");
    or_redact_query("api_key=s&&keyboard=2", 1000, &out);
    CHECK_STR(out.data, "api_key=[REDACTED]&&keyboard=2");
    or_redact_query("", 1000, &out);
    CHECK(out.len == 0);
    or_buf_free(&out);
}

static void test_utf8(void)
{
    or_buf b;
    or_buf_init(&b, 0);
    /* overlong, surrogate, out of range, stray continuation; valid 3- and 4-byte kept */
    or_buf_puts(&b, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80|\xe2\x82\xac|\xf0\x9f\x98\x80");
    or_redact_utf8(&b);
    CHECK_STR(b.data, "??|???|????|?|\xe2\x82\xac|\xf0\x9f\x98\x80");
    or_buf_reset(&b);
    or_buf_puts(&b, "ok\xf0\x9f\x98");
    or_redact_utf8(&b);
    CHECK_STR(b.data, "ok");
    or_buf_free(&b);
}

int main(void)
{
    test_json();
    test_headers_and_query();
    test_utf8();
    return check_done();
}
