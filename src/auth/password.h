/*
 * password.h — the dashboard password: argon2id (libsodium crypto_pwhash_str, INTERACTIVE
 * limits so a login costs tens of milliseconds) stored as a JSON string in the settings table
 * under "passwordHash".
 *
 * Until a hash is stored, INITIAL_PASSWORD (if set) is the password: the first successful login
 * with it stores its hash, and from then on only the hash counts. With neither, login is refused
 * (the caller answers 403 needsSetup).
 *
 * Threads: hashing is CPU- and memory-heavy (64 MiB); call from a thread that may block (the
 * admin handler runs it on the libuv thread pool). The store calls are thread-safe.
 */
#ifndef OR_AUTH_PASSWORD_H
#define OR_AUTH_PASSWORD_H

#include "core/err.h"
#include "store/store.h"

#include <stdbool.h>

#define OR_PASSWORD_SETTING "passwordHash"
#define OR_PASSWORD_MIN 4        /* when setting a new one */
#define OR_PASSWORD_MAX 1024     /* longer input is refused before hashing */
#define OR_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES, NUL included */

/* Hashes pw into out (NUL-terminated argon2id encoded string). */
or_err or_password_hash(const char *pw, char out[OR_PASSWORD_HASH_MAX], or_errbuf *eb);
/* True when pw matches the encoded hash. */
bool or_password_hash_ok(const char *hash, const char *pw);

/* Stores the hash of pw (OR_PASSWORD_MIN..OR_PASSWORD_MAX bytes, else OR_EINVAL). */
or_err or_password_set(or_store *s, const char *pw, or_errbuf *eb);
/* True when a hash is stored or an initial password is configured. */
bool or_password_configured(or_store *s, const char *initial);
/* OR_OK when pw is the password; OR_EAUTH when not; OR_EUNAVAIL when none is configured.
 * initial is INITIAL_PASSWORD or NULL. */
or_err or_password_check(or_store *s, const char *initial, const char *pw, or_errbuf *eb);

#endif
