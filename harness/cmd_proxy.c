/* harness proxy: start shunt-agent for a target (or a plain root directory)
 * and run the session proxy in front of it until SIGTERM/SIGINT. */
#include "cmd.h"
#include "target.h"

#include "shunt/log.h"
#include "shunt/proxy.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN_BYTES 32
#define AGENT_READY_TIMEOUT_MS 15000
#define AGENT_STOP_GRACE_MS 3000
#define STDERR_TAIL 8192

typedef struct {
    const char *target, *root, *socket, *agent, *log_level;
    char tmpdir[64];
    char agent_token_path[128];
    char socket_path[PATH_MAX];
    char layer_token_path[PATH_MAX + 8];
    char agent_path[PATH_MAX];
    pid_t agent_pid;
    int agent_out, agent_err; /* pipes from the agent, -1 when closed */
    int sigfd;
    char err_tail[STDERR_TAIL]; /* the agent's latest stderr output */
    size_t err_len;
    int forward; /* after start-up, agent output goes to our stderr */
    char line[256];             /* start-up: the agent's stdout so far */
    size_t line_len;
} proxy_cmd_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: harness proxy (--target NAME | --root DIR) [--socket PATH]\n"
            "                     [--agent PATH] [--log-level LEVEL]\n"
            "\n"
            "Starts shunt-agent for the target (or serving DIR as the root, in\n"
            "the current network namespace) and runs the session proxy that\n"
            "layers connect to.  Prints \"proxy listening on PATH\" when ready\n"
            "and runs until SIGTERM or SIGINT.  The layer token is written to\n"
            "PATH.token (mode 0600).\n"
            "\n"
            "options:\n"
            "  --target NAME      a target started by `harness up`\n"
            "  --root DIR         serve DIR instead of a target (tests)\n"
            "  --socket PATH      unix socket for layers (default: "
            SHUNT_STATE_ROOT "/NAME/proxy.sock,\n"
            "                     or a fresh temporary path with --root)\n"
            "  --agent PATH       shunt-agent binary (default: next to harness)\n"
            "  --log-level LEVEL  error, warn, info, debug or trace (proxy and "
            "agent)\n"
            "  -h, --help         this help\n");
}

/* Remembers the tail of what the agent wrote on stderr, for error reports. */
static void keep_tail(proxy_cmd_t *pc, const char *buf, size_t n)
{
    if (n >= sizeof(pc->err_tail) - 1) {
        buf += n - (sizeof(pc->err_tail) - 1);
        n = sizeof(pc->err_tail) - 1;
    }
    if (pc->err_len + n > sizeof(pc->err_tail) - 1) {
        size_t drop = pc->err_len + n - (sizeof(pc->err_tail) - 1);
        memmove(pc->err_tail, pc->err_tail + drop, pc->err_len - drop);
        pc->err_len -= drop;
    }
    memcpy(pc->err_tail + pc->err_len, buf, n);
    pc->err_len += n;
    pc->err_tail[pc->err_len] = 0;
}

/* Reads what a pipe from the agent has; closes it on EOF. */
static void drain(proxy_cmd_t *pc, int *fd, int is_stdout)
{
    char buf[4096];
    ssize_t n = read(*fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (pc->forward) {
        ssize_t w = write(2, buf, (size_t)n); /* never our stdout */
        (void)w;
    }
    if (!is_stdout) {
        keep_tail(pc, buf, (size_t)n);
    } else if (!pc->forward) {
        size_t room = sizeof(pc->line) - 1 - pc->line_len;
        size_t k = (size_t)n < room ? (size_t)n : room;
        memcpy(pc->line + pc->line_len, buf, k);
        pc->line_len += k;
        pc->line[pc->line_len] = 0;
    }
}

/* Reads the agent's pipes until both close or timeout_ms passes (a helper
 * process of the agent may still hold them). */
static void drain_all(proxy_cmd_t *pc, int timeout_ms)
{
    uint64_t deadline = shunt_now_ms() + (uint64_t)timeout_ms;
    while (pc->agent_out >= 0 || pc->agent_err >= 0) {
        uint64_t now = shunt_now_ms();
        if (now >= deadline)
            break;
        struct pollfd pf[2] = {{.fd = pc->agent_out, .events = POLLIN},
                               {.fd = pc->agent_err, .events = POLLIN}};
        if (poll(pf, 2, (int)(deadline - now)) <= 0)
            break;
        if (pf[0].revents)
            drain(pc, &pc->agent_out, 1);
        if (pf[1].revents)
            drain(pc, &pc->agent_err, 0);
    }
}

static void report_agent_failure(proxy_cmd_t *pc, const char *what)
{
    fprintf(stderr, "harness proxy: %s\n", what);
    if (pc->err_len) {
        fprintf(stderr, "--- shunt-agent stderr ---\n%s", pc->err_tail);
        if (pc->err_tail[pc->err_len - 1] != '\n')
            fputc('\n', stderr);
        fprintf(stderr, "---\n");
    } else {
        fprintf(stderr, "(shunt-agent wrote nothing on stderr)\n");
    }
}

static void describe_status(int st, char *out, size_t outlen)
{
    if (WIFEXITED(st))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(out, outlen, "stopped (status 0x%x)", st);
}

static int find_agent(proxy_cmd_t *pc)
{
    if (pc->agent) {
        snprintf(pc->agent_path, sizeof(pc->agent_path), "%s", pc->agent);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
            fprintf(stderr, "harness proxy: /proc/self/exe: %s\n",
                    strerror(errno));
            return -1;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = 0;
        if (shunt_fmt(pc->agent_path, sizeof(pc->agent_path),
                      "%s/shunt-agent", self) < 0) {
            fprintf(stderr, "harness proxy: path too long: %s\n", self);
            return -1;
        }
    }
    if (access(pc->agent_path, X_OK) < 0) {
        fprintf(stderr, "harness proxy: cannot run %s: %s%s\n",
                pc->agent_path, strerror(errno),
                pc->agent ? "" : " (use --agent PATH)");
        return -1;
    }
    return 0;
}

static int random_hex(char *out, size_t bytes)
{
    unsigned char raw[64];
    if (bytes > sizeof(raw) || shunt_random(raw, bytes) < 0)
        return -1;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int write_secret(const char *path, const char *text)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0)
        return -errno;
    int rc = shunt_write_full(fd, text, strlen(text));
    if (fchmod(fd, 0600) < 0 && rc == 0)
        rc = -errno;
    close(fd);
    return rc;
}

static int spawn_agent(proxy_cmd_t *pc, int init_pid)
{
    char pidbuf[16];
    snprintf(pidbuf, sizeof(pidbuf), "%d", init_pid);
    const char *argv[16];
    int n = 0;
    argv[n++] = pc->agent_path;
    if (pc->root) {
        argv[n++] = "--root";
        argv[n++] = pc->root;
    } else {
        argv[n++] = "--target-pid";
        argv[n++] = pidbuf;
    }
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--token-file";
    argv[n++] = pc->agent_token_path;
    /* The proxy is the agent's only client: every session's handles and
     * streams count against one client's limit. */
    argv[n++] = "--max-fds";
    argv[n++] = "65536";
    if (pc->log_level) {
        argv[n++] = "--log-level";
        argv[n++] = pc->log_level;
    }
    argv[n] = NULL;

    int out[2], errp[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(errp, O_CLOEXEC) < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        return -e;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        close(errp[0]);
        close(errp[1]);
        return -e;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec. */
        setpgid(0, 0); /* a terminal's ^C is ours to forward, in order */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(out[1], 1);
        dup2(errp[1], 2);
        execv(pc->agent_path, (char *const *)argv);
        static const char msg[] = "exec of shunt-agent failed\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(127);
    }
    close(out[1]);
    close(errp[1]);
    pc->agent_pid = pid;
    pc->agent_out = out[0];
    pc->agent_err = errp[0];
    shunt_set_nonblock(pc->agent_out, 1);
    shunt_set_nonblock(pc->agent_err, 1);
    return 0;
}

/* Reaps the agent if it has exited; returns 1 (with *status) if so. */
static int reap_agent(proxy_cmd_t *pc, int *status)
{
    if (pc->agent_pid <= 0)
        return 0;
    pid_t r = waitpid(pc->agent_pid, status, WNOHANG);
    if (r == pc->agent_pid) {
        pc->agent_pid = 0;
        return 1;
    }
    return 0;
}

static void read_signals(proxy_cmd_t *pc, int *stop, int *child)
{
    struct signalfd_siginfo si;
    while (read(pc->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            *child = 1;
        else
            *stop = 1;
    }
}

/* Waits for the agent's "listening on ADDR" line.  0 with addr filled, 1 if
 * asked to stop meanwhile, -1 on failure (reported). */
static int wait_ready(proxy_cmd_t *pc, char *addr, size_t addrlen)
{
    uint64_t deadline = shunt_now_ms() + AGENT_READY_TIMEOUT_MS;
    for (;;) {
        char *nl = strchr(pc->line, '\n');
        if (nl) {
            *nl = 0;
            const char *pfx = "listening on ";
            char *at = strstr(pc->line, pfx);
            if (!at) {
                char msg[400];
                snprintf(msg, sizeof(msg),
                         "shunt-agent printed \"%s\" instead of \"listening "
                         "on ADDR\"",
                         pc->line);
                report_agent_failure(pc, msg);
                return -1;
            }
            snprintf(addr, addrlen, "%s", at + strlen(pfx));
            return 0;
        }
        uint64_t now = shunt_now_ms();
        if (now >= deadline) {
            char msg[128];
            snprintf(msg, sizeof(msg),
                     "shunt-agent did not report \"listening on\" within "
                     "%d ms",
                     AGENT_READY_TIMEOUT_MS);
            report_agent_failure(pc, msg);
            return -1;
        }
        struct pollfd pf[3] = {{.fd = pc->sigfd, .events = POLLIN},
                               {.fd = pc->agent_out, .events = POLLIN},
                               {.fd = pc->agent_err, .events = POLLIN}};
        int r = poll(pf, 3, (int)(deadline - now));
        if (r < 0 && errno != EINTR)
            return -1;
        if (pf[2].revents)
            drain(pc, &pc->agent_err, 0);
        if (pf[1].revents)
            drain(pc, &pc->agent_out, 1);
        int stop = 0, child = 0;
        if (pf[0].revents)
            read_signals(pc, &stop, &child);
        if (stop)
            return 1;
        int st = 0;
        if ((child || pc->agent_out < 0) && !strchr(pc->line, '\n')) {
            int exited = reap_agent(pc, &st);
            if (exited || pc->agent_out < 0) {
                drain_all(pc, 500); /* its last words */
                char msg[160], how[96] = "closed its stdout";
                if (exited)
                    describe_status(st, how, sizeof(how));
                snprintf(msg, sizeof(msg),
                         "shunt-agent %s before it was ready", how);
                report_agent_failure(pc, msg);
                return -1;
            }
        }
    }
}

static void stop_agent(proxy_cmd_t *pc)
{
    if (pc->agent_pid <= 0)
        return;
    pid_t group = pc->agent_pid; /* the agent leads its own process group */
    kill(pc->agent_pid, SIGTERM);
    uint64_t deadline = shunt_now_ms() + AGENT_STOP_GRACE_MS;
    int st;
    while (!reap_agent(pc, &st)) {
        uint64_t now = shunt_now_ms();
        if (now >= deadline) {
            LOG_WARN("shunt-agent (pid %d) ignored SIGTERM for %d ms; "
                     "killing it",
                     (int)pc->agent_pid, AGENT_STOP_GRACE_MS);
            kill(pc->agent_pid, SIGKILL);
            waitpid(pc->agent_pid, &st, 0);
            pc->agent_pid = 0;
            break;
        }
        struct pollfd pf[3] = {{.fd = pc->sigfd, .events = POLLIN},
                               {.fd = pc->agent_out, .events = POLLIN},
                               {.fd = pc->agent_err, .events = POLLIN}};
        int r = poll(pf, 3, (int)(deadline - now));
        if (r > 0) {
            if (pf[1].revents)
                drain(pc, &pc->agent_out, 1);
            if (pf[2].revents)
                drain(pc, &pc->agent_err, 0);
            if (pf[0].revents) {
                int s = 0, c = 0;
                read_signals(pc, &s, &c);
            }
        }
    }
    kill(-group, SIGKILL); /* helpers it left behind, if any */
}

typedef struct {
    shunt_proxy_t *proxy;
    int done_fd; /* written when the loop returns */
    int rc;
} runner_t;

static void *run_proxy(void *arg)
{
    runner_t *r = arg;
    r->rc = shunt_proxy_run(r->proxy);
    char b = 1;
    ssize_t w = write(r->done_fd, &b, 1);
    (void)w;
    return NULL;
}

static int parse_args(proxy_cmd_t *pc, int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},
        {"root", required_argument, 0, 'r'},
        {"socket", required_argument, 0, 's'},
        {"agent", required_argument, 0, 'a'},
        {"log-level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 't': pc->target = optarg; break;
        case 'r': pc->root = optarg; break;
        case 's': pc->socket = optarg; break;
        case 'a': pc->agent = optarg; break;
        case 'l': pc->log_level = optarg; break;
        case 'h': usage(stdout); return 1;
        case ':':
            fprintf(stderr, "harness proxy: %s needs a value\n\n",
                    argv[optind - 1]);
            usage(stderr);
            return -1;
        default:
            fprintf(stderr, "harness proxy: unknown option %s\n\n",
                    argv[optind - 1]);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "harness proxy: unexpected argument \"%s\"\n\n",
                argv[optind]);
        usage(stderr);
        return -1;
    }
    if (!pc->target == !pc->root) {
        fprintf(stderr,
                "harness proxy: exactly one of --target and --root is "
                "required\n\n");
        usage(stderr);
        return -1;
    }
    if (pc->log_level) {
        int lv = shunt_log_parse_level(pc->log_level);
        if (lv < 0) {
            fprintf(stderr, "harness proxy: unknown log level \"%s\"\n",
                    pc->log_level);
            return -1;
        }
        shunt_log_set_level((shunt_log_level_t)lv);
    }
    return 0;
}

static void cleanup_files(proxy_cmd_t *pc)
{
    if (pc->layer_token_path[0])
        unlink(pc->layer_token_path);
    if (pc->agent_token_path[0])
        unlink(pc->agent_token_path);
    if (pc->socket_path[0])
        unlink(pc->socket_path); /* also removed by shunt_proxy_free */
    if (pc->tmpdir[0])
        rmdir(pc->tmpdir);
}

int cmd_proxy(int argc, char **argv)
{
    static proxy_cmd_t pcs;
    proxy_cmd_t *pc = &pcs;
    memset(pc, 0, sizeof(*pc));
    pc->agent_out = pc->agent_err = pc->sigfd = -1;
    int pr = parse_args(pc, argc, argv);
    if (pr != 0)
        return pr > 0 ? SHUNT_EXIT_OK : SHUNT_EXIT_USAGE;
    shunt_log_init("proxy", shunt_log_get_level(), 2);

    char err[1024];
    int init_pid = 0;
    if (pc->target) {
        shunt_target_info_t info;
        if (shunt_target_info(pc->target, &info, err, sizeof(err)) < 0) {
            fprintf(stderr, "harness proxy: target %s: %s\n", pc->target,
                    err);
            return SHUNT_EXIT_FAIL;
        }
        init_pid = info.init_pid;
    } else {
        struct stat st;
        if (stat(pc->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "harness proxy: --root %s: %s\n", pc->root,
                    errno ? strerror(errno) : "not a directory");
            return SHUNT_EXIT_FAIL;
        }
    }
    if (find_agent(pc) < 0)
        return SHUNT_EXIT_FAIL;

    snprintf(pc->tmpdir, sizeof(pc->tmpdir), "/tmp/shunt-proxy-XXXXXX");
    if (!mkdtemp(pc->tmpdir)) {
        fprintf(stderr, "harness proxy: mkdtemp: %s\n", strerror(errno));
        pc->tmpdir[0] = 0;
        return SHUNT_EXIT_FAIL;
    }
    int rc = SHUNT_EXIT_FAIL;
    int fmt;
    if (pc->socket)
        fmt = shunt_fmt(pc->socket_path, sizeof(pc->socket_path), "%s",
                        pc->socket);
    else if (pc->target)
        fmt = shunt_fmt(pc->socket_path, sizeof(pc->socket_path),
                        "%s/%s/proxy.sock", SHUNT_STATE_ROOT, pc->target);
    else
        fmt = shunt_fmt(pc->socket_path, sizeof(pc->socket_path),
                        "%s/proxy.sock", pc->tmpdir);
    if (fmt == 0)
        fmt = shunt_fmt(pc->layer_token_path, sizeof(pc->layer_token_path),
                        "%s.token", pc->socket_path);
    shunt_fmt(pc->agent_token_path, sizeof(pc->agent_token_path),
              "%s/agent.token", pc->tmpdir);
    char agent_token[2 * TOKEN_BYTES + 1], layer_token[2 * TOKEN_BYTES + 1];
    if (fmt < 0) {
        fprintf(stderr, "harness proxy: socket path too long\n");
        pc->socket_path[0] = pc->layer_token_path[0] = 0;
        goto out;
    }
    if (random_hex(agent_token, TOKEN_BYTES) < 0 ||
        random_hex(layer_token, TOKEN_BYTES) < 0) {
        fprintf(stderr, "harness proxy: getrandom failed\n");
        goto out;
    }
    int wr = write_secret(pc->agent_token_path, agent_token);
    if (wr < 0) {
        fprintf(stderr, "harness proxy: %s: %s\n", pc->agent_token_path,
                strerror(-wr));
        goto out;
    }

    /* Signals arrive through a signalfd in this thread only. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    pc->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (pc->sigfd < 0) {
        fprintf(stderr, "harness proxy: signalfd: %s\n", strerror(errno));
        goto out;
    }

    int sr = spawn_agent(pc, init_pid);
    if (sr < 0) {
        fprintf(stderr, "harness proxy: cannot start %s: %s\n",
                pc->agent_path, strerror(-sr));
        goto out;
    }
    char addr[128];
    int ready = wait_ready(pc, addr, sizeof(addr));
    if (ready != 0) {
        rc = ready > 0 ? SHUNT_EXIT_OK : SHUNT_EXIT_FAIL;
        goto out;
    }
    pc->forward = 1; /* from now on the agent's logs join ours */
    if (pc->err_len) {
        ssize_t w = write(2, pc->err_tail, pc->err_len);
        (void)w;
    }

    wr = write_secret(pc->layer_token_path, layer_token);
    if (wr < 0) {
        fprintf(stderr, "harness proxy: %s: %s\n", pc->layer_token_path,
                strerror(-wr));
        goto out;
    }
    shunt_proxy_opts_t po = {
        .socket_path = pc->socket_path,
        .agent_addr = addr,
        .agent_token = agent_token,
        .agent_token_len = strlen(agent_token),
        .layer_token = layer_token,
        .layer_token_len = strlen(layer_token),
    };
    shunt_proxy_t *proxy = shunt_proxy_new(&po, err, sizeof(err));
    if (!proxy) {
        fprintf(stderr, "harness proxy: %s\n", err);
        goto out;
    }
    int done[2];
    if (pipe2(done, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "harness proxy: pipe: %s\n", strerror(errno));
        shunt_proxy_free(proxy);
        goto out;
    }
    runner_t runner = {.proxy = proxy, .done_fd = done[1]};
    pthread_t th;
    int te = pthread_create(&th, NULL, run_proxy, &runner);
    if (te != 0) {
        fprintf(stderr, "harness proxy: pthread_create: %s\n", strerror(te));
        shunt_proxy_free(proxy);
        close(done[0]);
        close(done[1]);
        goto out;
    }
    printf("proxy listening on %s\n", pc->socket_path);
    fflush(stdout);
    LOG_INFO("proxy for %s%s ready on %s (agent pid %d)",
             pc->target ? "target " : "root ",
             pc->target ? pc->target : pc->root, pc->socket_path,
             (int)pc->agent_pid);

    rc = SHUNT_EXIT_OK;
    for (;;) {
        struct pollfd pf[4] = {{.fd = pc->sigfd, .events = POLLIN},
                               {.fd = done[0], .events = POLLIN},
                               {.fd = pc->agent_out, .events = POLLIN},
                               {.fd = pc->agent_err, .events = POLLIN}};
        if (poll(pf, 4, -1) < 0 && errno != EINTR)
            break;
        if (pf[2].revents)
            drain(pc, &pc->agent_out, 1);
        if (pf[3].revents)
            drain(pc, &pc->agent_err, 0);
        if (pf[1].revents) {
            LOG_ERROR("the proxy loop stopped: %s",
                      strerror(runner.rc < 0 ? -runner.rc : EIO));
            rc = SHUNT_EXIT_FAIL;
            break;
        }
        int stop = 0, child = 0, st;
        if (pf[0].revents)
            read_signals(pc, &stop, &child);
        if (child && reap_agent(pc, &st)) {
            char how[96];
            describe_status(st, how, sizeof(how));
            LOG_ERROR("shunt-agent %s; requests through the proxy now fail "
                      "with EIO",
                      how);
        }
        if (stop)
            break;
    }
    shunt_proxy_stop(proxy);
    pthread_join(th, NULL);
    shunt_proxy_free(proxy);
    close(done[0]);
    close(done[1]);
out:
    stop_agent(pc);
    drain_all(pc, 200);
    if (pc->agent_out >= 0)
        close(pc->agent_out);
    if (pc->agent_err >= 0)
        close(pc->agent_err);
    cleanup_files(pc);
    if (pc->sigfd >= 0)
        close(pc->sigfd);
    return rc;
}
