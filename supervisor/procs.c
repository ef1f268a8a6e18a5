/* What the supervisor remembers of the programs it serves: each process's
 * remote cwd, and the sockets it relays.  Keyed by what the kernel keeps
 * stable: a process by its thread group and start time (a pid reused by a
 * new process is a new entry), a socket by its inode. */
#include "sv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- processes ---------------------------------------------------------- */
typedef struct proc {
    struct proc *next;
    pid_t tgid;
    unsigned long long start; /* field 22 of /proc/PID/stat */
    char *cwd;                /* the remote cwd, or NULL */
} proc_t;

#define PROC_BUCKETS 1024
static proc_t *procs[PROC_BUCKETS];
static pthread_mutex_t procs_lock = PTHREAD_MUTEX_INITIALIZER;

/* The parent and start time of a process. */
static int proc_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
    char p[64], buf[1024];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *e = strrchr(buf, ')'); /* the name may hold anything but this */
    if (!e)
        return -1;
    int pp = 0;
    unsigned long long st = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice threads itreal start */
    if (sscanf(e + 1,
               " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
               "%*d %*d %*d %*d %llu",
               &pp, &st) != 2)
        return -1;
    *ppid = pp;
    *start = st;
    return 0;
}

/* A hex mask of /proc/TID/status after "\nKEY:\t", or 0. */
static unsigned long long status_mask(const char *st, const char *key)
{
    const char *k = strstr(st, key);
    return k ? strtoull(k + strlen(key), NULL, 16) : 0;
}

int sv_signal_due(const sv_call_t *c)
{
    char p[64], st[4096];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)c->tid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, st, sizeof(st) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    st[n] = 0;
    unsigned long long pending = status_mask(st, "\nSigPnd:") | status_mask(st, "\nShdPnd:");
    return (pending & ~status_mask(st, "\nSigBlk:")) != 0;
}

static proc_t *proc_find(pid_t tgid, unsigned long long start)
{
    for (proc_t *p = procs[(unsigned)tgid % PROC_BUCKETS]; p; p = p->next)
        if (p->tgid == tgid && p->start == start)
            return p;
    return NULL;
}

/* The entry of tgid (made, inheriting the parent's cwd, when new).
 * Called with the lock held. */
static proc_t *proc_get(pid_t tgid)
{
    pid_t ppid;
    unsigned long long start;
    if (proc_stat(tgid, &ppid, &start) < 0)
        return NULL;
    proc_t *p = proc_find(tgid, start);
    if (p)
        return p;
    /* A stale entry of a pid that was reused goes. */
    for (proc_t **pp = &procs[(unsigned)tgid % PROC_BUCKETS]; *pp;) {
        if ((*pp)->tgid == tgid) {
            proc_t *d = *pp;
            *pp = d->next;
            free(d->cwd);
            free(d);
        } else {
            pp = &(*pp)->next;
        }
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->tgid = tgid;
    p->start = start;
    pid_t gp;
    unsigned long long pstart;
    if (ppid > 0 && proc_stat(ppid, &gp, &pstart) == 0) {
        proc_t *parent = proc_find(ppid, pstart);
        if (parent && parent->cwd)
            p->cwd = strdup(parent->cwd);
    }
    p->next = procs[(unsigned)tgid % PROC_BUCKETS];
    procs[(unsigned)tgid % PROC_BUCKETS] = p;
    return p;
}

int sv_cwd_get(pid_t tid, char *out, size_t n)
{
    pid_t g = sv_tgid(tid);
    if (g <= 0)
        return 0;
    pthread_mutex_lock(&procs_lock);
    proc_t *p = proc_get(g);
    int r = 0;
    if (p && p->cwd && strlen(p->cwd) < n) {
        strcpy(out, p->cwd);
        r = 1;
    }
    pthread_mutex_unlock(&procs_lock);
    return r;
}

void sv_cwd_set(pid_t tid, const char *path)
{
    pid_t g = sv_tgid(tid);
    if (g <= 0)
        return;
    pthread_mutex_lock(&procs_lock);
    proc_t *p = proc_get(g);
    if (p) {
        free(p->cwd);
        p->cwd = path ? strdup(path) : NULL;
    }
    pthread_mutex_unlock(&procs_lock);
}

/* path with the prefix from (a whole component) replaced by to, into out;
 * 1, or 0 when path is not below from. */
int sv_path_moved(const char *path, const char *from, const char *to,
                  char *out, size_t n)
{
    size_t fl = strlen(from);
    if (strncmp(path, from, fl) != 0 || (path[fl] && path[fl] != '/'))
        return 0;
    int k = snprintf(out, n, "%s%s", to, path + fl);
    return k > 0 && (size_t)k < n;
}

void sv_cwd_renamed(const char *from, const char *to)
{
    char moved[PATH_MAX];
    pthread_mutex_lock(&procs_lock);
    for (size_t i = 0; i < PROC_BUCKETS; i++)
        for (proc_t *p = procs[i]; p; p = p->next)
            if (p->cwd && sv_path_moved(p->cwd, from, to, moved,
                                        sizeof(moved))) {
                char *s = strdup(moved);
                if (s) {
                    free(p->cwd);
                    p->cwd = s;
                }
            }
    pthread_mutex_unlock(&procs_lock);
}

/* ---- sockets ------------------------------------------------------------ */
/* A small open-addressed table would do as well; sockets are few and
 * their entries small, so a list per bucket, capped, is enough. */
typedef struct sock {
    struct sock *next;
    uint64_t ino;
    sv_sock_t s;
    /* datagram relays of an unconnected socket: destination -> port */
    struct relay {
        struct relay *next;
        struct sockaddr_storage dst;
        socklen_t dlen;
        uint16_t port;
    } *relays;
} sock_t;

#define SOCK_BUCKETS 1024
#define SOCK_MAX 65536
static sock_t *socks[SOCK_BUCKETS];
static size_t nsocks;
static pthread_mutex_t socks_lock = PTHREAD_MUTEX_INITIALIZER;

static sock_t *sock_find(uint64_t ino)
{
    for (sock_t *s = socks[ino % SOCK_BUCKETS]; s; s = s->next)
        if (s->ino == ino)
            return s;
    return NULL;
}

static sock_t *sock_make(uint64_t ino)
{
    sock_t *s = sock_find(ino);
    if (s || nsocks >= SOCK_MAX)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ino = ino;
    s->next = socks[ino % SOCK_BUCKETS];
    socks[ino % SOCK_BUCKETS] = s;
    nsocks++;
    return s;
}

int sv_sock_get(uint64_t ino, sv_sock_t *out)
{
    pthread_mutex_lock(&socks_lock);
    sock_t *s = sock_find(ino);
    int r = s && s->s.family;
    if (r)
        *out = s->s;
    pthread_mutex_unlock(&socks_lock);
    return r;
}

int sv_sock_known(uint64_t ino)
{
    pthread_mutex_lock(&socks_lock);
    int r = sock_find(ino) != NULL;
    pthread_mutex_unlock(&socks_lock);
    return r;
}

void sv_sock_put(uint64_t ino, const sv_sock_t *v)
{
    pthread_mutex_lock(&socks_lock);
    sock_t *s = sock_make(ino);
    if (s)
        s->s = *v;
    pthread_mutex_unlock(&socks_lock);
}

int sv_dgram_relay(uint64_t ino, const struct sockaddr_storage *dst,
                   socklen_t dlen, uint16_t *port)
{
    int r = 0;
    pthread_mutex_lock(&socks_lock);
    sock_t *s = sock_find(ino);
    for (struct relay *x = s ? s->relays : NULL; x; x = x->next)
        if (x->dlen == dlen && memcmp(&x->dst, dst, dlen) == 0) {
            *port = x->port;
            r = 1;
            break;
        }
    pthread_mutex_unlock(&socks_lock);
    return r;
}

void sv_dgram_relay_put(uint64_t ino, const struct sockaddr_storage *dst,
                        socklen_t dlen, uint16_t port)
{
    pthread_mutex_lock(&socks_lock);
    sock_t *s = sock_make(ino);
    struct relay *x = s ? calloc(1, sizeof(*x)) : NULL;
    if (x) {
        memcpy(&x->dst, dst, dlen);
        x->dlen = dlen;
        x->port = port;
        x->next = s->relays;
        s->relays = x;
    }
    pthread_mutex_unlock(&socks_lock);
}

int sv_dgram_peer(uint64_t ino, uint16_t port, struct sockaddr_storage *dst,
                  socklen_t *dlen)
{
    int r = 0;
    pthread_mutex_lock(&socks_lock);
    sock_t *s = sock_find(ino);
    if (s && s->s.family && s->s.relay_port == port) {
        memcpy(dst, &s->s.peer, s->s.peer_len);
        *dlen = s->s.peer_len;
        r = 1;
    }
    for (struct relay *x = s && !r ? s->relays : NULL; x; x = x->next)
        if (x->port == port) {
            memcpy(dst, &x->dst, x->dlen);
            *dlen = x->dlen;
            r = 1;
            break;
        }
    pthread_mutex_unlock(&socks_lock);
    return r;
}

/* ---- the remote path of a memfd ------------------------------------------- */
/* What /proc/PID/fd/N names for a remote file: the layer answers readlink
 * of it with the remote path, so the supervisor does, for the memfds it
 * made (by device and inode; the oldest entries go past MEMFD_MAX). */
typedef struct mpath {
    struct mpath *next;
    uint64_t dev, ino;
    char *path;
} mpath_t;

#define MPATH_BUCKETS 4096
#define MPATH_MAX 65536
static mpath_t *mpaths[MPATH_BUCKETS];
static mpath_t *ring[MPATH_MAX]; /* in the order they came: the oldest goes */
static size_t ring_next;
static pthread_mutex_t mpath_lock = PTHREAD_MUTEX_INITIALIZER;

void sv_memfd_path_put(uint64_t dev, uint64_t ino, const char *path)
{
    mpath_t *m = calloc(1, sizeof(*m));
    char *s = strdup(path);
    if (!m || !s) {
        free(m);
        free(s);
        return;
    }
    m->dev = dev;
    m->ino = ino;
    m->path = s;
    pthread_mutex_lock(&mpath_lock);
    mpath_t *old = ring[ring_next];
    if (old) {
        for (mpath_t **pp = &mpaths[old->ino % MPATH_BUCKETS]; *pp;
             pp = &(*pp)->next)
            if (*pp == old) {
                *pp = old->next;
                break;
            }
        free(old->path);
        free(old);
    }
    ring[ring_next] = m;
    ring_next = (ring_next + 1) % MPATH_MAX;
    m->next = mpaths[ino % MPATH_BUCKETS];
    mpaths[ino % MPATH_BUCKETS] = m;
    pthread_mutex_unlock(&mpath_lock);
}

int sv_memfd_path_get(uint64_t dev, uint64_t ino, char *out, size_t n)
{
    int r = 0;
    pthread_mutex_lock(&mpath_lock);
    for (mpath_t *m = mpaths[ino % MPATH_BUCKETS]; m; m = m->next)
        if (m->ino == ino && m->dev == dev) {
            if (strlen(m->path) < n) {
                strcpy(out, m->path);
                r = 1;
            }
            break;
        }
    pthread_mutex_unlock(&mpath_lock);
    return r;
}
