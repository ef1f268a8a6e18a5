/* The arena (shunt/arena.h). */
#include "shunt/arena.h"

#include <stdlib.h>
#include <string.h>

void *shunt_arena_keep(shunt_arena_t *a, void *p)
{
    if (!p)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **np = realloc(a->p, cap * sizeof(*np));
        if (!np) {
            free(p);
            return NULL;
        }
        a->p = np;
        a->cap = cap;
    }
    a->p[a->n++] = p;
    return p;
}

void *shunt_arena_zalloc(shunt_arena_t *a, size_t n, size_t size)
{
    return shunt_arena_keep(a, calloc(n ? n : 1, size));
}

char *shunt_arena_strdup(shunt_arena_t *a, const char *s)
{
    return shunt_arena_keep(a, strdup(s));
}

void shunt_arena_release(shunt_arena_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof(*a));
}
