/* The layer's own allocator: glibc's, whatever malloc the program uses.
 *
 * These definitions are hidden (the library is built with hidden
 * visibility), so every malloc/free of the layer and of the static
 * libraries linked into it binds here at link time and goes to glibc's
 * allocator through its exported __libc_* entries, never to a malloc the
 * program brings (jemalloc in dig, host, redis-cli; tcmalloc...).  Why:
 *   - such a malloc initialises itself on its first call; when that call is
 *     the layer's, made in its constructor before the hooks are in place
 *     (or with the guard raised), the initialisation's own file accesses
 *     (jemalloc: readlink("/etc/malloc.conf")) run unhooked on this host;
 *     made by the program, they go through the hooks like any other call;
 *   - the layer never runs code of the program's inside its own work.
 * Memory the layer allocates is freed by the layer (freeaddrinfo's hook
 * frees its own lists), and the strings it hands to the program (the
 * environment) are never freed by libc.  strdup/strndup are defined here
 * too: libc's would allocate with the program's malloc and the layer would
 * free with glibc's.  Capstone (libcapstone.so, which the hook engine
 * uses to install the hooks) is given the same allocator. */
#include "layer.h"

#include <capstone/capstone.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void *malloc(size_t n) { return __libc_malloc(n); }

void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }

void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }

void free(void *p) { __libc_free(p); }

char *strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = __libc_malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

char *strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = __libc_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

void shunt_alloc_init(void)
{
    cs_opt_mem mem = {.malloc = malloc,
                      .calloc = calloc,
                      .realloc = realloc,
                      .free = free,
                      .vsnprintf = vsnprintf};
    if (cs_option(0, CS_OPT_MEM, (size_t)&mem) != CS_ERR_OK)
        LOG_WARN("capstone keeps the program's allocator");
}
