/*
 * auth.h — the dashboard session: the JWT signing key and the session token built on jwt.h.
 *
 * The key is JWT_SECRET (any string, hashed to 32 bytes with BLAKE2b) or, when that is unset, 32
 * random bytes generated once and persisted as hex in DATA_DIR/jwt.secret (mode 0600, created
 * exclusively, so two processes starting together agree on one key). There is no fixed default.
 *
 * A session token is an HS256 JWT with claims {sub:"admin", authenticated:true, iat, exp}.
 *
 * Threads: or_auth_load_jwt_key at startup (reads the environment); the session calls are pure
 * and may run on any thread. The caller owns the key buffer and wipes it at exit.
 */
#ifndef OR_AUTH_AUTH_H
#define OR_AUTH_AUTH_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define OR_AUTH_KEY_FILE "jwt.secret"
#define OR_AUTH_COOKIE "auth_token"
#define OR_AUTH_SESSIONS_FROM "sessionsValidFrom" /* settings key: Unix seconds */

or_err or_auth_load_jwt_key(const char *data_dir, uint8_t out[32], or_errbuf *eb);
/* The same scheme for any 32-byte secret: env_name's value (any string, hashed to 32 bytes with
 * BLAKE2b) or, when it is unset or empty, DATA_DIR/file (generated once, 0600). Used for
 * API_KEY_SECRET (auth/apikey.h) too. */
or_err or_auth_load_secret(const char *data_dir, const char *env_name, const char *file,
                           uint8_t out[32], or_errbuf *eb);

/* A new session token valid for ttl_s seconds from now (malloc'd, caller frees). */
or_err or_auth_session_issue(const uint8_t key[32], unsigned ttl_s, char **token, or_errbuf *eb);
/* OR_OK when token (len bytes) is a valid, unexpired session token signed with key. */
or_err or_auth_session_verify(const uint8_t key[32], const char *token, size_t len, or_errbuf *eb);
/* The same, and refuses tokens issued before not_before_s (Unix seconds): a password change
 * stores that time under OR_AUTH_SESSIONS_FROM so every older session stops working. */
or_err or_auth_session_verify_since(const uint8_t key[32], const char *token, size_t len,
                                    int64_t not_before_s, or_errbuf *eb);

#endif
