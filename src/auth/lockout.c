#include "auth/lockout.h"

#include "core/clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char ip[64]; /* "" = free */
    unsigned fails;
    uint64_t window_start; /* mono ms of the first failure counted */
    uint64_t locked_until; /* mono ms; 0 = not locked */
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot slots[OR_LOCKOUT_SLOTS];

/* An entry with neither a live window nor a live lock carries no information. */
static bool stale(const slot *s, uint64_t now)
{
    return s->ip[0] == '\0' ||
           (s->locked_until <= now && now - s->window_start >= OR_LOCKOUT_WINDOW_MS);
}

static slot *find(const char *ip)
{
    for (size_t i = 0; i < OR_LOCKOUT_SLOTS; i++)
        if (slots[i].ip[0] && strncmp(slots[i].ip, ip, sizeof slots[i].ip - 1) == 0)
            return &slots[i];
    return NULL;
}

static slot *claim(const char *ip, uint64_t now)
{
    slot *victim = &slots[0];
    for (size_t i = 0; i < OR_LOCKOUT_SLOTS; i++) {
        if (stale(&slots[i], now)) {
            victim = &slots[i];
            break;
        }
        if (slots[i].window_start < victim->window_start)
            victim = &slots[i];
    }
    memset(victim, 0, sizeof *victim);
    strncpy(victim->ip, ip, sizeof victim->ip - 1);
    victim->window_start = now;
    return victim;
}

unsigned or_lockout_wait_s(const char *ip)
{
    uint64_t now = or_clock_mono_ms();
    unsigned wait = 0;
    pthread_mutex_lock(&mu);
    const slot *s = find(ip ? ip : "");
    if (s && s->locked_until > now)
        wait = (unsigned)((s->locked_until - now + 999) / 1000);
    pthread_mutex_unlock(&mu);
    return wait;
}

void or_lockout_fail(const char *ip)
{
    uint64_t now = or_clock_mono_ms();
    pthread_mutex_lock(&mu);
    slot *s = find(ip ? ip : "");
    if (s && stale(s, now)) {
        s->fails = 0;
        s->window_start = now;
        s->locked_until = 0;
    }
    if (!s)
        s = claim(ip ? ip : "", now);
    if (++s->fails >= OR_LOCKOUT_MAX_FAILS && s->locked_until <= now)
        s->locked_until = now + OR_LOCKOUT_WINDOW_MS;
    pthread_mutex_unlock(&mu);
}

void or_lockout_clear(const char *ip)
{
    pthread_mutex_lock(&mu);
    slot *s = find(ip ? ip : "");
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&mu);
}

void or_lockout_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(slots, 0, sizeof slots);
    pthread_mutex_unlock(&mu);
}
