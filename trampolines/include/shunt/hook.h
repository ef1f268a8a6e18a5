/* Inline hooks on x86_64: a function's entry is patched to jump to a
 * detour, and the overwritten instructions are relocated into a stub that
 * stays callable as the original function. */
#ifndef SHUNT_HOOK_H
#define SHUNT_HOOK_H

#include <stddef.h>
#include <stdint.h>

/* Result of relocating a function's first instructions. */
typedef struct {
    size_t consumed; /* bytes of the original taken (whole instructions) */
    size_t out_len;  /* bytes written to out, including the jump back */
} shunt_reloc_t;

/* Relocates whole instructions from code (which lives at code_addr) until
 * at least min_len bytes are covered, writing an equivalent sequence that
 * will live at out_addr, followed by a jump back to code_addr + consumed.
 * Pure: reads code, writes only out.  Returns 0, or -1 with a reason in
 * why (an instruction it cannot move safely, a branch back into the
 * overwritten bytes, a function shorter than min_len, no room in out). */
int shunt_relocate(const uint8_t *code, size_t code_len, uint64_t code_addr,
                   size_t min_len, uint8_t *out, size_t out_cap,
                   uint64_t out_addr, shunt_reloc_t *res, char *why,
                   size_t whylen);

/* Patches target's entry to jump to detour and sets *original to a stub
 * that runs the original function.  Idempotent per target (a second call
 * for the same address fails with -EEXIST and leaves the first hook).
 * Returns 0 or -errno with a reason in why; on failure nothing is changed
 * and the process runs on.  *original is set before the entry is patched,
 * so a detour that runs at once already finds it.  Thread-safe; uses raw
 * system calls only (never libc's open/read/mmap/mprotect, which the layer
 * may have hooked).  Errors: -EINVAL (arguments; target not in a readable
 * executable mapping), -ENOENT (not mapped), -EEXIST (already hooked),
 * -EBUSY (overlaps another hook's 5 bytes), -ENOTSUP (the entry cannot be
 * moved: the relocator's reason, or an entry on the last byte of a cache
 * line), -ENOMEM (no page free within 2 GiB), -ENOSPC (hook table full),
 * or mprotect's error (e.g. -EACCES where W+X is forbidden). */
int shunt_hook_install(void *target, void *detour, void **original,
                       char *why, size_t whylen);

/* Many installs at the cost of few system calls.  Between begin and end,
 * installs share one /proc/self/maps snapshot (the targets' mappings must
 * not change meanwhile, other than by the batch's own mprotects), pages
 * made writable stay writable (target pages RWX with their old protection
 * recorded; stub pages RWX, since a hooked function may run between two
 * installs and its detour calls a stub), and cores are synchronised once
 * at the end.  Until then a thread may still run a function's old entry,
 * which is correct code.  end restores every page's protection.  Not
 * nestable (a second begin on the same thread is ignored); the installer
 * mutex is held by the calling thread for the whole batch, so other
 * threads calling shunt_hook_install wait for end.  end returns 0, or
 * -errno with a reason in why if a protection could not be restored (the
 * hooks stay in), or -EINVAL if this thread began no batch. */
void shunt_hook_batch_begin(void);
int shunt_hook_batch_end(char *why, size_t whylen);

#endif
