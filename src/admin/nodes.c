#include "admin/nodes.h"
#include "admin/admin.h"
#include "admin/conn_json.h"
#include "core/clock.h"
#include "core/rand.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static bool prefix_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '-' || ch == '_' || ch == '.'));
        if (!ok)
            return false;
    }
    return true;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

json_t *or_nodes_apply(const json_t *nodes, const json_t *cur, const json_t *body,
                       const char *new_id, int64_t now_ms, or_errbuf *eb)
{
    static const char *const types[] = {"openai-compatible", "anthropic-compatible", NULL};
    static const char *const api_types[] = {"chat", "responses", NULL};
    json_t *n = cur ? json_deep_copy(cur) : json_object();
    if (!n)
        return NULL;
    if (!json_is_object(body)) {
        or_fail(eb, OR_EINVAL, "body: must be a JSON object");
        goto fail;
    }
    static const char *const fields[] = {"name", "prefix", "baseUrl", "apiType", "type", NULL};
    for (const char *const *f = fields; *f; f++) {
        json_t *v = json_object_get(body, *f);
        if (!v)
            continue;
        if (!json_is_string(v)) {
            or_fail(eb, OR_EINVAL, "%s: must be a string", *f);
            goto fail;
        }
        if (cur && strcmp(*f, "type") == 0 &&
            strcmp(json_string_value(v), json_string_value(json_object_get(cur, "type"))) != 0) {
            or_fail(eb, OR_EINVAL, "type: cannot be changed; create a new node");
            goto fail;
        }
        json_object_set(n, *f, v);
    }
    if (!json_object_get(n, "type"))
        json_object_set_new(n, "type", json_string("openai-compatible"));
    if (!json_object_get(n, "apiType"))
        json_object_set_new(n, "apiType", json_string("chat"));
    const char *name = json_string_value(json_object_get(n, "name"));
    const char *prefix = json_string_value(json_object_get(n, "prefix"));
    const char *base = json_string_value(json_object_get(n, "baseUrl"));
    const char *type = json_string_value(json_object_get(n, "type"));
    const char *api = json_string_value(json_object_get(n, "apiType"));
    if (!name || !*name || strlen(name) > 200) {
        or_fail(eb, OR_EINVAL, "name: required, 1 to 200 characters");
        goto fail;
    }
    if (!prefix || !prefix_ok(prefix)) {
        or_fail(eb, OR_EINVAL,
                "prefix: required, lowercase letters, digits, '-', '_' or '.' "
                "(at most 32)");
        goto fail;
    }
    if (!base || strlen(base) > OR_CONN_URL_MAX || !or_conn_json_url_ok(base)) {
        or_fail(eb, OR_EINVAL, "baseUrl: required, an http:// or https:// URL");
        goto fail;
    }
    if (!one_of(type, types)) {
        or_fail(eb, OR_EINVAL, "type: must be openai-compatible or anthropic-compatible");
        goto fail;
    }
    if (!one_of(api, api_types) ||
        (strcmp(type, "anthropic-compatible") == 0 && strcmp(api, "chat") != 0)) {
        or_fail(eb, OR_EINVAL, "apiType: must be chat or responses (anthropic-compatible: chat)");
        goto fail;
    }
    if (or_provider_find(prefix, strlen(prefix))) {
        or_fail(eb, OR_EEXIST, "prefix: '%s' is a built-in provider", prefix);
        goto fail;
    }
    const char *my_id = cur ? json_string_value(json_object_get(cur, "id")) : new_id;
    size_t i;
    json_t *other;
    json_array_foreach(nodes, i, other)
    {
        const char *oid = json_string_value(json_object_get(other, "id"));
        const char *op = json_string_value(json_object_get(other, "prefix"));
        if (op && strcmp(op, prefix) == 0 && !(oid && my_id && strcmp(oid, my_id) == 0)) {
            or_fail(eb, OR_EEXIST, "prefix: '%s' is used by node '%s'", prefix, oid ? oid : "?");
            goto fail;
        }
    }
    if (!cur) {
        char pid[128];
        snprintf(pid, sizeof pid, "%s-%s", type, new_id);
        json_object_set_new(n, "id", json_string(new_id));
        json_object_set_new(n, "providerId", json_string(pid));
        json_object_set_new(n, "createdAt", json_integer(now_ms));
    }
    json_object_set_new(n, "updatedAt", json_integer(now_ms));
    return n;
fail:
    json_decref(n);
    return NULL;
}

static json_t *current_nodes(or_app *app)
{
    json_t *nodes = or_store_setting_get(app->store, OR_PROVIDER_NODES_KEY);
    if (!json_is_array(nodes)) {
        json_decref(nodes);
        nodes = json_array();
    }
    return nodes;
}

static size_t find_node(const json_t *nodes, const char *id)
{
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *nid = json_string_value(json_object_get(n, "id"));
        if (nid && strcmp(nid, id) == 0)
            return i;
    }
    return (size_t)-1;
}

void or_nodes_list(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    or_reply_json(req, 200, json_pack("{s:o}", "nodes", current_nodes(app)), NULL);
}

/* Create (id NULL) or update; one writer at a time so concurrent edits are not lost. */
static void write_node(or_http_req *req, or_app *app, const char *id)
{
    json_t *body = or_admin_body_object(req);
    if (!body)
        return;
    or_errbuf eb = {{0}};
    pthread_mutex_lock(&write_lock);
    json_t *nodes = current_nodes(app), *node = NULL;
    size_t at = id ? find_node(nodes, id) : (size_t)-1;
    if (id && at == (size_t)-1) {
        or_reply_error(req, 404, NULL, "not_found", "provider node not found");
        goto out;
    }
    char new_id[37];
    or_uuid4(new_id);
    node = or_nodes_apply(nodes, id ? json_array_get(nodes, at) : NULL, body, new_id,
                          or_clock_wall_ms(), &eb);
    if (!node) {
        or_admin_reply_err(req, eb.msg[0] ? OR_EINVAL : OR_ENOMEM, &eb);
        goto out;
    }
    if (id)
        json_array_set(nodes, at, node);
    else
        json_array_append(nodes, node);
    or_err e = or_store_setting_set(app->store, OR_PROVIDER_NODES_KEY, nodes, &eb);
    if (e != OR_OK) {
        or_admin_reply_err(req, e, &eb);
        goto out;
    }
    or_reply_json(req, id ? 200 : 201, json_pack("{s:O}", "node", node), NULL);
out:
    pthread_mutex_unlock(&write_lock);
    json_decref(node);
    json_decref(nodes);
    json_decref(body);
}

void or_nodes_create(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    write_node(req, app, NULL);
}

void or_nodes_update(or_http_req *req, or_app *app, const or_route_params *p)
{
    write_node(req, app, p->v[0]);
}

void or_nodes_delete(or_http_req *req, or_app *app, const or_route_params *p)
{
    or_errbuf eb = {{0}};
    pthread_mutex_lock(&write_lock);
    json_t *nodes = current_nodes(app);
    size_t at = find_node(nodes, p->v[0]);
    if (at == (size_t)-1) {
        or_reply_error(req, 404, NULL, "not_found", "provider node not found");
    } else {
        json_array_remove(nodes, at);
        or_err e = or_store_setting_set(app->store, OR_PROVIDER_NODES_KEY, nodes, &eb);
        if (e != OR_OK)
            or_admin_reply_err(req, e, &eb);
        else
            or_reply_json(req, 200, json_pack("{s:b}", "success", 1), NULL);
    }
    pthread_mutex_unlock(&write_lock);
    json_decref(nodes);
}
