/* One case: target up, the program copied into it, the reference run
 * (runc exec), the local run (harness exec), normalise, diff, report. */
#include "shunt/runner.h"
#include "shunt/buf.h"
#include "shunt/inroot.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shunt/compare.h"
#include "shunt/fsutil.h"
#include "shunt/leaks.h"
#include "shunt/proc.h"
#include "shunt/util.h"
#include "shunt/target.h"
#include "shunt/traffic.h"
#include "shunt/trafficrun.h"

#define OUT_MAX (16u << 20)

const char *shunt_case_status_name(shunt_case_status_t st)
{
    switch (st) {
    case SHUNT_CASE_PASS: return "PASS";
    case SHUNT_CASE_KNOWN: return "PASS*";
    case SHUNT_CASE_FAIL: return "FAIL";
    case SHUNT_CASE_SKIP: return "SKIP";
    case SHUNT_CASE_ERROR: return "ERROR";
    }
    return "?";
}

unsigned shunt_case_engines(const shunt_runspec_t *r, unsigned cli, char *why, size_t len)
{
    why[0] = 0;
    if (!cli)
        return r->engines;
    unsigned m = r->engines_given
                     ? cli & (r->engines | SHUNT_ENGINE_BIT(SHUNT_ENGINE_AUTO))
                     : cli;
    if (!m) {
        char list[64] = "";
        for (int e = 0; e < SHUNT_ENGINE_COUNT; e++)
            if (r->engines & SHUNT_ENGINE_BIT(e)) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "",
                         shunt_engine_name((shunt_engine_t)e));
            }
        snprintf(why, len, "program.engines lists only %s: not run under %s", list,
                 cli & SHUNT_ENGINE_BIT(SHUNT_ENGINE_SUPERVISOR)
                     ? (cli & SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER) ? "another engine"
                                                                   : "the supervisor")
                     : "the layer");
    }
    return m;
}

const char *shunt_engine_under(shunt_engine_t e)
{
    switch (e) {
    case SHUNT_ENGINE_LAYER: return "the layer";
    case SHUNT_ENGINE_SUPERVISOR: return "the supervisor";
    case SHUNT_ENGINE_AUTO: return "--engine auto";
    default: return "?";
    }
}

/* What one run of the program showed. */
typedef struct {
    char *out, *err, *files, *journal;
    char *sjournal; /* the reference's call journal of system calls */
    size_t out_len, err_len;
    int wstatus, timed_out, ran;
    char how[64];
} obs_t;

static void obs_free(obs_t *o)
{
    free(o->out);
    free(o->err);
    free(o->files);
    free(o->journal);
    free(o->sjournal);
    memset(o, 0, sizeof(*o));
}

static void describe(int st, int timed_out, char *out, size_t len)
{
    if (timed_out)
        snprintf(out, len, "timed out");
    else if (WIFEXITED(st))
        snprintf(out, len, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, len, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(out, len, "status 0x%x", st);
}

/* Output is compared as text: a NUL byte becomes the two characters \0 so
 * that nothing after it is lost. */
static char *denul(char *buf, size_t *len)
{
    size_t nuls = 0;
    for (size_t i = 0; buf && i < *len; i++)
        nuls += buf[i] == 0;
    if (!nuls)
        return buf;
    char *o = malloc(*len + nuls + 1);
    if (!o) {
        free(buf);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < *len; i++) {
        if (buf[i]) {
            o[k++] = buf[i];
        } else {
            o[k++] = '\\';
            o[k++] = '0';
        }
    }
    o[k] = 0;
    *len = k;
    free(buf);
    return o;
}

/* The expected files as one text: "== PATH ==" and its bytes, or
 * "== PATH: missing ==" for each.  Inside the target only through its root
 * fd (inroot.h): a program that replaces PATH with a link to the host gets
 * nothing read or removed there. */
static char *snapshot_files(const shunt_runspec_t *r, int root, int local,
                            int remove)
{
    shunt_buf_t t = {0};
    for (size_t i = 0; i < r->n_files; i++) {
        const shunt_expect_file_t *f = &r->files[i];
        int host = local && f->local_on_host;
        size_t len = 0;
        char *data = host ? shunt_read_file(f->path, OUT_MAX, &len)
                          : shunt_inroot_read(root, f->path, OUT_MAX, &len);
        if (!data) {
            shunt_buf_printf(&t, "== %s: %s ==\n", f->path,
                errno == EINVAL ? "not a regular file" : "missing");
        } else {
            data = denul(data, &len);
            if (!data) {
                shunt_buf_printf(&t, "== %s: out of memory ==\n", f->path);
                continue;
            }
            shunt_buf_printf(&t, "== %s ==\n%s%s", f->path, data,
                len && data[len - 1] != '\n' ? "\n\\ no newline at end\n" : "");
            free(data);
        }
        if (remove && host)
            unlink(f->path);
        else if (remove)
            shunt_inroot_unlink(root, f->path);
    }
    return shunt_buf_take(&t);
}

static void clear_files(const shunt_runspec_t *r, int root)
{
    for (size_t i = 0; i < r->n_files; i++) {
        shunt_inroot_unlink(root, r->files[i].path);
        if (r->files[i].local_on_host)
            unlink(r->files[i].path);
    }
}

static int run_once(char *const *argv, const char *cwd, const char *in_path,
                    const char *dir, const char *tag, int timeout_ms, obs_t *o,
                    char *err, size_t errlen)
{
    char outp[PATH_MAX], errp[PATH_MAX];
    snprintf(outp, sizeof(outp), "%s/%s.out", dir, tag);
    snprintf(errp, sizeof(errp), "%s/%s.err", dir, tag);
    int st = shunt_proc_run(argv, NULL, cwd, in_path, outp, errp, timeout_ms,
                            &o->timed_out, err, errlen);
    if (st < 0)
        return -1;
    o->ran = 1;
    o->wstatus = st;
    describe(st, o->timed_out, o->how, sizeof(o->how));
    o->out = shunt_read_file(outp, OUT_MAX, &o->out_len);
    o->err = shunt_read_file(errp, OUT_MAX, &o->err_len);
    if (o->out)
        o->out = denul(o->out, &o->out_len);
    if (o->err)
        o->err = denul(o->err, &o->err_len);
    if (!o->out || !o->err) {
        snprintf(err, errlen, "cannot read the output of %s: %s", tag, strerror(errno));
        return -1;
    }
    return 0;
}

static void tail(shunt_buf_t *t, const char *label, const char *text, size_t len)
{
    if (!text || !len)
        return;
    const char *s = text + len;
    int lines = 0;
    while (s > text && lines < 16) {
        s--;
        if (*s == '\n' && s + 1 < text + len)
            lines++;
    }
    if (*s == '\n')
        s++;
    shunt_buf_printf(t, "  %s (last lines):\n", label);
    for (const char *l = s; *l;) {
        const char *nl = strchr(l, '\n');
        int n = nl ? (int)(nl - l) : (int)strlen(l);
        shunt_buf_printf(t, "    | %.*s\n", n, l);
        if (!nl)
            break;
        l = nl + 1;
    }
}

/* --show-output: a run's stream in full (up to 200 lines). */
static void show(shunt_buf_t *t, const char *label, const char *text, size_t len)
{
    if (!text || !len) {
        shunt_buf_printf(t, "  %s: (empty)\n", label);
        return;
    }
    shunt_buf_printf(t, "  %s:\n", label);
    int lines = 0;
    for (const char *l = text; *l && l < text + len; lines++) {
        const char *nl = strchr(l, '\n');
        int n = nl ? (int)(nl - l) : (int)strlen(l);
        if (lines == 200) {
            shunt_buf_printf(t, "    | ... (more lines cut)\n");
            break;
        }
        shunt_buf_printf(t, "    | %.*s\n", n, l);
        if (!nl)
            break;
        l = nl + 1;
    }
}

/* Compares one observation kind; returns 0 equal, 1 known divergence,
 * 2 unexplained difference. */
static int compare_stream(const shunt_runspec_t *r, unsigned kind, const char *a,
                          size_t alen, const char *b, size_t blen, int color,
                          const char *suffix, shunt_engine_t engine, char *seen,
                          shunt_buf_t *rep)
{
    const char *under = shunt_engine_under(engine);
    char *na = shunt_normalise(a, alen, r->norms, r->n_norms, kind);
    char *nb = shunt_normalise(b, blen, r->norms, r->n_norms, kind);
    shunt_diff_t d;
    char la[96], lb[96];
    snprintf(la, sizeof(la), "reference %s%s (in the target)", shunt_obs_name(kind), suffix);
    snprintf(lb, sizeof(lb), "local %s%s (under %s)", shunt_obs_name(kind), suffix, under);
    int rc = 2;
    if (!na || !nb || shunt_diff(na, nb, la, lb, color, &d) < 0) {
        shunt_buf_printf(rep, "%s: out of memory comparing\n", shunt_obs_name(kind));
        free(na);
        free(nb);
        return 2;
    }
    if (!d.differs) {
        rc = 0;
    } else {
        const shunt_divergence_t *hit = NULL;
        for (size_t i = 0; i < r->n_divergences && !hit; i++)
            if (r->divergences[i].in == kind &&
                (r->divergences[i].engines & SHUNT_ENGINE_BIT(engine)) &&
                shunt_diff_only_lines(&d, r->divergences[i].lines)) {
                hit = &r->divergences[i];
                seen[i] = 1;
            }
        if (hit) {
            shunt_buf_printf(rep, "known divergence in %s%s under %s: %s\n%s",
                             shunt_obs_name(kind), suffix, under, hit->reason, d.text);
            rc = 1;
        } else {
            shunt_buf_printf(rep, "%s%s differs under %s:\n%s", shunt_obs_name(kind), suffix,
                             under, d.text);
        }
    }
    shunt_diff_free(&d);
    free(na);
    free(nb);
    return rc;
}

/* The recorder's LEAK lines (one per line of report, NULL: none) against
 * expect.leaks: the same number, the i-th line matching the i-th pattern.
 * no_leaks is an empty list.  1 when they agree, else 0 with why. */
static int leaks_match(const shunt_runspec_t *r, const char *report, char *why,
                       size_t wl)
{
    size_t n = 0;
    for (const char *p = report; p && *p; n++) {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    size_t want = r->leaks_listed ? r->n_leaks : 0;
    if (n != want) {
        snprintf(why, wl, "the recorder reported %zu leak%s, expected %zu", n,
                 n == 1 ? "" : "s", want);
        return 0;
    }
    const char *p = report;
    for (size_t i = 0; i < want; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        regex_t re;
        int ok = line && regcomp(&re, r->leaks[i], REG_EXTENDED | REG_NOSUB) == 0;
        int m = ok && regexec(&re, line, 0, NULL, 0) == 0;
        if (ok)
            regfree(&re);
        free(line);
        if (!m) {
            snprintf(why, wl, "leak %zu does not match expect.leaks[%zu] (%.200s)",
                     i + 1, i, r->leaks[i]);
            return 0;
        }
        p = nl ? nl + 1 : p + len;
    }
    return 1;
}

/* "harness exec: ..." (or, but under the layer, "shunt-supervisor: ...")
 * on the local run's stderr with its own exit codes: the session could not
 * start, which is not the program's doing. */
static const char *exec_failure(const obs_t *o, int supervised)
{
    if (!WIFEXITED(o->wstatus))
        return NULL;
    int code = WEXITSTATUS(o->wstatus);
    if (code != 1 && code != 126 && code != 127)
        return NULL;
    const char *s = o->err;
    while (s && *s) {
        if (strncmp(s, "harness exec: ", 14) == 0 ||
            (supervised && strncmp(s, "shunt-supervisor: ", 18) == 0))
            return s;
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return NULL;
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = shunt_write_full(fd, text, strlen(text));
    if (close(fd) < 0 || rc < 0)
        return -1;
    return 0;
}

/* ---- the call journal (expect.journal) ------------------------------------
 * Both runs write it to the same path, DIR/journal: the reference inside the
 * target (its own /tmp), with the layer copied in at the path it has here
 * and loaded in observe-only mode; the local run on this host, through
 * `harness exec --journal`.  Under the supervisor the journal is the ptrace
 * recorder's, of system calls (docs/recorder.md): the reference's is then
 * written by a run of its own, `harness record --call-journal DIR/sjournal`
 * inside the target (this harness copied in at its path). */

/* The layer harness exec preloads: ../lib/libshunt.so from the harness. */
static int layer_path(const char *harness, char *out)
{
    char self[PATH_MAX], lib[PATH_MAX];
    if (!realpath(harness, self))
        return -1;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    if (shunt_fmt(lib, sizeof(lib), "%s/../lib/libshunt.so", self) < 0 ||
        !realpath(lib, out))
        return -1;
    return 0;
}

/* Removes the files whose names start with name (the journal and the exec
 * side files journal.tag.PID) from the directory DFD (closed). */
static void journal_clean(int dfd, const char *name)
{
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, name, strlen(name)) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

/* Reads DIR/NAME (missing: empty) and cleans up after it: DIR on this
 * host (root < 0) or inside the target's root fd. */
static char *journal_take(int root, const char *dir, const char *name)
{
    size_t len = 0;
    int dfd = root >= 0 ? shunt_inroot_opendir(root, dir)
                        : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *t = dfd >= 0 ? shunt_inroot_read_at(dfd, name, OUT_MAX, &len) : NULL;
    journal_clean(dfd, name);
    if (t)
        t = denul(t, &len);
    return t ? t : strdup("");
}

/* ---- programs the layer could not enter ---------------------------------
 * The local run's layer appends "shunt: not intercepted: ..." to
 * DIR/unhooked (harness exec --unhooked-file) for every program of the tree
 * it cannot enter (a static child, an unhookable Go program: it ran on this
 * host unintercepted).  The case is then an error of its own, not a silent
 * difference of outputs.  Returns the first line (malloc'd), or NULL. */
static char *unhooked_take(const char *dir)
{
    char p[PATH_MAX];
    size_t len = 0;
    char *t = shunt_fmt(p, sizeof(p), "%s/unhooked", dir) == 0
                  ? shunt_read_file(p, OUT_MAX, &len)
                  : NULL;
    unlink(p);
    if (t && len == 0) {
        free(t);
        t = NULL;
    }
    if (t)
        t[strcspn(t, "\n")] = 0;
    return t;
}

static double secs(uint64_t t0) { return (double)(shunt_now_ms() - t0) / 1000.0; }

/* One case on its way through shunt_run_case's phases. */
typedef struct {
    shunt_case_t *c;
    const shunt_run_opts_t *o;
    const shunt_runspec_t *r;
    shunt_case_result_t *res;
    shunt_buf_t rep;
    char err[8192];
    char dir[PATH_MAX]; /* this case's files ("" before mkdtemp) */
    char in_path[PATH_MAX];
    const char *stdin_path;
    obs_t *ref, *loc;
    int up;   /* 1: brought up here, 2: it was up before: leave it up */
    int root; /* the target's root (shunt/inroot.h), -1 */
    shunt_target_info_t info;
    /* the program's argv on both sides */
    char **pargv, **rargv, **largv, **sargv; /* sargv: the recorder's reference */
    size_t np;
    int journal; /* expect.journal: the layer inside the target too */
    int sjournal; /* expect.journal under the supervisor: the recorder's */
    int tmo;
    int refused; /* refused or left unhooked as expected: nothing compared, no recorder */
    /* the engine of the local runs being made; has_engine 0: none (runs.local
     * is false) */
    shunt_engine_t engine;
    int has_engine;
    int ref_bad; /* the reference's own status was wrong: no other engine */
    char ctr[96];
    char lib[PATH_MAX], env_pre[PATH_MAX + 16], env_jn[PATH_MAX + 16];
    char jpath[PATH_MAX], env_pwd[PATH_MAX + 8], scen_abs[PATH_MAX];
    char self[PATH_MAX], sjpath[PATH_MAX];
    char upath[PATH_MAX];
} case_run_t;

static int set_status(case_run_t *x, shunt_case_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The case's status and its reason; -1, so that a phase can return it. */
static int set_status(case_run_t *x, shunt_case_status_t st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    x->res->status = st;
    vsnprintf(x->res->reason, sizeof(x->res->reason), fmt, ap);
    va_end(ap);
    return -1;
}

/* What needs no target: the case's own verdicts (skip, build), root, the
 * case's directory and its stdin file. */
static int case_prepare(case_run_t *x)
{
    shunt_case_t *c = x->c;
    const shunt_runspec_t *r = x->r;
    if (!x->ref || !x->loc)
        return set_status(x, SHUNT_CASE_ERROR, "out of memory");
    if (c->skip[0])
        return set_status(x, SHUNT_CASE_SKIP, "%s", c->skip);
    if (c->build_err[0]) {
        shunt_buf_printf(&x->rep, "%s\n", c->build_err);
        return set_status(x, SHUNT_CASE_ERROR, "the program did not build");
    }
    if (geteuid() != 0)
        return set_status(x, SHUNT_CASE_SKIP,
                          "needs root (runc and network namespaces)");
    snprintf(x->dir, sizeof(x->dir), "/tmp/shunt-run-XXXXXX");
    if (!mkdtemp(x->dir)) {
        x->dir[0] = 0;
        return set_status(x, SHUNT_CASE_ERROR, "mkdtemp: %s", strerror(errno));
    }
    if (r->stdin_text) {
        (void)shunt_fmt(x->in_path, sizeof(x->in_path), "%s/stdin", x->dir);
        if (write_text(x->in_path, r->stdin_text) < 0)
            return set_status(x, SHUNT_CASE_ERROR, "%.500s: %s", x->in_path,
                              strerror(errno));
        x->stdin_path = x->in_path;
    }
    return 0;
}

/* 1. the target, under this case's name; 2. the program at the same path
 * inside. */
static int case_target(case_run_t *x)
{
    shunt_case_t *c = x->c;
    shunt_scenario_t *s = c->s;
    uint64_t t0 = shunt_now_ms();
    s->target.name = c->target;
    shunt_up_opts_t uo = {.init_path = x->o->init_path};
    int urc = shunt_target_up(s, &uo, &x->info, x->err, sizeof(x->err));
    if (urc < 0) {
        shunt_buf_printf(&x->rep, "harness up: %s\n", x->err);
        return set_status(x, SHUNT_CASE_ERROR, "target %s did not start", c->target);
    }
    x->up = urc == 1 ? 2 : 1;
    if (c->group) {
        if (!c->group->up)
            c->group->up = x->up;
        x->up = c->group->up;
    }
    if (shunt_proc_interrupted)
        return set_status(x, SHUNT_CASE_ERROR, "interrupted");
    if ((x->root = shunt_inroot_open_root(x->info.init_pid)) < 0)
        return set_status(x, SHUNT_CASE_ERROR, "target %s: the root of pid %d: %s",
                          c->target, x->info.init_pid, strerror(errno));
    if (c->built.dir[0] && shunt_inroot_copy(c->built.dir, x->root, c->built.dir) < 0)
        return set_status(x, SHUNT_CASE_ERROR,
                          "cannot copy the program into the target (%.800s): %s%s",
                          c->built.dir, strerror(errno),
                          errno == ELOOP ? " (a symbolic link in the target is in the way)"
                                         : "");
    x->res->t_target = secs(t0);
    return 0;
}

/* expect.journal: the layer inside the target (only through its root fd;
 * a copy from an earlier case in a kept target is replaced, never written
 * through), and the journal's path. */
static int case_journal_layer(case_run_t *x)
{
    int tfd = -1, ok = layer_path(x->o->harness, x->lib) == 0 &&
                       (tfd = shunt_inroot_mkdir_p(x->root, x->dir, 0755)) >= 0 &&
                       shunt_inroot_copy(x->lib, x->root, x->lib) == 0;
    if (tfd >= 0)
        close(tfd);
    if (!ok)
        return set_status(x, SHUNT_CASE_ERROR,
                          "expect.journal: cannot put the layer into the target: %s",
                          strerror(errno));
    snprintf(x->env_pre, sizeof(x->env_pre), "LD_PRELOAD=%s", x->lib);
    (void)shunt_fmt(x->jpath, sizeof(x->jpath), "%s/journal", x->dir);
    snprintf(x->env_jn, sizeof(x->env_jn), "SHUNT_JOURNAL=%s", x->jpath);
    return 0;
}

/* expect.journal under the supervisor: this harness inside the target at
 * its own path (it needs only libc and libyaml, which the target's /usr
 * has), for `harness record --call-journal`. */
static int case_journal_recorder(case_run_t *x)
{
    int tfd = -1, ok = realpath(x->o->harness, x->self) &&
                       (tfd = shunt_inroot_mkdir_p(x->root, x->dir, 0755)) >= 0 &&
                       shunt_inroot_copy(x->self, x->root, x->self) == 0;
    if (tfd >= 0)
        close(tfd);
    if (!ok)
        return set_status(x, SHUNT_CASE_ERROR,
                          "expect.journal: cannot put the harness into the target: %s",
                          strerror(errno));
    (void)shunt_fmt(x->jpath, sizeof(x->jpath), "%s/journal", x->dir);
    (void)shunt_fmt(x->sjpath, sizeof(x->sjpath), "%s/sjournal", x->dir);
    char **v = x->sargv;
    size_t k = 0;
    v[k++] = (char *)"runc";
    v[k++] = (char *)"exec";
    v[k++] = (char *)"--env";
    v[k++] = x->env_pwd;
    v[k++] = (char *)"--cwd";
    v[k++] = x->r->cwd;
    v[k++] = x->ctr;
    v[k++] = x->self;
    v[k++] = (char *)"record";
    v[k++] = (char *)"--call-journal";
    v[k++] = x->sjpath;
    v[k++] = (char *)"--";
    for (size_t i = 0; i < x->np; i++)
        v[k++] = x->pargv[i];
    return 0;
}

/* The reference side: runc exec in the target container. */
static void case_ref_argv(case_run_t *x)
{
    const shunt_runspec_t *r = x->r;
    char **v = x->rargv;
    size_t k = 0;
    snprintf(x->ctr, sizeof(x->ctr), "shunt-%s-target", x->c->target);
    v[k++] = (char *)"runc";
    v[k++] = (char *)"exec";
    if (x->journal) {
        v[k++] = (char *)"--env";
        v[k++] = x->env_pre;
        v[k++] = (char *)"--env";
        v[k++] = (char *)"SHUNT_MODE=observe";
        v[k++] = (char *)"--env";
        v[k++] = x->env_jn;
    }
    /* PWD names the case's directory in both runs: runc exec sets none,
     * and the local run would inherit the harness's own (a shell stats
     * $PWD at start-up, which the journal shows) */
    snprintf(x->env_pwd, sizeof(x->env_pwd), "PWD=%s", r->cwd);
    v[k++] = (char *)"--env";
    v[k++] = x->env_pwd;
    v[k++] = (char *)"--cwd";
    v[k++] = r->cwd;
    v[k++] = x->ctr;
    for (size_t i = 0; i < x->np; i++)
        v[k++] = x->pargv[i];
}

/* The local side: harness exec against the target, under x->engine. */
static void case_local_argv(case_run_t *x)
{
    shunt_scenario_t *s = x->c->s;
    char **v = x->largv;
    size_t k = 0;
    v[k++] = (char *)x->o->harness;
    v[k++] = (char *)"exec";
    v[k++] = (char *)"--target";
    v[k++] = x->c->target;
    v[k++] = (char *)"--engine";
    v[k++] = (char *)shunt_engine_name(x->engine);
    if (!realpath(s->file, x->scen_abs))
        snprintf(x->scen_abs, sizeof(x->scen_abs), "%s", s->file);
    if (s->layer) {
        v[k++] = (char *)"--config";
        v[k++] = x->scen_abs;
    }
    if ((x->journal && x->engine == SHUNT_ENGINE_LAYER) ||
        (x->sjournal && x->engine == SHUNT_ENGINE_SUPERVISOR)) {
        v[k++] = (char *)"--journal";
        v[k++] = x->jpath;
    }
    (void)shunt_fmt(x->upath, sizeof(x->upath), "%s/unhooked", x->dir);
    v[k++] = (char *)"--unhooked-file";
    v[k++] = x->upath;
    v[k++] = (char *)"--";
    for (size_t i = 0; i < x->np; i++)
        v[k++] = x->pargv[i];
    v[k] = NULL; /* built again for each engine, over a longer one */
}

/* The program's argv with program.env (`env K=V... PROG ARGS`), and the
 * two sides' argv around it. */
static int case_argv(case_run_t *x)
{
    const shunt_case_t *c = x->c;
    const shunt_runspec_t *r = x->r;
    size_t na = 0;
    while (c->built.argv[na])
        na++;
    if (!(x->pargv = calloc(na + r->n_env + 2, sizeof(char *))))
        return set_status(x, SHUNT_CASE_ERROR, "out of memory");
    size_t k = 0;
    if (r->n_env) {
        x->pargv[k++] = (char *)"/usr/bin/env";
        for (size_t i = 0; i < r->n_env; i++)
            x->pargv[k++] = r->env[i];
    }
    for (size_t i = 0; i < na; i++)
        x->pargv[k++] = c->built.argv[i];
    x->np = k;
    x->rargv = calloc(x->np + 16, sizeof(char *));
    x->largv = calloc(x->np + 20, sizeof(char *));
    x->sargv = calloc(x->np + 16, sizeof(char *));
    if (!x->rargv || !x->largv || !x->sargv)
        return set_status(x, SHUNT_CASE_ERROR, "out of memory");
    /* the layer's journal needs the reference in observe mode to compare it
     * with; the supervisor's (the recorder's) a reference run of its own */
    int jn = r->cmp_journal && r->run_reference && r->run_local;
    x->journal = jn && (c->engines & SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER));
    x->sjournal = jn && (c->engines & SHUNT_ENGINE_BIT(SHUNT_ENGINE_SUPERVISOR));
    if (x->journal && case_journal_layer(x) < 0)
        return -1;
    case_ref_argv(x);
    if (x->sjournal && case_journal_recorder(x) < 0)
        return -1;
    case_local_argv(x); /* again for each engine */
    x->tmo = r->timeout_s * 1000;
    return 0;
}

/* runs.reset_files: the target's files as at harness up, before a run. */
static int reset_files(case_run_t *x)
{
    if (!x->r->reset_files)
        return 0;
    if (shunt_target_reset_files(&x->c->s->target, x->root, x->err, sizeof(x->err)) < 0)
        return set_status(x, SHUNT_CASE_ERROR, "runs.reset_files: %.1000s", x->err);
    return 0;
}

/* The reference's call journal of system calls: the program again, under
 * the recorder in the target, only for its journal (its outputs are the
 * first reference run's). */
static void case_ref_sjournal(case_run_t *x, int i)
{
    char tag[32];
    obs_t o = {0};
    snprintf(tag, sizeof(tag), "sref%d", i);
    clear_files(x->r, x->root);
    if (reset_files(x) < 0)
        return;
    uint64_t t0 = shunt_now_ms();
    if (run_once(x->sargv, NULL, x->stdin_path, x->dir, tag, x->tmo, &o, x->err,
                 sizeof(x->err)) < 0)
        set_status(x, SHUNT_CASE_ERROR, "reference run under the recorder: %.1000s", x->err);
    else if (o.timed_out || !WIFEXITED(o.wstatus) ||
             (WEXITSTATUS(o.wstatus) == 1 && strncmp(o.err ? o.err : "", "harness record:", 15) == 0))
        /* the recorder itself failed (its own message first) */
        set_status(x, SHUNT_CASE_ERROR, "reference run under the recorder: %s: %.500s",
                   o.how, o.err ? o.err : "");
    x->res->t_ref += secs(t0);
    x->ref[i].sjournal = journal_take(x->root, x->dir, "sjournal");
    obs_free(&o);
}

/* 3. the reference runs */
static void case_ref_runs(case_run_t *x)
{
    const shunt_runspec_t *r = x->r;
    shunt_case_result_t *res = x->res;
    for (int i = 0; res->status == SHUNT_CASE_PASS && r->run_reference && i < r->repeat; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "ref%d", i);
        clear_files(r, x->root);
        if (reset_files(x) < 0)
            break;
        uint64_t t0 = shunt_now_ms();
        if (run_once(x->rargv, NULL, x->stdin_path, x->dir, tag, x->tmo, &x->ref[i],
                     x->err, sizeof(x->err)) < 0)
            set_status(x, SHUNT_CASE_ERROR, "reference run: %.1000s", x->err);
        res->t_ref += secs(t0);
        x->ref[i].files = snapshot_files(r, x->root, 0, 1);
        if (x->journal)
            x->ref[i].journal = journal_take(x->root, x->dir, "journal");
        if (x->sjournal && res->status == SHUNT_CASE_PASS)
            case_ref_sjournal(x, i);
    }
}

/* line against an expectation's pattern (NULL: any line; no line: no
 * match). */
static int line_matches(const char *line, const char *pattern)
{
    regex_t re;
    int match = line != NULL;
    if (match && pattern) {
        match = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0;
        if (match) {
            match = regexec(&re, line, 0, NULL, 0) == 0;
            regfree(&re);
        }
    }
    return match;
}

/* expect.refused: harness exec refuses the program (exit 126 and its
 * line), as the pattern says. */
static void judge_refused(case_run_t *x, const obs_t *lo, const char *why)
{
    int n = why ? (int)strcspn(why, "\n") : 0;
    char *line = why ? strndup(why, (size_t)n) : NULL;
    int exit126 = WEXITSTATUS(lo->wstatus) == 126;
    if (line_matches(exit126 ? line : NULL, x->r->refused_re)) {
        shunt_buf_printf(&x->rep, "refused as expected (expect.refused): %s\n", line);
        x->refused = 1;
    } else {
        if (!line || !exit126)
            set_status(x, SHUNT_CASE_FAIL,
                       "the local run was not refused (expect.refused): it ran, %s",
                       lo->how);
        else
            set_status(x, SHUNT_CASE_FAIL,
                       "the local run was refused, but not as expect.refused "
                       "says: %.800s",
                       line);
        tail(&x->rep, "local stderr", lo->err, lo->err_len);
    }
    free(line);
}

/* expect.unhooked: the layer says a program of the tree is one it cannot
 * enter (a non-cgo Go program) -- it ran on this host unintercepted, so
 * its output proves nothing: not compared. */
static void judge_unhooked(case_run_t *x, const obs_t *lo, const char *unhooked)
{
    const char *line = unhooked && strncmp(unhooked, "shunt: not intercepted: ", 24) == 0
                           ? unhooked + 24
                           : unhooked;
    if (line_matches(line, x->r->unhooked_re)) {
        shunt_buf_printf(&x->rep, "left unhooked as expected (expect.unhooked): %s\n", line);
        x->refused = 1;
    } else {
        if (!line)
            set_status(x, SHUNT_CASE_FAIL,
                       "the local run was intercepted, but expect.unhooked says "
                       "a program of it is left unhooked (it ran, %s)",
                       lo->how);
        else
            set_status(x, SHUNT_CASE_FAIL,
                       "the local run was left unhooked, but not as "
                       "expect.unhooked says: %.800s",
                       line);
        tail(&x->rep, "local stderr", lo->err, lo->err_len);
    }
}

/* What one local run says beyond its output: refused, left unhooked, or
 * not started, as expected or not.  expect.refused and expect.unhooked are
 * the layer's: under another engine the program runs and is compared. */
static void judge_local(case_run_t *x, const obs_t *lo)
{
    const shunt_runspec_t *r = x->r;
    shunt_case_result_t *res = x->res;
    int layer = x->engine == SHUNT_ENGINE_LAYER;
    const char *under = shunt_engine_under(x->engine);
    const char *why = lo->ran ? exec_failure(lo, !layer) : NULL;
    char *unhooked = unhooked_take(x->dir);
    if (layer && r->want_refused && res->status == SHUNT_CASE_PASS &&
        !(why && WEXITSTATUS(lo->wstatus) != 126)) {
        judge_refused(x, lo, why);
        why = NULL;
    }
    if (layer && r->want_unhooked && res->status == SHUNT_CASE_PASS && !why) {
        judge_unhooked(x, lo, unhooked);
        free(unhooked);
        unhooked = NULL;
    }
    if (why)
        set_status(x, SHUNT_CASE_ERROR, "the local run under %s could not start: %.*s",
                   under, (int)strcspn(why, "\n"), why);
    else if (unhooked && res->status == SHUNT_CASE_PASS)
        set_status(x, SHUNT_CASE_ERROR, "the local run under %s was not intercepted: %.900s",
                   under,
                   strncmp(unhooked, "shunt: not intercepted: ", 24) == 0
                       ? unhooked + 24
                       : unhooked);
    free(unhooked);
}

/* ---- traffic: -------------------------------------------------------------
 * The local run with a client: the program starts under the layer (harness
 * exec, as any local run), the runner waits until the session proxy lists
 * the subscription of traffic.wait.port, runs the client in its service
 * container, stops the program (SIGTERM, which harness exec forwards),
 * and checks traffic.expect; after_exit runs a second client until the
 * port is the target's own again. */

#define SETTLE_MS 3000

/* A client in its service container; its wait status, -2 when it timed
 * out, -1 when it could not run (x->err). */
static int run_client(case_run_t *x, const shunt_tclient_t *cl, const char *tag,
                      char **out, char **err)
{
    char ctr[96], outp[PATH_MAX], errp[PATH_MAX];
    size_t n = 0, len;
    snprintf(ctr, sizeof(ctr), "shunt-%s-%s", x->c->target, cl->service);
    char **argv = calloc(cl->n_command + 8, sizeof(char *));
    if (!argv)
        return snprintf(x->err, sizeof(x->err), "out of memory"), -1;
    argv[n++] = (char *)"runc";
    argv[n++] = (char *)"exec";
    argv[n++] = (char *)"--cwd";
    argv[n++] = (char *)"/";
    argv[n++] = ctr;
    for (size_t i = 0; i < cl->n_command; i++)
        argv[n++] = cl->command[i];
    (void)shunt_fmt(outp, sizeof(outp), "%s/%s.out", x->dir, tag);
    (void)shunt_fmt(errp, sizeof(errp), "%s/%s.err", x->dir, tag);
    int timed_out = 0;
    int st = shunt_proc_run(argv, NULL, NULL, NULL, outp, errp, cl->timeout_s * 1000,
                            &timed_out, x->err, sizeof(x->err));
    free(argv);
    *out = shunt_read_file(outp, OUT_MAX, &len);
    *err = shunt_read_file(errp, OUT_MAX, &len);
    unlink(outp);
    unlink(errp);
    if (st < 0)
        return -1;
    return timed_out ? -2 : st;
}

static void client_report(case_run_t *x, const char *what, int st, const char *out,
                          const char *err)
{
    char how[64];
    if (st == -2)
        snprintf(how, sizeof(how), "timed out");
    else
        describe(st, 0, how, sizeof(how));
    shunt_buf_printf(&x->rep, "  %s: %s\n", what, how);
    tail(&x->rep, "its stdout", out, out ? strlen(out) : 0);
    tail(&x->rep, "its stderr", err, err ? strlen(err) : 0);
}

/* traffic.after_exit: once the program has stopped, the client again
 * until its expectations hold, for after_within_ms at most. */
static void traffic_after(case_run_t *x, const shunt_traffic_t *t, uint64_t t_stop)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "after");
    for (int attempt = 1;; attempt++) {
        char *out = NULL, *err = NULL;
        int st = run_client(x, &t->after_client, tag, &out, &err);
        shunt_buf_t why = {0};
        int ok = st != -1 &&
                 shunt_traffic_judge(&t->after_expect, "traffic.after_exit.expect",
                                     st == -2 ? -1 : st, out, NULL, &why) == 0;
        uint64_t el = shunt_now_ms() - t_stop;
        if (ok) {
            shunt_buf_printf(&x->rep,
                             "traffic.after_exit: the port is the target's own again "
                             "(%llu ms after the program stopped, attempt %d)\n",
                             (unsigned long long)el, attempt);
        } else if (st == -1 || el >= (uint64_t)t->after_within_ms) {
            if (st == -1)
                set_status(x, SHUNT_CASE_ERROR, "traffic.after_exit.client: %.900s", x->err);
            else
                set_status(x, SHUNT_CASE_FAIL,
                           "traffic.after_exit: not the target's own service %d ms after "
                           "the program stopped: %.*s",
                           t->after_within_ms, (int)strcspn(why.p ? why.p : "", "\n"),
                           why.p ? why.p : "");
            shunt_buf_printf(&x->rep, "traffic.after_exit failed (attempt %d, %llu ms):\n%s",
                             attempt, (unsigned long long)el, why.p ? why.p : "");
            client_report(x, "the after_exit client", st, out, err);
            ok = 1;
        }
        shunt_buf_free(&why);
        free(out);
        free(err);
        if (ok)
            return;
        usleep(100 * 1000);
    }
}

/* Lines in the file at path (its newlines). */
static long count_lines(const char *path)
{
    size_t len = 0;
    char *t = shunt_read_file(path, OUT_MAX, &len);
    long n = 0;
    for (size_t i = 0; t && i < len; i++)
        n += t[i] == '\n';
    free(t);
    return n;
}

/* How many lines the program's stdout should end with, as far as
 * traffic.expect says (-1: it does not say). */
static long want_program_lines(const shunt_texpect_t *e, const char *client_out)
{
    if (e->program_lines >= 0)
        return e->program_lines;
    if (e->program_stdout_set)
        return (long)e->n_program_stdout;
    if (!e->program_mirrors || !client_out)
        return -1;
    regex_t re;
    if (regcomp(&re, e->program_mirrors, REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    long n = 0;
    char *copy = strdup(client_out), *save = NULL;
    for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
        n += regexec(&re, l, 0, NULL, 0) == 0;
    free(copy);
    regfree(&re);
    return n;
}

/* Stops the program's harness exec: SIGTERM (forwarded to the program),
 * SIGKILL to its group 5 s later; its wait status. */
static int stop_program(pid_t pid, int *st)
{
    kill(pid, SIGTERM);
    int to = 0;
    return shunt_proc_wait_until(pid, shunt_now_ms() + 5000, -1, NULL, st, &to);
}

static void traffic_run(case_run_t *x, int i, const char *tag)
{
    const shunt_runspec_t *r = x->r;
    const shunt_traffic_t *t = r->traffic;
    obs_t *o = &x->loc[i];
    char outp[PATH_MAX], errp[PATH_MAX], idir[PATH_MAX], line[256] = "";
    (void)shunt_fmt(outp, sizeof(outp), "%s/%s.out", x->dir, tag);
    (void)shunt_fmt(errp, sizeof(errp), "%s/%s.err", x->dir, tag);
    (void)shunt_fmt(idir, sizeof(idir), "%s/%s/incoming", SHUNT_STATE_ROOT, x->c->target);
    int in = open(x->stdin_path ? x->stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int er = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    shunt_proc_t p = {.argv = x->largv, .cwd = r->cwd, .stdio = {in, out, er},
                      .flags = SHUNT_PROC_GROUP | SHUNT_PROC_SEARCH};
    int rc = in >= 0 && out >= 0 && er >= 0 ? shunt_proc_spawn(&p, NULL) : -errno;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (er >= 0)
        close(er);
    if (rc < 0) {
        set_status(x, SHUNT_CASE_ERROR, "local run: cannot start %s: %s", x->largv[0],
                   strerror(-rc));
        return;
    }
    /* 1. the subscription */
    uint64_t t0 = shunt_now_ms(), wait_end = t0 + (uint64_t)t->wait_timeout_s * 1000;
    int st = 0, ended = 0, subscribed = 0;
    while (!shunt_proc_interrupted) {
        if ((subscribed = shunt_incoming_lists_port(idir, t->wait_port, line, sizeof(line))))
            break;
        if (waitpid(p.pid, &st, WNOHANG) == p.pid) {
            ended = 1;
            break;
        }
        if (shunt_now_ms() >= wait_end)
            break;
        usleep(50 * 1000);
    }
    uint64_t t_sub = shunt_now_ms() - t0;
    char *cout = NULL, *cerr = NULL;
    int cst = 0, ran_client = 0;
    if (subscribed) {
        shunt_buf_printf(&x->rep, "traffic.wait: subscription \"%s\" after %llu ms\n", line,
                         (unsigned long long)t_sub);
        /* 2. the client */
        char ctag[48];
        snprintf(ctag, sizeof(ctag), "%s.client", tag);
        cst = run_client(x, &t->client, ctag, &cout, &cerr);
        ran_client = cst != -1;
        if (cst == -1)
            set_status(x, SHUNT_CASE_ERROR, "traffic.client: %.900s", x->err);
        if (!ended && waitpid(p.pid, &st, WNOHANG) == p.pid) {
            ended = 1;
            describe(st, 0, o->how, sizeof(o->how));
            shunt_buf_printf(&x->rep, "the program ended (%s) before the client was done\n",
                             o->how);
        }
    }
    /* 3. stop the program, once it has printed what traffic.expect waits
     * for (a mirror's copy may still be on its way when the client is
     * done): up to SETTLE_MS */
    long want = subscribed && ran_client ? want_program_lines(&t->expect, cout) : -1;
    for (uint64_t until = shunt_now_ms() + SETTLE_MS;
         want >= 0 && !ended && count_lines(outp) < want && shunt_now_ms() < until;)
        usleep(20 * 1000);
    if (!ended && stop_program(p.pid, &st) < 0)
        st = 0;
    uint64_t t_stop = shunt_now_ms();
    o->ran = 1;
    o->wstatus = st;
    describe(st, 0, o->how, sizeof(o->how));
    size_t len;
    o->out = shunt_read_file(outp, OUT_MAX, &o->out_len);
    o->err = shunt_read_file(errp, OUT_MAX, &o->err_len);
    if (o->out)
        o->out = denul(o->out, &o->out_len);
    if (o->err)
        o->err = denul(o->err, &o->err_len);
    if (!o->out || !o->err) {
        set_status(x, SHUNT_CASE_ERROR, "cannot read the output of %s: %s", tag,
                   strerror(errno));
        goto out;
    }
    (void)len;
    if (exec_failure(o, x->engine != SHUNT_ENGINE_LAYER)) /* judge_local says so */
        goto out;
    if (!subscribed) {
        if (shunt_proc_interrupted)
            set_status(x, SHUNT_CASE_ERROR, "interrupted");
        else if (ended)
            set_status(x, SHUNT_CASE_FAIL,
                       "traffic.wait: the program ended (%s) before the target's port %d "
                       "was subscribed",
                       o->how, t->wait_port);
        else
            set_status(x, SHUNT_CASE_FAIL,
                       "traffic.wait: no subscription of the target's port %d within %d s "
                       "(no line \"%d ...\" in %s/*)",
                       t->wait_port, t->wait_timeout_s, t->wait_port, idir);
        tail(&x->rep, "the program's stderr", o->err, o->err_len);
        tail(&x->rep, "the program's stdout", o->out, o->out_len);
        goto out;
    }
    if (!ran_client)
        goto out;
    /* 4. what the client got, what the program printed */
    shunt_buf_t why = {0};
    if (shunt_traffic_judge(&t->expect, "traffic.expect", cst == -2 ? -1 : cst, cout, o->out,
                            &why) < 0) {
        set_status(x, SHUNT_CASE_FAIL, "%.*s", (int)strcspn(why.p ? why.p : "", "\n"),
                   why.p ? why.p : "");
        shunt_buf_printf(&x->rep, "traffic expectations not met:\n%s", why.p ? why.p : "");
        client_report(x, "the client", cst, cout, cerr);
        shunt_buf_printf(&x->rep, "  the program: %s\n", o->how);
        tail(&x->rep, "the program's stdout", o->out, o->out_len);
        tail(&x->rep, "the program's stderr", o->err, o->err_len);
    } else {
        shunt_buf_printf(&x->rep, "traffic: the client's and the program's output as "
                                  "expected\n");
    }
    shunt_buf_free(&why);
    /* 5. the port goes back */
    if (t->has_after && x->res->status == SHUNT_CASE_PASS)
        traffic_after(x, t, t_stop);
out:
    free(cout);
    free(cerr);
}

/* 4. the local runs */
static void case_local_runs(case_run_t *x)
{
    const shunt_runspec_t *r = x->r;
    shunt_case_result_t *res = x->res;
    struct stat cst;
    if (res->status == SHUNT_CASE_PASS && r->run_local &&
        (stat(r->cwd, &cst) < 0 || !S_ISDIR(cst.st_mode)))
        set_status(x, SHUNT_CASE_SKIP, "program.cwd %s does not exist on this machine",
                   r->cwd);
    /* the local run (and the recorder's) start in CWD with PWD=CWD; this
     * process is the case's worker, so its environment is the case's */
    setenv("PWD", r->cwd, 1);
    for (int i = 0; res->status == SHUNT_CASE_PASS && r->run_local && i < r->repeat; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "local%d", i);
        clear_files(r, x->root);
        if (reset_files(x) < 0)
            break;
        uint64_t t0 = shunt_now_ms();
        if (r->traffic)
            traffic_run(x, i, tag);
        else if (run_once(x->largv, r->cwd, x->stdin_path, x->dir, tag, x->tmo, &x->loc[i],
                          x->err, sizeof(x->err)) < 0)
            set_status(x, SHUNT_CASE_ERROR, "local run: %.1000s", x->err);
        res->t_local += secs(t0);
        x->loc[i].files = snapshot_files(r, x->root, 1, 1);
        if (x->journal || x->sjournal)
            x->loc[i].journal = journal_take(-1, x->dir, "journal");
        judge_local(x, &x->loc[i]);
    }
    if (shunt_proc_interrupted && res->status != SHUNT_CASE_ERROR)
        set_status(x, SHUNT_CASE_ERROR, "interrupted");
}

/* expect.status on run i (the reference's, or the local one's alone);
 * 0 when it holds. */
static int check_status(case_run_t *x, int i, const char *suffix)
{
    const shunt_runspec_t *r = x->r;
    obs_t *main = r->run_reference ? &x->ref[i] : &x->loc[i];
    int status_ok =
        !main->timed_out &&
        ((WIFEXITED(main->wstatus) && WEXITSTATUS(main->wstatus) == r->want_status) ||
         (r->want_signal && WIFSIGNALED(main->wstatus) &&
          WTERMSIG(main->wstatus) == r->want_signal));
    if (r->want_status < 0 || status_ok)
        return 0;
    char want[64];
    if (r->want_signal)
        snprintf(want, sizeof(want), "killed by SIG%s (or exit %d)",
                 sigabbrev_np(r->want_signal), r->want_status);
    else
        snprintf(want, sizeof(want), "exit %d", r->want_status);
    if (r->run_reference) {
        x->ref_bad = 1;
        set_status(x, SHUNT_CASE_FAIL, "the reference run%s: %s, expected %s (expect.status)",
                   suffix, main->how, want);
    } else {
        set_status(x, SHUNT_CASE_FAIL, "the local run%s under %s: %s, expected %s "
                                       "(expect.status)",
                   suffix, shunt_engine_under(x->engine), main->how, want);
    }
    tail(&x->rep, "its stderr", main->err, main->err_len);
    tail(&x->rep, "its stdout", main->out, main->out_len);
    return -1;
}

/* Both journals of run i, filtered as expect.journal says, compared. */
static int compare_journals(case_run_t *x, int i, const char *suffix, char *seen)
{
    const shunt_runspec_t *r = x->r;
    const char *ref = x->engine == SHUNT_ENGINE_SUPERVISOR ? x->ref[i].sjournal
                                                           : x->ref[i].journal;
    char *ja = shunt_journal_prepare(ref, r->journal_calls,
                                     r->n_journal_calls, r->journal_exclude,
                                     r->n_journal_exclude, r->journal_skip_paths,
                                     r->n_journal_skip_paths);
    char *jb = shunt_journal_prepare(x->loc[i].journal, r->journal_calls,
                                     r->n_journal_calls, r->journal_exclude,
                                     r->n_journal_exclude, r->journal_skip_paths,
                                     r->n_journal_skip_paths);
    int w = 2;
    if (ja && jb)
        w = compare_stream(r, SHUNT_OBS_JOURNAL, ja, strlen(ja), jb, strlen(jb),
                           x->o->color, suffix, x->engine, seen, &x->rep);
    free(ja);
    free(jb);
    return w;
}

/* The exit statuses of run i: 0 same, 1 a known divergence, 2 differ. */
static int compare_exits(case_run_t *x, int i, const char *suffix, char *seen)
{
    const shunt_runspec_t *r = x->r;
    const obs_t *a = &x->ref[i], *b = &x->loc[i];
    if (!r->cmp_exit || strcmp(a->how, b->how) == 0)
        return 0;
    const shunt_divergence_t *hit = NULL;
    for (size_t d = 0; d < r->n_divergences && !hit; d++)
        if (r->divergences[d].in == SHUNT_OBS_EXIT &&
            (r->divergences[d].engines & SHUNT_ENGINE_BIT(x->engine))) {
            hit = &r->divergences[d];
            seen[d] = 1;
        }
    const char *under = shunt_engine_under(x->engine);
    if (hit) {
        shunt_buf_printf(&x->rep,
                         "known divergence in exit%s under %s: %s\n  reference: %s, local: %s\n",
                         suffix, under, hit->reason, a->how, b->how);
        return 1;
    }
    shunt_buf_printf(&x->rep, "exit status%s differs under %s: reference %s, local %s\n",
                     suffix, under, a->how, b->how);
    return 2;
}

/* Run i's reference against its local run: every observation the case
 * compares; the case's status from the worst. */
static void compare_run(case_run_t *x, int i, const char *suffix, char *seen)
{
    const shunt_runspec_t *r = x->r;
    const obs_t *a = &x->ref[i], *b = &x->loc[i];
    int worst = 0, w;
    const char *first = NULL;
#define NOTE(w_, what)                                                        \
    do {                                                                      \
        w = (w_);                                                             \
        if (w == 2 && !first)                                                 \
            first = (what);                                                   \
        worst = w > worst ? w : worst;                                        \
    } while (0)
    const char *under = shunt_engine_under(x->engine);
    if (r->cmp_stdout)
        NOTE(compare_stream(r, SHUNT_OBS_STDOUT, a->out, a->out_len, b->out, b->out_len,
                            x->o->color, suffix, x->engine, seen, &x->rep),
             "stdout differs");
    if (r->cmp_stderr)
        NOTE(compare_stream(r, SHUNT_OBS_STDERR, a->err, a->err_len, b->err, b->err_len,
                            x->o->color, suffix, x->engine, seen, &x->rep),
             "stderr differs");
    if (r->n_files)
        NOTE(compare_stream(r, SHUNT_OBS_FILES, a->files, strlen(a->files), b->files,
                            strlen(b->files), x->o->color, suffix, x->engine, seen, &x->rep),
             "files written differ");
    if (((x->journal && x->engine == SHUNT_ENGINE_LAYER && a->journal) ||
         (x->sjournal && x->engine == SHUNT_ENGINE_SUPERVISOR && a->sjournal)) &&
        b->journal)
        NOTE(compare_journals(x, i, suffix, seen), "the call journal differs");
    NOTE(compare_exits(x, i, suffix, seen), "exit status differs");
#undef NOTE
    if (worst == 2) {
        set_status(x, SHUNT_CASE_FAIL, "%s%s under %s", first, suffix, under);
        if (!r->cmp_stderr)
            tail(&x->rep, "local stderr", b->err, b->err_len);
    } else if (worst == 1) {
        x->res->status = SHUNT_CASE_KNOWN;
    }
}

/* 5. compare */
static void case_compare(case_run_t *x)
{
    const shunt_runspec_t *r = x->r;
    shunt_case_result_t *res = x->res;
    uint64_t t0 = shunt_now_ms();
    char *seen = calloc(r->n_divergences + 1, 1);
    if (!seen)
        set_status(x, SHUNT_CASE_ERROR, "out of memory");
    for (int i = 0; res->status == SHUNT_CASE_PASS && i < r->repeat; i++) {
        char suffix[32] = "";
        if (r->repeat > 1)
            snprintf(suffix, sizeof(suffix), " #%d", i + 1);
        if (check_status(x, i, suffix) < 0)
            break;
        if (r->run_reference && r->run_local && !x->refused)
            compare_run(x, i, suffix, seen);
    }
    if (res->status == SHUNT_CASE_PASS || res->status == SHUNT_CASE_KNOWN) {
        /* declared but not seen: say so, so stale declarations get removed */
        for (size_t d = 0; d < r->n_divergences; d++)
            if (!seen[d] && !(r->divergences[d].in == SHUNT_OBS_JOURNAL &&
                              x->engine != SHUNT_ENGINE_LAYER) &&
                (!x->has_engine || (r->divergences[d].engines & SHUNT_ENGINE_BIT(x->engine))))
                shunt_buf_printf(&x->rep, "declared divergence in %s not observed%s%s: %s\n",
                                 shunt_obs_name(r->divergences[d].in),
                                 x->has_engine ? " under " : "",
                                 x->has_engine ? shunt_engine_under(x->engine) : "",
                                 r->divergences[d].reason);
    }
    free(seen);
    res->t_diff += secs(t0);
}

/* --show-output: every run's stdout and stderr in the report (the
 * reference's with the first engine's local runs). */
static void case_show_output(case_run_t *x, int with_ref)
{
    const shunt_runspec_t *r = x->r;
    for (int i = 0; i < r->repeat; i++) {
        char lab[96];
        const char *sfx = r->repeat > 1 ? " #" : "";
        for (int side = !with_ref; side < 2; side++) {
            const obs_t *ob = side ? &x->loc[i] : &x->ref[i];
            if (!ob->ran)
                continue;
            snprintf(lab, sizeof(lab), "%s%s%.0d%s%s", side ? "local" : "reference", sfx,
                     r->repeat > 1 ? i + 1 : 0, side ? " under " : "",
                     side ? shunt_engine_under(x->engine) : "");
            shunt_buf_printf(&x->rep, "%s run: %s\n", lab, ob->how);
            show(&x->rep, "stdout", ob->out, ob->out_len);
            show(&x->rep, "stderr", ob->err, ob->err_len);
        }
    }
}

/* 6. leaks, through the recorder (leaks.c): expect.no_leaks wants none,
 * expect.leaks exactly the listed ones (a canary proves the detector) */
static void case_leaks(case_run_t *x)
{
    const shunt_runspec_t *r = x->r;
    shunt_case_result_t *res = x->res;
    const char *key = r->no_leaks ? "expect.no_leaks" : "expect.leaks";
    shunt_leaks_input_t li = {.target = x->c->target, .init_pid = x->info.init_pid,
                              .scenario = x->scen_abs, .argv = x->pargv, .cwd = r->cwd,
                              .stdin_path = x->stdin_path, .timeout_ms = x->tmo,
                              .engine = shunt_engine_name(x->engine)};
    const char *under = shunt_engine_under(x->engine);
    char *lr = NULL;
    uint64_t t0 = shunt_now_ms();
    int lrc = shunt_leaks_check(&li, &lr);
    res->t_leaks += secs(t0);
    if (lrc == SHUNT_LEAKS_UNAVAILABLE) {
        set_status(x, SHUNT_CASE_SKIP, "%s: %s (under %s)", key, lr ? lr : "not available",
                   under);
    } else if (lrc == SHUNT_LEAKS_ERROR) {
        set_status(x, SHUNT_CASE_ERROR, "leak recorder under %s: %s", under,
                   lr ? lr : "failed");
    } else {
        char why[512];
        if (leaks_match(r, lrc == SHUNT_LEAKS_FOUND ? lr : NULL, why, sizeof(why))) {
            if (r->leaks_listed)
                shunt_buf_printf(&x->rep,
                                 "leaks under %s: the %zu expected leak%s reported, nothing "
                                 "else\n%s",
                                 under, r->n_leaks, r->n_leaks == 1 ? "" : "s", lr ? lr : "");
        } else {
            set_status(x, SHUNT_CASE_FAIL, "%s: %s (under %s)", key, why, under);
            shunt_buf_printf(&x->rep, "leaks reported by the recorder under %s:\n%s\n", under,
                             lr && *lr ? lr : "(none)\n");
        }
    }
    free(lr);
}

/* The target: down, left up (it was up before), or kept (--keep) with the
 * command that runs the local side again. */
static void case_target_down(case_run_t *x)
{
    shunt_case_t *c = x->c;
    const shunt_scenario_t *s = c->s;
    if (c->group) /* the group's target: the last case decides */
        x->up = c->more ? 0 : c->group->up;
    if (x->root >= 0)
        close(x->root);
    if (x->up == 2) {
        shunt_buf_printf(&x->rep,
                         "target %s was already up with this configuration: used and left up\n",
                         c->target);
    } else if (x->up && !x->o->keep) {
        char derr[2048];
        if (shunt_target_down(c->target, derr, sizeof(derr)) < 0)
            shunt_buf_printf(&x->rep, "harness down %s: %s\n", c->target, derr);
    } else if (x->up) {
        shunt_buf_printf(&x->rep,
                         "target %s kept; the local run again: (cd %s && harness exec "
                         "--target %s --engine %s%s%s --",
                         c->target, x->r->cwd, c->target, shunt_engine_name(x->engine),
                         s->layer ? " --config " : "", s->layer ? s->file : "");
        for (size_t i = 0; c->built.argv && c->built.argv[i]; i++)
            shunt_buf_printf(&x->rep, " %s", c->built.argv[i]);
        shunt_buf_printf(&x->rep, ")\n");
        if (x->r->traffic) { /* and the client, once the port is taken */
            const shunt_tclient_t *cl = &x->r->traffic->client;
            shunt_buf_printf(&x->rep, "  the traffic client: runc exec shunt-%s-%s", c->target,
                             cl->service);
            for (size_t i = 0; i < cl->n_command; i++)
                shunt_buf_printf(&x->rep, " %s", cl->command[i]);
            shunt_buf_printf(&x->rep, "\n");
        }
    }
}

/* The case's directory and what was read of it. */
static void case_cleanup(case_run_t *x)
{
    const shunt_runspec_t *r = x->r;
    for (int i = 0; x->ref && x->loc && i < r->repeat; i++) {
        obs_free(&x->ref[i]);
        obs_free(&x->loc[i]);
    }
    free(x->ref);
    free(x->loc);
    free(x->pargv);
    free(x->rargv);
    free(x->largv);
    free(x->sargv);
    if (!x->dir[0])
        return;
    char p[PATH_MAX];
    if (shunt_fmt(p, sizeof(p), "%s/stdin", x->dir) == 0)
        unlink(p);
    for (int i = 0; i < r->repeat; i++)
        for (int j = 0; j < 4; j++) {
            static const char *const f[] = {"ref", "ref", "local", "local"};
            if (shunt_fmt(p, sizeof(p), "%s/%s%d.%s", x->dir, f[j], i,
                          j % 2 ? "err" : "out") == 0)
                unlink(p);
        }
    rmdir(x->dir);
}

/* Something the case expects that was not checked under an engine: one
 * line of the report and of res->unchecked, so that a pass says what it
 * did not cover. */
static void note_unchecked(case_run_t *x, const char *what, const char *why)
{
    char *u = x->res->unchecked;
    size_t l = strlen(u);
    snprintf(u + l, sizeof(x->res->unchecked) - l, "%s%s under %s", l ? "\n" : "", what,
             shunt_engine_under(x->engine));
    shunt_buf_printf(&x->rep, "not checked under %s: %s (%s)\n",
                     shunt_engine_under(x->engine), what, why);
}

/* The severity of a verdict, for the worst of the engines' verdicts. */
static int severity(shunt_case_status_t st)
{
    switch (st) {
    case SHUNT_CASE_PASS: return 0;
    case SHUNT_CASE_KNOWN: return 1;
    case SHUNT_CASE_SKIP: return 2;
    case SHUNT_CASE_FAIL: return 3;
    case SHUNT_CASE_ERROR: return 4;
    }
    return 4;
}

/* The local side under x->engine, compared with the reference: its own
 * verdict into res->engine_status (res->status and res->reason are the
 * engine's on return). */
static void case_engine(case_run_t *x, int first)
{
    const shunt_runspec_t *r = x->r;
    shunt_case_result_t *res = x->res;
    shunt_engine_t e = x->engine;
    double t_local = res->t_local;
    res->status = SHUNT_CASE_PASS;
    res->reason[0] = 0;
    x->refused = 0;
    if (x->has_engine)
        case_local_argv(x);
    case_local_runs(x);
    case_compare(x);
    if (x->o->show_output)
        case_show_output(x, first);
    if (!x->has_engine)
        return;
    /* the recorder repeats this engine's run (harness exec --record
     * --engine E) */
    if ((res->status == SHUNT_CASE_PASS || res->status == SHUNT_CASE_KNOWN) &&
        (r->no_leaks || r->leaks_listed) && !x->refused)
        case_leaks(x);
    res->engines |= SHUNT_ENGINE_BIT(e);
    res->engine_status[e] = res->status;
    res->t_engine[e] = res->t_local - t_local;
    if (e == SHUNT_ENGINE_AUTO && r->cmp_journal && r->run_reference)
        note_unchecked(x, "expect.journal",
                       "the layer's journal and the supervisor's differ in kind, and "
                       "harness exec chooses the engine");
    if (e != SHUNT_ENGINE_LAYER && (r->want_refused || r->want_unhooked))
        shunt_buf_printf(&x->rep, "expect.%s is the layer's: under %s the program ran and "
                                  "was compared\n",
                         r->want_refused ? "refused" : "unhooked", shunt_engine_under(e));
}

/* The local side once per engine of the case (c->engines, in order),
 * each against the one reference; the case's verdict is the worst, its
 * reason that engine's (the first with it). */
static void case_engines(case_run_t *x)
{
    shunt_case_result_t *res = x->res;
    const shunt_runspec_t *r = x->r;
    if (!r->run_local) { /* the reference alone: its status is all (and the
                            recorder's, under the first engine) */
        case_engine(x, 1);
        if ((res->status == SHUNT_CASE_PASS || res->status == SHUNT_CASE_KNOWN) &&
            (r->no_leaks || r->leaks_listed))
            case_leaks(x);
        return;
    }
    shunt_case_status_t worst = SHUNT_CASE_PASS;
    char reason[sizeof(res->reason)] = "";
    int first = 1;
    for (int e = 0; e < SHUNT_ENGINE_COUNT; e++) {
        if (!(x->c->engines & SHUNT_ENGINE_BIT(e)))
            continue;
        x->engine = (shunt_engine_t)e;
        x->has_engine = 1;
        case_engine(x, first);
        first = 0;
        if (severity(res->status) > severity(worst)) {
            worst = res->status;
            memcpy(reason, res->reason, sizeof(reason));
        }
        for (int i = 0; i < r->repeat; i++)
            obs_free(&x->loc[i]);
        if (x->ref_bad || shunt_proc_interrupted)
            break;
    }
    res->status = worst;
    memcpy(res->reason, reason, sizeof(reason));
}

void shunt_run_case(shunt_case_t *c, const shunt_run_opts_t *o,
                    shunt_case_result_t *res, char **report)
{
    uint64_t t_all = shunt_now_ms();
    const shunt_runspec_t *r = c->run;
    case_run_t *x = calloc(1, sizeof(*x));
    *report = NULL;
    res->status = SHUNT_CASE_PASS;
    if (!x) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        res->t_total = secs(t_all);
        return;
    }
    *x = (case_run_t){.c = c, .o = o, .r = r, .res = res, .root = -1,
                      .ref = calloc((size_t)r->repeat, sizeof(obs_t)),
                      .loc = calloc((size_t)r->repeat, sizeof(obs_t))};
    /* the first engine names the local run until the engines run (the
     * --keep line, a case that stops before) */
    for (int e = SHUNT_ENGINE_COUNT - 1; e >= 0; e--)
        if (c->engines & SHUNT_ENGINE_BIT(e))
            x->engine = (shunt_engine_t)e;
    if (case_prepare(x) == 0 && case_target(x) == 0 && case_argv(x) == 0) {
        case_ref_runs(x);
        if (res->status == SHUNT_CASE_PASS)
            case_engines(x);
    }
    case_target_down(x);
    case_cleanup(x);
    res->t_total = secs(t_all);
    *report = x->rep.p;
    free(x);
}
