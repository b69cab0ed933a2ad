#include "admin/logs.h"
#include "http/query.h"

#include "admin/admin.h"
#include "admin/custom_models.h"
#include "http/reply.h"
#include "ops/ops.h"

#include <stdlib.h>

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 1000

/* A query parameter as a number in [lo, hi]; dflt when absent; false when malformed. */
static bool query_num(or_http_req *req, const char *name, unsigned lo, unsigned hi, unsigned dflt,
                      unsigned *out)
{
    char v[32];
    *out = dflt;
    if (!or_http_query_param(or_http_query(req), name, v, sizeof v))
        return true;
    char *end;
    unsigned long n = v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
    if (v[0] < '0' || v[0] > '9' || *end || n < lo || n > hi)
        return false;
    *out = (unsigned)n;
    return true;
}

void or_logs_request_logs(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    (void)p;
    unsigned limit, offset;
    if (!query_num(req, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, &limit)) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_limit",
                       "limit must be a whole number from 1 to %d", MAX_LIMIT);
        return;
    }
    if (!query_num(req, "offset", 0, 1u << 30, 0, &offset)) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_offset",
                       "offset must be a whole number >= 0");
        return;
    }
    or_reqlog *l = or_ops_reqlog();
    json_t *logs = NULL;
    int64_t total = 0;
    if (l) {
        or_errbuf eb = {{0}};
        or_reqlog_flush(l);
        or_err e = or_reqlog_list(l, limit, offset, &logs, &total, &eb);
        if (e != OR_OK) {
            or_admin_reply_err(req, e, &eb);
            return;
        }
    }
    or_reply_json(req, 200,
                  json_pack("{s:b, s:o, s:I, s:i, s:i}", "enabled", l != NULL, "logs",
                            logs ? logs : json_array(), "total", (json_int_t)total, "limit",
                            (int)limit, "offset", (int)offset),
                  NULL);
}
