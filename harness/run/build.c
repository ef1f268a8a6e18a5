/* Program builds into a content-addressed cache; process and file helpers. */
#include "shunt/build.h"
#include "shunt/fsutil.h"
#include "shunt/hash.h"
#include "shunt/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shunt/util.h"

extern char **environ;

#ifndef SHUNT_SOURCE_DIR
#define SHUNT_SOURCE_DIR "."
#endif

/* ---- processes and files ------------------------------------------------ */

volatile sig_atomic_t shunt_proc_interrupted;

static int open_or_null(const char *path, int flags)
{
    return open(path ? path : "/dev/null", flags | O_CLOEXEC, 0644);
}

int shunt_proc_run(char *const *argv, char *const *envp, const char *cwd,
                   const char *in_path, const char *out_path,
                   const char *err_path, int timeout_ms, int *timed_out,
                   char *err, size_t errlen)
{
    int in = open_or_null(in_path, O_RDONLY);
    int out = open_or_null(out_path, O_WRONLY | O_CREAT | O_TRUNC);
    int er = err_path && out_path && strcmp(err_path, out_path) == 0
                 ? dup(out)
                 : open_or_null(err_path, O_WRONLY | O_CREAT | O_TRUNC);
    if (timed_out)
        *timed_out = 0;
    int r = -errno;
    shunt_proc_t p = {.argv = argv, .envp = envp, .cwd = cwd,
                      .stdio = {in, out, er},
                      /* as execvp: a bare name is found in PATH, and a
                       * file it finds that execve cannot run goes to sh */
                      .flags = SHUNT_PROC_GROUP | SHUNT_PROC_SEARCH |
                               (strchr(argv[0], '/') ? 0 : SHUNT_PROC_SH)};
    if (in >= 0 && out >= 0 && er >= 0)
        r = shunt_proc_spawn(&p, NULL);
    else
        snprintf(err, errlen, "cannot set up %s's input and output: %s", argv[0],
                 strerror(-r));
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (er >= 0)
        close(er);
    if (in < 0 || out < 0 || er < 0)
        return -1;
    if (r < 0) {
        snprintf(err, errlen, "cannot run %s%s%s: %s", argv[0], cwd ? " in " : "",
                 cwd ? cwd : "", strerror(-r));
        return -1;
    }
    uint64_t deadline = timeout_ms > 0 ? shunt_now_ms() + (uint64_t)timeout_ms : 0;
    int st = 0;
    r = shunt_proc_wait_until(p.pid, deadline, 2000, &shunt_proc_interrupted,
                              &st, timed_out);
    if (r < 0) {
        snprintf(err, errlen, "waitpid: %s", strerror(-r));
        return -1;
    }
    return st;
}

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[PATH_MAX];
                if (shunt_fmt(sub, sizeof(sub), "%s/%s", path, e->d_name) == 0)
                    rm_rf(sub);
            }
            closedir(d);
        }
        return rmdir(path);
    }
    return unlink(path);
}

/* ---- Go toolchains ------------------------------------------------------ */

int shunt_go_toolchains(shunt_gotool_t **out, size_t *n, char *err, size_t errlen)
{
    const char *script = getenv("SHUNT_GO_TOOLCHAINS");
    char def[PATH_MAX];
    if (!script || !*script) {
        snprintf(def, sizeof(def), "%s/ci/go-toolchains", SHUNT_SOURCE_DIR);
        script = def;
    }
    *out = NULL;
    *n = 0;
    char tmpl[] = "/tmp/shunt-gotools-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return snprintf(err, errlen, "mkstemp: %s", strerror(errno)), -1;
    close(fd);
    char *const argv[] = {(char *)script, NULL};
    char perr[512];
    int st = shunt_proc_run(argv, NULL, NULL, NULL, tmpl, NULL, 60000, NULL, perr,
                            sizeof(perr));
    size_t len = 0;
    char *text = st == 0 ? shunt_read_file(tmpl, 1 << 20, &len) : NULL;
    unlink(tmpl);
    if (!text) {
        snprintf(err, errlen, "%s: %s", script,
                 st < 0 ? perr : "failed (cannot list the Go toolchains)");
        return -1;
    }
    size_t cap = 1;
    for (char *p = text; *p; p++)
        cap += *p == '\n';
    shunt_gotool_t *v = calloc(cap, sizeof(*v));
    if (!v) {
        free(text);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char ver[32], path[PATH_MAX];
        if (sscanf(line, "%31s %4095s", ver, path) == 2 && *n < cap) {
            snprintf(v[*n].version, sizeof(v[*n].version), "%s", ver);
            snprintf(v[*n].go, sizeof(v[*n].go), "%s", path);
            (*n)++;
        }
    }
    free(text);
    *out = v;
    return 0;
}

int shunt_go_version_matches(const char *pattern, const char *version)
{
    if (strcmp(pattern, "all") == 0)
        return 1;
    const char *p = strncmp(pattern, "go", 2) == 0 ? pattern + 2 : pattern;
    const char *v = strncmp(version, "go", 2) == 0 ? version + 2 : version;
    size_t l = strlen(p);
    return strncmp(p, v, l) == 0 && (v[l] == 0 || v[l] == '.');
}

/* ---- the cache key ------------------------------------------------------ */


static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names and contents of every regular file beneath path, in sorted order. */
static int hash_tree(hash_t *h, const char *path, const char *rel)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (S_ISREG(st.st_mode)) {
        size_t len;
        char *data = shunt_read_file(path, 256u << 20, &len);
        if (!data)
            return -1;
        hstr(h, rel);
        hbytes(h, &st.st_mode, sizeof(st.st_mode));
        hbytes(h, data, len);
        free(data);
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* . .. and hidden files (editor state, .git) */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX], subrel[PATH_MAX];
        if (rc == 0 && names[i] &&
            shunt_fmt(sub, sizeof(sub), "%s/%s", path, names[i]) == 0 &&
            shunt_fmt(subrel, sizeof(subrel), "%s/%s", rel, names[i]) == 0)
            rc = hash_tree(h, sub, subrel);
        free(names[i]);
    }
    free(names);
    return rc;
}

int shunt_cache_root(char *out, size_t outlen)
{
    const char *env = getenv("SHUNT_CACHE_DIR");
    if (env && env[0] == '/')
        return shunt_fmt(out, outlen, "%s", env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    return shunt_fmt(out, outlen, "%s/cache/programs", self);
}

/* ---- building ----------------------------------------------------------- */

static const char *default_main(shunt_lang_t l)
{
    switch (l) {
    case SHUNT_LANG_C: return "main.c";
    case SHUNT_LANG_RUST: return "main.rs";
    case SHUNT_LANG_GO: return "main.go";
    case SHUNT_LANG_NODE: return "main.js";
    case SHUNT_LANG_PYTHON: return "main.py";
    case SHUNT_LANG_SHELL: return "main.sh";
    default: return "main";
    }
}

static const char *interpreter(shunt_lang_t l)
{
    switch (l) {
    case SHUNT_LANG_NODE: return "/usr/bin/node";
    case SHUNT_LANG_PYTHON: return "/usr/bin/python3";
    case SHUNT_LANG_SHELL: return "/bin/sh";
    default: return NULL;
    }
}

/* The entry file's name inside src/. */
static const char *entry_name(const shunt_runspec_t *r)
{
    if (r->main)
        return r->main;
    if (r->source && !r->source_is_dir) {
        const char *b = strrchr(r->source, '/');
        return b ? b + 1 : r->source;
    }
    return default_main(r->lang);
}

static char *expand(const char *arg, const char *src, const char *out,
                    const char *dir)
{
    char buf[8192];
    size_t o = 0;
    for (const char *s = arg; *s && o + 1 < sizeof(buf);) {
        const char *rep = NULL;
        size_t skip = 0;
        if (strncmp(s, "{src}", 5) == 0)
            rep = src, skip = 5;
        else if (strncmp(s, "{out}", 5) == 0)
            rep = out, skip = 5;
        else if (strncmp(s, "{dir}", 5) == 0)
            rep = dir, skip = 5;
        if (rep) {
            int w = snprintf(buf + o, sizeof(buf) - o, "%s", rep);
            if (w < 0 || (size_t)w >= sizeof(buf) - o)
                return NULL;
            o += (size_t)w;
            s += skip;
        } else {
            buf[o++] = *s++;
        }
    }
    buf[o] = 0;
    return strdup(buf);
}

/* The default build command (NULL-terminated, static strings). */
static const char *const *default_build(const shunt_runspec_t *r)
{
    static const char *const go_file[] = {"go", "build", "-o", "{out}", "{src}", NULL};
    /* cargo cannot name its output: the one executable in target/release */
    static const char *const cargo[] = {
        "/bin/sh", "-c",
        "cargo build --release --offline --quiet && "
        "set -- \"$1\" target/release/* && out=$1 && shift && "
        "for f do [ -f \"$f\" ] && [ -x \"$f\" ] && exec cp \"$f\" \"$out\"; done; "
        "echo 'cargo built no executable' >&2; exit 1",
        "sh", "{out}", NULL};
    shunt_lang_t l = r->lang;
    if (l == SHUNT_LANG_RUST && r->source_is_dir) {
        char toml[PATH_MAX];
        struct stat st;
        if (shunt_fmt(toml, sizeof(toml), "%s/Cargo.toml", r->source) == 0 &&
            stat(toml, &st) == 0)
            return cargo;
    }
    if (l == SHUNT_LANG_GO && !r->source_is_dir)
        return go_file;
    static const char *const c[] = {"cc", "-O2", "-g", "-Wall", "-o", "{out}", "{src}", NULL};
    static const char *const rust[] = {"rustc", "-O", "--edition", "2021", "-o",
                                       "{out}", "{src}", NULL};
    static const char *const go_dir[] = {"go", "build", "-o", "{out}", ".", NULL};
    switch (l) {
    case SHUNT_LANG_C: return c;
    case SHUNT_LANG_RUST: return rust;
    case SHUNT_LANG_GO: return go_dir;
    default: return NULL;
    }
}

/* The cache key: the language, the entry, the build command, the sources,
 * and the compiler (a Go toolchain, or bcmd[0] as PATH finds it: its path,
 * size and mtime). */
static int cache_key(const shunt_runspec_t *r, const shunt_gotool_t *gt,
                     const char *const *bcmd, hash_t *h, char *err, size_t errlen)
{
    hstr(h, shunt_lang_name(r->lang));
    hstr(h, entry_name(r));
    for (size_t i = 0; bcmd && bcmd[i]; i++)
        hstr(h, bcmd[i]);
    if (r->inline_src)
        hstr(h, r->inline_src);
    if (r->source && hash_tree(h, r->source, "") < 0)
        return snprintf(err, errlen, "cannot read %s: %s", r->source,
                        strerror(errno)), -1;
    struct stat st;
    if (gt) {
        hstr(h, r->go_cgo ? "CGO_ENABLED=1" : "CGO_ENABLED=0");
        hstr(h, gt->version);
        hstr(h, gt->go);
        if (stat(gt->go, &st) == 0) {
            hbytes(h, &st.st_size, sizeof(st.st_size));
            hbytes(h, &st.st_mtime, sizeof(st.st_mtime));
        }
    }
    char cc[PATH_MAX];
    if (bcmd && !gt && bcmd[0] && shunt_proc_find(bcmd[0], cc, sizeof(cc)) == 0 &&
        stat(cc, &st) == 0) {
        hstr(h, cc);
        hbytes(h, &st.st_size, sizeof(st.st_size));
        hbytes(h, &st.st_mtime, sizeof(st.st_mtime));
    }
    return 0;
}

/* The sources into tsrc: a directory's tree, a file as tentry, or the
 * inline source written as tentry.  0 or -1 with errno. */
static int stage_sources(const shunt_runspec_t *r, const char *tsrc, const char *tentry)
{
    if (r->source && r->source_is_dir)
        return shunt_copy_tree(r->source, tsrc, 0);
    if (r->source)
        return shunt_copy_tree(r->source, tentry, 0);
    int fd = open(tentry, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -1 : shunt_write_full(fd, r->inline_src, strlen(r->inline_src));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The build's environment: the harness's, plus a Go toolchain's (its bin
 * first in PATH; pathv holds that entry) and program.cgo's CGO_ENABLED.
 * NULL when out of memory. */
static char **build_env(const shunt_runspec_t *r, const shunt_gotool_t *gt, char *pathv,
                        size_t pathlen)
{
    /* set below for a Go build: never a second copy from the harness's
     * own environment (Go's os.Getenv reads the first) */
    static const char *const go_set[] = {"PATH=", "GOFLAGS=", "GOPROXY=", "GOTOOLCHAIN=",
                                         "CGO_ENABLED=", "GOTELEMETRY=", NULL};
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 8, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; envp && i < ne; i++) {
        int ours = 0;
        for (size_t j = 0; gt && go_set[j]; j++)
            ours |= strncmp(environ[i], go_set[j], strlen(go_set[j])) == 0;
        if (!ours)
            envp[k++] = environ[i];
    }
    if (gt && envp) {
        char bin[PATH_MAX];
        snprintf(bin, sizeof(bin), "%s", gt->go);
        char *sl = strrchr(bin, '/');
        if (sl)
            *sl = 0;
        const char *op = getenv("PATH");
        snprintf(pathv, pathlen, "PATH=%s:%s", bin, op ? op : "/usr/bin:/bin");
        envp[k++] = pathv;
        envp[k++] = (char *)"GOFLAGS=-mod=mod";
        envp[k++] = (char *)"GOPROXY=off";
        envp[k++] = (char *)"GOTOOLCHAIN=local";
        envp[k++] = (char *)(r->go_cgo ? "CGO_ENABLED=1" : "CGO_ENABLED=0");
        envp[k++] = (char *)"GOTELEMETRY=off";
    }
    return envp;
}

/* Why the build command failed: how it ended and the end of its log. */
static void build_failed(char *const *argv, int st, int timed_out, const char *log,
                         char *err, size_t errlen)
{
    size_t ll = 0;
    char *text = shunt_read_file(log, 1 << 20, &ll);
    const char *tail = text ? text : "";
    if (ll > 1500)
        tail = text + ll - 1500;
    char cmd[1024] = "";
    for (size_t i = 0; argv[i]; i++) {
        size_t cl = strlen(cmd);
        snprintf(cmd + cl, sizeof(cmd) - cl, "%s%s", i ? " " : "", argv[i]);
    }
    snprintf(err, errlen, "build failed (`%s` %s):\n%s", cmd,
             timed_out ? "timed out" : WIFEXITED(st) ? "exited non-zero" : "was killed",
             tail);
    free(text);
}

/* Runs the build command in tsrc ({entry}, {prog}, {src} expanded), its
 * output to log; it must write tprog.  0, or -1 with err. */
static int run_build(const shunt_runspec_t *r, const char *const *bcmd,
                     const shunt_gotool_t *gt,
                     const char *tsrc, const char *tentry, const char *tprog,
                     const char *log, char *err, size_t errlen)
{
    size_t n = 0;
    while (bcmd[n])
        n++;
    char **argv = calloc(n + 1, sizeof(char *));
    int bad = !argv, rc = -1;
    for (size_t i = 0; !bad && i < n; i++)
        bad = !(argv[i] = expand(bcmd[i], tentry, tprog, tsrc));
    char pathv[PATH_MAX + 64];
    char **envp = build_env(r, gt, pathv, sizeof(pathv));
    if (gt && envp && !bad && n && strcmp(argv[0], "go") == 0) {
        free(argv[0]);
        argv[0] = strdup(gt->go);
        bad |= !argv[0];
    }
    struct stat st;
    if (bad || !envp) {
        snprintf(err, errlen, "out of memory (or a build argument too long)");
    } else {
        int to = 0;
        char perr[512];
        int st2 = shunt_proc_run(argv, envp, tsrc, NULL, log, log, 600000, &to, perr,
                                 sizeof(perr));
        if (st2 < 0)
            snprintf(err, errlen, "build: %s", perr);
        else if (st2 != 0)
            build_failed(argv, st2, to, log, err, errlen);
        else if (stat(tprog, &st) < 0)
            snprintf(err, errlen, "build succeeded but wrote no %s", tprog);
        else
            rc = 0;
    }
    for (size_t i = 0; argv && i < n; i++)
        free(argv[i]);
    free(argv);
    free(envp);
    return rc;
}

/* Builds into a private directory of the cache, then renames it to
 * out->dir (another harness may have stored it meanwhile: then it is
 * theirs that counts). */
static int build_into(const shunt_runspec_t *r, const shunt_gotool_t *gt,
                      const char *const *bcmd, const char *cache_root, uint64_t key,
                      shunt_built_t *out, char *err, size_t errlen)
{
    char tmp[PATH_MAX], tsrc[PATH_MAX], tprog[PATH_MAX], tentry[PATH_MAX], log[PATH_MAX];
    uint64_t t0 = shunt_now_ms();
    if (shunt_mkdir_p(cache_root, 0755) < 0)
        return snprintf(err, errlen, "cannot create %s: %s", cache_root,
                        strerror(errno)), -1;
    if (shunt_fmt(tmp, sizeof(tmp), "%s/.tmp-%d-%016llx", cache_root, (int)getpid(),
                  (unsigned long long)key) < 0)
        return snprintf(err, errlen, "path too long"), -1;
    rm_rf(tmp);
    (void)shunt_fmt(tsrc, sizeof(tsrc), "%s/src", tmp);
    (void)shunt_fmt(tprog, sizeof(tprog), "%s/prog", tmp);
    (void)shunt_fmt(log, sizeof(log), "%s/build.log", tmp);
    if (mkdir(tmp, 0755) < 0 || mkdir(tsrc, 0755) < 0)
        return snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno)), -1;
    if (shunt_fmt(tentry, sizeof(tentry), "%s/%s", tsrc, entry_name(r)) < 0)
        return snprintf(err, errlen, "path too long"), -1;
    if (stage_sources(r, tsrc, tentry) < 0) {
        snprintf(err, errlen, "cannot copy the sources into %s: %s", tsrc,
                 strerror(errno));
        rm_rf(tmp);
        return -1;
    }
    if (bcmd && run_build(r, bcmd, gt, tsrc, tentry, tprog, log, err, errlen) < 0) {
        rm_rf(tmp);
        return -1;
    }
    chmod(tmp, 0755);
    if (rename(tmp, out->dir) < 0) {
        int e = errno;
        rm_rf(tmp);
        if (e != EEXIST && e != ENOTEMPTY)
            return snprintf(err, errlen, "cannot store %s: %s", out->dir,
                            strerror(e)), -1;
        out->cached = 1; /* built by someone else meanwhile */
    }
    out->seconds = (double)(shunt_now_ms() - t0) / 1000.0;
    return 0;
}

/* argv: the program, or the interpreter and the entry file, then args. */
static int program_argv(const shunt_runspec_t *r, shunt_built_t *out, char *err,
                        size_t errlen)
{
    const char *interp = interpreter(r->lang);
    char prog[PATH_MAX], entry[PATH_MAX];
    (void)shunt_fmt(prog, sizeof(prog), "%s/prog", out->dir);
    (void)shunt_fmt(entry, sizeof(entry), "%s/src/%s", out->dir, entry_name(r));
    size_t na = r->n_args;
    out->argv = calloc(na + 3, sizeof(char *));
    if (!out->argv)
        return snprintf(err, errlen, "out of memory"), -1;
    size_t k = 0;
    int ok = 1;
    if (r->lang == SHUNT_LANG_COMMAND) {
        /* args as they are */
    } else if (interp) {
        ok &= !!(out->argv[k++] = strdup(interp));
        ok &= !!(out->argv[k++] = strdup(entry));
    } else {
        ok &= !!(out->argv[k++] = strdup(prog));
    }
    for (size_t i = 0; i < na; i++)
        ok &= !!(out->argv[k++] = strdup(r->args[i]));
    if (!ok) {
        shunt_built_free(out);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    return 0;
}

int shunt_build(const shunt_runspec_t *r, const shunt_gotool_t *gt,
                const char *cache_root, shunt_built_t *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (r->lang == SHUNT_LANG_COMMAND) /* nothing to build or copy */
        return program_argv(r, out, err, errlen);
    hash_t h = {SHUNT_FNV_OFFSET};
    const char *const *bcmd = r->build ? (const char *const *)r->build
                                       : default_build(r);
    if (cache_key(r, gt, bcmd, &h, err, errlen) < 0)
        return -1;
    const char *prefix = gt ? gt->version : shunt_lang_name(r->lang);
    if (shunt_fmt(out->dir, sizeof(out->dir), "%s/%s-%016llx", cache_root, prefix,
                  (unsigned long long)h.h) < 0)
        return snprintf(err, errlen, "cache path too long"), -1;
    struct stat st;
    if (stat(out->dir, &st) == 0)
        out->cached = 1;
    else if (build_into(r, gt, bcmd, cache_root, h.h, out, err, errlen) < 0)
        return -1;
    return program_argv(r, out, err, errlen);
}

void shunt_built_free(shunt_built_t *b)
{
    for (size_t i = 0; b->argv && b->argv[i]; i++)
        free(b->argv[i]);
    free(b->argv);
    b->argv = NULL;
}
