/* Private API of libshunt.so, shared by every file of layer/.
 *
 * Rules for code running inside a hook (see docs/hooking.md):
 *   - call only REAL(name, ...) (the original of a hooked function, from
 *     hooks.def) or raw syscalls (LSYSn, shunt_sys6); never a hooked function
 *     directly, never stdio;
 *   - enter the per-thread guard (LAYER_ENTER/LAYER_LEAVE) around layer work
 *     so that anything re-entered from inside the layer goes straight to the
 *     original; errno is saved at entry and restored unless the call fails;
 *   - internal helpers return a value >= 0 or -errno; a hook turns that into
 *     libc's -1/errno with layer_ret().
 *
 * Internal API in one place:
 *   guard     shunt_guard (TLS counter), LAYER_BYPASS(), LAYER_ENTER/LEAVE
 *   state     shunt_layer: config, policy, session ids, umask, socket/token
 *   log       LOG_ERROR/WARN/INFO/DEBUG/TRACE(fmt, ...)   (log.c)
 *   rpc       shunt_rpc(type, body, &msg)                   (rpc.c)
 *   resolve   layer_resolve(dirfd, path, &tgt)              (resolve.c)
 *   fd table  shunt_fdt_* (fdtable.h), placeholders          (fdtable.c, rfiles.c)
 *   hooks     real_<name> pointers and hook_<name> detours   (hooks.def, install.c)
 *   init      the constructor (init.c) calls, if linked in, the weak
 *             shunt_env_init() and shunt_children_init() after the config is
 *             read and before the hooks are installed; shunt_layer_fork_child()
 *             runs in every forked child (pthread_atfork).
 */
#ifndef SHUNT_LAYER_H
#define SHUNT_LAYER_H

#include "fdtable.h"
#include "sigblock.h"

#include "shunt/config.h"
#include "shunt/path.h"
#include "shunt/policy.h"
#include "shunt/proto.h"
#include "shunt/sys.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- re-entrancy guard ------------------------------------------------- */
extern __thread int shunt_guard __attribute__((tls_model("initial-exec")));
/* 0 until the constructor finished; 1 inert (no SHUNT_SOCKET); 2 active. */
extern int shunt_state;
/* 1 when the main program is Go (go.c): its signal handlers are the Go
 * runtime's, which never call libc, and are left unwrapped (signals.c). */
extern int shunt_go_main;
#define SHUNT_STATE_ACTIVE 2

/* Signals and the guard (docs/hooking.md, "Signals").  A handler may run
 * at any instant, also inside a hook of its thread; the layer's own work is
 * therefore done with signals blocked (sigblock.h), so a handler never finds
 * a lock or the thread's connection taken, nor the guard raised: its calls
 * get the same policy as the program's.
 *   LAYER_ENTER()       blocks signals and raises the guard;
 *   LAYER_ENTER_PATH()  raises the guard only, for the hooks of paths: most
 *                       paths are local and two rt_sigprocmask calls would
 *                       double the cost of a local stat().  While such a
 *                       level has not blocked signals (shunt_win == the
 *                       level: a path is being resolved, nothing is
 *                       shared), a nested hooked call -- a handler's -- is
 *                       served like a top-level one;
 *   layer_hold()        blocks signals for the rest of a PATH level (called
 *                       when the path turns out remote, and by shunt_rpc);
 *   LAYER_LEAVE()       lowers the guard; unblocks when this level blocked.
 * Levels above 31 block always (no bit left to record them). */
extern __thread int shunt_win __attribute__((tls_model("initial-exec")));
extern __thread unsigned shunt_held __attribute__((tls_model("initial-exec")));
extern __thread int shunt_prevwin[32] __attribute__((tls_model("initial-exec")));

#define LAYER_BYPASS()                                                     \
    (__builtin_expect((shunt_guard != 0 && shunt_guard != shunt_win) ||    \
                          shunt_state != SHUNT_STATE_ACTIVE,              \
                      0))

static inline void layer_enter(int lazy)
{
    int l = shunt_guard + 1;
    if (l >= 32)
        lazy = 0;
    if (!lazy)
        shunt_sig_block();
    if (l < 32) {
        shunt_prevwin[l] = shunt_win;
        if (!lazy)
            shunt_held |= 1u << l;
    }
    shunt_guard = l;
    shunt_win = lazy ? l : 0;
}

static inline void layer_hold(void)
{
    int l = shunt_guard;
    if (l == 0 || l >= 32 || (shunt_held & (1u << l)))
        return;
    shunt_sig_block();
    shunt_held |= 1u << l;
    shunt_win = 0;
}

static inline void layer_leave(void)
{
    int l = shunt_guard;
    if (l >= 32) {
        shunt_guard = l - 1;
        shunt_sig_unblock();
        return;
    }
    shunt_win = shunt_prevwin[l];
    shunt_guard = l - 1;
    if (shunt_held & (1u << l)) {
        shunt_held &= ~(1u << l);
        shunt_sig_unblock();
    }
}

#define LAYER_ENTER() layer_enter(0)
#define LAYER_ENTER_PATH() layer_enter(1)
#define LAYER_LEAVE() layer_leave()

/* r >= 0: restore saved errno and return r; r < 0: errno = -r, return -1. */
static inline long layer_ret(long r, int saved_errno)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    errno = saved_errno;
    return r;
}

/* ---- process-wide state ------------------------------------------------ */
typedef struct {
    char socket_path[108];
    uint8_t token[256];      /* only while no broker could be had */
    size_t token_len;
    int broker_fd;           /* the session's broker (rpc.c), or -1 */
    uint64_t session;        /* this process's session id */
    uint64_t parent_session; /* after fork: the parent's; else 0 */
    int rpc_timeout_ms;
    mode_t umask;            /* tracked by the umask hook */
    char progname[64];
    shunt_config_t cfg;
    shunt_policy_t pol;
} shunt_layer_t;
extern shunt_layer_t shunt_layer;

/* Gives capstone the layer's allocator (alloc.c: glibc's, never the
 * program's malloc); before the hooks are installed. */
void shunt_alloc_init(void);
/* Allocates with the program's own malloc (memory the program frees). */
void *shunt_program_malloc(size_t n);

/* Called in the child after fork (pthread_atfork): drops the parent's
 * connections, takes a new session id linked to the parent's. */
void shunt_layer_fork_child(void);

/* ---- raw syscalls (never hooked) --------------------------------------- */
/* shunt_sys6 (common/include/shunt/sys.h) is the one raw syscall; LSYSn
 * are the layer's shorthands for it.  -errno on failure, errno untouched. */
#define LSYS0(nr) shunt_sys6(nr, 0, 0, 0, 0, 0, 0)
#define LSYS1(nr, a) shunt_sys6(nr, (long)(a), 0, 0, 0, 0, 0)
#define LSYS2(nr, a, b) shunt_sys6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define LSYS3(nr, a, b, c) shunt_sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define LSYS4(nr, a, b, c, d) \
    shunt_sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define LSYS5(nr, a, b, c, d, e) \
    shunt_sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* Moves fd to a high number (near RLIMIT_NOFILE), close-on-exec, marks it a
 * layer fd (protected from the program's close/dup2).  Returns the new fd
 * (or the old one when it cannot be moved); the old one is closed.  owner
 * (may be NULL) is the variable that will hold the fd: when the program
 * dup2()s onto the number, the fd moves and *owner is updated. */
int layer_fd_protect(int fd, int *owner);
void layer_fd_unprotect(int fd); /* before the layer closes it itself */
int layer_fd_evict(int fd);      /* move a layer fd away from its number */
/* 0 when the program closed a layer fd with a raw syscall and the number
 * now holds something else. */
int layer_fd_still_ours(int fd, const shunt_rfile_t *f);

/* ---- logging ----------------------------------------------------------- */
enum { LOG_OFF = 0, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };
extern int shunt_log_level;
void shunt_log_open(const char *file); /* NULL: stderr (dup'd, protected) */
/* Formats fmt after the n bytes of prefix already in line (cap >= 2 more)
 * and ends it with a newline, cut to fit; returns the line's length. */
size_t shunt_log_vline(char *line, size_t cap, int n, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));
void shunt_logf(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* errno text without translation (no locale files opened from a hook). */
#define ESTR(e) layer_estr(e)
const char *layer_estr(int e);
#define LOG_AT(l, ...)                                                     \
    do {                                                                   \
        if (__builtin_expect(shunt_log_level >= (l), 0))                   \
            shunt_logf((l), __VA_ARGS__);                                  \
    } while (0)
#define LOG_ERROR(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define LOG_TRACE(...) LOG_AT(LOG_TRACE, __VA_ARGS__)

/* ---- RPC to the proxy (rpc.c) ------------------------------------------
 * One connection per thread, made on first use.  shunt_rpc() sends one
 * request and waits (poll, shunt_layer.rpc_timeout_ms) for its answer,
 * which must be one of the answers messages.def lists for type
 * (shunt_answer_check):
 *   returns 0 with *out decoded (out->type says which answer when there
 *   are several; pointers in *out stay valid until this thread's next
 *   call); for an OK answer returns the OK value (>= 0);
 *   -err for an ERROR answer (the target's errno, unchanged);
 *   -EIO when the proxy/agent is unreachable, times out or answers
 *   nonsense (a wrong answer type: logged).  Never blocks forever, never
 *   aborts. */
long shunt_rpc(uint16_t type, const void *body, shunt_msg_t *out);
/* The same with up to 4 fds passed along by SCM_RIGHTS (the caller keeps
 * its own copies). */
long shunt_rpc_fds(uint16_t type, const void *body, const int *fds, int nfds,
                   shunt_msg_t *out);
uint32_t shunt_rpc_data_max(void); /* largest READ count per call */
void shunt_rpc_fork_child(void);    /* close inherited connections */
int shunt_rpc_connect(void);        /* this thread's connection, now */
int shunt_rpc_has_conn(void);       /* whether this thread has one (open) */
/* At init: the broker inherited as SHUNT_BROKER (fd number), or, without
 * one, a broker asked for with the path and the token; 0 or -errno. */
int shunt_rpc_broker_init(const char *inherited);
/* After a change of credentials (set*id, setgroups): each thread opens a
 * new connection before its next call, stamped by the kernel with them. */
void shunt_rpc_creds_changed(void);
/* The broker moved to fd (layer_fd_evict): environ names the new number. */
void shunt_rpc_broker_moved(int fd);
void shunt_rpc_init(void);          /* at init: the thread-exit key */

/* ---- path resolution (resolve.c) ---------------------------------------
 * Decides where (dirfd, path) lives.  mode is SHUNT_MODE_*; for remote
 * modes, dirh/rpath are what to send (dirh = SHUNT_AT_ROOT or a remote
 * directory handle; rpath the path as the program gave it, made absolute
 * against the local cwd), norm the normalised absolute path (for logs and
 * policy).  Returns 0 or -errno (ENAMETOOLONG, EBADF for a bad dirfd when
 * the path is relative). */
typedef struct {
    int mode;
    uint32_t dirh;
    const char *rpath;
    const char *lpath; /* for a local decision: the path to give the
                        * original (the program's, or absolute when it is
                        * relative to a remote cwd) */
    char norm[4096];
    char buf[4096];
} layer_target_t;
int layer_resolve(int dirfd, const char *path, layer_target_t *t);
/* Whether a listing of the remote directory dir (normalised) leaves out its
 * entry name (len bytes): the policy says dir/name is not_found. */
int layer_entry_hidden(const char *dir, const char *name, size_t len);
int layer_hides_entries(void); /* the policy has a not_found list */
const char *layer_empty_path(int dirfd, const char *path, int flags);
/* The fd that /proc/self/fd/N, /dev/fd/N (and with std: /dev/stdin...)
 * names, or -1 (norm: a normalised absolute path). */
int layer_fd_of_path(const char *norm, int std);

/* ---- the current directory (cwd.c) -------------------------------------
 * The cwd may be a remote directory (chdir/fchdir into one); the kernel's
 * cwd is then a removed local directory.  The raw-syscall forms below
 * (>= 0 or -errno, called inside LAYER_ENTER) serve every entry point:
 * libc's chdir/fchdir/getcwd hooks, Go's Syscall6 (go.c) and a syscall()
 * hook (SYS_chdir, SYS_fchdir, SYS_getcwd: route them here). */
int layer_cwd_is_remote(void);
long layer_cwd_chdir(const char *path);
long layer_cwd_fchdir(int fd);
long layer_cwd_getcwd(char *buf, size_t size); /* as SYS_getcwd: length
                                                  with the NUL */
/* The remote cwd's path into buf: its length, 0 when the cwd is local,
 * or -ENAMETOOLONG. */
long layer_cwd_copy(char *buf, size_t len);
/* The same, with the remote cwd's agent directory handle into *dirh
 * (SHUNT_AT_ROOT: none, a cwd inherited across exec is a path only). */
long layer_cwd_copy_h(char *buf, size_t len, uint32_t *dirh);
/* fork (init.c): the cwd's handle to hold for the child (1, or 0: none);
 * prepare takes the cwd's lock until parent/child, and shares a handle
 * not in told (the proxy's holds; NULL: none). */
int layer_cwd_handle(uint32_t *h);
void layer_cwd_fork_prepare(const uint32_t *told, size_t n);
void layer_cwd_fork_parent(void);
void layer_cwd_fork_child(void);
/* "SHUNT_CWD=..." for a child's environment (children.c) into buf: its
 * length, 0 when the cwd is local. */
size_t layer_cwd_env(char *buf, size_t len);
/* getcwd as a syscall, -1/errno: for go.c's table. */
long shunt_cwd_getcwd_sys(char *buf, size_t size);
static inline int layer_is_remote(int mode)
{
    return mode == SHUNT_MODE_READ || mode == SHUNT_MODE_WRITE;
}

/* ---- system calls by number (go.c, sys.c, fs_open.c) -------------------
 * The one table of system-call numbers the layer serves (go.c): Go's
 * Syscall6 and libc's syscall() both go through it.  Returns 1 with *ret
 * (a result or -errno) when nr is served, 0 when it goes to the kernel. */
int layer_sys_serve(long nr, const long a[6], long *ret);
/* openat2 (fs_open.c): a result or -errno. */
long layer_openat2(int dirfd, const char *path, const void *how, size_t size);

/* ---- remote file helpers (rfiles.c) ------------------------------------ */
/* Opens a remote path; returns a real fd (memfd snapshot or placeholder)
 * registered in the fd table, or -errno. */
int rfile_open(const layer_target_t *t, int flags, mode_t mode);
/* A read-only fd (a memfd, not in the fd table) holding text, opened with
 * the status flags of flags; or -errno. */
int rfile_text(const char *text, size_t len, int flags);
/* The snapshots of the remote file norm (a normalised path) take its
 * current content and stat (inotify told the program it changed). */
void rfile_refresh_snapshots(const char *norm);
/* This process changed the content of the remote file st (or the path
 * t): its snapshots of that inode are brought up to date. */
void rfile_changed(const shunt_stat_r_t *st);
void rfile_changed_path(const layer_target_t *t);
int rfile_before_unlink(const layer_target_t *t, shunt_stat_r_t *st);
void rfile_unlinked(const shunt_stat_r_t *st);
/* Remote stat of a path or handle (STAT_R). */
long rpc_stat_path(const layer_target_t *t, int at_flags, shunt_stat_r_t *out);
long rpc_fstat_handle(uint32_t handle, shunt_stat_r_t *out);
/* Releases a remote handle (CLOSE), ignoring the answer. */
void rpc_close_handle(uint32_t handle);

/* ---- remote fds across exec (execfds.c) --------------------------------
 * The exec hooks (children.c) call prepare before the real exec and
 * failed when it returned; *x is on the caller's stack, the variable it
 * makes lives in a raw mmap (vfork-style children).  unhooked: the new
 * image will run without the layer (shunt_exec_check said static). */
typedef struct {
    char *var;        /* "SHUNT_FDS=..." for the new image, or NULL */
    size_t var_len;
    void *map;
    size_t maplen;
    uint64_t session; /* the new image's session (FORK said), or 0 */
    int *swaps;       /* pairs fd, saved copy: placeholders swapped */
    int nswaps, maxswaps;
} layer_execfds_t;
void layer_execfds_prepare(layer_execfds_t *x, int unhooked);
/* Whether this is a vfork-style child (posix_spawn's, CLONE_VM): it shares
 * the parent's memory, so the fd table is the parent's and must not follow
 * the child's close/dup2 (its posix_spawn file actions). */
int layer_vfork_child(void);
void layer_execfds_failed(layer_execfds_t *x);
/* Start-up of a new image: takes the entries SHUNT_FDS names back into
 * the fd table and their session (before any RPC); _strip takes the
 * variable out of the environment (after go.c's re-exec); _start connects
 * at once when the image adopted a session (hooks installed). */
void layer_execfds_init(void);
void layer_execfds_strip(void);
void layer_execfds_start(void);

/* ---- inotify (inotify.c) ------------------------------------------------
 * read() of an inotify instance's fd: 1 with *ret (-1/errno or bytes) set,
 * 0 when fd is not one. */
int layer_inotify_read(int fd, void *buf, size_t n, ssize_t *ret);
void layer_inotify_release(shunt_rfile_t *f); /* its last fd went */

/* ---- locks of remote fds (fs_lock.c) ----------------------------------- */
int layer_is_lock_cmd(int cmd); /* F_GETLK... F_OFD_SETLKW */
/* fcntl lock command on a layer fd: 0 or -errno; *served = 0 when the fd
 * is not a remote handle (then the caller runs the original). */
long layer_fcntl_lock(int fd, int cmd, void *arg, int *served);
/* The program closed an fd of f's file: its POSIX locks on the file go. */
void layer_locks_closed(shunt_rfile_t *f);
void layer_locks_fork_child(void);

/* ---- names (dns.c) ------------------------------------------------------
 * The host name this process was given for an address (by the getaddrinfo
 * or gethostbyname hooks; a bounded table, newest answers kept): buf with
 * the name, or NULL.  For the outgoing filter's name rules. */
struct sockaddr;
const char *layer_dns_name_of(const struct sockaddr *sa, char *buf, size_t len);
/* The target's host name (its /etc/hostname, read once), or NULL when it
 * cannot be read: gethostname, uname and /proc/sys/kernel/hostname. */
const char *layer_target_hostname(void);

#endif
