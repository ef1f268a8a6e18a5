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

#include "shunt/progloc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

static const char *env_var(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

void shunt_progloc_init(shunt_policy_t *p);
void shunt_progloc_init(shunt_policy_t *p)
{
    shunt_notice_init(); /* notice.c: $SHUNT_UNHOOKED_FILE */
    static progvar_t pv; /* 8 KiB: not on the constructor's stack */
    char cwd[4096], exe[4096];
    long n = LSYS2(SYS_getcwd, cwd, sizeof(cwd));
    long e = LSYS4(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe,
                   sizeof(exe) - 1);
    if (e > 0)
        exe[e] = '\0';
    shunt_progloc_in_t in = {
        .getvar = env_var,
        .exe = e > 0 ? exe : NULL,
        .execfn = (const char *)getauxval(AT_EXECFN),
        .cwd = n > 0 && cwd[0] == '/' ? cwd : NULL,
    };
    const char *inh = getenv(SHUNT_PROGLOC_VAR);
    shunt_progloc_apply(p, &in, &pv);
    if (pv.len && (!inh || strcmp(inh, pv.v) != 0))
        setenv(SHUNT_PROGLOC_VAR, pv.v, 1);
}
