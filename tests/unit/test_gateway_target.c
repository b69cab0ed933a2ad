/* Unit tests of the data plane's pure parts: model → target resolution, SSE line splitting
 * across chunk borders, usage extraction. */
#include "check.h"
#include "gateway/sse_lines.h"
#include "gateway/target.h"
#include "gateway/usage.h"

#include <string.h>

static or_conn make_conn(const char *id, const char *provider, bool active, const char *base)
{
    or_conn c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "%s", id);
    c.provider = (char *)provider;
    c.active = active;
    c.psd = base ? json_pack("{s:s}", "baseUrl", base) : json_object();
    return c;
}

static void test_resolve(void)
{
    or_conn conns[3] = {
        make_conn("c1", "deepseek", false, NULL),
        make_conn("c2", "deepseek", true, "http://127.0.0.1:9/v1/"),
        make_conn("c3", "openai", true, NULL),
    };
    or_snapshot snap = {.conns = conns, .nconns = 3};
    or_target t;
    or_errbuf eb = {{0}};

    CHECK(or_target_resolve(&snap, "ds/deepseek-chat", &t, &eb) == OR_OK);
    CHECK(t.conn == &conns[1]); /* the inactive one is skipped */
    CHECK(t.model_len == strlen("deepseek-chat") && memcmp(t.model, "deepseek-chat", 13) == 0);
    const char *root;
    size_t n = or_target_api_root(&t, &root);
    CHECK(n == strlen("http://127.0.0.1:9/v1") && memcmp(root, "http://127.0.0.1:9/v1", n) == 0);

    /* split on the first '/': the rest is the provider's model id, slashes included */
    CHECK(or_target_resolve(&snap, "openai/org/model-x", &t, &eb) == OR_OK);
    CHECK(strcmp(t.model, "org/model-x") == 0);
    n = or_target_api_root(&t, &root);
    CHECK(n == strlen("https://api.openai.com/v1"));

    CHECK(or_target_resolve(&snap, "gpt-4o", &t, &eb) == OR_EINVAL);
    CHECK(strstr(eb.msg, "gpt-4o") != NULL);
    CHECK(or_target_resolve(&snap, "nope/x", &t, &eb) == OR_ENOTFOUND);
    CHECK(strstr(eb.msg, "nope/x") != NULL);
    CHECK(or_target_resolve(&snap, "groq/llama", &t, &eb) == OR_EUNAVAIL);
    CHECK(or_target_resolve(&snap, "openai/", &t, &eb) == OR_EINVAL);
    for (int i = 0; i < 3; i++)
        json_decref(conns[i].psd);
}

typedef struct {
    char lines[8][64];
    int n;
    int cut;
} collected;

static void collect(void *ud, const char *line, size_t len, bool cut)
{
    collected *c = ud;
    if (cut)
        c->cut++;
    if (c->n < 8)
        snprintf(c->lines[c->n++], 64, "%.*s", (int)len, line);
}

static void test_sse_lines(void)
{
    const char *stream = "data: a\r\n\r\ndata: bb\n\ndata: ccc\n";
    /* every split point must give the same lines */
    for (size_t split = 0; split <= strlen(stream); split++) {
        or_sse_lines s;
        or_sse_lines_init(&s, 1024);
        collected c = {0};
        or_sse_lines_feed(&s, stream, split, collect, &c);
        or_sse_lines_feed(&s, stream + split, strlen(stream) - split, collect, &c);
        CHECK(c.n == 5);
        CHECK_STR(c.lines[0], "data: a");
        CHECK_STR(c.lines[1], "");
        CHECK_STR(c.lines[2], "data: bb");
        CHECK_STR(c.lines[4], "data: ccc");
        or_sse_lines_free(&s);
    }
    /* a line longer than the cap is reported cut, and the next line is clean */
    or_sse_lines s;
    or_sse_lines_init(&s, 4);
    collected c = {0};
    or_sse_lines_feed(&s, "0123456789", 10, collect, &c);
    or_sse_lines_feed(&s, "\nok\n", 4, collect, &c);
    CHECK(c.n == 2 && c.cut == 1);
    CHECK_STR(c.lines[1], "ok");
    or_sse_lines_free(&s);
}

static void test_usage(void)
{
    or_usage_row row = {0};
    const char *line = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\""
                       ":7,\"prompt_tokens_details\":{\"cached_tokens\":3},"
                       "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}";
    CHECK(or_usage_from_openai_sse_line(line, strlen(line), &row));
    CHECK(row.tokens_in == 11 && row.tokens_out == 7);
    CHECK(row.tokens_cached == 3 && row.tokens_reasoning == 2);
    const char *no = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}";
    CHECK(!or_usage_from_openai_sse_line(no, strlen(no), &row));
    CHECK(!or_usage_from_openai_sse_line("data: [DONE]", 12, &row));
    const char *null_usage = "data: {\"usage\":null}";
    CHECK(!or_usage_from_openai_sse_line(null_usage, strlen(null_usage), &row));
}

/* The raw reader says what the tree reader says. */
static void test_usage_raw(void)
{
    static const char *const docs[] = {
        "{\"prompt_tokens\":11,\"completion_tokens\":7,\"prompt_tokens_details\":{\"cached_"
        "tokens\":3},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":2}}",
        " { \"completion_tokens\" : 5 , \"total_tokens\": 9, \"prompt_tokens\":4 } ",
        "{\"prompt_tokens\":1.5,\"completion_tokens\":\"7\",\"prompt_tokens_details\":null}",
        "{\"prompt_tokens\":-3,\"completion_tokens\":9223372036854775807,"
        "\"completion_tokens_details\":{\"x\":[1,{\"reasoning_tokens\":5}],\"reasoning_tokens\":0}"
        "}",
        "{\"prompt_tokens\":1e3,\"completion_tokens\":12.0,\"prompt_tokens_details\":{\"cached_"
        "tokens\":-0}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        or_usage_row a = {0}, b = {0};
        json_t *u = json_loads(docs[i], 0, NULL);
        CHECK(or_usage_from_openai(u, &a));
        CHECK(or_usage_from_openai_json(docs[i], strlen(docs[i]), &b));
        CHECK(a.tokens_in == b.tokens_in && a.tokens_out == b.tokens_out);
        CHECK(a.tokens_cached == b.tokens_cached && a.tokens_reasoning == b.tokens_reasoning);
        json_decref(u);
    }
    /* Counts that are absent are reset, and the first of a repeated member decides (one walk
     * over the object must answer as a lookup per count would). */
    static const char dup[] =
        "{\"prompt_tokens_details\":{\"cached_tokens\":4},\"prompt_tokens\":"
        "2,\"prompt_tokens_details\":{\"cached_tokens\":8},\"prompt_tokens\":3}";
    or_usage_row d = {.tokens_out = 5, .tokens_reasoning = 6};
    CHECK(or_usage_from_openai_json(dup, strlen(dup), &d));
    CHECK(d.tokens_in == 2 && d.tokens_cached == 4 && d.tokens_out == 0 && d.tokens_reasoning == 0);
    static const char notobj[] = "{\"completion_tokens_details\":7,\"completion_tokens_details\":"
                                 "{\"reasoning_tokens\":1},\"completion_tokens\":9}";
    CHECK(or_usage_from_openai_json(notobj, strlen(notobj), &d));
    CHECK(d.tokens_reasoning == 0 && d.tokens_out == 9 && d.tokens_in == 0);
    or_usage_row r = {.tokens_in = 42};
    CHECK(!or_usage_from_openai_json("null", 4, &r) && r.tokens_in == 42);
    CHECK(!or_usage_from_openai_json("", 0, &r) && r.tokens_in == 42);
    CHECK(!or_usage_from_openai_json("[1]", 3, &r) && r.tokens_in == 42);
}

int main(void)
{
    test_resolve();
    test_sse_lines();
    test_usage();
    test_usage_raw();
    return check_done();
}
