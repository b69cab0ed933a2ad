/*
 * proxy.h — /api/settings/proxy: the outbound proxies provider requests go through
 * (gateway/proxy_pick.h says how one is chosen).
 *
 *   GET    /api/settings/proxy  → {global, providers:{id:P}, combos:{name:P}, keys:{id:P}}
 *            P = {type, host, port, username?, hasPassword} — the password is never shown
 *   PUT    /api/settings/proxy  partial update (PATCH too): {global?: P|null,
 *            providers?: {id: P|null} | null, combos?: …, keys?: …}; null removes, a map
 *            merges entry by entry. P in = {type: http|https|socks5|direct, host, port,
 *            username?, password?}; a password given is sealed with the store key
 *            (or_store_seal), an absent one keeps the entry's current password, null or ""
 *            removes it. → 200 the view; bad or unknown field → 400 naming it.
 *   DELETE /api/settings/proxy  everything, or ?level=global|providers|combos|keys[&id=…]
 *            one entry → 200 the view, 404 when there was nothing to remove.
 *   POST   /api/settings/proxy/test {proxy?: P, level?, id?, url?} — through the given
 *            proxy (or a stored one named by level and id), GET url (default: the first
 *            provider connection's API root) → 200 {ok, latencyMs, statusCode?, url, proxy
 *            (without credentials), error?}. ok: an HTTP answer came back through the proxy
 *            (any status but 407).
 * The configuration is the settings key "proxy" in its stored form (passwordSealed instead of
 * password). Provider ids may also be connection ids (a proxy per account).
 *
 * Worker threads; writes are serialized by a module lock. The test runs on the worker's
 * upstream client; the plaintext proxy URL is wiped as soon as the upstream client has copied it.
 */
#ifndef OR_ADMIN_PROXY_H
#define OR_ADMIN_PROXY_H

#include "core/err.h"
#include "gateway/app.h"

#include <jansson.h>

/* The stored configuration after applying update upd to cur (either may be NULL), sealing
 * passwords with st. New reference, or NULL with eb naming the field. Exposed for tests. */
json_t *or_proxy_settings_merge(or_store *st, const json_t *cur, const json_t *upd, or_errbuf *eb);
/* The GET view of a stored configuration (no secrets). New reference. */
json_t *or_proxy_settings_view(const json_t *cfg);

void or_proxy_api_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_proxy_api_put(or_http_req *req, or_app *app, const or_route_params *p);
void or_proxy_api_delete(or_http_req *req, or_app *app, const or_route_params *p);
void or_proxy_api_test(or_http_req *req, or_app *app, const or_route_params *p);

#endif
