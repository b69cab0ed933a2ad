/*
 * log.h — leveled logging to stderr, one line per event.
 *
 * Thread-safe (one fprintf per line). Never pass secrets. Level from OMNIROUTE_LOG
 * (error|warn|info|debug), default info.
 */
#ifndef OR_CORE_LOG_H
#define OR_CORE_LOG_H

typedef enum { OR_LOG_ERROR, OR_LOG_WARN, OR_LOG_INFO, OR_LOG_DEBUG } or_log_level;

void or_log_init_from_env(void);
int or_log_enabled(or_log_level lvl);
void or_log(or_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define or_log_error(...) or_log(OR_LOG_ERROR, __VA_ARGS__)
#define or_log_warn(...) or_log(OR_LOG_WARN, __VA_ARGS__)
#define or_log_info(...) or_log(OR_LOG_INFO, __VA_ARGS__)
#define or_log_debug(...)                                                                          \
    do {                                                                                           \
        if (or_log_enabled(OR_LOG_DEBUG))                                                          \
            or_log(OR_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
