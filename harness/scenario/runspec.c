/* Validation of a scenario's program:, runs: and expect: sections. */
#include "shunt/runspec.h"

#include "shunt/arena.h"
#include "shunt/config.h"
#include "shunt/traffic.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    shunt_runspec_t r;   /* first: the public pointer is this struct's */
    shunt_arena_t mem;   /* every string and array of r */
} owned_t;

typedef struct {
    const shunt_yerr_t *e;
    owned_t *o;
    const char *dir;
} ctx_t;

static void *keep(ctx_t *c, void *p) { return shunt_arena_keep(&c->o->mem, p); }

static void *zalloc(ctx_t *c, size_t n, size_t size)
{
    return shunt_arena_zalloc(&c->o->mem, n, size);
}

static char *sdup(ctx_t *c, const char *s)
{
    return shunt_arena_strdup(&c->o->mem, s);
}

static int oom(ctx_t *c)
{
    snprintf(c->e->buf, c->e->len, "%s: out of memory", c->e->file);
    return -1;
}

const char *shunt_lang_name(shunt_lang_t l)
{
    static const char *const names[] = {"c", "rust", "go", "node",
                                        "python", "shell", "command"};
    return (size_t)l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
}

const char *shunt_engine_name(shunt_engine_t e)
{
    static const char *const names[] = {"layer", "supervisor", "auto"};
    return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

int shunt_engine_parse(const char *s)
{
    for (int e = 0; e < SHUNT_ENGINE_COUNT; e++)
        if (strcmp(s, shunt_engine_name((shunt_engine_t)e)) == 0)
            return e;
    return -1;
}

const char *shunt_obs_name(unsigned bit)
{
    switch (bit) {
    case SHUNT_OBS_STDOUT: return "stdout";
    case SHUNT_OBS_STDERR: return "stderr";
    case SHUNT_OBS_EXIT: return "exit";
    case SHUNT_OBS_FILES: return "files";
    case SHUNT_OBS_JOURNAL: return "journal";
    default: return "?";
    }
}

/* A scalar that may be the empty string ("" is not null). */
static int get_text(ctx_t *c, const shunt_ynode_t *n, const char *path,
                    const char **out)
{
    if (n->kind == SHUNT_Y_SCALAR && !n->plain && n->len == 0) {
        *out = "";
        return 0;
    }
    return shunt_yget_str(c->e, n, path, out);
}

static int get_bool(ctx_t *c, const shunt_ynode_t *n, const char *path, int *out)
{
    const char *s;
    if (shunt_yget_str(c->e, n, path, &s) < 0)
        return -1;
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
        *out = 0;
    else
        return shunt_yerror(c->e, n, path, "expected true or false, got \"%s\"", s);
    return 0;
}

static int get_regex(ctx_t *c, const shunt_ynode_t *n, const char *path,
                     char **out)
{
    const char *s;
    if (shunt_yget_regex(c->e, n, path, &s) < 0)
        return -1;
    return (*out = sdup(c, s)) ? 0 : oom(c);
}

/* A list of strings (a single scalar is not accepted: lists stay lists). */
static int get_strlist(ctx_t *c, const shunt_ynode_t *n, const char *path,
                       int allow_empty_list, char ***out, size_t *count)
{
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (!allow_empty_list && n->count == 0)
        return shunt_yerror(c->e, n, path, "expected a non-empty list");
    char **v = zalloc(c, n->count + 1, sizeof(*v));
    if (!v)
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char sub[512];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (get_text(c, n->items[i], sub, &s) < 0)
            return -1;
        if (!(v[i] = sdup(c, s)))
            return oom(c);
    }
    *out = v;
    if (count)
        *count = n->count;
    return 0;
}

/* source: relative to the scenario's directory, never leaving it. */
static int get_source(ctx_t *c, const shunt_ynode_t *n, const char *path,
                      shunt_runspec_t *r)
{
    const char *rel;
    if (shunt_yget_str(c->e, n, path, &rel) < 0)
        return -1;
    if (rel[0] == '/')
        return shunt_yerror(c->e, n, path,
                            "expected a path relative to the scenario's "
                            "directory, got the absolute path \"%s\"",
                            rel);
    char joined[PATH_MAX], real[PATH_MAX], realdir[PATH_MAX];
    struct stat st;
    if (snprintf(joined, sizeof(joined), "%s/%s", c->dir, rel) >= (int)sizeof(joined))
        return shunt_yerror(c->e, n, path, "path too long");
    if (!realpath(joined, real) || stat(real, &st) < 0)
        return shunt_yerror(c->e, n, path, "cannot read \"%s\" (relative to %s): %s",
                            rel, c->dir, strerror(errno));
    if (!realpath(c->dir, realdir))
        return shunt_yerror(c->e, n, path, "cannot resolve %s: %s", c->dir,
                            strerror(errno));
    size_t dl = strlen(realdir);
    if (strcmp(realdir, "/") != 0 &&
        (strncmp(real, realdir, dl) != 0 || real[dl] != '/'))
        return shunt_yerror(c->e, n, path,
                            "\"%s\" resolves to %s, outside the scenario's "
                            "directory",
                            rel, real);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return shunt_yerror(c->e, n, path,
                            "\"%s\" is neither a regular file nor a directory", rel);
    r->source_is_dir = S_ISDIR(st.st_mode);
    return (r->source = sdup(c, real)) ? 0 : oom(c);
}

static unsigned obs_bit(const char *s)
{
    if (strcmp(s, "stdout") == 0) return SHUNT_OBS_STDOUT;
    if (strcmp(s, "stderr") == 0) return SHUNT_OBS_STDERR;
    if (strcmp(s, "exit") == 0) return SHUNT_OBS_EXIT;
    if (strcmp(s, "files") == 0) return SHUNT_OBS_FILES;
    if (strcmp(s, "journal") == 0) return SHUNT_OBS_JOURNAL;
    return 0;
}

/* in: one name or a list of names among those allowed (mask). */
static int get_in(ctx_t *c, const shunt_ynode_t *n, const char *path,
                  unsigned allowed, int single, unsigned *out)
{
    const char *names = allowed & SHUNT_OBS_EXIT ? "stdout, stderr, exit, files or journal"
                                                 : "stdout, stderr, files or journal";
    *out = 0;
    if (n->kind == SHUNT_Y_SCALAR || single) {
        const char *s;
        if (shunt_yget_str(c->e, n, path, &s) < 0)
            return -1;
        unsigned b = obs_bit(s);
        if (!(b & allowed))
            return shunt_yerror(c->e, n, path, "expected %s, got \"%s\"", names, s);
        *out = b;
        return 0;
    }
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (n->count == 0)
        return shunt_yerror(c->e, n, path, "expected a non-empty list of %s", names);
    for (size_t i = 0; i < n->count; i++) {
        char sub[512];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yget_str(c->e, n->items[i], sub, &s) < 0)
            return -1;
        unsigned b = obs_bit(s);
        if (!(b & allowed))
            return shunt_yerror(c->e, n->items[i], sub, "expected %s, got \"%s\"",
                                names, s);
        *out |= b;
    }
    return 0;
}

static int lang_of(const char *s, shunt_lang_t *out)
{
    static const char *const names[] = {"c", "rust", "go", "node",
                                        "python", "shell", "command", NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (shunt_lang_t)i;
            return 0;
        }
    return -1;
}

/* program.language. */
static int get_language(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v;
    const char *s;
    if (!(v = shunt_ymap_get(n, "language")))
        return shunt_yerror(c->e, n, "program",
                            "missing required key language (c, rust, go, node, "
                            "python, shell or command)");
    if (shunt_yget_str(c->e, v, "program.language", &s) < 0)
        return -1;
    if (lang_of(s, &r->lang) < 0)
        return shunt_yerror(c->e, v, "program.language",
                            "expected c, rust, go, node, python, shell or "
                            "command, got \"%s\"",
                            s);
    return 0;
}

/* program.source or program.inline (a command has neither), and main. */
static int get_sources(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v;
    const char *s;
    const shunt_ynode_t *src = shunt_ymap_get(n, "source");
    const shunt_ynode_t *inl = shunt_ymap_get(n, "inline");
    if (r->lang == SHUNT_LANG_COMMAND) {
        if (src || inl)
            return shunt_yerror(c->e, src ? src : inl,
                                src ? "program.source" : "program.inline",
                                "a command program has no source: args[0] is "
                                "the program, run as it is on both sides");
    } else if (!src == !inl) {
        return shunt_yerror(c->e, n, "program",
                            "expected exactly one of source (a file or "
                            "directory) and inline (the source text)");
    }
    if (src && get_source(c, src, "program.source", r) < 0)
        return -1;
    if (inl) {
        if (shunt_yget_str(c->e, inl, "program.inline", &s) < 0)
            return -1;
        if (!(r->inline_src = sdup(c, s)))
            return oom(c);
    }
    if ((v = shunt_ymap_get(n, "main"))) {
        if (!r->source_is_dir)
            return shunt_yerror(c->e, v, "program.main",
                                "main names the entry file of a source "
                                "directory; source is not a directory");
        if (shunt_yget_str(c->e, v, "program.main", &s) < 0)
            return -1;
        if (s[0] == '/' || strstr(s, ".."))
            return shunt_yerror(c->e, v, "program.main",
                                "expected a path inside the source directory, "
                                "got \"%s\"",
                                s);
        if (!(r->main = sdup(c, s)))
            return oom(c);
    }
    return 0;
}

/* program.build and program.args (a command's args[0] is the program). */
static int get_build_args(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v;
    if ((v = shunt_ymap_get(n, "build"))) {
        if (r->lang == SHUNT_LANG_COMMAND)
            return shunt_yerror(c->e, v, "program.build",
                                "a command program is not built");
        if (get_strlist(c, v, "program.build", 0, &r->build, NULL) < 0)
            return -1;
    }
    if ((v = shunt_ymap_get(n, "args"))) {
        if (get_strlist(c, v, "program.args", 1, &r->args, &r->n_args) < 0)
            return -1;
    } else if (!(r->args = zalloc(c, 1, sizeof(char *)))) {
        return oom(c);
    }
    if (r->lang == SHUNT_LANG_COMMAND && r->n_args == 0)
        return shunt_yerror(c->e, v ? v : n, v ? "program.args" : "program",
                            "a command program needs args: the program to run "
                            "and its arguments");
    return 0;
}

/* program.env: NAME=VALUE strings, names as a shell takes them. */
static int get_env(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v = shunt_ymap_get(n, "env");
    size_t ne = v ? v->count : 0;
    if (v && shunt_yexpect_map(c->e, v, "program.env") < 0)
        return -1;
    if (!(r->env = zalloc(c, ne + 1, sizeof(char *))))
        return oom(c);
    for (size_t i = 0; i < ne; i++) {
        const char *k = v->keys[i]->value, *val;
        char sub[512];
        shunt_ypath_key(sub, sizeof(sub), "program.env", k);
        int ok = k[0] && !(k[0] >= '0' && k[0] <= '9');
        for (const char *p = k; ok && *p; p++)
            ok = *p == '_' || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!ok)
            return shunt_yerror(c->e, v->keys[i], sub,
                                "environment variable names must match "
                                "[A-Za-z_][A-Za-z0-9_]*");
        if (get_text(c, v->items[i], sub, &val) < 0)
            return -1;
        size_t l = strlen(k) + strlen(val) + 2;
        char *kv = keep(c, malloc(l));
        if (!kv)
            return oom(c);
        snprintf(kv, l, "%s=%s", k, val);
        r->env[r->n_env++] = kv;
    }
    return 0;
}

/* program.cwd (/tmp) and program.timeout (60 s). */
static int get_cwd_timeout(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v;
    const char *s;
    if ((v = shunt_ymap_get(n, "cwd"))) {
        if (shunt_yget_str(c->e, v, "program.cwd", &s) < 0)
            return -1;
        if (s[0] != '/')
            return shunt_yerror(c->e, v, "program.cwd",
                                "expected an absolute path, got \"%s\"", s);
    } else {
        s = "/tmp";
    }
    if (!(r->cwd = sdup(c, s)))
        return oom(c);
    r->timeout_s = 60;
    if ((v = shunt_ymap_get(n, "timeout"))) {
        long t;
        if (shunt_yget_int(c->e, v, "program.timeout", 1, 3600, &t) < 0)
            return -1;
        r->timeout_s = (int)t;
    }
    return 0;
}

/* program.go: the Go versions (all, or 1.NN, 1.NN.P, go1.NN.P). */
static int get_go_versions(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const char *s;
    const shunt_ynode_t *v = shunt_ymap_get(n, "go");
    if (v && r->lang != SHUNT_LANG_GO)
        return shunt_yerror(c->e, v, "program.go",
                            "a Go version list is only for language: go");
    if (r->lang == SHUNT_LANG_GO) {
        if (!v) {
            static char *all[] = {(char *)"all", NULL};
            r->go_versions = all;
            r->n_go = 1;
        } else if (v->kind == SHUNT_Y_SCALAR) {
            if (shunt_yget_str(c->e, v, "program.go", &s) < 0)
                return -1;
            if (strcmp(s, "all") != 0)
                return shunt_yerror(c->e, v, "program.go",
                                    "expected all or a list of versions "
                                    "([\"1.19\", go1.26.8]), got \"%s\"",
                                    s);
            if (!(r->go_versions = zalloc(c, 2, sizeof(char *))) ||
                !(r->go_versions[0] = sdup(c, "all")))
                return oom(c);
            r->n_go = 1;
        } else {
            if (get_strlist(c, v, "program.go", 0, &r->go_versions, &r->n_go) < 0)
                return -1;
            for (size_t i = 0; i < r->n_go; i++) {
                const char *g = r->go_versions[i];
                const char *d = strncmp(g, "go", 2) == 0 ? g + 2 : g;
                int ok = strncmp(d, "1.", 2) == 0 && d[2] >= '0' && d[2] <= '9';
                for (const char *p = d; ok && *p; p++)
                    ok = (*p >= '0' && *p <= '9') || *p == '.';
                if (!ok && strcmp(g, "all") != 0) {
                    char sub[64];
                    shunt_ypath_index(sub, sizeof(sub), "program.go", i);
                    return shunt_yerror(c->e, v->items[i], sub,
                                        "expected a Go version (1.NN, 1.NN.P, "
                                        "go1.NN.P) or all, got \"%s\"",
                                        g);
                }
            }
        }
    }
    return 0;
}

/* program.cgo: CGO_ENABLED of a Go build (default true). */
static int get_cgo(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v = shunt_ymap_get(n, "cgo");
    r->go_cgo = 1;
    if (!v)
        return 0;
    if (r->lang != SHUNT_LANG_GO)
        return shunt_yerror(c->e, v, "program.cgo",
                            "cgo (CGO_ENABLED of the build) is only for language: go");
    return get_bool(c, v, "program.cgo", &r->go_cgo);
}

/* program.engines: a non-empty list of layer and supervisor, each once.
 * auto is harness exec's choice per program, not a promise the scenario
 * can make: harness run --engine auto asks for it. */
static int get_engines(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    const shunt_ynode_t *v = shunt_ymap_get(n, "engines");
    r->engines = SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER);
    if (!v)
        return 0;
    if (shunt_yexpect_seq(c->e, v, "program.engines") < 0)
        return -1;
    if (v->count == 0)
        return shunt_yerror(c->e, v, "program.engines",
                            "expected a non-empty list of engines (layer, supervisor)");
    r->engines = 0;
    r->engines_given = 1;
    for (size_t i = 0; i < v->count; i++) {
        char sub[64];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), "program.engines", i);
        if (shunt_yget_str(c->e, v->items[i], sub, &s) < 0)
            return -1;
        int e = shunt_engine_parse(s);
        if (e != SHUNT_ENGINE_LAYER && e != SHUNT_ENGINE_SUPERVISOR)
            return shunt_yerror(c->e, v->items[i], sub,
                                "expected layer or supervisor, got \"%s\"%s", s,
                                e == SHUNT_ENGINE_AUTO
                                    ? " (auto is harness exec's choice per program: "
                                      "harness run --engine auto)"
                                    : "");
        if (r->engines & SHUNT_ENGINE_BIT(e))
            return shunt_yerror(c->e, v->items[i], sub, "%s is listed twice", s);
        r->engines |= SHUNT_ENGINE_BIT(e);
    }
    return 0;
}

static int get_program(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"language", "source", "main", "inline",
                                       "build", "args", "stdin", "env", "cwd",
                                       "timeout", "go", "cgo", "engines", NULL};
    const shunt_ynode_t *v;
    const char *s;
    if (shunt_yexpect_map(c->e, n, "program") < 0 ||
        shunt_ycheck_keys(c->e, n, "program", keys) < 0 ||
        get_language(c, n, r) < 0 || get_sources(c, n, r) < 0 ||
        get_build_args(c, n, r) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "stdin"))) {
        if (get_text(c, v, "program.stdin", &s) < 0)
            return -1;
        if (!(r->stdin_text = sdup(c, s)))
            return oom(c);
    }
    if (get_env(c, n, r) < 0 || get_cwd_timeout(c, n, r) < 0 ||
        get_go_versions(c, n, r) < 0 || get_cgo(c, n, r) < 0 ||
        get_engines(c, n, r) < 0)
        return -1;
    return 0;
}

static int get_runs(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"reference", "local", "repeat", "reset_files",
                                       NULL};
    const shunt_ynode_t *v;
    r->run_reference = r->run_local = r->repeat = 1;
    if (!n)
        return 0;
    if (shunt_yexpect_map(c->e, n, "runs") < 0 ||
        shunt_ycheck_keys(c->e, n, "runs", keys) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "reference")) &&
        get_bool(c, v, "runs.reference", &r->run_reference) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "local")) && get_bool(c, v, "runs.local", &r->run_local) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "repeat"))) {
        long k;
        if (shunt_yget_int(c->e, v, "runs.repeat", 1, 100, &k) < 0)
            return -1;
        r->repeat = (int)k;
    }
    if ((v = shunt_ymap_get(n, "reset_files")) &&
        get_bool(c, v, "runs.reset_files", &r->reset_files) < 0)
        return -1;
    if (!r->run_reference && !r->run_local)
        return shunt_yerror(c->e, n, "runs",
                            "reference and local are both false: nothing would run");
    return 0;
}

static int get_norms(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"replace", "with", "drop", "sort",
                                       "fields", "match", "in", NULL};
    const char *path = "expect.normalise";
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (!(r->norms = zalloc(c, n->count, sizeof(*r->norms))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *m = n->items[i], *v;
        shunt_norm_t *nm = &r->norms[i];
        char sub[128], kp[192];
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yexpect_map(c->e, m, sub) < 0 || shunt_ycheck_keys(c->e, m, sub, keys) < 0)
            return -1;
        int kinds = !!shunt_ymap_get(m, "replace") + !!shunt_ymap_get(m, "drop") +
                    !!shunt_ymap_get(m, "sort") + !!shunt_ymap_get(m, "fields");
        if (kinds != 1)
            return shunt_yerror(c->e, m, sub,
                                "expected exactly one of replace, drop, sort "
                                "and fields");
        if ((v = shunt_ymap_get(m, "replace"))) {
            nm->kind = SHUNT_NORM_REPLACE;
            shunt_ypath_key(kp, sizeof(kp), sub, "replace");
            if (get_regex(c, v, kp, &nm->regex) < 0)
                return -1;
            const shunt_ynode_t *w = shunt_ymap_get(m, "with");
            const char *s;
            shunt_ypath_key(kp, sizeof(kp), sub, "with");
            if (!w)
                return shunt_yerror(c->e, m, sub, "replace needs with: (the replacement text)");
            if (get_text(c, w, kp, &s) < 0)
                return -1;
            if (!(nm->with = sdup(c, s)))
                return oom(c);
        } else if (shunt_ymap_get(m, "with")) {
            shunt_ypath_key(kp, sizeof(kp), sub, "with");
            return shunt_yerror(c->e, shunt_ymap_get(m, "with"), kp,
                                "with: belongs to replace:");
        }
        if ((v = shunt_ymap_get(m, "drop"))) {
            nm->kind = SHUNT_NORM_DROP;
            shunt_ypath_key(kp, sizeof(kp), sub, "drop");
            if (get_regex(c, v, kp, &nm->regex) < 0)
                return -1;
        }
        if ((v = shunt_ymap_get(m, "sort"))) {
            int on;
            nm->kind = SHUNT_NORM_SORT;
            shunt_ypath_key(kp, sizeof(kp), sub, "sort");
            if (get_bool(c, v, kp, &on) < 0)
                return -1;
            if (!on)
                return shunt_yerror(c->e, v, kp, "sort: false does nothing; remove it");
        }
        if ((v = shunt_ymap_get(m, "fields"))) {
            nm->kind = SHUNT_NORM_FIELDS;
            shunt_ypath_key(kp, sizeof(kp), sub, "fields");
            if (shunt_yexpect_seq(c->e, v, kp) < 0)
                return -1;
            if (v->count == 0)
                return shunt_yerror(c->e, v, kp,
                                    "expected a non-empty list of field numbers (1-based)");
            if (!(nm->fields = zalloc(c, v->count, sizeof(int))))
                return oom(c);
            for (size_t k = 0; k < v->count; k++) {
                char fp[256];
                long f;
                shunt_ypath_index(fp, sizeof(fp), kp, k);
                if (shunt_yget_int(c->e, v->items[k], fp, 1, 1000, &f) < 0)
                    return -1;
                nm->fields[nm->n_fields++] = (int)f;
            }
        }
        if ((v = shunt_ymap_get(m, "match"))) {
            shunt_ypath_key(kp, sizeof(kp), sub, "match");
            if (nm->kind != SHUNT_NORM_FIELDS)
                return shunt_yerror(c->e, v, kp,
                                    "match: (the lines to change) belongs to fields:");
            if (get_regex(c, v, kp, &nm->regex) < 0)
                return -1;
        }
        nm->in = SHUNT_OBS_STDOUT | SHUNT_OBS_STDERR | SHUNT_OBS_FILES;
        if ((v = shunt_ymap_get(m, "in"))) {
            shunt_ypath_key(kp, sizeof(kp), sub, "in");
            if (get_in(c, v, kp, SHUNT_OBS_STDOUT | SHUNT_OBS_STDERR | SHUNT_OBS_FILES |
                                     SHUNT_OBS_JOURNAL,
                       0, &nm->in) < 0)
                return -1;
        }
        r->n_norms++;
    }
    return 0;
}

/* expect.divergences[i].engines: a non-empty list of layer, supervisor
 * and auto (a difference one engine makes by design, docs/supervisor.md);
 * every engine when absent. */
static int get_div_engines(ctx_t *c, const shunt_ynode_t *v, const char *path,
                           shunt_divergence_t *d)
{
    d->engines = 0;
    if (!v) {
        for (int e = 0; e < SHUNT_ENGINE_COUNT; e++)
            d->engines |= SHUNT_ENGINE_BIT(e);
        return 0;
    }
    if (shunt_yexpect_seq(c->e, v, path) < 0)
        return -1;
    if (v->count == 0)
        return shunt_yerror(c->e, v, path,
                            "expected a non-empty list of engines (layer, supervisor, "
                            "auto)");
    for (size_t i = 0; i < v->count; i++) {
        char sub[256];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yget_str(c->e, v->items[i], sub, &s) < 0)
            return -1;
        int e = shunt_engine_parse(s);
        if (e < 0)
            return shunt_yerror(c->e, v->items[i], sub,
                                "expected layer, supervisor or auto, got \"%s\"", s);
        d->engines |= SHUNT_ENGINE_BIT(e);
    }
    return 0;
}

static int get_divergences(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"in", "lines", "reason", "engines", NULL};
    const char *path = "expect.divergences";
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (!(r->divergences = zalloc(c, n->count, sizeof(*r->divergences))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *m = n->items[i], *v;
        shunt_divergence_t *d = &r->divergences[i];
        char sub[128], kp[192];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yexpect_map(c->e, m, sub) < 0 || shunt_ycheck_keys(c->e, m, sub, keys) < 0)
            return -1;
        if (!(v = shunt_ymap_get(m, "in")))
            return shunt_yerror(c->e, m, sub,
                                "missing required key in (stdout, stderr, exit, files or journal)");
        shunt_ypath_key(kp, sizeof(kp), sub, "in");
        if (get_in(c, v, kp, SHUNT_OBS_STDOUT | SHUNT_OBS_STDERR | SHUNT_OBS_EXIT |
                                 SHUNT_OBS_FILES | SHUNT_OBS_JOURNAL,
                   1, &d->in) < 0)
            return -1;
        if (!(v = shunt_ymap_get(m, "reason")))
            return shunt_yerror(c->e, m, sub,
                                "missing required key reason: a known divergence "
                                "says why it is one");
        shunt_ypath_key(kp, sizeof(kp), sub, "reason");
        if (shunt_yget_str(c->e, v, kp, &s) < 0)
            return -1;
        if (strlen(s) < 10)
            return shunt_yerror(c->e, v, kp,
                                "expected an explanation (at least 10 characters), "
                                "got \"%s\"",
                                s);
        if (!(d->reason = sdup(c, s)))
            return oom(c);
        if ((v = shunt_ymap_get(m, "lines"))) {
            shunt_ypath_key(kp, sizeof(kp), sub, "lines");
            if (d->in == SHUNT_OBS_EXIT)
                return shunt_yerror(c->e, v, kp, "lines: does not apply to exit");
            if (get_regex(c, v, kp, &d->lines) < 0)
                return -1;
        }
        shunt_ypath_key(kp, sizeof(kp), sub, "engines");
        if (get_div_engines(c, shunt_ymap_get(m, "engines"), kp, d) < 0)
            return -1;
        r->n_divergences++;
    }
    return 0;
}

static int get_files(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"path", "local", NULL};
    const char *path = "expect.files";
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (!(r->files = zalloc(c, n->count, sizeof(*r->files))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        const shunt_ynode_t *m = n->items[i], *v;
        shunt_expect_file_t *f = &r->files[i];
        char sub[128], kp[192];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (m->kind == SHUNT_Y_SCALAR) {
            v = m;
            snprintf(kp, sizeof(kp), "%s", sub);
        } else {
            if (shunt_yexpect_map(c->e, m, sub) < 0 ||
                shunt_ycheck_keys(c->e, m, sub, keys) < 0)
                return -1;
            if (!(v = shunt_ymap_get(m, "path")))
                return shunt_yerror(c->e, m, sub, "missing required key path");
            shunt_ypath_key(kp, sizeof(kp), sub, "path");
        }
        if (shunt_yget_str(c->e, v, kp, &s) < 0)
            return -1;
        if (s[0] != '/' || strstr(s, "/../") || strstr(s, "/./"))
            return shunt_yerror(c->e, v, kp,
                                "expected an absolute path without . or .. "
                                "components, got \"%s\"",
                                s);
        if (!(f->path = sdup(c, s)))
            return oom(c);
        if (m->kind == SHUNT_Y_MAP && (v = shunt_ymap_get(m, "local"))) {
            shunt_ypath_key(kp, sizeof(kp), sub, "local");
            if (shunt_yget_str(c->e, v, kp, &s) < 0)
                return -1;
            if (strcmp(s, "host") == 0)
                f->local_on_host = 1;
            else if (strcmp(s, "target") != 0)
                return shunt_yerror(c->e, v, kp,
                                    "expected host (the local run writes it on "
                                    "this machine) or target, got \"%s\"",
                                    s);
            /* The runner deletes a host-side file before the local run, so
             * a stale copy cannot pass: only beneath /tmp. */
            if (f->local_on_host && strncmp(f->path, "/tmp/", 5) != 0)
                return shunt_yerror(c->e, v, kp,
                                    "a file the local run writes on the host must "
                                    "be under /tmp/ (the runner removes it before "
                                    "the run), got \"%s\"",
                                    f->path);
        }
        r->n_files++;
    }
    return 0;
}

/* A list of call names (identifiers) for expect.journal.calls/exclude. */
static int get_calls(ctx_t *c, const shunt_ynode_t *n, const char *path, char ***out,
                     size_t *nout)
{
    if (shunt_yexpect_seq(c->e, n, path) < 0)
        return -1;
    if (n->count == 0)
        return shunt_yerror(c->e, n, path, "expected a non-empty list of call names");
    if (!(*out = zalloc(c, n->count + 1, sizeof(**out))))
        return oom(c);
    for (size_t i = 0; i < n->count; i++) {
        char sub[256];
        const char *s;
        shunt_ypath_index(sub, sizeof(sub), path, i);
        if (shunt_yget_str(c->e, n->items[i], sub, &s) < 0)
            return -1;
        size_t k = 0;
        while (s[k] == '_' || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9'))
            k++;
        if (k == 0 || s[k])
            return shunt_yerror(c->e, n->items[i], sub,
                                "expected a call name as the journal writes it "
                                "(open, stat, connect...), got \"%s\"",
                                s);
        if (!((*out)[i] = sdup(c, s)))
            return oom(c);
    }
    *nout = n->count;
    return 0;
}

/* expect.journal: true/false, or {calls: [...], exclude: [...],
 * skip_paths: [REGEX...]}. */
static int get_journal(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"calls", "exclude", "skip_paths", NULL};
    const char *path = "expect.journal";
    const shunt_ynode_t *v;
    if (n->kind == SHUNT_Y_SCALAR)
        return get_bool(c, n, path, &r->cmp_journal);
    if (n->kind != SHUNT_Y_MAP)
        return shunt_yerror(c->e, n, path,
                            "expected true, false or a map (calls:, exclude:, "
                            "skip_paths:)");
    if (shunt_ycheck_keys(c->e, n, path, keys) < 0)
        return -1;
    r->cmp_journal = 1;
    if ((v = shunt_ymap_get(n, "calls")) &&
        get_calls(c, v, "expect.journal.calls", &r->journal_calls, &r->n_journal_calls) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "exclude")) &&
        get_calls(c, v, "expect.journal.exclude", &r->journal_exclude,
                  &r->n_journal_exclude) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "skip_paths"))) {
        const char *kp = "expect.journal.skip_paths";
        if (shunt_yexpect_seq(c->e, v, kp) < 0)
            return -1;
        if (v->count == 0)
            return shunt_yerror(c->e, v, kp, "expected a non-empty list of regular expressions");
        if (!(r->journal_skip_paths = zalloc(c, v->count + 1, sizeof(char *))))
            return oom(c);
        for (size_t i = 0; i < v->count; i++) {
            char sub[256];
            shunt_ypath_index(sub, sizeof(sub), kp, i);
            if (get_regex(c, v->items[i], sub, &r->journal_skip_paths[i]) < 0)
                return -1;
        }
        r->n_journal_skip_paths = v->count;
    }
    return 0;
}

/* SIGABRT, ABRT (any case) or a number 1-64 after SIG: the signal, or 0. */
static int signal_number(const char *s)
{
    const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (int i = 1; i < NSIG && i < 65; i++) {
        const char *a = sigabbrev_np(i);
        if (a && strcasecmp(n, a) == 0)
            return i;
    }
    return 0;
}

static int get_expect(ctx_t *c, const shunt_ynode_t *n, shunt_runspec_t *r)
{
    static const char *const keys[] = {"stdout", "stderr", "exit", "status",
                                       "refused", "unhooked", "journal", "files", "normalise",
                                       "no_leaks", "leaks", "divergences", NULL};
    const shunt_ynode_t *v;
    r->cmp_stdout = r->cmp_exit = 1;
    r->want_status = 0;
    if (!n)
        return 0;
    if (shunt_yexpect_map(c->e, n, "expect") < 0 ||
        shunt_ycheck_keys(c->e, n, "expect", keys) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "journal")) && get_journal(c, v, r) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "stdout")) && get_bool(c, v, "expect.stdout", &r->cmp_stdout) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "stderr")) && get_bool(c, v, "expect.stderr", &r->cmp_stderr) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "exit")) && get_bool(c, v, "expect.exit", &r->cmp_exit) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "status"))) {
        const char *s;
        long st;
        int sig = 0;
        if (v->kind == SHUNT_Y_SCALAR && shunt_yget_str(c->e, v, "expect.status", &s) == 0 &&
            strcmp(s, "any") == 0) {
            r->want_status = -1;
        } else if (v->kind == SHUNT_Y_SCALAR && shunt_yget_str(c->e, v, "expect.status", &s) == 0 &&
                   strncasecmp(s, "SIG", 3) == 0) {
            if (!(sig = signal_number(s)))
                return shunt_yerror(c->e, v, "expect.status",
                                    "unknown signal \"%s\" (SIGABRT, SIGSEGV, SIGKILL...)", s);
            r->want_signal = sig;
            r->want_status = 128 + sig;
        } else {
            if (shunt_yget_int(c->e, v, "expect.status", 0, 255, &st) < 0) {
                size_t l = strlen(c->e->buf);
                snprintf(c->e->buf + l, c->e->len - l,
                         " (or any, or a signal: SIGABRT...)");
                return -1;
            }
            r->want_status = (int)st;
        }
    }
    if ((v = shunt_ymap_get(n, "refused"))) {
        const char *s;
        if (shunt_yget_str(c->e, v, "expect.refused", &s) < 0)
            return -1;
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
            r->want_refused = 1;
        else if (strcmp(s, "false") != 0 && strcmp(s, "no") != 0) {
            if (get_regex(c, v, "expect.refused", &r->refused_re) < 0)
                return -1;
            r->want_refused = 1;
        }
        if (r->want_refused && !r->run_local)
            return shunt_yerror(c->e, v, "expect.refused",
                                "the local run is off (runs.local: false): nothing "
                                "can be refused");
        if (r->want_refused && !(r->engines & SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER)))
            return shunt_yerror(c->e, v, "expect.refused",
                                "only the layer refuses a program, and program.engines "
                                "does not list it");
    }
    if ((v = shunt_ymap_get(n, "unhooked"))) {
        const char *s;
        if (shunt_yget_str(c->e, v, "expect.unhooked", &s) < 0)
            return -1;
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
            r->want_unhooked = 1;
        else if (strcmp(s, "false") != 0 && strcmp(s, "no") != 0) {
            if (get_regex(c, v, "expect.unhooked", &r->unhooked_re) < 0)
                return -1;
            r->want_unhooked = 1;
        }
        if (r->want_unhooked && !r->run_local)
            return shunt_yerror(c->e, v, "expect.unhooked",
                                "the local run is off (runs.local: false): nothing "
                                "can be left unhooked");
        if (r->want_unhooked && !(r->engines & SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER)))
            return shunt_yerror(c->e, v, "expect.unhooked",
                                "only the layer leaves a program unhooked, and "
                                "program.engines does not list it");
        if (r->want_unhooked && r->want_refused)
            return shunt_yerror(c->e, v, "expect.unhooked",
                                "a refused program never starts: expect.refused and "
                                "expect.unhooked exclude each other");
    }
    if ((v = shunt_ymap_get(n, "no_leaks")) && get_bool(c, v, "expect.no_leaks", &r->no_leaks) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "leaks"))) {
        if (r->no_leaks)
            return shunt_yerror(c->e, v, "expect.leaks",
                                "no_leaks: true and a leaks: list contradict "
                                "each other (no_leaks is leaks: [])");
        if (shunt_yexpect_seq(c->e, v, "expect.leaks") < 0)
            return -1;
        if (!(r->leaks = zalloc(c, v->count + 1, sizeof(*r->leaks))))
            return oom(c);
        for (size_t i = 0; i < v->count; i++) {
            char kp[64];
            shunt_ypath_index(kp, sizeof(kp), "expect.leaks", i);
            if (get_regex(c, v->items[i], kp, &r->leaks[i]) < 0)
                return -1;
        }
        r->n_leaks = v->count;
        r->leaks_listed = 1;
    }
    if ((v = shunt_ymap_get(n, "files")) && get_files(c, v, r) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "normalise")) && get_norms(c, v, r) < 0)
        return -1;
    if ((v = shunt_ymap_get(n, "divergences")) && get_divergences(c, v, r) < 0)
        return -1;
    for (size_t i = 0; i < r->n_divergences; i++) {
        unsigned in = r->divergences[i].in;
        int on = in == SHUNT_OBS_STDOUT ? r->cmp_stdout
               : in == SHUNT_OBS_STDERR ? r->cmp_stderr
               : in == SHUNT_OBS_EXIT   ? r->cmp_exit
               : in == SHUNT_OBS_JOURNAL ? r->cmp_journal
                                        : r->n_files > 0;
        if (!on) {
            char kp[128];
            snprintf(kp, sizeof(kp), "expect.divergences[%zu].in", i);
            return shunt_yerror(c->e, shunt_ymap_get(shunt_ymap_get(n, "divergences")->items[i], "in"),
                                kp, "%s is not compared (expect.%s is off or empty)",
                                shunt_obs_name(in), shunt_obs_name(in));
        }
    }
    return 0;
}

int shunt_runspec_parse(const shunt_yerr_t *e, const char *dir,
                        const shunt_ynode_t *program, const shunt_ynode_t *runs,
                        const shunt_ynode_t *expect, shunt_runspec_t **out)
{
    *out = NULL;
    if (!program || shunt_ynode_is_null(program)) {
        const shunt_ynode_t *other = runs ? runs : expect;
        if (other)
            return shunt_yerror(e, other, runs ? "runs" : "expect",
                                "needs a program: section (what to run)");
        return 0;
    }
    owned_t *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(e->buf, e->len, "%s: out of memory", e->file);
        return -1;
    }
    ctx_t c = {.e = e, .o = o, .dir = dir};
    if (get_program(&c, program, &o->r) < 0 || get_runs(&c, runs, &o->r) < 0 ||
        get_expect(&c, expect, &o->r) < 0) {
        shunt_runspec_free(&o->r);
        return -1;
    }
    *out = &o->r;
    return 0;
}

void shunt_runspec_free(shunt_runspec_t *r)
{
    if (!r)
        return;
    owned_t *o = (owned_t *)r;
    shunt_traffic_free(r->traffic);
    shunt_arena_release(&o->mem);
    free(o);
}
