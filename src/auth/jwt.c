#include "auth/jwt.h"

#include "core/clock.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING
/* Base64url of 32 bytes without padding is always 43 characters. */
#define SIG_B64_LEN 43

static const char header_json[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *b64url(const void *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, B64URL);
    char *s = malloc(cap);
    if (s)
        sodium_bin2base64(s, cap, p, n, B64URL);
    return s;
}

/* Strict decode: every byte must be base64url, trailing bits zero (libsodium checks both). */
static or_err b64dec(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    unsigned char *bin = malloc(n / 4 * 3 + 3);
    if (!bin)
        return OR_ENOMEM;
    size_t len = 0;
    if (sodium_base642bin(bin, n / 4 * 3 + 3, s, n, NULL, &len, NULL, B64URL) != 0) {
        free(bin);
        return OR_EAUTH;
    }
    *out = bin;
    *outlen = len;
    return OR_OK;
}

or_err or_jwt_sign(const uint8_t key[32], json_t *claims, char **out, or_errbuf *eb)
{
    or_err e = OR_OK;
    char *payload = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *tok = NULL;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    *out = NULL;
    if (!json_is_object(claims)) {
        e = or_fail(eb, OR_EINVAL, "jwt claims must be an object");
        goto out;
    }
    payload = json_dumps(claims, JSON_COMPACT);
    h64 = b64url(header_json, sizeof header_json - 1);
    p64 = payload ? b64url(payload, strlen(payload)) : NULL;
    if (!p64 || !h64) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    size_t hl = strlen(h64), pl = strlen(p64);
    size_t total = hl + 1 + pl + 1 + SIG_B64_LEN;
    if (total > OR_JWT_MAX_LEN) {
        e = or_fail(eb, OR_ETOOBIG, "jwt claims too large");
        goto out;
    }
    tok = malloc(total + 1);
    if (!tok) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(tok, h64, hl);
    tok[hl] = '.';
    memcpy(tok + hl + 1, p64, pl);
    crypto_auth_hmacsha256(mac, (const unsigned char *)tok, hl + 1 + pl, key);
    s64 = b64url(mac, sizeof mac);
    if (!s64) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    tok[hl + 1 + pl] = '.';
    memcpy(tok + hl + 1 + pl + 1, s64, SIG_B64_LEN + 1);
    *out = tok;
    tok = NULL;
out:
    sodium_memzero(mac, sizeof mac);
    free(payload);
    free(h64);
    free(p64);
    free(s64);
    free(tok);
    return e;
}

/* Decodes one segment into a JSON object. */
static json_t *segment_json(const char *s, size_t n)
{
    unsigned char *bin = NULL;
    size_t len = 0;
    if (b64dec(s, n, &bin, &len) != OR_OK)
        return NULL;
    json_t *j = json_loadb((const char *)bin, len, JSON_REJECT_DUPLICATES, NULL);
    free(bin);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool header_ok(const json_t *h)
{
    const json_t *alg = json_object_get(h, "alg");
    const json_t *typ = json_object_get(h, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        return false;
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return false;
    /* We understand no extension, so a token that marks one critical is not ours. */
    return json_object_get(h, "crit") == NULL;
}

or_err or_jwt_verify(const uint8_t key[32], const char *token, size_t len, json_t **claims_out,
                     or_errbuf *eb)
{
    or_err e = OR_OK;
    json_t *hdr = NULL, *claims = NULL;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    unsigned char *sig = NULL;
    size_t siglen = 0;

    if (claims_out)
        *claims_out = NULL;
    if (!token || len == 0 || len > OR_JWT_MAX_LEN || memchr(token, '\0', len)) {
        e = or_fail(eb, OR_EAUTH, "malformed token");
        goto out;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        e = or_fail(eb, OR_EAUTH, "malformed token");
        goto out;
    }
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);
    if (hlen == 0 || plen == 0 || slen != SIG_B64_LEN) {
        e = or_fail(eb, OR_EAUTH, "malformed token");
        goto out;
    }
    if (b64dec(d2 + 1, slen, &sig, &siglen) != OR_OK || siglen != sizeof mac) {
        e = or_fail(eb, OR_EAUTH, "malformed signature");
        goto out;
    }
    crypto_auth_hmacsha256(mac, (const unsigned char *)token, (size_t)(d2 - token), key);
    if (crypto_verify_32(mac, sig) != 0) {
        e = or_fail(eb, OR_EAUTH, "bad signature");
        goto out;
    }
    hdr = segment_json(token, hlen);
    if (!hdr || !header_ok(hdr)) {
        e = or_fail(eb, OR_EAUTH, "unsupported token header");
        goto out;
    }
    claims = segment_json(d1 + 1, plen);
    if (!claims) {
        e = or_fail(eb, OR_EAUTH, "malformed claims");
        goto out;
    }
    const json_t *exp = json_object_get(claims, "exp");
    const json_t *iat = json_object_get(claims, "iat");
    if (!json_is_integer(exp) || !json_is_integer(iat)) {
        e = or_fail(eb, OR_EAUTH, "token lacks exp/iat");
        goto out;
    }
    json_int_t now = (json_int_t)(or_clock_wall_ms() / 1000);
    json_int_t vexp = json_integer_value(exp), viat = json_integer_value(iat);
    if (vexp <= now) {
        e = or_fail(eb, OR_EAUTH, "token expired");
        goto out;
    }
    if (viat > now + OR_JWT_IAT_SKEW_S || viat > vexp) {
        e = or_fail(eb, OR_EAUTH, "token issued in the future");
        goto out;
    }
    if (claims_out) {
        *claims_out = claims;
        claims = NULL;
    }
out:
    sodium_memzero(mac, sizeof mac);
    free(sig);
    json_decref(hdr);
    json_decref(claims);
    return e;
}
