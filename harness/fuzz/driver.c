/* The two sides of a sequence: the interpreter serving inside the target
 * (runc exec, the truth) and one serving locally under the layer per
 * policy (harness exec --config), each a long-lived `--serve` process that
 * forks a child per sequence.  The target side also rebuilds the fuzz tree
 * before each run: it is inside the container, so nothing here follows a
 * path of the target. */
#include "shunt/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shunt/buf.h"
#include "shunt/proc.h"
#include "shunt/util.h"

static void server_init(shunt_fz_server_t *s)
{
    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->in = s->out = -1;
}

static int server_start(shunt_fz_server_t *s, char *const *argv, const char *what,
                        const char *log, char *err, size_t errlen)
{
    int pin[2], pout[2];
    int efd = 2;
    if (log && (efd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        (void)shunt_fmt(err, errlen, "%s: %s", log, strerror(errno));
        return -1;
    }
    server_init(s);
    snprintf(s->what, sizeof(s->what), "%s", what);
    if (pipe2(pin, O_CLOEXEC) < 0)
        goto fail;
    if (pipe2(pout, O_CLOEXEC) < 0) {
        close(pin[0]);
        close(pin[1]);
        goto fail;
    }
    shunt_proc_t p = {.argv = argv, .cwd = "/",
                      .stdio = {pin[0], pout[1], efd},
                      .flags = SHUNT_PROC_GROUP | SHUNT_PROC_PDEATH | SHUNT_PROC_SEARCH};
    int stage = 0;
    int rc = shunt_proc_spawn(&p, &stage);
    close(pin[0]);
    close(pout[1]);
    if (efd != 2)
        close(efd);
    if (rc < 0) {
        close(pin[1]);
        close(pout[0]);
        snprintf(err, errlen, "%s: cannot start %s: %s", what, argv[0], strerror(-rc > 0 ? -rc : errno));
        return -1;
    }
    s->pid = p.pid;
    s->in = pin[1];
    s->out = pout[0];
    signal(SIGPIPE, SIG_IGN);
    return 0;
fail:
    snprintf(err, errlen, "%s: pipe: %s", what, strerror(errno));
    if (efd != 2)
        close(efd);
    return -1;
}

static void server_stop(shunt_fz_server_t *s)
{
    if (s->in >= 0) {
        (void)!write(s->in, "quit\n", 5);
        close(s->in);
    }
    if (s->pid > 0) {
        int st;
        (void)shunt_proc_wait_until(s->pid, shunt_now_ms() + 3000, 1000, NULL, &st, NULL);
    }
    if (s->out >= 0)
        close(s->out);
    free(s->rbuf);
    server_init(s);
}

/* One line (without its newline) into *line (points into s->rbuf until
 * the next call).  1, 0 at EOF, -1 on timeout or error. */
static int server_line(shunt_fz_server_t *s, int timeout_ms, char **line)
{
    uint64_t deadline = shunt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *nl = s->rlen ? memchr(s->rbuf, '\n', s->rlen) : NULL;
        if (nl) {
            *nl = 0;
            *line = s->rbuf;
            return 1;
        }
        if (s->rlen + 4096 > s->rcap) {
            size_t nc = s->rcap ? s->rcap * 2 : 65536;
            if (nc > (64u << 20)) {
                errno = E2BIG;
                return -1;
            }
            char *nb = realloc(s->rbuf, nc);
            if (!nb)
                return -1;
            s->rbuf = nb;
            s->rcap = nc;
        }
        uint64_t now = shunt_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pf = {.fd = s->out, .events = POLLIN};
        int pr = poll(&pf, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t n = read(s->out, s->rbuf + s->rlen, s->rcap - s->rlen - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        s->rlen += (size_t)n;
    }
}

/* Drops the line server_line returned. */
static void server_consume(shunt_fz_server_t *s)
{
    size_t l = strlen(s->rbuf) + 1;
    memmove(s->rbuf, s->rbuf + l, s->rlen - l);
    s->rlen -= l;
}

static int server_send(shunt_fz_server_t *s, const char *text, size_t len)
{
    if (s->in < 0) {
        errno = EPIPE;
        return -1;
    }
    return shunt_write_full(s->in, text, len) < 0 ? -1 : 0;
}

/* ---- the tree ---------------------------------------------------------- */

/* One tree line: the kind's letter, the path, then what the kind needs. */
static void tree_line(shunt_buf_t *b, const shunt_fuzzspec_t *f, size_t i)
{
    const shunt_file_spec_t *e = &f->tree.v[i];
    static const char letters[] = {[SHUNT_FILE_REG] = 'F', [SHUNT_FILE_TREE] = 'F',
                                   [SHUNT_FILE_DIR] = 'D', [SHUNT_FILE_SYMLINK] = 'L',
                                   [SHUNT_FILE_LINK] = 'H', [SHUNT_FILE_FIFO] = 'P'};
    int sized = e->kind == SHUNT_FILE_REG && f->sizes && f->sizes[i] >= 0;
    shunt_buf_printf(b, "%c ", sized ? 'Z' : letters[e->kind]);
    shunt_fz_put_enc(b, e->path, strlen(e->path));
    if (e->kind == SHUNT_FILE_SYMLINK || e->kind == SHUNT_FILE_LINK) {
        shunt_buf_puts(b, " ");
        shunt_fz_put_enc(b, e->target, strlen(e->target));
    } else {
        shunt_buf_printf(b, " %04o", e->mode & 07777);
        if (sized)
            shunt_buf_printf(b, " %ld", f->sizes[i]);
        else if (e->kind == SHUNT_FILE_REG || e->kind == SHUNT_FILE_TREE) {
            shunt_buf_puts(b, " ");
            if (!e->content || !e->content_len)
                shunt_buf_puts(b, "-");
            for (size_t k = 0; e->content && k < e->content_len; k++)
                shunt_buf_printf(b, "%02x", (unsigned char)e->content[k]);
        }
    }
    shunt_buf_puts(b, "\n");
}

static void tree_text(const shunt_fuzzspec_t *f, const unsigned char *keep, shunt_buf_t *b)
{
    shunt_buf_puts(b, "tree\n");
    for (size_t i = 0; i < f->tree.n; i++)
        if (!keep || keep[i])
            tree_line(b, f, i);
    shunt_buf_puts(b, "end\n");
}

const char **shunt_fz_hidden(const shunt_fuzzspec_t *f, size_t pi, const unsigned char *keep)
{
    const shunt_fz_policy_t *p = &f->policies[pi];
    const char **out = calloc(f->tree.n + 1, sizeof(*out));
    if (!out)
        return NULL;
    regex_t *re = p->n_not_found ? calloc(p->n_not_found, sizeof(regex_t)) : NULL;
    size_t nre = 0;
    for (size_t i = 0; re && i < p->n_not_found; i++)
        if (regcomp(&re[nre], p->not_found[i], REG_EXTENDED | REG_NOSUB) == 0)
            nre++;
    size_t n = 0;
    for (size_t i = 0; i < f->tree.n; i++) {
        if (keep && !keep[i])
            continue;
        const char *path = f->tree.v[i].path;
        int hit = 0;
        for (size_t k = 0; k < nre && !hit; k++)
            hit = regexec(&re[k], path, 0, NULL, 0) == 0;
        if (!hit)
            continue;
        /* an ancestor already hidden takes it along */
        int under = 0;
        for (size_t k = 0; k < n && !under; k++) {
            size_t l = strlen(out[k]);
            under = strncmp(path, out[k], l) == 0 && path[l] == '/';
        }
        if (!under)
            out[n++] = path;
    }
    for (size_t k = 0; k < nre; k++)
        regfree(&re[k]);
    free(re);
    return out;
}

/* ---- start and stop ------------------------------------------------- */

static int ref_start(shunt_fz_driver_t *d, char *err, size_t errlen)
{
    char ctr[128];
    snprintf(ctr, sizeof(ctr), "shunt-%s-target", d->target);
    char *argv[] = {(char *)"runc", (char *)"exec", ctr, (char *)d->interp,
                    (char *)"--serve", NULL};
    char log[PATH_MAX];
    if (d->logdir)
        (void)shunt_fmt(log, sizeof(log), "%s/w%d-target.log", d->logdir, d->worker);
    return server_start(&d->ref, argv, "the target's interpreter", d->logdir ? log : NULL,
                        err, errlen);
}

/* The policy as a --config file: `layer:` and the section as JSON (a YAML
 * flow mapping). */
static int loc_start(shunt_fz_driver_t *d, size_t pi, char *err, size_t errlen)
{
    char cfg[PATH_MAX];
    (void)shunt_fmt(cfg, sizeof(cfg), "%s/policy-%zu.yaml", d->cfgdir, pi);
    char *json = shunt_fz_policy_json(&d->f->policies[pi]);
    FILE *fp = json ? fopen(cfg, "we") : NULL;
    if (!fp) {
        free(json);
        (void)shunt_fmt(err, errlen, "%s: %s", cfg, strerror(errno));
        return -1;
    }
    fprintf(fp, "layer: %s\n", json);
    free(json);
    if (fclose(fp) != 0) {
        (void)shunt_fmt(err, errlen, "%s: %s", cfg, strerror(errno));
        return -1;
    }
    char what[96];
    snprintf(what, sizeof(what), "the local interpreter (policy %s)", d->f->policies[pi].name);
    char *argv[14];
    size_t k = 0;
    argv[k++] = (char *)d->harness;
    argv[k++] = (char *)"exec";
    argv[k++] = (char *)"--target";
    argv[k++] = (char *)d->target;
    argv[k++] = (char *)"--config";
    argv[k++] = cfg;
    if (d->layer) {
        argv[k++] = (char *)"--layer";
        argv[k++] = (char *)d->layer;
    }
    if (d->engine) {
        argv[k++] = (char *)"--engine";
        argv[k++] = (char *)d->engine;
    }
    argv[k++] = (char *)"--";
    argv[k++] = (char *)d->interp;
    argv[k++] = (char *)"--serve";
    argv[k] = NULL;
    char log[PATH_MAX];
    if (d->logdir)
        (void)shunt_fmt(log, sizeof(log), "%s/w%d-local-%s.log", d->logdir, d->worker,
                        d->f->policies[pi].name);
    return server_start(&d->loc[pi], argv, what, d->logdir ? log : NULL, err, errlen);
}

int shunt_fz_writes(const char *line)
{
    if (strncmp(line, "fork ", 5) == 0)
        line += 5;
    if (shunt_fz_family_of(line) == SHUNT_FZ_WRITE)
        return 1;
    if (strncmp(line, "open ", 5) && strncmp(line, "openat ", 7))
        return 0;
    return strstr(line, "WRONLY") || strstr(line, "RDWR") || strstr(line, "CREAT") ||
           strstr(line, "TRUNC");
}

int shunt_fz_is_top(const shunt_fuzzspec_t *f, size_t i)
{
    const char *p = f->tree.v[i].path;
    for (size_t j = 0; j < f->tree.n; j++) {
        const char *q = f->tree.v[j].path;
        size_t l = strlen(q);
        if (j != i && strncmp(p, q, l) == 0 && p[l] == '/')
            return 0;
    }
    return 1;
}

static uint64_t keep_hash(const shunt_fuzzspec_t *f, const unsigned char *keep)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < f->tree.n; i++)
        h = (h ^ (keep ? keep[i] : 1u)) * 1099511628211ull;
    return h;
}

int shunt_fz_driver_start(shunt_fz_driver_t *d, char *err, size_t errlen)
{
    d->dirty = 1;
    if (!d->timeout_ms)
        d->timeout_ms = 15000;
    snprintf(d->cfgdir, sizeof(d->cfgdir), "/tmp/shunt-fuzz-XXXXXX");
    if (!mkdtemp(d->cfgdir)) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        d->cfgdir[0] = 0;
        return -1;
    }
    if (!(d->loc = calloc(d->f->n_policies, sizeof(*d->loc)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->f->n_policies; i++)
        server_init(&d->loc[i]);
    return ref_start(d, err, errlen);
}

void shunt_fz_driver_stop(shunt_fz_driver_t *d)
{
    server_stop(&d->ref);
    for (size_t i = 0; d->loc && i < d->f->n_policies; i++)
        server_stop(&d->loc[i]);
    free(d->loc);
    d->loc = NULL;
    if (d->cfgdir[0]) {
        for (size_t i = 0; i < d->f->n_policies; i++) {
            char cfg[PATH_MAX];
            (void)shunt_fmt(cfg, sizeof(cfg), "%s/policy-%zu.yaml", d->cfgdir, i);
            unlink(cfg);
        }
        rmdir(d->cfgdir);
        d->cfgdir[0] = 0;
    }
}

/* ---- one run ----------------------------------------------------------- */

static int fail(shunt_fz_driver_t *d, shunt_fz_server_t *s, const char *doing)
{
    int e = errno;
    d->dirty = 1;
    snprintf(d->err, sizeof(d->err), "%s: %s: %s", s->what, doing,
             e == ETIMEDOUT ? "no answer in time" : e ? strerror(e) : "it exited");
    server_stop(s);
    return -1;
}

static int send_tree(shunt_fz_driver_t *d, const char *tree, size_t len)
{
    shunt_fz_server_t *s = &d->ref;
    char *line;
    if (server_send(s, tree, len) < 0)
        return fail(d, s, "sending the tree");
    int rc = server_line(s, d->timeout_ms, &line);
    if (rc <= 0) {
        errno = rc == 0 ? 0 : errno;
        return fail(d, s, "building the tree");
    }
    if (strcmp(line, "ok") != 0) {
        snprintf(d->err, sizeof(d->err), "%s: building the tree: %.900s", s->what, line);
        server_consume(s);
        return -1;
    }
    server_consume(s);
    return 0;
}

static int run_seq(shunt_fz_driver_t *d, shunt_fz_server_t *s, const char *text, size_t len,
                   shunt_fz_lines_t *out)
{
    char *line;
    memset(out, 0, sizeof(*out));
    if (server_send(s, text, len) < 0)
        return fail(d, s, "sending a sequence");
    for (;;) {
        int rc = server_line(s, d->timeout_ms, &line);
        if (rc <= 0) {
            errno = rc == 0 ? 0 : errno;
            return fail(d, s, "running a sequence");
        }
        if (strncmp(line, "error ", 6) == 0) {
            /* the server refused the sequence (a bad line, a path it
             * could not hide): no done line follows */
            snprintf(d->err, sizeof(d->err), "%s: %.900s", s->what, line);
            server_consume(s);
            d->dirty = 1;
            return -1;
        }
        int done = strncmp(line, "done ", 5) == 0;
        if (shunt_fz_lines_push(out, line) < 0) {
            server_consume(s);
            snprintf(d->err, sizeof(d->err), "out of memory");
            return -1;
        }
        server_consume(s);
        if (done)
            return 0;
        if (out->n > 100000) {
            snprintf(d->err, sizeof(d->err), "%s: too many lines", s->what);
            server_stop(s);
            return -1;
        }
    }
}

int shunt_fz_run_pair(shunt_fz_driver_t *d, size_t pi, const unsigned char *keep,
                      const shunt_fz_lines_t *seq, shunt_fz_lines_t *ref,
                      shunt_fz_lines_t *loc)
{
    char err[1024];
    memset(ref, 0, sizeof(*ref));
    memset(loc, 0, sizeof(*loc));
    if (d->ref.pid < 0 && ref_start(d, err, sizeof(err)) < 0) {
        snprintf(d->err, sizeof(d->err), "%s", err);
        return -1;
    }
    if (d->loc[pi].pid < 0 && loc_start(d, pi, err, sizeof(err)) < 0) {
        snprintf(d->err, sizeof(d->err), "%s", err);
        return -1;
    }
    shunt_buf_t tree = {0}, sref = {0}, sloc = {0};
    tree_text(d->f, keep, &tree);
    const char **hidden = shunt_fz_hidden(d->f, pi, keep);
    shunt_buf_puts(&sref, "seq");
    for (size_t i = 0; hidden && hidden[i]; i++) {
        shunt_buf_puts(&sref, " hide ");
        shunt_fz_put_enc(&sref, hidden[i], strlen(hidden[i]));
    }
    shunt_buf_puts(&sref, "\n");
    shunt_buf_puts(&sloc, "seq\n");
    for (size_t i = 0; i < seq->n; i++) {
        shunt_buf_printf(&sref, "%s\n", seq->v[i]);
        shunt_buf_printf(&sloc, "%s\n", seq->v[i]);
    }
    shunt_buf_puts(&sref, "end\n");
    shunt_buf_puts(&sloc, "end\n");
    free(hidden);
    int rc = -1;
    if (tree.oom || sref.oom || sloc.oom || !hidden)
        snprintf(d->err, sizeof(d->err), "out of memory");
    else {
        /* the tree is rebuilt only when it may differ: a sequence that
         * writes, or another subset of the entries (the minimiser's) */
        int writes = 0;
        for (size_t i = 0; i < seq->n && !writes; i++)
            writes = shunt_fz_writes(seq->v[i]);
        uint64_t kh = keep_hash(d->f, keep);
        if (kh != d->tree_hash)
            d->dirty = 1;
        d->tree_hash = kh;
        uint64_t t0 = shunt_now_ns(), t1 = t0, t2 = t0, t3 = t0, t4 = t0;
        if ((!d->dirty || send_tree(d, tree.p, tree.len) == 0) &&
            (t1 = shunt_now_ns(), d->dirty = writes,
             run_seq(d, &d->ref, sref.p, sref.len, ref) == 0) &&
            (t2 = shunt_now_ns(), !d->dirty || send_tree(d, tree.p, tree.len) == 0) &&
            (t3 = shunt_now_ns(), d->dirty = writes,
             run_seq(d, &d->loc[pi], sloc.p, sloc.len, loc) == 0)) {
            t4 = shunt_now_ns();
            d->ns_tree += (t1 - t0) + (t3 - t2);
            d->ns_ref += t2 - t1;
            d->ns_loc += t4 - t3;
            rc = 0;
        } else
            d->dirty = 1;
    }
    shunt_buf_free(&tree);
    shunt_buf_free(&sref);
    shunt_buf_free(&sloc);
    return rc;
}

int shunt_fz_run_target(shunt_fz_driver_t *d, const shunt_fz_lines_t *seq,
                        shunt_fz_lines_t *out)
{
    char err[1024];
    memset(out, 0, sizeof(*out));
    if (d->ref.pid < 0 && ref_start(d, err, sizeof(err)) < 0) {
        snprintf(d->err, sizeof(d->err), "%s", err);
        return -1;
    }
    shunt_buf_t b = {0};
    shunt_buf_puts(&b, "seq\n");
    for (size_t i = 0; i < seq->n; i++)
        shunt_buf_printf(&b, "%s\n", seq->v[i]);
    shunt_buf_puts(&b, "end\n");
    int rc = b.oom ? -1 : run_seq(d, &d->ref, b.p, b.len, out);
    shunt_buf_free(&b);
    return rc;
}

/* ---- comparison ----------------------------------------------------- */

/* "I CALL ARGS = RESULT" (or "child I ...") -> "CALL ARGS = RESULT" */
static const char *after_index(const char *l)
{
    if (strncmp(l, "child ", 6) == 0)
        l += 6;
    const char *p = l;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == ' ' && p != l ? p + 1 : l;
}

/* The call's name: "fork stat ..." is "fork:stat", a child's line
 * "child stat ..." likewise. */
static void call_name(const char *l, char *out, size_t outlen)
{
    if (strncmp(l, "done ", 5) == 0) {
        snprintf(out, outlen, "done");
        return;
    }
    int fork = 0;
    if (strncmp(l, "child ", 6) == 0) { /* a fork's child: "child I CALL ..." */
        l += 6;
        fork = 1;
    }
    const char *p = after_index(l);
    if (strncmp(p, "fork ", 5) == 0) {
        p += 5;
        fork = 1;
    }
    size_t n = strcspn(p, " ");
    snprintf(out, outlen, "%s%.*s", fork ? "fork:" : "", (int)(n > 24 ? 24 : n), p);
}

/* "ok", "-1 ENOENT", "done exit 0", "missing" */
static void result_class(const char *l, char *out, size_t outlen)
{
    if (!l) {
        snprintf(out, outlen, "missing");
        return;
    }
    if (strncmp(l, "done ", 5) == 0) {
        snprintf(out, outlen, "%.40s", l + 5);
        return;
    }
    const char *eq = strstr(l, " = ");
    if (!eq) {
        snprintf(out, outlen, "?");
        return;
    }
    eq += 3;
    if (strncmp(eq, "-1 ", 3) == 0) {
        size_t n = strcspn(eq + 3, " ");
        snprintf(out, outlen, "-1 %.*s", (int)(n > 30 ? 30 : n), eq + 3);
    } else
        snprintf(out, outlen, "ok");
}

static int fz_re_match(const char *re, const char *s)
{
    regex_t r;
    if (!re)
        return 1;
    if (!s || regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int m = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

static int known_for(const shunt_fuzzspec_t *f, const shunt_fz_known_t *k,
                     const char *policy)
{
    int engine = f->engine ? f->engine : SHUNT_FZ_ENGINE_LAYER;
    if (k->engines && !(k->engines & engine))
        return 0;
    if (!k->policies)
        return 1;
    for (size_t i = 0; policy && i < k->n_policies; i++)
        if (strcmp(k->policies[i], policy) == 0)
            return 1;
    return 0;
}

void shunt_fz_compare(const shunt_fuzzspec_t *f, const char *policy,
                      const shunt_fz_lines_t *ref, const shunt_fz_lines_t *loc,
                      shunt_fz_diff_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = ref->n > loc->n ? ref->n : loc->n;
    for (size_t i = 0; i < n; i++) {
        const char *a = i < ref->n ? ref->v[i] : NULL;
        const char *b = i < loc->n ? loc->v[i] : NULL;
        if (a && b && strcmp(a, b) == 0)
            continue;
        out->differs = 1;
        out->index = i;
        out->ref_line = a;
        out->loc_line = b;
        call_name(a ? a : b, out->call, sizeof(out->call));
        char ca[48], cb[48];
        result_class(a, ca, sizeof(ca));
        result_class(b, cb, sizeof(cb));
        snprintf(out->sig, sizeof(out->sig), "%s: %s / %s", out->call, ca, cb);
        for (size_t k = 0; f && k < f->n_known; k++) {
            if (known_for(f, &f->known[k], policy) &&
                fz_re_match(f->known[k].call, a ? after_index(a) : NULL) &&
                fz_re_match(f->known[k].local, b ? after_index(b) : NULL)) {
                out->known = 1;
                out->known_i = k;
                break;
            }
        }
        return;
    }
}
