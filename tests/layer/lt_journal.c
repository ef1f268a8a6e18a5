/* The journal's test program (tests/layer/journal.sh): one call of each
 * journalled family, a forked child and a spawned one, each printing what
 * it saw, so that its output with and without the observe-only layer can
 * be compared and its journal checked line by line.
 * Usage: lt_journal DIR  (lt_journal child DIR: the spawned child;
 * lt_journal closeall: closes every fd above 2, one by one and with
 * close_range, then opens a file). */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    char p[512], q[512], l[512], t[64];
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        snprintf(p, sizeof(p), "%s/c.txt", argv[2]);
        printf("child open: %d\n", open(p, O_RDONLY));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "closeall") == 0) {
        int fds[4096], n = 0;
        DIR *dir = opendir("/proc/self/fd");
        struct dirent *e;
        while (dir && (e = readdir(dir)) && n < 4096)
            if (atoi(e->d_name) > 2)
                fds[n++] = atoi(e->d_name);
        if (dir)
            closedir(dir);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        close_range(3, ~0u, 0);
        int f = open("/etc/hostname", O_RDONLY);
        printf("open after closing: %d\n", f);
        return 0;
    }
    if (argc != 2)
        return 2;
    const char *d = argv[1];
    umask(022);
    snprintf(p, sizeof(p), "%s/a.txt", d);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("write: %zd\n", write(fd, "hello\n", 6));
    close(fd);
    fd = open(p, O_RDONLY);
    char buf[64];
    struct stat st;
    ssize_t n = read(fd, buf, sizeof(buf));
    fstat(fd, &st);
    close(fd);
    printf("read %zd size %ld\n", n, (long)st.st_size);
    printf("stat missing: %d\n", stat("/nonexistent/x", &st));
    printf("access: %d\n", access(p, R_OK));
    snprintf(q, sizeof(q), "%s/sub", d);
    printf("mkdir: %d\n", mkdir(q, 0755));
    snprintf(q, sizeof(q), "%s/sub/b.txt", d);
    printf("rename: %d\n", rename(p, q));
    snprintf(l, sizeof(l), "%s/sub/l", d);
    printf("symlink: %d\n", symlink("b.txt", l));
    n = readlink(l, t, sizeof(t));
    printf("readlink: %.*s\n", (int)(n > 0 ? n : 0), t);
    int u1 = unlink(l);
    printf("unlink: %d %d\n", u1, unlink(q));
    snprintf(q, sizeof(q), "%s/sub", d);
    printf("rmdir: %d\n", rmdir(q));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int f = open("/etc/hostname", O_RDONLY);
        if (f >= 0)
            close(f);
        _exit(0);
    }
    int ws;
    waitpid(c, &ws, 0);
    char *cargv[] = {(char *)"lt_journal", (char *)"child", (char *)d, NULL};
    pid_t sp;
    if (posix_spawn(&sp, "/proc/self/exe", NULL, NULL, cargv, environ) == 0)
        waitpid(sp, &ws, 0);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    int g = getaddrinfo("localhost", "80", &hints, &ai);
    printf("getaddrinfo: %d\n", g);
    if (g == 0)
        freeaddrinfo(ai);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    printf("connect: %d\n", connect(s, (struct sockaddr *)&sin, sizeof(sin)));
    close(s);
    char host[256];
    printf("gethostname: %d\n", gethostname(host, sizeof(host)));
    return 0;
}
