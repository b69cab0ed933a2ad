#include "admin/ipaccess.h"

#include "admin/admin.h"
#include "gateway/client_auth.h"
#include "gateway/relay.h"
#include "http/reply.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const list_keys[] = {OR_IPRULES_ALLOW_KEY, OR_IPRULES_BLOCK_KEY};
#define NLISTS (sizeof list_keys / sizeof *list_keys)

/* The gate's memo of which scopes the current settings leave open, per worker thread; the key
 * only exists to drop the memo's reference when the thread ends. */
static _Thread_local or_iprules_memo memo;
static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_drop(void *settings)
{
    json_decref(settings);
}

static void memo_key_init(void)
{
    (void)pthread_key_create(&memo_key, memo_drop);
}

static bool open_for(json_t *settings, or_ip_scope scope)
{
    json_t *was = memo.settings;
    bool open = or_iprules_open_memo(&memo, settings, scope);
    if (memo.settings != was) {
        pthread_once(&memo_once, memo_key_init);
        pthread_setspecific(memo_key, memo.settings);
    }
    return open;
}

static void caller_addr(or_http_req *req, or_app *app, char out[OR_IPRULES_TEXT_MAX])
{
    or_iprules_client_addr(or_http_peer_ip(req),
                           app->trust_proxy ? or_http_header(req, "x-forwarded-for") : NULL, out);
}

bool or_ipaccess_gate(or_http_req *req, or_app *app, or_ip_scope scope)
{
    or_snapshot *snap = or_store_snapshot(app->store);
    if (open_for(snap->settings, scope)) { /* no rule to meet: who calls does not matter */
        or_snapshot_release(snap);
        return true;
    }
    char ip[OR_IPRULES_TEXT_MAX];
    caller_addr(req, app, ip);
    unsigned left = 0;
    or_ip_verdict v = or_iprules_check(snap->settings, scope, ip, &left);
    or_snapshot_release(snap);
    if (v == OR_IP_ALLOW)
        return true;
    char hdr[48] = "";
    char msg[160];
    if (v == OR_IP_BANNED) {
        snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", left);
        snprintf(msg, sizeof msg, "Address %s is temporarily banned (%u s left)", ip, left);
    } else {
        snprintf(msg, sizeof msg, "Access from %s is not allowed%s", *ip ? ip : "this address",
                 scope == OR_IP_CLIENT ? "" : " to the management API");
    }
    const char *code = v == OR_IP_BANNED ? "ip_banned" : "ip_blocked";
    if (scope == OR_IP_CLIENT)
        or_relay_reply_error(req, or_client_auth_format(or_http_method(req), or_http_path(req)),
                             403, code, hdr[0] ? hdr : NULL, "%s", msg);
    else if (v == OR_IP_BANNED) /* or_reply_error takes no headers */
        or_reply_json(req, 403,
                      json_pack("{s:{s:s, s:s, s:s}}", "error", "message", msg, "type",
                                "permission_error", "code", code),
                      hdr);
    else
        or_reply_error(req, 403, "permission_error", code, "%s", msg);
    return false;
}

/* ---- lists ---- */

static json_t *view(or_http_req *req, or_app *app)
{
    char ip[OR_IPRULES_TEXT_MAX];
    caller_addr(req, app, ip);
    json_t *out = json_object();
    or_snapshot *snap = or_store_snapshot(app->store);
    for (size_t i = 0; i < NLISTS; i++) {
        json_t *v = json_object_get(snap->settings, list_keys[i]);
        json_t *norm = v ? or_iprules_setting_validate(list_keys[i], v, NULL) : NULL;
        if (!norm) /* absent (or unreadable: shown as what it acts like, nothing listed) */
            norm = json_pack("{s:[], s:[]}", "client", "management");
        json_object_set_new(out, list_keys[i], norm);
    }
    or_snapshot_release(snap);
    json_object_set_new(out, "bans", or_iprules_bans_export());
    json_object_set_new(out, "yourIp", json_string(ip));
    return out;
}

void or_ipaccess_get(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_reply_json(req, 200, view(req, app), NULL);
}

/* The settings as they would be after upd ({key: list | null}): the two keys only. */
static json_t *candidate(or_app *app, const json_t *upd)
{
    json_t *c = json_object();
    or_snapshot *snap = or_store_snapshot(app->store);
    for (size_t i = 0; i < NLISTS; i++) {
        const json_t *v = json_object_get(upd, list_keys[i]);
        if (!v)
            v = json_object_get(snap->settings, list_keys[i]);
        if (v && !json_is_null(v))
            json_object_set_new(c, list_keys[i], json_deep_copy(v));
    }
    or_snapshot_release(snap);
    return c;
}

void or_ipaccess_put(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_errbuf eb = {{0}};
    or_err e = OR_OK;
    json_t *upd = json_object(), *cand = NULL;
    json_t *body = or_admin_body_object(req);
    if (!body)
        goto out;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t i = 0;
        while (i < NLISTS && strcmp(list_keys[i], key) != 0)
            i++;
        json_t *norm = NULL;
        if (i == NLISTS)
            e = or_fail(&eb, OR_EINVAL, "%.100s: unknown field (ipAllowlist or ipBlocklist)", key);
        else if (json_is_null(v))
            norm = json_null();
        else if (!(norm = or_iprules_setting_validate(key, v, &eb)))
            e = OR_EINVAL;
        if (e != OR_OK)
            break;
        json_object_set_new(upd, key, norm);
    }
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        goto out;
    }
    char ip[OR_IPRULES_TEXT_MAX];
    caller_addr(req, app, ip);
    pthread_mutex_lock(&write_lock);
    cand = candidate(app, upd);
    or_ip_verdict verdict = or_iprules_check(cand, OR_IP_MANAGEMENT, ip, NULL);
    if (verdict == OR_IP_BLOCKED || verdict == OR_IP_NOT_ALLOWED) {
        e = or_fail(&eb, OR_EINVAL,
                    "%s.management: would lock out your own address %s (add it to the "
                    "allowlist, or change the lists from an address they allow)",
                    verdict == OR_IP_BLOCKED ? OR_IPRULES_BLOCK_KEY : OR_IPRULES_ALLOW_KEY, ip);
    }
    json_object_foreach(upd, key, v)
    {
        if (e != OR_OK)
            break;
        e = or_store_setting_set(app->store, key, json_is_null(v) ? NULL : v, &eb);
    }
    pthread_mutex_unlock(&write_lock);
    if (e != OR_OK)
        or_admin_reply_err(req, e, &eb);
    else
        or_reply_json(req, 200, view(req, app), NULL);
out:
    json_decref(cand);
    json_decref(upd);
    json_decref(body);
}

/* ---- bans ---- */

void or_ipaccess_bans(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    (void)p;
    or_reply_json(req, 200, json_pack("{s:o}", "bans", or_iprules_bans_export()), NULL);
}

void or_ipaccess_ban(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_errbuf eb = {{0}};
    or_err e = OR_OK;
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    const char *target = json_string_value(json_object_get(body, "ip"));
    const json_t *sec = json_object_get(body, "seconds");
    char ip[OR_IPRULES_TEXT_MAX], canon[OR_IPRULES_TEXT_MAX];
    or_cidr c;
    uint8_t me[16];
    caller_addr(req, app, ip);
    if (!target || or_cidr_parse(target, strlen(target), &c, &eb) != OR_OK) {
        e = or_fail(&eb, OR_EINVAL, "ip: must be an IP address or CIDR%s%s", eb.msg[0] ? ": " : "",
                    eb.msg);
    } else if (sec && !json_is_null(sec) &&
               (!json_is_integer(sec) || json_integer_value(sec) < 1 ||
                json_integer_value(sec) > OR_IPBAN_MAX_S)) {
        e = or_fail(&eb, OR_EINVAL, "seconds: must be an integer from 1 to %u", OR_IPBAN_MAX_S);
    } else if (or_ip_parse(ip, strlen(ip), me) && or_cidr_contains(&c, me)) {
        e = or_fail(&eb, OR_EINVAL, "ip: %s would ban your own address %s", target, ip);
    }
    unsigned seconds = json_is_integer(sec) ? (unsigned)json_integer_value(sec) : 0;
    if (e == OR_OK)
        e = or_iprules_ban(target, seconds, canon, &eb);
    json_decref(body);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        return;
    }
    /* The entry as stored, with its expiry in the export's format. */
    json_t *bans = or_iprules_bans_export(), *entry = NULL, *b;
    size_t i;
    json_array_foreach(bans, i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "ip")), canon) == 0)
            entry = b;
    }
    json_t *out = json_pack("{s:s, s:I, s:O?}", "ip", canon, "seconds",
                            (json_int_t)(seconds ? seconds : OR_IPBAN_DEFAULT_S), "expiresAt",
                            entry ? json_object_get(entry, "expiresAt") : NULL);
    json_decref(bans);
    or_reply_json(req, 200, out, NULL);
}

void or_ipaccess_unban(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)app;
    const char *target = p->n > 0 ? p->v[0] : "";
    or_cidr c;
    char canon[OR_IPRULES_TEXT_MAX];
    if (or_cidr_parse(target, strlen(target), &c, NULL) != OR_OK) {
        or_reply_error(req, 400, NULL, NULL, "not an IP address or CIDR");
        return;
    }
    or_cidr_format(&c, canon, sizeof canon);
    if (!or_iprules_unban(canon)) {
        or_reply_error(req, 404, NULL, NULL, "no ban on %s", canon);
        return;
    }
    or_reply_json(req, 200, json_pack("{s:s, s:b}", "ip", canon, "unbanned", 1), NULL);
}
