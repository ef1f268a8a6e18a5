/* The program's environment: at start-up it becomes the target's (ENV_GET),
 * filtered by env_include/env_exclude, plus the local variables that a
 * local run needs (docs/exec.md).  Runs once per session: a child started
 * under the layer inherits whatever environment its parent gave it. */
#include "hooks.h"
#include "layer.h"
#include "shunt/envfilter.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;
extern char **__environ;

/* Set in the environment once the target's environment was imported; the
 * exec hooks (children.c) carry it to every child with the other SHUNT_*
 * variables, so a child never imports it again over its parent's choice. */
#define ENV_DONE "SHUNT_ENV_DONE"

static size_t name_len(const char *entry, size_t len)
{
    const char *eq = memchr(entry, '=', len);
    return eq ? (size_t)(eq - entry) : len;
}

/* Whether arr[0..n) already holds a variable named like entry. */
static int have(char **arr, size_t n, const char *entry, size_t nlen)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(arr[i], entry, nlen) == 0 && arr[i][nlen] == '=')
            return 1;
    return 0;
}

void shunt_env_init(void);
void shunt_env_init(void)
{
    if (getenv(ENV_DONE))
        return; /* a child of a process under the layer: keep its env */
    shunt_env_get_t req = {.max_bytes = 0};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_ENV_GET, &req, &m);
    if (r < 0) {
        LOG_WARN("environment: cannot get the target's (%s); keeping the "
                 "local one",
                 ESTR((int)-r));
        return;
    }
    size_t nlocal = 0;
    while (environ && environ[nlocal])
        nlocal++;
    size_t cap = nlocal + m.u.env_r.vars.count + 2;
    char **env = calloc(cap, sizeof(*env));
    if (!env) {
        LOG_ERROR("environment: out of memory; keeping the local one");
        return;
    }
    size_t n = 0, from_target = 0;
    for (size_t i = 0; i < nlocal; i++) {
        size_t nlen = name_len(environ[i], strlen(environ[i]));
        if (shunt_env_keep_local(environ[i], nlen) && !have(env, n, environ[i], nlen))
            env[n++] = environ[i]; /* the original strings live forever */
    }
    shunt_list_iter_t it;
    shunt_list_iter_init(&it, &m.u.env_r.vars);
    shunt_rec_str_t v;
    while (n + 1 < cap && shunt_list_next_rec_str(&it, &v) == 1) {
        size_t nlen = name_len(v.s.p, v.s.len);
        if (nlen == 0 || nlen == v.s.len || shunt_env_keep_local(v.s.p, nlen) ||
            have(env, n, v.s.p, nlen))
            continue; /* no '=', a local name, or a duplicate */
        char *s = malloc((size_t)v.s.len + 1); /* writable: shells edit them */
        if (!s)
            break;
        memcpy(s, v.s.p, v.s.len);
        s[v.s.len] = 0;
        s[nlen] = 0;
        int ok = shunt_env_wanted(&shunt_layer.cfg, s);
        s[nlen] = '=';
        if (!ok) {
            LOG_TRACE("environment: %s filtered out", s);
            free(s);
            continue;
        }
        env[n++] = s;
        from_target++;
    }
    static char done[] = ENV_DONE "=1";
    env[n++] = done;
    env[n] = NULL;
    /* Before main(): main's envp is __environ (glibc passes it). */
    environ = env;
    __environ = env;
    LOG_DEBUG("environment: %zu variable(s) from the target, %zu kept "
              "local",
              from_target, n - 1 - from_target);
}

/* The layer starts before libc's own initialiser (init.c), which then sets
 * environ to the stack's again; the environment built above is put back
 * when the program starts: after every library's constructor (as when the
 * layer started last), before the program's own constructors and main(),
 * whose envp is __environ.  A Go program never gets here: it was run again
 * with that environment already (go.c). */
static char **env_at_start;

void shunt_env_restore_at_start(char **env);
void shunt_env_restore_at_start(char **env) { env_at_start = env; }

int hook___libc_start_main(int (*main)(int, char **, char **), int argc,
                           char **argv, void (*init)(void), void (*fini)(void),
                           void (*rtld_fini)(void), void *stack_end)
{
    if (env_at_start) {
        if (environ != argv + argc + 1)
            LOG_DEBUG("environment: changed by a library's constructor; "
                      "the target's replaces it");
        environ = env_at_start;
        __environ = env_at_start;
        env_at_start = NULL;
    }
    return REAL(__libc_start_main, main, argc, argv, init, fini, rtld_fini,
                                  stack_end);
}
