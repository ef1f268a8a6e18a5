/* The call journal: one text line per hooked call as the program made it,
 * written with one raw write(2) on an O_APPEND fd (docs/hooking.md).
 *
 * Each journalled call is one line of journal.def: its arguments as a
 * string of letters.  From it come the detours (a wrapper around
 * hook_<name> per line, generated below), the table install.c and go.c ask
 * for them, and the records: one formatter reads the letters.  A record is
 * taken only at the outermost level (a per-thread depth: libc calling a
 * hooked function from inside a hooked one, or the layer's own work under
 * shunt_guard, makes no record), formatted on the stack and written.
 * Nothing here allocates or uses stdio: records may be taken in a
 * vfork-style child, in a signal handler, or in many threads at once. */
#include "journal.h"

#include "hooks.h"
#include "layer.h"

#include "shunt/names.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
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

/* A value by its name in t (shunt/names.h), else in decimal. */
static void put_named(jl_t *l, long v, const shunt_name_t *t, size_t n)
{
    const char *name = shunt_name_of(v, t, n);
    if (name)
        puts_(l, name);
    else
        put_i(l, v);
}
#define NAMED(l, v, t) put_named(l, v, t, SHUNT_NAMES_COUNT(t))

/* Known bits by name, the rest in hex; zero is zero_name. */
static void put_flags(jl_t *l, unsigned long v, const shunt_name_t *t, size_t n,
                      const char *zero_name)
{
    char b[SHUNT_NAMES_FLAGS_MAX];
    put(l, b, shunt_names_flags(b, sizeof(b), v, t, n, zero_name));
}
#define FLAGS(l, v, t, z) put_flags(l, v, t, SHUNT_NAMES_COUNT(t), z)

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

static void a_oflags(jl_t *l, int flags)
{
    char b[SHUNT_NAMES_FLAGS_MAX];
    arg(l);
    put(l, b, shunt_names_open_flags(b, sizeof(b), (unsigned long)flags));
}

static void a_atflags(jl_t *l, int flags)
{
    arg(l);
    FLAGS(l, (unsigned)flags, shunt_at_flag_names, "0");
}

static void a_amode(jl_t *l, int mode)
{
    arg(l);
    FLAGS(l, (unsigned)mode, shunt_access_mode_names, "F_OK");
}

static void a_domain(jl_t *l, int d)
{
    arg(l);
    NAMED(l, d, shunt_family_names);
}

static void a_socktype(jl_t *l, int type)
{
    arg(l);
    NAMED(l, type & 0xf, shunt_sock_type_names);
    if (type & ~0xf) {
        putc_(l, '|');
        FLAGS(l, (unsigned)type & ~0xfu, shunt_sock_flag_names, "");
    }
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

static long iov_len(const struct iovec *iov, int cnt)
{
    long n = 0;
    for (int i = 0; iov && i < cnt; i++)
        n += (long)iov[i].iov_len;
    return n;
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

/* After the result: " "STRING, n bytes of s at most JSTR. */
static void put_result_str(jl_t *l, const char *s, size_t n)
{
    char t[JSTR + 1];
    if (n > JSTR)
        n = JSTR;
    memcpy(t, s, n);
    t[n] = 0;
    putc_(l, ' ');
    l->args = 0;
    a_str(l, t);
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

static void put_hostent(jl_t *l, const struct hostent *h)
{
    if (!h) {
        puts_(l, "NULL");
        return;
    }
    puts_(l, "[");
    for (int i = 0; h->h_addr_list && h->h_addr_list[i] && i < 16; i++) {
        char ip[INET6_ADDRSTRLEN] = "?";
        inet_ntop(h->h_addrtype, h->h_addr_list[i], ip, sizeof(ip));
        if (i)
            puts_(l, ", ");
        puts_(l, ip);
    }
    putc_(l, ']');
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

/* ---- the table --------------------------------------------------------------
 * Each letter of journal.def is a kind, a C type or value, and the letter
 * the formatter reads: PARAM, a parameter of that type; MODE, open's
 * variadic mode; CONST, no parameter but a value the record shows (creat's
 * flags, the __open_2 forms' mode).  _(type) is a parameter not shown. */
#define JK_s PARAM, const char *, "s"
#define JK_p PARAM, const char *, "p"
#define JK_D PARAM, int, "D"
#define JK_F PARAM, int, "F"
#define JK_f PARAM, int, "f"
#define JK_i PARAM, int, "i"
#define JK_u PARAM, unsigned int, "u"
#define JK_o PARAM, uid_t, "o"
#define JK_l PARAM, off_t, "l"
#define JK_t PARAM, dev_t, "t"
#define JK_n PARAM, size_t, "n"
#define JK_m PARAM, mode_t, "m"
#define JK_O PARAM, int, "O"
#define JK_M MODE, mode_t, "M"
#define JK_K CONST, (O_WRONLY | O_CREAT | O_TRUNC), "K"
#define JK_N CONST, 0, "N"
#define JK_T PARAM, int, "T"
#define JK_E PARAM, int, "E"
#define JK_e PARAM, int, "e"
#define JK_A PARAM, int, "A"
#define JK_d PARAM, int, "d"
#define JK_g PARAM, int, "g"
#define JK_k PARAM, int, "k"
#define JK_a PARAM, const struct sockaddr *, "a"
#define JK_V PARAM, const struct iovec *, "V"
#define JK_v PARAM, char *const *, "v"
#define JK_S PARAM, struct stat *, "S"
#define JK_X PARAM, struct statx *, "X"
#define JK_b PARAM, char *, "b"
#define JK_P PARAM, struct addrinfo **, "P"
#define JK__(type) PARAM, type, "_"

/* JL_EACH(m, letters...): m(letter, i, p) for each, i its index and p the
 * one before it (parameter a<i>). */
#define JL_CAT(a, b) JL_CAT_(a, b)
#define JL_CAT_(a, b) a##b
#define JL_N(...) JL_N_(__VA_ARGS__, 7, 6, 5, 4, 3, 2, 1, )
#define JL_N_(_1, _2, _3, _4, _5, _6, _7, n, ...) n
#define JL_EACH(m, ...) JL_CAT(JL_EACH, JL_N(__VA_ARGS__))(m, __VA_ARGS__)
#define JL_EACH1(m, a) m(a, 0, _)
#define JL_EACH2(m, a, b) JL_EACH1(m, a) m(b, 1, 0)
#define JL_EACH3(m, a, b, c) JL_EACH2(m, a, b) m(c, 2, 1)
#define JL_EACH4(m, a, b, c, d) JL_EACH3(m, a, b, c) m(d, 3, 2)
#define JL_EACH5(m, a, b, c, d, e) JL_EACH4(m, a, b, c, d) m(e, 4, 3)
#define JL_EACH6(m, a, b, c, d, e, f) JL_EACH5(m, a, b, c, d, e) m(f, 5, 4)
#define JL_EACH7(m, a, b, c, d, e, f, g) JL_EACH6(m, a, b, c, d, e, f) m(g, 6, 5)
/* Each piece below starts with a comma; JL_STRIP drops the first. */
#define JL_STRIP(...) JL_STRIP_(__VA_ARGS__)
#define JL_STRIP_(first, ...) __VA_ARGS__
/* op_KIND(i, p, type or value, letter) for the letter's kind. */
#define JL_DO(op, l, i, p) JL_DO_(op, i, p, JK_##l)
#define JL_DO_(op, i, p, ...) JL_DO__(op, i, p, __VA_ARGS__)
#define JL_DO__(op, i, p, kind, x, ch) op##_##kind(i, p, x, ch)

/* the wrapper's parameters */
#define JL_DECL(l, i, p) JL_DO(JDECL, l, i, p)
#define JDECL_PARAM(i, p, t, ch) , t a##i
#define JDECL_MODE(i, p, t, ch) , ...
#define JDECL_CONST(i, p, x, ch)
/* hook_<name>'s arguments */
#define JL_ARG(l, i, p) JL_DO(JARG, l, i, p)
#define JARG_PARAM(i, p, t, ch) , a##i
#define JARG_MODE(i, p, t, ch) , a##i
#define JARG_CONST(i, p, x, ch)
/* zeros of the parameters' types: the return type is hook_<name>'s */
#define JL_ZERO(l, i, p) JL_DO(JZERO, l, i, p)
#define JZERO_PARAM(i, p, t, ch) , (t)0
#define JZERO_MODE(i, p, t, ch)
#define JZERO_CONST(i, p, x, ch)
/* the values the record reads, one per letter */
#define JL_VAL(l, i, p) JL_DO(JVAL, l, i, p)
#define JVAL_PARAM(i, p, t, ch) , (long)(intptr_t)a##i
#define JVAL_MODE(i, p, t, ch) , (long)a##i
#define JVAL_CONST(i, p, x, ch) , (long)(x)
/* the letters, as a string */
#define JL_LETTER(l, i, p) JL_DO(JLET, l, i, p)
#define JLET_PARAM(i, p, t, ch) ch
#define JLET_MODE(i, p, t, ch) ch
#define JLET_CONST(i, p, x, ch) ch
/* open's mode: read only when the flags before it ask for one */
#define HAS_MODE(flags) \
    (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)
#define JL_PRE(l, i, p) JL_DO(JPRE, l, i, p)
#define JPRE_PARAM(i, p, t, ch)
#define JPRE_CONST(i, p, x, ch)
#define JPRE_MODE(i, p, t, ch)                                                \
    t a##i = 0;                                                               \
    if (HAS_MODE(a##p)) {                                                     \
        va_list ap;                                                           \
        va_start(ap, a##p);                                                   \
        a##i = va_arg(ap, t);                                                 \
        va_end(ap);                                                           \
    }

#define J_PARAMS(...) JL_STRIP(JL_EACH(JL_DECL, __VA_ARGS__))
#define J_ARGS(...) JL_STRIP(JL_EACH(JL_ARG, __VA_ARGS__))
#define J_RET_T(name, ...) __typeof__(hook_##name(JL_STRIP(JL_EACH(JL_ZERO, __VA_ARGS__))))

enum { J_INT, J_FD, J_CLOSE, J_STAT, J_LINK, J_NAME, J_ERRNO, J_EXEC, J_GAI, J_HOST };

typedef struct {
    const char *name;   /* the hooks.def entry */
    const char *rec;    /* the record's name */
    const char *args;   /* the letters */
    int res;
    void *detour;
} jcall_t;

/* Each detour has its hook's type: a wrapper whose letters give another
 * type does not compile (conflicting types). */
#define J(name, ...) static __typeof__(hook_##name) j_##name;
#define JH(name) static __typeof__(hook_##name) j_##name;
#include "journal.def"
#undef J
#undef JH

static const jcall_t jcalls[SHUNT_J_COUNT] = {
#define J(name, rec, res, ...) \
    [SHUNT_J_##name] = {#name, rec, JL_EACH(JL_LETTER, __VA_ARGS__), res, (void *)j_##name},
#define JH(name) [SHUNT_J_##name] = {#name, NULL, "", J_INT, (void *)j_##name},
#include "journal.def"
#undef J
#undef JH
};

/* ---- the record ---------------------------------------------------------------- */
static int letter(const jcall_t *c, const char *which)
{
    for (int i = 0; c->args[i]; i++)
        if (strchr(which, c->args[i]))
            return i;
    return -1;
}

#define PTR(v) ((const void *)(intptr_t)(v))

/* Whether the call makes a record: an F fd must be observed; a stat of an
 * fd (E or e flags with AT_EMPTY_PATH and "") must be of an observed fd. */
static int wanted(const jcall_t *c, const long *v)
{
    for (int i = 0; c->args[i]; i++) {
        if (c->args[i] == 'F' && !observed((int)v[i]))
            return 0;
        if (c->args[i] == 'E' || c->args[i] == 'e') {
            int d = letter(c, "D"), p = letter(c, "sp");
            const char *path = PTR(v[p]);
            if (((int)v[i] & AT_EMPTY_PATH) && path && !*path && !observed((int)v[d]))
                return 0;
        }
    }
    return 1;
}

/* The arguments of call c, from the values v of its letters. */
static void put_args(jl_t *l, const jcall_t *c, const long *v)
{
    int oflags = 0;
    for (int i = 0; c->args[i]; i++) {
        long x = v[i];
        switch (c->args[i]) {
        case 'p':
            if (!x)
                break;
            /* fall through */
        case 's':
            a_str(l, PTR(x));
            break;
        case 'D':
            a_dirfd(l, (int)x);
            break;
        case 'f':
            if ((int)x < 0)
                break;
            /* fall through */
        case 'F':
        case 'i':
        case 'u':
        case 'l':
        case 't':
        case 'n':
            a_int(l, x);
            break;
        case 'o':
            a_int(l, (int)x);
            break;
        case 'm':
            a_oct(l, (unsigned long)x);
            break;
        case 'O':
        case 'K':
            oflags = (int)x;
            a_oflags(l, oflags);
            break;
        case 'M':
        case 'N':
            if (HAS_MODE(oflags))
                a_oct(l, (unsigned long)x);
            break;
        case 'E':
            if ((int)x < 0)
                break;
            /* fall through */
        case 'T':
            a_atflags(l, (int)x);
            break;
        case 'e':
            a_atflags(l, (int)x & ~AT_STATX_SYNC_TYPE);
            break;
        case 'A':
            a_amode(l, (int)x);
            break;
        case 'g':
            if ((int)x < 0)
                break;
            /* fall through */
        case 'd':
            a_domain(l, (int)x);
            break;
        case 'k':
            a_socktype(l, (int)x);
            break;
        case 'a':
            a_sockaddr(l, PTR(x), (socklen_t)v[i + 1]);
            break;
        case 'V':
            a_int(l, iov_len(PTR(x), (int)v[i + 1]));
            break;
        case 'v':
            a_argv(l, PTR(x));
            break;
        case '_':
        case 'S':
        case 'X':
        case 'b':
        case 'P': /* not shown */
            break;
        default: /* a letter journal.c does not know yet */
            arg(l);
            putc_(l, '?');
            break;
        }
    }
}

/* The record of call c with the values v of its letters; before: an exec's
 * first record, "= ?". */
static void record(const jcall_t *c, const long *v, long r, int err, int before)
{
    jl_t l;
    begin(&l, c->rec);
    put_args(&l, c, v);
    int b = letter(c, "b");
    switch (c->res) {
    case J_EXEC:
        if (before) {
            puts_(&l, ") = ?");
            end_raw(&l);
            return;
        }
        end(&l, r, err);
        break;
    case J_ERRNO:
        end(&l, r ? -1 : 0, (int)r);
        break;
    case J_STAT: {
        end_nowrite(&l, r, err);
        int s = letter(c, "SX");
        if (r == 0 && c->args[s] == 'S') {
            put_stat(&l, PTR(v[s]));
        } else if (r == 0) {
            const struct statx *sx = PTR(v[s]);
            struct stat st = {.st_mode = sx->stx_mode, .st_size = (off_t)sx->stx_size};
            put_stat(&l, &st);
        }
        end_raw(&l);
        break;
    }
    case J_LINK:
        end_nowrite(&l, r, err);
        if (r >= 0)
            put_result_str(&l, PTR(v[b]), (size_t)r);
        end_raw(&l);
        break;
    case J_NAME: {
        end_nowrite(&l, r, err);
        size_t len = (size_t)v[b + 1];
        if (r == 0 && len)
            put_result_str(&l, PTR(v[b]), strnlen(PTR(v[b]), len < JSTR ? len : JSTR));
        end_raw(&l);
        break;
    }
    case J_GAI: {
        puts_(&l, ") = ");
        if (r == 0) {
            putc_(&l, '0');
            put_addrs(&l, *(struct addrinfo *const *)PTR(v[letter(c, "P")]));
        } else {
            NAMED(&l, r, shunt_eai_names);
        }
        end_raw(&l);
        break;
    }
    case J_HOST:
        puts_(&l, ") = ");
        put_hostent(&l, PTR(r));
        end_raw(&l);
        break;
    default:
        end(&l, r, err);
        if (c->res == J_FD && r >= 0)
            obs_set((int)r, 1);
        break;
    }
}

/* The journal's own fd is not the program's to close (EBADF, as if it were
 * not open). */
static int own_fd(int fd)
{
    return fd == jn_fd && fd >= 0;
}

/* After the call (depth back down): a closed fd is no longer observed,
 * and the outermost call makes its record. */
static void done(const jcall_t *c, const long *v, long r, int err, int top)
{
    if (c->res == J_CLOSE && (top || r == 0))
        obs_set((int)v[0], 0);
    if (top)
        record(c, v, r, err, 0);
}

/* An exec: the record before the call (it does not return when it works),
 * and the tag the new image takes in its side file.  No depth is kept
 * across it: in a vfork-style child the TLS is the parent's, and a
 * successful exec never comes back to undo it. */
static int exec_before(const jcall_t *c, const long *v)
{
    int top = jn_depth == 0 && shunt_guard == 0;
    if (top)
        record(c, v, 0, 0, 1);
    exec_tag();
    return top;
}

static void exec_after(const jcall_t *c, const long *v, long r, int err, int top)
{
    exec_failed();
    if (top)
        record(c, v, r, err, 0);
}

/* ---- the wrappers --------------------------------------------------------------- */
#define J(name, rec, res, ...)                                                \
    static J_RET_T(name, __VA_ARGS__) j_##name(J_PARAMS(__VA_ARGS__))         \
    {                                                                         \
        typedef J_RET_T(name, __VA_ARGS__) ret_t;                             \
        JL_EACH(JL_PRE, __VA_ARGS__)                                          \
        const long v[] = {JL_STRIP(JL_EACH(JL_VAL, __VA_ARGS__))};            \
        const jcall_t *c = &jcalls[SHUNT_J_##name];                           \
        if ((res) == J_CLOSE && own_fd((int)v[0])) {                          \
            errno = EBADF;                                                    \
            return (ret_t)(intptr_t)-1;                                       \
        }                                                                     \
        if (!wanted(c, v))                                                    \
            return hook_##name(J_ARGS(__VA_ARGS__));                          \
        if ((res) == J_EXEC) {                                                \
            int top = exec_before(c, v);                                      \
            ret_t r = hook_##name(J_ARGS(__VA_ARGS__));                       \
            int err = errno;                                                  \
            exec_after(c, v, (long)(intptr_t)r, err, top);                    \
            errno = err;                                                      \
            return r;                                                         \
        }                                                                     \
        int top = jn_depth++ == 0 && shunt_guard == 0;                        \
        ret_t r = hook_##name(J_ARGS(__VA_ARGS__));                           \
        int err = errno;                                                      \
        jn_depth--;                                                           \
        done(c, v, (long)(intptr_t)r, err, top);                              \
        errno = err;                                                          \
        return r;                                                             \
    }
#define JH(name)
#include "journal.def"
#undef J
#undef JH

/* close_range: no record; the fds are no longer observed, and the
 * journal's fd stays open (closed around). */
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

/* ---- the start ------------------------------------------------------------------ */
void *shunt_journal_detour(const char *name)
{
    if (jn_fd < 0)
        return NULL;
    for (int i = 0; i < SHUNT_J_COUNT; i++)
        if (strcmp(jcalls[i].name, name) == 0)
            return jcalls[i].detour;
    return NULL;
}

void *shunt_journal_detour_at(int i)
{
    return jn_fd >= 0 && i >= 0 && i < SHUNT_J_COUNT ? jcalls[i].detour : NULL;
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
