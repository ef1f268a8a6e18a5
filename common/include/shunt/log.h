/* Levelled logging to stderr or a file; never to stdout. */
#ifndef SHUNT_LOG_H
#define SHUNT_LOG_H

#include <stdarg.h>

typedef enum {
    SHUNT_LOG_ERROR = 0,
    SHUNT_LOG_WARN = 1,
    SHUNT_LOG_INFO = 2,
    SHUNT_LOG_DEBUG = 3,
    SHUNT_LOG_TRACE = 4,
} shunt_log_level_t;

/* Component name printed on every line ("agent", "proxy", "harness"). */
void shunt_log_init(const char *component, shunt_log_level_t level, int fd);
void shunt_log_set_level(shunt_log_level_t level);
shunt_log_level_t shunt_log_get_level(void);
/* Parses "error", "warn", "info", "debug", "trace"; returns -1 if unknown. */
int shunt_log_parse_level(const char *s);

void shunt_log(shunt_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_ERROR(...) shunt_log(SHUNT_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) shunt_log(SHUNT_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) shunt_log(SHUNT_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                                     \
    do {                                                                   \
        if (shunt_log_get_level() >= SHUNT_LOG_DEBUG)                      \
            shunt_log(SHUNT_LOG_DEBUG, __VA_ARGS__);                       \
    } while (0)
#define LOG_TRACE(...)                                                     \
    do {                                                                   \
        if (shunt_log_get_level() >= SHUNT_LOG_TRACE)                      \
            shunt_log(SHUNT_LOG_TRACE, __VA_ARGS__);                       \
    } while (0)

#endif
