#include "admin/admin.h"
#include "gateway/client_auth.h"

#include "auth/apikey.h"
#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/lockout.h"
#include "auth/password.h"
#include "core/clock.h"
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

/* The Bearer token, trimmed; NULL when there is none. */
static const char *bearer(or_http_req *req, size_t *len)
{
    const char *h = or_http_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    *len = strlen(h);
    while (*len > 0 && h[*len - 1] == ' ')
        (*len)--;
    return *len ? h : NULL;
}

bool or_admin_session_ok(or_http_req *req, or_app *app)
{
    or_snapshot *snap = or_store_snapshot(app->store);
    bool ok = or_client_auth_session(req, app, snap);
    or_snapshot_release(snap);
    return ok;
}

/* Management access by a client API key with the admin scope ("Authorization: Bearer sk-…"). */
static or_apikey_status admin_key(or_http_req *req, or_app *app, bool *admin)
{
    size_t len = 0;
    const char *h = bearer(req, &len);
    or_apikey_who who = {0};
    *admin = false;
    if (!h || !or_apikey_well_formed(h, len))
        return OR_APIKEY_MISSING;
    or_snapshot *snap = or_store_snapshot(app->store);
    or_apikey_status st =
        or_apikeys_check(app->apikeys, snap, h, len, NULL, or_clock_wall_ms(), &who);
    or_snapshot_release(snap);
    *admin = st == OR_APIKEY_OK && who.admin;
    return st;
}

bool or_admin_login_required(or_app *app)
{
    or_snapshot *snap = or_store_snapshot(app->store);
    bool required = !json_is_false(json_object_get(snap->settings, "requireLogin"));
    or_snapshot_release(snap);
    return required;
}

bool or_admin_gate(or_http_req *req, or_app *app)
{
    if (!or_admin_login_required(app) || or_admin_session_ok(req, app))
        return true;
    bool admin = false;
    or_apikey_status st = admin_key(req, app, &admin);
    if (admin)
        return true;
    if (st == OR_APIKEY_OK)
        or_reply_error(req, 403, "permission_error", "insufficient_scope",
                       "This API key has no admin scope");
    else if (st != OR_APIKEY_MISSING)
        or_reply_error(req, 401, "authentication_error", "invalid_api_key", "%s",
                       or_apikey_status_text(st));
    else
        or_reply_error(req, 401, "authentication_error", "unauthorized",
                       "Authentication required: log in with POST /api/auth/login");
    return false;
}

/* The address lockouts count: the TCP peer, or, with OMNIROUTE_TRUST_PROXY, the last
 * X-Forwarded-For entry — the one the proxy in front of us appended (earlier entries are
 * whatever the client claimed). */
static void client_ip(or_http_req *req, or_app *app, char out[64])
{
    const char *peer = or_http_peer_ip(req);
    snprintf(out, 64, "%s", peer ? peer : "");
    const char *xff = app->trust_proxy ? or_http_header(req, "x-forwarded-for") : NULL;
    if (!xff)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    last += strspn(last, " \t");
    size_t n = strspn(last, "0123456789abcdefABCDEF.:");
    if (n > 0 && n < 64 && last[n + strspn(last + n, " \t")] == '\0')
        snprintf(out, 64, "%.*s", (int)n, last);
}

/* Secure when configured, or when a TLS-terminating proxy says the client used https. */
static const char *secure_attr(or_http_req *req, or_app *app)
{
    const char *xfp = or_http_header(req, "x-forwarded-proto");
    return app->cookie_secure || (xfp && strcasecmp(xfp, "https") == 0) ? "; Secure" : "";
}

/* ---- login and password change: argon2id runs on the libuv thread pool ---- */

/* Each check holds 64 MiB for its duration; more at once than this is refused (503) rather than
 * queued, so a login flood costs bounded memory and never delays other pool work for long. */
#define LOGIN_MAX_INFLIGHT 4
static atomic_int logins_inflight;

typedef struct {
    uv_work_t work;
    or_http_req *req; /* NULL once the client went away */
    or_app *app;
    char *password;     /* login: the password; change: the current one */
    char *new_password; /* change only */
    char ip[64];
    or_err result;
    or_errbuf eb;
} login_job;

static void wipe_free(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

static void job_free(login_job *job)
{
    if (!job)
        return;
    wipe_free(job->password);
    wipe_free(job->new_password);
    free(job);
}

static void needs_setup(or_http_req *req)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:n}, s:b}", "error", "message",
                          "No password is set. Start the server with INITIAL_PASSWORD to set one.",
                          "type", "permission_error", "code", "needsSetup", 1);
    or_reply_json(req, 403, j, NULL);
}

/* A password change also revokes every session issued before it (the caller gets a new one). */
static or_err change_password(login_job *job)
{
    or_store *st = job->app->store;
    or_err e = OR_OK;
    if (or_password_configured(st, job->app->initial_password))
        e = or_password_check(st, job->app->initial_password, job->password, &job->eb);
    if (e == OR_OK)
        e = or_password_set(st, job->new_password, &job->eb);
    if (e == OR_OK) {
        json_t *from = json_integer((json_int_t)(or_clock_wall_ms() / 1000));
        e = or_store_setting_set(st, OR_AUTH_SESSIONS_FROM, from, &job->eb);
        json_decref(from);
    }
    return e;
}

static void login_work(uv_work_t *w)
{
    login_job *job = w->data;
    job->result = job->new_password ? change_password(job)
                                    : or_password_check(job->app->store, job->app->initial_password,
                                                        job->password, &job->eb);
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
                     "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%u%s\r\n"
                     "Cache-Control: no-store\r\n",
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
    bool change = job->new_password != NULL;
    atomic_fetch_sub(&logins_inflight, 1);
    if (!req)
        goto out;
    if (status != 0) {
        or_reply_error(req, 500, NULL, NULL, "login was cancelled");
        goto out;
    }
    switch (job->result) {
    case OR_OK:
        or_lockout_clear(job->ip);
        if (change)
            or_log_info("auth: dashboard password changed from %s", job->ip);
        login_success(req, job->app);
        break;
    case OR_EAUTH:
        or_lockout_fail(job->ip);
        or_log_info("auth: failed %s from %s", change ? "password change" : "login", job->ip);
        if (change)
            or_reply_error(req, 403, "permission_error", "invalid_password",
                           "Current password is incorrect");
        else
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
    job_free(job);
}

static void login_abort(or_http_req *req, void *ud)
{
    (void)req;
    login_job *job = ud;
    job->req = NULL; /* the pool thread may still be hashing; login_done frees the job */
}

/* False after replying 429 when ip is locked out. */
static bool not_locked(or_http_req *req, const char *ip)
{
    unsigned wait = or_lockout_wait_s(ip);
    if (wait == 0)
        return true;
    char hdr[48];
    snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", wait);
    json_t *j =
        json_pack("{s:{s:s, s:s, s:n}}", "error", "message",
                  "Too many failed logins; try again later", "type", "rate_limit_error", "code");
    or_reply_json(req, 429, j, hdr);
    return false;
}

/* Hands the job to the pool (taking it) or replies with why not; frees it in that case. */
static void submit_job(or_http_req *req, login_job *job)
{
    if (atomic_fetch_add(&logins_inflight, 1) >= LOGIN_MAX_INFLIGHT) {
        atomic_fetch_sub(&logins_inflight, 1);
        json_t *j = json_pack("{s:{s:s, s:s, s:n}}", "error", "message",
                              "Too many logins in progress; retry in a moment", "type", "api_error",
                              "code");
        or_reply_json(req, 503, j, "Retry-After: 1\r\n");
        job_free(job);
        return;
    }
    job->req = req;
    job->work.data = job;
    int rc = uv_queue_work(or_http_worker_loop(or_http_req_worker(req)), &job->work, login_work,
                           login_done);
    if (rc != 0) {
        atomic_fetch_sub(&logins_inflight, 1);
        or_reply_error(req, 500, NULL, NULL, "could not schedule the login: %s", uv_strerror(rc));
        job_free(job);
        return;
    }
    or_http_set_stream_cb(req, &(or_http_stream_cb){NULL, login_abort}, job);
}

/* Our copy of the body is the only reference: wipe the passwords before jansson frees it. */
static void body_free(json_t *body)
{
    static const char *const secret_fields[] = {"password", "currentPassword", "newPassword"};
    for (size_t i = 0; i < sizeof secret_fields / sizeof *secret_fields; i++) {
        const json_t *v = json_object_get(body, secret_fields[i]);
        if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(body);
}

static login_job *job_new(or_app *app, const char *ip, const char *pw, const char *new_pw)
{
    login_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->app = app;
    snprintf(job->ip, sizeof job->ip, "%s", ip);
    if (!(job->password = strdup(pw)) || (new_pw && !(job->new_password = strdup(new_pw)))) {
        job_free(job);
        return NULL;
    }
    return job;
}

void or_admin_login(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char ip[64];
    json_t *body = NULL;
    login_job *job = NULL;

    client_ip(req, app, ip);
    if (!not_locked(req, ip) || !(body = or_admin_body_object(req)))
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
    if (!(job = job_new(app, ip, json_string_value(pw), NULL))) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        goto out;
    }
    submit_job(req, job);
out:
    body_free(body);
}

void or_admin_password(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    char ip[64];
    json_t *body = NULL;
    login_job *job = NULL;

    client_ip(req, app, ip);
    if (!not_locked(req, ip) || !(body = or_admin_body_object(req)))
        goto out;
    const json_t *cur = json_object_get(body, "currentPassword");
    const json_t *next = json_object_get(body, "newPassword");
    bool configured = or_password_configured(app->store, app->initial_password);
    if (configured && (!json_is_string(cur) || json_string_length(cur) == 0)) {
        or_reply_error(req, 400, NULL, NULL, "currentPassword: required");
        goto out;
    }
    size_t n = json_string_length(next);
    if (!json_is_string(next) || n < OR_PASSWORD_MIN || n > OR_PASSWORD_MAX ||
        strlen(json_string_value(next)) != n) {
        or_reply_error(req, 400, NULL, NULL, "newPassword: must be a string of %d to %d characters",
                       OR_PASSWORD_MIN, OR_PASSWORD_MAX);
        goto out;
    }
    const char *cur_s = json_is_string(cur) ? json_string_value(cur) : "";
    if (!(job = job_new(app, ip, cur_s, json_string_value(next)))) {
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        goto out;
    }
    submit_job(req, job);
out:
    body_free(body);
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
    bool required = or_admin_login_required(app);
    bool authed = !required || or_admin_session_ok(req, app);
    bool setup = !or_password_configured(app->store, app->initial_password);
    or_reply_json(req, 200,
                  json_pack("{s:b, s:b, s:b}", "authenticated", authed, "needsSetup", setup,
                            "requireLogin", required),
                  NULL);
}
