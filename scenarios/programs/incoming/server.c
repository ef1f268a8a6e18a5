/* An HTTP/1.1 server on epoll with a non-blocking accept4 loop: answers
 * WORD to every request (keep-alive, Content-Length bodies), one line per
 * request on stdout: METHOD PATH X-REQ BODY_BYTES.
 *   server WORD PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 4096
#define HEAD_MAX 65536

struct conn {
    char head[HEAD_MAX];
    size_t hlen;
    long long body_left, body_len;
    char method[16], path[1024], xreq[256];
};

static struct conn *conns[MAXC];
static const char *word;

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

static int answer(int fd, struct conn *c)
{
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s\n",
                     strlen(word) + 1, word);
    printf("%s %s %s %lld\n", c->method, c->path, c->xreq[0] ? c->xreq : "-", c->body_len);
    fflush(stdout);
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, resp + off, (size_t)(n - off));
        if (w < 0 && errno == EAGAIN) {
            usleep(1000);
            continue;
        }
        if (w <= 0)
            return -1;
        off += (int)w;
    }
    return 0;
}

/* A complete head at c->head[0..end): method, path, X-Req, Content-Length. */
static void parse_head(struct conn *c, size_t end)
{
    c->head[end - 1] = 0;
    char *save, *line = strtok_r(c->head, "\r\n", &save);
    c->xreq[0] = 0;
    c->body_left = 0;
    if (line)
        sscanf(line, "%15s %1023s", c->method, c->path);
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strcasecmp(line, "X-Req") == 0)
            snprintf(c->xreq, sizeof(c->xreq), "%s", v);
        else if (strcasecmp(line, "Content-Length") == 0)
            c->body_left = atoll(v);
    }
    c->body_len = c->body_left;
}

/* Consumes buf: heads and bodies; answers each complete request. */
static int feed(int fd, struct conn *c, const char *buf, size_t n)
{
    while (n > 0) {
        if (c->body_left > 0) {
            size_t take = (size_t)c->body_left < n ? (size_t)c->body_left : n;
            c->body_left -= (long long)take;
            buf += take;
            n -= take;
            if (c->body_left == 0 && answer(fd, c) < 0)
                return -1;
            continue;
        }
        size_t take = n < HEAD_MAX - c->hlen ? n : HEAD_MAX - c->hlen;
        memcpy(c->head + c->hlen, buf, take);
        size_t old = c->hlen;
        c->hlen += take;
        char *end = NULL;
        for (size_t i = old > 3 ? old - 3 : 0; i + 3 < c->hlen; i++)
            if (memcmp(c->head + i, "\r\n\r\n", 4) == 0) {
                end = c->head + i + 4;
                break;
            }
        if (!end) {
            if (c->hlen == HEAD_MAX)
                return -1;
            return 0;
        }
        size_t hend = (size_t)(end - c->head);
        size_t used = hend - old; /* bytes of buf in this head */
        parse_head(c, hend);
        c->hlen = 0;
        buf += used;
        n -= used;
        if (c->body_left == 0 && answer(fd, c) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: server WORD PORT\n");
        return 2;
    }
    word = argv[1];
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 512) < 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static char buf[1 << 16];
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) { /* non-blocking accept loop: until EAGAIN */
                    struct sockaddr_storage peer;
                    socklen_t pl = sizeof(peer);
                    int c = accept4(ls, (struct sockaddr *)&peer, &pl,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    if (c >= MAXC || !(conns[c] = calloc(1, sizeof(struct conn)))) {
                        close(c);
                        continue;
                    }
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));
                if (r < 0 && errno == EAGAIN)
                    break;
                if (r <= 0 || feed(fd, conns[fd], buf, (size_t)r) < 0) {
                    drop(ep, fd);
                    break;
                }
            }
        }
    }
}
