/* The installer: relocates a target's entry into a near stub, then
 * replaces the entry with a 5-byte jmp rel32 to the detour (or to a near
 * thunk that jumps to it), written so that no thread executes a torn
 * instruction. */
#include "shunt/hook.h"
#include "tramp.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
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

static int fail(int err, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int err, char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* No strerror: it may load a message catalogue through hooked calls. */
static const char *errname(int e)
{
    const char *s = strerrorname_np(e);
    return s ? s : "unknown errno";
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
static int store_patch(uint64_t t, const uint8_t patch[PATCH_LEN])
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
            return fail((int)rc, why, whylen,
                        "mprotect(0x%llx, RWX) refused: %s",
                        (unsigned long long)first, errname((int)-rc));
    }
    store_patch(t, patch);
    if (!writable)
        shunt_sys_mprotect(first, len, m->prot); /* the hook is in: keep it */
    return 0;
}

static bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

static int install_locked(uint64_t t, uint64_t detour, void **original,
                          char *why, size_t whylen)
{
    for (size_t i = 0; i < nhooks; i++) {
        if (hooks[i].target == t)
            return fail(-EEXIST, why, whylen, "0x%llx is already hooked",
                        (unsigned long long)t);
        if (hooks[i].target < t + PATCH_LEN && t < hooks[i].target + PATCH_LEN)
            return fail(-EBUSY, why, whylen,
                        "0x%llx overlaps the hook at 0x%llx",
                        (unsigned long long)t,
                        (unsigned long long)hooks[i].target);
    }
    if (nhooks == MAX_HOOKS)
        return fail(-ENOSPC, why, whylen, "more than %d hooks", MAX_HOOKS);

    shunt_map_t m;
    int rc = shunt_maps_find(t, &m);
    if (rc < 0)
        return fail(rc, why, whylen, "0x%llx is not mapped",
                    (unsigned long long)t);
    if (!(m.prot & PROT_EXEC) || !(m.prot & PROT_READ))
        return fail(-EINVAL, why, whylen,
                    "0x%llx is not in a readable executable mapping",
                    (unsigned long long)t);
    if (t + PATCH_LEN > m.end)
        return fail(-ENOTSUP, why, whylen,
                    "0x%llx is too close to the end of its mapping",
                    (unsigned long long)t);
    if ((t & 63) == 63)
        return fail(-ENOTSUP, why, whylen,
                    "entry 0x%llx is the last byte of a cache line: the jmp "
                    "cannot be written atomically",
                    (unsigned long long)t);
    size_t code_len = m.end - t < SCAN_LEN ? (size_t)(m.end - t) : SCAN_LEN;

    uint64_t slot;
    if ((rc = shunt_near_reserve(t, SHUNT_NEAR_MAX, &slot)) < 0)
        return fail(rc, why, whylen,
                    "no executable page free within 2 GiB of 0x%llx: %s",
                    (unsigned long long)t, errname(-rc));

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
        return fail(rc, why, whylen, "cannot write the stub: %s",
                    errname(-rc));
    }

    uint8_t patch[PATCH_LEN] = {0xE9};
    int32_t rel = (int32_t)(int64_t)(to - (t + PATCH_LEN));
    memcpy(patch + 1, &rel, 4);
    void *old = *original;
    /* The detour may run as soon as the jmp is visible: publish first. */
    __atomic_store_n(original, (void *)(uintptr_t)(slot + off), __ATOMIC_RELEASE);
    if ((rc = write_patch(t, &m, patch, why, whylen)) < 0) {
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
        return fail(-EINVAL, why, whylen, "bad arguments");
    pthread_mutex_lock(&lock);
    int rc = install_locked((uint64_t)(uintptr_t)target,
                            (uint64_t)(uintptr_t)detour, original, why, whylen);
    pthread_mutex_unlock(&lock);
    return rc;
}
