/* harness record: run a command under the ptrace recorder and print what it
 * did on the local host, and its leaks (docs/recorder.md). */
#include "cmd.h"
#include "shunt/layercfg.h"
#include "shunt/proc.h"
#include "shunt/recorder.h"

#include <errno.h>
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
    "                      [--json] [-o FILE] -- CMD [ARGS...]\n"
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

int cmd_record(int argc, char **argv)
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
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    recorder_rules_t *rules = recorder_rules_new();
    recorder_opts_t ro = {.rules = rules};
    const char *out_path = NULL;
    int json = 0, rc = SHUNT_EXIT_USAGE;
    char err[2048];
    FILE *out = stderr;
    if (!rules) {
        fprintf(stderr, "harness record: out of memory\n");
        return SHUNT_EXIT_FAIL;
    }
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:ho:", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'p': bad = recorder_rules_add_path(rules, optarg, err, sizeof(err)); break;
        case 'n': bad = recorder_rules_add_net(rules, optarg, err, sizeof(err)); break;
        case 'N': bad = recorder_rules_add_name(rules, optarg, err, sizeof(err)); break;
        case 'c': {
            char *text = NULL;
            if (shunt_layercfg_load(optarg, NULL, NULL, &text, err,
                                    sizeof(err)) < 0) {
                fprintf(stderr, "harness record: %s\n", err);
                rc = SHUNT_EXIT_FAIL;
                goto out;
            }
            bad = recorder_rules_layer(rules, text, err, sizeof(err));
            free(text);
            break;
        }
        case 't': {
            char *end;
            double s = strtod(optarg, &end);
            if (*end || !(s > 0) || s > 86400) {
                snprintf(err, sizeof(err),
                         "--timeout: expected seconds (0 < N <= 86400), got "
                         "\"%s\"",
                         optarg);
                bad = -1;
            }
            ro.timeout_ms = (int)(s * 1000);
            break;
        }
        case 'A': ro.all_syscalls = 1; break;
        case 'L': ro.leaks_only = 1; break;
        case 'j': json = 1; break;
        case 'o': out_path = optarg; break;
        case 'h':
            fputs(usage_text, stdout);
            rc = SHUNT_EXIT_OK;
            goto out;
        case ':':
            snprintf(err, sizeof(err), "%s needs a value", argv[optind - 1]);
            bad = -1;
            break;
        default:
            snprintf(err, sizeof(err), "unknown option %s", argv[optind - 1]);
            bad = -1;
        }
        if (bad) {
            fprintf(stderr, "harness record: %s\n\n%s", err, usage_text);
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "harness record: missing the command to run (after "
                        "--)\n\n%s",
                usage_text);
        goto out;
    }
    char path[PATH_MAX];
    int fr = find_cmd(argv[optind], path, sizeof(path));
    if (fr < 0) {
        fprintf(stderr, "harness record: %s: %s\n", argv[optind],
                fr == -ENOENT ? "command not found" : strerror(-fr));
        rc = fr == -ENOENT ? 127 : 126;
        goto out;
    }
    if (out_path && !(out = fopen(out_path, "we"))) {
        fprintf(stderr, "harness record: %s: %s\n", out_path, strerror(errno));
        rc = SHUNT_EXIT_FAIL;
        goto out;
    }
    recorder_result_t res;
    int r = recorder_run(&ro, path, argv + optind, environ, &res, err,
                         sizeof(err));
    if (r < 0 && res.n_ev == 0) {
        fprintf(stderr, "harness record: %s\n", err);
        rc = SHUNT_EXIT_FAIL;
    } else {
        if (r < 0)
            fprintf(stderr, "harness record: cannot execute %s\n", err);
        recorder_print(out, &res,
                       json ? RECORDER_PRINT_JSON
                            : RECORDER_PRINT_EVENTS | RECORDER_PRINT_LEAKS);
        if (res.timed_out) {
            fprintf(stderr, "harness record: timed out after %d ms: every "
                            "traced process was killed\n",
                    ro.timeout_ms);
            rc = EXIT_TIMEOUT;
        } else if (r < 0) {
            rc = r == -ENOENT ? 127 : 126;
        } else if (WIFEXITED(res.status)) {
            rc = WEXITSTATUS(res.status);
        } else if (WIFSIGNALED(res.status)) {
            rc = 128 + WTERMSIG(res.status);
        } else {
            rc = SHUNT_EXIT_FAIL;
        }
    }
    recorder_result_free(&res);
out:
    if (out && out != stderr)
        fclose(out);
    recorder_rules_free(rules);
    return rc;
}
