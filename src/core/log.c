#include "core/log.h"
#include "core/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static or_log_level threshold = OR_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void or_log_init_from_env(void)
{
    const char *v = getenv("OMNIROUTE_LOG");
    if (!v)
        return;
    for (int i = 0; i < 4; i++)
        if (strcmp(v, level_names[i]) == 0)
            threshold = (or_log_level)i;
}

int or_log_enabled(or_log_level lvl)
{
    return lvl <= threshold;
}

void or_log(or_log_level lvl, const char *fmt, ...)
{
    if (lvl > threshold)
        return;
    char line[1024];
    int64_t now = or_clock_wall_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(now % 1000), level_names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
