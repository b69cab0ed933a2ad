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

or_err or_ops_access_line(const or_ops_req *r, const or_usage_row *row, size_t bytes_out,
                          int64_t now_ms, or_buf *out)
{
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
                           row->stream ? "true" : "false", r->body_len, bytes_out,
                           (long long)row->tokens_in, (long long)row->tokens_out);
    if (rc == OR_OK)
        or_redact_utf8(out);
    return rc;
}

static void access_log(const or_ops_req *r, const or_usage_row *row, size_t bytes_out)
{
    or_buf line;
    or_buf_init(&line, ACCESS_LINE_MAX);
    if (or_ops_access_line(r, row, bytes_out, or_clock_wall_ms(), &line) == OR_OK) {
        /* One write per line: lines from several workers never interleave. */
        ssize_t w = write(STDERR_FILENO, line.data, line.len);
        (void)w;
    }
    or_buf_free(&line);
}

/* ---- request logs ---- */

static json_t *excerpt(const char *data, size_t len, size_t cap)
{
    or_buf b;
    or_buf_init(&b, 0);
    bool cut = or_redact_json(data ? data : "", data ? len : 0, cap, &b);
    json_t *o = json_pack("{s:s%, s:I, s:b}", "body", b.data ? b.data : "", b.len, "bodyBytes",
                          (json_int_t)len, "truncated", cut);
    or_buf_free(&b);
    return o;
}

/* A string made valid UTF-8 (client model names and paths may not be); null for empty. */
static json_t *text(const char *s, size_t max)
{
    if (!s || !*s)
        return json_null();
    or_buf b;
    or_buf_init(&b, 0);
    or_buf_append(&b, s, strnlen(s, max));
    or_redact_utf8(&b);
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    or_buf_free(&b);
    return j ? j : json_null();
}

static json_t *headers_json(const char *const *h)
{
    json_t *o = json_object();
    char name[129];
    for (size_t i = 0; o && h && h[i] && h[i + 1] && i < 2 * MAX_LOG_HEADERS; i += 2) {
        size_t n = strnlen(h[i], sizeof name - 1);
        for (size_t k = 0; k < n; k++) /* header names are ASCII tokens (the parser checks) */
            name[k] = (char)(h[i][k] >= 'A' && h[i][k] <= 'Z' ? h[i][k] + 32 : h[i][k]);
        name[n] = '\0';
        json_t *v =
            or_redact_header(name) ? json_string(OR_REDACTED) : text(h[i + 1], HEADER_VALUE_MAX);
        json_object_set_new(o, name, v ? v : json_null());
    }
    return o;
}

json_t *or_ops_request_json(const char *method, const char *path, const char *query,
                            const char *const *headers, const char *body, size_t body_len,
                            size_t body_cap)
{
    or_buf q;
    or_buf_init(&q, 0);
    or_redact_query(query, QUERY_MAX, &q);
    json_t *request = excerpt(body, body_len, body_cap);
    if (request)
        json_object_set_new(request, "headers", headers_json(headers));
    json_t *e = json_pack("{s:o, s:o, s:o, s:o}", "method", text(method, 16), "path",
                          text(path, OR_OPS_PATH_MAX), "query", text(q.data, QUERY_MAX), "request",
                          request ? request : json_null());
    or_buf_free(&q);
    return e;
}

json_t *or_ops_log_entry(json_t *e, const or_usage_row *row, const char *reply, size_t reply_len,
                         size_t body_cap)
{
    char ts[32];
    if (!e)
        return NULL;
    or_ops_iso_time(row->ts_ms, ts);
    json_t *response = reply ? excerpt(reply, reply_len, body_cap) : json_null();
    json_t *out = json_pack(
        "{s:I, s:s, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:b, s:i, s:i, s:{s:I, s:I, s:I, s:I},"
        " s:o, s:o}",
        "ts", (json_int_t)row->ts_ms, "timestamp", ts, "requestId",
        text(row->request_id, sizeof row->request_id), "endpoint",
        text(row->endpoint, sizeof row->endpoint), "status", row->status, "provider",
        text(row->provider, sizeof row->provider), "model", text(row->model, sizeof row->model),
        "connectionId", text(row->connection_id, sizeof row->connection_id), "apiKeyId",
        text(row->api_key_id, sizeof row->api_key_id), "stream", row->stream, "latencyMs",
        (int)row->latency_ms, "ttftMs", (int)row->ttft_ms, "tokens", "input",
        (json_int_t)row->tokens_in, "output", (json_int_t)row->tokens_out, "cached",
        (json_int_t)row->tokens_cached, "reasoning", (json_int_t)row->tokens_reasoning, "error",
        text(row->error, sizeof row->error), "response", response ? response : json_null());
    if (out && json_object_update(out, e) == 0) {
        json_decref(e);
        return out;
    }
    json_decref(out);
    json_decref(e);
    return NULL;
}

/* ---- the hook ---- */

static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

void or_ops_capture(or_ops_req *r, or_http_req *req)
{
    r->entry = NULL;
    if (!ops.access_log && !ops.reqlog)
        return; /* metrics need nothing from the request */
    const or_buf *body = or_http_body(req);
    copy_cut(r->method, sizeof r->method, or_http_method(req));
    copy_cut(r->path, sizeof r->path, or_http_path(req));
    r->body_len = body ? body->len : 0;
    if (!ops.reqlog)
        return;
    const char *hdrs[2 * MAX_LOG_HEADERS + 1];
    size_t n = or_http_header_count(req), k = 0;
    for (; k < n && k < MAX_LOG_HEADERS; k++)
        or_http_header_at(req, k, &hdrs[2 * k], &hdrs[2 * k + 1]);
    hdrs[2 * k] = NULL;
    r->entry = or_ops_request_json(r->method, r->path, or_http_query(req), hdrs,
                                   body ? body->data : NULL, r->body_len, ops.body_cap);
}

void or_ops_release(or_ops_req *r)
{
    json_decref(r->entry);
    r->entry = NULL;
}

void or_ops_record(or_ops_req *r, const or_usage_row *row, const char *reply, size_t reply_len)
{
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
        access_log(r, row, reply ? reply_len : 0);
    if (ops.reqlog && r->entry) {
        or_reqlog_add(ops.reqlog, or_ops_log_entry(r->entry, row, reply, reply_len, ops.body_cap));
        r->entry = NULL;
    }
}
