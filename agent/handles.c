/* Per-client handle table: numbers for open files, directories, streams. */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Generations use the bits above the slot: 1..GEN_MAX. */
#define GEN_MAX ((1u << (32u - HANDLE_SLOT_BITS)) - 1u)

int htab_init(htable_t *t, uint32_t limit, uint32_t tag)
{
    memset(t, 0, sizeof(*t));
    t->limit = limit;
    t->tag = tag % GEN_MAX + 1;
    t->free_head = -1;
    return 0;
}

int htab_alloc(htable_t *t, handle_t **h, uint32_t *num)
{
    if (t->used >= t->limit)
        return -EMFILE;
    uint32_t slot;
    if (t->free_head >= 0) {
        slot = (uint32_t)t->free_head;
        t->free_head = t->v[slot].fd;
    } else {
        if (t->cap == t->used) {
            uint32_t ncap = t->cap ? t->cap * 2 : 16;
            if (ncap > t->limit)
                ncap = t->limit;
            handle_t *nv = realloc(t->v, ncap * sizeof(*nv));
            if (!nv)
                return -ENOMEM;
            memset(nv + t->cap, 0, (ncap - t->cap) * sizeof(*nv));
            t->v = nv;
            t->cap = ncap;
        }
        slot = t->used; /* no free slot: every slot below used is live */
    }
    t->used++;
    handle_t *e = &t->v[slot];
    /* A never-used slot starts at the client's tag; a reused one moves on. */
    uint32_t gen = e->gen ? e->gen % GEN_MAX + 1 : t->tag;
    memset(e, 0, sizeof(*e));
    e->fd = -1;
    e->gen = gen;
    *h = e;
    *num = (gen << HANDLE_SLOT_BITS) | (slot + 1);
    return 0;
}

/* The live slot that num names, or NULL. */
static handle_t *lookup(htable_t *t, uint32_t num)
{
    uint32_t slot = (num & ((1u << HANDLE_SLOT_BITS) - 1)) - 1;
    if (slot >= t->cap)
        return NULL;
    handle_t *h = &t->v[slot];
    if (h->kind == H_FREE || h->gen != num >> HANDLE_SLOT_BITS)
        return NULL;
    return h;
}

handle_t *htab_get(htable_t *t, uint32_t num, unsigned kinds)
{
    handle_t *h = lookup(t, num);
    return h && (kinds & HK(h->kind)) ? h : NULL;
}

void htab_release(htable_t *t, uint32_t num)
{
    handle_t *h = lookup(t, num);
    if (!h)
        return;
    uint32_t slot = (uint32_t)(h - t->v);
    uint32_t gen = h->gen;
    free(h->path);
    free(h->dbuf);
    memset(h, 0, sizeof(*h));
    h->gen = gen;
    h->kind = H_FREE;
    h->fd = t->free_head;
    t->free_head = (int)slot;
    t->used--;
}

void htab_free(htable_t *t)
{
    for (uint32_t i = 0; i < t->cap; i++) {
        if (t->v[i].kind != H_FREE) {
            free(t->v[i].path);
            free(t->v[i].dbuf);
        }
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
    t->free_head = -1;
}
