/* Hooks on an fd's data: read/write families, lseek, ftruncate, fsync and
 * getdents64.  Only forwarded remote files (and directories) are served
 * here: a snapshot is a real memfd and goes to the original. */
#include "hooks.h"
#include "layer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

/* The rfile of fd when its I/O must be served by the layer, else NULL. */
static shunt_rfile_t *served(int fd)
{
    if (LAYER_BYPASS())
        return NULL;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (f && (f->kind == SHUNT_RF_FWD || f->kind == SHUNT_RF_DIR))
        return f;
    shunt_rfile_unref(f);
    return NULL;
}

/* What the kernel answers at once for an I/O call on an O_PATH fd. */
#define OPATH_EBADF(f)                                                    \
    do {                                                                  \
        if ((f)->oflags & O_PATH)                                         \
            return -EBADF;                                                \
    } while (0)

/* A read is the target's: the agent reads its own fd, opened with the
 * program's flags, so a directory answers EISDIR (or EINVAL at a position
 * its file system refuses), a FIFO's pread ESPIPE, a read of 0 bytes
 * whatever the kernel checks first.  Only what holds for every file is
 * answered here. */
static long fwd_read(shunt_rfile_t *f, void *buf, size_t n, off_t off,
                     int positional)
{
    if (positional && off < 0)
        return -EINVAL;
    OPATH_EBADF(f);
    if ((f->oflags & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    uint32_t max = shunt_rpc_data_max();
    uint32_t cnt = n > max ? max : (uint32_t)n;
    shunt_msg_t m;
    long r;
    if (positional) {
        shunt_pread_t q = {.handle = f->handle, .count = cnt, .offset = off};
        r = shunt_rpc(SHUNT_T_PREAD, &q, &m);
    } else {
        shunt_read_t q = {.handle = f->handle, .count = cnt};
        r = shunt_rpc(SHUNT_T_READ, &q, &m);
    }
    if (r < 0)
        return r;
    size_t got = m.u.data_r.data.len > cnt ? cnt : m.u.data_r.data.len;
    memcpy(buf, m.u.data_r.data.p, got);
    return (long)got;
}

static long fwd_write(shunt_rfile_t *f, const void *buf, size_t n, off_t off,
                      int positional)
{
    if (positional && off < 0)
        return -EINVAL;
    OPATH_EBADF(f);
    if (f->kind == SHUNT_RF_DIR || (f->oflags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    uint32_t max = shunt_rpc_data_max();
    size_t done = 0;
    do {
        size_t cnt = n - done > max ? max : n - done;
        shunt_msg_t m;
        long r;
        if (positional) {
            shunt_pwrite_t q = {.handle = f->handle,
                                .offset = off + (off_t)done,
                                .data = shunt_bytes((const uint8_t *)buf + done, cnt)};
            r = shunt_rpc(SHUNT_T_PWRITE, &q, &m);
        } else {
            shunt_write_t q = {.handle = f->handle,
                               .data = shunt_bytes((const uint8_t *)buf + done, cnt)};
            r = shunt_rpc(SHUNT_T_WRITE, &q, &m);
        }
        if (r < 0) {
            if (done)
                rfile_changed(&f->st);
            return done ? (long)done : r;
        }
        done += (size_t)r;
        if ((size_t)r < cnt)
            break;
    } while (done < n);
    if (done)
        rfile_changed(&f->st);
    return (long)done;
}

/* readv/writev and friends: one element after the other, stopping at a
 * short transfer (as a regular file would only do at EOF / disk full). */
static long fwd_iov(shunt_rfile_t *f, const struct iovec *iov, int cnt,
                    off_t off, int positional, int is_write)
{
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    long total = 0;
    for (int i = 0; i < cnt; i++) {
        if (!iov[i].iov_len)
            continue;
        long r = is_write
                     ? fwd_write(f, iov[i].iov_base, iov[i].iov_len,
                                 off + total, positional)
                     : fwd_read(f, iov[i].iov_base, iov[i].iov_len,
                                off + total, positional);
        if (r < 0)
            return total ? total : r;
        total += r;
        if ((size_t)r < iov[i].iov_len)
            break;
    }
    return total;
}

/* An fd hook: the check for an fd that is not the layer's is all the
 * detour does inline (then the original, under the guard); serving a
 * remote fd is a separate, cold function. */
#define FD_HOOK(ret, name, params, args, expr)                            \
    FD_HOOK_PRE(ret, name, params, args, (void)0, expr)
/* pre: a statement run first on the slow path (an inotify read). */
#define FD_HOOK_PRE(ret, name, params, args, pre, expr)                   \
    static __attribute__((noinline, cold)) ret slow_##name params         \
    {                                                                     \
        pre;                                                              \
        shunt_rfile_t *f_ = served(fd);                                   \
        if (!f_)                                                          \
            return REAL(name, SHUNT_UNPAREN args);                        \
        int saved_ = errno;                                               \
        LAYER_ENTER();                                                    \
        shunt_rfile_t *f = f_;                                            \
        long r_ = (expr);                                                 \
        shunt_rfile_unref(f_);                                            \
        LAYER_LEAVE();                                                    \
        return (ret)layer_ret(r_, saved_);                                \
    }                                                                     \
    ret hook_##name params                                                \
    {                                                                     \
        if (__builtin_expect(!shunt_fdt_is_ours(fd), 1))                  \
            return REAL(name, SHUNT_UNPAREN args);                        \
        return slow_##name args;                                          \
    }

/* An inotify instance's pipe hands out whole events (layer/inotify.c). */
#define INOTIFY_READ                                                      \
    do {                                                                  \
        ssize_t ir_;                                                      \
        if (layer_inotify_read(fd, buf, n, &ir_))                         \
            return ir_;                                                   \
    } while (0)

FD_HOOK_PRE(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n),
            INOTIFY_READ, fwd_read(f, buf, n, 0, 0))

FD_HOOK_PRE(ssize_t, __read_nocancel, (int fd, void *buf, size_t n),
            (fd, buf, n), INOTIFY_READ, fwd_read(f, buf, n, 0, 0))

FD_HOOK(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt),
        fwd_iov(f, iov, cnt, 0, 0, 0))

FD_HOOK(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off),
        fwd_read(f, buf, n, off, 1))

FD_HOOK(ssize_t, __pread64_nocancel, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off),
        fwd_read(f, buf, n, off, 1))

FD_HOOK(ssize_t, preadv, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off),
        fwd_iov(f, iov, cnt, off, 1, 0))

FD_HOOK(ssize_t, preadv2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags), (fd, iov, cnt, off, flags),
        fwd_iov(f, iov, cnt, off, off != -1, 0))

FD_HOOK(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n),
        fwd_write(f, buf, n, 0, 0))

FD_HOOK(ssize_t, __write_nocancel, (int fd, const void *buf, size_t n), (fd, buf, n),
        fwd_write(f, buf, n, 0, 0))

FD_HOOK(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt),
        fwd_iov(f, iov, cnt, 0, 0, 1))

FD_HOOK(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off),
        fwd_write(f, buf, n, off, 1))

FD_HOOK(ssize_t, pwritev, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off),
        fwd_iov(f, iov, cnt, off, 1, 1))

FD_HOOK(ssize_t, pwritev2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags), (fd, iov, cnt, off, flags),
        fwd_iov(f, iov, cnt, off, off != -1, 1))

static void dir_drop_pending(shunt_rfile_t *f)
{
    while (atomic_flag_test_and_set(&f->lock))
        __builtin_ia32_pause();
    free(f->pend);
    f->pend = NULL;
    f->pend_len = f->pend_off = 0;
    f->eof = 0;
    atomic_flag_clear(&f->lock);
}

static long fwd_lseek(shunt_rfile_t *f, off_t off, int whence)
{
    OPATH_EBADF(f);
    shunt_lseek_t q = {.handle = f->handle, .offset = off, .whence = whence};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_LSEEK, &q, &m);
    if (r >= 0 && f->kind == SHUNT_RF_DIR)
        dir_drop_pending(f);
    return r;
}

FD_HOOK(off_t, lseek, (int fd, off_t off, int whence), (fd, off, whence),
        fwd_lseek(f, off, whence))

static long fwd_ftruncate(shunt_rfile_t *f, off_t len)
{
    /* The agent's fd answers the rest: EINVAL for a directory, a FIFO, a
     * read-only fd or a negative length, EFBIG, EPERM (append-only)... */
    OPATH_EBADF(f);
    shunt_ftruncate_t q = {.handle = f->handle, .length = len};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_FTRUNCATE, &q, &m);
    if (r == 0)
        rfile_changed(&f->st);
    return r;
}

FD_HOOK(int, ftruncate, (int fd, off_t len), (fd, len),
        fwd_ftruncate(f, len))

static long fwd_fsync(shunt_rfile_t *f, int datasync)
{
    OPATH_EBADF(f);
    shunt_fsync_t q = {.handle = f->handle, .datasync = (uint8_t)datasync};
    shunt_msg_t m;
    return shunt_rpc(SHUNT_T_FSYNC, &q, &m);
}

FD_HOOK(int, fsync, (int fd), (fd), fwd_fsync(f, 0))

FD_HOOK(int, fdatasync, (int fd), (fd), fwd_fsync(f, 1))

/* ---- copy_file_range, sendfile ------------------------------------------
 * The kernel would move bytes between the placeholders themselves: when
 * either side is forwarded, copy through the layer instead (one chunk per
 * call; a short count is legal and callers loop). */
static shunt_rfile_t *fwd_of(int fd)
{
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (f && (f->kind == SHUNT_RF_FWD || f->kind == SHUNT_RF_DIR))
        return f;
    shunt_rfile_unref(f);
    return NULL;
}

static long copy_through(shunt_rfile_t *fi, int in, off_t *offin,
                         shunt_rfile_t *fo, int out, off_t *offout, size_t len)
{
    size_t chunk = len > (256u << 10) ? (256u << 10) : len;
    if (chunk == 0)
        return 0;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    long n;
    if (fi)
        n = fwd_read(fi, buf, chunk, offin ? *offin : 0, offin != NULL);
    else {
        n = offin ? REAL(pread, in, buf, chunk, *offin) : REAL(read, in, buf, chunk);
        if (n < 0)
            n = -errno;
    }
    long w = n;
    if (n > 0) {
        if (fo)
            w = fwd_write(fo, buf, (size_t)n, offout ? *offout : 0,
                          offout != NULL);
        else {
            w = offout ? REAL(pwrite, out, buf, (size_t)n, *offout)
                       : REAL(write, out, buf, (size_t)n);
            if (w < 0)
                w = -errno;
        }
        if (w >= 0 && w < n && !offin) { /* give back what was not written */
            if (fi)
                fwd_lseek(fi, w - n, SEEK_CUR);
            else
                REAL(lseek, in, w - n, SEEK_CUR);
        }
    }
    free(buf);
    if (w > 0) {
        if (offin)
            *offin += w;
        if (offout)
            *offout += w;
    }
    return w;
}

static long copy_common(int in, off_t *offin, int out, off_t *offout,
                        size_t len, int *served_out)
{
    *served_out = 0;
    if (LAYER_BYPASS() ||
        (!shunt_fdt_is_ours(in) && !shunt_fdt_is_ours(out)))
        return 0;
    shunt_rfile_t *fi = fwd_of(in), *fo = fwd_of(out);
    long r = 0;
    if (fi || fo) {
        *served_out = 1;
        LAYER_ENTER();
        r = copy_through(fi, in, offin, fo, out, offout, len);
        LAYER_LEAVE();
    }
    shunt_rfile_unref(fi);
    shunt_rfile_unref(fo);
    return r;
}

ssize_t hook_copy_file_range(int in, off_t *offin, int out, off_t *offout,
                             size_t len, unsigned int flags)
{
    int saved = errno, done;
    long r = copy_common(in, offin, out, offout, len, &done);
    if (done)
        return layer_ret(r, saved);
    ssize_t n = REAL(copy_file_range, in, offin, out, offout, len, flags);
    if (n < 0 && errno == EXDEV && !LAYER_BYPASS() &&
        (shunt_fdt_is_ours(in) || shunt_fdt_is_ours(out))) {
        /* A snapshot lives on tmpfs: where the program's own file system
         * would have allowed the copy, copy through the layer. */
        LAYER_ENTER();
        r = copy_through(NULL, in, offin, NULL, out, offout, len);
        LAYER_LEAVE();
        return layer_ret(r, saved);
    }
    return n;
}

ssize_t hook_sendfile(int out, int in, off_t *offset, size_t count)
{
    int saved = errno, done;
    long r = copy_common(in, offset, out, NULL, count, &done);
    if (!done)
        return REAL(sendfile, out, in, offset, count);
    return layer_ret(r, saved);
}

/* ---- getdents64 ---------------------------------------------------------- */
struct ldirent64 {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

static size_t reclen_for(size_t namelen)
{
    return (offsetof(struct ldirent64, d_name) + namelen + 1 + 7) & ~(size_t)7;
}

/* The directory's canonical path in the target into buf when it differs
 * from the lexical one the policy saw at open (a symlink on the way, as
 * /fuzz/abslink -> /fuzz/sub), else NULL.  The reply of the RPC is copied
 * out: the next RPC reuses its buffer. */
static const char *dir_canon(const shunt_rfile_t *f, char *buf, size_t len)
{
    shunt_realpath_t q = {.dirh = (int32_t)f->handle, .path = shunt_str(".")};
    shunt_msg_t m;
    if (shunt_rpc(SHUNT_T_REALPATH, &q, &m) < 0)
        return NULL;
    size_t n = m.u.readlink_r.target.len;
    if (n == 0 || n + 1 > len || m.u.readlink_r.target.p[0] != '/')
        return NULL;
    memcpy(buf, m.u.readlink_r.target.p, n);
    buf[n] = '\0';
    return f->path && strcmp(buf, f->path) == 0 ? NULL : buf;
}

/* Whether a listing of f leaves out entry name: the policy says it is
 * not_found under the directory's lexical path or its canonical one. */
static int dir_hides(const shunt_rfile_t *f, const char *canon,
                     const shunt_str_t *name)
{
    return layer_entry_hidden(f->path, (const char *)name->p, name->len) ||
           (canon && layer_entry_hidden(canon, (const char *)name->p,
                                        name->len));
}

/* Fetches the next batch into f->pend (lock held).  Entries whose path the
 * policy says is not_found are left out: such a path does not exist, in a
 * listing either (a batch may so become empty without being the last).
 * The directory's canonical path is asked for first (one REALPATH per
 * batch, only with a not_found list), so that a directory reached through
 * a symlink hides the same entries. */
static long dir_fill(shunt_rfile_t *f)
{
    char cbuf[4096];
    const char *canon = layer_hides_entries()
                            ? dir_canon(f, cbuf, sizeof(cbuf))
                            : NULL;
    shunt_getdents_t q = {.handle = f->handle, .max_entries = 0};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_GETDENTS, &q, &m);
    if (r < 0)
        return r;
    size_t need = 0;
    shunt_list_iter_t it;
    shunt_rec_dirent_t d;
    shunt_list_iter_init(&it, &m.u.dirents_r.entries);
    while (shunt_list_next_rec_dirent(&it, &d) > 0)
        if (!dir_hides(f, canon, &d.name))
            need += reclen_for(d.name.len);
    free(f->pend);
    f->pend = need ? malloc(need) : NULL;
    f->pend_len = f->pend_off = 0;
    if (need && !f->pend)
        return -ENOMEM;
    shunt_list_iter_init(&it, &m.u.dirents_r.entries);
    while (shunt_list_next_rec_dirent(&it, &d) > 0) {
        if (dir_hides(f, canon, &d.name))
            continue;
        struct ldirent64 *e = (struct ldirent64 *)(f->pend + f->pend_len);
        size_t rl = reclen_for(d.name.len);
        memset(e, 0, rl);
        e->d_ino = d.ino;
        e->d_off = d.off;
        e->d_reclen = (uint16_t)rl;
        e->d_type = d.type;
        memcpy(e->d_name, d.name.p, d.name.len);
        f->pend_len += rl;
    }
    f->eof = m.u.dirents_r.eof;
    return 0;
}

static long dir_getdents(shunt_rfile_t *f, void *buf, size_t n)
{
    OPATH_EBADF(f);
    if (f->kind != SHUNT_RF_DIR)
        return -ENOTDIR;
    while (atomic_flag_test_and_set(&f->lock))
        __builtin_ia32_pause();
    long r = 0;
    size_t out = 0;
    for (;;) {
        while (f->pend_off < f->pend_len) {
            struct ldirent64 *e = (struct ldirent64 *)(f->pend + f->pend_off);
            if (out + e->d_reclen > n)
                break;
            memcpy((uint8_t *)buf + out, e, e->d_reclen);
            out += e->d_reclen;
            f->pend_off += e->d_reclen;
        }
        if (out || f->pend_off < f->pend_len || f->eof)
            break;
        r = dir_fill(f);
        if (r < 0)
            break;
        if (f->pend_len == 0 && f->eof)
            break;
    }
    if (!out && r == 0 && f->pend_off < f->pend_len)
        r = -EINVAL; /* the buffer cannot hold one entry */
    atomic_flag_clear(&f->lock);
    return out ? (long)out : r;
}

FD_HOOK(ssize_t, getdents64, (int fd, void *buf, size_t n), (fd, buf, n),
        dir_getdents(f, buf, n))
