/* Remote fds across exec (docs/hooking.md, "Remote fds across exec").
 *
 * A forwarded or directory fd is an empty local placeholder plus an entry
 * of the fd table; the image an exec starts knows nothing of the table.
 * Before the exec the hook writes the entries of the fds that survive it
 * (not FD_CLOEXEC) into SHUNT_FDS and, when some hold remote handles, says
 * FORK{child_session, handles} for the new image: the proxy keeps those
 * handles held by a pending session that the new image takes as its own
 * (the old image's connections close with the exec and release its
 * holds).  The new image's layer puts the entries back before its first
 * call and connects at once.  A failed exec says EXEC_CANCEL.
 *
 *   SHUNT_FDS=SESSION.PID.PARENT{;FD.KIND.HANDLE.OFLAGS.SHARED.DIRPOS.DEV.INO.STAT PATH}
 *
 * numbers in hex but PID, FD and DIRPOS ('-': none) in decimal; STAT as
 * shunt_stat_enc writes it (ends with '.'); PATH in hex.  DEV.INO name the
 * placeholder, and PID the process: an entry is taken back only by the
 * image of the same process whose fd is still that placeholder (never by
 * a grandchild the variable leaked to through a program without the
 * layer).
 *
 * When the new image will run without the layer (static: notice.c), each
 * surviving forwarded or directory placeholder is swapped, just before the
 * exec, for an O_PATH fd of itself: its first read or write fails with
 * EBADF instead of reading an empty file; the placeholder comes back if
 * the exec fails.  Snapshots are real memfds and need nothing.
 *
 * Runs in exec hooks, possibly in a vfork-style child sharing its parent's
 * memory: raw syscalls and a raw mmap, no malloc; a proxy call only on a
 * connection this thread already has there. */
#include "layer.h"
#include "shunt/statconv.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

extern char **environ;

#define FDS_VAR "SHUNT_FDS"
#define VAR_MAX (120u << 10) /* below the kernel's 128 KiB per string */

static long self_pid; /* this image's pid (fork children: theirs) */

static void fork_child(void) { self_pid = LSYS0(SYS_getpid); }

/* ---- text ------------------------------------------------------------ */
typedef struct {
    char *p;
    size_t n, cap;
    int full;
} out_t;

static void put_c(out_t *o, char c)
{
    if (o->n + 1 >= o->cap) {
        o->full = 1;
        return;
    }
    o->p[o->n++] = c;
}

static void put_s(out_t *o, const char *s, size_t len)
{
    if (o->n + len >= o->cap) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

static void put_num(out_t *o, unsigned long long v, unsigned base)
{
    char b[24];
    int i = sizeof(b);
    do
        b[--i] = "0123456789abcdef"[v % base];
    while ((v /= base) != 0);
    put_s(o, b + i, sizeof(b) - (size_t)i);
}

static int get_num(const char **pp, unsigned base, unsigned long long *v,
                   char sep)
{
    char *end;
    if (!((**pp >= '0' && **pp <= '9') || (**pp >= 'a' && **pp <= 'f')))
        return -1;
    *v = strtoull(*pp, &end, (int)base);
    if (*end != sep)
        return -1;
    *pp = end + 1;
    return 0;
}

/* ---- before the exec ------------------------------------------------- */
static uint64_t new_session(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (LSYS3(SYS_getrandom, &v, sizeof(v), 0) != sizeof(v))
            v = (uint64_t)LSYS0(SYS_getpid) * 0x9e3779b97f4a7c15ull ^
                (uint64_t)(uintptr_t)&v ^ shunt_layer.session;
    return v;
}

int layer_vfork_child(void)
{
    return self_pid && LSYS0(SYS_getpid) != self_pid;
}

/* The remote fds that survive the exec: (fd, rfile) pairs, a reference
 * taken on each. */
typedef struct {
    int fd;
    shunt_rfile_t *f;
} surv_t;

#define SURV_MAX 4096

static int survives(int fd)
{
    long fl = LSYS3(SYS_fcntl, fd, F_GETFD, 0);
    return fl >= 0 && !(fl & FD_CLOEXEC);
}

/* From the table, whose fd numbers are this process's. */
static size_t survivors_table(surv_t *v)
{
    size_t n = 0;
    for (int fd = shunt_fdt_next(0); fd >= 0 && n < SURV_MAX;
         fd = shunt_fdt_next(fd + 1)) {
        shunt_rfile_t *f = shunt_fdt_get(fd);
        if (f && f->kind != SHUNT_RF_LAYER && survives(fd))
            v[n++] = (surv_t){fd, f};
        else
            shunt_rfile_unref(f);
    }
    return n;
}

typedef struct {
    uint64_t dev, ino;
    shunt_rfile_t *found;
} by_ino_t;

static void match_ino(int fd, shunt_rfile_t *f, void *arg)
{
    (void)fd;
    by_ino_t *b = arg;
    if (!b->found && f->kind != SHUNT_RF_LAYER && f->ph_ino == b->ino &&
        f->ph_dev == b->dev) {
        shunt_rfile_ref(f);
        b->found = f;
    }
}

/* In a vfork-style child the table is the parent's (its file actions'
 * dup2 and close left it alone, fs_open.c): the child's own fds are
 * matched to its entries by the placeholder's inode. */
static size_t survivors_vfork(surv_t *v)
{
    int dfd = (int)LSYS4(SYS_openat, AT_FDCWD, "/proc/self/fd",
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return 0;
    size_t n = 0;
    char buf[2048];
    long got;
    while ((got = LSYS3(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
        for (long off = 0; off < got;) {
            uint16_t rl;
            memcpy(&rl, buf + off + 16, sizeof(rl));
            const char *name = buf + off + 19;
            off += rl;
            int fd = 0;
            if (*name < '0' || *name > '9')
                continue;
            for (; *name >= '0' && *name <= '9'; name++)
                fd = fd * 10 + (*name - '0');
            struct stat st;
            if (fd == dfd || n >= SURV_MAX || !survives(fd) ||
                LSYS4(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) < 0)
                continue;
            by_ino_t b = {st.st_dev, st.st_ino, NULL};
            shunt_fdt_foreach(match_ino, &b);
            if (b.found)
                v[n++] = (surv_t){fd, b.found};
        }
    LSYS1(SYS_close, dfd);
    return n;
}

static int is_remote_handle(const shunt_rfile_t *f)
{
    return f->kind == SHUNT_RF_FWD || f->kind == SHUNT_RF_DIR;
}

/* A directory's position for the new image: the d_off of the last record
 * handed out when a batch is part-read (the agent's offset is past the
 * records still pending here), else -1 (the agent's offset is right). */
static long long dir_pos(shunt_rfile_t *f)
{
    long long pos = -1;
    while (atomic_flag_test_and_set(&f->lock))
        __builtin_ia32_pause();
    if (f->pend && f->pend_off > 0 && f->pend_off < f->pend_len) {
        for (size_t off = 0; off < f->pend_off;) {
            int64_t d_off;
            uint16_t rl;
            memcpy(&d_off, f->pend + off + 8, sizeof(d_off));
            memcpy(&rl, f->pend + off + 16, sizeof(rl));
            if (!rl)
                break;
            pos = d_off;
            off += rl;
        }
    }
    atomic_flag_clear(&f->lock);
    return pos;
}

static int encode(out_t *o, int fd, shunt_rfile_t *f, int with_handle)
{
    struct stat ph;
    if (LSYS4(SYS_newfstatat, fd, "", &ph, AT_EMPTY_PATH) < 0)
        return -1;
    size_t mark = o->n;
    put_c(o, ';');
    put_num(o, (unsigned)fd, 10);
    put_c(o, '.');
    put_num(o, (unsigned)f->kind, 16);
    put_c(o, '.');
    put_num(o, with_handle ? f->handle : 0, 16);
    put_c(o, '.');
    put_num(o, (unsigned)f->oflags, 16);
    put_c(o, '.');
    put_num(o, (unsigned)atomic_load(&f->shared), 16);
    put_c(o, '.');
    long long pos = f->kind == SHUNT_RF_DIR ? dir_pos(f) : -1;
    if (pos >= 0)
        put_num(o, (unsigned long long)pos, 10);
    else
        put_c(o, '-');
    put_c(o, '.');
    put_num(o, (unsigned long long)ph.st_dev, 16);
    put_c(o, '.');
    put_num(o, (unsigned long long)ph.st_ino, 16);
    put_c(o, '.');
    if (!o->full) {
        size_t k = shunt_stat_enc(&f->st, o->p + o->n, o->cap - o->n);
        if (!k)
            o->full = 1;
        o->n += k;
    }
    for (const char *p = f->path ? f->path : ""; *p && !o->full; p++)
        put_num(o, (unsigned char)*p >> 4, 16), put_num(o, *p & 15u, 16);
    if (o->full) {
        o->n = mark; /* this one does not fit: the others still may */
        o->full = 0;
        return -1;
    }
    return 0;
}

/* fd's placeholder becomes an O_PATH fd of itself (reads and writes fail
 * with EBADF); the placeholder is kept aside for a failed exec. */
static void swap_out(layer_execfds_t *x, int fd)
{
    if (x->nswaps == x->maxswaps) /* opened by another thread meanwhile */
        return;
    long keep = LSYS3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0);
    if (keep < 0)
        return;
    char p[40] = "/proc/self/fd/";
    out_t o = {p, 14, sizeof(p), 0};
    put_num(&o, (unsigned)fd, 10);
    p[o.n] = 0;
    long op = LSYS4(SYS_openat, AT_FDCWD, p, O_PATH | O_CLOEXEC, 0);
    if (op < 0 || LSYS3(SYS_dup3, op, fd, 0) < 0) {
        if (op >= 0)
            LSYS1(SYS_close, op);
        LSYS1(SYS_close, keep);
        return;
    }
    LSYS1(SYS_close, op);
    x->swaps[2 * x->nswaps] = fd;
    x->swaps[2 * x->nswaps + 1] = (int)keep;
    x->nswaps++;
}

void layer_execfds_prepare(layer_execfds_t *x, int unhooked)
{
    memset(x, 0, sizeof(*x));
    if (shunt_state != SHUNT_STATE_ACTIVE || LAYER_BYPASS() ||
        shunt_fdt_next(0) < 0)
        return;
    int saved = errno;
    LAYER_ENTER();
    int vfork = layer_vfork_child();
    /* The variable, then the survivors, the handle list, the swaps. */
    size_t len = VAR_MAX + SURV_MAX * (sizeof(surv_t) + 2 * sizeof(int) + 4);
    long m = shunt_sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m < 0 && m > -4096) {
        LOG_WARN("exec: mmap: %s; remote fds are not carried to the new "
                 "image", ESTR((int)-m));
        goto out;
    }
    surv_t *sv = (surv_t *)((char *)m + VAR_MAX);
    size_t n = vfork ? survivors_vfork(sv) : survivors_table(sv);
    if (!n) { /* the layer's own fds only, or all close-on-exec */
        LSYS2(SYS_munmap, m, len);
        goto out;
    }
    x->map = (void *)m;
    x->maplen = len;
    x->swaps = (int *)(sv + SURV_MAX);
    x->maxswaps = SURV_MAX;
    uint8_t *hb = (uint8_t *)(x->swaps + 2 * SURV_MAX);
    size_t nh = 0;
    /* The handles the new image will hold (each once). */
    for (size_t i = 0; i < n && !unhooked; i++) {
        shunt_rfile_t *f = sv[i].f;
        if (is_remote_handle(f) && !atomic_load(&f->shared)) {
            int dup = 0;
            for (size_t k = 0; k < nh && !dup; k++)
                dup = memcmp(hb + 4 * k, &f->handle, 4) == 0;
            if (!dup)
                memcpy(hb + 4 * nh++, &f->handle, 4); /* x86: LE */
        }
    }
    /* In a vfork-style child only a connection this thread has (its
     * parent's, which waits) may be used: a new one would be recorded in
     * the parent's memory with an fd of the child's. */
    if (nh && (!vfork || shunt_rpc_has_conn())) {
        uint64_t child = new_session();
        shunt_fork_t q = {.child_session = child,
                          .handles = shunt_bytes(hb, (uint32_t)nh * 4)};
        shunt_msg_t rm;
        long r = shunt_rpc(SHUNT_T_FORK, &q, &rm);
        if (r >= 0)
            x->session = child;
        else
            LOG_DEBUG("exec: the proxy keeps no handles for the new image "
                      "(%s): its forwarded fds fail on first use",
                      ESTR((int)-r));
    }
    out_t o = {x->map, 0, VAR_MAX, 0};
    put_s(&o, FDS_VAR "=", sizeof(FDS_VAR));
    put_num(&o, x->session, 16);
    put_c(&o, '.');
    put_num(&o, (unsigned long)LSYS0(SYS_getpid), 10);
    put_c(&o, '.');
    put_num(&o, shunt_layer.session, 16);
    size_t head = o.n;
    for (size_t i = 0; i < n; i++) {
        int fd = sv[i].fd;
        shunt_rfile_t *f = sv[i].f;
        int remote = is_remote_handle(f);
        int passed = !unhooked && (!remote || x->session ||
                                   atomic_load(&f->shared)) &&
                     encode(&o, fd, f, remote) == 0;
        if (!passed && remote) {
            if (!unhooked)
                LOG_WARN("exec: fd %d (%s) cannot be carried to the new "
                         "image: it fails there on first use", fd,
                         f->path ? f->path : "?");
            swap_out(x, fd);
        }
        shunt_rfile_unref(f);
    }
    if (o.n > head) {
        o.p[o.n] = 0;
        x->var = o.p;
        x->var_len = o.n;
        LOG_DEBUG("exec: %s", x->var);
    }
out:
    LAYER_LEAVE();
    errno = saved;
}

void layer_execfds_failed(layer_execfds_t *x)
{
    int saved = errno;
    LAYER_ENTER();
    if (x->session) {
        shunt_exec_cancel_t q = {.child_session = x->session};
        shunt_msg_t m;
        long r = shunt_rpc(SHUNT_T_EXEC_CANCEL, &q, &m);
        if (r < 0)
            LOG_DEBUG("exec failed; EXEC_CANCEL: %s", ESTR((int)-r));
    }
    for (int i = 0; i < x->nswaps; i++) {
        LSYS3(SYS_dup3, x->swaps[2 * i + 1], x->swaps[2 * i], 0);
        LSYS1(SYS_close, x->swaps[2 * i + 1]);
    }
    if (x->map)
        LSYS2(SYS_munmap, x->map, x->maplen);
    memset(x, 0, sizeof(*x));
    LAYER_LEAVE();
    errno = saved;
}

/* ---- in the new image ------------------------------------------------ */
typedef struct {
    uint32_t handle;
    long long pos;
} dirseek_t;

static uint64_t adopted; /* the session taken from SHUNT_FDS */
static dirseek_t *seeks;
static size_t nseeks;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                 : -1;
}

/* One entry at *pp (after its ';'); 0, or -1 when malformed. */
static int take_entry(const char **pp, shunt_rfile_t ***made, size_t *nmade)
{
    const char *p = *pp;
    unsigned long long fd, kind, handle, oflags, shared, dev, ino, pos = 0;
    int has_pos = 0;
    if (get_num(&p, 10, &fd, '.') || get_num(&p, 16, &kind, '.') ||
        get_num(&p, 16, &handle, '.') || get_num(&p, 16, &oflags, '.') ||
        get_num(&p, 16, &shared, '.'))
        return -1;
    if (*p == '-' && p[1] == '.')
        p += 2;
    else if (get_num(&p, 10, &pos, '.') == 0)
        has_pos = 1;
    else
        return -1;
    shunt_stat_r_t st;
    if (get_num(&p, 16, &dev, '.') || get_num(&p, 16, &ino, '.') ||
        shunt_stat_dec(&p, &st) < 0)
        return -1;
    const char *ph = p;
    while (hexval(*p) >= 0)
        p++;
    if ((*p && *p != ';') || (p - ph) % 2)
        return -1;
    *pp = p;
    int remote = kind == SHUNT_RF_FWD || kind == SHUNT_RF_DIR;
    if (fd >= SHUNT_FDT_MAX || (kind != SHUNT_RF_SNAPSHOT && !remote) ||
        (remote && !adopted && !shared))
        return 0;
    struct stat cur;
    if (LSYS4(SYS_newfstatat, (int)fd, "", &cur, AT_EMPTY_PATH) < 0 ||
        (unsigned long long)cur.st_dev != dev ||
        (unsigned long long)cur.st_ino != ino) {
        LOG_DEBUG("exec: fd %llu is no longer the placeholder SHUNT_FDS "
                  "names", fd);
        return 0;
    }
    shunt_rfile_t *f = NULL;
    for (size_t i = 0; remote && i < *nmade; i++)
        if ((*made)[i]->kind == (int)kind && (*made)[i]->handle == handle)
            f = (*made)[i]; /* a dup of an fd taken back already */
    if (!f) {
        f = shunt_rfile_new((int)kind);
        char *path = malloc((size_t)(p - ph) / 2 + 1);
        shunt_rfile_t **nm = realloc(*made, (*nmade + 1) * sizeof(*nm));
        if (!f || !path || !nm) {
            free(path);
            if (nm)
                *made = nm;
            if (f)
                f->kind = 0, shunt_rfile_unref(f);
            return 0;
        }
        *made = nm;
        size_t k = 0;
        for (const char *q = ph; q < p; q += 2)
            path[k++] = (char)(hexval(q[0]) << 4 | hexval(q[1]));
        path[k] = 0;
        f->handle = remote ? (uint32_t)handle : 0;
        f->ph_dev = dev;
        f->ph_ino = ino;
        f->oflags = (int)oflags;
        f->st = st;
        f->path = path;
        atomic_store(&f->shared, (int)shared);
        (*made)[(*nmade)++] = f;
        if (has_pos && kind == SHUNT_RF_DIR) {
            dirseek_t *ns = realloc(seeks, (nseeks + 1) * sizeof(*ns));
            if (ns) {
                seeks = ns;
                seeks[nseeks++] = (dirseek_t){f->handle, (long long)pos};
            }
        }
    }
    if (shunt_fdt_set((int)fd, f) == 0)
        LOG_DEBUG("exec: fd %llu: %s %s inherited (handle %u)", fd,
                  kind == SHUNT_RF_DIR   ? "directory"
                  : kind == SHUNT_RF_FWD ? "forwarded file"
                                         : "snapshot",
                  f->path, f->handle);
    return 0;
}

void layer_execfds_init(void)
{
    self_pid = LSYS0(SYS_getpid);
    pthread_atfork(NULL, NULL, fork_child);
    const char *p = getenv(FDS_VAR);
    if (!p)
        return;
    unsigned long long session, pid, parent;
    if (get_num(&p, 16, &session, '.') || get_num(&p, 10, &pid, '.') ||
        hexval(*p) < 0) {
        LOG_WARN("exec: " FDS_VAR " is malformed: ignored");
        return;
    }
    char *end;
    parent = strtoull(p, &end, 16);
    p = end;
    if ((long)pid != self_pid) {
        LOG_DEBUG("exec: " FDS_VAR " is another process's: ignored");
        return;
    }
    if (session) {
        adopted = session;
        shunt_layer.parent_session = parent;
        shunt_layer.session = session;
    }
    shunt_rfile_t **made = NULL;
    size_t nmade = 0;
    while (*p == ';') {
        p++;
        if (take_entry(&p, &made, &nmade) < 0) {
            LOG_WARN("exec: " FDS_VAR " is malformed; the rest is ignored");
            break;
        }
    }
    for (size_t i = 0; i < nmade; i++)
        shunt_rfile_unref(made[i]); /* the table holds them */
    free(made);
}

void layer_execfds_strip(void)
{
    for (size_t i = 0; environ && environ[i]; i++)
        if (strncmp(environ[i], FDS_VAR "=", sizeof(FDS_VAR)) == 0) {
            do /* out of the program's sight */
                environ[i] = environ[i + 1];
            while (environ[i++]);
            break;
        }
}

void layer_execfds_start(void)
{
    if (!adopted)
        return;
    int saved = errno;
    LAYER_ENTER();
    /* The pending session is this image's: claim it now, so that its end
     * (this process exiting) is seen even if it makes no call. */
    if (shunt_rpc_connect() < 0)
        LOG_WARN("exec: cannot reach the proxy: inherited remote fds fail");
    for (size_t i = 0; i < nseeks; i++) {
        shunt_lseek_t q = {.handle = seeks[i].handle,
                           .offset = seeks[i].pos,
                           .whence = SEEK_SET};
        shunt_msg_t m;
        shunt_rpc(SHUNT_T_LSEEK, &q, &m);
    }
    free(seeks);
    seeks = NULL;
    nseeks = 0;
    LAYER_LEAVE();
    errno = saved;
}
