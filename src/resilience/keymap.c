#include "resilience/keymap.h"

#include <stdlib.h>
#include <string.h>

struct or_keymap_ent {
    or_keymap_ent *next;
    uint64_t hash;
    char *key;
    max_align_t val[]; /* vsize bytes, aligned for any value type */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void or_keymap_init(or_keymap *m, size_t vsize)
{
    memset(m, 0, sizeof *m);
    m->vsize = vsize;
}

void or_keymap_clear(or_keymap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        or_keymap_ent *e = m->buckets[i];
        while (e) {
            or_keymap_ent *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
        m->buckets[i] = NULL;
    }
    m->count = 0;
}

void or_keymap_free(or_keymap *m)
{
    or_keymap_clear(m);
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = 0;
}

size_t or_keymap_count(const or_keymap *m)
{
    return m->count;
}

static or_keymap_ent *find(const or_keymap *m, const char *key, uint64_t h)
{
    if (!m->nbuckets)
        return NULL;
    for (or_keymap_ent *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

void *or_keymap_get(const or_keymap *m, const char *key)
{
    or_keymap_ent *e = find(m, key, hash_str(key));
    return e ? e->val : NULL;
}

static bool grow(or_keymap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    or_keymap_ent **b = calloc(n, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < m->nbuckets; i++) {
        or_keymap_ent *e = m->buckets[i];
        while (e) {
            or_keymap_ent *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return true;
}

void *or_keymap_put(or_keymap *m, const char *key, bool *created)
{
    if (created)
        *created = false;
    size_t klen = strlen(key);
    if (klen > OR_KEYMAP_KEY_MAX)
        return NULL;
    uint64_t h = hash_str(key);
    or_keymap_ent *e = find(m, key, h);
    if (e)
        return e->val;
    if (m->count + 1 > m->nbuckets && !grow(m)) /* load factor <= 1 */
        return NULL;
    e = calloc(1, sizeof *e + m->vsize);
    if (!e)
        return NULL;
    e->key = malloc(klen + 1);
    if (!e->key) {
        free(e);
        return NULL;
    }
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->count++;
    if (created)
        *created = true;
    return e->val;
}

static size_t remove_where(or_keymap *m, const char *key, uint64_t h,
                           bool (*pred)(const char *, void *, void *), void *ud)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nbuckets; i++) {
        if (key && i != (h & (m->nbuckets - 1)))
            continue;
        or_keymap_ent **pp = &m->buckets[i];
        while (*pp) {
            or_keymap_ent *e = *pp;
            bool hit = key ? (e->hash == h && strcmp(e->key, key) == 0) : pred(e->key, e->val, ud);
            if (hit) {
                *pp = e->next;
                free(e->key);
                free(e);
                m->count--;
                n++;
            } else {
                pp = &e->next;
            }
        }
    }
    return n;
}

bool or_keymap_del(or_keymap *m, const char *key)
{
    return remove_where(m, key, hash_str(key), NULL, NULL) > 0;
}

size_t or_keymap_remove_if(or_keymap *m, bool (*pred)(const char *key, void *val, void *ud),
                           void *ud)
{
    return remove_where(m, NULL, 0, pred, ud);
}

void *or_keymap_next(const or_keymap *m, or_keymap_iter *it, const char **key)
{
    or_keymap_ent *e = it->ent ? it->ent->next : NULL;
    size_t b = it->ent ? it->bucket + 1 : it->bucket;
    while (!e && b < m->nbuckets)
        e = m->buckets[b++];
    if (!e)
        return NULL;
    it->ent = e;
    it->bucket = b - 1;
    if (key)
        *key = e->key;
    return e->val;
}
