/* An arena of separately allocated blocks freed together: what a parsed
 * document (YAML nodes), a scenario or a case's run spec owns. */
#ifndef SHUNT_ARENA_H
#define SHUNT_ARENA_H

#include <stddef.h>

typedef struct {
    void **p;
    size_t n, cap;
} shunt_arena_t;

/* Takes p (from malloc) into the arena and returns it; NULL when p is
 * NULL or cannot be recorded (p is freed then). */
void *shunt_arena_keep(shunt_arena_t *a, void *p);
/* calloc(n, size) (at least one element) kept in the arena. */
void *shunt_arena_zalloc(shunt_arena_t *a, size_t n, size_t size);
/* strdup(s) kept in the arena. */
char *shunt_arena_strdup(shunt_arena_t *a, const char *s);
/* Frees every block and the arena's list; a is empty after. */
void shunt_arena_release(shunt_arena_t *a);

#endif
