/* A small HTTP/1.1 server for the incoming-traffic benchmark (bench/run,
 * docs/benchmarks.md "Incoming"): the same binary is the target's own
 * service and the local program, so the two paths are compared with the
 * same server.  GET /N answers N bytes of WORD repeated (default /: WORD
 * itself), keep-alive, one thread per connection.
 *   incoming_server PORT WORD */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *word = "local";

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    size_t have = 0;
    static char body[1 << 16];
    size_t wl = strlen(word);
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = word[i % wl];
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof(buf))
                goto out;
            ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        size_t size = wl;
        const char *sp = memchr(buf, ' ', have);
        if (sp && sp[1] == '/' && sp[2] >= '0' && sp[2] <= '9')
            size = strtoul(sp + 2, NULL, 10);
        char hdr[128];
        int hl = snprintf(hdr, sizeof(hdr),
                          "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                          size);
        if (send_all(fd, hdr, (size_t)hl) < 0)
            goto out;
        while (size > 0) {
            size_t n = size < sizeof(body) ? size : sizeof(body);
            if (send_all(fd, body, n) < 0)
                goto out;
            size -= n;
        }
        size_t used = (size_t)(end + 4 - buf);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
out:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: incoming_server PORT WORD\n");
        return argc == 2 ? 0 : 2;
    }
    word = argv[2];
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lfd, 1024) < 0) {
        perror("incoming_server");
        return 1;
    }
    printf("listening on %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("accept");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&at);
    }
}
