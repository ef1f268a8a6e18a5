/* harness proxy: start shunt-agent for a target (or a plain root directory)
 * and run the session proxy in front of it until SIGTERM/SIGINT. */
#include "cmd.h"
#include "session.h"
#include "shunt/target.h"

#include "shunt/log.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *target, *root, *socket, *agent, *log_level, *record;
} proxy_cmd_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: harness proxy (--target NAME | --root DIR) [--socket PATH]\n"
            "                     [--agent PATH] [--log-level LEVEL] [--record DIR]\n"
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
            "  --record DIR       write the session's frames into DIR as fuzz "
            "seeds\n"
            "                     (DIR/proto_decode, DIR/agent_session; "
            "docs/fuzzing.md)\n"
            "  -h, --help         this help\n");
}

static int parse_args(proxy_cmd_t *pc, int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},
        {"root", required_argument, 0, 'r'},
        {"socket", required_argument, 0, 's'},
        {"agent", required_argument, 0, 'a'},
        {"log-level", required_argument, 0, 'l'},
        {"record", required_argument, 0, 'R'},
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
        case 'R': pc->record = optarg; break;
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
    if (pc->target && !shunt_valid_name(pc->target)) {
        fprintf(stderr, "harness proxy: \"%s\" is not a target name\n", pc->target);
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

int cmd_proxy(int argc, char **argv)
{
    proxy_cmd_t pcs = {0}, *pc = &pcs;
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

    /* Signals arrive through a signalfd in this thread only. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        fprintf(stderr, "harness proxy: signalfd: %s\n", strerror(errno));
        return SHUNT_EXIT_FAIL;
    }

    /* The proxy reads its recording directory from the environment (the
     * same variable works for harness exec). */
    if (pc->record && setenv("SHUNT_PROXY_RECORD", pc->record, 1) < 0) {
        fprintf(stderr, "harness proxy: setenv: %s\n", strerror(errno));
        return SHUNT_EXIT_FAIL;
    }

    shunt_session_opts_t so = {
        .who = "harness proxy",
        .target = pc->target,
        .init_pid = init_pid,
        .root = pc->root,
        .socket = pc->socket,
        .agent = pc->agent,
        .log_level = pc->log_level,
        .sigfd = sigfd,
    };
    shunt_session_t *s;
    int sr = shunt_session_start(&so, &s);
    if (sr != 0) {
        close(sigfd);
        return sr > 0 ? SHUNT_EXIT_OK : SHUNT_EXIT_FAIL;
    }
    printf("proxy listening on %s\n", shunt_session_socket(s));
    fflush(stdout);

    int rc = SHUNT_EXIT_OK;
    for (;;) {
        struct pollfd pf[1 + SHUNT_SESSION_POLLFDS] = {
            {.fd = sigfd, .events = POLLIN}};
        size_t n = shunt_session_pollfds(s, pf + 1);
        if (poll(pf, (nfds_t)(1 + n), -1) < 0 && errno != EINTR)
            break;
        if (shunt_session_events(s, pf + 1, n) < 0) {
            rc = SHUNT_EXIT_FAIL;
            break;
        }
        int stop = 0;
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo == SIGCHLD)
                shunt_session_reap(s);
            else
                stop = 1;
        }
        if (stop)
            break;
    }
    shunt_session_end(s);
    close(sigfd);
    return rc;
}
