/* The program's own files are local (docs/hooking.md, "Default local
 * set"): one rule for the layer and the leak recorder. */
#ifndef SHUNT_POLICY_PROGLOC_H
#define SHUNT_POLICY_PROGLOC_H

#include "shunt/policy.h"

#include <stddef.h>

/* What a process passes its children: the program dirs it found. */
#define SHUNT_PROGLOC_VAR "SHUNT_PROGRAM_LOCAL"
#define SHUNT_PROGLOC_MAX 8192 /* bytes of the variable passed on */

typedef struct {
    char v[SHUNT_PROGLOC_MAX];
    size_t len;
} progvar_t;

/* What a process was started with.  getvar reads its (local) environment;
 * exe is /proc/PID/exe, execfn the path exec was given (AT_EXECFN), cwd
 * its directory at start; any may be NULL. */
typedef struct {
    const char *(*getvar)(const char *name, void *ctx);
    void *ctx;
    const char *exe, *execfn, *cwd;
} shunt_progloc_in_t;

/* Makes the program's files local in p (its executable, the exec'd path,
 * the PATH directories, the install prefixes above them, toolchain homes,
 * and what the ancestors passed in SHUNT_PROGRAM_LOCAL); pv gets the value
 * to pass on to children. */
void shunt_progloc_apply(shunt_policy_t *p, const shunt_progloc_in_t *in,
                         progvar_t *pv);

#endif
