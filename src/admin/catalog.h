/*
 * catalog.h — GET /api/models/catalog (management scope): every model the gateway knows,
 * grouped by provider, each typed chat | embedding | image.
 *
 *   → 200 {providers:[{id, alias, name, format, kind:"builtin"|"node", active, connections,
 *           models:[{id, fullId, type, source:"builtin"|"custom"|"default"}]}],
 *          counts:{chat, embedding, image, total}}
 *   ?type=chat|embedding|image keeps models of that type; ?provider=<id or alias> keeps one
 *   provider; ?active=true keeps providers with an active connection. A bad type → 400.
 *
 * Sources: the provider table's models (provider/provider.h), provider nodes
 * (settings.providerNodes), custom models (settings.customModels), each connection's default
 * model. A model's type comes from its custom entry's "type" when set, a node whose apiType is
 * "embeddings", or else its name (tables of known embedding and image model patterns).
 * `active` says whether the provider has an active connection; `connections` counts them.
 *
 * Runs on the request's worker thread, from one configuration snapshot.
 */
#ifndef OR_ADMIN_CATALOG_H
#define OR_ADMIN_CATALOG_H

#include "gateway/app.h"

void or_catalog_get(or_http_req *req, or_app *app, const or_route_params *p);

/* "chat", "embedding" or "image" for a model id, from the name tables. */
const char *or_catalog_model_type(const char *model);

/* The catalog of a snapshot's configuration (new reference); filters may be NULL. */
json_t *or_catalog_build(const or_snapshot *snap, const char *type, const char *provider,
                         bool active_only);

#endif
