/* The process toolkit (shunt/proc.h). */
#include "shunt/proc.h"
#include "shunt/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int shunt_proc_find(const char *cmd, char *out, size_t outlen)
{
    struct stat st;
    if (strchr(cmd, '/')) {
        if (shunt_fmt(out, outlen, "%s", cmd) < 0)
            return -ENAMETOOLONG;
        if (stat(out, &st) < 0)
            return -errno;
        if (S_ISDIR(st.st_mode) || access(out, X_OK) < 0)
            return -EACCES;
        return 0;
    }
    if (!*cmd)
        return -ENOENT;
    /* The same PATH the layer's policy makes local (policy/progloc_rules.c
     * takes its absolute directories): what is found here is local. */
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    int denied = 0;
    char denied_path[PATH_MAX] = "";
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char cand[PATH_MAX];
        int w = n ? shunt_fmt(cand, sizeof(cand), "%.*s/%s", (int)n, p, cmd)
                  : shunt_fmt(cand, sizeof(cand), "%s", cmd);
        if (w == 0 && stat(cand, &st) == 0 && !S_ISDIR(st.st_mode)) {
            if (access(cand, X_OK) == 0)
                return shunt_fmt(out, outlen, "%s", cand) < 0 ? -ENAMETOOLONG : 0;
            if (!denied) {
                denied = 1;
                snprintf(denied_path, sizeof(denied_path), "%s", cand);
            }
        }
        if (!end)
            break;
        p = end;
    }
    if (denied) {
        snprintf(out, outlen, "%s", denied_path);
        return -EACCES;
    }
    return -ENOENT;
}

/* The child's stdio: fd i of the child from stdio[i].  0 or an errno. */
static int map_stdio(const int stdio[3])
{
    for (int i = 0; i < 3; i++) {
        int fd = stdio[i];
        if (fd == SHUNT_PROC_NULL) {
            fd = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
            if (fd < 0)
                return errno;
            if (fd != i) {
                int r = dup2(fd, i);
                close(fd);
                if (r < 0)
                    return errno;
            }
        } else if (fd != i && dup2(fd, i) < 0) {
            return errno;
        }
    }
    return 0;
}

/* In the child: everything up to the exec.  Never returns. */
static void child(const shunt_proc_t *p, const char *path, char **sh_argv,
                  pid_t parent, int report)
{
    if (p->flags & SHUNT_PROC_SESSION)
        setsid(); /* no terminal: /dev/tty is not the child's */
    if (p->flags & SHUNT_PROC_GROUP)
        setpgid(0, 0);
    if (p->flags & SHUNT_PROC_PDEATH) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL); /* the harness ignores it; its children not */
    int why[2] = {SHUNT_PROC_STAGE_SETUP, map_stdio(p->stdio)};
    if (!why[1] && p->cwd && chdir(p->cwd) < 0)
        why[1] = errno;
    if (!why[1] && p->setup)
        why[1] = p->setup(p->arg);
    if (!why[1]) {
        char *const *envp = p->envp ? p->envp : environ;
        execve(path, p->argv, envp);
        why[0] = SHUNT_PROC_STAGE_EXEC;
        why[1] = errno;
        if (why[1] == ENOEXEC && sh_argv) {
            execve("/bin/sh", sh_argv, envp);
            why[1] = errno;
        }
    }
    ssize_t w = write(report, why, sizeof(why));
    (void)w;
    _exit(127);
}

int shunt_proc_start(shunt_proc_t *p)
{
    p->pid = 0;
    p->report = -1;
    if (p->main) {
        pid_t pid = fork();
        if (pid < 0)
            return -errno;
        if (pid == 0)
            _exit(p->main(p->arg));
        p->pid = pid;
        return 0;
    }
    const char *path = p->path ? p->path : p->argv[0];
    char found[PATH_MAX];
    if (!p->path && (p->flags & SHUNT_PROC_SEARCH) && !strchr(path, '/')) {
        int r = shunt_proc_find(path, found, sizeof(found));
        if (r < 0)
            return r;
        path = found;
    }
    /* Built before the fork: the child may only make async-signal-safe
     * calls (other threads of this process hold locks). */
    char **sh_argv = NULL;
    if (p->flags & SHUNT_PROC_SH) {
        size_t argc = 0;
        while (p->argv[argc])
            argc++;
        if (!(sh_argv = calloc(argc + 2, sizeof(*sh_argv))))
            return -ENOMEM;
        sh_argv[0] = (char *)"/bin/sh";
        sh_argv[1] = (char *)path;
        for (size_t i = 1; i < argc; i++)
            sh_argv[i + 1] = p->argv[i];
    }
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0) {
        int e = errno;
        free(sh_argv);
        return -e;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(rp[0]);
        child(p, path, sh_argv, parent, rp[1]);
    }
    int e = errno;
    close(rp[1]);
    free(sh_argv);
    if (pid < 0) {
        close(rp[0]);
        return -e;
    }
    p->pid = pid;
    p->report = rp[0];
    return 0;
}

int shunt_proc_started(shunt_proc_t *p, int *stage)
{
    if (stage)
        *stage = 0;
    if (p->report < 0)
        return 0;
    int why[2] = {0, 0};
    ssize_t n;
    do
        n = read(p->report, why, sizeof(why));
    while (n < 0 && errno == EINTR);
    close(p->report);
    p->report = -1;
    if (n != (ssize_t)sizeof(why))
        return 0;
    int st;
    shunt_proc_wait(p->pid, &st);
    p->pid = 0;
    if (stage)
        *stage = why[0];
    return -(why[1] ? why[1] : EIO);
}

int shunt_proc_spawn(shunt_proc_t *p, int *stage)
{
    if (stage)
        *stage = 0;
    int r = shunt_proc_start(p);
    return r < 0 ? r : shunt_proc_started(p, stage);
}

pid_t shunt_proc_wait(pid_t pid, int *status)
{
    pid_t r;
    while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
        ;
    return r;
}

void shunt_proc_kill(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

/* Sleeps until pid may have changed state or ms passed: on its pidfd when
 * there is one, in short naps otherwise. */
static void nap(int pidfd, uint64_t ms)
{
    if (pidfd >= 0) {
        struct pollfd pf = {.fd = pidfd, .events = POLLIN};
        poll(&pf, 1, (int)ms);
        return;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int shunt_proc_wait_until(pid_t pid, uint64_t deadline_ms, int grace_ms,
                          volatile sig_atomic_t *stop, int *status,
                          int *timed_out)
{
    if (timed_out)
        *timed_out = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int stage = 0; /* 0 running, 1 sent SIGTERM, 2 sent SIGKILL */
    uint64_t next = deadline_ms;
    int rc = 0;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        uint64_t now = shunt_now_ms();
        int stopping = stage == 0 && stop && *stop;
        if (stopping || (next && now >= next)) {
            if (stage == 0 && timed_out && !stopping)
                *timed_out = 1;
            if (stage == 0 && grace_ms >= 0) {
                kill(pid, SIGTERM);
                stage = 1;
                next = now + (uint64_t)grace_ms;
            } else {
                shunt_proc_kill(pid);
                stage = 2;
                next = now + 60000;
            }
        }
        /* A stop flag set by a signal handler interrupts the poll; the
         * cap bounds the window between the check and the poll. */
        uint64_t ms = next > now ? next - now : 0;
        nap(pidfd, next && ms < 100 ? ms : 100);
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}

int shunt_proc_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}
