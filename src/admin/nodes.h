/*
 * nodes.h — /api/provider-nodes: custom OpenAI- or Anthropic-compatible endpoints.
 *
 *   GET    /api/provider-nodes        → {nodes:[…]}
 *   POST   /api/provider-nodes        {name, prefix, baseUrl, apiType?:"chat"|"responses",
 *                                      type?:"openai-compatible"|"anthropic-compatible"} → 201
 * {node} PUT    /api/provider-nodes/{id}   partial update → {node} DELETE /api/provider-nodes/{id}
 * → {success:true} A node's connections use provider "<type>-<id>" (the node's providerId); its
 * models are addressed as "<prefix>/<model>". Nodes live in the settings (provider.h). Handlers run
 * on a worker thread; writes are serialized by a module lock (read-modify-write of one setting).
 */
#ifndef OR_ADMIN_NODES_H
#define OR_ADMIN_NODES_H

#include "gateway/app.h"

#include <jansson.h>

/* Validates a create (cur NULL) or an update of cur; returns the new node (new reference) or
 * NULL with eb set. nodes: all current nodes (for prefix clashes). Pure. */
json_t *or_nodes_apply(const json_t *nodes, const json_t *cur, const json_t *body,
                       const char *new_id, int64_t now_ms, or_errbuf *eb);

void or_nodes_list(or_http_req *req, or_app *app, const or_route_params *p);
void or_nodes_create(or_http_req *req, or_app *app, const or_route_params *p);
void or_nodes_update(or_http_req *req, or_app *app, const or_route_params *p);
void or_nodes_delete(or_http_req *req, or_app *app, const or_route_params *p);

#endif
