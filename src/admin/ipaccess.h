/*
 * ipaccess.h — IP access control over HTTP: the gate every request passes at its head, and the
 * management routes for the lists and the temporary bans (auth/iprules.h does the matching).
 *
 *   GET       /api/settings/security  → {ipAllowlist, ipBlocklist, bans, yourIp}
 *   PUT/PATCH /api/settings/security  {ipAllowlist?, ipBlocklist?} (each {client:[cidr…],
 *             management:[cidr…]} or null = empty) → the same view. A management list that
 *             would refuse the caller's own address → 400 (it would lock them out).
 *   GET       /api/security/bans      → {bans:[{ip, secondsLeft, expiresAt}]}
 *   POST      /api/security/ban       {ip, seconds?} (an address or CIDR; default 3600 s) →
 *             200 {ip, seconds, expiresAt}; a ban covering the caller → 400
 *   DELETE    /api/security/ban/{ip}  → 200 {ip, unbanned:true}, 404 (a CIDR's "/" as %2F)
 * The lists are the settings keys ipAllowlist / ipBlocklist (read from the snapshot); bans live
 * in memory (a restart forgets them).
 *
 * The gate runs in the router's on_head, before any body byte is read: a refused request costs
 * a 403 and the connection (when a body was pending). Client routes get the error in their own
 * wire format, the rest the management shape. The address is the TCP peer, or the last
 * X-Forwarded-For entry with OMNIROUTE_TRUST_PROXY (app->trust_proxy).
 *
 * Worker threads; list writes are serialized by a module lock. Each thread that runs the gate
 * keeps a reference to the last snapshot settings it judged (auth/iprules.h or_iprules_memo),
 * dropped when the thread ends, so a request meets no list lookup until the settings change.
 */
#ifndef OR_ADMIN_IPACCESS_H
#define OR_ADMIN_IPACCESS_H

#include "auth/iprules.h"
#include "gateway/app.h"

#include <stdbool.h>

/* False after replying 403 (banned, blocked or not allowed on this scope). */
bool or_ipaccess_gate(or_http_req *req, or_app *app, or_ip_scope scope);

void or_ipaccess_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_ipaccess_put(or_http_req *req, or_app *app, const or_route_params *p);
void or_ipaccess_bans(or_http_req *req, or_app *app, const or_route_params *p);
void or_ipaccess_ban(or_http_req *req, or_app *app, const or_route_params *p);
void or_ipaccess_unban(or_http_req *req, or_app *app, const or_route_params *p);

#endif
