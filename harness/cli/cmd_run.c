/* harness run: scenarios into cases (one per Go toolchain for Go programs),
 * built, run N at a time in forked workers, reported (text, TAP, JSON,
 * JUnit). */
#include "cmd.h"
#include "shunt/runner.h"
#include "shunt/json.h"
#include "shunt/target.h"

#include "shunt/log.h"
#include "shunt/proc.h"
#include "shunt/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_CONFIG 3
#define EXIT_SKIPPED 77

static const char usage_text[] =
    "usage: harness run [-j N] [--only PATTERN]... [--engine E] [--keep]\n"
    "                   [--junit FILE] [--tap | --json] [--no-color] [-v]\n"
    "                   FILE.yaml|DIR...\n"
    "\n"
    "Runs each scenario's program inside its target (the reference, with\n"
    "runc exec) and on this machine (harness exec) once per engine -- the\n"
    "layer, the supervisor -- and compares what each local run showed with\n"
    "the reference (stdout, stderr, exit status, files written) after the\n"
    "scenario's normalisers.  A directory means its *.yaml files.  A Go\n"
    "program makes one case per Go version it asks for (`program.go`), named\n"
    "SCENARIO/goVERSION.  Each case gets its own target, removed afterwards\n"
    "unless --keep.\n"
    "\n"
    "options:\n"
    "  -j, --jobs N        run N cases at once (default 1), each in its own target\n"
    "  --engine E          the local side under E: layer, supervisor, auto (harness\n"
    "                      exec's choice) or all (layer and supervisor); default:\n"
    "                      the scenario's program.engines, else the layer.  An\n"
    "                      engine a scenario's program.engines leaves out is not\n"
    "                      run (the case is skipped when none is left)\n"
    "  --only PATTERN      only the cases whose name matches the glob (repeatable)\n"
    "  --keep              leave each case's target up (for harness exec)\n"
    "  --junit FILE        also write a JUnit XML report\n"
    "  --tap               TAP on stdout (progress goes to stderr)\n"
    "  --json              JSON on stdout (progress goes to stderr)\n"
    "  --no-color          no colours in diffs (default: colours on a terminal)\n"
    "  -v, --show-output   both runs' exit, stdout and stderr in every case's report,\n"
    "                      passing ones too\n"
    "  -h, --help          this help\n"
    "\n"
    "exit status: 0 all passed (known divergences included); 1 a case failed;\n"
    "2 usage error; 3 a scenario file is invalid (the others still run);\n"
    "77 nothing failed but a case was skipped (cannot run on this machine).\n";

typedef struct {
    int jobs, keep, tap, json, color, show_output;
    unsigned engines; /* --engine: a mask of SHUNT_ENGINE_BIT; 0 the scenario's */
    const char *junit;
    char **only;
    size_t n_only;
} run_cli_t;

typedef struct {
    shunt_case_result_t res;
    char *report;
} done_t;

static int parse(run_cli_t *cl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"jobs", required_argument, 0, 'j'}, {"only", required_argument, 0, 'o'},
        {"keep", no_argument, 0, 'k'},       {"junit", required_argument, 0, 'u'},
        {"tap", no_argument, 0, 't'},        {"json", no_argument, 0, 's'},
        {"no-color", no_argument, 0, 'n'},   {"help", no_argument, 0, 'h'},
        {"show-output", no_argument, 0, 'v'}, {"engine", required_argument, 0, 'e'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    cl->jobs = 1;
    while ((c = getopt_long(argc, argv, ":j:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'j': {
            char *end;
            long j = strtol(optarg, &end, 10);
            if (*end || j < 1 || j > 64) {
                fprintf(stderr, "harness run: -j expects 1-64, got \"%s\"\n", optarg);
                return -1;
            }
            cl->jobs = (int)j;
            break;
        }
        case 'o': {
            char **n = realloc(cl->only, (cl->n_only + 1) * sizeof(*n));
            if (!n)
                return -1;
            cl->only = n;
            cl->only[cl->n_only++] = optarg;
            break;
        }
        case 'e': {
            int e = shunt_engine_parse(optarg);
            if (strcmp(optarg, "all") == 0) {
                cl->engines = SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER) |
                              SHUNT_ENGINE_BIT(SHUNT_ENGINE_SUPERVISOR);
            } else if (e >= 0) {
                cl->engines = SHUNT_ENGINE_BIT(e);
            } else {
                fprintf(stderr, "harness run: --engine expects layer, supervisor, auto or "
                                "all, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        }
        case 'k': cl->keep = 1; break;
        case 'v': cl->show_output = 1; break;
        case 'u': cl->junit = optarg; break;
        case 't': cl->tap = 1; break;
        case 's': cl->json = 1; break;
        case 'n': cl->color = -1; break;
        case 'h': fputs(usage_text, stdout); return 1;
        case ':':
            fprintf(stderr, "harness run: %s needs a value\n\n%s", argv[optind - 1],
                    usage_text);
            return -1;
        default:
            fprintf(stderr, "harness run: unknown option %s\n\n%s", argv[optind - 1],
                    usage_text);
            return -1;
        }
    }
    if (cl->tap && cl->json) {
        fprintf(stderr, "harness run: --tap and --json both want stdout; pick one\n");
        return -1;
    }
    if (optind >= argc) {
        fprintf(stderr, "harness run: expected scenario files or directories\n\n%s",
                usage_text);
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FILE or DIR arguments -> a list of YAML files (a directory's *.yaml and
 * *.yml, sorted).  Returns -1 for an argument that is neither. */
static int collect(char **args, int n, char ***files, size_t *nf)
{
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(args[i], &st) < 0) {
            fprintf(stderr, "harness run: %s: %s\n", args[i], strerror(errno));
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            char **v = realloc(*files, (*nf + 1) * sizeof(char *));
            if (!v)
                return -1;
            *files = v;
            (*files)[(*nf)++] = strdup(args[i]);
            continue;
        }
        DIR *d = opendir(args[i]);
        if (!d) {
            fprintf(stderr, "harness run: %s: %s\n", args[i], strerror(errno));
            return -1;
        }
        size_t first = *nf;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (e->d_name[0] == '.' ||
                !((l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) ||
                  (l > 4 && strcmp(e->d_name + l - 4, ".yml") == 0)))
                continue;
            char p[PATH_MAX];
            const char *sep = args[i][strlen(args[i]) - 1] == '/' ? "" : "/";
            if (shunt_fmt(p, sizeof(p), "%s%s%s", args[i], sep, e->d_name) < 0)
                continue;
            char **v = realloc(*files, (*nf + 1) * sizeof(char *));
            if (!v) {
                closedir(d);
                return -1;
            }
            *files = v;
            (*files)[(*nf)++] = strdup(p);
        }
        closedir(d);
        qsort(*files + first, *nf - first, sizeof(char *), cmp_str);
    }
    return 0;
}

static void base_name(const char *file, char *out, size_t len)
{
    const char *b = strrchr(file, '/');
    snprintf(out, len, "%s", b ? b + 1 : file);
    char *dot = strrchr(out, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
        *dot = 0;
}

static int selected(const run_cli_t *cl, const char *name)
{
    if (!cl->n_only)
        return 1;
    for (size_t i = 0; i < cl->n_only; i++)
        if (fnmatch(cl->only[i], name, 0) == 0)
            return 1;
    return 0;
}

static void fmt_times(const shunt_case_result_t *r, char *out, size_t len)
{
    snprintf(out, len, "build %.2fs  target %.2fs  ref %.2fs  local %.2fs  diff %.2fs  "
             "leaks %.2fs  total %.2fs",
             r->t_build, r->t_target, r->t_ref, r->t_local, r->t_diff, r->t_leaks,
             r->t_total);
}

/* The engines of a case's local side: "layer", "supervisor", or when
 * several ran each one's verdict, "layer:PASS,supervisor:FAIL"; "-" for
 * none (a case skipped for its engines). */
static void fmt_engines(unsigned planned, const shunt_case_result_t *r, char *out,
                        size_t len)
{
    int several = __builtin_popcount(r->engines) > 1;
    size_t l = 0;
    out[0] = 0;
    for (int e = 0; e < SHUNT_ENGINE_COUNT; e++) {
        if (!(planned & SHUNT_ENGINE_BIT(e)))
            continue;
        int ran = several && (r->engines & SHUNT_ENGINE_BIT(e));
        snprintf(out + l, len - l, "%s%s%s%s", l ? "," : "",
                 shunt_engine_name((shunt_engine_t)e), ran ? ":" : "",
                 ran ? shunt_case_status_name(r->engine_status[e]) : "");
        l = strlen(out);
    }
    if (!out[0])
        snprintf(out, len, "-");
}

static void print_indented(FILE *f, const char *text)
{
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        int n = nl ? (int)(nl - l) : (int)strlen(l);
        fprintf(f, "    %.*s\n", n, l);
        if (!nl)
            break;
        l = nl + 1;
    }
}

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '<') fputs("&lt;", f);
        else if (ch == '>') fputs("&gt;", f);
        else if (ch == '&') fputs("&amp;", f);
        else if (ch == '"') fputs("&quot;", f);
        else if (ch == 0x1b) continue;
        else if (ch < 0x20 && ch != '\n' && ch != '\t') fputc('?', f);
        else fputc(ch, f);
    }
}

/* Text without ANSI colour sequences (for files and machine formats). */
static char *plain(const char *s)
{
    if (!s)
        return strdup("");
    char *o = malloc(strlen(s) + 1), *p = o;
    if (!o)
        return NULL;
    while (*s) {
        if (*s == 0x1b && s[1] == '[') {
            s += 2;
            while (*s && *s != 'm')
                s++;
            if (*s)
                s++;
            continue;
        }
        *p++ = *s++;
    }
    *p = 0;
    return o;
}

static int write_junit(const char *path, const done_t *d, size_t n)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    size_t fail = 0, skip = 0, err = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        fail += d[i].res.status == SHUNT_CASE_FAIL;
        err += d[i].res.status == SHUNT_CASE_ERROR;
        skip += d[i].res.status == SHUNT_CASE_SKIP;
        total += d[i].res.t_total;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuite name=\"harness run\" tests=\"%zu\" failures=\"%zu\" "
               "errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            n, fail, err, skip, total);
    for (size_t i = 0; i < n; i++) {
        const shunt_case_result_t *r = &d[i].res;
        char *rep = plain(d[i].report);
        fprintf(f, "  <testcase classname=\"");
        xml_text(f, r->file);
        fprintf(f, "\" name=\"");
        xml_text(f, r->name);
        fprintf(f, "\" time=\"%.3f\">\n", r->t_total);
        const char *tag = r->status == SHUNT_CASE_FAIL    ? "failure"
                          : r->status == SHUNT_CASE_ERROR ? "error"
                          : r->status == SHUNT_CASE_SKIP  ? "skipped"
                                                          : NULL;
        if (tag) {
            fprintf(f, "    <%s message=\"", tag);
            xml_text(f, r->reason);
            fprintf(f, "\">");
            xml_text(f, rep);
            fprintf(f, "</%s>\n", tag);
        } else if (rep && *rep) {
            fprintf(f, "    <system-out>");
            xml_text(f, rep);
            fprintf(f, "</system-out>\n");
        }
        fprintf(f, "  </testcase>\n");
        free(rep);
    }
    fprintf(f, "</testsuite>\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void write_tap(const done_t *d, size_t n)
{
    printf("TAP version 13\n1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        const shunt_case_result_t *r = &d[i].res;
        int ok = r->status == SHUNT_CASE_PASS || r->status == SHUNT_CASE_KNOWN ||
                 r->status == SHUNT_CASE_SKIP;
        printf("%s %zu - %s", ok ? "ok" : "not ok", i + 1, r->name);
        if (r->status == SHUNT_CASE_SKIP)
            printf(" # SKIP %s", r->reason);
        printf("\n");
        for (const char *u = r->unchecked; *u;) {
            size_t un = strcspn(u, "\n");
            printf("# not checked: %.*s\n", (int)un, u);
            u += un + (u[un] == '\n');
        }
        char *rep = plain(d[i].report);
        if ((!ok || r->status == SHUNT_CASE_KNOWN) && rep) {
            printf("  ---\n  status: %s\n  reason: \"%s\"\n  report: |\n",
                   shunt_case_status_name(r->status), r->reason);
            for (const char *l = rep; *l;) {
                const char *nl = strchr(l, '\n');
                int len = nl ? (int)(nl - l) : (int)strlen(l);
                printf("    %.*s\n", len, l);
                if (!nl)
                    break;
                l = nl + 1;
            }
            printf("  ...\n");
        }
        free(rep);
    }
}

static void write_json(const done_t *d, size_t n, int exit_code)
{
    shunt_json_t j = {0};
    shunt_json_obj(&j);
    shunt_json_key(&j, "cases");
    shunt_json_arr(&j);
    for (size_t i = 0; i < n; i++) {
        const shunt_case_result_t *r = &d[i].res;
        char *rep = plain(d[i].report);
        static const char *const st[] = {"pass", "known-divergence", "fail", "skip",
                                         "error"};
        shunt_json_obj(&j);
        shunt_json_key(&j, "name");
        shunt_json_str(&j, r->name);
        shunt_json_key(&j, "file");
        shunt_json_str(&j, r->file);
        shunt_json_key(&j, "language");
        shunt_json_str(&j, r->lang);
        shunt_json_key(&j, "go");
        shunt_json_str(&j, r->go);
        shunt_json_key(&j, "status");
        shunt_json_str(&j, st[r->status]);
        shunt_json_key(&j, "reason");
        shunt_json_str(&j, r->reason);
        shunt_json_key(&j, "engines");
        shunt_json_arr(&j);
        for (int e = 0; e < SHUNT_ENGINE_COUNT; e++) {
            if (!(r->engines & SHUNT_ENGINE_BIT(e)))
                continue;
            shunt_json_obj(&j);
            shunt_json_key(&j, "engine");
            shunt_json_str(&j, shunt_engine_name((shunt_engine_t)e));
            shunt_json_key(&j, "status");
            shunt_json_str(&j, st[r->engine_status[e]]);
            shunt_json_key(&j, "ms");
            shunt_json_int(&j, (long long)(r->t_engine[e] * 1000.0 + 0.5));
            shunt_json_obj_end(&j);
        }
        shunt_json_arr_end(&j);
        shunt_json_key(&j, "not_checked");
        shunt_json_arr(&j);
        for (const char *u = r->unchecked; *u;) {
            size_t un = strcspn(u, "\n");
            char line[sizeof(r->unchecked)];
            snprintf(line, sizeof(line), "%.*s", (int)un, u);
            shunt_json_str(&j, line);
            u += un + (u[un] == '\n');
        }
        shunt_json_arr_end(&j);
        shunt_json_key(&j, "ms");
        shunt_json_obj(&j);
        const char *keys[] = {"build", "target", "reference", "local", "diff", "leaks",
                              "total"};
        double v[] = {r->t_build, r->t_target, r->t_ref, r->t_local, r->t_diff, r->t_leaks,
                      r->t_total};
        for (size_t k = 0; k < 7; k++) {
            shunt_json_key(&j, keys[k]);
            shunt_json_int(&j, (long long)(v[k] * 1000.0 + 0.5));
        }
        shunt_json_obj_end(&j);
        shunt_json_key(&j, "report");
        shunt_json_str(&j, rep ? rep : "");
        shunt_json_obj_end(&j);
        free(rep);
    }
    shunt_json_arr_end(&j);
    shunt_json_key(&j, "exit");
    shunt_json_int(&j, exit_code);
    shunt_json_obj_end(&j);
    if (j.out.p)
        printf("%s\n", j.out.p);
    shunt_json_free(&j);
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
    shunt_proc_interrupted = 1;
}

static void catch_stops(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* The worker: runs cases[0..n-1] (one case, or the cases of one file's
 * cases: list, which share its target) and writes each result and report
 * to fd.  A stop signal ends the program's run early; the target still
 * goes down. */
typedef struct {
    shunt_case_t *cases;
    size_t n;
    const shunt_run_opts_t *o;
    int fd;
} job_t;

static int worker(void *arg)
{
    const job_t *j = arg;
    shunt_case_t *cases = j->cases;
    size_t n = j->n;
    const shunt_run_opts_t *o = j->o;
    int fd = j->fd;
    shunt_group_t group = {0};
    for (size_t i = 0; i < n; i++) {
        shunt_case_t *c = &cases[i];
        shunt_case_result_t res;
        memset(&res, 0, sizeof(res));
        char *report = NULL;
        if (n > 1) {
            c->group = &group;
            c->more = i + 1 < n;
        }
        if (shunt_proc_interrupted && !c->skip[0])
            snprintf(c->skip, sizeof(c->skip), "not run: interrupted");
        shunt_run_case(c, o, &res, &report);
        size_t len = report ? strlen(report) : 0;
        if (shunt_write_full(fd, &res, sizeof(res)) < 0 ||
            shunt_write_full(fd, &len, sizeof(len)) < 0 ||
            (len && shunt_write_full(fd, report, len) < 0))
            return 1;
        free(report);
    }
    return 0;
}

static int read_done(int fd, done_t *d)
{
    size_t len = 0;
    if (shunt_read_full(fd, &d->res, sizeof(d->res)) < 0 ||
        shunt_read_full(fd, &len, sizeof(len)) < 0 || len > (64u << 20))
        return -1;
    d->report = calloc(1, len + 1);
    if (!d->report || (len && shunt_read_full(fd, d->report, len) < 0))
        return -1;
    return 0;
}

/* A new case of r (s's file, group): its engines, or skipped when --engine
 * asks for none the file allows. */
static void case_init(const run_cli_t *cl, shunt_case_t *c, shunt_scenario_t *s,
                      const shunt_runspec_t *r, size_t group)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->run = r;
    c->group_id = group;
    c->engines = shunt_case_engines(r, cl->engines, c->skip, sizeof(c->skip));
}

/* The cases of one program (a file's, or one of its cases:): one, or one
 * per Go toolchain; only those --only selects.  group: the file's index
 * (cases of one file's cases: list share a worker and a target). */
static int add_cases(const run_cli_t *cl, shunt_scenario_t *s, const shunt_runspec_t *r,
                     const char *base, size_t group, shunt_case_t **cases,
                     size_t *ncases, size_t *capcases, shunt_gotool_t **tools,
                     size_t *ntools, int *tools_loaded, char *tools_err, size_t tel)
{
    size_t nv = 1;
    if (r->lang == SHUNT_LANG_GO) {
        if (!*tools_loaded) {
            *tools_loaded = 1;
            if (shunt_go_toolchains(tools, ntools, tools_err, tel) < 0)
                *ntools = 0;
        }
        nv = 0;
        for (size_t g = 0; g < r->n_go; g++) {
            int any = 0;
            for (size_t t = 0; t < *ntools; t++)
                if (shunt_go_version_matches(r->go_versions[g], (*tools)[t].version))
                    any = 1, nv++;
            if (!any)
                nv++; /* a skipped case for the missing version */
        }
    }
    if (*ncases + nv > *capcases) {
        size_t cap = (*ncases + nv) * 2;
        shunt_case_t *nc = realloc(*cases, cap * sizeof(*nc));
        if (!nc)
            return -1;
        *cases = nc;
        *capcases = cap;
    }
    if (r->lang != SHUNT_LANG_GO) {
        shunt_case_t *c = &(*cases)[*ncases];
        case_init(cl, c, s, r, group);
        snprintf(c->name, sizeof(c->name), "%s", base);
        if (selected(cl, c->name))
            (*ncases)++;
        return 0;
    }
    for (size_t g = 0; g < r->n_go; g++) {
        int any = 0;
        for (size_t t = 0; t < *ntools; t++) {
            if (!shunt_go_version_matches(r->go_versions[g], (*tools)[t].version))
                continue;
            any = 1;
            int dup = 0;
            for (size_t k = 0; k < *ncases; k++)
                dup |= (*cases)[k].run == r && (*cases)[k].go == &(*tools)[t];
            if (dup)
                continue;
            shunt_case_t *c = &(*cases)[*ncases];
            case_init(cl, c, s, r, group);
            c->go = &(*tools)[t];
            snprintf(c->name, sizeof(c->name), "%.120s/%.32s", base, (*tools)[t].version);
            if (selected(cl, c->name))
                (*ncases)++;
        }
        if (!any) {
            shunt_case_t *c = &(*cases)[*ncases];
            case_init(cl, c, s, r, group);
            const char *v = r->go_versions[g];
            snprintf(c->name, sizeof(c->name), "%.120s/go%.32s", base,
                     strncmp(v, "go", 2) == 0 ? v + 2 : v);
            if (tel && tools_err[0])
                snprintf(c->skip, sizeof(c->skip), "no Go toolchain: %s", tools_err);
            else
                snprintf(c->skip, sizeof(c->skip),
                         "Go %s is not installed on this machine (ci/go-toolchains "
                         "lists %zu toolchain%s)",
                         v, *ntools, *ntools == 1 ? "" : "s");
            if (selected(cl, c->name))
                (*ncases)++;
        }
    }
    return 0;
}

/* One `harness run` on its way through cmd_run's phases. */
typedef struct {
    run_cli_t cl;
    FILE *hum; /* the human-readable lines: stdout, stderr with --tap/--json */
    int color;
    int rc, config_errors;
    char **files;
    size_t nf;
    shunt_scenario_t **scen; /* per file, NULL for an invalid one */
    shunt_case_t *cases;
    size_t ncases, capcases;
    done_t *done;
    shunt_gotool_t *tools;
    size_t ntools;
    int tools_loaded;
    char tools_err[1024];
    char err[8192];
    char init[PATH_MAX], self[PATH_MAX], cache[PATH_MAX];
    shunt_run_opts_t o;
    double *tbuild;
    /* the workers, by the index of their first case */
    pid_t *pids;
    int *fds;
    size_t *lens;
    size_t next, running, finished, width;
    size_t ewidth; /* of the engines column */
    int stopped;   /* stop_all done */
} run_all_t;

static int out_of_memory(run_all_t *x)
{
    fprintf(stderr, "harness run: out of memory\n");
    x->rc = SHUNT_EXIT_FAIL;
    return -1;
}

/* Every file's scenario, and its cases (those --only selects). */
static int load_cases(run_all_t *x, char **args, int nargs)
{
    if (collect(args, nargs, &x->files, &x->nf) < 0) {
        x->rc = SHUNT_EXIT_USAGE;
        return -1;
    }
    if (!(x->scen = calloc(x->nf ? x->nf : 1, sizeof(*x->scen))))
        return out_of_memory(x);
    for (size_t i = 0; i < x->nf; i++) {
        char base[128];
        base_name(x->files[i], base, sizeof(base));
        shunt_scenario_t *s = shunt_scenario_load(x->files[i], x->err, sizeof(x->err));
        if (s && !s->run && !s->n_cases && s->fuzz && x->nf > 1) {
            /* among others (a directory such as scenarios/): left out, so
             * that the run's verdict is the other files' */
            fprintf(stderr, "harness run: %s: a fuzz: scenario, left out (run it with "
                            "harness fuzz)\n", x->files[i]);
            shunt_scenario_free(s);
            continue;
        }
        if (s && !s->run && !s->n_cases && s->fuzz) {
            /* a fuzz: scenario alone: harness fuzz runs it */
            static shunt_runspec_t none = {.lang = SHUNT_LANG_COMMAND, .repeat = 1};
            size_t before = x->ncases;
            x->scen[i] = s;
            if (add_cases(&x->cl, s, &none, base, i, &x->cases, &x->ncases, &x->capcases,
                          &x->tools, &x->ntools, &x->tools_loaded, x->tools_err,
                          sizeof(x->tools_err)) < 0)
                return out_of_memory(x);
            if (x->ncases > before)
                snprintf(x->cases[before].skip, sizeof(x->cases[before].skip),
                         "a fuzz: scenario: run it with harness fuzz");
            continue;
        }
        if (s && !s->run && !s->n_cases) {
            snprintf(x->err, sizeof(x->err),
                     "%s:1:1: no program: section, nothing to run (harness up starts "
                     "its target alone)",
                     x->files[i]);
            shunt_scenario_free(s);
            s = NULL;
        }
        if (!s) {
            /* an invalid file cannot say which cases it has: report it when
             * it was asked for by name or a pattern could match its name */
            fprintf(stderr, "%s\n", x->err);
            x->config_errors++;
            continue;
        }
        x->scen[i] = s;
        size_t nrun = s->n_cases ? s->n_cases : 1;
        for (size_t ci = 0; ci < nrun; ci++) {
            const shunt_runspec_t *r = s->n_cases ? s->cases[ci].run : s->run;
            char cbase[160];
            if (s->n_cases)
                snprintf(cbase, sizeof(cbase), "%.90s/%.64s", base, s->cases[ci].name);
            else
                snprintf(cbase, sizeof(cbase), "%s", base);
            if (add_cases(&x->cl, s, r, cbase, i, &x->cases, &x->ncases, &x->capcases,
                          &x->tools, &x->ntools, &x->tools_loaded, x->tools_err,
                          sizeof(x->tools_err)) < 0)
                return out_of_memory(x);
        }
    }
    if (x->ncases == 0) {
        fprintf(stderr, "harness run: no case to run%s\n",
                x->cl.n_only ? " (nothing matches --only)" : "");
        x->rc = x->config_errors ? EXIT_CONFIG : SHUNT_EXIT_USAGE;
        return -1;
    }
    return 0;
}

/* Groups: the cases of one file's cases: list run in one worker, in one
 * target; every other case is a group of its own.  Target names: the
 * scenario's, made unique among groups that may run at the same time (a
 * suffix, within the 20 characters allowed). */
static void name_targets(run_all_t *x)
{
    shunt_case_t *cases = x->cases;
    size_t ncases = x->ncases;
    for (size_t i = 0; i < ncases; i++)
        if (!cases[i].s->n_cases)
            cases[i].group_id = x->nf + i;
    for (size_t i = 0; i < ncases; i++) {
        const char *base = cases[i].s->target.name;
        snprintf(cases[i].target, sizeof(cases[i].target), "%s", base);
        int clash = 0;
        size_t first = i;
        while (first > 0 && cases[first - 1].group_id == cases[i].group_id)
            first--;
        for (size_t k = 0; k < ncases; k++)
            clash |= cases[k].group_id != cases[i].group_id &&
                     strcmp(cases[k].s->target.name, base) == 0;
        if (!clash || x->cl.jobs <= 1)
            continue;
        char sfx[8];
        snprintf(sfx, sizeof(sfx), "-%zu", (first + 1) % 1000);
        size_t room = SHUNT_NAME_MAX - strlen(sfx);
        snprintf(cases[i].target, sizeof(cases[i].target), "%.*s%s", (int)room, base, sfx);
        size_t l = strlen(cases[i].target) - strlen(sfx);
        while (l > 0 && cases[i].target[l - 1] == '-') { /* no "--" */
            memmove(cases[i].target + l - 1, cases[i].target + l, strlen(sfx) + 1);
            l--;
        }
    }
}

/* This harness, shunt-init and the build cache: the runner's options. */
static int find_paths(run_all_t *x)
{
    ssize_t sl = readlink("/proc/self/exe", x->self, sizeof(x->self) - 1);
    if (sl < 0) {
        fprintf(stderr, "harness run: /proc/self/exe: %s\n", strerror(errno));
        x->rc = SHUNT_EXIT_FAIL;
        return -1;
    }
    x->self[sl] = 0;
    if (shunt_find_init(x->init, sizeof(x->init), x->err, sizeof(x->err)) < 0) {
        fprintf(stderr, "harness run: %s\n", x->err);
        x->rc = SHUNT_EXIT_FAIL;
        return -1;
    }
    if (shunt_cache_root(x->cache, sizeof(x->cache)) < 0) {
        fprintf(stderr, "harness run: cannot name the build cache\n");
        x->rc = SHUNT_EXIT_FAIL;
        return -1;
    }
    x->o = (shunt_run_opts_t){.init_path = x->init, .harness = x->self,
                              .keep = x->cl.keep, .color = x->color,
                              .show_output = x->cl.show_output};
    return 0;
}

/* Builds, one after the other (they share the cache). */
static void build_all(run_all_t *x)
{
    for (size_t i = 0; i < x->ncases; i++) {
        shunt_case_t *c = &x->cases[i];
        if (c->skip[0])
            continue;
        uint64_t t0 = shunt_now_ms();
        if (shunt_build(c->run, c->go, x->cache, &c->built, c->build_err,
                        sizeof(c->build_err)) < 0 && !c->build_err[0])
            snprintf(c->build_err, sizeof(c->build_err), "build failed");
        x->tbuild[i] = (double)(shunt_now_ms() - t0) / 1000.0;
        if (!c->built.cached && !c->build_err[0] && c->built.dir[0])
            fprintf(x->hum, "built %s in %.1fs (%s)\n", c->name, x->tbuild[i],
                    c->built.dir);
    }
    fflush(x->hum);
}

/* After a stop signal: no new case; those not started are skipped (a
 * terminal's ^C reached the running ones already; a second one only sets
 * the same flag). */
static void stop_all(run_all_t *x)
{
    for (size_t i = 0; i < x->next; i++)
        if (x->pids[i] > 0)
            kill(x->pids[i], stop_signal);
    for (; x->next < x->ncases; x->next++, x->finished++) {
        shunt_case_result_t *res = &x->done[x->next].res;
        res->status = SHUNT_CASE_SKIP;
        snprintf(res->reason, sizeof(res->reason), "not run: interrupted");
        snprintf(res->name, sizeof(res->name), "%s", x->cases[x->next].name);
        snprintf(res->file, sizeof(res->file), "%s", x->cases[x->next].s->file);
    }
}

/* A worker for the next group of cases.  0, or -1 (said why). */
static int start_worker(run_all_t *x)
{
    char tmpl[] = "/tmp/shunt-case-XXXXXX";
    /* O_CLOEXEC: the worker writes its result here, and the programs it
     * runs (and a sibling case's) must not inherit it: an extra fd shifts
     * every fd number the journal compares. */
    int fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "harness run: mkostemp: %s\n", strerror(errno));
        x->rc = SHUNT_EXIT_FAIL;
        return -1;
    }
    unlink(tmpl);
    fflush(NULL);
    size_t next = x->next, len = 1;
    while (next + len < x->ncases && x->cases[next + len].group_id == x->cases[next].group_id)
        len++;
    job_t job = {.cases = &x->cases[next], .n = len, .o = &x->o, .fd = fd};
    shunt_proc_t wp = {.main = worker, .arg = &job};
    int sr = shunt_proc_spawn(&wp, NULL);
    if (sr < 0) {
        fprintf(stderr, "harness run: fork: %s\n", strerror(-sr));
        close(fd);
        x->rc = SHUNT_EXIT_FAIL;
        return -1;
    }
    x->pids[next] = wp.pid;
    x->fds[next] = fd;
    x->lens[next] = len;
    x->next += len;
    x->running++;
    return 0;
}

/* Case i's line (and its report) as it finishes. */
static void print_case(run_all_t *x, size_t i)
{
    const done_t *d = &x->done[i];
    char times[256];
    fmt_times(&d->res, times, sizeof(times));
    const char *sc = "";
    if (x->color)
        sc = d->res.status == SHUNT_CASE_PASS    ? "\033[32m"
             : d->res.status == SHUNT_CASE_KNOWN ? "\033[33m"
             : d->res.status == SHUNT_CASE_SKIP  ? "\033[36m"
                                                 : "\033[31m";
    char eng[128];
    fmt_engines(x->cases[i].engines, &d->res, eng, sizeof(eng));
    fprintf(x->hum, "[%zu/%zu] %s%-5s%s %-*s  %-*s  %s\n", x->finished, x->ncases, sc,
            shunt_case_status_name(d->res.status), x->color ? "\033[0m" : "",
            (int)x->width, d->res.name, (int)x->ewidth, eng, times);
    if (d->res.reason[0])
        fprintf(x->hum, "    %s\n", d->res.reason);
    if (d->res.status != SHUNT_CASE_SKIP)
        print_indented(x->hum, d->report);
    fflush(x->hum);
}

/* The results of the worker that started at case i and ended with wait
 * status st: the results it wrote count even when it died later in its
 * group. */
static void collect_worker(run_all_t *x, size_t i, int st)
{
    x->pids[i] = 0;
    x->running--;
    int wok = lseek(x->fds[i], 0, SEEK_SET) == 0;
    size_t job_end = i + x->lens[i];
    int jfd = x->fds[i];
    for (; i < job_end; i++) {
        x->finished++;
        done_t *d = &x->done[i];
        const shunt_case_t *c = &x->cases[i];
        if (!wok || read_done(jfd, d) < 0) {
            wok = 0;
            memset(&d->res, 0, sizeof(d->res));
            d->res.status = SHUNT_CASE_ERROR;
            snprintf(d->res.reason, sizeof(d->res.reason), "the case's worker died (%s%d)",
                     WIFSIGNALED(st) ? "signal " : "status ",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        }
        snprintf(d->res.name, sizeof(d->res.name), "%s", c->name);
        snprintf(d->res.file, sizeof(d->res.file), "%s", c->s->file);
        snprintf(d->res.lang, sizeof(d->res.lang), "%s", shunt_lang_name(c->run->lang));
        snprintf(d->res.go, sizeof(d->res.go), "%s", c->go ? c->go->version : "");
        d->res.t_build = x->tbuild[i];
        print_case(x, i);
    }
    close(jfd);
}

/* Cases, cl.jobs at a time, each group in a forked worker.  0, or -1 when
 * no worker could be started (said why). */
static int run_workers(run_all_t *x)
{
    for (size_t i = 0; i < x->ncases; i++) {
        x->width = strlen(x->cases[i].name) > x->width ? strlen(x->cases[i].name) : x->width;
        /* the widest: every engine with a verdict */
        shunt_case_result_t all = {.engines = x->cases[i].engines};
        char eng[128];
        for (int e = 0; e < SHUNT_ENGINE_COUNT; e++)
            all.engine_status[e] = SHUNT_CASE_ERROR;
        fmt_engines(x->cases[i].engines, &all, eng, sizeof(eng));
        x->ewidth = strlen(eng) > x->ewidth ? strlen(eng) : x->ewidth;
    }
    while (x->finished < x->ncases) {
        /* once: the running workers get the signal too (a SIGTERM sent to
         * this process alone, by a test driver, reaches no one else) */
        if (stop_signal && !x->stopped) {
            x->stopped = 1;
            stop_all(x);
            if (x->finished >= x->ncases)
                break;
        }
        while (!stop_signal && x->running < (size_t)x->cl.jobs && x->next < x->ncases)
            if (start_worker(x) < 0)
                return -1;
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t i = 0;
        while (i < x->next && x->pids[i] != w)
            i++;
        if (i < x->next)
            collect_worker(x, i, st);
    }
    return 0;
}

/* The table of times, the counts, the exit status, and --junit, --tap,
 * --json. */
static void summary(run_all_t *x)
{
    FILE *hum = x->hum;
    size_t ncases = x->ncases, cnt[5] = {0}, unchecked = 0;
    int width = (int)x->width, config_errors = x->config_errors;
    int ewidth = x->ewidth < 7 ? 7 : (int)x->ewidth;
    for (size_t i = 0; i < ncases; i++) {
        cnt[x->done[i].res.status]++;
        unchecked += x->done[i].res.unchecked[0] != 0;
    }
    fprintf(hum, "\n%-*s  %-6s %-*s %8s %8s %8s %8s %8s %8s\n", width, "case", "result",
            ewidth, "engines", "build", "target", "ref", "local", "diff", "leaks");
    for (size_t i = 0; i < ncases; i++) {
        const shunt_case_result_t *r = &x->done[i].res;
        char eng[128];
        fmt_engines(x->cases[i].engines, r, eng, sizeof(eng));
        fprintf(hum, "%-*s  %-6s %-*s %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs\n", width,
                r->name, shunt_case_status_name(r->status), ewidth, eng, r->t_build,
                r->t_target, r->t_ref, r->t_local, r->t_diff, r->t_leaks);
    }
    fprintf(hum, "\n%zu case%s: %zu passed, %zu passed with known divergences, %zu failed, "
                 "%zu errors, %zu skipped",
            ncases, ncases == 1 ? "" : "s", cnt[SHUNT_CASE_PASS], cnt[SHUNT_CASE_KNOWN],
            cnt[SHUNT_CASE_FAIL], cnt[SHUNT_CASE_ERROR], cnt[SHUNT_CASE_SKIP]);
    if (unchecked)
        fprintf(hum, "; %zu with expectations not checked under an engine (\"not checked "
                     "under\" above)",
                unchecked);
    fprintf(hum, "%s", config_errors ? "" : "\n");
    if (config_errors)
        fprintf(hum, "; %d invalid scenario file%s\n", config_errors,
                config_errors == 1 ? "" : "s");
    if (stop_signal)
        x->rc = 128 + stop_signal;
    else if (config_errors)
        x->rc = EXIT_CONFIG;
    else if (cnt[SHUNT_CASE_FAIL] || cnt[SHUNT_CASE_ERROR])
        x->rc = SHUNT_EXIT_FAIL;
    else if (cnt[SHUNT_CASE_SKIP])
        x->rc = EXIT_SKIPPED;
    if (x->cl.junit && write_junit(x->cl.junit, x->done, ncases) < 0) {
        fprintf(stderr, "harness run: --junit %s: %s\n", x->cl.junit, strerror(errno));
        if (x->rc == SHUNT_EXIT_OK)
            x->rc = SHUNT_EXIT_FAIL;
    }
    if (x->cl.tap)
        write_tap(x->done, ncases);
    if (x->cl.json)
        write_json(x->done, ncases, x->rc);
}

static void run_all_free(run_all_t *x)
{
    free(x->lens);
    free(x->pids);
    free(x->fds);
    free(x->tbuild);
    for (size_t i = 0; x->done && i < x->ncases; i++)
        free(x->done[i].report);
    free(x->done);
    for (size_t i = 0; x->cases && i < x->ncases; i++)
        shunt_built_free(&x->cases[i].built);
    free(x->cases);
    for (size_t i = 0; x->scen && i < x->nf; i++)
        shunt_scenario_free(x->scen[i]);
    free(x->scen);
    for (size_t i = 0; i < x->nf; i++)
        free(x->files[i]);
    free(x->files);
    free(x->tools);
    free(x->cl.only);
}

int cmd_run(int argc, char **argv)
{
    static run_all_t x;
    memset(&x, 0, sizeof(x));
    int pr = parse(&x.cl, argc, argv);
    if (pr != 0) {
        free(x.cl.only);
        return pr > 0 ? SHUNT_EXIT_OK : SHUNT_EXIT_USAGE;
    }
    /* What this harness inherited beyond stdio (a lock, a shell's fds) is
     * not for the programs: the reference (runc exec) starts with 0-2 only,
     * and so must the local run, or its fd numbers differ (expect.journal). */
    syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    shunt_log_init("run", shunt_log_get_level(), 2);
    catch_stops();
    x.hum = (x.cl.tap || x.cl.json) ? stderr : stdout;
    x.color = x.cl.color >= 0 && isatty(fileno(x.hum)) && !getenv("NO_COLOR");
    signal(SIGPIPE, SIG_IGN);
    x.rc = SHUNT_EXIT_OK;
    if (load_cases(&x, argv + optind, argc - optind) == 0) {
        name_targets(&x);
        if (find_paths(&x) == 0) {
            size_t n = x.ncases;
            x.tbuild = calloc(n, sizeof(double));
            x.done = calloc(n, sizeof(*x.done));
            x.pids = calloc(n, sizeof(pid_t));
            x.fds = calloc(n, sizeof(int));
            x.lens = calloc(n, sizeof(size_t));
            if (!x.tbuild || !x.done || !x.pids || !x.fds || !x.lens) {
                out_of_memory(&x);
            } else {
                build_all(&x);
                if (run_workers(&x) == 0)
                    summary(&x);
            }
        }
    }
    run_all_free(&x);
    return x.rc;
}
