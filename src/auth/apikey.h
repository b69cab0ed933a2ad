/*
 * apikey.h — client API keys: the key format, the keyed hash that is all the database keeps,
 * the stored records, and the lookup the request path makes.
 *
 * Format: "sk-" + 40 base62 characters from the CSPRNG (≈ 238 bits) + 6 base62 characters of
 * checksum (BLAKE2b-32 of everything before it). The checksum is not secret: it lets a typo or
 * a foreign token be refused before any lookup, and lets tools recognise our keys.
 *
 * Storage: the raw key is returned once, at creation, and never stored. The store keeps
 * HMAC-SHA256(secret, key) in hex. The secret is API_KEY_SECRET (any string, hashed) or 32 random
 * bytes generated once into DATA_DIR/api_key.secret (0600): never a fixed default. Changing it
 * invalidates every key. Records live in the settings key "apiKeys" (an array, like combos), so
 * they ride the configuration snapshot and the store's backups; the settings API never shows
 * internal keys. A record: {id, name, hash, prefix, allowedModels:[glob…], scopes:[…],
 * isActive, expiresAt (ms|null), createdAt (ms), lastUsedAt (ms|null)}.
 *
 * Lookup: or_apikeys_check hashes the presented key and finds its record in an index built
 * from the caller's snapshot (sorted by hash, cached while the snapshot is current), so the
 * request path never reads SQLite. lastUsedAt is kept in memory per key and written back at most
 * every OR_APIKEY_PERSIST_MS (the caller is told when, and runs or_apikeys_save_usage off the
 * event loop), on every key write and at close.
 *
 * Globs in allowedModels: '*' any run of characters ('/' included), '?' one character; matched
 * against the model name the client asked for (a combo's name, an alias, "provider/model").
 * An empty list allows every model.
 *
 * Threads: everything here is thread-safe. or_apikeys_check takes a module mutex only to pick
 * up the index; writes (create/update/delete/save_usage) are serialized by a second mutex and
 * block on the store's writer, so call them from an admin handler or the thread pool.
 */
#ifndef OR_AUTH_APIKEY_H
#define OR_AUTH_APIKEY_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OR_APIKEY_SETTING "apiKeys"
#define OR_APIKEY_SECRET_ENV "API_KEY_SECRET"
#define OR_APIKEY_SECRET_FILE "api_key.secret"
#define OR_APIKEY_LEN 49       /* "sk-" + 40 + 6 */
#define OR_APIKEY_PREFIX_LEN 8 /* shown in lists: "sk-AbCdE" */
#define OR_APIKEY_MAX_KEYS 1000
#define OR_APIKEY_NAME_MAX 100
#define OR_APIKEY_GLOBS_MAX 100
#define OR_APIKEY_GLOB_LEN_MAX 255
#define OR_APIKEY_PERSIST_MS (5 * 60 * 1000)

typedef struct or_apikeys or_apikeys;

typedef enum {
    OR_APIKEY_OK = 0,
    OR_APIKEY_MISSING,   /* no credential presented */
    OR_APIKEY_MALFORMED, /* not our format, or the checksum does not match */
    OR_APIKEY_UNKNOWN,   /* well-formed, but no key has that hash */
    OR_APIKEY_REVOKED,   /* isActive is false */
    OR_APIKEY_EXPIRED,   /* expiresAt has passed */
    OR_APIKEY_MODEL,     /* valid, but the model is not in allowedModels */
} or_apikey_status;

/* Who a valid key belongs to. */
typedef struct {
    char id[40];
    bool admin;       /* scopes holds "admin" (or "manage"): management API access */
    bool persist_due; /* the caller should run or_apikeys_save_usage soon (off the loop) */
} or_apikey_who;

/* Loads the secret (see above) and sets up the index cache. */
or_err or_apikeys_open(const char *data_dir, or_apikeys **out, or_errbuf *eb);
/* Writes the in-memory lastUsedAt values (store may be NULL: skipped), wipes the secret. */
void or_apikeys_close(or_apikeys *k, or_store *store);

/* ---- format (pure) ---- */
void or_apikey_generate(char out[OR_APIKEY_LEN + 1]);
bool or_apikey_well_formed(const char *key, size_t len);
/* A short, human-readable reason for a status ("API key has been revoked"). */
const char *or_apikey_status_text(or_apikey_status st);

/* ---- the request path ---- */
/* Checks the key (len bytes, not necessarily NUL-terminated) against snap's records at wall time
 * now_ms; model (may be NULL) is checked against allowedModels. On OR_APIKEY_OK and
 * OR_APIKEY_MODEL, who (may be NULL) is filled. OR_APIKEY_OK also records the use. */
or_apikey_status or_apikeys_check(or_apikeys *k, or_snapshot *snap, const char *key, size_t len,
                                  const char *model, int64_t now_ms, or_apikey_who *who);

/* ---- management (block on the store) ---- */
/* {keys:[view…]} oldest first; a view never holds the key or its hash. */
json_t *or_apikeys_list(or_apikeys *k, or_store *store);
/* One view, or NULL when there is no such key. */
json_t *or_apikeys_get(or_apikeys *k, or_store *store, const char *id);
/* body {name, allowedModels?, scopes?, expiresAt?, isActive?}; unknown field or bad value →
 * OR_EINVAL naming it. *view_out gets the view plus "key" (the only time it is shown). The raw
 * key in the view is wiped when the caller frees it with or_apikeys_view_free. */
or_err or_apikeys_create(or_apikeys *k, or_store *store, const json_t *body, json_t **view_out,
                         or_errbuf *eb);
/* body: any of name, allowedModels, scopes, expiresAt, isActive. OR_ENOTFOUND, OR_EINVAL. */
or_err or_apikeys_update(or_apikeys *k, or_store *store, const char *id, const json_t *body,
                         json_t **view_out, or_errbuf *eb);
or_err or_apikeys_delete(or_apikeys *k, or_store *store, const char *id, or_errbuf *eb);
/* Writes lastUsedAt values newer than the stored ones. */
or_err or_apikeys_save_usage(or_apikeys *k, or_store *store, or_errbuf *eb);
/* Frees a view from or_apikeys_create, wiping its "key" first. */
void or_apikeys_view_free(json_t *view);

/* ---- record validation (pure; exposed for tests) ---- */
/* Applies body's fields to rec (an object; create: a fresh one with id/createdAt already set).
 * Unknown fields, wrong types, bad values → OR_EINVAL naming the field. */
or_err or_apikey_record_apply(json_t *rec, const json_t *body, bool create, or_errbuf *eb);
/* Parses expiresAt input: null → 0, integer ms, or ISO 8601 ("2026-01-31T12:00:00Z", optional
 * fraction, Z or ±hh:mm). False when it is none of these. */
bool or_apikey_parse_time(const json_t *v, int64_t *ms);

#endif
