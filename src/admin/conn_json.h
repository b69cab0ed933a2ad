/*
 * conn_json.h — the management API's view of a provider connection: validation of create and
 * update bodies, and the JSON returned to clients.
 *
 * The JSON never carries a secret: no apiKey (only hasApiKey), and providerSpecificData keys
 * that name credentials (apiKey, secret, password, access/refresh token …) are left out.
 * Everything here is pure (no I/O, no globals besides the provider table): any thread.
 */
#ifndef OR_ADMIN_CONN_JSON_H
#define OR_ADMIN_CONN_JSON_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define OR_CONN_NAME_MAX 200     /* characters */
#define OR_CONN_APIKEY_MAX 10000 /* characters */
#define OR_CONN_MODEL_MAX 200    /* bytes of defaultModel */
#define OR_CONN_URL_MAX 2048     /* bytes of providerSpecificData.baseUrl */
#define OR_CONN_PSD_MAX 65536    /* bytes of providerSpecificData as compact JSON */

/* New reference (NULL only when out of memory). */
json_t *or_conn_json_encode(const or_conn *c);

/* Applies body onto c. create: c is zeroed and every default is filled in; otherwise c holds a
 * deep copy of the current row and only the fields present change (providerSpecificData is
 * merged key by key; a null value removes the key). On error c is half-updated: discard it with
 * or_conn_clear. OR_EINVAL with eb naming the field. nodes: the configured provider nodes
 * (settings.providerNodes of a snapshot, may be NULL), so custom providers are accepted too. */
or_err or_conn_json_apply(or_conn *c, const json_t *body, bool create, const json_t *nodes,
                          or_errbuf *eb);

/* Wall-clock milliseconds → "2024-05-01T12:00:00.000Z". */
void or_conn_json_time(int64_t ms, char out[32]);
/* An absolute http:// or https:// URL with a host and no spaces or control characters. */
bool or_conn_json_url_ok(const char *s);

#endif
