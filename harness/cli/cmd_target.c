/* harness up / down / status / check: argument parsing and output. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "shunt/fuzzspec.h"
#include "shunt/scenario.h"
#include "shunt/log.h"
#include "shunt/json.h"
#include "shunt/target.h"

#define ERRLEN 8192

/* getopt_long with our own messages; returns the option, '?' after printing
 * the error and usage on stderr. */
static int next_opt(int argc, char **argv, const char *shortopts,
                    const struct option *longopts, const char *usage)
{
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == '?' || c == ':') {
        const char *bad = argv[optind - 1];
        if (c == ':' || (optopt && strchr(shortopts, optopt)))
            fprintf(stderr, "harness %s: option %s needs a value\n\n%s", argv[0],
                    bad, usage);
        else
            fprintf(stderr, "harness %s: unknown option %s\n\n%s", argv[0], bad,
                    usage);
        return '?';
    }
    return c;
}

static int need_root(const char *cmd)
{
    if (geteuid() == 0)
        return 0;
    fprintf(stderr, "harness %s: needs root (runc and network namespaces)\n", cmd);
    return -1;
}

static const char up_usage[] =
    "usage: harness up [--keep-on-failure] [--timeout SECONDS] FILE.yaml\n\n"
    "Starts the scenario's target container, its services and the cluster DNS\n"
    "on a private network, and returns when every service's port answers.\n"
    "Running it again with the same configuration is a no-op; a changed\n"
    "configuration or an unhealthy target is removed and created afresh.\n\n"
    "  --keep-on-failure   leave a failed target's state and logs in place\n"
    "  --timeout SECONDS   readiness timeout per service (default 15)\n"
    "  -h, --help          this help\n";

int cmd_up(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"keep-on-failure", no_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    shunt_up_opts_t o = {.progress = stdout};
    int c;
    while ((c = next_opt(argc, argv, "+h", opts, up_usage)) != -1) {
        if (c == 'h') {
            fputs(up_usage, stdout);
            return SHUNT_EXIT_OK;
        } else if (c == 'k') {
            o.keep_on_failure = 1;
        } else if (c == 't') {
            char *end;
            long s = strtol(optarg, &end, 10);
            if (*end || s < 1 || s > 3600) {
                fprintf(stderr, "harness up: --timeout expects 1-3600 seconds, got "
                                "\"%s\"\n", optarg);
                return SHUNT_EXIT_USAGE;
            }
            o.ready_timeout_ms = (int)s * 1000;
        } else {
            return SHUNT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "harness up: expected exactly one scenario file\n\n%s", up_usage);
        return SHUNT_EXIT_USAGE;
    }
    char err[ERRLEN], init[PATH_MAX];
    shunt_scenario_t *s = shunt_scenario_load(argv[optind], err, sizeof(err));
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return SHUNT_EXIT_FAIL;
    }
    if (need_root("up") < 0) {
        shunt_scenario_free(s);
        return SHUNT_EXIT_FAIL;
    }
    if (shunt_find_init(init, sizeof(init), err, sizeof(err)) < 0) {
        fprintf(stderr, "harness up: %s\n", err);
        shunt_scenario_free(s);
        return SHUNT_EXIT_FAIL;
    }
    o.init_path = init;
    shunt_target_info_t info;
    int rc = shunt_target_up(s, &o, &info, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "harness up: target %s: %s\n", s->target.name, err);
    shunt_scenario_free(s);
    return rc < 0 ? SHUNT_EXIT_FAIL : SHUNT_EXIT_OK;
}

static const char down_usage[] =
    "usage: harness down NAME...\n"
    "       harness down --all\n\n"
    "Removes the targets' runc containers, network namespaces, mounts and state.\n"
    "Tolerates partial state left by a crash; removing a missing target is not\n"
    "an error.\n\n"
    "  -a, --all    every target, and any stray shunt-* namespace or container\n"
    "  -h, --help   this help\n";

int cmd_down(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"all", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    int all = 0, c;
    while ((c = next_opt(argc, argv, "+ha", opts, down_usage)) != -1) {
        if (c == 'h') {
            fputs(down_usage, stdout);
            return SHUNT_EXIT_OK;
        } else if (c == 'a') {
            all = 1;
        } else {
            return SHUNT_EXIT_USAGE;
        }
    }
    if (all == (optind < argc)) {
        fprintf(stderr, "harness down: give target names or --all\n\n%s", down_usage);
        return SHUNT_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++)
        if (!shunt_valid_name(argv[i])) {
            fprintf(stderr, "harness down: \"%s\" is not a target name\n", argv[i]);
            return SHUNT_EXIT_USAGE;
        }
    if (need_root("down") < 0)
        return SHUNT_EXIT_FAIL;
    char err[ERRLEN];
    char **names = argv + optind;
    size_t n = (size_t)(argc - optind);
    char **listed = NULL;
    if (all) {
        if (shunt_target_list(&listed, &n, err, sizeof(err)) < 0) {
            fprintf(stderr, "harness down: %s\n", err);
            return SHUNT_EXIT_FAIL;
        }
        names = listed;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = shunt_target_down(names[i], err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "harness down: target %s: %s\n", names[i], err);
            failed = 1;
        } else {
            printf(rc == 0 ? "target %s is down\n" : "target %s: nothing to remove\n",
                   names[i]);
        }
    }
    if (all) {
        for (size_t i = 0; i < n; i++)
            free(listed[i]);
        free(listed);
        if (n == 0)
            printf("no targets\n");
        if (shunt_target_sweep(err, sizeof(err)) > 0) {
            fprintf(stderr, "harness down: %s\n", err);
            failed = 1;
        }
    }
    return failed ? SHUNT_EXIT_FAIL : SHUNT_EXIT_OK;
}

static const char status_usage[] =
    "usage: harness status [--json] [NAME...]\n\n"
    "Lists targets (all, or the ones named) with their state (up, degraded,\n"
    "creating, stale), subnet and each container's address and pid.\n"
    "Exits 1 when a named target is not up.\n\n"
    "  --json       machine-readable output\n"
    "  -h, --help   this help\n";

static void status_json(shunt_json_t *j, const shunt_target_status_t *st)
{
    shunt_json_obj(j);
    shunt_json_key(j, "name");
    shunt_json_str(j, st->info.name);
    shunt_json_key(j, "state");
    shunt_json_str(j, st->state);
    shunt_json_key(j, "subnet");
    shunt_json_str(j, st->subnet);
    shunt_json_key(j, "ip");
    shunt_json_str(j, st->info.ip);
    shunt_json_key(j, "init_pid");
    shunt_json_int(j, st->info.init_pid);
    shunt_json_key(j, "netns");
    shunt_json_str(j, st->info.netns);
    shunt_json_key(j, "state_dir");
    shunt_json_str(j, st->info.state_dir);
    shunt_json_key(j, "scenario");
    shunt_json_str(j, st->scenario);
    shunt_json_key(j, "containers");
    shunt_json_arr(j);
    for (size_t i = 0; i < st->n_ctr; i++) {
        const shunt_container_status_t *c = &st->ctr[i];
        shunt_json_obj(j);
        shunt_json_key(j, "id");
        shunt_json_str(j, c->id);
        shunt_json_key(j, "role");
        shunt_json_str(j, c->role);
        shunt_json_key(j, "ip");
        shunt_json_str(j, c->ip);
        shunt_json_key(j, "pid");
        shunt_json_int(j, c->pid);
        shunt_json_key(j, "alive");
        shunt_json_bool(j, c->alive);
        shunt_json_key(j, "log");
        shunt_json_str(j, c->log);
        shunt_json_obj_end(j);
    }
    shunt_json_arr_end(j);
    shunt_json_key(j, "incoming");
    shunt_json_arr(j);
    for (size_t i = 0; i < st->n_in; i++) {
        shunt_json_obj(j);
        shunt_json_key(j, "remote_port");
        shunt_json_int(j, st->in[i].remote_port);
        shunt_json_key(j, "local_port");
        shunt_json_int(j, st->in[i].local_port);
        shunt_json_key(j, "mode");
        shunt_json_str(j, st->in[i].mode);
        shunt_json_key(j, "pid");
        shunt_json_int(j, st->in[i].pid);
        shunt_json_obj_end(j);
    }
    shunt_json_arr_end(j);
    shunt_json_obj_end(j);
}

static void status_text(const shunt_target_status_t *st)
{
    if (strcmp(st->state, "stale") == 0) {
        printf("%s: stale (leftovers without state; run `harness down %s`)\n",
               st->info.name, st->info.name);
        return;
    }
    printf("%s: %s  subnet %s  ip %s  init pid %d\n  scenario %s\n", st->info.name,
           st->state, st->subnet, st->info.ip, st->info.init_pid, st->scenario);
    for (size_t i = 0; i < st->n_ctr; i++) {
        const shunt_container_status_t *c = &st->ctr[i];
        printf("  %-32s %-8s %-15s pid %-7d %s\n", c->id, c->role, c->ip, c->pid,
               c->alive ? "running" : "DEAD");
    }
    for (size_t i = 0; i < st->n_in; i++)
        printf("  incoming: port %d -> local port %d (%s, harness exec pid %d)\n",
               st->in[i].remote_port, st->in[i].local_port, st->in[i].mode, st->in[i].pid);
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    while ((c = next_opt(argc, argv, "+h", opts, status_usage)) != -1) {
        if (c == 'h') {
            fputs(status_usage, stdout);
            return SHUNT_EXIT_OK;
        } else if (c == 'j') {
            json = 1;
        } else {
            return SHUNT_EXIT_USAGE;
        }
    }
    char err[ERRLEN];
    char **names;
    size_t n;
    int named = optind < argc, rc = SHUNT_EXIT_OK;
    if (named) {
        n = (size_t)(argc - optind);
        names = calloc(n, sizeof(*names));
        for (size_t i = 0; names && i < n; i++)
            names[i] = strdup(argv[optind + (int)i]);
    } else if (shunt_target_list(&names, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "harness status: %s\n", err);
        return SHUNT_EXIT_FAIL;
    }
    if (!names && n > 0) {
        fprintf(stderr, "harness status: out of memory\n");
        return SHUNT_EXIT_FAIL;
    }
    shunt_json_t j = {0};
    shunt_json_obj(&j);
    shunt_json_key(&j, "targets");
    shunt_json_arr(&j);
    for (size_t i = 0; i < n; i++) {
        shunt_target_status_t st;
        if (!names[i] || !shunt_valid_name(names[i])) {
            fprintf(stderr, "harness status: \"%s\" is not a target name\n",
                    names[i] ? names[i] : "?");
            rc = SHUNT_EXIT_USAGE;
            continue;
        }
        if (shunt_target_status(names[i], &st, err, sizeof(err)) < 0) {
            fprintf(stderr, "harness status: %s: %s\n", names[i], err);
            rc = SHUNT_EXIT_FAIL;
            continue;
        }
        if (named && strcmp(st.state, "up") != 0 && rc == SHUNT_EXIT_OK)
            rc = SHUNT_EXIT_FAIL;
        if (json)
            status_json(&j, &st);
        else if (named && strcmp(st.state, "stale") == 0)
            printf("%s: not up\n", names[i]);
        else
            status_text(&st);
        shunt_target_status_free(&st);
    }
    shunt_json_arr_end(&j);
    shunt_json_obj_end(&j);
    if (json)
        printf("%s\n", j.out.oom ? "{\"error\":\"out of memory\"}" : j.out.p);
    else if (n == 0)
        printf("no targets\n");
    shunt_json_free(&j);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static const char check_usage[] =
    "usage: harness check FILE.yaml...\n\n"
    "Loads and validates each scenario (YAML syntax, the target: section,\n"
    "files referenced with from:) without starting anything. Errors read\n"
    "FILE:LINE:COL: key.path: message.\n\n"
    "  -h, --help   this help\n";

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = next_opt(argc, argv, "+h", opts, check_usage)) != -1) {
        if (c == 'h') {
            fputs(check_usage, stdout);
            return SHUNT_EXIT_OK;
        }
        return SHUNT_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "harness check: expected at least one scenario file\n\n%s",
                check_usage);
        return SHUNT_EXIT_USAGE;
    }
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        char err[ERRLEN];
        shunt_scenario_t *s = shunt_scenario_load(argv[i], err, sizeof(err));
        if (!s) {
            fprintf(stderr, "%s\n", err);
            failed = 1;
            continue;
        }
        printf("%s: ok (target %s, %zu service%s", argv[i], s->target.name,
               s->target.n_services, s->target.n_services == 1 ? "" : "s");
        if (s->run)
            printf(", program: %s", shunt_lang_name(s->run->lang));
        if (s->n_cases)
            printf(", %zu case%s", s->n_cases, s->n_cases == 1 ? "" : "s");
        if (s->target.n_daemons)
            printf(", %zu daemon%s", s->target.n_daemons, s->target.n_daemons == 1 ? "" : "s");
        size_t traffic = s->run && s->run->traffic;
        for (size_t k = 0; k < s->n_cases; k++)
            traffic += s->cases[k].run->traffic != NULL;
        if (traffic)
            printf(", traffic: %zu run%s", traffic, traffic == 1 ? "" : "s");
        shunt_fuzzspec_t *f = NULL;
        if (s->fuzz && shunt_fuzzspec_parse(s, &f, err, sizeof(err)) == 0 && f)
            printf(", fuzz: %zu polic%s", f->n_policies, f->n_policies == 1 ? "y" : "ies");
        shunt_fuzzspec_free(f);
        printf(")\n");
        shunt_scenario_free(s);
    }
    return failed ? SHUNT_EXIT_FAIL : SHUNT_EXIT_OK;
}
