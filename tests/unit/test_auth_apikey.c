/* Client API keys: the format and its checksum, globs, expiry parsing, record validation, and
 * the whole life of a key against a real store on a temp dir (create → check → revoke → expire
 * → delete), with the secret file generated once (0600) and the database holding only hashes. */
#include "check.h"
#include "core/glob.h"

#include "auth/apikey.h"
#include "auth/auth.h"
#include "core/clock.h"
#include "core/rand.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void test_format(void)
{
    char a[OR_APIKEY_LEN + 1], b[OR_APIKEY_LEN + 1];
    or_apikey_generate(a);
    or_apikey_generate(b);
    CHECK(strlen(a) == OR_APIKEY_LEN);
    CHECK(strncmp(a, "sk-", 3) == 0);
    CHECK(strcmp(a, b) != 0);
    CHECK(or_apikey_well_formed(a, strlen(a)));
    CHECK(or_apikey_well_formed(b, strlen(b)));

    /* Every single-character typo is caught by the checksum or the alphabet. */
    int caught = 0, tried = 0;
    for (size_t i = 3; i < OR_APIKEY_LEN; i++) {
        char t[OR_APIKEY_LEN + 1];
        memcpy(t, a, sizeof t);
        t[i] = t[i] == 'x' ? 'y' : 'x';
        tried++;
        caught += !or_apikey_well_formed(t, OR_APIKEY_LEN);
    }
    CHECK(caught == tried);
    /* Swapped neighbours too (when they differ). */
    char sw[OR_APIKEY_LEN + 1];
    memcpy(sw, a, sizeof sw);
    for (size_t i = 3; i + 1 < OR_APIKEY_LEN; i++) {
        if (sw[i] != sw[i + 1]) {
            char c = sw[i];
            sw[i] = sw[i + 1];
            sw[i + 1] = c;
            break;
        }
    }
    CHECK(!or_apikey_well_formed(sw, OR_APIKEY_LEN));

    CHECK(!or_apikey_well_formed(a, OR_APIKEY_LEN - 1));
    CHECK(!or_apikey_well_formed("", 0));
    CHECK(!or_apikey_well_formed(NULL, 0));
    CHECK(!or_apikey_well_formed("sk-any-string", 13));
    char bad[OR_APIKEY_LEN + 1];
    memcpy(bad, a, sizeof bad);
    bad[0] = 'p';
    CHECK(!or_apikey_well_formed(bad, OR_APIKEY_LEN));
    memcpy(bad, a, sizeof bad);
    bad[10] = '-';
    CHECK(!or_apikey_well_formed(bad, OR_APIKEY_LEN));
}

static void test_glob(void)
{
    CHECK(or_glob_match("*", "openai/gpt-4o"));
    CHECK(or_glob_match("openai/*", "openai/gpt-4o"));
    CHECK(!or_glob_match("openai/*", "anthropic/claude"));
    CHECK(or_glob_match("*/gpt-4o*", "openai/gpt-4o-mini"));
    CHECK(or_glob_match("gpt-4?", "gpt-4o"));
    CHECK(!or_glob_match("gpt-4?", "gpt-4"));
    CHECK(or_glob_match("exact", "exact"));
    CHECK(!or_glob_match("exact", "exactly"));
    CHECK(!or_glob_match("exact", "exac"));
    CHECK(or_glob_match("a*b*c", "a--b--c"));
    CHECK(!or_glob_match("a*b*c", "a--c--b"));
    CHECK(or_glob_match("**", ""));
    CHECK(!or_glob_match("", "x"));
    /* A hostile name against a hostile pattern still ends quickly. */
    char name[4001];
    memset(name, 'a', 4000);
    name[4000] = '\0';
    CHECK(!or_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
}

static void test_time(void)
{
    int64_t ms;
    json_t *v;
    CHECK(or_apikey_parse_time(json_null(), &ms) && ms == 0);
    v = json_string("2030-01-31T12:00:00Z");
    CHECK(or_apikey_parse_time(v, &ms) && ms == 1896091200000LL);
    json_decref(v);
    v = json_string("2030-01-31T14:00:00.250+02:00");
    CHECK(or_apikey_parse_time(v, &ms) && ms == 1896091200250LL);
    json_decref(v);
    v = json_string("2030-01-31");
    CHECK(or_apikey_parse_time(v, &ms) && ms == 1896048000000LL);
    json_decref(v);
    v = json_integer(1896091200000LL);
    CHECK(or_apikey_parse_time(v, &ms) && ms == 1896091200000LL);
    json_decref(v);
    static const char *const bad[] = {"2030-01-31T12:00:00", "tomorrow", "2030-13-01T00:00:00Z",
                                      "2030-01-31T12:00:00Zjunk", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = json_string(bad[i]);
        CHECK(!or_apikey_parse_time(v, &ms));
        json_decref(v);
    }
    v = json_integer(-5);
    CHECK(!or_apikey_parse_time(v, &ms));
    json_decref(v);
    v = json_true();
    CHECK(!or_apikey_parse_time(v, &ms));
    json_decref(v);
}

static or_err apply(const char *body_text, bool create, json_t **rec, or_errbuf *eb)
{
    json_t *body = json_loads(body_text, 0, NULL);
    *rec = json_object();
    or_err e = or_apikey_record_apply(*rec, body, create, eb);
    json_decref(body);
    return e;
}

static void test_records(void)
{
    json_t *rec;
    or_errbuf eb = {{0}};
    CHECK(apply("{\"name\":\"ci\"}", true, &rec, &eb) == OR_OK);
    CHECK(json_is_true(json_object_get(rec, "isActive")));
    CHECK(json_array_size(json_object_get(rec, "allowedModels")) == 0);
    CHECK(json_is_null(json_object_get(rec, "expiresAt")));
    json_decref(rec);

    CHECK(apply("{\"allowedModels\":[\"x\"]}", true, &rec, &eb) == OR_EINVAL);
    CHECK_STR(eb.msg, "name: required");
    json_decref(rec);
    CHECK(apply("{\"name\":\"a\",\"colour\":1}", true, &rec, &eb) == OR_EINVAL);
    CHECK_STR(eb.msg, "colour: unknown field");
    json_decref(rec);
    CHECK(apply("{\"name\":\"\"}", true, &rec, &eb) == OR_EINVAL);
    CHECK(strncmp(eb.msg, "name:", 5) == 0);
    json_decref(rec);
    CHECK(apply("{\"name\":\"a\",\"allowedModels\":\"*\"}", true, &rec, &eb) == OR_EINVAL);
    CHECK(strncmp(eb.msg, "allowedModels:", 14) == 0);
    json_decref(rec);
    CHECK(apply("{\"name\":\"a\",\"allowedModels\":[\"ok\", 3]}", true, &rec, &eb) == OR_EINVAL);
    CHECK(strncmp(eb.msg, "allowedModels[1]:", 17) == 0);
    json_decref(rec);
    CHECK(apply("{\"name\":\"a\",\"scopes\":[\"root\"]}", true, &rec, &eb) == OR_EINVAL);
    CHECK(strncmp(eb.msg, "scopes[0]:", 10) == 0);
    json_decref(rec);
    CHECK(apply("{\"isActive\":\"no\"}", false, &rec, &eb) == OR_EINVAL);
    CHECK_STR(eb.msg, "isActive: must be a boolean");
    json_decref(rec);
    CHECK(apply("{\"expiresAt\":\"soon\"}", false, &rec, &eb) == OR_EINVAL);
    CHECK(strncmp(eb.msg, "expiresAt:", 10) == 0);
    json_decref(rec);
    CHECK(apply("[]", false, &rec, &eb) == OR_EINVAL);
    json_decref(rec);

    CHECK(
        apply("{\"isActive\":false,\"scopes\":[\"admin\"],\"expiresAt\":\"2030-01-31T12:00:00Z\"}",
              false, &rec, &eb) == OR_OK);
    CHECK(json_is_false(json_object_get(rec, "isActive")));
    CHECK(json_integer_value(json_object_get(rec, "expiresAt")) == 1896091200000LL);
    CHECK(json_object_get(rec, "name") == NULL); /* a patch sets only what it names */
    json_decref(rec);
}

static int64_t fake_now = 1700000000000LL;
static uint64_t mono(void *ud)
{
    (void)ud;
    return (uint64_t)fake_now;
}
static int64_t wall(void *ud)
{
    (void)ud;
    return fake_now;
}

/* Whether the file's bytes contain needle. */
static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = strlen(needle), cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    bool found = false;
    size_t r;
    while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    for (size_t i = 0; i + n <= len && !found; i++)
        found = memcmp(buf + i, needle, n) == 0;
    free(buf);
    fclose(f);
    return found;
}

static or_apikey_status check_key(or_apikeys *k, or_store *s, const char *key, const char *model,
                                  or_apikey_who *who)
{
    or_snapshot *snap = or_store_snapshot(s);
    or_apikey_status st = or_apikeys_check(k, snap, key, strlen(key), model, fake_now, who);
    or_snapshot_release(snap);
    return st;
}

static void test_lifecycle(void)
{
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/keys", root);
    or_store *s = NULL;
    or_apikeys *k = NULL;
    or_errbuf eb = {{0}};
    or_clock_set(&(or_clock_source){mono, wall, NULL});
    unsetenv(OR_APIKEY_SECRET_ENV);
    CHECK(or_store_open(dir, &s, &eb) == OR_OK);
    CHECK(or_apikeys_open(dir, &k, &eb) == OR_OK);
    if (!s || !k) {
        fprintf(stderr, "open: %s\n", eb.msg);
        return;
    }
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, OR_APIKEY_SECRET_FILE);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

    json_t *body = json_pack("{s:s, s:[s]}", "name", "ci", "allowedModels", "openai/*");
    json_t *view = NULL;
    CHECK(or_apikeys_create(k, s, body, &view, &eb) == OR_OK);
    json_decref(body);
    char key[OR_APIKEY_LEN + 1] = "", id[40] = "";
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(view, "key")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(view, "id")));
    CHECK(or_apikey_well_formed(key, strlen(key)));
    CHECK(strncmp(json_string_value(json_object_get(view, "prefix")), key, 8) == 0);
    CHECK(json_object_get(view, "hash") == NULL);
    CHECK(json_is_null(json_object_get(view, "lastUsedAt")));
    or_apikeys_view_free(view);

    or_apikey_who who;
    CHECK(check_key(k, s, key, NULL, &who) == OR_APIKEY_OK);
    CHECK_STR(who.id, id);
    CHECK(!who.admin);
    CHECK(who.persist_due); /* the first use after start is written soon */
    CHECK(check_key(k, s, key, "openai/gpt-4o", &who) == OR_APIKEY_OK);
    CHECK(!who.persist_due);
    CHECK(check_key(k, s, key, "anthropic/claude", &who) == OR_APIKEY_MODEL);
    char other[OR_APIKEY_LEN + 1];
    or_apikey_generate(other);
    CHECK(check_key(k, s, other, NULL, &who) == OR_APIKEY_UNKNOWN);
    CHECK(check_key(k, s, "sk-anything", NULL, &who) == OR_APIKEY_MALFORMED);
    CHECK(check_key(k, s, "", NULL, &who) == OR_APIKEY_MISSING);

    /* lastUsedAt shows in the list, and reaches the database on save. */
    json_t *list = or_apikeys_list(k, s);
    json_t *first = json_array_get(json_object_get(list, "keys"), 0);
    CHECK_STR(json_string_value(json_object_get(first, "lastUsedAt")), "2023-11-14T22:13:20.000Z");
    CHECK(json_object_get(first, "key") == NULL);
    json_decref(list);
    CHECK(or_apikeys_save_usage(k, s, &eb) == OR_OK);
    json_t *stored = or_store_setting_get(s, OR_APIKEY_SETTING);
    CHECK(json_integer_value(json_object_get(json_array_get(stored, 0), "lastUsedAt")) == fake_now);
    json_decref(stored);

    /* admin scope, revoke, expire */
    view = NULL;
    body = json_pack("{s:[s], s:b}", "scopes", "admin", "isActive", 0);
    CHECK(or_apikeys_update(k, s, id, body, &view, &eb) == OR_OK);
    json_decref(body);
    json_decref(view);
    CHECK(check_key(k, s, key, NULL, &who) == OR_APIKEY_REVOKED);
    body = json_pack("{s:b, s:I}", "isActive", 1, "expiresAt", (json_int_t)(fake_now + 1000));
    CHECK(or_apikeys_update(k, s, id, body, &view, &eb) == OR_OK);
    json_decref(body);
    json_decref(view);
    CHECK(check_key(k, s, key, NULL, &who) == OR_APIKEY_OK && who.admin);
    fake_now += 1000;
    CHECK(check_key(k, s, key, NULL, &who) == OR_APIKEY_EXPIRED);
    body = json_pack("{s:n}", "expiresAt");
    CHECK(or_apikeys_update(k, s, id, body, &view, &eb) == OR_OK);
    json_decref(body);
    json_decref(view);
    CHECK(check_key(k, s, key, NULL, &who) == OR_APIKEY_OK);
    body = json_pack("{s:s}", "colour", "red");
    CHECK(or_apikeys_update(k, s, id, body, &view, &eb) == OR_EINVAL);
    CHECK(or_apikeys_update(k, s, "nope", body, &view, &eb) == OR_ENOTFOUND);
    json_decref(body);

    json_t *one = or_apikeys_get(k, s, id);
    CHECK(one && json_is_true(json_object_get(one, "isActive")));
    json_decref(one);
    CHECK(or_apikeys_get(k, s, "nope") == NULL);

    /* A second manager over the same data dir (a restart) reads the same secret. */
    or_apikeys *k2 = NULL;
    CHECK(or_apikeys_open(dir, &k2, &eb) == OR_OK);
    CHECK(check_key(k2, s, key, NULL, &who) == OR_APIKEY_OK);
    or_apikeys_close(k2, NULL);
    /* API_KEY_SECRET overrides the file: the stored hashes no longer match. */
    setenv(OR_APIKEY_SECRET_ENV, "another secret", 1);
    CHECK(or_apikeys_open(dir, &k2, &eb) == OR_OK);
    CHECK(check_key(k2, s, key, NULL, &who) == OR_APIKEY_UNKNOWN);
    or_apikeys_close(k2, NULL);
    unsetenv(OR_APIKEY_SECRET_ENV);

    CHECK(or_apikeys_delete(k, s, id, &eb) == OR_OK);
    CHECK(or_apikeys_delete(k, s, id, &eb) == OR_ENOTFOUND);
    CHECK(check_key(k, s, key, NULL, &who) == OR_APIKEY_UNKNOWN);

    or_apikeys_close(k, s);
    or_store_close(s);
    snprintf(path, sizeof path, "%s/storage.sqlite", dir);
    CHECK(!file_has(path, key));
    snprintf(path, sizeof path, "%s/storage.sqlite-wal", dir);
    CHECK(!file_has(path, key));
    or_clock_set(NULL);
}

/* A password change stores a "not before" time; sessions issued earlier stop verifying. */
static void test_session_since(void)
{
    uint8_t key[32];
    or_rand_bytes(key, sizeof key);
    char *tok = NULL;
    CHECK(or_auth_session_issue(key, 3600, &tok, NULL) == OR_OK);
    if (!tok)
        return;
    int64_t now_s = or_clock_wall_ms() / 1000;
    or_errbuf eb = {{0}};
    CHECK(or_auth_session_verify_since(key, tok, strlen(tok), 0, NULL) == OR_OK);
    CHECK(or_auth_session_verify_since(key, tok, strlen(tok), now_s, NULL) == OR_OK);
    CHECK(or_auth_session_verify_since(key, tok, strlen(tok), now_s + 5, &eb) == OR_EAUTH);
    CHECK(strstr(eb.msg, "password change") != NULL);
    CHECK(or_auth_session_verify(key, tok, strlen(tok), NULL) == OR_OK);
    free(tok);
}

int main(void)
{
    or_rand_init();
    snprintf(root, sizeof root, "/tmp/or-apikey-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    test_format();
    test_glob();
    test_time();
    test_records();
    test_lifecycle();
    test_session_since();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_done();
}
