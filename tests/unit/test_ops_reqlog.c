/* Request logs: the summary of a request (headers, query and body secrets redacted, bodies
 * capped), the access-log line, and the capped table behind them (newest first, pruned to
 * keep_rows, persistent across a reopen, pages with limit/offset). */
#include "check.h"

#include "core/clock.h"
#include "ops/ops.h"
#include "ops/reqlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static or_usage_row row_for(int i)
{
    or_usage_row r;
    memset(&r, 0, sizeof r);
    r.ts_ms = 1700000000000 + i;
    snprintf(r.request_id, sizeof r.request_id, "req-%d", i);
    snprintf(r.provider, sizeof r.provider, "openai");
    snprintf(r.model, sizeof r.model, "gpt-4o");
    snprintf(r.endpoint, sizeof r.endpoint, "/v1/chat/completions");
    r.status = 200;
    r.latency_ms = 12;
    r.ttft_ms = 3;
    r.tokens_in = 7;
    r.tokens_out = 9;
    return r;
}

static void test_entry(void)
{
    or_usage_row row = row_for(1);
    const char *headers[] = {"Content-Type",
                             "application/json",
                             "Authorization",
                             "Bearer sk-abc",
                             "x-goog-api-key",
                             "AIza-secret",
                             "X-Request-Id",
                             "r1",
                             NULL};
    const char body[] = "{\"model\":\"gpt-4o\",\"api_key\":\"sk-body\",\"messages\":[]}";
    const char reply[] = "{\"id\":\"x\",\"choices\":[]}";
    json_t *req = or_ops_request_json("POST", "/v1beta/models/gemini:generateContent",
                                      "alt=sse&key=AIza-query", headers, body, strlen(body), 20);
    json_t *e = or_ops_log_entry(req, &row, reply, strlen(reply), 20);
    CHECK(e != NULL);
    char *text = json_dumps(e, JSON_COMPACT);
    CHECK(strstr(text, "sk-abc") == NULL);
    CHECK(strstr(text, "AIza") == NULL);
    CHECK(strstr(text, "sk-body") == NULL);
    json_t *r = json_object_get(e, "request");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "headers"), "authorization")),
              "[REDACTED]");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "headers"), "content-type")),
              "application/json");
    CHECK_STR(json_string_value(json_object_get(e, "query")), "alt=sse&key=[REDACTED]");
    CHECK_STR(json_string_value(json_object_get(e, "method")), "POST");
    CHECK(json_is_true(json_object_get(r, "truncated")));
    CHECK(json_integer_value(json_object_get(r, "bodyBytes")) == (json_int_t)strlen(body));
    CHECK(strlen(json_string_value(json_object_get(r, "body"))) == 20);
    CHECK_STR(json_string_value(json_object_get(e, "requestId")), "req-1");
    CHECK(json_integer_value(json_object_get(e, "status")) == 200);
    CHECK(json_integer_value(json_object_get(json_object_get(e, "tokens"), "output")) == 9);
    CHECK(json_is_null(json_object_get(e, "error")));
    CHECK_STR(json_string_value(json_object_get(e, "timestamp")), "2023-11-14T22:13:20.001Z");
    free(text);
    json_decref(e);

    /* a bigger cap keeps the whole body, redacted */
    req = or_ops_request_json("POST", "/v1/chat/completions", "", NULL, body, strlen(body), 4096);
    e = or_ops_log_entry(req, &row, reply, strlen(reply), 4096);
    CHECK_STR(json_string_value(json_object_get(json_object_get(e, "request"), "body")),
              "{\"model\":\"gpt-4o\",\"api_key\":\"[REDACTED]\",\"messages\":[]}");
    CHECK_STR(json_string_value(json_object_get(json_object_get(e, "response"), "body")), reply);
    CHECK(json_is_null(json_object_get(e, "query")));
    json_decref(e);

    /* no reply kept (a stream): response is null; invalid UTF-8 in the model survives */
    snprintf(row.model, sizeof row.model, "bad\xff");
    req = or_ops_request_json("POST", "/p\xc3", NULL, NULL, NULL, 0, 4096);
    e = or_ops_log_entry(req, &row, NULL, 0, 4096);
    CHECK(json_is_null(json_object_get(e, "response")));
    CHECK_STR(json_string_value(json_object_get(e, "model")), "bad?");
    CHECK_STR(json_string_value(json_object_get(e, "path")), "/p");
    json_decref(e);
    CHECK(or_ops_log_entry(NULL, &row, NULL, 0, 10) == NULL);
}

static void test_access_line(void)
{
    or_usage_row row = row_for(2);
    snprintf(row.model, sizeof row.model, "m\"x");
    or_ops_req r = {.method = "POST", .path = "/v1/chat/completions", .body_len = 42};
    or_buf b;
    or_buf_init(&b, 4096);
    CHECK(or_ops_access_line(&r, &row, 7, 1700000000123, &b) == OR_OK);
    CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "ts")), "2023-11-14T22:13:20.123Z");
    CHECK_STR(json_string_value(json_object_get(j, "request_id")), "req-2");
    CHECK_STR(json_string_value(json_object_get(j, "method")), "POST");
    CHECK_STR(json_string_value(json_object_get(j, "path")), "/v1/chat/completions");
    CHECK_STR(json_string_value(json_object_get(j, "model")), "m\"x");
    CHECK(json_integer_value(json_object_get(j, "status")) == 200);
    CHECK(json_integer_value(json_object_get(j, "latency_ms")) == 12);
    CHECK(json_integer_value(json_object_get(j, "bytes_in")) == 42);
    CHECK(json_integer_value(json_object_get(j, "bytes_out")) == 7);
    json_decref(j);
    or_buf_free(&b);

    /* off: a capture holds nothing and a record only counts */
    or_ops_req none;
    memset(&none, 0, sizeof none);
    or_ops_record(&none, &row, NULL, 0);
    or_ops_release(&none);
}

static json_t *entry(int i)
{
    or_usage_row row = row_for(i);
    json_t *req = or_ops_request_json("POST", "/v1/chat/completions", NULL, NULL, "{}", 2, 100);
    return or_ops_log_entry(req, &row, NULL, 0, 100);
}

static void test_table(void)
{
    char dir[] = "/tmp/or-reqlog-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    or_reqlog *l = NULL;
    or_errbuf eb = {{0}};
    CHECK(or_reqlog_open(dir, &(or_reqlog_limits){.keep_rows = 10}, &l, &eb) == OR_OK);
    for (int i = 0; i < 25; i++)
        or_reqlog_add(l, entry(i));
    or_reqlog_flush(l);
    json_t *logs = NULL;
    int64_t total = 0;
    CHECK(or_reqlog_list(l, 3, 0, &logs, &total, &eb) == OR_OK);
    CHECK(total == 10);
    CHECK(json_array_size(logs) == 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(logs, 0), "requestId")), "req-24");
    CHECK_STR(json_string_value(json_object_get(json_array_get(logs, 2), "requestId")), "req-22");
    CHECK(json_integer_value(json_object_get(json_array_get(logs, 0), "id")) >
          json_integer_value(json_object_get(json_array_get(logs, 1), "id")));
    json_decref(logs);
    CHECK(or_reqlog_list(l, 100, 8, &logs, &total, &eb) == OR_OK);
    CHECK(json_array_size(logs) == 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(logs, 1), "requestId")), "req-15");
    json_decref(logs);
    CHECK(or_reqlog_dropped(l) == 0);
    or_reqlog_close(l);

    /* reopened: the rows are still there; entries queued at close are written */
    CHECK(or_reqlog_open(dir, &(or_reqlog_limits){.keep_rows = 10, .queue_max = 4}, &l, &eb) ==
          OR_OK);
    or_reqlog_add(l, entry(100));
    or_reqlog_close(l);
    CHECK(or_reqlog_open(dir, NULL, &l, &eb) == OR_OK);
    CHECK(or_reqlog_list(l, 50, 0, &logs, &total, &eb) == OR_OK);
    CHECK(total == 10);
    CHECK_STR(json_string_value(json_object_get(json_array_get(logs, 0), "requestId")), "req-100");
    json_decref(logs);
    or_reqlog_add(NULL, entry(1)); /* off: dropped, no leak */
    or_reqlog_close(l);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_entry();
    test_access_line();
    test_table();
    return check_done();
}
