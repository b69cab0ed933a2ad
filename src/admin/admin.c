#include "admin/admin.h"

#include "auth/auth.h"
#include "auth/cookie.h"
#include "auth/jwt.h"
#include "auth/lockout.h"
#include "auth/password.h"
#include "core/log.h"
#include "http/reply.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- shared helpers ---- */

static const struct {
    or_err e;
    int status;
} err_status[] = {
    {OR_EINVAL, 400},  {OR_EAUTH, 401},    {OR_ENOTFOUND, 404}, {OR_EEXIST, 409},
    {OR_ETOOBIG, 413}, {OR_EUNAVAIL, 503}, {OR_ETIMEOUT, 504},  {OR_EUPSTREAM, 502},
};

void or_admin_reply_err(or_http_req *req, or_err e, const or_errbuf *eb)
{
    int status = 500;
    for (size_t i = 0; i < sizeof err_status / sizeof *err_status; i++)
        if (err_status[i].e == e)
            status = err_status[i].status;
    const char *msg = eb && eb->msg[0] ? eb->msg : or_err_name(e);
    or_reply_error(req, status, NULL, NULL, "%s", msg);
}

json_t *or_admin_body_object(or_http_req *req)
{
    const or_buf *b = or_http_body(req);
    json_error_t jerr;
    json_t *j = b && b->len ? json_loadb(b->data, b->len, 0, &jerr) : NULL;
    if (json_is_object(j))
        return j;
    json_decref(j);
    or_reply_error(req, 400, NULL, NULL, "request body must be a JSON object");
    return NULL;
}

/* ---- session ---- */

static bool token_ok(or_app *app, const char *tok, size_t len)
{
    return len > 0 && or_auth_session_verify(app->jwt_key, tok, len, NULL) == OR_OK;
}

static bool cookie_session(or_http_req *req, or_app *app)
{
    size_t n = or_http_header_count(req);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value, *tok;
        size_t len;
        or_http_header_at(req, i, &name, &value);
        if (strcasecmp(name, "cookie") == 0 &&
            or_cookie_get(value, strlen(value), OR_AUTH_COOKIE, &tok, &len))
            return token_ok(app, tok, len);
    }
    return false;
}

static bool bearer_session(or_http_req *req, or_app *app)
{
    const char *h = or_http_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    size_t len = strlen(h);
    while (len > 0 && h[len - 1] == ' ')
        len--;
    return token_ok(app, h, len);
}

bool or_admin_session_ok(or_http_req *req, or_app *app)
{
    return cookie_session(req, app) || bearer_session(req, app);
}

/* Secure when configured, or when a TLS-terminating proxy says the client used https. */
static const char *secure_attr(or_http_req *req, or_app *app)
{
    const char *xfp = or_http_header(req, "x-forwarded-proto");
    return app->cookie_secure || (xfp && strcasecmp(xfp, "https") == 0) ? "; Secure" : "";
}

/* ---- login: the argon2id check runs on the libuv thread pool ---- */

/* Each check holds 64 MiB for its duration; more at once than this is refused (503) rather than
 * queued, so a login flood costs bounded memory and never delays other pool work for long. */
#define LOGIN_MAX_INFLIGHT 4
static atomic_int logins_inflight;

typedef struct {
    uv_work_t work;
    or_http_req *req; /* NULL once the client went away */
    or_app *app;
    char *password;
    char ip[64];
    or_err result;
    or_errbuf eb;
} login_job;

static void needs_setup(or_http_req *req)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:n}, s:b}", "error", "message",
                          "No password is set. Start the server with INITIAL_PASSWORD to set one.",
                          "type", "permission_error", "code", "needsSetup", 1);
    or_reply_json(req, 403, j, NULL);
}

static void login_work(uv_work_t *w)
{
    login_job *job = w->data;
    job->result =
        or_password_check(job->app->store, job->app->initial_password, job->password, &job->eb);
}

static void login_success(or_http_req *req, or_app *app)
{
    char *tok = NULL, hdr[OR_JWT_MAX_LEN + 160];
    or_errbuf eb = {{0}};
    or_err e = or_auth_session_issue(app->jwt_key, app->jwt_ttl_s, &tok, &eb);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        return;
    }
    int n = snprintf(hdr, sizeof hdr,
                     "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%u%s\r\n",
                     OR_AUTH_COOKIE, tok, app->jwt_ttl_s, secure_attr(req, app));
    sodium_memzero(tok, strlen(tok));
    free(tok);
    if (n < 0 || (size_t)n >= sizeof hdr) {
        sodium_memzero(hdr, sizeof hdr);
        or_reply_error(req, 500, NULL, NULL, "session cookie too large");
        return;
    }
    or_reply_json(req, 200, json_pack("{s:b}", "success", 1), hdr);
    sodium_memzero(hdr, sizeof hdr);
}

static void login_done(uv_work_t *w, int status)
{
    login_job *job = w->data;
    or_http_req *req = job->req;
    atomic_fetch_sub(&logins_inflight, 1);
    sodium_memzero(job->password, strlen(job->password));
    free(job->password);
    if (!req)
        goto out;
    if (status != 0) {
        or_reply_error(req, 500, NULL, NULL, "login was cancelled");
        goto out;
    }
    switch (job->result) {
    case OR_OK:
        or_lockout_clear(job->ip);
        login_success(req, job->app);
        break;
    case OR_EAUTH:
        or_lockout_fail(job->ip);
        or_log_info("auth: failed login from %s", job->ip);
        or_reply_error(req, 401, NULL, NULL, "Invalid password");
        break;
    case OR_EUNAVAIL:
        needs_setup(req);
        break;
    default:
        or_admin_reply_err(req, job->result, &job->eb);
        break;
    }
out:
    free(job);
}

static void login_abort(or_http_req *req, void *ud)
{
    (void)req;
    login_job *job = ud;
    job->req = NULL; /* the pool thread may still be hashing; login_done frees the job */
}

void or_admin_login(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    const char *ip = or_http_peer_ip(req);
    json_t *body = NULL;
    login_job *job = NULL;
    bool counted = false; /* in logins_inflight but not yet handed to the pool */

    unsigned wait = or_lockout_wait_s(ip ? ip : "");
    if (wait > 0) {
        char hdr[48];
        snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", wait);
        json_t *j = json_pack("{s:{s:s, s:s, s:n}}", "error", "message",
                              "Too many failed logins; try again later", "type", "rate_limit_error",
                              "code");
        or_reply_json(req, 429, j, hdr);
        goto out;
    }
    if (!(body = or_admin_body_object(req)))
        goto out;
    const json_t *pw = json_object_get(body, "password");
    if (!json_is_string(pw) || json_string_length(pw) == 0) {
        or_reply_error(req, 400, NULL, NULL, "password: required");
        goto out;
    }
    if (!or_password_configured(app->store, app->initial_password)) {
        needs_setup(req);
        goto out;
    }
    if (atomic_fetch_add(&logins_inflight, 1) >= LOGIN_MAX_INFLIGHT) {
        atomic_fetch_sub(&logins_inflight, 1);
        json_t *j = json_pack("{s:{s:s, s:s, s:n}}", "error", "message",
                              "Too many logins in progress; retry in a moment", "type", "api_error",
                              "code");
        or_reply_json(req, 503, j, "Retry-After: 1\r\n");
        goto out;
    }
    counted = true;
    job = calloc(1, sizeof *job);
    if (!job || !(job->password = strdup(json_string_value(pw)))) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        goto out;
    }
    job->req = req;
    job->app = app;
    job->work.data = job;
    snprintf(job->ip, sizeof job->ip, "%s", ip ? ip : "");
    int rc = uv_queue_work(or_http_worker_loop(or_http_req_worker(req)), &job->work, login_work,
                           login_done);
    if (rc != 0) {
        or_reply_error(req, 500, NULL, NULL, "could not schedule the login: %s", uv_strerror(rc));
        goto out;
    }
    or_http_set_stream_cb(req, &(or_http_stream_cb){NULL, login_abort}, job);
    job = NULL; /* owned by the pool until login_done */
    counted = false;
out:
    if (counted)
        atomic_fetch_sub(&logins_inflight, 1);
    if (job && job->password) {
        sodium_memzero(job->password, strlen(job->password));
        free(job->password);
    }
    free(job);
    /* Our copy of the body is the only reference: wipe the password before jansson frees it. */
    const json_t *pv = json_object_get(body, "password");
    if (json_is_string(pv))
        sodium_memzero((char *)json_string_value(pv), json_string_length(pv));
    json_decref(body);
}

void or_admin_logout(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Set-Cookie: %s=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0%s\r\n",
             OR_AUTH_COOKIE, secure_attr(req, app));
    or_reply_json(req, 200, json_pack("{s:b}", "success", 1), hdr);
}

void or_admin_auth_status(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    bool authed = or_admin_session_ok(req, app);
    bool setup = !or_password_configured(app->store, app->initial_password);
    or_reply_json(req, 200, json_pack("{s:b, s:b}", "authenticated", authed, "needsSetup", setup),
                  NULL);
}
