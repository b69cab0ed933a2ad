#include "ops/ops.h"

#include "core/clock.h"
#include "core/log.h"
#include "ops/metrics.h"
#include "ops/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_LOG_HEADERS 64
#define HEADER_VALUE_MAX 512
#define QUERY_MAX 2048
#define ACCESS_LINE_MAX 4096
#define DEFAULT_LOG_ROWS 10000
#define DEFAULT_BODY_BYTES 8192
#define MAX_BODY_BYTES (1024 * 1024)

/* Set by or_ops_start before the workers exist, read-only until or_ops_stop after they end. */
static struct {
    bool access_log;
    size_t body_cap;
    or_reqlog *reqlog;
} ops = {.body_cap = DEFAULT_BODY_BYTES};

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
                 strcasecmp(v, "on") == 0);
}

static unsigned long env_num(const char *name, unsigned long dflt, unsigned long max)
{
    const char *v = getenv(name);
    char *end;
    unsigned long n = v && *v ? strtoul(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 ? (n > max ? max : n) : dflt;
}

void or_ops_config_from_env(or_ops_config *cfg)
{
    *cfg = (or_ops_config){
        .access_log = env_true("OMNIROUTE_ACCESS_LOG"),
        .request_logs = env_true("ENABLE_REQUEST_LOGS"),
        .log_rows = (unsigned)env_num("CALL_LOG_MAX_ENTRIES", DEFAULT_LOG_ROWS, 10000000),
        .log_body_bytes =
            env_num("OMNIROUTE_REQUEST_LOG_BODY_BYTES", DEFAULT_BODY_BYTES, MAX_BODY_BYTES),
    };
}

or_err or_ops_start(const or_ops_config *cfg, const char *data_dir, or_errbuf *eb)
{
    ops.access_log = cfg->access_log;
    ops.body_cap = cfg->log_body_bytes ? cfg->log_body_bytes : DEFAULT_BODY_BYTES;
    or_metrics_global(); /* created now, not by the first request */
    if (!cfg->request_logs)
        return OR_OK;
    or_reqlog_limits lim = {.keep_rows = cfg->log_rows};
    or_err rc = or_reqlog_open(data_dir, &lim, &ops.reqlog, eb);
    if (rc == OR_OK)
        or_log_info("request logs: on (last %u requests, %zu bytes per body)",
                    cfg->log_rows ? cfg->log_rows : DEFAULT_LOG_ROWS, ops.body_cap);
    return rc;
}

void or_ops_stop(void)
{
    or_reqlog_close(ops.reqlog);
    ops.reqlog = NULL;
    or_metrics_global_free();
}

or_reqlog *or_ops_reqlog(void)
{
    return ops.reqlog;
}

void or_ops_iso_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* ---- access log ---- */

/* A JSON string (quotes included); control bytes escaped, invalid UTF-8 fixed by the caller. */
static or_err json_str(or_buf *b, const char *s)
{
    or_err rc = or_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); rc == OR_OK && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = or_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            rc = or_buf_printf(b, "\\u%04x", *p);
        else
            rc = or_buf_append(b, p, 1);
    }
    return rc == OR_OK ? or_buf_append(b, "\"", 1) : rc;
}

or_err or_ops_access_line(const or_ops_request *r, int64_t now_ms, or_buf *out)
{
    const or_usage_row *row = r->row;
    char ts[32];
    or_ops_iso_time(now_ms, ts);
    or_err rc = or_buf_printf(out, "{\"ts\":\"%s\",\"request_id\":", ts);
    if (rc == OR_OK)
        rc = json_str(out, row->request_id);
    if (rc == OR_OK)
        rc = or_buf_puts(out, ",\"method\":");
    if (rc == OR_OK)
        rc = json_str(out, r->method);
    if (rc == OR_OK)
        rc = or_buf_puts(out, ",\"path\":");
    if (rc == OR_OK)
        rc = json_str(out, r->path);
    if (rc == OR_OK)
        rc = or_buf_printf(out, ",\"status\":%d,\"latency_ms\":%u,\"ttft_ms\":%u,\"provider\":",
                           row->status, row->latency_ms, row->ttft_ms);
    if (rc == OR_OK)
        rc = json_str(out, row->provider);
    if (rc == OR_OK)
        rc = or_buf_puts(out, ",\"model\":");
    if (rc == OR_OK)
        rc = json_str(out, row->model);
    if (rc == OR_OK)
        rc = or_buf_printf(out,
                           ",\"stream\":%s,\"bytes_in\":%zu,\"bytes_out\":%zu,\"tokens_in\":%lld,"
                           "\"tokens_out\":%lld}\n",
                           row->stream ? "true" : "false", r->body_len, r->reply_len,
                           (long long)row->tokens_in, (long long)row->tokens_out);
    if (rc == OR_OK)
        or_redact_utf8(out);
    return rc;
}

static void access_log(const or_ops_request *r)
{
    or_buf line;
    or_buf_init(&line, ACCESS_LINE_MAX);
    if (or_ops_access_line(r, or_clock_wall_ms(), &line) == OR_OK) {
        /* One write per line: lines from several workers never interleave. */
        ssize_t w = write(STDERR_FILENO, line.data, line.len);
        (void)w;
    }
    or_buf_free(&line);
}

/* ---- request logs ---- */

static json_t *excerpt(const char *data, size_t len, size_t cap, bool redact_json)
{
    or_buf b;
    or_buf_init(&b, 0);
    bool cut;
    if (redact_json) {
        cut = or_redact_json(data ? data : "", data ? len : 0, cap, &b);
    } else {
        size_t n = len < cap ? len : cap;
        cut = n < len;
        if (n)
            or_buf_append(&b, data, n);
        or_redact_utf8(&b);
    }
    json_t *o = json_pack("{s:I, s:s%, s:b}", "bodyBytes", (json_int_t)len, "body",
                          b.data ? b.data : "", b.len, "truncated", cut);
    or_buf_free(&b);
    return o;
}

static json_t *headers_json(const char *const *h)
{
    json_t *o = json_object();
    or_buf v;
    or_buf_init(&v, 0);
    for (size_t i = 0; o && h && h[i] && h[i + 1] && i < 2 * MAX_LOG_HEADERS; i += 2) {
        or_buf_reset(&v);
        if (or_redact_header(h[i])) {
            or_buf_puts(&v, OR_REDACTED);
        } else {
            size_t n = strnlen(h[i + 1], HEADER_VALUE_MAX);
            or_buf_append(&v, h[i + 1], n);
            or_redact_utf8(&v);
        }
        or_buf name;
        or_buf_init(&name, 0);
        or_buf_append(&name, h[i], strnlen(h[i], 128));
        for (size_t k = 0; k < name.len; k++)
            name.data[k] = (char)(name.data[k] >= 'A' && name.data[k] <= 'Z' ? name.data[k] + 32
                                                                             : name.data[k]);
        or_redact_utf8(&name);
        if (name.data)
            json_object_set_new(o, name.data, json_stringn(v.data ? v.data : "", v.len));
        or_buf_free(&name);
    }
    or_buf_free(&v);
    return o;
}

/* A string from a fixed-size row field, made valid UTF-8 (client model names may not be). */
static json_t *text(const char *s)
{
    if (!s || !*s)
        return json_null();
    or_buf b;
    or_buf_init(&b, 0);
    or_buf_puts(&b, s);
    or_redact_utf8(&b);
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    or_buf_free(&b);
    return j ? j : json_null();
}

json_t *or_ops_log_entry(const or_ops_request *r, size_t body_cap)
{
    const or_usage_row *row = r->row;
    char ts[32];
    or_buf q;
    or_buf_init(&q, 0);
    or_redact_query(r->query, QUERY_MAX, &q);
    or_ops_iso_time(row->ts_ms, ts);
    json_t *request = excerpt(r->body, r->body_len, body_cap, true);
    if (request)
        json_object_set_new(request, "headers", headers_json(r->headers));
    json_t *response = r->reply ? excerpt(r->reply, r->reply_len, body_cap, true) : json_null();
    json_t *e = json_pack(
        "{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:b, s:i, s:i,"
        " s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o}",
        "ts", (json_int_t)row->ts_ms, "timestamp", ts, "requestId", text(row->request_id), "method",
        text(r->method), "path", text(r->path), "query", text(q.data), "endpoint",
        text(row->endpoint), "status", row->status, "provider", text(row->provider), "model",
        text(row->model), "connectionId", text(row->connection_id), "apiKeyId",
        text(row->api_key_id), "stream", row->stream, "latencyMs", (int)row->latency_ms, "ttftMs",
        (int)row->ttft_ms, "tokens", "input", (json_int_t)row->tokens_in, "output",
        (json_int_t)row->tokens_out, "cached", (json_int_t)row->tokens_cached, "reasoning",
        (json_int_t)row->tokens_reasoning, "error", text(row->error), "request",
        request ? request : json_null(), "response", response ? response : json_null());
    or_buf_free(&q);
    return e;
}

/* ---- the hook ---- */

void or_ops_observe(const or_ops_request *r)
{
    const or_usage_row *row = r->row;
    or_metrics_observe(or_metrics_global(), &(or_metrics_sample){
                                                .endpoint = row->endpoint,
                                                .provider = row->provider,
                                                .model = row->model,
                                                .status = row->status,
                                                .latency_ms = row->latency_ms,
                                                .ttft_ms = row->ttft_ms,
                                                .tokens_in = row->tokens_in,
                                                .tokens_out = row->tokens_out,
                                                .tokens_cached = row->tokens_cached,
                                                .tokens_reasoning = row->tokens_reasoning,
                                            });
    if (ops.access_log)
        access_log(r);
    if (ops.reqlog)
        or_reqlog_add(ops.reqlog, or_ops_log_entry(r, ops.body_cap));
}

void or_ops_record(or_http_req *req, const or_usage_row *row, const char *reply, size_t reply_len)
{
    const or_buf *body = or_http_body(req);
    or_ops_request r = {
        .method = or_http_method(req),
        .path = or_http_path(req),
        .query = or_http_query(req),
        .body = body ? body->data : NULL,
        .body_len = body ? body->len : 0,
        .reply = reply,
        .reply_len = reply ? reply_len : 0,
        .row = row,
    };
    const char *hdrs[2 * MAX_LOG_HEADERS + 1];
    if (ops.reqlog) { /* only the request logs store headers */
        size_t n = or_http_header_count(req), k = 0;
        for (; k < n && k < MAX_LOG_HEADERS; k++)
            or_http_header_at(req, k, &hdrs[2 * k], &hdrs[2 * k + 1]);
        hdrs[2 * k] = NULL;
        r.headers = hdrs;
    }
    or_ops_observe(&r);
}
