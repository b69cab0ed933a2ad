/* The store end to end on a temp dir: connections and settings survive a reopen, secrets never
 * reach the database in clear, usage rows are batched to disk, snapshots outlive a swap. */
#include "check.h"

#include "core/rand.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "sk-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

static char root[64];

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    /* Built by hand: dir may itself be one of these buffers, which snprintf must not read. */
    size_t dl = strlen(dir), nl = strlen(name);
    if (dl + nl + 2 > sizeof buf[0])
        abort();
    memmove(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(data, 1, (size_t)n, f);
    fclose(f);
    int found = memmem(data, got, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static unsigned file_mode(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0xffffu;
}

static long long query_int(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static or_conn make_conn(const char *provider, const char *name, const char *key, int priority)
{
    or_conn c;
    memset(&c, 0, sizeof c);
    c.provider = (char *)provider;
    c.name = (char *)name;
    c.api_key = (char *)key;
    c.priority = priority;
    c.active = true;
    return c;
}

static void test_connections_settings_usage(const char *dir, char id_a[37])
{
    or_store *s = NULL;
    or_errbuf eb = {{0}};
    CHECK(or_store_open(dir, &s, &eb) == OR_OK);
    if (!s) {
        fprintf(stderr, "open: %s\n", eb.msg);
        return;
    }
    CHECK_STR(or_store_data_dir(s), dir);
    CHECK(file_mode(dir) == 0700);
    CHECK(file_mode(path_in(dir, "storage.key")) == 0600);
    CHECK(file_mode(path_in(dir, "storage.sqlite")) == 0600);

    or_snapshot *empty = or_store_snapshot(s);
    CHECK(empty && empty->nconns == 0 && json_object_size(empty->settings) == 0);

    /* Connection A: api key, providerSpecificData, generated id. */
    or_conn a = make_conn("openai", "main", SECRET, 2);
    a.psd = json_pack("{s:s}", "baseUrl", "https://api.example.test/v1");
    a.default_model = "gpt-4o-mini";
    CHECK(or_store_conn_put(s, &a, id_a, &eb) == OR_OK);
    CHECK(strlen(id_a) == 36);
    json_decref(a.psd);

    /* Connection B: no key, caller-chosen id, lower priority number sorts first. */
    or_conn b = make_conn("openai", "backup", NULL, 1);
    strcpy(b.id, "conn-b");
    char id_b[37] = "";
    CHECK(or_store_conn_put(s, &b, id_b, &eb) == OR_OK);
    CHECK_STR(id_b, "conn-b");

    or_conn c = make_conn("anthropic", "claude", "sk-ant-other", 1);
    char id_c[37];
    CHECK(or_store_conn_put(s, &c, id_c, &eb) == OR_OK);

    or_conn bad = make_conn(NULL, "x", NULL, 1);
    CHECK(or_store_conn_put(s, &bad, NULL, &eb) == OR_EINVAL);
    bad = make_conn("openai", "x", NULL, 101);
    CHECK(or_store_conn_put(s, &bad, NULL, &eb) == OR_EINVAL);

    or_snapshot *snap = or_store_snapshot(s);
    CHECK(snap->nconns == 3);
    CHECK(snap->version > empty->version);
    if (snap->nconns == 3) {
        CHECK_STR(snap->conns[0].provider, "anthropic");
        CHECK_STR(snap->conns[1].id, "conn-b");
        CHECK_STR(snap->conns[2].id, id_a);
    }
    const or_conn *ca = or_snapshot_conn(snap, id_a);
    CHECK(ca != NULL);
    if (ca) {
        CHECK_STR(ca->api_key, SECRET);
        CHECK_STR(ca->auth_type, "apikey");
        CHECK_STR(ca->test_status, "unknown");
        CHECK_STR(ca->default_model, "gpt-4o-mini");
        CHECK(ca->priority == 2 && ca->active);
        CHECK_STR(json_string_value(json_object_get(ca->psd, "baseUrl")),
                  "https://api.example.test/v1");
        CHECK(ca->created_at > 0 && ca->updated_at == ca->created_at);
    }
    const or_conn *cb = or_snapshot_conn(snap, "conn-b");
    CHECK(cb && cb->api_key == NULL && json_is_object(cb->psd));
    CHECK(or_snapshot_conn(snap, "nope") == NULL);

    /* Copy, edit and put back: created_at is kept. */
    or_conn edit;
    CHECK(ca && or_conn_copy(&edit, ca) == OR_OK);
    if (ca) {
        free(edit.name);
        edit.name = strdup("main-renamed");
        CHECK(or_store_conn_put(s, &edit, NULL, &eb) == OR_OK);
        or_conn_clear(&edit);
    }
    CHECK(empty->nconns == 0); /* the first snapshot is untouched by all the swaps */
    or_snapshot_release(empty);

    /* Settings round trip; `snap` stays readable after the writes swap in newer snapshots. */
    json_t *v = json_pack("{s:b,s:i}", "requireLogin", 1, "port", 20128);
    CHECK(or_store_setting_set(s, "security", v, &eb) == OR_OK);
    json_decref(v);
    v = json_string("fill-first");
    CHECK(or_store_setting_set(s, "strategy", v, &eb) == OR_OK);
    json_decref(v);
    json_t *got = or_store_setting_get(s, "security");
    CHECK(json_is_true(json_object_get(got, "requireLogin")));
    CHECK(json_integer_value(json_object_get(got, "port")) == 20128);
    json_decref(got);
    got = or_store_setting_get(s, "strategy");
    CHECK_STR(json_string_value(got), "fill-first");
    json_decref(got);
    CHECK(or_store_setting_get(s, "absent") == NULL);
    v = json_integer(1);
    CHECK(or_store_setting_set(s, "gone", v, &eb) == OR_OK);
    json_decref(v);
    CHECK(or_store_setting_set(s, "gone", NULL, &eb) == OR_OK);
    CHECK(or_store_setting_get(s, "gone") == NULL);
    CHECK(or_store_setting_set(s, "", json_null(), &eb) == OR_EINVAL);

    CHECK(snap->nconns == 3 && json_object_size(snap->settings) == 0);
    CHECK(ca && strcmp(ca->name, "main") == 0 && strcmp(ca->api_key, SECRET) == 0);
    or_snapshot *now = or_store_snapshot(s);
    CHECK(now != snap && now->version > snap->version);
    CHECK(json_object_size(now->settings) == 2);
    const or_conn *renamed = or_snapshot_conn(now, id_a);
    CHECK(renamed && strcmp(renamed->name, "main-renamed") == 0);
    CHECK(renamed && ca && renamed->created_at == ca->created_at);
    or_snapshot_release(now);
    or_snapshot_release(snap);

    /* Status. */
    CHECK(or_store_conn_set_status(s, id_a, "error", "401 invalid key", &eb) == OR_OK);
    CHECK(or_store_conn_set_status(s, "missing", "active", NULL, &eb) == OR_ENOTFOUND);
    now = or_store_snapshot(s);
    const or_conn *st = or_snapshot_conn(now, id_a);
    CHECK(st && strcmp(st->test_status, "error") == 0 &&
          strcmp(st->last_error, "401 invalid key") == 0);
    CHECK(st && strcmp(st->api_key, SECRET) == 0);
    or_snapshot_release(now);
    CHECK(or_store_conn_set_status(s, id_a, "active", NULL, &eb) == OR_OK);

    /* Delete. */
    CHECK(or_store_conn_delete(s, id_c, &eb) == OR_OK);
    CHECK(or_store_conn_delete(s, id_c, &eb) == OR_ENOTFOUND);

    /* Usage: 1000 rows, flushed, counted through a separate connection. */
    for (int i = 0; i < 1000; i++) {
        or_usage_row r;
        memset(&r, 0, sizeof r);
        snprintf(r.request_id, sizeof r.request_id, "req-%d", i);
        strcpy(r.provider, i % 2 ? "openai" : "anthropic");
        strcpy(r.model, "m");
        strcpy(r.endpoint, "/v1/chat/completions");
        r.status = 200;
        r.tokens_in = 10;
        r.tokens_out = i;
        r.stream = i % 3 == 0;
        memset(r.error, 'x', sizeof r.error); /* unterminated field must stay in bounds */
        or_store_usage_record(s, &r);
    }
    or_store_flush(s);
    const char *db = path_in(dir, "storage.sqlite");
    CHECK(query_int(db, "SELECT COUNT(*) FROM usage") == 1000);
    CHECK(query_int(db, "SELECT SUM(tokens_out) FROM usage") == 999 * 1000 / 2);
    CHECK(query_int(db, "SELECT COUNT(*) FROM usage WHERE provider = 'openai'") == 500);
    CHECK(query_int(db, "SELECT MAX(length(error)) FROM usage") == 200);
    CHECK(query_int(db, "SELECT MIN(ts) FROM usage") > 0);
    CHECK(query_int(db, "SELECT COUNT(*) FROM usage WHERE stream = 1") == 334);
    CHECK(query_int(db, "SELECT MAX(version) FROM schema_migrations") == 2);
    CHECK(query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage_ts'") == 1);
    CHECK(query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = "
                        "'usage_provider_model'") == 0); /* migration 2 */
    CHECK(or_store_usage_dropped(s) == 0);
    CHECK(query_int(
              db, "SELECT COUNT(*) FROM provider_connections WHERE api_key_enc IS NOT NULL") == 1);

    /* Seal / unseal. */
    char *sealed = NULL, *plain = NULL;
    CHECK(or_store_seal(s, "refresh-token-value", &sealed) == OR_OK);
    CHECK(sealed && strstr(sealed, "refresh") == NULL);
    CHECK(or_store_unseal(s, sealed, &plain) == OR_OK);
    CHECK_STR(plain, "refresh-token-value");
    free(plain);
    plain = NULL;
    if (sealed) {
        sealed[strlen(sealed) / 2] = sealed[strlen(sealed) / 2] == 'A' ? 'B' : 'A';
        CHECK(or_store_unseal(s, sealed, &plain) == OR_ECRYPTO && plain == NULL);
    }
    free(sealed);
    CHECK(or_store_unseal(s, "not base64 !!", &plain) == OR_ECRYPTO);
    CHECK(or_store_unseal(s, "", &plain) == OR_ECRYPTO);

    or_store_close(s);
}

static void test_reopen(const char *dir, const char *id_a)
{
    or_store *s = NULL;
    or_errbuf eb = {{0}};
    CHECK(or_store_open(dir, &s, &eb) == OR_OK);
    if (!s)
        return;
    or_snapshot *snap = or_store_snapshot(s);
    CHECK(snap->nconns == 2);
    const or_conn *a = or_snapshot_conn(snap, id_a);
    CHECK(a && a->api_key && strcmp(a->api_key, SECRET) == 0);
    CHECK(a && strcmp(a->test_status, "active") == 0 && a->last_error == NULL);
    const or_conn *b = or_snapshot_conn(snap, "conn-b");
    CHECK(b && b->api_key == NULL);
    or_snapshot_release(snap);
    json_t *got = or_store_setting_get(s, "strategy");
    CHECK_STR(json_string_value(got), "fill-first");
    json_decref(got);
    or_store_close(s);

    /* Closed: nothing in the database files carries the key in clear. */
    CHECK(!file_contains(path_in(dir, "storage.sqlite"), SECRET));
    CHECK(!file_contains(path_in(dir, "storage.sqlite-wal"), SECRET));
    CHECK(!file_contains(path_in(dir, "storage.sqlite"), "sk-ant-other"));
    CHECK(file_contains(path_in(dir, "storage.sqlite"), "conn-b")); /* the check can see text */
}

/* Puts one keyed connection with the current environment, reopens, returns the decrypted key
 * (malloc'd) or NULL. */
static char *roundtrip_with_env(const char *dir, const char *env_open, const char *env_reopen)
{
    or_store *s = NULL;
    char id[37] = "", *out = NULL;
    setenv("STORAGE_ENCRYPTION_KEY", env_open, 1);
    if (or_store_open(dir, &s, NULL) == OR_OK) {
        or_conn c = make_conn("gemini", "g", SECRET, 1);
        CHECK(or_store_conn_put(s, &c, id, NULL) == OR_OK);
        or_store_close(s);
    }
    setenv("STORAGE_ENCRYPTION_KEY", env_reopen, 1);
    s = NULL;
    CHECK(or_store_open(dir, &s, NULL) == OR_OK);
    if (s) {
        or_snapshot *snap = or_store_snapshot(s);
        const or_conn *c = or_snapshot_conn(snap, id);
        CHECK(c != NULL);
        if (c && c->api_key)
            out = strdup(c->api_key);
        or_snapshot_release(snap);
        or_store_close(s);
    }
    unsetenv("STORAGE_ENCRYPTION_KEY");
    CHECK(access(path_in(dir, "storage.key"), F_OK) != 0); /* env key: no key file */
    CHECK(!file_contains(path_in(dir, "storage.sqlite"), SECRET));
    return out;
}

static void test_env_key(void)
{
    const char *hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char *k = roundtrip_with_env(path_in(root, "envhex"), hex, hex);
    CHECK_STR(k, SECRET);
    free(k);
    k = roundtrip_with_env(path_in(root, "envpass"), "correct horse battery staple",
                           "correct horse battery staple");
    CHECK_STR(k, SECRET);
    free(k);
    /* A different key: the store still opens, the key just cannot be read. */
    k = roundtrip_with_env(path_in(root, "envwrong"), hex, "another passphrase");
    CHECK(k == NULL);
    free(k);
}

static void test_key_file_kept(const char *dir)
{
    char before[80] = "", after[80] = "";
    FILE *f = fopen(path_in(dir, "storage.key"), "r");
    CHECK(f && fgets(before, sizeof before, f));
    if (f)
        fclose(f);
    CHECK(strlen(before) == 65);
    or_store *s = NULL;
    CHECK(or_store_open(dir, &s, NULL) == OR_OK);
    or_store_close(s);
    f = fopen(path_in(dir, "storage.key"), "r");
    CHECK(f && fgets(after, sizeof after, f));
    if (f)
        fclose(f);
    CHECK_STR(before, after);
    CHECK(file_mode(path_in(dir, "storage.key")) == 0600);

    /* A corrupt key file is an error, not a silent new key. */
    const char *bad = path_in(root, "badkey");
    mkdir(bad, 0700);
    f = fopen(path_in(bad, "storage.key"), "w");
    if (f) {
        fputs("not-hex\n", f);
        fclose(f);
    }
    s = NULL;
    or_errbuf eb = {{0}};
    CHECK(or_store_open(bad, &s, &eb) == OR_ECRYPTO && s == NULL);
}

int main(void)
{
    char id_a[37] = "";
    or_rand_init();
    unsetenv("STORAGE_ENCRYPTION_KEY");
    strcpy(root, "/tmp/or_store_test_XXXXXX");
    if (!mkdtemp(root))
        return 1;
    const char *dir = path_in(root, "data/nested"); /* exercises mkdir -p */
    char dir_copy[512];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);

    test_connections_settings_usage(dir_copy, id_a);
    test_reopen(dir_copy, id_a);
    test_key_file_kept(dir_copy);
    test_env_key();

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_done();
}
