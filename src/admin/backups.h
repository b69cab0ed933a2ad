/*
 * backups.h — /api/db-backups: download the database, download everything as a .tar.gz, and
 * import a database in place.
 *
 *   GET  /api/db-backups/export     → the .sqlite file (application/vnd.sqlite3, attachment
 *                                     omniroute-<stamp>.sqlite): a consistent copy taken while
 *                                     serving (store/backup.h)
 *   GET  /api/db-backups/exportAll  → omniroute-full-backup-<stamp>.tar.gz: storage.sqlite, and
 *                                     readable copies of what it holds, read from that same copy:
 *                                     settings.json (the settings API's view), combos.json,
 *                                     providers.json (connections as the providers API shows
 *                                     them: no credentials), provider-nodes.json,
 *                                     custom-models.json, api-keys.json (key metadata, never the
 *                                     hash; only when keys exist), metadata.json (the manifest)
 *   POST /api/db-backups/import     multipart/form-data with the file in the field `file`, or the
 *                                     file itself as the body (any other Content-Type)
 *                                   → {imported:true, connections, secretsUnreadable, backup}
 *                                     backup: the automatic pre-import copy in DATA_DIR/backups;
 *                                     secretsUnreadable: connections whose api key was sealed
 *                                     with another install's STORAGE_ENCRYPTION_KEY/storage.key
 *                                     and comes back empty (re-enter it). A refused file → 400
 *                                     {error:{message: the reason, code:"invalid_backup"}} and
 *                                     the live data untouched; one import at a time (409).
 * The import route accepts bodies up to OR_BACKUPS_IMPORT_MAX_BODY from a signed-in admin: the
 * route table raises the request's body cap in on_head, and answers 400 at once when the
 * Content-Length is above it (app/routes.c). Note that an imported database brings its own
 * dashboard password (settings.passwordHash) and API keys (whose hashes only verify under the
 * same API_KEY_SECRET).
 *
 * Threads: handlers run on the request's worker; copying, validation and the swap run on the
 * libuv thread pool; a download is then streamed from a file descriptor (already unlinked)
 * with backpressure. If the client goes away the work finishes and its result is dropped.
 */
#ifndef OR_ADMIN_BACKUPS_H
#define OR_ADMIN_BACKUPS_H

#include "gateway/app.h"
#include "store/backup.h"

/* The largest import body: the file limit plus room for the multipart framing. */
#define OR_BACKUPS_IMPORT_MAX_BODY (OR_BACKUP_MAX_BYTES + (size_t)64 * 1024)

void or_backups_export(or_http_req *req, or_app *app, const or_route_params *p);
void or_backups_export_all(or_http_req *req, or_app *app, const or_route_params *p);
void or_backups_import(or_http_req *req, or_app *app, const or_route_params *p);

#endif
