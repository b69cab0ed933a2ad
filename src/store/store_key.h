/*
 * store_key.h — the store's secret key and the secretbox sealing built on it.
 *
 * The key comes from STORAGE_ENCRYPTION_KEY or from DATA_DIR/storage.key (generated once, mode
 * 0600). It lives in sodium_malloc'd memory owned by the store; or_store_key_free wipes it.
 * After loading, the key is read-only, so seal/unseal may run on any thread.
 */
#ifndef OR_STORE_STORE_KEY_H
#define OR_STORE_STORE_KEY_H

#include "core/err.h"

/* Loads or creates the key; *key_out holds crypto_secretbox_KEYBYTES bytes. */
or_err or_store_key_load(const char *data_dir, unsigned char **key_out, or_errbuf *eb);
void or_store_key_free(unsigned char *key);

/* base64(nonce || secretbox(plain)); *out is malloc'd. */
or_err or_store_key_seal(const unsigned char *key, const char *plain, char **out);
/* Inverse of seal; *out is malloc'd plaintext, the caller wipes and frees it. */
or_err or_store_key_unseal(const unsigned char *key, const char *sealed, char **out);

#endif
