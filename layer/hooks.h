/* The real_<name> pointers (originals) and hook_<name> detours generated
 * from hooks.def. */
#ifndef SHUNT_LAYER_HOOKS_H
#define SHUNT_LAYER_HOOKS_H

#include <dirent.h>
#include <netdb.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

struct statx;

#define H_OPT 1
#define H_PRIV 2
#define H_FIND 4

#define HOOK(name, ret, params, flags) \
    extern ret(*real_##name) params;   \
    ret hook_##name params;
#define ALIAS(name, of, flags) extern __typeof__(real_##of) real_##name;
#include "hooks.def"
#undef HOOK
#undef ALIAS

/* Installs every hook (init.c calls it last).  Returns how many failed
 * among the non-optional ones. */
int shunt_hooks_install(void);

#endif
