/* shunt-fuzz-interp: the interpreter of `harness fuzz` (docs/fuzzing.md,
 * "The interpreter").  It runs a sequence of file, directory, fd, fork and
 * network calls, one per input line, and prints one normalised line per
 * call, so that a run in the target (the truth) and a run under the layer
 * can be compared line by line.
 *
 *   shunt-fuzz-interp --serve            commands on stdin (tree/seq/quit)
 *   shunt-fuzz-interp [--hide PATH]...   one sequence on stdin, in process
 *
 * ONE self-contained file, libc only: `harness run` builds it with
 * `cc -O2 -g -Wall` as a `language: c` program, CMake also with musl
 * (-static).  Every input is bounded and checked: it is fed random
 * sequences, and a malformed line prints `I ? LINE = error`. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_statx
#define SYS_statx 332 /* x86_64 */
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef O_PATH
#define O_PATH 010000000
#endif
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef SEEK_DATA
#define SEEK_DATA 3
#endif
#ifndef SEEK_HOLE
#define SEEK_HOLE 4
#endif

#define MAX_LINE 65536         /* longer input lines are malformed */
#define MAX_TOKENS 64
#define MAX_COUNT (1u << 20)   /* read/write/pread COUNT, readlink BUFSIZE */
#define MAX_CWD 4096
#define N_FSLOTS 16
#define N_DSLOTS 8
#define MAX_FORK_DEPTH 4
#define MAX_HIDE 64
#define SEQ_LIMIT_MS 5000
#define MAX_SEQ_LINES 100000
#define MAX_TREE_ENTRIES 10000
#define MAX_READDIR 1000000

/* The kernel's struct statx (musl 1.2.3 has none; glibc's is the same). */
struct fz_statx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct fz_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct fz_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
#define FZ_STATX_BASIC_STATS 0x7ffU

/* ---- growable output buffer ------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->oom)
        return;
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *n = realloc(b->p, cap);
    if (!n) {
        b->oom = 1;
        return;
    }
    b->p = n;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    sb_put(b, tmp, (size_t)n);
}

/* Percent-encoding: bytes outside [A-Za-z0-9/._-] are %XX, "" is "%". */
static int plain_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' ||
           c == '-';
}

static void sb_enc(sbuf *b, const char *s, size_t n)
{
    if (n == 0) {
        sb_puts(b, "%");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plain_byte(c)) {
            sb_put(b, (const char *)&c, 1);
        } else {
            char t[4];
            snprintf(t, sizeof t, "%%%02X", c);
            sb_put(b, t, 3);
        }
    }
}

/* ---- names ------------------------------------------------------------ */

typedef struct { int v; const char *name; } named;

#define E_(x) { x, #x },
static const named errnos[] = {
    /* asm-generic/errno-base.h and errno.h, in kernel order: every errno
     * glibc knows (aliases EWOULDBLOCK, EDEADLOCK, ENOTSUP come after). */
#ifdef EPERM
    E_(EPERM)
#endif
#ifdef ENOENT
    E_(ENOENT)
#endif
#ifdef ESRCH
    E_(ESRCH)
#endif
#ifdef EINTR
    E_(EINTR)
#endif
#ifdef EIO
    E_(EIO)
#endif
#ifdef ENXIO
    E_(ENXIO)
#endif
#ifdef E2BIG
    E_(E2BIG)
#endif
#ifdef ENOEXEC
    E_(ENOEXEC)
#endif
#ifdef EBADF
    E_(EBADF)
#endif
#ifdef ECHILD
    E_(ECHILD)
#endif
#ifdef EAGAIN
    E_(EAGAIN)
#endif
#ifdef ENOMEM
    E_(ENOMEM)
#endif
#ifdef EACCES
    E_(EACCES)
#endif
#ifdef EFAULT
    E_(EFAULT)
#endif
#ifdef ENOTBLK
    E_(ENOTBLK)
#endif
#ifdef EBUSY
    E_(EBUSY)
#endif
#ifdef EEXIST
    E_(EEXIST)
#endif
#ifdef EXDEV
    E_(EXDEV)
#endif
#ifdef ENODEV
    E_(ENODEV)
#endif
#ifdef ENOTDIR
    E_(ENOTDIR)
#endif
#ifdef EISDIR
    E_(EISDIR)
#endif
#ifdef EINVAL
    E_(EINVAL)
#endif
#ifdef ENFILE
    E_(ENFILE)
#endif
#ifdef EMFILE
    E_(EMFILE)
#endif
#ifdef ENOTTY
    E_(ENOTTY)
#endif
#ifdef ETXTBSY
    E_(ETXTBSY)
#endif
#ifdef EFBIG
    E_(EFBIG)
#endif
#ifdef ENOSPC
    E_(ENOSPC)
#endif
#ifdef ESPIPE
    E_(ESPIPE)
#endif
#ifdef EROFS
    E_(EROFS)
#endif
#ifdef EMLINK
    E_(EMLINK)
#endif
#ifdef EPIPE
    E_(EPIPE)
#endif
#ifdef EDOM
    E_(EDOM)
#endif
#ifdef ERANGE
    E_(ERANGE)
#endif
#ifdef EDEADLK
    E_(EDEADLK)
#endif
#ifdef ENAMETOOLONG
    E_(ENAMETOOLONG)
#endif
#ifdef ENOLCK
    E_(ENOLCK)
#endif
#ifdef ENOSYS
    E_(ENOSYS)
#endif
#ifdef ENOTEMPTY
    E_(ENOTEMPTY)
#endif
#ifdef ELOOP
    E_(ELOOP)
#endif
#ifdef ENOMSG
    E_(ENOMSG)
#endif
#ifdef EIDRM
    E_(EIDRM)
#endif
#ifdef ECHRNG
    E_(ECHRNG)
#endif
#ifdef EL2NSYNC
    E_(EL2NSYNC)
#endif
#ifdef EL3HLT
    E_(EL3HLT)
#endif
#ifdef EL3RST
    E_(EL3RST)
#endif
#ifdef ELNRNG
    E_(ELNRNG)
#endif
#ifdef EUNATCH
    E_(EUNATCH)
#endif
#ifdef ENOCSI
    E_(ENOCSI)
#endif
#ifdef EL2HLT
    E_(EL2HLT)
#endif
#ifdef EBADE
    E_(EBADE)
#endif
#ifdef EBADR
    E_(EBADR)
#endif
#ifdef EXFULL
    E_(EXFULL)
#endif
#ifdef ENOANO
    E_(ENOANO)
#endif
#ifdef EBADRQC
    E_(EBADRQC)
#endif
#ifdef EBADSLT
    E_(EBADSLT)
#endif
#ifdef EBFONT
    E_(EBFONT)
#endif
#ifdef ENOSTR
    E_(ENOSTR)
#endif
#ifdef ENODATA
    E_(ENODATA)
#endif
#ifdef ETIME
    E_(ETIME)
#endif
#ifdef ENOSR
    E_(ENOSR)
#endif
#ifdef ENONET
    E_(ENONET)
#endif
#ifdef ENOPKG
    E_(ENOPKG)
#endif
#ifdef EREMOTE
    E_(EREMOTE)
#endif
#ifdef ENOLINK
    E_(ENOLINK)
#endif
#ifdef EADV
    E_(EADV)
#endif
#ifdef ESRMNT
    E_(ESRMNT)
#endif
#ifdef ECOMM
    E_(ECOMM)
#endif
#ifdef EPROTO
    E_(EPROTO)
#endif
#ifdef EMULTIHOP
    E_(EMULTIHOP)
#endif
#ifdef EDOTDOT
    E_(EDOTDOT)
#endif
#ifdef EBADMSG
    E_(EBADMSG)
#endif
#ifdef EOVERFLOW
    E_(EOVERFLOW)
#endif
#ifdef ENOTUNIQ
    E_(ENOTUNIQ)
#endif
#ifdef EBADFD
    E_(EBADFD)
#endif
#ifdef EREMCHG
    E_(EREMCHG)
#endif
#ifdef ELIBACC
    E_(ELIBACC)
#endif
#ifdef ELIBBAD
    E_(ELIBBAD)
#endif
#ifdef ELIBSCN
    E_(ELIBSCN)
#endif
#ifdef ELIBMAX
    E_(ELIBMAX)
#endif
#ifdef ELIBEXEC
    E_(ELIBEXEC)
#endif
#ifdef EILSEQ
    E_(EILSEQ)
#endif
#ifdef ERESTART
    E_(ERESTART)
#endif
#ifdef ESTRPIPE
    E_(ESTRPIPE)
#endif
#ifdef EUSERS
    E_(EUSERS)
#endif
#ifdef ENOTSOCK
    E_(ENOTSOCK)
#endif
#ifdef EDESTADDRREQ
    E_(EDESTADDRREQ)
#endif
#ifdef EMSGSIZE
    E_(EMSGSIZE)
#endif
#ifdef EPROTOTYPE
    E_(EPROTOTYPE)
#endif
#ifdef ENOPROTOOPT
    E_(ENOPROTOOPT)
#endif
#ifdef EPROTONOSUPPORT
    E_(EPROTONOSUPPORT)
#endif
#ifdef ESOCKTNOSUPPORT
    E_(ESOCKTNOSUPPORT)
#endif
#ifdef EOPNOTSUPP
    E_(EOPNOTSUPP)
#endif
#ifdef EPFNOSUPPORT
    E_(EPFNOSUPPORT)
#endif
#ifdef EAFNOSUPPORT
    E_(EAFNOSUPPORT)
#endif
#ifdef EADDRINUSE
    E_(EADDRINUSE)
#endif
#ifdef EADDRNOTAVAIL
    E_(EADDRNOTAVAIL)
#endif
#ifdef ENETDOWN
    E_(ENETDOWN)
#endif
#ifdef ENETUNREACH
    E_(ENETUNREACH)
#endif
#ifdef ENETRESET
    E_(ENETRESET)
#endif
#ifdef ECONNABORTED
    E_(ECONNABORTED)
#endif
#ifdef ECONNRESET
    E_(ECONNRESET)
#endif
#ifdef ENOBUFS
    E_(ENOBUFS)
#endif
#ifdef EISCONN
    E_(EISCONN)
#endif
#ifdef ENOTCONN
    E_(ENOTCONN)
#endif
#ifdef ESHUTDOWN
    E_(ESHUTDOWN)
#endif
#ifdef ETOOMANYREFS
    E_(ETOOMANYREFS)
#endif
#ifdef ETIMEDOUT
    E_(ETIMEDOUT)
#endif
#ifdef ECONNREFUSED
    E_(ECONNREFUSED)
#endif
#ifdef EHOSTDOWN
    E_(EHOSTDOWN)
#endif
#ifdef EHOSTUNREACH
    E_(EHOSTUNREACH)
#endif
#ifdef EALREADY
    E_(EALREADY)
#endif
#ifdef EINPROGRESS
    E_(EINPROGRESS)
#endif
#ifdef ESTALE
    E_(ESTALE)
#endif
#ifdef EUCLEAN
    E_(EUCLEAN)
#endif
#ifdef ENOTNAM
    E_(ENOTNAM)
#endif
#ifdef ENAVAIL
    E_(ENAVAIL)
#endif
#ifdef EISNAM
    E_(EISNAM)
#endif
#ifdef EREMOTEIO
    E_(EREMOTEIO)
#endif
#ifdef EDQUOT
    E_(EDQUOT)
#endif
#ifdef ENOMEDIUM
    E_(ENOMEDIUM)
#endif
#ifdef EMEDIUMTYPE
    E_(EMEDIUMTYPE)
#endif
#ifdef ECANCELED
    E_(ECANCELED)
#endif
#ifdef ENOKEY
    E_(ENOKEY)
#endif
#ifdef EKEYEXPIRED
    E_(EKEYEXPIRED)
#endif
#ifdef EKEYREVOKED
    E_(EKEYREVOKED)
#endif
#ifdef EKEYREJECTED
    E_(EKEYREJECTED)
#endif
#ifdef EOWNERDEAD
    E_(EOWNERDEAD)
#endif
#ifdef ENOTRECOVERABLE
    E_(ENOTRECOVERABLE)
#endif
#ifdef ERFKILL
    E_(ERFKILL)
#endif
#ifdef EHWPOISON
    E_(EHWPOISON)
#endif
    { 0, NULL }
};

static const named eai_names[] = {
#ifdef EAI_BADFLAGS
    E_(EAI_BADFLAGS)
#endif
#ifdef EAI_NONAME
    E_(EAI_NONAME)
#endif
#ifdef EAI_AGAIN
    E_(EAI_AGAIN)
#endif
#ifdef EAI_FAIL
    E_(EAI_FAIL)
#endif
#ifdef EAI_NODATA
    E_(EAI_NODATA)
#endif
#ifdef EAI_FAMILY
    E_(EAI_FAMILY)
#endif
#ifdef EAI_SOCKTYPE
    E_(EAI_SOCKTYPE)
#endif
#ifdef EAI_SERVICE
    E_(EAI_SERVICE)
#endif
#ifdef EAI_ADDRFAMILY
    E_(EAI_ADDRFAMILY)
#endif
#ifdef EAI_MEMORY
    E_(EAI_MEMORY)
#endif
#ifdef EAI_SYSTEM
    E_(EAI_SYSTEM)
#endif
#ifdef EAI_OVERFLOW
    E_(EAI_OVERFLOW)
#endif
#ifdef EAI_INPROGRESS
    E_(EAI_INPROGRESS)
#endif
#ifdef EAI_CANCELED
    E_(EAI_CANCELED)
#endif
#ifdef EAI_NOTCANCELED
    E_(EAI_NOTCANCELED)
#endif
#ifdef EAI_ALLDONE
    E_(EAI_ALLDONE)
#endif
#ifdef EAI_INTR
    E_(EAI_INTR)
#endif
#ifdef EAI_IDN_ENCODE
    E_(EAI_IDN_ENCODE)
#endif
    { 0, NULL }
};
#undef E_

/* "-1 NAME" from a table, or "-1 PREFIXnumber" */
static void sb_named_error(sbuf *b, const named *table, int v, const char *prefix)
{
    for (const named *n = table; n->name; n++)
        if (n->v == v) {
            sb_printf(b, "-1 %s", n->name);
            return;
        }
    sb_printf(b, "-1 %s%d", prefix, v);
}

static void sb_errno(sbuf *b, int e)
{
    sb_named_error(b, errnos, e, "E");
}

static void sb_eai(sbuf *b, int rc)
{
    sb_named_error(b, eai_names, rc, "EAI_");
}

/* Flags: `|`-joined names from a table (with or without its prefix), `0`
 * for none. */
typedef struct { const char *name; long v; } flagname;

static const flagname oflag_names[] = {
    { "RDONLY", O_RDONLY }, { "WRONLY", O_WRONLY }, { "RDWR", O_RDWR },
    { "CREAT", O_CREAT }, { "EXCL", O_EXCL }, { "TRUNC", O_TRUNC },
    { "APPEND", O_APPEND }, { "NONBLOCK", O_NONBLOCK },
    { "DIRECTORY", O_DIRECTORY }, { "NOFOLLOW", O_NOFOLLOW },
    { "CLOEXEC", O_CLOEXEC }, { "PATH", O_PATH }, { "TMPFILE", O_TMPFILE },
    { "NOCTTY", O_NOCTTY }, { "SYNC", O_SYNC }, { "DSYNC", O_DSYNC },
#ifdef O_NOATIME
    { "NOATIME", O_NOATIME },
#endif
    { NULL, 0 }
};
static const flagname atflag_names[] = {
    { "NOFOLLOW", AT_SYMLINK_NOFOLLOW }, { "SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW },
    { "EMPTY_PATH", AT_EMPTY_PATH }, { "REMOVEDIR", AT_REMOVEDIR },
    { "EACCESS", AT_EACCESS }, { "FOLLOW", AT_SYMLINK_FOLLOW },
    { "SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW },
    { NULL, 0 }
};
static const flagname amode_names[] = {
    { "F", F_OK }, { "R", R_OK }, { "W", W_OK }, { "X", X_OK },
    { "F_OK", F_OK }, { "R_OK", R_OK }, { "W_OK", W_OK }, { "X_OK", X_OK },
    { NULL, 0 }
};

/* Parses "A|B|C" (each with or without `prefix`), "0", or a number. */
static int parse_flags(const char *s, const flagname *tab, const char *prefix,
                       long *out)
{
    long v = 0;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (*s == '\0')
        return -1;
    while (*s) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);
        if (n == 0)
            return -1;
        if (plen && n > plen && strncmp(s, prefix, plen) == 0) {
            s += plen;
            n -= plen;
        }
        int found = 0;
        for (const flagname *f = tab; f->name; f++)
            if (strlen(f->name) == n && strncmp(f->name, s, n) == 0) {
                v |= f->v;
                found = 1;
                break;
            }
        if (!found) {
            if (n == 1 && s[0] == '0')
                found = 1;
            else
                return -1;
        }
        s += n;
        if (*s == '|') {
            s++;
            if (*s == '\0')
                return -1;
        }
    }
    *out = v;
    return 0;
}

/* ---- token parsing ----------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes a percent-encoded string into a fresh NUL-terminated buffer;
 * NULL on a bad escape or an embedded NUL byte. */
static char *decode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    if (strcmp(s, "%") == 0) {
        out[0] = '\0';
        return out;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = h < 0 ? -1 : hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Unsigned decimal, saturating at `cap`. */
static int parse_count(const char *s, unsigned long cap, unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v <= cap)
            v = v * 10 + (unsigned long)(*s - '0');
    }
    *out = v > cap ? cap : v;
    return 0;
}

/* Signed decimal int64 (offsets, lengths). */
static int parse_i64(const char *s, long long *out)
{
    int neg = 0;
    unsigned long long v = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (!neg && v > (unsigned long long)LLONG_MAX)
        return -1;
    if (neg && v > (unsigned long long)LLONG_MAX + 1ULL)
        return -1;
    *out = neg ? (long long)(0ULL - v) : (long long)v;
    return 0;
}

static int parse_mode(const char *s, mode_t *out)
{
    unsigned v = 0;
    if (!*s || strlen(s) > 7)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '7')
            return -1;
        v = v * 8 + (unsigned)(*s - '0');
    }
    if (v > 07777)
        return -1;
    *out = (mode_t)v;
    return 0;
}

/* ---- interpreter state ------------------------------------------------- */

typedef struct {
    int f[N_FSLOTS];
    int nf;
    DIR *d[N_DSLOTS];
    int dfilled[N_DSLOTS];
    int nd;
} slots;

static void slots_init(slots *s)
{
    for (int i = 0; i < N_FSLOTS; i++)
        s->f[i] = -1;
    for (int i = 0; i < N_DSLOTS; i++) {
        s->d[i] = NULL;
        s->dfilled[i] = 0;
    }
    s->nf = 0;
    s->nd = 0;
}

/* The end of a sequence: the DIR*s still open are closed (their memory is
 * not left to the exit). */
static void slots_end(slots *s)
{
    for (int i = 0; i < N_DSLOTS; i++)
        if (s->d[i]) {
            closedir(s->d[i]);
            s->d[i] = NULL;
        }
}

static void fill_f(slots *s, int fd)
{
    if (s->nf < N_FSLOTS)
        s->f[s->nf++] = fd;
}

static void fill_d(slots *s, DIR *d)
{
    if (s->nd < N_DSLOTS) {
        s->dfilled[s->nd] = d != NULL;
        s->d[s->nd++] = d;
    } else if (d) {
        closedir(d); /* no slot to keep it in */
    }
}

/* fN -> slot number, or -1 */
static int parse_fslot(const char *t)
{
    if (t[0] != 'f' || !t[1] || strlen(t) > 3)
        return -1;
    unsigned long n;
    if (parse_count(t + 1, 1000, &n) < 0 || n >= N_FSLOTS)
        return -1;
    if (t[1] == '0' && t[2])
        return -1;
    return (int)n;
}

static int parse_dslot(const char *t)
{
    if (t[0] != 'd' || !t[1] || t[2])
        return -1;
    if (t[1] < '0' || t[1] > '7')
        return -1;
    return t[1] - '0';
}

/* DIR argument: cwd or fN */
static int parse_dirfd(const slots *s, const char *t, int *fd)
{
    if (strcmp(t, "cwd") == 0) {
        *fd = AT_FDCWD;
        return 0;
    }
    int n = parse_fslot(t);
    if (n < 0)
        return -1;
    *fd = s->f[n];
    return 0;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static const char *type_name(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    default: return "unknown";
    }
}

static void sb_stat(sbuf *b, mode_t mode, unsigned long long size,
                    unsigned long long nlink, unsigned uid, unsigned gid,
                    unsigned rmaj, unsigned rmin)
{
    sb_printf(b, "0 type=%s mode=%04o size=%llu nlink=%llu uid=%u gid=%u",
              type_name(mode), (unsigned)(mode & 07777), size, nlink, uid,
              gid);
    if (S_ISCHR(mode) || S_ISBLK(mode))
        sb_printf(b, " rdev=%u:%u", rmaj, rmin);
}

static void sb_statbuf(sbuf *b, const struct stat *st)
{
    sb_stat(b, st->st_mode, (unsigned long long)st->st_size,
            (unsigned long long)st->st_nlink, (unsigned)st->st_uid,
            (unsigned)st->st_gid, major(st->st_rdev), minor(st->st_rdev));
}

static void sb_rc(sbuf *b, int rc)
{
    if (rc < 0)
        sb_errno(b, errno);
    else
        sb_printf(b, "%d", rc);
}

/* A new fd prints as `fd`: its number differs between the sides by design
 * (the layer holds descriptors of its own). */
static void sb_fd(sbuf *b, int rc)
{
    if (rc < 0)
        sb_errno(b, errno);
    else
        sb_puts(b, "fd");
}

typedef struct {
    char *name;
    char t;
} dent;

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const dent *)a)->name, ((const dent *)b)->name);
}

static char dtype_letter(unsigned char t)
{
    switch (t) {
    case DT_REG: return 'r';
    case DT_DIR: return 'd';
    case DT_LNK: return 'l';
    case DT_FIFO: return 'p';
    case DT_SOCK: return 's';
    case DT_CHR: return 'c';
    case DT_BLK: return 'b';
    default: return 'u';
    }
}

static int addr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* getaddrinfo of NAME: unique sorted AF_INET/AF_INET6 SOCK_STREAM
 * addresses. */
/* getaddrinfo of name for TCP in family; on failure its error is put
 * into b and NULL returned. */
static struct addrinfo *lookup(sbuf *b, const char *name, int family)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc == 0 && !res)
        rc = EAI_NONAME;
    if (rc != 0) {
        sb_eai(b, rc);
        return NULL;
    }
    return res;
}

static void do_getaddrinfo(sbuf *b, const char *name)
{
    struct addrinfo *res = lookup(b, name, AF_UNSPEC);
    if (!res)
        return;
    size_t n = 0, cap = 0;
    char **v = NULL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char s[INET6_ADDRSTRLEN];
        const void *a;
        if (ai->ai_family == AF_INET)
            a = &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            a = &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        if (ai->ai_socktype != SOCK_STREAM)
            continue;
        if (!inet_ntop(ai->ai_family, a, s, sizeof s))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        v[n] = strdup(s);
        if (v[n])
            n++;
    }
    freeaddrinfo(res);
    if (n)
        qsort(v, n, sizeof *v, addr_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && strcmp(v[u - 1], v[i]) == 0) {
            free(v[i]);
            continue;
        }
        v[u++] = v[i];
    }
    sb_printf(b, "%zu [", u);
    for (size_t i = 0; i < u; i++) {
        if (i)
            sb_puts(b, ",");
        sb_puts(b, v[i]);
        free(v[i]);
    }
    sb_puts(b, "]");
    free(v);
}

static void do_connect(sbuf *b, const char *host, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        len = sizeof *s6;
    } else {
        struct addrinfo *res = lookup(b, host, AF_INET);
        if (!res)
            return;
        if (res->ai_addrlen > sizeof ss) {
            freeaddrinfo(res);
            sb_eai(b, EAI_NONAME);
            return;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        len = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
        s4->sin_port = htons((uint16_t)port);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sb_errno(b, errno);
        return;
    }
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = connect(fd, (struct sockaddr *)(void *)&ss, len);
    int e = errno;
    close(fd);
    if (rc < 0)
        sb_errno(b, e);
    else
        sb_puts(b, "0");
}

static void print_line(const char *prefix, long idx, const char *norm,
                       const sbuf *res, int error)
{
    sbuf o = { 0 };
    sb_puts(&o, prefix);
    sb_printf(&o, "%ld ", idx);
    if (error) {
        sb_puts(&o, "? ");
        sb_puts(&o, norm);
        sb_puts(&o, " = error\n");
    } else {
        sb_puts(&o, norm);
        sb_puts(&o, " = ");
        if (res->p)
            sb_puts(&o, res->p);
        sb_puts(&o, "\n");
    }
    if (o.oom)
        printf("%s%ld ? (out of memory) = error\n", prefix, idx);
    else
        fwrite(o.p, 1, o.len, stdout);
    free(o.p);
    fflush(stdout);
}

/* Runs one call (tokens tok[0..ntok)).  Returns 0 and the result in *res,
 * or -1 for a malformed call. `prefix` and `depth` are for fork. */
static int run_call(slots *s, char **tok, int ntok, sbuf *res,
                    const char *prefix, long idx, const char *norm,
                    int depth);

#define NEED(n) do { if (ntok != (n) + 1) goto bad; } while (0)

static int run_call(slots *s, char **tok, int ntok, sbuf *res,
                    const char *prefix, long idx, const char *norm, int depth)
{
    const char *c = tok[0];
    char *p1 = NULL, *p2 = NULL;
    int rc;
    int ret = 0;

    if (strcmp(c, "open") == 0 || strcmp(c, "openat") == 0) {
        int at = c[4] == 'a';
        NEED(at ? 4 : 3);
        int dfd = AT_FDCWD;
        long fl;
        mode_t mode;
        if (at && parse_dirfd(s, tok[1], &dfd) < 0)
            goto bad;
        if (!(p1 = decode(tok[1 + at])) ||
            parse_flags(tok[2 + at], oflag_names, "O_", &fl) < 0 ||
            parse_mode(tok[3 + at], &mode) < 0)
            goto bad;
        rc = at ? openat(dfd, p1, (int)fl, mode) : open(p1, (int)fl, mode);
        sb_fd(res, rc);
        fill_f(s, rc);
    } else if (strcmp(c, "close") == 0) {
        NEED(1);
        int n = parse_fslot(tok[1]);
        if (n < 0)
            goto bad;
        sb_rc(res, close(s->f[n]));
    } else if (strcmp(c, "read") == 0 || strcmp(c, "pread") == 0) {
        int pr = c[0] == 'p';
        NEED(pr ? 3 : 2);
        int n = parse_fslot(tok[1]);
        unsigned long cnt;
        long long off = 0;
        if (n < 0 || parse_count(tok[2], MAX_COUNT, &cnt) < 0 ||
            (pr && parse_i64(tok[3], &off) < 0))
            goto bad;
        unsigned char *buf = malloc(cnt + 1);
        if (!buf) {
            sb_puts(res, "-1 ENOMEM");
        } else {
            ssize_t r = pr ? pread(s->f[n], buf, cnt, (off_t)off)
                           : read(s->f[n], buf, cnt);
            if (r < 0)
                sb_errno(res, errno);
            else
                sb_printf(res, "%zd h=%016llx", r,
                          (unsigned long long)fnv1a(buf, (size_t)r));
            free(buf);
        }
    } else if (strcmp(c, "write") == 0) {
        NEED(2);
        int n = parse_fslot(tok[1]);
        unsigned long cnt;
        if (n < 0 || parse_count(tok[2], MAX_COUNT, &cnt) < 0)
            goto bad;
        char *buf = malloc(cnt + 1);
        if (!buf) {
            sb_puts(res, "-1 ENOMEM");
        } else {
            for (unsigned long i = 0; i < cnt; i++)
                buf[i] = (char)('a' + i % 26);
            ssize_t r = write(s->f[n], buf, cnt);
            if (r < 0)
                sb_errno(res, errno);
            else
                sb_printf(res, "%zd", r);
            free(buf);
        }
    } else if (strcmp(c, "lseek") == 0) {
        NEED(3);
        int n = parse_fslot(tok[1]);
        long long off;
        int wh;
        if (n < 0 || parse_i64(tok[2], &off) < 0)
            goto bad;
        if (!strcmp(tok[3], "SET")) wh = SEEK_SET;
        else if (!strcmp(tok[3], "CUR")) wh = SEEK_CUR;
        else if (!strcmp(tok[3], "END")) wh = SEEK_END;
        else if (!strcmp(tok[3], "DATA")) wh = SEEK_DATA;
        else if (!strcmp(tok[3], "HOLE")) wh = SEEK_HOLE;
        else goto bad;
        off_t r = lseek(s->f[n], (off_t)off, wh);
        if (r < 0)
            sb_errno(res, errno);
        else
            sb_printf(res, "%lld", (long long)r);
    } else if (strcmp(c, "ftruncate") == 0) {
        NEED(2);
        int n = parse_fslot(tok[1]);
        long long len;
        if (n < 0 || parse_i64(tok[2], &len) < 0)
            goto bad;
        sb_rc(res, ftruncate(s->f[n], (off_t)len));
    } else if (strcmp(c, "fstat") == 0) {
        NEED(1);
        int n = parse_fslot(tok[1]);
        struct stat st;
        if (n < 0)
            goto bad;
        if (fstat(s->f[n], &st) < 0)
            sb_errno(res, errno);
        else
            sb_statbuf(res, &st);
    } else if (strcmp(c, "stat") == 0 || strcmp(c, "lstat") == 0) {
        NEED(1);
        struct stat st;
        if (!(p1 = decode(tok[1])))
            goto bad;
        if ((c[0] == 'l' ? lstat(p1, &st) : stat(p1, &st)) < 0)
            sb_errno(res, errno);
        else
            sb_statbuf(res, &st);
    } else if (strcmp(c, "fstatat") == 0 || strcmp(c, "statx") == 0) {
        NEED(3);
        int dfd;
        long fl;
        if (parse_dirfd(s, tok[1], &dfd) < 0 || !(p1 = decode(tok[2])) ||
            parse_flags(tok[3], atflag_names, "AT_", &fl) < 0)
            goto bad;
        if (c[1] == 't') { /* statx: the raw syscall() path */
            struct fz_statx sx;
            memset(&sx, 0, sizeof sx);
            long r = syscall(SYS_statx, dfd, p1, (int)fl,
                             FZ_STATX_BASIC_STATS, &sx);
            if (r < 0)
                sb_errno(res, errno);
            else
                sb_stat(res, sx.stx_mode, sx.stx_size, sx.stx_nlink,
                        sx.stx_uid, sx.stx_gid, sx.stx_rdev_major,
                        sx.stx_rdev_minor);
        } else {
            struct stat st;
            if (fstatat(dfd, p1, &st, (int)fl) < 0)
                sb_errno(res, errno);
            else
                sb_statbuf(res, &st);
        }
    } else if (strcmp(c, "access") == 0) {
        NEED(2);
        long m;
        if (!(p1 = decode(tok[1])) ||
            parse_flags(tok[2], amode_names, NULL, &m) < 0)
            goto bad;
        sb_rc(res, access(p1, (int)m));
    } else if (strcmp(c, "faccessat") == 0) {
        NEED(4);
        int dfd;
        long m, fl;
        if (parse_dirfd(s, tok[1], &dfd) < 0 || !(p1 = decode(tok[2])) ||
            parse_flags(tok[3], amode_names, NULL, &m) < 0 ||
            parse_flags(tok[4], atflag_names, "AT_", &fl) < 0)
            goto bad;
        sb_rc(res, faccessat(dfd, p1, (int)m, (int)fl));
    } else if (strcmp(c, "readlink") == 0 || strcmp(c, "readlinkat") == 0) {
        int at = c[8] == 'a';
        NEED(at ? 3 : 2);
        int dfd = AT_FDCWD;
        unsigned long sz;
        if ((at && parse_dirfd(s, tok[1], &dfd) < 0) ||
            !(p1 = decode(tok[1 + at])) ||
            parse_count(tok[2 + at], MAX_COUNT, &sz) < 0)
            goto bad;
        char *buf = malloc(sz + 1);
        if (!buf) {
            sb_puts(res, "-1 ENOMEM");
        } else {
            ssize_t r = at ? readlinkat(dfd, p1, buf, sz)
                           : readlink(p1, buf, sz);
            if (r < 0) {
                sb_errno(res, errno);
            } else {
                sb_printf(res, "%zd \"", r);
                sb_enc(res, buf, (size_t)r);
                sb_puts(res, "\"");
            }
            free(buf);
        }
    } else if (strcmp(c, "opendir") == 0) {
        NEED(1);
        if (!(p1 = decode(tok[1])))
            goto bad;
        DIR *d = opendir(p1);
        if (!d)
            sb_errno(res, errno);
        else
            sb_puts(res, "dir");
        fill_d(s, d);
    } else if (strcmp(c, "fdopendir") == 0) {
        NEED(1);
        int n = parse_fslot(tok[1]);
        if (n < 0)
            goto bad;
        DIR *d = fdopendir(s->f[n]);
        if (!d)
            sb_errno(res, errno);
        else
            sb_puts(res, "dir");
        fill_d(s, d);
    } else if (strcmp(c, "readdir") == 0 || strcmp(c, "rewinddir") == 0 ||
               strcmp(c, "closedir") == 0 || strcmp(c, "dirfd") == 0) {
        NEED(1);
        int n = parse_dslot(tok[1]);
        if (n < 0)
            goto bad;
        DIR *d = s->d[n];
        if (!d) {
            sb_puts(res, "-1 EBADF");
            if (c[0] == 'd')
                fill_f(s, -1);
        } else if (c[0] == 'r' && c[1] == 'e' && c[2] == 'w') {
            rewinddir(d);
            sb_puts(res, "0");
        } else if (c[0] == 'c') {
            rc = closedir(d);
            s->d[n] = NULL; /* freed either way */
            sb_rc(res, rc);
        } else if (c[0] == 'd') {
            rc = dirfd(d);
            sb_fd(res, rc);
            fill_f(s, rc);
        } else {
            size_t cnt = 0, cap = 0;
            dent *v = NULL;
            struct dirent *e;
            int err = 0;
            for (;;) {
                errno = 0;
                e = readdir(d);
                if (!e) {
                    err = errno;
                    break;
                }
                if (cnt >= MAX_READDIR)
                    break;
                if (cnt == cap) {
                    cap = cap ? cap * 2 : 32;
                    dent *nv = realloc(v, cap * sizeof *v);
                    if (!nv) {
                        err = ENOMEM;
                        break;
                    }
                    v = nv;
                }
                v[cnt].name = strdup(e->d_name);
                if (!v[cnt].name) {
                    err = ENOMEM;
                    break;
                }
                v[cnt].t = dtype_letter(e->d_type);
                cnt++;
            }
            if (err) {
                sb_errno(res, err);
            } else {
                if (cnt)
                    qsort(v, cnt, sizeof *v, dent_cmp);
                sb_printf(res, "%zu [", cnt);
                for (size_t i = 0; i < cnt; i++) {
                    if (i)
                        sb_puts(res, ",");
                    sb_enc(res, v[i].name, strlen(v[i].name));
                    char t[3] = { ':', v[i].t, 0 };
                    sb_puts(res, t);
                }
                sb_puts(res, "]");
            }
            for (size_t i = 0; i < cnt; i++)
                free(v[i].name);
            free(v);
        }
    } else if (strcmp(c, "mkdir") == 0 || strcmp(c, "chmod") == 0) {
        NEED(2);
        mode_t m;
        if (!(p1 = decode(tok[1])) || parse_mode(tok[2], &m) < 0)
            goto bad;
        sb_rc(res, c[1] == 'k' ? mkdir(p1, m) : chmod(p1, m));
    } else if (strcmp(c, "mkdirat") == 0) {
        NEED(3);
        int dfd;
        mode_t m;
        if (parse_dirfd(s, tok[1], &dfd) < 0 || !(p1 = decode(tok[2])) ||
            parse_mode(tok[3], &m) < 0)
            goto bad;
        sb_rc(res, mkdirat(dfd, p1, m));
    } else if (strcmp(c, "rmdir") == 0 || strcmp(c, "unlink") == 0 ||
               strcmp(c, "chdir") == 0) {
        NEED(1);
        if (!(p1 = decode(tok[1])))
            goto bad;
        sb_rc(res, c[0] == 'r' ? rmdir(p1) : c[0] == 'u' ? unlink(p1)
                                                         : chdir(p1));
    } else if (strcmp(c, "unlinkat") == 0) {
        NEED(3);
        int dfd;
        long fl;
        if (parse_dirfd(s, tok[1], &dfd) < 0 || !(p1 = decode(tok[2])) ||
            parse_flags(tok[3], atflag_names, "AT_", &fl) < 0)
            goto bad;
        sb_rc(res, unlinkat(dfd, p1, (int)fl));
    } else if (strcmp(c, "rename") == 0 || strcmp(c, "link") == 0 ||
               strcmp(c, "symlink") == 0) {
        NEED(2);
        if (!(p1 = decode(tok[1])) || !(p2 = decode(tok[2])))
            goto bad;
        sb_rc(res, c[0] == 'r' ? rename(p1, p2) : c[0] == 'l'
                                 ? link(p1, p2) : symlink(p1, p2));
    } else if (strcmp(c, "renameat") == 0) {
        NEED(4);
        int d1, d2;
        if (parse_dirfd(s, tok[1], &d1) < 0 || !(p1 = decode(tok[2])) ||
            parse_dirfd(s, tok[3], &d2) < 0 || !(p2 = decode(tok[4])))
            goto bad;
        sb_rc(res, renameat(d1, p1, d2, p2));
    } else if (strcmp(c, "truncate") == 0) {
        NEED(2);
        long long len;
        if (!(p1 = decode(tok[1])) || parse_i64(tok[2], &len) < 0)
            goto bad;
        sb_rc(res, truncate(p1, (off_t)len));
    } else if (strcmp(c, "fchdir") == 0) {
        NEED(1);
        int n = parse_fslot(tok[1]);
        if (n < 0)
            goto bad;
        sb_rc(res, fchdir(s->f[n]));
    } else if (strcmp(c, "getcwd") == 0) {
        NEED(1);
        unsigned long sz;
        char buf[MAX_CWD + 1];
        if (parse_count(tok[1], MAX_CWD, &sz) < 0)
            goto bad;
        if (!getcwd(buf, sz)) {
            sb_errno(res, errno);
        } else {
            sb_puts(res, "\"");
            sb_enc(res, buf, strlen(buf));
            sb_puts(res, "\"");
        }
    } else if (strcmp(c, "dup") == 0 || strcmp(c, "dup2") == 0) {
        NEED(1);
        int n = parse_fslot(tok[1]);
        if (n < 0)
            goto bad;
        rc = c[3] ? dup2(s->f[n], 200 + n) : dup(s->f[n]);
        sb_fd(res, rc);
        fill_f(s, rc);
    } else if (strcmp(c, "fcntl") == 0) {
        NEED(2);
        int n = parse_fslot(tok[1]);
        if (n < 0)
            goto bad;
        int fd = s->f[n];
        if (strcmp(tok[2], "GETFL") == 0) {
            rc = fcntl(fd, F_GETFL);
            if (rc < 0) {
                sb_errno(res, errno);
            } else {
                int acc = rc & O_ACCMODE;
                sb_puts(res, acc == O_RDONLY ? "RDONLY"
                             : acc == O_WRONLY ? "WRONLY"
                             : acc == O_RDWR ? "RDWR" : "ACCMODE3");
                if (rc & O_APPEND) sb_puts(res, "|APPEND");
                if (rc & O_NONBLOCK) sb_puts(res, "|NONBLOCK");
                if (rc & O_DIRECTORY) sb_puts(res, "|DIRECTORY");
                if (rc & O_PATH) sb_puts(res, "|PATH");
            }
        } else if (strcmp(tok[2], "GETFD") == 0) {
            rc = fcntl(fd, F_GETFD);
            if (rc < 0)
                sb_errno(res, errno);
            else
                sb_puts(res, (rc & FD_CLOEXEC) ? "CLOEXEC" : "0");
        } else if (strcmp(tok[2], "DUPFD") == 0) {
            rc = fcntl(fd, F_DUPFD, 0);
            sb_fd(res, rc);
            fill_f(s, rc);
        } else if (strcmp(tok[2], "SETFD_CLOEXEC") == 0) {
            sb_rc(res, fcntl(fd, F_SETFD, FD_CLOEXEC));
        } else {
            goto bad;
        }
    } else if (strcmp(c, "getaddrinfo") == 0) {
        NEED(1);
        if (!(p1 = decode(tok[1])))
            goto bad;
        do_getaddrinfo(res, p1);
    } else if (strcmp(c, "connect") == 0) {
        NEED(2);
        unsigned long port;
        if (!(p1 = decode(tok[1])) || parse_count(tok[2], 70000, &port) < 0 ||
            port > 65535)
            goto bad;
        do_connect(res, p1, (unsigned)port);
    } else if (strcmp(c, "fork") == 0) {
        if (depth == 0) { /* fork fork ... CALL: at most MAX_FORK_DEPTH */
            int k = 0;
            while (k < ntok && strcmp(tok[k], "fork") == 0)
                k++;
            if (k == ntok || k > MAX_FORK_DEPTH)
                goto bad;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            sb_errno(res, errno);
        } else if (pid == 0) {
            char cprefix[64];
            snprintf(cprefix, sizeof cprefix, "%schild ", prefix);
            sbuf r2 = { 0 };
            /* the child's line names its own call: skip "fork " */
            const char *cnorm = norm + 5;
            int bad2 = run_call(s, tok + 1, ntok - 1, &r2, cprefix, idx,
                                cnorm, depth + 1);
            if (bad2 != 1)
                print_line(cprefix, idx, cnorm, &r2, bad2 < 0);
            free(r2.p);
            fflush(stdout);
            _exit(0);
        } else {
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            ret = 1; /* nothing more to print */
        }
    } else {
        goto bad;
    }
    free(p1);
    free(p2);
    return ret;
bad:
    free(p1);
    free(p2);
    return -1;
}

/* Normalises a line: tokens split on spaces/tabs, rejoined with single
 * spaces into norm (control bytes shown as %XX so output stays one line).
 * Returns the token count, or -1 if over MAX_TOKENS. */
static int tokenize(char *line, char **tok, sbuf *norm)
{
    int n = 0, over = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (n < MAX_TOKENS)
            tok[n++] = p;
        else
            over = 1;
        char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (norm->len)
            sb_puts(norm, " ");
        for (char *q = start; q < p; q++) {
            unsigned char ch = (unsigned char)*q;
            if (ch < 0x20 || ch == 0x7f) {
                char t[4];
                snprintf(t, sizeof t, "%%%02X", ch);
                sb_puts(norm, t);
            } else {
                sb_put(norm, q, 1);
            }
        }
    }
    return over ? -1 : n;
}

/* Runs one sequence line; *idx counts calls (comments and blank lines are
 * not calls). */
static void run_line(slots *s, char *line, long *idx)
{
    char *tok[MAX_TOKENS];
    sbuf norm = { 0 };
    int n = tokenize(line, tok, &norm);
    if (n == 0 || (n > 0 && tok[0][0] == '#')) {
        free(norm.p);
        return;
    }
    sbuf res = { 0 };
    int rc = n < 0 || norm.oom ? -1
             : run_call(s, tok, n, &res, "", *idx, norm.p, 0);
    if (rc != 1)
        print_line("", *idx, norm.p ? norm.p : "", &res, rc < 0 || res.oom);
    (*idx)++;
    free(res.p);
    free(norm.p);
}

/* ---- input ------------------------------------------------------------- */

/* Reads one line into buf (NUL-terminated, no newline).  Returns 1 for a
 * line, 0 at EOF, and marks *toolong when the line was cut (the rest is
 * read and dropped). */
static int read_line(FILE *in, char *buf, size_t cap, int *toolong)
{
    size_t n = 0;
    int ch;
    *toolong = 0;
    while ((ch = getc(in)) != EOF) {
        if (ch == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = (char)ch;
        else
            *toolong = 1;
    }
    if (ch == EOF && n == 0 && !*toolong)
        return 0;
    buf[n] = '\0';
    /* an embedded NUL ends the string early: treat the line as malformed */
    if (strlen(buf) != n)
        *toolong = 1;
    return 1;
}

/* ---- hiding (in the target only) -------------------------------------- */

/* libshunt mapped in this process (the spec's test).  A preload of it or
 * a session socket in the environment counts too: then a hide would rename
 * paths of the local host (a static build is not preloaded at all). */
static int under_layer(void)
{
    const char *pre = getenv("LD_PRELOAD");
    if ((pre && strstr(pre, "libshunt")) || getenv("SHUNT_SOCKET"))
        return 1;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "libshunt")) {
            found = 1;
            break;
        }
    fclose(f);
    return found;
}

static const char *hidden_dir(void)
{
    const char *d = getenv("SHUNT_FUZZ_HIDDEN_DIR"); /* tests */
    return d && *d ? d : "/.shunt-fuzz-hidden";
}

typedef struct {
    char *path;
    char tmp[PATH_MAX];
    int moved;
} hidden;

static unsigned long hide_counter;

/* Renames each path away; a path that does not exist is nothing to hide.
 * Returns -1 with a message on another failure (what was moved is moved
 * back by unhide). */
static int hide_paths(hidden *h, int n, char *err, size_t errlen)
{
    const char *dir = hidden_dir();
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(h[i].tmp, sizeof h[i].tmp, "%s/%ld.%lu", dir,
                 (long)getpid(), hide_counter++);
        if (rename(h[i].path, h[i].tmp) == 0) {
            h[i].moved = 1;
        } else if (errno != ENOENT) {
            snprintf(err, errlen, "hide %s: %s", h[i].path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int rm_rf(const char *path);

/* Puts hidden paths back.  A sequence may have moved or removed what held
 * them (`rename /fuzz/sub /fuzz/x` with /fuzz/sub/deep hidden): then the
 * hidden copy is dropped -- the sequence changed the tree, which is rebuilt
 * before the next one -- and the run's answer stays what it was (a note on
 * stderr only: the output is what the two sides compare). */
static int unhide_paths(hidden *h, int n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    for (int i = n - 1; i >= 0; i--) {
        if (!h[i].moved)
            continue;
        if (rename(h[i].tmp, h[i].path) < 0) {
            fprintf(stderr, "shunt-fuzz-interp: cannot put %s back (%s): dropped\n",
                    h[i].path, strerror(errno));
            (void)rm_rf(h[i].tmp);
        }
        h[i].moved = 0;
    }
    return 0;
}

/* ---- tree (server mode) ------------------------------------------------ */

/* rm -rf of name in dirfd, never following a symlink. */
static int rm_rf_at(int dfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    if (depth > 256) {
        errno = ELOOP;
        return -1;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                               O_CLOEXEC);
    if (fd < 0)
        return -1;
    fchmod(fd, 0700); /* a 0555 dir: its entries can go (non-root too) */
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (rm_rf_at(dirfd(d), e->d_name, depth + 1) < 0)
            rc = -1;
    }
    closedir(d);
    if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

static int rm_rf(const char *path)
{
    /* the parent is followed (it is not the top), the top itself never */
    char *copy = strdup(path);
    if (!copy)
        return -1;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    char *slash = strrchr(copy, '/');
    int dfd, rc;
    const char *name;
    if (!slash) {
        dfd = AT_FDCWD;
        name = copy;
    } else if (slash == copy) {
        name = copy + 1;
        dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        *slash = '\0';
        name = slash + 1;
        dfd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dfd < 0 && dfd != AT_FDCWD) {
        rc = errno == ENOENT ? 0 : -1;
    } else if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
        errno = EINVAL;
        rc = -1;
    } else {
        rc = rm_rf_at(dfd, name, 0);
    }
    if (dfd >= 0)
        close(dfd);
    free(copy);
    return rc;
}

static int mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return 0;
}

typedef struct {
    char kind;
    char *path;
    char *arg; /* HEX, TEXT, LINKTARGET (decoded where encoded) */
    mode_t mode;
    int has_mode;
    unsigned long size;
} tentry;

static int is_below(const char *p, const char *top)
{
    size_t n = strlen(top);
    if (n == 1 && top[0] == '/')
        return p[0] == '/' && p[1] != '\0';
    return strncmp(p, top, n) == 0 && p[n] == '/';
}

static int tree_apply(tentry *e, int n, char *err, size_t errlen)
{
    /* tops: entries not below another entry of the tree */
    for (int i = 0; i < n; i++) {
        int top = 1;
        for (int j = 0; j < n && top; j++)
            if (j != i && is_below(e[i].path, e[j].path))
                top = 0;
        if (top && rm_rf(e[i].path) < 0) {
            snprintf(err, errlen, "rm %s: %s", e[i].path, strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        const char *p = e[i].path;
        int rc = 0;
        if (mkdir_parents(p) < 0) {
            snprintf(err, errlen, "parents of %s: %s", p, strerror(errno));
            return -1;
        }
        switch (e[i].kind) {
        case 'D':
            rc = mkdir(p, 0700);
            if (rc < 0 && errno == EEXIST) {
                struct stat st;
                rc = lstat(p, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
                errno = EEXIST;
            }
            break;
        case 'F':
        case 'Z': {
            int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
                             O_CLOEXEC, 0600);
            if (fd < 0) {
                rc = -1;
                break;
            }
            char chunk[4096];
            size_t len = e[i].kind == 'F' ? strlen(e[i].arg) / 2 : e[i].size;
            for (size_t off = 0; off < len && rc == 0;) {
                size_t m = len - off < sizeof chunk ? len - off : sizeof chunk;
                for (size_t k = 0; k < m; k++) {
                    if (e[i].kind == 'F')
                        chunk[k] = (char)(hexval(e[i].arg[2 * (off + k)]) * 16 +
                                          hexval(e[i].arg[2 * (off + k) + 1]));
                    else
                        chunk[k] = (char)('0' + (off + k) % 10);
                }
                ssize_t w = write(fd, chunk, m);
                if (w <= 0)
                    rc = -1;
                else
                    off += (size_t)w;
            }
            if (close(fd) < 0)
                rc = -1;
            break;
        }
        case 'L':
            rc = symlink(e[i].arg, p);
            break;
        case 'P':
            rc = mkfifo(p, 0600);
            break;
        case 'H':
            rc = link(e[i].arg, p);
            break;
        }
        if (rc < 0) {
            snprintf(err, errlen, "%c %s: %s", e[i].kind, p, strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < n; i++)
        if (e[i].has_mode && chmod(e[i].path, e[i].mode) < 0) {
            snprintf(err, errlen, "chmod %s: %s", e[i].path, strerror(errno));
            return -1;
        }
    return 0;
}

static int parse_tree_line(char *line, tentry *e, char *err, size_t errlen)
{
    char *tok[MAX_TOKENS];
    sbuf norm = { 0 };
    int n = tokenize(line, tok, &norm);
    free(norm.p);
    memset(e, 0, sizeof *e);
    if (n < 1 || strlen(tok[0]) != 1) {
        snprintf(err, errlen, "bad tree line");
        return -1;
    }
    e->kind = tok[0][0];
    int want = strchr("DP", e->kind) ? 3 : strchr("FZ", e->kind) ? 4
             : strchr("LH", e->kind) ? 3 : 0;
    if (!want || n != want) {
        snprintf(err, errlen, "bad tree line (%s)", tok[0]);
        return -1;
    }
    e->path = decode(tok[1]);
    if (!e->path || !e->path[0]) {
        snprintf(err, errlen, "bad path %s", tok[1]);
        return -1;
    }
    if (e->kind == 'L' || e->kind == 'H') {
        e->arg = decode(tok[2]);
        if (!e->arg || (e->kind == 'H' && !e->arg[0])) {
            snprintf(err, errlen, "bad target %s", tok[2]);
            return -1;
        }
        return 0;
    }
    if (parse_mode(tok[2], &e->mode) < 0) {
        snprintf(err, errlen, "bad mode %s", tok[2]);
        return -1;
    }
    e->has_mode = 1;
    if (e->kind == 'F') {
        const char *h = strcmp(tok[3], "-") == 0 ? "" : tok[3];
        size_t l = strlen(h);
        for (size_t i = 0; i < l; i++)
            if (hexval(h[i]) < 0)
                l = 1; /* force the odd-length error */
        if (l % 2) {
            snprintf(err, errlen, "bad hex content");
            return -1;
        }
        e->arg = strdup(h);
        if (!e->arg) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else if (e->kind == 'Z') {
        if (parse_count(tok[3], 1UL << 30, &e->size) < 0 ||
            e->size >= 1UL << 30) {
            snprintf(err, errlen, "bad size %s", tok[3]);
            return -1;
        }
    }
    return 0;
}

static void free_tree(tentry *e, int n)
{
    for (int i = 0; i < n; i++) {
        free(e[i].path);
        free(e[i].arg);
    }
    free(e);
}

/* ---- sequences ---------------------------------------------------------- */

static void run_sequence_lines(char **lines, size_t n)
{
    slots s;
    slots_init(&s);
    long idx = 0;
    for (size_t i = 0; i < n; i++)
        run_line(&s, lines[i], &idx);
    slots_end(&s);
    fflush(stdout);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forks a child that runs the lines; waits at most SEQ_LIMIT_MS, then
 * SIGKILLs the child and its process group.  Writes "exit N"/"signal N". */
static void run_sequence_child(char **lines, size_t n, char *status,
                               size_t slen)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(status, slen, "error fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        run_sequence_lines(lines, n);
        _exit(0);
    }
    setpgid(pid, pid); /* whichever of the two runs first */
    long long deadline = now_ms() + SEQ_LIMIT_MS;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(status, slen, "error waitpid: %s", strerror(errno));
            kill(-pid, SIGKILL);
            return;
        }
        if (now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL); /* what the sequence's forks left behind */
    if (WIFEXITED(st))
        snprintf(status, slen, "done exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(status, slen, "done signal %d", WTERMSIG(st));
    else
        snprintf(status, slen, "done status %d", st);
}

static int serve(void)
{
    static char line[MAX_LINE];
    int layered = under_layer();
    int toolong;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (read_line(stdin, line, sizeof line, &toolong)) {
        char *tok[MAX_TOKENS];
        sbuf norm = { 0 };
        char copy[MAX_LINE];
        memcpy(copy, line, strlen(line) + 1);
        int n = toolong ? -1 : tokenize(copy, tok, &norm);
        free(norm.p);
        if (n == 0)
            continue;
        if (n == 1 && strcmp(tok[0], "quit") == 0) {
            fflush(stdout);
            return 0;
        }
        if (n == 1 && strcmp(tok[0], "tree") == 0) {
            tentry *e = calloc(MAX_TREE_ENTRIES, sizeof *e);
            int ne = 0, failed = 0, ended = 0;
            char err[512] = "";
            if (!e) {
                printf("error out of memory\n");
                fflush(stdout);
                return 1;
            }
            while (read_line(stdin, line, sizeof line, &toolong)) {
                if (strcmp(line, "end") == 0) {
                    ended = 1;
                    break;
                }
                if (failed)
                    continue;
                if (toolong) {
                    snprintf(err, sizeof err, "tree line too long");
                    failed = 1;
                } else if (ne >= MAX_TREE_ENTRIES) {
                    snprintf(err, sizeof err, "too many tree entries");
                    failed = 1;
                } else if (parse_tree_line(line, &e[ne], err, sizeof err) < 0) {
                    failed = 1;
                    ne++; /* free what it holds */
                } else {
                    ne++;
                }
            }
            if (!failed && ended)
                failed = tree_apply(e, ne, err, sizeof err) < 0;
            if (!ended)
                snprintf(err, sizeof err, "no end"), failed = 1;
            free_tree(e, ne);
            if (failed)
                printf("error %s\n", err);
            else
                printf("ok\n");
            fflush(stdout);
            if (!ended)
                return 1;
            continue;
        }
        if (n >= 1 && strcmp(tok[0], "seq") == 0) {
            hidden h[MAX_HIDE];
            int nh = 0, bad = 0;
            char err[512] = "";
            int i = 1;
            if (n > 1 && strcmp(tok[1], "hide") == 0)
                i = 2;
            else if (n > 1)
                bad = 1;
            for (; i < n && !bad; i++) {
                if (nh >= MAX_HIDE || !(h[nh].path = decode(tok[i]))) {
                    bad = 1;
                    break;
                }
                h[nh++].moved = 0;
            }
            size_t nl = 0, cap = 0;
            char **lines = NULL;
            int ended = 0;
            while (read_line(stdin, line, sizeof line, &toolong)) {
                if (strcmp(line, "end") == 0) {
                    ended = 1;
                    break;
                }
                if (nl >= MAX_SEQ_LINES)
                    continue;
                if (nl == cap) {
                    cap = cap ? cap * 2 : 64;
                    char **nv = realloc(lines, cap * sizeof *lines);
                    if (!nv) {
                        bad = 1;
                        break;
                    }
                    lines = nv;
                }
                /* a cut line stays malformed: mark it with a NUL-free junk
                 * call name that no call matches */
                lines[nl] = toolong ? strdup("? (line too long)") : strdup(line);
                if (!lines[nl]) {
                    bad = 1;
                    break;
                }
                nl++;
            }
            char status[256];
            if (bad) {
                printf("error bad seq line\n");
            } else if (!layered && hide_paths(h, nh, err, sizeof err) < 0) {
                char err2[512];
                unhide_paths(h, nh, err2, sizeof err2);
                printf("error %s\n", err);
            } else {
                run_sequence_child(lines, nl, status, sizeof status);
                if (!layered && unhide_paths(h, nh, err, sizeof err) < 0)
                    printf("error %s\n", err);
                else
                    printf("%s\n", status);
            }
            fflush(stdout);
            for (size_t k = 0; k < nl; k++)
                free(lines[k]);
            free(lines);
            for (int k = 0; k < nh; k++)
                free(h[k].path);
            if (!ended)
                return 0;
            continue;
        }
        printf("error unknown command\n");
        fflush(stdout);
    }
    return 0;
}

static int oneshot(char **hide, int nhide)
{
    static char line[MAX_LINE];
    hidden h[MAX_HIDE];
    char err[512] = "";
    int toolong, layered = under_layer();
    for (int i = 0; i < nhide; i++) {
        h[i].path = hide[i];
        h[i].moved = 0;
    }
    if (!layered && hide_paths(h, nhide, err, sizeof err) < 0) {
        fprintf(stderr, "shunt-fuzz-interp: %s\n", err);
        unhide_paths(h, nhide, err, sizeof err);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    slots s;
    slots_init(&s);
    long idx = 0;
    while (read_line(stdin, line, sizeof line, &toolong)) {
        if (toolong) {
            char junk[] = "? (line too long)";
            run_line(&s, junk, &idx);
        } else {
            run_line(&s, line, &idx);
        }
    }
    slots_end(&s);
    fflush(stdout);
    if (!layered && unhide_paths(h, nhide, err, sizeof err) < 0) {
        fprintf(stderr, "shunt-fuzz-interp: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char *hide[MAX_HIDE];
    int nhide = 0;
    umask(022); /* the same on both sides, whatever the caller's */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && strcmp(argv[1], "--serve") == 0)
        return serve();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hide") == 0 && i + 1 < argc &&
            nhide < MAX_HIDE) {
            hide[nhide++] = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: shunt-fuzz-interp --serve\n"
                    "       shunt-fuzz-interp [--hide PATH]... < SEQUENCE\n");
            return 2;
        }
    }
    return oneshot(hide, nhide);
}
