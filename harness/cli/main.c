/* harness: command-line entry point; global flags and the command table. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "shunt/log.h"

#ifndef SHUNT_VERSION
#define SHUNT_VERSION "0.0.0"
#endif

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"up", cmd_up, "start a scenario's target and its services (idempotent)"},
    {"down", cmd_down, "remove targets: containers, networks and state"},
    {"status", cmd_status, "list targets with their state, addresses and pids"},
    {"check", cmd_check, "validate scenario files without running anything"},
    {"proxy", cmd_proxy, "start an agent for a target and the local relay to it"},
    {"exec", cmd_exec, "run a local command under the layer against a target"},
    {"run", cmd_run, "run scenarios in their targets and under the layer, and compare"},
    {"fuzz", cmd_fuzz, "differential fuzzing: random call sequences in the target and under the layer"},
    {"record", cmd_record, "run a command under the ptrace recorder: its syscalls and leaks"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: harness [-v|--verbose]... [--log-level LEVEL] COMMAND [ARGS]\n"
            "       harness --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\noptions:\n"
            "  -v, --verbose        more log output on stderr (repeat for more)\n"
            "  --log-level LEVEL    error, warn, info, debug or trace\n"
            "  -h, --help           this help; `harness COMMAND --help` for a command\n"
            "  --version            print the version\n");
}

int main(int argc, char **argv)
{
    int level = SHUNT_LOG_WARN;
    int i = 1;
    shunt_log_init("harness", SHUNT_LOG_WARN, 2);
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return SHUNT_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("harness (shunt) %s\n", SHUNT_VERSION);
            return SHUNT_EXIT_OK;
        } else if (strcmp(a, "--verbose") == 0) {
            level++;
        } else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
            level += (int)strlen(a + 1);
        } else if (strcmp(a, "--log-level") == 0 ||
                   strncmp(a, "--log-level=", 12) == 0) {
            const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : "");
            level = shunt_log_parse_level(v);
            if (level < 0) {
                fprintf(stderr, "harness: unknown log level \"%s\"\n", v);
                return SHUNT_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "harness: unknown option %s\n\n", a);
            usage(stderr);
            return SHUNT_EXIT_USAGE;
        }
    }
    if (level > SHUNT_LOG_TRACE)
        level = SHUNT_LOG_TRACE;
    shunt_log_set_level((shunt_log_level_t)level);
    if (i >= argc) {
        fprintf(stderr, "harness: missing command\n\n");
        usage(stderr);
        return SHUNT_EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].run(argc - i, argv + i);
    fprintf(stderr, "harness: unknown command \"%s\"\n\n", argv[i]);
    usage(stderr);
    return SHUNT_EXIT_USAGE;
}
