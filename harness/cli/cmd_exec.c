/* harness exec: run a local command under the layer against a target that
 * is up, with an agent and a proxy of its own for the command's lifetime. */
#include "cmd.h"
#include "exec_record.h"
#include "shunt/layercfg.h"
#include "session.h"
#include "shunt/goinfo.h"
#include "shunt/target.h"

#include "shunt/log.h"
#include "shunt/proc.h"
#include "shunt/util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127
#define SHEBANG_DEPTH 4

typedef struct {
    const char *target, *config, *log_level, *log_file, *agent;
    const char *layer; /* --layer: the library preloaded instead of ours */
    const char *journal; /* --journal: SHUNT_JOURNAL for the layer */
    const char *unhooked; /* --unhooked-file: SHUNT_UNHOOKED_FILE */
    char **cmd; /* NULL-terminated, from argv */
    int record, record_json, record_timeout_ms;
    const char *record_out;
    int engine; /* ENGINE_*: --engine */
} exec_cmd_t;

enum { ENGINE_AUTO = 0, ENGINE_LAYER, ENGINE_SUPERVISOR };

static const char usage_text[] =
    "usage: harness exec --target NAME [--engine layer|supervisor|auto]\n"
    "                    [--config FILE] [--log LEVEL]\n"
    "                    [--log-file PATH] [--agent PATH] [--journal FILE]\n"
    "                    [--unhooked-file FILE] [--layer FILE]\n"
    "                    [--record [--record-out FILE] [--record-json]\n"
    "                     [--record-timeout SECONDS]] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD locally under the shunt layer (libshunt.so, loaded with\n"
    "LD_PRELOAD) against a target started by `harness up`: CMD reads the\n"
    "target's files and sees the target's environment, as the layer's\n"
    "policy says; everything else stays local.  An agent and a proxy are\n"
    "started for this command alone and stopped when it exits.\n"
    "\n"
    "CMD is looked up in PATH like execvp does (a file without an ELF or #!\n"
    "header runs with /bin/sh).  Its environment gets\n"
    "  LD_PRELOAD=LIBDIR/libshunt.so (before any LD_PRELOAD already set),\n"
    "  SHUNT_SOCKET, SHUNT_BROKER (the session), SHUNT_CONFIG (the layer's\n"
    "  configuration file), SHUNT_LOG and SHUNT_LOG_FILE (from --log and\n"
    "  --log-file), SHUNT_JOURNAL (from --journal: the layer appends one line\n"
    "  per call CMD makes to FILE, docs/hooking.md), SHUNT_UNHOOKED_FILE\n"
    "  (from --unhooked-file);\n"
    "LIBDIR is ../lib relative to the harness executable.  The layer then\n"
    "replaces the environment with the target's (see docs/exec.md).\n"
    "SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to CMD (those a\n"
    "terminal sends to the whole process group reach it directly).\n"
    "\n"
    "options:\n"
    "  --target NAME     the target (required; `harness status` lists them)\n"
    "  --engine E        how CMD is intercepted (docs/supervisor.md):\n"
    "                    layer: LD_PRELOAD of libshunt.so (refuses a static\n"
    "                    binary); supervisor: a seccomp filter answered by\n"
    "                    shunt-supervisor, nothing inside CMD (any binary);\n"
    "                    auto (default): the layer for a dynamically linked\n"
    "                    program it can enter, the supervisor for a static\n"
    "                    one and for a Go program the layer cannot hook\n"
    "                    (no cgo, or a Go version it does not know)\n"
    "  --config FILE     a YAML file with a layer: section: a scenario, or a\n"
    "                    file with just `layer:` (log, files, env; see\n"
    "                    docs/scenarios.md)\n"
    "  --log LEVEL       the layer's log level: off, error, warn, info, debug\n"
    "                    or trace (default: the config's layer.log, or off)\n"
    "  --log-file PATH   the layer's log file (default: stderr)\n"
    "  --agent PATH      shunt-agent binary (default: next to harness)\n"
    "  --layer FILE      the layer library to preload (default:\n"
    "                    LIBDIR/libshunt.so; e.g. LIBDIR/libshunt-seeded.so,\n"
    "                    the build with a planted bug that `harness fuzz`'s\n"
    "                    own test must find, docs/fuzzing.md)\n"
    "  --journal FILE    the call journal, appended to FILE (absolute): the\n"
    "                    layer's (docs/hooking.md); under the supervisor, the\n"
    "                    program's system calls, written by the ptrace\n"
    "                    recorder in the same format (docs/recorder.md)\n"
    "  --unhooked-file FILE  the layer appends to FILE (absolute) the line it\n"
    "                    prints on stderr for every program of CMD's tree it\n"
    "                    cannot enter (a static child, an unhookable Go\n"
    "                    program: \"shunt: not intercepted: ...\")\n"
    "  --record          run CMD under the ptrace recorder (docs/recorder.md):\n"
    "                    every call its tree made on the local host that names\n"
    "                    a remote path, name or address (the layer's policy,\n"
    "                    the target's cluster subnet) is a leak, listed on\n"
    "                    stderr at the end\n"
    "  --record-out FILE the whole journal and the leaks, written to FILE\n"
    "  --record-json     ... as JSON\n"
    "  --record-timeout SECONDS  kill CMD's tree after this long (default:\n"
    "                    none)\n"
    "  -h, --help        this help\n"
    "The global --log-level sets the harness's, proxy's and agent's logs.\n"
    "\n"
    "exit status: CMD's; 128+N if CMD was killed by signal N; 127 if CMD\n"
    "was not found; 126 if it cannot be run (not executable, or a static\n"
    "binary with --engine layer: LD_PRELOAD cannot enter one); 1 if the\n"
    "session could not be\n"
    "started (target not up, agent failed...); 2 for usage errors.\n";

static int parse_args(exec_cmd_t *xc, int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},
        {"config", required_argument, 0, 'c'},
        {"log", required_argument, 0, 'l'},
        {"log-file", required_argument, 0, 'f'},
        {"journal", required_argument, 0, 'j'},
        {"unhooked-file", required_argument, 0, 'u'},
        {"agent", required_argument, 0, 'a'},
        {"layer", required_argument, 0, 'L'},
        {"record", no_argument, 0, 'R'},
        {"record-out", required_argument, 0, 'O'},
        {"record-json", no_argument, 0, 'J'},
        {"record-timeout", required_argument, 0, 'T'},
        {"engine", required_argument, 0, 'E'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    /* '+': options end at CMD, so CMD's own options are its own. */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': xc->target = optarg; break;
        case 'c': xc->config = optarg; break;
        case 'l': xc->log_level = optarg; break;
        case 'f': xc->log_file = optarg; break;
        case 'j': xc->journal = optarg; break;
        case 'u': xc->unhooked = optarg; break;
        case 'a': xc->agent = optarg; break;
        case 'L': xc->layer = optarg; break;
        case 'R': xc->record = 1; break;
        case 'O': xc->record_out = optarg; break;
        case 'J': xc->record_json = 1; break;
        case 'T': {
            char *end;
            double sec = strtod(optarg, &end);
            if (*end || !(sec > 0) || sec > 86400) {
                fprintf(stderr, "harness exec: --record-timeout: expected "
                                "seconds (0 < N <= 86400), got \"%s\"\n",
                        optarg);
                return -1;
            }
            xc->record_timeout_ms = (int)(sec * 1000);
            break;
        }
        case 'E':
            if (strcmp(optarg, "layer") == 0)
                xc->engine = ENGINE_LAYER;
            else if (strcmp(optarg, "supervisor") == 0)
                xc->engine = ENGINE_SUPERVISOR;
            else if (strcmp(optarg, "auto") == 0)
                xc->engine = ENGINE_AUTO;
            else {
                fprintf(stderr, "harness exec: --engine %s: expected layer, "
                                "supervisor or auto\n",
                        optarg);
                return -1;
            }
            break;
        case 'h': fputs(usage_text, stdout); return 1;
        case ':':
            fprintf(stderr, "harness exec: %s needs a value\n\n%s",
                    argv[optind - 1], usage_text);
            return -1;
        default:
            fprintf(stderr, "harness exec: unknown option %s\n\n%s",
                    argv[optind - 1], usage_text);
            return -1;
        }
    }
    if ((xc->record_out || xc->record_json || xc->record_timeout_ms) &&
        !xc->record) {
        fprintf(stderr, "harness exec: --record-out, --record-json and "
                        "--record-timeout need --record\n");
        return -1;
    }
    if (!xc->target) {
        fprintf(stderr, "harness exec: --target NAME is required\n\n%s",
                usage_text);
        return -1;
    }
    if (!shunt_valid_name(xc->target)) {
        fprintf(stderr, "harness exec: \"%s\" is not a target name\n", xc->target);
        return -1;
    }
    if (optind >= argc) {
        fprintf(stderr, "harness exec: missing the command to run (after "
                        "--)\n\n%s",
                usage_text);
        return -1;
    }
    if (xc->log_level && !shunt_layercfg_level_ok(xc->log_level)) {
        fprintf(stderr,
                "harness exec: unknown log level \"%s\" (allowed: off, "
                "error, warn, info, debug, trace)\n",
                xc->log_level);
        return -1;
    }
    if (xc->log_file && (!*xc->log_file || strchr(xc->log_file, '\n'))) {
        fprintf(stderr, "harness exec: --log-file: invalid path\n");
        return -1;
    }
    if (xc->journal && xc->journal[0] != '/') {
        fprintf(stderr, "harness exec: --journal: expected an absolute path\n");
        return -1;
    }
    if (xc->unhooked && xc->unhooked[0] != '/') {
        fprintf(stderr, "harness exec: --unhooked-file: expected an absolute "
                        "path\n");
        return -1;
    }
    xc->cmd = argv + optind;
    return 0;
}

/* 1 if the ELF image in fd has a PT_INTERP program header (it is started
 * by the dynamic loader, which honours LD_PRELOAD), 0 if not, -1 if the
 * headers cannot be read. */
static int elf_has_interp(int fd, const unsigned char *ident)
{
    if (ident[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
            eh.e_phentsize != sizeof(Elf64_Phdr))
            return -1;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            off_t off = (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph));
            if (pread(fd, &ph, sizeof(ph), off) != (ssize_t)sizeof(ph))
                return -1;
            if (ph.p_type == PT_INTERP)
                return 1;
        }
        return 0;
    }
    if (ident[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr eh;
        if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
            eh.e_phentsize != sizeof(Elf32_Phdr))
            return -1;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf32_Phdr ph;
            off_t off = (off_t)(eh.e_phoff + (Elf32_Off)i * sizeof(ph));
            if (pread(fd, &ph, sizeof(ph), off) != (ssize_t)sizeof(ph))
                return -1;
            if (ph.p_type == PT_INTERP)
                return 1;
        }
        return 0;
    }
    return -1;
}

/* Refuses what LD_PRELOAD cannot enter: a static ELF, or a #! script whose
 * interpreter is one.  0 when CMD can run under the layer, -1 with why. */
static int check_loadable(const char *path, char *why, size_t whylen,
                          int depth)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* execve will say why */
    unsigned char head[256];
    ssize_t n = pread(fd, head, sizeof(head) - 1, 0);
    if (n < 0)
        n = 0;
    head[n] = 0;
    int rc = 0;
    if (n >= EI_NIDENT && memcmp(head, ELFMAG, SELFMAG) == 0) {
        int interp = elf_has_interp(fd, head);
        if (interp == 0) {
            snprintf(why, whylen,
                     "%s is a statically linked executable (its ELF has no "
                     "PT_INTERP): the layer is loaded with LD_PRELOAD, which "
                     "only the dynamic loader honours, so it cannot enter a "
                     "static binary",
                     path);
            rc = -1;
        }
    } else if (n > 2 && head[0] == '#' && head[1] == '!' &&
               depth < SHEBANG_DEPTH) {
        char *p = (char *)head + 2;
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t\r\n");
        if (len && p[len] != 0) { /* a complete interpreter path */
            p[len] = 0;
            char sub[512];
            if (check_loadable(p, sub, sizeof(sub), depth + 1) < 0) {
                snprintf(why, whylen, "%s: its interpreter %s", path, sub);
                rc = -1;
            }
        }
    }
    close(fd);
    return rc;
}

/* dirname(/proc/self/exe)/../lib/libshunt.so (or --layer), resolved. */
static int find_layer(const char *given, char *out, size_t outlen)
{
    if (given) {
        if (!realpath(given, out) || access(out, R_OK) < 0) {
            fprintf(stderr, "harness exec: --layer %s: %s\n", given, strerror(errno));
            return -1;
        }
        (void)outlen;
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        fprintf(stderr, "harness exec: /proc/self/exe: %s\n", strerror(errno));
        return -1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    char lib[PATH_MAX];
    if (shunt_fmt(lib, sizeof(lib), "%s/../lib/libshunt.so", self) < 0 ||
        !realpath(lib, out) || access(out, R_OK) < 0) {
        fprintf(stderr,
                "harness exec: the layer %s is missing: %s (build the "
                "`shunt` target)\n",
                lib, strerror(errno));
        return -1;
    }
    (void)outlen;
    return 0;
}

/* shunt-supervisor next to the harness executable.  0 or -1 (said why). */
static int find_supervisor(char *out, size_t outlen, int say)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        if (say)
            fprintf(stderr, "harness exec: /proc/self/exe: %s\n",
                    strerror(errno));
        return -1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    if (shunt_fmt(out, outlen, "%s/shunt-supervisor", self) < 0 ||
        access(out, X_OK) < 0) {
        if (!say)
            return -1;
        fprintf(stderr,
                "harness exec: the supervisor %s is missing: %s (build the "
                "`shunt-supervisor` target)\n",
                out, strerror(errno));
        return -1;
    }
    return 0;
}

static int is_session_var(const char *entry)
{
    /* SHUNT_ENV_DONE: a harness exec run from a program under the layer
     * starts a new session, whose program imports the target's env. */
    static const char *const names[] = {
        "LD_PRELOAD", "SHUNT_SOCKET",   "SHUNT_TOKEN",   "SHUNT_CONFIG",
        "SHUNT_BROKER",
        "SHUNT_LOG",  "SHUNT_LOG_FILE", "SHUNT_ENV_DONE", "SHUNT_JOURNAL",
        "SHUNT_MODE", "SHUNT_PROGRAM_LOCAL", "SHUNT_UNHOOKED_FILE",
        "SHUNT_ENGINE", "SHUNT_SUPERVISOR", "SHUNT_SV_ALIVE"};
    for (size_t i = 0; i < SHUNT_ARRAY_LEN(names); i++) {
        size_t n = strlen(names[i]);
        if (strncmp(entry, names[i], n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

static char *env_entry(const char *name, const char *a, const char *b)
{
    size_t len = strlen(name) + 1 + strlen(a) + (b ? 1 + strlen(b) : 0) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s=%s%s%s", name, a, b ? ":" : "", b ? b : "");
    return s;
}

/* The harness's environment with the session's variables set. */
static char **child_env(const char *layer, const shunt_session_t *s,
                        int broker, const char *config_path,
                        const exec_cmd_t *xc)
{
    char bk[16];
    snprintf(bk, sizeof(bk), "%d", broker);
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + 10, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    const char *old_preload = getenv("LD_PRELOAD");
    for (size_t i = 0; i < n; i++) {
        if (is_session_var(environ[i]))
            continue;
        if (!(env[k] = strdup(environ[i])))
            goto oom;
        k++;
    }
    if (old_preload && !*old_preload)
        old_preload = NULL;
    /* the supervisor is no program of the layer's: LD_PRELOAD stays as
     * the user set it */
    if (xc->engine == ENGINE_SUPERVISOR)
        env[k++] = old_preload ? env_entry("LD_PRELOAD", old_preload, NULL)
                               : strdup("SHUNT_ENGINE=supervisor");
    else
        env[k++] = env_entry("LD_PRELOAD", layer, old_preload);
    if (!env[k - 1] ||
        !(env[k++] = env_entry("SHUNT_SOCKET", shunt_session_socket(s), NULL)) ||
        !(env[k++] = env_entry("SHUNT_BROKER", bk, NULL)) ||
        !(env[k++] = env_entry("SHUNT_CONFIG", config_path, NULL)))
        goto oom;
    if (xc->log_level && !(env[k++] = env_entry("SHUNT_LOG", xc->log_level, NULL)))
        goto oom;
    if (xc->log_file && !(env[k++] = env_entry("SHUNT_LOG_FILE", xc->log_file, NULL)))
        goto oom;
    if (xc->journal && xc->engine != ENGINE_SUPERVISOR &&
        !(env[k++] = env_entry("SHUNT_JOURNAL", xc->journal, NULL)))
        goto oom;
    /* a static child of the program goes on under the supervisor */
    char sv_path[PATH_MAX];
    if (find_supervisor(sv_path, sizeof(sv_path), 0) == 0 &&
        !(env[k++] = env_entry("SHUNT_SUPERVISOR", sv_path, NULL)))
        goto oom;
    if (xc->unhooked &&
        !(env[k++] = env_entry("SHUNT_UNHOOKED_FILE", xc->unhooked, NULL)))
        goto oom;
    return env;
oom:
    for (size_t i = 0; i < n + 10; i++)
        free(env[i]);
    free(env);
    return NULL;
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

static int write_config(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0)
        return -errno;
    int rc = shunt_write_full(fd, text, strlen(text));
    close(fd);
    return rc;
}

/* Forks and execs CMD (a file execve cannot run goes to /bin/sh, as
 * execvp does).  Returns the pid, or -errno of the failed exec (the child
 * is reaped). */
static pid_t spawn(const char *path, char **argv, char **envp)
{
    shunt_proc_t p = {.path = path, .argv = argv, .envp = envp,
                      .stdio = {0, 1, 2}, .flags = SHUNT_PROC_SH};
    int r = shunt_proc_spawn(&p, NULL);
    return r < 0 ? r : p.pid;
}

/* Waits for CMD, serving the session and forwarding signals meanwhile.
 * Returns CMD's wait status. */
static int supervise(shunt_session_t *s, int sigfd, pid_t child, int done_fd)
{
    int proxy_dead = 0;
    int same_group = getpgid(child) == getpgrp();
    for (;;) {
        struct pollfd pf[2 + SHUNT_SESSION_POLLFDS] = {
            {.fd = sigfd, .events = POLLIN}};
        size_t n = shunt_session_pollfds(s, pf + 1);
        if (proxy_dead)
            pf[1].fd = -1;
        /* --record: the recorder's thread waits for CMD; it says when. */
        pf[1 + n] = (struct pollfd){.fd = done_fd, .events = POLLIN};
        if (poll(pf, (nfds_t)(2 + n), -1) < 0 && errno != EINTR) {
            LOG_ERROR("poll: %s", strerror(errno));
            break;
        }
        if (shunt_session_events(s, pf + 1, n) < 0)
            proxy_dead = 1; /* logged; CMD's remote calls now fail */
        if (done_fd >= 0 && (pf[1 + n].revents & POLLIN))
            return 0;
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            int sig = (int)si.ssi_signo;
            if (sig == SIGCHLD && done_fd >= 0) {
                shunt_session_reap(s);
                continue;
            }
            if (sig == SIGCHLD) {
                int st;
                pid_t r = waitpid(child, &st, WNOHANG);
                if (r == child)
                    return st;
                shunt_session_reap(s);
                continue;
            }
            /* A terminal's ^C went to the whole foreground process group,
             * CMD included: sending it again would deliver it twice. */
            if (si.ssi_code == SI_KERNEL && same_group)
                continue;
            LOG_DEBUG("forwarding signal %d to pid %d", sig, (int)child);
            kill(child, sig);
        }
    }
    int st = 0;
    shunt_proc_wait(child, &st);
    return st;
}

/* CMD under the recorder: the same supervision, the recorder's thread
 * waiting for CMD's tree. */
static int run_recorded(const exec_cmd_t *xc, shunt_session_t *s, int sigfd,
                        const char *config, const char *path, char **argv,
                        char **envp, int *broker)
{
    char err[1024];
    FILE *journal = NULL;
    int jfd = -1; /* --journal under the supervisor: the recorder writes it */
    if (xc->record_out && !(journal = fopen(xc->record_out, "we"))) {
        fprintf(stderr, "harness exec: %s: %s\n", xc->record_out,
                strerror(errno));
        return SHUNT_EXIT_FAIL;
    }
    if (xc->journal && xc->engine == ENGINE_SUPERVISOR &&
        (jfd = open(xc->journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "harness exec: --journal %s: %s\n", xc->journal,
                strerror(errno));
        if (journal)
            fclose(journal);
        return SHUNT_EXIT_FAIL;
    }
    exec_record_t *x;
    if (exec_record_start(&x, xc->target, config, xc->record_timeout_ms,
                          xc->record, jfd, path, argv, envp, err,
                          sizeof(err)) < 0) {
        fprintf(stderr, "harness exec: %s\n", err);
        if (journal)
            fclose(journal);
        if (jfd >= 0)
            close(jfd);
        return SHUNT_EXIT_FAIL;
    }
    pid_t child = exec_record_pid(x);
    close(*broker); /* CMD has it */
    *broker = -1;
    if (child > 0)
        supervise(s, sigfd, child, exec_record_done_fd(x));
    int st = 0, timed_out = 0;
    size_t leaks = 0;
    int r = exec_record_finish(x, journal, xc->record_json, &st, &leaks,
                               &timed_out);
    if (journal)
        fclose(journal);
    if (jfd >= 0)
        close(jfd);
    if (r < 0) {
        if (child <= 0)
            return SHUNT_EXIT_FAIL; /* the recorder could not trace */
        fprintf(stderr, "harness exec: cannot execute %s: %s\n", path,
                strerror(-r));
        return r == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
    }
    return shunt_proc_exit_code(st);
}

/* --log-file made absolute (abs_log holds it), then the layer's
 * configuration text from --config or the defaults.  0, or -1 (said why). */
static int exec_config(exec_cmd_t *xc, char *abs_log, size_t abs_len, char **config)
{
    char err[2048];
    if (xc->log_file && xc->log_file[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)) ||
            shunt_fmt(abs_log, abs_len, "%s/%s", cwd, xc->log_file) < 0) {
            fprintf(stderr, "harness exec: --log-file: cannot make %s "
                            "absolute\n",
                    xc->log_file);
            return -1;
        }
        xc->log_file = abs_log;
    }
    if (xc->config) {
        if (shunt_layercfg_load(xc->config, xc->log_level, xc->log_file, config,
                                err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
        return 0;
    }
    shunt_yerr_t e = {.file = "--config", .buf = err, .len = sizeof(err)};
    if (shunt_layercfg_render(&e, NULL, xc->log_level, xc->log_file, config) < 0) {
        fprintf(stderr, "harness exec: %s\n", err);
        return -1;
    }
    return 0;
}

/* 1 when path is a dynamically linked Go program the layer would run
 * unhooked (docs/go.md): a Go release older than the layer knows, or a
 * Go file it cannot read its entry points from. */
static int go_unhookable(const char *path, char *why, size_t whylen)
{
    shunt_goinfo_t gi;
    memset(&gi, 0, sizeof(gi));
    char w[256] = "";
    int r = shunt_goinfo_read(path, &gi, w, sizeof(w));
    if (!gi.version[0])
        return 0; /* not Go */
    if (r < 0) {
        snprintf(why, whylen, "%s, a Go program the layer cannot hook: %s",
                 gi.version, w);
        return 1;
    }
    if (gi.major == 1 && gi.minor < 16) {
        snprintf(why, whylen, "%s: the layer hooks Go 1.16 and later",
                 gi.version);
        return 1;
    }
    if (!gi.cgo) {
        snprintf(why, whylen, "%s, built without cgo: Go runs its threads "
                 "on its own TLS, where the layer cannot run", gi.version);
        return 1;
    }
    return 0;
}

/* CMD as PATH finds it, and the engine that runs it (xc->engine is set
 * from auto).  0, or the exit status (said why). */
static int exec_resolve(exec_cmd_t *xc, char *path, size_t len)
{
    int rr = shunt_proc_find(xc->cmd[0], path, len);
    if (rr == -EACCES) {
        fprintf(stderr, "harness exec: %s: permission denied\n",
                path[0] ? path : xc->cmd[0]);
        return EXIT_CANNOT_RUN;
    }
    if (rr < 0) {
        fprintf(stderr, "harness exec: %s: %s\n", xc->cmd[0],
                rr == -ENOENT && !strchr(xc->cmd[0], '/')
                    ? "command not found"
                    : strerror(-rr));
        return EXIT_NOT_FOUND;
    }
    if (xc->engine == ENGINE_SUPERVISOR)
        return 0;
    char why[1024];
    if (check_loadable(path, why, sizeof(why), 0) < 0) {
        if (xc->engine == ENGINE_AUTO) {
            LOG_INFO("engine: supervisor for %s (%s)", xc->cmd[0], why);
            xc->engine = ENGINE_SUPERVISOR;
            return 0;
        }
        fprintf(stderr, "harness exec: refusing to run %s: %s (--engine "
                        "supervisor runs it)\n",
                xc->cmd[0], why);
        return EXIT_CANNOT_RUN;
    }
    if (xc->engine == ENGINE_AUTO && go_unhookable(path, why, sizeof(why))) {
        LOG_INFO("engine: supervisor for %s (%s)", xc->cmd[0], why);
        xc->engine = ENGINE_SUPERVISOR;
        return 0;
    }
    if (xc->engine == ENGINE_AUTO)
        LOG_INFO("engine: layer for %s (dynamically linked)", xc->cmd[0]);
    xc->engine = ENGINE_LAYER;
    return 0;
}

/* The signals harness exec forwards or waits for, blocked and read from a
 * signalfd (returned; -1 said why). */
static int exec_signals(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0)
        fprintf(stderr, "harness exec: signalfd: %s\n", strerror(errno));
    return sigfd;
}

/* The session: the agent in the target and the proxy on a private
 * socket.  0, or -1 (said why). */
static int exec_session(const exec_cmd_t *xc, const shunt_target_info_t *info,
                        int sigfd, shunt_session_t **s)
{
    shunt_session_opts_t so = {
        .who = "harness exec",
        .target = xc->target,
        .init_pid = info->init_pid,
        .private_socket = 1,
        .agent = xc->agent,
        .sigfd = sigfd,
    };
    /* The agent logs at the harness's level: its info lines would mix with
     * CMD's stderr otherwise. */
    static const char *const level_names[] = {"error", "warn", "info",
                                              "debug", "trace"};
    so.log_level = level_names[shunt_log_get_level() <= SHUNT_LOG_TRACE
                                   ? shunt_log_get_level()
                                   : SHUNT_LOG_TRACE];
    return shunt_session_start(&so, s) != 0 ? -1 : 0;
}

/* The layer's configuration as a file, config_path in config_dir,
 * readable by every user: a program that drops root (nginx's workers,
 * setpriv, su) reads it again in each image it execs, and the session's
 * own directory is root's alone.  It holds no secret.  0, or -1 (said
 * why); what was created is named in config_dir and config_path (""
 * otherwise) for the caller to remove. */
static int write_layer_config(shunt_session_t *s, const char *config,
                              char *config_dir, size_t dlen, char *config_path,
                              size_t plen)
{
    int wr = -ENAMETOOLONG;
    if (shunt_fmt(config_dir, dlen, "%s-conf", shunt_session_tmpdir(s)) == 0 &&
        shunt_fmt(config_path, plen, "%s/layer.conf", config_dir) == 0) {
        if (mkdir(config_dir, 0755) < 0 || chmod(config_dir, 0755) < 0) {
            wr = -errno;
            if (errno == EEXIST)
                config_dir[0] = 0; /* not ours */
        } else if ((wr = write_config(config_path, config)) == 0 &&
                   chmod(config_path, 0644) < 0) {
            wr = -errno;
        }
    } else {
        config_dir[0] = 0;
    }
    if (wr < 0) {
        fprintf(stderr, "harness exec: %s: %s\n", config_path, strerror(-wr));
        config_path[0] = 0;
        return -1;
    }
    return 0;
}

/* CMD under the layer in the session (or under the recorder too), until
 * it ends.  Its exit status, or harness exec's own. */
/* What to start for the supervisor engine: shunt-supervisor -- CMD, with
 * SHUNT_SV_ALIVE (alive[1]: the supervisor holds it until it is done --
 * files written under read_write are stored when the program releases
 * them, which may be at its exit -- so the session stays until then).
 * 0 with *argv and *env (the caller frees both arrays, not the strings;
 * var is the storage of the added variable), or -1 (said why). */
static int supervisor_cmd(const exec_cmd_t *xc, char **envp, char *sv_path,
                          size_t plen, int alive[2], char *var, size_t vlen,
                          char ***argv_out, char ***env_out)
{
    size_t argc = 0, ne = 0;
    while (xc->cmd[argc])
        argc++;
    while (envp[ne])
        ne++;
    char **argv = calloc(argc + 3, sizeof(*argv));
    char **env = calloc(ne + 2, sizeof(*env));
    if (!argv || !env || find_supervisor(sv_path, plen, 1) < 0) {
        free(argv);
        free(env);
        if (!argv || !env)
            fprintf(stderr, "harness exec: out of memory\n");
        return -1;
    }
    argv[0] = "shunt-supervisor";
    argv[1] = "--";
    for (size_t i = 0; i < argc; i++)
        argv[2 + i] = xc->cmd[i];
    memcpy(env, envp, ne * sizeof(*env));
    if (pipe2(alive, O_CLOEXEC) == 0 && fcntl(alive[1], F_SETFD, 0) == 0) {
        snprintf(var, vlen, "SHUNT_SV_ALIVE=%d", alive[1]);
        env[ne] = var;
    }
    *argv_out = argv;
    *env_out = env;
    return 0;
}

/* CMD under the layer in the session (or under the recorder too), until
 * it ends.  Its exit status, or harness exec's own. */
static int exec_program(const exec_cmd_t *xc, shunt_session_t *s, int sigfd,
                        const char *config, const char *layer, const char *path,
                        const char *config_path)
{
    int rc = SHUNT_EXIT_FAIL;
    char **envp = NULL, **sv_argv = NULL, **sv_env = NULL;
    int alive[2] = {-1, -1};
    char sv_path[PATH_MAX], var[48];
    /* what is started: CMD, or the supervisor that becomes CMD (same
     * pid) once its filter is on */
    const char *run_path = path;
    char **run_argv = xc->cmd, **run_env;
    /* The program's session is its broker, inherited (not close-on-exec):
     * no token in its environment, nothing it loses by a change of user
     * (docs/exec.md). */
    int broker = shunt_session_take_broker(s);
    if (broker < 0 || fcntl(broker, F_SETFD, 0) < 0) {
        fprintf(stderr, "harness exec: no broker for the session\n");
        goto out;
    }
    if (!(envp = child_env(layer, s, broker, config_path, xc))) {
        fprintf(stderr, "harness exec: out of memory\n");
        goto out;
    }
    run_env = envp;
    if (xc->engine == ENGINE_SUPERVISOR) {
        if (supervisor_cmd(xc, envp, sv_path, sizeof(sv_path), alive, var,
                           sizeof(var), &sv_argv, &sv_env) < 0)
            goto out;
        run_path = sv_path;
        run_argv = sv_argv;
        run_env = sv_env;
        LOG_INFO("running %s under the supervisor (session socket %s)", path,
                 shunt_session_socket(s));
    } else {
        LOG_INFO("running %s under %s (session socket %s)", path, layer,
                 shunt_session_socket(s));
    }
    pid_t child;
    /* under the supervisor, the journal is the recorder's */
    if (xc->record || (xc->journal && xc->engine == ENGINE_SUPERVISOR)) {
        if (alive[1] >= 0) {
            close(alive[1]); /* (kept by the supervisor's copy) */
            alive[1] = -1;
        }
        rc = run_recorded(xc, s, sigfd, config, run_path, run_argv, run_env,
                          &broker);
        goto out;
    }
    child = spawn(run_path, run_argv, run_env);
    if (alive[1] >= 0) {
        close(alive[1]);
        alive[1] = -1;
    }
    close(broker); /* the program has it: the proxy sees when all are gone */
    broker = -1;
    if (child < 0) {
        fprintf(stderr, "harness exec: cannot execute %s: %s\n", path,
                strerror((int)-child));
        rc = child == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
        goto out;
    }
    int st = supervise(s, sigfd, child, -1);
    char how[96];
    shunt_describe_status(st, how, sizeof(how));
    LOG_INFO("%s (pid %d) %s", xc->cmd[0], (int)child, how);
    rc = shunt_proc_exit_code(st);
out:
    if (alive[0] >= 0) {
        /* the supervisor's last uploads (bounded: a hung one must not
         * keep harness exec) */
        if (alive[1] >= 0)
            close(alive[1]);
        alive[1] = -1;
        struct pollfd pf = {.fd = alive[0], .events = POLLIN};
        char b;
        uint64_t until = shunt_now_ms() + 30000;
        while (shunt_now_ms() < until &&
               poll(&pf, 1, (int)(until - shunt_now_ms())) > 0 &&
               read(alive[0], &b, 1) > 0)
            ;
        close(alive[0]);
    }
    if (broker >= 0)
        close(broker);
    free(sv_argv);
    free(sv_env);
    free_env(envp);
    return rc;
}

static int run(exec_cmd_t *xc)
{
    char err[2048];
    shunt_target_info_t info;
    if (shunt_target_info(xc->target, &info, err, sizeof(err)) < 0) {
        fprintf(stderr,
                "harness exec: %s\n"
                "harness exec: start it with `harness up SCENARIO.yaml` "
                "(`harness status` lists targets)\n",
                err);
        return SHUNT_EXIT_FAIL;
    }
    char layer[PATH_MAX], abs_log[PATH_MAX], path[PATH_MAX];
    char *config = NULL;
    if (find_layer(xc->layer, layer, sizeof(layer)) < 0 ||
        exec_config(xc, abs_log, sizeof(abs_log), &config) < 0)
        return SHUNT_EXIT_FAIL;
    int rc = exec_resolve(xc, path, sizeof(path));
    if (rc != 0) {
        free(config);
        return rc;
    }
    int sigfd = exec_signals();
    shunt_session_t *s;
    if (sigfd < 0 || exec_session(xc, &info, sigfd, &s) < 0) {
        if (sigfd >= 0)
            close(sigfd);
        free(config);
        return SHUNT_EXIT_FAIL;
    }
    char config_dir[PATH_MAX] = "", config_path[PATH_MAX] = "";
    rc = SHUNT_EXIT_FAIL;
    if (write_layer_config(s, config, config_dir, sizeof(config_dir), config_path,
                           sizeof(config_path)) == 0)
        rc = exec_program(xc, s, sigfd, config, layer, path, config_path);
    if (config_path[0])
        unlink(config_path);
    if (config_dir[0])
        rmdir(config_dir);
    shunt_session_end(s);
    close(sigfd);
    free(config);
    return rc;
}

int cmd_exec(int argc, char **argv)
{
    exec_cmd_t xc = {0};
    int pr = parse_args(&xc, argc, argv);
    if (pr != 0)
        return pr > 0 ? SHUNT_EXIT_OK : SHUNT_EXIT_USAGE;
    shunt_log_init("exec", shunt_log_get_level(), 2);
    return run(&xc);
}
