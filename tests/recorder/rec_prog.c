/* The program the recorder tests trace: each mode makes known syscalls and
 * writes the ids and ports the test needs to OUT ("key value" lines).
 *   rec_prog MODE OUT DIR */
#include "rawsys.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *self, *out, *dir;

static void put(const char *key, long v)
{
    FILE *f = fopen(out, "a");
    if (!f)
        _exit(90);
    fprintf(f, "%s %ld\n", key, v);
    fclose(f);
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}


/* open() through libc, then a raw openat of a relative path. */
static int files(void)
{
    char p[4096];
    path_of(p, sizeof(p), "libc.txt");
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return 10;
    close(fd);
    if (chdir(dir) < 0)
        return 11;
    long r = raw_syscall3(SYS_openat, AT_FDCWD, (long)"raw-missing.txt", O_RDONLY);
    put("raw_ret", r < 0 ? -errno : r);
    path_of(p, sizeof(p), "written.txt");
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 12;
    close(fd);
    struct stat st;
    path_of(p, sizeof(p), "local/stat-me");
    stat(p, &st);
    return 0;
}

static int unix_and_tcp(void)
{
    char p[4096];
    path_of(p, sizeof(p), "sock");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(p) >= sizeof(un.sun_path))
        return 19;
    memcpy(un.sun_path, p, strlen(p) + 1);
    unlink(p);
    if (l < 0 || bind(l, (struct sockaddr *)&un, sizeof(un)) < 0 ||
        listen(l, 1) < 0)
        return 20;
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&un, sizeof(un)) < 0)
        return 21;
    close(c);
    close(l);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(in);
    if (t < 0 || bind(t, (struct sockaddr *)&in, sizeof(in)) < 0 ||
        listen(t, 1) < 0 || getsockname(t, (struct sockaddr *)&in, &sl) < 0)
        return 22;
    put("port", ntohs(in.sin_port));
    c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&in, sizeof(in)) < 0)
        return 23;
    close(c);
    close(t);
    return 0;
}

static int child_open(void)
{
    char p[4096];
    path_of(p, sizeof(p), "child.txt");
    put("child_pid", getpid());
    int fd = open(p, O_RDONLY);
    return fd < 0 ? 30 : 0;
}

static int spawn(int use_vfork)
{
    char *argv[] = {(char *)self, (char *)"child-open", (char *)out,
                    (char *)dir, NULL};
    pid_t pid = use_vfork ? vfork() : fork();
    if (pid == 0) {
        execv(self, argv);
        _exit(31);
    }
    if (pid < 0)
        return 32;
    if (!use_vfork)
        put("forked", pid);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        return 33;
    return 0;
}

static void *thread_main(void *arg)
{
    (void)arg;
    char p[4096];
    path_of(p, sizeof(p), "thread.txt");
    put("thread_tid", (long)syscall(SYS_gettid));
    int fd = open(p, O_RDONLY);
    if (fd >= 0)
        close(fd);
    return (void *)(long)(fd >= 0);
}

/* A thread that is not the leader execs: the new program gets the
 * leader's id. */
static void *exec_main(void *arg)
{
    (void)arg;
    put("exec_tid", (long)syscall(SYS_gettid));
    char *argv[] = {(char *)self, (char *)"child-open", (char *)out,
                    (char *)dir, NULL};
    execv(self, argv);
    _exit(35);
}

static int thread_exec(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, exec_main, NULL))
        return 36;
    pause(); /* ends with the exec */
    return 37;
}

static int thread(void)
{
    pthread_t th;
    void *ok = NULL;
    if (pthread_create(&th, NULL, thread_main, NULL) ||
        pthread_join(th, &ok) || !ok)
        return 40;
    return 0;
}

/* A child killed by SIGKILL, one stopped and continued: the parent must
 * see exactly that. */
static int signals(void)
{
    pid_t k = fork();
    if (k == 0) {
        raise(SIGKILL);
        _exit(0);
    }
    int st;
    if (waitpid(k, &st, 0) != k || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        return 50;
    /* The continued child waits for a word before it exits: a child that
     * is gone by the time of waitpid(WCONTINUED) is reported as exited
     * (the kernel looks at a zombie first), with or without a tracer. */
    int go[2];
    if (pipe(go) < 0)
        return 54;
    pid_t s = fork();
    if (s == 0) {
        char c;
        close(go[1]);
        raise(SIGSTOP);
        _exit(read(go[0], &c, 1) == 1 ? 7 : 8);
    }
    close(go[0]);
    if (waitpid(s, &st, WUNTRACED) != s || !WIFSTOPPED(st) ||
        WSTOPSIG(st) != SIGSTOP)
        return 51;
    kill(s, SIGCONT);
    if (waitpid(s, &st, WCONTINUED) != s || !WIFCONTINUED(st))
        return 52;
    if (write(go[1], "g", 1) != 1)
        return 55;
    close(go[1]);
    if (waitpid(s, &st, 0) != s || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
        return 53;
    return 0;
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

static int handled(void)
{
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    return got_usr1 ? 0 : 60;
}

static int sleeper(void)
{
    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    put("sleeper_child", c);
    pause();
    return 0;
}

/* In a network namespace of its own, with its loopback down: nothing
 * sent here leaves it (every send fails in the kernel), the recorder
 * still sees the addresses and the query. */
static int dns(void)
{
    if (unshare(CLONE_NEWNET) < 0)
        return 77;
    static const unsigned char q[] = {
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        6, 's', 'e', 'c', 'r', 'e', 't', 7, 'c', 'l', 'u', 's', 't', 'e', 'r',
        0, 0x00, 0x01, 0x00, 0x01};
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(u, q, sizeof(q), 0, (struct sockaddr *)&to, sizeof(to));
    inet_pton(AF_INET, "192.0.2.1", &to.sin_addr);
    connect(u, (struct sockaddr *)&to, sizeof(to));
    close(u);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "192.0.2.7", &to.sin_addr);
    to.sin_port = htons(8080);
    connect(t, (struct sockaddr *)&to, sizeof(to));
    close(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    self = argv[0];
    out = argv[2];
    dir = argv[3];
    const char *m = argv[1];
    if (strcmp(m, "child-open") != 0)
        put("pid", getpid());
    if (strcmp(m, "files") == 0)
        return files();
    if (strcmp(m, "net") == 0)
        return unix_and_tcp();
    if (strcmp(m, "fork") == 0)
        return spawn(0);
    if (strcmp(m, "vfork") == 0)
        return spawn(1);
    if (strcmp(m, "child-open") == 0)
        return child_open();
    if (strcmp(m, "thread") == 0)
        return thread();
    if (strcmp(m, "thread-exec") == 0)
        return thread_exec();
    if (strcmp(m, "exit3") == 0)
        return 3;
    if (strcmp(m, "term") == 0)
        raise(SIGTERM);
    if (strcmp(m, "signals") == 0)
        return signals();
    if (strcmp(m, "handled") == 0)
        return handled();
    if (strcmp(m, "sleep") == 0)
        return sleeper();
    if (strcmp(m, "dns") == 0)
        return dns();
    return 2;
}
