#include "admin/backups.h"

#include "admin/admin.h"
#include "admin/combos.h"
#include "admin/conn_json.h"
#include "admin/custom_models.h"
#include "admin/settings.h"
#include "auth/apikey.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/multipart.h"
#include "http/reply.h"
#include "provider/provider.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Copies of a database at once; each holds a temporary file as large as the database. */
#define EXPORTS_MAX_INFLIGHT 2
#define STREAM_CHUNK (64 * 1024)

static atomic_int exports_inflight;
static atomic_bool import_running;

typedef enum { JOB_EXPORT, JOB_EXPORT_ALL, JOB_IMPORT } job_kind;

typedef struct {
    uv_work_t work;
    or_http_req *req; /* NULL once the client went away */
    or_app *app;
    job_kind kind;
    or_err result;
    or_errbuf eb;
    /* import */
    char *body;
    size_t body_len;
    char *content_type;
    or_backup_report rep;
    /* exports: the finished file, open and already unlinked */
    int fd;
    char filename[96];
    const char *mime;
} job;

/* ---- streaming a file to the client ---- */

/* The http layer may report the client gone (on_abort) from inside a write, so the stream is
 * freed by whoever holds it last: pump when the abort came during it, the abort otherwise. */
typedef struct {
    or_http_req *req;
    int fd;
    bool pumping; /* inside pump (or send_file): an abort only marks it gone */
    bool gone;    /* aborted or ended: the request must not be touched again */
    char buf[STREAM_CHUNK];
} file_stream;

static void stream_free(file_stream *fs)
{
    close(fs->fd);
    free(fs);
}

/* Writes until the socket is full (on_drain resumes) or the file ends. */
static void pump(file_stream *fs)
{
    fs->pumping = true;
    while (!fs->gone) {
        ssize_t n = read(fs->fd, fs->buf, sizeof fs->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                or_log_error("backups: reading the export: %s", strerror(errno));
            or_http_stream_end(fs->req);
            fs->gone = true;
            break;
        }
        if (or_http_stream_write(fs->req, fs->buf, (size_t)n))
            break;
    }
    fs->pumping = false;
    if (fs->gone)
        stream_free(fs);
}

static void stream_drain(or_http_req *req, void *ud)
{
    (void)req;
    pump(ud);
}

static void stream_abort(or_http_req *req, void *ud)
{
    (void)req;
    file_stream *fs = ud;
    fs->gone = true;
    if (!fs->pumping)
        stream_free(fs);
}

static void send_file(or_http_req *req, int fd, const char *mime, const char *filename)
{
    char hdr[256];
    file_stream *fs = calloc(1, sizeof *fs);
    if (!fs) {
        close(fd);
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        return;
    }
    fs->req = req;
    fs->fd = fd;
    fs->pumping = true; /* an abort while the head is written leaves fs to pump */
    snprintf(hdr, sizeof hdr,
             "Content-Disposition: attachment; filename=\"%s\"\r\nCache-Control: no-store\r\n",
             filename);
    or_http_set_stream_cb(req, &(or_http_stream_cb){stream_drain, stream_abort}, fs);
    or_http_stream_start(req, 200, mime, hdr);
    pump(fs);
}

/* ---- jobs ---- */

static void job_free(job *j)
{
    if (j->body)
        free(j->body);
    free(j->content_type);
    if (j->fd >= 0)
        close(j->fd);
    free(j);
}

static void job_abort(or_http_req *req, void *ud)
{
    (void)req;
    job *j = ud;
    j->req = NULL; /* the pool thread may still be working; job_done frees the job */
}

/* Opens a finished temporary file for the download and removes its name: the descriptor
 * keeps it readable, and nothing is left behind however the download ends. */
static or_err hand_over(job *j, const char *path)
{
    j->fd = open(path, O_RDONLY | O_CLOEXEC);
    or_err e = j->fd < 0 ? or_fail(&j->eb, OR_EIO, "open %s: %s", path, strerror(errno)) : OR_OK;
    or_backup_remove(path);
    return e;
}

static void run_export(job *j)
{
    char path[OR_BACKUP_PATH_MAX], stamp[24];
    or_store *s = j->app->store;
    j->result = or_backup_temp(s, "export", path, &j->eb);
    if (j->result != OR_OK)
        return;
    j->result = or_backup_export(s, path, &j->eb);
    if (j->result == OR_OK)
        j->result = hand_over(j, path);
    else
        or_backup_remove(path);
    or_backup_stamp(or_clock_wall_ms(), stamp);
    snprintf(j->filename, sizeof j->filename, "omniroute-%s.sqlite", stamp);
    j->mime = "application/vnd.sqlite3";
}

/* Key records without anything secret: the hash (and any field named like a credential). */
static json_t *key_metadata(const json_t *keys)
{
    static const char *const secretish[] = {"hash", "secret", "token", "password"};
    json_t *out = json_array();
    size_t i;
    const json_t *rec;
    json_array_foreach(keys, i, rec)
    {
        if (!json_is_object(rec))
            continue;
        json_t *copy = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)rec, k, v)
        {
            bool drop = strcasecmp(k, "key") == 0;
            for (size_t n = 0; n < sizeof secretish / sizeof *secretish && !drop; n++)
                drop = strcasestr(k, secretish[n]) != NULL;
            if (!drop)
                json_object_set(copy, k, v);
        }
        json_array_append_new(out, copy);
    }
    return out;
}

static json_t *setting_or(const or_snapshot *snap, const char *key, json_t *fallback)
{
    json_t *v = json_object_get(snap->settings, key);
    if (!v)
        return fallback;
    json_decref(fallback);
    return json_incref(v);
}

/* The readable files of a full export, from the snapshot of the exported copy. names/texts are
 * filled in parallel; returns how many, or 0 when out of memory. */
#define ALL_FILES 7
static size_t describe(const or_snapshot *snap, const char *names[ALL_FILES],
                       char *texts[ALL_FILES], const char *created)
{
    json_t *providers = json_array(), *files = json_array();
    json_t *docs[ALL_FILES - 1] = {0};
    const char *doc_names[ALL_FILES - 1] = {"settings.json",      "combos.json",
                                            "providers.json",     "provider-nodes.json",
                                            "custom-models.json", "api-keys.json"};
    size_t n = 0;
    for (size_t i = 0; providers && i < snap->nconns; i++)
        json_array_append_new(providers, or_conn_json_encode(&snap->conns[i]));
    const json_t *keys = json_object_get(snap->settings, OR_APIKEY_SETTING);
    docs[0] = or_settings_view(snap->settings);
    docs[1] = setting_or(snap, OR_COMBOS_KEY, json_array());
    docs[2] = providers;
    docs[3] = setting_or(snap, OR_PROVIDER_NODES_KEY, json_array());
    docs[4] = setting_or(snap, OR_CUSTOM_MODELS_KEY, json_object());
    docs[5] = json_is_array(keys) ? key_metadata(keys) : NULL;
    for (size_t i = 0; i < ALL_FILES - 1; i++) {
        if (!docs[i])
            continue;
        char *t = json_dumps(docs[i], JSON_INDENT(2));
        if (!t)
            goto fail;
        names[n] = doc_names[i];
        texts[n++] = t;
        json_array_append_new(
            files, json_pack("{s:s, s:I}", "name", doc_names[i], "bytes", (json_int_t)strlen(t)));
    }
    json_t *manifest = json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:I, s:o, s:s}", "format", "omniroute-full-backup",
        "formatVersion", 1, "app", "omniroute", "version", OR_VERSION, "createdAt", created,
        "connections", (json_int_t)snap->nconns, "files", json_incref(files), "restore",
        "POST storage.sqlite to /api/db-backups/import; the JSON files are readable copies of "
        "what it holds, without credentials");
    char *t = manifest ? json_dumps(manifest, JSON_INDENT(2)) : NULL;
    json_decref(manifest);
    if (!t)
        goto fail;
    names[n] = "metadata.json";
    texts[n++] = t;
    goto out;
fail:
    while (n > 0)
        free(texts[--n]);
out:
    for (size_t i = 0; i < ALL_FILES - 1; i++)
        json_decref(docs[i]);
    json_decref(files);
    return n;
}

static void run_export_all(job *j)
{
    char db[OR_BACKUP_PATH_MAX], tar[OR_BACKUP_PATH_MAX] = "", stamp[24], created[32];
    const char *names[ALL_FILES];
    char *texts[ALL_FILES];
    or_backup_entry entries[ALL_FILES + 1];
    or_snapshot *snap = NULL;
    size_t n = 0;
    or_store *s = j->app->store;
    int64_t now = or_clock_wall_ms();
    or_backup_stamp(now, stamp);
    or_conn_json_time(now, created);
    snprintf(j->filename, sizeof j->filename, "omniroute-full-backup-%s.tar.gz", stamp);
    j->mime = "application/gzip";
    if ((j->result = or_backup_temp(s, "export", db, &j->eb)) != OR_OK)
        return;
    if ((j->result = or_backup_export(s, db, &j->eb)) != OR_OK ||
        (j->result = or_backup_read_snapshot(s, db, &snap, &j->eb)) != OR_OK ||
        (j->result = or_backup_temp(s, "exportall", tar, &j->eb)) != OR_OK)
        goto out;
    if ((n = describe(snap, names, texts, created)) == 0) {
        j->result = or_fail(&j->eb, OR_ENOMEM, "encoding the export");
        goto out;
    }
    entries[0] = (or_backup_entry){.name = "storage.sqlite", .path = db};
    for (size_t i = 0; i < n; i++)
        entries[i + 1] =
            (or_backup_entry){.name = names[i], .data = texts[i], .len = strlen(texts[i])};
    j->result = or_backup_tar_gz(tar, entries, n + 1, now / 1000, &j->eb);
    if (j->result == OR_OK)
        j->result = hand_over(j, tar);
out:
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    or_snapshot_release(snap);
    or_backup_remove(db);
    if (tar[0])
        or_backup_remove(tar);
}

static or_err write_all(const char *path, const char *data, size_t len, or_errbuf *eb)
{
    or_err e = OR_OK;
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return or_fail(eb, OR_EIO, "open %s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = or_fail(eb, OR_EIO, "writing the upload: %s", n < 0 ? strerror(errno) : "short");
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0 && e == OR_OK)
        e = or_fail(eb, OR_EIO, "writing the upload: %s", strerror(errno));
    return e;
}

/* The uploaded file: the multipart field `file`, or the whole body. */
static or_err upload(job *j, const char **data, size_t *len)
{
    *data = j->body;
    *len = j->body_len;
    if (or_multipart_is(j->content_type)) {
        or_multipart_part part;
        or_err e = or_multipart_find(j->content_type, j->body, j->body_len, "file", &part, &j->eb);
        if (e != OR_OK)
            return OR_EINVAL; /* eb says why, ENOTFOUND (no field 'file') included */
        *data = part.data;
        *len = part.len;
    }
    if (*len == 0)
        return or_fail(&j->eb, OR_EINVAL,
                       "no file: send it as the multipart field 'file' or as the body");
    if (*len > OR_BACKUP_MAX_BYTES)
        return or_fail(&j->eb, OR_EINVAL, "the file is larger than %zu MB",
                       OR_BACKUP_MAX_BYTES >> 20);
    return OR_OK;
}

static void run_import(job *j)
{
    char path[OR_BACKUP_PATH_MAX] = "";
    const char *data;
    size_t len;
    or_store *s = j->app->store;
    if ((j->result = upload(j, &data, &len)) != OR_OK ||
        (j->result = or_backup_temp(s, "import", path, &j->eb)) != OR_OK)
        goto out;
    j->result = write_all(path, data, len, &j->eb);
    free(j->body); /* up to 100 MB: not kept through the checks */
    j->body = NULL;
    if (j->result == OR_OK)
        j->result = or_backup_import(s, path, &j->rep, &j->eb);
out:
    if (path[0])
        or_backup_remove(path);
}

static void job_work(uv_work_t *w)
{
    static void (*const run[])(job *) = {
        [JOB_EXPORT] = run_export,
        [JOB_EXPORT_ALL] = run_export_all,
        [JOB_IMPORT] = run_import,
    };
    job *j = w->data;
    run[j->kind](j);
}

static void reply_import(or_http_req *req, const job *j)
{
    json_t *body = json_pack("{s:b, s:I, s:I, s:s}", "imported", 1, "connections",
                             (json_int_t)j->rep.connections, "secretsUnreadable",
                             (json_int_t)j->rep.secrets_unreadable, "backup", j->rep.pre_import);
    if (body && j->rep.secrets_unreadable > 0)
        json_object_set_new(body, "warning",
                            json_string("Some provider API keys were encrypted with another "
                                        "install's STORAGE_ENCRYPTION_KEY or storage.key and "
                                        "cannot be read here: enter them again."));
    or_reply_json(req, 200, body, NULL);
}

static void job_done(uv_work_t *w, int status)
{
    job *j = w->data;
    or_http_req *req = j->req;
    if (j->kind == JOB_IMPORT)
        atomic_store(&import_running, false);
    else
        atomic_fetch_sub(&exports_inflight, 1);
    if (!req)
        goto out;
    or_http_set_stream_cb(req, &(or_http_stream_cb){NULL, NULL}, NULL);
    if (status != 0) {
        or_reply_error(req, 500, NULL, NULL, "the backup job was cancelled");
    } else if (j->result == OR_EINVAL) {
        or_reply_error(req, 400, "invalid_request_error", "invalid_backup", "%s", j->eb.msg);
    } else if (j->result != OR_OK) {
        or_log_error("backups: %s", j->eb.msg);
        or_admin_reply_err(req, j->result, &j->eb);
    } else if (j->kind == JOB_IMPORT) {
        reply_import(req, j);
    } else {
        send_file(req, j->fd, j->mime, j->filename);
        j->fd = -1; /* the stream owns it */
    }
out:
    job_free(j);
}

/* Takes ownership of j; on failure replies and frees it. */
static void start(or_http_req *req, job *j)
{
    int rc =
        uv_queue_work(or_http_worker_loop(or_http_req_worker(req)), &j->work, job_work, job_done);
    if (rc != 0) {
        if (j->kind == JOB_IMPORT)
            atomic_store(&import_running, false);
        else
            atomic_fetch_sub(&exports_inflight, 1);
        or_reply_error(req, 500, NULL, NULL, "could not schedule the backup: %s", uv_strerror(rc));
        job_free(j);
        return;
    }
    or_http_set_stream_cb(req, &(or_http_stream_cb){NULL, job_abort}, j);
}

static job *job_new(or_http_req *req, or_app *app, job_kind kind)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->req = req;
    j->app = app;
    j->kind = kind;
    j->fd = -1;
    j->work.data = j;
    return j;
}

static void export_kind(or_http_req *req, or_app *app, job_kind kind)
{
    if (atomic_fetch_add(&exports_inflight, 1) >= EXPORTS_MAX_INFLIGHT) {
        atomic_fetch_sub(&exports_inflight, 1);
        json_t *e = json_pack("{s:{s:s, s:s, s:s}}", "error", "message",
                              "Too many exports in progress; retry in a moment", "type",
                              "api_error", "code", "busy");
        or_reply_json(req, 503, e, "Retry-After: 2\r\n");
        return;
    }
    job *j = job_new(req, app, kind);
    if (!j) {
        atomic_fetch_sub(&exports_inflight, 1);
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        return;
    }
    start(req, j);
}

void or_backups_export(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    export_kind(req, app, JOB_EXPORT);
}

void or_backups_export_all(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    export_kind(req, app, JOB_EXPORT_ALL);
}

void or_backups_import(or_http_req *req, or_app *app, const or_route_params *p)
{
    (void)p;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&import_running, &expected, true)) {
        or_reply_error(req, 409, "invalid_request_error", "import_running",
                       "An import is already running");
        return;
    }
    job *j = job_new(req, app, JOB_IMPORT);
    const char *ct = or_http_header(req, "content-type");
    if (!j || !(j->content_type = strdup(ct ? ct : ""))) {
        atomic_store(&import_running, false);
        if (j)
            job_free(j);
        or_reply_error(req, 500, NULL, NULL, "out of memory");
        return;
    }
    j->body = or_http_body_take(req, &j->body_len);
    start(req, j);
}
