/*
 * backup.h — whole-database export and import for the store, and the .tar.gz writer the full
 * export uses.
 *
 * Export copies the live database with SQLite's online backup API from a read connection of its
 * own: one read transaction, so the copy is consistent, and WAL lets the writer go on meanwhile.
 * The copy is a standalone rollback-journal file (mode 0600; secrets stay sealed in it).
 *
 * Import takes a file the caller has written to a temporary path and owns (it is modified):
 *  1. checks: size (512 B .. OR_BACKUP_MAX_BYTES), the SQLite header magic, PRAGMA
 *     integrity_check, the required tables, a schema version not newer than this binary's;
 *     then the file is migrated to this binary's schema and read back the way the store reads
 *     it (snapshot, usage insert), so nothing that would fail after the swap gets that far;
 *  2. on the store's writer thread (or_store_with_db): the live database is copied to
 *     DATA_DIR/backups/pre-import-<stamp>.sqlite, then the backup API copies the checked file
 *     over the live database in one write transaction — other connections see the old or the
 *     new data, never a mix, and nothing restarts — and the store rebuilds its snapshot.
 * Any refusal is OR_EINVAL with the reason in eb, before step 2: the live data is untouched. A
 * failure inside step 2 rolls the transaction back.
 * Provider api keys in an imported file were sealed with the source install's key: when that
 * differs from ours (STORAGE_ENCRYPTION_KEY or storage.key) those connections come back without
 * their api key; the report counts them (secrets_unreadable), the admin re-enters them.
 *
 * Threads: everything here blocks on disk and SQLite (a 100 MB database takes about a second):
 * call it from the libuv thread pool, not from an event loop. Exports may run concurrently with
 * each other, with the writer and with an import; the caller runs one import at a time.
 */
#ifndef OR_STORE_BACKUP_H
#define OR_STORE_BACKUP_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define OR_BACKUP_MAX_BYTES ((size_t)100 * 1024 * 1024)
#define OR_BACKUP_MIN_BYTES 512      /* the smallest SQLite page; a database is at least one */
#define OR_BACKUP_DIR "backups"      /* under DATA_DIR */
#define OR_BACKUP_PRE_IMPORT_KEEP 10 /* newest pre-import backups kept; older ones are pruned */
#define OR_BACKUP_PATH_MAX 1024

typedef struct {
    size_t connections;        /* provider connections in the imported database */
    size_t secrets_unreadable; /* of those, api keys this install's key cannot open */
    int schema_version;        /* the file's, before migration */
    char pre_import[128];      /* file name of the automatic backup, in DATA_DIR/backups */
} or_backup_report;

/* "2025-01-02T03-04-05Z": a UTC time for file names (no ':', sorts by time). */
void or_backup_stamp(int64_t wall_ms, char out[24]);

/* Creates DATA_DIR/backups (0700) if needed and an empty temporary file in it named
 * ".<prefix>-XXXXXX" (0600); path receives its name. The caller removes it (or_backup_remove).
 * Dot-files there older than an hour (left by a crash) are removed on the way. */
or_err or_backup_temp(or_store *s, const char *prefix, char path[OR_BACKUP_PATH_MAX],
                      or_errbuf *eb);
/* Removes a database file and the journal, -wal and -shm files SQLite may have left beside it. */
void or_backup_remove(const char *path);

/* A consistent copy of the live database into dest_path (an empty or absent file). */
or_err or_backup_export(or_store *s, const char *dest_path, or_errbuf *eb);

/* Step 1 alone: checks path and prepares it for import (migrated in place). */
or_err or_backup_validate(or_store *s, const char *path, or_backup_report *rep, or_errbuf *eb);
/* Steps 1 and 2. OR_EINVAL: refused, live data untouched; other errors: I/O or SQLite. */
or_err or_backup_import(or_store *s, const char *path, or_backup_report *rep, or_errbuf *eb);

/* The configuration held by a database file (an export): its snapshot (connections with api
 * keys opened with this store's key where possible) — release it with or_snapshot_release. */
or_err or_backup_read_snapshot(or_store *s, const char *path, or_snapshot **out, or_errbuf *eb);

/* ---- .tar.gz (ustar, gzip) ---- */
typedef struct {
    const char *name; /* path inside the archive, < 100 bytes */
    const char *path; /* a file to copy, or NULL to use data/len */
    const void *data;
    size_t len;
} or_backup_entry;

/* Writes entries into dest_path as a gzip-compressed ustar archive (files mode 0600, owned by
 * uid/gid 0, dated mtime_s). */
or_err or_backup_tar_gz(const char *dest_path, const or_backup_entry *entries, size_t n,
                        int64_t mtime_s, or_errbuf *eb);

#endif
