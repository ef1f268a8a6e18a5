/* The program's own files are local (docs/hooking.md, "Default local
 * set"): its executable, the path it was exec'd by (a #! script), the
 * directories of PATH, the install prefix above each (~/.pyenv, a
 * virtualenv, ~/.nvm/versions/node/vN, ~/.cargo), the homes of the
 * toolchains it is (rustup, go), and what its ancestors under the layer
 * found for themselves (SHUNT_PROGRAM_LOCAL, so that bash running a pyenv
 * shim for env, or node running an nvm script, sees the script's prefix).
 * Runs once in the constructor, before the environment becomes the
 * target's: every variable read here is the local one. */
#include "layer.h"
#include "notice.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#define PROGRAM_VAR "SHUNT_PROGRAM_LOCAL"
#define PROGRAM_MAX 8192 /* bytes of the variable passed on */

typedef struct {
    char v[PROGRAM_MAX];
    size_t len;
} progvar_t;

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
static void tool_home(shunt_policy_t *p, progvar_t *pv, const char *var,
                      const char *dflt)
{
    const char *v = getenv(var);
    char buf[4096];
    if (!v || !*v) {
        const char *home = getenv("HOME");
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
static void tool_homes(shunt_policy_t *p, progvar_t *pv, const char *exe)
{
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (!strcmp(base, "rustup") || !strcmp(base, "cargo") ||
        !strcmp(base, "rustc")) {
        tool_home(p, pv, "RUSTUP_HOME", ".rustup");
        tool_home(p, pv, "CARGO_HOME", ".cargo");
    } else if (!strcmp(base, "go")) {
        /* GOROOT is the prefix above bin/go; the module and build caches
         * (and GOPATH, whose pkg/mod is the default module cache). */
        tool_home(p, pv, "GOPATH", "go");
        tool_home(p, pv, "GOMODCACHE", NULL);
        const char *xdg = getenv("XDG_CACHE_HOME");
        if (getenv("GOCACHE") || !xdg || xdg[0] != '/')
            tool_home(p, pv, "GOCACHE", ".cache/go-build");
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

void shunt_progloc_init(shunt_policy_t *p);
void shunt_progloc_init(shunt_policy_t *p)
{
    shunt_notice_init(); /* notice.c: $SHUNT_UNHOOKED_FILE */
    static progvar_t pv; /* 8 KiB: not on the constructor's stack */
    pv.len = 0;
    pv.v[0] = '\0';
    char cwd[4096];
    long n = LSYS2(SYS_getcwd, cwd, sizeof(cwd));
    const char *base = n > 0 && cwd[0] == '/' ? cwd : NULL;

    /* What the ancestors found: passed on as it is. */
    const char *inh = getenv(PROGRAM_VAR);
    for (const char *s = inh ? inh : ""; *s;) {
        size_t k = strcspn(s, ":");
        char one[4096];
        if (k && k < sizeof(one)) {
            memcpy(one, s, k);
            one[k] = '\0';
            char nn[4096];
            if (norm(NULL, one, nn, sizeof(nn)) == 0 && nn[1] != '\0' &&
                shunt_policy_add_program(p, nn, 1) == 0)
                var_add(&pv, nn);
        }
        s += k;
        if (*s)
            s++;
    }

    char exe[4096];
    n = LSYS4(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe,
              sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        program(p, &pv, NULL, exe, 0);
        tool_homes(p, &pv, exe);
    }
    /* The path the kernel was asked to exec: the script of a #! script,
     * a virtualenv's bin/python (a link: /proc/self/exe is its target). */
    program(p, &pv, base, (const char *)getauxval(AT_EXECFN), 0);

    /* PATH's directories and their prefixes: a shell looking for a
     * command stats PATH/cmd itself; PATH is the local one (env.c keeps
     * it), so every process of the tree finds the same.  Not passed on. */
    const char *path = getenv("PATH");
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

    if (pv.len && (!inh || strcmp(inh, pv.v) != 0))
        setenv(PROGRAM_VAR, pv.v, 1);
}
