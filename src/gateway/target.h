/*
 * target.h — resolving a client's model name to a provider, a connection and an upstream URL.
 *
 * Pure functions over a configuration snapshot (borrowed; the result points into it and into
 * the static provider table, so it lives as long as the snapshot, and must not be copied: its
 * provider may point at its own `node` field). Any thread.
 */
#ifndef OR_GATEWAY_TARGET_H
#define OR_GATEWAY_TARGET_H

#include "core/err.h"
#include "provider/provider.h"
#include "store/store.h"

typedef struct {
    const or_provider *provider; /* the static table's row, or &node for a provider node */
    or_provider node;
    const or_conn *conn;
    const char *model; /* the provider's own model id (after the prefix) */
    size_t model_len;
} or_target;

/* "prefix/model" → provider + first active connection by priority.
 * OR_EINVAL: no prefix; OR_ENOTFOUND: unknown provider; OR_EUNAVAIL: no active connection. */
or_err or_target_resolve(const or_snapshot *snap, const char *model, or_target *out, or_errbuf *eb);

/* Only the provider and its model id (conn left NULL): the caller chooses the account. Errors
 * as or_target_resolve, without OR_EUNAVAIL. */
or_err or_target_provider(const or_snapshot *snap, const char *model, or_target *out,
                          or_errbuf *eb);

/* The API root for a connection: providerSpecificData.baseUrl or the provider's, without a
 * trailing '/'. Returns its length; *root points into the snapshot or the table. */
size_t or_target_api_root(const or_target *t, const char **root);

#endif
