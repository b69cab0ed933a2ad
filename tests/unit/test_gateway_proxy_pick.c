/* Outbound proxy choice: precedence key → combo → connection → provider → global →
 * environment, "direct" at any level, the curl URL (schemes, IPv6, %-encoded credentials), the
 * environment variables with NO_PROXY, and a sealed password opened through a real store. */
#include "check.h"

#include "gateway/proxy_pick.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *url_of(const char *json, const char *password)
{
    static char out[OR_PROXY_URL_MAX];
    json_t *p = json_loads(json, 0, NULL);
    or_errbuf eb = {{0}};
    or_err e = or_proxy_pick_url(p, password, out, sizeof out, &eb);
    json_decref(p);
    if (e != OR_OK)
        snprintf(out, sizeof out, "error: %s", eb.msg);
    return out;
}

static void test_url(void)
{
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"127.0.0.1\",\"port\":3128}", NULL),
              "http://127.0.0.1:3128");
    CHECK_STR(url_of("{\"type\":\"https\",\"host\":\"proxy.example\",\"port\":443}", NULL),
              "https://proxy.example:443");
    CHECK_STR(url_of("{\"type\":\"socks5\",\"host\":\"::1\",\"port\":1080}", NULL),
              "socks5h://[::1]:1080");
    CHECK_STR(
        url_of("{\"type\":\"socks5\",\"host\":\"h\",\"port\":1,\"username\":\"u@x\"}", "p:a/s%s w"),
        "socks5h://u%40x:p%3Aa%2Fs%25s%20w@h:1");
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"h\",\"port\":8,\"username\":\"user\"}", NULL),
              "http://user@h:8");
    /* A password without a user name goes nowhere. */
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"h\",\"port\":8}", "secret"), "http://h:8");
    CHECK_STR(url_of("{\"type\":\"direct\"}", NULL), "");
    CHECK_STR(url_of("{\"type\":\"socks4\",\"host\":\"h\",\"port\":1}", NULL),
              "error: type: must be http, https, socks5 or direct");
    CHECK_STR(url_of("{\"type\":\"http\",\"port\":1}", NULL),
              "error: host: must be a host name or an address");
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"a@b\",\"port\":1}", NULL),
              "error: host: must be a host name or an address");
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"h/x\",\"port\":1}", NULL),
              "error: host: must be a host name or an address");
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"h\",\"port\":0}", NULL),
              "error: port: must be an integer from 1 to 65535");
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"h\",\"port\":65536}", NULL),
              "error: port: must be an integer from 1 to 65535");
    CHECK_STR(url_of("{\"type\":\"http\",\"host\":\"h\",\"port\":\"80\"}", NULL),
              "error: port: must be an integer from 1 to 65535");

    char small[16];
    json_t *p =
        json_loads("{\"type\":\"http\",\"host\":\"a-long-host-name\",\"port\":80}", 0, NULL);
    CHECK(or_proxy_pick_url(p, NULL, small, sizeof small, NULL) == OR_ETOOBIG);
    json_decref(p);
}

static const char *cfg_text =
    "{\"proxy\":{"
    "\"global\":{\"type\":\"http\",\"host\":\"global\",\"port\":1},"
    "\"providers\":{\"openai\":{\"type\":\"http\",\"host\":\"provider\",\"port\":2},"
    "\"conn-1\":{\"type\":\"http\",\"host\":\"connection\",\"port\":3},"
    "\"groq\":{\"type\":\"direct\"}},"
    "\"combos\":{\"coding\":{\"type\":\"socks5\",\"host\":\"combo\",\"port\":4}},"
    "\"keys\":{\"key-1\":{\"type\":\"https\",\"host\":\"key\",\"port\":5},"
    "\"key-direct\":{\"type\":\"direct\"}}}}";

static or_proxy_env empty_env;

static const char *pick(const json_t *settings, const or_proxy_env *env, const char *key,
                        const char *combo, const char *conn, const char *provider, const char *url,
                        or_proxy_level *level)
{
    static char out[OR_PROXY_URL_MAX];
    const char *proxy = (const char *)1;
    or_proxy_scope sc = {key, combo, conn, provider, url};
    or_errbuf eb = {{0}};
    if (or_proxy_pick(NULL, settings, env, &sc, out, sizeof out, &proxy, level, &eb) != OR_OK)
        return "error";
    return proxy ? proxy : "(null)";
}

static void test_precedence(void)
{
    json_t *s = json_loads(cfg_text, 0, NULL);
    CHECK(s != NULL);
    const char *url = "https://api.openai.com/v1";
    or_proxy_level lv;
    CHECK_STR(pick(s, &empty_env, "key-1", "coding", "conn-1", "openai", url, &lv),
              "https://key:5");
    CHECK(lv == OR_PROXY_LEVEL_KEY);
    CHECK_STR(pick(s, &empty_env, "key-other", "coding", "conn-1", "openai", url, &lv),
              "socks5h://combo:4");
    CHECK(lv == OR_PROXY_LEVEL_COMBO);
    CHECK_STR(pick(s, &empty_env, NULL, "other", "conn-1", "openai", url, &lv),
              "http://connection:3");
    CHECK(lv == OR_PROXY_LEVEL_CONNECTION);
    CHECK_STR(pick(s, &empty_env, "", "", "conn-2", "openai", url, &lv), "http://provider:2");
    CHECK(lv == OR_PROXY_LEVEL_PROVIDER);
    CHECK_STR(pick(s, &empty_env, NULL, NULL, "conn-2", "deepseek", url, &lv), "http://global:1");
    CHECK(lv == OR_PROXY_LEVEL_GLOBAL);
    /* direct: no proxy, and the levels below are not consulted */
    CHECK_STR(pick(s, &empty_env, "key-direct", "coding", "conn-1", "openai", url, &lv), "");
    CHECK(lv == OR_PROXY_LEVEL_KEY);
    CHECK_STR(pick(s, &empty_env, NULL, NULL, "conn-9", "groq", url, &lv), "");
    CHECK(lv == OR_PROXY_LEVEL_PROVIDER);
    /* nothing configured, nothing in the environment: a direct connection (NULL) */
    json_t *none = json_object();
    CHECK_STR(pick(none, &empty_env, "key-1", "coding", "conn-1", "openai", url, &lv), "(null)");
    CHECK(lv == OR_PROXY_LEVEL_NONE);
    CHECK_STR(pick(NULL, &empty_env, NULL, NULL, NULL, NULL, url, &lv), "(null)");
    json_decref(none);
    /* entries that are not objects do not count */
    json_t *odd = json_loads("{\"proxy\":{\"keys\":{\"k\":null},\"combos\":[],"
                             "\"global\":{\"type\":\"http\",\"host\":\"g\",\"port\":9}}}",
                             0, NULL);
    CHECK_STR(pick(odd, &empty_env, "k", "c", NULL, NULL, url, &lv), "http://g:9");
    CHECK(lv == OR_PROXY_LEVEL_GLOBAL);
    json_decref(odd);
    /* a malformed entry is an error, not a silent direct connection */
    json_t *bad = json_loads("{\"proxy\":{\"global\":{\"type\":\"ftp\"}}}", 0, NULL);
    CHECK_STR(pick(bad, &empty_env, NULL, NULL, NULL, NULL, url, &lv), "error");
    CHECK(lv == OR_PROXY_LEVEL_NONE);
    json_decref(bad);
    /* the settings beat the environment */
    or_proxy_env env = {0};
    snprintf(env.all, sizeof env.all, "http://envproxy:8");
    CHECK_STR(pick(s, &env, NULL, NULL, NULL, "deepseek", url, &lv), "http://global:1");
    json_decref(s);
    CHECK_STR(or_proxy_pick_level_name(OR_PROXY_LEVEL_ENV), "environment");
    CHECK_STR(or_proxy_pick_level_name((or_proxy_level)99), "?");
}

static void test_no_proxy(void)
{
    CHECK(or_proxy_pick_no_proxy("*", "anything.example"));
    CHECK(or_proxy_pick_no_proxy("example.com", "example.com"));
    CHECK(or_proxy_pick_no_proxy("example.com", "api.example.com"));
    CHECK(or_proxy_pick_no_proxy(".example.com", "api.example.com"));
    CHECK(or_proxy_pick_no_proxy(".example.com", "example.com"));
    CHECK(or_proxy_pick_no_proxy("EXAMPLE.com", "Api.example.COM."));
    CHECK(!or_proxy_pick_no_proxy("example.com", "badexample.com"));
    CHECK(!or_proxy_pick_no_proxy("api.example.com", "example.com"));
    CHECK(or_proxy_pick_no_proxy("localhost, 10.0.0.0/8 ,.internal", "10.3.2.1"));
    CHECK(or_proxy_pick_no_proxy("localhost, 10.0.0.0/8 ,.internal", "db.internal"));
    CHECK(or_proxy_pick_no_proxy("localhost, 10.0.0.0/8 ,.internal", "localhost"));
    CHECK(!or_proxy_pick_no_proxy("localhost, 10.0.0.0/8 ,.internal", "11.0.0.1"));
    CHECK(or_proxy_pick_no_proxy("127.0.0.1", "127.0.0.1"));
    CHECK(!or_proxy_pick_no_proxy("127.0.0.1", "127.0.0.2"));
    CHECK(or_proxy_pick_no_proxy("[::1]", "::1"));
    CHECK(or_proxy_pick_no_proxy("::1", "::1"));
    CHECK(!or_proxy_pick_no_proxy("10.0.0.0/8", "ten.example"));
    CHECK(!or_proxy_pick_no_proxy("", "example.com"));
    CHECK(!or_proxy_pick_no_proxy(",, ,", "example.com"));
    CHECK(!or_proxy_pick_no_proxy(NULL, "example.com"));
    CHECK(!or_proxy_pick_no_proxy("*", ""));
}

static void test_env(void)
{
    or_proxy_env e = {0};
    char out[OR_PROXY_URL_MAX];
    snprintf(e.http, sizeof e.http, "http://h:1");
    snprintf(e.https, sizeof e.https, "http://s:2");
    snprintf(e.all, sizeof e.all, "socks5h://a:3");
    snprintf(e.no, sizeof e.no, "internal.example,192.168.0.0/16");
    or_proxy_pick_env_for(&e, "http://api.example/v1", out, sizeof out);
    CHECK_STR(out, "http://h:1");
    or_proxy_pick_env_for(&e, "HTTPS://api.example/v1", out, sizeof out);
    CHECK_STR(out, "http://s:2");
    or_proxy_pick_env_for(&e, "https://user:pw@x.internal.example:8443/v1", out, sizeof out);
    CHECK_STR(out, "");
    or_proxy_pick_env_for(&e, "http://192.168.4.4:80/v1", out, sizeof out);
    CHECK_STR(out, "");
    or_proxy_pick_env_for(&e, "http://[::1]:80/v1", out, sizeof out);
    CHECK_STR(out, "http://h:1");
    e.https[0] = '\0';
    or_proxy_pick_env_for(&e, "https://api.example/v1", out, sizeof out);
    CHECK_STR(out, "socks5h://a:3");
    or_proxy_pick_env_for(&e, NULL, out, sizeof out);
    CHECK_STR(out, "socks5h://a:3");

    /* Through or_proxy_pick: an exempted host is an explicit "no proxy" (""), so the client does
     * not apply its own reading of the same variables. */
    or_proxy_level lv;
    CHECK_STR(pick(NULL, &e, NULL, NULL, NULL, "x", "http://a.internal.example/", &lv), "");
    CHECK(lv == OR_PROXY_LEVEL_NONE);
    CHECK_STR(pick(NULL, &e, NULL, NULL, NULL, "x", "http://public.example/", &lv), "http://h:1");
    CHECK(lv == OR_PROXY_LEVEL_ENV);

    /* The upper-case names count (HTTP_PROXY is the one curl ignores); lower case wins. */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("all_proxy");
    unsetenv("no_proxy");
    setenv("HTTP_PROXY", "http://upper:1", 1);
    setenv("https_proxy", "http://lower:2", 1);
    setenv("HTTPS_PROXY", "http://upper:2", 1);
    setenv("ALL_PROXY", "", 1);
    setenv("NO_PROXY", "skip.example", 1);
    or_proxy_pick_env_load(&e);
    CHECK_STR(e.http, "http://upper:1");
    CHECK_STR(e.https, "http://lower:2");
    CHECK_STR(e.all, "");
    CHECK_STR(e.no, "skip.example");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("NO_PROXY");
}

static char root[64];

static void test_sealed(void)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/store", root);
    or_store *st = NULL;
    or_errbuf eb = {{0}};
    CHECK(or_store_open(dir, &st, &eb) == OR_OK);
    if (!st)
        return;
    char *sealed = NULL;
    CHECK(or_store_seal(st, "pa:ss word", &sealed) == OR_OK);
    json_t *s =
        json_pack("{s:{s:{s:s, s:s, s:i, s:s, s:s}}}", "proxy", "global", "type", "socks5", "host",
                  "127.0.0.1", "port", 1080, "username", "me", "passwordSealed", sealed);
    free(sealed);
    char out[OR_PROXY_URL_MAX];
    const char *proxy = NULL;
    or_proxy_scope sc = {.provider = "openai", .url = "https://api.openai.com"};
    CHECK(or_proxy_pick(st, s, &empty_env, &sc, out, sizeof out, &proxy, NULL, &eb) == OR_OK);
    CHECK_STR(proxy, "socks5h://me:pa%3Ass%20word@127.0.0.1:1080");
    sodium_memzero(out, sizeof out);

    /* Garbage where the sealed password should be: refused, the buffer wiped. */
    json_object_set_new(json_object_get(json_object_get(s, "proxy"), "global"), "passwordSealed",
                        json_string("bm90IHNlYWxlZA=="));
    or_proxy_level lv;
    CHECK(or_proxy_pick(st, s, &empty_env, &sc, out, sizeof out, &proxy, &lv, &eb) == OR_ECRYPTO);
    CHECK(proxy == NULL);
    CHECK(out[0] == '\0');
    CHECK(strstr(eb.msg, "global") != NULL);
    /* No store to open it with: the same refusal. */
    CHECK(or_proxy_pick(NULL, s, &empty_env, &sc, out, sizeof out, &proxy, &lv, &eb) == OR_ECRYPTO);
    json_decref(s);
    or_store_close(st);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/or-proxy-pick-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    test_url();
    test_precedence();
    test_no_proxy();
    test_env();
    test_sealed();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        return 1;
    return check_done();
}
