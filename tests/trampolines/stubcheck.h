/* An independent check of a relocated stub: every instruction does what
 * its original did (same bytes, RIP-relative operands and branch targets
 * resolving to the same absolute addresses), then a jump back follows.
 * Used by the relocator tests, the hook tests, and meant for a fuzz target. */
#ifndef TRAMP_STUBCHECK_H
#define TRAMP_STUBCHECK_H

#include <stddef.h>
#include <stdint.h>

/* orig: the original bytes at orig_addr, of which consumed were moved;
 * stub: stub_len bytes at stub_addr.  Returns 0, or -1 with the first
 * difference in why. */
int tramp_check_stub(const uint8_t *orig, size_t consumed, uint64_t orig_addr,
                     const uint8_t *stub, size_t stub_len, uint64_t stub_addr,
                     char *why, size_t whylen);

/* Prints expected and got side by side, offset by offset, marking the
 * bytes that differ. */
void tramp_print_diff(const uint8_t *want, size_t nwant, const uint8_t *got,
                      size_t ngot);

/* shunt_hook_install, then checks what it did: the entry starts with
 * jmp rel32, and the stub equals byte for byte a fresh relocation of the
 * saved entry at the stub's address, and passes tramp_check_stub.
 * Returns what shunt_hook_install returned, or 1 (why says) if the hook is
 * in but wrong. */
int tramp_hook_checked(void *fn, void *detour, void **original, char *why,
                       size_t whylen);

/* The /proc/self/maps line of the mapping holding addr, as if the page
 * holding addr were a mapping of its own ("start-end perms offset dev
 * inode path", bounds and file offset those of the page, no newline; cut
 * to cap - 1 bytes): 0, or -1 if addr is not mapped.  For comparing a
 * page before and after a hook: an mprotect there and back may leave the
 * kernel's mapping split, which changes the line but not the page. */
int tramp_maps_line(const void *addr, char *line, size_t cap);

#endif
