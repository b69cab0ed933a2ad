/* The /api/settings field table: every field's type check, range, choices and validator, the
 * error naming the field, null as "back to the default", and the view (defaults filled in,
 * internal keys never shown). */
#include "check.h"

#include "admin/settings.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (!j)
        fprintf(stderr, "bad test JSON: %s (%s)\n", err.text, text);
    return j;
}

/* Validates body; on failure returns the message (static), on success "OK:<compact JSON>". */
static const char *run(const char *body)
{
    static char out[1024];
    json_t *b = parse(body);
    or_errbuf eb = {{0}};
    json_t *r = or_settings_validate(b, &eb);
    if (!r) {
        snprintf(out, sizeof out, "%s", eb.msg);
    } else {
        char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, sizeof out, "OK:%s", s ? s : "?");
        free(s);
    }
    json_decref(r);
    json_decref(b);
    return out;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_table(void)
{
    CHECK(or_settings_count() >= 7);
    CHECK(or_settings_at(or_settings_count()) == NULL);
    for (size_t i = 0; i < or_settings_count(); i++) {
        const or_setting_field *f = or_settings_at(i);
        CHECK(or_settings_find(f->name) == f);
        /* Each default passes its own field's validation. */
        json_t *body = json_object();
        json_object_set_new(body, f->name, json_loads(f->default_json, JSON_DECODE_ANY, NULL));
        or_errbuf eb = {{0}};
        json_t *r = or_settings_validate(body, &eb);
        CHECK(r != NULL);
        if (!r)
            fprintf(stderr, "  default of %s: %s\n", f->name, eb.msg);
        json_decref(r);
        json_decref(body);
    }
    CHECK(or_settings_find("passwordHash") == NULL);
    CHECK(or_settings_find("combos") == NULL);
    CHECK(or_settings_find(NULL) == NULL);
}

static void test_types_and_ranges(void)
{
    CHECK_STR(run("{}"), "OK:{}");
    CHECK(starts(run("[]"), "body:"));
    CHECK_STR(run("{\"theme\":\"dark\"}"), "theme: unknown setting");
    CHECK_STR(run("{\"requireLogin\":true,\"passwordHash\":\"x\"}"),
              "passwordHash: unknown setting");
    CHECK_STR(run("{\"requireLogin\":\"yes\"}"), "requireLogin: must be a boolean");
    CHECK_STR(run("{\"requireLogin\":false}"), "OK:{\"requireLogin\":false}");
    CHECK_STR(run("{\"stickyRoundRobinLimit\":\"3\"}"),
              "stickyRoundRobinLimit: must be an integer");
    CHECK_STR(run("{\"stickyRoundRobinLimit\":2.5}"), "stickyRoundRobinLimit: must be an integer");
    CHECK_STR(run("{\"stickyRoundRobinLimit\":-1}"),
              "stickyRoundRobinLimit: must be an integer from 0 to 1000");
    CHECK(starts(run("{\"stickyRoundRobinLimit\":1001}"), "stickyRoundRobinLimit: "));
    CHECK_STR(run("{\"stickyRoundRobinLimit\":0}"), "OK:{\"stickyRoundRobinLimit\":0}");
    CHECK_STR(run("{\"stickyRoundRobinLimit\":1000}"), "OK:{\"stickyRoundRobinLimit\":1000}");
    CHECK(starts(run("{\"requestRetry\":11}"), "requestRetry: must be an integer from 0 to 10"));
    CHECK_STR(run("{\"requestRetry\":10}"), "OK:{\"requestRetry\":10}");
    CHECK(starts(run("{\"maxRetryIntervalSec\":-5}"), "maxRetryIntervalSec: "));
    CHECK_STR(run("{\"maxRetryIntervalSec\":60}"), "OK:{\"maxRetryIntervalSec\":60}");
    CHECK_STR(run("{\"wildcardAliases\":{}}"), "wildcardAliases: must be an array");
    CHECK_STR(run("{\"fallbackChains\":[]}"), "fallbackChains: must be an object");
    /* The first bad field is named, whatever came before it. */
    CHECK(starts(run("{\"requestRetry\":2,\"fallbackStrategy\":7}"), "fallbackStrategy: "));
    /* null resets a field to its default. */
    CHECK_STR(run("{\"fallbackStrategy\":null,\"wildcardAliases\":null}"),
              "OK:{\"fallbackStrategy\":null,\"wildcardAliases\":null}");
}

static void test_strategy_choices(void)
{
    const char *ok[] = {"fill-first", "round-robin", "p2c",
                        "random",     "least-used",  "cost-optimized"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char body[100], want[100];
        snprintf(body, sizeof body, "{\"fallbackStrategy\":\"%s\"}", ok[i]);
        snprintf(want, sizeof want, "OK:{\"fallbackStrategy\":\"%s\"}", ok[i]);
        CHECK_STR(run(body), want);
    }
    CHECK_STR(run("{\"fallbackStrategy\":\"strict-random\"}"),
              "fallbackStrategy: must be one of fill-first, round-robin, p2c, random, least-used, "
              "cost-optimized");
    CHECK(starts(run("{\"fallbackStrategy\":\"\"}"), "fallbackStrategy: must be one of"));
}

static void test_aliases(void)
{
    CHECK_STR(run("{\"wildcardAliases\":[{\"pattern\":\"gpt-*\",\"target\":\"openai/gpt-4o\","
                  "\"note\":\"dropped\"},{\"pattern\":\"fast?\",\"target\":\"my-combo\"}]}"),
              "OK:{\"wildcardAliases\":[{\"pattern\":\"gpt-*\",\"target\":\"openai/gpt-4o\"},"
              "{\"pattern\":\"fast?\",\"target\":\"my-combo\"}]}");
    CHECK_STR(run("{\"wildcardAliases\":[]}"), "OK:{\"wildcardAliases\":[]}");
    CHECK(starts(run("{\"wildcardAliases\":[{\"pattern\":\"a\",\"target\":\"x/y\"},\"gpt\"]}"),
                 "wildcardAliases[1]: must be {pattern, target}"));
    CHECK(starts(run("{\"wildcardAliases\":[{\"pattern\":\"\",\"target\":\"x/y\"}]}"),
                 "wildcardAliases[0]: must be {pattern, target}: pattern"));
    CHECK(starts(run("{\"wildcardAliases\":[{\"pattern\":\"a\"}]}"),
                 "wildcardAliases[0]: must be {pattern, target}: target"));
    CHECK(starts(run("{\"wildcardAliases\":[{\"pattern\":\"a\",\"target\":5}]}"),
                 "wildcardAliases[0]: "));
    CHECK(starts(run("{\"wildcardAliases\":[{\"pattern\":\"a\\nb\",\"target\":\"x/y\"}]}"),
                 "wildcardAliases[0]: "));
    char body[800];
    char pat[202];
    memset(pat, 'p', 201);
    pat[201] = '\0';
    snprintf(body, sizeof body, "{\"wildcardAliases\":[{\"pattern\":\"%s\",\"target\":\"x/y\"}]}",
             pat);
    CHECK(starts(run(body), "wildcardAliases[0]: "));
    pat[200] = '\0'; /* 200 bytes is the limit */
    snprintf(body, sizeof body, "{\"wildcardAliases\":[{\"pattern\":\"%s\",\"target\":\"x/y\"}]}",
             pat);
    CHECK(starts(run(body), "OK:"));
    char target[257];
    memset(target, 't', 256);
    target[256] = '\0';
    snprintf(body, sizeof body, "{\"wildcardAliases\":[{\"pattern\":\"a\",\"target\":\"%s\"}]}",
             target);
    CHECK(starts(run(body), "wildcardAliases[0]: "));
}

static void test_chains(void)
{
    CHECK_STR(run("{\"fallbackChains\":{\"gpt-4o\":[\"openai/gpt-4o\",\"azure/gpt-4o\"],"
                  "\"x\":[]}}"),
              "OK:{\"fallbackChains\":{\"gpt-4o\":[\"openai/gpt-4o\",\"azure/gpt-4o\"],\"x\":[]}}");
    CHECK(starts(run("{\"fallbackChains\":{\"gpt-4o\":\"openai/gpt-4o\"}}"),
                 "fallbackChains.gpt-4o: must be an array"));
    CHECK(starts(run("{\"fallbackChains\":{\"gpt-4o\":[\"a/b\",\"\"]}}"),
                 "fallbackChains.gpt-4o[1]: must be a non-empty string"));
    CHECK(
        starts(run("{\"fallbackChains\":{\"gpt-4o\":[\"a/b\",3]}}"), "fallbackChains.gpt-4o[1]: "));
    CHECK(starts(run("{\"fallbackChains\":{\"\":[\"a/b\"]}}"), "fallbackChains: "));
    json_t *many = json_array();
    for (int i = 0; i < 33; i++)
        json_array_append_new(many, json_string("a/b"));
    json_t *body = json_pack("{s:{s:o}}", "fallbackChains", "m", many);
    or_errbuf eb = {{0}};
    json_t *r = or_settings_validate(body, &eb);
    CHECK(r == NULL);
    CHECK(starts(eb.msg, "fallbackChains.m: must be an array of at most 32"));
    json_decref(body);
}

static void test_view(void)
{
    json_t *stored = parse("{\"passwordHash\":\"$argon2id$secret\",\"combos\":[{\"name\":\"c\"}],"
                           "\"providerNodes\":[],\"customModels\":{},\"jwtSecret\":\"s\","
                           "\"stickyRoundRobinLimit\":7,\"requireLogin\":\"yes\","
                           "\"wildcardAliases\":[{\"pattern\":\"a*\",\"target\":\"x/y\"}]}");
    json_t *v = or_settings_view(stored);
    CHECK(json_object_size(v) == or_settings_count());
    CHECK(json_object_get(v, "passwordHash") == NULL);
    CHECK(json_object_get(v, "combos") == NULL);
    CHECK(json_object_get(v, "providerNodes") == NULL);
    CHECK(json_object_get(v, "customModels") == NULL);
    CHECK(json_object_get(v, "jwtSecret") == NULL);
    CHECK(json_integer_value(json_object_get(v, "stickyRoundRobinLimit")) == 7);
    CHECK(json_is_true(json_object_get(v, "requireLogin"))); /* a wrong stored type → default */
    CHECK_STR(json_string_value(json_object_get(v, "fallbackStrategy")), "fill-first");
    CHECK(json_integer_value(json_object_get(v, "requestRetry")) == 3);
    CHECK(json_integer_value(json_object_get(v, "maxRetryIntervalSec")) == 30);
    CHECK(json_array_size(json_object_get(v, "wildcardAliases")) == 1);
    CHECK(json_is_object(json_object_get(v, "fallbackChains")));
    /* The view is a copy: editing it leaves the stored settings alone. */
    json_object_set_new(json_object_get(v, "fallbackChains"), "k", json_array());
    CHECK(json_object_get(stored, "fallbackChains") == NULL);
    json_decref(v);
    v = or_settings_view(NULL);
    CHECK(json_object_size(v) == or_settings_count());
    CHECK(json_integer_value(json_object_get(v, "stickyRoundRobinLimit")) == 3);
    json_decref(v);
    json_decref(stored);
}

int main(void)
{
    test_table();
    test_types_and_ranges();
    test_strategy_choices();
    test_aliases();
    test_chains();
    test_view();
    return check_done();
}
