/*
 * proxy_pick.h — which outbound proxy a provider request goes through, as a proxy URL.
 *
 * The configuration is the settings key "proxy" (written by admin/proxy.c):
 *   {global: P, providers: {<provider id | connection id>: P}, combos: {<name>: P},
 *    keys: {<client API key id>: P}}
 *   P = {type: "http"|"https"|"socks5"|"direct", host, port, username?, passwordSealed?}
 * Precedence: key → combo → connection → provider → global → environment. The first level
 * with an entry decides; {type:"direct"} there means "no proxy" (lower levels and the
 * environment are not consulted). socks5 becomes socks5h:// so names resolve through the
 * proxy; credentials are %-encoded into the URL.
 *
 * Environment: http_proxy/HTTP_PROXY (http:// targets), https_proxy/HTTPS_PROXY (https://),
 * then all_proxy/ALL_PROXY, minus hosts in no_proxy/NO_PROXY ("*", domain suffixes, addresses,
 * CIDRs). The upstream client never reads the environment itself: the variables are resolved
 * here, the upper-case HTTP_PROXY included (curl ignores it because of CGI's "httpoxy"; a
 * gateway is no CGI), and the answer is handed to it explicitly.
 *
 * Threads: pure except or_proxy_pick, which unseals a password with the store's key (any
 * thread). The process environment is read once (or_proxy_pick_env_process). The URL holds the
 * proxy password in clear: callers wipe it (sodium_memzero) once or_up_start has returned
 * (the client keeps its own copy, wiped when the request ends).
 */
#ifndef OR_GATEWAY_PROXY_PICK_H
#define OR_GATEWAY_PROXY_PICK_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define OR_PROXY_SETTINGS_KEY "proxy"
#define OR_PROXY_URL_MAX 1024 /* a proxy URL, credentials included */
#define OR_PROXY_ENV_MAX 4096 /* one environment variable's value */

typedef enum {
    OR_PROXY_LEVEL_NONE = 0, /* nothing applies: a direct connection */
    OR_PROXY_LEVEL_KEY,
    OR_PROXY_LEVEL_COMBO,
    OR_PROXY_LEVEL_CONNECTION,
    OR_PROXY_LEVEL_PROVIDER,
    OR_PROXY_LEVEL_GLOBAL,
    OR_PROXY_LEVEL_ENV,
} or_proxy_level;

/* What one provider request is: each field may be NULL or "" when it does not apply. */
typedef struct {
    const char *key_id;   /* the client's API key id */
    const char *combo;    /* the combo the client named */
    const char *conn_id;  /* the provider connection (account) */
    const char *provider; /* the provider id ("openai") */
    const char *url;      /* the target URL (its scheme and host matter to the environment) */
} or_proxy_scope;

typedef struct {
    char http[OR_PROXY_ENV_MAX], https[OR_PROXY_ENV_MAX], all[OR_PROXY_ENV_MAX];
    char no[OR_PROXY_ENV_MAX];
} or_proxy_env;

/* getenv: the lower-case name first, then the upper-case one; values too long are ignored. */
void or_proxy_pick_env_load(or_proxy_env *e);
/* The process's environment, loaded on first use. */
const or_proxy_env *or_proxy_pick_env_process(void);
/* The environment's proxy for url ("" when none or NO_PROXY exempts its host). */
void or_proxy_pick_env_for(const or_proxy_env *e, const char *url, char *out, size_t cap);
/* True when host (a name or an address, no port, no brackets) is exempted by a NO_PROXY list. */
bool or_proxy_pick_no_proxy(const char *no_proxy, const char *host);

/* The entry of cfg (the "proxy" setting) that decides for sc and its level; NULL with
 * *level = NONE when no level has one. */
const json_t *or_proxy_pick_find(const json_t *cfg, const or_proxy_scope *sc,
                                 or_proxy_level *level);

/* The URL of proxy object p ({type, host, port, username?}) with the given password
 * (NULL: none). "" for type "direct". OR_EINVAL when p is malformed, OR_ETOOBIG past cap. */
or_err or_proxy_pick_url(const json_t *p, const char *password, char *out, size_t cap,
                         or_errbuf *eb);

/* The proxy for one request, for or_up_request.proxy: NULL (no proxy anywhere: a direct
 * connection), "" (explicitly none) or out (a URL). settings is a snapshot's settings object;
 * env NULL = the process's. A sealed password that does not open, or a malformed entry, is an
 * error (OR_ECRYPTO / OR_EINVAL): the request must not silently go direct. level may be NULL. */
or_err or_proxy_pick(or_store *st, const json_t *settings, const or_proxy_env *env,
                     const or_proxy_scope *sc, char *out, size_t cap, const char **proxy,
                     or_proxy_level *level, or_errbuf *eb);

const char *or_proxy_pick_level_name(or_proxy_level l); /* "key", "combo", … "environment" */

#endif
