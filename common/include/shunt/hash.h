/* A running FNV-1a hash of fields (shunt_fnv1a_field: each field's length
 * goes in first), for the target config hash (cfghash.c) and the program
 * cache key (build.c). */
#ifndef SHUNT_HARNESS_HASH_H
#define SHUNT_HARNESS_HASH_H

#include "shunt/util.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t h; /* start from SHUNT_FNV_OFFSET */
} hash_t;

static inline void hbytes(hash_t *h, const void *p, size_t n)
{
    h->h = shunt_fnv1a_field(h->h, p, n);
}

/* NULL hashes as "". */
static inline void hstr(hash_t *h, const char *s)
{
    hbytes(h, s ? s : "", s ? strlen(s) : 0);
}

static inline void hint(hash_t *h, long long v) { hbytes(h, &v, sizeof(v)); }

#endif
