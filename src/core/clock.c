#include "core/clock.h"

#include <stddef.h>
#include <time.h>

static uint64_t os_mono(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t os_wall(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const or_clock_source os_source = {os_mono, os_wall, NULL};
static const or_clock_source *current = &os_source;

uint64_t or_clock_mono_ms(void)
{
    return current->mono_ms(current->ud);
}

int64_t or_clock_wall_ms(void)
{
    return current->wall_ms(current->ud);
}

void or_clock_set(const or_clock_source *src)
{
    current = src ? src : &os_source;
}
