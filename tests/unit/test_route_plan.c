/* Model resolution (route/plan.h): combos by name and "combo/<name>", nesting in place with the
 * depth cap and no self-expansion, each strategy's order (seeded random and weighted, round-robin
 * over many calls and threads, least-used fed by or_plan_used, cost from pricing), wildcard
 * aliases and their specificity rule, fallback chains, duplicates, the OR_PLAN_MAX cap, and the
 * write-time graph check. */
#include "check.h"
#include "core/glob.h"

#include "core/clock.h"
#include "core/rand.h"
#include "route/plan.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static void xorshift(void *buf, size_t n, void *ud)
{
    (void)ud;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        p[i] = (unsigned char)(seed >> 24);
    }
}

static int64_t fake_wall;
static uint64_t fake_mono(void *ud)
{
    (void)ud;
    return (uint64_t)fake_wall;
}
static int64_t fake_wall_ms(void *ud)
{
    (void)ud;
    return fake_wall;
}

static json_t *settings_of(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fprintf(stderr, "bad test JSON: %s (%s)\n", err.text, text);
    return j;
}

/* The plan's targets joined with ',' (a static buffer: one use per expression). */
static const char *joined(const or_plan *p)
{
    static char buf[OR_PLAN_MAX * 260];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++)
        len +=
            (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "", p->steps[i].model);
    return buf;
}

static const char *resolve(or_route_state *st, const json_t *s, const char *model)
{
    or_plan p;
    or_errbuf eb = {{0}};
    or_err e = or_plan_resolve(st, s, model, &p, &eb);
    if (e != OR_OK) {
        static char err[300];
        snprintf(err, sizeof err, "ERR %s", eb.msg);
        return err;
    }
    return joined(&p);
}

static void test_plain_and_unknown(void)
{
    json_t *s = settings_of("{}");
    or_plan p;
    or_errbuf eb = {{0}};
    CHECK(or_plan_resolve(NULL, s, "openai/gpt-4o", &p, &eb) == OR_OK);
    CHECK(p.n == 1);
    CHECK_STR(p.steps[0].model, "openai/gpt-4o");
    CHECK_STR(p.combo, "");
    CHECK_STR(resolve(NULL, s, "openrouter/anthropic/claude-x"), "openrouter/anthropic/claude-x");
    CHECK(or_plan_resolve(NULL, s, "gpt-4o", &p, &eb) == OR_EINVAL);
    CHECK(strstr(eb.msg, "`gpt-4o`") != NULL);
    CHECK(or_plan_resolve(NULL, s, "/x", &p, &eb) == OR_EINVAL);
    CHECK(or_plan_resolve(NULL, s, "x/", &p, &eb) == OR_EINVAL);
    CHECK(or_plan_resolve(NULL, s, "", &p, &eb) == OR_EINVAL);
    CHECK(or_plan_resolve(NULL, s, NULL, &p, &eb) == OR_EINVAL);
    CHECK(or_plan_resolve(NULL, s, "combo/nope", &p, &eb) == OR_EINVAL);
    CHECK(strstr(eb.msg, "no combo named `nope`") != NULL);
    char longm[300];
    memset(longm, 'a', sizeof longm - 1);
    longm[sizeof longm - 1] = '\0';
    longm[3] = '/';
    CHECK(or_plan_resolve(NULL, s, longm, &p, &eb) == OR_EINVAL);
    CHECK(or_plan_resolve(NULL, NULL, "a/b", &p, &eb) == OR_OK); /* no settings at all */
    json_decref(s);
}

static void test_combo_names(void)
{
    json_t *s = settings_of("{\"combos\":[{\"name\":\"fast\",\"models\":[\"a/1\",\"b/2\"]},"
                            "{\"name\":\"team/x\",\"models\":[\"c/3\"]},"
                            "{\"name\":\"openai/gpt-4o\",\"models\":[\"d/4\"]}]}");
    or_plan p;
    or_errbuf eb = {{0}};
    CHECK(or_plan_resolve(NULL, s, "fast", &p, &eb) == OR_OK);
    CHECK_STR(joined(&p), "a/1,b/2");
    CHECK_STR(p.combo, "fast");
    CHECK(or_plan_resolve(NULL, s, "combo/fast", &p, &eb) == OR_OK);
    CHECK_STR(joined(&p), "a/1,b/2");
    CHECK_STR(p.combo, "fast");
    CHECK_STR(resolve(NULL, s, "team/x"), "c/3");
    CHECK_STR(resolve(NULL, s, "combo/team/x"), "c/3");
    /* A combo may shadow a real model id on purpose. */
    CHECK_STR(resolve(NULL, s, "openai/gpt-4o"), "d/4");
    CHECK_STR(resolve(NULL, s, "openai/gpt-4o-mini"), "openai/gpt-4o-mini");
    CHECK(or_plan_find_combo(json_object_get(s, "combos"), "combo/fast") != NULL);
    CHECK(or_plan_find_combo(json_object_get(s, "combos"), "slow") == NULL);
    CHECK(or_plan_find_combo(NULL, "fast") == NULL);
    json_decref(s);
}

static void test_nesting(void)
{
    json_t *s =
        settings_of("{\"combos\":["
                    "{\"name\":\"outer\",\"models\":[\"a/1\",\"inner\",{\"model\":\"a/3\"}]},"
                    "{\"name\":\"inner\",\"models\":[\"b/1\",\"combo/leaf\"]},"
                    "{\"name\":\"leaf\",\"models\":[\"c/1\"]},"
                    "{\"name\":\"self\",\"models\":[\"s/1\",\"self\",\"s/2\"]},"
                    "{\"name\":\"ping\",\"models\":[\"p/1\",\"pong\"]},"
                    "{\"name\":\"pong\",\"models\":[\"q/1\",\"ping\",\"q/2\"]},"
                    "{\"name\":\"l1\",\"models\":[\"l/"
                    "1\",\"l2\"]},{\"name\":\"l2\",\"models\":[\"l/2\",\"l3\"]},"
                    "{\"name\":\"l3\",\"models\":[\"l/"
                    "3\",\"l4\"]},{\"name\":\"l4\",\"models\":[\"l/4\",\"l5\"]},"
                    "{\"name\":\"l5\",\"models\":[\"l/5\"]},"
                    "{\"name\":\"dangling\",\"models\":[\"gone\",\"x/1\",42,{\"weight\":3}]},"
                    "{\"name\":\"empty\",\"models\":[\"gone\"]}]}");
    CHECK_STR(resolve(NULL, s, "outer"), "a/1,b/1,c/1,a/3");
    CHECK_STR(resolve(NULL, s, "self"), "s/1,s/2");
    CHECK_STR(resolve(NULL, s, "ping"), "p/1,q/1,q/2");
    CHECK_STR(resolve(NULL, s, "pong"), "q/1,p/1,q/2");
    /* Four combos on a path at most: l5 is past the cap. */
    CHECK_STR(resolve(NULL, s, "l1"), "l/1,l/2,l/3,l/4");
    CHECK_STR(resolve(NULL, s, "l2"), "l/2,l/3,l/4,l/5");
    CHECK_STR(resolve(NULL, s, "dangling"), "x/1");
    or_plan p;
    or_errbuf eb = {{0}};
    CHECK(or_plan_resolve(NULL, s, "empty", &p, &eb) == OR_EINVAL);
    CHECK(strstr(eb.msg, "no usable targets") != NULL);
    json_decref(s);
}

static void test_duplicates_and_cap(void)
{
    json_t *s = settings_of("{\"combos\":[{\"name\":\"d\",\"models\":[\"x/1\",\"x/1\",\"e\","
                            "{\"model\":\"y/1\",\"weight\":5}]},"
                            "{\"name\":\"e\",\"models\":[\"x/1\",\"y/1\",\"z/1\"]}],"
                            "\"fallbackChains\":{\"d\":[\"z/1\",\"w/1\"]}}");
    CHECK_STR(resolve(NULL, s, "d"), "x/1,y/1,z/1,w/1");
    json_decref(s);

    json_t *big = json_object(), *combos = json_array(), *models = json_array();
    for (int i = 0; i < OR_PLAN_MAX_STEPS + 10; i++) {
        char m[32];
        snprintf(m, sizeof m, "p/m%d", i);
        json_array_append_new(models, json_string(m));
    }
    json_array_append_new(combos, json_pack("{s:s, s:o}", "name", "big", "models", models));
    json_object_set_new(big, "combos", combos);
    or_plan p;
    or_errbuf eb = {{0}};
    CHECK(or_plan_resolve(NULL, big, "big", &p, &eb) == OR_OK);
    CHECK(p.n == OR_PLAN_MAX);
    CHECK_STR(p.steps[0].model, "p/m0");
    CHECK_STR(p.steps[OR_PLAN_MAX - 1].model, "p/m31");
    json_decref(big);
}

static void test_round_robin(void)
{
    or_route_state *st = or_route_state_new();
    json_t *s = settings_of(
        "{\"combos\":["
        "{\"name\":\"rr1\",\"strategy\":\"round-robin\",\"config\":{\"stickyRoundRobinLimit\":1},"
        "\"models\":[\"a/1\",\"b/1\",\"c/1\"]},"
        "{\"name\":\"rr0\",\"strategy\":\"round-robin\",\"config\":{\"stickyRoundRobinLimit\":0},"
        "\"models\":[\"a/1\",\"b/1\"]},"
        "{\"name\":\"rrg\",\"strategy\":\"round-robin\",\"models\":[\"a/1\",\"b/1\"]},"
        "{\"name\":\"rrd\",\"strategy\":\"round_robin\",\"models\":[\"a/1\",\"b/1\"]}],"
        "\"stickyRoundRobinLimit\":2}");
    const char *want1[] = {"a/1,b/1,c/1", "b/1,c/1,a/1", "c/1,a/1,b/1"};
    for (int i = 0; i < 300; i++)
        CHECK_STR(resolve(st, s, "rr1"), want1[i % 3]);
    /* Explicit 0 rotates every request, like 1. */
    CHECK_STR(resolve(st, s, "rr0"), "a/1,b/1");
    CHECK_STR(resolve(st, s, "rr0"), "b/1,a/1");
    /* No per-combo limit: the settings' 2. Counters are per combo name. */
    const char *wantg[] = {"a/1,b/1", "a/1,b/1", "b/1,a/1", "b/1,a/1"};
    for (int i = 0; i < 40; i++)
        CHECK_STR(resolve(st, s, "rrg"), wantg[i % 4]);
    json_object_del(s, "stickyRoundRobinLimit");
    int firsts = 0;
    for (int i = 0; i < 60; i++)
        firsts += strcmp(resolve(st, s, "rrd"), "a/1,b/1") == 0;
    CHECK(firsts == 30); /* default stickiness 3: a a a b b b … */
    CHECK_STR(resolve(st, s, "rrd"), "a/1,b/1");
    /* Without a state there is no memory: always the list order. */
    for (int i = 0; i < 5; i++)
        CHECK_STR(resolve(NULL, s, "rr1"), "a/1,b/1,c/1");
    json_decref(s);
    or_route_state_free(st);
}

typedef struct {
    or_route_state *st;
    const json_t *s;
    int n;
} rr_job;

static void *rr_thread(void *arg)
{
    rr_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        or_plan p;
        or_errbuf eb;
        if (or_plan_resolve(j->st, j->s, "rr", &p, &eb) == OR_OK && p.n == 3)
            or_plan_used(j->st, "rr", p.steps[0].model);
    }
    return NULL;
}

static void test_round_robin_threads(void)
{
    or_route_state *st = or_route_state_new();
    json_t *s = settings_of("{\"combos\":[{\"name\":\"rr\",\"strategy\":\"round-robin\","
                            "\"config\":{\"stickyRoundRobinLimit\":1},"
                            "\"models\":[\"a/1\",\"b/1\",\"c/1\"]}]}");
    pthread_t t[4];
    rr_job j = {st, s, 1000};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, rr_thread, &j);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* 4000 resolutions: the next one starts at 4000 % 3 = 1. */
    CHECK_STR(resolve(st, s, "rr"), "b/1,c/1,a/1");
    json_decref(s);
    or_route_state_free(st);
}

static void test_random_and_weighted(void)
{
    or_rand_set(xorshift, NULL);
    json_t *s = settings_of(
        "{\"combos\":["
        "{\"name\":\"rnd\",\"strategy\":\"random\",\"models\":[\"a/1\",\"b/1\",\"c/1\"]},"
        "{\"name\":\"w\",\"strategy\":\"weighted\",\"models\":[{\"model\":\"a/1\",\"weight\":80},"
        "{\"model\":\"b/1\",\"weight\":20},\"c/1\"]},"
        "{\"name\":\"w0\",\"strategy\":\"weighted\",\"models\":[\"a/1\",\"b/1\"]}]}");
    int first[3] = {0};
    for (int i = 0; i < 3000; i++) {
        const char *r = resolve(NULL, s, "rnd");
        CHECK(strlen(r) == 11 && strstr(r, "a/1") && strstr(r, "b/1") && strstr(r, "c/1"));
        first[r[0] - 'a']++;
    }
    for (int i = 0; i < 3; i++)
        CHECK(first[i] > 850 && first[i] < 1150);
    int wa = 0, wb = 0;
    for (int i = 0; i < 10000; i++) {
        const char *r = resolve(NULL, s, "w");
        if (strcmp(r, "a/1,b/1,c/1") == 0)
            wa++;
        else if (strcmp(r, "b/1,a/1,c/1") == 0)
            wb++;
    }
    CHECK(wa + wb == 10000); /* weight 0 is never first; the rest follow by weight */
    CHECK(wa > 7700 && wa < 8300);
    int w0a = 0;
    for (int i = 0; i < 2000; i++)
        w0a += resolve(NULL, s, "w0")[0] == 'a';
    CHECK(w0a > 850 && w0a < 1150); /* every weight 0 → uniform */
    or_rand_set(NULL, NULL);
    json_decref(s);
}

static void test_least_used_and_cost(void)
{
    or_clock_source clk = {fake_mono, fake_wall_ms, NULL};
    or_clock_set(&clk);
    fake_wall = 1000;
    or_route_state *st = or_route_state_new();
    json_t *s = settings_of(
        "{\"combos\":["
        "{\"name\":\"lu\",\"strategy\":\"least-used\",\"models\":[\"a/1\",\"b/1\",\"n\"]},"
        "{\"name\":\"n\",\"models\":[\"c/1\",\"d/1\"]},"
        "{\"name\":\"co\",\"strategy\":\"cost-optimized\",\"models\":[\"x/dear\",\"y/unknown\","
        "\"x/cheap\",\"x/free\"]},"
        "{\"name\":\"bogus\",\"strategy\":\"auto\",\"models\":[\"b/1\",\"a/1\"]}],"
        "\"pricing\":{\"x\":{\"dear\":{\"input\":15},\"cheap\":{\"input\":0.5},"
        "\"free\":{\"input\":0}}}}");
    CHECK_STR(resolve(st, s, "lu"), "a/1,b/1,c/1,d/1");
    or_plan_used(st, "lu", "a/1");
    CHECK_STR(resolve(st, s, "lu"), "b/1,c/1,d/1,a/1");
    fake_wall = 2000;
    or_plan_used(st, "lu", "b/1");
    fake_wall = 3000;
    or_plan_used(st, "lu", "c/1");
    /* All used once: the one used longest ago first; the nested step counts as its latest. */
    CHECK_STR(resolve(st, s, "lu"), "a/1,b/1,c/1,d/1");
    or_plan_used(st, "lu", "a/1");
    or_plan_used(st, "lu", "b/1");
    CHECK_STR(resolve(st, s, "lu"), "c/1,d/1,a/1,b/1");
    or_plan_used(st, "lu", "d/1"); /* the nested step now sums 2 uses, as a and b */
    fake_wall = 4000;
    or_plan_used(st, "lu", "a/1");
    CHECK_STR(resolve(st, s, "lu"), "b/1,c/1,d/1,a/1");
    or_plan_used(st, NULL, "a/1"); /* ignored */
    or_plan_used(st, "lu", NULL);
    or_plan_used(NULL, "lu", "a/1");
    CHECK_STR(resolve(st, s, "co"), "x/free,x/cheap,x/dear,y/unknown");
    CHECK_STR(resolve(st, s, "bogus"), "b/1,a/1");
    /* Many combos and many models: the tables stay bounded and leak-free; the oldest rows
     * (b, c, d, then a) are forgotten first. */
    for (int i = 0; i < 600; i++) {
        char c[32], m[32];
        snprintf(c, sizeof c, "c%d", i % 300);
        snprintf(m, sizeof m, "p/m%d", i);
        fake_wall++;
        or_plan_used(st, c, m);
        or_plan_used(st, "lu", m);
        if (i == 62) /* 64 rows: b, c and d made room */
            CHECK_STR(resolve(st, s, "lu"), "b/1,c/1,d/1,a/1");
        if (i == 63) /* and now a */
            CHECK_STR(resolve(st, s, "lu"), "a/1,b/1,c/1,d/1");
    }
    CHECK_STR(resolve(st, s, "lu"), "a/1,b/1,c/1,d/1");
    json_decref(s);
    or_route_state_free(st);
    or_clock_set(NULL);
}

static void test_glob(void)
{
    CHECK(or_glob_match("gpt-*", "gpt-4o"));
    CHECK(or_glob_match("gpt-*", "gpt-"));
    CHECK(!or_glob_match("gpt-*", "gpt"));
    CHECK(or_glob_match("gpt-4?", "gpt-4o"));
    CHECK(!or_glob_match("gpt-4?", "gpt-4"));
    CHECK(!or_glob_match("gpt-4?", "gpt-4oo"));
    CHECK(or_glob_match("*", ""));
    CHECK(or_glob_match("*sonnet*", "claude-3-5-sonnet-latest"));
    CHECK(or_glob_match("a*b*c", "aXXbYYbZc"));
    CHECK(!or_glob_match("a*b*c", "aXXbYYbZ"));
    CHECK(or_glob_match("**x", "x"));
    CHECK(!or_glob_match("GPT-*", "gpt-4")); /* case-sensitive */
    CHECK(or_glob_match("", "") && !or_glob_match("", "a"));
}

static void test_aliases(void)
{
    json_t *s = settings_of("{\"wildcardAliases\":["
                            "{\"pattern\":\"gpt-*\",\"target\":\"openai/any\"},"
                            "{\"pattern\":\"gpt-4*\",\"target\":\"openai/four\"},"
                            "{\"pattern\":\"gpt-4?\",\"target\":\"openai/four-q\"},"
                            "{\"pattern\":\"gpt-4o\",\"target\":\"openai/exact\"},"
                            "{\"pattern\":\"claude-*\",\"target\":\"first/claude\"},"
                            "{\"pattern\":\"*-sonnet\",\"target\":\"second/claude\"},"
                            "{\"pattern\":\"fast*\",\"target\":\"quick\"},"
                            "{\"pattern\":\"bad*\",\"target\":\"no-slash\"},"
                            "{\"pattern\":\"openai/gpt-3*\",\"target\":\"cheap/gpt\"},"
                            "{\"pattern\":42,\"target\":\"x/y\"}],"
                            "\"combos\":[{\"name\":\"quick\",\"models\":[\"q/1\"]},"
                            "{\"name\":\"gpt-combo\",\"models\":[\"c/1\"]}],"
                            "\"fallbackChains\":{\"quick\":[\"q/2\"],\"fastest\":[\"q/3\"],"
                            "\"openai/four\":[\"backup/four\"]}}");
    or_plan p;
    or_errbuf eb = {{0}};
    CHECK_STR(resolve(NULL, s, "gpt-4o"), "openai/exact");
    CHECK_STR(resolve(NULL, s, "gpt-4x"), "openai/four-q"); /* '?' beats '*' at 5 literals */
    CHECK_STR(resolve(NULL, s, "gpt-4.1"), "openai/four,backup/four"); /* + the target's chain */
    CHECK_STR(resolve(NULL, s, "gpt-3.5"), "openai/any");
    /* Same literals, same stars: the earlier entry wins. */
    CHECK_STR(resolve(NULL, s, "claude-sonnet"), "first/claude");
    /* A combo's name beats an alias; an alias may target a combo. */
    CHECK_STR(resolve(NULL, s, "gpt-combo"), "c/1");
    CHECK(or_plan_resolve(NULL, s, "fastest", &p, &eb) == OR_OK);
    CHECK_STR(joined(&p), "q/1,q/3,q/2");
    CHECK_STR(p.combo, "quick");
    /* Aliases apply before provider/model. */
    CHECK_STR(resolve(NULL, s, "openai/gpt-3.5-turbo"), "cheap/gpt");
    CHECK(or_plan_resolve(NULL, s, "bad-model", &p, &eb) == OR_EINVAL);
    CHECK(strstr(eb.msg, "no-slash") != NULL);
    CHECK(or_plan_resolve(NULL, s, "llama", &p, &eb) == OR_EINVAL);
    json_decref(s);
}

static void test_chains(void)
{
    json_t *s = settings_of("{\"combos\":[{\"name\":\"c\",\"models\":[\"a/1\"]},"
                            "{\"name\":\"backup\",\"models\":[\"b/1\",\"b/2\"]}],"
                            "\"fallbackChains\":{"
                            "\"openai/gpt-4o\":[\"azure/gpt-4o\",\"openai/gpt-4o\",\"backup\","
                            "\"junk\",7],"
                            "\"combo/c\":[\"x/1\"],\"c\":[\"x/2\"]}}");
    CHECK_STR(resolve(NULL, s, "openai/gpt-4o"), "openai/gpt-4o,azure/gpt-4o,b/1,b/2");
    CHECK_STR(resolve(NULL, s, "combo/c"), "a/1,x/1,x/2");
    CHECK_STR(resolve(NULL, s, "c"), "a/1,x/2");
    CHECK_STR(resolve(NULL, s, "other/m"), "other/m");
    json_decref(s);
}

static void check_graph(const char *combos, const char *first, const char *want_in_msg)
{
    json_t *c = settings_of(combos);
    or_errbuf eb = {{0}};
    or_err e = or_plan_check_combos(c, first, &eb);
    if (!want_in_msg) {
        CHECK(e == OR_OK);
        if (e != OR_OK)
            fprintf(stderr, "  unexpected: %s\n", eb.msg);
    } else {
        CHECK(e == OR_EINVAL);
        CHECK(strstr(eb.msg, want_in_msg) != NULL);
        if (!strstr(eb.msg, want_in_msg))
            fprintf(stderr, "  got: %s (want %s)\n", eb.msg, want_in_msg);
    }
    json_decref(c);
}

static void test_check_combos(void)
{
    check_graph("[]", NULL, NULL);
    check_graph(
        "[{\"name\":\"a\",\"models\":[\"b\",\"p/1\"]},{\"name\":\"b\",\"models\":[\"p/2\"]}]", "a",
        NULL);
    check_graph("[{\"name\":\"a\",\"models\":[\"a\"]}]", "a", "cycle a → a");
    check_graph("[{\"name\":\"a\",\"models\":[\"p/1\",\"b\"]},"
                "{\"name\":\"b\",\"models\":[{\"model\":\"combo/c\"}]},"
                "{\"name\":\"c\",\"models\":[\"a\"]}]",
                "b", "cycle b → c → a → b");
    check_graph("[{\"name\":\"a\",\"models\":[\"p/1\",\"b\"]},"
                "{\"name\":\"b\",\"models\":[{\"model\":\"combo/c\"}]},"
                "{\"name\":\"c\",\"models\":[\"a\"]}]",
                NULL, "cycle a → b → c → a");
    /* Four levels are fine; five are not, wherever the walk starts. */
    const char *four =
        "[{\"name\":\"l1\",\"models\":[\"l2\"]},{\"name\":\"l2\",\"models\":[\"l3\"]},"
        "{\"name\":\"l3\",\"models\":[\"l4\"]},{\"name\":\"l4\",\"models\":[\"p/1\"]}]";
    check_graph(four, "l4", NULL);
    const char *five =
        "[{\"name\":\"l1\",\"models\":[\"l2\"]},{\"name\":\"l2\",\"models\":[\"l3\"]},"
        "{\"name\":\"l3\",\"models\":[\"l4\"]},{\"name\":\"l4\",\"models\":[\"l5\"]},"
        "{\"name\":\"l5\",\"models\":[\"p/1\"]}]";
    check_graph(five, "l1", "deeper than 4 levels: l1 → l2 → l3 → l4 → l5");
    check_graph(five, "l5", "deeper than 4 levels: l1 → l2 → l3 → l4 → l5");
    check_graph(five, "l3", "l1 → l2 → l3 → l4 → l5");
    /* A diamond is not a cycle. */
    check_graph("[{\"name\":\"a\",\"models\":[\"b\",\"c\"]},{\"name\":\"b\",\"models\":[\"d\"]},"
                "{\"name\":\"c\",\"models\":[\"d\"]},{\"name\":\"d\",\"models\":[\"p/1\"]}]",
                "a", NULL);
    check_graph("[{\"name\":\"a\",\"models\":[\"missing\",7,{}]}]", "nobody", NULL);
}

int main(void)
{
    test_plain_and_unknown();
    test_combo_names();
    test_nesting();
    test_duplicates_and_cap();
    test_round_robin();
    test_round_robin_threads();
    test_random_and_weighted();
    test_least_used_and_cost();
    test_glob();
    test_aliases();
    test_chains();
    test_check_combos();
    return check_done();
}
