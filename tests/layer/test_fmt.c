/* Unit test of the layer's formatter (layer/fmt.c): every supported
 * conversion, flag, width, precision and length against glibc's snprintf,
 * truncation and the return value included; unsupported conversions are
 * copied as written. */
#include "fmt.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

static int failures, cases;
/* truncation: a size the compiler cannot see (no -Wformat-truncation) */
static volatile size_t small = 7;
static const char *volatile nul; /* NULL, unknown to the compiler */

#define SAME(fmt, ...)                                                     \
    do {                                                                   \
        char a[256], b[256];                                               \
        memset(a, 'A', sizeof(a));                                         \
        memset(b, 'A', sizeof(b));                                         \
        int ra = shunt_snprintf(a, sizeof(a), fmt, __VA_ARGS__);           \
        int rb = snprintf(b, sizeof(b), fmt, __VA_ARGS__);                 \
        char ta[7], tb[7];                                                 \
        int sa = shunt_snprintf(ta, small, fmt, __VA_ARGS__);              \
        int sb = snprintf(tb, small, fmt, __VA_ARGS__);                    \
        cases++;                                                           \
        if (ra != rb || strcmp(a, b) != 0 || sa != sb ||                   \
            strcmp(ta, tb) != 0) {                                         \
            fprintf(stderr, "%s:%d: \"%s\": layer \"%s\" (%d), glibc \"%s\" (%d)\n", \
                    __FILE__, __LINE__, fmt, a, ra, b, rb);                \
            failures++;                                                    \
        }                                                                  \
    } while (0)

int main(void)
{
    SAME("%s", "plain");
    SAME("no conversion%s", "");
    SAME("%d %i %u", -42, 17, 3000000000u);
    SAME("%d %d", INT_MIN, INT_MAX);
    SAME("%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX);
    SAME("%zu %zd %jd %td", (size_t)123456789, (ssize_t)-5, (intmax_t)-7,
         (ptrdiff_t)-9);
    SAME("%hhd %hhu %hd %hu", (signed char)-5, (unsigned char)250, (short)-30000,
         (unsigned short)65000);
    SAME("%x %X %o %#x %#X %#o", 0xbeefu, 0xbeefu, 0755u, 0xbeefu, 0xbeefu, 0755u);
    SAME("%#x %#o %#llx %#lx", 0u, 0u, 0ull, 0x7ffful);
    SAME("%02x %04x %08x %016llx %02d %03d", 5u, 0xabu, 0x1234u, 0x1ull, 7, -7);
    SAME("[%5d] [%-5d] [%05d] [%+d] [% d] [%+5d] [%-+5d]", 42, 42, -42, 42, 42, 42, 42);
    SAME("[%.3d] [%8.3d] [%-8.3d] [%.0d] [%.0x] [%5.0d]", 5, -5, 5, 0, 0u, 0);
    SAME("[%*d] [%-*d] [%*d] [%.*d]", 6, 1, 6, 2, -6, 3, 4, 9);
    SAME("[%10s] [%-10s] [%.3s] [%10.2s] [%.*s] [%.*s]", "abc", "abc", "abcdef",
         "abcdef", 2, "xyz", -1, "xyz");
    SAME("[%.100s]", "a string shorter than its precision");
    SAME("[%s] [%.3s] [%10s]", nul, nul, nul);
    SAME("[%c] [%3c] [%-3c]", 'x', 'y', 'z');
    SAME("[%p] [%20p] [%-20p] [%p]", (void *)0x7fff1234, (void *)0x10, (void *)0x10,
         (void *)NULL);
    SAME("100%% [%5s%%]", "x");
    SAME("shunt[%ld/%ld] %s: open %s: %s (fd %d, handle %u, %zu bytes)", 1234L,
         1240L, "warn", "/srv/data/a file", "No such file", 7, 0xfffffffeu,
         (size_t)99);
    SAME("%s", "a line far longer than the truncated buffer of seven bytes");
    /* unsupported: copied, no argument consumed */
    char u[64];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    int n = shunt_snprintf(u, sizeof(u), "%f|%d|%", 5);
#pragma GCC diagnostic pop
    cases++;
    if (strcmp(u, "%f|5|%") != 0 || n != 6) {
        fprintf(stderr, "unsupported conversions: \"%s\" (%d)\n", u, n);
        failures++;
    }
    /* cap 0 writes nothing, says the length */
    cases++;
    if (shunt_snprintf(NULL, 0, "%d-%s", 12, "ab") != 5) {
        fprintf(stderr, "cap 0: wrong length\n");
        failures++;
    }
    if (failures) {
        fprintf(stderr, "test_fmt: %d of %d case(s) differ from glibc\n",
                failures, cases);
        return 1;
    }
    printf("test_fmt: %d cases as glibc formats them\n", cases);
    return 0;
}
