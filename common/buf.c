/* The growable text buffer (shunt/buf.h). */
#include "shunt/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; 0, or -1 with oom set. */
static int reserve(shunt_buf_t *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

void shunt_buf_put(shunt_buf_t *b, const void *s, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void shunt_buf_puts(shunt_buf_t *b, const char *s)
{
    shunt_buf_put(b, s, strlen(s));
}

void shunt_buf_vprintf(shunt_buf_t *b, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0 || reserve(b, (size_t)n) < 0)
        return;
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
}

void shunt_buf_printf(shunt_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    shunt_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *shunt_buf_take(shunt_buf_t *b)
{
    char *p = b->p;
    if (b->oom) {
        free(p);
        p = NULL;
    } else if (!p) {
        p = strdup("");
    }
    memset(b, 0, sizeof(*b));
    return p;
}

void shunt_buf_free(shunt_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}
