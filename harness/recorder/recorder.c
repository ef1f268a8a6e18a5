/* The tracing loop: fork, PTRACE_SEIZE, a seccomp filter that stops only on
 * the table's syscalls (SECCOMP_RET_TRACE), every fork/vfork/clone/exec
 * followed, signals and group-stops passed through, a watchdog that kills
 * the tree at the timeout. */
#include "recorder_int.h"
#include "shunt/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PTRACE_OPTS                                                           \
    (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |       \
     PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP |       \
     PTRACE_O_EXITKILL)

typedef struct {
    pid_t tid, tgid;
    long ev;           /* event waiting for its result, or -1 */
    int in_call;       /* a syscall-exit stop is due */
    rec_image_t *img;  /* NULL before the first exec */
    rec_jpend_t jp;    /* the call journal's record due at its exit */
    int seen;          /* its first stop was handled */
    int held, held_st; /* first stop kept until its parent's fork event
                          gives it a journal tag, and that stop's status */
} task_t;

typedef struct {
    const recorder_opts_t *o;
    recorder_result_t *res;
    task_t *t;
    size_t n, cap;
    pthread_mutex_t mu; /* t and n, against the watchdog */
    pthread_cond_t cv;
    int finished, timed_out;
    rec_jn_t *jn;       /* the call journal, or NULL */
} rec_t;

/* ---- tasks ---------------------------------------------------------------------- */
static task_t *task_find(rec_t *r, pid_t tid)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->t[i].tid == tid)
            return &r->t[i];
    return NULL;
}

/* The process id of a thread and its parent's, from /proc/TID/status. */
static pid_t tgid_of(pid_t tid, pid_t *ppid)
{
    char p[64], st[1024];
    *ppid = 0;
    snprintf(p, sizeof(p), "/proc/%d/status", (int)tid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tid;
    ssize_t n = read(fd, st, sizeof(st) - 1);
    close(fd);
    if (n <= 0)
        return tid;
    st[n] = 0;
    char *pp = strstr(st, "\nPPid:");
    if (pp)
        *ppid = (pid_t)atoi(pp + 7);
    char *t = strstr(st, "\nTgid:");
    return t ? (pid_t)atoi(t + 6) : tid;
}

/* Adds tid (a new process or thread), sharing parent's image. */
static task_t *task_add(rec_t *r, pid_t tid, const task_t *parent)
{
    /* parent points into r->t, which may move below. */
    rec_image_t *img = parent ? parent->img : NULL;
    pthread_mutex_lock(&r->mu);
    task_t *t = NULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        task_t *v = realloc(r->t, cap * sizeof(*v));
        if (!v)
            goto out;
        r->t = v;
        r->cap = cap;
    }
    pid_t ppid;
    pid_t tgid = tgid_of(tid, &ppid);
    if (!parent) {
        /* Its first stop came before its parent's fork event: the image
         * is its process's (a thread) or its parent's (a fork). */
        for (size_t i = 0; i < r->n && !img; i++)
            if (r->t[i].tgid == tgid)
                img = r->t[i].img;
        for (size_t i = 0; i < r->n && !img; i++)
            if (r->t[i].tgid == ppid)
                img = r->t[i].img;
    }
    t = &r->t[r->n++];
    t->tid = tid;
    t->tgid = tgid;
    t->ev = -1;
    t->in_call = 0;
    t->img = img;
    memset(&t->jp, 0, sizeof(t->jp));
    t->jp.idx = -1;
    t->seen = t->held = t->held_st = 0;
    if (t->img)
        t->img->refs++;
    if (r->timed_out)
        kill(tid, SIGKILL);
out:
    pthread_mutex_unlock(&r->mu);
    return t;
}

static void task_del(rec_t *r, task_t *t)
{
    pthread_mutex_lock(&r->mu);
    rec_image_unref(t->img);
    rec_jn_pend_free(&t->jp);
    *t = r->t[--r->n];
    pthread_mutex_unlock(&r->mu);
}

/* ---- the journal ------------------------------------------------------------------ */
static long ev_push(rec_t *r, int kind, const task_t *t, const char *name,
                    char *args, char *leak)
{
    recorder_result_t *res = r->res;
    if (res->n_ev == res->cap_ev) {
        size_t cap = res->cap_ev ? res->cap_ev * 2 : 256;
        recorder_event_t *v = realloc(res->ev, cap * sizeof(*v));
        if (!v) {
            free(args);
            free(leak);
            return -1;
        }
        res->ev = v;
        res->cap_ev = cap;
    }
    recorder_event_t *e = &res->ev[res->n_ev];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->pid = t->tid;
    e->tgid = t->tgid;
    e->name = name;
    e->args = args;
    e->leak = leak;
    if (leak)
        res->n_leaks++;
    return (long)res->n_ev++;
}

static void on_entry(rec_t *r, task_t *t, long nr, const uint64_t args[6])
{
    int idx = rec_sc_index(nr);
    t->ev = -1;
    if (idx < 0)
        return;
    shunt_buf_t b = {0};
    rec_subjects_t sj = {0};
    rec_decode(t->tid, t->tgid, idx, args, &b, &sj);
    char *leak = rec_classify(r->o->rules, t->img, t->tid, idx, &sj);
    rec_subjects_free(&sj);
    if (r->o->leaks_only && !leak) {
        free(b.p);
        return;
    }
    t->ev = ev_push(r, RECORDER_EV_SYSCALL, t, rec_sc_table[idx].name,
                    b.p ? b.p : strdup(""), leak);
}

static void on_exit_stop(rec_t *r, task_t *t, long rval)
{
    if (t->ev >= 0) {
        r->res->ev[t->ev].ret = rval;
        r->res->ev[t->ev].done = 1;
    }
    t->ev = -1;
}

/* The process left: "exited with N". */
static void note_exit(rec_t *r, task_t *t, int code)
{
    if (r->o->leaks_only)
        return;
    char buf[64];
    snprintf(buf, sizeof(buf), "exited with %d", code);
    ev_push(r, RECORDER_EV_EXIT, t, NULL, strdup(buf), NULL);
}

static void note_sig(rec_t *r, task_t *t, int kind, const char *what,
                     int sig)
{
    if (r->o->leaks_only)
        return;
    char buf[96];
    const char *name = sigabbrev_np(sig);
    if (name)
        snprintf(buf, sizeof(buf), "%sSIG%s", what, name);
    else
        snprintf(buf, sizeof(buf), "%ssignal %d", what, sig);
    ev_push(r, kind, t, NULL, strdup(buf), NULL);
}

/* ---- the filter ------------------------------------------------------------------- */
/* Allows every syscall but the table's, which stop in the tracer. */
static struct sock_filter *make_filter(unsigned short *len)
{
    size_t n = REC_SC_COUNT;
    struct sock_filter *f = calloc(n + 6, sizeof(*f));
    if (!f)
        return NULL;
    size_t k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                          AUDIT_ARCH_X86_64, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    /* Each match jumps over the rest and the ALLOW, onto the TRACE. */
    for (size_t i = 0; i < n; i++)
        f[k++] = (struct sock_filter)BPF_JUMP(
            BPF_JMP | BPF_JEQ | BPF_K, (unsigned)rec_sc_table[i].nr,
            (unsigned char)(n - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    *len = (unsigned short)k;
    return f;
}

/* ---- the watchdog ------------------------------------------------------------------- */
static void *watchdog(void *arg)
{
    rec_t *r = arg;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += r->o->timeout_ms / 1000;
    until.tv_nsec += (long)(r->o->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->finished &&
           pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
        ;
    if (!r->finished) {
        r->timed_out = 1;
        for (size_t i = 0; i < r->n; i++)
            kill(r->t[i].tgid, SIGKILL);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- the loop ------------------------------------------------------------------------- */
static int is_stop_sig(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
           sig == SIGTTOU;
}

static void handle_stop(rec_t *r, task_t *t, int st);

/* The call journal: a process forked before the journal started is let go
 * (with its own children); one whose tag is not known yet waits. */
static int journal_first_stop(rec_t *r, task_t *t, int st)
{
    int state = rec_jn_state(r->jn, t->tgid);
    if (state == 0) {
        ptrace(PTRACE_DETACH, t->tid, 0, 0);
        task_del(r, t);
        return 1;
    }
    if (state < 0) {
        t->held = 1;
        t->held_st = st;
        return 1;
    }
    return 0;
}

/* t (the parent) made child, a new process unless a thread of its own
 * (CLONE_THREAD): its journal tag, then its first stop if it was kept.
 * Returns t again (the table may have moved). */
static task_t *journal_fork(rec_t *r, task_t *t, pid_t child, int process)
{
    /* by its id: a detached child's slot takes the table's last task,
     * which may be t */
    pid_t self = t->tid;
    task_t *c = task_find(r, child);
    if (!process && c && c->tgid == t->tgid)
        return t;
    rec_jn_fork(r->jn, t->tgid, child);
    if (c && c->held) {
        c->held = 0;
        if (!journal_first_stop(r, c, c->held_st))
            handle_stop(r, c, c->held_st);
    }
    return task_find(r, self);
}

static void handle_stop(rec_t *r, task_t *t, int st)
{
    pid_t tid = t->tid;
    int sig = WSTOPSIG(st), event = (unsigned)st >> 16;
    int inject = 0;
    struct __ptrace_syscall_info info;

    if (event == PTRACE_EVENT_SECCOMP) {
        memset(&info, 0, sizeof(info));
        if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) > 0 &&
            info.op == PTRACE_SYSCALL_INFO_SECCOMP) {
            uint64_t a[6];
            memcpy(a, info.seccomp.args, sizeof(a));
            on_entry(r, t, (long)info.seccomp.nr, a);
        }
        /* Its result is wanted only for a journal entry. */
        t->in_call = t->ev >= 0;
    } else if (sig == (SIGTRAP | 0x80)) {
        memset(&info, 0, sizeof(info));
        long k = ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info);
        if (k > 0 && info.op == PTRACE_SYSCALL_INFO_ENTRY) {
            uint64_t a[6];
            memcpy(a, info.entry.args, sizeof(a));
            on_entry(r, t, (long)info.entry.nr, a);
            if (r->jn)
                rec_jn_entry(r->jn, tid, t->tgid, (long)info.entry.nr, a, &t->jp);
            t->in_call = 1;
        } else if (k > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT) {
            on_exit_stop(r, t, (long)info.exit.rval);
            if (r->jn)
                rec_jn_exit(r->jn, tid, t->tgid, (long)info.exit.rval, &t->jp);
            t->in_call = 0;
        }
    } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
               event == PTRACE_EVENT_CLONE) {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &child);
        if (child && !task_find(r, (pid_t)child)) {
            size_t self = (size_t)(t - r->t);
            task_add(r, (pid_t)child, t);
            t = &r->t[self]; /* the table may have moved */
        } else if (child) {
            /* Its first stop came before this: it got no image yet. */
            task_t *c = task_find(r, (pid_t)child);
            if (!c->img && t->img) {
                c->img = t->img;
                c->img->refs++;
            }
        }
        if (child && r->jn)
            t = journal_fork(r, t, (pid_t)child, event != PTRACE_EVENT_CLONE);
    } else if (event == PTRACE_EVENT_EXEC) {
        unsigned long old = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, 0, &old);
        task_t *o = (pid_t)old != tid ? task_find(r, (pid_t)old) : NULL;
        if (o) {
            /* A thread exec'd: it now has the leader's id (man ptrace,
             * "execve(2) under ptrace"); its pending execve comes along. */
            t->ev = o->ev;
            t->in_call = o->in_call;
            rec_jn_pend_free(&t->jp);
            t->jp = o->jp;
            memset(&o->jp, 0, sizeof(o->jp));
            o->jp.idx = -1;
            if (t->ev >= 0)
                r->res->ev[t->ev].pid = tid;
            task_del(r, o);
            t = task_find(r, tid);
        }
        rec_image_unref(t->img);
        t->img = rec_image_new(tid);
        t->tgid = tid;
        if (r->jn)
            rec_jn_exec(r->jn, tid);
    } else if (event == PTRACE_EVENT_STOP) {
        if (is_stop_sig(sig)) {
            /* A group-stop: it stays stopped until SIGCONT. */
            note_sig(r, t, RECORDER_EV_SIGNAL, "stopped by ", sig);
            ptrace(PTRACE_LISTEN, tid, 0, 0);
            return;
        }
    } else if (event == 0) {
        inject = sig; /* signal-delivery-stop: deliver it */
        note_sig(r, t, RECORDER_EV_SIGNAL, "", sig);
    }
    int how = (r->o->all_syscalls || r->jn || t->in_call) ? PTRACE_SYSCALL : PTRACE_CONT;
    ptrace((enum __ptrace_request)how, tid, 0, (void *)(long)inject);
}

static void trace_loop(rec_t *r, pid_t root)
{
    int root_done = 0;
    while (r->n > 0 || !root_done) {
        int st;
        pid_t tid = waitpid(-1, &st, __WALL | __WNOTHREAD);
        if (tid < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: nothing left */
        }
        r->res->stops++;
        task_t *t = task_find(r, tid);
        if (!t && !(t = task_add(r, tid, NULL)))
            continue;
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (r->jn && t->tid == t->tgid)
                rec_jn_gone(r->jn, t->tgid);
            if (t->tid == t->tgid || tid == root) {
                if (WIFEXITED(st))
                    note_exit(r, t, WEXITSTATUS(st));
                else
                    note_sig(r, t, RECORDER_EV_EXIT, "killed by ",
                             WTERMSIG(st));
            }
            if (tid == root) {
                r->res->status = st;
                root_done = 1;
            }
            task_del(r, t);
            continue;
        }
        if (!WIFSTOPPED(st))
            continue;
        if (r->jn && !t->seen) {
            t->seen = 1;
            if (journal_first_stop(r, t, st))
                continue;
        }
        handle_stop(r, t, st);
    }
}

/* What the child does before its exec. */
typedef struct {
    int go_r, go_w;
    const struct sock_fprog *prog; /* NULL: no seccomp filter */
} child_setup_t;

/* In the child: waits until seized (the tracer sees everything from
 * execve on), then installs the seccomp filter.  0 or an errno. */
static int child_setup(void *arg)
{
    const child_setup_t *c = arg;
    char ch;
    close(c->go_w);
    while (read(c->go_r, &ch, 1) < 0 && errno == EINTR)
        ;
    /* Root (CAP_SYS_ADMIN) needs no no_new_privs: set-user-ID programs
     * keep working then. */
    if (c->prog &&
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, c->prog) < 0 &&
        (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
         syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, c->prog) < 0))
        return errno;
    return 0;
}

int recorder_run(const recorder_opts_t *o, const char *path,
                 char *const argv[], char *const envp[],
                 recorder_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    int use_seccomp = !o->all_syscalls && !o->journal;
    unsigned short flen = 0;
    struct sock_filter *filter = make_filter(&flen);
    if (!filter) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct sock_fprog prog = {.len = flen, .filter = filter};

    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0) {
        int e = errno;
        snprintf(err, errlen, "pipe: %s", strerror(e));
        free(filter);
        return -e;
    }
    child_setup_t cs = {.go_r = go[0], .go_w = go[1],
                        .prog = use_seccomp ? &prog : NULL};
    shunt_proc_t child = {.path = path, .argv = argv, .envp = envp,
                          .stdio = {0, 1, 2}, .flags = SHUNT_PROC_SH,
                          .setup = child_setup, .arg = &cs};
    int sr = shunt_proc_start(&child);
    close(go[0]);
    free(filter);
    if (sr < 0) {
        snprintf(err, errlen, "fork: %s", strerror(-sr));
        close(go[1]);
        return sr;
    }
    pid_t pid = child.pid;
    int rc = 0;
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_OPTS) < 0) {
        int e = errno;
        snprintf(err, errlen,
                 "ptrace(PTRACE_SEIZE): %s (is ptrace allowed here? "
                 "/proc/sys/kernel/yama/ptrace_scope, a container's seccomp "
                 "profile)",
                 strerror(e));
        kill(pid, SIGKILL);
        close(go[1]);
        close(child.report);
        shunt_proc_wait(pid, NULL);
        return -e;
    }
    if (!use_seccomp)
        ptrace(PTRACE_INTERRUPT, pid, 0, 0); /* to start PTRACE_SYSCALL */

    rec_t r = {.o = o, .res = res};
    pthread_mutex_init(&r.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r.cv, &ca);
    pthread_condattr_destroy(&ca);
    task_add(&r, pid, NULL);
    if (o->journal && !(r.jn = rec_jn_new(o->journal_fd, o->journal_after, pid))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        kill(pid, SIGKILL);
    }
    pthread_t wd;
    int have_wd = o->timeout_ms > 0 &&
                  pthread_create(&wd, NULL, watchdog, &r) == 0;
    ssize_t w = write(go[1], "g", 1);
    (void)w;
    close(go[1]);
    if (o->on_start)
        o->on_start(pid, o->arg);

    trace_loop(&r, pid);

    pthread_mutex_lock(&r.mu);
    r.finished = 1;
    pthread_cond_signal(&r.cv);
    pthread_mutex_unlock(&r.mu);
    if (have_wd)
        pthread_join(wd, NULL);
    res->timed_out = r.timed_out;
    for (size_t i = 0; i < r.n; i++) {
        rec_image_unref(r.t[i].img);
        rec_jn_pend_free(&r.t[i].jp);
    }
    rec_jn_free(r.jn);
    free(r.t);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);

    /* The child's report: whether the seccomp filter or the exec failed
     * (the tracer reaped it already). */
    int stage;
    int er = shunt_proc_started(&child, &stage);
    if (er < 0) {
        rc = er;
        snprintf(err, errlen, "%s: %s",
                 stage == SHUNT_PROC_STAGE_SETUP ? "seccomp" : path,
                 strerror(-er));
    }
    return rc;
}

void recorder_result_free(recorder_result_t *res)
{
    for (size_t i = 0; i < res->n_ev; i++) {
        free(res->ev[i].args);
        free(res->ev[i].leak);
    }
    free(res->ev);
    memset(res, 0, sizeof(*res));
}
