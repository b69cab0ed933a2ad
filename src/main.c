/*
 * main.c — omniroute: the AI gateway. Reads the environment, opens the store, starts the HTTP
 * workers and waits for SIGTERM/SIGINT, then drains and shuts down cleanly.
 */
#include "admin/resilience_api.h"
#include "app/cli.h"
#include "app/routes.h"
#include "gateway/sigcache.h"
#include "auth/apikey.h"
#include "auth/auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "ops/ops.h"
#include "upstream/tls.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include <pthread.h>

static const char usage_text[] =
    "Usage: omniroute [--help] [--version]\n"
    "       omniroute <command> [options]   (see Commands)\n"
    "\n"
    "Self-hosted AI gateway: point OpenAI/Anthropic/Gemini clients at it and it routes each\n"
    "request to your provider accounts.\n"
    "\n"
    "Environment:\n"
    "  PORT                 listen port (default 20128)\n"
    "  HOSTNAME             listen address (default 127.0.0.1)\n"
    "  DATA_DIR             data directory (default ~/.omniroute)\n"
    "  INITIAL_PASSWORD     dashboard password used until one is set\n"
    "  JWT_SECRET           session signing secret (default: generated once into DATA_DIR)\n"
    "  API_KEY_SECRET       key for hashing client API keys (default: generated once)\n"
    "  STORAGE_ENCRYPTION_KEY  key for provider secrets at rest (default: generated once)\n"
    "  AUTH_COOKIE_SECURE   mark the session cookie Secure (default false)\n"
    "  REQUIRE_API_KEY      require a client API key on /v1/... (default false)\n"
    "  OMNIROUTE_TRUST_PROXY  behind a reverse proxy: count logins per X-Forwarded-For\n"
    "  OMNIROUTE_WORKERS    worker threads (default: number of CPUs)\n"
    "  OMNIROUTE_MAX_BODY_MB  request body cap (default 32)\n"
    "  OMNIROUTE_LOG        error|warn|info|debug (default info)\n"
    "  OMNIROUTE_ACCESS_LOG one JSON line per relayed request on stderr (default off)\n"
    "  ENABLE_REQUEST_LOGS  keep redacted request/response summaries (default false)\n"
    "  CALL_LOG_MAX_ENTRIES request-log rows kept (default 10000)\n"
    "\n";

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

static int parse_port(const char *v, int dflt)
{
    if (!v || !*v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return (*end || n < 0 || n > 65535) ? -1 : (int)n;
}

static void app_free(or_app *app)
{
    if (app->store && app->routing.plans)
        or_resilience_api_save(app); /* breaker state survives a restart */
    or_routing_free(&app->routing);
    or_sigcache_clear();
    or_apikeys_close(app->apikeys, app->store); /* lastUsedAt survives a restart */
    if (app->store)
        or_store_close(app->store);
    sodium_memzero(app->jwt_key, sizeof app->jwt_key);
    free(app->data_dir);
    free(app->host);
    free(app->initial_password);
}

int main(int argc, char **argv)
{
    if (argc > 1 && or_cli_is_command(argv[1]))
        return or_cli_main(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            fputs(or_cli_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            printf("omniroute %s\n", OR_VERSION);
            return 0;
        }
        fprintf(stderr, "omniroute: unknown argument '%s'\n\n%s%s", argv[i], usage_text,
                or_cli_usage);
        return 2;
    }
    or_log_init_from_env();
    if (or_rand_init() != 0) {
        fprintf(stderr, "omniroute: library initialisation failed\n");
        return 1;
    }
    /* Signals are collected by the server's sigwait thread; block them before any thread
     * starts so every thread inherits the mask. SIGPIPE: writes to closed sockets just fail. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    or_errbuf eb = {{0}};
    or_http_server *srv = NULL;
    or_app app = {0};
    app.started_mono_ms = or_clock_mono_ms();
    app.data_dir = or_cli_default_data_dir();
    const char *host = getenv("HOSTNAME");
    app.host = strdup(host && *host ? host : "127.0.0.1");
    app.port = parse_port(getenv("PORT"), 20128);
    const char *ip = getenv("INITIAL_PASSWORD");
    app.initial_password = ip && *ip ? strdup(ip) : NULL;
    app.cookie_secure = env_true("AUTH_COOKIE_SECURE");
    app.require_api_key = env_true("REQUIRE_API_KEY");
    app.trust_proxy = env_true("OMNIROUTE_TRUST_PROXY");
    app.jwt_ttl_s = 24 * 3600;
    if (app.port < 0) {
        fprintf(stderr, "omniroute: PORT must be a number from 0 to 65535\n");
        goto out;
    }
    if (!app.data_dir || !app.host)
        goto out;
    if (or_store_open(app.data_dir, &app.store, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: cannot open the store in %s: %s\n", app.data_dir, eb.msg);
        goto out;
    }
    if (or_routing_init(&app.routing) != OR_OK) {
        fprintf(stderr, "omniroute: out of memory\n");
        goto out;
    }
    or_resilience_api_load(&app);
    if (or_auth_load_jwt_key(app.data_dir, app.jwt_key, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: session key: %s\n", eb.msg);
        goto out;
    }
    if (or_apikeys_open(app.data_dir, &app.apikeys, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: API key secret: %s\n", eb.msg);
        goto out;
    }
    or_ops_config ops;
    or_ops_config_from_env(&ops);
    if (or_ops_start(&ops, app.data_dir, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: %s\n", eb.msg);
        goto out;
    }

    or_http_config cfg = {.host = app.host, .port = app.port};
    const char *workers = getenv("OMNIROUTE_WORKERS");
    cfg.workers = workers ? atoi(workers) : 0;
    or_http_limits_default(&cfg.limits);
    or_http_app happ = or_routes_http_app(&app);
    if (or_http_server_start(&cfg, &happ, &srv, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: %s\n", eb.msg);
        goto out;
    }
    or_log_info("omniroute %s listening on http://%s:%d (data: %s)", OR_VERSION, app.host,
                or_http_server_port(srv), app.data_dir);
    or_http_server_wait(srv);
    or_log_info("stopped");
    rc = 0;
out:
    or_http_server_free(srv);
    or_ops_stop(); /* after the workers: they record into it */
    app_free(&app);
    or_tls_global_free(); /* made on the first https connection, if any */
    return rc;
}
