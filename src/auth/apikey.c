#include "auth/apikey.h"
#include "core/glob.h"

#include "auth/auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_LEN 40
#define SUM_LEN 6
#define HASH_HEX 64

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* In-memory lastUsedAt of one key id. Cells are never freed before close (a deleted key leaves
 * ~50 bytes behind), so index records may point at them without reference counting. */
typedef struct {
    char id[40];
    _Atomic int64_t last_used;
} cell;

typedef struct {
    uint8_t hash[32];
    const char *id;      /* borrowed from the snapshot the index holds */
    const json_t *globs; /* array of strings, borrowed likewise */
    bool active, admin;
    int64_t expires_at; /* 0 = never */
    cell *use;
} entry;

typedef struct {
    atomic_int refs;
    or_snapshot *snap; /* one reference held: keeps the borrowed strings alive */
    entry *recs;       /* sorted by hash */
    size_t n;
} idx;

struct or_apikeys {
    uint8_t secret[32];
    pthread_mutex_t mu; /* cur, cells */
    idx *cur;
    cell **cells; /* sorted by id */
    size_t ncells, capcells;
    _Atomic int64_t next_persist_ms;
    pthread_mutex_t write_mu; /* read-modify-write of the apiKeys setting */
};

/* ---- format ---- */

static void checksum(const char *text, size_t len, char out[SUM_LEN])
{
    uint8_t h[4];
    crypto_generichash(h, sizeof h, (const unsigned char *)text, len, NULL, 0);
    uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    for (int i = SUM_LEN - 1; i >= 0; i--) {
        out[i] = b62[v % 62];
        v /= 62;
    }
}

void or_apikey_generate(char out[OR_APIKEY_LEN + 1])
{
    memcpy(out, "sk-", 3);
    for (size_t i = 0; i < BODY_LEN; i++)
        out[3 + i] = b62[or_rand_uniform(62)];
    checksum(out, 3 + BODY_LEN, out + 3 + BODY_LEN);
    out[OR_APIKEY_LEN] = '\0';
}

static bool is_b62(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

bool or_apikey_well_formed(const char *key, size_t len)
{
    if (!key || len != OR_APIKEY_LEN || memcmp(key, "sk-", 3) != 0)
        return false;
    for (size_t i = 3; i < len; i++)
        if (!is_b62(key[i]))
            return false;
    char sum[SUM_LEN];
    checksum(key, 3 + BODY_LEN, sum);
    return memcmp(sum, key + 3 + BODY_LEN, SUM_LEN) == 0;
}

static const char *const status_text[] = {
    [OR_APIKEY_OK] = "ok",
    [OR_APIKEY_MISSING] = "An API key is required",
    [OR_APIKEY_MALFORMED] = "Invalid API key (not an OmniRoute key, or mistyped)",
    [OR_APIKEY_UNKNOWN] = "Invalid API key",
    [OR_APIKEY_REVOKED] = "API key has been revoked",
    [OR_APIKEY_EXPIRED] = "API key has expired",
    [OR_APIKEY_MODEL] = "This API key may not use this model",
};

const char *or_apikey_status_text(or_apikey_status st)
{
    return (size_t)st < sizeof status_text / sizeof *status_text ? status_text[st] : "?";
}

static void key_hash(const or_apikeys *k, const char *key, size_t len, uint8_t out[32])
{
    crypto_auth_hmacsha256(out, (const unsigned char *)key, len, k->secret);
}

/* ---- open / close ---- */

static void idx_release(idx *x)
{
    if (!x || atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1)
        return;
    or_snapshot_release(x->snap);
    free(x->recs);
    free(x);
}

or_err or_apikeys_open(const char *data_dir, or_apikeys **out, or_errbuf *eb)
{
    or_err e = OR_OK;
    or_apikeys *k = calloc(1, sizeof *k);
    *out = NULL;
    if (!k) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    e = or_auth_load_secret(data_dir, OR_APIKEY_SECRET_ENV, OR_APIKEY_SECRET_FILE, k->secret, eb);
    if (e != OR_OK)
        goto out;
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->write_mu, NULL);
    atomic_init(&k->next_persist_ms, 0);
    *out = k;
    k = NULL;
out:
    if (k)
        sodium_memzero(k->secret, sizeof k->secret);
    free(k);
    return e;
}

void or_apikeys_close(or_apikeys *k, or_store *store)
{
    if (!k)
        return;
    or_errbuf eb = {{0}};
    if (store && or_apikeys_save_usage(k, store, &eb) != OR_OK)
        or_log_warn("apikeys: could not save lastUsedAt: %s", eb.msg);
    idx_release(k->cur);
    for (size_t i = 0; i < k->ncells; i++)
        free(k->cells[i]);
    free(k->cells);
    pthread_mutex_destroy(&k->mu);
    pthread_mutex_destroy(&k->write_mu);
    sodium_memzero(k->secret, sizeof k->secret);
    free(k);
}

/* ---- cells (k->mu held) ---- */

static int cell_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (*(cell *const *)b)->id);
}

static cell *cell_find(const or_apikeys *k, const char *id)
{
    cell **c = k->ncells ? bsearch(id, k->cells, k->ncells, sizeof *k->cells, cell_cmp) : NULL;
    return c ? *c : NULL;
}

static cell *cell_get(or_apikeys *k, const char *id)
{
    cell *c = cell_find(k, id);
    if (c || strlen(id) >= sizeof c->id)
        return c;
    if (k->ncells == k->capcells) {
        size_t ncap = k->capcells ? k->capcells * 2 : 16;
        cell **grown = realloc(k->cells, ncap * sizeof *grown);
        if (!grown)
            return NULL;
        k->cells = grown;
        k->capcells = ncap;
    }
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    snprintf(c->id, sizeof c->id, "%s", id);
    atomic_init(&c->last_used, 0);
    size_t at = 0;
    while (at < k->ncells && strcmp(k->cells[at]->id, id) < 0)
        at++;
    memmove(k->cells + at + 1, k->cells + at, (k->ncells - at) * sizeof *k->cells);
    k->cells[at] = c;
    k->ncells++;
    return c;
}

/* ---- the index ---- */

static int rec_cmp(const void *a, const void *b)
{
    return memcmp(((const entry *)a)->hash, ((const entry *)b)->hash, 32);
}

static bool has_admin_scope(const json_t *scopes)
{
    size_t i;
    const json_t *s;
    json_array_foreach(scopes, i, s)
    {
        const char *v = json_string_value(s);
        if (v && (strcmp(v, "admin") == 0 || strcmp(v, "manage") == 0))
            return true;
    }
    return false;
}

/* Records that do not parse are skipped: a hand-edited database cannot stop the server. */
static bool rec_from_json(or_apikeys *k, const json_t *j, entry *r)
{
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *hex = json_string_value(json_object_get(j, "hash"));
    size_t bin_len = 0;
    if (!id || !hex || strlen(hex) != HASH_HEX ||
        sodium_hex2bin(r->hash, 32, hex, HASH_HEX, NULL, &bin_len, NULL) != 0 || bin_len != 32)
        return false;
    const json_t *exp = json_object_get(j, "expiresAt");
    r->id = id;
    r->globs = json_object_get(j, "allowedModels");
    r->active = !json_is_false(json_object_get(j, "isActive"));
    r->admin = has_admin_scope(json_object_get(j, "scopes"));
    r->expires_at = json_is_integer(exp) ? (int64_t)json_integer_value(exp) : 0;
    r->use = cell_get(k, id);
    return r->use != NULL;
}

/* k->mu held. A new index for snap with refs = 1, or NULL (out of memory). */
static idx *idx_build(or_apikeys *k, or_snapshot *snap)
{
    const json_t *arr = json_object_get(snap->settings, OR_APIKEY_SETTING);
    size_t n = json_array_size(arr), i;
    const json_t *j;
    idx *x = calloc(1, sizeof *x);
    if (!x || (n && !(x->recs = calloc(n, sizeof *x->recs)))) {
        free(x);
        return NULL;
    }
    json_array_foreach(arr, i, j)
    {
        if (rec_from_json(k, j, &x->recs[x->n]))
            x->n++;
        else
            or_log_warn("apikeys: stored key #%zu is malformed; ignored", i);
    }
    if (x->n)
        qsort(x->recs, x->n, sizeof *x->recs, rec_cmp);
    atomic_fetch_add(&snap->refs, 1);
    x->snap = snap;
    atomic_init(&x->refs, 1);
    return x;
}

/* The index for snap (+1 ref), built when the cached one was made from another snapshot. */
static idx *idx_acquire(or_apikeys *k, or_snapshot *snap)
{
    idx *x = NULL, *old = NULL;
    pthread_mutex_lock(&k->mu);
    if (!k->cur || k->cur->snap != snap) {
        idx *fresh = idx_build(k, snap);
        if (fresh) {
            old = k->cur;
            k->cur = fresh;
        }
    }
    if (k->cur && k->cur->snap == snap) {
        x = k->cur;
        atomic_fetch_add_explicit(&x->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&k->mu);
    idx_release(old);
    return x;
}

static bool model_allowed(const json_t *globs, const char *model)
{
    if (json_array_size(globs) == 0)
        return true;
    size_t i;
    const json_t *g;
    json_array_foreach(globs, i, g)
    {
        const char *p = json_string_value(g);
        if (p && or_glob_match(p, model))
            return true;
    }
    return false;
}

or_apikey_status or_apikeys_check(or_apikeys *k, or_snapshot *snap, const char *key, size_t len,
                                  const char *model, int64_t now_ms, or_apikey_who *who)
{
    or_apikey_status st = OR_APIKEY_OK;
    idx *x = NULL;
    entry probe;
    if (!key || len == 0)
        return OR_APIKEY_MISSING;
    if (!or_apikey_well_formed(key, len))
        return OR_APIKEY_MALFORMED;
    if (!k || !snap || !(x = idx_acquire(k, snap))) {
        st = OR_APIKEY_UNKNOWN;
        goto out;
    }
    /* A plain memcmp search leaks nothing useful: the attacker does not control the HMAC. */
    key_hash(k, key, len, probe.hash);
    const entry *r = x->n ? bsearch(&probe, x->recs, x->n, sizeof *x->recs, rec_cmp) : NULL;
    if (!r) {
        st = OR_APIKEY_UNKNOWN;
        goto out;
    }
    if (!r->active) {
        st = OR_APIKEY_REVOKED;
        goto out;
    }
    if (r->expires_at && now_ms >= r->expires_at) {
        st = OR_APIKEY_EXPIRED;
        goto out;
    }
    if (who) {
        snprintf(who->id, sizeof who->id, "%s", r->id);
        who->admin = r->admin;
        who->persist_due = false;
    }
    if (model && !model_allowed(r->globs, model)) {
        st = OR_APIKEY_MODEL;
        goto out;
    }
    atomic_store_explicit(&r->use->last_used, now_ms, memory_order_relaxed);
    int64_t due = atomic_load(&k->next_persist_ms);
    if (now_ms >= due &&
        atomic_compare_exchange_strong(&k->next_persist_ms, &due, now_ms + OR_APIKEY_PERSIST_MS) &&
        who)
        who->persist_due = true;
out:
    sodium_memzero(probe.hash, sizeof probe.hash);
    idx_release(x);
    return st;
}

/* ---- times ---- */

static void iso_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static json_t *time_or_null(const json_t *ms)
{
    char t[32];
    if (!json_is_integer(ms) || json_integer_value(ms) <= 0)
        return json_null();
    iso_time((int64_t)json_integer_value(ms), t);
    return json_string(t);
}

/* Reads exactly n digits. */
static bool digits(const char **s, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return false;
        *out = *out * 10 + (**s - '0');
    }
    return true;
}

static bool parse_iso(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, frac = 0, off = 0;
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d))
        return false;
    h = mi = sec = 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi))
            return false;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &sec))
                return false;
        }
        if (*s == '.') {
            int scale = 100;
            for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
                frac += scale ? (*s - '0') * scale : 0;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om;
            if (!digits(&s, 2, &oh))
                return false;
            if (*s == ':')
                s++;
            if (!digits(&s, 2, &om) || oh > 23 || om > 59)
                return false;
            off = sign * (oh * 60 + om);
        } else {
            return false; /* a time without a zone is ambiguous */
        }
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
    return *ms > 0;
}

bool or_apikey_parse_time(const json_t *v, int64_t *ms)
{
    *ms = 0;
    if (json_is_null(v))
        return true;
    if (json_is_integer(v)) {
        *ms = (int64_t)json_integer_value(v);
        return *ms > 0;
    }
    return json_is_string(v) && parse_iso(json_string_value(v), ms);
}

/* ---- record validation ---- */

static bool printable(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

typedef or_err (*field_fn)(json_t *rec, const char *name, const json_t *v, or_errbuf *eb);

static or_err f_name(json_t *rec, const char *name, const json_t *v, or_errbuf *eb)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!s || n == 0 || n > OR_APIKEY_NAME_MAX || !printable(s, n))
        return or_fail(eb, OR_EINVAL, "%s: must be a non-empty string of at most %d characters",
                       name, OR_APIKEY_NAME_MAX);
    json_object_set_new(rec, name, json_string(s));
    return OR_OK;
}

static or_err f_globs(json_t *rec, const char *name, const json_t *v, or_errbuf *eb)
{
    if (json_is_null(v)) {
        json_object_set_new(rec, name, json_array());
        return OR_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > OR_APIKEY_GLOBS_MAX)
        return or_fail(eb, OR_EINVAL, "%s: must be an array of at most %d model patterns", name,
                       OR_APIKEY_GLOBS_MAX);
    size_t i;
    const json_t *g;
    json_array_foreach(v, i, g)
    {
        const char *s = json_string_value(g);
        size_t n = json_string_length(g);
        if (!s || n == 0 || n > OR_APIKEY_GLOB_LEN_MAX || !printable(s, n))
            return or_fail(eb, OR_EINVAL,
                           "%s[%zu]: must be a non-empty pattern of at most %d characters", name, i,
                           OR_APIKEY_GLOB_LEN_MAX);
    }
    json_object_set_new(rec, name, json_deep_copy(v));
    return OR_OK;
}

static const char *const known_scopes[] = {"admin", "manage"};

static or_err f_scopes(json_t *rec, const char *name, const json_t *v, or_errbuf *eb)
{
    if (json_is_null(v)) {
        json_object_set_new(rec, name, json_array());
        return OR_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > 8)
        return or_fail(eb, OR_EINVAL, "%s: must be an array such as [\"admin\"]", name);
    size_t i;
    const json_t *s;
    json_array_foreach(v, i, s)
    {
        const char *str = json_string_value(s);
        bool ok = false;
        for (size_t j = 0; str && j < sizeof known_scopes / sizeof *known_scopes; j++)
            ok |= strcmp(str, known_scopes[j]) == 0;
        if (!ok)
            return or_fail(eb, OR_EINVAL, "%s[%zu]: unknown scope (known: admin, manage)", name, i);
    }
    json_object_set_new(rec, name, json_deep_copy(v));
    return OR_OK;
}

static or_err f_active(json_t *rec, const char *name, const json_t *v, or_errbuf *eb)
{
    if (!json_is_boolean(v))
        return or_fail(eb, OR_EINVAL, "%s: must be a boolean", name);
    json_object_set_new(rec, name, json_boolean(json_is_true(v)));
    return OR_OK;
}

static or_err f_expires(json_t *rec, const char *name, const json_t *v, or_errbuf *eb)
{
    int64_t ms;
    if (!or_apikey_parse_time(v, &ms))
        return or_fail(eb, OR_EINVAL,
                       "%s: must be null, a time in ms since the epoch, or an ISO 8601 time "
                       "with a zone (\"2030-01-31T12:00:00Z\")",
                       name);
    json_object_set_new(rec, name, ms ? json_integer((json_int_t)ms) : json_null());
    return OR_OK;
}

static const struct {
    const char *name;
    field_fn fn;
} fields[] = {
    {"name", f_name},       {"allowedModels", f_globs}, {"scopes", f_scopes},
    {"isActive", f_active}, {"expiresAt", f_expires},
};

#define NFIELDS (sizeof fields / sizeof *fields)

or_err or_apikey_record_apply(json_t *rec, const json_t *body, bool create, or_errbuf *eb)
{
    const char *key;
    const json_t *v;
    if (!json_is_object(body))
        return or_fail(eb, OR_EINVAL, "body: must be a JSON object");
    json_object_foreach((json_t *)body, key, v)
    {
        size_t i = 0;
        while (i < NFIELDS && strcmp(fields[i].name, key) != 0)
            i++;
        if (i == NFIELDS)
            return or_fail(eb, OR_EINVAL, "%.100s: unknown field", key);
    }
    /* Table order, so the first bad field reported does not depend on the body's key order. */
    for (size_t i = 0; i < NFIELDS; i++) {
        const json_t *val = json_object_get(body, fields[i].name);
        or_err e = val ? fields[i].fn(rec, fields[i].name, val, eb) : OR_OK;
        if (e != OR_OK)
            return e;
    }
    if (create) {
        if (!json_object_get(rec, "name"))
            return or_fail(eb, OR_EINVAL, "name: required");
        static const char *const dflt[] = {"allowedModels", "scopes"};
        for (size_t i = 0; i < 2; i++)
            if (!json_object_get(rec, dflt[i]))
                json_object_set_new(rec, dflt[i], json_array());
        if (!json_object_get(rec, "isActive"))
            json_object_set_new(rec, "isActive", json_true());
        if (!json_object_get(rec, "expiresAt"))
            json_object_set_new(rec, "expiresAt", json_null());
    }
    return OR_OK;
}

/* ---- management ---- */

static json_t *current(or_store *store)
{
    json_t *arr = or_store_setting_get(store, OR_APIKEY_SETTING);
    if (!json_is_array(arr)) {
        json_decref(arr);
        arr = json_array();
    }
    return arr;
}

static size_t find_rec(const json_t *arr, const char *id)
{
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r)
    {
        const char *rid = json_string_value(json_object_get(r, "id"));
        if (rid && id && strcmp(rid, id) == 0)
            return i;
    }
    return SIZE_MAX;
}

static int64_t mem_last_used(or_apikeys *k, const char *id)
{
    int64_t v = 0;
    pthread_mutex_lock(&k->mu);
    const cell *c = id ? cell_find(k, id) : NULL;
    if (c)
        v = atomic_load_explicit(&c->last_used, memory_order_relaxed);
    pthread_mutex_unlock(&k->mu);
    return v;
}

/* Folds the in-memory lastUsedAt into the records; true when any changed. */
static bool merge_usage(or_apikeys *k, json_t *arr)
{
    bool changed = false;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        int64_t mem = mem_last_used(k, json_string_value(json_object_get(r, "id")));
        const json_t *st = json_object_get(r, "lastUsedAt");
        if (mem > (json_is_integer(st) ? (int64_t)json_integer_value(st) : 0)) {
            json_object_set_new(r, "lastUsedAt", json_integer((json_int_t)mem));
            changed = true;
        }
    }
    return changed;
}

static json_t *view_of(or_apikeys *k, const json_t *r)
{
    const char *id = json_string_value(json_object_get(r, "id"));
    const json_t *stored = json_object_get(r, "lastUsedAt");
    int64_t used = json_is_integer(stored) ? (int64_t)json_integer_value(stored) : 0;
    int64_t mem = mem_last_used(k, id);
    json_t *used_j = json_integer((json_int_t)(mem > used ? mem : used));
    json_t *v = json_pack(
        "{s:s?, s:O?, s:O?, s:O?, s:O?, s:b, s:o, s:o, s:o}", "id", id, "name",
        json_object_get(r, "name"), "prefix", json_object_get(r, "prefix"), "allowedModels",
        json_object_get(r, "allowedModels"), "scopes", json_object_get(r, "scopes"), "isActive",
        !json_is_false(json_object_get(r, "isActive")), "expiresAt",
        time_or_null(json_object_get(r, "expiresAt")), "createdAt",
        time_or_null(json_object_get(r, "createdAt")), "lastUsedAt", time_or_null(used_j));
    json_decref(used_j);
    return v;
}

json_t *or_apikeys_list(or_apikeys *k, or_store *store)
{
    json_t *arr = current(store), *out = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r) json_array_append_new(out, view_of(k, r));
    json_decref(arr);
    return json_pack("{s:o}", "keys", out);
}

json_t *or_apikeys_get(or_apikeys *k, or_store *store, const char *id)
{
    json_t *arr = current(store);
    size_t at = find_rec(arr, id);
    json_t *v = at == SIZE_MAX ? NULL : view_of(k, json_array_get(arr, at));
    json_decref(arr);
    return v;
}

or_err or_apikeys_create(or_apikeys *k, or_store *store, const json_t *body, json_t **view_out,
                         or_errbuf *eb)
{
    or_err e = OR_OK;
    char key[OR_APIKEY_LEN + 1], id[37], hex[HASH_HEX + 1];
    uint8_t hash[32];
    int64_t now = or_clock_wall_ms();
    json_t *arr = NULL, *rec = NULL;
    *view_out = NULL;

    pthread_mutex_lock(&k->write_mu);
    arr = current(store);
    if (json_array_size(arr) >= OR_APIKEY_MAX_KEYS) {
        e = or_fail(eb, OR_EINVAL, "at most %d API keys", OR_APIKEY_MAX_KEYS);
        goto out;
    }
    or_uuid4(id);
    rec = json_pack("{s:s, s:I, s:n}", "id", id, "createdAt", (json_int_t)now, "lastUsedAt");
    if (!rec) {
        e = or_fail(eb, OR_ENOMEM, "out of memory");
        goto out;
    }
    if ((e = or_apikey_record_apply(rec, body, true, eb)) != OR_OK)
        goto out;
    or_apikey_generate(key);
    key_hash(k, key, OR_APIKEY_LEN, hash);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    json_object_set_new(rec, "hash", json_string(hex));
    json_object_set_new(rec, "prefix", json_stringn(key, OR_APIKEY_PREFIX_LEN));
    json_array_append(arr, rec);
    merge_usage(k, arr);
    if ((e = or_store_setting_set(store, OR_APIKEY_SETTING, arr, eb)) != OR_OK)
        goto out;
    *view_out = view_of(k, rec);
    if (!*view_out || json_object_set_new(*view_out, "key", json_string(key)) != 0) {
        or_apikeys_view_free(*view_out);
        *view_out = NULL;
        e = or_fail(eb, OR_ENOMEM, "out of memory");
    }
out:
    pthread_mutex_unlock(&k->write_mu);
    sodium_memzero(key, sizeof key);
    json_decref(rec);
    json_decref(arr);
    return e;
}

or_err or_apikeys_update(or_apikeys *k, or_store *store, const char *id, const json_t *body,
                         json_t **view_out, or_errbuf *eb)
{
    or_err e = OR_OK;
    json_t *arr = NULL;
    *view_out = NULL;
    pthread_mutex_lock(&k->write_mu);
    arr = current(store);
    size_t at = find_rec(arr, id);
    if (at == SIZE_MAX) {
        e = or_fail(eb, OR_ENOTFOUND, "no API key with id %.40s", id ? id : "");
        goto out;
    }
    json_t *rec = json_array_get(arr, at);
    if ((e = or_apikey_record_apply(rec, body, false, eb)) != OR_OK)
        goto out;
    merge_usage(k, arr);
    if ((e = or_store_setting_set(store, OR_APIKEY_SETTING, arr, eb)) != OR_OK)
        goto out;
    if (!(*view_out = view_of(k, rec)))
        e = or_fail(eb, OR_ENOMEM, "out of memory");
out:
    pthread_mutex_unlock(&k->write_mu);
    json_decref(arr);
    return e;
}

or_err or_apikeys_delete(or_apikeys *k, or_store *store, const char *id, or_errbuf *eb)
{
    or_err e = OR_OK;
    pthread_mutex_lock(&k->write_mu);
    json_t *arr = current(store);
    size_t at = find_rec(arr, id);
    if (at == SIZE_MAX) {
        e = or_fail(eb, OR_ENOTFOUND, "no API key with id %.40s", id ? id : "");
        goto out;
    }
    json_array_remove(arr, at);
    merge_usage(k, arr);
    e = or_store_setting_set(store, OR_APIKEY_SETTING, arr, eb);
out:
    pthread_mutex_unlock(&k->write_mu);
    json_decref(arr);
    return e;
}

or_err or_apikeys_save_usage(or_apikeys *k, or_store *store, or_errbuf *eb)
{
    or_err e = OR_OK;
    pthread_mutex_lock(&k->write_mu);
    json_t *arr = current(store);
    if (merge_usage(k, arr))
        e = or_store_setting_set(store, OR_APIKEY_SETTING, arr, eb);
    pthread_mutex_unlock(&k->write_mu);
    json_decref(arr);
    return e;
}

void or_apikeys_view_free(json_t *view)
{
    json_t *key = json_object_get(view, "key");
    if (json_is_string(key) && json_string_length(key) > 0)
        sodium_memzero((char *)json_string_value(key), json_string_length(key));
    json_decref(view);
}
