/* The layer's snprintf/vsnprintf: integers, strings, characters and
 * pointers, formatted without a lock, an allocation or the locale.
 *
 * Like malloc in alloc.c, these definitions are hidden, so every
 * snprintf/vsnprintf of the layer and of the static libraries linked into
 * it binds here.  glibc's is not async-signal-safe: it allocates for wide
 * widths and precisions, positional arguments and floating point, and
 * calls functions a program registered with register_printf_function; the
 * layer formats log lines and paths inside hooks a signal handler may
 * call.  Conversions: d i u x X o c s p %, flags - 0 # + space, width and
 * precision (numbers or *), lengths hh h l ll z j t, with glibc's output
 * (tests/layer/test_fmt.c compares the two).  Anything else (floating
 * point, %n, %m, positional arguments) is copied to the output as written
 * and consumes no argument: the layer never uses them.  Capstone is given
 * this vsnprintf too (alloc.c). */
#include "fmt.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void put(out_t *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void puts_n(out_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(o, s[i]);
}

static void pad(out_t *o, char c, long n)
{
    while (n-- > 0)
        put(o, c);
}

typedef struct {
    int left, zero, alt, plus, space;
    long width, prec; /* prec < 0: none */
} spec_t;

static void field(out_t *o, const spec_t *sp, const char *s, size_t n)
{
    long padn = sp->width - (long)n;
    if (!sp->left)
        pad(o, ' ', padn);
    puts_n(o, s, n);
    if (sp->left)
        pad(o, ' ', padn);
}

/* v: magnitude; sign: '-', '+', ' ' or 0; base 8, 10 or 16 */
static void number(out_t *o, const spec_t *sp, uintmax_t v, char sign,
                   unsigned base, int upper)
{
    const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char d[32];
    int nd = 0;
    while (v) {
        d[nd++] = dig[v % base];
        v /= base;
    }
    long zeros = sp->prec > nd ? sp->prec - nd : 0;
    if (sp->prec < 0 && nd == 0)
        zeros = 1; /* a plain 0 */
    char pre[3];
    int np = 0;
    if (sign)
        pre[np++] = sign;
    if (sp->alt && base == 16 && nd) {
        pre[np++] = '0';
        pre[np++] = upper ? 'X' : 'x';
    }
    if (sp->alt && base == 8 && zeros == 0 && (nd == 0 || d[nd - 1] != '0'))
        zeros = 1;
    long body = np + zeros + nd;
    long padn = sp->width > body ? sp->width - body : 0;
    if (!sp->left && !(sp->zero && sp->prec < 0))
        pad(o, ' ', padn);
    puts_n(o, pre, (size_t)np);
    if (!sp->left && sp->zero && sp->prec < 0)
        pad(o, '0', padn);
    pad(o, '0', zeros);
    while (nd)
        put(o, d[--nd]);
    if (sp->left)
        pad(o, ' ', padn);
}

static long digits(const char **f)
{
    long n = 0;
    while (**f >= '0' && **f <= '9') {
        if (n < 100000)
            n = n * 10 + (**f - '0');
        (*f)++;
    }
    return n;
}

int shunt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    out_t o = {buf, cap, 0};
    va_list a;
    va_copy(a, ap);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        const char *start = f++;
        spec_t sp = {0, 0, 0, 0, 0, 0, -1};
        for (;; f++) {
            if (*f == '-')
                sp.left = 1;
            else if (*f == '0')
                sp.zero = 1;
            else if (*f == '#')
                sp.alt = 1;
            else if (*f == '+')
                sp.plus = 1;
            else if (*f == ' ')
                sp.space = 1;
            else
                break;
        }
        if (*f == '*') {
            int w = va_arg(a, int);
            if (w < 0) {
                sp.left = 1;
                w = w == INT_MIN ? INT_MAX : -w;
            }
            sp.width = w;
            f++;
        } else {
            sp.width = digits(&f);
        }
        if (*f == '.') {
            f++;
            if (*f == '*') {
                int p = va_arg(a, int);
                sp.prec = p < 0 ? -1 : p;
                f++;
            } else {
                sp.prec = digits(&f);
            }
        }
        int len = 0; /* -2 hh, -1 h, 0, 1 l, 2 ll, 3 z, 4 j, 5 t */
        if (f[0] == 'h' && f[1] == 'h')
            len = -2, f += 2;
        else if (f[0] == 'l' && f[1] == 'l')
            len = 2, f += 2;
        else if (*f == 'h')
            len = -1, f++;
        else if (*f == 'l')
            len = 1, f++;
        else if (*f == 'z')
            len = 3, f++;
        else if (*f == 'j')
            len = 4, f++;
        else if (*f == 't')
            len = 5, f++;
        switch (*f) {
        case '%':
            put(&o, '%');
            break;
        case 'c': {
            char c = (char)va_arg(a, int);
            field(&o, &sp, &c, 1);
            break;
        }
        case 's': {
            const char *s = va_arg(a, const char *);
            if (!s)
                s = sp.prec < 0 || sp.prec >= 6 ? "(null)" : "";
            size_t n = sp.prec >= 0 ? strnlen(s, (size_t)sp.prec) : strlen(s);
            field(&o, &sp, s, n);
            break;
        }
        case 'p': {
            void *p = va_arg(a, void *);
            if (!p) {
                sp.prec = -1;
                field(&o, &sp, "(nil)", 5);
            } else {
                sp.alt = 1;
                number(&o, &sp, (uintptr_t)p, sp.plus ? '+' : sp.space ? ' ' : 0,
                       16, 0);
            }
            break;
        }
        case 'd':
        case 'i': {
            intmax_t v;
            switch (len) {
            case -2: v = (signed char)va_arg(a, int); break;
            case -1: v = (short)va_arg(a, int); break;
            case 1: v = va_arg(a, long); break;
            case 2: v = va_arg(a, long long); break;
            case 3: v = (intmax_t)va_arg(a, ssize_t); break;
            case 4: v = va_arg(a, intmax_t); break;
            case 5: v = va_arg(a, ptrdiff_t); break;
            default: v = va_arg(a, int);
            }
            uintmax_t m = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
            char sign = v < 0 ? '-' : sp.plus ? '+' : sp.space ? ' ' : 0;
            number(&o, &sp, m, sign, 10, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uintmax_t v;
            switch (len) {
            case -2: v = (unsigned char)va_arg(a, unsigned); break;
            case -1: v = (unsigned short)va_arg(a, unsigned); break;
            case 1: v = va_arg(a, unsigned long); break;
            case 2: v = va_arg(a, unsigned long long); break;
            case 3: v = va_arg(a, size_t); break;
            case 4: v = va_arg(a, uintmax_t); break;
            case 5: v = (uintmax_t)va_arg(a, ptrdiff_t); break;
            default: v = va_arg(a, unsigned);
            }
            unsigned base = *f == 'u' ? 10 : *f == 'o' ? 8 : 16;
            number(&o, &sp, v, 0, base, *f == 'X');
            break;
        }
        default: /* not supported: copied as written */
            if (!*f) {
                puts_n(&o, start, (size_t)(f - start));
                f--;
            } else {
                puts_n(&o, start, (size_t)(f - start) + 1);
            }
        }
    }
    va_end(a);
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len > INT_MAX ? -1 : (int)o.len;
}

int shunt_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = shunt_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

#ifndef SHUNT_FMT_NO_LIBC_NAMES /* the unit test compares with glibc's */
int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    return shunt_vsnprintf(buf, cap, fmt, ap);
}

int snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = shunt_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
#endif
