#include "gateway/proxy_pick.h"

#include "auth/iprules.h"
#include "core/buf.h"

#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- environment ---- */

static const struct {
    size_t off;
    const char *lower, *upper;
} env_vars[] = {
    {offsetof(or_proxy_env, http), "http_proxy", "HTTP_PROXY"},
    {offsetof(or_proxy_env, https), "https_proxy", "HTTPS_PROXY"},
    {offsetof(or_proxy_env, all), "all_proxy", "ALL_PROXY"},
    {offsetof(or_proxy_env, no), "no_proxy", "NO_PROXY"},
};

void or_proxy_pick_env_load(or_proxy_env *e)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < sizeof env_vars / sizeof *env_vars; i++) {
        const char *v = getenv(env_vars[i].lower);
        if (!v || !*v)
            v = getenv(env_vars[i].upper);
        if (v && *v && strlen(v) < OR_PROXY_ENV_MAX)
            memcpy((char *)e + env_vars[i].off, v, strlen(v) + 1);
    }
}

static or_proxy_env process_env;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void load_process_env(void)
{
    or_proxy_pick_env_load(&process_env);
}

const or_proxy_env *or_proxy_pick_env_process(void)
{
    pthread_once(&process_once, load_process_env);
    return &process_env;
}

/* The host of url into out (no brackets, no port); false when there is none. */
static bool url_host(const char *url, char *out, size_t cap)
{
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p)
        return false;
    p += 3;
    size_t alen = strcspn(p, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) {
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hlen;
    if (*p == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close)
            return false;
        p++;
        hlen = (size_t)(close - p);
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
    }
    if (hlen == 0 || hlen >= cap)
        return false;
    memcpy(out, p, hlen);
    out[hlen] = '\0';
    return true;
}

/* One NO_PROXY entry (trimmed, len > 0) against host. */
static bool entry_match(const char *e, size_t len, const char *host)
{
    if (len == 1 && *e == '*')
        return true;
    if (len >= 2 && e[0] == '[' && e[len - 1] == ']') {
        e++;
        len -= 2;
    }
    or_cidr c;
    uint8_t ip[16];
    if (or_cidr_parse(e, len, &c, NULL) == OR_OK)
        return or_ip_parse(host, strlen(host), ip) && or_cidr_contains(&c, ip);
    while (len > 0 && *e == '.') {
        e++;
        len--;
    }
    while (len > 0 && e[len - 1] == '.')
        len--;
    size_t hl = strlen(host);
    while (hl > 0 && host[hl - 1] == '.')
        hl--;
    if (len == 0 || hl < len)
        return false;
    if (strncasecmp(host + hl - len, e, len) != 0)
        return false;
    return hl == len || host[hl - len - 1] == '.';
}

bool or_proxy_pick_no_proxy(const char *no_proxy, const char *host)
{
    if (!no_proxy || !host || !*host)
        return false;
    const char *p = no_proxy;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p, *end = p + n;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end > s && entry_match(s, (size_t)(end - s), host))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

void or_proxy_pick_env_for(const or_proxy_env *e, const char *url, char *out, size_t cap)
{
    out[0] = '\0';
    const char *v = NULL;
    if (url && strncasecmp(url, "https://", 8) == 0)
        v = e->https;
    else if (url && strncasecmp(url, "http://", 7) == 0)
        v = e->http;
    if (!v || !*v)
        v = e->all;
    if (!*v || strlen(v) >= cap)
        return;
    char host[256];
    if (url_host(url, host, sizeof host) && or_proxy_pick_no_proxy(e->no, host))
        return;
    memcpy(out, v, strlen(v) + 1);
}

/* ---- settings ---- */

const json_t *or_proxy_pick_find(const json_t *cfg, const or_proxy_scope *sc, or_proxy_level *level)
{
    const struct {
        or_proxy_level level;
        const char *map; /* NULL: the global entry */
        const char *id;
    } levels[] = {
        {OR_PROXY_LEVEL_KEY, "keys", sc->key_id},
        {OR_PROXY_LEVEL_COMBO, "combos", sc->combo},
        {OR_PROXY_LEVEL_CONNECTION, "providers", sc->conn_id},
        {OR_PROXY_LEVEL_PROVIDER, "providers", sc->provider},
        {OR_PROXY_LEVEL_GLOBAL, NULL, NULL},
    };
    *level = OR_PROXY_LEVEL_NONE;
    if (!json_is_object(cfg))
        return NULL;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        const json_t *p;
        if (levels[i].map && !(levels[i].id && *levels[i].id))
            continue;
        p = levels[i].map ? json_object_get(json_object_get(cfg, levels[i].map), levels[i].id)
                          : json_object_get(cfg, "global");
        if (json_is_object(p)) {
            *level = levels[i].level;
            return p;
        }
    }
    return NULL;
}

static const struct {
    const char *type;
    const char *scheme;
} schemes[] = {
    {"http", "http://"},
    {"https", "https://"},
    {"socks5", "socks5h://"}, /* h: the proxy resolves names (no DNS leak, reaches its own) */
    {"direct", ""},
};

static or_err put_encoded(or_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    or_err e = OR_OK;
    for (; *s && e == OR_OK; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            e = or_buf_append(b, s, 1);
        else
            e = or_buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
    }
    return e;
}

or_err or_proxy_pick_url(const json_t *p, const char *password, char *out, size_t cap,
                         or_errbuf *eb)
{
    or_err e = OR_OK;
    or_buf b;
    or_buf_init(&b, cap ? cap - 1 : 1);
    if (cap)
        out[0] = '\0';
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *scheme = NULL;
    for (size_t i = 0; type && i < sizeof schemes / sizeof *schemes; i++)
        if (strcmp(type, schemes[i].type) == 0)
            scheme = schemes[i].scheme;
    if (!scheme) {
        e = or_fail(eb, OR_EINVAL, "type: must be http, https, socks5 or direct");
        goto out;
    }
    if (!*scheme)
        goto out;
    const char *host = json_string_value(json_object_get(p, "host"));
    json_int_t port = json_integer_value(json_object_get(p, "port"));
    const char *user = json_string_value(json_object_get(p, "username"));
    if (!host || !*host || strcspn(host, "/@?#[] \t\r\n") != strlen(host)) {
        e = or_fail(eb, OR_EINVAL, "host: must be a host name or an address");
        goto out;
    }
    if (port < 1 || port > 65535) {
        e = or_fail(eb, OR_EINVAL, "port: must be an integer from 1 to 65535");
        goto out;
    }
    bool v6 = strchr(host, ':') != NULL;
    e = or_buf_puts(&b, scheme);
    if (e == OR_OK && user && *user) {
        e = put_encoded(&b, user);
        if (e == OR_OK && password && *password)
            e = or_buf_puts(&b, ":") == OR_OK ? put_encoded(&b, password) : OR_ETOOBIG;
        if (e == OR_OK)
            e = or_buf_puts(&b, "@");
    }
    if (e == OR_OK)
        e = or_buf_printf(&b, v6 ? "[%s]:%lld" : "%s:%lld", host, (long long)port);
    if (e != OR_OK) {
        e = or_fail(eb, e == OR_ENOMEM ? OR_ENOMEM : OR_ETOOBIG, "proxy URL too long");
        goto out;
    }
    memcpy(out, b.data, b.len + 1);
out:
    or_buf_wipe_free(&b);
    return e;
}

or_err or_proxy_pick(or_store *st, const json_t *settings, const or_proxy_env *env,
                     const or_proxy_scope *sc, char *out, size_t cap, const char **proxy,
                     or_proxy_level *level, or_errbuf *eb)
{
    or_err e = OR_OK;
    char *password = NULL;
    or_proxy_level lv;
    *proxy = NULL;
    out[0] = '\0';
    const json_t *p = or_proxy_pick_find(json_object_get(settings, OR_PROXY_SETTINGS_KEY), sc, &lv);
    if (p) {
        const char *sealed = json_string_value(json_object_get(p, "passwordSealed"));
        if (sealed && (!st || or_store_unseal(st, sealed, &password) != OR_OK)) {
            e = or_fail(eb, OR_ECRYPTO, "the %s proxy's password cannot be opened",
                        or_proxy_pick_level_name(lv));
            goto out;
        }
        e = or_proxy_pick_url(p, password, out, cap, eb);
        if (e == OR_OK)
            *proxy = out;
        goto out;
    }
    if (!env)
        env = or_proxy_pick_env_process();
    or_proxy_pick_env_for(env, sc->url, out, cap);
    if (out[0]) {
        lv = OR_PROXY_LEVEL_ENV;
        *proxy = out;
    } else if (env->http[0] || env->https[0] || env->all[0]) {
        *proxy = ""; /* exempted by NO_PROXY as resolved here, whatever other tools would think */
    }
out:
    if (password) {
        sodium_memzero(password, strlen(password));
        free(password);
    }
    if (e != OR_OK) {
        sodium_memzero(out, cap);
        lv = OR_PROXY_LEVEL_NONE;
    }
    if (level)
        *level = lv;
    return e;
}

const char *or_proxy_pick_level_name(or_proxy_level l)
{
    static const char *const names[] = {
        [OR_PROXY_LEVEL_NONE] = "none",         [OR_PROXY_LEVEL_KEY] = "key",
        [OR_PROXY_LEVEL_COMBO] = "combo",       [OR_PROXY_LEVEL_CONNECTION] = "connection",
        [OR_PROXY_LEVEL_PROVIDER] = "provider", [OR_PROXY_LEVEL_GLOBAL] = "global",
        [OR_PROXY_LEVEL_ENV] = "environment",
    };
    return (unsigned)l < sizeof names / sizeof *names ? names[l] : "?";
}
