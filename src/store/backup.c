#include "store/backup.h"

#include "core/clock.h"
#include "core/log.h"
#include "store/store_db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* A read transaction can meet SQLITE_BUSY for a moment (WAL recovery, a checkpoint restart). */
#define BUSY_RETRY_MS 20
#define BUSY_RETRIES 250
#define BUSY_TIMEOUT_MS 5000

#define TAR_BLOCK 512
#define TAR_RECORD (20 * TAR_BLOCK)  /* what tar(1) pads an archive to */
#define TAR_SIZE_MAX 077777777777ULL /* 11 octal digits */
#define COPY_CHUNK (256 * 1024)
#define STALE_TEMP_S 3600

static const char sqlite_magic[16] = "SQLite format 3"; /* with its NUL: 16 bytes */

/* What a database must hold to be ours; the usage insert and the snapshot load check columns. */
static const char *const required_tables[] = {"schema_migrations", "settings",
                                              "provider_connections", "usage"};

/* ---- paths and files ---- */

void or_backup_stamp(int64_t wall_ms, char out[24])
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 24, "%Y-%m-%dT%H-%M-%SZ", &tm) == 0)
        snprintf(out, 24, "%lld", (long long)(wall_ms / 1000));
}

static or_err join(char out[OR_BACKUP_PATH_MAX], or_errbuf *eb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static or_err join(char out[OR_BACKUP_PATH_MAX], or_errbuf *eb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, OR_BACKUP_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= OR_BACKUP_PATH_MAX)
        return or_fail(eb, OR_EINVAL, "path too long under DATA_DIR");
    return OR_OK;
}

static or_err backup_dir(or_store *s, char dir[OR_BACKUP_PATH_MAX], or_errbuf *eb)
{
    or_err e = join(dir, eb, "%s/%s", or_store_data_dir(s), OR_BACKUP_DIR);
    if (e == OR_OK && mkdir(dir, 0700) != 0 && errno != EEXIST)
        e = or_fail(eb, OR_EIO, "mkdir %s: %s", dir, strerror(errno));
    return e;
}

/* Temporary files are removed as soon as they are done with; one still there an hour later
 * was left by a crash. */
static void sweep_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char p[OR_BACKUP_PATH_MAX + 256];
    time_t now = time(NULL);
    while (d && (de = readdir(d))) {
        if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > STALE_TEMP_S)
            unlink(p);
    }
    if (d)
        closedir(d);
}

or_err or_backup_temp(or_store *s, const char *prefix, char path[OR_BACKUP_PATH_MAX], or_errbuf *eb)
{
    char dir[OR_BACKUP_PATH_MAX];
    or_err e = backup_dir(s, dir, eb);
    if (e == OR_OK)
        sweep_stale(dir);
    if (e == OR_OK)
        e = join(path, eb, "%s/.%s-XXXXXX", dir, prefix);
    if (e != OR_OK)
        return e;
    int fd = mkstemp(path); /* 0600 */
    if (fd < 0)
        return or_fail(eb, OR_EIO, "temporary file in %s: %s", dir, strerror(errno));
    close(fd);
    return OR_OK;
}

void or_backup_remove(const char *path)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char p[OR_BACKUP_PATH_MAX + 16];
    for (size_t i = 0; path && i < sizeof suffixes / sizeof *suffixes; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

/* SQLite would create a new file 0644; a backup holds sealed secrets and usage. */
static or_err create_private(const char *path, or_errbuf *eb)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return or_fail(eb, OR_EIO, "create %s: %s", path, strerror(errno));
    fchmod(fd, 0600);
    close(fd);
    return OR_OK;
}

/* ---- SQLite helpers ---- */

static or_err open_db(const char *path, int flags, sqlite3 **out, or_errbuf *eb)
{
    sqlite3 *db = NULL;
    *out = NULL;
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        or_err e = or_fail(eb, OR_EDB, "open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    *out = db;
    return OR_OK;
}

static or_err exec(sqlite3 *db, const char *sql, or_err kind, const char *what, or_errbuf *eb)
{
    char *msg = NULL;
    or_err e = OR_OK;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        e = or_fail(eb, kind, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return e;
}

/* The first column of the first row as an integer; -1 when there is none. */
static long long query_int(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Copies all of src into dst with the online backup API, in one step: one read transaction on
 * src (a consistent picture) and one write transaction on dst (all or nothing). */
static or_err copy_db(sqlite3 *dst, sqlite3 *src, const char *what, or_errbuf *eb)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
        return or_fail(eb, OR_EDB, "%s: %s", what, sqlite3_errmsg(dst));
    int rc, tries = 0;
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (++tries > BUSY_RETRIES)
            break;
        sqlite3_sleep(BUSY_RETRY_MS);
    }
    int fin = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return or_fail(eb, OR_EDB, "%s: %s", what, sqlite3_errstr(rc));
    if (fin != SQLITE_OK)
        return or_fail(eb, OR_EDB, "%s: %s", what, sqlite3_errmsg(dst));
    return OR_OK;
}

/* A standalone copy of src in a new file: the copied header says WAL (the live database's
 * mode); switching the copy to a rollback journal makes it one file, readable anywhere. */
static or_err copy_to_file(sqlite3 *src, const char *dest_path, or_errbuf *eb)
{
    sqlite3 *dst = NULL;
    or_err e = create_private(dest_path, eb);
    if (e == OR_OK)
        e = open_db(dest_path, SQLITE_OPEN_READWRITE, &dst, eb);
    if (e == OR_OK)
        e = copy_db(dst, src, "backup", eb);
    if (e == OR_OK)
        e = exec(dst, "PRAGMA journal_mode=DELETE", OR_EDB, "backup journal mode", eb);
    if (dst && sqlite3_close(dst) != SQLITE_OK && e == OR_OK)
        e = or_fail(eb, OR_EDB, "closing %s: %s", dest_path, sqlite3_errmsg(dst));
    return e;
}

static or_err live_path(or_store *s, char out[OR_BACKUP_PATH_MAX], or_errbuf *eb)
{
    return join(out, eb, "%s/storage.sqlite", or_store_data_dir(s));
}

/* A connection of our own to the live database; it only reads. */
static or_err open_live(or_store *s, sqlite3 **out, or_errbuf *eb)
{
    char path[OR_BACKUP_PATH_MAX];
    or_err e = live_path(s, path, eb);
    if (e == OR_OK)
        e = open_db(path, SQLITE_OPEN_READWRITE, out, eb);
    if (e == OR_OK)
        e = exec(*out, "PRAGMA query_only=1", OR_EDB, "query_only", eb);
    return e;
}

or_err or_backup_export(or_store *s, const char *dest_path, or_errbuf *eb)
{
    sqlite3 *live = NULL;
    or_err e = open_live(s, &live, eb);
    if (e == OR_OK)
        e = copy_to_file(live, dest_path, eb);
    sqlite3_close(live);
    return e;
}

or_err or_backup_read_snapshot(or_store *s, const char *path, or_snapshot **out, or_errbuf *eb)
{
    sqlite3 *db = NULL;
    or_err e = open_db(path, SQLITE_OPEN_READONLY, &db, eb);
    if (e == OR_OK)
        e = or_store_snapshot_load_db(s, db, out, eb);
    sqlite3_close(db);
    return e;
}

/* ---- import: checks ---- */

static or_err check_file(const char *path, or_errbuf *eb)
{
    struct stat st;
    char head[sizeof sqlite_magic];
    or_err e = OR_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        e = or_fail(eb, OR_EIO, "open %s: %s", path, strerror(errno));
        goto out;
    }
    if (st.st_size < OR_BACKUP_MIN_BYTES) {
        e = or_fail(eb, OR_EINVAL, "not a SQLite database: %lld bytes is too small",
                    (long long)st.st_size);
        goto out;
    }
    if ((uint64_t)st.st_size > OR_BACKUP_MAX_BYTES) {
        e = or_fail(eb, OR_EINVAL, "the file is larger than %zu MB", OR_BACKUP_MAX_BYTES >> 20);
        goto out;
    }
    if (read(fd, head, sizeof head) != (ssize_t)sizeof head ||
        memcmp(head, sqlite_magic, sizeof head) != 0)
        e = or_fail(eb, OR_EINVAL, "not a SQLite database: the header is wrong");
out:
    if (fd >= 0)
        close(fd);
    return e;
}

/* An uploaded file is untrusted: no writable schema tricks, no functions from its schema, and
 * corrupt pages found early. */
static or_err harden(sqlite3 *db, or_errbuf *eb)
{
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    return exec(db, "PRAGMA trusted_schema=OFF; PRAGMA cell_size_check=ON", OR_EINVAL,
                "not a readable SQLite database", eb);
}

static or_err check_integrity(sqlite3 *db, or_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    or_err e = OR_OK;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = or_fail(eb, OR_EINVAL, "not a readable SQLite database: %s", sqlite3_errmsg(db));
        goto out;
    }
    const char *r = (const char *)sqlite3_column_text(st, 0);
    if (!r || strcmp(r, "ok") != 0)
        e = or_fail(eb, OR_EINVAL, "integrity check failed: %.180s", r ? r : "?");
out:
    sqlite3_finalize(st);
    return e;
}

static or_err check_schema(sqlite3 *db, or_backup_report *rep, or_errbuf *eb)
{
    for (size_t i = 0; i < sizeof required_tables / sizeof *required_tables; i++) {
        if (query_int(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                      required_tables[i]) != 1)
            return or_fail(eb, OR_EINVAL, "not an OmniRoute database: table %s is missing",
                           required_tables[i]);
    }
    long long v = query_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL);
    if (v < 0)
        return or_fail(eb, OR_EINVAL, "schema_migrations cannot be read: %s", sqlite3_errmsg(db));
    if (v > or_store_db_schema_version())
        return or_fail(eb, OR_EINVAL,
                       "the backup's schema version %lld is newer than this version's (%d): "
                       "upgrade OmniRoute first",
                       v, or_store_db_schema_version());
    rep->schema_version = (int)v;
    return OR_OK;
}

/* The backup API cannot copy into a WAL database with another page size, so the file is given
 * the live one's (VACUUM rewrites it; only a file made elsewhere needs it). */
static or_err match_page_size(or_store *s, sqlite3 *db, or_errbuf *eb)
{
    sqlite3 *live = NULL;
    or_err e = open_live(s, &live, eb);
    long long want = e == OR_OK ? query_int(live, "PRAGMA page_size", NULL) : -1;
    long long have = query_int(db, "PRAGMA page_size", NULL);
    char sql[64];
    sqlite3_close(live);
    if (e != OR_OK)
        return e;
    if (want <= 0 || have <= 0)
        return or_fail(eb, OR_EDB, "reading the page size");
    if (want == have)
        return OR_OK;
    snprintf(sql, sizeof sql, "PRAGMA page_size=%lld; VACUUM", want);
    return exec(db, sql, OR_EINVAL, "cannot convert the page size", eb);
}

/* Reads the file the way the store will once it is live. */
static or_err check_readable(or_store *s, sqlite3 *db, or_backup_report *rep, or_errbuf *eb)
{
    or_snapshot *snap = NULL;
    sqlite3_stmt *ins = NULL;
    or_errbuf why = {{0}};
    or_err e = or_store_snapshot_load_db(s, db, &snap, &why);
    if (e != OR_OK) {
        e = or_fail(eb, e == OR_ENOMEM ? e : OR_EINVAL, "the configuration cannot be read: %s",
                    why.msg);
        goto out;
    }
    if (or_store_db_usage_prepare(db, &ins, &why) != OR_OK) {
        e = or_fail(eb, OR_EINVAL, "the usage table does not match: %s", why.msg);
        goto out;
    }
    long long sealed = query_int(db,
                                 "SELECT COUNT(*) FROM provider_connections"
                                 " WHERE api_key_enc IS NOT NULL AND api_key_enc <> ''",
                                 NULL);
    size_t opened = 0;
    for (size_t i = 0; i < snap->nconns; i++)
        opened += snap->conns[i].api_key != NULL;
    rep->connections = snap->nconns;
    rep->secrets_unreadable = sealed > (long long)opened ? (size_t)sealed - opened : 0;
out:
    sqlite3_finalize(ins);
    or_snapshot_release(snap);
    return e;
}

/* Step 1 on an open connection to path; db stays open for the swap. */
static or_err prepare(or_store *s, const char *path, or_backup_report *rep, sqlite3 **db,
                      or_errbuf *eb)
{
    or_errbuf why = {{0}};
    or_err e = check_file(path, eb);
    memset(rep, 0, sizeof *rep);
    *db = NULL;
    if (e != OR_OK)
        return e;
    if (open_db(path, SQLITE_OPEN_READWRITE, db, &why) != OR_OK)
        return or_fail(eb, OR_EINVAL, "not a readable SQLite database: %s", why.msg);
    if ((e = harden(*db, eb)) != OR_OK || (e = check_integrity(*db, eb)) != OR_OK ||
        (e = check_schema(*db, rep, eb)) != OR_OK ||
        (e = exec(*db, "PRAGMA journal_mode=DELETE", OR_EINVAL, "journal mode", eb)) != OR_OK ||
        (e = match_page_size(s, *db, eb)) != OR_OK)
        goto out;
    if (or_store_db_migrate(*db, &why) != OR_OK) {
        e = or_fail(eb, OR_EINVAL, "the backup cannot be migrated: %s", why.msg);
        goto out;
    }
    e = check_readable(s, *db, rep, eb);
out:
    if (e != OR_OK) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return e;
}

or_err or_backup_validate(or_store *s, const char *path, or_backup_report *rep, or_errbuf *eb)
{
    sqlite3 *db = NULL;
    or_err e = prepare(s, path, rep, &db, eb);
    sqlite3_close(db);
    return e;
}

/* ---- import: the swap, on the writer thread ---- */

typedef struct {
    sqlite3 *src;
    char pre_path[OR_BACKUP_PATH_MAX];
} swap_ctx;

static or_err swap(sqlite3 *live, void *arg, or_errbuf *eb)
{
    swap_ctx *c = arg;
    or_err e = copy_to_file(live, c->pre_path, eb);
    if (e != OR_OK) {
        or_backup_remove(c->pre_path);
        return e;
    }
    return copy_db(live, c->src, "replacing the database", eb);
}

/* pre-import-<stamp>.sqlite, or -2, -3 … when an import in the same second already has it:
 * a backup is never overwritten. */
static or_err claim_name(const char *dir, const char *stamp, char name[128],
                         char path[OR_BACKUP_PATH_MAX], or_errbuf *eb)
{
    for (int i = 1; i <= 100; i++) {
        char suffix[8] = "";
        if (i > 1)
            snprintf(suffix, sizeof suffix, "-%d", i);
        snprintf(name, 128, "pre-import-%s%s.sqlite", stamp, suffix);
        or_err e = join(path, eb, "%s/%s", dir, name);
        if (e != OR_OK)
            return e;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return OR_OK;
        }
        if (errno != EEXIST)
            return or_fail(eb, OR_EIO, "create %s: %s", path, strerror(errno));
    }
    return or_fail(eb, OR_EIO, "too many pre-import backups named %s", stamp);
}

static int is_pre_import(const struct dirent *de)
{
    size_t n = strlen(de->d_name);
    return strncmp(de->d_name, "pre-import-", 11) == 0 && n > 18 &&
           strcmp(de->d_name + n - 7, ".sqlite") == 0;
}

typedef struct {
    char name[256];
    struct timespec mtime;
} aged_file;

static int older_first(const void *a, const void *b)
{
    const aged_file *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Keeps the newest OR_BACKUP_PRE_IMPORT_KEEP pre-import backups, by modification time: names
 * cannot order them, as a pruned name is claimed again by the next import of the same second. */
static void prune_pre_imports(const char *dir)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, is_pre_import, NULL);
    aged_file *files = n > 0 ? calloc((size_t)n, sizeof *files) : NULL;
    char p[OR_BACKUP_PATH_MAX + 256];
    int kept = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, list[i]->d_name);
        if (files && stat(p, &st) == 0) {
            snprintf(files[kept].name, sizeof files[kept].name, "%s", list[i]->d_name);
            files[kept++].mtime = st.st_mtim;
        }
        free(list[i]);
    }
    free(list);
    if (files)
        qsort(files, (size_t)kept, sizeof *files, older_first);
    for (int i = 0; i < kept - OR_BACKUP_PRE_IMPORT_KEEP; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
        unlink(p);
    }
    free(files);
}

or_err or_backup_import(or_store *s, const char *path, or_backup_report *rep, or_errbuf *eb)
{
    swap_ctx c = {0};
    char dir[OR_BACKUP_PATH_MAX], stamp[24];
    or_err e = prepare(s, path, rep, &c.src, eb);
    if (e != OR_OK)
        goto out;
    or_backup_stamp(or_clock_wall_ms(), stamp);
    if ((e = backup_dir(s, dir, eb)) != OR_OK ||
        (e = claim_name(dir, stamp, rep->pre_import, c.pre_path, eb)) != OR_OK)
        goto out;
    e = or_store_with_db(s, swap, &c, true, eb);
    if (e == OR_OK) {
        or_log_info("store: imported a backup (%zu connections, %zu api keys unreadable); the "
                    "previous data is in %s",
                    rep->connections, rep->secrets_unreadable, c.pre_path);
        prune_pre_imports(dir);
    } else
        or_log_error("store: import failed: %s", eb ? eb->msg : or_err_name(e));
    struct stat st;
    if (e != OR_OK && stat(c.pre_path, &st) == 0 && st.st_size == 0)
        unlink(c.pre_path); /* claimed, never written */
out:
    sqlite3_close(c.src);
    return e;
}

/* ---- .tar.gz ---- */

static or_err gz_put(gzFile gz, const void *data, size_t len, or_errbuf *eb)
{
    const unsigned char *p = data;
    while (len > 0) {
        unsigned n = len > (1u << 20) ? (1u << 20) : (unsigned)len;
        if (gzwrite(gz, p, n) != (int)n) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            return or_fail(eb, OR_EIO, "writing the archive: %s", msg ? msg : "gzwrite");
        }
        p += n;
        len -= n;
    }
    return OR_OK;
}

/* An octal field of width bytes: width-1 digits and a NUL. v fits (checked by the caller). */
static void octal(unsigned char *field, size_t width, unsigned long long v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%0*llo", (int)(width - 1), v);
    memcpy(field, tmp, width - 1);
    field[width - 1] = '\0';
}

static or_err tar_header(gzFile gz, const char *name, unsigned long long size, int64_t mtime_s,
                         or_errbuf *eb)
{
    unsigned char h[TAR_BLOCK] = {0};
    size_t n = strlen(name);
    if (n == 0 || n >= 100)
        return or_fail(eb, OR_EINVAL, "archive entry name '%s' must be 1..99 bytes", name);
    if (size > TAR_SIZE_MAX)
        return or_fail(eb, OR_ETOOBIG, "archive entry %s is too large", name);
    memcpy(h, name, n);
    octal(h + 100, 8, 0600);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size);
    octal(h + 136, 12, mtime_s > 0 ? (unsigned long long)mtime_s : 0);
    memset(h + 148, ' ', 8); /* the checksum counts its own field as spaces */
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "root", 4);
    memcpy(h + 297, "root", 4);
    octal(h + 329, 8, 0);
    octal(h + 337, 8, 0);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    octal(h + 148, 7, sum); /* six digits, NUL, and the space already there */
    return gz_put(gz, h, sizeof h, eb);
}

static or_err tar_pad(gzFile gz, unsigned long long written, size_t to, or_errbuf *eb)
{
    static const unsigned char zeros[TAR_RECORD];
    size_t rem = (size_t)(written % to);
    return rem ? gz_put(gz, zeros, to - rem, eb) : OR_OK;
}

static or_err tar_file(gzFile gz, const or_backup_entry *en, int64_t mtime_s,
                       unsigned long long *total, or_errbuf *eb)
{
    struct stat st;
    char *buf = NULL;
    or_err e = OR_OK;
    int fd = open(en->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        e = or_fail(eb, OR_EIO, "open %s: %s", en->path, strerror(errno));
        goto out;
    }
    unsigned long long size = (unsigned long long)st.st_size, left = size;
    if ((e = tar_header(gz, en->name, size, mtime_s, eb)) != OR_OK)
        goto out;
    if (!(buf = malloc(COPY_CHUNK))) {
        e = or_fail(eb, OR_ENOMEM, "archive buffer");
        goto out;
    }
    while (left > 0) {
        ssize_t n = read(fd, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
        if (n <= 0) {
            e = or_fail(eb, OR_EIO, "reading %s: %s", en->path,
                        n < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        if ((e = gz_put(gz, buf, (size_t)n, eb)) != OR_OK)
            goto out;
        left -= (unsigned long long)n;
    }
    e = tar_pad(gz, size, TAR_BLOCK, eb);
    *total += TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return e;
}

or_err or_backup_tar_gz(const char *dest_path, const or_backup_entry *entries, size_t n,
                        int64_t mtime_s, or_errbuf *eb)
{
    static const unsigned char end[2 * TAR_BLOCK];
    unsigned long long total = 0;
    or_err e = OR_OK;
    gzFile gz = NULL;
    int fd = open(dest_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return or_fail(eb, OR_EIO, "create %s: %s", dest_path, strerror(errno));
    if (!(gz = gzdopen(fd, "wb6"))) {
        close(fd);
        return or_fail(eb, OR_ENOMEM, "gzip stream");
    }
    for (size_t i = 0; i < n && e == OR_OK; i++) {
        const or_backup_entry *en = &entries[i];
        if (en->path) {
            e = tar_file(gz, en, mtime_s, &total, eb);
            continue;
        }
        if ((e = tar_header(gz, en->name, en->len, mtime_s, eb)) == OR_OK &&
            (e = gz_put(gz, en->data, en->len, eb)) == OR_OK)
            e = tar_pad(gz, en->len, TAR_BLOCK, eb);
        total += TAR_BLOCK + (en->len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    }
    if (e == OR_OK && (e = gz_put(gz, end, sizeof end, eb)) == OR_OK)
        e = tar_pad(gz, total + sizeof end, TAR_RECORD, eb);
    int zrc = gzclose(gz); /* closes fd */
    if (e == OR_OK && zrc != Z_OK)
        e = or_fail(eb, OR_EIO, "finishing the archive (zlib %d)", zrc);
    return e;
}
