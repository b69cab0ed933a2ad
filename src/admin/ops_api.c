#include "admin/ops_api.h"

#include "core/clock.h"
#include "http/reply.h"
#include "ops/expo.h"
#include "ops/metrics.h"
#include "ops/ops.h"
#include "ops/proc.h"

#include <string.h>
#include <strings.h>

#define SCRAPE_MAX (32u * 1024 * 1024)

static const char *const breaker_states[] = {"closed", "open", "half_open"};
#define NSTATES (sizeof breaker_states / sizeof breaker_states[0])

/* {provider id: {state (index into breaker_states), failures}} for every breaker on record,
 * and every provider with an active connection (no record: it never failed, so closed). */
static json_t *breakers_of(or_app *app, const json_t *res)
{
    json_t *out = json_object();
    const char *id;
    json_t *b;
    json_object_foreach(json_object_get(res, "breakers"), id, b)
    {
        const char *st = json_string_value(json_object_get(b, "state"));
        for (size_t i = 0; st && i < NSTATES; i++)
            if (strcasecmp(st, breaker_states[i]) == 0)
                json_object_set_new(out, id,
                                    json_pack("{s:I, s:I}", "state", (json_int_t)i, "failures",
                                              json_integer_value(json_object_get(b, "failures"))));
    }
    or_snapshot *snap = or_store_snapshot(app->store);
    for (size_t i = 0; i < snap->nconns; i++) {
        const or_conn *c = &snap->conns[i];
        if (c->active && c->provider && !json_object_get(out, c->provider))
            json_object_set_new(out, c->provider,
                                json_pack("{s:I, s:I}", "state", 0, "failures", 0));
    }
    or_snapshot_release(snap);
    return out;
}

static or_err render_resilience(or_app *app, or_buf *b)
{
    json_t *res = or_resilience_export(&app->routing.res);
    json_t *brk = breakers_of(app, res);
    or_err rc = or_expo_family(b, "omniroute_circuit_breaker_state", "gauge",
                               "Provider circuit breaker: 1 for the current state, 0 otherwise");
    const char *id;
    json_t *e;
    json_object_foreach(brk, id, e)
    {
        const char *const labels[] = {"provider", id, NULL};
        json_int_t cur = json_integer_value(json_object_get(e, "state"));
        for (size_t i = 0; rc == OR_OK && i < NSTATES; i++)
            rc = or_expo_u64_x(b, "omniroute_circuit_breaker_state", labels, "state",
                               breaker_states[i], (json_int_t)i == cur);
    }
    if (rc == OR_OK)
        rc = or_expo_family(b, "omniroute_circuit_breaker_failures", "gauge",
                            "Failures in the provider breaker's current window");
    json_object_foreach(brk, id, e)
    {
        const char *const labels[] = {"provider", id, NULL};
        if (rc == OR_OK)
            rc = or_expo_u64(b, "omniroute_circuit_breaker_failures", labels,
                             (uint64_t)json_integer_value(json_object_get(e, "failures")));
    }
    if (rc == OR_OK)
        rc = or_expo_family(b, "omniroute_cooldowns_active", "gauge",
                            "Connections, models and keys cooling down after a failure");
    if (rc == OR_OK)
        rc = or_expo_u64(b, "omniroute_cooldowns_active", NULL,
                         json_array_size(json_object_get(res, "cooldowns")));
    json_decref(brk);
    json_decref(res);
    return rc;
}

static or_err render_queues(or_app *app, or_buf *b)
{
    or_metrics *m = or_metrics_global();
    or_err rc = or_expo_family(b, "omniroute_usage_rows_dropped_total", "counter",
                               "Usage rows dropped because the store's queue was full");
    if (rc == OR_OK)
        rc = or_expo_u64(b, "omniroute_usage_rows_dropped_total", NULL,
                         or_store_usage_dropped(app->store));
    if (rc == OR_OK)
        rc = or_expo_family(b, "omniroute_request_logs_dropped_total", "counter",
                            "Request-log entries dropped because their queue was full");
    if (rc == OR_OK)
        rc = or_expo_u64(b, "omniroute_request_logs_dropped_total", NULL,
                         or_reqlog_dropped(or_ops_reqlog()));
    if (rc == OR_OK)
        rc = or_expo_family(b, "omniroute_metrics_series", "gauge",
                            "Label sets held by the request metrics registry");
    if (rc == OR_OK)
        rc = or_expo_u64(b, "omniroute_metrics_series", NULL, or_metrics_series(m));
    if (rc == OR_OK)
        rc = or_expo_family(b, "omniroute_metrics_folded_total", "counter",
                            "Observations folded into an \"other\" label set (cardinality cap)");
    if (rc == OR_OK)
        rc = or_expo_u64(b, "omniroute_metrics_folded_total", NULL, or_metrics_folded(m));
    return rc;
}

or_err or_ops_api_render(or_app *app, or_buf *out)
{
    uint64_t up = or_clock_mono_ms() - app->started_mono_ms;
    int64_t started = or_clock_wall_ms() - (int64_t)up;
    or_err rc = or_metrics_render(or_metrics_global(), out);
    if (rc == OR_OK)
        rc = render_resilience(app, out);
    if (rc == OR_OK)
        rc = render_queues(app, out);
    if (rc == OR_OK)
        rc = or_proc_render(out, started, up, OR_VERSION);
    return rc;
}

void or_ops_api_metrics(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_buf b;
    or_buf_init(&b, SCRAPE_MAX);
    if (or_ops_api_render(app, &b) != OR_OK)
        or_reply_error(req, 500, NULL, NULL, "metrics could not be rendered");
    else
        or_http_respond(req, 200, OR_EXPO_CONTENT_TYPE, "Cache-Control: no-store\r\n", b.data,
                        b.len);
    or_buf_free(&b);
}
