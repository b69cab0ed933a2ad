/* store/backup: an export is a consistent standalone SQLite file; an import of it restores the
 * configuration in place (with a pre-import backup); every bad file is refused with its reason
 * and the live data untouched; secrets sealed by another install are counted; the .tar.gz is
 * a valid ustar archive. */
#include "check.h"

#include "store/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#define SECRET "sk-backup-test-0123456789abcdef"

static char root[64];

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static or_store *open_store(const char *name)
{
    char dir[256];
    or_store *s = NULL;
    or_errbuf eb = {{0}};
    path_in(dir, sizeof dir, root, name);
    if (or_store_open(dir, &s, &eb) != OR_OK)
        fprintf(stderr, "open %s: %s\n", dir, eb.msg);
    CHECK(s != NULL);
    return s;
}

static void put_conn(or_store *s, const char *provider, const char *name, const char *key)
{
    or_conn c;
    or_errbuf eb = {{0}};
    memset(&c, 0, sizeof c);
    c.provider = (char *)provider;
    c.name = (char *)name;
    c.api_key = (char *)key;
    c.priority = 1;
    c.active = true;
    CHECK(or_store_conn_put(s, &c, NULL, &eb) == OR_OK);
}

static void set_setting(or_store *s, const char *key, const char *json)
{
    or_errbuf eb = {{0}};
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    CHECK(v != NULL);
    CHECK(or_store_setting_set(s, key, v, &eb) == OR_OK);
    json_decref(v);
}

static bool has_conn_named(or_store *s, const char *name, const char *key)
{
    or_snapshot *snap = or_store_snapshot(s);
    bool found = false;
    for (size_t i = 0; i < snap->nconns; i++) {
        const or_conn *c = &snap->conns[i];
        if (strcmp(c->name, name) == 0)
            found = key ? c->api_key && strcmp(c->api_key, key) == 0 : c->api_key == NULL;
    }
    or_snapshot_release(snap);
    return found;
}

static size_t nconns(or_store *s)
{
    or_snapshot *snap = or_store_snapshot(s);
    size_t n = snap->nconns;
    or_snapshot_release(snap);
    return n;
}

static char *setting_text(or_store *s, const char *key)
{
    json_t *v = or_store_setting_get(s, key);
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return t;
}

static bool setting_is(or_store *s, const char *key, const char *want)
{
    char *t = setting_text(s, key);
    bool ok = t && strcmp(t, want) == 0;
    if (!ok)
        fprintf(stderr, "setting %s = %s, want %s\n", key, t ? t : "(none)", want);
    free(t);
    return ok;
}

static int exec_on(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    CHECK(in && out);
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        CHECK(fwrite(buf, 1, n, out) == n);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A fresh temporary copy of src, the way the admin hands a file to or_backup_import. */
static void temp_copy(or_store *s, const char *src, char out[OR_BACKUP_PATH_MAX])
{
    or_errbuf eb = {{0}};
    CHECK(or_backup_temp(s, "import", out, &eb) == OR_OK);
    if (src)
        copy_file(src, out);
}

static or_err import_file(or_store *s, const char *src, or_backup_report *rep, or_errbuf *eb)
{
    char tmp[OR_BACKUP_PATH_MAX];
    temp_copy(s, src, tmp);
    or_err e = or_backup_import(s, tmp, rep, eb);
    or_backup_remove(tmp);
    return e;
}

static size_t count_pre_import(or_store *s)
{
    char dir[512];
    path_in(dir, sizeof dir, or_store_data_dir(s), OR_BACKUP_DIR);
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strncmp(de->d_name, "pre-import-", 11) == 0;
    if (d)
        closedir(d);
    return n;
}

static void test_stamp(void)
{
    char out[24];
    or_backup_stamp(1700000000123LL, out);
    CHECK_STR(out, "2023-11-14T22-13-20Z");
}

/* Writes usage rows while an export and an import run: neither blocks the other for good, and
 * the export is one consistent picture. */
typedef struct {
    or_store *s;
    volatile bool stop;
    int rows;
} writer_arg;

static void *usage_writer(void *p)
{
    writer_arg *a = p;
    or_usage_row row;
    memset(&row, 0, sizeof row);
    strcpy(row.provider, "openai");
    strcpy(row.model, "gpt-4o");
    row.status = 200;
    while (!a->stop) {
        or_store_usage_record(a->s, &row);
        a->rows++;
        usleep(200);
    }
    return NULL;
}

static void test_export_import_round_trip(void)
{
    or_store *s = open_store("live");
    if (!s)
        return;
    char exp[OR_BACKUP_PATH_MAX], pre[512];
    or_errbuf eb = {{0}};
    or_backup_report rep;
    put_conn(s, "openai", "main", SECRET);
    put_conn(s, "groq", "fast", NULL);
    set_setting(s, "combos", "[{\"name\":\"coding\",\"models\":[\"openai/gpt-4o\"]}]");
    set_setting(s, "stickyRoundRobinLimit", "3");

    writer_arg wa = {.s = s};
    pthread_t th;
    pthread_create(&th, NULL, usage_writer, &wa);
    CHECK(or_backup_temp(s, "export", exp, &eb) == OR_OK);
    CHECK(or_backup_export(s, exp, &eb) == OR_OK);

    /* A standalone file: SQLite magic, rollback journal (header bytes 18/19 = 1), 0600. */
    unsigned char head[100] = {0};
    FILE *f = fopen(exp, "rb");
    CHECK(f && fread(head, 1, sizeof head, f) == sizeof head);
    if (f)
        fclose(f);
    CHECK(memcmp(head, "SQLite format 3", 16) == 0);
    CHECK(head[18] == 1 && head[19] == 1);
    struct stat st;
    CHECK(stat(exp, &st) == 0 && (st.st_mode & 0777) == 0600);
    char side[OR_BACKUP_PATH_MAX + 8];
    snprintf(side, sizeof side, "%s-wal", exp);
    CHECK(access(side, F_OK) != 0);
    CHECK(file_size(exp) > 0);
    /* The secret is sealed in the copy too. */
    or_snapshot *from_file = NULL;
    CHECK(or_backup_read_snapshot(s, exp, &from_file, &eb) == OR_OK);
    CHECK(from_file && from_file->nconns == 2);
    or_snapshot_release(from_file);

    CHECK(or_backup_validate(s, exp, &rep, &eb) == OR_OK);
    CHECK(rep.connections == 2 && rep.secrets_unreadable == 0 && rep.schema_version >= 1);

    /* Change everything, then import the export: the old configuration is back. */
    or_snapshot *before = or_store_snapshot(s);
    for (size_t i = 0; i < before->nconns; i++)
        CHECK(or_store_conn_delete(s, before->conns[i].id, &eb) == OR_OK);
    or_snapshot_release(before);
    put_conn(s, "mistral", "later", "sk-later");
    set_setting(s, "combos", "[]");
    CHECK(nconns(s) == 1);

    memset(&rep, 0xff, sizeof rep);
    CHECK(import_file(s, exp, &rep, &eb) == OR_OK);
    wa.stop = true;
    pthread_join(th, NULL);
    CHECK(wa.rows > 0);
    CHECK(rep.connections == 2 && rep.secrets_unreadable == 0);
    CHECK(strncmp(rep.pre_import, "pre-import-", 11) == 0);
    CHECK(nconns(s) == 2);
    CHECK(has_conn_named(s, "main", SECRET));
    CHECK(has_conn_named(s, "fast", NULL));
    CHECK(!has_conn_named(s, "later", "sk-later"));
    CHECK(setting_is(s, "combos", "[{\"name\":\"coding\",\"models\":[\"openai/gpt-4o\"]}]"));
    CHECK(setting_is(s, "stickyRoundRobinLimit", "3"));

    /* The pre-import backup holds what was live just before. */
    snprintf(pre, sizeof pre, "%s/%s/%s", or_store_data_dir(s), OR_BACKUP_DIR, rep.pre_import);
    CHECK(stat(pre, &st) == 0 && (st.st_mode & 0777) == 0600);
    or_snapshot *old = NULL;
    CHECK(or_backup_read_snapshot(s, pre, &old, &eb) == OR_OK);
    CHECK(old && old->nconns == 1 && strcmp(old->conns[0].name, "later") == 0 &&
          strcmp(old->conns[0].api_key, "sk-later") == 0);
    or_snapshot_release(old);

    /* The store keeps working on the imported data. */
    put_conn(s, "openai", "after-import", NULL);
    CHECK(nconns(s) == 3);
    or_store_flush(s);
    or_backup_remove(exp);
    or_store_close(s);
    s = open_store("live"); /* and it survives a restart */
    if (s) {
        CHECK(nconns(s) == 3 && has_conn_named(s, "main", SECRET));
        or_store_close(s);
    }
}

/* Each bad file: refused with its reason, and nothing changed. */
static void expect_refused(or_store *s, const char *file, const char *why)
{
    or_errbuf eb = {{0}};
    or_backup_report rep;
    or_snapshot *before = or_store_snapshot(s);
    size_t pre = count_pre_import(s);
    or_err e = import_file(s, file, &rep, &eb);
    CHECK(e == OR_EINVAL);
    if (!strstr(eb.msg, why)) {
        fprintf(stderr, "expected \"%s\" in \"%s\"\n", why, eb.msg);
        CHECK(!"reason");
    }
    or_snapshot *after = or_store_snapshot(s);
    CHECK(after == before); /* not even rebuilt */
    CHECK(count_pre_import(s) == pre);
    or_snapshot_release(after);
    or_snapshot_release(before);
}

static void test_refusals(void)
{
    or_store *s = open_store("refuse");
    if (!s)
        return;
    char good[OR_BACKUP_PATH_MAX], bad[512];
    or_errbuf eb = {{0}};
    put_conn(s, "openai", "keep-me", SECRET);
    CHECK(or_backup_temp(s, "export", good, &eb) == OR_OK);
    CHECK(or_backup_export(s, good, &eb) == OR_OK);

    path_in(bad, sizeof bad, root, "bad.bin");
    FILE *f = fopen(bad, "wb");
    for (int i = 0; f && i < 8192; i++)
        fputc(i * 7 % 251, f);
    if (f)
        fclose(f);
    expect_refused(s, bad, "header is wrong");

    f = fopen(bad, "wb");
    if (f) {
        fputs("SQLite format 3", f);
        fclose(f);
    }
    expect_refused(s, bad, "too small");

    /* 101 MB (sparse) with a valid-looking header */
    copy_file(good, bad);
    CHECK(truncate(bad, 101L * 1024 * 1024) == 0);
    expect_refused(s, bad, "larger than 100 MB");

    /* corrupt: the second page overwritten with garbage */
    copy_file(good, bad);
    int fd = open(bad, O_WRONLY);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    CHECK(fd >= 0 && pwrite(fd, junk, sizeof junk, 4096) == (ssize_t)sizeof junk);
    close(fd);
    or_errbuf why = {{0}};
    or_backup_report rep;
    char tmp[OR_BACKUP_PATH_MAX];
    temp_copy(s, bad, tmp);
    CHECK(or_backup_validate(s, tmp, &rep, &why) == OR_EINVAL);
    CHECK(strstr(why.msg, "integrity") || strstr(why.msg, "not a readable"));
    or_backup_remove(tmp);
    expect_refused(s, bad, ""); /* the reason is SQLite's; checked above */

    /* a SQLite database that is not ours */
    unlink(bad);
    CHECK(exec_on(bad, "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT);"
                       "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at);"
                       "CREATE TABLE usage(id INTEGER PRIMARY KEY);") == SQLITE_OK);
    expect_refused(s, bad, "table provider_connections is missing");

    /* ours, from a newer version */
    copy_file(good, bad);
    CHECK(exec_on(bad, "INSERT INTO schema_migrations(version, applied_at) VALUES(999, 0)") ==
          SQLITE_OK);
    expect_refused(s, bad, "newer than this version");

    /* ours, but a table the store reads has lost a column */
    copy_file(good, bad);
    CHECK(exec_on(bad, "ALTER TABLE provider_connections DROP COLUMN test_status") == SQLITE_OK);
    expect_refused(s, bad, "configuration cannot be read");
    copy_file(good, bad);
    CHECK(exec_on(bad, "ALTER TABLE usage DROP COLUMN ttft_ms") == SQLITE_OK);
    expect_refused(s, bad, "usage table does not match");

    CHECK(has_conn_named(s, "keep-me", SECRET));
    or_backup_remove(good);
    unlink(bad);
    or_store_close(s);
}

/* A file from another install (another storage.key), in WAL mode and with another page size:
 * imported, and its sealed api key reported unreadable. */
static void test_foreign_file(void)
{
    or_store *other = open_store("other");
    or_store *s = open_store("mine");
    if (!other || !s)
        goto out;
    char exp[OR_BACKUP_PATH_MAX];
    or_errbuf eb = {{0}};
    or_backup_report rep;
    put_conn(other, "openai", "theirs", "sk-their-secret");
    put_conn(other, "ollama", "local", NULL);
    set_setting(other, "combos", "[]");
    CHECK(or_backup_temp(other, "export", exp, &eb) == OR_OK);
    CHECK(or_backup_export(other, exp, &eb) == OR_OK);
    CHECK(exec_on(exp, "PRAGMA page_size=8192; VACUUM; PRAGMA journal_mode=WAL") == SQLITE_OK);

    put_conn(s, "openai", "mine", SECRET);
    CHECK(import_file(s, exp, &rep, &eb) == OR_OK);
    if (eb.msg[0])
        fprintf(stderr, "import: %s\n", eb.msg);
    CHECK(rep.connections == 2 && rep.secrets_unreadable == 1);
    CHECK(has_conn_named(s, "theirs", NULL)); /* back without its key */
    CHECK(has_conn_named(s, "local", NULL));
    CHECK(!has_conn_named(s, "mine", SECRET));
    CHECK(setting_is(s, "combos", "[]"));
    put_conn(s, "openai", "rekeyed", "sk-new");
    CHECK(has_conn_named(s, "rekeyed", "sk-new"));
    /* A second import in the same second keeps the first pre-import backup. */
    char first[sizeof rep.pre_import];
    memcpy(first, rep.pre_import, sizeof first);
    CHECK(import_file(s, exp, &rep, &eb) == OR_OK);
    CHECK(strcmp(first, rep.pre_import) != 0);
    CHECK(count_pre_import(s) == 2);
    CHECK(!has_conn_named(s, "rekeyed", "sk-new"));
    /* Only the newest OR_BACKUP_PRE_IMPORT_KEEP pre-import backups are kept; the latest stays. */
    for (int i = 0; i < OR_BACKUP_PRE_IMPORT_KEEP + 3; i++)
        CHECK(import_file(s, exp, &rep, &eb) == OR_OK);
    CHECK(count_pre_import(s) == OR_BACKUP_PRE_IMPORT_KEEP);
    char latest[OR_BACKUP_PATH_MAX + 256];
    snprintf(latest, sizeof latest, "%s/%s/%s", or_store_data_dir(s), OR_BACKUP_DIR,
             rep.pre_import);
    CHECK(file_size(latest) > 0);
    or_backup_remove(exp);
out:
    or_store_close(other);
    or_store_close(s);
}

/* Temporary files a crash left behind go on the next temporary file; recent ones stay. */
static void test_sweep(void)
{
    or_store *s = open_store("sweep");
    if (!s)
        return;
    char a[OR_BACKUP_PATH_MAX], b[OR_BACKUP_PATH_MAX], c[OR_BACKUP_PATH_MAX], kept[600];
    or_errbuf eb = {{0}};
    CHECK(or_backup_temp(s, "export", a, &eb) == OR_OK);
    CHECK(or_backup_temp(s, "import", b, &eb) == OR_OK);
    snprintf(kept, sizeof kept, "%s/%s/pre-import-old.sqlite", or_store_data_dir(s), OR_BACKUP_DIR);
    FILE *f = fopen(kept, "wb");
    if (f)
        fclose(f);
    struct timeval old[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
    CHECK(utimes(a, old) == 0 && utimes(kept, old) == 0);
    CHECK(or_backup_temp(s, "export", c, &eb) == OR_OK);
    CHECK(access(a, F_OK) != 0);    /* stale temporary: gone */
    CHECK(access(b, F_OK) == 0);    /* recent: another job may own it */
    CHECK(access(kept, F_OK) == 0); /* a backup is never swept */
    or_backup_remove(b);
    or_backup_remove(c);
    or_store_close(s);
}

/* ---- tar.gz ---- */

static unsigned long long octal_field(const unsigned char *p, size_t n)
{
    unsigned long long v = 0;
    for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
        v = v * 8 + (unsigned long long)(p[i] - '0');
    return v;
}

static void test_tar_gz(void)
{
    char src[256], out[256];
    or_errbuf eb = {{0}};
    path_in(src, sizeof src, root, "payload.bin");
    path_in(out, sizeof out, root, "a.tar.gz");
    FILE *f = fopen(src, "wb");
    for (int i = 0; f && i < 70000; i++)
        fputc(i % 256, f);
    if (f)
        fclose(f);
    or_backup_entry entries[] = {
        {.name = "metadata.json", .data = "{\"a\":1}", .len = 7},
        {.name = "storage.sqlite", .path = src},
        {.name = "empty.json", .data = "", .len = 0},
    };
    CHECK(or_backup_tar_gz(out, entries, 3, 1700000000, &eb) == OR_OK);

    gzFile gz = gzopen(out, "rb");
    CHECK(gz != NULL);
    size_t cap = 1 << 20, len = 0;
    unsigned char *all = malloc(cap);
    int n;
    while (gz && all && (n = gzread(gz, all + len, (unsigned)(cap - len))) > 0)
        len += (size_t)n;
    if (gz)
        gzclose(gz);
    CHECK(len % 10240 == 0);
    const char *names[] = {"metadata.json", "storage.sqlite", "empty.json"};
    unsigned long long sizes[] = {7, 70000, 0};
    size_t off = 0;
    for (size_t i = 0; i < 3 && off + 512 <= len; i++) {
        const unsigned char *h = all + off;
        CHECK_STR((const char *)h, names[i]);
        CHECK(octal_field(h + 124, 12) == sizes[i]);
        CHECK(octal_field(h + 136, 12) == 1700000000ULL);
        CHECK(octal_field(h + 100, 8) == 0600);
        CHECK(memcmp(h + 257, "ustar", 6) == 0 && h[156] == '0');
        unsigned sum = 0;
        for (size_t k = 0; k < 512; k++)
            sum += (k >= 148 && k < 156) ? ' ' : h[k];
        CHECK(octal_field(h + 148, 8) == sum);
        if (i == 0)
            CHECK(memcmp(all + off + 512, "{\"a\":1}", 7) == 0);
        if (i == 1)
            CHECK(all[off + 512 + 65537] == 65537 % 256);
        off += 512 + (sizes[i] + 511) / 512 * 512;
    }
    for (size_t k = off; k < off + 1024 && k < len; k++)
        CHECK(all[k] == 0);
    free(all);

    /* tar(1) agrees */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tar -tzf '%s' > /dev/null 2>&1", out);
    CHECK(system(cmd) == 0);

    or_backup_entry longname = {.name = "x", .data = "", .len = 0};
    char big[120];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    longname.name = big;
    CHECK(or_backup_tar_gz(out, &longname, 1, 0, &eb) == OR_EINVAL);
    or_backup_entry missing = {.name = "m", .path = "/nonexistent/file"};
    CHECK(or_backup_tar_gz(out, &missing, 1, 0, &eb) == OR_EIO);
    unlink(src);
    unlink(out);
}

int main(void)
{
    char cmd[128];
    unsetenv("STORAGE_ENCRYPTION_KEY");
    strcpy(root, "/tmp/or_backup_test_XXXXXX");
    if (!mkdtemp(root))
        return 1;
    test_stamp();
    test_export_import_round_trip();
    test_refusals();
    test_foreign_file();
    test_sweep();
    test_tar_gz();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_done();
}
