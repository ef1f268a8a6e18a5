/* harness record: run a command under the ptrace recorder and print what it
 * did on the local host, and its leaks (docs/recorder.md). */
#include "cmd.h"
#include "shunt/layercfg.h"
#include "shunt/proc.h"
#include "shunt/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define EXIT_TIMEOUT 124

static const char usage_text[] =
    "usage: harness record [--remote-path REGEX]... [--remote-net CIDR]...\n"
    "                      [--remote-name GLOB]... [--config FILE]\n"
    "                      [--timeout SECONDS] [--all-syscalls] [--leaks-only]\n"
    "                      [--json] [-o FILE] [--call-journal FILE]\n"
    "                      -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD under ptrace and records, for every process and thread it\n"
    "starts, the file, socket and process syscalls it makes on the local\n"
    "host (the list is harness/recorder/recorder_syscalls.def), with paths made\n"
    "absolute and socket addresses decoded.  A call that names a remote-only\n"
    "path, address or name is a leak.  The journal (one line per call,\n"
    "strace-like) and the leaks go to stderr, or to -o FILE.\n"
    "\n"
    "options:\n"
    "  --remote-path REGEX  paths matching this POSIX ERE are remote-only: any\n"
    "                       access to one (a unix socket too) is a leak\n"
    "  --remote-net CIDR    ADDR[/PREFIX][:PORT[-PORT]] (IPv6 in []): a connect\n"
    "                       or send to it is a leak\n"
    "  --remote-name GLOB   a DNS query for a matching name is a leak\n"
    "  --config FILE        a scenario or a file with a layer: section: the\n"
    "                       layer's policy says what is remote (as the layer\n"
    "                       would decide it in each process)\n"
    "  --timeout SECONDS    kill every traced process after this long (exit\n"
    "                       status 124)\n"
    "  --all-syscalls       stop on every syscall (PTRACE_SYSCALL) instead of\n"
    "                       the seccomp filter's: slower, for measuring\n"
    "  --leaks-only         keep and print only the leaks\n"
    "  --json               one JSON object: status, exit_code, timed_out,\n"
    "                       events, leaks\n"
    "  -o FILE              write there instead of stderr\n"
    "  --call-journal FILE  append the call journal of CMD's system calls to\n"
    "                       FILE (absolute or relative): the layer's journal\n"
    "                       format, from CMD's first call after its exec\n"
    "                       (docs/recorder.md); stops on every syscall.  Then\n"
    "                       nothing else is printed, unless -o is given\n"
    "  -h, --help           this help\n"
    "DNS queries to a non-loopback address are always leaks.\n"
    "\n"
    "exit status: CMD's; 128+N if it was killed by signal N; 124 on timeout;\n"
    "127 if CMD was not found, 126 if it cannot be run; 1 if tracing failed;\n"
    "2 for usage errors.\n";

/* execvp's search (shunt_proc_find), except that a path with a '/' only
 * has to exist: the recorder then shows the failing execve. */
static int find_cmd(const char *cmd, char *out, size_t outlen)
{
    if (!strchr(cmd, '/'))
        return shunt_proc_find(cmd, out, outlen);
    snprintf(out, outlen, "%s", cmd);
    return access(out, F_OK) == 0 ? 0 : -errno;
}

/* harness record's command line. */
typedef struct {
    recorder_rules_t *rules;
    recorder_opts_t ro;
    const char *out_path;
    const char *call_journal; /* --call-journal */
    int json;
} record_cli_t;

/* One option (c, with optarg) into cl.  0, or -1 with err; *rc set when
 * the command ends here anyway (--help, an unreadable --config). */
static int record_option(record_cli_t *cl, int c, char **argv, int *rc, char *err,
                         size_t errlen)
{
    switch (c) {
    case 'p': return recorder_rules_add_path(cl->rules, optarg, err, errlen);
    case 'n': return recorder_rules_add_net(cl->rules, optarg, err, errlen);
    case 'N': return recorder_rules_add_name(cl->rules, optarg, err, errlen);
    case 'c': {
        char *text = NULL;
        if (shunt_layercfg_load(optarg, NULL, NULL, &text, err, errlen) < 0) {
            fprintf(stderr, "harness record: %s\n", err);
            *rc = SHUNT_EXIT_FAIL;
            return -1;
        }
        int bad = recorder_rules_layer(cl->rules, text, err, errlen);
        free(text);
        return bad;
    }
    case 't': {
        char *end;
        double s = strtod(optarg, &end);
        cl->ro.timeout_ms = (int)(s * 1000);
        if (*end || !(s > 0) || s > 86400) {
            snprintf(err, errlen,
                     "--timeout: expected seconds (0 < N <= 86400), got \"%s\"",
                     optarg);
            return -1;
        }
        return 0;
    }
    case 'A': cl->ro.all_syscalls = 1; return 0;
    case 'L': cl->ro.leaks_only = 1; return 0;
    case 'j': cl->json = 1; return 0;
    case 'o': cl->out_path = optarg; return 0;
    case 'C': cl->call_journal = optarg; return 0;
    case 'h':
        fputs(usage_text, stdout);
        *rc = SHUNT_EXIT_OK;
        return -1;
    case ':':
        snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
        return -1;
    default:
        snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
        return -1;
    }
}

/* The options, up to CMD.  0, or -1 with *rc (said why). */
static int record_parse(record_cli_t *cl, int argc, char **argv, int *rc)
{
    static const struct option opts[] = {
        {"remote-path", required_argument, 0, 'p'},
        {"remote-net", required_argument, 0, 'n'},
        {"remote-name", required_argument, 0, 'N'},
        {"config", required_argument, 0, 'c'},
        {"timeout", required_argument, 0, 't'},
        {"all-syscalls", no_argument, 0, 'A'},
        {"leaks-only", no_argument, 0, 'L'},
        {"json", no_argument, 0, 'j'},
        {"call-journal", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    char err[2048];
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:ho:", opts, NULL)) != -1) {
        *rc = SHUNT_EXIT_USAGE;
        if (record_option(cl, c, argv, rc, err, sizeof(err)) != 0) {
            if (*rc == SHUNT_EXIT_USAGE)
                fprintf(stderr, "harness record: %s\n\n%s", err, usage_text);
            return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "harness record: missing the command to run (after "
                        "--)\n\n%s",
                usage_text);
        *rc = SHUNT_EXIT_USAGE;
        return -1;
    }
    return 0;
}

/* harness record's exit status: CMD's, 124 on timeout, 126/127 when it
 * could not be executed (r < 0). */
static int record_status(const recorder_result_t *res, int r, int timeout_ms)
{
    if (res->timed_out) {
        fprintf(stderr, "harness record: timed out after %d ms: every "
                        "traced process was killed\n",
                timeout_ms);
        return EXIT_TIMEOUT;
    }
    if (r < 0)
        return r == -ENOENT ? 127 : 126;
    if (WIFEXITED(res->status))
        return WEXITSTATUS(res->status);
    if (WIFSIGNALED(res->status))
        return 128 + WTERMSIG(res->status);
    return SHUNT_EXIT_FAIL;
}

/* CMD (argv, found at path) under the recorder, its journal and leaks
 * printed to out. */
static int record_run(const record_cli_t *cl, const char *path, char **argv, FILE *out)
{
    char err[2048];
    recorder_result_t res;
    int rc = SHUNT_EXIT_FAIL;
    int r = recorder_run(&cl->ro, path, argv, environ, &res, err, sizeof(err));
    if (r < 0 && res.n_ev == 0) {
        fprintf(stderr, "harness record: %s\n", err);
    } else {
        if (r < 0)
            fprintf(stderr, "harness record: cannot execute %s\n", err);
        if (out)
            recorder_print(out, &res,
                           cl->json ? RECORDER_PRINT_JSON
                                    : RECORDER_PRINT_EVENTS | RECORDER_PRINT_LEAKS);
        rc = record_status(&res, r, cl->ro.timeout_ms);
    }
    recorder_result_free(&res);
    return rc;
}

int cmd_record(int argc, char **argv)
{
    record_cli_t cl = {.rules = recorder_rules_new()};
    if (!cl.rules) {
        fprintf(stderr, "harness record: out of memory\n");
        return SHUNT_EXIT_FAIL;
    }
    cl.ro.rules = cl.rules;
    int rc = SHUNT_EXIT_USAGE;
    char path[PATH_MAX];
    FILE *out = stderr;
    if (record_parse(&cl, argc, argv, &rc) < 0)
        goto out;
    int fr = find_cmd(argv[optind], path, sizeof(path));
    if (fr < 0) {
        fprintf(stderr, "harness record: %s: %s\n", argv[optind],
                fr == -ENOENT ? "command not found" : strerror(-fr));
        rc = fr == -ENOENT ? 127 : 126;
        goto out;
    }
    if (cl.out_path && !(out = fopen(cl.out_path, "we"))) {
        fprintf(stderr, "harness record: %s: %s\n", cl.out_path, strerror(errno));
        rc = SHUNT_EXIT_FAIL;
        goto out;
    }
    if (cl.call_journal) {
        /* CMD's stderr is its own then: the events go to -o or nowhere */
        if (!cl.out_path)
            out = NULL;
        cl.ro.journal = 1;
        cl.ro.journal_after = 1;
        cl.ro.journal_fd = open(cl.call_journal,
                                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (cl.ro.journal_fd < 0) {
            fprintf(stderr, "harness record: %s: %s\n", cl.call_journal,
                    strerror(errno));
            rc = SHUNT_EXIT_FAIL;
            goto out;
        }
    }
    rc = record_run(&cl, path, argv + optind, out);
    if (cl.call_journal)
        close(cl.ro.journal_fd);
out:
    if (out && out != stderr)
        fclose(out);
    recorder_rules_free(cl.rules);
    return rc;
}
