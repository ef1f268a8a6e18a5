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
#include <sys/time.h>
#include <sys/utsname.h>
#include <utime.h>
#include <unistd.h>

extern __thread int shunt_guard __attribute__((tls_model("initial-exec")));

struct statx;

#define H_OPT 1
#define H_PRIV 2
#define H_FIND 4
#define H_NESTED 8

/* real_<name> is a struct holding the original, so that it cannot be
 * called as real_<name>(...): every call of an original goes through
 * REAL() below.  real_<name>.fn is the pointer (NULL when absent). */
#define HOOK(name, ret, params, flags)                  \
    extern struct real_##name##_s {                                     \
        ret(*fn) params;                                \
    } real_##name;                                                      \
    enum { real_##name##_flags = (flags) };                             \
    ret hook_##name params;
#define ALIAS(name, of, flags)                          \
    extern struct real_##of##_s real_##name;                            \
    enum { real_##name##_flags = (flags) };
#include "hooks.def"
#undef HOOK
#undef ALIAS

/* The one way to call an original (docs/hooking.md, "Originals").  The
 * per-thread guard is up for the whole call, so a patched entry that the
 * original reaches inside libc (glibc's renameat2 jumps into renameat,
 * stat into fstatat, gethostname into uname...) goes straight to its own
 * original: no layer logic ever runs inside an original, whatever libc's
 * internal call graph is.  H_NESTED originals (composite functions whose
 * inner calls are the program's: getaddrinfo reading the target's
 * /etc/hosts, posix_spawn's child calling execve; and exec, which does not
 * return to lower the guard of a CLONE_VM parent) run without it. */
#define REAL(name, ...)                                                  \
    ({                                                                   \
        const int real_g_ = !(real_##name##_flags & H_NESTED);          \
        shunt_guard += real_g_;                                         \
        __auto_type real_r_ = real_##name.fn(__VA_ARGS__);              \
        shunt_guard -= real_g_;                                         \
        real_r_;                                                        \
    })
/* REAL(name, SHUNT_UNPAREN (a, b)) for an argument list kept in parentheses. */
#define SHUNT_UNPAREN(...) __VA_ARGS__
/* The same for an original that returns nothing (freeaddrinfo). */
#define REAL_VOID(name, ...)                                             \
    do {                                                                 \
        const int real_g_ = !(real_##name##_flags & H_NESTED);          \
        shunt_guard += real_g_;                                         \
        real_##name.fn(__VA_ARGS__);                                    \
        shunt_guard -= real_g_;                                         \
    } while (0)

/* Installs every hook (init.c calls it last).  Returns how many failed
 * among the non-optional ones. */
int shunt_hooks_install(void);

#endif
