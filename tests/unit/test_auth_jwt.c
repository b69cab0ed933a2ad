/* JWT sign/verify, the session token, the cookie parser and the login lockout: pure logic with
 * the clock injected, no files. */
#include "check.h"

#include "auth/auth.h"
#include "auth/cookie.h"
#include "auth/jwt.h"
#include "auth/lockout.h"
#include "core/clock.h"
#include "core/rand.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_wall = 1700000000000;
static uint64_t fake_mono = 1000000;

static uint64_t mono(void *ud)
{
    (void)ud;
    return fake_mono;
}

static int64_t wall(void *ud)
{
    (void)ud;
    return fake_wall;
}

static const uint8_t key[32] = "0123456789abcdef0123456789abcde";
static const uint8_t other_key[32] = "fedcba9876543210fedcba987654321";

static int verify(const char *tok)
{
    return or_jwt_verify(key, tok, strlen(tok), NULL, NULL);
}

/* A token with any header and payload text, correctly signed with key. */
static char *forge(const char *header, const char *payload, const uint8_t *k)
{
    const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    char h[512], p[512], s[64];
    unsigned char mac[32];
    sodium_bin2base64(h, sizeof h, (const unsigned char *)header, strlen(header), v);
    sodium_bin2base64(p, sizeof p, (const unsigned char *)payload, strlen(payload), v);
    char *tok = malloc(strlen(h) + strlen(p) + 64);
    sprintf(tok, "%s.%s", h, p);
    crypto_auth_hmacsha256(mac, (const unsigned char *)tok, strlen(tok), k);
    sodium_bin2base64(s, sizeof s, mac, sizeof mac, v);
    strcat(tok, ".");
    strcat(tok, s);
    return tok;
}

static void test_round_trip(void)
{
    json_t *claims =
        json_pack("{s:s, s:I, s:I, s:i}", "sub", "admin", "iat", (json_int_t)(fake_wall / 1000),
                  "exp", (json_int_t)(fake_wall / 1000 + 3600), "n", 42);
    char *tok = NULL;
    CHECK(or_jwt_sign(key, claims, &tok, NULL) == OR_OK);
    CHECK(tok && strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
    CHECK(tok && !strchr(tok, '=') && !strchr(tok, '+') && !strchr(tok, '/'));
    json_t *out = NULL;
    CHECK(or_jwt_verify(key, tok, strlen(tok), &out, NULL) == OR_OK);
    CHECK(out && json_integer_value(json_object_get(out, "n")) == 42);
    CHECK_STR(json_string_value(json_object_get(out, "sub")), "admin");
    json_decref(out);

    /* another key */
    CHECK(or_jwt_verify(other_key, tok, strlen(tok), NULL, NULL) == OR_EAUTH);

    /* tampered signature: flip one character of the last segment */
    char *bad = strdup(tok);
    char *last = bad + strlen(bad) - 5;
    *last = *last == 'A' ? 'B' : 'A';
    CHECK(verify(bad) == OR_EAUTH);
    free(bad);

    /* tampered payload: same signature, different claims */
    char *dot2 = strrchr(tok, '.');
    char *forged = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                         "{\"sub\":\"root\",\"iat\":1700000000,\"exp\":1800000000}", other_key);
    char *mixed = malloc(strlen(forged) + 64);
    memcpy(mixed, forged, (size_t)(strrchr(forged, '.') - forged));
    strcpy(mixed + (strrchr(forged, '.') - forged), dot2);
    CHECK(verify(mixed) == OR_EAUTH);
    free(mixed);
    free(forged);

    /* truncated, extra segment, trailing garbage */
    char *cut = strndup(tok, strlen(tok) - 1);
    CHECK(verify(cut) == OR_EAUTH);
    free(cut);
    char *extra = malloc(strlen(tok) + 8);
    sprintf(extra, "%s.AAAA", tok);
    CHECK(verify(extra) == OR_EAUTH);
    free(extra);
    /* length-bounded: the same bytes followed by junk the caller did not include */
    char *padded = malloc(strlen(tok) + 8);
    sprintf(padded, "%sXYZ", tok);
    CHECK(or_jwt_verify(key, padded, strlen(tok), NULL, NULL) == OR_OK);
    CHECK(or_jwt_verify(key, padded, strlen(padded), NULL, NULL) == OR_EAUTH);
    free(padded);

    free(tok);
    json_decref(claims);

    json_t *str = json_string("x");
    CHECK(or_jwt_sign(key, str, &tok, NULL) == OR_EINVAL);
    json_decref(str);
}

static void test_expiry(void)
{
    char *tok = NULL;
    CHECK(or_auth_session_issue(key, 60, &tok, NULL) == OR_OK);
    CHECK(or_auth_session_verify(key, tok, strlen(tok), NULL) == OR_OK);
    fake_wall += 59 * 1000;
    CHECK(or_auth_session_verify(key, tok, strlen(tok), NULL) == OR_OK);
    fake_wall += 1000;
    or_errbuf eb = {{0}};
    CHECK(or_auth_session_verify(key, tok, strlen(tok), &eb) == OR_EAUTH);
    CHECK(strstr(eb.msg, "expired") != NULL);
    fake_wall -= 60 * 1000;
    /* issued in the future (beyond the skew) */
    fake_wall -= (OR_JWT_IAT_SKEW_S + 5) * 1000;
    CHECK(or_auth_session_verify(key, tok, strlen(tok), NULL) == OR_EAUTH);
    fake_wall += (OR_JWT_IAT_SKEW_S + 5) * 1000;
    free(tok);
}

static void test_headers(void)
{
    const char *claims = "{\"sub\":\"admin\",\"iat\":1700000000,\"exp\":1800000000}";
    struct {
        const char *header;
        int want;
    } cases[] = {
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", OR_OK},
        {"{\"alg\":\"HS256\"}", OR_OK},
        {"{\"typ\":\"JWT\",\"alg\":\"HS256\"}", OR_OK},
        {"{\"alg\":\"none\",\"typ\":\"JWT\"}", OR_EAUTH},
        {"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", OR_EAUTH},
        {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", OR_EAUTH},
        {"{\"alg\":\"hs256\",\"typ\":\"JWT\"}", OR_EAUTH},
        {"{\"alg\":\"HS256\",\"typ\":\"JWE\"}", OR_EAUTH},
        {"{\"alg\":\"HS256\",\"crit\":[\"x\"]}", OR_EAUTH},
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", OR_EAUTH},
        {"[\"HS256\"]", OR_EAUTH},
        {"not json", OR_EAUTH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *tok = forge(cases[i].header, claims, key);
        int got = verify(tok);
        if (got != cases[i].want)
            fprintf(stderr, "header case %zu: %s → %d\n", i, cases[i].header, got);
        CHECK(got == cases[i].want);
        free(tok);
    }
    /* alg none with an empty signature, the classic forgery */
    CHECK(verify("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                 "eyJzdWIiOiJhZG1pbiIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxODAwMDAwMDAwfQ.") ==
          OR_EAUTH);

    const char *bad_claims[] = {
        "{\"sub\":\"admin\",\"exp\":1800000000}",                        /* no iat */
        "{\"sub\":\"admin\",\"iat\":1700000000}",                        /* no exp */
        "{\"sub\":\"admin\",\"iat\":1700000000,\"exp\":\"1800000000\"}", /* exp a string */
        "{\"sub\":\"admin\",\"iat\":1700000000,\"exp\":1.8e9}",          /* exp a real */
        "{\"sub\":\"admin\",\"iat\":1700000000,\"exp\":1600000000}",     /* expired */
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof bad_claims / sizeof *bad_claims; i++) {
        char *tok = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", bad_claims[i], key);
        CHECK(verify(tok) == OR_EAUTH);
        free(tok);
    }
    /* a valid JWT that is not a session token */
    char *tok = forge("{\"alg\":\"HS256\"}",
                      "{\"sub\":\"bob\",\"iat\":1700000000,\"exp\":1800000000}", key);
    CHECK(verify(tok) == OR_OK);
    CHECK(or_auth_session_verify(key, tok, strlen(tok), NULL) == OR_EAUTH);
    free(tok);

    /* caps and junk */
    char *big = malloc(OR_JWT_MAX_LEN + 2);
    memset(big, 'a', OR_JWT_MAX_LEN + 1);
    big[OR_JWT_MAX_LEN + 1] = '\0';
    CHECK(verify(big) == OR_EAUTH);
    free(big);
    CHECK(verify("") == OR_EAUTH);
    CHECK(verify("..") == OR_EAUTH);
    CHECK(verify("a.b.c") == OR_EAUTH);
    CHECK(or_jwt_verify(key, NULL, 0, NULL, NULL) == OR_EAUTH);
}

static void test_cookie(void)
{
    struct {
        const char *header;
        const char *want; /* NULL = absent */
    } cases[] = {
        {"auth_token=abc", "abc"},
        {"a=1; auth_token=abc; b=2", "abc"},
        {"a=1;auth_token=abc;b=2", "abc"},
        {"  auth_token = abc  ;", "abc"},
        {"auth_token=\"abc\"", "abc"},
        {"auth_token=", ""},
        {"xauth_token=abc", NULL},
        {"auth_tokenx=abc", NULL},
        {"a=auth_token=abc", NULL},
        {";;; ;auth_token=v1; auth_token=v2", "v1"},
        {"auth_token", NULL},
        {"", NULL},
        {"a=1; b", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *v = NULL;
        size_t n = 0;
        bool found = or_cookie_get(cases[i].header, strlen(cases[i].header), "auth_token", &v, &n);
        CHECK(found == (cases[i].want != NULL));
        if (found && cases[i].want) {
            char got[64];
            snprintf(got, sizeof got, "%.*s", (int)n, v);
            CHECK_STR(got, cases[i].want);
        }
    }
    /* bounded by hlen, not by the NUL */
    const char *h = "auth_token=abcdef";
    const char *v = NULL;
    size_t n = 0;
    CHECK(or_cookie_get(h, 14, "auth_token", &v, &n) && n == 3);
}

static void test_lockout(void)
{
    or_lockout_reset();
    for (int i = 0; i < OR_LOCKOUT_MAX_FAILS - 1; i++) {
        or_lockout_fail("10.0.0.1");
        CHECK(or_lockout_wait_s("10.0.0.1") == 0);
    }
    or_lockout_fail("10.0.0.1");
    CHECK(or_lockout_wait_s("10.0.0.1") == OR_LOCKOUT_WINDOW_MS / 1000);
    CHECK(or_lockout_wait_s("10.0.0.2") == 0);
    fake_mono += OR_LOCKOUT_WINDOW_MS - 1500;
    CHECK(or_lockout_wait_s("10.0.0.1") == 2);
    fake_mono += 1500;
    CHECK(or_lockout_wait_s("10.0.0.1") == 0);
    /* the lock is over and the count starts afresh */
    or_lockout_fail("10.0.0.1");
    CHECK(or_lockout_wait_s("10.0.0.1") == 0);

    /* failures spread beyond the window do not add up */
    for (int i = 0; i < 2 * OR_LOCKOUT_MAX_FAILS; i++) {
        or_lockout_fail("10.0.0.3");
        fake_mono += OR_LOCKOUT_WINDOW_MS / 2 + 1;
    }
    CHECK(or_lockout_wait_s("10.0.0.3") == 0);

    /* a success clears */
    for (int i = 0; i < OR_LOCKOUT_MAX_FAILS - 1; i++)
        or_lockout_fail("10.0.0.4");
    or_lockout_clear("10.0.0.4");
    or_lockout_fail("10.0.0.4");
    CHECK(or_lockout_wait_s("10.0.0.4") == 0);

    /* a full table keeps working (oldest windows are reused) */
    char ip[32];
    for (int i = 0; i < OR_LOCKOUT_SLOTS + 10; i++) {
        snprintf(ip, sizeof ip, "192.168.%d.%d", i / 256, i % 256);
        or_lockout_fail(ip);
    }
    for (int i = 0; i < OR_LOCKOUT_MAX_FAILS; i++)
        or_lockout_fail("10.9.9.9");
    CHECK(or_lockout_wait_s("10.9.9.9") > 0);
    or_lockout_reset();
}

int main(void)
{
    or_rand_init();
    static const or_clock_source fake = {mono, wall, NULL};
    or_clock_set(&fake);
    test_round_trip();
    test_expiry();
    test_headers();
    test_cookie();
    test_lockout();
    or_clock_set(NULL);
    return check_done();
}
