/* shunt-supervisor: runs a program, and everything it starts, under a
 * seccomp filter whose notifications a supervisor process answers with the
 * layer's policy (docs/supervisor.md).  It needs nothing inside the
 * program: static binaries, Go without cgo, anything LD_PRELOAD cannot
 * enter.
 *
 * The process that runs this main becomes the program (its pid is the
 * program's, so whoever started it waits for the program itself):
 *   1. it reads the session (SHUNT_BROKER or SHUNT_SOCKET/SHUNT_TOKEN) and
 *      the layer's configuration (SHUNT_CONFIG), imports the target's
 *      environment and host name;
 *   2. it forks the supervisor, which leaves the process tree (a double
 *      fork and setsid: the program never waits for it, a terminal's ^C
 *      does not reach it);
 *   3. it loads the filter, hands the listener to the supervisor, waits
 *      for its word, and execs the program.
 * The supervisor serves until no process uses the filter any more. */
#include "sv.h"

#include "shunt/envfilter.h"
#include "shunt/frameio.h"
#include "shunt/log.h"
#include "shunt/path.h"
#include "shunt/proc.h"
#include "shunt/progloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
int sv_filter_install(void);

static const char usage_text[] =
    "usage: shunt-supervisor [--help] [--path FILE] -- PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM, and every process it starts, under a seccomp filter\n"
    "(user notification) answered by a supervisor with the shunt layer's\n"
    "policy: PROGRAM reads the target's files, sees its environment, host\n"
    "name and network, without anything loaded into it.  Static binaries\n"
    "(Go with CGO_ENABLED=0, musl, Rust musl builds) run under it.  Started\n"
    "by `harness exec --engine supervisor` (or `--engine auto` for a\n"
    "program the layer cannot enter), which sets the session:\n"
    "  SHUNT_BROKER   the session's broker fd (or SHUNT_SOCKET and\n"
    "                 SHUNT_TOKEN: the proxy's socket and its token)\n"
    "  SHUNT_CONFIG   the layer's configuration file (the same policy)\n"
    "  SHUNT_LOG, SHUNT_LOG_FILE  the supervisor's log level and file\n"
    "A program under the layer that execs a static binary goes on under\n"
    "the supervisor the same way (SHUNT_SUPERVISOR names it).\n"
    "  --path FILE    the file to execute (default: PROGRAM looked up in\n"
    "                 PATH); PROGRAM is then its argv[0] only\n"
    "See docs/supervisor.md for what is served and what is not.\n"
    "\n"
    "exit status: PROGRAM's (it is this process, after exec); 126 if the\n"
    "filter or the supervisor could not be set up or PROGRAM cannot be\n"
    "run; 127 if it was not found; 2 for usage errors.\n";

#define EXIT_USAGE 2
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127

static const char *getvar(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static int load_config(void)
{
    shunt_config_init(&sv.cfg);
    const char *path = getenv("SHUNT_CONFIG");
    if (path && *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
            fprintf(stderr, SV_NAME ": SHUNT_CONFIG %s: %s\n", path,
                    strerror(errno));
            return -1;
        }
        char *text = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&text, &cap, '\0', f);
        fclose(f);
        char err[256] = "";
        if (n > 0 && shunt_config_parse(&sv.cfg, text, (size_t)n, err,
                                        sizeof(err)) > 0)
            fprintf(stderr, SV_NAME ": %s: %s\n", path, err);
        free(text);
    }
    shunt_policy_init(&sv.pol, &sv.cfg);
    if (shunt_policy_add_defaults(&sv.pol) < 0) {
        fprintf(stderr, SV_NAME ": out of memory\n");
        return -1;
    }
    sv.rpc_timeout_ms = sv.cfg.timeout_ms > 0 ? sv.cfg.timeout_ms : 30000;
    sv_wr_enabled = sv.cfg.lists[SHUNT_LIST_READ_WRITE].n > 0;
    return 0;
}

static int load_session(void)
{
    sv.broker_fd = -1;
    const char *b = getenv("SHUNT_BROKER");
    const char *s = getenv("SHUNT_SOCKET");
    if (b && *b) {
        char *end;
        long fd = strtol(b, &end, 10);
        if (*end || fd < 0 || fcntl((int)fd, F_GETFD) < 0) {
            fprintf(stderr, SV_NAME ": SHUNT_BROKER=%s: not an open fd\n", b);
            return -1;
        }
        sv.broker_fd = (int)fd;
        return 0;
    }
    if (!s || !*s || strlen(s) >= sizeof(sv.socket_path)) {
        fprintf(stderr, SV_NAME ": no session: SHUNT_BROKER or SHUNT_SOCKET "
                        "must be set (run it with `harness exec --engine "
                        "supervisor`)\n");
        return -1;
    }
    strcpy(sv.socket_path, s);
    const char *t = getenv("SHUNT_TOKEN");
    if (t) {
        sv.token_len = strlen(t) < sizeof(sv.token) ? strlen(t)
                                                    : sizeof(sv.token);
        memcpy(sv.token, t, sv.token_len);
    }
    return 0;
}

/* A program under the layer with a remote cwd that exec'd this one: its
 * kernel cwd is the layer's removed directory, whose name (or SHUNT_CWD,
 * DEV:INO:PATH, for a path too long for a name) carries the remote cwd.
 * It becomes this process's remote cwd, which the program inherits. */
static void inherit_layer_cwd(void)
{
    char path[PATH_MAX];
    const char *v = getenv("SHUNT_CWD");
    struct stat st;
    unsigned long long dev, ino;
    int off = 0;
    if (v && stat(".", &st) == 0 &&
        sscanf(v, "%llu:%llu:%n", &dev, &ino, &off) == 2 && off > 0 &&
        v[off] == '/' && st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino &&
        strlen(v + off) < sizeof(path)) {
        sv_cwd_set(getpid(), v + off);
        return;
    }
    char link[PATH_MAX];
    ssize_t n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
    if (n <= 0)
        return;
    link[n] = 0;
    if (shunt_deadcwd_decode(link, path, sizeof(path)) == 0) {
        LOG_DEBUG("cwd: remote %s (inherited from the layer)", path);
        sv_cwd_set(getpid(), path);
    }
}

static int session_var(const char *e)
{
    static const char *const names[] = {"SHUNT_SOCKET=", "SHUNT_TOKEN=",
                                        "SHUNT_BROKER=", "SHUNT_CONFIG=",
                                        "SHUNT_CWD=", "SHUNT_FDS=",
                                        "SHUNT_SV_ALIVE="};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(e, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* LD_PRELOAD without the layer: the filter serves the whole tree, a
 * dynamically linked descendant included. */
static char *preload_without_layer(const char *v)
{
    size_t n = strlen(v);
    char *out = malloc(n + sizeof("LD_PRELOAD="));
    if (!out)
        return NULL;
    strcpy(out, "LD_PRELOAD=");
    size_t k = strlen(out), first = k;
    const char *p = v;
    while (*p) {
        size_t l = strcspn(p, ": ");
        if (l && !(memmem(p, l, "libshunt", 8))) {
            if (k > first)
                out[k++] = ':';
            memcpy(out + k, p, l);
            k += l;
        }
        p += l;
        if (*p)
            p++;
    }
    out[k] = 0;
    if (k == first) {
        free(out);
        return NULL;
    }
    return out;
}

static size_t name_len(const char *e, size_t len)
{
    const char *eq = memchr(e, '=', len);
    return eq ? (size_t)(eq - e) : len;
}

static int have(char **arr, size_t n, const char *e, size_t nlen)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(arr[i], e, nlen) == 0 && arr[i][nlen] == '=')
            return 1;
    return 0;
}

/* The program's environment: the target's, filtered as under the layer
 * (shunt/envfilter.h), with the local variables a local run needs. */
static char **program_env(void)
{
    size_t nlocal = 0;
    while (environ[nlocal])
        nlocal++;
    shunt_client_t *cl = NULL;
    shunt_msg_t m;
    int imported = !getenv("SHUNT_ENV_DONE");
    shunt_env_get_t q = {.max_bytes = 0};
    if (imported && sv_rpc_once(SHUNT_T_ENV_GET, &q, &m, &cl) < 0) {
        LOG_WARN("environment: cannot get the target's; keeping the local "
                 "one");
        imported = 0;
    }
    size_t cap = nlocal + (imported ? m.u.env_r.vars.count : 0) + 2;
    char **env = calloc(cap, sizeof(*env));
    if (!env)
        goto out;
    size_t n = 0;
    for (size_t i = 0; i < nlocal; i++) {
        const char *e = environ[i];
        size_t nlen = name_len(e, strlen(e));
        if (session_var(e) || have(env, n, e, nlen))
            continue;
        if (imported && !shunt_env_keep_local(e, nlen))
            continue;
        if (strncmp(e, "LD_PRELOAD=", 11) == 0) {
            char *p = preload_without_layer(e + 11);
            if (p)
                env[n++] = p;
            continue;
        }
        env[n++] = strdup(e);
    }
    if (imported) {
        shunt_list_iter_t it;
        shunt_list_iter_init(&it, &m.u.env_r.vars);
        shunt_rec_str_t v;
        while (n + 1 < cap && shunt_list_next_rec_str(&it, &v) == 1) {
            size_t nlen = name_len(v.s.p, v.s.len);
            if (nlen == 0 || nlen == v.s.len ||
                shunt_env_keep_local(v.s.p, nlen) || have(env, n, v.s.p, nlen))
                continue;
            char *s = malloc((size_t)v.s.len + 1);
            if (!s)
                break;
            memcpy(s, v.s.p, v.s.len);
            s[v.s.len] = 0;
            s[nlen] = 0;
            int ok = shunt_env_wanted(&sv.cfg, s);
            s[nlen] = '=';
            if (ok)
                env[n++] = s;
            else
                free(s);
        }
        if (!have(env, n, "SHUNT_ENV_DONE", 14))
            env[n++] = strdup("SHUNT_ENV_DONE=1");
    }
    env[n] = NULL;
out:
    if (cl)
        shunt_client_close(cl);
    return env;
}

static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
    if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    if (!h || h->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof(int));
    return fd;
}

/* The supervisor's side of the fork: out of the tree, then serving. */
static void supervisor_main(int sock)
{
    pid_t mid = fork();
    if (mid < 0)
        _exit(1);
    if (mid > 0)
        _exit(0); /* the intermediate: reaped by the program-to-be */
    setsid();
    int fd = recv_fd(sock);
    if (fd < 0)
        _exit(1);
    char ok = 'r';
    if (write(sock, &ok, 1) != 1)
        _exit(1);
    close(sock);
    sv_dirs_start();
    if (sv_wr_enabled)
        sv_wr_start();
    /* nothing of the terminal: the program's stdio is its own */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
    sv_serve(fd);
    _exit(0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"path", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *given_path = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (o == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        if (o == 'p') {
            given_path = optarg;
            continue;
        }
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, SV_NAME ": no program given\n%s", usage_text);
        return EXIT_USAGE;
    }
    char **cmd = argv + optind;
    const char *lv = getenv("SHUNT_LOG");
    int level = lv ? shunt_log_parse_level(lv) : -1;
    int logfd = 2;
    const char *lf = getenv("SHUNT_LOG_FILE");
    if (lf && *lf) {
        int f = open(lf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (f >= 0)
            logfd = f;
    }
    if (load_session() < 0 || load_config() < 0)
        return EXIT_CANNOT_RUN;
    if (level < 0)
        level = sv.cfg.log_level >= 0 ? sv.cfg.log_level : SHUNT_LOG_WARN;
    shunt_log_init("supervisor", (shunt_log_level_t)level, logfd);
    char path[4096];
    int fr = given_path ? (strlen(given_path) < sizeof(path)
                               ? (strcpy(path, given_path), 0)
                               : -ENAMETOOLONG)
                        : shunt_proc_find(cmd[0], path, sizeof(path));
    if (fr < 0) {
        fprintf(stderr, SV_NAME ": %s: %s\n", cmd[0],
                fr == -ENOENT && !strchr(cmd[0], '/') ? "command not found"
                                                      : strerror(-fr));
        return fr == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
    }
    /* the program's own files are local (policy/progloc_rules.c, as the
     * layer does for each image; here once, for the first program) */
    char exe[4096], cwd[4096];
    if (!realpath(path, exe))
        snprintf(exe, sizeof(exe), "%s", path);
    shunt_progloc_in_t in = {.getvar = getvar, .exe = exe, .execfn = path,
                             .cwd = getcwd(cwd, sizeof(cwd)) && cwd[0] == '/'
                                        ? cwd
                                        : NULL};
    static progvar_t pv;
    shunt_progloc_apply(&sv.pol, &in, &pv);
    shunt_policy_add_local(&sv.pol, exe);
    /* the cwd at start and below, unless it is "/" */
    if (in.cwd && in.cwd[1])
        shunt_policy_add_local(&sv.pol, in.cwd);
    sv.program = getpid();
    char **env = program_env();
    if (!env) {
        fprintf(stderr, SV_NAME ": out of memory\n");
        return EXIT_CANNOT_RUN;
    }
    inherit_layer_cwd();
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        fprintf(stderr, SV_NAME ": socketpair: %s\n", strerror(errno));
        return EXIT_CANNOT_RUN;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, SV_NAME ": fork: %s\n", strerror(errno));
        return EXIT_CANNOT_RUN;
    }
    if (child == 0) {
        close(sp[0]);
        supervisor_main(sp[1]);
    }
    close(sp[1]);
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    int nfd = sv_filter_install();
    if (nfd < 0)
        return EXIT_CANNOT_RUN;
    char ok = 0;
    struct pollfd pf = {.fd = sp[0], .events = POLLIN};
    if (shunt_send_fd(sp[0], "f", 1, nfd, MSG_NOSIGNAL) != 1 || poll(&pf, 1, 10000) != 1 ||
        read(sp[0], &ok, 1) != 1 || ok != 'r') {
        /* the filter is on and nobody answers it: exec nothing */
        fprintf(stderr, SV_NAME ": the supervisor did not start\n");
        _exit(EXIT_CANNOT_RUN);
    }
    close(nfd);
    close(sp[0]);
    if (sv.broker_fd >= 0)
        fcntl(sv.broker_fd, F_SETFD, FD_CLOEXEC);
    /* harness exec's pipe: the supervisor holds it until it has stored
     * everything (write mode), the program does not */
    const char *alive = getenv("SHUNT_SV_ALIVE");
    if (alive && *alive)
        fcntl(atoi(alive), F_SETFD, FD_CLOEXEC);
    if (logfd != 2)
        close(logfd);
    execve(path, cmd, env);
    int e = errno;
    fprintf(stderr, SV_NAME ": cannot execute %s: %s\n", path, strerror(e));
    _exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
}
