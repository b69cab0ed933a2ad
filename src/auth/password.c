#include "auth/password.h"

#include "core/log.h"

#include <sodium.h>
#include <string.h>

_Static_assert(OR_PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES, "hash buffer size");

or_err or_password_hash(const char *pw, char out[OR_PASSWORD_HASH_MAX], or_errbuf *eb)
{
    size_t n = strlen(pw);
    if (n > OR_PASSWORD_MAX)
        return or_fail(eb, OR_EINVAL, "password too long");
    if (crypto_pwhash_str(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return or_fail(eb, OR_ENOMEM, "password hashing failed (out of memory)");
    return OR_OK;
}

bool or_password_hash_ok(const char *hash, const char *pw)
{
    size_t n = strlen(pw);
    if (n > OR_PASSWORD_MAX || strnlen(hash, OR_PASSWORD_HASH_MAX) >= OR_PASSWORD_HASH_MAX)
        return false;
    return crypto_pwhash_str_verify(hash, pw, n) == 0;
}

static or_err store_hash(or_store *s, const char *pw, or_errbuf *eb)
{
    or_err e = OR_OK;
    char hash[OR_PASSWORD_HASH_MAX];
    json_t *v = NULL;

    e = or_password_hash(pw, hash, eb);
    if (e != OR_OK)
        goto out;
    v = json_string(hash);
    if (!v) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    e = or_store_setting_set(s, OR_PASSWORD_SETTING, v, eb);
out:
    json_decref(v);
    sodium_memzero(hash, sizeof hash);
    return e;
}

or_err or_password_set(or_store *s, const char *pw, or_errbuf *eb)
{
    size_t n = strlen(pw);
    if (n < OR_PASSWORD_MIN || n > OR_PASSWORD_MAX)
        return or_fail(eb, OR_EINVAL, "password must be %d to %d characters", OR_PASSWORD_MIN,
                       OR_PASSWORD_MAX);
    return store_hash(s, pw, eb);
}

/* The stored hash as a new string reference, or NULL. */
static json_t *stored_hash(or_store *s)
{
    json_t *v = or_store_setting_get(s, OR_PASSWORD_SETTING);
    if (v && (!json_is_string(v) || json_string_length(v) == 0)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

bool or_password_configured(or_store *s, const char *initial)
{
    json_t *h = stored_hash(s);
    bool ok = h != NULL || (initial && *initial);
    json_decref(h);
    return ok;
}

/* Compares digests so the time depends on neither the lengths nor the contents. */
static bool equal_ct(const char *a, const char *b)
{
    unsigned char da[32], db[32];
    crypto_generichash(da, sizeof da, (const unsigned char *)a, strlen(a), NULL, 0);
    crypto_generichash(db, sizeof db, (const unsigned char *)b, strlen(b), NULL, 0);
    bool eq = sodium_memcmp(da, db, sizeof da) == 0;
    sodium_memzero(da, sizeof da);
    sodium_memzero(db, sizeof db);
    return eq;
}

or_err or_password_check(or_store *s, const char *initial, const char *pw, or_errbuf *eb)
{
    or_err e = OR_OK;
    json_t *h = NULL;

    if (strlen(pw) > OR_PASSWORD_MAX) {
        e = or_fail(eb, OR_EAUTH, "invalid password");
        goto out;
    }
    h = stored_hash(s);
    if (h) {
        if (!or_password_hash_ok(json_string_value(h), pw))
            e = or_fail(eb, OR_EAUTH, "invalid password");
        goto out;
    }
    if (!initial || !*initial) {
        e = or_fail(eb, OR_EUNAVAIL, "no password is set; start with INITIAL_PASSWORD");
        goto out;
    }
    if (!equal_ct(initial, pw)) {
        e = or_fail(eb, OR_EAUTH, "invalid password");
        goto out;
    }
    /* First login: from now on the stored hash is the password. Failing to store it does not
     * fail this login (INITIAL_PASSWORD still works next time). */
    or_errbuf seb = {{0}};
    if (store_hash(s, initial, &seb) != OR_OK)
        or_log_warn("auth: could not store the password hash: %s", seb.msg);
out:
    json_decref(h);
    return e;
}
