/* Private to trampolines/: jump encoding, raw syscalls, /proc/self/maps
 * and the pool of executable pages near hook targets. */
#ifndef SHUNT_TRAMP_H
#define SHUNT_TRAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine's one way of failing with a reason (why.c): writes the
 * reason (printf-style) into why when why is not NULL, and returns ret. */
int shunt_why(int ret, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* errno's name ("ENOENT") for a reason: not strerror, which may load a
 * message catalogue through hooked calls. */
const char *shunt_errname(int e);

/* jmp qword [rip+0]; .quad target */
#define SHUNT_ABS_JMP_LEN 14
#define SHUNT_PAGE 4096u

/* Writes a jump to target for code living at out_addr: jmp rel32 when it
 * reaches, else the 14-byte absolute form.  Returns its length or -1. */
int shunt_emit_jmp(uint8_t *out, size_t cap, uint64_t out_addr,
                   uint64_t target);

/* Raw system calls: the engine runs while the layer is hooking open, read,
 * mmap and friends, so it never calls them through libc.  -errno on error. */
long shunt_sys_openat(int dirfd, const char *path, int flags);
long shunt_sys_read(int fd, void *buf, size_t n);
long shunt_sys_close(int fd);
long shunt_sys_mprotect(uint64_t addr, size_t len, int prot);
long shunt_sys_mmap(uint64_t addr, size_t len, int prot, int flags);
long shunt_sys_munmap(uint64_t addr, size_t len);
long shunt_sys_membarrier(int cmd);

/* One line of /proc/self/maps. */
typedef struct {
    uint64_t start, end;
    int prot;   /* PROT_READ | PROT_WRITE | PROT_EXEC */
    bool heap;  /* [heap]: brk grows it upwards */
    bool stack; /* [stack] */
} shunt_map_t;

/* Calls fn for each mapping in address order until it returns nonzero;
 * returns that value, 0 at the end, or -errno. */
int shunt_maps_each(int (*fn)(const shunt_map_t *m, void *arg), void *arg);

/* The mapping holding addr, joined with the contiguous mappings around it
 * that have the same protection: 0, or -ENOENT / -errno. */
int shunt_maps_find(uint64_t addr, shunt_map_t *m);

/* Room for n bytes (n <= SHUNT_NEAR_MAX) of executable memory whose every
 * byte is within SHUNT_NEAR_RANGE of near.  *addr gets the address; the
 * bytes are not written yet.  0 or -errno. */
#define SHUNT_NEAR_MAX 256u
#define SHUNT_NEAR_RANGE 0x7FF00000ull /* 2 GiB less 1 MiB of slack */
int shunt_near_reserve(uint64_t near, size_t n, uint64_t *addr);
/* Writes the n bytes reserved at addr, then makes them executable;
 * shrinks the reservation to n bytes.  0 or -errno. */
int shunt_near_commit(uint64_t addr, const uint8_t *bytes, size_t n);
/* Gives back a reservation that was not committed. */
void shunt_near_cancel(uint64_t addr);
/* Between these, a page written by shunt_near_commit is made RWX once and
 * stays so; end makes every such page RX again: 0, or the first -errno
 * with that page's address in *page. */
void shunt_near_batch_begin(void);
int shunt_near_batch_end(uint64_t *page);

#endif
