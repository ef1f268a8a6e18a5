/* The installer: relocates a target's entry into a near stub, then
 * replaces the entry with a 5-byte jmp rel32 to the detour (or to a near
 * thunk that jumps to it), written so that no thread executes a torn
 * instruction. */
#include "shunt/hook.h"
#include "tramp.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define PATCH_LEN 5
#define MAX_HOOKS 1024
#define SCAN_LEN 512 /* bytes after the entry searched for loops into it */

typedef struct {
    uint64_t target;
    uint64_t stub;
} hook_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static hook_t hooks[MAX_HOOKS];
static size_t nhooks;

/* A batch (shunt_hook_batch_begin/end): the thread in batch_owner holds
 * the mutex throughout.  Targets are looked up in one snapshot of the
 * executable runs of /proc/self/maps; target pages made writable are
 * remembered with their protection and restored at the end; cores are
 * synchronised once, at the end. */
#define SNAP_MAX 512  /* executable runs kept from the snapshot */
#define TOUCH_MAX 512 /* target pages left writable until the end */

typedef struct {
    uint64_t page;
    int prot; /* before the batch */
} touched_t;

static struct {
    bool on;
    bool snap_ok; /* else targets are looked up live */
    size_t nsnap;
    shunt_map_t snap[SNAP_MAX];
    size_t ntouched;
    touched_t touched[TOUCH_MAX];
    size_t patched;
} batch;
/* pthread_self() of the batch's thread, 0 when none.  Only that thread
 * ever finds its own id here, so the others' racy reads are harmless. */
static uintptr_t batch_owner;

static bool batch_mine(void)
{
    return __atomic_load_n(&batch_owner, __ATOMIC_RELAXED) ==
           (uintptr_t)pthread_self();
}

/* Plain x86 stores are atomic when they do not cross a cache line; an
 * instruction fetch on another core sees the line before or after. */
static void store8(uint64_t at, uint64_t v)
{
    __asm__ volatile("movq %1, (%0)" : : "r"(at), "r"(v) : "memory");
}

static void store2(uint64_t at, uint16_t v)
{
    __asm__ volatile("movw %1, (%0)" : : "r"(at), "r"(v) : "memory");
}

/* Makes every thread of the process execute a serializing instruction
 * before it runs user code again, so none keeps executing bytes it fetched
 * before the last store (the cross-modifying-code rule of the Intel SDM,
 * 8.1.3).  Registered once; a kernel before 4.16 has no such command and
 * the patch then relies on cache coherence alone. */
static void sync_cores(void)
{
    static int state; /* 0 unknown, 1 registered, -1 unavailable */
    if (state == 0)
        state = shunt_sys_membarrier(
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) == 0
                    ? 1
                    : -1;
    if (state == 1)
        shunt_sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE);
}

/* Writes the 5 patch bytes at t so that a thread entering the function
 * meanwhile runs either the old entry or the new jmp:
 * - if an 8-byte window inside one cache line covers them, one 8-byte
 *   store (aligned when t % 8 <= 3) replaces them together with the 3
 *   bytes around them, rewritten unchanged;
 * - if they cross a cache line but their first two bytes do not, "jmp $"
 *   (EB FE) parks entering threads, the last three bytes are written,
 *   then the first two become E9 and the low byte of rel32, with every
 *   core serialized between the steps (no core may run the new first
 *   line with a stale second one);
 * - if the entry is the last byte of a line, it is refused. */
static int store_patch(uint64_t t, const uint8_t patch[PATCH_LEN],
                       bool sync_last)
{
    uint64_t line = t & ~(uint64_t)63;
    if (t - line <= 64 - PATCH_LEN) {
        uint64_t w = (t & 7) <= 8 - PATCH_LEN ? t & ~(uint64_t)7
                     : t < line + 56          ? t
                                              : line + 56;
        uint8_t q[8];
        memcpy(q, (const void *)(uintptr_t)w, 8);
        memcpy(q + (t - w), patch, PATCH_LEN);
        uint64_t v;
        memcpy(&v, q, 8);
        store8(w, v);
        if (sync_last)
            sync_cores();
        return 0;
    }
    if (t - line == 63)
        return -1;
    store2(t, 0xFEEB); /* jmp $ */
    sync_cores();
    memcpy((void *)(uintptr_t)(t + 2), patch + 2, PATCH_LEN - 2);
    sync_cores();
    store2(t, (uint16_t)(patch[0] | patch[1] << 8));
    if (sync_last)
        sync_cores();
    return 0;
}

static int write_patch(uint64_t t, const shunt_map_t *m,
                       const uint8_t patch[PATCH_LEN], char *why,
                       size_t whylen)
{
    uint64_t first = t & ~(uint64_t)(SHUNT_PAGE - 1);
    uint64_t last = (t + PATCH_LEN - 1) & ~(uint64_t)(SHUNT_PAGE - 1);
    size_t len = (size_t)(last - first) + SHUNT_PAGE;
    /* The page stays executable while it is written: other threads run
     * the rest of it (all of libc's hot code may share the page). */
    bool writable = m->prot & PROT_WRITE;
    if (!writable) {
        long rc = shunt_sys_mprotect(first, len, m->prot | PROT_WRITE);
        if (rc < 0)
            return shunt_why((int)rc, why, whylen,
                        "mprotect(0x%llx, RWX) refused: %s",
                        (unsigned long long)first, shunt_errname((int)-rc));
    }
    store_patch(t, patch, true);
    if (!writable)
        shunt_sys_mprotect(first, len, m->prot); /* the hook is in: keep it */
    return 0;
}

static bool batch_touched(uint64_t page)
{
    for (size_t i = 0; i < batch.ntouched; i++)
        if (batch.touched[i].page == page)
            return true;
    return false;
}

/* write_patch in a batch: each page is made writable once and recorded
 * with its protection for shunt_hook_batch_end (when the record is full,
 * a page is restored right after the store, as outside a batch); the last
 * sync_cores() is left to the end of the batch.  Until then a core that
 * fetched the old bytes runs the old entry, which is still correct. */
static int write_patch_batch(uint64_t t, const shunt_map_t *m,
                             const uint8_t patch[PATCH_LEN], char *why,
                             size_t whylen)
{
    uint64_t first = t & ~(uint64_t)(SHUNT_PAGE - 1);
    uint64_t last = (t + PATCH_LEN - 1) & ~(uint64_t)(SHUNT_PAGE - 1);
    uint64_t now[2]; /* made writable for this store only */
    size_t nnow = 0;
    if (!(m->prot & PROT_WRITE)) {
        for (uint64_t p = first; p <= last; p += SHUNT_PAGE) {
            if (batch_touched(p))
                continue;
            long rc = shunt_sys_mprotect(p, SHUNT_PAGE, m->prot | PROT_WRITE);
            if (rc < 0) {
                for (size_t i = 0; i < nnow; i++)
                    shunt_sys_mprotect(now[i], SHUNT_PAGE, m->prot);
                return shunt_why((int)rc, why, whylen,
                            "mprotect(0x%llx, RWX) refused: %s",
                            (unsigned long long)p, shunt_errname((int)-rc));
            }
            if (batch.ntouched < TOUCH_MAX)
                batch.touched[batch.ntouched++] = (touched_t){p, m->prot};
            else
                now[nnow++] = p;
        }
    }
    store_patch(t, patch, false);
    batch.patched++;
    for (size_t i = 0; i < nnow; i++)
        shunt_sys_mprotect(now[i], SHUNT_PAGE, m->prot);
    return 0;
}

/* The run of executable mappings holding t: from the batch's snapshot
 * when there is one (the batch's own mprotects are not in it: it keeps
 * the protection from before), else from a live read. */
static int find_mapping(uint64_t t, shunt_map_t *m)
{
    if (batch.on && batch.snap_ok)
        for (size_t i = 0; i < batch.nsnap; i++)
            if (t >= batch.snap[i].start && t < batch.snap[i].end) {
                *m = batch.snap[i];
                return 0;
            }
    return shunt_maps_find(t, m);
}

/* Joins contiguous mappings with the same protection, as shunt_maps_find
 * does, and keeps the executable runs. */
static int snap_each(const shunt_map_t *m, void *arg)
{
    (void)arg;
    shunt_map_t *prev = batch.nsnap ? &batch.snap[batch.nsnap - 1] : NULL;
    if (!(m->prot & PROT_EXEC))
        return 0;
    if (prev && prev->end == m->start && prev->prot == m->prot) {
        prev->end = m->end;
        return 0;
    }
    if (batch.nsnap == SNAP_MAX)
        return -E2BIG;
    batch.snap[batch.nsnap++] = *m;
    return 0;
}

static bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

static int install_locked(uint64_t t, uint64_t detour, void **original,
                          char *why, size_t whylen)
{
    for (size_t i = 0; i < nhooks; i++) {
        if (hooks[i].target == t)
            return shunt_why(-EEXIST, why, whylen, "0x%llx is already hooked",
                        (unsigned long long)t);
        if (hooks[i].target < t + PATCH_LEN && t < hooks[i].target + PATCH_LEN)
            return shunt_why(-EBUSY, why, whylen,
                        "0x%llx overlaps the hook at 0x%llx",
                        (unsigned long long)t,
                        (unsigned long long)hooks[i].target);
    }
    if (nhooks == MAX_HOOKS)
        return shunt_why(-ENOSPC, why, whylen, "more than %d hooks", MAX_HOOKS);

    shunt_map_t m;
    int rc = find_mapping(t, &m);
    if (rc < 0)
        return shunt_why(rc, why, whylen, "0x%llx is not mapped",
                    (unsigned long long)t);
    if (!(m.prot & PROT_EXEC) || !(m.prot & PROT_READ))
        return shunt_why(-EINVAL, why, whylen,
                    "0x%llx is not in a readable executable mapping",
                    (unsigned long long)t);
    if (t + PATCH_LEN > m.end)
        return shunt_why(-ENOTSUP, why, whylen,
                    "0x%llx is too close to the end of its mapping",
                    (unsigned long long)t);
    if ((t & 63) == 63)
        return shunt_why(-ENOTSUP, why, whylen,
                    "entry 0x%llx is the last byte of a cache line: the jmp "
                    "cannot be written atomically",
                    (unsigned long long)t);
    size_t code_len = m.end - t < SCAN_LEN ? (size_t)(m.end - t) : SCAN_LEN;

    uint64_t slot;
    if ((rc = shunt_near_reserve(t, SHUNT_NEAR_MAX, &slot)) < 0)
        return shunt_why(rc, why, whylen,
                    "no executable page free within 2 GiB of 0x%llx: %s",
                    (unsigned long long)t, shunt_errname(-rc));

    /* [thunk: jmp qword [rip+0]; .quad detour, padded to 16] stub */
    uint8_t buf[SHUNT_NEAR_MAX];
    size_t off = 0;
    uint64_t to = detour;
    if (!fits32((int64_t)(detour - (t + PATCH_LEN)))) {
        off = 16;
        to = slot;
        memset(buf, 0xCC, off);
        shunt_emit_jmp(buf, off, slot, detour);
    }
    shunt_reloc_t r;
    if (shunt_relocate((const uint8_t *)(uintptr_t)t, code_len, t, PATCH_LEN,
                       buf + off, sizeof buf - off, slot + off, &r, why,
                       whylen) < 0) {
        shunt_near_cancel(slot);
        return -ENOTSUP;
    }
    if ((rc = shunt_near_commit(slot, buf, off + r.out_len)) < 0) {
        shunt_near_cancel(slot);
        return shunt_why(rc, why, whylen, "cannot write the stub: %s",
                    shunt_errname(-rc));
    }

    uint8_t patch[PATCH_LEN] = {0xE9};
    int32_t rel = (int32_t)(int64_t)(to - (t + PATCH_LEN));
    memcpy(patch + 1, &rel, 4);
    void *old = *original;
    /* The detour may run as soon as the jmp is visible: publish first. */
    __atomic_store_n(original, (void *)(uintptr_t)(slot + off), __ATOMIC_RELEASE);
    rc = batch.on ? write_patch_batch(t, &m, patch, why, whylen)
                  : write_patch(t, &m, patch, why, whylen);
    if (rc < 0) {
        __atomic_store_n(original, old, __ATOMIC_RELEASE);
        return rc;
    }
    hooks[nhooks++] = (hook_t){t, slot + off};
    return 0;
}

int shunt_hook_install(void *target, void *detour, void **original,
                       char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!target || !detour || !original)
        return shunt_why(-EINVAL, why, whylen, "bad arguments");
    bool mine = batch_mine(); /* then the mutex is already ours */
    if (!mine)
        pthread_mutex_lock(&lock);
    int rc = install_locked((uint64_t)(uintptr_t)target,
                            (uint64_t)(uintptr_t)detour, original, why, whylen);
    if (!mine)
        pthread_mutex_unlock(&lock);
    return rc;
}

void shunt_hook_batch_begin(void)
{
    if (batch_mine())
        return; /* not nestable: the batch already open goes on */
    pthread_mutex_lock(&lock);
    __atomic_store_n(&batch_owner, (uintptr_t)pthread_self(),
                     __ATOMIC_RELAXED);
    batch.on = true;
    batch.ntouched = 0;
    batch.patched = 0;
    batch.nsnap = 0;
    /* A mapping not in the snapshot (or any, if it could not be taken
     * whole) is looked up live. */
    batch.snap_ok = shunt_maps_each(snap_each, NULL) == 0;
    shunt_near_batch_begin();
}

/* Sorts the touched pages by address (insertion sort: a few hundred at
 * most, and no qsort callbacks into hooked code) so that runs of pages
 * with the same protection take one mprotect. */
static void sort_touched(void)
{
    for (size_t i = 1; i < batch.ntouched; i++) {
        touched_t x = batch.touched[i];
        size_t j = i;
        for (; j > 0 && batch.touched[j - 1].page > x.page; j--)
            batch.touched[j] = batch.touched[j - 1];
        batch.touched[j] = x;
    }
}

int shunt_hook_batch_end(char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!batch_mine())
        return shunt_why(-EINVAL, why, whylen,
                    "no batch was begun by this thread");
    if (batch.patched)
        sync_cores();
    int err = 0;
    sort_touched();
    for (size_t i = 0; i < batch.ntouched;) {
        size_t j = i + 1;
        while (j < batch.ntouched &&
               batch.touched[j].page ==
                   batch.touched[j - 1].page + SHUNT_PAGE &&
               batch.touched[j].prot == batch.touched[i].prot)
            j++;
        long rc = shunt_sys_mprotect(batch.touched[i].page,
                                     (j - i) * SHUNT_PAGE,
                                     batch.touched[i].prot);
        if (rc < 0 && !err)
            err = shunt_why((int)rc, why, whylen,
                       "cannot restore the protection of 0x%llx (%zu "
                       "pages): %s",
                       (unsigned long long)batch.touched[i].page, j - i,
                       shunt_errname((int)-rc));
        i = j;
    }
    uint64_t page = 0;
    int rc = shunt_near_batch_end(&page);
    if (rc < 0 && !err)
        err = shunt_why(rc, why, whylen,
                   "cannot make the stub page 0x%llx read-execute: %s",
                   (unsigned long long)page, shunt_errname(-rc));
    batch.on = false;
    batch.ntouched = 0;
    __atomic_store_n(&batch_owner, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
    return err;
}
