/* The failure taxonomy: classification of real-world error bodies, and the fallback / scope /
 * breaker decisions PRODUCT.md §4–§5 asks for. */
#include "check.h"

#include "resilience/failure.h"

#include <string.h>

static uint32_t cls(int status, const char *body)
{
    return or_failure_classify(status, body, body ? strlen(body) : 0, OR_TRANSPORT_NONE);
}

typedef struct {
    int status;
    const char *body;
    int transport;
    uint32_t mask;
    or_fail_next next;
    or_fail_scope scope;
    bool breaker;
} row;

static const row rows[] = {
    /* successes */
    {200, NULL, 0, 0, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {204, NULL, 0, 0, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    /* transport */
    {0, NULL, OR_TRANSPORT_CONNECT, OR_FAIL_CONNECT, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {0, NULL, OR_TRANSPORT_TIMEOUT, OR_FAIL_TIMEOUT, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {0, NULL, OR_TRANSPORT_RESET, OR_FAIL_RESET, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {0, NULL, 0, OR_FAIL_RESET, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {200, NULL, OR_TRANSPORT_STREAM_CUT, OR_FAIL_STREAM_CUT, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER,
     true},
    /* a client abort is nobody's failure, whatever else happened */
    {0, NULL, OR_TRANSPORT_CLIENT_ABORT, OR_FAIL_CLIENT_ABORT, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {503, "busy", OR_TRANSPORT_CLIENT_ABORT, OR_FAIL_CLIENT_ABORT, OR_NEXT_STOP, OR_SCOPE_NONE,
     false},
    /* statuses */
    {401, "{\"error\":{\"message\":\"Incorrect API key provided\"}}", 0, OR_FAIL_STATUS_401,
     OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {402, "payment required", 0, OR_FAIL_STATUS_402, OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {403, "{\"error\":{\"type\":\"permission_error\"}}", 0, OR_FAIL_STATUS_403, OR_NEXT_ACCOUNT,
     OR_SCOPE_KEY, false},
    {404, "{\"error\":{\"code\":\"model_not_found\"}}", 0, OR_FAIL_STATUS_404, OR_NEXT_ACCOUNT,
     OR_SCOPE_MODEL, false},
    {410, "gone", 0, OR_FAIL_STATUS_404, OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    {408, "", 0, OR_FAIL_STATUS_408, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {429, "{\"error\":{\"message\":\"Rate limit reached for gpt-4o\"}}", 0, OR_FAIL_STATUS_429,
     OR_NEXT_ACCOUNT, OR_SCOPE_ACCOUNT, false},
    {500, "oops", 0, OR_FAIL_5XX, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {502, NULL, 0, OR_FAIL_5XX, OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}", 0, OR_FAIL_5XX,
     OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    /* account-wide exhaustion: the whole key, not just this model (the original retried
     * "exceed your account's rate limit" on the same account) */
    {429,
     "{\"error\":{\"message\":\"You exceeded your current "
     "quota\",\"type\":\"insufficient_quota\"}}",
     0, OR_FAIL_STATUS_429 | OR_FAIL_QUOTA, OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {429, "You exceed your account's rate limit", 0, OR_FAIL_STATUS_429 | OR_FAIL_QUOTA,
     OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {400,
     "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Your credit "
     "balance is too low to access the Anthropic API.\"}}",
     0, OR_FAIL_QUOTA, OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    /* 400s: context length goes to the next model, not the next account of this one */
    {400,
     "{\"error\":{\"message\":\"This model's maximum context length is 128000 tokens.\",\"code\":"
     "\"context_length_exceeded\"}}",
     0, OR_FAIL_CONTEXT_LENGTH, OR_NEXT_TARGET, OR_SCOPE_NONE, false},
    {400,
     "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is "
     "too long: 210000 tokens > 200000 maximum\"}}",
     0, OR_FAIL_CONTEXT_LENGTH, OR_NEXT_TARGET, OR_SCOPE_NONE, false},
    {400,
     "{\"error\":{\"code\":400,\"message\":\"The input token count (1200000) exceeds the maximum "
     "number of tokens allowed (1048576).\",\"status\":\"INVALID_ARGUMENT\"}}",
     0, OR_FAIL_CONTEXT_LENGTH, OR_NEXT_TARGET, OR_SCOPE_NONE, false},
    {413, "prompt is too long", 0, OR_FAIL_CONTEXT_LENGTH, OR_NEXT_TARGET, OR_SCOPE_NONE, false},
    /* model-scoped 400s advance and lock the model on that account */
    {400, "{\"error\":{\"message\":\"The model `gpt-9` does not exist\"}}", 0,
     OR_FAIL_MODEL_SCOPED_400, OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    {400, "{\"error\":{\"code\":\"model_not_found\"}}", 0, OR_FAIL_MODEL_SCOPED_400,
     OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    {400, "{\"error\":{\"message\":\"tools are not supported by this model\"}}", 0,
     OR_FAIL_MODEL_SCOPED_400, OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    {400,
     "{\"error\":{\"code\":400,\"message\":\"* GenerateContentRequest.model: unexpected model "
     "name format\",\"status\":\"INVALID_ARGUMENT\"}}",
     0, OR_FAIL_MODEL_SCOPED_400, OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    {400, "Error: TOO MANY REQUESTS, high frequency", 0, OR_FAIL_STATUS_429, OR_NEXT_ACCOUNT,
     OR_SCOPE_ACCOUNT, false},
    /* a malformed request stops at once: no target will take it */
    {400, "{\"error\":{\"message\":\"messages: roles must alternate between user and assistant\"}}",
     0, OR_FAIL_MALFORMED_400, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {400,
     "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload received. Unknown name "
     "\\\"foo\\\"\",\"status\":\"INVALID_ARGUMENT\"}}",
     0, OR_FAIL_MALFORMED_400, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {400, NULL, 0, OR_FAIL_MALFORMED_400, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {422, "unprocessable", 0, OR_FAIL_MALFORMED_400, OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {405, "method not allowed", 0, OR_FAIL_OTHER_4XX, OR_NEXT_STOP, OR_SCOPE_NONE, false},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        uint32_t m =
            or_failure_classify(r->status, r->body, r->body ? strlen(r->body) : 0, r->transport);
        char d[128];
        if (m != r->mask)
            fprintf(stderr, "row %zu: status %d got %s\n", i, r->status,
                    or_failure_describe(m, d, sizeof d));
        CHECK(m == r->mask);
        CHECK(or_failure_next(m) == r->next);
        CHECK(or_failure_should_fallback(m) == (r->next != OR_NEXT_STOP));
        CHECK(or_failure_scope(m) == r->scope);
        CHECK(or_failure_counts_for_breaker(m) == r->breaker);
    }
}

static void test_product_rules(void)
{
    /* PRODUCT.md §4: these advance... */
    static const int advance[] = {401, 402, 403, 404, 408, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof advance / sizeof advance[0]; i++)
        CHECK(or_failure_should_fallback(cls(advance[i], "x")));
    /* ...client aborts never count, whatever is combined with them */
    CHECK(!or_failure_should_fallback(OR_FAIL_CLIENT_ABORT | OR_FAIL_5XX));
    CHECK(!or_failure_counts_for_breaker(OR_FAIL_CLIENT_ABORT | OR_FAIL_5XX));
    /* a malformed request beats anything else in the mask */
    CHECK(!or_failure_should_fallback(OR_FAIL_MALFORMED_400 | OR_FAIL_STATUS_429));
    /* rate limits are not provider failures */
    CHECK(!or_failure_counts_for_breaker(OR_FAIL_STATUS_429));
    CHECK(or_failure_counts_for_breaker(OR_FAIL_5XX | OR_FAIL_STREAM_CUT));
    /* a body over the scan window is not read past it */
    static char big[70000];
    memset(big, 'x', sizeof big);
    memcpy(big + sizeof big - 30, "context_length_exceeded", 23);
    CHECK(or_failure_classify(400, big, sizeof big, 0) == OR_FAIL_MALFORMED_400);
    memcpy(big + 10, "context_length_exceeded", 23);
    CHECK(or_failure_classify(400, big, sizeof big, 0) == OR_FAIL_CONTEXT_LENGTH);
}

static void test_names(void)
{
    char d[64];
    CHECK_STR(or_failure_describe(OR_FAIL_STATUS_429 | OR_FAIL_QUOTA, d, sizeof d),
              "quota,status_429");
    CHECK_STR(or_failure_describe(0, d, sizeof d), "");
    char tiny[6];
    or_failure_describe(OR_FAIL_STATUS_429 | OR_FAIL_QUOTA, tiny, sizeof tiny);
    CHECK_STR(tiny, "quota");
    CHECK_STR(or_failure_scope_name(OR_SCOPE_ACCOUNT), "account");
    CHECK_STR(or_failure_scope_name(OR_SCOPE_PROVIDER), "provider");
}

int main(void)
{
    test_table();
    test_product_rules();
    test_names();
    return check_done();
}
