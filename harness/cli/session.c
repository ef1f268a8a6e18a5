/* A session on the harness side: shunt-agent next to the target and the
 * session proxy on a thread of this process (docs/proxy.md). */
#include "session.h"
#include "shunt/target.h"

#include "shunt/log.h"
#include "shunt/proc.h"
#include "shunt/proxy.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_BYTES 32
#define AGENT_READY_TIMEOUT_MS 15000
#define AGENT_STOP_GRACE_MS 3000
#define STDERR_TAIL 8192

struct shunt_session {
    shunt_session_opts_t o;
    char tmpdir[64];
    int tmpdir_lock; /* fd of tmpdir, flock'ed while the session lives */
    char agent_token_path[128];
    char socket_path[PATH_MAX];
    char layer_token_path[PATH_MAX + 8];
    char agent_path[PATH_MAX];
    char layer_token[2 * TOKEN_BYTES + 1];
    pid_t agent_pid;
    int agent_out, agent_err; /* pipes from the agent, -1 when closed */
    char err_tail[STDERR_TAIL]; /* the agent's latest stderr output */
    size_t err_len;
    int forward;      /* after start-up, agent output goes to our stderr */
    char line[256];   /* start-up: the agent's stdout so far */
    size_t line_len;
    /* the proxy and its thread */
    shunt_proxy_t *proxy;
    pthread_t thread;
    int thread_started;
    int done[2]; /* written by the thread when the loop returns */
    int loop_rc;
};

static const char *who(const shunt_session_t *s)
{
    return s->o.who ? s->o.who : "harness";
}

/* Remembers the tail of what the agent wrote on stderr, for error reports. */
static void keep_tail(shunt_session_t *s, const char *buf, size_t n)
{
    if (n >= sizeof(s->err_tail) - 1) {
        buf += n - (sizeof(s->err_tail) - 1);
        n = sizeof(s->err_tail) - 1;
    }
    if (s->err_len + n > sizeof(s->err_tail) - 1) {
        size_t drop = s->err_len + n - (sizeof(s->err_tail) - 1);
        memmove(s->err_tail, s->err_tail + drop, s->err_len - drop);
        s->err_len -= drop;
    }
    memcpy(s->err_tail + s->err_len, buf, n);
    s->err_len += n;
    s->err_tail[s->err_len] = 0;
}

/* Reads what a pipe from the agent has; closes it on EOF. */
static void drain(shunt_session_t *s, int *fd, int is_stdout)
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
    if (s->forward) {
        ssize_t w = write(2, buf, (size_t)n); /* never our stdout */
        (void)w;
    }
    if (!is_stdout) {
        keep_tail(s, buf, (size_t)n);
    } else if (!s->forward) {
        size_t room = sizeof(s->line) - 1 - s->line_len;
        size_t k = (size_t)n < room ? (size_t)n : room;
        memcpy(s->line + s->line_len, buf, k);
        s->line_len += k;
        s->line[s->line_len] = 0;
    }
}

/* Reads the agent's pipes until both close or timeout_ms passes (a helper
 * process of the agent may still hold them). */
static void drain_all(shunt_session_t *s, int timeout_ms)
{
    uint64_t deadline = shunt_now_ms() + (uint64_t)timeout_ms;
    while (s->agent_out >= 0 || s->agent_err >= 0) {
        uint64_t now = shunt_now_ms();
        if (now >= deadline)
            break;
        struct pollfd pf[2] = {{.fd = s->agent_out, .events = POLLIN},
                               {.fd = s->agent_err, .events = POLLIN}};
        if (poll(pf, 2, (int)(deadline - now)) <= 0)
            break;
        if (pf[0].revents)
            drain(s, &s->agent_out, 1);
        if (pf[1].revents)
            drain(s, &s->agent_err, 0);
    }
}

static void report_agent_failure(shunt_session_t *s, const char *what)
{
    fprintf(stderr, "%s: %s\n", who(s), what);
    if (s->err_len) {
        fprintf(stderr, "--- shunt-agent stderr ---\n%s", s->err_tail);
        if (s->err_tail[s->err_len - 1] != '\n')
            fputc('\n', stderr);
        fprintf(stderr, "---\n");
    } else {
        fprintf(stderr, "(shunt-agent wrote nothing on stderr)\n");
    }
}

void shunt_describe_status(int st, char *out, size_t outlen)
{
    if (WIFEXITED(st))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(out, outlen, "stopped (status 0x%x)", st);
}

static int find_agent(shunt_session_t *s)
{
    if (s->o.agent) {
        snprintf(s->agent_path, sizeof(s->agent_path), "%s", s->o.agent);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
            fprintf(stderr, "%s: /proc/self/exe: %s\n", who(s),
                    strerror(errno));
            return -1;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = 0;
        if (shunt_fmt(s->agent_path, sizeof(s->agent_path),
                      "%s/shunt-agent", self) < 0) {
            fprintf(stderr, "%s: path too long: %s\n", who(s), self);
            return -1;
        }
    }
    if (access(s->agent_path, X_OK) < 0) {
        fprintf(stderr, "%s: cannot run %s: %s%s\n", who(s), s->agent_path,
                strerror(errno), s->o.agent ? "" : " (use --agent PATH)");
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

static int spawn_agent(shunt_session_t *s)
{
    char pidbuf[16];
    snprintf(pidbuf, sizeof(pidbuf), "%d", s->o.init_pid);
    const char *argv[16];
    int n = 0;
    argv[n++] = s->agent_path;
    if (s->o.root) {
        argv[n++] = "--root";
        argv[n++] = s->o.root;
    } else {
        argv[n++] = "--target-pid";
        argv[n++] = pidbuf;
    }
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--token-file";
    argv[n++] = s->agent_token_path;
    /* The proxy is the agent's only client: every session's handles and
     * streams count against one client's limit. */
    argv[n++] = "--max-fds";
    argv[n++] = "65536";
    if (s->o.log_level) {
        argv[n++] = "--log-level";
        argv[n++] = s->o.log_level;
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
    /* A session of its own, no terminal: ^C is ours to forward, /dev/tty
     * not its; and it dies with us. */
    shunt_proc_t p = {.path = s->agent_path, .argv = (char *const *)argv,
                      .stdio = {SHUNT_PROC_NULL, out[1], errp[1]},
                      .flags = SHUNT_PROC_SESSION | SHUNT_PROC_PDEATH};
    int r = shunt_proc_spawn(&p, NULL);
    pid_t pid = p.pid;
    if (r < 0) {
        close(out[0]);
        close(out[1]);
        close(errp[0]);
        close(errp[1]);
        return r;
    }
    close(out[1]);
    close(errp[1]);
    s->agent_pid = pid;
    s->agent_out = out[0];
    s->agent_err = errp[0];
    shunt_set_nonblock(s->agent_out, 1);
    shunt_set_nonblock(s->agent_err, 1);
    return 0;
}

static int reap_agent(shunt_session_t *s, int *status)
{
    if (s->agent_pid <= 0)
        return 0;
    pid_t r = waitpid(s->agent_pid, status, WNOHANG);
    if (r == s->agent_pid) {
        s->agent_pid = 0;
        return 1;
    }
    return 0;
}

/* Reads the caller's signalfd: *stop for anything but SIGCHLD. */
static void read_signals(shunt_session_t *s, int *stop, int *child)
{
    struct signalfd_siginfo si;
    if (s->o.sigfd < 0)
        return;
    while (read(s->o.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            *child = 1;
        else
            *stop = 1;
    }
}

/* Waits for the agent's "listening on ADDR" line.  0 with addr filled, 1 if
 * asked to stop meanwhile, -1 on failure (reported). */
static int wait_ready(shunt_session_t *s, char *addr, size_t addrlen)
{
    uint64_t deadline = shunt_now_ms() + AGENT_READY_TIMEOUT_MS;
    for (;;) {
        char *nl = strchr(s->line, '\n');
        if (nl) {
            *nl = 0;
            const char *pfx = "listening on ";
            char *at = strstr(s->line, pfx);
            if (!at) {
                char msg[400];
                snprintf(msg, sizeof(msg),
                         "shunt-agent printed \"%s\" instead of \"listening "
                         "on ADDR\"",
                         s->line);
                report_agent_failure(s, msg);
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
            report_agent_failure(s, msg);
            return -1;
        }
        struct pollfd pf[3] = {{.fd = s->o.sigfd, .events = POLLIN},
                               {.fd = s->agent_out, .events = POLLIN},
                               {.fd = s->agent_err, .events = POLLIN}};
        int r = poll(pf, 3, (int)(deadline - now));
        if (r < 0 && errno != EINTR)
            return -1;
        if (pf[2].revents)
            drain(s, &s->agent_err, 0);
        if (pf[1].revents)
            drain(s, &s->agent_out, 1);
        int stop = 0, child = 0;
        if (pf[0].revents)
            read_signals(s, &stop, &child);
        if (stop)
            return 1;
        int st = 0;
        if ((child || s->agent_out < 0) && !strchr(s->line, '\n')) {
            int exited = reap_agent(s, &st);
            if (exited || s->agent_out < 0) {
                drain_all(s, 500); /* its last words */
                char msg[160], how[96] = "closed its stdout";
                if (exited)
                    shunt_describe_status(st, how, sizeof(how));
                snprintf(msg, sizeof(msg),
                         "shunt-agent %s before it was ready", how);
                report_agent_failure(s, msg);
                return -1;
            }
        }
    }
}

static void stop_agent(shunt_session_t *s)
{
    if (s->agent_pid <= 0)
        return;
    pid_t group = s->agent_pid; /* the agent leads its own process group */
    kill(s->agent_pid, SIGTERM);
    kill(s->agent_pid, SIGCONT); /* a stopped agent would never see it */
    uint64_t deadline = shunt_now_ms() + AGENT_STOP_GRACE_MS;
    int st;
    while (!reap_agent(s, &st)) {
        uint64_t now = shunt_now_ms();
        if (now >= deadline) {
            LOG_WARN("shunt-agent (pid %d) ignored SIGTERM for %d ms; "
                     "killing it",
                     (int)s->agent_pid, AGENT_STOP_GRACE_MS);
            kill(s->agent_pid, SIGKILL);
            shunt_proc_wait(s->agent_pid, &st);
            s->agent_pid = 0;
            break;
        }
        struct pollfd pf[3] = {{.fd = s->o.sigfd, .events = POLLIN},
                               {.fd = s->agent_out, .events = POLLIN},
                               {.fd = s->agent_err, .events = POLLIN}};
        int r = poll(pf, 3, (int)(deadline - now));
        if (r > 0) {
            if (pf[1].revents)
                drain(s, &s->agent_out, 1);
            if (pf[2].revents)
                drain(s, &s->agent_err, 0);
            if (pf[0].revents) {
                int stop = 0, c = 0;
                read_signals(s, &stop, &c);
            }
        }
    }
    kill(-group, SIGKILL); /* helpers it left behind, if any */
}

static void *run_proxy(void *arg)
{
    shunt_session_t *s = arg;
    s->loop_rc = shunt_proxy_run(s->proxy);
    char b = 1;
    ssize_t w = write(s->done[1], &b, 1);
    (void)w;
    return NULL;
}

static void cleanup_files(shunt_session_t *s)
{
    if (s->layer_token_path[0])
        unlink(s->layer_token_path);
    if (s->agent_token_path[0])
        unlink(s->agent_token_path);
    if (s->socket_path[0])
        unlink(s->socket_path); /* also removed by shunt_proxy_free */
    if (s->tmpdir[0]) {
        char p[128];
        if (shunt_fmt(p, sizeof(p), "%s/owned", s->tmpdir) == 0)
            unlink(p);
        rmdir(s->tmpdir);
    }
    if (s->tmpdir_lock >= 0)
        close(s->tmpdir_lock);
    s->tmpdir_lock = -1;
}

/* ---- leftovers of sessions that died (kill -9, a crash in teardown) ------
 * A session holds an flock on its /tmp/shunt-session-XXXXXX directory for
 * as long as it lives (the kernel drops it when the process dies, however
 * it dies).  Its secrets are files in that directory (agent.token, the
 * private socket and its .token) and, for a target's shared socket, the
 * layer's token next to it, whose path and inode the directory's "owned"
 * file records.  Every session start removes the directories nobody holds
 * and what they own: nothing secret outlives the next session. */
static void remove_owned(int dfd)
{
    char buf[PATH_MAX + 64];
    int fd = openat(dfd, "owned", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long dev, ino;
        int off = 0;
        if (sscanf(line, "%llu %llu %n", &dev, &ino, &off) != 2 || line[off] != '/')
            continue;
        struct stat st;
        /* only the very file that session wrote (a later session's file at
         * the same path is another inode) */
        if (lstat(line + off, &st) == 0 && (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)) &&
            (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
            unlink(line + off);
    }
}

/* NAME-conf (harness exec's layer configuration, readable by every user,
 * so not beside the secrets in NAME) goes with its session NAME, never
 * while NAME lives: programs read it again at every exec, and removing it
 * under a live session left them without their policy. */
static void remove_conf(int tmp, const char *session)
{
    char name[300];
    if (shunt_fmt(name, sizeof(name), "%s-conf", session) < 0)
        return;
    int dfd = openat(tmp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    struct stat st;
    if (fstat(dfd, &st) == 0 && st.st_uid == geteuid()) {
        unlinkat(dfd, "layer.conf", 0);
        unlinkat(tmp, name, AT_REMOVEDIR);
    }
    close(dfd);
}

/* One /tmp/shunt-session-* directory nobody holds: removed with what it
 * owns and its -conf; one that is held (alive), another user's, or empty
 * and younger than a minute is left alone. */
static void remove_if_dead(int tmp, const char *name)
{
    size_t len = strlen(name);
    if (len > 5 && strcmp(name + len - 5, "-conf") == 0) {
        /* a configuration whose session is already gone */
        char base[300];
        struct stat st;
        if (len - 5 < sizeof(base)) {
            memcpy(base, name, len - 5);
            base[len - 5] = 0;
            if (fstatat(tmp, base, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                remove_conf(tmp, base);
        }
        return;
    }
    int dfd = openat(tmp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    struct stat st;
    if (fstat(dfd, &st) < 0 || st.st_uid != geteuid() ||
        flock(dfd, LOCK_EX | LOCK_NB) < 0) { /* another user's, or alive */
        close(dfd);
        return;
    }
    /* Unlocked.  Entries are made only after the lock is taken, so an
     * empty directory may be a session between mkdtemp and flock: left
     * alone unless a minute old. */
    DIR *sd = fdopendir(dup(dfd));
    struct dirent *f;
    int n = 0;
    while (sd && (f = readdir(sd)))
        n += strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0;
    if (sd)
        rewinddir(sd);
    if (n == 0 && st.st_mtime + 60 > time(NULL)) {
        if (sd)
            closedir(sd);
        close(dfd);
        return;
    }
    remove_owned(dfd);
    while (sd && (f = readdir(sd)))
        if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0)
            unlinkat(dfd, f->d_name, 0);
    if (sd)
        closedir(sd);
    if (unlinkat(tmp, name, AT_REMOVEDIR) == 0) {
        LOG_INFO("removed %s, left by a session that died", name);
        remove_conf(tmp, name);
    }
    close(dfd);
}

static void remove_dead_sessions(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "shunt-session-", 14) == 0)
            remove_if_dead(dirfd(d), e->d_name);
    closedir(d);
}

/* Records in tmpdir/owned a secret this session keeps outside tmpdir. */
static void record_owned(shunt_session_t *s, const char *path)
{
    struct stat st;
    char p[128];
    if (lstat(path, &st) < 0 || shunt_fmt(p, sizeof(p), "%s/owned", s->tmpdir) < 0)
        return;
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    dprintf(fd, "%llu %llu %s\n", (unsigned long long)st.st_dev,
            (unsigned long long)st.st_ino, path);
    close(fd);
}

static void teardown(shunt_session_t *s)
{
    if (s->thread_started) {
        shunt_proxy_stop(s->proxy);
        pthread_join(s->thread, NULL);
    }
    if (s->proxy)
        shunt_proxy_free(s->proxy);
    for (int i = 0; i < 2; i++)
        if (s->done[i] >= 0)
            close(s->done[i]);
    stop_agent(s);
    drain_all(s, 200);
    if (s->agent_out >= 0)
        close(s->agent_out);
    if (s->agent_err >= 0)
        close(s->agent_err);
    cleanup_files(s);
    free(s);
}

static int start(shunt_session_t *s)
{
    if (find_agent(s) < 0)
        return -1;
    remove_dead_sessions();
    snprintf(s->tmpdir, sizeof(s->tmpdir), "/tmp/shunt-session-XXXXXX");
    if (!mkdtemp(s->tmpdir)) {
        fprintf(stderr, "%s: mkdtemp: %s\n", who(s), strerror(errno));
        s->tmpdir[0] = 0;
        return -1;
    }
    s->tmpdir_lock = open(s->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->tmpdir_lock < 0 || flock(s->tmpdir_lock, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "%s: %s: %s\n", who(s), s->tmpdir, strerror(errno));
        return -1;
    }
    int fmt;
    if (s->o.socket)
        fmt = shunt_fmt(s->socket_path, sizeof(s->socket_path), "%s",
                        s->o.socket);
    else if (s->o.target && !s->o.private_socket)
        fmt = shunt_fmt(s->socket_path, sizeof(s->socket_path),
                        "%s/%s/proxy.sock", SHUNT_STATE_ROOT, s->o.target);
    else
        fmt = shunt_fmt(s->socket_path, sizeof(s->socket_path),
                        "%s/proxy.sock", s->tmpdir);
    if (fmt == 0)
        fmt = shunt_fmt(s->layer_token_path, sizeof(s->layer_token_path),
                        "%s.token", s->socket_path);
    shunt_fmt(s->agent_token_path, sizeof(s->agent_token_path),
              "%s/agent.token", s->tmpdir);
    if (fmt < 0) {
        fprintf(stderr, "%s: socket path too long\n", who(s));
        s->socket_path[0] = s->layer_token_path[0] = 0;
        return -1;
    }
    char agent_token[2 * TOKEN_BYTES + 1];
    if (random_hex(agent_token, TOKEN_BYTES) < 0 ||
        random_hex(s->layer_token, TOKEN_BYTES) < 0) {
        fprintf(stderr, "%s: getrandom failed\n", who(s));
        return -1;
    }
    int wr = write_secret(s->agent_token_path, agent_token);
    if (wr < 0) {
        fprintf(stderr, "%s: %s: %s\n", who(s), s->agent_token_path,
                strerror(-wr));
        return -1;
    }
    int sr = spawn_agent(s);
    if (sr < 0) {
        fprintf(stderr, "%s: cannot start %s: %s\n", who(s), s->agent_path,
                strerror(-sr));
        return -1;
    }
    char addr[128];
    int ready = wait_ready(s, addr, sizeof(addr));
    if (ready != 0)
        return ready;
    /* the agent read its token at start: no need to keep it on disk */
    unlink(s->agent_token_path);
    s->forward = 1; /* from now on the agent's logs join ours */
    if (s->err_len) {
        ssize_t w = write(2, s->err_tail, s->err_len);
        (void)w;
    }
    wr = write_secret(s->layer_token_path, s->layer_token);
    if (wr < 0) {
        fprintf(stderr, "%s: %s: %s\n", who(s), s->layer_token_path,
                strerror(-wr));
        return -1;
    }
    if (strncmp(s->layer_token_path, s->tmpdir, strlen(s->tmpdir)) != 0)
        record_owned(s, s->layer_token_path);
    /* The live incoming subscriptions, for the runner and `harness status`
     * (docs/incoming.md): STATE/NAME/incoming/PID. */
    char instatus[PATH_MAX] = "";
    if (s->o.target) {
        char dir[PATH_MAX - 32];
        snprintf(dir, sizeof(dir), "%s/%s/incoming", SHUNT_STATE_ROOT,
                 s->o.target);
        if (mkdir(dir, 0755) == 0 || errno == EEXIST)
            snprintf(instatus, sizeof(instatus), "%s/%d", dir, (int)getpid());
    }
    shunt_proxy_opts_t po = {
        .incoming_status = instatus[0] ? instatus : NULL,
        .socket_path = s->socket_path,
        .agent_addr = addr,
        .agent_token = agent_token,
        .agent_token_len = strlen(agent_token),
        .layer_token = s->layer_token,
        .layer_token_len = strlen(s->layer_token),
        .broker = s->o.private_socket, /* harness exec: the program's */
    };
    char err[1024];
    s->proxy = shunt_proxy_new(&po, err, sizeof(err));
    if (!s->proxy) {
        fprintf(stderr, "%s: %s\n", who(s), err);
        return -1;
    }
    if (strncmp(s->socket_path, s->tmpdir, strlen(s->tmpdir)) != 0)
        record_owned(s, s->socket_path);
    if (pipe2(s->done, O_CLOEXEC | O_NONBLOCK) < 0) {
        s->done[0] = s->done[1] = -1;
        fprintf(stderr, "%s: pipe: %s\n", who(s), strerror(errno));
        return -1;
    }
    int te = pthread_create(&s->thread, NULL, run_proxy, s);
    if (te != 0) {
        fprintf(stderr, "%s: pthread_create: %s\n", who(s), strerror(te));
        return -1;
    }
    s->thread_started = 1;
    LOG_INFO("proxy for %s%s ready on %s (agent pid %d)",
             s->o.target ? "target " : "root ",
             s->o.target ? s->o.target : s->o.root, s->socket_path,
             (int)s->agent_pid);
    return 0;
}

int shunt_session_start(const shunt_session_opts_t *o, shunt_session_t **out)
{
    *out = NULL;
    shunt_session_t *s = calloc(1, sizeof(*s));
    if (!s) {
        fprintf(stderr, "%s: out of memory\n", o->who ? o->who : "harness");
        return -1;
    }
    s->o = *o;
    s->agent_out = s->agent_err = -1;
    s->tmpdir_lock = -1;
    s->done[0] = s->done[1] = -1;
    int rc = start(s);
    if (rc != 0) {
        teardown(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *shunt_session_socket(const shunt_session_t *s)
{
    return s->socket_path;
}

const char *shunt_session_token(const shunt_session_t *s)
{
    return s->layer_token;
}

const char *shunt_session_tmpdir(const shunt_session_t *s)
{
    return s->tmpdir;
}

pid_t shunt_session_agent_pid(const shunt_session_t *s)
{
    return s->agent_pid;
}

size_t shunt_session_pollfds(const shunt_session_t *s, struct pollfd *pf)
{
    pf[0] = (struct pollfd){.fd = s->done[0], .events = POLLIN};
    pf[1] = (struct pollfd){.fd = s->agent_out, .events = POLLIN};
    pf[2] = (struct pollfd){.fd = s->agent_err, .events = POLLIN};
    return SHUNT_SESSION_POLLFDS;
}

int shunt_session_events(shunt_session_t *s, const struct pollfd *pf,
                         size_t n)
{
    if (n < SHUNT_SESSION_POLLFDS)
        return 0;
    if (pf[1].revents && s->agent_out >= 0)
        drain(s, &s->agent_out, 1);
    if (pf[2].revents && s->agent_err >= 0)
        drain(s, &s->agent_err, 0);
    if (pf[0].revents) {
        LOG_ERROR("the proxy loop stopped: %s",
                  strerror(s->loop_rc < 0 ? -s->loop_rc : EIO));
        return -1;
    }
    return 0;
}

int shunt_session_reap(shunt_session_t *s)
{
    int st;
    if (!reap_agent(s, &st))
        return 0;
    char how[96];
    shunt_describe_status(st, how, sizeof(how));
    LOG_ERROR("shunt-agent %s; requests through the proxy now fail with EIO",
              how);
    return 1;
}

void shunt_session_end(shunt_session_t *s)
{
    if (s)
        teardown(s);
}

int shunt_session_take_broker(shunt_session_t *s)
{
    return s && s->proxy ? shunt_proxy_take_broker(s->proxy) : -1;
}
