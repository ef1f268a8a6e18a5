/* The call journal: one text line per hooked call as the program made it,
 * written with one raw write(2) on an O_APPEND fd (docs/hooking.md).
 *
 * A journalled call's detour is a wrapper here around hook_<name>: it takes
 * the record only at the outermost level (a per-thread depth: libc calling
 * a hooked function from inside a hooked one, or the layer's own work under
 * shunt_guard, makes no record), formats it on the stack and writes it.
 * Nothing here allocates or uses stdio: records may be taken in a vfork-style
 * child, in a signal handler, or in many threads at once. */
#include "journal.h"

#include "hooks.h"
#include "layer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>

#define JLINE 1024  /* longest record; longer ones end in "..." */
#define JSTR 200    /* longest string argument shown */
#define JTAG 64
#define JMAXFD 65536 /* fds above are never "observed" */

static int jn_fd = -1;
static char jn_path[PATH_MAX];
static char jn_tag[JTAG] = "1";
static size_t jn_tag_len = 1;
static long jn_pid;
static unsigned jn_forks;
static unsigned char jn_obs[JMAXFD / 8]; /* fds a journalled open returned */
static __thread int jn_depth __attribute__((tls_model("initial-exec")));
static __thread unsigned jn_fork_no __attribute__((tls_model("initial-exec")));

/* ---- observed fds -------------------------------------------------------- */
static void obs_set(int fd, int on)
{
    if (fd < 0 || fd >= JMAXFD)
        return;
    unsigned char bit = (unsigned char)(1u << (fd & 7));
    if (on)
        __atomic_fetch_or(&jn_obs[fd >> 3], bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&jn_obs[fd >> 3], (unsigned char)~bit, __ATOMIC_RELAXED);
}

static int observed(int fd)
{
    return fd >= 0 && fd < JMAXFD &&
           (__atomic_load_n(&jn_obs[fd >> 3], __ATOMIC_RELAXED) >> (fd & 7)) & 1;
}

/* ---- the line ------------------------------------------------------------ */
typedef struct {
    char b[JLINE];
    size_t n;
    int args; /* arguments written so far */
} jl_t;

static void put(jl_t *l, const char *s, size_t len)
{
    if (l->n + len > JLINE - 5)
        len = l->n < JLINE - 5 ? JLINE - 5 - l->n : 0;
    memcpy(l->b + l->n, s, len);
    l->n += len;
}
static void puts_(jl_t *l, const char *s) { put(l, s, strlen(s)); }
static void putc_(jl_t *l, char c) { put(l, &c, 1); }

static void put_u(jl_t *l, unsigned long v, unsigned base, int width)
{
    char t[24];
    int i = sizeof(t);
    do {
        t[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v || (int)sizeof(t) - i < width);
    put(l, t + i, sizeof(t) - (size_t)i);
}
static void put_i(jl_t *l, long v)
{
    if (v < 0) {
        putc_(l, '-');
        put_u(l, -(unsigned long)v, 10, 1);
    } else {
        put_u(l, (unsigned long)v, 10, 1);
    }
}

static void arg(jl_t *l)
{
    if (l->args++)
        puts_(l, ", ");
}

static void begin(jl_t *l, const char *name)
{
    l->n = 0;
    l->args = 0;
    put(l, jn_tag, jn_tag_len);
    putc_(l, ' ');
    puts_(l, name);
    putc_(l, '(');
}

/* A string as C would write it, cut at JSTR bytes ("..." after the quote). */
static void a_str(jl_t *l, const char *s)
{
    arg(l);
    if (!s) {
        puts_(l, "NULL");
        return;
    }
    putc_(l, '"');
    size_t i;
    for (i = 0; s[i] && i < JSTR; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            putc_(l, '\\');
            putc_(l, (char)c);
        } else if (c == '\n') {
            puts_(l, "\\n");
        } else if (c == '\t') {
            puts_(l, "\\t");
        } else if (c < 0x20 || c >= 0x7f) {
            puts_(l, "\\x");
            put_u(l, c, 16, 2);
        } else {
            putc_(l, (char)c);
        }
    }
    putc_(l, '"');
    if (s[i])
        puts_(l, "...");
}

static void a_int(jl_t *l, long v)
{
    arg(l);
    put_i(l, v);
}

static void a_oct(jl_t *l, unsigned long v)
{
    arg(l);
    putc_(l, '0');
    put_u(l, v, 8, 3);
}

static void a_dirfd(jl_t *l, int fd)
{
    arg(l);
    if (fd == AT_FDCWD)
        puts_(l, "AT_FDCWD");
    else
        put_i(l, fd);
}

typedef struct {
    int bit;
    const char *name;
} flag_t;

/* Known bits by name, the rest in hex; zero is zero_name. */
static void put_flags(jl_t *l, unsigned long v, const flag_t *t, size_t n,
                      const char *zero_name)
{
    int any = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].bit && (v & (unsigned long)t[i].bit) == (unsigned long)t[i].bit) {
            if (any++)
                putc_(l, '|');
            puts_(l, t[i].name);
            v &= ~(unsigned long)t[i].bit;
        }
    if (v) {
        if (any++)
            putc_(l, '|');
        puts_(l, "0x");
        put_u(l, v, 16, 1);
    }
    if (!any)
        puts_(l, zero_name);
}
#define FLAGS(l, v, t, z) put_flags(l, v, t, sizeof(t) / sizeof(t[0]), z)

static const flag_t oflags[] = {
    {O_TMPFILE, "O_TMPFILE"}, {O_CREAT, "O_CREAT"},       {O_EXCL, "O_EXCL"},
    {O_TRUNC, "O_TRUNC"},     {O_APPEND, "O_APPEND"},     {O_NONBLOCK, "O_NONBLOCK"},
    {O_DIRECTORY, "O_DIRECTORY"}, {O_NOFOLLOW, "O_NOFOLLOW"}, {O_CLOEXEC, "O_CLOEXEC"},
    {O_PATH, "O_PATH"},       {O_NOCTTY, "O_NOCTTY"},     {O_SYNC, "O_SYNC"},
    {O_DSYNC, "O_DSYNC"},     {O_NOATIME, "O_NOATIME"},   {O_DIRECT, "O_DIRECT"},
};

static void a_oflags(jl_t *l, int flags)
{
    arg(l);
    static const char *const acc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    puts_(l, acc[flags & O_ACCMODE]);
    unsigned long rest = (unsigned long)flags & ~(unsigned long)O_ACCMODE;
    if (rest) {
        putc_(l, '|');
        FLAGS(l, rest, oflags, "");
    }
}

static const flag_t atflags[] = {
    {AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"}, {AT_EMPTY_PATH, "AT_EMPTY_PATH"},
    {AT_REMOVEDIR, "AT_REMOVEDIR"},               {AT_EACCESS, "AT_EACCESS"},
    {AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},         {AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
};

static void a_atflags(jl_t *l, int flags)
{
    arg(l);
    FLAGS(l, (unsigned)flags, atflags, "0");
}

static void a_amode(jl_t *l, int mode)
{
    static const flag_t t[] = {{R_OK, "R_OK"}, {W_OK, "W_OK"}, {X_OK, "X_OK"}};
    arg(l);
    FLAGS(l, (unsigned)mode, t, "F_OK");
}

static void a_sockaddr(jl_t *l, const struct sockaddr *sa, socklen_t len)
{
    arg(l);
    char ip[INET6_ADDRSTRLEN];
    if (!sa || len < sizeof(sa_family_t)) {
        puts_(l, "NULL");
    } else if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
            puts_(l, ip);
        putc_(l, ':');
        put_u(l, ntohs(in->sin_port), 10, 1);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        putc_(l, '[');
        if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
            puts_(l, ip);
        puts_(l, "]:");
        put_u(l, ntohs(in6->sin6_port), 10, 1);
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        puts_(l, "unix:");
        if (plen && un->sun_path[0] == 0) {
            putc_(l, '@');
            put(l, un->sun_path + 1, strnlen(un->sun_path + 1, plen - 1));
        } else {
            put(l, un->sun_path, strnlen(un->sun_path, plen));
        }
    } else {
        puts_(l, "family=");
        put_u(l, sa->sa_family, 10, 1);
    }
}

static void a_argv(jl_t *l, char *const *argv)
{
    arg(l);
    if (!argv) {
        puts_(l, "NULL");
        return;
    }
    putc_(l, '[');
    int save = l->args;
    l->args = 0;
    size_t i;
    for (i = 0; argv[i] && i < 16; i++)
        a_str(l, argv[i]);
    if (argv[i])
        puts_(l, ", ...");
    l->args = save;
    putc_(l, ']');
}

static void end_raw(jl_t *l)
{
    if (l->n >= JLINE - 5) { /* full: put() kept 5 bytes for this */
        memcpy(l->b + l->n, "...", 3);
        l->n += 3;
    }
    l->b[l->n++] = '\n';
    if (jn_fd >= 0)
        LSYS3(SYS_write, jn_fd, l->b, l->n);
}

/* ") = r" or ") = -1 ENAME"; end() writes it too. */
static void end_nowrite(jl_t *l, long r, int err)
{
    puts_(l, ") = ");
    put_i(l, r);
    if (r < 0) {
        const char *en = strerrorname_np(err);
        putc_(l, ' ');
        if (en)
            puts_(l, en);
        else
            put_i(l, err);
    }
}

static void end(jl_t *l, long r, int err)
{
    end_nowrite(l, r, err);
    end_raw(l);
}

static void put_stat(jl_t *l, const struct stat *st)
{
    puts_(l, " {mode=0");
    put_u(l, st->st_mode, 8, 1);
    if (S_ISREG(st->st_mode)) {
        puts_(l, ", size=");
        put_i(l, (long)st->st_size);
    }
    putc_(l, '}');
}

/* ---- the depth ------------------------------------------------------------ */
/* J_CALL(type, r, call): runs call one level deeper; top says whether this
 * is the outermost journalled call of the thread (and not the layer's own
 * work), err is errno after it.  Restore errno with J_RET. */
#define J_CALL(type, r, call)                                 \
    int top = jn_depth++ == 0 && shunt_guard == 0;            \
    type r = call;                                            \
    int err = errno;                                          \
    jn_depth--
#define J_RET(r) \
    do {         \
        errno = err; \
        return r; \
    } while (0)

/* ---- open ----------------------------------------------------------------- */
#define HAS_MODE(flags) \
    (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)
#define OPEN_MODE(flags)                                        \
    mode_t mode = 0;                                            \
    if (HAS_MODE(flags)) {                                      \
        va_list ap;                                             \
        va_start(ap, flags);                                    \
        mode = va_arg(ap, mode_t);                              \
        va_end(ap);                                             \
    }

static void rec_open(const char *name, int dirfd, const char *path, int flags,
                     mode_t mode, int r, int err)
{
    jl_t l;
    begin(&l, name);
    if (dirfd != AT_FDCWD || name[4] == 'a')
        a_dirfd(&l, dirfd);
    a_str(&l, path);
    a_oflags(&l, flags);
    if (HAS_MODE(flags))
        a_oct(&l, mode);
    end(&l, r, err);
    if (r >= 0)
        obs_set(r, 1);
}

static int j_open(const char *path, int flags, ...)
{
    OPEN_MODE(flags);
    J_CALL(int, r, hook_open(path, flags, mode));
    if (top)
        rec_open("open", AT_FDCWD, path, flags, mode, r, err);
    J_RET(r);
}

static int j_openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags);
    J_CALL(int, r, hook_openat(dirfd, path, flags, mode));
    if (top)
        rec_open("openat", dirfd, path, flags, mode, r, err);
    J_RET(r);
}

static int j_creat(const char *path, mode_t mode)
{
    J_CALL(int, r, hook_creat(path, mode));
    if (top)
        rec_open("open", AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, r, err);
    J_RET(r);
}

static int j___open_2(const char *path, int flags)
{
    J_CALL(int, r, hook___open_2(path, flags));
    if (top)
        rec_open("open", AT_FDCWD, path, flags, 0, r, err);
    J_RET(r);
}

static int j___openat_2(int dirfd, const char *path, int flags)
{
    J_CALL(int, r, hook___openat_2(dirfd, path, flags));
    if (top)
        rec_open("openat", dirfd, path, flags, 0, r, err);
    J_RET(r);
}

static int j___open_nocancel(const char *path, int flags, ...)
{
    OPEN_MODE(flags);
    J_CALL(int, r, hook___open_nocancel(path, flags, mode));
    if (top)
        rec_open("open", AT_FDCWD, path, flags, mode, r, err);
    J_RET(r);
}

static int j___openat64_nocancel(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags);
    J_CALL(int, r, hook___openat64_nocancel(dirfd, path, flags, mode));
    if (top)
        rec_open("openat", dirfd, path, flags, mode, r, err);
    J_RET(r);
}

/* ---- data on observed fds --------------------------------------------------- */
static void rec_fdn(const char *name, int fd, long n, long r, int err)
{
    jl_t l;
    begin(&l, name);
    a_int(&l, fd);
    a_int(&l, n);
    end(&l, r, err);
}

static long iov_len(const struct iovec *iov, int cnt)
{
    long n = 0;
    for (int i = 0; iov && i < cnt; i++)
        n += (long)iov[i].iov_len;
    return n;
}

#define J_FDIO(jname, hname, rec, type, params, call, count)  \
    static type jname params                                   \
    {                                                          \
        if (!observed(fd))                                     \
            return call;                                       \
        J_CALL(type, r, call);                                 \
        if (top)                                               \
            rec_fdn(rec, fd, (long)(count), (long)r, err);     \
        J_RET(r);                                              \
    }
J_FDIO(j_read, hook_read, "read", ssize_t, (int fd, void *buf, size_t n),
       hook_read(fd, buf, n), n)
J_FDIO(j___read_nocancel, hook___read_nocancel, "read", ssize_t,
       (int fd, void *buf, size_t n), hook___read_nocancel(fd, buf, n), n)
J_FDIO(j_pread, hook_pread, "pread", ssize_t, (int fd, void *buf, size_t n, off_t off),
       hook_pread(fd, buf, n, off), n)
J_FDIO(j_readv, hook_readv, "readv", ssize_t, (int fd, const struct iovec *iov, int cnt),
       hook_readv(fd, iov, cnt), iov_len(iov, cnt))
J_FDIO(j_write, hook_write, "write", ssize_t, (int fd, const void *buf, size_t n),
       hook_write(fd, buf, n), n)
J_FDIO(j___write_nocancel, hook___write_nocancel, "write", ssize_t,
       (int fd, const void *buf, size_t n), hook___write_nocancel(fd, buf, n), n)
J_FDIO(j_pwrite, hook_pwrite, "pwrite", ssize_t,
       (int fd, const void *buf, size_t n, off_t off), hook_pwrite(fd, buf, n, off), n)
J_FDIO(j_writev, hook_writev, "writev", ssize_t,
       (int fd, const struct iovec *iov, int cnt), hook_writev(fd, iov, cnt),
       iov_len(iov, cnt))

/* close: an observed fd gives a record; the journal's own fd is not the
 * program's to close (EBADF, as if it were not open). */
static int close_common(int fd, int (*h)(int))
{
    if (fd == jn_fd && fd >= 0) {
        errno = EBADF;
        return -1;
    }
    if (!observed(fd))
        return h(fd);
    J_CALL(int, r, h(fd));
    if (top || r == 0)
        obs_set(fd, 0);
    if (top) {
        jl_t l;
        begin(&l, "close");
        a_int(&l, fd);
        end(&l, r, err);
    }
    J_RET(r);
}
static int j_close(int fd) { return close_common(fd, hook_close); }
static int j___close_nocancel(int fd) { return close_common(fd, hook___close_nocancel); }

static int j_close_range(unsigned int first, unsigned int last, int flags)
{
    unsigned j = (unsigned)jn_fd;
    if (jn_fd < 0 || (flags & CLOSE_RANGE_CLOEXEC) || j < first || j > last) {
        for (unsigned fd = first; fd <= last && fd < JMAXFD; fd++)
            obs_set((int)fd, 0);
        return hook_close_range(first, last, flags);
    }
    int r = 0, e = 0;
    if (j > first && hook_close_range(first, j - 1, flags) < 0) {
        r = -1;
        e = errno;
    }
    if (j < last && hook_close_range(j + 1, last, flags) < 0 && !r) {
        r = -1;
        e = errno;
    }
    for (unsigned fd = first; fd <= last && fd < JMAXFD; fd++)
        obs_set((int)fd, 0);
    if (r < 0)
        errno = e;
    return r;
}


/* ---- metadata --------------------------------------------------------------- */
static void end_stat(jl_t *l, const struct stat *st, int r, int err)
{
    end_nowrite(l, r, err);
    if (r == 0)
        put_stat(l, st);
    end_raw(l);
}

/* dirfd < -1000 (and not AT_FDCWD): no dirfd argument; flags < 0: none. */
#define NO_DIRFD (-100000)
static void rec_stat(const char *name, int dirfd, const char *path, int flags,
                     const struct stat *st, int r, int err)
{
    jl_t l;
    begin(&l, name);
    if (dirfd != NO_DIRFD)
        a_dirfd(&l, dirfd);
    if (path)
        a_str(&l, path);
    if (flags >= 0)
        a_atflags(&l, flags);
    end_stat(&l, st, r, err);
}

/* fstatat(fd, "", AT_EMPTY_PATH) is an fstat: only observed fds. */
static int fd_form(int dirfd, const char *path, int flags)
{
    return (flags & AT_EMPTY_PATH) && path && !*path && !observed(dirfd);
}

static int j_stat(const char *path, struct stat *st)
{
    J_CALL(int, r, hook_stat(path, st));
    if (top)
        rec_stat("stat", NO_DIRFD, path, -1, st, r, err);
    J_RET(r);
}

static int j_lstat(const char *path, struct stat *st)
{
    J_CALL(int, r, hook_lstat(path, st));
    if (top)
        rec_stat("lstat", NO_DIRFD, path, -1, st, r, err);
    J_RET(r);
}

static int j_fstat(int fd, struct stat *st)
{
    if (!observed(fd))
        return hook_fstat(fd, st);
    J_CALL(int, r, hook_fstat(fd, st));
    if (top)
        rec_stat("fstat", fd, NULL, -1, st, r, err);
    J_RET(r);
}

static int j_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    if (fd_form(dirfd, path, flags))
        return hook_fstatat(dirfd, path, st, flags);
    J_CALL(int, r, hook_fstatat(dirfd, path, st, flags));
    if (top)
        rec_stat("fstatat", dirfd, path, flags, st, r, err);
    J_RET(r);
}

static int j___xstat(int ver, const char *path, struct stat *st)
{
    J_CALL(int, r, hook___xstat(ver, path, st));
    if (top)
        rec_stat("stat", NO_DIRFD, path, -1, st, r, err);
    J_RET(r);
}

static int j___lxstat(int ver, const char *path, struct stat *st)
{
    J_CALL(int, r, hook___lxstat(ver, path, st));
    if (top)
        rec_stat("lstat", NO_DIRFD, path, -1, st, r, err);
    J_RET(r);
}

static int j___fxstat(int ver, int fd, struct stat *st)
{
    if (!observed(fd))
        return hook___fxstat(ver, fd, st);
    J_CALL(int, r, hook___fxstat(ver, fd, st));
    if (top)
        rec_stat("fstat", fd, NULL, -1, st, r, err);
    J_RET(r);
}

static int j___fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    if (fd_form(dirfd, path, flags))
        return hook___fxstatat(ver, dirfd, path, st, flags);
    J_CALL(int, r, hook___fxstatat(ver, dirfd, path, st, flags));
    if (top)
        rec_stat("fstatat", dirfd, path, flags, st, r, err);
    J_RET(r);
}

static int j_statx(int dirfd, const char *path, int flags, unsigned int mask,
                   struct statx *sx)
{
    if (fd_form(dirfd, path, flags))
        return hook_statx(dirfd, path, flags, mask, sx);
    J_CALL(int, r, hook_statx(dirfd, path, flags, mask, sx));
    if (top) {
        jl_t l;
        begin(&l, "statx");
        a_dirfd(&l, dirfd);
        a_str(&l, path);
        a_atflags(&l, flags & ~AT_STATX_SYNC_TYPE);
        end_nowrite(&l, r, err);
        if (r == 0) {
            struct stat st = {.st_mode = sx->stx_mode, .st_size = (off_t)sx->stx_size};
            put_stat(&l, &st);
        }
        end_raw(&l);
    }
    J_RET(r);
}

static int j_access(const char *path, int mode)
{
    J_CALL(int, r, hook_access(path, mode));
    if (top) {
        jl_t l;
        begin(&l, "access");
        a_str(&l, path);
        a_amode(&l, mode);
        end(&l, r, err);
    }
    J_RET(r);
}

static int j_faccessat(int dirfd, const char *path, int mode, int flags)
{
    J_CALL(int, r, hook_faccessat(dirfd, path, mode, flags));
    if (top) {
        jl_t l;
        begin(&l, "faccessat");
        a_dirfd(&l, dirfd);
        a_str(&l, path);
        a_amode(&l, mode);
        a_atflags(&l, flags);
        end(&l, r, err);
    }
    J_RET(r);
}

static void rec_readlink(int dirfd, const char *path, const char *buf, ssize_t r,
                         int err)
{
    jl_t l;
    begin(&l, dirfd == NO_DIRFD ? "readlink" : "readlinkat");
    if (dirfd != NO_DIRFD)
        a_dirfd(&l, dirfd);
    a_str(&l, path);
    end_nowrite(&l, r, err);
    if (r >= 0) {
        char t[JSTR + 1];
        size_t n = (size_t)r < JSTR ? (size_t)r : JSTR;
        memcpy(t, buf, n);
        t[n] = 0;
        l.args = 1;
        puts_(&l, " ");
        l.args = 0;
        a_str(&l, t);
    }
    end_raw(&l);
}

static ssize_t j_readlink(const char *path, char *buf, size_t n)
{
    J_CALL(ssize_t, r, hook_readlink(path, buf, n));
    if (top)
        rec_readlink(NO_DIRFD, path, buf, r, err);
    J_RET(r);
}

static ssize_t j_readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    J_CALL(ssize_t, r, hook_readlinkat(dirfd, path, buf, n));
    if (top)
        rec_readlink(dirfd, path, buf, r, err);
    J_RET(r);
}

/* ---- namespace changes ------------------------------------------------------- */
static int j_mkdir(const char *path, mode_t mode)
{
    J_CALL(int, r, hook_mkdir(path, mode));
    if (top) {
        jl_t l;
        begin(&l, "mkdir");
        a_str(&l, path);
        a_oct(&l, mode);
        end(&l, r, err);
    }
    J_RET(r);
}

static int j_mkdirat(int dirfd, const char *path, mode_t mode)
{
    J_CALL(int, r, hook_mkdirat(dirfd, path, mode));
    if (top) {
        jl_t l;
        begin(&l, "mkdirat");
        a_dirfd(&l, dirfd);
        a_str(&l, path);
        a_oct(&l, mode);
        end(&l, r, err);
    }
    J_RET(r);
}

static void rec_path(const char *name, const char *a, const char *b, long r, int err)
{
    jl_t l;
    begin(&l, name);
    a_str(&l, a);
    if (b)
        a_str(&l, b);
    end(&l, r, err);
}

static int j_rmdir(const char *path)
{
    J_CALL(int, r, hook_rmdir(path));
    if (top)
        rec_path("rmdir", path, NULL, r, err);
    J_RET(r);
}

static int j_unlink(const char *path)
{
    J_CALL(int, r, hook_unlink(path));
    if (top)
        rec_path("unlink", path, NULL, r, err);
    J_RET(r);
}

static int j_unlinkat(int dirfd, const char *path, int flags)
{
    J_CALL(int, r, hook_unlinkat(dirfd, path, flags));
    if (top) {
        jl_t l;
        begin(&l, "unlinkat");
        a_dirfd(&l, dirfd);
        a_str(&l, path);
        a_atflags(&l, flags);
        end(&l, r, err);
    }
    J_RET(r);
}

static int j_rename(const char *a, const char *b)
{
    J_CALL(int, r, hook_rename(a, b));
    if (top)
        rec_path("rename", a, b, r, err);
    J_RET(r);
}

static void rec_renameat(int da, const char *a, int db, const char *b, long flags,
                         int r, int err)
{
    jl_t l;
    begin(&l, flags < 0 ? "renameat" : "renameat2");
    a_dirfd(&l, da);
    a_str(&l, a);
    a_dirfd(&l, db);
    a_str(&l, b);
    if (flags >= 0)
        a_int(&l, flags);
    end(&l, r, err);
}

static int j_renameat(int da, const char *a, int db, const char *b)
{
    J_CALL(int, r, hook_renameat(da, a, db, b));
    if (top)
        rec_renameat(da, a, db, b, -1, r, err);
    J_RET(r);
}

static int j_renameat2(int da, const char *a, int db, const char *b, unsigned int flags)
{
    J_CALL(int, r, hook_renameat2(da, a, db, b, flags));
    if (top)
        rec_renameat(da, a, db, b, (long)flags, r, err);
    J_RET(r);
}

static int j_symlink(const char *target, const char *path)
{
    J_CALL(int, r, hook_symlink(target, path));
    if (top)
        rec_path("symlink", target, path, r, err);
    J_RET(r);
}

static int j_truncate(const char *path, off_t len)
{
    J_CALL(int, r, hook_truncate(path, len));
    if (top) {
        jl_t l;
        begin(&l, "truncate");
        a_str(&l, path);
        a_int(&l, (long)len);
        end(&l, r, err);
    }
    J_RET(r);
}

static int j_chmod(const char *path, mode_t mode)
{
    J_CALL(int, r, hook_chmod(path, mode));
    if (top) {
        jl_t l;
        begin(&l, "chmod");
        a_str(&l, path);
        a_oct(&l, mode);
        end(&l, r, err);
    }
    J_RET(r);
}

static int j_chown(const char *path, uid_t uid, gid_t gid)
{
    J_CALL(int, r, hook_chown(path, uid, gid));
    if (top) {
        jl_t l;
        begin(&l, "chown");
        a_str(&l, path);
        a_int(&l, (int)uid);
        a_int(&l, (int)gid);
        end(&l, r, err);
    }
    J_RET(r);
}

static int j_link(const char *a, const char *b)
{
    J_CALL(int, r, hook_link(a, b));
    if (top)
        rec_path("link", a, b, r, err);
    J_RET(r);
}

static int j_mknod(const char *path, mode_t mode, dev_t dev)
{
    J_CALL(int, r, hook_mknod(path, mode, dev));
    if (top) {
        jl_t l;
        begin(&l, "mknod");
        a_str(&l, path);
        a_oct(&l, mode);
        a_int(&l, (long)dev);
        end(&l, r, err);
    }
    J_RET(r);
}

/* ---- processes ------------------------------------------------------------------
 * A process's tag: "1" for the first, PARENT.N for the parent's N-th child
 * (fork: the atfork handlers; a vfork-style child of posix_spawn, system or
 * popen: counted when it execs, its pid not being the tag's).  An exec'd
 * image finds its tag in PATH.tag.PID, written by the exec hook just before
 * the exec and removed by the new image. */
static void put_dec(char *out, size_t *n, unsigned long v)
{
    char t[24];
    int i = sizeof(t);
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out + *n, t + i, sizeof(t) - (size_t)i);
    *n += sizeof(t) - (size_t)i;
}

static int side_path(char *out, size_t cap, long pid)
{
    size_t n = strlen(jn_path);
    if (n + 32 > cap)
        return -1;
    memcpy(out, jn_path, n);
    memcpy(out + n, ".tag.", 5);
    n += 5;
    put_dec(out, &n, (unsigned long)pid);
    out[n] = 0;
    return 0;
}

/* Before an exec: the tag the new image takes, in its side file. */
static void exec_tag(void)
{
    if (jn_fd < 0)
        return;
    char tag[JTAG + 16], p[PATH_MAX];
    size_t n = jn_tag_len;
    memcpy(tag, jn_tag, n);
    long pid = LSYS0(SYS_getpid);
    if (pid != jn_pid) {
        /* A CLONE_VM child (memory shared with its parent, which waits):
         * counted once, however many execs it tries (posix_spawnp's PATH
         * search). */
        static long vf_pid;
        static unsigned vf_no;
        if (__atomic_exchange_n(&vf_pid, pid, __ATOMIC_RELAXED) != pid)
            vf_no = __atomic_add_fetch(&jn_forks, 1, __ATOMIC_RELAXED);
        tag[n++] = '.';
        put_dec(tag, &n, vf_no);
    }
    if (n > JTAG - 1 || side_path(p, sizeof(p), pid) < 0)
        return;
    int fd = (int)LSYS4(SYS_openat, AT_FDCWD, p,
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    LSYS3(SYS_write, fd, tag, n);
    LSYS1(SYS_close, fd);
}

static void exec_failed(void)
{
    char p[PATH_MAX];
    if (jn_fd >= 0 && side_path(p, sizeof(p), LSYS0(SYS_getpid)) == 0)
        LSYS3(SYS_unlinkat, AT_FDCWD, p, 0);
}

/* The exec record is written before the call (it does not return when it
 * works): "... = ?"; a failure adds the record again with its result. */
static void rec_exec(const char *name, int dirfd, const char *path, int fd,
                     char *const argv[], long r, int err, int done)
{
    jl_t l;
    begin(&l, name);
    if (fd >= 0)
        a_int(&l, fd);
    if (dirfd != NO_DIRFD)
        a_dirfd(&l, dirfd);
    if (path)
        a_str(&l, path);
    a_argv(&l, argv);
    if (!done) {
        puts_(&l, ") = ?");
        end_raw(&l);
    } else {
        end(&l, r, err);
    }
}

/* No depth is kept across the real exec: in a vfork-style child the TLS is
 * the parent's, and a successful exec never comes back to undo it. */
#define J_EXEC(name, dirfd, path, fd, argv, call)                         \
    int top = jn_depth == 0 && shunt_guard == 0;                          \
    if (top)                                                              \
        rec_exec(name, dirfd, path, fd, argv, 0, 0, 0);                   \
    exec_tag();                                                           \
    int r = call;                                                         \
    int err = errno;                                                      \
    exec_failed();                                                        \
    if (top)                                                              \
        rec_exec(name, dirfd, path, fd, argv, r, err, 1);                 \
    J_RET(r)

static int j_execve(const char *path, char *const argv[], char *const envp[])
{
    J_EXEC("execve", NO_DIRFD, path, -1, argv, hook_execve(path, argv, envp));
}

static int j_execveat(int dirfd, const char *path, char *const argv[],
                      char *const envp[], int flags)
{
    J_EXEC("execveat", dirfd, path, -1, argv,
           hook_execveat(dirfd, path, argv, envp, flags));
}

static int j_fexecve(int fd, char *const argv[], char *const envp[])
{
    J_EXEC("fexecve", NO_DIRFD, NULL, fd, argv, hook_fexecve(fd, argv, envp));
}

/* posix_spawn returns the error number (not -1/errno). */
static void rec_spawn(const char *name, const char *path, char *const argv[], int r)
{
    jl_t l;
    begin(&l, name);
    a_str(&l, path);
    a_argv(&l, argv);
    end(&l, r ? -1 : 0, r);
}

static int j_posix_spawn(pid_t *pidp, const char *path,
                         const posix_spawn_file_actions_t *fa,
                         const posix_spawnattr_t *attr, char *const argv[],
                         char *const envp[])
{
    J_CALL(int, r, hook_posix_spawn(pidp, path, fa, attr, argv, envp));
    if (top)
        rec_spawn("posix_spawn", path, argv, r);
    J_RET(r);
}

static int j_posix_spawnp(pid_t *pidp, const char *file,
                          const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[],
                          char *const envp[])
{
    J_CALL(int, r, hook_posix_spawnp(pidp, file, fa, attr, argv, envp));
    if (top)
        rec_spawn("posix_spawnp", file, argv, r);
    J_RET(r);
}

static void atfork_prepare(void)
{
    jn_fork_no = __atomic_add_fetch(&jn_forks, 1, __ATOMIC_RELAXED);
}

static void atfork_child(void)
{
    size_t n = jn_tag_len;
    char tag[JTAG + 16];
    memcpy(tag, jn_tag, n);
    tag[n++] = '.';
    put_dec(tag, &n, jn_fork_no);
    if (n < JTAG) {
        memcpy(jn_tag, tag, n);
        jn_tag[n] = 0;
        jn_tag_len = n;
    }
    jn_forks = 0;
    jn_pid = LSYS0(SYS_getpid);
}

/* ---- network ------------------------------------------------------------------- */
static void a_domain(jl_t *l, int d)
{
    static const flag_t t[] = {{AF_INET, "AF_INET"}, {AF_INET6, "AF_INET6"},
                               {AF_UNIX, "AF_UNIX"}, {AF_NETLINK, "AF_NETLINK"}};
    arg(l);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].bit == d) {
            puts_(l, t[i].name);
            return;
        }
    put_i(l, d);
}

static int j_socket(int domain, int type, int proto)
{
    J_CALL(int, r, hook_socket(domain, type, proto));
    if (top) {
        static const char *const kinds[] = {"0", "SOCK_STREAM", "SOCK_DGRAM",
                                            "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"};
        static const flag_t tf[] = {{SOCK_NONBLOCK, "SOCK_NONBLOCK"},
                                    {SOCK_CLOEXEC, "SOCK_CLOEXEC"}};
        jl_t l;
        begin(&l, "socket");
        a_domain(&l, domain);
        arg(&l);
        int k = type & 0xf;
        if (k < 6)
            puts_(&l, kinds[k]);
        else
            put_i(&l, k);
        if (type & ~0xf) {
            putc_(&l, '|');
            FLAGS(&l, (unsigned)type & ~0xfu, tf, "");
        }
        a_int(&l, proto);
        end(&l, r, err);
    }
    J_RET(r);
}

static void rec_sa(const char *name, int fd, const struct sockaddr *sa,
                   socklen_t len, int r, int err)
{
    jl_t l;
    begin(&l, name);
    a_int(&l, fd);
    a_sockaddr(&l, sa, len);
    end(&l, r, err);
}

static int j_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    J_CALL(int, r, hook_connect(fd, sa, len));
    if (top)
        rec_sa("connect", fd, sa, len, r, err);
    J_RET(r);
}

static int j_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    J_CALL(int, r, hook_bind(fd, sa, len));
    if (top)
        rec_sa("bind", fd, sa, len, r, err);
    J_RET(r);
}

static void put_eai(jl_t *l, int r)
{
    static const flag_t t[] = {
        {EAI_BADFLAGS, "EAI_BADFLAGS"}, {EAI_NONAME, "EAI_NONAME"},
        {EAI_AGAIN, "EAI_AGAIN"},       {EAI_FAIL, "EAI_FAIL"},
        {EAI_FAMILY, "EAI_FAMILY"},     {EAI_SOCKTYPE, "EAI_SOCKTYPE"},
        {EAI_SERVICE, "EAI_SERVICE"},   {EAI_MEMORY, "EAI_MEMORY"},
        {EAI_SYSTEM, "EAI_SYSTEM"},     {EAI_OVERFLOW, "EAI_OVERFLOW"},
        {EAI_NODATA, "EAI_NODATA"},     {EAI_ADDRFAMILY, "EAI_ADDRFAMILY"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].bit == r) {
            puts_(l, t[i].name);
            return;
        }
    put_i(l, r);
}

/* The distinct addresses, in order, as " [a, b]". */
static void put_addrs(jl_t *l, const struct addrinfo *ai)
{
    puts_(l, " [");
    int k = 0;
    for (const struct addrinfo *p = ai; p && k < 16; p = p->ai_next) {
        int dup = 0;
        for (const struct addrinfo *q = ai; q != p && !dup; q = q->ai_next)
            dup = q->ai_addrlen == p->ai_addrlen && p->ai_addr && q->ai_addr &&
                  memcmp(q->ai_addr, p->ai_addr, p->ai_addrlen) == 0;
        if (dup || !p->ai_addr)
            continue;
        char ip[INET6_ADDRSTRLEN] = "?";
        const void *a = p->ai_family == AF_INET6
                            ? (const void *)&((const struct sockaddr_in6 *)p->ai_addr)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)p->ai_addr)->sin_addr;
        if (k++)
            puts_(l, ", ");
        if (p->ai_family == AF_INET || p->ai_family == AF_INET6)
            inet_ntop(p->ai_family, a, ip, sizeof(ip));
        puts_(l, ip);
    }
    putc_(l, ']');
}

static int j_getaddrinfo(const char *node, const char *service,
                         const struct addrinfo *hints, struct addrinfo **res)
{
    J_CALL(int, r, hook_getaddrinfo(node, service, hints, res));
    if (top) {
        jl_t l;
        begin(&l, "getaddrinfo");
        a_str(&l, node);
        a_str(&l, service);
        puts_(&l, ") = ");
        if (r == 0) {
            putc_(&l, '0');
            put_addrs(&l, *res);
        } else {
            put_eai(&l, r);
        }
        end_raw(&l);
    }
    J_RET(r);
}

static void rec_hostent(const char *name, const char *host, int af,
                        const struct hostent *h)
{
    jl_t l;
    begin(&l, name);
    a_str(&l, host);
    if (af >= 0)
        a_domain(&l, af);
    puts_(&l, ") = ");
    if (!h) {
        puts_(&l, "NULL");
    } else {
        puts_(&l, "[");
        for (int i = 0; h->h_addr_list && h->h_addr_list[i] && i < 16; i++) {
            char ip[INET6_ADDRSTRLEN] = "?";
            inet_ntop(h->h_addrtype, h->h_addr_list[i], ip, sizeof(ip));
            if (i)
                puts_(&l, ", ");
            puts_(&l, ip);
        }
        putc_(&l, ']');
    }
    end_raw(&l);
}

static struct hostent *j_gethostbyname(const char *name)
{
    J_CALL(struct hostent *, h, hook_gethostbyname(name));
    if (top)
        rec_hostent("gethostbyname", name, -1, h);
    J_RET(h);
}

static struct hostent *j_gethostbyname2(const char *name, int af)
{
    J_CALL(struct hostent *, h, hook_gethostbyname2(name, af));
    if (top)
        rec_hostent("gethostbyname2", name, af, h);
    J_RET(h);
}

static int j_gethostname(char *name, size_t len)
{
    J_CALL(int, r, hook_gethostname(name, len));
    if (top) {
        jl_t l;
        begin(&l, "gethostname");
        end_nowrite(&l, r, err);
        if (r == 0 && len) {
            char t[JSTR + 1];
            size_t n = strnlen(name, len < JSTR ? len : JSTR);
            memcpy(t, name, n);
            t[n] = 0;
            putc_(&l, ' ');
            a_str(&l, t);
        }
        end_raw(&l);
    }
    J_RET(r);
}

/* ---- the table and the start -------------------------------------------------- */
#define J(name) {#name, (void *)j_##name}
static const struct {
    const char *name;
    void *detour;
} detours[] = {
    J(open), J(openat), J(creat), J(__open_2), J(__openat_2), J(__open_nocancel),
    J(__openat64_nocancel),
    J(read), J(__read_nocancel), J(pread), J(readv),
    J(write), J(__write_nocancel), J(pwrite), J(writev),
    J(close), J(__close_nocancel), J(close_range),
    J(stat), J(lstat), J(fstat), J(fstatat), J(statx), J(__xstat), J(__lxstat),
    J(__fxstat), J(__fxstatat), J(access), J(faccessat), J(readlink), J(readlinkat),
    J(mkdir), J(mkdirat), J(rmdir), J(unlink), J(unlinkat), J(rename), J(renameat),
    J(renameat2), J(symlink), J(truncate), J(chmod), J(chown), J(link),
    J(mknod),
    J(execve), J(execveat), J(fexecve), J(posix_spawn), J(posix_spawnp),
    J(socket), J(connect), J(bind),
    J(getaddrinfo), J(gethostbyname), J(gethostbyname2), J(gethostname),
};
#undef J

void *shunt_journal_detour(const char *name)
{
    if (jn_fd < 0)
        return NULL;
    for (size_t i = 0; i < sizeof(detours) / sizeof(detours[0]); i++)
        if (strcmp(detours[i].name, name) == 0)
            return detours[i].detour;
    return NULL;
}

int shunt_journal_open(const char *path)
{
    if (!path || !*path || strlen(path) + 32 > sizeof(jn_path))
        return -EINVAL;
    int fd = (int)LSYS4(SYS_openat, AT_FDCWD, path,
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return fd;
    strcpy(jn_path, path);
    jn_pid = LSYS0(SYS_getpid);
    /* An exec'd image: its tag from the side file the exec hook wrote. */
    char p[PATH_MAX], tag[JTAG];
    if (side_path(p, sizeof(p), jn_pid) == 0) {
        int tfd = (int)LSYS4(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0);
        if (tfd >= 0) {
            long n = LSYS3(SYS_read, tfd, tag, sizeof(tag) - 1);
            LSYS1(SYS_close, tfd);
            LSYS3(SYS_unlinkat, AT_FDCWD, p, 0);
            if (n > 0) {
                memcpy(jn_tag, tag, (size_t)n);
                jn_tag[n] = 0;
                jn_tag_len = (size_t)n;
            }
        }
    }
    jn_fd = layer_fd_protect(fd, &jn_fd);
    pthread_atfork(atfork_prepare, NULL, atfork_child);
    LOG_DEBUG("journal: %s, process %s", path, jn_tag);
    return 0;
}
