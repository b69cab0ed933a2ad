#include "admin/providers.h"

#include "admin/admin.h"
#include "admin/conn_json.h"
#include "admin/probe.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of an upstream error reply kept to extract its message. */
#define TEST_BODY_MAX 8192

/* {"connection": <c as JSON>} from the current snapshot; NULL when id is gone or on OOM. */
static json_t *connection_reply(or_app *app, const char *id)
{
    or_snapshot *snap = or_store_snapshot(app->store);
    const or_conn *c = or_snapshot_conn(snap, id);
    json_t *cj = c ? or_conn_json_encode(c) : NULL;
    or_snapshot_release(snap);
    return cj ? json_pack("{s:o}", "connection", cj) : NULL;
}

static const char *param_id(const or_route_params *p)
{
    return p && p->n > 0 && p->v[0] ? p->v[0] : "";
}

void or_providers_list(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_snapshot *snap = or_store_snapshot(app->store);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < snap->nconns; i++) {
        json_t *cj = or_conn_json_encode(&snap->conns[i]);
        if (!cj || json_array_append_new(arr, cj) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    or_snapshot_release(snap);
    if (!arr) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        return;
    }
    or_reply_json(req, 200, json_pack("{s:o}", "connections", arr), NULL);
}

/* Stores c (create when c->id is empty) and replies with the stored row. */
static void save_and_reply(or_http_req *req, or_app *app, or_conn *c, int status)
{
    char id[37] = {0};
    or_errbuf eb = {{0}};
    or_err e = or_store_conn_put(app->store, c, id, &eb);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        return;
    }
    if (!id[0])
        memcpy(id, c->id, sizeof id);
    json_t *r = connection_reply(app, id);
    if (!r) {
        or_reply_error(req, 500, NULL, NULL, "connection %s was saved but cannot be read back", id);
        return;
    }
    or_log_info("admin: saved connection %s (%s)", id, c->provider ? c->provider : "?");
    or_reply_json(req, status, r, NULL);
}

void or_providers_create(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_conn c;
    or_errbuf eb = {{0}};
    memset(&c, 0, sizeof c);
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    json_t *nodes = or_store_setting_get(app->store, OR_PROVIDER_NODES_KEY);
    or_err e = or_conn_json_apply(&c, body, true, nodes, &eb);
    json_decref(nodes);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        save_and_reply(req, app, &c, 201);
    or_conn_clear(&c);
    json_decref(body);
}

void or_providers_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    json_t *r = connection_reply(app, param_id(p));
    if (!r) {
        or_reply_error(req, 404, NULL, NULL, "connection not found");
        return;
    }
    or_reply_json(req, 200, r, NULL);
}

void or_providers_update(or_http_req *req, or_app *app, const or_route_params *p)
{
    or_conn c;
    or_errbuf eb = {{0}};
    or_err e = OR_OK;
    json_t *body = NULL;
    bool have = false;

    memset(&c, 0, sizeof c);
    or_snapshot *snap = or_store_snapshot(app->store);
    const or_conn *cur = or_snapshot_conn(snap, param_id(p));
    if (cur) {
        e = or_conn_copy(&c, cur);
        have = e == OR_OK;
    }
    or_snapshot_release(snap);
    if (!cur) {
        or_reply_error(req, 404, NULL, NULL, "connection not found");
        goto out;
    }
    if (!have) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        goto out;
    }
    if (!(body = or_admin_body_object(req)))
        goto out;
    json_t *nodes = or_store_setting_get(app->store, OR_PROVIDER_NODES_KEY);
    e = or_conn_json_apply(&c, body, false, nodes, &eb);
    json_decref(nodes);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        goto out;
    }
    save_and_reply(req, app, &c, 200);
out:
    or_conn_clear(&c);
    json_decref(body);
}

void or_providers_delete(or_http_req *req, or_app *app, const or_route_params *p)
{
    or_errbuf eb = {{0}};
    or_err e = or_store_conn_delete(app->store, param_id(p), &eb);
    if (e == OR_ENOTFOUND) {
        or_reply_error(req, 404, NULL, NULL, "connection not found");
        return;
    }
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        return;
    }
    or_log_info("admin: deleted connection %s", param_id(p));
    or_reply_json(req, 200, json_pack("{s:b}", "success", 1), NULL);
}

/* ---- connection test ---- */

typedef struct {
    or_http_req *req;
    or_app *app;
    or_up_req *up;
    or_probe_plan plan;
    char id[37];
    int status;
    uint64_t t0;
    or_buf resp;
} conn_test;

static void test_free(conn_test *t)
{
    or_probe_plan_clear(&t->plan);
    or_buf_free(&t->resp);
    free(t);
}

static void test_head(void *ud, int status, const or_up_header *hdrs, size_t nhdrs)
{
    (void)hdrs;
    (void)nhdrs;
    ((conn_test *)ud)->status = status;
}

static bool test_data(void *ud, const char *p, size_t n)
{
    conn_test *t = ud;
    size_t room = t->resp.max - t->resp.len;
    or_buf_append(&t->resp, p, n < room ? n : room); /* the rest is not needed */
    return false;
}

/* Records the outcome on the connection and answers the client. */
static void test_finish(conn_test *t, bool valid, const char *error)
{
    or_errbuf eb = {{0}};
    uint64_t ms = or_clock_mono_ms() - t->t0;
    if (or_store_conn_set_status(t->app->store, t->id, valid ? "active" : "error",
                                 valid ? NULL : error, &eb) != OR_OK)
        or_log_warn("admin: could not record the test of %s: %s", t->id, eb.msg);
    json_t *r = json_pack("{s:b, s:I}", "valid", valid, "latencyMs", (json_int_t)ms);
    if (r && !valid)
        json_object_set_new(r, "error", json_string(error));
    if (r && t->status > 0)
        json_object_set_new(r, "statusCode", json_integer(t->status));
    or_reply_json(t->req, 200, r, NULL);
}

static void test_done(void *ud, or_up_result res, const char *detail)
{
    conn_test *t = ud;
    char msg[320];
    bool valid = res == OR_UP_OK && t->status >= 200 && t->status < 300;
    if (res != OR_UP_OK)
        snprintf(msg, sizeof msg, "%s%s%s", or_up_result_name(res), detail && *detail ? ": " : "",
                 detail ? detail : "");
    else if (!valid)
        or_probe_error_text(t->status, t->resp.data, t->resp.len, msg, sizeof msg);
    t->up = NULL;
    test_finish(t, valid, valid ? NULL : msg);
    test_free(t);
}

static void test_abort(or_http_req *req, void *ud)
{
    (void)req;
    conn_test *t = ud;
    if (t->up)
        or_up_cancel(t->up);
    test_free(t);
}

static const or_up_callbacks test_cb = {test_head, test_data, test_done};

void or_providers_test(or_http_req *req, or_app *app, const or_route_params *p)
{
    or_errbuf eb = {{0}};
    or_err e = OR_OK;
    conn_test *t = calloc(1, sizeof *t);
    or_snapshot *snap = or_store_snapshot(app->store);
    const or_conn *c = or_snapshot_conn(snap, param_id(p));
    or_provider node_row;
    const or_provider *prov =
        c ? or_provider_lookup(json_object_get(snap->settings, OR_PROVIDER_NODES_KEY), c->provider,
                               strlen(c->provider), &node_row)
          : NULL;

    if (!t) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        goto out;
    }
    if (!c) {
        or_reply_error(req, 404, NULL, NULL, "connection not found");
        goto out;
    }
    t->req = req;
    t->app = app;
    t->t0 = or_clock_mono_ms();
    memcpy(t->id, c->id, sizeof t->id);
    or_buf_init(&t->resp, TEST_BODY_MAX);
    if (!prov)
        e = or_fail(&eb, OR_EINVAL, "provider '%s' is not supported", c->provider);
    else
        e = or_probe_plan_build(&t->plan, prov, c, &eb);
    or_snapshot_release(snap);
    snap = NULL;
    if (e != OR_OK) {
        test_finish(t, false, eb.msg);
        goto out;
    }
    or_up_request rq = {
        .method = t->plan.method,
        .url = t->plan.url,
        .headers = t->plan.hdrs,
        .nheaders = t->plan.nhdrs,
        .body = t->plan.body,
        .body_len = t->plan.body ? strlen(t->plan.body) : 0,
        .connect_ms = 10000,
        .first_byte_ms = 20000,
        .idle_ms = 20000,
        .total_ms = 30000,
    };
    e = or_up_start(or_worker_of(req)->up, &rq, &test_cb, t, &t->up);
    if (e != OR_OK) {
        test_finish(t, false, "could not start the test request");
        goto out;
    }
    or_http_set_stream_cb(req, &(or_http_stream_cb){NULL, test_abort}, t);
    t = NULL; /* owned by the transfer until test_done or test_abort */
out:
    if (snap)
        or_snapshot_release(snap);
    if (t)
        test_free(t);
}
