/* The program's own files are local (docs/hooking.md, "Default local
 * set"): the rule, as a pure function of what a process was started with,
 * so that the layer (layer/progloc.c, at start) and the leak recorder
 * (harness/recorder/recorder_rules.c, at each exec it sees) decide alike. */
#include "shunt/progloc.h"
#include "shunt/path.h"

#include <stdlib.h>
#include <string.h>


/* Adds a normalised absolute path to the variable children inherit
 * (':'-separated; a path with ':' is not passed on). */
static void var_add(progvar_t *pv, const char *path)
{
    size_t n = strlen(path);
    if (strchr(path, ':') || pv->len + n + 2 > sizeof(pv->v))
        return;
    for (const char *s = pv->v; *s;) {
        size_t k = strcspn(s, ":");
        if (k == n && memcmp(s, path, n) == 0)
            return;
        s += k;
        if (*s)
            s++;
    }
    if (pv->len)
        pv->v[pv->len++] = ':';
    memcpy(pv->v + pv->len, path, n + 1);
    pv->len += n;
}

static int norm(const char *cwd, const char *path, char *out, size_t len)
{
    if (!path || !*path || (path[0] != '/' && !cwd))
        return -1;
    return shunt_path_normalize(path[0] == '/' ? NULL : cwd, path, out, len) <
                   0
               ? -1
               : 0;
}

/* A program file (or a directory of programs): local, and passed on. */
static void program(shunt_policy_t *p, progvar_t *pv, const char *cwd,
                    const char *path, int is_dir)
{
    char n[4096];
    if (norm(cwd, path, n, sizeof(n)) < 0 || (n[1] == '\0'))
        return;
    char d[4096];
    memcpy(d, n, strlen(n) + 1);
    char *slash = strrchr(d, '/');
    if (!is_dir)
        slash == d ? (void)(d[1] = '\0') : (void)(*slash = '\0');
    /* Children get the directory (they add its prefix themselves), unless
     * the defaults make it local anyway (/usr/bin). */
    int pass = pv && d[1] != '\0' &&
               shunt_policy_mode(p, d) != SHUNT_MODE_LOCAL;
    shunt_policy_add_program(p, n, is_dir);
    if (pass)
        var_add(pv, d);
}

/* A toolchain's home: $VAR, else $HOME/DFLT (never "/" or HOME itself). */
static void tool_home(shunt_policy_t *p, progvar_t *pv, const shunt_progloc_in_t *in,
                      const char *var, const char *dflt)
{
    const char *v = in->getvar(var, in->ctx);
    char buf[4096];
    if (!v || !*v) {
        const char *home = in->getvar("HOME", in->ctx);
        if (!home || home[0] != '/' || !dflt ||
            strlen(home) + strlen(dflt) + 2 > sizeof(buf))
            return;
        memcpy(buf, home, strlen(home));
        buf[strlen(home)] = '/';
        strcpy(buf + strlen(home) + 1, dflt);
        v = buf;
    }
    char n[4096];
    if (norm(NULL, v, n, sizeof(n)) < 0 ||
        shunt_policy_add_local(p, n) < 0)
        return;
    var_add(pv, n);
}

/* Toolchains whose files live outside their own prefix, by the name of
 * the executable (/proc/self/exe, links resolved: cargo is rustup). */
static void tool_homes(shunt_policy_t *p, progvar_t *pv,
                       const shunt_progloc_in_t *in, const char *exe)
{
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (!strcmp(base, "rustup") || !strcmp(base, "cargo") ||
        !strcmp(base, "rustc")) {
        tool_home(p, pv, in, "RUSTUP_HOME", ".rustup");
        tool_home(p, pv, in, "CARGO_HOME", ".cargo");
    } else if (!strcmp(base, "go")) {
        /* GOROOT is the prefix above bin/go; the module and build caches
         * (and GOPATH, whose pkg/mod is the default module cache). */
        tool_home(p, pv, in, "GOPATH", "go");
        tool_home(p, pv, in, "GOMODCACHE", NULL);
        const char *xdg = in->getvar("XDG_CACHE_HOME", in->ctx);
        if (in->getvar("GOCACHE", in->ctx) || !xdg || xdg[0] != '/')
            tool_home(p, pv, in, "GOCACHE", ".cache/go-build");
        else {
            char c[4096];
            if (strlen(xdg) + 10 < sizeof(c)) {
                strcpy(c, xdg);
                strcat(c, "/go-build");
                program(p, pv, NULL, c, 1);
            }
        }
    }
}

void shunt_progloc_apply(shunt_policy_t *p, const shunt_progloc_in_t *in,
                         progvar_t *pv)
{
    pv->len = 0;
    pv->v[0] = '\0';
    /* What the ancestors found: passed on as it is. */
    const char *inh = in->getvar(SHUNT_PROGLOC_VAR, in->ctx);
    for (const char *s = inh ? inh : ""; *s;) {
        size_t k = strcspn(s, ":");
        char one[4096];
        if (k && k < sizeof(one)) {
            memcpy(one, s, k);
            one[k] = '\0';
            char nn[4096];
            if (norm(NULL, one, nn, sizeof(nn)) == 0 && nn[1] != '\0' &&
                shunt_policy_add_program(p, nn, 1) == 0)
                var_add(pv, nn);
        }
        s += k;
        if (*s)
            s++;
    }

    if (in->exe && in->exe[0] == '/') {
        program(p, pv, NULL, in->exe, 0);
        tool_homes(p, pv, in, in->exe);
    }
    /* The path the kernel was asked to exec: the script of a #! script,
     * a virtualenv's bin/python (a link: /proc/self/exe is its target). */
    program(p, pv, in->cwd, in->execfn, 0);

    /* PATH's directories and their prefixes: a shell looking for a
     * command stats PATH/cmd itself; PATH is the local one (env.c keeps
     * it), so every process of the tree finds the same.  Not passed on. */
    const char *path = in->getvar("PATH", in->ctx);
    for (const char *s = path ? path : ""; *s;) {
        size_t k = strcspn(s, ":");
        char one[4096];
        if (k && k < sizeof(one) && s[0] == '/') {
            memcpy(one, s, k);
            one[k] = '\0';
            program(p, NULL, NULL, one, 1);
        }
        s += k;
        if (*s)
            s++;
    }

}
