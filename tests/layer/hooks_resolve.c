/* layer.hooks_resolve: every entry of layer/hooks.def resolves in this libc
 * (optional ones are reported, not failed), and aliases that share an
 * address are noted; the layer's own lookup (layer/libcsym.c, which the
 * installer uses instead of dlsym) gives exactly what dlsym/dlvsym give. */
#include "libcsym.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define H_OPT 1
#define H_PRIV 2
#define H_FIND 4

static const struct {
    const char *name;
    const char *of;
    int flags;
} table[] = {
#define HOOK(name, ret, params, flags) {#name, NULL, flags},
#define ALIAS(name, of, flags) {#name, #of, flags},
#include "hooks.def"
#undef HOOK
#undef ALIAS
};

int main(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (!libc) {
        fprintf(stderr, "libc.so.6 not loaded: %s\n", dlerror());
        return 1;
    }
    int missing = 0, optional = 0;
    size_t n = sizeof(table) / sizeof(table[0]);
    for (size_t i = 0; i < n; i++) {
        if (table[i].flags & H_FIND) {
            printf("%-20s not exported: located at run time\n", table[i].name);
            continue;
        }
        void *a = (table[i].flags & H_PRIV)
                      ? dlvsym(libc, table[i].name, "GLIBC_PRIVATE")
                      : dlsym(libc, table[i].name);
        void *own = shunt_libc_sym(
            table[i].name, (table[i].flags & H_PRIV) ? "GLIBC_PRIVATE" : NULL);
        if (own != a) {
            fprintf(stderr, "MISMATCH %s: dlsym %p, shunt_libc_sym %p\n",
                    table[i].name, a, own);
            missing++;
        }
        if (!a) {
            if (table[i].flags & H_OPT) {
                printf("optional %s: not in this libc\n", table[i].name);
                optional++;
            } else {
                fprintf(stderr, "MISSING %s\n", table[i].name);
                missing++;
            }
            continue;
        }
        if (table[i].of) {
            void *b = dlsym(libc, table[i].of);
            printf("%-20s %p%s\n", table[i].name, a,
                   a == b ? " (same function as its alias target)" : "");
        } else {
            printf("%-20s %p\n", table[i].name, a);
        }
    }
    printf("%zu entries, %d missing, %d optional absent\n", n, missing, optional);
    return missing ? 1 : 0;
}
