/* The layer's allocator: lock-free size classes over a reserved arena,
 * large blocks mapped one by one (docs/hooking.md, "Memory").
 *
 * Why lock-free: a signal handler may call open() at any instant, also
 * while the same thread is inside this allocator (the layer's path hooks
 * resolve with signals deliverable, the fork handlers allocate outside any
 * hook), and a fork may happen while another thread is inside it.  No
 * lock means nothing a handler can wait on forever and nothing a child
 * inherits held; the worst a fork can do is leak the blocks another thread
 * was carving at that instant.
 *
 * Layout.  One region of address space is reserved at the first call
 * (PROT_NONE; 4 GiB, halved until the kernel agrees, so that it costs no
 * commit charge and survives a ulimit -v); chunks (8 blocks of a class,
 * one page to 64 KiB) are cut from it by an atomic bump and made writable
 * with mprotect.  Every block starts with a
 * 16-byte header {magic, class, next}.  A class's free list is a Treiber
 * stack whose head is one 64-bit word, {tag:32, offset:32}: the offset of
 * the first free block in 16-byte units from the arena's base (0 = empty;
 * the first page is never handed out), and a tag bumped by every push and
 * pop, so that a pop whose block was taken and given back in between
 * (ABA) fails its compare-and-swap and retries.  A pop may read the next
 * field of a block another thread has just taken: the arena is never
 * unmapped and the field is written only by push, so the read is harmless
 * and the CAS rejects it.  Blocks above 64 KiB (header included) are
 * mapped directly and unmapped on free; realloc moves them with mremap.
 * Small blocks are never given back to the kernel: the layer's working
 * set is small and steady. */
#include "lfalloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

long layer_sys(long nr, long a, long b, long c, long d, long e, long f);

#define AL_HDR 16
#define AL_SMALL_MAX 65536u /* largest class, header included */
#define AL_NCLS 43          /* 7 of 16-byte steps to 128, 4 per doubling */
#define AL_MAGIC 0x5348414cu
#define AL_LARGE 0xffffu
#define AL_PAGE 4096u
#define AL_CHUNK_MAX 65536u
#define AL_ARENA_MAX (1ull << 32) /* 4 GiB; 16-byte units fit 32 bits */
#define AL_ARENA_MIN (1ull << 24)

typedef struct {
    uint32_t magic;
    uint32_t cls;  /* class, or AL_LARGE */
    uint64_t next; /* free: next block's offset; large: the mapping's length */
} al_hdr_t;

/* arena: base | log2(size) (the base is page-aligned), 0 before the first
 * call.  Racing first calls each reserve; one wins the CAS, the others
 * unmap theirs. */
static uint64_t arena;
static uint64_t arena_top = AL_PAGE; /* the first page: offset 0 = none */
static uint64_t heads[AL_NCLS];
static uint64_t st_chunks, st_large;

static long al_sys(long nr, long a, long b, long c, long d, long e, long f)
{
    return layer_sys(nr, a, b, c, d, e, f);
}

static int sys_failed(long r) { return r < 0 && r > -4096; }

static void *al_map(size_t len, int prot)
{
    long p = al_sys(SYS_mmap, 0, (long)len, prot,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return sys_failed(p) ? NULL : (void *)p;
}

static size_t cls_size(unsigned c)
{
    if (c < 7)
        return (size_t)(c + 2) * 16;
    unsigned p = 7 + (c - 7) / 4, sub = (c - 7) % 4 + 1;
    return ((size_t)1 << p) + sub * ((size_t)1 << (p - 2));
}

/* total: bytes with the header, 17..AL_SMALL_MAX */
static unsigned cls_of(size_t total)
{
    if (total <= 128)
        return (unsigned)((total + 15) / 16) - 2;
    unsigned p = 63u - (unsigned)__builtin_clzll((unsigned long long)total - 1);
    size_t step = (size_t)1 << (p - 2);
    unsigned sub = (unsigned)((total - ((size_t)1 << p) + step - 1) / step);
    return 7 + (p - 7) * 4 + sub - 1;
}

static int arena_get(char **base, uint64_t *size)
{
    uint64_t a = __atomic_load_n(&arena, __ATOMIC_ACQUIRE);
    if (!a) {
        uint64_t sz = AL_ARENA_MAX;
        void *p = NULL;
        while (sz >= AL_ARENA_MIN && !(p = al_map((size_t)sz, PROT_NONE)))
            sz >>= 1;
        if (!p)
            return -1;
        unsigned lg = (unsigned)__builtin_ctzll(sz);
        uint64_t mine = (uint64_t)(uintptr_t)p | lg, zero = 0;
        if (__atomic_compare_exchange_n(&arena, &zero, mine, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            a = mine;
        } else {
            al_sys(SYS_munmap, (long)p, (long)sz, 0, 0, 0, 0);
            a = zero;
        }
    }
    *base = (char *)(uintptr_t)(a & ~(uint64_t)(AL_PAGE - 1));
    *size = 1ull << (a & 63);
    return 0;
}

static void *large_alloc(size_t total)
{
    size_t len = (total + AL_PAGE - 1) & ~(size_t)(AL_PAGE - 1);
    al_hdr_t *h = al_map(len, PROT_READ | PROT_WRITE);
    if (!h)
        return NULL;
    h->magic = AL_MAGIC;
    h->cls = AL_LARGE;
    h->next = len;
    __atomic_add_fetch(&st_large, len, __ATOMIC_RELAXED);
    return (char *)h + AL_HDR;
}

static void push_chain(unsigned c, char *base, al_hdr_t *first,
                       al_hdr_t *last)
{
    uint64_t off = (uint64_t)((char *)first - base) >> 4;
    uint64_t old = __atomic_load_n(&heads[c], __ATOMIC_ACQUIRE), nw;
    do {
        __atomic_store_n(&last->next, old & 0xffffffffu, __ATOMIC_RELAXED);
        nw = ((old >> 32) + 1) << 32 | off;
    } while (!__atomic_compare_exchange_n(&heads[c], &old, nw, 1,
                                          __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
}

static al_hdr_t *pop(unsigned c, char *base)
{
    uint64_t old = __atomic_load_n(&heads[c], __ATOMIC_ACQUIRE), nw;
    al_hdr_t *b;
    do {
        uint64_t off = old & 0xffffffffu;
        if (!off)
            return NULL;
        b = (al_hdr_t *)(base + (off << 4));
        uint64_t next = __atomic_load_n(&b->next, __ATOMIC_RELAXED);
        nw = ((old >> 32) + 1) << 32 | (next & 0xffffffffu);
    } while (!__atomic_compare_exchange_n(&heads[c], &old, nw, 1,
                                          __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE));
    return b;
}

/* A new chunk for class c: the first block for the caller, the rest onto
 * the free list in one push.  NULL when the arena is full. */
static al_hdr_t *refill(unsigned c, char *base, uint64_t size)
{
    size_t bs = cls_size(c);
    size_t chunk = bs * 8; /* 8 blocks, within a page .. 64 KiB */
    if (chunk < AL_PAGE)
        chunk = AL_PAGE;
    if (chunk > AL_CHUNK_MAX)
        chunk = bs > AL_CHUNK_MAX ? bs : AL_CHUNK_MAX;
    chunk = (chunk + AL_PAGE - 1) & ~(size_t)(AL_PAGE - 1);
    uint64_t off = __atomic_fetch_add(&arena_top, chunk, __ATOMIC_RELAXED);
    if (off + chunk > size)
        return NULL;
    char *p = base + off;
    if (sys_failed(al_sys(SYS_mprotect, (long)p, (long)chunk,
                          PROT_READ | PROT_WRITE, 0, 0, 0)))
        return NULL;
    __atomic_add_fetch(&st_chunks, chunk, __ATOMIC_RELAXED);
    size_t nb = chunk / bs;
    for (size_t i = 0; i < nb; i++) {
        al_hdr_t *h = (al_hdr_t *)(p + i * bs);
        h->magic = AL_MAGIC;
        h->cls = c;
        if (i + 1 < nb)
            h->next = (uint64_t)(p + (i + 1) * bs - base) >> 4;
    }
    if (nb > 1)
        push_chain(c, base, (al_hdr_t *)(p + bs),
                   (al_hdr_t *)(p + (nb - 1) * bs));
    return (al_hdr_t *)p;
}

void *shunt_al_malloc(size_t n)
{
    if (n > ((size_t)1 << 46)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = (n ? n : 1) + AL_HDR;
    void *r = NULL;
    if (total > AL_SMALL_MAX) {
        r = large_alloc(total);
    } else {
        char *base;
        uint64_t size;
        if (arena_get(&base, &size) == 0) {
            unsigned c = cls_of(total);
            al_hdr_t *b = pop(c, base);
            if (!b)
                b = refill(c, base, size);
            r = b ? (char *)b + AL_HDR : NULL;
        }
        if (!r) /* the arena is full: a mapping of its own */
            r = large_alloc(total);
    }
    if (!r)
        errno = ENOMEM;
    return r;
}

void *shunt_al_calloc(size_t n, size_t size)
{
    size_t t;
    if (__builtin_mul_overflow(n, size, &t)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = shunt_al_malloc(t);
    if (p)
        memset(p, 0, t);
    return p;
}

static al_hdr_t *hdr_of(void *p)
{
    al_hdr_t *h = (al_hdr_t *)((char *)p - AL_HDR);
    if (h->magic != AL_MAGIC || (h->cls >= AL_NCLS && h->cls != AL_LARGE))
        return NULL;
    return h;
}

void shunt_al_free(void *p)
{
    if (!p)
        return;
    al_hdr_t *h = hdr_of(p);
    if (!h)
        return;
    if (h->cls == AL_LARGE) {
        size_t len = (size_t)h->next;
        __atomic_sub_fetch(&st_large, len, __ATOMIC_RELAXED);
        al_sys(SYS_munmap, (long)h, (long)len, 0, 0, 0, 0);
        return;
    }
    char *base;
    uint64_t size;
    if (arena_get(&base, &size) == 0)
        push_chain(h->cls, base, h, h);
}

void *shunt_al_realloc(void *p, size_t n)
{
    if (!p)
        return shunt_al_malloc(n);
    if (n == 0) {
        shunt_al_free(p);
        return NULL;
    }
    al_hdr_t *h = hdr_of(p);
    if (!h || n > ((size_t)1 << 46)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = n + AL_HDR, cap;
    if (h->cls == AL_LARGE) {
        size_t len = (size_t)h->next;
        cap = len - AL_HDR;
        if (total <= len && total > len / 2)
            return p;
        if (total > AL_SMALL_MAX) {
            size_t nlen = (total + AL_PAGE - 1) & ~(size_t)(AL_PAGE - 1);
            long q = al_sys(SYS_mremap, (long)h, (long)len, (long)nlen,
                            MREMAP_MAYMOVE, 0, 0);
            if (sys_failed(q)) {
                errno = ENOMEM;
                return NULL;
            }
            al_hdr_t *nh = (al_hdr_t *)q;
            nh->next = nlen;
            __atomic_add_fetch(&st_large, nlen - len, __ATOMIC_RELAXED);
            return (char *)nh + AL_HDR;
        }
    } else {
        cap = cls_size(h->cls) - AL_HDR;
        if (n <= cap)
            return p;
    }
    void *q = shunt_al_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, n < cap ? n : cap);
    shunt_al_free(p);
    return q;
}

void shunt_al_stats(shunt_al_stats_t *s)
{
    uint64_t a = __atomic_load_n(&arena, __ATOMIC_ACQUIRE);
    s->chunk_bytes = (size_t)__atomic_load_n(&st_chunks, __ATOMIC_RELAXED);
    s->large_bytes = (size_t)__atomic_load_n(&st_large, __ATOMIC_RELAXED);
    s->arena_bytes = a ? (size_t)1 << (a & 63) : 0;
}
