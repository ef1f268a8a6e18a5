/* layer.hooks_resolve: every entry of layer/hooks.def resolves in this libc
 * (optional ones are reported, not failed), and aliases that share an
 * address are noted; the layer's own lookup (layer/libcsym.c, which the
 * installer uses instead of dlsym) gives exactly what dlsym/dlvsym give,
 * for these entries and for every function libc exports under each of its
 * versions (the list from nm -D): the default one, the hidden older ones
 * (posix_spawn@GLIBC_2.2.5) and GLIBC_PRIVATE; NULL for an IFUNC. */
#include "libcsym.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_OPT 1
#define H_PRIV 2
#define H_FIND 4
#define H_NESTED 8

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

/* Every function of libc's dynamic symbol table, as nm -D lists it
 * ("ADDR T name@@VERSION", "ADDR W name@VERSION", "ADDR i name@@VERSION"). */
static int check_all(void *libc)
{
    Dl_info di;
    if (!dladdr(dlsym(libc, "printf"), &di) || !di.dli_fname) {
        fprintf(stderr, "libc's path not found\n");
        return 1;
    }
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", di.dli_fname);
    FILE *p = popen(cmd, "r");
    if (!p) {
        perror("popen nm");
        return 1;
    }
    char line[512];
    int checked = 0, bad = 0;
    while (fgets(line, sizeof(line), p)) {
        char type, sym[400];
        if (sscanf(line, "%*s %c %399s", &type, sym) != 2 ||
            (type != 'T' && type != 'W' && type != 'i'))
            continue;
        char *at = strchr(sym, '@');
        if (!at)
            continue;
        int dflt = at[1] == '@';
        *at = 0;
        const char *ver = at + 1 + dflt;
        void *want = dlvsym(libc, sym, ver);
        void *own = shunt_libc_sym(sym, ver);
        void *want_d = dflt ? dlsym(libc, sym) : NULL;
        void *own_d = dflt ? shunt_libc_sym(sym, NULL) : NULL;
        if (type == 'i') { /* an IFUNC: dlsym calls its resolver; not ours */
            want = want_d = NULL;
        }
        if (own != want || own_d != want_d) {
            fprintf(stderr, "MISMATCH %s@%s: dlvsym %p / %p, shunt_libc_sym %p "
                            "/ %p\n", sym, ver, want, want_d, own, own_d);
            bad++;
        }
        checked++;
    }
    if (pclose(p) != 0 || checked < 1000) {
        fprintf(stderr, "nm -D listed %d functions of %s\n", checked,
                di.dli_fname);
        return 1;
    }
    printf("%d versioned functions of %s: %d mismatches\n", checked,
           di.dli_fname, bad);
    return bad != 0;
}

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
    int bad = check_all(libc);
    return missing || bad ? 1 : 0;
}
