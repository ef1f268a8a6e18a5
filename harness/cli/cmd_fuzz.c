/* harness fuzz: differential fuzzing of the layer against the target's own
 * kernel (docs/fuzzing.md, "Differential fuzzing").  Workers (-j) each
 * bring up their own target, run generated sequences on both sides,
 * minimise what differs and write it out; this process gathers their
 * figures, prints progress and the report. */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shunt/buf.h"
#include "shunt/build.h"
#include "shunt/fuzz.h"
#include "shunt/fuzzspec.h"
#include "shunt/inroot.h"
#include "shunt/json.h"
#include "shunt/proc.h"
#include "shunt/scenario.h"
#include "shunt/target.h"
#include "shunt/util.h"

#define EXIT_FOUND 1
#define EXIT_INVALID 3
#define EXIT_SKIP 77

static const char usage_text[] =
    "usage: harness fuzz FILE.yaml [--minutes N | --sequences N] [--seed S]\n"
    "                   [--engine layer|supervisor|auto] [-j N] [--out DIR]\n"
    "                   [--policy NAME] [--length N] [--json] [--keep]\n"
    "                   [--layer FILE] [--min-time SECONDS] [--stop-after N]\n"
    "       harness fuzz FILE.yaml --show SEED [--policy NAME] [--length N]\n"
    "\n"
    "Differential fuzzing: random sequences of calls, drawn from the\n"
    "scenario's fuzz: section (its tree, policies, call families and\n"
    "weights), are run by the interpreter shunt-fuzz-interp inside the\n"
    "target -- the truth -- and locally under the layer, and compared call\n"
    "by call: return value, errno, and what the call showed.  A difference\n"
    "is minimised (the fewest calls, the smallest tree that still differ\n"
    "the same way) and written to the output directory as an ordinary\n"
    "scenario that `harness run` runs, with a line in report.txt (and\n"
    "report.json).  Differences the scenario declares (fuzz.known) are\n"
    "counted, not reported.  docs/fuzzing.md has the details.\n"
    "\n"
    "options:\n"
    "  --minutes N      budget in minutes (may be fractional; default: the\n"
    "                   scenario's fuzz.budget, else 1)\n"
    "  --sequences N    budget in sequences (all workers together)\n"
    "  --seed S         the campaign's seed (default: fuzz.seed, else from\n"
    "                   the clock; printed, so a campaign can be repeated)\n"
    "  --engine E       layer (the LD_PRELOAD layer), supervisor (the\n"
    "                   seccomp supervisor, docs/supervisor.md), or auto\n"
    "                   (default: auto, which is the layer: the interpreter\n"
    "                   is dynamically linked)\n"
    "  -j N             N workers, each with its own target (default 1)\n"
    "  --out DIR        where scenarios and reports go (default\n"
    "                   fuzz-out/NAME-YYYYmmdd-HHMMSS)\n"
    "  --policy NAME    only this policy of fuzz.layer\n"
    "  --length N       calls per sequence (default: fuzz.length, else 20)\n"
    "  --json           the report as JSON on stdout (progress stays on\n"
    "                   stderr)\n"
    "  --keep           leave the targets up\n"
    "  --layer FILE     the layer library the local side preloads (harness\n"
    "                   exec --layer)\n"
    "  --min-time S     seconds a minimisation may take (default 60)\n"
    "  --stop-after N   stop once N divergences are reported\n"
    "  --show SEED      print the sequence a seed generates (a report's\n"
    "                   `seed`) for the policy (default: the first) and exit\n"
    "  -h, --help       this help\n"
    "\n"
    "exit status: 0 nothing found, 1 differences found (or a side failed),\n"
    "2 usage, 3 invalid scenario, 77 skipped (needs root).\n";

typedef struct {
    const char *file, *out, *layer, *policy;
    const char *engine; /* "layer" or "supervisor" */
    double minutes;
    long sequences;
    uint64_t seed;
    int seed_set, jobs, json, keep, length, min_secs;
    long stop_after;
    int show;
    uint64_t show_seed;
} fz_opts_t;

/* What a worker has done so far (sent up as one line). */
typedef struct {
    long seqs, calls, known, dups, divs, infra;
    long fam_calls[SHUNT_FZ_NFAMILIES], fam_err[SHUNT_FZ_NFAMILIES];
    long outcomes;
    long ms_tree, ms_ref, ms_loc, ms_min; /* where the time went */
} fz_stats_t;

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
    stop_sig = sig;
    shunt_proc_interrupted = 1; /* build.h: stops what the target code waits for */
}

static int parse(fz_opts_t *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"minutes", required_argument, 0, 'm'}, {"sequences", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},    {"engine", required_argument, 0, 'e'},
        {"out", required_argument, 0, 'o'},     {"policy", required_argument, 0, 'p'},
        {"length", required_argument, 0, 'l'},  {"json", no_argument, 0, 'J'},
        {"keep", no_argument, 0, 'k'},          {"layer", required_argument, 0, 'L'},
        {"min-time", required_argument, 0, 'M'}, {"help", no_argument, 0, 'h'},
        {"stop-after", required_argument, 0, 'S'},
        {"show", required_argument, 0, 'W'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    char *end;
    o->jobs = 1;
    o->min_secs = 60;
    while ((c = getopt_long(argc, argv, ":hj:", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->minutes = strtod(optarg, &end);
            if (*end || !(o->minutes > 0) || o->minutes > 100000) {
                fprintf(stderr, "harness fuzz: --minutes: expected a positive number, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'n':
            o->sequences = strtol(optarg, &end, 10);
            if (*end || o->sequences <= 0) {
                fprintf(stderr, "harness fuzz: --sequences: expected a positive integer, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 's':
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            if (*end || errno || optarg[0] == '-') {
                fprintf(stderr, "harness fuzz: --seed: expected an unsigned integer, got \"%s\"\n", optarg);
                return -1;
            }
            o->seed_set = 1;
            break;
        case 'e':
            if (strcmp(optarg, "supervisor") == 0) {
                o->engine = "supervisor";
                break;
            }
            if (strcmp(optarg, "layer") == 0 || strcmp(optarg, "auto") == 0) {
                o->engine = "layer";
                break;
            }
            fprintf(stderr, "harness fuzz: --engine: expected layer, supervisor or auto, got \"%s\"\n", optarg);
            return -1;
        case 'j':
            o->jobs = (int)strtol(optarg, &end, 10);
            if (*end || o->jobs < 1 || o->jobs > 32) {
                fprintf(stderr, "harness fuzz: -j: expected 1..32, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'o': o->out = optarg; break;
        case 'p': o->policy = optarg; break;
        case 'l':
            o->length = (int)strtol(optarg, &end, 10);
            if (*end || o->length < 1 || o->length > 200) {
                fprintf(stderr, "harness fuzz: --length: expected 1..200, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'J': o->json = 1; break;
        case 'k': o->keep = 1; break;
        case 'L': o->layer = optarg; break;
        case 'M':
            o->min_secs = (int)strtol(optarg, &end, 10);
            if (*end || o->min_secs < 1) {
                fprintf(stderr, "harness fuzz: --min-time: expected seconds, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'S':
            o->stop_after = strtol(optarg, &end, 10);
            if (*end || o->stop_after < 1) {
                fprintf(stderr, "harness fuzz: --stop-after: expected a positive integer, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'W':
            errno = 0;
            o->show_seed = strtoull(optarg, &end, 0);
            if (*end || errno || optarg[0] == '-') {
                fprintf(stderr, "harness fuzz: --show: expected a sequence seed, got \"%s\"\n", optarg);
                return -1;
            }
            o->show = 1;
            break;
        case 'h': fputs(usage_text, stdout); return 1;
        case ':':
            fprintf(stderr, "harness fuzz: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "harness fuzz: unknown option %s\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "harness fuzz: expected one scenario file\n%s", usage_text);
        return -1;
    }
    if (o->minutes > 0 && o->sequences > 0) {
        fprintf(stderr, "harness fuzz: --minutes and --sequences: give one budget\n");
        return -1;
    }
    o->file = argv[optind];
    if (o->layer) {
        /* the local side runs from / : an absolute path, checked now */
        static char abs_layer[PATH_MAX];
        if (!realpath(o->layer, abs_layer) || access(abs_layer, R_OK) < 0) {
            fprintf(stderr, "harness fuzz: --layer %s: %s\n", o->layer, strerror(errno));
            return -1;
        }
        o->layer = abs_layer;
    }
    return 0;
}

/* ---- a worker ------------------------------------------------------------ */

typedef struct {
    const fz_opts_t *o;
    shunt_scenario_t *s;
    shunt_fuzzspec_t *f;
    int w;                 /* worker index */
    int report;            /* pipe to the parent */
    uint64_t t0;           /* campaign start (ms) */
    uint64_t deadline;     /* 0: none */
    long my_sequences;     /* this worker's share, 0: none */
    const char *outdir;
    char self[PATH_MAX], interp[PATH_MAX], init[PATH_MAX];
    char tname[SHUNT_NAME_MAX + 1];
    fz_stats_t st;
    char **sigs;           /* divergences reported by this worker */
    size_t n_sigs;
    char **outcomes;       /* distinct "call: class" seen */
    size_t n_outcomes, cap_outcomes;
} worker_t;

static void send_line(worker_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_line(worker_t *x, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    for (int i = 0; i < n; i++)
        if (buf[i] == '\n')
            buf[i] = ' ';
    buf[n++] = '\n';
    (void)shunt_write_full(x->report, buf, (size_t)n);
}

static void send_stats(worker_t *x)
{
    shunt_buf_t b = {0};
    shunt_buf_printf(&b, "S %ld %ld %ld %ld %ld %ld %zu %ld %ld %ld %ld", x->st.seqs,
                     x->st.calls, x->st.known, x->st.dups, x->st.divs, x->st.infra,
                     x->n_outcomes, x->st.ms_tree, x->st.ms_ref, x->st.ms_loc, x->st.ms_min);
    for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++)
        shunt_buf_printf(&b, " %ld %ld", x->st.fam_calls[i], x->st.fam_err[i]);
    if (b.p)
        send_line(x, "%s", b.p);
    shunt_buf_free(&b);
}

static void note_outcome(worker_t *x, const char *line)
{
    /* "I CALL ... = RESULT": CALL and "ok" or the errno */
    const char *p = line;
    int child = strncmp(p, "child ", 6) == 0;
    if (child)
        p += 6;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == ' ')
        p++;
    size_t cn = strcspn(p, " ");
    int fam = -1;
    char call[32];
    snprintf(call, sizeof(call), "%.*s", (int)(cn > 30 ? 30 : cn), p);
    fam = child ? SHUNT_FZ_FORK : shunt_fz_family_of(call);
    const char *eq = strstr(p, " = ");
    char key[96];
    int err = eq && strncmp(eq + 3, "-1 ", 3) == 0;
    if (err)
        snprintf(key, sizeof(key), "%s:%.*s", call, (int)strcspn(eq + 6, " "), eq + 6);
    else
        snprintf(key, sizeof(key), "%s:ok", call);
    if (fam >= 0) {
        x->st.fam_calls[fam]++;
        x->st.fam_err[fam] += err;
    }
    for (size_t i = 0; i < x->n_outcomes; i++)
        if (strcmp(x->outcomes[i], key) == 0)
            return;
    if (x->n_outcomes == x->cap_outcomes) {
        size_t nc = x->cap_outcomes ? x->cap_outcomes * 2 : 64;
        char **v = realloc(x->outcomes, nc * sizeof(*v));
        if (!v)
            return;
        x->outcomes = v;
        x->cap_outcomes = nc;
    }
    if ((x->outcomes[x->n_outcomes] = strdup(key)))
        x->n_outcomes++;
}

/* The addresses fuzz.net.names resolve to in the target. */
static void resolve_names(worker_t *x, shunt_fz_driver_t *d, char ***addrs, size_t *n)
{
    *addrs = NULL;
    *n = 0;
    if (!x->f->n_names)
        return;
    shunt_fz_lines_t seq = {0}, out = {0};
    for (size_t i = 0; i < x->f->n_names; i++) {
        shunt_buf_t b = {0};
        shunt_buf_puts(&b, "getaddrinfo ");
        shunt_fz_put_enc(&b, x->f->names[i], strlen(x->f->names[i]));
        if (b.p)
            shunt_fz_lines_push(&seq, b.p);
        shunt_buf_free(&b);
    }
    if (shunt_fz_run_target(d, &seq, &out) == 0) {
        char **v = calloc(64, sizeof(char *));
        for (size_t i = 0; v && i < out.n; i++) {
            char *lb = strstr(out.v[i], " = ");
            lb = lb ? strchr(lb, '[') : NULL;
            if (!lb)
                continue;
            char *a = lb + 1;
            while (*a && *a != ']' && *n < 63) {
                size_t l = strcspn(a, ",]");
                char tmp[64];
                snprintf(tmp, sizeof(tmp), "%.*s", (int)(l > 63 ? 63 : l), a);
                int dup = strchr(tmp, ':') != NULL; /* IPv4 only */
                for (size_t k = 0; k < *n && !dup; k++)
                    dup = strcmp(v[k], tmp) == 0;
                if (!dup && (v[*n] = strdup(tmp)))
                    (*n)++;
                a += l;
                if (*a == ',')
                    a++;
            }
        }
        *addrs = v;
    }
    shunt_fz_lines_free(&seq);
    shunt_fz_lines_free(&out);
}

static int seen_sig(worker_t *x, const char *sig)
{
    for (size_t i = 0; i < x->n_sigs; i++)
        if (strcmp(x->sigs[i], sig) == 0)
            return 1;
    char **v = realloc(x->sigs, (x->n_sigs + 1) * sizeof(*v));
    if (v) {
        x->sigs = v;
        if ((v[x->n_sigs] = strdup(sig)))
            x->n_sigs++;
    }
    return 0;
}

static void json_field(shunt_json_t *j, const char *k, const char *v)
{
    shunt_json_key(j, k);
    shunt_json_str(j, v ? v : "");
}

/* A new divergence: confirm, minimise, write, report. */
static void divergence(worker_t *x, shunt_fz_driver_t *d, size_t pi, uint64_t seed,
                       const shunt_fz_lines_t *seq, const shunt_fz_diff_t *df)
{
    double found = (double)(shunt_now_ms() - x->t0) / 1000.0;
    shunt_fz_min_t m;
    int mrc = shunt_fz_minimise(d, pi, seq, df->sig, x->o->min_secs, &m);
    if (mrc < 0 && !m.seq.n) {
        send_line(x, "W minimising %s: %s", df->sig, d->err);
        return;
    }
    /* the minimised run, for its lines */
    shunt_fz_lines_t ref = {0}, loc = {0};
    shunt_fz_diff_t mdf = *df;
    if (shunt_fz_run_pair(d, pi, m.keep, &m.seq, &ref, &loc) == 0)
        shunt_fz_compare(NULL, NULL, &ref, &loc, &mdf);
    if (!mdf.differs || strcmp(mdf.sig, df->sig) != 0) {
        /* did not reproduce: keep the original */
        shunt_fz_lines_free(&m.seq);
        shunt_fz_lines_copy(&m.seq, seq);
        memset(m.keep, 1, x->f->tree.n);
        mdf = *df;
    }
    size_t kept = 0;
    for (size_t i = 0; i < x->f->tree.n; i++)
        kept += m.keep[i];
    char name[PATH_MAX], path[PATH_MAX], err[1024];
    char call[40];
    snprintf(call, sizeof(call), "%s", mdf.call);
    /* the call's name comes from the target side's output: only
     * [a-z0-9] reach a file name (a hostile target cannot name a path) */
    for (char *c = call; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
            *c = '-';
    (void)shunt_fmt(name, sizeof(name), "div-w%d-%03ld-%s.yaml", x->w, x->st.divs + 1, call);
    (void)shunt_fmt(path, sizeof(path), "%s/%s", x->outdir, name);
    if (shunt_fz_write_scenario(path, x->s, x->f, pi, m.keep, &m.seq, &mdf, seed, err,
                                sizeof(err)) < 0) {
        send_line(x, "W %s", err);
        name[0] = 0;
    }
    x->st.divs++;
    double total = (double)(shunt_now_ms() - x->t0) / 1000.0;
    shunt_json_t j = {0};
    shunt_json_obj(&j);
    json_field(&j, "scenario", name);
    json_field(&j, "signature", mdf.sig);
    json_field(&j, "policy", x->f->policies[pi].name);
    shunt_json_key(&j, "seed");
    shunt_json_int(&j, (long long)seed);
    shunt_json_key(&j, "calls");
    shunt_json_int(&j, (long long)seq->n);
    shunt_json_key(&j, "calls_minimised");
    shunt_json_int(&j, (long long)m.seq.n);
    shunt_json_key(&j, "tree");
    shunt_json_int(&j, (long long)x->f->tree.n);
    shunt_json_key(&j, "tree_minimised");
    shunt_json_int(&j, (long long)kept);
    shunt_json_key(&j, "probes");
    shunt_json_int(&j, m.probes);
    shunt_json_key(&j, "found_ms");
    shunt_json_int(&j, (long long)(found * 1000));
    shunt_json_key(&j, "minimised_ms");
    shunt_json_int(&j, (long long)(total * 1000));
    json_field(&j, "target", mdf.ref_line);
    json_field(&j, "local", mdf.loc_line);
    shunt_json_obj_end(&j);
    send_line(x, "D %s\t%s\t%s: %s (policy %s, seed %llu; %zu -> %zu calls, tree %zu -> %zu; "
                 "found at %.1f s, minimised at %.1f s) | target: %s | local: %s\t%s",
              mdf.sig, name, name[0] ? name : "(not written)", mdf.sig, x->f->policies[pi].name,
              (unsigned long long)seed, seq->n, m.seq.n, x->f->tree.n, kept, found, total,
              mdf.ref_line ? mdf.ref_line : "(nothing)", mdf.loc_line ? mdf.loc_line : "(nothing)",
              j.out.p ? j.out.p : "{}");
    shunt_json_free(&j);
    shunt_fz_lines_free(&ref);
    shunt_fz_lines_free(&loc);
    shunt_fz_min_free(&m);
}

static uint64_t seq_seed(uint64_t base, int w, long k)
{
    uint64_t s = base ^ ((uint64_t)(w + 1) << 40) ^ (uint64_t)k;
    return shunt_fz_rand(&s);
}

static int worker_loop(worker_t *x, shunt_fz_driver_t *d, shunt_fz_gen_t *g)
{
    size_t pol0 = 0, npol = x->f->n_policies;
    if (x->o->policy) {
        for (pol0 = 0; pol0 < npol && strcmp(x->f->policies[pol0].name, x->o->policy); pol0++)
            ;
        npol = 1;
    }
    uint64_t last = 0;
    for (long k = 0; !stop_sig; k++) {
        if (x->deadline && shunt_now_ms() >= x->deadline)
            break;
        if (x->my_sequences && k >= x->my_sequences)
            break;
        size_t pi = pol0 + (size_t)k % npol;
        uint64_t seed = seq_seed(x->o->seed, x->w, k);
        shunt_fz_lines_t seq, ref, loc;
        if (shunt_fz_gen_seq(g, pi, seed, &seq) < 0) {
            send_line(x, "E out of memory");
            return -1;
        }
        if (shunt_fz_run_pair(d, pi, NULL, &seq, &ref, &loc) < 0) {
            x->st.infra++;
            send_line(x, "W sequence seed %llu (policy %s): %s", (unsigned long long)seed,
                      x->f->policies[pi].name, d->err);
            shunt_fz_lines_free(&seq);
            if (x->st.infra > 5 && x->st.infra * 2 > x->st.seqs) {
                send_line(x, "E the sides keep failing: %s (their stderr: %s/w%d-*.log)",
                          d->err, x->outdir, x->w);
                return -1;
            }
            continue;
        }
        x->st.seqs++;
        x->st.calls += (long)seq.n;
        x->st.ms_tree = (long)(d->ns_tree / 1000000);
        x->st.ms_ref = (long)(d->ns_ref / 1000000);
        x->st.ms_loc = (long)(d->ns_loc / 1000000);
        for (size_t i = 0; i < ref.n; i++)
            if (strncmp(ref.v[i], "done ", 5) != 0)
                note_outcome(x, ref.v[i]);
        shunt_fz_diff_t df;
        shunt_fz_compare(x->f, x->f->policies[pi].name, &ref, &loc, &df);
        if (df.differs) {
            if (df.known)
                x->st.known++;
            else if (seen_sig(x, df.sig))
                x->st.dups++;
            else {
                /* the minimiser's runs are its own time, not the campaign's sides */
                uint64_t m0 = shunt_now_ms(), tt = d->ns_tree, tr = d->ns_ref, tl = d->ns_loc;
                divergence(x, d, pi, seed, &seq, &df);
                d->ns_tree = tt;
                d->ns_ref = tr;
                d->ns_loc = tl;
                x->st.ms_min += (long)(shunt_now_ms() - m0);
            }
        }
        shunt_fz_lines_free(&seq);
        shunt_fz_lines_free(&ref);
        shunt_fz_lines_free(&loc);
        if (shunt_now_ms() - last >= 500) {
            send_stats(x);
            last = shunt_now_ms();
        }
    }
    send_stats(x);
    return 0;
}

static int self_dir_file(const char *self, const char *name, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", self);
    char *sl = strrchr(dir, '/');
    if (sl)
        *sl = 0;
    return shunt_fmt(out, outlen, "%s/%s", dir, name);
}

static int worker_main(void *arg)
{
    worker_t *x = arg;
    char err[2048];
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    signal(SIGPIPE, SIG_IGN);
    x->s->target.name = x->tname;
    shunt_up_opts_t uo = {.init_path = x->init};
    shunt_target_info_t info;
    int urc = shunt_target_up(x->s, &uo, &info, err, sizeof(err));
    if (urc < 0) {
        send_line(x, "E target %s did not start: %s", x->tname, err);
        return 1;
    }
    int rc = 1;
    int root = shunt_inroot_open_root(info.init_pid);
    if (root < 0 || shunt_inroot_copy(x->interp, root, x->interp) < 0) {
        send_line(x, "E cannot put the interpreter into target %s: %s", x->tname,
                  strerror(errno));
    } else {
        shunt_fz_driver_t d = {.f = x->f, .target = x->tname, .harness = x->self,
                               .interp = x->interp, .layer = x->o->layer,
                               .engine = x->o->engine,
                               .logdir = x->outdir, .worker = x->w};
        if (shunt_fz_driver_start(&d, err, sizeof(err)) < 0) {
            send_line(x, "E %s", err);
        } else {
            char **addrs;
            size_t n_addrs;
            resolve_names(x, &d, &addrs, &n_addrs);
            shunt_fz_gen_t *g = shunt_fz_gen_new(x->f, addrs, n_addrs, err, sizeof(err));
            if (!g)
                send_line(x, "E %s", err);
            else {
                send_line(x, "I worker %d: target %s, %zu cluster address%s", x->w, x->tname,
                          n_addrs, n_addrs == 1 ? "" : "es");
                rc = worker_loop(x, &d, g) < 0;
                shunt_fz_gen_free(g);
            }
            for (size_t i = 0; addrs && i < n_addrs; i++)
                free(addrs[i]);
            free(addrs);
        }
        shunt_fz_driver_stop(&d);
    }
    if (root >= 0)
        close(root);
    if (urc == 0 && !x->o->keep && shunt_target_down(x->tname, err, sizeof(err)) < 0)
        send_line(x, "W harness down %s: %s", x->tname, err);
    return rc;
}

/* ---- the parent ------------------------------------------------------- */

typedef struct {
    fz_stats_t *st;       /* per worker */
    int jobs;
    char **sigs;
    size_t n_sigs;
    shunt_buf_t report, json;
    long divs, dups_across;
    int errors;
} agg_t;

static int agg_sig_new(agg_t *a, const char *sig)
{
    for (size_t i = 0; i < a->n_sigs; i++)
        if (strcmp(a->sigs[i], sig) == 0)
            return 0;
    char **v = realloc(a->sigs, (a->n_sigs + 1) * sizeof(*v));
    if (v) {
        a->sigs = v;
        if ((v[a->n_sigs] = strdup(sig)))
            a->n_sigs++;
    }
    return 1;
}

static void agg_line(agg_t *a, int w, char *line, const char *outdir, int quiet)
{
    if (line[0] == 'S') {
        fz_stats_t *s = &a->st[w];
        long v[11 + 2 * SHUNT_FZ_NFAMILIES];
        char *p = line + 1;
        size_t nv = 0;
        while (*p && nv < sizeof(v) / sizeof(v[0])) {
            char *end;
            v[nv] = strtol(p, &end, 10);
            if (end == p)
                break;
            nv++;
            p = end;
        }
        if (nv == sizeof(v) / sizeof(v[0])) {
            s->seqs = v[0];
            s->calls = v[1];
            s->known = v[2];
            s->dups = v[3];
            s->divs = v[4];
            s->infra = v[5];
            s->outcomes = v[6];
            s->ms_tree = v[7];
            s->ms_ref = v[8];
            s->ms_loc = v[9];
            s->ms_min = v[10];
            for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++) {
                s->fam_calls[i] = v[11 + 2 * i];
                s->fam_err[i] = v[12 + 2 * i];
            }
        }
    } else if (line[0] == 'D') {
        /* D SIG \t FILE \t TEXT \t JSON */
        char *sig = line + 2, *file = strchr(sig, '\t');
        char *text = file ? strchr(file + 1, '\t') : NULL;
        char *json = text ? strchr(text + 1, '\t') : NULL;
        if (!json)
            return;
        *file++ = 0;
        *text++ = 0;
        *json++ = 0;
        if (!agg_sig_new(a, sig)) {
            a->dups_across++;
            if (*file) {
                char p[PATH_MAX];
                if (shunt_fmt(p, sizeof(p), "%s/%s", outdir, file) == 0)
                    unlink(p);
            }
            return;
        }
        a->divs++;
        shunt_buf_printf(&a->report, "%s\n", text);
        shunt_buf_printf(&a->json, "%s%s", a->divs > 1 ? ",\n    " : "", json);
        if (!quiet)
            fprintf(stderr, "\nharness fuzz: DIVERGENCE %s\n", text);
    } else if (line[0] == 'E') {
        a->errors++;
        fprintf(stderr, "\nharness fuzz: worker %d: %s\n", w, line + 2);
    } else if (line[0] == 'W') {
        fprintf(stderr, "\nharness fuzz: worker %d: %s\n", w, line + 2);
    } else if (line[0] == 'I' && !quiet) {
        fprintf(stderr, "harness fuzz: %s\n", line + 2);
    }
}

static void totals(const agg_t *a, fz_stats_t *t)
{
    memset(t, 0, sizeof(*t));
    for (int w = 0; w < a->jobs; w++) {
        const fz_stats_t *s = &a->st[w];
        t->seqs += s->seqs;
        t->calls += s->calls;
        t->known += s->known;
        t->dups += s->dups;
        t->divs += s->divs;
        t->infra += s->infra;
        if (s->outcomes > t->outcomes)
            t->outcomes = s->outcomes;
        t->ms_tree += s->ms_tree;
        t->ms_ref += s->ms_ref;
        t->ms_loc += s->ms_loc;
        t->ms_min += s->ms_min;
        for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++) {
            t->fam_calls[i] += s->fam_calls[i];
            t->fam_err[i] += s->fam_err[i];
        }
    }
}

static void progress(const agg_t *a, uint64_t t0, int tty, int final)
{
    fz_stats_t t;
    totals(a, &t);
    double secs = (double)(shunt_now_ms() - t0) / 1000.0;
    if (secs <= 0)
        secs = 0.001;
    int fams = 0, famcov = 0;
    for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++) {
        fams++;
        famcov += t.fam_calls[i] > 0;
    }
    fprintf(stderr, "%s[%5.0fs] %ld sequences (%.1f/s), %ld calls, %ld divergence%s, "
                    "%ld known, families %d/%d, outcomes %ld%s",
            tty && !final ? "\r" : "", secs, t.seqs, (double)t.seqs / secs, t.calls, a->divs,
            a->divs == 1 ? "" : "s", t.known, famcov, fams, t.outcomes,
            tty && !final ? "   " : "\n");
    fflush(stderr);
}

static void summary(const agg_t *a, uint64_t t0, const fz_opts_t *o, const char *outdir,
                    shunt_buf_t *b)
{
    fz_stats_t t;
    totals(a, &t);
    double secs = (double)(shunt_now_ms() - t0) / 1000.0;
    shunt_buf_printf(b, "harness fuzz %s: seed %llu, engine %s, %d worker%s, %.1f s\n",
                     o->file, (unsigned long long)o->seed,
                     o->engine ? o->engine : "layer", o->jobs,
                     o->jobs == 1 ? "" : "s", secs);
    shunt_buf_printf(b, "  %ld sequences (%.1f/s), %ld calls (%.0f/s), %ld divergence%s "
                        "(%ld repeats), %ld known, %ld failed runs\n",
                     t.seqs, secs > 0 ? (double)t.seqs / secs : 0.0, t.calls,
                     secs > 0 ? (double)t.calls / secs : 0.0, a->divs, a->divs == 1 ? "" : "s",
                     t.dups + a->dups_across, t.known, t.infra);
    shunt_buf_puts(b, "  coverage (calls run, of them errors):");
    for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++)
        shunt_buf_printf(b, " %s %ld/%ld", shunt_fz_family_names[i], t.fam_calls[i], t.fam_err[i]);
    shunt_buf_printf(b, "\n  distinct outcomes (call, result): %ld\n", t.outcomes);
    shunt_buf_printf(b, "  time (all workers): target side %.1f s, local side %.1f s, tree "
                        "rebuilds %.1f s, minimising %.1f s\n  output: %s\n",
                     t.ms_ref / 1000.0, t.ms_loc / 1000.0, t.ms_tree / 1000.0,
                     t.ms_min / 1000.0, outdir);
}

static int load(const fz_opts_t *o, shunt_scenario_t **s, shunt_fuzzspec_t **f)
{
    char err[4096];
    if (!(*s = shunt_scenario_load(o->file, err, sizeof(err)))) {
        fprintf(stderr, "harness fuzz: %s\n", err);
        return EXIT_INVALID;
    }
    if (shunt_fuzzspec_parse(*s, f, err, sizeof(err)) < 0) {
        fprintf(stderr, "harness fuzz: %s\n", err);
        shunt_scenario_free(*s);
        return EXIT_INVALID;
    }
    if (!*f) {
        fprintf(stderr, "harness fuzz: %s: no fuzz: section (docs/fuzzing.md says what it holds)\n",
                o->file);
        shunt_scenario_free(*s);
        return EXIT_INVALID;
    }
    (*f)->engine = o->engine && strcmp(o->engine, "supervisor") == 0
                       ? SHUNT_FZ_ENGINE_SUPERVISOR
                       : SHUNT_FZ_ENGINE_LAYER;
    return 0;
}

static int make_outdir(const fz_opts_t *o, const shunt_scenario_t *s, char *out, size_t outlen)
{
    if (o->out) {
        snprintf(out, outlen, "%s", o->out);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        mkdir("fuzz-out", 0755);
        (void)shunt_fmt(out, outlen, "fuzz-out/%s-%s", s->name, stamp);
    }
    if (mkdir(out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "harness fuzz: --out %s: %s\n", out, strerror(errno));
        return -1;
    }
    char p[PATH_MAX], err[1024];
    if (shunt_fmt(p, sizeof(p), "%s/shunt-fuzz-interp.c", out) < 0 ||
        shunt_fz_write_interp_source(p, err, sizeof(err)) < 0) {
        fprintf(stderr, "harness fuzz: %s\n", err);
        return -1;
    }
    return 0;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char p[PATH_MAX];
    if (shunt_fmt(p, sizeof(p), "%s/%s", dir, name) < 0)
        return -1;
    FILE *fp = fopen(p, "we");
    if (!fp)
        return -1;
    fputs(text ? text : "", fp);
    return fclose(fp);
}

int cmd_fuzz(int argc, char **argv)
{
    fz_opts_t o = {0};
    int pr = parse(&o, argc, argv);
    if (pr != 0)
        return pr > 0 ? SHUNT_EXIT_OK : SHUNT_EXIT_USAGE;
    shunt_scenario_t *s;
    shunt_fuzzspec_t *f;
    int lr = load(&o, &s, &f);
    if (lr)
        return lr;
    int rc = SHUNT_EXIT_FAIL;
    worker_t *ws = NULL;
    agg_t a = {0};
    if (o.policy) {
        size_t i;
        for (i = 0; i < f->n_policies && strcmp(f->policies[i].name, o.policy); i++)
            ;
        if (i == f->n_policies) {
            fprintf(stderr, "harness fuzz: --policy %s: no such policy in fuzz.layer\n", o.policy);
            rc = SHUNT_EXIT_USAGE;
            goto out;
        }
    }
    if (o.length)
        f->length = o.length;
    if (o.show) {
        /* what a seed generates, without a target (addresses stay names) */
        size_t pi = 0;
        while (o.policy && strcmp(f->policies[pi].name, o.policy) != 0)
            pi++;
        char err[1024];
        shunt_fz_gen_t *g = shunt_fz_gen_new(f, NULL, 0, err, sizeof(err));
        shunt_fz_lines_t seq;
        if (!g || shunt_fz_gen_seq(g, pi, o.show_seed, &seq) < 0) {
            fprintf(stderr, "harness fuzz: %s\n", g ? "out of memory" : err);
        } else {
            printf("# seed %llu, policy %s\n", (unsigned long long)o.show_seed,
                   f->policies[pi].name);
            for (size_t i = 0; i < seq.n; i++)
                printf("%s\n", seq.v[i]);
            shunt_fz_lines_free(&seq);
            rc = SHUNT_EXIT_OK;
        }
        shunt_fz_gen_free(g);
        goto out;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "harness fuzz: SKIP: needs root (runc and network namespaces)\n");
        rc = EXIT_SKIP;
        goto out;
    }
    if (!o.seed_set)
        o.seed = f->seed_set ? f->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (o.length)
        f->length = o.length;
    if (!o.minutes && !o.sequences) {
        o.minutes = f->budget_minutes;
        o.sequences = f->budget_sequences;
        if (!o.minutes && !o.sequences)
            o.minutes = 1;
    }
    char outdir[PATH_MAX];
    if (make_outdir(&o, s, outdir, sizeof(outdir)) < 0)
        goto out;
    char self[PATH_MAX], interp[PATH_MAX], init[PATH_MAX], err[2048];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl < 0) {
        fprintf(stderr, "harness fuzz: /proc/self/exe: %s\n", strerror(errno));
        goto out;
    }
    self[sl] = 0;
    /* Under the supervisor, the static (musl) build when there is one:
     * what that engine is for (docs/supervisor.md). */
    int is_static = o.engine && strcmp(o.engine, "supervisor") == 0 &&
                    self_dir_file(self, "shunt-fuzz-interp-static", interp,
                                  sizeof(interp)) == 0 &&
                    access(interp, X_OK) == 0;
    if (!is_static &&
        (self_dir_file(self, "shunt-fuzz-interp", interp, sizeof(interp)) < 0 ||
         access(interp, X_OK) < 0)) {
        fprintf(stderr, "harness fuzz: the interpreter %s is missing (build the "
                        "shunt-fuzz-interp target)\n", interp);
        goto out;
    }
    if (shunt_find_init(init, sizeof(init), err, sizeof(err)) < 0) {
        fprintf(stderr, "harness fuzz: %s\n", err);
        goto out;
    }
    fprintf(stderr, "harness fuzz: %s, seed %llu, engine %s (%s), %zu polic%s, "
                    "%d calls per sequence, budget %s%g %s, %d worker%s, output %s\n",
            o.file, (unsigned long long)o.seed, o.engine ? o.engine : "layer",
            is_static ? "static interpreter" : "interpreter", f->n_policies,
            f->n_policies == 1 ? "y" : "ies",
            f->length, "", o.sequences ? (double)o.sequences : o.minutes,
            o.sequences ? "sequences" : "minutes", o.jobs, o.jobs == 1 ? "" : "s", outdir);
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    uint64_t t0 = shunt_now_ms();
    ws = calloc((size_t)o.jobs, sizeof(*ws));
    a.st = calloc((size_t)o.jobs, sizeof(*a.st));
    int *fds = calloc((size_t)o.jobs, sizeof(int));
    pid_t *pids = calloc((size_t)o.jobs, sizeof(pid_t));
    char *bufs[32] = {0};
    size_t blen[32] = {0};
    if (!ws || !a.st || !fds || !pids) {
        fprintf(stderr, "harness fuzz: out of memory\n");
        free(fds);
        free(pids);
        goto out;
    }
    a.jobs = o.jobs;
    for (int w = 0; w < o.jobs; w++) {
        worker_t *x = &ws[w];
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
            fprintf(stderr, "harness fuzz: pipe: %s\n", strerror(errno));
            break;
        }
        *x = (worker_t){.o = &o, .s = s, .f = f, .w = w, .report = p[1], .t0 = t0,
                        .outdir = outdir};
        if (o.minutes > 0)
            x->deadline = t0 + (uint64_t)(o.minutes * 60000.0);
        if (o.sequences > 0)
            x->my_sequences = o.sequences / o.jobs + (w < o.sequences % o.jobs);
        snprintf(x->self, sizeof(x->self), "%s", self);
        snprintf(x->interp, sizeof(x->interp), "%s", interp);
        snprintf(x->init, sizeof(x->init), "%s", init);
        if (o.jobs == 1)
            snprintf(x->tname, sizeof(x->tname), "%s", s->target.name);
        else
            (void)shunt_fmt(x->tname, sizeof(x->tname), "%.*s-%d", SHUNT_NAME_MAX - 3,
                            s->target.name, w + 1);
        shunt_proc_t pc = {.main = worker_main, .arg = x, .stdio = {0, 1, 2}};
        int stage;
        if (shunt_proc_spawn(&pc, &stage) < 0) {
            fprintf(stderr, "harness fuzz: fork: %s\n", strerror(errno));
            close(p[0]);
            close(p[1]);
            break;
        }
        close(p[1]);
        pids[w] = pc.pid;
        fds[w] = p[0];
    }
    int tty = isatty(2);
    int stopping = 0;
    uint64_t last = 0;
    int open_fds = 0;
    for (int w = 0; w < o.jobs; w++)
        open_fds += fds[w] > 0;
    while (open_fds) {
        struct pollfd pf[32];
        for (int w = 0; w < o.jobs; w++)
            pf[w] = (struct pollfd){.fd = fds[w] > 0 ? fds[w] : -1, .events = POLLIN};
        int n = poll(pf, (nfds_t)o.jobs, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (stop_sig) {
            for (int w = 0; w < o.jobs; w++)
                if (pids[w] > 0)
                    kill(pids[w], SIGTERM);
        }
        for (int w = 0; n > 0 && w < o.jobs; w++) {
            if (!(pf[w].revents & (POLLIN | POLLHUP)))
                continue;
            char tmp[8192];
            ssize_t r = read(fds[w], tmp, sizeof(tmp));
            if (r <= 0) {
                close(fds[w]);
                fds[w] = -1;
                open_fds--;
                continue;
            }
            char *nb = realloc(bufs[w], blen[w] + (size_t)r + 1);
            if (!nb)
                continue;
            bufs[w] = nb;
            memcpy(nb + blen[w], tmp, (size_t)r);
            blen[w] += (size_t)r;
            nb[blen[w]] = 0;
            char *line = nb, *nl;
            while ((nl = strchr(line, '\n'))) {
                *nl = 0;
                agg_line(&a, w, line, outdir, 0);
                line = nl + 1;
            }
            blen[w] = strlen(line);
            memmove(nb, line, blen[w] + 1);
        }
        if (o.stop_after && a.divs >= o.stop_after && !stopping) {
            stopping = 1;
            for (int w = 0; w < o.jobs; w++)
                if (pids[w] > 0)
                    kill(pids[w], SIGTERM);
        }
        if (shunt_now_ms() - last >= (tty ? 1000u : 10000u)) {
            progress(&a, t0, tty, 0);
            last = shunt_now_ms();
        }
    }
    int worker_failed = 0;
    for (int w = 0; w < o.jobs; w++) {
        int st;
        if (pids[w] > 0 && shunt_proc_wait(pids[w], &st) > 0 &&
            !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            worker_failed = 1;
        free(bufs[w]);
    }
    free(fds);
    free(pids);
    progress(&a, t0, tty, 1);
    shunt_buf_t sum = {0};
    summary(&a, t0, &o, outdir, &sum);
    fputs(sum.p ? sum.p : "", stderr);
    if (a.report.p)
        fprintf(stderr, "divergences:\n%s", a.report.p);
    (void)write_text(outdir, "report.txt", a.report.p);
    shunt_buf_t js = {0};
    fz_stats_t t;
    totals(&a, &t);
    double secs = (double)(shunt_now_ms() - t0) / 1000.0;
    shunt_buf_printf(&js, "{\"scenario\": \"%s\", \"seed\": %llu, \"engine\": \"%s\", "
                          "\"workers\": %d, \"seconds\": %.1f, \"sequences\": %ld, "
                          "\"calls\": %ld, \"sequences_per_s\": %.2f, \"known\": %ld, "
                          "\"failed_runs\": %ld, \"outcomes\": %ld, \"ms\": {\"target\": %ld, "
                          "\"local\": %ld, \"tree\": %ld, \"minimising\": %ld}, \"families\": {",
                     o.file, (unsigned long long)o.seed,
                     o.engine ? o.engine : "layer", o.jobs, secs, t.seqs, t.calls,
                     secs > 0 ? (double)t.seqs / secs : 0.0, t.known, t.infra, t.outcomes,
                     t.ms_ref, t.ms_loc, t.ms_tree, t.ms_min);
    for (int i = 0; i < SHUNT_FZ_NFAMILIES; i++)
        shunt_buf_printf(&js, "%s\"%s\": [%ld, %ld]", i ? ", " : "", shunt_fz_family_names[i],
                         t.fam_calls[i], t.fam_err[i]);
    shunt_buf_printf(&js, "},\n  \"divergences\": [%s%s]}\n", a.json.p ? "\n    " : "",
                     a.json.p ? a.json.p : "");
    (void)write_text(outdir, "report.json", js.p);
    (void)write_text(outdir, "summary.txt", sum.p);
    if (o.json && js.p)
        fputs(js.p, stdout);
    shunt_buf_free(&js);
    shunt_buf_free(&sum);
    if (stop_sig)
        rc = 128 + stop_sig;
    else if (a.divs)
        rc = EXIT_FOUND;
    else if (a.errors || worker_failed)
        rc = SHUNT_EXIT_FAIL;
    else
        rc = SHUNT_EXIT_OK;
out:
    shunt_buf_free(&a.report);
    shunt_buf_free(&a.json);
    for (size_t i = 0; i < a.n_sigs; i++)
        free(a.sigs[i]);
    free(a.sigs);
    free(a.st);
    free(ws);
    shunt_fuzzspec_free(f);
    shunt_scenario_free(s);
    return rc;
}
