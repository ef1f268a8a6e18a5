/* The layer's constructor: environment, configuration, policy, hooks. */
#include "hooks.h"
#include "journal.h"
#include "layer.h"

#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>

__thread int shunt_guard __attribute__((tls_model("initial-exec")));
__thread int shunt_win __attribute__((tls_model("initial-exec")));
__thread unsigned shunt_held __attribute__((tls_model("initial-exec")));
__thread int shunt_prevwin[32] __attribute__((tls_model("initial-exec")));
int shunt_state;
shunt_layer_t shunt_layer;

void rfiles_init(void);

/* Filled in by env.c and children.c when they are linked in. */
__attribute__((weak)) void shunt_env_init(void);
__attribute__((weak)) void shunt_children_init(void);
__attribute__((weak)) void shunt_env_restore_at_start(char **env);
/* cwd.c: a remote cwd inherited through exec (SHUNT_CWD). */
__attribute__((weak)) void shunt_cwd_init(void);
/* go.c: a Go main program is run again with the environment env.c set
 * (Go reads its initial stack, not environ), then its syscall entry
 * points are hooked. */
__attribute__((weak)) void shunt_go_reexec(int env_changed);
__attribute__((weak)) void shunt_go_install(void);
void shunt_progloc_init(shunt_policy_t *p);
extern char **environ;

__attribute__((visibility("default"))) const char *shunt_layer_version(void);
/* The project's one version (CMakeLists.txt's project(VERSION)). */
#ifndef SHUNT_VERSION
#error "SHUNT_VERSION must be defined (layer/CMakeLists.txt)"
#endif
const char *shunt_layer_version(void) { return "shunt-layer " SHUNT_VERSION; }

static uint64_t new_session_id(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (LSYS3(SYS_getrandom, &v, sizeof(v), 0) != sizeof(v))
            v = (uint64_t)LSYS0(SYS_getpid) * 0x9e3779b97f4a7c15ull ^
                (uint64_t)(uintptr_t)&v;
    return v;
}

/* Reads a whole small file with raw syscalls; malloc'd, NUL-terminated. */
static char *slurp(const char *path, size_t *len)
{
    int fd = (int)LSYS4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        long r = LSYS3(SYS_read, fd, b + n, cap - n - 1);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    LSYS1(SYS_close, fd);
    if (b) {
        b[n] = '\0';
        *len = n;
    }
    return b;
}

static void add_local_dir_of(const char *file)
{
    char norm[4096];
    if (!file || file[0] != '/' ||
        shunt_path_normalize(NULL, file, norm, sizeof(norm)) < 0)
        return;
    char *slash = strrchr(norm, '/');
    if (slash && slash != norm) {
        *slash = '\0';
        shunt_policy_add_local(&shunt_layer.pol, norm);
    }
}

static int add_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    add_local_dir_of(info->dlpi_name);
    return 0;
}

static void setup_policy(void)
{
    shunt_policy_t *p = &shunt_layer.pol;
    shunt_policy_init(p, &shunt_layer.cfg);
    shunt_policy_add_defaults(p);
    char buf[4096];
    long n = LSYS4(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf,
                   sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        shunt_policy_add_local(p, buf);
        add_local_dir_of(buf);
    }
    dl_iterate_phdr(add_lib, NULL);
    shunt_progloc_init(p); /* progloc.c: the program's own files */
    n = LSYS2(SYS_getcwd, buf, sizeof(buf));
    if (n > 0 && buf[0] == '/' && buf[1] != '\0')
        shunt_policy_add_local(p, buf); /* "/" would make everything local */
    for (size_t i = 0; i < p->local.n; i++)
        LOG_DEBUG("policy: local %s", p->local.v[i]);
}

/* SHUNT_TOKEN (harness proxy's users export it): read once, then out of
 * the program's sight: out of environ, and its bytes wiped where the
 * kernel shows them (/proc/PID/environ is the initial stack's copy).  The
 * layer trades it for a broker at once (rpc.c); children get the broker. */
static void forget_token(void)
{
    for (size_t i = 0; environ && environ[i]; i++) {
        if (strncmp(environ[i], "SHUNT_TOKEN=", 12) != 0)
            continue;
        memset(environ[i], 0, strlen(environ[i]));
        size_t j = i;
        do
            environ[j] = environ[j + 1];
        while (environ[j++]);
        i--;
    }
}

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

/* ---- fork ----------------------------------------------------------------
 * The child inherits the remote handles of the parent's directory and
 * forwarded fds.  Before the fork the parent tells the proxy (FORK) the
 * session id the child will use and those handles: the child's session
 * holds them too, each process CLOSEs them when its last fd goes, and the
 * proxy closes a handle at the agent when its last holder lets go (or
 * exits).  The child connects at once, so that its exit is seen even when
 * it makes no call.  A proxy without FORK (ENOSYS): the handles are marked
 * shared and never closed by either process, as before (released when the
 * whole group is gone). */
typedef struct {
    uint32_t *v;
    size_t n, cap;
    int told;
} fork_handles_t;

static __thread uint64_t fork_child_session
    __attribute__((tls_model("initial-exec")));

static int has_handle(const fork_handles_t *h, uint32_t x)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i] == x)
            return 1;
    return 0;
}

static void add_handle(fork_handles_t *h, uint32_t x)
{
    if (has_handle(h, x))
        return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        uint32_t *v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = x;
}

static void collect_handle(int fd, shunt_rfile_t *f, void *arg)
{
    (void)fd;
    if ((f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD) &&
        !atomic_load(&f->shared))
        add_handle(arg, f->handle);
}

/* Under the table lock, right before the fork: an entry whose handle the
 * proxy was not told about (opened meanwhile by another thread, or no
 * FORK support) is shared the old way. */
static void mark_untold(int fd, shunt_rfile_t *f, void *arg)
{
    (void)fd;
    fork_handles_t *h = arg;
    if ((f->kind == SHUNT_RF_DIR || f->kind == SHUNT_RF_FWD) &&
        (!h->told || !has_handle(h, f->handle)))
        atomic_store(&f->shared, 1);
}

static void atfork_prepare(void)
{
    fork_handles_t h = {0};
    fork_child_session = 0;
    if (shunt_state == SHUNT_STATE_ACTIVE && shunt_guard == 0) {
        shunt_fdt_foreach(collect_handle, &h);
        uint32_t ch;
        if (layer_cwd_handle(&ch)) /* a remote cwd's (cwd.c) */
            add_handle(&h, ch);
        if (h.n) {
            uint8_t *b = malloc(h.n * 4);
            uint64_t child = new_session_id();
            if (b) {
                for (size_t i = 0; i < h.n; i++)
                    for (int k = 0; k < 4; k++)
                        b[i * 4 + (size_t)k] = (uint8_t)(h.v[i] >> (8 * k));
                shunt_fork_t q = {.child_session = child,
                                  .handles = shunt_bytes(b, (uint32_t)h.n * 4)};
                shunt_msg_t m;
                int saved = errno;
                LAYER_ENTER();
                long r = shunt_rpc(SHUNT_T_FORK, &q, &m);
                LAYER_LEAVE();
                errno = saved;
                free(b);
                if (r >= 0) {
                    h.told = 1;
                    fork_child_session = child;
                } else {
                    LOG_DEBUG("fork: the proxy takes no holds (%s): inherited "
                              "handles are kept until the group ends",
                              ESTR((int)-r));
                }
            }
        }
    }
    /* The cwd's lock before the table's (set_remote takes them so). */
    layer_cwd_fork_prepare(h.told ? h.v : NULL, h.n);
    shunt_fdt_lock();
    shunt_fdt_foreach_locked(mark_untold, &h);
    free(h.v);
}

static void atfork_parent(void)
{
    fork_child_session = 0;
    shunt_fdt_unlock();
    layer_cwd_fork_parent();
}

static void atfork_child(void)
{
    shunt_fdt_reset_lock();
    layer_cwd_fork_child();
    shunt_layer_fork_child();
    if (shunt_layer.session == fork_child_session &&
        shunt_state == SHUNT_STATE_ACTIVE) {
        /* Connect now: the proxy learns of the child's exit by its
         * connection closing. */
        int saved = errno;
        LAYER_ENTER();
        shunt_rpc_connect();
        LAYER_LEAVE();
        errno = saved;
    }
    fork_child_session = 0;
}

void shunt_layer_fork_child(void)
{
    shunt_rpc_fork_child();
    layer_locks_fork_child();
    shunt_layer.parent_session = shunt_layer.session;
    shunt_layer.session =
        fork_child_session ? fork_child_session : new_session_id();
}

/* Linked with -z initfirst (DF_1_INITFIRST): the loader calls this before
 * the initialisers of every other object, libc's included, so the hooks are
 * in place when libselinux, GnuTLS, jemalloc... run theirs (docs/hooking.md,
 * "Start-up").  libc's own initialiser has not set environ yet: it is set
 * here from the envp the loader passes (libc sets the same value next).  A
 * NULL environ is how this is told apart from a late call (another object
 * marked INITFIRST, or the layer loaded with dlopen): then the layer starts
 * as before, after those constructors, and says so. */
__attribute__((constructor(101))) static void shunt_layer_init(int argc,
                                                               char **argv,
                                                               char **envp)
{
    int saved = errno;
    int early = environ == NULL;
    if (early)
        environ = envp;
    const char *sock = getenv("SHUNT_SOCKET");
    const char *broker = getenv("SHUNT_BROKER");
    const char *lvl = getenv("SHUNT_LOG");
    const char *logfile = getenv("SHUNT_LOG_FILE");
    const char *cfgpath = getenv("SHUNT_CONFIG");
    const char *journal = getenv("SHUNT_JOURNAL");
    const char *mode = getenv("SHUNT_MODE");
    int observe = mode && strcmp(mode, "observe") == 0;
    if (observe)
        sock = broker = NULL; /* never a session, whatever else is set */
    if ((!sock || !*sock) && broker && *broker)
        sock = "(broker)"; /* the path is only for logs then */
    shunt_config_init(&shunt_layer.cfg);
    char cfgerr[256] = "";
    int cfgbad = 0;
    if (cfgpath && *cfgpath && sock) {
        size_t len = 0;
        char *text = slurp(cfgpath, &len);
        if (text) {
            cfgbad = shunt_config_parse(&shunt_layer.cfg, text, len, cfgerr,
                                        sizeof(cfgerr));
            free(text);
        } else {
            cfgbad = -1;
        }
    }
    int level = lvl ? shunt_log_level_parse(lvl) : -1;
    if (level < 0)
        level = shunt_layer.cfg.log_level;
    if (level > 0) {
        if (!logfile || !*logfile)
            logfile = shunt_layer.cfg.log_file;
        shunt_log_open(logfile);
        shunt_log_level = level;
    }
    if (!early && (observe || (sock && *sock)))
        LOG_WARN("started after other libraries' constructors (another "
                 "object is marked INITFIRST, or the layer was not "
                 "preloaded): their calls were not intercepted");
    if (observe) {
        /* Observe-only: the hooks and the journal, every call local (the
         * state stays inert, so each hook goes straight to the original). */
        if (journal && *journal && shunt_journal_open(journal) < 0)
            LOG_ERROR("journal %s cannot be opened: no journal", journal);
        shunt_state = 1;
        rfiles_init();
        shunt_alloc_init();
        int failed = shunt_hooks_install();
        /* A Go program's own system calls reach the journal through the Go
         * hooks (go.c); each detour then calls the original, as here. */
        if (journal && *journal && shunt_go_install)
            shunt_go_install();
        LOG_INFO("observe-only: %d hook(s) failed, journal %s", failed,
                 journal && *journal ? journal : "off");
        errno = saved;
        return;
    }
    if (!sock || !*sock) {
        LOG_DEBUG("no SHUNT_SOCKET: inert");
        shunt_state = 1;
        errno = saved;
        return;
    }
    if (cfgbad < 0)
        LOG_ERROR("config %s cannot be read; using defaults", cfgpath);
    else if (cfgbad > 0)
        LOG_ERROR("config %s: %d bad line(s), first: %s", cfgpath, cfgbad,
                  cfgerr);
    if (strlen(sock) >= sizeof(shunt_layer.socket_path)) {
        LOG_ERROR("SHUNT_SOCKET too long: inert");
        shunt_state = 1;
        errno = saved;
        return;
    }
    strcpy(shunt_layer.socket_path, sock);
    const char *tok = getenv("SHUNT_TOKEN");
    if (tok) {
        size_t tl = strlen(tok);
        if (tl > sizeof(shunt_layer.token))
            tl = sizeof(shunt_layer.token);
        memcpy(shunt_layer.token, tok, tl);
        shunt_layer.token_len = tl;
        forget_token();
    }
    shunt_layer.rpc_timeout_ms =
        shunt_layer.cfg.timeout_ms > 0 ? shunt_layer.cfg.timeout_ms : 30000;
    shunt_layer.session = new_session_id();
    mode_t um = (mode_t)LSYS1(SYS_umask, 022);
    LSYS1(SYS_umask, um);
    shunt_layer.umask = um;
    /* program_invocation_short_name is libc's, set after this runs. */
    const char *pn = argc > 0 && argv && argv[0] ? argv[0] : "";
    if (strrchr(pn, '/'))
        pn = strrchr(pn, '/') + 1;
    strncpy(shunt_layer.progname, getenv("_") ? pn : "",
            sizeof(shunt_layer.progname) - 1);
    setup_policy();
    /* The fds the exec'ing image named (and its session), then the
     * other inherited placeholders (rfiles.c). */
    layer_execfds_init();
    rfiles_init();
    shunt_rpc_init();
    shunt_layer.broker_fd = -1;
    shunt_rpc_broker_init(broker); /* before the first call (env.c) */
    char **env0 = environ;
    if (shunt_env_init)
        shunt_env_init();
    if (shunt_go_reexec)
        shunt_go_reexec(environ != env0);
    if (shunt_cwd_init)
        shunt_cwd_init(); /* takes SHUNT_CWD out before children.c looks */
    layer_execfds_strip(); /* SHUNT_FDS too (after go.c's re-exec) */
    /* libc's initialiser, still to come, sets environ back to envp: the
     * target's is put back when the program starts (env.c). */
    if (early && environ != env0 && shunt_env_restore_at_start)
        shunt_env_restore_at_start(environ);
    if (shunt_children_init)
        shunt_children_init();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    if (journal && *journal && shunt_journal_open(journal) < 0)
        LOG_ERROR("journal %s cannot be opened: no journal", journal);
    shunt_alloc_init();
    int failed = shunt_hooks_install();
    if (shunt_go_install)
        shunt_go_install(); /* after: go.c calls the real_* originals */
    shunt_state = SHUNT_STATE_ACTIVE;
    layer_execfds_start();
    LOG_INFO("active: shunt-layer %s, socket %s, session %016llx, %d hook(s) "
             "failed", SHUNT_VERSION, shunt_layer.socket_path,
             (unsigned long long)shunt_layer.session, failed);
    errno = saved;
}
