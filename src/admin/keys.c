#include "admin/keys.h"

#include "admin/admin.h"
#include "auth/apikey.h"
#include "http/reply.h"

/* The manager is made at startup; a test harness without one gets a clear 503. */
static bool ready(or_http_req *req, or_app *app)
{
    if (app->apikeys)
        return true;
    or_reply_error(req, 503, NULL, NULL, "API keys are not available");
    return false;
}

void or_keys_list(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    if (ready(req, app))
        or_reply_json(req, 200, or_apikeys_list(app->apikeys, app->store), NULL);
}

void or_keys_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    if (!ready(req, app))
        return;
    json_t *v = or_apikeys_get(app->apikeys, app->store, p->v[0]);
    if (v)
        or_reply_json(req, 200, v, NULL);
    else
        or_reply_error(req, 404, NULL, "not_found", "API key not found");
}

void or_keys_create(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *body = NULL, *view = NULL;
    or_errbuf eb = {{0}};
    if (!ready(req, app) || !(body = or_admin_body_object(req)))
        return;
    or_err e = or_apikeys_create(app->apikeys, app->store, body, &view, &eb);
    json_decref(body);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        return;
    }
    /* The reply is serialized from view before it is freed; the key is wiped with it. */
    or_reply_json(req, 201, json_incref(view), "Cache-Control: no-store\r\n");
    or_apikeys_view_free(view);
}

void or_keys_update(or_http_req *req, or_app *app, const or_route_params *p)
{
    json_t *body = NULL, *view = NULL;
    or_errbuf eb = {{0}};
    if (!ready(req, app) || !(body = or_admin_body_object(req)))
        return;
    or_err e = or_apikeys_update(app->apikeys, app->store, p->v[0], body, &view, &eb);
    json_decref(body);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        or_reply_json(req, 200, view, NULL);
}

void or_keys_delete(or_http_req *req, or_app *app, const or_route_params *p)
{
    or_errbuf eb = {{0}};
    if (!ready(req, app))
        return;
    or_err e = or_apikeys_delete(app->apikeys, app->store, p->v[0], &eb);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        or_reply_json(req, 200, json_pack("{s:b}", "success", 1), NULL);
}
