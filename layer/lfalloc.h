/* The layer's allocator (lfalloc.c): lock-free, async-signal-safe and
 * fork-safe; memory from raw mmap/mprotect/munmap (layer_sys).  alloc.c
 * routes the layer's malloc/calloc/realloc/free to it and says why.
 * Pure code with raw syscalls: linked into a unit test (tests/layer). */
#ifndef SHUNT_LAYER_LFALLOC_H
#define SHUNT_LAYER_LFALLOC_H

#include <stddef.h>

/* As malloc/calloc/realloc/free: NULL and errno ENOMEM on failure;
 * 16-byte aligned; realloc(p, 0) frees p and returns NULL (glibc's way);
 * a pointer the allocator did not give is left alone by free. */
void *shunt_al_malloc(size_t n);
void *shunt_al_calloc(size_t n, size_t size);
void *shunt_al_realloc(void *p, size_t n);
void shunt_al_free(void *p);

/* Figures for the benchmark and the tests: bytes of address space taken
 * from the kernel for small blocks (chunks) and held in large mappings. */
typedef struct {
    size_t chunk_bytes;
    size_t large_bytes;
    size_t arena_bytes; /* the reservation the chunks come from */
} shunt_al_stats_t;
void shunt_al_stats(shunt_al_stats_t *s);

#endif
