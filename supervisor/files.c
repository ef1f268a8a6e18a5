/* Files, directories and the current directory under the supervisor
 * (docs/supervisor.md).  Every path is judged by the layer's policy; a
 * local one the kernel would reach as the program named it runs in the
 * kernel (SV_CONTINUE), a remote one is served through the proxy:
 *   - a regular file opened for reading becomes a snapshot memfd named
 *     after its remote stat (the layer's format, shunt/statconv.h), put
 *     into the program with ADDFD: read, mmap, lseek, dup, fork and exec
 *     are the kernel's from then on;
 *   - a directory becomes a memfd named "shunt-dir:STAT" holding its path
 *     and its entries as linux_dirent64 records, which getdents64 serves;
 *     the file position (shared with the program: the same open file
 *     description) is the offset into the records, so lseek, rewinddir
 *     and seekdir are the kernel's too;
 *   - fstat of either reads the stat back from the name: no table of fds
 *     to keep across dup, fork, exec or close. */
#include "sv.h"

#include "shunt/log.h"
#include "shunt/path.h"
#include "shunt/statconv.h"
#include "shunt/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A remote regular file larger than this is refused with EFBIG (the layer
 * forwards such files read by read; the supervisor does not intercept
 * read, docs/supervisor.md). */
#define SV_SNAPSHOT_MAX (1ull << 30)

/* ---- where a path is ----------------------------------------------------- */
/* The remote directory a placeholder fd stands for: its path.  0 or
 * -errno. */
static long dir_path(const sv_call_t *c, int fd, char *out, size_t n)
{
    char link[PATH_MAX];
    long r = sv_fdlink(c, fd, link, sizeof(link));
    if (r < 0)
        return r;
    sv_dir_t d;
    if (sv_dir_get(link, &d, 0) < 0)
        return -EBADF;
    r = strlen(d.path) < n ? 0 : -ENAMETOOLONG;
    if (r == 0)
        strcpy(out, d.path);
    free(d.path);
    return r;
}

static int is_dir_link(const char *link)
{
    return sv_dir_is(link);
}

/* The remote stat of a snapshot memfd or a directory placeholder from its
 * /proc link; 0, or -1 when the fd is none of ours. */
static int memfd_stat(const char *link, shunt_stat_r_t *st, int *writing)
{
    *writing = 0;
    if (shunt_snap_parse(link, st) == 0)
        return 0;
    static const char wr[] = "/memfd:" SV_WR_PREFIX;
    if (strncmp(link, wr, sizeof(wr) - 1) == 0) {
        const char *p = link + sizeof(wr) - 1;
        *writing = 1;
        if (shunt_stat_dec(&p, st) < 0)
            memset(st, 0, sizeof(*st)), st->mode = S_IFREG | 0644;
        return 0;
    }
    sv_dir_t d;
    if (sv_dir_get(link, &d, 0) < 0)
        return -1;
    *st = d.st;
    free(d.path);
    return 0;
}

/* The program's path at paddr, relative to dirfd, judged by the policy.
 * 0, SV_RESOLVE_EMPTY, SV_RESOLVE_KERNEL or -errno. */
long sv_resolve(const sv_call_t *c, int dirfd, uint64_t paddr, int empty_ok,
                sv_target_t *t)
{
    char p[PATH_MAX], base[PATH_MAX];
    long n = sv_read_str(c, paddr, p, sizeof(p));
    if (n < 0)
        return n;
    if (n == 0)
        return empty_ok ? SV_RESOLVE_EMPTY : -ENOENT;
    t->kernel_same = 1;
    const char *b = NULL;
    if (p[0] != '/') {
        if (dirfd == AT_FDCWD) {
            if (sv_cwd_get(c->tid, base, sizeof(base)))
                t->kernel_same = 0;
            else if (sv_fdlink(c, AT_FDCWD, base, sizeof(base)) < 0 ||
                     base[0] != '/')
                return SV_RESOLVE_KERNEL;
        } else {
            long r = sv_fdlink(c, dirfd, base, sizeof(base));
            if (r < 0)
                return SV_RESOLVE_KERNEL; /* EBADF: the kernel says it */
            if (is_dir_link(base)) {
                if ((r = dir_path(c, dirfd, base, sizeof(base))) < 0)
                    return r;
                t->kernel_same = 0;
            } else if (base[0] != '/' || strncmp(base, "/memfd:", 7) == 0) {
                return SV_RESOLVE_KERNEL; /* a file, a socket: ENOTDIR */
            }
        }
        b = base;
    }
    long r = shunt_path_normalize(b, p, t->norm, sizeof(t->norm));
    if (r < 0)
        return r == -EINVAL ? -ENOENT : r;
    int k = b ? snprintf(t->raw, sizeof(t->raw), "%s%s%s", b,
                         b[strlen(b) - 1] == '/' ? "" : "/", p)
              : snprintf(t->raw, sizeof(t->raw), "%s", p);
    if (k < 0 || (size_t)k >= sizeof(t->raw))
        return -ENAMETOOLONG;
    t->mode = shunt_policy_mode(&sv.pol, t->norm);
    return 0;
}

/* A path argument of a call that looks at metadata, judged: J_REMOTE,
 * J_LOCAL (t->kernel_same says whether the kernel reaches it by the
 * program's own name; directories on the way to a local entry are local,
 * as under the layer), J_KERNEL (not a path to judge: the kernel
 * answers), J_EMPTY ("" with AT_EMPTY_PATH), or -errno (ENOENT for a
 * not_found path). */
enum { J_REMOTE = 1, J_LOCAL, J_KERNEL, J_EMPTY };
static long judge(const sv_call_t *c, int dirfd, uint64_t paddr, int empty_ok,
                  sv_target_t *t)
{
    long r = sv_resolve(c, dirfd, paddr, empty_ok, t);
    if (r == SV_RESOLVE_KERNEL || r == -EFAULT)
        return J_KERNEL;
    if (r == SV_RESOLVE_EMPTY)
        return J_EMPTY;
    if (r < 0)
        return r;
    if (t->mode == SHUNT_MODE_NOT_FOUND)
        return -ENOENT;
    if (t->mode == SHUNT_MODE_LOCAL ||
        shunt_policy_local_ancestor(&sv.pol, t->norm))
        return J_LOCAL;
    return J_REMOTE;
}

/* ---- remote calls -------------------------------------------------------- */
static long remote_stat(sv_call_t *c, const char *path, int nofollow,
                        shunt_stat_r_t *st)
{
    shunt_stat_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(path),
                      .flags = nofollow ? AT_SYMLINK_NOFOLLOW : 0};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_STAT, &q, &m);
    if (r == 0)
        *st = m.u.stat_r;
    return r;
}

static void close_handle(sv_call_t *c, uint32_t h)
{
    shunt_close_t q = {.handle = h};
    shunt_msg_t m;
    sv_rpc(c, SHUNT_T_CLOSE, &q, &m);
}

long sv_fetch(sv_call_t *c, uint32_t h, int mfd)
{
    uint64_t total = 0;
    uint32_t chunk = shunt_client_max_frame(c->w->cl) - 64;
    for (;;) {
        shunt_read_t q = {.handle = h, .count = chunk};
        shunt_msg_t m;
        long r = sv_rpc(c, SHUNT_T_READ, &q, &m);
        if (r < 0)
            return r;
        if (!m.u.data_r.data.len)
            return 0;
        total += m.u.data_r.data.len;
        if (total > SV_SNAPSHOT_MAX)
            return -EFBIG;
        if ((r = shunt_write_full(mfd, m.u.data_r.data.p, m.u.data_r.data.len)) < 0)
            return r;
    }
}

/* Whether the entry name of directory dir is a not_found path. */
static int hidden(const char *dir, const char *name, size_t nl)
{
    if ((nl == 1 && name[0] == '.') || (nl == 2 && !memcmp(name, "..", 2)))
        return 0;
    char n[NAME_MAX + 1], full[PATH_MAX];
    memcpy(n, name, nl);
    n[nl] = 0;
    if (shunt_path_normalize(dir, n, full, sizeof(full)) < 0)
        return 0;
    return shunt_policy_mode(&sv.pol, full) == SHUNT_MODE_NOT_FOUND;
}

/* The entries of d->path as linux_dirent64 records, into d->recs.  0 or
 * -errno. */
static long fetch_dir(sv_call_t *c, sv_dir_t *d)
{
    size_t cap = 0;
    shunt_open_t oq = {.path = shunt_str(d->path), .flags = O_DIRECTORY};
    shunt_msg_t om;
    long r = sv_rpc(c, SHUNT_T_OPEN, &oq, &om);
    if (r < 0)
        return r;
    uint32_t h = om.u.open_r.handle;
    free(d->recs);
    d->recs = NULL;
    d->nrecs = 0;
    while (r == 0) {
        shunt_getdents_t q = {.handle = h, .max_entries = 256};
        shunt_msg_t m;
        if ((r = sv_rpc(c, SHUNT_T_GETDENTS, &q, &m)) < 0)
            break;
        shunt_list_iter_t it;
        shunt_list_iter_init(&it, &m.u.dirents_r.entries);
        shunt_rec_dirent_t de;
        while (r == 0 && shunt_list_next_rec_dirent(&it, &de) == 1) {
            size_t nl = de.name.len > 255 ? 255 : de.name.len;
            if (hidden(d->path, de.name.p, nl))
                continue; /* not_found: as if it were not there */
            size_t reclen = (offsetof(struct dirent64, d_name) + nl + 1 + 7) &
                            ~(size_t)7;
            if (d->nrecs + reclen > cap) {
                size_t nc = cap ? cap * 2 : 4096;
                char *p = realloc(d->recs, nc);
                if (!p) {
                    r = -ENOMEM;
                    break;
                }
                d->recs = p;
                cap = nc;
            }
            struct dirent64 *e = (struct dirent64 *)(void *)(d->recs + d->nrecs);
            memset(e, 0, reclen);
            d->nrecs += reclen;
            e->d_ino = de.ino;
            e->d_off = (off64_t)d->nrecs;
            e->d_reclen = (unsigned short)reclen;
            e->d_type = de.type;
            memcpy(e->d_name, de.name.p, nl);
        }
        if (r == 0 && (m.u.dirents_r.eof || !m.u.dirents_r.entries.count))
            break;
    }
    close_handle(c, h);
    return r;
}

/* mfd's remote path, for readlink of /proc/PID/fd/N. */
void sv_remember_path(int mfd, const char *path)
{
    struct stat st;
    if (fstat(mfd, &st) == 0)
        sv_memfd_path_put(st.st_dev, st.st_ino, path);
}

/* readlink of /proc/self/fd/N, /proc/PID/fd/N, /dev/fd/N of a remote
 * file (the remote path, as under the layer) and /proc/self/cwd of a
 * remote cwd: 1 with out, 0 when it is the kernel's to say. */
static int proc_link(const sv_call_t *c, const char *norm, char *out,
                     size_t n)
{
    char who[32];
    int fd = -1, cwd = 0;
    int k = 0;
    if (sscanf(norm, "/proc/%31[^/]/fd/%d%n", who, &fd, &k) == 2 &&
        !norm[k]) {
    } else if (sscanf(norm, "/dev/fd/%d%n", &fd, &k) == 1 && !norm[k]) {
        strcpy(who, "self");
    } else if (sscanf(norm, "/proc/%31[^/]/cwd%n", who, &k) == 1 && !norm[k]) {
        cwd = 1;
    } else {
        return 0;
    }
    pid_t pid;
    if (strcmp(who, "self") == 0 || strcmp(who, "thread-self") == 0)
        pid = c->tid;
    else if (!(pid = (pid_t)atoi(who)))
        return 0;
    if (cwd)
        return sv_cwd_get(pid, out, n);
    char p[64], link[PATH_MAX];
    snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t l = readlink(p, link, sizeof(link) - 1);
    if (l <= 0)
        return 0;
    link[l] = 0;
    if (sv_dir_is(link)) {
        sv_dir_t d;
        if (sv_dir_get(link, &d, 0) < 0)
            return 0;
        int ok = strlen(d.path) < n;
        if (ok)
            strcpy(out, d.path);
        free(d.path);
        return ok;
    }
    struct stat st;
    if (strncmp(link, "/memfd:shunt-", 13) != 0 || stat(p, &st) < 0)
        return 0;
    return sv_memfd_path_get(st.st_dev, st.st_ino, out, n);
}

/* A fresh open file description of mfd with the program's access mode
 * (a read-only open must not be writable), or -errno. */
static int reopen(int mfd, int flags)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", mfd);
    /* O_PATH: a read-only fd instead (ADDFD takes no O_PATH file: the
     * kernel's fget() refuses them; docs/supervisor.md) */
    int want = O_RDONLY;
    want |= flags & (O_NONBLOCK | O_NOATIME);
    int fd = open(p, want | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static long open_remote(sv_call_t *c, const char *norm, uint64_t flags,
                        uint32_t mode)
{
    shunt_open_t q = {.path = shunt_str(norm),
                      .flags = (int32_t)(flags & (O_DIRECTORY | O_NOFOLLOW |
                                                  O_NONBLOCK)),
                      .mode = mode};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_OPEN, &q, &m);
    if (r < 0)
        return r;
    uint32_t h = m.u.open_r.handle;
    shunt_fstat_t fq = {.handle = h};
    if ((r = sv_rpc(c, SHUNT_T_FSTAT, &fq, &m)) < 0) {
        close_handle(c, h);
        return r;
    }
    shunt_stat_r_t st = m.u.stat_r;
    char name[SHUNT_MEMFD_NAME_MAX + 32];
    if (S_ISDIR(st.mode)) {
        /* its canonical name (what fchdir and relative paths start from,
         * as a directory fd keeps its directory whatever named it); the
         * entries are read at the first getdents64 and again at each
         * rewind, as the kernel reads a directory live */
        close_handle(c, h);
        shunt_realpath_t rq = {.dirh = (int32_t)SHUNT_AT_ROOT,
                               .path = shunt_str(norm), .flags = 0};
        sv_dir_t d = {.st = st};
        if (sv_rpc(c, SHUNT_T_REALPATH, &rq, &m) == 0 &&
            m.u.readlink_r.target.len > 0 && m.u.readlink_r.target.len < PATH_MAX)
            d.path = strndup(m.u.readlink_r.target.p, m.u.readlink_r.target.len);
        else
            d.path = strdup(norm);
        if (!d.path)
            return -ENOMEM;
        return sv_dir_open(c, &d, (int)flags);
    } else if (S_ISREG(st.mode) && !(flags & O_PATH)) {
        if (st.size > SV_SNAPSHOT_MAX) {
            close_handle(c, h);
            LOG_WARN("%s: %llu bytes: larger than the supervisor's snapshots "
                     "(EFBIG)",
                     norm, (unsigned long long)st.size);
            return -EFBIG;
        }
        shunt_snap_name(&st, name, sizeof(name));
    } else if (flags & O_PATH) {
        shunt_snap_name(&st, name, sizeof(name));
    } else {
        close_handle(c, h);
        LOG_INFO("%s: a remote device, FIFO or socket: not served by the "
                 "supervisor (ENXIO)",
                 norm);
        return -ENXIO;
    }
    int mfd = memfd_create(name, MFD_CLOEXEC);
    if (mfd < 0) {
        r = -errno;
        close_handle(c, h);
        return r;
    }
    sv_remember_path(mfd, norm);
    if (!(flags & O_PATH))
        r = sv_fetch(c, h, mfd);
    close_handle(c, h);
    int fd = r < 0 ? -1 : reopen(mfd, (int)flags);
    close(mfd);
    if (r < 0)
        return r;
    if (fd < 0)
        return fd;
    r = sv_addfd(c, fd, (flags & O_CLOEXEC) != 0);
    close(fd);
    return r;
}

/* A local path the kernel would not reach by the program's own name (a
 * relative path from a remote cwd or directory): opened here by its
 * absolute name and given to the program. */
static long open_local_abs(sv_call_t *c, const char *norm, uint64_t flags,
                           uint32_t mode)
{
    int fd = open(norm, (int)(flags | O_CLOEXEC), mode);
    if (fd < 0)
        return -errno;
    long r = sv_addfd(c, fd, (flags & O_CLOEXEC) != 0);
    close(fd);
    return r;
}

static long do_open(sv_call_t *c, int dirfd, uint64_t paddr, uint64_t flags,
                    uint32_t mode)
{
    sv_target_t t;
    long r = sv_resolve(c, dirfd, paddr, 0, &t);
    if (r == SV_RESOLVE_KERNEL)
        return SV_CONTINUE;
    if (r < 0)
        return r == -ESRCH ? r : (r == -EFAULT ? SV_CONTINUE : r);
    int writes = shunt_open_writes(flags);
    if (t.mode == SHUNT_MODE_NOT_FOUND)
        return -ENOENT;
    if (t.mode == SHUNT_MODE_LOCAL || (t.mode == SHUNT_MODE_READ && writes))
        return t.kernel_same ? SV_CONTINUE
                             : open_local_abs(c, t.raw, flags, mode);
    if (writes)
        return sv_wr_open(c, t.raw, flags, mode);
    sv_wr_sync();
    return open_remote(c, t.raw, flags, mode);
}

long sv_open(sv_call_t *c)
{
    return do_open(c, AT_FDCWD, c->a[0], c->a[1], (uint32_t)c->a[2]);
}

long sv_openat(sv_call_t *c)
{
    return do_open(c, (int)c->a[0], c->a[1], c->a[2], (uint32_t)c->a[3]);
}

long sv_openat2(sv_call_t *c)
{
    struct open_how how;
    size_t sz = (size_t)c->a[3];
    if (sz < sizeof(how))
        return SV_CONTINUE; /* EINVAL from the kernel */
    memset(&how, 0, sizeof(how));
    long r = sv_read(c, c->a[2], &how, sizeof(how));
    if (r < 0)
        return r == -ESRCH ? r : SV_CONTINUE;
    if (how.resolve) {
        /* RESOLVE_BENEATH and friends against a remote path are the
         * agent's own confinement; judged like a plain open here */
    }
    return do_open(c, (int)c->a[0], c->a[1], how.flags, (uint32_t)how.mode);
}

/* ---- stat ---------------------------------------------------------------- */
static long put_stat(sv_call_t *c, uint64_t addr, const shunt_stat_r_t *st)
{
    struct stat s;
    shunt_stat_from_r(st, &s);
    long r = sv_write(c, addr, &s, sizeof(s));
    return r < 0 ? r : 0;
}

static long put_statx(sv_call_t *c, uint64_t addr, const shunt_stat_r_t *st)
{
    struct statx s;
    shunt_statx_from_r(st, &s);
    long r = sv_write(c, addr, &s, sizeof(s));
    return r < 0 ? r : 0;
}

/* The remote stat of the program's fd, 0; or 1 when it is none of ours. */
static long fd_stat(sv_call_t *c, int fd, shunt_stat_r_t *st)
{
    char link[PATH_MAX];
    if (fd == AT_FDCWD) {
        /* the remote cwd, or the kernel's judged like any path (a
         * program started in "/" stats the target's root) */
        if (!sv_cwd_get(c->tid, link, sizeof(link))) {
            if (sv_fdlink(c, AT_FDCWD, link, sizeof(link)) < 0 ||
                link[0] != '/')
                return 1;
            int mode = shunt_policy_mode(&sv.pol, link);
            if (mode == SHUNT_MODE_LOCAL || mode == SHUNT_MODE_NOT_FOUND ||
                shunt_policy_local_ancestor(&sv.pol, link))
                return 1;
        }
        return remote_stat(c, link, 0, st);
    }
    int writing;
    if (sv_fdlink(c, fd, link, sizeof(link)) < 0 ||
        (strncmp(link, "/memfd:shunt-", 13) != 0 && !is_dir_link(link)) ||
        memfd_stat(link, st, &writing) < 0)
        return 1;
    /* a file being written has the memfd's size, not the one at open */
    if (writing) {
        char p[64];
        struct stat real;
        snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)c->tid, fd);
        if (stat(p, &real) == 0) {
            st->size = (uint64_t)real.st_size;
            st->blocks = (uint64_t)real.st_blocks;
        }
    }
    return 0;
}

/* The stat of a path for stat, lstat, newfstatat and statx: 0 with *st,
 * 1 for the kernel, or -errno. */
static long path_stat(sv_call_t *c, int dirfd, uint64_t paddr, int flags,
                      shunt_stat_r_t *st, struct stat *local,
                      struct statx *localx, unsigned xmask)
{
    sv_target_t t;
    long r = judge(c, dirfd, paddr, (flags & AT_EMPTY_PATH) != 0, &t);
    if (r == J_EMPTY)
        return fd_stat(c, dirfd, st);
    if (r == J_KERNEL)
        return 1;
    if (r < 0)
        return r;
    if (r == J_LOCAL) {
        if (t.kernel_same)
            return 1;
        /* by its absolute name, here */
        if (localx)
            r = statx(AT_FDCWD, t.raw, flags & AT_SYMLINK_NOFOLLOW, xmask,
                      localx);
        else
            r = fstatat(AT_FDCWD, t.raw, local, flags & AT_SYMLINK_NOFOLLOW);
        return r < 0 ? -errno : 2;
    }
    sv_wr_sync();
    return remote_stat(c, t.raw, (flags & AT_SYMLINK_NOFOLLOW) != 0, st);
}

static long stat_common(sv_call_t *c, int dirfd, uint64_t paddr, int flags,
                        uint64_t buf)
{
    shunt_stat_r_t st;
    struct stat local;
    long r = path_stat(c, dirfd, paddr, flags, &st, &local, NULL, 0);
    if (r == 1)
        return SV_CONTINUE;
    if (r == 2) {
        r = sv_write(c, buf, &local, sizeof(local));
        return r < 0 ? r : 0;
    }
    return r < 0 ? r : put_stat(c, buf, &st);
}

long sv_stat(sv_call_t *c)
{
    return stat_common(c, AT_FDCWD, c->a[0], 0, c->a[1]);
}

long sv_lstat(sv_call_t *c)
{
    return stat_common(c, AT_FDCWD, c->a[0], AT_SYMLINK_NOFOLLOW, c->a[1]);
}

long sv_newfstatat(sv_call_t *c)
{
    return stat_common(c, (int)c->a[0], c->a[1], (int)c->a[3], c->a[2]);
}

long sv_fstat(sv_call_t *c)
{
    shunt_stat_r_t st;
    long r = fd_stat(c, (int)c->a[0], &st);
    if (r == 1)
        return SV_CONTINUE;
    return r < 0 ? r : put_stat(c, c->a[1], &st);
}

long sv_statx(sv_call_t *c)
{
    shunt_stat_r_t st;
    struct statx local;
    int flags = (int)c->a[2];
    long r = path_stat(c, (int)c->a[0], c->a[1], flags, &st, NULL, &local,
                       (unsigned)c->a[3]);
    if (r == 1)
        return SV_CONTINUE;
    if (r == 2) {
        r = sv_write(c, c->a[4], &local, sizeof(local));
        return r < 0 ? r : 0;
    }
    return r < 0 ? r : put_statx(c, c->a[4], &st);
}

/* ---- access, readlink ------------------------------------------------------ */
static long access_common(sv_call_t *c, int dirfd, uint64_t paddr, int mode,
                          int flags)
{
    sv_target_t t;
    long r = judge(c, dirfd, paddr, (flags & AT_EMPTY_PATH) != 0, &t);
    if (r == J_KERNEL)
        return SV_CONTINUE;
    if (r == J_EMPTY) {
        shunt_stat_r_t st;
        r = fd_stat(c, dirfd, &st);
        return r == 1 ? SV_CONTINUE : r; /* a remote fd exists: F_OK */
    }
    if (r < 0)
        return r;
    if (r == J_LOCAL)
        return t.kernel_same ? SV_CONTINUE
                             : (faccessat(AT_FDCWD, t.raw, mode,
                                          flags & ~AT_EMPTY_PATH) < 0
                                    ? -errno
                                    : 0);
    /* as the layer: the target's answer, W_OK included */
    sv_wr_sync();
    shunt_access_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw),
                        .mode = mode,
                        .flags = flags & (AT_EACCESS | AT_SYMLINK_NOFOLLOW)};
    shunt_msg_t m;
    r = sv_rpc(c, SHUNT_T_ACCESS, &q, &m);
    return r < 0 ? r : 0;
}

long sv_access(sv_call_t *c)
{
    return access_common(c, AT_FDCWD, c->a[0], (int)c->a[1], 0);
}

long sv_faccessat(sv_call_t *c)
{
    return access_common(c, (int)c->a[0], c->a[1], (int)c->a[2], 0);
}

long sv_faccessat2(sv_call_t *c)
{
    return access_common(c, (int)c->a[0], c->a[1], (int)c->a[2],
                         (int)c->a[3]);
}

static long readlink_common(sv_call_t *c, int dirfd, uint64_t paddr,
                            uint64_t buf, int64_t size)
{
    if (size <= 0)
        return SV_CONTINUE; /* EINVAL */
    sv_target_t t;
    long j = judge(c, dirfd, paddr, 0, &t), r;
    if (j == J_KERNEL)
        return SV_CONTINUE;
    if (j < 0)
        return j;
    char out[PATH_MAX];
    if (proc_link(c, t.norm, out, sizeof(out))) {
        size_t n = strlen(out) < (size_t)size ? strlen(out) : (size_t)size;
        r = sv_write(c, buf, out, n);
        return r < 0 ? r : (long)n;
    }
    if (j == J_LOCAL) {
        if (t.kernel_same)
            return SV_CONTINUE;
        ssize_t k = readlink(t.raw, out, sizeof(out));
        if (k < 0)
            return -errno;
        size_t n = (size_t)k < (size_t)size ? (size_t)k : (size_t)size;
        r = sv_write(c, buf, out, n);
        return r < 0 ? r : (long)n;
    }
    sv_wr_sync();
    shunt_readlink_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(t.raw)};
    shunt_msg_t m;
    if ((r = sv_rpc(c, SHUNT_T_READLINK, &q, &m)) < 0)
        return r;
    size_t n = m.u.readlink_r.target.len;
    if (n > (size_t)size)
        n = (size_t)size;
    r = sv_write(c, buf, m.u.readlink_r.target.p, n);
    return r < 0 ? r : (long)n;
}

long sv_readlink(sv_call_t *c)
{
    return readlink_common(c, AT_FDCWD, c->a[0], c->a[1], (int64_t)c->a[2]);
}

long sv_readlinkat(sv_call_t *c)
{
    return readlink_common(c, (int)c->a[0], c->a[1], c->a[2],
                           (int64_t)c->a[3]);
}

/* ---- statfs ---------------------------------------------------------------- */
static long put_statfs(sv_call_t *c, uint64_t addr, const char *path)
{
    shunt_statfs_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str(path)};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_STATFS, &q, &m);
    if (r < 0)
        return r;
    struct statfs sf;
    shunt_statfs_from_r(&m.u.statfs_r, &sf);
    r = sv_write(c, addr, &sf, sizeof(sf));
    return r < 0 ? r : 0;
}

long sv_statfs(sv_call_t *c)
{
    sv_target_t t;
    long r = judge(c, AT_FDCWD, c->a[0], 0, &t);
    if (r == J_KERNEL || (r == J_LOCAL && t.kernel_same))
        return SV_CONTINUE;
    if (r < 0)
        return r;
    if (r == J_LOCAL) {
        struct statfs sf;
        if (statfs(t.raw, &sf) < 0)
            return -errno;
        r = sv_write(c, c->a[1], &sf, sizeof(sf));
        return r < 0 ? r : 0;
    }
    return put_statfs(c, c->a[1], t.raw);
}

/* fstatfs of a remote file's memfd or a remote directory's placeholder:
 * the target's filesystem, by the path it was opened by. */
long sv_fstatfs(sv_call_t *c)
{
    char path[PATH_MAX], self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", (int)c->a[0]);
    if ((int)c->a[0] < 0 || !proc_link(c, self, path, sizeof(path)))
        return SV_CONTINUE;
    return put_statfs(c, c->a[1], path);
}

/* ---- xattrs: a remote path is on a filesystem without them (ENOTSUP, as
 * under the layer), so nothing local is consulted for it ------------------- */
static long xattr_path(sv_call_t *c)
{
    sv_target_t t;
    long r = judge(c, AT_FDCWD, c->a[0], 0, &t);
    if (r == J_KERNEL || (r == J_LOCAL && t.kernel_same))
        return SV_CONTINUE;
    return r < 0 ? r : -ENOTSUP;
}

long sv_getxattr(sv_call_t *c) { return xattr_path(c); }
long sv_lgetxattr(sv_call_t *c) { return xattr_path(c); }
long sv_listxattr(sv_call_t *c) { return xattr_path(c); }
long sv_llistxattr(sv_call_t *c) { return xattr_path(c); }

/* ---- directories ------------------------------------------------------------ */
long sv_getdents64(sv_call_t *c)
{
    int fd = (int)c->a[0];
    size_t count = (size_t)c->a[2];
    char link[PATH_MAX];
    sv_dir_t d;
    if (sv_fdlink(c, fd, link, sizeof(link)) < 0 || !is_dir_link(link))
        return SV_CONTINUE;
    if (sv_dir_get(link, &d, 1) < 0)
        return -EBADF;
    long r;
    int dup = sv_getfd(c, fd);
    off_t pos = dup >= 0 ? lseek(dup, 0, SEEK_CUR) : -1;
    if (dup >= 0 && pos == 0) {
        /* the first read, or after a rewind: the entries now */
        sv_wr_sync();
        if ((r = fetch_dir(c, &d)) < 0 || sv_dir_set_recs(link, &d) < 0) {
            close(dup);
            free(d.path);
            free(d.recs);
            return r < 0 ? r : -ENOMEM;
        }
    }
    if (dup < 0) {
        r = dup;
    } else if (pos < 0) {
        r = -errno;
    } else {
        size_t take = 0;
        size_t at = (size_t)pos < d.nrecs ? (size_t)pos : d.nrecs;
        while (at + take + offsetof(struct dirent64, d_name) < d.nrecs + 1 &&
               at + take < d.nrecs) {
            const struct dirent64 *e = (const void *)(d.recs + at + take);
            if (!e->d_reclen || take + e->d_reclen > count)
                break;
            take += e->d_reclen;
        }
        if (take == 0 && at < d.nrecs) {
            r = -EINVAL; /* the buffer cannot hold one entry */
        } else {
            r = sv_write(c, c->a[1], d.recs + at, take);
            if (r >= 0) {
                lseek(dup, (off_t)(at + take), SEEK_SET);
                r = (long)take;
            }
        }
    }
    if (dup >= 0)
        close(dup);
    free(d.path);
    free(d.recs);
    return r;
}

/* ---- the current directory -------------------------------------------------- */
long sv_getcwd(sv_call_t *c)
{
    char cwd[PATH_MAX];
    if (!sv_cwd_get(c->tid, cwd, sizeof(cwd)))
        return SV_CONTINUE;
    /* the directory as it is now: ENOENT once it was removed, as the
     * kernel's getcwd says */
    shunt_realpath_t q = {.dirh = (int32_t)SHUNT_AT_ROOT,
                          .path = shunt_str(cwd), .flags = O_DIRECTORY};
    shunt_msg_t m;
    long rr = sv_rpc(c, SHUNT_T_REALPATH, &q, &m);
    if (rr == -ENOENT || rr == -ENOTDIR)
        return -ENOENT;
    size_t n = strlen(cwd) + 1;
    if (n > (size_t)c->a[1])
        return -ERANGE;
    long r = sv_write(c, c->a[0], cwd, n);
    return r < 0 ? r : (long)n;
}

static long chdir_remote(sv_call_t *c, const char *norm)
{
    shunt_realpath_t q = {.dirh = (int32_t)SHUNT_AT_ROOT,
                          .path = shunt_str(norm), .flags = O_DIRECTORY};
    shunt_msg_t m;
    long r = sv_rpc(c, SHUNT_T_REALPATH, &q, &m);
    if (r < 0)
        return r;
    char canon[PATH_MAX];
    size_t n = m.u.readlink_r.target.len;
    if (n == 0 || n >= sizeof(canon))
        return -ENAMETOOLONG;
    memcpy(canon, m.u.readlink_r.target.p, n);
    canon[n] = 0;
    sv_cwd_set(c->tid, canon);
    return 0;
}

long sv_chdir(sv_call_t *c)
{
    sv_target_t t;
    long r = judge(c, AT_FDCWD, c->a[0], 0, &t);
    if (r == J_KERNEL)
        return SV_CONTINUE;
    if (r < 0)
        return r;
    if (r == J_LOCAL) {
        if (!t.kernel_same) {
            /* the kernel would take it relative to its own cwd, not the
             * remote one; the supervisor cannot move the program's cwd
             * (docs/supervisor.md) */
            LOG_WARN("chdir to %s, a local path relative to a remote cwd: "
                     "not served (ENOENT)",
                     t.norm);
            return -ENOENT;
        }
        sv_cwd_set(c->tid, NULL);
        return SV_CONTINUE;
    }
    return chdir_remote(c, t.raw);
}

long sv_fchdir(sv_call_t *c)
{
    int fd = (int)c->a[0];
    char link[PATH_MAX];
    if (sv_fdlink(c, fd, link, sizeof(link)) >= 0 && is_dir_link(link)) {
        char path[PATH_MAX];
        long r = dir_path(c, fd, path, sizeof(path));
        if (r < 0)
            return r;
        return chdir_remote(c, path); /* its canonical name, as chdir */
    }
    /* a local directory: the kernel's, and the cwd is local again (an
     * fd that is no directory, or no fd, fails in the kernel and changes
     * nothing) */
    char p[64];
    struct stat st;
    snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)c->tid, fd);
    if (fd >= 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        sv_cwd_set(c->tid, NULL);
    return SV_CONTINUE;
}

/* ---- the host name ------------------------------------------------------------ */
/* The target's host name, read at the first uname (through the asking
 * worker's connection): 1 when there is one. */
static pthread_mutex_t hn_lock = PTHREAD_MUTEX_INITIALIZER;
static int hn_state; /* 0 not read, 1 read, -1 none */

static int load_hostname(sv_call_t *c)
{
    pthread_mutex_lock(&hn_lock);
    if (hn_state == 0) {
        shunt_open_t q = {.path = shunt_str("/etc/hostname"),
                          .flags = O_RDONLY};
        shunt_msg_t m;
        if (sv_rpc(c, SHUNT_T_OPEN, &q, &m) == 0) {
            uint32_t h = m.u.open_r.handle;
            shunt_read_t rq = {.handle = h, .count = 512};
            if (sv_rpc(c, SHUNT_T_READ, &rq, &m) == 0) {
                char buf[513];
                size_t n = m.u.data_r.data.len < 512 ? m.u.data_r.data.len
                                                      : 512;
                memcpy(buf, m.u.data_r.data.p, n);
                buf[n] = 0;
                n = strcspn(buf, " \t\r\n");
                if (n > 0 && n < sizeof(sv.hostname)) {
                    memcpy(sv.hostname, buf, n);
                    sv.hostname[n] = 0;
                }
            }
            close_handle(c, h);
        }
        hn_state = sv.hostname[0] ? 1 : -1;
        if (hn_state < 0)
            LOG_WARN("hostname: cannot read the target's /etc/hostname; "
                     "uname says the local one");
    }
    int r = hn_state > 0;
    pthread_mutex_unlock(&hn_lock);
    return r;
}

long sv_uname(sv_call_t *c)
{
    if (!load_hostname(c))
        return SV_CONTINUE;
    struct utsname u;
    if (uname(&u) < 0)
        return -errno;
    memset(u.nodename, 0, sizeof(u.nodename));
    memcpy(u.nodename, sv.hostname, strlen(sv.hostname));
    long r = sv_write(c, c->a[0], &u, sizeof(u));
    return r < 0 ? r : 0;
}
