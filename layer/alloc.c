/* The layer's malloc: its own allocator (lfalloc.c), whatever malloc the
 * program uses.
 *
 * These definitions are hidden (the library is built with hidden
 * visibility), so every malloc/free of the layer and of the static
 * libraries linked into it binds here at link time, never to the malloc
 * the program brings nor to glibc's.  Why not the program's (jemalloc in
 * dig, host, redis-cli; tcmalloc...):
 *   - such a malloc initialises itself on its first call; when that call is
 *     the layer's, made in its constructor before the hooks are in place
 *     (or with the guard raised), the initialisation's own file accesses
 *     (jemalloc: readlink("/etc/malloc.conf")) run unhooked on this host;
 *     made by the program, they go through the hooks like any other call;
 *   - the layer never runs code of the program's inside its own work.
 * Why not glibc's (__libc_malloc, used until issue 13 §2): it takes an
 * arena lock.  A signal handler that interrupts the program's own malloc
 * or free and then opens or stats a remote path would make the layer wait
 * on the lock its own thread holds, forever; libc's open() and stat() are
 * async-signal-safe and the layer's must be too.  lfalloc.c takes no lock
 * at all, so it is also safe in a forked child and in a handler that lands
 * inside the layer's own allocation.
 * Memory the layer allocates is freed by the layer (freeaddrinfo's hook
 * frees its own lists), and the strings it hands to the program (the
 * environment) are never freed by libc.  strdup/strndup are defined here
 * too: libc's would allocate with the program's malloc and the layer would
 * free with its own.  Capstone (libcapstone.so, which the hook engine
 * uses to install the hooks) is given the same allocator.
 *
 * Built with SHUNT_ALLOC_GLIBC (bench/alloc-run only: the baseline of
 * bench/alloc_bench.c) the layer allocates with glibc's as before. */
#include "layer.h"
#include "lfalloc.h"
#include "shunt/insn.h"

#include <capstone/capstone.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SHUNT_ALLOC_GLIBC
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
#define AL_MALLOC __libc_malloc
#define AL_CALLOC __libc_calloc
#define AL_REALLOC __libc_realloc
#define AL_FREE __libc_free
#else
#define AL_MALLOC shunt_al_malloc
#define AL_CALLOC shunt_al_calloc
#define AL_REALLOC shunt_al_realloc
#define AL_FREE shunt_al_free
#endif

void *malloc(size_t n) { return AL_MALLOC(n); }

void *calloc(size_t n, size_t size) { return AL_CALLOC(n, size); }

void *realloc(void *p, size_t n) { return AL_REALLOC(p, n); }

void free(void *p) { AL_FREE(p); }

char *strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = AL_MALLOC(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

char *strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = AL_MALLOC(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* capstone's printer: nothing while the engine decodes for itself (its
 * text is never read then, shunt/insn.h), the layer's own formatter
 * otherwise (a program that uses capstone itself gets its text). */
__attribute__((format(printf, 3, 0))) static int
cs_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    if (shunt_insn_quiet) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    return vsnprintf(buf, cap, fmt, ap);
}

void shunt_alloc_init(void)
{
    cs_opt_mem mem = {.malloc = malloc,
                      .calloc = calloc,
                      .realloc = realloc,
                      .free = free,
                      .vsnprintf = cs_vsnprintf};
    if (cs_option(0, CS_OPT_MEM, (size_t)&mem) != CS_ERR_OK)
        LOG_WARN("capstone keeps the program's allocator");
}

/* Memory the program will free() itself (getcwd(NULL, ...)) must come from
 * the program's malloc, whichever it is: the first global "malloc" in the
 * lookup order (the executable's, a preloaded jemalloc, then libc's; the
 * layer's own is hidden and never found).  Only called from a hook about to
 * return to the program, outside the layer's guard, where libc's own call
 * would allocate too. */
void *shunt_program_malloc(size_t n)
{
    static void *(*volatile prog_malloc)(size_t);
    void *(*fn)(size_t) = prog_malloc;
    if (!fn) {
        fn = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
        if (!fn) {
            errno = ENOMEM;
            return NULL;
        }
        prog_malloc = fn;
    }
    return fn(n);
}
