/*
 * relay.c — see relay.h. One client request: resolve the model to a plan of targets, try
 * them (and the accounts of each) in order, and answer from the first attempt that works.
 *
 * An attempt may fail over invisibly until the first byte reaches the client: a non-stream
 * reply is kept whole until it is complete; a stream is held (decoded, not yet written) until
 * its first content event, so an upstream that errors, resets or stalls before its first token
 * is abandoned for the next target. Once committed, a failure ends the client's stream with
 * its format's own error termination. Every attempt's outcome feeds the breakers and cooldowns
 * (resilience/), and the request's usage row is written once, at the end.
 */
#include "gateway/relay_internal.h"
#include "core/clock.h"
#include "core/json_parse.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/park.h"
#include "core/rand.h"
#include "gateway/client_auth.h"
#include "gateway/proxy_pick.h"
#include "gateway/sigcache.h"
#include "gateway/sse_events.h"
#include "gateway/sse_lines.h"
#include "gateway/target.h"
#include "gateway/usage.h"
#include "http/reply.h"
#include "ops/ops.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Timeouts and bounds, from the environment once (tests shorten them). */
or_relay_limits or_relay__limits;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

static unsigned env_ms(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long n = v && *v ? strtoul(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 && n < 0xffffffffUL ? (unsigned)n : dflt;
}

static void limits_load(void)
{
    or_relay__limits.connect_ms = env_ms("OMNIROUTE_CONNECT_TIMEOUT_MS", 10000);
    or_relay__limits.first_byte_ms = env_ms("OMNIROUTE_FIRST_BYTE_TIMEOUT_MS", 300000);
    or_relay__limits.idle_ms = env_ms("OMNIROUTE_IDLE_TIMEOUT_UPSTREAM_MS", 300000);
    or_relay__limits.first_token_ms = env_ms("OMNIROUTE_FIRST_TOKEN_TIMEOUT_MS", 120000);
    or_relay__limits.budget_ms = env_ms("OMNIROUTE_FALLBACK_BUDGET_MS", 600000);
    or_relay__limits.max_attempts = env_ms("OMNIROUTE_MAX_ATTEMPTS", 10);
}

static void next_attempt(relay *c);

/* ---- lifetime ---- */

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* One timer per relay at a time: the first-token deadline of a stream, or the wait for a
 * connection's request limit. It outlives the relay only until uv closes it. */
static void timer_arm(relay *c, uv_timer_cb cb, uint64_t ms)
{
    if (!c->timer) {
        c->timer = calloc(1, sizeof *c->timer);
        if (!c->timer)
            return;
        uv_timer_init(or_http_worker_loop(or_http_req_worker(c->req)), &c->timer->t);
        c->timer->t.data = c->timer;
        c->timer->owner = c;
    }
    uv_timer_start(&c->timer->t, cb, ms, 0);
}

static void timer_stop(relay *c)
{
    if (!c->timer)
        return;
    c->timer->owner = NULL;
    uv_timer_stop(&c->timer->t);
    uv_close((uv_handle_t *)&c->timer->t, timer_closed);
    c->timer = NULL;
}

/* Frees what one attempt holds, so the next starts clean. */
static void attempt_clear(relay *c)
{
    timer_stop(c);
    if (c->t.conn && (c->ticket.held || c->ticket.id)) {
        if (c->ticket.held)
            or_limiter_release(c->rt->res.limiters, c->t.conn->id, &c->ticket);
        else
            or_limiter_cancel(c->rt->res.limiters, c->t.conn->id, &c->ticket);
    }
    memset(&c->ticket, 0, sizeof c->ticket);
    if (c->auth) {
        sodium_memzero(c->auth, strlen(c->auth));
        free(c->auth);
        c->auth = NULL;
    }
    free(c->extra);
    free(c->body);
    c->extra = c->body = NULL;
    c->body_len = c->nhdrs = 0;
    or_buf_reset(&c->url);
    or_buf_reset(&c->reply);
    or_buf_reset(&c->held);
    or_buf_reset(&c->out);
    or_sse_lines_free(&c->lines);
    or_sse_lines_init(&c->lines, 1024 * 1024);
    or_sse_events_free(&c->events);
    if (c->dec)
        c->pf->dec_free(c->dec);
    if (c->enc)
        c->cf->enc_free(c->enc);
    c->dec = NULL;
    c->enc = NULL;
    json_array_clear(c->evs);
    c->up_status = 0;
    c->up_ctype[0] = c->retry_after[0] = '\0';
    c->stream_ok = c->content = c->ir_failed = c->enc_done = false;
    c->ncalls = 0;
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len);

static void relay_free(relay *c)
{
    if (c->busy > 0) {
        c->dead = true;
        return;
    }
    attempt_clear(c);
    or_ops_release(&c->ops);
    or_sse_lines_free(&c->lines);
    or_sse_events_free(&c->events);
    or_buf_free(&c->held);
    or_buf_free(&c->last_body);
    json_decref(c->evs);
    json_decref(c->root);
    if (c->snap)
        or_snapshot_release(c->snap);
    /* Kept for the worker's next requests: 14 KB is past malloc's per-thread cache, and a
     * kept one stays in the CPU cache, with its URL, reply and output buffers when they are of
     * ordinary size. Poisoned while parked (core/park.h). */
    or_worker_ctx *wc = c->wc;
    bool park = wc->nspare_relays < sizeof wc->spare_relays / sizeof *wc->spare_relays;
    or_buf *kept[] = RELAY_KEPT_BUFS(c);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        if (park && kept[i]->cap <= SPARE_BUF_MAX) {
            sodium_memzero(kept[i]->data, kept[i]->len); /* a Gemini URL carries the key */
            or_buf_reset(kept[i]);
        } else {
            or_buf_free(kept[i]);
        }
    }
    if (park) {
        wc->spare_relays[wc->nspare_relays++] = c;
        OR_PARK(c, sizeof *c);
    } else {
        free(c);
    }
}

void or_relay_worker_fini(or_worker_ctx *wc)
{
    while (wc->nspare_relays) {
        relay *c = wc->spare_relays[--wc->nspare_relays];
        OR_UNPARK(c, sizeof *c);
        or_buf *kept[] = RELAY_KEPT_BUFS(c);
        for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
            or_buf_free(kept[i]);
        free(c);
    }
}

/* ---- errors in the client's format ---- */

static json_t *ir_error(int status, const char *code, const char *message)
{
    return json_pack("{s:i, s:s, s:s, s:s?}", "status", status, "error_type",
                     or_reply_error_type(status), "message", message, "code", code);
}

static void reply_ir_error(or_http_req *req, const or_fmt *f, json_t *err, int status,
                           const char *extra_headers)
{
    json_t *body = f->error_from_ir(err);
    json_decref(err);
    or_reply_json(req, status, body, extra_headers);
}

void or_relay_reply_error(or_http_req *req, or_format client, int status, const char *code,
                          const char *extra_headers, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_ir_error(req, or_fmt_get(client), ir_error(status, code, msg), status, extra_headers);
}

/* ---- usage and reply headers ---- */

/* The usage row, with the latency up to now_mono (a time the caller read for the reply's
 * headers too: both are the same moment, within the same synchronous step). */
static void record_at(relay *c, int status, const char *error, uint64_t now_mono)
{
    c->row.status = status;
    c->row.latency_ms = (uint32_t)(now_mono - c->t0);
    if (status >= 200 && status <= 299 && !error && c->row.provider[0])
        or_routing_latency(c->rt, c->row.provider, c->row.latency_ms);
    if (error)
        snprintf(c->row.error, sizeof c->row.error, "%.199s", error);
    or_store_usage_record(c->app->store, &c->row);
    or_ops_record(&c->ops, &c->row, c->reply.len ? c->reply.data : NULL, c->reply.len);
}

static void record(relay *c, int status, const char *error)
{
    record_at(c, status, error, or_clock_mono_ms());
}

static void usage_from_ir(relay *c, const json_t *u)
{
    if (!json_is_object(u))
        return;
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        {"input_tokens", offsetof(or_usage_row, tokens_in)},
        {"output_tokens", offsetof(or_usage_row, tokens_out)},
        {"cached_tokens", offsetof(or_usage_row, tokens_cached)},
        {"reasoning_tokens", offsetof(or_usage_row, tokens_reasoning)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(u, fields[i].key);
        if (json_is_integer(v))
            *(int64_t *)((char *)&c->row + fields[i].off) = (int64_t)json_integer_value(v);
    }
}

/* snprintf(dst, cap, "%.*s", n, src), without the formatter: these copies run several times
 * per request. */

/* Text appended to a fixed buffer, truncated like snprintf; want counts what did not fit. */
typedef struct {
    char *p;
    size_t cap, n, want;
} sink;

static void put(sink *k, const char *s)
{
    size_t len = strlen(s);
    k->want += len;
    if (k->n + len >= k->cap)
        len = k->cap - 1 - k->n;
    memcpy(k->p + k->n, s, len);
    k->n += len;
    k->p[k->n] = '\0';
}

static void put_u64(sink *k, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp - 1;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(k, tmp + i);
}

static void reply_headers(relay *c, uint64_t now_mono, char *out, size_t cap,
                          const char *retry_after)
{
    sink k = {out, cap, 0, 0};
    out[0] = '\0';
    put(&k, "X-OmniRoute-Provider: ");
    put(&k, c->row.provider);
    put(&k, "\r\nX-OmniRoute-Model: ");
    put(&k, c->row.model);
    put(&k, "\r\nX-OmniRoute-Request-Id: ");
    put(&k, c->row.request_id);
    put(&k, "\r\nX-OmniRoute-Latency-Ms: ");
    put_u64(&k, now_mono - c->t0);
    put(&k, "\r\nX-OmniRoute-Fallback-Attempts: ");
    put_u64(&k, c->attempts);
    put(&k, "\r\n");
    if (retry_after && retry_after[0] && k.want < cap) {
        put(&k, "Retry-After: ");
        put(&k, retry_after);
        put(&k, "\r\n");
    }
}

static or_attempt attempt_id(relay *c, char *model, size_t cap)
{
    or_relay__copy_str(model, cap, c->t.model, c->t.model_len);
    return (or_attempt){c->t.provider->id, c->t.conn->id, model};
}

static void report_success(relay *c)
{
    char model[256];
    or_attempt a = attempt_id(c, model, sizeof model);
    or_resilience_on_success(&c->rt->res, &a, c->probe_tok);
    c->probe_tok = 0;
    if (c->plan.combo[0])
        or_plan_used(c->rt->plans, c->plan.combo, c->plan.steps[c->step].model);
}

/* ---- the final answer when no attempt succeeded ---- */

static void fail_final(relay *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_final(relay *c, int status, const char *code, const char *fmt, ...)
{
    char msg[600], hdrs[1024];
    uint64_t now = or_clock_mono_ms();
    if (c->last_status >= 400 && c->last_pf) {
        /* The last provider's own error, in the client's format (or as is, same format). */
        reply_headers(c, now, hdrs, sizeof hdrs, c->last_retry);
        record_at(c, c->last_status, c->last_msg[0] ? c->last_msg : "upstream error", now);
        if (c->last_pf == c->cf) {
            or_http_respond(c->req, c->last_status,
                            c->last_ctype[0] ? c->last_ctype : "application/json", hdrs,
                            c->last_body.data, c->last_body.len);
        } else {
            json_t *doc = or_json_loadb(c->last_body.data ? c->last_body.data : "",
                                        c->last_body.len, 0, NULL);
            json_t *err = c->last_pf->error_to_ir(c->last_status, doc);
            json_decref(doc);
            json_object_set_new(err, "status", json_integer(c->last_status));
            reply_ir_error(c->req, c->cf, err, c->last_status, hdrs);
        }
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_headers(c, now, hdrs, sizeof hdrs, c->last_retry);
    record_at(c, status, msg, now);
    reply_ir_error(c->req, c->cf, ir_error(status, code, msg), status, hdrs);
}

/* ---- streams: provider events → IR → client bytes ---- */

static bool is_content(const char *type)
{
    static const char *const kinds[] = {
        "text", "thinking", "thinking_signature", "tool_call", "tool_args", "stop", "done"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(type, kinds[i]) == 0)
            return true;
    return false;
}

/* A Gemini provider's thought signatures, by the call id the client sees (sigcache.h). */
static void keep_signature(relay *c, const char *type, const json_t *ev)
{
    long index = (long)json_integer_value(json_object_get(ev, "index"));
    if (strcmp(type, "tool_call") == 0) {
        const char *id = json_string_value(json_object_get(ev, "id"));
        if (id && c->ncalls < sizeof c->calls / sizeof c->calls[0]) {
            c->calls[c->ncalls].index = index;
            or_relay__copy_str(c->calls[c->ncalls].id, sizeof c->calls[0].id, id, strlen(id));
            c->ncalls++;
        }
    } else if (strcmp(type, "tool_signature") == 0) {
        for (size_t i = 0; i < c->ncalls; i++)
            if (c->calls[i].index == index)
                or_sigcache_put(c->calls[i].id,
                                json_string_value(json_object_get(ev, "signature")));
    }
}

/* Usage, commit detection and (translated) encoding of the decoded events. */
static void handle_events(relay *c)
{
    size_t i;
    json_t *ev;
    json_array_foreach(c->evs, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (!type)
            continue;
        if (strcmp(type, "usage") == 0)
            usage_from_ir(c, json_object_get(ev, "usage"));
        else if (c->translate && c->pf->id == OR_FMT_GEMINI && c->cf->id != OR_FMT_GEMINI)
            keep_signature(c, type, ev);
        if (!c->committed && !c->content) {
            if (strcmp(type, "error") == 0) {
                c->ir_failed = true;
                json_t *st = json_object_get(ev, "status");
                c->ir_status = json_is_integer(st) ? (int)json_integer_value(st) : 502;
                snprintf(c->ir_msg, sizeof c->ir_msg, "%s",
                         json_string_value(json_object_get(ev, "message"))
                             ? json_string_value(json_object_get(ev, "message"))
                             : "upstream error");
                break;
            }
            if (is_content(type))
                c->content = true;
        }
        if (c->enc_done || !c->enc)
            continue;
        if (c->cf->enc_event(c->enc, ev, &c->out) != OR_OK)
            or_log_warn("request %s: cannot encode a %s event", c->row.request_id, type);
        if (strcmp(type, "done") == 0)
            c->enc_done = true;
    }
    json_array_clear(c->evs);
}

/* memmem(data, len, "sage", 4), cheaper for this case: glibc's memmem sets up a shift table on
 * every call (~1k instructions for a 300-byte event), memchr finds the rare 'g' and the
 * neighbours are compared in place. */
static bool mentions_usage(const char *data, size_t len)
{
    for (const char *p = data, *end = data + len; (p = memchr(p, 'g', (size_t)(end - p))); p++)
        if (p - data >= 2 && end - p >= 2 && memcmp(p - 2, "sage", 4) == 0)
            return true;
    return false;
}

/* An OpenAI chunk (valid JSON, no error member) whose first choice's delta carries text: the
 * first token, known without building a tree (the decoder's tree costs ~50k instructions for
 * a 300-byte chunk). Anything else is left to the decoder. */
static bool openai_text_chunk(const char *data, size_t len)
{
    static const char *const keys[] = {"error", "choices"};
    or_json_span at[2];
    size_t d0, d1, t0, t1;
    if (!or_json_valid_object(data, len, 64, keys, 2, at) || at[0].end || !at[1].end ||
        data[at[1].start] != '[')
        return false;
    size_t e = at[1].start + 1, b = at[1].end;
    while (e < b && (data[e] == ' ' || data[e] == '\t' || data[e] == '\n' || data[e] == '\r'))
        e++;
    return e < b && data[e] == '{' && or_json_find_member(data + e, b - e, "delta", &d0, &d1) &&
           data[e + d0] == '{' &&
           or_json_find_member(data + e + d0, d1 - d0, "content", &t0, &t1) &&
           data[e + d0 + t0] == '"' && t1 - t0 > 2;
}

/* Usage read in place from an OpenAI chunk that mentions it (null on most chunks). */
static void openai_chunk_usage(relay *c, const char *data, size_t len)
{
    size_t a, b;
    if (or_json_find_member(data, len, "usage", &a, &b))
        or_usage_from_openai_json(data + a, b - a, &c->row);
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len)
{
    relay *c = ud;
    bool raw_openai = !c->translate && c->pf->id == OR_FMT_OPENAI;
    if (raw_openai && !c->committed && !c->content && openai_text_chunk(data, len))
        c->content = true; /* the first token, as the decoder would have said */
    /* Passthrough after the first token: only events that carry usage are read. */
    if (!c->translate && c->content) {
        if (!mentions_usage(data, len))
            return 0;
        if (raw_openai) {
            openai_chunk_usage(c, data, len);
            return 0;
        }
    }
    or_errbuf eb = {{0}};
    if (c->pf->dec_event(c->dec, event, data, len, c->evs, &eb) != OR_OK)
        or_log_debug("request %s: undecodable upstream event: %s", c->row.request_id, eb.msg);
    handle_events(c);
    return c->ir_failed; /* stop feeding a failed attempt */
}

static void on_openai_line(void *ud, const char *line, size_t len, bool cut)
{
    relay *c = ud;
    if (!cut)
        or_usage_from_openai_sse_line(line, len, &c->row);
}

static bool write_client(relay *c, const char *p, size_t n)
{
    if (!n)
        return false;
    c->busy++;
    bool full = or_http_stream_write(c->req, p, n);
    c->busy--;
    return full;
}

/* The first token arrived: the client stream starts with everything held so far. */
static bool commit(relay *c)
{
    char hdrs[1024];
    timer_stop(c);
    c->committed = true;
    report_success(c);
    uint64_t now = or_clock_mono_ms(); /* headers and time to first token: the same moment */
    reply_headers(c, now, hdrs, sizeof hdrs - 64, NULL);
    strcat(hdrs, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    const char *ctype = !c->translate ? (c->up_ctype[0] ? c->up_ctype : "text/event-stream")
                        : c->cf->id == OR_FMT_GEMINI && !c->copts.gemini_sse
                            ? "application/json"
                            : c->cf->stream_content_type;
    c->row.ttft_ms = (uint32_t)(now - c->t0) + 1;
    c->busy++;
    or_http_stream_start(c->req, c->up_status, ctype, hdrs);
    c->busy--;
    if (c->dead)
        return false;
    const or_buf *src = c->translate ? &c->out : &c->held;
    bool full = write_client(c, src->data, src->len);
    or_buf_reset(&c->out);
    or_buf_reset(&c->held);
    return full;
}

/* ---- failures ---- */

static uint32_t transport_mask(or_up_result res)
{
    static const or_transport_error map[] = {
        [OR_UP_OK] = OR_TRANSPORT_NONE,          [OR_UP_ECONNECT] = OR_TRANSPORT_CONNECT,
        [OR_UP_ETIMEOUT] = OR_TRANSPORT_TIMEOUT, [OR_UP_ERESET] = OR_TRANSPORT_RESET,
        [OR_UP_EPROTO] = OR_TRANSPORT_RESET,     [OR_UP_ETOOBIG] = OR_TRANSPORT_RESET,
        [OR_UP_EINTERNAL] = OR_TRANSPORT_RESET,
    };
    return or_failure_classify(0, NULL, 0, (int)map[res]);
}

/* An attempt failed before anything reached the client: cool down what the failure says, keep
 * its reply as "the last error", and move on (or stop, for a request no target will take). */
static void attempt_failed(relay *c, uint32_t mask, int status, const char *why)
{
    char model[256];
    or_attempt a = attempt_id(c, model, sizeof model);
    or_failure_effect eff;
    or_resilience_on_failure(&c->rt->res, &a, mask, or_retry_after_ms(&c->ra), status, c->probe_tok,
                             &eff);
    c->probe_tok = 0;
    or_log_info("request %s: attempt %u on %s/%.*s (%s) failed: %s", c->row.request_id, c->attempts,
                c->t.provider->id, (int)c->t.model_len, c->t.model, c->t.conn->id, why);
    c->last_status = status;
    c->last_pf = c->pf;
    snprintf(c->last_msg, sizeof c->last_msg, "%s", why);
    snprintf(c->last_ctype, sizeof c->last_ctype, "%s", c->up_ctype);
    snprintf(c->last_retry, sizeof c->last_retry, "%s", c->retry_after);
    or_buf tmp = c->last_body;
    c->last_body = c->reply; /* keep the error body; reuse the old buffer for the next reply */
    c->reply = tmp;
    if (c->up) {
        or_up_cancel(c->up);
        c->up = NULL;
    }
    attempt_clear(c);
    if (eff.next == OR_NEXT_STOP) {
        fail_final(c, status ? status : 502, "upstream_error", "%s", why);
        relay_free(c);
        return;
    }
    if (eff.next == OR_NEXT_ACCOUNT)
        c->excluded[c->cand] = true;
    else {
        c->step++;
        c->step_ready = false;
    }
    next_attempt(c);
}

static void on_token_timeout(uv_timer_t *t)
{
    token_timer *tt = (token_timer *)t;
    relay *c = tt->owner;
    if (!c || c->committed)
        return;
    char why[96];
    snprintf(why, sizeof why, "no first token within %u ms", or_relay__limits.first_token_ms);
    attempt_failed(c, or_failure_classify(0, NULL, 0, OR_TRANSPORT_TIMEOUT), 0, why);
}

/* ---- upstream callbacks ---- */

static void on_up_head(void *ud, int status, const or_up_header *h, size_t nh)
{
    relay *c = ud;
    c->up_status = status;
    for (size_t i = 0; i < nh; i++) {
        size_t vlen = strlen(h[i].value), nlen = strlen(h[i].name);
        or_retry_after_header(&c->ra, h[i].name, h[i].value, vlen);
        if (nlen == sizeof "content-type" - 1 && strcasecmp(h[i].name, "content-type") == 0)
            or_relay__copy_str(c->up_ctype, sizeof c->up_ctype, h[i].value, vlen);
        else if (nlen == sizeof "retry-after" - 1 && strcasecmp(h[i].name, "retry-after") == 0)
            or_relay__copy_str(c->retry_after, sizeof c->retry_after, h[i].value, vlen);
    }
    if (!c->stream || status < 200 || status > 299)
        return; /* kept whole and judged in on_done */
    c->stream_ok = true;
    timer_arm(c, on_token_timeout, or_relay__limits.first_token_ms);
}

static bool on_up_data(void *ud, const char *p, size_t n)
{
    relay *c = ud;
    if (!c->stream_ok) {
        if (or_buf_append(&c->reply, p, n) != OR_OK)
            c->up_status = -1; /* too large: a 502 in on_done */
        return false;
    }
    bool full = false;
    c->busy++;
    if (!c->translate && !c->committed && or_buf_append(&c->held, p, n) != OR_OK)
        c->content = true; /* holding more than this: commit anyway */
    if (c->translate || c->pf->id != OR_FMT_OPENAI || !c->content)
        or_sse_events_feed(&c->events, p, n);
    else
        or_sse_lines_feed(&c->lines, p, n, on_openai_line, c);
    if (c->ir_failed) {
        c->busy--;
        if (!c->dead) {
            char why[256];
            snprintf(why, sizeof why, "in-stream error before the first token: %s", c->ir_msg);
            attempt_failed(c, or_failure_classify(c->ir_status, c->ir_msg, strlen(c->ir_msg), 0),
                           c->ir_status, why);
        } else {
            relay_free(c);
        }
        return false;
    }
    if (!c->committed && c->translate && c->out.len > MAX_HELD_BYTES)
        c->content = true; /* holding more than this: commit anyway */
    if (!c->committed && c->content) {
        full = commit(c);
    } else if (c->committed) {
        full = c->translate ? write_client(c, c->out.data, c->out.len) : write_client(c, p, n);
        or_buf_reset(&c->out);
    }
    c->busy--;
    if (c->dead) {
        relay_free(c);
        return false;
    }
    return full;
}

static int status_for(or_up_result res)
{
    return res == OR_UP_ETIMEOUT ? 504 : 502;
}

/* A committed stream ends: cleanly, or with the client format's error termination. */
static void end_stream(relay *c, or_up_result res, const char *detail)
{
    or_errbuf eb = {{0}};
    if (c->translate || res != OR_UP_OK) {
        or_fmt_enc *own = NULL;
        or_fmt_enc *enc = c->enc;
        if (!enc) {
            /* Passthrough: the client format's encoder renders the error end. It is told the
             * stream already began (its opening events go to a scratch buffer: the client got
             * the provider's own), so it emits only the termination. */
            enc = own = c->cf->enc_new(&c->copts);
            json_t *start = json_pack("{s:s, s:s, s:s}", "type", "start", "id", c->row.request_id,
                                      "model", c->client_model);
            or_buf scratch;
            or_buf_init(&scratch, 0);
            if (own && start)
                c->cf->enc_event(own, start, &scratch);
            or_buf_free(&scratch);
            json_decref(start);
        }
        if (res != OR_UP_OK) {
            json_t *err = ir_error(status_for(res), "upstream_stream_error", detail);
            json_object_set_new(err, "type", json_string("error"));
            json_array_append_new(c->evs, err);
            json_array_append_new(c->evs, json_pack("{s:s}", "type", "done"));
        } else {
            or_sse_events_finish(&c->events);
            c->pf->dec_end(c->dec, c->evs, &eb);
        }
        or_fmt_enc *saved = c->enc;
        c->enc = enc;
        c->enc_done = c->enc_done && !own;
        handle_events(c);
        c->enc = saved;
        if (own)
            c->cf->enc_free(own);
        write_client(c, c->out.data, c->out.len);
        or_buf_reset(&c->out);
        if (c->dead)
            return;
    }
    if (res != OR_UP_OK) {
        char model[256];
        or_attempt a = attempt_id(c, model, sizeof model);
        or_failure_effect eff;
        or_resilience_on_failure(&c->rt->res, &a, transport_mask(res), 0, 0, 0, &eff);
    }
    record(c, c->up_status, res == OR_UP_OK ? NULL : detail);
    or_http_stream_end(c->req);
}

/* A complete 2xx non-stream reply. */
static void end_whole(relay *c)
{
    char hdrs[1024];
    report_success(c);
    /* One clock read for the time to first token, the latency header and the usage row's
     * latency: all describe the reply's end, and what runs between them is this step's own
     * CPU work (microseconds, below the milliseconds they are kept in). */
    uint64_t now = or_clock_mono_ms();
    c->row.ttft_ms = (uint32_t)(now - c->t0) + 1;
    reply_headers(c, now, hdrs, sizeof hdrs, NULL);
    json_t *ir = NULL, *out = NULL, *doc = NULL;
    or_errbuf eb = {{0}};
    if (!c->translate) {
        size_t a, b;
        if (c->pf->id == OR_FMT_OPENAI) {
            /* Passthrough: only the usage object is parsed, not the whole answer. */
            if (or_json_find_member_last(c->reply.data, c->reply.len, "usage", &a, &b))
                or_usage_from_openai_json(c->reply.data + a, b - a, &c->row);
        } else if ((doc = or_json_loadb(c->reply.data, c->reply.len, 0, NULL)) &&
                   c->pf->resp_to_ir(doc, &ir, &eb) == OR_OK) {
            usage_from_ir(c, json_object_get(ir, "usage"));
        }
        json_decref(ir);
        json_decref(doc);
        record_at(c, c->up_status, NULL, now);
        or_http_respond(c->req, c->up_status, c->up_ctype[0] ? c->up_ctype : "application/json",
                        hdrs, c->reply.data, c->reply.len);
        return;
    }
    doc = c->reply.len ? or_json_loadb(c->reply.data, c->reply.len, 0, NULL) : NULL;
    if (!doc || c->pf->resp_to_ir(doc, &ir, &eb) != OR_OK ||
        c->cf->resp_from_ir(ir, &c->copts, &out, &eb) != OR_OK) {
        json_decref(doc);
        json_decref(ir);
        record_at(c, 502, doc ? eb.msg : "upstream reply is not JSON", now);
        reply_ir_error(c->req, c->cf,
                       ir_error(502, "upstream_error",
                                doc ? "could not translate the provider's reply"
                                    : "the provider's reply is not JSON"),
                       502, hdrs);
        return;
    }
    usage_from_ir(c, json_object_get(ir, "usage"));
    if (c->pf->id == OR_FMT_GEMINI && c->cf->id != OR_FMT_GEMINI)
        or_sigcache_take_response(ir);
    json_decref(doc);
    json_decref(ir);
    record_at(c, 200, NULL, now);
    or_reply_json(c->req, 200, out, hdrs);
}

static void on_up_done(void *ud, or_up_result res, const char *detail)
{
    relay *c = ud;
    c->up = NULL;
    if (c->dead) { /* the client left inside a callback; its abort recorded the row */
        relay_free(c);
        return;
    }
    const char *why = detail && *detail ? detail : or_up_result_name(res);
    if (c->committed) {
        end_stream(c, res, why);
        relay_free(c);
        return;
    }
    if (c->stream_ok) {
        if (res == OR_UP_OK) {
            or_errbuf eb = {{0}};
            c->busy++;
            or_sse_events_finish(&c->events);
            if (!c->ir_failed)
                c->pf->dec_end(c->dec, c->evs, &eb);
            handle_events(c);
            c->busy--;
            if (c->content && !c->ir_failed) {
                /* A short answer that ended before commit: it is complete, send it whole. */
                commit(c);
                if (!c->dead) { /* else the client left during commit: its abort recorded */
                    or_http_stream_end(c->req);
                    record(c, c->up_status, NULL);
                }
                relay_free(c);
                return;
            }
            attempt_failed(c, or_failure_classify(0, NULL, 0, OR_TRANSPORT_STREAM_CUT),
                           c->ir_failed ? c->ir_status : 0,
                           c->ir_failed ? c->ir_msg : "stream ended before the first token");
            return;
        }
        attempt_failed(c, transport_mask(res), 0, why);
        return;
    }
    if (res != OR_UP_OK) {
        attempt_failed(c, transport_mask(res), 0, why);
        return;
    }
    if (c->up_status < 0) {
        attempt_failed(c, transport_mask(OR_UP_ETOOBIG), 0, "the provider's reply is too large");
        return;
    }
    if (c->up_status < 200 || c->up_status > 299) {
        or_retry_after_body(&c->ra, c->reply.data, c->reply.len);
        char why2[300];
        snprintf(why2, sizeof why2, "HTTP %d: %.*s", c->up_status,
                 (int)(c->reply.len < 200 ? c->reply.len : 200),
                 c->reply.data ? c->reply.data : "");
        attempt_failed(c, or_failure_classify(c->up_status, c->reply.data, c->reply.len, 0),
                       c->up_status, why2);
        return;
    }
    end_whole(c);
    relay_free(c);
}

static void on_client_drain(or_http_req *req, void *ud)
{
    (void)req;
    relay *c = ud;
    if (c->up)
        or_up_resume(c->up);
}

static void on_client_abort(or_http_req *req, void *ud)
{
    (void)req;
    relay *c = ud;
    if (c->up) {
        or_up_cancel(c->up);
        c->up = NULL;
    }
    if (c->t.conn) {
        char model[256];
        or_attempt a = attempt_id(c, model, sizeof model);
        or_resilience_on_abort(&c->rt->res, &a, c->probe_tok);
        c->probe_tok = 0;
    }
    record(c, 499, "client closed the connection");
    relay_free(c);
}

/* ---- building an attempt ---- */

/* Prepares and starts the attempt on c->t (provider, model, connection chosen). now_mono and
 * now_wall are the caller's clock reads from the same synchronous step (the deadline and the
 * connection's last-use mark need no finer time than that). */
static or_err start_attempt(relay *c, uint64_t now_mono, int64_t now_wall, or_errbuf *eb)
{
    c->pf = or_fmt_get(c->t.provider->format);
    /* A Gemini client that wants the JSON-array stream gets it re-encoded: providers are always
     * asked for SSE. */
    c->translate =
        c->pf != c->cf || (c->cf->id == OR_FMT_GEMINI && c->stream && !c->copts.gemini_sse);
    /* The decoder and the event array serve streams only: a whole reply is read in end_whole. */
    if (c->stream) {
        c->dec = c->pf->dec_new();
        if (!c->evs)
            c->evs = json_array();
    }
    if (c->translate)
        c->enc = c->cf->enc_new(&c->copts);
    or_sse_events_init(&c->events, MAX_SSE_EVENT, on_sse_event, c);
    or_retry_after_init(&c->ra);
    or_relay__copy_str(c->row.provider, sizeof c->row.provider, c->t.provider->id,
                       strlen(c->t.provider->id));
    or_relay__copy_str(c->row.model, sizeof c->row.model, c->t.model, c->t.model_len);
    or_relay__copy_str(c->row.connection_id, sizeof c->row.connection_id, c->t.conn->id,
                       strlen(c->t.conn->id));

    or_err e;
    if (c->translate)
        e = or_relay__translate_body(c, eb);
    else if (c->body_not_raw)
        e = or_relay__serialize_body(c);
    else if (c->model_in_body)
        e = or_relay__splice_model(c, or_http_body(c->req));
    else {
        const or_buf *raw = or_http_body(c->req);
        c->body = malloc(raw->len + 1);
        e = c->body ? OR_OK : OR_ENOMEM;
        if (c->body) {
            memcpy(c->body, raw->data ? raw->data : "", raw->len);
            c->body[raw->len] = '\0';
            c->body_len = raw->len;
        }
    }
    if (e != OR_OK)
        return e;
    const char *root_url;
    size_t rlen = or_target_api_root(&c->t, &root_url);
    char model[256];
    or_relay__copy_str(model, sizeof model, c->t.model, c->t.model_len);
    e = c->path && !c->translate
            ? (or_buf_append(&c->url, root_url, rlen) == OR_OK ? or_buf_puts(&c->url, c->path)
                                                               : OR_ETOOBIG)
            : c->pf->url(root_url, rlen, model, c->stream, &c->url);
    if (e == OR_OK)
        e = or_relay__build_headers(c);
    if (e != OR_OK)
        return or_fail(eb, OR_EINTERNAL, "cannot build the provider request");

    /* The outbound proxy (key → combo → connection → provider → global → environment). An
     * unusable one fails the attempt like a connect failure, never silently goes direct. */
    char proxy[OR_PROXY_URL_MAX];
    const char *proxy_url = NULL;
    const or_proxy_scope ps = {.key_id = c->row.api_key_id,
                               .combo = c->plan.combo,
                               .conn_id = c->t.conn->id,
                               .provider = c->t.provider->id,
                               .url = c->url.data};
    if (or_proxy_pick(c->app->store, c->snap->settings, NULL, &ps, proxy, sizeof proxy, &proxy_url,
                      NULL, eb) != OR_OK)
        return OR_EUPSTREAM;

    uint64_t left = c->deadline > now_mono ? c->deadline - now_mono : 1;
    or_up_request rq = {
        .method = "POST",
        .url = c->url.data,
        .headers = c->hdrs,
        .nheaders = c->nhdrs,
        .body = c->body,
        .body_len = c->body_len,
        .connect_ms = or_relay__limits.connect_ms,
        .first_byte_ms =
            (unsigned)(left < or_relay__limits.first_byte_ms ? left
                                                             : or_relay__limits.first_byte_ms),
        .idle_ms = or_relay__limits.idle_ms,
        .proxy = proxy_url,
    };
    static const or_up_callbacks cbs = {on_up_head, on_up_data, on_up_done};
    c->attempts++;
    or_routing_touch(c->rt, c->t.conn->id, now_wall);
    e = or_up_start(c->wc->up, &rq, &cbs, c, &c->up);
    sodium_memzero(
        proxy, sizeof proxy); /* it may hold the proxy password; the upstream client copied it */
    return e;
}

enum { ADMIT_OK, ADMIT_WAIT, ADMIT_REJECTED };

static void resume_after_wait(uv_timer_t *t);

/* Takes the chosen connection's request-limit slot: now, after a bounded wait, or not at all
 * (then the account is skipped, and a 429 with Retry-After is what the client sees if no
 * other account or target answers). */
static int limiter_admit(relay *c, uint64_t now_mono)
{
    or_relay__configure_limits(c);
    uint64_t wait = 0;
    or_limiter_verdict v =
        or_limiter_try(c->rt->res.limiters, c->t.conn->id, now_mono, &c->ticket, &wait);
    if (v == OR_LIMIT_OK)
        return ADMIT_OK;
    if (v == OR_LIMIT_WAIT) {
        timer_arm(c, resume_after_wait, wait ? wait : OR_LIMITER_POLL_MS);
        return ADMIT_WAIT;
    }
    memset(&c->ticket, 0, sizeof c->ticket);
    c->excluded[c->cand] = true;
    if (!c->last_pf) {
        c->last_status = 429;
        snprintf(c->last_retry, sizeof c->last_retry, "%llu",
                 (unsigned long long)((wait + 999) / 1000 ? (wait + 999) / 1000 : 1));
        snprintf(c->last_msg, sizeof c->last_msg, "connection `%s` of `%s` is at its request limit",
                 c->t.conn->name, c->t.provider->id);
    }
    return ADMIT_REJECTED;
}

static void next_attempt(relay *c);

static void resume_after_wait(uv_timer_t *t)
{
    token_timer *tt = (token_timer *)t;
    relay *c = tt->owner;
    if (!c)
        return;
    uint64_t now = or_clock_mono_ms();
    int admit = limiter_admit(c, now);
    if (admit == ADMIT_WAIT)
        return;
    if (admit == ADMIT_OK) {
        timer_stop(c);
        or_errbuf eb = {{0}};
        if (start_attempt(c, now, or_clock_wall_ms(), &eb) == OR_OK)
            return;
        attempt_failed(c, transport_mask(OR_UP_ECONNECT), 0,
                       eb.msg[0] ? eb.msg : "could not start the upstream request");
        return;
    }
    next_attempt(c);
}

static void next_attempt(relay *c)
{
    for (;;) {
        /* One read of each clock per pass: the deadline check, the account pick, the limiter
         * and the attempt's start run back to back without yielding to the loop. */
        uint64_t now = or_clock_mono_ms();
        int64_t wall = or_clock_wall_ms();
        if (c->attempts >= or_relay__limits.max_attempts || now >= c->deadline) {
            fail_final(c, 503, "fallback_exhausted", "gave up after %u attempt(s) in %llu ms: %s",
                       c->attempts, (unsigned long long)(or_clock_mono_ms() - c->t0),
                       c->last_msg[0] ? c->last_msg : "no target answered");
            break;
        }
        if (c->step >= c->plan.n) {
            fail_final(c, c->last_status ? c->last_status : 503, "no_available_target", "%s",
                       c->last_msg[0] ? c->last_msg : "no target could serve this model");
            break;
        }
        if (!c->step_ready) {
            if (!or_relay__prepare_step(c)) {
                c->step++;
                continue;
            }
            c->step_ready = true;
        }
        if (!or_relay__pick_account(c, wall)) {
            if (c->probe_tok) { /* a probe slot nobody used */
                char model[256];
                or_attempt a = {c->t.provider->id, "", model};
                or_relay__copy_str(model, sizeof model, c->t.model, c->t.model_len);
                or_resilience_on_abort(&c->rt->res, &a, c->probe_tok);
                c->probe_tok = 0;
            }
            c->step++;
            c->step_ready = false;
            continue;
        }
        int admit = limiter_admit(c, now);
        if (admit == ADMIT_WAIT)
            return; /* a timer resumes it (resume_after_wait) */
        if (admit == ADMIT_REJECTED)
            continue;
        or_errbuf eb = {{0}};
        or_err e = start_attempt(c, now, wall, &eb);
        if (e == OR_OK)
            return; /* the upstream callbacks take it from here */
        if (e == OR_EINVAL) {
            /* The client's request cannot be expressed for this provider: its fault, not the
             * provider's; try the next target, and say why if none takes it. */
            snprintf(c->last_msg, sizeof c->last_msg, "%s", eb.msg);
            if (!c->last_pf)
                c->last_status = 400;
            attempt_clear(c);
            c->step++;
            c->step_ready = false;
            continue;
        }
        attempt_failed(c, transport_mask(OR_UP_ECONNECT), 0,
                       eb.msg[0] ? eb.msg : "could not start the upstream request");
        return;
    }
    relay_free(c);
}

static bool model_name_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
            return false;
    return true;
}

void or_relay_start(or_http_req *req, or_app *app, json_t *root, const or_relay_opts *o)
{
    pthread_once(&limits_once, limits_load);
    const or_fmt *cf = or_fmt_get(o->client);
    if (!o->model || !model_name_ok(o->model)) {
        or_relay_reply_error(req, o->client, 400, "invalid_model", NULL,
                             "`model` is required: a string such as \"openai/gpt-4o-mini\"");
        return;
    }
    or_worker_ctx *wc = or_worker_of(req);
    relay *c = wc->nspare_relays ? wc->spare_relays[--wc->nspare_relays] : NULL;
    if (c) {
        OR_UNPARK(c, sizeof *c);
    } else if ((c = malloc(sizeof *c))) {
        or_buf_init(&c->url, 8192);
        or_buf_init(&c->reply, MAX_REPLY_BYTES);
        or_buf_init(&c->out, 0);
    } else {
        or_relay_reply_error(req, o->client, 500, NULL, NULL, "out of memory");
        return;
    }
    /* Zeroed as calloc would, up to the kept buffers and the plan (relay_internal.h). */
    memset(c, 0, offsetof(relay, url));
    c->plan.n = 0;
    c->plan.combo[0] = '\0';
    c->req = req;
    c->wc = wc;
    or_ops_capture(&c->ops, req);
    c->app = app;
    c->rt = &app->routing;
    c->cf = cf;
    c->root = root ? json_incref(root) : NULL; /* else parsed on first need (root_of) */
    c->stream = o->stream;
    c->model_in_body = o->model_in_body;
    c->body_not_raw = o->body_not_raw;
    c->path = o->path;
    c->t0 = or_http_req_start_ms(req);
    c->deadline = c->t0 + or_relay__limits.budget_ms;
    or_buf_init(&c->last_body, MAX_REPLY_BYTES);
    or_buf_init(&c->held, MAX_HELD_BYTES);
    or_sse_lines_init(&c->lines, 1024 * 1024);
    or_sse_events_init(&c->events, MAX_SSE_EVENT, on_sse_event, c);
    c->row.ts_ms = or_clock_wall_ms();
    c->row.stream = o->stream;
    or_uuid4(c->row.request_id);
    or_relay__copy_str(c->row.endpoint, sizeof c->row.endpoint, o->endpoint, strlen(o->endpoint));
    or_relay__copy_str(c->row.model, sizeof c->row.model, o->model, strlen(o->model));
    or_relay__copy_str(c->client_model, sizeof c->client_model, o->model, strlen(o->model));
    c->copts = (or_fmt_opts){.stream = o->stream,
                             .gemini_sse = o->gemini_sse,
                             .include_usage = true,
                             .model = c->client_model,
                             .id = c->row.request_id,
                             .created = (long long)(c->row.ts_ms / 1000)};
    /* stream_options.include_usage only shapes a stream's encoding (openai_stream.c). */
    if (o->client == OR_FMT_OPENAI && o->stream)
        c->copts.include_usage =
            root ? json_is_true(
                       json_object_get(json_object_get(root, "stream_options"), "include_usage"))
                 : o->include_usage;
    c->snap = or_store_snapshot(app->store);
    if (!or_client_auth_model(req, app, c->snap, o->client, o->model, c->row.api_key_id)) {
        record(c, 403, "model not allowed for this API key");
        relay_free(c);
        return;
    }
    or_errbuf eb = {{0}};
    if (or_plan_resolve(c->rt->plans, c->snap->settings, o->model, &c->plan, &eb) != OR_OK) {
        char hdrs[256];
        snprintf(hdrs, sizeof hdrs, "X-OmniRoute-Request-Id: %s\r\n", c->row.request_id);
        record(c, 400, eb.msg);
        reply_ir_error(req, cf, ir_error(400, "model_not_found", eb.msg), 400, hdrs);
        relay_free(c);
        return;
    }
    static const or_http_stream_cb client_cbs = {on_client_drain, on_client_abort};
    or_http_set_stream_cb(req, &client_cbs, c);
    next_attempt(c);
}
