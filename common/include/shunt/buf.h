/* A growable text buffer: always NUL-terminated once anything was put;
 * an allocation failure sets oom and makes every later put a no-op, so
 * callers check once, at the end. */
#ifndef SHUNT_BUF_H
#define SHUNT_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *p;    /* NULL until the first put */
    size_t len; /* bytes in p, not counting the NUL */
    size_t cap;
    int oom;
} shunt_buf_t;

void shunt_buf_put(shunt_buf_t *b, const void *s, size_t n);
void shunt_buf_puts(shunt_buf_t *b, const char *s);
void shunt_buf_printf(shunt_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void shunt_buf_vprintf(shunt_buf_t *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Hands over the text (b is empty after): "" when nothing was put, NULL
 * (and the text freed) after an allocation failure. */
char *shunt_buf_take(shunt_buf_t *b);
void shunt_buf_free(shunt_buf_t *b);

#endif
