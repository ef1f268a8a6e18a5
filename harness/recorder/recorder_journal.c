/* The call journal of system calls (docs/recorder.md): the records of
 * layer/journal.c's format, written by the tracer from the system calls a
 * traced tree makes (recorder_journal.def), for the engines that have no
 * hooks inside the program -- the supervisor, and the same program inside
 * the target to compare it with.  Process tags are given at the parent's
 * fork event, in its order; fds returned by a journalled open are observed
 * per process (copied at fork, cleared at exec), as the layer does. */
#include "recorder_int.h"

#include "shunt/util.h"
#include "shunt/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

enum { J_INT, J_FD, J_CLOSE, J_STAT, J_LINK, J_EXEC };

typedef struct {
    const char *rec;
    long nr;
    int res;
    const char *args;
} jsc_t;

static const jsc_t jtab[] = {
#define JS(sc, rec, res, args) {rec, SYS_##sc, res, args},
#include "recorder_journal.def"
#undef JS
};
#define N_JTAB (sizeof(jtab) / sizeof(jtab[0]))

/* The kernel's "restart the call" results (include/linux/errno.h): seen
 * by a tracer at the call's exit, never by the program. */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

#define JSTR 200        /* bytes of a string shown, then "..." */
#define OBS_FDS 65536   /* fds that can be observed */
#define ARGV_SHOWN 16

typedef struct {
    pid_t tgid;
    int on;             /* its calls make records */
    unsigned kids;      /* children so far */
    char tag[96];
    unsigned char *obs; /* OBS_FDS bits, NULL while none is observed */
} jproc_t;

struct rec_jn {
    int fd;
    int after;          /* the root's execs before the journal starts */
    int execs;          /* ... so far */
    pid_t root;
    jproc_t *p;
    size_t n, cap;
};

/* ---- processes ------------------------------------------------------------ */
static jproc_t *proc_find(rec_jn_t *j, pid_t tgid)
{
    for (size_t i = 0; i < j->n; i++)
        if (j->p[i].tgid == tgid)
            return &j->p[i];
    return NULL;
}

static jproc_t *proc_add(rec_jn_t *j, pid_t tgid)
{
    jproc_t *p = proc_find(j, tgid);
    if (p) { /* a pid used again */
        free(p->obs);
    } else {
        if (j->n == j->cap) {
            size_t cap = j->cap ? j->cap * 2 : 16;
            jproc_t *v = realloc(j->p, cap * sizeof(*v));
            if (!v)
                return NULL;
            j->p = v;
            j->cap = cap;
        }
        p = &j->p[j->n++];
    }
    memset(p, 0, sizeof(*p));
    p->tgid = tgid;
    return p;
}

rec_jn_t *rec_jn_new(int fd, int after_execs, pid_t root)
{
    rec_jn_t *j = calloc(1, sizeof(*j));
    jproc_t *p = j ? proc_add(j, root) : NULL;
    if (!p) {
        free(j);
        return NULL;
    }
    j->fd = fd;
    j->after = after_execs;
    j->root = root;
    p->on = after_execs <= 0;
    snprintf(p->tag, sizeof(p->tag), "1");
    return j;
}

void rec_jn_free(rec_jn_t *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        free(j->p[i].obs);
    free(j->p);
    free(j);
}

int rec_jn_state(rec_jn_t *j, pid_t tgid)
{
    const jproc_t *p = proc_find(j, tgid);
    return p ? p->on || tgid == j->root : -1;
}

void rec_jn_fork(rec_jn_t *j, pid_t parent, pid_t child)
{
    jproc_t *pp = proc_find(j, parent);
    int on = pp && pp->on;
    char tag[sizeof(pp->tag)];
    unsigned char *obs = NULL;
    if (on) {
        /* (a tag too long for it is cut: no deeper tree is that deep) */
        if (shunt_fmt(tag, sizeof(tag), "%s.%u", pp->tag, ++pp->kids) < 0)
            tag[sizeof(tag) - 1] = 0;
        if (pp->obs && (obs = malloc(OBS_FDS / 8)))
            memcpy(obs, pp->obs, OBS_FDS / 8);
    }
    jproc_t *c = proc_add(j, child); /* pp may move */
    if (!c) {
        free(obs);
        return;
    }
    c->on = on;
    c->obs = obs;
    if (on)
        memcpy(c->tag, tag, sizeof(c->tag));
}

void rec_jn_exec(rec_jn_t *j, pid_t tgid)
{
    jproc_t *p = proc_find(j, tgid);
    if (!p)
        return;
    free(p->obs); /* a new image: the layer's bitmap starts empty too */
    p->obs = NULL;
    if (tgid == j->root && !p->on && ++j->execs >= j->after)
        p->on = 1;
}

void rec_jn_gone(rec_jn_t *j, pid_t tgid)
{
    jproc_t *p = proc_find(j, tgid);
    if (!p || tgid == j->root)
        return; /* the root's tag is never given again */
    free(p->obs);
    *p = j->p[--j->n];
}

static int observed(const jproc_t *p, long fd)
{
    return fd >= 0 && fd < OBS_FDS && p->obs && (p->obs[fd / 8] >> (fd % 8) & 1);
}

static void observe(jproc_t *p, long fd, int on)
{
    if (fd < 0 || fd >= OBS_FDS)
        return;
    if (!p->obs && (!on || !(p->obs = calloc(1, OBS_FDS / 8))))
        return;
    if (on)
        p->obs[fd / 8] |= (unsigned char)(1u << (fd % 8));
    else
        p->obs[fd / 8] &= (unsigned char)~(1u << (fd % 8));
}

/* ---- formatting -------------------------------------------------------------- */
static void sep(shunt_buf_t *b, int *n)
{
    if ((*n)++)
        shunt_buf_put(b, ", ", 2);
}

/* A string of the tracee, quoted. */
static void put_str(shunt_buf_t *b, pid_t tid, uint64_t addr)
{
    char s[JSTR + 2];
    long n = addr ? rec_mem_str(tid, addr, s, sizeof(s)) : -1;
    if (n < 0)
        shunt_buf_put(b, addr ? "?" : "NULL", addr ? 1 : 4);
    else
        rec_buf_quote(b, s, (size_t)n, JSTR); /* the layer's escapes */
}

static void put_flags(shunt_buf_t *b, unsigned long v, const shunt_name_t *t,
                      size_t n, const char *zero)
{
    char s[SHUNT_NAMES_FLAGS_MAX];
    shunt_buf_put(b, s, shunt_names_flags(s, sizeof(s), v, t, n, zero));
}

static void put_named(shunt_buf_t *b, long v, const shunt_name_t *t, size_t n)
{
    const char *name = shunt_name_of(v, t, n);
    if (name)
        shunt_buf_put(b, name, strlen(name));
    else
        shunt_buf_printf(b, "%ld", v);
}

static void put_sockaddr(shunt_buf_t *b, pid_t tid, uint64_t addr, uint64_t len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    size_t l = len > sizeof(ss) ? sizeof(ss) : (size_t)len;
    if (!addr || l < sizeof(sa_family_t) || rec_mem_read(tid, addr, &ss, l) < l) {
        shunt_buf_put(b, "NULL", 4);
        return;
    }
    char ip[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET && l >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        shunt_buf_printf(b, "%s:%u", ip, ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6 && l >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        shunt_buf_printf(b, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)&ss;
        size_t pl = l - offsetof(struct sockaddr_un, sun_path);
        shunt_buf_put(b, "unix:", 5);
        if (pl && un->sun_path[0] == 0) {
            shunt_buf_put(b, "@", 1);
            shunt_buf_put(b, un->sun_path + 1, strnlen(un->sun_path + 1, pl - 1));
        } else {
            shunt_buf_put(b, un->sun_path, strnlen(un->sun_path, pl));
        }
    } else {
        shunt_buf_printf(b, "family=%u", (unsigned)ss.ss_family);
    }
}

static void put_argv(shunt_buf_t *b, pid_t tid, uint64_t addr)
{
    uint64_t v[ARGV_SHOWN + 1];
    size_t got = addr ? rec_mem_read(tid, addr, v, sizeof(v)) / sizeof(v[0]) : 0;
    if (!got) {
        shunt_buf_put(b, "NULL", 4);
        return;
    }
    int n = 0;
    size_t i;
    shunt_buf_put(b, "[", 1);
    for (i = 0; i < got && i < ARGV_SHOWN && v[i]; i++) {
        sep(b, &n);
        put_str(b, tid, v[i]);
    }
    if (i < got && v[i])
        shunt_buf_put(b, ", ...", 5);
    shunt_buf_put(b, "]", 1);
}

static long iov_total(pid_t tid, uint64_t addr, uint64_t cnt)
{
    struct iovec v[64];
    long total = 0;
    for (uint64_t k = 0; addr && k < cnt && k < 1024;) {
        size_t want = cnt - k < 64 ? (size_t)(cnt - k) : 64;
        size_t got = rec_mem_read(tid, addr + k * sizeof(v[0]), v, want * sizeof(v[0])) /
                     sizeof(v[0]);
        if (!got)
            break;
        for (size_t i = 0; i < got; i++)
            total += (long)v[i].iov_len;
        k += got;
    }
    return total;
}

/* Whether a path argument is "" (a stat of its dirfd with AT_EMPTY_PATH). */
static int empty_path(pid_t tid, uint64_t addr)
{
    char c = 1;
    return !addr || (rec_mem_read(tid, addr, &c, 1) == 1 && c == 0);
}

static int letter(const jsc_t *c, const char *which)
{
    for (int i = 0; c->args[i]; i++)
        if (strchr(which, c->args[i]))
            return i;
    return -1;
}

/* Whether the call makes a record (F: an observed fd; a stat of an fd: an
 * observed one). */
static int wanted(const jsc_t *c, const jproc_t *p, pid_t tid, const uint64_t *a)
{
    for (int i = 0; c->args[i]; i++) {
        char l = c->args[i];
        if (l == 'F' && !observed(p, (int)a[i]))
            return 0;
        if ((l == 'E' || l == 'e') && ((int)a[i] & AT_EMPTY_PATH)) {
            int d = letter(c, "D"), s = letter(c, "sp");
            if (d >= 0 && s >= 0 && empty_path(tid, a[s]) && !observed(p, (int)a[d]))
                return 0;
        }
    }
    return 1;
}

static void put_args(shunt_buf_t *b, const jsc_t *c, pid_t tid, const uint64_t *a)
{
    int n = 0;
    unsigned long oflags = 0;
    for (int i = 0; c->args[i]; i++) {
        uint64_t x = a[i];
        switch (c->args[i]) {
        case 'p':
            if (!x)
                break;
            /* fall through */
        case 's':
            sep(b, &n);
            put_str(b, tid, x);
            break;
        case 'D':
            sep(b, &n);
            if ((int)x == AT_FDCWD)
                shunt_buf_put(b, "AT_FDCWD", 8);
            else
                shunt_buf_printf(b, "%d", (int)x);
            break;
        case 'f':
            if ((int)x < 0)
                break;
            /* fall through */
        case 'F':
        case 'i':
        case 'o':
            sep(b, &n);
            shunt_buf_printf(b, "%d", (int)x);
            break;
        case 'n':
        case 'l':
        case 't':
            sep(b, &n);
            shunt_buf_printf(b, "%lld", (long long)x);
            break;
        case 'm':
            sep(b, &n);
            shunt_buf_printf(b, "0%03llo", (unsigned long long)x);
            break;
        case 'O': {
            char s[SHUNT_NAMES_FLAGS_MAX];
            oflags = (unsigned long)(unsigned)x;
            sep(b, &n);
            shunt_buf_put(b, s, shunt_names_open_flags(s, sizeof(s), oflags));
            break;
        }
        case 'M':
            if ((oflags & O_CREAT) || (oflags & O_TMPFILE) == O_TMPFILE) {
                sep(b, &n);
                shunt_buf_printf(b, "0%03llo", (unsigned long long)x);
            }
            break;
        case 'E':
        case 'T':
            sep(b, &n);
            put_flags(b, (unsigned)x, shunt_at_flag_names,
                      SHUNT_NAMES_COUNT(shunt_at_flag_names), "0");
            break;
        case 'e':
            sep(b, &n);
            put_flags(b, (unsigned)x & ~(unsigned)AT_STATX_SYNC_TYPE,
                      shunt_at_flag_names, SHUNT_NAMES_COUNT(shunt_at_flag_names),
                      "0");
            break;
        case 'A':
            sep(b, &n);
            put_flags(b, (unsigned)x, shunt_access_mode_names,
                      SHUNT_NAMES_COUNT(shunt_access_mode_names), "F_OK");
            break;
        case 'd':
            sep(b, &n);
            put_named(b, (int)x, shunt_family_names, SHUNT_NAMES_COUNT(shunt_family_names));
            break;
        case 'k':
            sep(b, &n);
            put_named(b, (int)x & 0xf, shunt_sock_type_names,
                      SHUNT_NAMES_COUNT(shunt_sock_type_names));
            if ((unsigned)x & ~0xfu) {
                shunt_buf_put(b, "|", 1);
                put_flags(b, (unsigned)x & ~0xfu, shunt_sock_flag_names,
                          SHUNT_NAMES_COUNT(shunt_sock_flag_names), "");
            }
            break;
        case 'a':
            sep(b, &n);
            put_sockaddr(b, tid, x, a[i + 1]);
            break;
        case 'V':
            sep(b, &n);
            shunt_buf_printf(b, "%ld", iov_total(tid, x, a[i + 1]));
            break;
        case 'v':
            sep(b, &n);
            put_argv(b, tid, x);
            break;
        default: /* _ S X b: not shown */
            break;
        }
    }
}

static void put_result(shunt_buf_t *b, long r)
{
    if (r >= 0) {
        shunt_buf_printf(b, ") = %ld", r);
        return;
    }
    const char *en = strerrorname_np((int)-r);
    if (en)
        shunt_buf_printf(b, ") = -1 %s", en);
    else
        shunt_buf_printf(b, ") = -1 %ld", -r);
}

/* One whole line, one write (O_APPEND: records of a tree stay whole). */
static void emit(rec_jn_t *j, shunt_buf_t *b)
{
    shunt_buf_put(b, "\n", 1);
    if (b->p && !b->oom) {
        ssize_t w = write(j->fd, b->p, b->len);
        (void)w;
    }
}

/* ---- the calls ---------------------------------------------------------------- */
void rec_jn_entry(rec_jn_t *j, pid_t tid, pid_t tgid, long nr,
                  const uint64_t a[6], rec_jpend_t *pd)
{
    rec_jn_pend_free(pd);
    const jproc_t *p = proc_find(j, tgid);
    if (!p || !p->on)
        return;
    size_t k;
    for (k = 0; k < N_JTAB && jtab[k].nr != nr; k++)
        ;
    if (k == N_JTAB || !wanted(&jtab[k], p, tid, a))
        return;
    const jsc_t *c = &jtab[k];
    pd->idx = (int)k;
    memcpy(pd->a, a, sizeof(pd->a));
    shunt_buf_printf(&pd->text, "%s %s(", p->tag, c->rec);
    put_args(&pd->text, c, tid, a);
    if (c->res == J_EXEC) {
        /* a working exec does not return: written now */
        shunt_buf_t b = {0};
        shunt_buf_put(&b, pd->text.p, pd->text.len);
        shunt_buf_put(&b, ") = ?", 5);
        emit(j, &b);
        shunt_buf_free(&b);
    }
}

void rec_jn_exit(rec_jn_t *j, pid_t tid, pid_t tgid, long r, rec_jpend_t *pd)
{
    if (pd->idx < 0)
        return;
    const jsc_t *c = &jtab[pd->idx];
    jproc_t *p = proc_find(j, tgid);
    shunt_buf_t *b = &pd->text;
    if ((c->res == J_EXEC && r >= 0) || (r <= -ERESTARTSYS && r >= -ERESTART_RESTARTBLOCK)) {
        /* an exec: written at entry; ERESTART*: a signal came, the kernel
         * runs the call again (a new entry) and the program never sees it */
        rec_jn_pend_free(pd);
        return;
    }
    put_result(b, r);
    if (c->res == J_STAT && r == 0) {
        int s = letter(c, "SX");
        struct stat st;
        struct statx sx;
        int ok;
        if (c->args[s] == 'S') {
            ok = rec_mem_read(tid, pd->a[s], &st, sizeof(st)) == sizeof(st);
        } else {
            ok = rec_mem_read(tid, pd->a[s], &sx, sizeof(sx)) == sizeof(sx);
            st.st_mode = sx.stx_mode;
            st.st_size = (off_t)sx.stx_size;
        }
        if (ok) {
            shunt_buf_printf(b, " {mode=0%o", (unsigned)st.st_mode);
            if (S_ISREG(st.st_mode))
                shunt_buf_printf(b, ", size=%lld", (long long)st.st_size);
            shunt_buf_put(b, "}", 1);
        }
    } else if (c->res == J_LINK && r >= 0) {
        char s[JSTR];
        size_t n = rec_mem_read(tid, pd->a[letter(c, "b")], s,
                                (size_t)r < JSTR ? (size_t)r : JSTR);
        shunt_buf_put(b, " ", 1);
        rec_buf_quote(b, s, n, JSTR);
    }
    if (p && c->res == J_FD && r >= 0)
        observe(p, r, 1);
    if (p && c->res == J_CLOSE && r == 0)
        observe(p, (long)(int)pd->a[0], 0);
    emit(j, b);
    rec_jn_pend_free(pd);
}

void rec_jn_pend_free(rec_jpend_t *pd)
{
    shunt_buf_free(&pd->text);
    memset(&pd->text, 0, sizeof(pd->text));
    pd->idx = -1;
}
