/*
 * cli.c — see cli.h. One table row per command: its options (allowed and required) and the
 * function that runs it with the store open.
 */
#include "app/cli.h"

#include "admin/conn_json.h"
#include "auth/apikey.h"
#include "core/log.h"
#include "core/rand.h"
#include "provider/provider.h"
#include "store/backup.h"
#include "store/store.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char or_cli_usage[] =
    "Commands (headless setup; they work on the data directory directly):\n"
    "  omniroute providers add --provider ID --name NAME [--api-key KEY|-] [--api-key-env VAR]\n"
    "                          [--base-url URL] [--priority N] [--default-model MODEL]\n"
    "  omniroute providers list [--json]\n"
    "  omniroute keys create --name NAME [--allowed-models GLOB,...] [--admin] [--quiet]\n"
    "  omniroute keys list\n"
    "  omniroute backup --out FILE [--force]\n"
    "  Each takes --data-dir DIR (default: DATA_DIR, else ~/.omniroute) and --help.\n";

enum {
    O_DATA_DIR,
    O_HELP,
    O_PROVIDER,
    O_NAME,
    O_API_KEY,
    O_API_KEY_ENV,
    O_BASE_URL,
    O_PRIORITY,
    O_DEFAULT_MODEL,
    O_JSON,
    O_ALLOWED,
    O_ADMIN,
    O_QUIET,
    O_OUT,
    O_FORCE,
    NOPT
};

#define BIT(o) (1u << (o))
#define COMMON (BIT(O_DATA_DIR) | BIT(O_HELP))

static const struct {
    const char *name;
    bool takes_value;
} options[NOPT] = {
    [O_DATA_DIR] = {"--data-dir", true},
    [O_HELP] = {"--help", false},
    [O_PROVIDER] = {"--provider", true},
    [O_NAME] = {"--name", true},
    [O_API_KEY] = {"--api-key", true},
    [O_API_KEY_ENV] = {"--api-key-env", true},
    [O_BASE_URL] = {"--base-url", true},
    [O_PRIORITY] = {"--priority", true},
    [O_DEFAULT_MODEL] = {"--default-model", true},
    [O_JSON] = {"--json", false},
    [O_ALLOWED] = {"--allowed-models", true},
    [O_ADMIN] = {"--admin", false},
    [O_QUIET] = {"--quiet", false},
    [O_OUT] = {"--out", true},
    [O_FORCE] = {"--force", false},
};

typedef struct {
    const char *v[NOPT]; /* value, or "" for a flag that is present; NULL when absent */
    char *data_dir;
} args;

typedef int (*run_fn)(const args *a, or_store *s);

static int providers_add(const args *a, or_store *s);
static int providers_list(const args *a, or_store *s);
static int keys_create(const args *a, or_store *s);
static int keys_list(const args *a, or_store *s);
static int backup(const args *a, or_store *s);

static const struct {
    const char *cmd, *sub; /* sub NULL: a command without a subcommand */
    run_fn run;
    unsigned allowed, required;
    const char *usage;
} commands[] = {
    {"providers", "add", providers_add,
     BIT(O_PROVIDER) | BIT(O_NAME) | BIT(O_API_KEY) | BIT(O_API_KEY_ENV) | BIT(O_BASE_URL) |
         BIT(O_PRIORITY) | BIT(O_DEFAULT_MODEL),
     BIT(O_PROVIDER) | BIT(O_NAME),
     "omniroute providers add --provider ID --name NAME [--api-key KEY|-] [--api-key-env VAR]\n"
     "                        [--base-url URL] [--priority N] [--default-model MODEL]\n"
     "Adds a provider connection (an account or API key). ID is a provider id or alias\n"
     "(openai, anthropic, gemini, ds, …) or a provider node's id. `--api-key -` reads the key\n"
     "from stdin. Prints the stored connection as JSON (never the key).\n"},
    {"providers", "list", providers_list, BIT(O_JSON), 0,
     "omniroute providers list [--json]\nLists provider connections (never their keys).\n"},
    {"keys", "create", keys_create, BIT(O_NAME) | BIT(O_ALLOWED) | BIT(O_ADMIN) | BIT(O_QUIET),
     BIT(O_NAME),
     "omniroute keys create --name NAME [--allowed-models GLOB,...] [--admin] [--quiet]\n"
     "Creates a client API key and prints it once ({id, name, key, …}; --quiet: the key\n"
     "alone). --admin lets the key call the management API too.\n"},
    {"keys", "list", keys_list, 0, 0,
     "omniroute keys list\nLists client API keys (never the keys).\n"},
    {"backup", NULL, backup, BIT(O_OUT) | BIT(O_FORCE), BIT(O_OUT),
     "omniroute backup --out FILE [--force]\n"
     "Writes a consistent copy of the database (SQLite online backup; safe while the gateway\n"
     "runs). Provider keys stay sealed in it: keep DATA_DIR/storage.key (or\n"
     "STORAGE_ENCRYPTION_KEY) with the backup. --force replaces an existing FILE.\n"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

bool or_cli_is_command(const char *arg)
{
    for (size_t i = 0; arg && i < NCOMMANDS; i++)
        if (strcmp(arg, commands[i].cmd) == 0)
            return true;
    return false;
}

char *or_cli_default_data_dir(void)
{
    const char *d = getenv("DATA_DIR");
    if (d && *d)
        return strdup(d);
    const char *home = getenv("HOME");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/.omniroute", home && *home ? home : ".");
    return strdup(buf);
}

/* ---- providers ---- */

/* The provider key from --api-key (or stdin for "-") or --api-key-env; *out NULL when none.
 * Returns false (after saying why) on a read failure. */
static bool read_api_key(const args *a, char **out)
{
    *out = NULL;
    const char *v = a->v[O_API_KEY];
    if (a->v[O_API_KEY_ENV]) {
        const char *e = getenv(a->v[O_API_KEY_ENV]);
        if (!e || !*e) {
            fprintf(stderr, "omniroute: environment variable %s is empty or unset\n",
                    a->v[O_API_KEY_ENV]);
            return false;
        }
        v = e;
    }
    if (v && strcmp(v, "-") == 0) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n <= 0) {
            if (line)
                sodium_memzero(line, cap);
            free(line);
            fprintf(stderr, "omniroute: no API key on stdin\n");
            return false;
        }
        *out = line;
        return true;
    }
    *out = v ? strdup(v) : NULL;
    return true;
}

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

/* Wipes a JSON string member's bytes before the object goes away. */
static void wipe_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
}

/* Prints j (borrowed) indented; 1 when j is NULL (out of memory). */
static int print_json(const json_t *j)
{
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!text) {
        fprintf(stderr, "omniroute: out of memory\n");
        return 1;
    }
    puts(text);
    sodium_memzero(text, strlen(text)); /* a new client key is in it */
    free(text);
    return 0;
}

static int providers_add(const args *a, or_store *s)
{
    int rc = 1;
    or_errbuf eb = {{0}};
    or_conn c;
    char id[37] = {0};
    char *key = NULL;
    json_t *body = NULL, *nodes = NULL;
    memset(&c, 0, sizeof c);
    if (!read_api_key(a, &key))
        goto out;
    body = json_pack("{s:s, s:s}", "provider", a->v[O_PROVIDER], "name", a->v[O_NAME]);
    if (!body)
        goto oom;
    if (key)
        json_object_set_new(body, "apiKey", json_string(key));
    if (a->v[O_BASE_URL])
        json_object_set_new(body, "providerSpecificData",
                            json_pack("{s:s}", "baseUrl", a->v[O_BASE_URL]));
    if (a->v[O_DEFAULT_MODEL])
        json_object_set_new(body, "defaultModel", json_string(a->v[O_DEFAULT_MODEL]));
    if (a->v[O_PRIORITY]) {
        char *end;
        long p = strtol(a->v[O_PRIORITY], &end, 10);
        if (*end || p < 1 || p > 100) {
            fprintf(stderr, "omniroute: --priority must be a number from 1 to 100\n");
            rc = 2;
            goto out;
        }
        json_object_set_new(body, "priority", json_integer(p));
    }
    nodes = or_store_setting_get(s, OR_PROVIDER_NODES_KEY);
    if (or_conn_json_apply(&c, body, true, nodes, &eb) != OR_OK ||
        or_store_conn_put(s, &c, id, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: %s\n", eb.msg);
        goto out;
    }
    or_snapshot *snap = or_store_snapshot(s);
    const or_conn *stored = or_snapshot_conn(snap, id);
    json_t *view = stored ? or_conn_json_encode(stored) : NULL;
    or_snapshot_release(snap);
    json_t *reply = view ? json_pack("{s:o}", "connection", view) : NULL;
    rc = print_json(reply);
    json_decref(reply);
    goto out;
oom:
    fprintf(stderr, "omniroute: out of memory\n");
out:
    wipe_member(body, "apiKey");
    json_decref(body);
    json_decref(nodes);
    wipe_free(key);
    or_conn_clear(&c);
    return rc;
}

static int providers_list(const args *a, or_store *s)
{
    or_snapshot *snap = or_store_snapshot(s);
    int rc = 0;
    if (a->v[O_JSON]) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < snap->nconns; i++)
            json_array_append_new(arr, or_conn_json_encode(&snap->conns[i]));
        json_t *reply = arr ? json_pack("{s:o}", "connections", arr) : NULL;
        rc = print_json(reply);
        json_decref(reply);
    } else {
        printf("%-36s  %-18s  %-24s  %-6s  %-4s  %s\n", "ID", "PROVIDER", "NAME", "ACTIVE", "KEY",
               "BASE URL");
        for (size_t i = 0; i < snap->nconns; i++) {
            const or_conn *c = &snap->conns[i];
            const char *base = json_string_value(json_object_get(c->psd, "baseUrl"));
            printf("%-36s  %-18s  %-24s  %-6s  %-4s  %s\n", c->id, c->provider,
                   c->name ? c->name : "", c->active ? "yes" : "no",
                   c->api_key && *c->api_key ? "yes" : "no", base ? base : "(default)");
        }
    }
    or_snapshot_release(snap);
    return rc;
}

/* ---- client keys ---- */

static int keys_create(const args *a, or_store *s)
{
    or_apikeys *k = NULL;
    or_errbuf eb = {{0}};
    json_t *view = NULL, *body = json_pack("{s:s}", "name", a->v[O_NAME]);
    int rc = 1;
    if (!body)
        goto out;
    if (a->v[O_ALLOWED]) {
        json_t *globs = json_array();
        char *list = strdup(a->v[O_ALLOWED]), *save = NULL;
        for (char *g = list ? strtok_r(list, ",", &save) : NULL; g; g = strtok_r(NULL, ",", &save))
            if (*g)
                json_array_append_new(globs, json_string(g));
        free(list);
        json_object_set_new(body, "allowedModels", globs);
    }
    if (a->v[O_ADMIN])
        json_object_set_new(body, "scopes", json_pack("[s]", "admin"));
    if (or_apikeys_open(a->data_dir, &k, &eb) != OR_OK ||
        or_apikeys_create(k, s, body, &view, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: %s\n", eb.msg);
        goto out;
    }
    if (a->v[O_QUIET]) {
        puts(json_string_value(json_object_get(view, "key")));
        rc = 0;
    } else {
        rc = print_json(view);
    }
    fflush(stdout);
out:
    if (view)
        or_apikeys_view_free(view);
    json_decref(body);
    or_apikeys_close(k, s);
    return rc;
}

static int keys_list(const args *a, or_store *s)
{
    or_apikeys *k = NULL;
    or_errbuf eb = {{0}};
    if (or_apikeys_open(a->data_dir, &k, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: %s\n", eb.msg);
        return 1;
    }
    json_t *list = or_apikeys_list(k, s);
    int rc = print_json(list);
    json_decref(list);
    or_apikeys_close(k, s);
    return rc;
}

/* ---- backup ---- */

static int backup(const args *a, or_store *s)
{
    const char *out = a->v[O_OUT];
    or_errbuf eb = {{0}};
    struct stat st;
    if (stat(out, &st) == 0) {
        if (!a->v[O_FORCE] && (!S_ISREG(st.st_mode) || st.st_size > 0)) {
            fprintf(stderr, "omniroute: %s exists (use --force to replace it)\n", out);
            return 1;
        }
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "omniroute: %s is not a regular file\n", out);
            return 1;
        }
        or_backup_remove(out);
    }
    if (or_backup_export(s, out, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: backup failed: %s\n", eb.msg);
        or_backup_remove(out);
        return 1;
    }
    if (stat(out, &st) != 0) {
        fprintf(stderr, "omniroute: %s: %s\n", out, strerror(errno));
        return 1;
    }
    printf("backup written: %s (%lld bytes)\n", out, (long long)st.st_size);
    fprintf(stderr,
            "note: provider API keys in the copy are sealed; keep %s/storage.key (or your "
            "STORAGE_ENCRYPTION_KEY) with it\n",
            a->data_dir);
    return 0;
}

/* ---- parsing and dispatch ---- */

/* "omniroute: <what> <why>" and the command's usage; the usage exit status. */
static int usage_error(const char *usage, const char *what, const char *why)
{
    fprintf(stderr, "omniroute: %s %s\n\nUsage: %s", what, why, usage);
    return 2;
}

/* argv[i..argc) into a; 0, or the usage exit status after reporting. */
static int parse_opts(int argc, char **argv, int i, unsigned allowed, const char *usage, args *a)
{
    for (; i < argc; i++) {
        size_t o = 0;
        while (o < NOPT && strcmp(argv[i], options[o].name) != 0)
            o++;
        if (o == NOPT || !(allowed & BIT(o)))
            return usage_error(usage, argv[i], "is not an option of this command");
        if (!options[o].takes_value) {
            a->v[o] = "";
            continue;
        }
        if (i + 1 >= argc)
            return usage_error(usage, argv[i], "needs a value");
        a->v[o] = argv[++i];
    }
    return 0;
}

int or_cli_main(int argc, char **argv)
{
    size_t c = 0;
    const char *sub = argc > 1 ? argv[1] : NULL;
    for (; c < NCOMMANDS; c++)
        if (strcmp(argv[0], commands[c].cmd) == 0 &&
            (!commands[c].sub || (sub && strcmp(sub, commands[c].sub) == 0)))
            break;
    if (c == NCOMMANDS) {
        fprintf(stderr, "omniroute: unknown command '%s%s%s'\n\n%s", argv[0], sub ? " " : "",
                sub ? sub : "", or_cli_usage);
        return 2;
    }
    args a;
    memset(&a, 0, sizeof a);
    int rc = parse_opts(argc, argv, commands[c].sub ? 2 : 1, commands[c].allowed | COMMON,
                        commands[c].usage, &a);
    if (rc)
        return rc;
    if (a.v[O_HELP]) {
        printf("Usage: %s", commands[c].usage);
        return 0;
    }
    for (size_t o = 0; o < NOPT; o++)
        if ((commands[c].required & BIT(o)) && (!a.v[o] || !*a.v[o]))
            return usage_error(commands[c].usage, options[o].name, "is required");

    /* Quiet by default: only warnings and errors from the store on stderr. */
    setenv("OMNIROUTE_LOG", "warn", 0);
    or_log_init_from_env();
    if (or_rand_init() != 0) {
        fprintf(stderr, "omniroute: library initialisation failed\n");
        return 1;
    }
    a.data_dir = a.v[O_DATA_DIR] ? strdup(a.v[O_DATA_DIR]) : or_cli_default_data_dir();
    or_store *s = NULL;
    or_errbuf eb = {{0}};
    if (!a.data_dir) {
        fprintf(stderr, "omniroute: out of memory\n");
        return 1;
    }
    if (or_store_open(a.data_dir, &s, &eb) != OR_OK) {
        fprintf(stderr, "omniroute: cannot open the store in %s: %s\n", a.data_dir, eb.msg);
        free(a.data_dir);
        return 1;
    }
    rc = commands[c].run(&a, s);
    or_store_close(s);
    free(a.data_dir);
    return rc;
}
