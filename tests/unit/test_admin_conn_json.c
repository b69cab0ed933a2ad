/* The management API's connection JSON: create/update validation (each bad field named, never
 * a crash), the reply shape (never a secret), and the connection-test request plan. Pure. */
#include "check.h"

#include "admin/conn_json.h"
#include "admin/probe.h"
#include "provider/provider.h"

#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        fprintf(stderr, "bad test JSON: %s\n", text);
    return j;
}

/* Applies a create body; returns the error and leaves the message in eb. */
static or_err create(const char *text, or_conn *c, or_errbuf *eb)
{
    memset(c, 0, sizeof *c);
    json_t *j = parse(text);
    or_err e = or_conn_json_apply(c, j, true, NULL, eb);
    json_decref(j);
    return e;
}

static void test_create_ok(void)
{
    or_conn c;
    or_errbuf eb = {{0}};
    CHECK(create("{\"provider\":\"openai\",\"name\":\"main\",\"apiKey\":\"sk-1\"}", &c, &eb) ==
          OR_OK);
    CHECK_STR(c.provider, "openai");
    CHECK_STR(c.name, "main");
    CHECK_STR(c.api_key, "sk-1");
    CHECK_STR(c.auth_type, "apikey");
    CHECK_STR(c.test_status, "unknown");
    CHECK(c.priority == 1 && c.active && json_is_object(c.psd) && json_object_size(c.psd) == 0);
    CHECK(c.default_model == NULL);
    or_conn_clear(&c);

    /* alias resolves to the canonical id; every optional field */
    CHECK(
        create(
            "{\"provider\":\"ds\",\"name\":\"x\",\"apiKey\":\"k\",\"priority\":7,"
            "\"defaultModel\":\"deepseek-chat\",\"isActive\":false,"
            "\"providerSpecificData\":{\"baseUrl\":\"https://proxy.example/v1\",\"tags\":[\"a\"]},"
            "\"unknownField\":1}",
            &c, &eb) == OR_OK);
    CHECK_STR(c.provider, "deepseek");
    CHECK(c.priority == 7 && !c.active);
    CHECK_STR(c.default_model, "deepseek-chat");
    CHECK_STR(json_string_value(json_object_get(c.psd, "baseUrl")), "https://proxy.example/v1");
    or_conn_clear(&c);

    /* integral reals are integers; 200 characters of UTF-8 is 200 characters */
    char body[2048] = "{\"provider\":\"openai\",\"apiKey\":\"k\",\"priority\":100.0,\"name\":\"";
    for (int i = 0; i < 200; i++)
        strcat(body, "é");
    strcat(body, "\"}");
    CHECK(create(body, &c, &eb) == OR_OK);
    CHECK(c.priority == 100);
    or_conn_clear(&c);
}

static void test_create_bad(void)
{
    struct {
        const char *body;
        const char *field; /* expected at the start of the message */
    } cases[] = {
        {"[]", "body"},
        {"\"x\"", "body"},
        {"{}", "provider"},
        {"{\"provider\":\"nope\",\"name\":\"n\",\"apiKey\":\"k\"}", "provider"},
        {"{\"provider\":\"open\",\"name\":\"n\",\"apiKey\":\"k\"}", "provider"},
        {"{\"provider\":\"openai \",\"name\":\"n\",\"apiKey\":\"k\"}", "provider"},
        {"{\"provider\":7,\"name\":\"n\",\"apiKey\":\"k\"}", "provider"},
        {"{\"provider\":\"openai\",\"apiKey\":\"k\"}", "name"},
        {"{\"provider\":\"openai\",\"name\":\"\",\"apiKey\":\"k\"}", "name"},
        {"{\"provider\":\"openai\",\"name\":5,\"apiKey\":\"k\"}", "name"},
        {"{\"provider\":\"openai\",\"name\":\"n\"}", "apiKey"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"\"}", "apiKey"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":null}", "apiKey"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":42}", "apiKey"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"a\\r\\nX-Evil: 1\"}", "apiKey"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"priority\":0}", "priority"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"priority\":101}", "priority"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"priority\":1.5}", "priority"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"priority\":\"1\"}",
         "priority"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"priority\":1e300}",
         "priority"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"isActive\":1}", "isActive"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"defaultModel\":3}",
         "defaultModel"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"authType\":\"magic\"}",
         "authType"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"testStatus\":\"<b>\"}",
         "testStatus"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\",\"providerSpecificData\":[]}",
         "providerSpecificData"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
         "\"providerSpecificData\":{\"baseUrl\":\"ftp://x\"}}",
         "providerSpecificData.baseUrl"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
         "\"providerSpecificData\":{\"baseUrl\":\"javascript:alert(1)\"}}",
         "providerSpecificData.baseUrl"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
         "\"providerSpecificData\":{\"baseUrl\":\"https://\"}}",
         "providerSpecificData.baseUrl"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
         "\"providerSpecificData\":{\"baseUrl\":\"https://a b\"}}",
         "providerSpecificData.baseUrl"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
         "\"providerSpecificData\":{\"baseUrl\":7}}",
         "providerSpecificData.baseUrl"},
        {"{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
         "\"providerSpecificData\":{\"tags\":\"a\"}}",
         "providerSpecificData.tags"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        or_conn c;
        or_errbuf eb = {{0}};
        json_t *j = json_loads(cases[i].body, JSON_DECODE_ANY, NULL);
        memset(&c, 0, sizeof c);
        or_err e = or_conn_json_apply(&c, j, true, NULL, &eb);
        size_t fl = strlen(cases[i].field);
        bool named = strncmp(eb.msg, cases[i].field, fl) == 0 && eb.msg[fl] == ':';
        if (e != OR_EINVAL || !named)
            fprintf(stderr, "case %zu: %s → %d \"%s\"\n", i, cases[i].body, e, eb.msg);
        CHECK(e == OR_EINVAL && named);
        or_conn_clear(&c);
        json_decref(j);
    }

    /* caps: 201 characters of name, 10001 of apiKey, a huge providerSpecificData */
    or_conn c;
    or_errbuf eb = {{0}};
    char *big = malloc(200000);
    strcpy(big, "{\"provider\":\"openai\",\"apiKey\":\"k\",\"name\":\"");
    size_t at = strlen(big);
    memset(big + at, 'n', 201);
    strcpy(big + at + 201, "\"}");
    CHECK(create(big, &c, &eb) == OR_EINVAL && strncmp(eb.msg, "name:", 5) == 0);
    or_conn_clear(&c);
    strcpy(big, "{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"");
    at = strlen(big);
    memset(big + at, 'k', 10001);
    strcpy(big + at + 10001, "\"}");
    CHECK(create(big, &c, &eb) == OR_EINVAL && strncmp(eb.msg, "apiKey:", 7) == 0);
    or_conn_clear(&c);
    strcpy(big + at + 10000, "\"}");
    CHECK(create(big, &c, &eb) == OR_OK);
    or_conn_clear(&c);
    strcpy(big, "{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"k\","
                "\"providerSpecificData\":{\"note\":\"");
    at = strlen(big);
    memset(big + at, 'x', 70000);
    strcpy(big + at + 70000, "\"}}");
    CHECK(create(big, &c, &eb) == OR_EINVAL && strncmp(eb.msg, "providerSpecificData:", 21) == 0);
    or_conn_clear(&c);
    free(big);
}

static void test_update(void)
{
    or_conn c;
    or_errbuf eb = {{0}};
    CHECK(
        create("{\"provider\":\"openai\",\"name\":\"main\",\"apiKey\":\"sk-old\",\"defaultModel\":"
               "\"gpt-4o\",\"providerSpecificData\":{\"baseUrl\":\"https://a.example\",\"x\":1}}",
               &c, &eb) == OR_OK);
    strcpy(c.id, "11111111-2222-4333-8444-555555555555");

    struct {
        const char *body;
        or_err want;
    } steps[] = {
        {"{}", OR_OK},
        {"{\"name\":\"renamed\",\"priority\":3}", OR_OK},
        {"{\"apiKey\":\"\"}", OR_OK}, /* keep */
        {"{\"apiKey\":null}", OR_OK}, /* keep */
        {"{\"provider\":\"openai\"}", OR_OK},
        {"{\"provider\":\"deepseek\"}", OR_EINVAL},
        {"{\"priority\":0}", OR_EINVAL},
        {"{\"providerSpecificData\":{\"x\":null,\"y\":2}}", OR_OK},
        {"{\"defaultModel\":null}", OR_OK},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        or_conn work;
        CHECK(or_conn_copy(&work, &c) == OR_OK);
        json_t *j = parse(steps[i].body);
        or_err e = or_conn_json_apply(&work, j, false, NULL, &eb);
        json_decref(j);
        if (e != steps[i].want)
            fprintf(stderr, "update %zu: %s → %d %s\n", i, steps[i].body, e, eb.msg);
        CHECK(e == steps[i].want);
        if (e == OR_OK) {
            or_conn_clear(&c);
            c = work;
        } else {
            or_conn_clear(&work);
        }
    }
    CHECK_STR(c.id, "11111111-2222-4333-8444-555555555555");
    CHECK_STR(c.name, "renamed");
    CHECK(c.priority == 3);
    CHECK_STR(c.api_key, "sk-old");
    CHECK(c.default_model == NULL);
    CHECK(json_object_get(c.psd, "x") == NULL);
    CHECK(json_integer_value(json_object_get(c.psd, "y")) == 2);
    CHECK_STR(json_string_value(json_object_get(c.psd, "baseUrl")), "https://a.example");

    or_conn work;
    CHECK(or_conn_copy(&work, &c) == OR_OK);
    json_t *j = parse("{\"apiKey\":\"sk-new\"}");
    CHECK(or_conn_json_apply(&work, j, false, NULL, &eb) == OR_OK);
    CHECK_STR(work.api_key, "sk-new");
    json_decref(j);
    or_conn_clear(&work);
    or_conn_clear(&c);
}

static void test_encode(void)
{
    or_conn c;
    or_errbuf eb = {{0}};
    CHECK(create("{\"provider\":\"openai\",\"name\":\"main\",\"apiKey\":\"sk-SECRET\","
                 "\"providerSpecificData\":{\"baseUrl\":\"https://a.example\",\"consoleApiKey\":"
                 "\"sk-SECRET2\",\"refresh_token\":\"rt-SECRET\",\"maxTokens\":5}}",
                 &c, &eb) == OR_OK);
    strcpy(c.id, "abc");
    c.created_at = 1700000000123;
    c.updated_at = 0;
    json_t *j = or_conn_json_encode(&c);
    CHECK(j != NULL);
    char *text = json_dumps(j, JSON_SORT_KEYS);
    CHECK(text && !strstr(text, "SECRET"));
    CHECK(text && !strstr(text, "apiKey\""));
    const char *keys[] = {"id",        "provider",  "name",         "authType",
                          "priority",  "isActive",  "defaultModel", "testStatus",
                          "lastError", "createdAt", "updatedAt",    "providerSpecificData",
                          "hasApiKey"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK(json_object_get(j, keys[i]) != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "createdAt")), "2023-11-14T22:13:20.123Z");
    CHECK_STR(json_string_value(json_object_get(j, "updatedAt")), "1970-01-01T00:00:00.000Z");
    CHECK(json_is_true(json_object_get(j, "hasApiKey")));
    CHECK(json_is_null(json_object_get(j, "defaultModel")));
    const json_t *psd = json_object_get(j, "providerSpecificData");
    CHECK(json_integer_value(json_object_get(psd, "maxTokens")) == 5);
    CHECK(json_object_get(psd, "baseUrl") != NULL);
    free(text);
    json_decref(j);
    /* the stored row keeps what it was given */
    CHECK(json_object_get(c.psd, "consoleApiKey") != NULL);
    or_conn_clear(&c);
}

static void test_url(void)
{
    const char *ok[] = {"http://localhost:11434", "https://api.example.com/v1",
                        "HTTPS://X.Y/z?q=1"};
    const char *bad[] = {"",    "http://",     "https:///path", "ftp://a",   "http:/a",
                         "//a", "http://a\tb", "http://@evil",  "http://:80"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        CHECK(or_conn_json_url_ok(ok[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!or_conn_json_url_ok(bad[i]));
    CHECK(!or_conn_json_url_ok(NULL));
}

static const or_provider fake_anthropic = {
    "fake-claude",
    NULL,
    "Fake Claude",
    "https://api.anthropic.example/v1/",
    "/messages",
    NULL,
    OR_FMT_ANTHROPIC,
    OR_AUTH_X_API_KEY,
    "anthropic-version: 2023-06-01\nbad line\n X-A :  b \n",
    (const char *const[]){"claude-x", NULL},
};

static const or_provider fake_gemini = {
    "fake-gemini",
    NULL,
    "Fake Gemini",
    "https://g.example/v1beta",
    "/models/{model}:generateContent",
    NULL,
    OR_FMT_GEMINI,
    OR_AUTH_GOOG,
    NULL,
    NULL,
};

static const or_provider fake_local = {
    "fake-local",
    NULL,
    "Local",
    "http://127.0.0.1:1/v1",
    "/chat/completions",
    "/models",
    OR_FMT_OPENAI,
    OR_AUTH_NONE,
    NULL,
    NULL,
};

static const char *hdr(const or_probe_plan *pl, const char *name)
{
    for (size_t i = 0; i < pl->nhdrs; i++)
        if (strcmp(pl->hdrs[i].name, name) == 0)
            return pl->hdrs[i].value;
    return NULL;
}

static void test_probe(void)
{
    or_conn c;
    or_errbuf eb = {{0}};
    or_probe_plan pl;
    const or_provider *openai = or_provider_find("openai", 6);
    CHECK(openai != NULL);
    if (!openai)
        return;

    /* models listing with Bearer, base URL override with a trailing slash */
    CHECK(create("{\"provider\":\"openai\",\"name\":\"n\",\"apiKey\":\"sk-1\","
                 "\"providerSpecificData\":{\"baseUrl\":\"http://127.0.0.1:9/v1/\"}}",
                 &c, &eb) == OR_OK);
    memset(&pl, 0, sizeof pl);
    CHECK(or_probe_plan_build(&pl, openai, &c, &eb) == OR_OK);
    CHECK_STR(pl.method, "GET");
    CHECK_STR(pl.url, "http://127.0.0.1:9/v1/models");
    CHECK(pl.body == NULL);
    CHECK_STR(hdr(&pl, "Authorization"), "Bearer sk-1");
    or_probe_plan_clear(&pl);

    /* one-token chat, x-api-key, provider headers, model from the provider's list */
    json_object_clear(c.psd);
    CHECK(or_probe_plan_build(&pl, &fake_anthropic, &c, &eb) == OR_OK);
    CHECK_STR(pl.method, "POST");
    CHECK_STR(pl.url, "https://api.anthropic.example/v1/messages");
    CHECK_STR(hdr(&pl, "x-api-key"), "sk-1");
    CHECK(hdr(&pl, "Authorization") == NULL);
    CHECK_STR(hdr(&pl, "anthropic-version"), "2023-06-01");
    CHECK_STR(hdr(&pl, "X-A"), "b");
    CHECK_STR(hdr(&pl, "Content-Type"), "application/json");
    json_t *body = pl.body ? json_loads(pl.body, 0, NULL) : NULL;
    CHECK_STR(json_string_value(json_object_get(body, "model")), "claude-x");
    CHECK(json_integer_value(json_object_get(body, "max_tokens")) == 1);
    json_decref(body);
    or_probe_plan_clear(&pl);

    /* Gemini: model in the path, x-goog-api-key; no model anywhere is an error */
    CHECK(or_probe_plan_build(&pl, &fake_gemini, &c, &eb) == OR_EINVAL);
    or_probe_plan_clear(&pl);
    free(c.default_model);
    c.default_model = strdup("gemini-2.0-flash");
    CHECK(or_probe_plan_build(&pl, &fake_gemini, &c, &eb) == OR_OK);
    CHECK_STR(pl.url, "https://g.example/v1beta/models/gemini-2.0-flash:generateContent");
    CHECK_STR(hdr(&pl, "x-goog-api-key"), "sk-1");
    body = pl.body ? json_loads(pl.body, 0, NULL) : NULL;
    CHECK(json_is_array(json_object_get(body, "contents")));
    json_decref(body);
    or_probe_plan_clear(&pl);

    /* no auth: no key header even when a key is stored */
    CHECK(or_probe_plan_build(&pl, &fake_local, &c, &eb) == OR_OK);
    CHECK(hdr(&pl, "Authorization") == NULL && pl.nhdrs == 1);
    or_probe_plan_clear(&pl);
    or_conn_clear(&c);

    char msg[64];
    const char *e1 = "{\"error\":{\"message\":\"Incorrect API key\\nprovided\",\"type\":\"x\"}}";
    or_probe_error_text(401, e1, strlen(e1), msg, sizeof msg);
    CHECK_STR(msg, "HTTP 401: Incorrect API key provided");
    const char *e2 = "{\"error\":\"nope\"}";
    or_probe_error_text(403, e2, strlen(e2), msg, sizeof msg);
    CHECK_STR(msg, "HTTP 403: nope");
    or_probe_error_text(502, "<html>", 6, msg, sizeof msg);
    CHECK_STR(msg, "HTTP 502");
    or_probe_error_text(500, NULL, 0, msg, sizeof msg);
    CHECK_STR(msg, "HTTP 500");
    const char *e3 = "{\"message\":\"a very long message that will not fit in the small buffer\"}";
    or_probe_error_text(429, e3, strlen(e3), msg, 16);
    CHECK(strlen(msg) == 15);
}

int main(void)
{
    test_create_ok();
    test_create_bad();
    test_update();
    test_encode();
    test_url();
    test_probe();
    return check_done();
}
