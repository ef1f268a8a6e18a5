/* Children keep the layer and the session: every exec gets LD_PRELOAD (with
 * this library) and the session's SHUNT_* variables back if the program
 * removed them; vfork behaves as fork, so that the child is a process of its
 * own with its own connection (docs/exec.md).
 *
 * Exec hooks can run in a vfork-style child that shares the parent's memory
 * (posix_spawn, system and popen clone with CLONE_VM|CLONE_VFORK and exec in
 * the child) or after fork in a multi-threaded program, so the environment is
 * built in memory from a raw mmap, never malloc, and the guard is left
 * before the real exec (a CLONE_VM child shares the parent thread's TLS). */
#include "hooks.h"
#include "layer.h"
#include "net.h"
#include "notice.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

extern char **environ;

#define MAX_SESSION_VARS 32

/* "NAME=VALUE" strings to restore, captured at start-up; [0] is LD_PRELOAD
 * handled apart (this library must be in it). */
static char *session_vars[MAX_SESSION_VARS];
static size_t n_session_vars;
static char self_path[PATH_MAX]; /* this library, as the loader named it */
static size_t self_len;

static void add_var(const char *entry)
{
    if (n_session_vars == MAX_SESSION_VARS) {
        LOG_WARN("children: more than %d SHUNT_* variables; %s is not "
                 "carried to children",
                 MAX_SESSION_VARS, entry);
        return;
    }
    char *s = strdup(entry);
    if (s)
        session_vars[n_session_vars++] = s;
}

static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int has_name(char *const *arr, size_t n, const char *name, size_t nlen)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(arr[i], name, nlen) == 0 && arr[i][nlen] == '=')
            return 1;
    return 0;
}

/* Made afresh at each exec, whatever the program passes: the remote
 * cwd (cwd.c), the remote fds (execfds.c) and the broker's number (it
 * moves when the program dup2()s onto it).  SHUNT_TOKEN is never passed on (init.c forgets it). */
static int is_fresh_var(const char *e)
{
    return strncmp(e, "SHUNT_CWD=", 10) == 0 ||
           strncmp(e, "SHUNT_FDS=", 10) == 0 ||
           strncmp(e, "SHUNT_BROKER=", 13) == 0 ||
           strncmp(e, "SHUNT_TOKEN=", 12) == 0;
}

/* shunt-supervisor (SHUNT_SUPERVISOR, set by harness exec): a static
 * child runs under it instead of on the host (docs/supervisor.md). */
static char sv_path[PATH_MAX];

const char *shunt_children_supervisor(void)
{
    return sv_path[0] ? sv_path : NULL;
}

void shunt_children_init(void);
void shunt_children_init(void)
{
    const char *sv = getenv("SHUNT_SUPERVISOR");
    if (sv && sv[0] == '/' && strlen(sv) < sizeof(sv_path))
        strcpy(sv_path, sv);
    Dl_info di;
    if (dladdr((void *)shunt_children_init, &di) && di.dli_fname &&
        strlen(di.dli_fname) < sizeof(self_path)) {
        strcpy(self_path, di.dli_fname);
        self_len = strlen(self_path);
    } else {
        LOG_WARN("children: cannot find this library's path; children "
                 "that drop LD_PRELOAD will run without the layer");
    }
    for (size_t i = 0; environ && environ[i]; i++)
        if (strncmp(environ[i], "SHUNT_", 6) == 0 && !is_fresh_var(environ[i]))
            add_var(environ[i]);
    /* env.c's marker, whichever of the two initialisers ran first. */
    if (!has_name(session_vars, n_session_vars, "SHUNT_ENV_DONE", 14))
        add_var("SHUNT_ENV_DONE=1");
    LOG_DEBUG("children: %zu session variable(s) and %s carried to children",
              n_session_vars, self_len ? self_path : "(no library path)");
}

/* Whether an LD_PRELOAD value (":" or " " separated) names this library. */
static int preload_has_self(const char *v)
{
    while (*v) {
        size_t len = strcspn(v, ": ");
        if (len == self_len && memcmp(v, self_path, len) == 0)
            return 1;
        v += len;
        if (*v)
            v++;
    }
    return 0;
}

typedef struct {
    char **envp; /* what to pass to exec */
    void *map;   /* mmap'd, to unmap when the exec failed */
    size_t maplen;
} fixed_env_t;

/* Builds, if needed, envp with the session's variables.  On any failure the
 * program's own envp is used: a child without the layer is better than an
 * exec that fails because of the layer. */

/* fds: "SHUNT_FDS=..." (execfds.c) or NULL. */
static void fix_env(char *const *envp, fixed_env_t *f, const char *fds)
{
    f->envp = (char **)envp;
    f->map = NULL;
    size_t n = 0, stale_cwd = 0;
    while (envp && envp[n])
        stale_cwd += is_fresh_var(envp[n++]);
    int missing_preload = 0;
    const char *old_preload = NULL;
    size_t need_bytes = 0, need_ptrs = 0;
    char cwd_var[PATH_MAX + 64];
    size_t cwd_len = layer_cwd_env(cwd_var, sizeof(cwd_var));
    if (cwd_len) {
        need_bytes += cwd_len + 1;
        need_ptrs++;
    }
    if (fds)
        need_ptrs++; /* the string stays in execfds.c's map */
    char broker_var[32];
    size_t broker_len = 0;
    int bk = __atomic_load_n(&shunt_layer.broker_fd, __ATOMIC_ACQUIRE);
    if (bk >= 0) {
        /* no stdio here (a vfork-style child): the digits by hand */
        char dg[12];
        size_t nd = 0;
        do
            dg[nd++] = (char)('0' + bk % 10);
        while ((bk /= 10) && nd < sizeof(dg));
        memcpy(broker_var, "SHUNT_BROKER=", 13);
        broker_len = 13;
        while (nd)
            broker_var[broker_len++] = dg[--nd];
        broker_var[broker_len] = 0;
        need_bytes += broker_len + 1;
        need_ptrs++;
    }
    if (self_len) {
        for (size_t i = 0; i < n; i++)
            if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0) {
                old_preload = envp[i] + 11;
                break;
            }
        if (!old_preload || !preload_has_self(old_preload)) {
            missing_preload = 1;
            need_bytes += 11 + self_len + 1 +
                          (old_preload ? strlen(old_preload) + 1 : 0);
            need_ptrs++;
        }
    }
    for (size_t j = 0; j < n_session_vars; j++)
        if (!has_name(envp, n, session_vars[j], name_len(session_vars[j]))) {
            need_bytes += strlen(session_vars[j]) + 1;
            need_ptrs++;
        }
    if (!need_ptrs && !stale_cwd)
        return;
    size_t len = (n + need_ptrs + 1) * sizeof(char *) + need_bytes;
    long p = shunt_sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p < 0 && p > -4096) {
        LOG_WARN("children: mmap: %s; the child may run without the layer",
                 ESTR((int)-p));
        return;
    }
    char **out = (char **)p;
    char *str = (char *)(out + n + need_ptrs + 1);
    size_t k = 0;
    if (missing_preload) {
        /* This library first, then whatever the program preloads. */
        out[k++] = str;
        memcpy(str, "LD_PRELOAD=", 11);
        memcpy(str + 11, self_path, self_len);
        str += 11 + self_len;
        if (old_preload) {
            size_t ol = strlen(old_preload);
            *str++ = ':';
            memcpy(str, old_preload, ol);
            str += ol;
        }
        *str++ = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!(missing_preload && old_preload &&
              envp[i] + 11 == old_preload) &&
            !is_fresh_var(envp[i]))
            out[k++] = envp[i];
    if (cwd_len) {
        memcpy(str, cwd_var, cwd_len + 1);
        out[k++] = str;
        str += cwd_len + 1;
    }
    if (fds)
        out[k++] = (char *)fds;
    if (broker_len) {
        memcpy(str, broker_var, broker_len + 1);
        out[k++] = str;
        str += broker_len + 1;
    }
    for (size_t j = 0; j < n_session_vars; j++)
        if (!has_name(envp, n, session_vars[j], name_len(session_vars[j]))) {
            size_t sl = strlen(session_vars[j]) + 1;
            memcpy(str, session_vars[j], sl);
            out[k++] = str;
            str += sl;
        }
    out[k] = NULL;
    f->envp = out;
    f->map = (void *)p;
    f->maplen = len;
    LOG_DEBUG("children: restored %zu variable(s) in a child's environment",
              need_ptrs);
}

static void unfix_env(fixed_env_t *f)
{
    if (f->map)
        LSYS2(SYS_munmap, f->map, f->maplen);
}

/* Prepares f for an exec; the guard is left again before the real call.
 * x (exec hooks only; NULL for posix_spawn, whose child execs through
 * execve's hook): the remote fds that survive the exec (execfds.c);
 * check is what shunt_exec_check said of the program. */
static void prepare(char *const *envp, fixed_env_t *f, layer_execfds_t *x,
                    int check)
{
    shunt_net_shared(); /* the new image may hold a subscribed listener */
    if (x)
        memset(x, 0, sizeof(*x));
    if (LAYER_BYPASS()) {
        f->envp = (char **)envp;
        f->map = NULL;
        return;
    }
    /* A program that is not there: the exec fails, nothing to carry
     * (execvp tries each PATH entry). */
    if (x && check >= 0)
        layer_execfds_prepare(x, check == 1);
    int saved = errno;
    LAYER_ENTER();
    fix_env(envp, f, x ? x->var : NULL);
    LAYER_LEAVE();
    errno = saved;
}

/* After an exec that returned (failed). */
static void finish(fixed_env_t *f, layer_execfds_t *x)
{
    int saved = errno;
    unfix_env(f);
    if (x && (x->map || x->session))
        layer_execfds_failed(x);
    errno = saved;
}

/* A static program (check 1) goes on under the supervisor, same pid,
 * same session (the broker fd and SHUNT_* variables it inherits), same
 * environment: execve(supervisor, [supervisor, --path, PATH, --, argv]).
 * -1 with errno when that exec failed (the caller then execs the program
 * as it is); does not return otherwise. */
#define SV_MAX_ARGS 4096
static int exec_supervised(const char *path, char *const argv[],
                           char *const envp[])
{
    size_t n = 0;
    while (argv && argv[n] && n < SV_MAX_ARGS)
        n++;
    if (n >= SV_MAX_ARGS || !path || !path[0]) {
        errno = E2BIG;
        return -1;
    }
    /* on the stack: a vfork child must not touch the parent's heap */
    char *v[SV_MAX_ARGS + 6];
    size_t k = 0;
    v[k++] = sv_path;
    v[k++] = (char *)"--path";
    v[k++] = (char *)path;
    v[k++] = (char *)"--";
    if (n == 0)
        v[k++] = (char *)path;
    for (size_t i = 0; i < n; i++)
        v[k++] = argv[i];
    v[k] = NULL;
    /* The supervisor itself runs without the layer (which would hook its
     * own exec of the program and start another supervisor). */
    char *e[SV_MAX_ARGS + 1];
    size_t ne = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        if (ne >= SV_MAX_ARGS) {
            errno = E2BIG;
            return -1;
        }
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0 &&
            preload_has_self(envp[i] + 11))
            continue;
        e[ne++] = envp[i];
    }
    e[ne] = NULL;
    return REAL(execve, sv_path, v, e);
}

int shunt_children_exec_supervisor(const char *path, char *const argv[])
{
    if (!sv_path[0]) {
        errno = ENOSYS;
        return -1;
    }
    /* (called while the layer starts: prepare() keeps environ as it is,
     * which holds the session's variables already) */
    fixed_env_t f;
    prepare(environ, &f, NULL, 0);
    exec_supervised(path, argv, f.envp);
    int e = errno;
    finish(&f, NULL);
    errno = e;
    return -1;
}

int hook_execve(const char *path, char *const argv[], char *const envp[])
{
    int check = shunt_exec_check(AT_FDCWD, path, 0);
    fixed_env_t f;
    layer_execfds_t x;
    /* under the supervisor the child keeps the session (the broker) */
    int sv = check == 1 && sv_path[0] && !LAYER_BYPASS() && path && path[0];
    prepare(envp, &f, &x, sv ? 0 : check);
    int r;
    if (sv &&
        exec_supervised(path, argv, f.envp) < 0)
        LOG_WARN("exec %s under %s: %s; it runs unhooked", path, sv_path,
                 ESTR(errno));
    r = REAL(execve, path, argv, f.envp);
    finish(&f, &x);
    return r;
}

int hook_execveat(int dirfd, const char *path, char *const argv[],
                  char *const envp[], int flags)
{
    int check = shunt_exec_check(dirfd, path, flags);
    fixed_env_t f;
    layer_execfds_t x;
    int sv = check == 1 && sv_path[0] && !LAYER_BYPASS() && path &&
             (path[0] == '/' || dirfd == AT_FDCWD);
    prepare(envp, &f, &x, sv ? 0 : check);
    if (sv &&
        exec_supervised(path, argv, f.envp) < 0)
        LOG_WARN("exec %s under %s: %s; it runs unhooked", path, sv_path,
                 ESTR(errno));
    int r = REAL(execveat, dirfd, path, argv, f.envp, flags);
    finish(&f, &x);
    return r;
}

int hook_fexecve(int fd, char *const argv[], char *const envp[])
{
    int check = shunt_exec_check(fd, "", AT_EMPTY_PATH);
    fixed_env_t f;
    layer_execfds_t x;
    prepare(envp, &f, &x, check);
    int r = REAL(fexecve, fd, argv, f.envp);
    finish(&f, &x);
    return r;
}

int hook_posix_spawn(pid_t *pidp, const char *path,
                     const posix_spawn_file_actions_t *fa,
                     const posix_spawnattr_t *attr, char *const argv[],
                     char *const envp[])
{
    fixed_env_t f;
    prepare(envp, &f, NULL, 0);
    int r = REAL(posix_spawn, pidp, path, fa, attr, argv, f.envp);
    finish(&f, NULL);
    return r;
}

int hook_posix_spawnp(pid_t *pidp, const char *file,
                      const posix_spawn_file_actions_t *fa,
                      const posix_spawnattr_t *attr, char *const argv[],
                      char *const envp[])
{
    fixed_env_t f;
    prepare(envp, &f, NULL, 0);
    int r = REAL(posix_spawnp, pidp, file, fa, attr, argv, f.envp);
    finish(&f, NULL);
    return r;
}

/* vfork is fork: the child gets its own copy of memory, runs the fork
 * handlers (its own session, linked to the parent's) and may call anything
 * before it execs; the parent waits for nothing.  A program that relied on
 * the child writing the parent's memory (undefined by POSIX) would notice. */
pid_t hook_vfork(void)
{
    return fork();
}
