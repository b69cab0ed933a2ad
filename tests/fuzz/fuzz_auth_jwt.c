/* Fuzz target: every input is tried three ways — as a bearer token, as a Cookie header whose
 * auth_token is then verified, and as "<header JSON>\n<claims JSON>" signed with the fuzz key
 * (so the parser behind the signature check is reached too). Nothing may crash or leak, and a
 * token only verifies when it is well formed. */
#include "auth/auth.h"
#include "auth/cookie.h"
#include "auth/jwt.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = "omniroute-fuzz-key-0123456789ab";

static void verify(const char *tok, size_t len)
{
    json_t *claims = NULL;
    if (or_jwt_verify(key, tok, len, &claims, NULL) == OR_OK) {
        if (!json_is_object(claims) || !json_is_integer(json_object_get(claims, "exp")))
            abort();
        json_decref(claims);
    }
    or_auth_session_verify(key, tok, len, NULL);
}

/* b64url(header) "." b64url(claims) "." b64url(hmac), or NULL when too big. */
static char *sign_raw(const uint8_t *h, size_t hl, const uint8_t *p, size_t pl)
{
    const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t eh = sodium_base64_ENCODED_LEN(hl, v), ep = sodium_base64_ENCODED_LEN(pl, v);
    char *tok = malloc(eh + ep + 64);
    if (!tok)
        return NULL;
    sodium_bin2base64(tok, eh, h, hl, v);
    size_t n = strlen(tok);
    tok[n++] = '.';
    sodium_bin2base64(tok + n, ep, p, pl, v);
    n += strlen(tok + n);
    unsigned char mac[32];
    crypto_auth_hmacsha256(mac, (const unsigned char *)tok, n, key);
    tok[n++] = '.';
    sodium_bin2base64(tok + n, 64, mac, sizeof mac, v);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        ready = 1;
    }
    verify((const char *)data, size);

    const char *val = NULL;
    size_t vlen = 0;
    if (or_cookie_get((const char *)data, size, OR_AUTH_COOKIE, &val, &vlen)) {
        if (val < (const char *)data || val + vlen > (const char *)data + size)
            abort();
        verify(val, vlen);
    }

    const uint8_t *nl = memchr(data, '\n', size);
    if (nl && size < 8192) {
        size_t hl = (size_t)(nl - data);
        char *tok = sign_raw(data, hl, nl + 1, size - hl - 1);
        if (tok) {
            verify(tok, strlen(tok));
            free(tok);
        }
    }
    return 0;
}
