/* A remote current directory: chdir/fchdir into a remote directory,
 * getcwd, and what children inherit (docs/hooking.md, "The current
 * directory").
 *
 * The remote cwd is an agent directory handle (opened O_PATH at chdir and
 * fchdir, CLOSEd when the cwd changes) and a path: its canonical name in
 * the target at chdir.  Relative paths go to the agent with the handle as
 * their dirh (resolve.c), so they reach the directory itself wherever it
 * or a parent was moved since, as the kernel's cwd does; getcwd is
 * REALPATH of the handle (its name now; ENOENT once it is removed).  The
 * policy still judges the path (the name at chdir joined with the relative
 * path), and so does whatever has no handle: a cwd inherited across exec
 * (below) is the path only.  A fork's child shares the handle (FORK, as a
 * directory fd's: init.c asks cwd_fork_*), each process CLOSEs its own
 * hold; one the proxy was not told about is shared and never CLOSEd.
 * Meanwhile
 * the kernel's cwd is a removed local directory (a new one at each remote
 * chdir, kept as an O_PATH fd): whatever the layer does not see (a static
 * child, an unhooked call, a raw syscall) finds nothing there (ENOENT) and
 * cannot create anything, and the kernel's getcwd says ENOENT.  Its name
 * carries the remote cwd, so an exec'd image's layer reads it back from
 * /proc/self/cwd, however the exec was made; a path too long for a name
 * travels in SHUNT_CWD=DEV:INO:PATH (DEV:INO naming that directory), which
 * the new image's layer takes only while its kernel cwd is still that
 * directory, and removes from the program's environment. */
#include "hooks.h"
#include "layer.h"
#include "shunt/path.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

extern char **environ;

#define CWD_VAR "SHUNT_CWD"

static struct {
    atomic_int remote;     /* 1: the cwd is path, in the target */
    atomic_flag lock;      /* guards path (a spinlock: vfork children) */
    char path[PATH_MAX];
    uint32_t dirh;         /* the agent's handle, or SHUNT_AT_ROOT: none */
    int dirh_shared;       /* inherited by a fork untold: never CLOSEd */
    int deadfd;            /* O_PATH fd of the removed local directory */
    dev_t dead_dev;
    ino_t dead_ino;
    int named;             /* the removed directory's name says path */
} cwd = {.lock = ATOMIC_FLAG_INIT, .dirh = SHUNT_AT_ROOT, .deadfd = -1};

static void lock(void)
{
    shunt_sig_block(); /* no handler may find it taken (sigblock.h) */
    while (atomic_flag_test_and_set_explicit(&cwd.lock, memory_order_acquire))
        LSYS0(SYS_sched_yield);
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&cwd.lock, memory_order_release);
    shunt_sig_unblock();
}

int layer_cwd_is_remote(void)
{
    return atomic_load_explicit(&cwd.remote, memory_order_relaxed);
}

long layer_cwd_copy(char *buf, size_t len)
{
    return layer_cwd_copy_h(buf, len, NULL);
}

long layer_cwd_copy_h(char *buf, size_t len, uint32_t *dirh)
{
    if (dirh)
        *dirh = SHUNT_AT_ROOT;
    if (!layer_cwd_is_remote())
        return 0;
    lock();
    if (dirh && cwd.remote)
        *dirh = cwd.dirh;
    size_t n = strlen(cwd.path);
    long r = (long)n;
    if (!cwd.remote)
        r = 0;
    else if (n + 1 > len)
        r = -ENAMETOOLONG;
    else
        memcpy(buf, cwd.path, n + 1);
    unlock();
    return r;
}

#define DEAD_DIR "/tmp/"
#define DEAD_NAME ".shunt-cwd-"

/* The removed directory's name: DEAD_NAME RANDOM "-" CANON, with '%' and
 * '/' written %25 and %2F, when that fits in NAME_MAX (then a child, even
 * one whose environment lost or never had SHUNT_CWD, learns the remote cwd
 * from /proc/self/cwd); else DEAD_NAME RANDOM.  Returns 1 when the name
 * carries canon. */
static int dead_name(char *out, size_t outlen, uint64_t rnd, const char *canon)
{
    int n = snprintf(out, outlen, DEAD_DIR DEAD_NAME "%016" PRIx64, rnd);
    size_t len = (size_t)n, max = sizeof(DEAD_DIR) - 1 + NAME_MAX;
    if (len + 1 >= max || len + 2 > outlen)
        return 0;
    out[len++] = '-';
    for (const char *c = canon; *c; c++) {
        int esc = *c == '/' || *c == '%';
        if (len + (esc ? 3 : 1) > max || len + 4 > outlen) {
            out[n] = 0;
            return 0;
        }
        if (esc) {
            out[len++] = '%';
            out[len++] = '2';
            out[len++] = *c == '/' ? 'F' : '5';
        } else {
            out[len++] = *c;
        }
    }
    out[len] = 0;
    return 1;
}


/* A new removed directory for the kernel cwd to stay in (mkdir, open
 * O_PATH, rmdir; raw syscalls), named after canon (dead_name): one per
 * remote chdir, so that a SHUNT_CWD a child inherits from an older
 * environment names a directory it is not in. */
static long new_dead_dir(const char *canon, int *named, dev_t *dev, ino_t *ino)
{
    char p[sizeof(DEAD_DIR) + NAME_MAX + 1];
    uint64_t rnd = 0;
    LSYS3(SYS_getrandom, &rnd, sizeof(rnd), 0);
    *named = dead_name(p, sizeof(p), rnd, canon);
    long r = LSYS2(SYS_mkdir, p, 0500);
    if (r < 0) {
        LOG_WARN("cwd: mkdir %s: %s", p, ESTR((int)-r));
        return r;
    }
    long fd = LSYS4(SYS_openat, AT_FDCWD, p, O_PATH | O_DIRECTORY | O_CLOEXEC,
                    0);
    LSYS1(SYS_rmdir, p);
    if (fd < 0) {
        LOG_WARN("cwd: open %s: %s", p, ESTR((int)-fd));
        return fd;
    }
    struct stat st;
    r = LSYS2(SYS_fstat, fd, &st);
    if (r < 0) {
        LSYS1(SYS_close, fd);
        return r;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return fd;
}

/* CLOSEs a handle the cwd held (after it let go of it, outside the lock). */
static void release_dirh(uint32_t h, int shared)
{
    if (h != SHUNT_AT_ROOT && !shared)
        rpc_close_handle(h);
}

/* Enters the remote directory canon (canonical, absolute) whose handle is
 * dirh (the cwd takes it over, or CLOSEs it on failure). */
static long set_remote(const char *canon, size_t len, uint32_t dirh)
{
    if (len + 1 > sizeof(cwd.path)) {
        release_dirh(dirh, 0);
        return -ENAMETOOLONG;
    }
    dev_t dev;
    ino_t ino;
    int named;
    long fd = new_dead_dir(canon, &named, &dev, &ino);
    if (fd < 0) {
        release_dirh(dirh, 0);
        return fd;
    }
    /* The kernel's cwd and the state change together (threads). */
    lock();
    long r = LSYS1(SYS_fchdir, fd);
    if (r < 0) {
        unlock();
        LSYS1(SYS_close, fd);
        release_dirh(dirh, 0);
        return r;
    }
    uint32_t oldh = cwd.remote ? cwd.dirh : SHUNT_AT_ROOT;
    int oldshared = cwd.dirh_shared;
    cwd.dirh = dirh;
    cwd.dirh_shared = 0;
    int old = cwd.deadfd;
    cwd.deadfd = layer_fd_protect((int)fd, &cwd.deadfd);
    memcpy(cwd.path, canon, len);
    cwd.path[len] = 0;
    cwd.dead_dev = dev;
    cwd.dead_ino = ino;
    cwd.named = named;
    atomic_store(&cwd.remote, 1);
    unlock();
    if (old >= 0) {
        layer_fd_unprotect(old);
        LSYS1(SYS_close, old);
    }
    release_dirh(oldh, oldshared);
    LOG_DEBUG("cwd: remote %s (handle %u)", canon, (unsigned)dirh);
    return 0;
}

/* A local chdir (nr SYS_chdir or SYS_fchdir): the kernel's. */
static long chdir_local(long nr, long arg)
{
    lock();
    long k = shunt_sys6(nr, arg, 0, 0, 0, 0, 0);
    int was = cwd.remote;
    uint32_t oldh = SHUNT_AT_ROOT;
    int oldshared = cwd.dirh_shared;
    if (k == 0) {
        atomic_store(&cwd.remote, 0);
        oldh = cwd.dirh;
        cwd.dirh = SHUNT_AT_ROOT;
        cwd.dirh_shared = 0;
    }
    unlock();
    release_dirh(oldh, oldshared);
    if (k == 0 && was)
        LOG_DEBUG("cwd: local again");
    return k;
}

/* REALPATH of (dirh, path) as a directory into out. */
static long realpath_dir(int32_t dirh, const char *path, char *out,
                         size_t outlen)
{
    shunt_realpath_t q = {.dirh = dirh, .path = shunt_str(path),
                          .flags = O_DIRECTORY};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_REALPATH, &q, &m);
    if (r < 0)
        return r;
    size_t n = m.u.readlink_r.target.len;
    if (n == 0 || m.u.readlink_r.target.p[0] != '/')
        return -EIO;
    if (n + 1 > outlen)
        return -ENAMETOOLONG;
    memcpy(out, m.u.readlink_r.target.p, n);
    out[n] = 0;
    return (long)n;
}

/* Opens (dirh, path) as a directory handle for the cwd (O_PATH: a
 * directory one may enter without reading it) and names it: REALPATH of
 * the handle, which checks search permission as chdir(2) does.  The
 * handle into *h, the name's length into the result. */
static long open_cwd(uint32_t dirh, const char *path, uint32_t *h, char *canon,
                     size_t clen)
{
    int flags = O_PATH | O_DIRECTORY;
    shunt_msg_t m;
    long r;
    if (dirh == SHUNT_AT_ROOT) {
        shunt_open_t q = {.path = shunt_str(path), .flags = flags, .mode = 0};
        r = shunt_rpc(SHUNT_T_OPEN, &q, &m);
    } else {
        shunt_openat_t q = {.dirh = dirh, .path = shunt_str(path),
                            .flags = flags, .mode = 0};
        r = shunt_rpc(SHUNT_T_OPENAT, &q, &m);
    }
    if (r < 0)
        return r;
    *h = m.u.open_r.handle;
    r = realpath_dir((int32_t)*h, ".", canon, clen);
    if (r < 0)
        release_dirh(*h, 0);
    return r;
}

long layer_cwd_chdir(const char *path)
{
    if (!path)
        return -EFAULT;
    layer_target_t t;
    int r = layer_resolve(AT_FDCWD, path, &t);
    if (r < 0 && r != -EINVAL)
        return r;
    if (r == 0 && t.mode == SHUNT_MODE_NOT_FOUND)
        return -ENOENT;
    if (r == 0 && layer_is_remote(t.mode)) {
        char canon[PATH_MAX];
        uint32_t h;
        long n = open_cwd(t.dirh, t.rpath, &h, canon, sizeof(canon));
        return n < 0 ? n : set_remote(canon, (size_t)n, h);
    }
    /* Local: the kernel's.  Under a remote cwd a relative path was made
     * absolute by layer_resolve (t.lpath). */
    return chdir_local(SYS_chdir, (long)(r == 0 ? t.lpath : path));
}

long layer_cwd_fchdir(int fd)
{
    if (shunt_fdt_is_ours(fd)) {
        shunt_rfile_t *f = shunt_fdt_get(fd);
        if (f && shunt_rf_remote(f)) {
            long r = -ENOTDIR;
            if (f->kind == SHUNT_RF_DIR) {
                char canon[PATH_MAX];
                uint32_t h;
                r = open_cwd(f->handle, ".", &h, canon, sizeof(canon));
                if (r >= 0)
                    r = set_remote(canon, (size_t)r, h);
            }
            shunt_rfile_unref(f);
            return r;
        }
        shunt_rfile_unref(f);
    }
    return chdir_local(SYS_fchdir, fd);
}

long layer_cwd_getcwd(char *buf, size_t size)
{
    char path[PATH_MAX], canon[PATH_MAX];
    long n;
    for (int tries = 0;; tries++) {
        uint32_t h;
        n = layer_cwd_copy_h(path, sizeof(path), &h);
        if (n == 0)
            return LSYS2(SYS_getcwd, buf, size);
        if (n < 0)
            return n;
        /* The directory's name now (the handle's: it follows a rename of
         * it or of a parent), or ENOENT once it is removed, as the kernel
         * says.  Without a handle (inherited across exec), the path's. */
        if (h != SHUNT_AT_ROOT)
            n = realpath_dir((int32_t)h, ".", canon, sizeof(canon));
        else
            n = realpath_dir(SHUNT_AT_ROOT, path, canon, sizeof(canon));
        /* EBADF: another thread's chdir closed the handle meanwhile. */
        if (n != -EBADF || tries == 2)
            break;
    }
    if (n < 0)
        return n == -ENOTDIR ? -ENOENT : n;
    if ((size_t)n + 1 > size)
        return -ERANGE;
    memcpy(buf, canon, (size_t)n + 1);
    return n + 1;
}

/* ---- hooks -------------------------------------------------------------- */

int hook_chdir(const char *path)
{
    if (LAYER_BYPASS())
        return REAL(chdir, path);
    int saved = errno;
    LAYER_ENTER();
    long r = layer_cwd_chdir(path);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

int hook_fchdir(int fd)
{
    if (LAYER_BYPASS())
        return REAL(fchdir, fd);
    int saved = errno;
    LAYER_ENTER();
    long r = layer_cwd_fchdir(fd);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

/* libc's getcwd; get_current_dir_name, getwd and realpath call it too. */
char *hook_getcwd(char *buf, size_t size)
{
    if (LAYER_BYPASS() || !layer_cwd_is_remote())
        return REAL(getcwd, buf, size);
    if (buf && size == 0) {
        errno = EINVAL;
        return NULL;
    }
    int saved = errno;
    char tmp[PATH_MAX];
    LAYER_ENTER();
    long r = layer_cwd_getcwd(tmp, sizeof(tmp));
    LAYER_LEAVE();
    if (r < 0) {
        errno = (int)-r;
        return NULL;
    }
    if (!buf) {
        size_t want = size ? size : (size_t)r;
        if ((size_t)r > want) {
            errno = ERANGE;
            return NULL;
        }
        buf = shunt_program_malloc(want);
        if (!buf) {
            errno = ENOMEM;
            return NULL;
        }
    } else if ((size_t)r > size) {
        errno = ERANGE;
        return NULL;
    }
    memcpy(buf, tmp, (size_t)r);
    errno = saved;
    return buf;
}

long shunt_cwd_getcwd_sys(char *buf, size_t size)
{
    if (LAYER_BYPASS())
        return layer_ret(LSYS2(SYS_getcwd, buf, size), errno);
    int saved = errno;
    LAYER_ENTER();
    long r = layer_cwd_getcwd(buf, size);
    LAYER_LEAVE();
    return layer_ret(r, saved);
}

/* ---- exec ---------------------------------------------------------------- */

size_t layer_cwd_env(char *buf, size_t len)
{
    if (!layer_cwd_is_remote())
        return 0;
    lock();
    int w = cwd.remote && !cwd.named ? snprintf(buf, len, CWD_VAR "=%llu:%llu:%s",
                                  (unsigned long long)cwd.dead_dev,
                                  (unsigned long long)cwd.dead_ino, cwd.path)
                       : 0;
    unlock();
    return w > 0 && (size_t)w < len ? (size_t)w : 0;
}

/* ---- fork (init.c's pthread_atfork handlers) ----------------------------- */

int layer_cwd_handle(uint32_t *h)
{
    if (!layer_cwd_is_remote())
        return 0;
    lock();
    *h = cwd.remote && !cwd.dirh_shared ? cwd.dirh : SHUNT_AT_ROOT;
    unlock();
    return *h != SHUNT_AT_ROOT;
}

/* Right before the fork: the lock is held across it (the cwd cannot change
 * in between), and a handle the proxy was not told about (told: the
 * handles it took holds for, n of them; NULL: none) is shared. */
void layer_cwd_fork_prepare(const uint32_t *told, size_t n)
{
    lock();
    if (!cwd.remote || cwd.dirh == SHUNT_AT_ROOT)
        return;
    for (size_t i = 0; told && i < n; i++)
        if (told[i] == cwd.dirh)
            return;
    cwd.dirh_shared = 1;
}

void layer_cwd_fork_parent(void)
{
    unlock();
}

void layer_cwd_fork_child(void)
{
    unlock();
}

void shunt_cwd_init(void);
void shunt_cwd_init(void)
{
    const char *v = NULL;
    for (size_t i = 0; environ && environ[i]; i++)
        if (strncmp(environ[i], CWD_VAR "=", sizeof(CWD_VAR)) == 0) {
            v = environ[i] + sizeof(CWD_VAR);
            do /* out of the program's sight (the string stays) */
                environ[i] = environ[i + 1];
            while (environ[i++]);
            break;
        }
    /* Inherited only while the kernel cwd is still the parent's removed
     * directory (a program without the layer may have moved since). */
    struct stat st;
    if (LSYS4(SYS_newfstatat, AT_FDCWD, "", &st, AT_EMPTY_PATH) < 0)
        return;
    char path[PATH_MAX];
    int found = 0, named = 0;
    unsigned long long dev, ino;
    int off = 0;
    if (v && sscanf(v, "%llu:%llu:%n", &dev, &ino, &off) == 2 && off > 0 &&
        v[off] == '/' && st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino &&
        strlen(v + off) < sizeof(path)) {
        strcpy(path, v + off);
        found = 1;
    } else {
        char link[PATH_MAX];
        long n = LSYS4(SYS_readlinkat, AT_FDCWD, "/proc/self/cwd", link,
                       sizeof(link) - 1);
        if (n > 0) {
            link[n] = 0;
            found = named = shunt_deadcwd_decode(link, path, sizeof(path)) == 0;
        }
    }
    if (!found) {
        if (v)
            LOG_DEBUG("cwd: " CWD_VAR " is stale; the cwd is the local one");
        return;
    }
    long fd = LSYS4(SYS_openat, AT_FDCWD, ".", O_PATH | O_DIRECTORY |
                    O_CLOEXEC, 0);
    if (fd < 0)
        return;
    cwd.dead_dev = st.st_dev;
    cwd.dead_ino = st.st_ino;
    cwd.named = named;
    cwd.deadfd = layer_fd_protect((int)fd, &cwd.deadfd);
    strcpy(cwd.path, path);
    atomic_store(&cwd.remote, 1);
    LOG_DEBUG("cwd: remote %s (inherited)", cwd.path);
}
