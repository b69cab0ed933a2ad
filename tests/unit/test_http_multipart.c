/* The multipart/form-data reader: the bodies browsers, curl and undici send; binary data with
 * CR, LF and dashes inside; and every way a body can be malformed, refused with a reason. */
#include "check.h"

#include "http/multipart.h"

#include <stdlib.h>
#include <string.h>

#define CT "multipart/form-data; boundary=----X1"

/* An exact-size heap copy so ASan sees any read past the end. */
static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

static or_err find(const char *ct, const char *body, size_t n, const char *name,
                   or_multipart_part *part, or_errbuf *eb)
{
    char *copy = dup_n(body, n);
    or_err e = or_multipart_find(ct, copy, n, name, part, eb);
    /* part->data points into copy: compare before freeing by re-basing onto body */
    if (e == OR_OK)
        part->data = body + (part->data - copy);
    free(copy);
    return e;
}

static void test_is(void)
{
    CHECK(or_multipart_is("multipart/form-data; boundary=x"));
    CHECK(or_multipart_is("Multipart/Form-Data"));
    CHECK(or_multipart_is("  multipart/form-data ;boundary=x"));
    CHECK(!or_multipart_is("multipart/mixed; boundary=x"));
    CHECK(!or_multipart_is("multipart/form-datax"));
    CHECK(!or_multipart_is("application/octet-stream"));
    CHECK(!or_multipart_is(NULL));
}

static void test_two_parts(void)
{
    static const char body[] = "------X1\r\n"
                               "Content-Disposition: form-data; name=\"note\"\r\n"
                               "\r\n"
                               "hello\r\n"
                               "------X1\r\n"
                               "Content-Disposition: form-data; name=\"file\"; "
                               "filename=\"my \\\"db\\\".sqlite\"\r\n"
                               "Content-Type: application/vnd.sqlite3\r\n"
                               "X-Other: ignored\r\n"
                               "\r\n"
                               "SQLite\r\n--not-the-boundary\r\n\0bin\r\n"
                               "------X1--\r\n"
                               "epilogue";
    size_t n = sizeof body - 1;
    or_multipart m;
    or_multipart_part part;
    or_errbuf eb = {{0}};
    CHECK(or_multipart_init(&m, CT, body, n, &eb) == OR_OK);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_OK);
    CHECK_STR(part.name, "note");
    CHECK(!part.has_filename);
    CHECK(part.len == 5 && memcmp(part.data, "hello", 5) == 0);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_OK);
    CHECK_STR(part.name, "file");
    CHECK(part.has_filename);
    CHECK_STR(part.filename, "my \"db\".sqlite");
    CHECK_STR(part.content_type, "application/vnd.sqlite3");
    static const char want[] = "SQLite\r\n--not-the-boundary\r\n\0bin";
    CHECK(part.len == sizeof want - 1 && memcmp(part.data, want, part.len) == 0);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_ENOTFOUND);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_ENOTFOUND);

    CHECK(find(CT, body, n, "file", &part, &eb) == OR_OK);
    CHECK(part.len == sizeof want - 1);
    CHECK(find(CT, body, n, "nope", &part, &eb) == OR_ENOTFOUND);
    CHECK(strstr(eb.msg, "no part named nope") != NULL);
}

/* A preamble, transport padding after a delimiter, an empty part, a quoted boundary and an
 * unquoted name, as RFC 2046 allows. */
static void test_lenient_forms(void)
{
    static const char body[] = "preamble text\r\n"
                               "--b:q 1  \r\n"
                               "content-disposition: FORM-DATA; name=file; filename=\"\"\r\n"
                               "\r\n"
                               "\r\n"
                               "--b:q 1--";
    or_multipart_part part;
    or_errbuf eb = {{0}};
    CHECK(find("multipart/form-data; charset=utf-8; boundary=\"b:q 1\"", body, sizeof body - 1,
               "file", &part, &eb) == OR_OK);
    CHECK(part.len == 0);
    CHECK(part.has_filename);
    CHECK_STR(part.filename, "");
}

static void test_no_parts(void)
{
    static const char body[] = "------X1--\r\n";
    or_multipart m;
    or_multipart_part part;
    or_errbuf eb = {{0}};
    CHECK(or_multipart_init(&m, CT, body, sizeof body - 1, &eb) == OR_OK);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_ENOTFOUND);
}

static void expect_bad(const char *ct, const char *body, const char *why)
{
    or_multipart_part part;
    or_errbuf eb = {{0}};
    or_err e = find(ct, body, strlen(body), "file", &part, &eb);
    CHECK(e == OR_EINVAL);
    if (!strstr(eb.msg, why)) {
        fprintf(stderr, "expected \"%s\" in \"%s\"\n", why, eb.msg);
        CHECK(!"reason");
    }
    CHECK(part.data == NULL && part.len == 0);
}

static void test_malformed(void)
{
    static const char ok_head[] =
        "------X1\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n";
    char big[OR_MULTIPART_MAX_HEADER + 200];
    expect_bad("application/json", "x", "not multipart/form-data");
    expect_bad("multipart/form-data", "x", "no boundary");
    expect_bad("multipart/form-data; boundary=", "x", "no value");
    expect_bad("multipart/form-data; boundary=\"\"", "x", "1 to 70");
    expect_bad("multipart/form-data; boundary=a; boundary=b", "--a\r\n", "two boundary");
    expect_bad("multipart/form-data; boundary=\"unterminated", "x", "unterminated quoted");
    expect_bad("multipart/form-data boundary=x", "x", "not multipart");
    expect_bad("multipart/form-data; boundary=" /* 71 characters */
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               "x", "1 to 70");
    expect_bad(CT, "no delimiter at all", "no delimiter");
    expect_bad(CT, "------X1garbage\r\n", "not followed by CRLF");
    expect_bad(CT, "------X1\r\n\r\ndata\r\n------X1--", "without Content-Disposition");
    expect_bad(CT, "------X1\r\nContent-Type: text/plain\r\n\r\nx\r\n------X1--",
               "without Content-Disposition");
    expect_bad(CT, "------X1\r\nContent-Disposition: attachment; name=\"file\"\r\n\r\nx",
               "not form-data");
    expect_bad(CT, "------X1\r\nContent-Disposition: form-data\r\n\r\nx\r\n------X1--",
               "has no name");
    expect_bad(CT,
               "------X1\r\nContent-Disposition: form-data; name=\"a\"; name=\"file\"\r\n\r\n"
               "x\r\n------X1--",
               "duplicate name");
    expect_bad(CT,
               "------X1\r\nContent-Disposition: form-data; name=\"a\"\r\n"
               "Content-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n------X1--",
               "duplicate content-disposition");
    expect_bad(CT,
               "------X1\r\nContent-Disposition: form-data;\r\n name=\"file\"\r\n\r\nx\r\n"
               "------X1--",
               "folded");
    expect_bad(CT,
               "------X1\r\nContent-Disposition: form-data; name=\"fi\tle\"\r\n\r\nx\r\n"
               "------X1--",
               "control character");
    expect_bad(CT, "------X1\r\nContent-Disposition form-data\r\n\r\nx\r\n------X1--",
               "malformed part header");
    expect_bad(CT, "------X1\r\nContent-Disposition: form-data; name=\"file\"\r\n",
               "not terminated");
    /* the data runs to the end without a closing delimiter */
    char body[256];
    snprintf(body, sizeof body, "%sdata but no end", ok_head);
    expect_bad(CT, body, "no closing delimiter");
    snprintf(body, sizeof body, "%sdata\r\n------X1 junk", ok_head);
    expect_bad(CT, body, "not followed by CRLF");
    /* a header block past the cap */
    int n = snprintf(big, sizeof big, "------X1\r\nX-Pad: ");
    memset(big + n, 'a', OR_MULTIPART_MAX_HEADER);
    snprintf(big + n + OR_MULTIPART_MAX_HEADER, sizeof big - (size_t)n - OR_MULTIPART_MAX_HEADER,
             "\r\n\r\nx");
    expect_bad(CT, big, "too large");
    char longname[400];
    snprintf(longname, sizeof longname,
             "------X1\r\nContent-Disposition: form-data; name=\"%0200d\"\r\n\r\nx\r\n------X1--",
             0);
    expect_bad(CT, longname, "too long");
}

/* After a malformed part the reader stays failed. */
static void test_stays_failed(void)
{
    static const char body[] = "------X1\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                               "x\r\n------X1\r\nbroken\r\n\r\ny\r\n------X1--";
    or_multipart m;
    or_multipart_part part;
    or_errbuf eb = {{0}};
    CHECK(or_multipart_init(&m, CT, body, sizeof body - 1, &eb) == OR_OK);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_OK);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_EINVAL);
    CHECK(or_multipart_next(&m, &part, &eb) == OR_EINVAL);
}

int main(void)
{
    test_is();
    test_two_parts();
    test_lenient_forms();
    test_no_parts();
    test_malformed();
    test_stays_failed();
    return check_done();
}
