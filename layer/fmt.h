/* The layer's formatter (fmt.c): snprintf without locks, allocation or
 * locale.  Pure code: linked into a unit test (tests/layer/test_fmt.c). */
#ifndef SHUNT_LAYER_FMT_H
#define SHUNT_LAYER_FMT_H

#include <stdarg.h>
#include <stddef.h>

int shunt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int shunt_snprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
