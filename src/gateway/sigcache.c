#include "gateway/sigcache.h"
#include "core/clock.h"
#include "resilience/keymap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TTL_MS (3600 * 1000)
#define MAX_ENTRIES 20000
#define MAX_SIG_BYTES (64 * 1024)

typedef struct {
    char *sig;
    int64_t expires;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static or_keymap map;
static bool ready;

static bool expired(const char *key, void *val, void *ud)
{
    (void)key;
    entry *e = val;
    if (e->expires > *(int64_t *)ud)
        return false;
    free(e->sig);
    return true;
}

void or_sigcache_put(const char *call_id, const char *signature)
{
    if (!call_id || !*call_id || !signature || !*signature || strlen(signature) > MAX_SIG_BYTES)
        return;
    int64_t now = or_clock_wall_ms();
    char *copy = strdup(signature);
    if (!copy)
        return;
    pthread_mutex_lock(&lock);
    if (!ready) {
        or_keymap_init(&map, sizeof(entry));
        ready = true;
    }
    if (or_keymap_count(&map) >= MAX_ENTRIES) {
        or_keymap_remove_if(&map, expired, &now);
        if (or_keymap_count(&map) >= MAX_ENTRIES) { /* all fresh: start over rather than grow */
            int64_t forever = INT64_MAX;
            or_keymap_remove_if(&map, expired, &forever);
        }
    }
    entry *e = or_keymap_put(&map, call_id, NULL);
    if (e) {
        free(e->sig);
        e->sig = copy;
        e->expires = now + TTL_MS;
        copy = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(copy);
}

/* A copy of the signature for id, or NULL. */
static char *get(const char *id, int64_t now)
{
    char *out = NULL;
    pthread_mutex_lock(&lock);
    entry *e = ready ? or_keymap_get(&map, id) : NULL;
    if (e && e->expires > now)
        out = strdup(e->sig);
    pthread_mutex_unlock(&lock);
    return out;
}

static void fill_parts(json_t *parts, int64_t now)
{
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        const char *id = json_string_value(json_object_get(p, "id"));
        if (!type || strcmp(type, "tool_call") != 0 || !id || json_object_get(p, "signature"))
            continue;
        char *sig = get(id, now);
        if (sig)
            json_object_set_new(p, "signature", json_string(sig));
        free(sig);
    }
}

void or_sigcache_fill(json_t *ir)
{
    if (!ready)
        return;
    int64_t now = or_clock_wall_ms();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(ir, "messages"), i, m)
        fill_parts(json_object_get(m, "content"), now);
}

void or_sigcache_take_response(const json_t *ir)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(ir, "content"), i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        if (type && strcmp(type, "tool_call") == 0)
            or_sigcache_put(json_string_value(json_object_get(p, "id")),
                            json_string_value(json_object_get(p, "signature")));
    }
}

void or_sigcache_clear(void)
{
    pthread_mutex_lock(&lock);
    if (ready) {
        int64_t forever = INT64_MAX;
        or_keymap_remove_if(&map, expired, &forever);
        or_keymap_free(&map);
        ready = false;
    }
    pthread_mutex_unlock(&lock);
}
