/* Retry hints: Retry-After (seconds, HTTP-date in all three forms), retry-after-ms, the
 * x-ratelimit-reset family, Anthropic's reset dates, Google's retryDelay, prose hints, garbage
 * and the cap. The wall clock is injected. */
#include "check.h"

#include "core/clock.h"
#include "resilience/retry_after.h"

#include <string.h>

/* Sun, 06 Nov 1994 08:49:37 GMT is 784111777; "now" is 30 s before it. */
#define DATE_S 784111777LL
static int64_t fake_wall = DATE_S * 1000 - 30000;

static uint64_t mono(void *ud)
{
    (void)ud;
    return 1;
}

static int64_t wall(void *ud)
{
    (void)ud;
    return fake_wall;
}

static uint64_t hdr(const char *v)
{
    return or_retry_after_parse_header(v, strlen(v));
}

static uint64_t dur(const char *v)
{
    return or_retry_after_parse_duration(v, strlen(v));
}

static uint64_t reset(const char *v)
{
    return or_retry_after_parse_reset(v, strlen(v));
}

static uint64_t text(const char *v)
{
    return or_retry_after_parse_text(v, strlen(v));
}

static uint64_t body(const char *v)
{
    return or_retry_after_parse_body(v, strlen(v));
}

static void test_retry_after_header(void)
{
    CHECK(hdr("120") == 120000);
    CHECK(hdr(" 5 ") == 5000);
    CHECK(hdr("1.5") == 1500);
    CHECK(hdr("0") == 0);
    CHECK(hdr("-1") == 0);
    CHECK(hdr("") == 0);
    CHECK(hdr("soon") == 0);
    CHECK(hdr("12abc") == 0);
    CHECK(hdr("99999999") == OR_RETRY_AFTER_CAP_MS);
    CHECK(hdr("123456789012345678901234567890") == 0); /* too many digits to mean anything */
    /* HTTP-date, all three forms of RFC 9110 */
    CHECK(hdr("Sun, 06 Nov 1994 08:49:37 GMT") == 30000);
    CHECK(hdr("Sunday, 06-Nov-94 08:49:37 GMT") == 30000);
    CHECK(hdr("Sun Nov  6 08:49:37 1994") == 30000);
    CHECK(hdr("sun, 06 nov 1994 08:49:37 gmt") == 30000);
    CHECK(hdr("Sun, 06 Nov 1994 08:48:37 GMT") == 0); /* in the past */
    CHECK(hdr("Mon, 07 Nov 1994 08:49:37 GMT") == OR_RETRY_AFTER_CAP_MS);
    CHECK(hdr("Sun, 32 Nov 1994 08:49:37 GMT") == 0);
    CHECK(hdr("Sun, 06 Foo 1994 08:49:37 GMT") == 0);
    CHECK(hdr("Sun, 06 Nov 1994 08:49 GMT") == 0);
    CHECK(hdr("Sun, 06 Nov 1994 08:49:37 PST") == 0);
    CHECK(hdr("Sun Nov  6 08:49:37 1994 trailing") == 0);
}

static void test_dates(void)
{
    int64_t ms = 0;
    CHECK(or_retry_after_parse_date("1970-01-01T00:00:00Z", 20, &ms) && ms == 0);
    CHECK(or_retry_after_parse_date("2000-03-01T00:00:00Z", 20, &ms) && ms == 951868800000LL);
    const char *off = "1994-11-06T10:49:37.250+02:00";
    CHECK(or_retry_after_parse_date(off, strlen(off), &ms) && ms == DATE_S * 1000 + 250);
    const char *sp = "1994-11-06 08:49:37Z";
    CHECK(or_retry_after_parse_date(sp, strlen(sp), &ms) && ms == DATE_S * 1000);
    CHECK(!or_retry_after_parse_date("1994-11-06", 10, &ms));
    CHECK(!or_retry_after_parse_date("1994-13-06T08:49:37Z", 20, &ms));
    CHECK(!or_retry_after_parse_date("1994-11-06T08:49:37+2", 21, &ms));
    /* leap day */
    CHECK(or_retry_after_parse_date("2024-02-29T00:00:00Z", 20, &ms) && ms == 1709164800000LL);
}

static void test_durations(void)
{
    CHECK(dur("1s") == 1000);
    CHECK(dur("6m0s") == 360000);
    CHECK(dur("20ms") == 20);
    CHECK(dur("2.5s") == 2500);
    CHECK(dur("2m3.5s") == 123500);
    CHECK(dur("1h2m3.5s") == OR_RETRY_AFTER_CAP_MS);
    CHECK(dur("0.5s") == 500);
    CHECK(dur("1.5us") == 1);  /* sub-millisecond rounds up: it is still a wait */
    CHECK(dur("30") == 30000); /* bare seconds */
    CHECK(dur("\"2s\"") == 2000);
    CHECK(dur("") == 0);
    CHECK(dur("s") == 0);
    CHECK(dur("5x") == 0);
    CHECK(dur("5 s") == 0); /* no spaces inside a header duration */
    CHECK(dur("2h") == OR_RETRY_AFTER_CAP_MS);
}

static void test_reset(void)
{
    char v[64];
    int64_t saved = fake_wall;
    fake_wall = 1700000000000; /* epoch heuristics need a modern "now" */
    snprintf(v, sizeof v, "%lld", (long long)(fake_wall / 1000 + 60));
    CHECK(reset(v) == 60000); /* epoch seconds */
    snprintf(v, sizeof v, "%lld", (long long)(fake_wall + 1500));
    CHECK(reset(v) == 1500); /* epoch milliseconds (OpenRouter) */
    snprintf(v, sizeof v, "%lld", (long long)(fake_wall / 1000 - 60));
    CHECK(reset(v) == 0); /* already past */
    fake_wall = saved;
    CHECK(reset("30") == 30000);
    CHECK(reset("1m") == 60000);
    CHECK(reset("1994-11-06T08:49:37Z") == 30000); /* Anthropic's RFC 3339 */
    CHECK(reset("whenever") == 0);
}

static void test_body(void)
{
    const char *google =
        "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":"
        "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/"
        "google.rpc.QuotaFailure\",\"violations\":[]},{\"@type\":\"type.googleapis.com/"
        "google.rpc.RetryInfo\",\"retryDelay\":\"2.5s\"}]}}";
    CHECK(body(google) == 2500);
    char wrapped[1024];
    snprintf(wrapped, sizeof wrapped, "[%s]", google);
    CHECK(body(wrapped) == 2500);
    CHECK(body("{\"error\":{\"details\":[{\"retryDelay\":\"nope\"}]}}") == 0);
    CHECK(body("{\"error\":{\"details\":{\"retryDelay\":\"2s\"}}}") == 0);
    CHECK(body("{\"error\":") == 0);
    CHECK(body("not json") == 0);
    CHECK(body("[[[[[[[{\"error\":{\"details\":[{\"retryDelay\":\"2s\"}]}}]]]]]]]") == 0);
    CHECK(or_retry_after_parse_body(NULL, 0) == 0);
}

static void test_text(void)
{
    CHECK(text("Rate limit reached for gpt-4o. Please try again in 20ms. Visit") == 20);
    CHECK(text("Please try again in 6m0s.") == 360000);
    CHECK(text("You exceeded your quota. Please retry in 56.3s.") == 56300);
    CHECK(text("retry after 5 seconds") == 5000);
    CHECK(text("Retry after: 1 minute 30 seconds") == 90000);
    CHECK(text("limit resets in 2m3s") == 123000);
    CHECK(text("try again at 1994-11-06T08:49:37Z.") == 30000);
    CHECK(text("retry after 2024-01-01") == 0); /* a date, not 2024 seconds */
    CHECK(text("please retry later") == 0);
    CHECK(text("retry in 5 more minutes") == 5000); /* "more" is not a unit: bare seconds */
    CHECK(or_retry_after_parse_text(NULL, 0) == 0);
}

static void feed(or_retry_after *ra, const char *name, const char *value)
{
    or_retry_after_header(ra, name, value, strlen(value));
}

static void test_collector(void)
{
    or_retry_after ra;
    or_retry_after_init(&ra);
    CHECK(or_retry_after_ms(&ra) == 0);
    feed(&ra, "Content-Type", "application/json");
    feed(&ra, "Retry-After", "7");
    CHECK(or_retry_after_ms(&ra) == 7000);
    feed(&ra, "retry-after-ms", "1500");
    CHECK(or_retry_after_ms(&ra) == 1500); /* the precise one wins */

    /* OpenAI's pair: the exhausted limit decides */
    or_retry_after_init(&ra);
    feed(&ra, "x-ratelimit-reset-requests", "1s");
    feed(&ra, "x-ratelimit-reset-tokens", "6m0s");
    CHECK(or_retry_after_ms(&ra) == 1000); /* unknown which: the shorter */
    feed(&ra, "x-ratelimit-remaining-tokens", "0");
    feed(&ra, "x-ratelimit-remaining-requests", "42");
    CHECK(or_retry_after_ms(&ra) == 360000);
    or_retry_after_init(&ra);
    feed(&ra, "X-RateLimit-Reset-Requests", "1s");
    feed(&ra, "X-RateLimit-Reset-Tokens", "6m0s");
    feed(&ra, "X-RateLimit-Remaining-Requests", "0");
    CHECK(or_retry_after_ms(&ra) == 1000);

    /* Anthropic: several token limits, RFC 3339 resets */
    or_retry_after_init(&ra);
    feed(&ra, "anthropic-ratelimit-input-tokens-remaining", "0");
    feed(&ra, "anthropic-ratelimit-output-tokens-remaining", "8000");
    feed(&ra, "anthropic-ratelimit-input-tokens-reset", "1994-11-06T08:49:37Z");
    feed(&ra, "anthropic-ratelimit-requests-reset", "1994-11-06T08:49:17Z");
    CHECK(or_retry_after_ms(&ra) == 30000);

    /* x-ratelimit-reset alone, then the body's RetryInfo beats it */
    or_retry_after_init(&ra);
    feed(&ra, "x-ratelimit-reset", "12");
    CHECK(or_retry_after_ms(&ra) == 12000);
    const char *g = "{\"error\":{\"details\":[{\"retryDelay\":\"3s\"}]}}";
    or_retry_after_body(&ra, g, strlen(g));
    CHECK(or_retry_after_ms(&ra) == 3000);

    /* prose only */
    or_retry_after_init(&ra);
    const char *t = "{\"error\":{\"message\":\"Please try again in 1.5s.\"}}";
    or_retry_after_body(&ra, t, strlen(t));
    CHECK(or_retry_after_ms(&ra) == 1500);

    /* garbage everywhere: no hint */
    or_retry_after_init(&ra);
    feed(&ra, "retry-after", "tomorrow-ish");
    feed(&ra, "retry-after-ms", "-5");
    feed(&ra, "x-ratelimit-reset", "");
    or_retry_after_body(&ra, "\xff\xfe", 2);
    CHECK(or_retry_after_ms(&ra) == 0);
    or_retry_after_header(&ra, NULL, "1", 1);
    CHECK(or_retry_after_ms(&ra) == 0);
}

int main(void)
{
    or_clock_source src = {mono, wall, NULL};
    or_clock_set(&src);
    test_retry_after_header();
    test_dates();
    test_durations();
    test_reset();
    test_body();
    test_text();
    test_collector();
    or_clock_set(NULL);
    return check_done();
}
