/* mmap of remote fds.  A snapshot is a real memfd holding the content and
 * maps natively.  A forwarded placeholder (write mode, a read-only file
 * above the snapshot size, O_PATH) or a directory placeholder is an empty
 * memfd: mapping it would map nothing, and touching the mapping would kill
 * the program with SIGBUS.  So:
 *   - MAP_PRIVATE of a forwarded regular file up to MAP_COPY_MAX: an
 *     anonymous private mapping filled with the range's remote content
 *     (PREAD).  Private mappings are copy-on-write and POSIX leaves it
 *     unspecified whether later changes of the file show through them, so
 *     the copy is faithful;
 *   - MAP_SHARED, larger ranges, directories and anything else: ENODEV, the
 *     errno of a file system without mmap support (programs such as rg fall
 *     back to read(2); SQLite's WAL index gives SQLITE_IOERR).  A shared
 *     mapping of a file on another machine cannot stay coherent with it. */
#include "hooks.h"
#include "layer.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MAP_COPY_MAX (256ull << 20)

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#define MAP_TYPE_BITS 0x0f

/* The flags of the program's mapping that an anonymous copy keeps. */
#define MAP_KEPT                                                           \
    (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_32BIT | MAP_NORESERVE |         \
     MAP_POPULATE | MAP_LOCKED | MAP_NONBLOCK)

static long fill(uint32_t handle, uint8_t *p, size_t len, off_t off)
{
    uint32_t max = shunt_rpc_data_max();
    size_t done = 0;
    while (done < len) {
        uint32_t cnt = len - done > max ? max : (uint32_t)(len - done);
        shunt_pread_t q = {.handle = handle, .count = cnt,
                           .offset = off + (off_t)done};
        shunt_msg_t m;
        long r = shunt_rpc(SHUNT_T_PREAD, &q, &m);
        if (r < 0)
            return r;
        size_t n = m.u.data_r.data.len > cnt ? cnt : m.u.data_r.data.len;
        memcpy(p + done, m.u.data_r.data.p, n);
        done += n;
        if (n == 0)
            break; /* end of file: the rest stays zero */
    }
    return 0;
}

/* The mapping, or -errno (as a negative value cast to a pointer-sized
 * integer by the caller). */
static long map_remote(shunt_rfile_t *f, void *addr, size_t len, int prot,
                       int flags, off_t off)
{
    int type = flags & MAP_TYPE_BITS;
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
        return -EINVAL;
    if (f->oflags & O_PATH)
        return -EBADF;
    if (f->kind == SHUNT_RF_DIR || !S_ISREG(f->st.mode))
        return -ENODEV;
    if (len == 0 || (off & 4095) || off < 0)
        return -EINVAL;
    if ((f->oflags & O_ACCMODE) == O_WRONLY)
        return -EACCES;
    if (type != MAP_PRIVATE) {
        LOG_DEBUG("mmap MAP_SHARED of remote %s: ENODEV", f->path);
        return -ENODEV;
    }
    if (len > MAP_COPY_MAX) {
        LOG_DEBUG("mmap of %zu bytes of remote %s: above the copy limit, "
                  "ENODEV", len, f->path);
        return -ENODEV;
    }
    void *p = REAL(mmap, addr, len, PROT_READ | PROT_WRITE,
                        (flags & MAP_KEPT) | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    long r = fill(f->handle, p, len, off);
    if (r == 0)
        r = LSYS3(SYS_mprotect, p, len, prot);
    if (r < 0) {
        LSYS2(SYS_munmap, p, len);
        return r;
    }
    return (long)p;
}

static __attribute__((noinline, cold)) void *
slow_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (LAYER_BYPASS())
        return REAL(mmap, addr, len, prot, flags, fd, off);
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || (f->kind != SHUNT_RF_FWD && f->kind != SHUNT_RF_DIR)) {
        shunt_rfile_unref(f); /* snapshots map natively */
        return REAL(mmap, addr, len, prot, flags, fd, off);
    }
    int saved = errno;
    LAYER_ENTER();
    long r = map_remote(f, addr, len, prot, flags, off);
    shunt_rfile_unref(f);
    LAYER_LEAVE();
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return MAP_FAILED;
    }
    errno = saved;
    return (void *)r;
}

void *hook_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd), 1) || (flags & MAP_ANONYMOUS))
        return REAL(mmap, addr, len, prot, flags, fd, off);
    return slow_mmap(addr, len, prot, flags, fd, off);
}
