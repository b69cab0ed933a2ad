#include "resilience/cooldown.h"

#include "core/clock.h"
#include "resilience/keymap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SEP '\x1f'             /* joins scope, id and model into one map key */
#define LEVEL_MAX 30u          /* 2^30 x base is past any cap */
#define GC_MARK_MIN 1024u      /* the map is swept when it grows past this (then doubled) */
#define IMPORT_MAX_MS 86400000 /* a saved cooldown more than a day out is not trusted */
#define HINT_MAX_MS 86400000u  /* nor is a hint that long */

static const or_cooldown_policy defaults[OR_SCOPE_COUNT] = {
    [OR_SCOPE_NONE] = {0, 1, 0},
    [OR_SCOPE_KEY] = {1000, 2, 300000},
    [OR_SCOPE_ACCOUNT] = {1000, 2, 300000},
    [OR_SCOPE_MODEL] = {60000, 2, 1800000}, /* a missing model does not come back in a second */
    [OR_SCOPE_PROVIDER] = {1000, 2, 300000},
};

typedef struct {
    int64_t until, last_fail;
    unsigned level;
    int status;
} entry;

struct or_cooldown_reg {
    pthread_mutex_t mu;
    or_keymap map;
    or_cooldown_policy pol[OR_SCOPE_COUNT];
    size_t gc_mark;
    /* Lock-free summaries for the per-request calls, written only with mu held (publish()):
     * `nents` is the map's entry count, `latest` is at least the latest `until` of any entry
     * (never lowered while an entry may hold it). While nothing cools down, peek() and
     * success() answer from these without the mutex or a hash lookup. */
    _Atomic size_t nents;
    _Atomic int64_t latest;
};

or_cooldown_reg *or_cooldown_new(void)
{
    or_cooldown_reg *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    or_keymap_init(&reg->map, sizeof(entry));
    memcpy(reg->pol, defaults, sizeof defaults);
    reg->gc_mark = GC_MARK_MIN;
    return reg;
}

void or_cooldown_free(or_cooldown_reg *reg)
{
    if (!reg)
        return;
    or_keymap_free(&reg->map);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

static bool scope_ok(or_fail_scope s)
{
    return s > OR_SCOPE_NONE && s < OR_SCOPE_COUNT;
}

const or_cooldown_policy *or_cooldown_policy_default(or_fail_scope scope)
{
    return &defaults[scope_ok(scope) ? scope : OR_SCOPE_KEY];
}

or_err or_cooldown_set_policy(or_cooldown_reg *reg, or_fail_scope scope,
                              const or_cooldown_policy *p)
{
    if (!scope_ok(scope) || !p || !p->base_ms || !p->factor || p->cap_ms < p->base_ms)
        return OR_EINVAL;
    pthread_mutex_lock(&reg->mu);
    reg->pol[scope] = *p;
    pthread_mutex_unlock(&reg->mu);
    return OR_OK;
}

void or_cooldown_get_policy(or_cooldown_reg *reg, or_fail_scope scope, or_cooldown_policy *out)
{
    pthread_mutex_lock(&reg->mu);
    *out = reg->pol[scope_ok(scope) ? scope : OR_SCOPE_KEY];
    pthread_mutex_unlock(&reg->mu);
}

/* "<scope><SEP><id><SEP><model>"; false when it does not fit or a part holds the separator. */
static bool make_key(char *out, size_t cap, or_fail_scope scope, const char *id, const char *model)
{
    if (!scope_ok(scope) || !id || !*id || strchr(id, SEP))
        return false;
    if (scope == OR_SCOPE_KEY || scope == OR_SCOPE_PROVIDER || !model)
        model = "";
    if (strchr(model, SEP))
        return false;
    size_t il = strlen(id), ml = strlen(model);
    if (il + ml + 3 >= cap) /* scope digit, two separators, the NUL */
        return false;
    _Static_assert(OR_SCOPE_COUNT <= 10, "a scope is one digit of the key");
    out[0] = (char)('0' + scope);
    out[1] = SEP;
    memcpy(out + 2, id, il);
    out[2 + il] = SEP;
    memcpy(out + 3 + il, model, ml + 1);
    return true;
}

typedef struct {
    or_fail_scope scope;
    const char *id;
    size_t id_len;
    const char *model; /* "" for none */
} key_parts;

static bool split_key(const char *key, key_parts *kp)
{
    const char *a = strchr(key, SEP), *b = a ? strchr(a + 1, SEP) : NULL;
    if (!a || !b || a != key + 1 || key[0] < '1' || key[0] >= '0' + OR_SCOPE_COUNT)
        return false;
    kp->scope = (or_fail_scope)(key[0] - '0');
    kp->id = a + 1;
    kp->id_len = (size_t)(b - a - 1);
    kp->model = b + 1;
    return true;
}

static uint64_t backoff(const or_cooldown_policy *p, unsigned level)
{
    uint64_t ms = p->base_ms;
    for (unsigned i = 1; i < level && ms < p->cap_ms; i++)
        ms *= p->factor;
    return ms < p->cap_ms ? ms : p->cap_ms;
}

static bool expired_long_ago(const char *key, void *val, void *ud)
{
    const or_cooldown_reg *reg = ud;
    const entry *e = val;
    key_parts kp;
    if (!split_key(key, &kp))
        return true;
    return e->until + (int64_t)reg->pol[kp.scope].cap_ms < or_clock_wall_ms();
}

/* Called with mu held after the map or an entry's `until` changed. */
static void publish(or_cooldown_reg *reg, int64_t until)
{
    size_t n = or_keymap_count(&reg->map);
    atomic_store_explicit(&reg->nents, n, memory_order_release);
    if (!n)
        atomic_store_explicit(&reg->latest, 0, memory_order_release);
    else if (until > atomic_load_explicit(&reg->latest, memory_order_relaxed))
        atomic_store_explicit(&reg->latest, until, memory_order_release);
}

static void maybe_gc(or_cooldown_reg *reg)
{
    if (or_keymap_count(&reg->map) < reg->gc_mark)
        return;
    or_keymap_remove_if(&reg->map, expired_long_ago, reg);
    size_t n = or_keymap_count(&reg->map) * 2;
    reg->gc_mark = n > GC_MARK_MIN ? n : GC_MARK_MIN;
}

int64_t or_cooldown_fail(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                         const char *model, uint64_t retry_after_ms, int status)
{
    char key[OR_KEYMAP_KEY_MAX + 1];
    if (!make_key(key, sizeof key, scope, id, model))
        return 0;
    if (retry_after_ms > HINT_MAX_MS)
        retry_after_ms = HINT_MAX_MS;
    int64_t now = or_clock_wall_ms(), until = 0;
    pthread_mutex_lock(&reg->mu);
    maybe_gc(reg);
    const or_cooldown_policy *p = &reg->pol[scope];
    entry *e = or_keymap_put(&reg->map, key, NULL);
    if (!e)
        goto out;
    e->status = status;
    if (e->until > now) { /* already cooling down: a burst is one failure */
        if (retry_after_ms && now + (int64_t)retry_after_ms > e->until)
            e->until = now + (int64_t)retry_after_ms;
        until = e->until;
        goto out;
    }
    if (e->level && now > e->until + (int64_t)p->cap_ms)
        e->level = 0; /* quiet long enough: start over */
    if (e->level < LEVEL_MAX)
        e->level++;
    e->last_fail = now;
    e->until = until = now + (int64_t)(retry_after_ms ? retry_after_ms : backoff(p, e->level));
out:
    publish(reg, until);
    pthread_mutex_unlock(&reg->mu);
    return until;
}

void or_cooldown_success(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                         const char *model)
{
    /* Nothing recorded at all (the usual case): there is nothing to clear or decay. */
    if (!atomic_load_explicit(&reg->nents, memory_order_acquire))
        return;
    char key[OR_KEYMAP_KEY_MAX + 1];
    if (!make_key(key, sizeof key, scope, id, model))
        return;
    pthread_mutex_lock(&reg->mu);
    entry *e = or_keymap_get(&reg->map, key);
    if (e && scope == OR_SCOPE_MODEL && e->level > 1) {
        /* One success does not prove the model is back for good: halve the history. */
        e->level /= 2;
        e->until = or_clock_wall_ms(); /* free now; the quiet period counts from here */
    } else if (e) {
        or_keymap_del(&reg->map, key);
        publish(reg, 0);
    }
    pthread_mutex_unlock(&reg->mu);
}

static int64_t until_locked(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                            const char *model, int64_t now, or_cooldown_info *info)
{
    char key[OR_KEYMAP_KEY_MAX + 1];
    if (!make_key(key, sizeof key, scope, id, model))
        return 0;
    const entry *e = or_keymap_get(&reg->map, key);
    if (!e || e->until <= now)
        return 0;
    if (info && e->until > info->until) {
        info->until = e->until;
        info->level = e->level;
        info->status = e->status;
    }
    return e->until;
}

/* True when no entry can be cooling down at `now`: every until is at most `latest`. A
 * concurrent failure not yet published is one that happened after this check. */
static bool all_free(or_cooldown_reg *reg, int64_t now)
{
    return atomic_load_explicit(&reg->latest, memory_order_acquire) <= now;
}

int64_t or_cooldown_until(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                          const char *model)
{
    int64_t now = or_clock_wall_ms();
    if (all_free(reg, now))
        return 0;
    pthread_mutex_lock(&reg->mu);
    int64_t until = until_locked(reg, scope, id, model, now, NULL);
    pthread_mutex_unlock(&reg->mu);
    return until;
}

int64_t or_cooldown_peek(or_cooldown_reg *reg, const char *provider, const char *conn,
                         const char *model, or_cooldown_info *info)
{
    return or_cooldown_peek_at(reg, provider, conn, model, or_clock_wall_ms(), info);
}

int64_t or_cooldown_peek_at(or_cooldown_reg *reg, const char *provider, const char *conn,
                            const char *model, int64_t now, or_cooldown_info *info)
{
    or_cooldown_info local = {0};
    if (all_free(reg, now)) {
        if (info)
            *info = local;
        return 0;
    }
    pthread_mutex_lock(&reg->mu);
    if (provider)
        until_locked(reg, OR_SCOPE_PROVIDER, provider, NULL, now, &local);
    if (conn) {
        until_locked(reg, OR_SCOPE_KEY, conn, NULL, now, &local);
        if (model) {
            until_locked(reg, OR_SCOPE_ACCOUNT, conn, model, now, &local);
            until_locked(reg, OR_SCOPE_MODEL, conn, model, now, &local);
        }
    }
    pthread_mutex_unlock(&reg->mu);
    if (info)
        *info = local;
    return local.until;
}

size_t or_cooldown_unlock(or_cooldown_reg *reg, or_fail_scope scope, const char *id,
                          const char *model)
{
    char key[OR_KEYMAP_KEY_MAX + 1];
    if (!make_key(key, sizeof key, scope, id, model))
        return 0;
    pthread_mutex_lock(&reg->mu);
    bool gone = or_keymap_del(&reg->map, key);
    publish(reg, 0);
    pthread_mutex_unlock(&reg->mu);
    return gone ? 1 : 0;
}

static bool names_id(const char *key, void *val, void *ud)
{
    (void)val;
    key_parts kp;
    const char *id = ud;
    return split_key(key, &kp) && kp.id_len == strlen(id) && memcmp(kp.id, id, kp.id_len) == 0;
}

size_t or_cooldown_unlock_id(or_cooldown_reg *reg, const char *id)
{
    if (!id)
        return 0;
    pthread_mutex_lock(&reg->mu);
    size_t n = or_keymap_remove_if(&reg->map, names_id, (void *)id);
    publish(reg, 0);
    pthread_mutex_unlock(&reg->mu);
    return n;
}

size_t or_cooldown_unlock_all(or_cooldown_reg *reg)
{
    pthread_mutex_lock(&reg->mu);
    size_t n = or_keymap_count(&reg->map);
    or_keymap_clear(&reg->map);
    publish(reg, 0);
    pthread_mutex_unlock(&reg->mu);
    return n;
}

size_t or_cooldown_gc(or_cooldown_reg *reg)
{
    pthread_mutex_lock(&reg->mu);
    size_t n = or_keymap_remove_if(&reg->map, expired_long_ago, reg);
    publish(reg, 0);
    pthread_mutex_unlock(&reg->mu);
    return n;
}

size_t or_cooldown_count(or_cooldown_reg *reg)
{
    pthread_mutex_lock(&reg->mu);
    size_t n = or_keymap_count(&reg->map);
    pthread_mutex_unlock(&reg->mu);
    return n;
}

json_t *or_cooldown_export(or_cooldown_reg *reg)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    int64_t now = or_clock_wall_ms();
    pthread_mutex_lock(&reg->mu);
    or_keymap_iter it = {0};
    const char *key;
    const entry *e;
    while ((e = or_keymap_next(&reg->map, &it, &key))) {
        key_parts kp;
        if (e->until <= now || !split_key(key, &kp))
            continue;
        json_t *o =
            json_pack("{s:s, s:s%, s:s?, s:I, s:I, s:i}", "scope", or_failure_scope_name(kp.scope),
                      "id", kp.id, kp.id_len, "model", *kp.model ? kp.model : NULL, "until",
                      (json_int_t)e->until, "level", (json_int_t)e->level, "status", e->status);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return arr;
}

static int scope_from_name(const char *name)
{
    for (int s = OR_SCOPE_NONE + 1; name && s < OR_SCOPE_COUNT; s++)
        if (strcmp(name, or_failure_scope_name((or_fail_scope)s)) == 0)
            return s;
    return -1;
}

or_err or_cooldown_import(or_cooldown_reg *reg, const json_t *state, or_errbuf *eb)
{
    or_err rc = OR_OK;
    if (!json_is_array(state))
        return or_fail(eb, OR_EINVAL, "cooldown state: not an array");
    int64_t now = or_clock_wall_ms();
    pthread_mutex_lock(&reg->mu);
    size_t i;
    json_t *o;
    json_array_foreach((json_t *)state, i, o)
    {
        int scope = scope_from_name(json_string_value(json_object_get(o, "scope")));
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *model = json_string_value(json_object_get(o, "model"));
        json_t *u = json_object_get(o, "until"), *l = json_object_get(o, "level");
        json_t *st = json_object_get(o, "status");
        char key[OR_KEYMAP_KEY_MAX + 1];
        if (scope < 0 || !json_is_integer(u) || json_integer_value(u) <= now ||
            json_integer_value(u) > now + IMPORT_MAX_MS ||
            !make_key(key, sizeof key, (or_fail_scope)scope, id, model))
            continue;
        entry *e = or_keymap_put(&reg->map, key, NULL);
        if (!e) {
            rc = or_fail(eb, OR_ENOMEM, "cooldown state: out of memory");
            goto out;
        }
        json_int_t lv = json_is_integer(l) ? json_integer_value(l) : 1;
        e->until = (int64_t)json_integer_value(u);
        e->last_fail = now;
        e->level = lv < 1 ? 1u : lv > (json_int_t)LEVEL_MAX ? LEVEL_MAX : (unsigned)lv;
        e->status = json_is_integer(st) ? (int)(json_integer_value(st) & 0xffff) : 0;
        publish(reg, e->until);
    }
out:
    publish(reg, 0);
    pthread_mutex_unlock(&reg->mu);
    return rc;
}
