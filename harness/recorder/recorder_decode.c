/* Decoding a stopped tracee's syscall arguments: strings and structures read
 * with process_vm_readv, paths made absolute against the dirfd or cwd
 * (/proc/TID/fd, /proc/TID/cwd), socket addresses, DNS query names. */
#include "recorder_int.h"

#include "shunt/config.h"
#include "shunt/path.h"
#include "shunt/policy.h"
#include "shunt/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define PATH_SHOW_MAX 4096
#define DNS_MAX 512

const rec_sc_t rec_sc_table[REC_SC_COUNT] = {
#define SC(name, args) [REC_SC_##name] = {#name, SYS_##name, args},
#include "recorder_syscalls.def"
#undef SC
};

int rec_sc_index(long nr)
{
    for (int i = 0; i < REC_SC_COUNT; i++)
        if (rec_sc_table[i].nr == nr)
            return i;
    return -1;
}

int recorder_syscall_nr(const char *name)
{
    for (int i = 0; i < REC_SC_COUNT; i++)
        if (strcmp(rec_sc_table[i].name, name) == 0)
            return rec_sc_table[i].nr;
    return -1;
}

/* ---- quoting ------------------------------------------------------------- */
void rec_buf_quote(shunt_buf_t *b, const char *s, size_t n, size_t max)
{
    shunt_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            shunt_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            shunt_buf_put(b, "\\n", 2);
        else if (c == '\t')
            shunt_buf_put(b, "\\t", 2);
        else if (c < 0x20 || c >= 0x7f)
            shunt_buf_printf(b, "\\x%02x", c);
        else
            shunt_buf_put(b, (const char *)&c, 1);
    }
    shunt_buf_put(b, "\"", 1);
    if (n > max)
        shunt_buf_put(b, "...", 3);
}

/* ---- tracee memory ------------------------------------------------------------ */
/* Up to len bytes at addr; the count read (0 for nothing). */
size_t rec_mem_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
    if (!addr || !len)
        return 0;
    struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(tid, &l, 1, &r, 1, 0);
    if (n > 0)
        return (size_t)n;
    /* Kernels without it, or an odd mapping: word by word. */
    size_t got = 0;
    while (got < len) {
        errno = 0;
        long w = ptrace(PTRACE_PEEKDATA, tid, (void *)(uintptr_t)(addr + got), 0);
        if (errno)
            break;
        size_t k = len - got < sizeof(w) ? len - got : sizeof(w);
        memcpy((char *)buf + got, &w, k);
        got += k;
    }
    return got;
}

/* A NUL-terminated string of at most max - 1 bytes, read page by page so
 * that the end of a mapping does not fail the whole read.  Its length, or
 * -1 when nothing could be read. */
long rec_mem_str(pid_t tid, uint64_t addr, char *out, size_t max)
{
    size_t got = 0;
    while (got + 1 < max) {
        size_t chunk = 4096 - ((addr + got) & 4095);
        if (chunk > max - 1 - got)
            chunk = max - 1 - got;
        size_t n = rec_mem_read(tid, addr + got, out + got, chunk);
        if (n == 0)
            break;
        void *z = memchr(out + got, 0, n);
        if (z)
            return (char *)z - out;
        got += n;
        if (n < chunk)
            break;
    }
    if (got == 0 && !addr)
        return -1;
    if (got == 0)
        return -1;
    out[got] = 0;
    return (long)got;
}

/* ---- paths ------------------------------------------------------------------- */
/* The absolute, lexically normalised form of path as thread tid sees it
 * relative to dirfd (the way layer/resolve.c makes it); NULL when the base
 * cannot be named. */
static char *resolve(pid_t tid, int dirfd, const char *path)
{
    char norm[PATH_SHOW_MAX];
    if (path[0] == '/') {
        if (shunt_path_normalize(NULL, path, norm, sizeof(norm)) < 0)
            return NULL;
        return strdup(norm);
    }
    char link[64], base[PATH_SHOW_MAX];
    if (dirfd == AT_FDCWD)
        snprintf(link, sizeof(link), "/proc/%d/cwd", (int)tid);
    else
        snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)tid, dirfd);
    ssize_t n = readlink(link, base, sizeof(base) - 1);
    if (n <= 0)
        return NULL;
    base[n] = 0;
    if (base[0] != '/')
        return NULL; /* "socket:[...]", "(unreachable)" */
    if (path[0] == '\0')
        return NULL; /* AT_EMPTY_PATH: the fd itself */
    if (shunt_path_normalize(base, path, norm, sizeof(norm)) < 0)
        return NULL;
    return strdup(norm);
}

static void put_ptr(shunt_buf_t *b, uint64_t v)
{
    if (v)
        shunt_buf_printf(b, "%#llx", (unsigned long long)v);
    else
        shunt_buf_put(b, "NULL", 4);
}

static void put_dirfd(shunt_buf_t *b, int fd)
{
    if (fd == AT_FDCWD)
        shunt_buf_put(b, "AT_FDCWD", 8);
    else
        shunt_buf_printf(b, "%d", fd);
}

/* As the call journal shows them (shunt/names.h). */
static void put_open_flags(shunt_buf_t *b, uint64_t f)
{
    char t[SHUNT_NAMES_FLAGS_MAX];
    shunt_buf_put(b, t, shunt_names_open_flags(t, sizeof(t), (unsigned long)f));
}

/* ---- sockets ------------------------------------------------------------------- */
/* The type and peer of fd in process tgid, borrowed with pidfd_getfd. */
static int sock_query(pid_t tgid, int fd, int *type,
                      struct sockaddr_storage *peer, socklen_t *plen)
{
    int pfd = (int)syscall(SYS_pidfd_open, tgid, 0);
    if (pfd < 0)
        return -1;
    int s = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
    close(pfd);
    if (s < 0)
        return -1;
    socklen_t tl = sizeof(*type);
    int rc = getsockopt(s, SOL_SOCKET, SO_TYPE, type, &tl);
    if (rc == 0 && peer && getpeername(s, (struct sockaddr *)peer, plen) < 0)
        *plen = 0;
    close(s);
    return rc;
}

static rec_subject_t *subj_add(rec_subjects_t *sj, int kind)
{
    if (sj->n >= REC_MAX_SUBJ)
        return NULL;
    rec_subject_t *s = &sj->s[sj->n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    return s;
}

void rec_subjects_free(rec_subjects_t *sj)
{
    for (int i = 0; i < sj->n; i++) {
        free(sj->s[i].path);
        free(sj->s[i].qname);
    }
    sj->n = 0;
}

/* Shows a sockaddr and notes what it names. */
static void put_sockaddr(pid_t tid, const struct sockaddr_storage *ss,
                         size_t len, shunt_buf_t *b, rec_subjects_t *sj, int op)
{
    if (len < sizeof(sa_family_t)) {
        shunt_buf_put(b, "{}", 2);
        return;
    }
    if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
        size_t pl = len - offsetof(struct sockaddr_un, sun_path);
        if (pl == 0) {
            shunt_buf_put(b, "{AF_UNIX}", 9);
        } else if (un->sun_path[0] == 0) {
            shunt_buf_put(b, "{AF_UNIX, @", 11);
            rec_buf_quote(b, un->sun_path + 1, pl - 1, 108);
            shunt_buf_put(b, "}", 1);
        } else {
            char p[sizeof(un->sun_path) + 1];
            size_t n = strnlen(un->sun_path,
                               pl < sizeof(un->sun_path) ? pl : sizeof(un->sun_path));
            memcpy(p, un->sun_path, n);
            p[n] = 0;
            shunt_buf_put(b, "{AF_UNIX, ", 10);
            rec_buf_quote(b, p, n, 108);
            shunt_buf_put(b, "}", 1);
            rec_subject_t *s = subj_add(sj, REC_S_UNIX);
            if (s) {
                s->op = op;
                s->path = resolve(tid, AT_FDCWD, p);
            }
        }
        return;
    }
    if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
        shunt_buf_printf(b, "{AF_INET, %s:%u}", a, ntohs(in->sin_port));
        rec_subject_t *s = subj_add(sj, REC_S_INET);
        if (s) {
            s->op = op;
            s->family = AF_INET;
            memcpy(s->addr, &in->sin_addr, 4);
            s->port = ntohs(in->sin_port);
        }
        return;
    }
    if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        char a[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
        shunt_buf_printf(b, "{AF_INET6, [%s]:%u}", a, ntohs(in6->sin6_port));
        rec_subject_t *s = subj_add(sj, REC_S_INET);
        if (s) {
            s->op = op;
            s->family = AF_INET6;
            memcpy(s->addr, &in6->sin6_addr, 16);
            s->port = ntohs(in6->sin6_port);
        }
        return;
    }
    shunt_buf_printf(b, "{family %u}", (unsigned)ss->ss_family);
}

static void read_sockaddr(pid_t tid, uint64_t p, uint64_t len, shunt_buf_t *b,
                          rec_subjects_t *sj, int op)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (!p) {
        shunt_buf_put(b, "NULL", 4);
        return;
    }
    size_t l = len > sizeof(ss) ? sizeof(ss) : (size_t)len;
    size_t got = rec_mem_read(tid, p, &ss, l);
    if (got < l) {
        shunt_buf_printf(b, "%#llx", (unsigned long long)p);
        return;
    }
    put_sockaddr(tid, &ss, l, b, sj, op);
}

/* The first question's name of a DNS query (TCP: after the 2-byte length);
 * NULL when buf is not one. */
static char *dns_qname(const unsigned char *buf, size_t n, int tcp)
{
    if (tcp) {
        if (n < 2)
            return NULL;
        buf += 2;
        n -= 2;
    }
    if (n < 13 || (buf[2] & 0x80) || ((buf[4] << 8) | buf[5]) == 0)
        return NULL;
    char name[256];
    size_t o = 12, w = 0;
    while (o < n && buf[o]) {
        size_t l = buf[o++];
        if (l > 63 || o + l > n || w + l + 2 > sizeof(name))
            return NULL;
        if (w)
            name[w++] = '.';
        for (size_t i = 0; i < l; i++) {
            unsigned char c = buf[o + i];
            name[w++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
        }
        o += l;
    }
    if (o >= n || w == 0)
        return NULL;
    name[w] = 0;
    return strdup(name);
}

/* ---- the decoder ---------------------------------------------------------------- */
typedef struct {
    pid_t tid, tgid;
    int sockfd;                  /* -1 until an 'f' */
    unsigned char dns[DNS_MAX];  /* the payload of a send, for DNS */
    size_t dns_len;
    int dirfd;                   /* from the last D */
    int no_mode;                 /* open flags without O_CREAT/O_TMPFILE */
} dec_t;

static void put_argv(dec_t *d, uint64_t p, shunt_buf_t *b)
{
    if (!p) {
        shunt_buf_put(b, "NULL", 4);
        return;
    }
    uint64_t ptrs[8];
    size_t got = rec_mem_read(d->tid, p, ptrs, sizeof(ptrs)) / sizeof(ptrs[0]);
    if (!got) {
        put_ptr(b, p);
        return;
    }
    shunt_buf_put(b, "[", 1);
    size_t i = 0;
    for (; i < got && ptrs[i]; i++) {
        char s[256];
        long n = rec_mem_str(d->tid, ptrs[i], s, sizeof(s));
        if (i)
            shunt_buf_put(b, ", ", 2);
        if (n < 0)
            shunt_buf_printf(b, "%#llx", (unsigned long long)ptrs[i]);
        else
            rec_buf_quote(b, s, (size_t)n, 64);
    }
    if (i == got && got == sizeof(ptrs) / sizeof(ptrs[0]))
        shunt_buf_put(b, ", ...", 5);
    shunt_buf_put(b, "]", 1);
}

/* A struct msghdr: its name and the start of its first iovec. */
static void put_msghdr(dec_t *d, uint64_t p, shunt_buf_t *b, rec_subjects_t *sj)
{
    struct msghdr m;
    if (!p || rec_mem_read(d->tid, p, &m, sizeof(m)) != sizeof(m)) {
        shunt_buf_printf(b, "%#llx", (unsigned long long)p);
        return;
    }
    shunt_buf_put(b, "{name=", 6);
    read_sockaddr(d->tid, (uint64_t)(uintptr_t)m.msg_name, m.msg_namelen, b,
                  sj, 0);
    shunt_buf_printf(b, ", iovlen=%zu}", (size_t)m.msg_iovlen);
    struct iovec iov;
    if (m.msg_iovlen &&
        rec_mem_read(d->tid, (uint64_t)(uintptr_t)m.msg_iov, &iov, sizeof(iov)) ==
            sizeof(iov)) {
        size_t l = iov.iov_len < DNS_MAX ? iov.iov_len : DNS_MAX;
        d->dns_len = rec_mem_read(d->tid, (uint64_t)(uintptr_t)iov.iov_base,
                              d->dns, l);
    }
}

void rec_decode(pid_t tid, pid_t tgid, int idx, const uint64_t args[6],
                shunt_buf_t *out, rec_subjects_t *sj)
{
    const char *spec = rec_sc_table[idx].args;
    dec_t d = {.tid = tid, .sockfd = -1, .dirfd = AT_FDCWD};
    d.tgid = tgid;
    rec_subject_t *last_path = NULL;
    int shown = 0;
    for (int i = 0; spec[i] && i < 6; i++) {
        char c = spec[i];
        uint64_t v = args[i];
        if (c == '-')
            continue;
        if (c == 'l' && i > 0 && spec[i - 1] == 'a')
            continue; /* shown with its sockaddr */
        if (c == 'm' && d.no_mode)
            continue; /* open's mode is read only with O_CREAT/O_TMPFILE */
        if (shown++)
            shunt_buf_put(out, ", ", 2);
        switch (c) {
        case 'D':
            d.dirfd = (int)v;
            put_dirfd(out, (int)v);
            break;
        case 'r':
        case 'q':
        case 'w':
        case 'x': {
            char path[PATH_SHOW_MAX];
            long n = v ? rec_mem_str(tid, v, path, sizeof(path)) : -1;
            if (n < 0) {
                put_ptr(out, v);
                d.dirfd = AT_FDCWD;
                break;
            }
            rec_buf_quote(out, path, (size_t)n, PATH_SHOW_MAX);
            char *abs = resolve(tid, d.dirfd, path);
            if (abs && strcmp(abs, path) != 0)
                shunt_buf_printf(out, " <%s>", abs);
            last_path = subj_add(sj, REC_S_PATH);
            if (last_path) {
                last_path->op = c == 'r'   ? REC_OP_READ
                                : c == 'q' ? REC_OP_META
                                : c == 'w' ? REC_OP_WRITE
                                           : REC_OP_EXEC;
                last_path->path = abs;
            } else {
                free(abs);
            }
            d.dirfd = AT_FDCWD;
            break;
        }
        case 'O':
            d.no_mode = !(v & O_CREAT) && (v & O_TMPFILE) != O_TMPFILE;
            put_open_flags(out, v);
            if (last_path && shunt_open_writes(v))
                last_path->op = REC_OP_WRITE;
            break;
        case 'H': {
            struct open_how how;
            if (rec_mem_read(tid, v, &how, sizeof(how)) != sizeof(how)) {
                put_ptr(out, v);
                break;
            }
            shunt_buf_put(out, "{flags=", 7);
            put_open_flags(out, how.flags);
            shunt_buf_printf(out, ", mode=%#llo, resolve=%#llx}",
                           (unsigned long long)how.mode,
                           (unsigned long long)how.resolve);
            if (last_path && shunt_open_writes(how.flags))
                last_path->op = REC_OP_WRITE;
            break;
        }
        case 'f':
            d.sockfd = (int)v;
            shunt_buf_printf(out, "%d", (int)v);
            break;
        case 'i':
            shunt_buf_printf(out, "%d", (int)v);
            break;
        case 'u':
            shunt_buf_printf(out, "%llu", (unsigned long long)v);
            break;
        case 'h':
            shunt_buf_printf(out, "%#llx", (unsigned long long)v);
            break;
        case 'm':
            shunt_buf_printf(out, "%#llo", (unsigned long long)v);
            break;
        case 's': {
            char s[256];
            long n = v ? rec_mem_str(tid, v, s, sizeof(s)) : -1;
            if (n < 0)
                put_ptr(out, v);
            else
                rec_buf_quote(out, s, (size_t)n, 128);
            break;
        }
        case 'v':
            put_argv(&d, v, out);
            break;
        case 'a':
            read_sockaddr(tid, v, i + 1 < 6 ? args[i + 1] : 0, out, sj,
                          idx == REC_SC_bind);
            break;
        case 'b': {
            size_t l = i + 1 < 6 && args[i + 1] < DNS_MAX ? (size_t)args[i + 1]
                                                          : DNS_MAX;
            d.dns_len = rec_mem_read(tid, v, d.dns, l);
            rec_buf_quote(out, (const char *)d.dns, d.dns_len, 32);
            break;
        }
        case 'M':
            put_msghdr(&d, v, out, sj);
            break;
        case 'V':
            /* struct mmsghdr starts with its struct msghdr: the first
             * message stands for the lot. */
            put_msghdr(&d, v, out, sj);
            break;
        default:
            shunt_buf_printf(out, "%#llx", (unsigned long long)v);
        }
    }
    if (d.sockfd < 0)
        return;
    /* A send without an address goes to the socket's peer: that is what
     * it touches.  And every inet subject needs the socket's protocol. */
    int has_inet = 0, has_addr = 0;
    for (int i = 0; i < sj->n; i++) {
        has_inet |= sj->s[i].kind == REC_S_INET;
        has_addr |= sj->s[i].kind != REC_S_PATH;
    }
    int is_send = idx == REC_SC_sendto || idx == REC_SC_sendmsg ||
                  idx == REC_SC_sendmmsg;
    if (!has_inet && !(is_send && !has_addr))
        return;
    int type = 0;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (sock_query(d.tgid, d.sockfd, &type, &peer, &plen) < 0)
        return;
    if (is_send && !has_addr && plen > 0) {
        shunt_buf_t ignore = {0};
        put_sockaddr(tid, &peer, plen, &ignore, sj, 0);
        if (ignore.p)
            shunt_buf_printf(out, " (peer %s)", ignore.p);
        free(ignore.p);
    }
    int proto = type == SOCK_STREAM ? SHUNT_NET_TCP
                : type == SOCK_DGRAM ? SHUNT_NET_UDP
                                     : 0;
    for (int i = 0; i < sj->n; i++) {
        rec_subject_t *s = &sj->s[i];
        if (s->kind != REC_S_INET)
            continue;
        s->proto = proto;
        if (s->port == 53 && is_send && d.dns_len)
            s->qname = dns_qname(d.dns, d.dns_len, proto == SHUNT_NET_TCP);
        if (s->qname)
            shunt_buf_printf(out, " (DNS query %s)", s->qname);
    }
}
