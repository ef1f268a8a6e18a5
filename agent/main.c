/* shunt-agent: command line, startup (root, namespaces, listener), exit. */
#include "agent.h"

#include "shunt/log.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: shunt-agent (--target-pid PID | --root DIR) --listen HOST:PORT\n"
        "                   --token-file FILE [options]\n"
        "\n"
        "Serves the shunt protocol for one target: files beneath its root,\n"
        "its environment, its DNS and outgoing connections in its network.\n"
        "\n"
        "  --target-pid PID        target process: root, env and namespaces\n"
        "                          from /proc/PID\n"
        "  --root DIR              serve DIR as the root, current netns (tests)\n"
        "  --env-file FILE         with --root: KEY=VALUE lines (or NUL-separated)\n"
        "  --listen HOST:PORT      numeric address to listen on (port 0 = any)\n"
        "  --token-file FILE       shared secret (trailing newline stripped)\n"
        "  --log-level LEVEL       error|warn|info|debug|trace (info)\n"
        "  --max-clients N         simultaneous connections (64)\n"
        "  --max-fds N             handles + streams per client (1024)\n"
        "  --max-frame BYTES       largest frame accepted (%u)\n"
        "  --max-queue BYTES       drop a client whose unsent output exceeds\n"
        "                          this (64 MiB, at least 2 frames)\n"
        "  --handshake-timeout MS  time allowed for HELLO (5000)\n"
        "  --connect-timeout MS    default CONNECT timeout (10000)\n"
        "  --help                  this text\n"
        "\n"
        "Prints \"listening on ADDR:PORT\" on stdout when ready; logs to stderr.\n",
        SHUNT_FRAME_DEFAULT);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_args(const char *fmt, ...)
{
    va_list ap;
    fputs("shunt-agent: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see shunt-agent --help)\n", stderr);
    exit(2);
}

static unsigned long long parse_num(const char *opt, const char *s,
                                    unsigned long long lo,
                                    unsigned long long hi)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == 0)
        bad_args("%s: '%s' is not a number", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        bad_args("%s: '%s' is not a number", opt, s);
    if (v < lo || v > hi)
        bad_args("%s: %llu is out of range [%llu, %llu]", opt, v, lo, hi);
    return v;
}

static void parse_args(int argc, char **argv, agent_conf_t *c)
{
    enum {
        O_TARGET = 256, O_ROOT, O_ENV, O_LISTEN, O_TOKEN, O_LOGLEVEL,
        O_MAXCL, O_MAXFDS, O_MAXFRAME, O_MAXQ, O_HSTO, O_CTO, O_HELP
    };
    static const struct option opts[] = {
        {"target-pid", required_argument, 0, O_TARGET},
        {"root", required_argument, 0, O_ROOT},
        {"env-file", required_argument, 0, O_ENV},
        {"listen", required_argument, 0, O_LISTEN},
        {"token-file", required_argument, 0, O_TOKEN},
        {"log-level", required_argument, 0, O_LOGLEVEL},
        {"max-clients", required_argument, 0, O_MAXCL},
        {"max-fds", required_argument, 0, O_MAXFDS},
        {"max-frame", required_argument, 0, O_MAXFRAME},
        {"max-queue", required_argument, 0, O_MAXQ},
        {"handshake-timeout", required_argument, 0, O_HSTO},
        {"connect-timeout", required_argument, 0, O_CTO},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    int level = SHUNT_LOG_INFO;
    memset(c, 0, sizeof(*c));
    c->max_clients = 64;
    c->max_fds = 1024;
    c->max_frame = SHUNT_FRAME_DEFAULT;
    c->max_queue = 64u << 20;
    c->handshake_timeout_ms = 5000;
    c->connect_timeout_ms = 10000;
    int have_queue = 0;

    opterr = 0;
    for (;;) {
        int o = getopt_long(argc, argv, "", opts, NULL);
        if (o == -1)
            break;
        switch (o) {
        case O_TARGET:
            c->target_pid = (pid_t)parse_num("--target-pid", optarg, 1,
                                             INT_MAX);
            break;
        case O_ROOT: c->root_dir = optarg; break;
        case O_ENV: c->env_file = optarg; break;
        case O_LISTEN: c->listen = optarg; break;
        case O_TOKEN: c->token_file = optarg; break;
        case O_LOGLEVEL:
            level = shunt_log_parse_level(optarg);
            if (level < 0)
                bad_args("--log-level: '%s' is not one of "
                         "error|warn|info|debug|trace", optarg);
            break;
        case O_MAXCL:
            c->max_clients = (unsigned)parse_num("--max-clients", optarg, 1,
                                                 65536);
            break;
        case O_MAXFDS:
            c->max_fds = (unsigned)parse_num("--max-fds", optarg, 1,
                                             HANDLE_MAX_FDS);
            break;
        case O_MAXFRAME:
            c->max_frame = (uint32_t)parse_num("--max-frame", optarg,
                                               SHUNT_FRAME_MIN,
                                               SHUNT_FRAME_HARD_MAX);
            break;
        case O_MAXQ:
            c->max_queue = (size_t)parse_num("--max-queue", optarg, 1,
                                             1ull << 40);
            have_queue = 1;
            break;
        case O_HSTO:
            c->handshake_timeout_ms = (int)parse_num("--handshake-timeout",
                                                     optarg, 1, 3600000);
            break;
        case O_CTO:
            c->connect_timeout_ms = (int)parse_num("--connect-timeout",
                                                   optarg, 1, 3600000);
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            if (optopt)
                bad_args("option needs an argument or is unknown: %s",
                         argv[optind - 1]);
            bad_args("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bad_args("unexpected argument '%s'", argv[optind]);
    if (!!c->target_pid == !!c->root_dir)
        bad_args("exactly one of --target-pid and --root is required");
    if (c->env_file && !c->root_dir)
        bad_args("--env-file only goes with --root (--target-pid reads "
                 "/proc/PID/environ)");
    if (!c->listen)
        bad_args("--listen HOST:PORT is required");
    if (!c->token_file)
        bad_args("--token-file is required");
    if (c->max_queue < 2ull * c->max_frame) {
        if (have_queue)
            bad_args("--max-queue must be at least twice --max-frame (%u)",
                     c->max_frame);
    }
    shunt_log_init("agent", (shunt_log_level_t)level, 2);
}

static void load_token(agent_conf_t *c)
{
    size_t len;
    char *t = shunt_read_file(c->token_file, 1 << 16, &len);
    if (!t)
        bad_args("--token-file %s: %s", c->token_file, strerror(errno));
    while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
        len--;
    if (len == 0)
        bad_args("--token-file %s: the token is empty", c->token_file);
    c->token = t;
    c->token_len = len;
}

static int open_root(agent_t *a)
{
    agent_conf_t *c = &a->conf;
    a->proc_fd = a->mntns_fd = a->netns_fd = -1;
    if (c->target_pid) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d", (int)c->target_pid);
        a->proc_fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->proc_fd < 0)
            bad_args("--target-pid %d: %s: %s", (int)c->target_pid, p,
                     strerror(errno));
        a->root_fd = openat(a->proc_fd, "root", O_PATH | O_DIRECTORY |
                                                    O_CLOEXEC);
        a->mntns_fd = openat(a->proc_fd, "ns/mnt", O_RDONLY | O_CLOEXEC);
        a->netns_fd = openat(a->proc_fd, "ns/net", O_RDONLY | O_CLOEXEC);
        if (a->root_fd < 0 || a->mntns_fd < 0 || a->netns_fd < 0) {
            LOG_ERROR("cannot open %s/{root,ns/mnt,ns/net}: %s (the agent "
                      "needs root or CAP_SYS_PTRACE and CAP_SYS_ADMIN)", p,
                      strerror(errno));
            return -1;
        }
    } else {
        a->root_fd = open(c->root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->root_fd < 0)
            bad_args("--root %s: %s", c->root_dir, strerror(errno));
    }
    int fd = root_open(a, "/", O_PATH | O_DIRECTORY, 0);
    if (fd == -ENOSYS) {
        LOG_ERROR("openat2() is not available (Linux >= 5.6 needed)");
        return -1;
    }
    if (fd >= 0)
        close(fd);
    return 0;
}

static int open_listener(agent_t *a)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (shunt_parse_hostport(a->conf.listen, &ss, &sl) < 0)
        bad_args("--listen '%s': expected a numeric HOST:PORT "
                 "(e.g. 127.0.0.1:0 or [::1]:7000)", a->conf.listen);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        LOG_ERROR("socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
        LOG_ERROR("cannot listen on %s: %s", a->conf.listen, strerror(errno));
        close(fd);
        return -1;
    }
    a->lfd = fd;
    return 0;
}

static int open_signals(agent_t *a)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    a->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return a->sfd < 0 ? -1 : 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The agent has no controlling terminal: a target's /dev/tty (character
 * device 5:0) is the opener's controlling terminal, so with one a program
 * could write onto the developer's terminal through a link to it, or stop
 * the agent with SIGTTIN by reading.  A new session when it can; as a
 * process-group leader (started by an older harness) it lets go of the
 * terminal instead. */
static void drop_terminal(void)
{
    if (setsid() >= 0)
        return;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        ioctl(fd, TIOCNOTTY);
        close(fd);
    }
}

int main(int argc, char **argv)
{
    static agent_t agent;
    agent_t *a = &agent;
    drop_terminal();
    parse_args(argc, argv, &a->conf);
    load_token(&a->conf);
    if (a->conf.max_queue < 2ull * a->conf.max_frame)
        a->conf.max_queue = 2ull * a->conf.max_frame;
    a->lfd = a->sfd = a->epfd = -1;
    a->next_tag = 1;

    if (open_root(a) < 0)
        return 1;
    if (a->conf.env_file) {
        char err[256];
        if (env_load_file(a, a->conf.env_file, err, sizeof(err)) < 0)
            bad_args("--env-file %s: %s", a->conf.env_file, err);
    }
    /* Modes arrive from clients already masked by the caller's umask. */
    umask(0);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    if (open_signals(a) < 0 || open_listener(a) < 0)
        return 1;
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    a->lev.kind = EV_LISTEN;
    a->sev.kind = EV_SIGNAL;
    if (a->epfd < 0 || agent_watch(a, a->lfd, &a->lev, EPOLLIN) < 0 ||
        agent_watch(a, a->sfd, &a->sev, EPOLLIN) < 0) {
        LOG_ERROR("epoll: %s", strerror(errno));
        return 1;
    }
    a->pidfd = -1;
    if (a->conf.target_pid) {
        /* A target restarted under a running program (harness down + up)
         * must not swallow its writes into the deleted old root: its
         * process going is the end of this agent's target. */
        a->pidfd = (int)syscall(SYS_pidfd_open, a->conf.target_pid, 0);
        a->tev.kind = EV_TARGET;
        if (a->pidfd < 0 || agent_watch(a, a->pidfd, &a->tev, EPOLLIN) < 0)
            LOG_WARN("cannot watch target pid %d (pidfd_open: %s): a "
                     "restarted target will not be noticed",
                     (int)a->conf.target_pid, strerror(errno));
    }
    if (resolver_start(a) < 0)
        return 1;
    if (a->netns_fd >= 0) {
        /* The listener stays in the host netns; every socket made from now
         * on (CONNECT) is made in the target's network. */
        if (setns(a->netns_fd, CLONE_NEWNET) < 0) {
            LOG_ERROR("setns(/proc/%d/ns/net): %s", (int)a->conf.target_pid,
                      strerror(errno));
            return 1;
        }
    }

    /* Tables a killed agent left in the target's netns (agent/incoming/). */
    incoming_start(a);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[80];
    getsockname(a->lfd, (struct sockaddr *)&ss, &sl);
    shunt_format_sockaddr((struct sockaddr *)&ss, addr, sizeof(addr));
    if (a->conf.target_pid)
        LOG_INFO("serving target pid %d on %s", (int)a->conf.target_pid, addr);
    else
        LOG_INFO("serving root %s on %s", a->conf.root_dir, addr);
    printf("listening on %s\n", addr);
    fflush(stdout);

    int rc = agent_run(a);
    agent_shutdown(a);
    LOG_INFO("shut down");
    return rc < 0 ? 1 : 0;
}
