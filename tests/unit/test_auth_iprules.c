/* IP rules: address and CIDR parsing (IPv4, IPv6, mapped), matching, normalization, the
 * settings validator, verdicts per scope and temporary bans on a hand-driven clock. */
#include "auth/iprules.h"
#include "core/clock.h"

#include "check.h"

#include <string.h>

static uint64_t fake_mono = 1000000;
static uint64_t mono(void *ud)
{
    (void)ud;
    return fake_mono;
}
static int64_t wall(void *ud)
{
    (void)ud;
    return 1700000000000;
}

static bool in(const char *cidr, const char *ip)
{
    or_cidr c;
    uint8_t a[16];
    if (or_cidr_parse(cidr, strlen(cidr), &c, NULL) != OR_OK || !or_ip_parse(ip, strlen(ip), a))
        return false;
    return or_cidr_contains(&c, a);
}

static const char *canon(const char *s)
{
    static char out[OR_IPRULES_TEXT_MAX];
    or_cidr c;
    if (or_cidr_parse(s, strlen(s), &c, NULL) != OR_OK)
        return "(invalid)";
    or_cidr_format(&c, out, sizeof out);
    return out;
}

static void test_parse(void)
{
    static const char *const good[] = {
        "1.2.3.4",        "0.0.0.0/0",     "10.0.0.0/8", "255.255.255.255/32", "::1",
        "::/0",           "2001:db8::/32", "fe80::1/64", "::ffff:1.2.3.4",     "::ffff:0:0/96",
        "192.168.1.0/24",
    };
    static const char *const bad[] = {
        "",           "1.2.3",     "1.2.3.4/33",   "1.2.3.4/",   "1.2.3.4/08", "1.2.3.4/-1",
        "01.2.3.4",   "1.2.3.256", "::1/129",      "fe80::1%lo", " 1.2.3.4",   "1.2.3.4 ",
        "1.2.3.4/8x", "abc",       "1.2.3.4/1000", "::/",        "/8",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        or_cidr c;
        CHECK(or_cidr_parse(good[i], strlen(good[i]), &c, NULL) == OR_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        or_cidr c;
        or_errbuf eb = {{0}};
        CHECK(or_cidr_parse(bad[i], strlen(bad[i]), &c, &eb) == OR_EINVAL);
        CHECK(eb.msg[0] != '\0');
    }
    /* A NUL inside the given length is not an address. */
    or_cidr c;
    CHECK(or_cidr_parse("1.2.3.4\0/8", 10, &c, NULL) == OR_EINVAL);
    CHECK(or_cidr_parse(NULL, 0, &c, NULL) == OR_EINVAL);
    uint8_t a[16];
    CHECK(!or_ip_parse("10.0.0.0/8", 10, a));
    CHECK(or_ip_parse("10.0.0.1", 8, a));
}

static void test_canonical(void)
{
    CHECK_STR(canon("10.1.2.3/8"), "10.0.0.0/8");
    CHECK_STR(canon("1.2.3.4/32"), "1.2.3.4");
    CHECK_STR(canon("1.2.3.4"), "1.2.3.4");
    CHECK_STR(canon("0.0.0.0/0"), "0.0.0.0/0");
    CHECK_STR(canon("2001:db8:ffff::1/32"), "2001:db8::/32");
    CHECK_STR(canon("::1/128"), "::1");
    CHECK_STR(canon("::ffff:10.9.8.7"), "10.9.8.7");
    CHECK_STR(canon("::ffff:10.9.8.7/120"), "10.9.8.0/24");
    CHECK_STR(canon("192.168.1.77/25"), "192.168.1.0/25");
    CHECK_STR(canon("192.168.1.200/25"), "192.168.1.128/25");
    CHECK_STR(canon("::/0"), "::/0");
}

static void test_match(void)
{
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK(!in("10.0.0.0/8", "11.0.0.1"));
    CHECK(in("10.0.0.0/8", "::ffff:10.1.1.1")); /* an IPv4 peer on a dual-stack socket */
    CHECK(in("0.0.0.0/0", "8.8.8.8"));
    CHECK(!in("0.0.0.0/0", "::1")); /* an IPv4 "everything" is not IPv6 */
    CHECK(in("::/0", "::1"));
    CHECK(in("::/0", "1.2.3.4"));
    CHECK(in("1.2.3.4", "1.2.3.4"));
    CHECK(!in("1.2.3.4", "1.2.3.5"));
    CHECK(in("192.168.1.128/25", "192.168.1.255"));
    CHECK(!in("192.168.1.128/25", "192.168.1.127"));
    CHECK(in("2001:db8::/32", "2001:db8:1::5"));
    CHECK(!in("2001:db8::/32", "2001:db9::5"));
    CHECK(in("fe80::/10", "febf::1"));
    CHECK(!in("fe80::/10", "fec0::1"));
    CHECK(in("::1", "::1"));
    CHECK(!in("::1", "127.0.0.1"));
}

static json_t *validated(const char *text, or_errbuf *eb)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    json_t *out = or_iprules_setting_validate("ipAllowlist", v, eb);
    json_decref(v);
    return out;
}

static void test_validate(void)
{
    or_errbuf eb = {{0}};
    json_t *o = validated("{\"client\":[\"10.1.2.3/8\",\"::1/128\"]}", &eb);
    char *s = o ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    CHECK_STR(s, "{\"client\":[\"10.0.0.0/8\",\"::1\"],\"management\":[]}");
    free(s);
    json_decref(o);

    o = validated("[\"127.0.0.1\"]", &eb); /* an array: the same list for both */
    s = o ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    CHECK_STR(s, "{\"client\":[\"127.0.0.1\"],\"management\":[\"127.0.0.1\"]}");
    free(s);
    json_decref(o);

    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"{\"client\":[\"10.0.0.0/8\",\"nope\"]}", "ipAllowlist.client[1]: not an IP address"},
        {"{\"management\":[\"1.2.3.4/40\"]}", "ipAllowlist.management[0]: prefix length over /32"},
        {"{\"management\":[42]}", "ipAllowlist.management[0]: must be a string"},
        {"{\"client\":\"1.2.3.4\"}", "ipAllowlist.client: must be an array"},
        {"{\"admin\":[]}", "ipAllowlist.admin: unknown list"},
        {"\"1.2.3.4\"", "ipAllowlist: must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        eb.msg[0] = '\0';
        o = validated(bad[i].in, &eb);
        CHECK(o == NULL);
        CHECK(strncmp(eb.msg, bad[i].msg, strlen(bad[i].msg)) == 0);
        if (strncmp(eb.msg, bad[i].msg, strlen(bad[i].msg)) != 0)
            fprintf(stderr, "  got: %s\n", eb.msg);
        json_decref(o);
    }
    /* Over the cap. */
    json_t *big = json_array();
    for (int i = 0; i <= OR_IPRULES_MAX; i++)
        json_array_append_new(big, json_string("1.2.3.4"));
    o = or_iprules_setting_validate("ipBlocklist", big, &eb);
    CHECK(o == NULL);
    CHECK(strstr(eb.msg, "at most") != NULL);
    json_decref(big);
}

static void test_verdicts(void)
{
    json_t *settings = json_loads("{\"ipAllowlist\":{\"client\":[],\"management\":[\"127.0.0.0/8\","
                                  "\"::1\"]},\"ipBlocklist\":{\"client\":[\"10.0.0.0/8\"],"
                                  "\"management\":[\"127.0.0.2\"]}}",
                                  0, NULL);
    CHECK(settings != NULL);
    CHECK(or_iprules_check(settings, OR_IP_CLIENT, "8.8.8.8", NULL) == OR_IP_ALLOW);
    CHECK(or_iprules_check(settings, OR_IP_CLIENT, "10.2.3.4", NULL) == OR_IP_BLOCKED);
    CHECK(or_iprules_check(settings, OR_IP_CLIENT, "::ffff:10.2.3.4", NULL) == OR_IP_BLOCKED);
    CHECK(or_iprules_check(settings, OR_IP_MANAGEMENT, "10.2.3.4", NULL) == OR_IP_NOT_ALLOWED);
    CHECK(or_iprules_check(settings, OR_IP_MANAGEMENT, "127.0.0.1", NULL) == OR_IP_ALLOW);
    CHECK(or_iprules_check(settings, OR_IP_MANAGEMENT, "::1", NULL) == OR_IP_ALLOW);
    /* The blocklist beats the allowlist. */
    CHECK(or_iprules_check(settings, OR_IP_MANAGEMENT, "127.0.0.2", NULL) == OR_IP_BLOCKED);
    /* An address that does not parse passes lists that only block, not an allowlist. */
    CHECK(or_iprules_check(settings, OR_IP_CLIENT, "", NULL) == OR_IP_ALLOW);
    CHECK(or_iprules_check(settings, OR_IP_MANAGEMENT, "", NULL) == OR_IP_NOT_ALLOWED);
    CHECK(or_iprules_check(settings, OR_IP_MANAGEMENT, NULL, NULL) == OR_IP_NOT_ALLOWED);
    /* No settings at all. */
    CHECK(or_iprules_check(NULL, OR_IP_CLIENT, "1.1.1.1", NULL) == OR_IP_ALLOW);
    json_t *empty = json_object();
    CHECK(or_iprules_check(empty, OR_IP_MANAGEMENT, "1.1.1.1", NULL) == OR_IP_ALLOW);
    json_decref(empty);
    /* A corrupt entry never matches: an allowlist of garbage refuses everyone. */
    json_t *bad = json_loads("{\"ipAllowlist\":{\"client\":[\"x\",7]}}", 0, NULL);
    CHECK(or_iprules_check(bad, OR_IP_CLIENT, "1.1.1.1", NULL) == OR_IP_NOT_ALLOWED);
    json_decref(bad);
    json_decref(settings);
}

static void test_client_addr(void)
{
    char out[OR_IPRULES_TEXT_MAX];
    or_iprules_client_addr("10.0.0.1", NULL, out);
    CHECK_STR(out, "10.0.0.1");
    or_iprules_client_addr("10.0.0.1", "1.1.1.1, 203.0.113.5", out);
    CHECK_STR(out, "203.0.113.5");
    or_iprules_client_addr("10.0.0.1", " 2001:db8::1 ", out);
    CHECK_STR(out, "2001:db8::1");
    or_iprules_client_addr("10.0.0.1", "203.0.113.5, evil", out);
    CHECK_STR(out, "10.0.0.1");
    or_iprules_client_addr("10.0.0.1", "203.0.113.5 x", out);
    CHECK_STR(out, "10.0.0.1");
    or_iprules_client_addr("10.0.0.1", "", out);
    CHECK_STR(out, "10.0.0.1");
    or_iprules_client_addr(NULL, NULL, out);
    CHECK_STR(out, "");
    /* A peer text longer than the buffer is cut, never overrun. */
    char longpeer[100];
    memset(longpeer, 'a', sizeof longpeer - 1);
    longpeer[sizeof longpeer - 1] = '\0';
    or_iprules_client_addr(longpeer, NULL, out);
    CHECK(strlen(out) == OR_IPRULES_TEXT_MAX - 1 && out[0] == 'a');
}

static void test_bans(void)
{
    or_clock_source src = {mono, wall, NULL};
    or_clock_set(&src);
    or_iprules_bans_reset();
    uint8_t a[16], b[16], v6[16];
    CHECK(or_ip_parse("203.0.113.9", 11, a));
    CHECK(or_ip_parse("203.0.113.10", 12, b));
    CHECK(or_ip_parse("2001:db8::7", 11, v6));
    CHECK(or_iprules_ban_left_s(a) == 0);

    char canon_text[OR_IPRULES_TEXT_MAX];
    or_errbuf eb = {{0}};
    CHECK(or_iprules_ban("203.0.113.9", 10, canon_text, &eb) == OR_OK);
    CHECK_STR(canon_text, "203.0.113.9");
    CHECK(or_iprules_ban_left_s(a) == 10);
    CHECK(or_iprules_ban_left_s(b) == 0);
    unsigned left = 0;
    CHECK(or_iprules_check(NULL, OR_IP_CLIENT, "203.0.113.9", &left) == OR_IP_BANNED);
    CHECK(left == 10);
    CHECK(or_iprules_check(NULL, OR_IP_MANAGEMENT, "::ffff:203.0.113.9", NULL) == OR_IP_BANNED);

    fake_mono += 9500;
    CHECK(or_iprules_ban_left_s(a) == 1); /* rounded up */
    fake_mono += 500;
    CHECK(or_iprules_ban_left_s(a) == 0); /* expired */
    CHECK(or_iprules_check(NULL, OR_IP_CLIENT, "203.0.113.9", NULL) == OR_IP_ALLOW);

    /* A CIDR ban, re-banning replaces the expiry, defaults and the cap. */
    CHECK(or_iprules_ban("2001:db8::/48", 0, canon_text, &eb) == OR_OK);
    CHECK_STR(canon_text, "2001:db8::/48");
    CHECK(or_iprules_ban_left_s(v6) == OR_IPBAN_DEFAULT_S);
    CHECK(or_iprules_ban("2001:db8::1/48", 5, NULL, &eb) == OR_OK);
    CHECK(or_iprules_ban_left_s(v6) == 5);
    CHECK(or_iprules_ban("203.0.113.0/24", 4000000000u, NULL, &eb) == OR_OK);
    CHECK(or_iprules_ban_left_s(b) == OR_IPBAN_MAX_S);
    CHECK(or_iprules_ban("not-an-ip", 5, NULL, &eb) == OR_EINVAL);
    CHECK(or_iprules_ban(NULL, 5, NULL, &eb) == OR_EINVAL);

    json_t *list = or_iprules_bans_export();
    CHECK(json_array_size(list) == 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "ip")), "2001:db8::/48");
    CHECK(json_integer_value(json_object_get(json_array_get(list, 0), "secondsLeft")) == 5);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "expiresAt")),
              "2023-11-14T22:13:25Z");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "ip")), "203.0.113.0/24");
    json_decref(list);

    CHECK(or_iprules_unban("2001:db8::/48"));
    CHECK(!or_iprules_unban("2001:db8::/48"));
    CHECK(!or_iprules_unban("garbage"));
    CHECK(or_iprules_ban_left_s(v6) == 0);
    CHECK(or_iprules_ban_left_s(b) > 0);

    /* A full table refuses; expired entries make room again. */
    or_iprules_bans_reset();
    char ip[32];
    or_err e = OR_OK;
    for (int i = 0; i < OR_IPBAN_SLOTS && e == OR_OK; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.1", i / 256, i % 256);
        e = or_iprules_ban(ip, 60, NULL, &eb);
    }
    CHECK(e == OR_OK);
    CHECK(or_iprules_ban("11.0.0.1", 60, NULL, &eb) == OR_ETOOBIG);
    fake_mono += 61000;
    CHECK(or_iprules_ban("11.0.0.1", 60, NULL, &eb) == OR_OK);
    list = or_iprules_bans_export();
    CHECK(json_array_size(list) == 1);
    json_decref(list);
    or_iprules_bans_reset();
    or_clock_set(NULL);
}

/* The gate's shortcut must agree with or_iprules_check: open only when nothing could refuse. */
static void test_open(void)
{
    or_clock_source src = {mono, wall, NULL};
    or_clock_set(&src);
    or_iprules_bans_reset();
    CHECK(or_iprules_open(NULL, OR_IP_CLIENT));
    json_t *s = json_object();
    CHECK(or_iprules_open(s, OR_IP_CLIENT));
    CHECK(or_iprules_open(s, OR_IP_MANAGEMENT));
    /* Emptied lists (what clearing them in the dashboard leaves) are still open. */
    json_object_set_new(s, OR_IPRULES_ALLOW_KEY, json_pack("{s:[], s:[]}", "client", "management"));
    json_object_set_new(s, OR_IPRULES_BLOCK_KEY, json_pack("{s:[], s:[]}", "client", "management"));
    CHECK(or_iprules_open(s, OR_IP_CLIENT));
    /* A blocklist entry closes its scope only. */
    json_object_set_new(s, OR_IPRULES_BLOCK_KEY,
                        json_pack("{s:[s], s:[]}", "client", "10.0.0.0/8", "management"));
    CHECK(!or_iprules_open(s, OR_IP_CLIENT));
    CHECK(or_iprules_open(s, OR_IP_MANAGEMENT));
    CHECK(or_iprules_check(s, OR_IP_CLIENT, "10.1.1.1", NULL) == OR_IP_BLOCKED);
    json_object_del(s, OR_IPRULES_BLOCK_KEY);
    /* An allowlist closes its scope (an unlisted or unparsable caller is refused). */
    json_object_set_new(s, OR_IPRULES_ALLOW_KEY,
                        json_pack("{s:[], s:[s]}", "client", "management", "127.0.0.1"));
    CHECK(or_iprules_open(s, OR_IP_CLIENT));
    CHECK(!or_iprules_open(s, OR_IP_MANAGEMENT));
    CHECK(or_iprules_check(s, OR_IP_MANAGEMENT, "", NULL) == OR_IP_NOT_ALLOWED);
    /* Any ban closes every scope, even one that has expired but is not swept yet. */
    json_object_clear(s);
    CHECK(or_iprules_ban("203.0.113.9", 1, NULL, NULL) == OR_OK);
    CHECK(!or_iprules_open(s, OR_IP_CLIENT));
    CHECK(!or_iprules_open(s, OR_IP_MANAGEMENT));
    CHECK(or_iprules_check(s, OR_IP_CLIENT, "203.0.113.9", NULL) == OR_IP_BANNED);
    fake_mono += 2000;
    CHECK(!or_iprules_open(s, OR_IP_CLIENT));
    CHECK(or_iprules_check(s, OR_IP_CLIENT, "203.0.113.9", NULL) == OR_IP_ALLOW);
    CHECK(or_iprules_unban("203.0.113.9") == false); /* expired: swept, nothing to lift */
    CHECK(or_iprules_open(s, OR_IP_CLIENT));
    json_decref(s);
    or_iprules_bans_reset();
    or_clock_set(NULL);
}

/* The memo answers as or_iprules_open does, judges each settings object once, and sees new
 * settings (a new object) at once; bans are read live. */
static void test_open_memo(void)
{
    or_clock_source src = {mono, wall, NULL};
    or_clock_set(&src);
    or_iprules_bans_reset();
    or_iprules_memo m = {0};
    json_t *a = json_object();
    CHECK(or_iprules_open_memo(&m, a, OR_IP_CLIENT));
    CHECK(m.settings == a && a->refcount == 2); /* held: its address cannot be reused */
    CHECK(or_iprules_open_memo(&m, a, OR_IP_MANAGEMENT));
    /* The next snapshot's settings block clients: the next request must see it. */
    json_t *b =
        json_pack("{s:{s:[s], s:[]}}", OR_IPRULES_BLOCK_KEY, "client", "10.0.0.0/8", "management");
    CHECK(!or_iprules_open_memo(&m, b, OR_IP_CLIENT));
    CHECK(or_iprules_open_memo(&m, b, OR_IP_MANAGEMENT));
    CHECK(m.settings == b && a->refcount == 1 && b->refcount == 2);
    /* The one after lifts the list again, and adds a management allowlist. */
    json_t *c =
        json_pack("{s:{s:[], s:[s]}}", OR_IPRULES_ALLOW_KEY, "client", "management", "127.0.0.1");
    CHECK(or_iprules_open_memo(&m, c, OR_IP_CLIENT));
    CHECK(!or_iprules_open_memo(&m, c, OR_IP_MANAGEMENT));
    /* A ban closes every scope while the memo still says open. */
    CHECK(or_iprules_ban("203.0.113.9", 60, NULL, NULL) == OR_OK);
    CHECK(!or_iprules_open_memo(&m, c, OR_IP_CLIENT));
    or_iprules_bans_reset();
    CHECK(or_iprules_open_memo(&m, c, OR_IP_CLIENT));
    /* No settings at all: open, and nothing is held for them. */
    CHECK(or_iprules_open_memo(&m, NULL, OR_IP_CLIENT));
    or_iprules_memo_clear(&m);
    CHECK(m.settings == NULL && c->refcount == 1);
    or_iprules_memo_clear(&m); /* twice is harmless */
    json_decref(a);
    json_decref(b);
    json_decref(c);
    or_clock_set(NULL);
}

int main(void)
{
    test_parse();
    test_canonical();
    test_match();
    test_validate();
    test_verdicts();
    test_client_addr();
    test_open();
    test_open_memo();
    test_bans();
    return check_done();
}
