/* shunt-agent file requests: each op against the agent returns what the
 * kernel returns for the same op on an identical local tree. */
#include "fixture.h"
#include "tree.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

typedef struct {
    char a[256], b[256]; /* a: served by the agent; b: its local mirror */
    int bfd;
    agent_proc_t ap;
    shunt_client_t *c;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    tmp_tree(f->a, sizeof(f->a), "files-a");
    tmp_tree(f->b, sizeof(f->b), "files-b");
    build_tree(f->a);
    build_tree(f->b);
    f->bfd = open(f->b, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (agent_start(&f->ap, f->a, NULL) < 0)
        return -1;
    f->c = agent_client(&f->ap);
    if (!f->c)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    shunt_client_close(f->c);
    int rc = agent_stop(&f->ap);
    close(f->bfd);
    rm_tree(f->a);
    rm_tree(f->b);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- reading and writing ------------------------------------------------ */

static void test_read_write(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    int h = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    assert_true(h > 0);
    shunt_read_t rd = {.handle = (uint32_t)h, .count = 5};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_READ, &rd, &m), 0);
    assert_int_equal(m.type, SHUNT_T_DATA_R);
    assert_memory_equal(m.u.data_r.data.p, "hello", 5);
    shunt_pread_t pr = {.handle = (uint32_t)h, .count = 100, .offset = 6};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_PREAD, &pr, &m), 0);
    assert_int_equal(m.u.data_r.data.len, 6);
    assert_memory_equal(m.u.data_r.data.p, "world\n", 6);
    rd.count = 100; /* the file offset is still 5: pread does not move it */
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_READ, &rd, &m), 0);
    assert_int_equal(m.u.data_r.data.len, 7);
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_READ, &rd, &m), 0);
    assert_int_equal(m.u.data_r.data.len, 0);
    shunt_lseek_t ls = {.handle = (uint32_t)h, .offset = -3, .whence = SEEK_END};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_LSEEK, &ls, &m), 0);
    assert_int_equal(m.u.ok.ret, 9);
    ls.whence = 42;
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_LSEEK, &ls, &m), -EINVAL);

    /* FSTAT is the kernel's statx of the very same file */
    shunt_fstat_t fs = {.handle = (uint32_t)h};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_FSTAT, &fs, &m), 0);
    char p[512];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/hello.txt", f->a);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(m.u.stat_r.ino, sb.st_ino);
    assert_int_equal(m.u.stat_r.size, 12);
    assert_int_equal(m.u.stat_r.mode, sb.st_mode);
    assert_int_equal(m.u.stat_r.nlink, sb.st_nlink);
    assert_int_equal(m.u.stat_r.uid, sb.st_uid);
    assert_int_equal(m.u.stat_r.blocks, sb.st_blocks);
    assert_int_equal(m.u.stat_r.dev_major, major(sb.st_dev));
    assert_int_equal(m.u.stat_r.dev_minor, minor(sb.st_dev));
    assert_int_equal(m.u.stat_r.mtime_sec, sb.st_mtim.tv_sec);
    assert_int_equal(m.u.stat_r.mtime_nsec, sb.st_mtim.tv_nsec);
    assert_true(m.u.stat_r.mask & STATX_BASIC_STATS);
    assert_int_equal(r_close(f->c, (uint32_t)h), 0);
    /* a closed handle is gone */
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_READ, &rd, &m), -EBADF);
    assert_int_equal(r_close(f->c, (uint32_t)h), -EBADF);

    /* create, write, pwrite, ftruncate, fsync; check the file locally */
    h = r_open(f->c, SHUNT_AT_ROOT, "new.txt", O_RDWR | O_CREAT | O_EXCL,
               0640);
    assert_true(h > 0);
    assert_int_equal(r_open(f->c, SHUNT_AT_ROOT, "new.txt",
                            O_RDWR | O_CREAT | O_EXCL, 0640), -EEXIST);
    shunt_write_t wr = {.handle = (uint32_t)h,
                        .data = shunt_bytes("0123456789", 10)};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_WRITE, &wr, &m), 0);
    assert_int_equal(m.u.ok.ret, 10);
    shunt_pwrite_t pw = {.handle = (uint32_t)h, .offset = 2,
                         .data = shunt_bytes("ab", 2)};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_PWRITE, &pw, &m), 0);
    assert_int_equal(m.u.ok.ret, 2);
    shunt_ftruncate_t ft = {.handle = (uint32_t)h, .length = 8};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_FTRUNCATE, &ft, &m), 0);
    shunt_fsync_t sy = {.handle = (uint32_t)h, .datasync = 1};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_FSYNC, &sy, &m), 0);
    assert_int_equal(r_close(f->c, (uint32_t)h), 0);
    snprintf(p, sizeof(p), "%s/new.txt", f->a);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640); /* the agent adds no umask */
    assert_int_equal(sb.st_size, 8);
    char buf[64];
    assert_int_equal(r_slurp(f->c, SHUNT_AT_ROOT, "new.txt", buf,
                             sizeof(buf)), 8);
    assert_string_equal(buf, "01ab4567");

    /* writing a read-only handle fails as the kernel says */
    h = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    wr.handle = (uint32_t)h;
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_WRITE, &wr, &m), -EBADF);
    r_close(f->c, (uint32_t)h);
}

static void test_big_read_clamped(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    int h = r_open(f->c, SHUNT_AT_ROOT, "big.bin", O_RDONLY, 0);
    assert_true(h > 0);
    uint32_t max = SHUNT_DATA_MAX(shunt_client_max_frame(f->c));
    uint64_t off = 0;
    for (;;) {
        shunt_read_t rd = {.handle = (uint32_t)h, .count = 16u << 20};
        assert_int_equal(shunt_client_call(f->c, SHUNT_T_READ, &rd, &m), 0);
        uint32_t n = m.u.data_r.data.len;
        assert_true(n <= max);
        if (n == 0)
            break;
        if (off + n < BIG_SIZE)
            assert_int_equal(n, max);
        for (uint32_t i = 0; i < n; i++)
            if (m.u.data_r.data.p[i] != pattern_byte(off + i))
                fail_msg("byte %llu differs", (unsigned long long)(off + i));
        off += n;
    }
    assert_int_equal(off, BIG_SIZE);
    r_close(f->c, (uint32_t)h);
}

/* ---- the same op on the agent and on the local mirror ------------------- */

enum { OP_STAT, OP_LSTAT, OP_ACCESS, OP_READLINK, OP_MKDIR, OP_RMDIR,
       OP_UNLINK, OP_RENAME, OP_TRUNCATE, OP_OPEN, OP_STATFS, OP_CHMOD,
       OP_LCHMOD, OP_SYMLINK, OP_UTIMENS, OP_LINK, OP_MKNOD, OP_CHOWN,
       OP_LCHOWN };

typedef struct {
    int op;
    const char *path, *path2;
    int flags;
    unsigned mode;
} op_t;

static const char *const op_names[] = {"stat", "lstat", "access", "readlink",
                                       "mkdir", "rmdir", "unlink", "rename",
                                       "truncate", "open", "statfs", "chmod",
                                       "lchmod", "symlink", "utimens",
                                       "link", "mknod", "chown", "lchown"};

static int remote_op(fx_t *f, const op_t *o, shunt_msg_t *m)
{
    shunt_str_t p = shunt_str(o->path);
    switch (o->op) {
    case OP_STAT:
    case OP_LSTAT: {
        shunt_stat_t s = {.dirh = SHUNT_AT_ROOT, .path = p,
                          .flags = o->op == OP_LSTAT ? AT_SYMLINK_NOFOLLOW : 0};
        return shunt_client_call(f->c, SHUNT_T_STAT, &s, m);
    }
    case OP_ACCESS: {
        shunt_access_t s = {.dirh = SHUNT_AT_ROOT, .path = p,
                            .mode = (int)o->mode, .flags = o->flags};
        return shunt_client_call(f->c, SHUNT_T_ACCESS, &s, m);
    }
    case OP_READLINK: {
        shunt_readlink_t s = {.dirh = SHUNT_AT_ROOT, .path = p};
        return shunt_client_call(f->c, SHUNT_T_READLINK, &s, m);
    }
    case OP_MKDIR: {
        shunt_mkdir_t s = {.dirh = SHUNT_AT_ROOT, .path = p, .mode = o->mode};
        return shunt_client_call(f->c, SHUNT_T_MKDIR, &s, m);
    }
    case OP_RMDIR: {
        shunt_rmdir_t s = {.dirh = SHUNT_AT_ROOT, .path = p};
        return shunt_client_call(f->c, SHUNT_T_RMDIR, &s, m);
    }
    case OP_UNLINK: {
        shunt_unlink_t s = {.dirh = SHUNT_AT_ROOT, .path = p,
                            .flags = o->flags};
        return shunt_client_call(f->c, SHUNT_T_UNLINK, &s, m);
    }
    case OP_RENAME: {
        shunt_rename_t s = {.olddirh = SHUNT_AT_ROOT, .oldpath = p,
                            .newdirh = SHUNT_AT_ROOT,
                            .newpath = shunt_str(o->path2),
                            .flags = (uint32_t)o->flags};
        return shunt_client_call(f->c, SHUNT_T_RENAME, &s, m);
    }
    case OP_TRUNCATE: {
        shunt_truncate_t s = {.dirh = SHUNT_AT_ROOT, .path = p,
                              .length = (int64_t)o->mode};
        return shunt_client_call(f->c, SHUNT_T_TRUNCATE, &s, m);
    }
    case OP_OPEN: {
        int h = r_open(f->c, SHUNT_AT_ROOT, o->path, o->flags, o->mode);
        if (h > 0)
            r_close(f->c, (uint32_t)h);
        return h > 0 ? 0 : h;
    }
    case OP_CHMOD:
    case OP_LCHMOD: {
        shunt_chmod_t s = {.dirh = SHUNT_AT_ROOT, .path = p, .mode = o->mode,
                           .flags = o->op == OP_LCHMOD ? AT_SYMLINK_NOFOLLOW : 0};
        return shunt_client_call(f->c, SHUNT_T_CHMOD, &s, m);
    }
    case OP_SYMLINK: {
        shunt_symlink_t s = {.target = shunt_str(o->path2),
                             .newdirh = SHUNT_AT_ROOT, .newpath = p};
        return shunt_client_call(f->c, SHUNT_T_SYMLINK, &s, m);
    }
    case OP_UTIMENS: {
        shunt_utimens_t s = {.dirh = SHUNT_AT_ROOT, .path = p,
                             .atime_sec = o->mode, .atime_nsec = 5,
                             .mtime_sec = o->mode + 1, .mtime_nsec = 7,
                             .flags = o->flags};
        return shunt_client_call(f->c, SHUNT_T_UTIMENS, &s, m);
    }
    case OP_LINK: {
        shunt_link_t s = {.olddirh = SHUNT_AT_ROOT, .oldpath = p,
                          .newdirh = SHUNT_AT_ROOT,
                          .newpath = shunt_str(o->path2), .flags = o->flags};
        return shunt_client_call(f->c, SHUNT_T_LINK, &s, m);
    }
    case OP_MKNOD: {
        shunt_mknod_t s = {.dirh = SHUNT_AT_ROOT, .path = p, .mode = o->mode};
        return shunt_client_call(f->c, SHUNT_T_MKNOD, &s, m);
    }
    case OP_CHOWN:
    case OP_LCHOWN: { /* mode: the uid and the gid */
        shunt_chown_t s = {.dirh = SHUNT_AT_ROOT, .path = p, .uid = o->mode,
                           .gid = o->mode,
                           .flags = o->op == OP_LCHOWN ? AT_SYMLINK_NOFOLLOW : 0};
        return shunt_client_call(f->c, SHUNT_T_CHOWN, &s, m);
    }
    default: {
        shunt_statfs_t s = {.dirh = SHUNT_AT_ROOT, .path = p};
        return shunt_client_call(f->c, SHUNT_T_STATFS, &s, m);
    }
    }
}

static int local_op(fx_t *f, const op_t *o, struct stat *sb, char *link)
{
    int r = -1;
    char full[600];
    switch (o->op) {
    case OP_STAT:
    case OP_LSTAT:
        r = fstatat(f->bfd, o->path, sb,
                    o->op == OP_LSTAT ? AT_SYMLINK_NOFOLLOW : 0);
        break;
    case OP_ACCESS:
        r = faccessat(f->bfd, o->path, (int)o->mode, o->flags);
        break;
    case OP_READLINK: {
        ssize_t n = readlinkat(f->bfd, o->path, link, PATH_MAX);
        if (n >= 0)
            link[n] = 0;
        r = n < 0 ? -1 : 0;
        break;
    }
    case OP_MKDIR: r = mkdirat(f->bfd, o->path, o->mode); break;
    case OP_RMDIR: r = unlinkat(f->bfd, o->path, AT_REMOVEDIR); break;
    case OP_UNLINK: r = unlinkat(f->bfd, o->path, o->flags); break;
    case OP_RENAME:
        r = renameat2(f->bfd, o->path, f->bfd, o->path2, (unsigned)o->flags);
        break;
    case OP_TRUNCATE:
        snprintf(full, sizeof(full), "%s/%s", f->b, o->path);
        r = truncate(full, (off_t)o->mode);
        break;
    case OP_OPEN: {
        int fd = openat(f->bfd, o->path, o->flags | O_CLOEXEC | O_NONBLOCK,
                        o->mode);
        if (fd >= 0)
            close(fd);
        r = fd < 0 ? -1 : 0;
        break;
    }
    case OP_CHMOD: r = fchmodat(f->bfd, o->path, o->mode, 0); break;
    case OP_LCHMOD:
        r = fchmodat(f->bfd, o->path, o->mode, AT_SYMLINK_NOFOLLOW);
        break;
    case OP_SYMLINK: r = symlinkat(o->path2, f->bfd, o->path); break;
    case OP_UTIMENS: {
        struct timespec ts[2] = {{(time_t)o->mode, 5}, {(time_t)o->mode + 1, 7}};
        r = utimensat(f->bfd, o->path, ts, o->flags);
        break;
    }
    case OP_LINK:
        r = linkat(f->bfd, o->path, f->bfd, o->path2, o->flags);
        break;
    case OP_MKNOD: r = mknodat(f->bfd, o->path, o->mode, 0); break;
    case OP_CHOWN:
    case OP_LCHOWN:
        r = fchownat(f->bfd, o->path, o->mode, o->mode,
                     o->op == OP_LCHOWN ? AT_SYMLINK_NOFOLLOW : 0);
        break;
    default: {
        struct statfs s;
        snprintf(full, sizeof(full), "%s/%s", f->b, o->path);
        r = statfs(full, &s);
        break;
    }
    }
    return r < 0 ? -errno : 0;
}

static const op_t ops[] = {
    {OP_STAT, "hello.txt", 0, 0, 0},
    {OP_STAT, "link-rel", 0, 0, 0},
    {OP_STAT, "dangling", 0, 0, 0},
    {OP_STAT, "nope", 0, 0, 0},
    {OP_STAT, "hello.txt/x", 0, 0, 0},
    {OP_STAT, "hello.txt/", 0, 0, 0},
    {OP_STAT, "sub/", 0, 0, 0},
    {OP_STAT, "sub/../hello.txt", 0, 0, 0},
    {OP_STAT, "sub/up", 0, 0, 0},
    {OP_STAT, "", 0, 0, 0},
    {OP_STAT, "fifo", 0, 0, 0},
    {OP_LSTAT, "link-rel", 0, 0, 0},
    {OP_LSTAT, "dangling", 0, 0, 0},
    {OP_LSTAT, "sub/up", 0, 0, 0},
    {OP_ACCESS, "hello.txt", 0, 0, R_OK | W_OK},
    {OP_ACCESS, "nope", 0, 0, F_OK},
    {OP_ACCESS, "sub", 0, 0, X_OK},
    {OP_ACCESS, "hello.txt", 0, 0, X_OK},
    {OP_ACCESS, "dangling", 0, AT_SYMLINK_NOFOLLOW, F_OK},
    {OP_READLINK, "link-rel", 0, 0, 0},
    {OP_READLINK, "link-abs", 0, 0, 0},
    {OP_READLINK, "hello.txt", 0, 0, 0},
    {OP_READLINK, "nope", 0, 0, 0},
    {OP_READLINK, "dangling", 0, 0, 0},
    {OP_STATFS, "sub", 0, 0, 0},
    {OP_STATFS, "nope", 0, 0, 0},
    {OP_MKDIR, "newdir", 0, 0, 0750},
    {OP_MKDIR, "newdir", 0, 0, 0750},
    {OP_MKDIR, "newdir2/", 0, 0, 0700},
    {OP_MKDIR, "sub/.", 0, 0, 0755},
    {OP_MKDIR, "sub/..", 0, 0, 0755},
    {OP_MKDIR, "nope/x", 0, 0, 0755},
    {OP_MKDIR, "hello.txt/x", 0, 0, 0755},
    {OP_MKDIR, "dangling", 0, 0, 0755},
    {OP_RMDIR, "sub", 0, 0, 0},
    {OP_RMDIR, "emptydir", 0, 0, 0},
    {OP_RMDIR, "emptydir", 0, 0, 0},
    {OP_RMDIR, "hello.txt", 0, 0, 0},
    {OP_RMDIR, "sub/.", 0, 0, 0},
    {OP_RMDIR, "sub/..", 0, 0, 0},
    {OP_RMDIR, "newdir2/", 0, 0, 0},
    {OP_RMDIR, "link-rel", 0, 0, 0},
    {OP_UNLINK, "sub", 0, 0, 0},
    {OP_UNLINK, "sub/.", 0, 0, 0},
    {OP_UNLINK, "sub/..", 0, 0, 0},
    {OP_UNLINK, "sub/deep/x", 0, 0, 0},
    {OP_UNLINK, "sub/deep/x", 0, 0, 0},
    {OP_UNLINK, "hello.txt/", 0, 0, 0},
    {OP_UNLINK, "link-rel", 0, 0, 0},
    {OP_UNLINK, "newdir", 0, AT_REMOVEDIR, 0},
    {OP_RENAME, "sub/inner.txt", "moved.txt", 0, 0},
    {OP_RENAME, "moved.txt", "hello.txt", RENAME_NOREPLACE, 0},
    {OP_RENAME, "sub/.", "x", 0, 0},
    {OP_RENAME, "nope", "y", 0, 0},
    {OP_RENAME, "sub", "sub/deep/sub", 0, 0},
    {OP_RENAME, "moved.txt", "sub/deep", 0, 0},
    {OP_RENAME, "moved.txt", "hello.txt", RENAME_EXCHANGE, 0},
    {OP_TRUNCATE, "hello.txt", 0, 0, 5},
    {OP_TRUNCATE, "sub", 0, 0, 0},
    {OP_TRUNCATE, "nope", 0, 0, 0},
    {OP_OPEN, "created.txt", 0, O_WRONLY | O_CREAT | O_EXCL, 0604},
    {OP_OPEN, "created.txt", 0, O_WRONLY | O_CREAT | O_EXCL, 0604},
    {OP_OPEN, "sub", 0, O_WRONLY, 0},
    {OP_OPEN, "nope/x", 0, O_WRONLY | O_CREAT, 0644},
    {OP_OPEN, "hello.txt", 0, O_RDONLY | O_DIRECTORY, 0},
    {OP_OPEN, "link-rel", 0, O_RDONLY | O_NOFOLLOW, 0},
    {OP_OPEN, "dangling", 0, O_WRONLY | O_CREAT, 0644},
    {OP_OPEN, "sub", 0, O_RDONLY | O_CREAT, 0644}, /* a dir: EISDIR */
    {OP_OPEN, "fifo", 0, O_WRONLY | O_NONBLOCK, 0}, /* no reader: ENXIO */
    {OP_OPEN, "fifo", 0, O_RDONLY | O_NONBLOCK, 0},
    {OP_OPEN, "fifo", 0, O_RDWR | O_PATH, 0},
    /* O_CREAT on an existing directory: EISDIR (EEXIST with O_EXCL) */
    {OP_OPEN, "sub/.", 0, O_RDONLY | O_CREAT, 0644},
    {OP_OPEN, "sub/", 0, O_WRONLY | O_CREAT, 0644},
    {OP_OPEN, "sub", 0, O_RDONLY | O_CREAT | O_EXCL, 0644},
    {OP_OPEN, "hello.txt/", 0, O_WRONLY | O_CREAT, 0644},
    {OP_CHMOD, "sub/inner.txt", 0, 0, 0600},
    {OP_CHMOD, "link-rel", 0, 0, 0640},
    {OP_CHMOD, "sub", 0, 0, 0711},
    {OP_CHMOD, "nope", 0, 0, 0644},
    {OP_CHMOD, "hello.txt/x", 0, 0, 0644},
    {OP_LCHMOD, "link-abs", 0, 0, 0600},
    {OP_SYMLINK, "newlink", "sub/inner.txt", 0, 0},
    {OP_SYMLINK, "newlink", "x", 0, 0},
    {OP_SYMLINK, "nope/l", "x", 0, 0},
    {OP_SYMLINK, "sub/..", "x", 0, 0},
    {OP_STAT, "newlink", 0, 0, 0},
    {OP_UTIMENS, "sub/inner.txt", 0, 0, 1000000},
    {OP_UTIMENS, "link-abs", 0, AT_SYMLINK_NOFOLLOW, 2000000},
    {OP_UTIMENS, "nope", 0, 0, 1},
    {OP_STAT, "nowhere", 0, 0, 0},
    /* hard links: the last component is never followed, unless
     * AT_SYMLINK_FOLLOW */
    {OP_LINK, "hello.txt", "hard.txt", 0, 0},
    {OP_LINK, "hello.txt", "hard.txt", 0, 0},
    {OP_LINK, "link-rel", "hard-l", 0, 0},
    {OP_LINK, "link-rel", "hard-f", AT_SYMLINK_FOLLOW, 0},
    {OP_LINK, "dangling", "hard-dg", AT_SYMLINK_FOLLOW, 0},
    {OP_LINK, "dangling", "hard-dl", 0, 0},
    {OP_LINK, "sub", "hard-d", 0, 0},
    {OP_LINK, "sub/.", "hard-d", 0, 0},
    {OP_LINK, "nope", "hard-n", 0, 0},
    {OP_LINK, "hello.txt", "nope/x", 0, 0},
    {OP_LINK, "hello.txt", "sub/..", 0, 0},
    {OP_LINK, "hello.txt", "dangling", 0, 0},
    {OP_LINK, "hello.txt/", "hard-s", 0, 0},
    /* the kernel's order: the old name whole (a trailing slash follows a
     * last symlink; ".", ".." resolve to a directory), then the new name
     * (EEXIST), then EPERM for a directory */
    {OP_SYMLINK, "sublink", "sub", 0, 0},
    {OP_LINK, "sub/.", "hello.txt", 0, 0},
    {OP_LINK, "sub/..", "sub/inner.txt", 0, 0},
    {OP_LINK, "sublink/", "hello.txt", 0, 0},
    {OP_LINK, "sublink/", "hard-sl", 0, 0},
    {OP_LINK, "sublink/", "sub/.", 0, 0},
    {OP_LINK, "dangling/", "hard-dd", 0, 0},
    {OP_LINK, "hello.txt/", "hello.txt", 0, 0},
    {OP_LINK, "fifo/", "nope/x", 0, 0},
    {OP_LINK, "nope", "hello.txt/x", 0, 0},
    {OP_LINK, "nope", "sub/..", 0, 0},
    {OP_LINK, "nope", "link-rel/x", 0, 0},
    {OP_STAT, "hard.txt", 0, 0, 0},
    {OP_LSTAT, "hard-l", 0, 0, 0},
    {OP_LSTAT, "hard-f", 0, 0, 0},
    /* FIFOs, sockets and regular files */
    {OP_MKNOD, "newfifo", 0, 0, S_IFIFO | 0640},
    {OP_MKNOD, "newfifo", 0, 0, S_IFIFO | 0640},
    {OP_MKNOD, "newreg", 0, 0, S_IFREG | 0600},
    {OP_MKNOD, "newreg0", 0, 0, 0604},
    {OP_MKNOD, "newsock", 0, 0, S_IFSOCK | 0600},
    {OP_MKNOD, "dangling", 0, 0, S_IFIFO | 0600},
    {OP_MKNOD, "nope/f", 0, 0, S_IFIFO | 0600},
    {OP_MKNOD, "sub/..", 0, 0, S_IFIFO | 0600},
    {OP_MKNOD, "newdir3", 0, 0, S_IFDIR | 0700},
    {OP_STAT, "newfifo", 0, 0, 0},
    /* ownership (this runs as root in CI: the uids are changed) */
    {OP_CHOWN, "sub/inner.txt", 0, 0, 4242},
    {OP_CHOWN, "link-rel", 0, 0, 4243},
    {OP_LCHOWN, "link-abs", 0, 0, 4244},
    {OP_CHOWN, "hard-d", 0, 0, 4245},
    {OP_CHOWN, "dangling", 0, 0, 4245},
    {OP_CHOWN, "sub", 0, 0, 0xffffffffu},
    {OP_LCHOWN, "newfifo", 0, 0, 4246},
};

static void test_same_as_kernel(void **state)
{
    fx_t *f = *state;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const op_t *o = &ops[i];
        shunt_msg_t m;
        struct stat sb;
        char link[PATH_MAX + 1];
        int want = local_op(f, o, &sb, link);
        int got = remote_op(f, o, &m);
        if (want != got)
            fail_msg("#%zu %s(\"%s\"%s%s): agent says %d (%s), the kernel %d "
                     "(%s)", i, op_names[o->op], o->path, o->path2 ? ", " : "",
                     o->path2 ? o->path2 : "", got, strerror(-got), want,
                     strerror(-want));
        if (got < 0)
            continue;
        if (o->op == OP_STAT || o->op == OP_LSTAT) {
            assert_int_equal(m.u.stat_r.mode, sb.st_mode);
            assert_int_equal(m.u.stat_r.size, sb.st_size);
            assert_int_equal(m.u.stat_r.nlink, sb.st_nlink);
        }
        if (o->op == OP_READLINK) {
            assert_int_equal(m.u.readlink_r.target.len, strlen(link));
            assert_memory_equal(m.u.readlink_r.target.p, link, strlen(link));
        }
    }
    /* and the two trees ended up the same */
    const char *const check[] = {"hello.txt", "moved.txt", "created.txt",
                                 "dangling", "nowhere", "newdir", "sub/deep",
                                 "sub/inner.txt", "emptydir", "link-rel",
                                 "sub", "newlink", "link-abs", "hard.txt",
                                 "hard-l", "hard-f", "hard-dl", "newfifo",
                                 "newreg", "newreg0", "newsock", "newdir3"};
    for (size_t i = 0; i < sizeof(check) / sizeof(check[0]); i++) {
        struct stat sa, sb;
        char pa[600];
        snprintf(pa, sizeof(pa), "%s/%s", f->a, check[i]);
        int ra = lstat(pa, &sa) < 0 ? -errno : 0;
        int rb = fstatat(f->bfd, check[i], &sb, AT_SYMLINK_NOFOLLOW) < 0
                     ? -errno : 0;
        if (ra != rb)
            fail_msg("%s: agent tree %d, local tree %d", check[i], ra, rb);
        if (ra == 0) {
            assert_int_equal(sa.st_mode, sb.st_mode);
            assert_int_equal(sa.st_size, sb.st_size);
            assert_int_equal(sa.st_nlink, sb.st_nlink);
            assert_int_equal(sa.st_uid, sb.st_uid);
            assert_int_equal(sa.st_gid, sb.st_gid);
        }
        if (ra == 0 && (strcmp(check[i], "sub/inner.txt") == 0 ||
                        strcmp(check[i], "link-abs") == 0)) {
            assert_int_equal(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
            assert_int_equal(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
            assert_int_equal(sa.st_atim.tv_sec, sb.st_atim.tv_sec);
        }
    }
}

/* FCHOWN and LINK with AT_EMPTY_PATH on handles; MKNOD refuses device
 * nodes (EPERM) even though this test runs as root. */
static void test_chown_link_mknod_handles(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    char p[600];
    struct stat sb;
    int h = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDWR, 0);
    assert_true(h > 0);
    shunt_fchown_t fc = {.handle = (uint32_t)h, .uid = 4250, .gid = 0xffffffffu};
    int want = fchown(f->bfd, 4250, (gid_t)-1) < 0 ? -errno : 0; /* O_PATH: EBADF */
    (void)want;
    int r = shunt_client_call(f->c, SHUNT_T_FCHOWN, &fc, &m);
    snprintf(p, sizeof(p), "%s/hello.txt", f->a);
    assert_int_equal(stat(p, &sb), 0);
    if (geteuid() == 0) {
        assert_int_equal(r, 0);
        assert_int_equal(sb.st_uid, 4250);
    } else {
        assert_int_equal(r, -EPERM);
    }
    shunt_link_t ln = {.olddirh = (uint32_t)h, .oldpath = shunt_str(""),
                       .newdirh = SHUNT_AT_ROOT,
                       .newpath = shunt_str("sub/from-handle"),
                       .flags = AT_EMPTY_PATH};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_LINK, &ln, &m), 0);
    struct stat sl;
    snprintf(p, sizeof(p), "%s/sub/from-handle", f->a);
    assert_int_equal(stat(p, &sl), 0);
    assert_int_equal(sl.st_ino, sb.st_ino);
    /* without AT_EMPTY_PATH an empty old name is ENOENT, as linkat's */
    ln.flags = 0;
    ln.newpath = shunt_str("sub/from-handle2");
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_LINK, &ln, &m), -ENOENT);
    ln.flags = 0x4000; /* not a linkat flag */
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_LINK, &ln, &m), -EINVAL);
    fc.handle = 999999;
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_FCHOWN, &fc, &m), -EBADF);
    r_close(f->c, (uint32_t)h);

    const unsigned dev_modes[] = {S_IFCHR | 0600, S_IFBLK | 0600};
    for (size_t i = 0; i < 2; i++) {
        shunt_mknod_t mk = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("devnode"),
                            .mode = dev_modes[i], .dev = makedev(1, 3)};
        assert_int_equal(shunt_client_call(f->c, SHUNT_T_MKNOD, &mk, &m), -EPERM);
        snprintf(p, sizeof(p), "%s/devnode", f->a);
        assert_int_equal(lstat(p, &sb), -1);
    }
    shunt_mknod_t bad = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("x"),
                         .mode = 0170000 | 0600};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_MKNOD, &bad, &m), -EINVAL);
    shunt_chown_t cb = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("hello.txt"),
                        .uid = 1, .gid = 1, .flags = AT_REMOVEDIR};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_CHOWN, &cb, &m), -EINVAL);
}

static void test_getdents(void **state)
{
    fx_t *f = *state;
    int h = r_open(f->c, SHUNT_AT_ROOT, "many", O_RDONLY | O_DIRECTORY, 0);
    assert_true(h > 0);
    static char seen[MANY_COUNT];
    memset(seen, 0, sizeof(seen));
    int dots = 0, total = 0, batches = 0;
    for (;;) {
        shunt_msg_t m;
        shunt_getdents_t g = {.handle = (uint32_t)h, .max_entries = 50};
        assert_int_equal(shunt_client_call(f->c, SHUNT_T_GETDENTS, &g, &m), 0);
        assert_true(m.u.dirents_r.entries.count <= 50);
        batches++;
        shunt_list_iter_t it;
        shunt_rec_dirent_t d;
        shunt_list_iter_init(&it, &m.u.dirents_r.entries);
        while (shunt_list_next_rec_dirent(&it, &d) == 1) {
            total++;
            if (shunt_str_eq(d.name, ".") || shunt_str_eq(d.name, "..")) {
                dots++;
                assert_int_equal(d.type, DT_DIR);
                continue;
            }
            assert_int_equal(d.type, DT_REG);
            char name[16];
            assert_int_equal(shunt_str_copy(name, sizeof(name), d.name), 0);
            int idx = atoi(name + 1);
            assert_true(idx >= 0 && idx < MANY_COUNT);
            assert_int_equal(seen[idx], 0);
            seen[idx] = 1;
        }
        if (m.u.dirents_r.eof)
            break;
        assert_true(batches < 100);
    }
    assert_int_equal(dots, 2);
    assert_int_equal(total, MANY_COUNT + 2);
    assert_true(batches >= (MANY_COUNT + 2) / 50);
    /* rewinding (lseek 0) lists everything again, in one batch */
    shunt_msg_t m;
    shunt_lseek_t ls = {.handle = (uint32_t)h, .offset = 0, .whence = SEEK_SET};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_LSEEK, &ls, &m), 0);
    shunt_getdents_t g = {.handle = (uint32_t)h, .max_entries = 0};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_GETDENTS, &g, &m), 0);
    assert_int_equal(m.u.dirents_r.entries.count, MANY_COUNT + 2);
    assert_int_equal(m.u.dirents_r.eof, 1);
    r_close(f->c, (uint32_t)h);
    /* a file handle is not a directory */
    h = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    g.handle = (uint32_t)h;
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_GETDENTS, &g, &m),
                     -ENOTDIR);
    r_close(f->c, (uint32_t)h);
}

static void test_statfs(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    struct statfs s;
    assert_int_equal(statfs(f->a, &s), 0);
    shunt_statfs_t q = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("/")};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_STATFS, &q, &m), 0);
    assert_int_equal(m.u.statfs_r.type, s.f_type);
    assert_int_equal(m.u.statfs_r.bsize, s.f_bsize);
    assert_int_equal(m.u.statfs_r.namelen, s.f_namelen);
    assert_int_equal(m.u.statfs_r.blocks, s.f_blocks);
    int h = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    shunt_fstatfs_t fq = {.handle = (uint32_t)h};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_FSTATFS, &fq, &m), 0);
    assert_int_equal(m.u.statfs_r.type, s.f_type);
    r_close(f->c, (uint32_t)h);
}

static void test_dir_handles(void **state)
{
    fx_t *f = *state;
    char buf[256];
    shunt_msg_t m;
    int d = r_open(f->c, SHUNT_AT_ROOT, "/sub", O_RDONLY | O_DIRECTORY, 0);
    assert_true(d > 0);
    assert_int_equal(r_slurp(f->c, d, "inner.txt", buf, sizeof(buf)), 6);
    assert_string_equal(buf, "inner\n");
    assert_int_equal(r_slurp(f->c, d, "../hello.txt", buf, sizeof(buf)), 12);
    assert_int_equal(r_slurp(f->c, d, "/hello.txt", buf, sizeof(buf)), 12);
    assert_int_equal(r_slurp(f->c, d, "up", buf, sizeof(buf)), 12);
    /* ".." past the root stays at the root, also from a directory handle */
    assert_int_equal(r_slurp(f->c, d, "../../../../hello.txt", buf,
                             sizeof(buf)), 12);
    /* an absolute symlink below the handle resolves from the root */
    assert_int_equal(r_slurp(f->c, SHUNT_AT_ROOT, "link-abs", buf,
                             sizeof(buf)), 6);
    int dd = r_open(f->c, d, "deep", O_RDONLY | O_DIRECTORY | O_PATH, 0);
    assert_true(dd > 0);
    assert_int_equal(r_slurp(f->c, dd, "../../link-abs", buf, sizeof(buf)), 6);
    assert_int_equal(r_slurp(f->c, dd, "x", buf, sizeof(buf)), 1);
    /* stat relative to the handle, and of the handle itself */
    shunt_stat_t st = {.dirh = d, .path = shunt_str("inner.txt")};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_STAT, &st, &m), 0);
    assert_int_equal(m.u.stat_r.size, 6);
    st.path = shunt_str("");
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_STAT, &st, &m), -ENOENT);
    st.flags = AT_EMPTY_PATH;
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_STAT, &st, &m), 0);
    assert_true(S_ISDIR(m.u.stat_r.mode));
    /* mkdir/unlink/rename relative to handles */
    shunt_mkdir_t mk = {.dirh = d, .path = shunt_str("made"), .mode = 0755};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_MKDIR, &mk, &m), 0);
    shunt_rename_t rn = {.olddirh = d, .oldpath = shunt_str("made"),
                         .newdirh = SHUNT_AT_ROOT,
                         .newpath = shunt_str("made-top")};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_RENAME, &rn, &m), 0);
    char p[600];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/made-top", f->a);
    assert_int_equal(stat(p, &sb), 0);
    /* a file handle as dirh, a bogus handle */
    int fh = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    assert_int_equal(r_open(f->c, fh, "x", O_RDONLY, 0), -ENOTDIR);
    assert_int_equal(r_open(f->c, 12345, "x", O_RDONLY, 0), -EBADF);
    assert_int_equal(r_open(f->c, 0xfffffffeu, "x", O_RDONLY, 0), -EBADF);
    assert_int_equal(r_open(f->c, 0x80000001u, "x", O_RDONLY, 0), -EBADF);
    /* an absolute path ignores dirh, as openat does */
    assert_int_equal(r_slurp(f->c, 12345, "/hello.txt", buf, sizeof(buf)), 12);
    /* a handle opened through a symlink since removed, and one whose
     * directory was renamed: found where the directory is now, as the
     * kernel walks from the fd itself */
    snprintf(p, sizeof(p), "%s/sublink", f->a);
    assert_int_equal(symlink("sub", p), 0);
    int sl = r_open(f->c, SHUNT_AT_ROOT, "sublink", O_RDONLY | O_DIRECTORY, 0);
    assert_true(sl > 0);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(r_slurp(f->c, sl, "inner.txt", buf, sizeof(buf)), 6);
    char q[600];
    snprintf(p, sizeof(p), "%s/sub", f->a);
    snprintf(q, sizeof(q), "%s/sub-renamed", f->a);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(r_slurp(f->c, d, "inner.txt", buf, sizeof(buf)), 6);
    assert_int_equal(r_slurp(f->c, dd, "x", buf, sizeof(buf)), 1);
    shunt_realpath_t rp = {.dirh = (uint32_t)d, .path = shunt_str("."),
                           .flags = O_DIRECTORY};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_REALPATH, &rp, &m), 0);
    assert_int_equal(m.u.readlink_r.target.len, strlen("/sub-renamed"));
    assert_memory_equal(m.u.readlink_r.target.p, "/sub-renamed",
                        strlen("/sub-renamed"));
    assert_int_equal(rename(q, p), 0);
    r_close(f->c, (uint32_t)sl);
    r_close(f->c, (uint32_t)fh);
    r_close(f->c, (uint32_t)dd);
    r_close(f->c, (uint32_t)d);
}

static void test_fifo_does_not_block(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    /* a blocking open (the kernel would wait for the other end) is
     * refused at once, whatever the access mode, reader or not */
    assert_int_equal(r_open(f->c, SHUNT_AT_ROOT, "fifo", O_RDONLY, 0),
                     -EOPNOTSUPP);
    assert_int_equal(r_open(f->c, SHUNT_AT_ROOT, "fifo", O_WRONLY, 0),
                     -EOPNOTSUPP);
    assert_int_equal(r_open(f->c, SHUNT_AT_ROOT, "fifo", O_RDWR, 0),
                     -EOPNOTSUPP);
    int h = r_open(f->c, SHUNT_AT_ROOT, "fifo", O_RDONLY | O_NONBLOCK, 0);
    assert_true(h > 0);
    assert_int_equal(r_open(f->c, SHUNT_AT_ROOT, "fifo", O_WRONLY, 0),
                     -EOPNOTSUPP);
    shunt_read_t rd = {.handle = (uint32_t)h, .count = 10};
    int r = shunt_client_call(f->c, SHUNT_T_READ, &rd, &m);
    assert_true(r == 0 || r == -EAGAIN);
    /* pread of a FIFO: the kernel's ESPIPE, even of 0 bytes */
    shunt_pread_t pr = {.handle = (uint32_t)h, .count = 0, .offset = 0};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_PREAD, &pr, &m), -ESPIPE);
    /* truncate(2) of a FIFO is EINVAL, before any open for writing */
    shunt_truncate_t tq = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("fifo"),
                           .length = 0};
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_TRUNCATE, &tq, &m),
                     -EINVAL);
    tq.path = shunt_str("sub");
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_TRUNCATE, &tq, &m),
                     -EISDIR);
    assert_int_equal(r_ping(f->c), 0);
    r_close(f->c, (uint32_t)h);
}

static void test_handles_are_per_client(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    shunt_client_t *c2 = agent_client(&f->ap);
    assert_non_null(c2);
    int h = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    int h2 = r_open(c2, SHUNT_AT_ROOT, "sub/inner.txt", O_RDONLY, 0);
    assert_true(h > 0 && h2 > 0);
    assert_int_not_equal(h, h2);
    shunt_read_t rd = {.handle = (uint32_t)h, .count = 5};
    assert_int_equal(shunt_client_call(c2, SHUNT_T_READ, &rd, &m), -EBADF);
    assert_int_equal(r_close(c2, (uint32_t)h), -EBADF);
    assert_int_equal(shunt_client_call(f->c, SHUNT_T_READ, &rd, &m), 0);
    assert_memory_equal(m.u.data_r.data.p, "hello", 5);
    shunt_client_close(c2);
    r_close(f->c, (uint32_t)h);
}

/* ---- locks --------------------------------------------------------------
 * LOCK and FLOCK lock the handle's own open file description: two handles
 * exclude each other, and both exclude this (local) process's own POSIX
 * and flock locks on the same file; nothing ever blocks. */
static long r_lock(shunt_client_t *c, uint32_t h, int cmd, int type,
                   int64_t start, int64_t len, shunt_msg_t *m)
{
    shunt_lock_t q = {.handle = h, .cmd = cmd, .type = type,
                      .whence = SEEK_SET, .start = start, .len = len};
    return shunt_client_call(c, SHUNT_T_LOCK, &q, m);
}

static long r_flock(shunt_client_t *c, uint32_t h, int op)
{
    shunt_flock_t q = {.handle = h, .op = op};
    shunt_msg_t m;
    return shunt_client_call(c, SHUNT_T_FLOCK, &q, &m);
}

static void test_locks(void **state)
{
    fx_t *f = *state;
    shunt_msg_t m;
    int h1 = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDWR, 0);
    int h2 = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDWR, 0);
    assert_true(h1 > 0 && h2 > 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/hello.txt", f->a);
    int lfd = open(p, O_RDWR | O_CLOEXEC);
    assert_true(lfd >= 0);

    assert_int_equal(r_lock(f->c, (uint32_t)h1, F_OFD_SETLK, F_WRLCK, 0, 4, &m), 0);
    assert_int_equal(r_lock(f->c, (uint32_t)h1, F_OFD_SETLK, F_WRLCK, 2, 1, &m), 0);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_SETLK, F_RDLCK, 3, 1, &m),
                     -EAGAIN);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_SETLK, F_RDLCK, 4, 1, &m), 0);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_GETLK, F_WRLCK, 0, 0, &m), 0);
    assert_int_equal(m.u.lock_r.type, F_WRLCK);
    assert_int_equal(m.u.lock_r.start, 0);
    assert_int_equal(m.u.lock_r.len, 4);
    assert_int_equal(m.u.lock_r.pid, -1);
    /* a local POSIX lock conflicts with the agent's */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1,
                       .l_len = 1};
    assert_int_equal(fcntl(lfd, F_SETLK, &fl), -1);
    assert_true(errno == EAGAIN || errno == EACCES);
    assert_int_equal(r_lock(f->c, (uint32_t)h1, F_OFD_SETLK, F_UNLCK, 0, 0, &m), 0);
    assert_int_equal(fcntl(lfd, F_SETLK, &fl), 0);
    assert_int_equal(r_lock(f->c, (uint32_t)h1, F_OFD_GETLK, F_RDLCK, 0, 0, &m), 0);
    assert_int_equal(m.u.lock_r.type, F_WRLCK); /* ours, with our pid */
    assert_int_equal(m.u.lock_r.pid, getpid());
    fl.l_type = F_UNLCK;
    assert_int_equal(fcntl(lfd, F_SETLK, &fl), 0);
    assert_int_equal(r_lock(f->c, (uint32_t)h1, F_OFD_GETLK, F_RDLCK, 0, 0, &m), 0);
    assert_int_equal(m.u.lock_r.type, F_UNLCK);

    /* flock */
    assert_int_equal(r_flock(f->c, (uint32_t)h1, LOCK_EX), 0);
    assert_int_equal(r_flock(f->c, (uint32_t)h2, LOCK_SH), -EWOULDBLOCK);
    assert_int_equal(flock(lfd, LOCK_SH | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    assert_int_equal(r_close(f->c, (uint32_t)h1), 0); /* releases its locks */
    assert_int_equal(r_flock(f->c, (uint32_t)h2, LOCK_EX), 0);
    assert_int_equal(r_flock(f->c, (uint32_t)h2, LOCK_UN), 0);

    /* what the kernel would refuse, and what the agent never does */
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_SETLKW, F_WRLCK, 0, 0, &m),
                     -EINVAL);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_SETLK, F_WRLCK, 0, 0, &m),
                     -EINVAL);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_SETLK, 9, 0, 0, &m),
                     -EINVAL);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_SETLK, 1 << 20, 0, 0, &m),
                     -EINVAL);
    assert_int_equal(r_lock(f->c, (uint32_t)h2, F_OFD_SETLK, F_WRLCK, -5, 1, &m),
                     -EINVAL);
    assert_int_equal(r_flock(f->c, (uint32_t)h2, 0), -EINVAL);
    assert_int_equal(r_lock(f->c, (uint32_t)h1, F_OFD_SETLK, F_WRLCK, 0, 0, &m),
                     -EBADF);
    assert_int_equal(r_flock(f->c, (uint32_t)h1, LOCK_EX), -EBADF);
    int ro = r_open(f->c, SHUNT_AT_ROOT, "hello.txt", O_RDONLY, 0);
    assert_int_equal(r_lock(f->c, (uint32_t)ro, F_OFD_SETLK, F_WRLCK, 0, 0, &m),
                     -EBADF);
    r_close(f->c, (uint32_t)ro);
    r_close(f->c, (uint32_t)h2);
    close(lfd);
}

int main(void)
{
    umask(0); /* the local mirror takes modes as given, like the agent */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_read_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_as_kernel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chown_link_mknod_handles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_getdents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_does_not_block, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_handles_are_per_client, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
    };
    return cmocka_run_group_tests_name("agent.files", tests, NULL, NULL);
}
