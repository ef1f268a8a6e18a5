/* A pool of executable pages near hook targets, for stubs and detour
 * thunks.  Pages are found in the gaps of /proc/self/maps nearest the
 * target and claimed with MAP_FIXED_NOREPLACE; the caller holds the hook
 * mutex, so the pool itself needs no lock. */
#include "tramp.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define POOL_PAGES 128
#define USER_LOW 0x10000ull         /* vm.mmap_min_addr's usual value */
#define USER_HIGH 0x7ffffffff000ull /* top of a 47-bit address space */
#define KEEP_FREE (128ull << 20)    /* left free above [heap], below [stack] */

typedef struct {
    uint64_t base;
    size_t used;
    bool exec; /* holds committed code: other threads may be running it */
    bool open; /* RWX until the batch ends */
} page_t;

static page_t pool[POOL_PAGES];
static size_t npool;
static int reserved = -1;
static bool batch; /* inside shunt_near_batch_begin/end */

static uint64_t dist(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

static bool near_enough(uint64_t a, size_t n, uint64_t near)
{
    return dist(a, near) <= SHUNT_NEAR_RANGE &&
           dist(a + n, near) <= SHUNT_NEAR_RANGE;
}

typedef struct {
    uint64_t near;
    uint64_t prev_end;
    bool prev_heap;
    uint64_t best;
    uint64_t best_dist;
} gap_t;

static void consider(gap_t *g, uint64_t lo, uint64_t hi)
{
    if (lo < USER_LOW)
        lo = USER_LOW;
    if (hi > USER_HIGH)
        hi = USER_HIGH;
    if (hi <= lo || hi - lo < SHUNT_PAGE)
        return;
    uint64_t cand = g->near <= lo                ? lo
                    : g->near >= hi - SHUNT_PAGE ? hi - SHUNT_PAGE
                                                 : g->near & ~(uint64_t)(SHUNT_PAGE - 1);
    if (!near_enough(cand, SHUNT_PAGE, g->near))
        return;
    uint64_t d = dist(cand, g->near);
    if (d < g->best_dist) {
        g->best = cand;
        g->best_dist = d;
    }
}

static int gap_each(const shunt_map_t *m, void *arg)
{
    gap_t *g = arg;
    uint64_t lo = g->prev_end, hi = m->start;
    if (g->prev_heap)
        lo = lo + KEEP_FREE;
    if (m->stack)
        hi = hi > KEEP_FREE ? hi - KEEP_FREE : 0;
    consider(g, lo, hi);
    g->prev_end = m->end;
    g->prev_heap = m->heap;
    return 0;
}

/* A fresh read-write page as near as possible to near. */
static int new_page(uint64_t near, uint64_t *base)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        gap_t g = {near, 0, false, 0, UINT64_MAX};
        int rc = shunt_maps_each(gap_each, &g);
        if (rc < 0)
            return rc;
        consider(&g, g.prev_heap ? g.prev_end + KEEP_FREE : g.prev_end,
                 USER_HIGH);
        if (g.best_dist == UINT64_MAX)
            return -ENOMEM;
        long a = shunt_sys_mmap(g.best, SHUNT_PAGE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS |
                                    MAP_FIXED_NOREPLACE);
        if (a == -EEXIST)
            continue; /* another thread mapped it first: look again */
        if (a < 0 && a > -4096)
            return (int)a;
        if ((uint64_t)a == g.best) {
            *base = g.best;
            return 0;
        }
        /* A kernel before 4.17 takes the flag as a mere hint. */
        shunt_sys_munmap((uint64_t)a, SHUNT_PAGE);
    }
    return -ENOMEM;
}

int shunt_near_reserve(uint64_t near, size_t n, uint64_t *addr)
{
    if (n > SHUNT_NEAR_MAX || reserved >= 0)
        return -EINVAL;
    for (size_t i = 0; i < npool; i++) {
        uint64_t a = pool[i].base + pool[i].used;
        if (pool[i].used + n <= SHUNT_PAGE && near_enough(a, n, near)) {
            reserved = (int)i;
            *addr = a;
            return 0;
        }
    }
    if (npool == POOL_PAGES)
        return -ENOMEM;
    uint64_t base = 0;
    int rc = new_page(near, &base);
    if (rc < 0)
        return rc;
    pool[npool] = (page_t){base, 0, false, false};
    reserved = (int)npool++;
    *addr = base;
    return 0;
}

/* A page that already holds stubs stays executable while it is written
 * (RWX for a moment): other threads may be running those stubs.  In a
 * batch the page is made RWX at its first commit and stays so until
 * shunt_near_batch_end: between two installs a hooked function may run,
 * and its detour calls a stub in this page. */
int shunt_near_commit(uint64_t addr, const uint8_t *bytes, size_t n)
{
    if (reserved < 0)
        return -EINVAL;
    page_t *p = &pool[reserved];
    if (addr != p->base + p->used || n > SHUNT_NEAR_MAX ||
        p->used + n > SHUNT_PAGE)
        return -EINVAL;
    long rc;
    if (batch) {
        if (!p->open) {
            rc = shunt_sys_mprotect(p->base, SHUNT_PAGE,
                                    PROT_READ | PROT_WRITE | PROT_EXEC);
            if (rc < 0)
                return (int)rc;
            p->open = true;
        }
        memcpy((void *)(uintptr_t)addr, bytes, n);
        p->exec = true;
        p->used += (n + 15) & ~(size_t)15;
        reserved = -1;
        return 0;
    }
    if (p->exec) {
        rc = shunt_sys_mprotect(p->base, SHUNT_PAGE,
                                PROT_READ | PROT_WRITE | PROT_EXEC);
        if (rc < 0)
            return (int)rc;
    }
    memcpy((void *)(uintptr_t)addr, bytes, n);
    rc = shunt_sys_mprotect(p->base, SHUNT_PAGE, PROT_READ | PROT_EXEC);
    if (rc < 0)
        return (int)rc;
    p->exec = true;
    p->open = false;
    p->used += (n + 15) & ~(size_t)15;
    reserved = -1;
    return 0;
}

void shunt_near_cancel(uint64_t addr)
{
    (void)addr;
    reserved = -1;
}

void shunt_near_batch_begin(void) { batch = true; }

int shunt_near_batch_end(uint64_t *page)
{
    int err = 0;
    for (size_t i = 0; i < npool; i++) {
        if (!pool[i].open)
            continue;
        long rc = shunt_sys_mprotect(pool[i].base, SHUNT_PAGE,
                                     PROT_READ | PROT_EXEC);
        if (rc < 0) {
            if (!err) {
                err = (int)rc;
                *page = pool[i].base;
            }
            continue; /* still RWX: a later batch tries again */
        }
        pool[i].open = false;
    }
    batch = false;
    return err;
}
