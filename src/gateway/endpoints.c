/*
 * endpoints.c — the client API endpoints: each reads what its format puts where (model and
 * stream flag in the body, or in the URL for Gemini) and hands the request to the relay.
 */
#include "gateway/gateway.h"
#include "gateway/relay.h"
#include "gateway/target.h"
#include "core/json_parse.h"
#include "core/json_scan.h"
#include "http/query.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_JSON_DEPTH 128

/* The body must be one JSON object; the passthrough path forwards its bytes without building
 * a tree, so this is a validation, not a parse, which notes where the top-level members keys[]
 * sit on the way (spans[]). False after replying 400 in the client's format. */
static bool body_members(or_http_req *req, or_format f, const char *const *keys, size_t nkeys,
                         or_json_span *spans)
{
    const or_buf *raw = or_http_body(req);
    if (raw->len == 0) {
        or_relay_reply_error(req, f, 400, "invalid_body", NULL,
                             "Request body is empty: expected a JSON object");
        return false;
    }
    if (!or_json_valid_object(raw->data, raw->len, MAX_JSON_DEPTH, keys, nkeys, spans)) {
        json_error_t jerr; /* the precise reason, on this cold path */
        json_t *j = or_json_loadb(raw->data, raw->len, 0, &jerr);
        or_relay_reply_error(
            req, f, 400, "invalid_json", NULL, "Request body is not a valid JSON object: %s",
            j ? "the top-level value is not an object or nests too deeply" : jerr.text);
        json_decref(j);
        return false;
    }
    return true;
}

static bool body_is_object(or_http_req *req, or_format f)
{
    return body_members(req, f, NULL, 0, NULL);
}

/* The body parsed (for the handlers that need the tree), or NULL after replying 400. */
static json_t *body_object(or_http_req *req, or_format f)
{
    if (!body_is_object(req, f))
        return NULL;
    const or_buf *raw = or_http_body(req);
    json_error_t jerr;
    json_t *root = or_json_loadb(raw->data, raw->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        or_relay_reply_error(req, f, 400, "invalid_json", NULL, "Request body: %s", jerr.text);
    return root;
}

/* Endpoints whose body carries `model` and `stream`: both read from the raw bytes. */
/* /v1/providers/{provider}/…: the model is pinned to one provider — its prefix is added when
 * missing, and a model of another provider is refused. Rewrites model in place; false after
 * replying. */
static bool pin_model(or_http_req *req, or_app *app, or_format f, const char *pin, char *model,
                      size_t cap)
{
    or_snapshot *snap = or_store_snapshot(app->store);
    const json_t *nodes = json_object_get(snap->settings, OR_PROVIDER_NODES_KEY);
    or_provider row, other_row;
    const or_provider *p = or_provider_lookup(nodes, pin, strlen(pin), &row);
    bool ok = false;
    if (!p) {
        or_relay_reply_error(req, f, 404, "provider_not_found", NULL, "Unknown provider `%s`", pin);
        goto out;
    }
    const char *slash = strchr(model, '/');
    const or_provider *q =
        slash ? or_provider_lookup(nodes, model, (size_t)(slash - model), &other_row) : NULL;
    if (q && strcmp(q->id, p->id) == 0) {
        ok = true; /* already "<provider>/model" */
    } else if (q) {
        or_relay_reply_error(req, f, 400, "model_provider_mismatch", NULL,
                             "The model `%s` belongs to provider `%s`, not `%s`", model, q->id,
                             p->id);
    } else {
        char pinned[256];
        int n = snprintf(pinned, sizeof pinned, "%s/%s", p->alias ? p->alias : p->id, model);
        ok = n > 0 && (size_t)n < cap;
        if (ok)
            memcpy(model, pinned, (size_t)n + 1);
        else
            or_relay_reply_error(req, f, 400, "invalid_model", NULL, "`model` is too long");
    }
out:
    or_snapshot_release(snap);
    return ok;
}

static void body_endpoint_pinned(or_http_req *req, or_app *app, or_format f, const char *endpoint,
                                 const char *pin);

static void body_endpoint(or_http_req *req, or_app *app, or_format f, const char *endpoint)
{
    body_endpoint_pinned(req, app, f, endpoint, NULL);
}

static void body_endpoint_pinned(or_http_req *req, or_app *app, or_format f, const char *endpoint,
                                 const char *pin)
{
    static const char *const keys[] = {"model", "stream", "stream_options"};
    or_json_span at[3];
    if (!body_members(req, f, keys, 3, at))
        return;
    const or_buf *raw = or_http_body(req);
    char model[256];
    json_t *root = NULL;
    if (!or_json_span_string(raw->data, at[0], model, sizeof model)) {
        /* Absent, not a string, escaped or too long: the parse says which. */
        if (!(root = body_object(req, f)))
            return;
        const char *m = json_string_value(json_object_get(root, "model"));
        snprintf(model, sizeof model, "%s", m ? m : "");
    }
    if (pin && model[0] && !pin_model(req, app, f, pin, model, sizeof model)) {
        json_decref(root);
        return;
    }
    int stream = or_json_span_bool(raw->data, at[1]);
    if (stream == -2) {
        or_relay_reply_error(req, f, 400, "invalid_stream", NULL, "`stream` must be a boolean");
        json_decref(root);
        return;
    }
    const or_json_span so = at[2];
    or_relay_opts o = {
        .client = f,
        .endpoint = endpoint,
        .model = model[0] ? model : NULL,
        .stream = stream == 1,
        .model_in_body = true,
        .include_usage = so.end && or_json_member_bool(raw->data + so.start, so.end - so.start,
                                                       "include_usage") == 1,
    };
    or_relay_start(req, app, root, &o);
    json_decref(root);
}

void or_gw_chat_completions(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    body_endpoint(req, app, OR_FMT_OPENAI, "/v1/chat/completions");
}

void or_gw_pinned_chat(or_http_req *req, or_app *app, const or_route_params *p)
{
    body_endpoint_pinned(req, app, OR_FMT_OPENAI, "/v1/providers/chat/completions", p->v[0]);
}

void or_gw_messages(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    body_endpoint(req, app, OR_FMT_ANTHROPIC, "/v1/messages");
}

void or_gw_responses(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    body_endpoint(req, app, OR_FMT_RESPONSES, "/v1/responses");
}

/* GET /v1/responses: Codex first tries a WebSocket; 426 makes it fall back to HTTP at once. */
void or_gw_responses_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    (void)p;
    const char *up = or_http_header(req, "upgrade");
    if (up && strcasecmp(up, "websocket") == 0) {
        or_relay_reply_error(req, OR_FMT_RESPONSES, 426, "websocket_not_supported",
                             "Upgrade: HTTP/1.1\r\n",
                             "WebSocket transport is not supported here; use HTTP POST "
                             "/v1/responses");
        return;
    }
    or_relay_reply_error(req, OR_FMT_RESPONSES, 405, "method_not_allowed", NULL,
                         "Use POST /v1/responses");
}

/* Characters of every string value (keys excluded) and a small overhead per object: roughly
 * what the model reads, text, arguments, schemas. Depth-capped by jansson's own parse depth. */
static size_t text_chars(const json_t *v)
{
    size_t n = 0, i;
    const char *k;
    json_t *x;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v);
    case JSON_ARRAY:
        json_array_foreach(v, i, x) n += text_chars(x);
        return n;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, x) n += text_chars(x);
        return n + 4;
    default:
        return 2;
    }
}

/* A local token estimate (≈ 4 characters per token) for providers without a count endpoint. */
static long estimate_tokens(const json_t *ir)
{
    return (long)(text_chars(ir) + 3) / 4;
}

static void count_tokens(or_http_req *req, or_format f, json_t *root, const char *key)
{
    json_t *ir = NULL;
    or_errbuf eb = {{0}};
    const or_fmt *fmt = or_fmt_get(f);
    if (fmt->req_to_ir(root, &ir, &eb) != OR_OK) {
        or_relay_reply_error(req, f, 400, "invalid_request", NULL, "%s", eb.msg);
        return;
    }
    json_object_del(ir, "model");
    json_object_del(ir, "extra");
    long n = estimate_tokens(ir);
    json_decref(ir);
    or_reply_json(req, 200, json_pack("{s:I}", key, (json_int_t)n), NULL);
}

/* Anthropic-format providers count tokens themselves; for the others, a local estimate. */
static bool provider_counts_tokens(or_app *app, const char *model)
{
    if (!model)
        return false;
    or_snapshot *snap = or_store_snapshot(app->store);
    or_target t;
    bool yes =
        or_target_resolve(snap, model, &t, NULL) == OR_OK && t.provider->format == OR_FMT_ANTHROPIC;
    or_snapshot_release(snap);
    return yes;
}

void or_gw_count_tokens(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    json_t *root = body_object(req, OR_FMT_ANTHROPIC);
    if (!root)
        return;
    const char *model = json_string_value(json_object_get(root, "model"));
    if (provider_counts_tokens(app, model)) {
        or_relay_opts o = {
            .client = OR_FMT_ANTHROPIC,
            .endpoint = "/v1/messages/count_tokens",
            .model = model,
            .model_in_body = true,
            .path = "/messages/count_tokens",
        };
        or_relay_start(req, app, root, &o);
    } else {
        count_tokens(req, OR_FMT_ANTHROPIC, root, "input_tokens");
    }
    json_decref(root);
}

/* ?alt=sse: the client wants SSE rather than the streamed JSON array. */
static bool gemini_sse(or_http_req *req)
{
    char alt[8];
    return or_http_query_param(or_http_query(req), "alt", alt, sizeof alt) &&
           strcmp(alt, "sse") == 0;
}

/* POST /v1beta/models/{model}:{action}; the model may contain '/' (ours do) or be %2F-encoded
 * — the route decoded it; the action follows the last ':'. */
void or_gw_gemini(or_http_req *req, or_app *app, const or_route_params *p)
{
    const char *rest = p->n ? p->v[0] : "";
    const char *colon = strrchr(rest, ':');
    if (!colon) {
        or_relay_reply_error(req, OR_FMT_GEMINI, 404, "not_found", NULL,
                             "Expected /v1beta/models/{model}:generateContent");
        return;
    }
    char model[256];
    snprintf(model, sizeof model, "%.*s", (int)(colon - rest), rest);
    const char *action = colon + 1;
    json_t *root = NULL;
    if (strcmp(action, "countTokens") == 0) {
        if (!(root = body_object(req, OR_FMT_GEMINI)))
            return;
        /* countTokens may wrap the request as {generateContentRequest:{…}} */
        json_t *inner = json_object_get(root, "generateContentRequest");
        count_tokens(req, OR_FMT_GEMINI, json_is_object(inner) ? inner : root, "totalTokens");
    } else if (!body_is_object(req, OR_FMT_GEMINI)) {
        return;
    } else if (strcmp(action, "generateContent") == 0 ||
               strcmp(action, "streamGenerateContent") == 0) {
        or_relay_opts o = {
            .client = OR_FMT_GEMINI,
            .endpoint = "/v1beta/models:generateContent",
            .model = strncmp(model, "models/", 7) == 0 ? model + 7 : model,
            .stream = action[0] == 's',
            .gemini_sse = gemini_sse(req),
            .model_in_body = false,
        };
        or_relay_start(req, app, root, &o);
    } else {
        or_relay_reply_error(req, OR_FMT_GEMINI, 404, "not_found", NULL,
                             "Unknown model action `%s`", action);
    }
    json_decref(root);
}
