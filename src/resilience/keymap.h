/*
 * keymap.h — a small string-keyed hash map with fixed-size values, shared by the breaker,
 * cooldown and limiter registries.
 *
 * The map owns its keys and values: or_keymap_put returns a pointer to a zeroed value slot the
 * caller fills in place; the pointer stays valid until that key is deleted or the map is freed
 * (entries never move when the table grows). Keys are capped at OR_KEYMAP_KEY_MAX bytes.
 * Not thread-safe: each registry guards its map with its own mutex.
 */
#ifndef OR_RESILIENCE_KEYMAP_H
#define OR_RESILIENCE_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OR_KEYMAP_KEY_MAX 512

typedef struct or_keymap_ent or_keymap_ent;

typedef struct {
    or_keymap_ent **buckets;
    size_t nbuckets; /* power of two, or 0 before the first put */
    size_t count;
    size_t vsize;
} or_keymap;

void or_keymap_init(or_keymap *m, size_t vsize);
void or_keymap_free(or_keymap *m);
void or_keymap_clear(or_keymap *m);
size_t or_keymap_count(const or_keymap *m);

/* The value for key, or NULL. */
void *or_keymap_get(const or_keymap *m, const char *key);
/* The value for key, created zeroed if absent (*created set accordingly, may be NULL).
 * NULL when out of memory or the key is longer than OR_KEYMAP_KEY_MAX. */
void *or_keymap_put(or_keymap *m, const char *key, bool *created);
bool or_keymap_del(or_keymap *m, const char *key);

/* Iteration: start with *it = 0 and *ent = NULL; returns the next value (and its key) or NULL
 * at the end. The map must not change during a walk except through or_keymap_remove_if. */
typedef struct {
    size_t bucket;
    or_keymap_ent *ent;
} or_keymap_iter;
void *or_keymap_next(const or_keymap *m, or_keymap_iter *it, const char **key);

/* Deletes every entry for which pred returns true; returns how many. */
size_t or_keymap_remove_if(or_keymap *m, bool (*pred)(const char *key, void *val, void *ud),
                           void *ud);

#endif
