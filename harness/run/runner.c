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
#include "shunt/util.h"
#include "shunt/target.h"

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

/* What one run of the program showed. */
typedef struct {
    char *out, *err, *files, *journal;
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
                          const char *suffix, char *seen, shunt_buf_t *rep)
{
    char *na = shunt_normalise(a, alen, r->norms, r->n_norms, kind);
    char *nb = shunt_normalise(b, blen, r->norms, r->n_norms, kind);
    shunt_diff_t d;
    char la[96], lb[96];
    snprintf(la, sizeof(la), "reference %s%s (in the target)", shunt_obs_name(kind), suffix);
    snprintf(lb, sizeof(lb), "local %s%s (under the layer)", shunt_obs_name(kind), suffix);
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
                shunt_diff_only_lines(&d, r->divergences[i].lines)) {
                hit = &r->divergences[i];
                seen[i] = 1;
            }
        if (hit) {
            shunt_buf_printf(rep, "known divergence in %s%s: %s\n%s", shunt_obs_name(kind), suffix,
                hit->reason, d.text);
            rc = 1;
        } else {
            shunt_buf_printf(rep, "%s%s differs:\n%s", shunt_obs_name(kind), suffix, d.text);
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

/* "harness exec: ..." on the local run's stderr with its own exit codes:
 * the session could not start, which is not the program's doing. */
static const char *exec_failure(const obs_t *o)
{
    if (!WIFEXITED(o->wstatus))
        return NULL;
    int code = WEXITSTATUS(o->wstatus);
    if (code != 1 && code != 126 && code != 127)
        return NULL;
    const char *s = o->err;
    while (s && *s) {
        if (strncmp(s, "harness exec: ", 14) == 0)
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
 * `harness exec --journal`. */

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

/* Removes journal and the exec side files journal.tag.PID from the
 * directory DFD (closed). */
static void journal_clean(int dfd)
{
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "journal", 7) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

/* Reads DIR/journal (missing: empty) and cleans up after it: DIR on this
 * host (root < 0) or inside the target's root fd. */
static char *journal_take(int root, const char *dir)
{
    size_t len = 0;
    int dfd = root >= 0 ? shunt_inroot_opendir(root, dir)
                        : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *t = dfd >= 0 ? shunt_inroot_read_at(dfd, "journal", OUT_MAX, &len) : NULL;
    journal_clean(dfd);
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

void shunt_run_case(shunt_case_t *c, const shunt_run_opts_t *o,
                    shunt_case_result_t *res, char **report)
{
    shunt_scenario_t *s = c->s;
    const shunt_runspec_t *r = c->run;
    shunt_buf_t rep = {0};
    uint64_t t_all = shunt_now_ms();
    char err[8192], dir[PATH_MAX] = "";
    obs_t *ref = calloc((size_t)r->repeat, sizeof(obs_t));
    obs_t *loc = calloc((size_t)r->repeat, sizeof(obs_t));
    int up = 0, root = -1;
    shunt_target_info_t info;
    res->status = SHUNT_CASE_PASS;
    *report = NULL;
    if (!ref || !loc) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        goto out;
    }
    if (c->skip[0]) {
        res->status = SHUNT_CASE_SKIP;
        snprintf(res->reason, sizeof(res->reason), "%s", c->skip);
        goto out;
    }
    if (c->build_err[0]) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "the program did not build");
        shunt_buf_printf(&rep, "%s\n", c->build_err);
        goto out;
    }
    if (geteuid() != 0) {
        res->status = SHUNT_CASE_SKIP;
        snprintf(res->reason, sizeof(res->reason),
                 "needs root (runc and network namespaces)");
        goto out;
    }
    snprintf(dir, sizeof(dir), "/tmp/shunt-run-XXXXXX");
    if (!mkdtemp(dir)) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "mkdtemp: %s", strerror(errno));
        dir[0] = 0;
        goto out;
    }
    char in_path[PATH_MAX];
    const char *stdin_path = NULL;
    if (r->stdin_text) {
        snprintf(in_path, sizeof(in_path), "%s/stdin", dir);
        if (write_text(in_path, r->stdin_text) < 0) {
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason), "%.500s: %s", in_path, strerror(errno));
            goto out;
        }
        stdin_path = in_path;
    }

    /* 1. the target, under this case's name */
    uint64_t t0 = shunt_now_ms();
    s->target.name = c->target;
    shunt_up_opts_t uo = {.init_path = o->init_path};
    int urc = shunt_target_up(s, &uo, &info, err, sizeof(err));
    if (urc < 0) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "target %s did not start", c->target);
        shunt_buf_printf(&rep, "harness up: %s\n", err);
        goto out;
    }
    up = urc == 1 ? 2 : 1; /* 2: it was up before this case: leave it up */
    if (c->group) {
        if (!c->group->up)
            c->group->up = up;
        up = c->group->up;
    }
    if (shunt_proc_interrupted) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "interrupted");
        goto out;
    }
    /* 2. the program at the same path inside */
    if ((root = shunt_inroot_open_root(info.init_pid)) < 0) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "target %s: the root of pid %d: %s",
                 c->target, info.init_pid, strerror(errno));
        goto out;
    }
    if (c->built.dir[0] && shunt_inroot_copy(c->built.dir, root, c->built.dir) < 0) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason),
                 "cannot copy the program into the target (%.800s): %s%s", c->built.dir,
                 strerror(errno),
                 errno == ELOOP ? " (a symbolic link in the target is in the way)" : "");
        goto out;
    }
    res->t_target = secs(t0);

    /* argv with program.env: `env K=V... PROG ARGS` on both sides */
    size_t na = 0;
    while (c->built.argv[na])
        na++;
    char **pargv = calloc(na + r->n_env + 2, sizeof(char *));
    size_t k = 0;
    if (!pargv) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        goto out;
    }
    if (r->n_env) {
        pargv[k++] = (char *)"/usr/bin/env";
        for (size_t i = 0; i < r->n_env; i++)
            pargv[k++] = r->env[i];
    }
    for (size_t i = 0; i < na; i++)
        pargv[k++] = c->built.argv[i];
    size_t np = k;
    char ctr[96];
    snprintf(ctr, sizeof(ctr), "shunt-%s-target", c->target);
    char **rargv = calloc(np + 16, sizeof(char *));
    char **largv = calloc(np + 16, sizeof(char *));
    if (!rargv || !largv) {
        free(pargv);
        free(rargv);
        free(largv);
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        goto out;
    }
    /* expect.journal: the layer inside the target, the journal's dirs */
    int journal = r->cmp_journal && r->run_reference && r->run_local;
    char lib[PATH_MAX], env_pre[PATH_MAX + 16], env_jn[PATH_MAX + 16], jpath[PATH_MAX];
    if (journal) {
        /* in the target only through its root fd; a copy from an earlier
         * case in a kept target is replaced, never written through */
        int tfd = -1, ok = layer_path(o->harness, lib) == 0 &&
                           (tfd = shunt_inroot_mkdir_p(root, dir, 0755)) >= 0 &&
                           shunt_inroot_copy(lib, root, lib) == 0;
        if (tfd >= 0)
            close(tfd);
        if (!ok) {
            free(pargv);
            free(rargv);
            free(largv);
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason),
                     "expect.journal: cannot put the layer into the target: %s",
                     strerror(errno));
            goto out;
        }
        snprintf(env_pre, sizeof(env_pre), "LD_PRELOAD=%s", lib);
        snprintf(jpath, sizeof(jpath), "%s/journal", dir);
        snprintf(env_jn, sizeof(env_jn), "SHUNT_JOURNAL=%s", jpath);
    }
    k = 0;
    rargv[k++] = (char *)"runc";
    rargv[k++] = (char *)"exec";
    if (journal) {
        rargv[k++] = (char *)"--env";
        rargv[k++] = env_pre;
        rargv[k++] = (char *)"--env";
        rargv[k++] = (char *)"SHUNT_MODE=observe";
        rargv[k++] = (char *)"--env";
        rargv[k++] = env_jn;
    }
    /* PWD names the case's directory in both runs: runc exec sets none,
     * and the local run would inherit the harness's own (a shell stats
     * $PWD at start-up, which the journal shows) */
    char env_pwd[PATH_MAX + 8];
    snprintf(env_pwd, sizeof(env_pwd), "PWD=%s", r->cwd);
    rargv[k++] = (char *)"--env";
    rargv[k++] = env_pwd;
    rargv[k++] = (char *)"--cwd";
    rargv[k++] = r->cwd;
    rargv[k++] = ctr;
    for (size_t i = 0; i < np; i++)
        rargv[k++] = pargv[i];
    k = 0;
    largv[k++] = (char *)o->harness;
    largv[k++] = (char *)"exec";
    largv[k++] = (char *)"--target";
    largv[k++] = c->target;
    char scen_abs[PATH_MAX];
    if (!realpath(s->file, scen_abs))
        snprintf(scen_abs, sizeof(scen_abs), "%s", s->file);
    if (s->layer) {
        largv[k++] = (char *)"--config";
        largv[k++] = scen_abs;
    }
    if (journal) {
        largv[k++] = (char *)"--journal";
        largv[k++] = jpath;
    }
    char upath[PATH_MAX];
    snprintf(upath, sizeof(upath), "%s/unhooked", dir);
    largv[k++] = (char *)"--unhooked-file";
    largv[k++] = upath;
    largv[k++] = (char *)"--";
    for (size_t i = 0; i < np; i++)
        largv[k++] = pargv[i];
    int tmo = r->timeout_s * 1000;

    /* 3. the reference runs, then 4. the local runs */
    for (int i = 0; res->status == SHUNT_CASE_PASS && r->run_reference && i < r->repeat; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "ref%d", i);
        clear_files(r, root);
        t0 = shunt_now_ms();
        if (run_once(rargv, NULL, stdin_path, dir, tag, tmo, &ref[i], err, sizeof(err)) < 0) {
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason), "reference run: %.1000s", err);
        }
        res->t_ref += secs(t0);
        ref[i].files = snapshot_files(r, root, 0, 1);
        if (journal)
            ref[i].journal = journal_take(root, dir);
    }
    struct stat cst;
    if (res->status == SHUNT_CASE_PASS && r->run_local &&
        (stat(r->cwd, &cst) < 0 || !S_ISDIR(cst.st_mode))) {
        res->status = SHUNT_CASE_SKIP;
        snprintf(res->reason, sizeof(res->reason),
                 "program.cwd %s does not exist on this machine", r->cwd);
    }
    int refused = 0; /* refused or left unhooked as expected: nothing compared, no recorder */
    /* the local run (and the recorder's) start in CWD with PWD=CWD; this
     * process is the case's worker, so its environment is the case's */
    setenv("PWD", r->cwd, 1);
    for (int i = 0; res->status == SHUNT_CASE_PASS && r->run_local && i < r->repeat; i++) {
        char tag[32];
        snprintf(tag, sizeof(tag), "local%d", i);
        clear_files(r, root);
        t0 = shunt_now_ms();
        if (run_once(largv, r->cwd, stdin_path, dir, tag, tmo, &loc[i], err, sizeof(err)) < 0) {
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason), "local run: %.1000s", err);
        }
        res->t_local += secs(t0);
        loc[i].files = snapshot_files(r, root, 1, 1);
        if (journal)
            loc[i].journal = journal_take(-1, dir);
        const char *why = loc[i].ran ? exec_failure(&loc[i]) : NULL;
        char *unhooked = unhooked_take(dir);
        if (r->want_refused && res->status == SHUNT_CASE_PASS &&
            !(why && WEXITSTATUS(loc[i].wstatus) != 126)) {
            /* expected: harness exec refuses it (exit 126 and its line) */
            int n = why ? (int)strcspn(why, "\n") : 0;
            char *line = why ? strndup(why, (size_t)n) : NULL;
            regex_t re;
            int match = line && WEXITSTATUS(loc[i].wstatus) == 126;
            if (match && r->refused_re) {
                match = regcomp(&re, r->refused_re, REG_EXTENDED | REG_NOSUB) == 0;
                if (match) {
                    match = regexec(&re, line, 0, NULL, 0) == 0;
                    regfree(&re);
                }
            }
            if (match) {
                shunt_buf_printf(&rep, "refused as expected (expect.refused): %s\n", line);
                refused = 1;
            } else {
                res->status = SHUNT_CASE_FAIL;
                if (!line || WEXITSTATUS(loc[i].wstatus) != 126)
                    snprintf(res->reason, sizeof(res->reason),
                             "the local run was not refused (expect.refused): it ran, %s",
                             loc[i].how);
                else
                    snprintf(res->reason, sizeof(res->reason),
                             "the local run was refused, but not as expect.refused "
                             "says: %.800s",
                             line);
                tail(&rep, "local stderr", loc[i].err, loc[i].err_len);
            }
            free(line);
            why = NULL;
        }
        if (r->want_unhooked && res->status == SHUNT_CASE_PASS && !why) {
            /* expected: the layer says a program of the tree is one it
             * cannot enter (a non-cgo Go program) -- it ran on this host
             * unintercepted, so its output proves nothing: not compared */
            const char *line = unhooked && strncmp(unhooked, "shunt: not intercepted: ", 24) == 0
                                   ? unhooked + 24
                                   : unhooked;
            regex_t re;
            int match = line != NULL;
            if (match && r->unhooked_re) {
                match = regcomp(&re, r->unhooked_re, REG_EXTENDED | REG_NOSUB) == 0;
                if (match) {
                    match = regexec(&re, line, 0, NULL, 0) == 0;
                    regfree(&re);
                }
            }
            if (match) {
                shunt_buf_printf(&rep, "left unhooked as expected (expect.unhooked): %s\n", line);
                refused = 1;
            } else {
                res->status = SHUNT_CASE_FAIL;
                if (!line)
                    snprintf(res->reason, sizeof(res->reason),
                             "the local run was intercepted, but expect.unhooked says "
                             "a program of it is left unhooked (it ran, %s)",
                             loc[i].how);
                else
                    snprintf(res->reason, sizeof(res->reason),
                             "the local run was left unhooked, but not as "
                             "expect.unhooked says: %.800s",
                             line);
                tail(&rep, "local stderr", loc[i].err, loc[i].err_len);
            }
            free(unhooked);
            unhooked = NULL;
        }
        if (why) {
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason), "the local run could not start: %.*s",
                     (int)strcspn(why, "\n"), why);
        } else if (unhooked && res->status == SHUNT_CASE_PASS) {
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason),
                     "the local run was not intercepted: %.900s",
                     strncmp(unhooked, "shunt: not intercepted: ", 24) == 0
                         ? unhooked + 24
                         : unhooked);
        }
        free(unhooked);
    }
    free(rargv);
    if (shunt_proc_interrupted && res->status != SHUNT_CASE_ERROR) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "interrupted");
    }

    /* 5. compare */
    t0 = shunt_now_ms();
    char *seen = calloc(r->n_divergences + 1, 1);
    if (!seen) {
        res->status = SHUNT_CASE_ERROR;
        snprintf(res->reason, sizeof(res->reason), "out of memory");
    }
    for (int i = 0; res->status == SHUNT_CASE_PASS && i < r->repeat; i++) {
        char suffix[32] = "";
        if (r->repeat > 1)
            snprintf(suffix, sizeof(suffix), " #%d", i + 1);
        obs_t *main = r->run_reference ? &ref[i] : &loc[i];
        int status_ok =
            !main->timed_out &&
            ((WIFEXITED(main->wstatus) && WEXITSTATUS(main->wstatus) == r->want_status) ||
             (r->want_signal && WIFSIGNALED(main->wstatus) &&
              WTERMSIG(main->wstatus) == r->want_signal));
        if (r->want_status >= 0 && !status_ok) {
            char want[64];
            if (r->want_signal)
                snprintf(want, sizeof(want), "killed by SIG%s (or exit %d)",
                         sigabbrev_np(r->want_signal), r->want_status);
            else
                snprintf(want, sizeof(want), "exit %d", r->want_status);
            res->status = SHUNT_CASE_FAIL;
            snprintf(res->reason, sizeof(res->reason),
                     "the %s run%s: %s, expected %s (expect.status)",
                     r->run_reference ? "reference" : "local", suffix, main->how, want);
            tail(&rep, "its stderr", main->err, main->err_len);
            tail(&rep, "its stdout", main->out, main->out_len);
            break;
        }
        if (!r->run_reference || !r->run_local || refused)
            continue;
        int worst = 0, w;
        const char *first = NULL;
        if (r->cmp_stdout) {
            w = compare_stream(r, SHUNT_OBS_STDOUT, ref[i].out, ref[i].out_len,
                               loc[i].out, loc[i].out_len, o->color, suffix, seen, &rep);
            if (w == 2 && !first)
                first = "stdout differs";
            worst = w > worst ? w : worst;
        }
        if (r->cmp_stderr) {
            w = compare_stream(r, SHUNT_OBS_STDERR, ref[i].err, ref[i].err_len,
                               loc[i].err, loc[i].err_len, o->color, suffix, seen, &rep);
            if (w == 2 && !first)
                first = "stderr differs";
            worst = w > worst ? w : worst;
        }
        if (r->n_files) {
            w = compare_stream(r, SHUNT_OBS_FILES, ref[i].files, strlen(ref[i].files),
                               loc[i].files, strlen(loc[i].files), o->color, suffix, seen, &rep);
            if (w == 2 && !first)
                first = "files written differ";
            worst = w > worst ? w : worst;
        }
        if (journal && ref[i].journal && loc[i].journal) {
            char *ja = shunt_journal_prepare(ref[i].journal, r->journal_calls,
                                             r->n_journal_calls, r->journal_exclude,
                                             r->n_journal_exclude, r->journal_skip_paths,
                                             r->n_journal_skip_paths);
            char *jb = shunt_journal_prepare(loc[i].journal, r->journal_calls,
                                             r->n_journal_calls, r->journal_exclude,
                                             r->n_journal_exclude, r->journal_skip_paths,
                                             r->n_journal_skip_paths);
            if (ja && jb)
                w = compare_stream(r, SHUNT_OBS_JOURNAL, ja, strlen(ja), jb, strlen(jb),
                                   o->color, suffix, seen, &rep);
            else
                w = 2;
            free(ja);
            free(jb);
            if (w == 2 && !first)
                first = "the call journal differs";
            worst = w > worst ? w : worst;
        }
        if (r->cmp_exit && strcmp(ref[i].how, loc[i].how) != 0) {
            const shunt_divergence_t *hit = NULL;
            for (size_t d = 0; d < r->n_divergences && !hit; d++)
                if (r->divergences[d].in == SHUNT_OBS_EXIT) {
                    hit = &r->divergences[d];
                    seen[d] = 1;
                }
            if (hit) {
                shunt_buf_printf(&rep, "known divergence in exit%s: %s\n  reference: %s, local: %s\n",
                    suffix, hit->reason, ref[i].how, loc[i].how);
                worst = worst > 1 ? worst : 1;
            } else {
                shunt_buf_printf(&rep, "exit status%s differs: reference %s, local %s\n", suffix,
                    ref[i].how, loc[i].how);
                if (!first)
                    first = "exit status differs";
                worst = 2;
            }
        }
        if (worst == 2) {
            res->status = SHUNT_CASE_FAIL;
            snprintf(res->reason, sizeof(res->reason), "%s%s", first, suffix);
            if (!r->cmp_stderr)
                tail(&rep, "local stderr", loc[i].err, loc[i].err_len);
        } else if (worst == 1) {
            res->status = SHUNT_CASE_KNOWN;
        }
    }
    if (res->status == SHUNT_CASE_PASS || res->status == SHUNT_CASE_KNOWN) {
        /* declared but not seen: say so, so stale declarations get removed */
        for (size_t d = 0; d < r->n_divergences; d++)
            if (!seen[d])
                shunt_buf_printf(&rep, "declared divergence in %s not observed: %s\n",
                    shunt_obs_name(r->divergences[d].in), r->divergences[d].reason);
    }
    free(seen);
    res->t_diff = secs(t0);
    if (o->show_output)
        for (int i = 0; i < r->repeat; i++) {
            char lab[64];
            const char *sfx = r->repeat > 1 ? " #" : "";
            for (int side = 0; side < 2; side++) {
                const obs_t *ob = side ? &loc[i] : &ref[i];
                if (!ob->ran)
                    continue;
                snprintf(lab, sizeof(lab), "%s%s%.0d", side ? "local" : "reference", sfx,
                         r->repeat > 1 ? i + 1 : 0);
                shunt_buf_printf(&rep, "%s run: %s\n", lab, ob->how);
                show(&rep, "stdout", ob->out, ob->out_len);
                show(&rep, "stderr", ob->err, ob->err_len);
            }
        }

    /* 6. leaks, through the recorder (leaks.c): expect.no_leaks wants none,
     * expect.leaks exactly the listed ones (a canary proves the detector) */
    if ((res->status == SHUNT_CASE_PASS || res->status == SHUNT_CASE_KNOWN) &&
        (r->no_leaks || r->leaks_listed) && !refused) {
        const char *key = r->no_leaks ? "expect.no_leaks" : "expect.leaks";
        shunt_leaks_input_t li = {.target = c->target, .init_pid = info.init_pid,
                                  .scenario = scen_abs, .argv = pargv, .cwd = r->cwd,
                                  .stdin_path = stdin_path, .timeout_ms = tmo};
        char *lr = NULL;
        t0 = shunt_now_ms();
        int lrc = shunt_leaks_check(&li, &lr);
        res->t_leaks = secs(t0);
        if (lrc == SHUNT_LEAKS_UNAVAILABLE) {
            res->status = SHUNT_CASE_SKIP;
            snprintf(res->reason, sizeof(res->reason), "%s: %s", key,
                     lr ? lr : "not available");
        } else if (lrc == SHUNT_LEAKS_ERROR) {
            res->status = SHUNT_CASE_ERROR;
            snprintf(res->reason, sizeof(res->reason), "leak recorder: %s",
                     lr ? lr : "failed");
        } else {
            char why[512];
            if (leaks_match(r, lrc == SHUNT_LEAKS_FOUND ? lr : NULL, why, sizeof(why))) {
                if (r->leaks_listed)
                    shunt_buf_printf(&rep, "leaks: the %zu expected leak%s reported, nothing else\n%s",
                        r->n_leaks, r->n_leaks == 1 ? "" : "s", lr ? lr : "");
            } else {
                res->status = SHUNT_CASE_FAIL;
                snprintf(res->reason, sizeof(res->reason), "%s: %s", key, why);
                shunt_buf_printf(&rep, "leaks reported by the recorder:\n%s\n",
                    lr && *lr ? lr : "(none)\n");
            }
        }
        free(lr);
    }
    free(pargv);
    free(largv);
out:
    if (c->group) /* the group's target: the last case decides */
        up = c->more ? 0 : c->group->up;
    if (root >= 0)
        close(root);
    if (up == 2) {
        shunt_buf_printf(&rep, "target %s was already up with this configuration: used and left up\n",
            c->target);
    } else if (up && !o->keep) {
        char derr[2048];
        if (shunt_target_down(c->target, derr, sizeof(derr)) < 0)
            shunt_buf_printf(&rep, "harness down %s: %s\n", c->target, derr);
    } else if (up) {
        shunt_buf_printf(&rep, "target %s kept; the local run again: (cd %s && harness exec --target %s%s%s --",
            c->target, r->cwd, c->target, s->layer ? " --config " : "",
            s->layer ? s->file : "");
        for (size_t i = 0; c->built.argv && c->built.argv[i]; i++)
            shunt_buf_printf(&rep, " %s", c->built.argv[i]);
        shunt_buf_printf(&rep, ")\n");
    }
    for (int i = 0; ref && loc && i < r->repeat; i++) {
        obs_free(&ref[i]);
        obs_free(&loc[i]);
    }
    free(ref);
    free(loc);
    if (dir[0]) {
        char p[PATH_MAX];
        const char *names[] = {"stdin", NULL};
        for (size_t i = 0; names[i]; i++)
            if (shunt_fmt(p, sizeof(p), "%s/%s", dir, names[i]) == 0)
                unlink(p);
        for (int i = 0; i < r->repeat; i++)
            for (int j = 0; j < 4; j++) {
                static const char *const f[] = {"ref", "ref", "local", "local"};
                if (shunt_fmt(p, sizeof(p), "%s/%s%d.%s", dir, f[j], i,
                              j % 2 ? "err" : "out") == 0)
                    unlink(p);
            }
        rmdir(dir);
    }
    res->t_total = secs(t_all);
    *report = rep.p;
}
