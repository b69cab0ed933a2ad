/*
 * resilience_api.h — management of the resilience state and the health view.
 *
 *   GET   /api/resilience          → {profiles:{apikey:{…}, oauth:{…}}, breakers, cooldowns}
 *   PATCH /api/resilience          {profiles:{apikey:{threshold, windowMs, cooldownMs,
 *                                   maxCooldownMs}}} → the same view
 *   POST  /api/resilience/reset    {} resets everything; {id} one provider, connection or key
 *                                  (force unlock) → {success, removed}
 *   GET   /api/monitoring/health   → uptime, version, memory, data dir, breakers, cooldowns and
 *                                  lockouts, p50/p95/p99 latency per provider
 * Handlers run on a worker thread; the registries are thread-safe. The state also survives a
 * restart: or_resilience_api_save/_load keep it in the settings (key "resilienceState").
 */
#ifndef OR_ADMIN_RESILIENCE_API_H
#define OR_ADMIN_RESILIENCE_API_H

#include "gateway/app.h"

#define OR_RESILIENCE_STATE_KEY "resilienceState"

void or_resilience_api_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_resilience_api_patch(or_http_req *req, or_app *app, const or_route_params *p);
void or_resilience_api_reset(or_http_req *req, or_app *app, const or_route_params *p);
void or_health_api(or_http_req *req, or_app *app, const or_route_params *p);

/* Startup / shutdown persistence of breakers and cooldowns. */
void or_resilience_api_load(or_app *app);
void or_resilience_api_save(or_app *app);

#endif
