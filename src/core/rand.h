/*
 * rand.h — randomness and identifiers, injectable for tests.
 *
 * Default source is libsodium's CSPRNG (call or_rand_init() once at startup). Tests may install
 * a deterministic source with or_rand_set(). Thread-safe.
 */
#ifndef OR_CORE_RAND_H
#define OR_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

typedef void (*or_rand_fill_fn)(void *buf, size_t n, void *ud);

int or_rand_init(void);                         /* 0 on success */
void or_rand_set(or_rand_fill_fn fn, void *ud); /* NULL restores the CSPRNG */
void or_rand_bytes(void *buf, size_t n);
uint32_t or_rand_uniform(uint32_t upper_bound); /* [0, upper_bound) */
/* Writes a lowercase RFC 4122 v4 UUID (36 chars + NUL) into out[37]. */
void or_uuid4(char out[37]);
/* Lowercase hex of n random bytes into out (2n+1 chars). */
void or_rand_hex(char *out, size_t nbytes);

#endif
