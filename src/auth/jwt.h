/*
 * jwt.h — HS256 JSON Web Tokens (RFC 7519) for the dashboard session.
 *
 * Only one algorithm exists here: HMAC-SHA-256 (libsodium) with a 32-byte key, base64url without
 * padding. The header must be exactly {"alg":"HS256","typ":"JWT"} in meaning (alg "none" and every
 * other alg are refused); the signature is compared in constant time before any claim is parsed.
 * `exp` and `iat` are required integers (seconds) and are checked against or_clock_wall_ms().
 *
 * Ownership: or_jwt_sign returns a malloc'd string (caller frees); or_jwt_verify returns a new
 * jansson reference in *claims_out on success. Pure functions of their inputs and the clock:
 * any thread.
 */
#ifndef OR_AUTH_JWT_H
#define OR_AUTH_JWT_H

#include "core/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Tokens longer than this are refused before any work (cookies stay far below it). */
#define OR_JWT_MAX_LEN 4096
/* Clock skew tolerated on `iat` (a token issued "in the future" by up to this is accepted). */
#define OR_JWT_IAT_SKEW_S 60

/* Signs claims (borrowed; must be an object) into "<header>.<payload>.<signature>". */
or_err or_jwt_sign(const uint8_t key[32], json_t *claims, char **out, or_errbuf *eb);

/* Verifies token (len bytes, need not be NUL-terminated). OR_EAUTH for anything that is not a
 * valid, unexpired token signed with key; eb says why (never echoes the token). */
or_err or_jwt_verify(const uint8_t key[32], const char *token, size_t len, json_t **claims_out,
                     or_errbuf *eb);

#endif
