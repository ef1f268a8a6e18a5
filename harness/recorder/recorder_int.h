/* The recorder's rooms talk through this header: the syscall table
 * (recorder_syscalls.def), decoding a stopped tracee's arguments
 * (recorder_decode.c), classification (recorder_rules.c), the tracing loop
 * (recorder.c) and printing (recorder_print.c). */
#ifndef SHUNT_HARNESS_RECORDER_INT_H
#define SHUNT_HARNESS_RECORDER_INT_H

#include "shunt/buf.h"
#include "shunt/recorder.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the table ------------------------------------------------------------ */
enum {
#define SC(name, args) REC_SC_##name,
#include "recorder_syscalls.def"
#undef SC
    REC_SC_COUNT
};
typedef struct {
    const char *name;
    int nr;            /* x86_64 number */
    const char *args;  /* the argument letters of recorder_syscalls.def */
} rec_sc_t;
extern const rec_sc_t rec_sc_table[REC_SC_COUNT];
/* Index in rec_sc_table of a syscall number, or -1. */
int rec_sc_index(long nr);

/* ---- tracee memory (recorder_decode.c) -------------------------------------- */
/* Up to len bytes at addr of thread tid; the count read (0: nothing). */
size_t rec_mem_read(pid_t tid, uint64_t addr, void *buf, size_t len);
/* A NUL-terminated string at addr, at most max - 1 bytes of it; its
 * length, or -1 when nothing could be read. */
long rec_mem_str(pid_t tid, uint64_t addr, char *out, size_t max);

/* ---- text (shunt/buf.h) ---------------------------------------------------- */
/* A quoted C string, escaped, at most max bytes of it. */
void rec_buf_quote(shunt_buf_t *b, const char *s, size_t n, size_t max);

/* ---- what a call touched ----------------------------------------------------- */
enum { REC_OP_READ, REC_OP_WRITE, REC_OP_EXEC, REC_OP_META };
enum { REC_S_PATH, REC_S_UNIX, REC_S_INET };
typedef struct {
    int kind;          /* REC_S_* */
    int op;            /* path: REC_OP_*; unix, inet: 1 for bind */
    char *path;        /* normalised absolute path (PATH, UNIX), or NULL
                          when it could not be resolved */
    int family;        /* INET: AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned port;
    int proto;         /* SHUNT_NET_TCP/UDP, or 0 when unknown */
    char *qname;       /* a DNS query's name, or NULL */
} rec_subject_t;

#define REC_MAX_SUBJ 4
typedef struct {
    rec_subject_t s[REC_MAX_SUBJ];
    int n;
} rec_subjects_t;
void rec_subjects_free(rec_subjects_t *s);

/* Decodes the arguments of syscall idx made by thread tid of process tgid
 * (stopped at its entry) into out ("AT_FDCWD, \"/etc/x\", O_RDONLY"), and
 * what it touched into subj. */
void rec_decode(pid_t tid, pid_t tgid, int idx, const uint64_t args[6],
                shunt_buf_t *out, rec_subjects_t *subj);

/* ---- per-process state the policy needs ---------------------------------- */
typedef struct rec_image {
    int refs;
    char *exe, *cwd;          /* at exec; any may be NULL */
    char *ldpath, *preload;   /* LD_LIBRARY_PATH, LD_PRELOAD at exec */
    char *env;                /* the environment block at exec (NUL-separated) */
    size_t envlen;
    char *execfn;             /* the path exec was given (AT_EXECFN) */
    int built;                /* pol is set up */
    void *pol;                /* shunt_policy_t *, lazily */
} rec_image_t;
/* Reads /proc/PID/{exe,cwd,environ} of a process that just exec'd. */
rec_image_t *rec_image_new(pid_t pid);
void rec_image_unref(rec_image_t *img);

/* Why the call is a leak (malloc'd), or NULL. */
char *rec_classify(const recorder_rules_t *r, rec_image_t *img, pid_t tid,
                   int idx, const rec_subjects_t *subj);

/* ---- the call journal of system calls (recorder_journal.c) ---------------- */
typedef struct rec_jn rec_jn_t;
/* A thread's call between its entry and exit stops. */
typedef struct {
    int idx;          /* in the journal's table; -1: no record due */
    uint64_t a[6];
    shunt_buf_t text; /* "TAG name(args" */
} rec_jpend_t;
/* Records go to fd; the root process (tag 1) makes records once it has
 * made after_execs execs (the recorder's own exec of CMD is the first).
 * NULL when out of memory. */
rec_jn_t *rec_jn_new(int fd, int after_execs, pid_t root);
void rec_jn_free(rec_jn_t *j);
/* A process: 1 journalled, 0 not (forked before the journal started: the
 * tracer lets it go), -1 not known yet (its parent's fork event is due). */
int rec_jn_state(rec_jn_t *j, pid_t tgid);
/* parent made the new process child (not a thread): its tag, P.N. */
void rec_jn_fork(rec_jn_t *j, pid_t parent, pid_t child);
void rec_jn_exec(rec_jn_t *j, pid_t tgid);
/* The process left (its leader's exit). */
void rec_jn_gone(rec_jn_t *j, pid_t tgid);
void rec_jn_entry(rec_jn_t *j, pid_t tid, pid_t tgid, long nr,
                  const uint64_t a[6], rec_jpend_t *pd);
void rec_jn_exit(rec_jn_t *j, pid_t tid, pid_t tgid, long rval, rec_jpend_t *pd);
void rec_jn_pend_free(rec_jpend_t *pd);

#endif
