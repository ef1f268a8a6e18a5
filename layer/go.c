/* Go programs: their system calls, made without libc, reach the same
 * detours as libc's (docs/go.md).  At start-up the main executable is
 * checked for Go (a PT_NOTE "Go" build-id note, read from memory: no file
 * I/O for other programs); a Go program that is understood gets its
 * Syscall6 (Go >= 1.19) or the SYSCALL runs of its ABI0 syscall.Syscall
 * family (1.16 to 1.18), and rawVforkSyscall, patched to the trampolines of
 * trampolines/x86_64/go_*.S, whose one C handler, go_dispatch(), maps a
 * system-call number onto the hook_<name> detour of hooks.def. */
#include "hooks.h"
#include "journal.h"
#include "layer.h"
#include "notice.h"

#include "shunt/goinfo.h"
#include "shunt/gotramp.h"
#include "shunt/hook.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

extern char **environ;

#define A(i) (a[i])
#define P(i) ((void *)a[i])
#define I(i) ((int)a[i])

/* The detours Go's calls go to where GO_J(name) stands in the table below:
 * hook_<name>, or the call journal's wrapper around it when SHUNT_JOURNAL
 * is on (set once in shunt_go_install, before the first hooked Go call), so
 * that Go programs are journalled like C programs (layer/journal.def). */
static void *go_j[SHUNT_J_COUNT] = {
#define J(name, ...) [SHUNT_J_##name] = (void *)hook_##name,
#define JH(name) [SHUNT_J_##name] = (void *)hook_##name,
#include "journal.def"
#undef J
#undef JH
};
#define GO_J(name) ((__typeof__(&hook_##name))go_j[SHUNT_J_##name])

/* Every system call the layer serves for Go, with the detour it goes to.
 * A detour whose libc original may be absent (H_OPT) is guarded by
 * OPT(real_name.fn, expr): without the original the call goes to the kernel. */
#define OPT(real, expr) ((real) ? (long)(expr) : bare(nr, a))
/* A helper that returns -errno already: back to -1/errno for the adapter. */
#define NEG(expr) neg_to_errno(expr)
#define GO_SYSCALLS(X)                                                        \
    /* files: open, data */                                                   \
    X(SYS_open, GO_J(open)(P(0), I(1), (mode_t)A(2)))                         \
    X(SYS_openat, GO_J(openat)(I(0), P(1), I(2), (mode_t)A(3)))               \
    X(SYS_creat, hook_creat(P(0), (mode_t)A(1)))                              \
    X(SYS_openat2, NEG(layer_openat2(I(0), P(1), P(2), (size_t)A(3))))        \
    X(SYS_read, GO_J(read)(I(0), P(1), (size_t)A(2)))                         \
    X(SYS_write, GO_J(write)(I(0), P(1), (size_t)A(2)))                       \
    X(SYS_pread64, GO_J(pread)(I(0), P(1), (size_t)A(2), (off_t)A(3)))        \
    X(SYS_pwrite64, GO_J(pwrite)(I(0), P(1), (size_t)A(2), (off_t)A(3)))      \
    X(SYS_readv, GO_J(readv)(I(0), P(1), I(2)))                               \
    X(SYS_writev, GO_J(writev)(I(0), P(1), I(2)))                             \
    X(SYS_preadv, hook_preadv(I(0), P(1), I(2), (off_t)A(3)))                 \
    X(SYS_pwritev, hook_pwritev(I(0), P(1), I(2), (off_t)A(3)))               \
    X(SYS_preadv2, OPT(real_preadv2.fn,                                       \
                       hook_preadv2(I(0), P(1), I(2), (off_t)A(3), I(5))))    \
    X(SYS_pwritev2, OPT(real_pwritev2.fn,                                     \
                        hook_pwritev2(I(0), P(1), I(2), (off_t)A(3), I(5))))  \
    X(SYS_copy_file_range,                                                    \
      OPT(real_copy_file_range.fn,                                            \
          hook_copy_file_range(I(0), P(1), I(2), P(3), (size_t)A(4),          \
                               (unsigned)A(5))))                              \
    X(SYS_sendfile, hook_sendfile(I(0), I(1), P(2), (size_t)A(3)))            \
    X(SYS_lseek, hook_lseek(I(0), (off_t)A(1), I(2)))                         \
    X(SYS_ftruncate, hook_ftruncate(I(0), (off_t)A(1)))                       \
    X(SYS_fsync, hook_fsync(I(0)))                                            \
    X(SYS_fdatasync, hook_fdatasync(I(0)))                                    \
    /* fds */                                                                 \
    X(SYS_close, GO_J(close)(I(0)))                                           \
    X(SYS_close_range, OPT(real_close_range.fn,                               \
                           hook_close_range((unsigned)A(0), (unsigned)A(1),   \
                                            I(2))))                           \
    X(SYS_dup, hook_dup(I(0)))                                                \
    X(SYS_dup2, hook_dup2(I(0), I(1)))                                        \
    X(SYS_dup3, hook_dup3(I(0), I(1), I(2)))                                  \
    X(SYS_fcntl, hook_fcntl(I(0), I(1), P(2)))                                \
    /* metadata */                                                            \
    X(SYS_stat, GO_J(fstatat)(AT_FDCWD, P(0), P(1), 0))                       \
    X(SYS_lstat, GO_J(fstatat)(AT_FDCWD, P(0), P(1), AT_SYMLINK_NOFOLLOW))    \
    X(SYS_fstat, GO_J(fstatat)(I(0), "", P(1), AT_EMPTY_PATH))                \
    X(SYS_newfstatat, GO_J(fstatat)(I(0), P(1), P(2), I(3)))                  \
    X(SYS_statx, OPT(real_statx.fn,                                              \
                     GO_J(statx)(I(0), P(1), I(2), (unsigned)A(3), P(4))))    \
    X(SYS_getdents64, hook_getdents64(I(0), P(1), (size_t)A(2)))              \
    X(SYS_access, GO_J(faccessat)(AT_FDCWD, P(0), I(1), 0))                   \
    X(SYS_faccessat, GO_J(faccessat)(I(0), P(1), I(2), 0))                    \
    X(SYS_faccessat2, GO_J(faccessat)(I(0), P(1), I(2), I(3)))                \
    X(SYS_readlink, GO_J(readlinkat)(AT_FDCWD, P(0), P(1), (size_t)A(2)))     \
    X(SYS_readlinkat, GO_J(readlinkat)(I(0), P(1), P(2), (size_t)A(3)))       \
    X(SYS_statfs, hook_statfs(P(0), P(1)))                                    \
    X(SYS_fstatfs, hook_fstatfs(I(0), P(1)))                                  \
    /* namespace changes */                                                   \
    X(SYS_mkdir, GO_J(mkdirat)(AT_FDCWD, P(0), (mode_t)A(1)))                 \
    X(SYS_mkdirat, GO_J(mkdirat)(I(0), P(1), (mode_t)A(2)))                   \
    X(SYS_rmdir, GO_J(unlinkat)(AT_FDCWD, P(0), AT_REMOVEDIR))                \
    X(SYS_unlink, GO_J(unlinkat)(AT_FDCWD, P(0), 0))                          \
    X(SYS_unlinkat, GO_J(unlinkat)(I(0), P(1), I(2)))                         \
    X(SYS_rename, GO_J(renameat)(AT_FDCWD, P(0), AT_FDCWD, P(1)))             \
    X(SYS_renameat, GO_J(renameat)(I(0), P(1), I(2), P(3)))                   \
    X(SYS_renameat2,                                                          \
      A(4) == 0 ? GO_J(renameat)(I(0), P(1), I(2), P(3))                      \
                : OPT(real_renameat2.fn, GO_J(renameat2)(I(0), P(1), I(2), P(3), \
                                                     (unsigned)A(4))))        \
    X(SYS_truncate, GO_J(truncate)(P(0), (off_t)A(1)))                        \
    X(SYS_chmod, hook_chmod(P(0), (mode_t)A(1)))                              \
    X(SYS_fchmod, hook_fchmod(I(0), (mode_t)A(1)))                            \
    X(SYS_fchmodat, hook_fchmodat(I(0), P(1), (mode_t)A(2), 0))               \
    X(SYS_chown, hook_chown(P(0), (uid_t)A(1), (gid_t)A(2)))                 \
    X(SYS_lchown, hook_lchown(P(0), (uid_t)A(1), (gid_t)A(2)))               \
    X(SYS_fchown, hook_fchown(I(0), (uid_t)A(1), (gid_t)A(2)))                \
    X(SYS_fchownat, hook_fchownat(I(0), P(1), (uid_t)A(2), (gid_t)A(3), I(4))) \
    X(SYS_link, hook_link(P(0), P(1)))                                        \
    X(SYS_linkat, hook_linkat(I(0), P(1), I(2), P(3), I(4)))                  \
    X(SYS_mknod, hook_mknod(P(0), (mode_t)A(1), (dev_t)A(2)))                 \
    X(SYS_mknodat, hook_mknodat(I(0), P(1), (mode_t)A(2), (dev_t)A(3)))       \
    X(SYS_symlink, hook_symlink(P(0), P(1)))                                  \
    X(SYS_symlinkat, hook_symlinkat(P(0), I(1), P(2)))                        \
    X(SYS_utimensat, hook_utimensat(I(0), P(1), P(2), I(3)))                  \
    X(SYS_utimes, hook_utimes(P(0), P(1)))                                    \
    X(SYS_futimesat, hook_futimesat(I(0), P(1), P(2)))                        \
    X(SYS_utime, hook_utime(P(0), P(1)))                                      \
    /* sockets */                                                             \
    X(SYS_socket, GO_J(socket)(I(0), I(1), I(2)))                             \
    X(SYS_connect, GO_J(connect)(I(0), P(1), (socklen_t)A(2)))                \
    X(SYS_bind, GO_J(bind)(I(0), P(1), (socklen_t)A(2)))                      \
    X(SYS_getsockname, hook_getsockname(I(0), P(1), P(2)))                    \
    X(SYS_getpeername, hook_getpeername(I(0), P(1), P(2)))                    \
    X(SYS_getsockopt, hook_getsockopt(I(0), I(1), I(2), P(3), P(4)))          \
    X(SYS_listen, hook_listen(I(0), I(1)))                                    \
    X(SYS_accept, hook_accept(I(0), P(1), P(2)))                              \
    X(SYS_accept4, hook_accept4(I(0), P(1), P(2), I(3)))                      \
    X(SYS_sendto, hook_sendto(I(0), P(1), (size_t)A(2), I(3), P(4),           \
                              (socklen_t)A(5)))                               \
    X(SYS_recvfrom, hook_recvfrom(I(0), P(1), (size_t)A(2), I(3), P(4), P(5))) \
    X(SYS_sendmsg, hook_sendmsg(I(0), P(1), I(2)))                            \
    X(SYS_recvmsg, hook_recvmsg(I(0), P(1), I(2)))                            \
    /* processes: a Go program's own exec (syscall.Exec) as libc's; the     \
     * execve of os/exec's vfork children is seen by the trampoline */     \
    X(SYS_execve, hook_execve(P(0), P(1), P(2)))                              \
    /* the current directory (os.Chdir, os.Getwd) */                          \
    X(SYS_chdir, hook_chdir(P(0)))                                            \
    X(SYS_fchdir, hook_fchdir(I(0)))                                          \
    X(SYS_getcwd, shunt_cwd_getcwd_sys(P(0), (size_t)A(1)))                   \
    /* inotify (fsnotify: unix.InotifyInit1, InotifyAddWatch) */            \
    X(SYS_inotify_init, ((void)a, hook_inotify_init()))                       \
    X(SYS_inotify_init1, hook_inotify_init1(I(0)))                            \
    X(SYS_inotify_add_watch, hook_inotify_add_watch(I(0), P(1), (uint32_t)A(2))) \
    X(SYS_inotify_rm_watch, hook_inotify_rm_watch(I(0), I(1)))                \
    /* the target's host name (os.Hostname() asks uname first) */             \
    X(SYS_uname, hook_uname(P(0)))

typedef long (*go_fn_t)(long nr, const long *a);

static long neg_to_errno(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

static long bare(long nr, const long *a)
{
    return shunt_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* One adapter per system call: the detour's -1/errno becomes -errno. */
#define X(nr_, expr)                                                          \
    static long go_##nr_(long nr, const long *a)                              \
    {                                                                         \
        (void)nr;                                                             \
        long r = (long)(expr);                                                \
        return r == -1 ? -(long)errno : r;                                    \
    }
GO_SYSCALLS(X)
#undef X

static const go_fn_t go_table[SHUNT_GO_NR_MAX] = {
#define X(nr_, expr) [nr_] = go_##nr_,
    GO_SYSCALLS(X)
#undef X
};

/* The one C handler: runs on g0 (asmcgocall), a C context like a cgo
 * call.  errno is libc's per-thread errno of this Go thread. */
/* What os/exec's children exec'd since the last look (go_syscall6.S copies
 * each path into the ring): a static one is named on stderr (notice.c).
 * Looked at on the next handled call of any thread (for os/exec, its
 * close of the pipe right after the fork); the path is on disk, so a child
 * that is already gone is still named. */
static unsigned exec_seen;

static void exec_children(void)
{
    unsigned s = __atomic_load_n(&shunt_go_exec_seq, __ATOMIC_ACQUIRE);
    if (s == __atomic_load_n(&exec_seen, __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&exec_seen, s, __ATOMIC_RELAXED);
    for (int i = 0; i < SHUNT_GO_EXEC_SLOTS; i++) {
        shunt_go_exec_slot_t *e = &shunt_go_exec_ring[i];
        if (!__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE))
            continue;
        char path[SHUNT_GO_EXEC_PATH];
        memcpy(path, e->path, sizeof(path));
        path[sizeof(path) - 1] = 0;
        __atomic_store_n(&e->ready, 0, __ATOMIC_RELEASE);
        shunt_exec_check(AT_FDCWD, path, 0);
    }
}

static void go_dispatch(shunt_go_call_t *c)
{
    int saved = errno;
    exec_children();
    long nr = c->nr;
    go_fn_t fn = nr >= 0 && nr < SHUNT_GO_NR_MAX ? go_table[nr] : NULL;
    errno = 0;
    c->ret = fn ? fn(nr, c->a) : bare(nr, c->a);
    errno = saved;
}

/* libc's syscall() (sys.c): the same table. */
int layer_sys_serve(long nr, const long a[6], long *ret)
{
    go_fn_t fn = nr >= 0 && nr < SHUNT_GO_NR_MAX ? go_table[nr] : NULL;
    if (!fn)
        return 0;
    int saved = errno;
    errno = 0;
    *ret = fn(nr, a);
    errno = saved;
    return 1;
}

/* ---- detection and install --------------------------------------------- */

typedef struct {
    uintptr_t bias;
    int is_go;
} mainprog_t;

/* The main program's load bias and whether it carries Go's build-id note
 * (PT_NOTE, name "Go", type 4), read from its mapped headers. */
static int find_main(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    mainprog_t *m = arg;
    m->bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        size_t left = ph->p_memsz;
        while (left >= 12) {
            uint32_t nsz, dsz, type;
            memcpy(&nsz, p, 4);
            memcpy(&dsz, p + 4, 4);
            memcpy(&type, p + 8, 4);
            size_t adv = 12 + ((nsz + 3u) & ~3u) + ((dsz + 3u) & ~3u);
            if (adv > left || nsz > left)
                break;
            if (nsz == 4 && type == 4 && memcmp(p + 12, "Go\0\0", 4) == 0)
                m->is_go = 1;
            p += adv;
            left -= adv;
        }
    }
    return 1; /* the first object is the main program */
}

/* This process's arguments, from /proc/self/cmdline (static storage), or
 * NULL (said why, for what). */
static char **self_argv(const char *what)
{
    static char buf[65536];
    static char *argv[4096];
    int fd = (int)LSYS4(SYS_openat, AT_FDCWD, "/proc/self/cmdline",
                        O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        LOG_WARN("go: /proc/self/cmdline: %s; %s", ESTR((int)-fd), what);
        return NULL;
    }
    size_t n = 0;
    for (;;) {
        long r = LSYS3(SYS_read, fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof(buf) - 1)
            break;
    }
    LSYS1(SYS_close, fd);
    if (n == 0 || n == sizeof(buf) - 1) {
        LOG_WARN("go: command line not readable; %s", what);
        return NULL;
    }
    buf[n] = 0;
    size_t argc = 0;
    for (size_t i = 0; i < n && argc + 1 < sizeof(argv) / sizeof(argv[0]);
         i += strlen(buf + i) + 1)
        argv[argc++] = buf + i;
    argv[argc] = NULL;
    return argv;
}

/* Go reads its environment from the process's initial stack, not from
 * libc's environ, which layer/env.c replaced with the target's.  Run the
 * same program again with that environment (SHUNT_ENV_DONE set, so the new
 * image keeps it): execve of /proc/self/exe with the arguments of
 * /proc/self/cmdline.  Returns only on failure. */
static void reexec_with_env(void)
{
    static const char what[] = "the Go program sees the local environment";
    char **argv = self_argv(what);
    if (!argv)
        return;
    LOG_DEBUG("go: exec again with the target's environment");
    long r = LSYS3(SYS_execve, "/proc/self/exe", argv, environ);
    LOG_WARN("go: exec with the target's environment failed: %s; %s",
             ESTR((int)-r), what);
}

/* Go < 1.19: every ABI0 function present (RawSyscall6 may be absent)
 * must look exactly as expected before anything is patched, so that code
 * that does not leaves the program untouched. */
static int check_abi0(uintptr_t bias, const uintptr_t fn[SHUNT_GO_ABI0_N],
                      char *why, size_t whylen)
{
    for (int i = 0; i < SHUNT_GO_ABI0_N; i++) {
        shunt_go_site_t site;
        if (fn[i] && shunt_go_abi0_check(i, bias + fn[i], &site, why,
                                         whylen) < 0)
            return -1;
    }
    return 0;
}

static int install_abi0(uintptr_t bias, const uintptr_t fn[SHUNT_GO_ABI0_N],
                        char *why, size_t whylen)
{
    for (int i = 0; i < SHUNT_GO_ABI0_N; i++)
        /* On failure those already patched stay: each is complete. */
        if (fn[i] && shunt_go_abi0_install(i, bias + fn[i], why, whylen) < 0)
            return -1;
    return 0;
}

/* A Go program the layer does not hook runs on the local host: said on
 * stderr every time under an active layer (notice.c), logged otherwise
 * (observe-only mode must not change what the program prints). */
__attribute__((format(printf, 2, 3))) static void
unhooked(const shunt_goinfo_t *gi, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (!shunt_layer.socket_path[0]) {
        LOG_WARN("go: program left unhooked: %s", why);
        return;
    }
    char exe[512];
    long n = LSYS4(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe,
                   sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    shunt_notice_unhooked("%s (a Go program%s%s) is left unhooked: %s; its "
                          "own system calls go to the local host and see "
                          "local files, names and network",
                          exe[0] ? exe : "this program",
                          gi && gi->version[0] ? ", " : "",
                          gi && gi->version[0] ? gi->version : "", why);
}

int shunt_go_main;

/* The program again under the supervisor harness exec named, if any (the
 * layer is active); returns when there is none or the exec failed. */
static void supervise_self(void)
{
    static const char what[] = "it stays under the layer";
    char exe[PATH_MAX];
    if (!shunt_layer.socket_path[0] || !shunt_children_supervisor())
        return;
    long n = LSYS4(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe, sizeof(exe) - 1);
    char **argv = n > 0 ? self_argv(what) : NULL;
    if (!argv)
        return;
    exe[n] = 0;
    LOG_INFO("go: %s is built without cgo: it goes on under %s", exe,
             shunt_children_supervisor());
    shunt_children_exec_supervisor(exe, argv);
    LOG_WARN("go: exec under %s failed: %s; %s", shunt_children_supervisor(),
             ESTR(errno), what);
}

void shunt_go_install(void);
void shunt_go_install(void)
{
    mainprog_t m = {0, 0};
    dl_iterate_phdr(find_main, &m);
    if (!m.is_go)
        return;
    shunt_go_main = 1;
    shunt_goinfo_t gi;
    memset(&gi, 0, sizeof(gi));
    char why[256] = "";
    int rc = shunt_goinfo_read("/proc/self/exe", &gi, why, sizeof(why));
    if (rc < 0) {
        unhooked(&gi, "%s", why);
        return;
    }
    /* Go >= 1.19: the ABIInternal Syscall6.  Older: the ABI0
     * syscall.Syscall family, patched inside (go_abi0.S). */
    int family = shunt_go_family(&gi, why, sizeof(why));
    if (family < 0) {
        unhooked(&gi, "%s", why);
        return;
    }
    int old = family == SHUNT_GO_ABI0;
    uintptr_t abi0[SHUNT_GO_ABI0_N] = {
        [SHUNT_GO_ABI0_SYSCALL] = gi.syscall_abi0[0],
        [SHUNT_GO_ABI0_SYSCALL6] = gi.syscall_abi0[1],
        [SHUNT_GO_ABI0_RAWSYSCALL] = gi.syscall_abi0[2],
        [SHUNT_GO_ABI0_RAWSYSCALL6] = gi.raw_syscall6,
    };
    /* Without runtime/cgo, Go points FS at its own TLS block on its
     * threads: neither libc nor the layer's TLS would work there.  cgo
     * exports these two symbols dynamically. */
    if (!dlsym(RTLD_DEFAULT, "crosscall2") &&
        !dlsym(RTLD_DEFAULT, "_cgo_topofstack")) {
        /* harness exec's --engine auto sends such a program to the
         * supervisor; one exec'd by a program under the layer goes there
         * now, as a static child would */
        supervise_self();
        unhooked(&gi, "it is built without cgo (no crosscall2): Go points "
                      "the thread register at its own TLS block on its "
                      "threads, where neither libc nor the layer can run");
        return;
    }
    if (old && check_abi0(m.bias, abi0, why, sizeof(why)) < 0) {
        unhooked(&gi, "%s", why);
        return;
    }
    /* The journal's wrappers, when it is on (before the first Go call). */
    for (int i = 0; i < SHUNT_J_COUNT; i++)
        if (shunt_journal_detour_at(i))
            go_j[i] = shunt_journal_detour_at(i);
    shunt_go_asmcgocall = shunt_go_asmcgocall_body(m.bias + gi.asmcgocall);
    shunt_go_handler = go_dispatch;
    for (int nr = 0; nr < SHUNT_GO_NR_MAX; nr++)
        if (go_table[nr])
            shunt_go_want[nr / 64] |= 1ull << (nr % 64);
    shunt_hook_batch_begin();
    /* The vfork hook first: without it a child of os/exec would run the
     * layer on its parent's memory, so Syscall6 is not hooked alone. */
    if (gi.raw_vfork) {
        rc = shunt_hook_install((void *)(m.bias + gi.raw_vfork),
                                (void *)shunt_go_vfork_entry,
                                &shunt_go_vfork_orig, why, sizeof(why));
        if (rc < 0) {
            unhooked(&gi, "rawVforkSyscall: %s", why);
            goto end;
        }
    }
    if (old) {
        if (install_abi0(m.bias, abi0, why, sizeof(why)) < 0) {
            unhooked(&gi, "%s", why);
            goto end;
        }
        LOG_INFO("go: %s%s%s hooked (ABI0 syscall.Syscall at %p)",
                 gi.version, gi.pie ? ", PIE" : "",
                 gi.stripped ? ", stripped" : "", (void *)(m.bias + abi0[0]));
        goto end;
    }
    void *orig = NULL;
    rc = shunt_hook_install((void *)(m.bias + gi.syscall6),
                            (void *)shunt_go_syscall6_entry, &orig, why,
                            sizeof(why));
    if (rc < 0) {
        /* rawVforkSyscall alone only records a tid: harmless. */
        unhooked(&gi, "Syscall6: %s", why);
        goto end;
    }
    LOG_INFO("go: %s%s%s hooked (Syscall6 at %p)", gi.version,
             gi.pie ? ", PIE" : "", gi.stripped ? ", stripped" : "",
             (void *)(m.bias + gi.syscall6));
end:
    why[0] = 0;
    if (shunt_hook_batch_end(why, sizeof(why)) < 0)
        LOG_ERROR("go: hooks installed, but %s", why);
}

void shunt_go_reexec(int env_changed);
void shunt_go_reexec(int env_changed)
{
    mainprog_t m = {0, 0};
    if (!env_changed)
        return;
    dl_iterate_phdr(find_main, &m);
    if (m.is_go)
        reexec_with_env();
}
