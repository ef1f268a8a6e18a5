/* The engine's one way of failing with a reason (tramp.h). */
#include "tramp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int shunt_why(int ret, char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return ret;
}

/* No strerror: it may load a message catalogue through hooked calls. */
const char *shunt_errname(int e)
{
    const char *s = strerrorname_np(e);
    return s ? s : "unknown errno";
}
