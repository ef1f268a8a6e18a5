/* The layer's side of incoming traffic (docs/incoming.md) without a target:
 * a real proxy in this process, a fake agent played by this process, and a
 * real server program run under libshunt.so.
 *
 *   lt_incoming LIBSHUNT HOW CONFIG [REQUEST] -- PROGRAM ARGS...
 *
 * HOW is what the fake agent answers to the program's INCOMING_SUB:
 *   steal   INCOMING_SUB_R{sub 7, 10.200.77.2}; then one incoming stream
 *           from the client 10.200.77.9:41234 to 10.200.77.2:80 carrying
 *           the bytes of the file REQUEST; the program's answer is printed
 *   refuse  ERROR{EADDRINUSE} (another session holds the port)
 *   nosys   ERROR{ENOSYS}: the listener stays local; this process then
 *           connects to it itself and sends REQUEST
 * CONFIG is the layer's configuration text; "@PORT@" in it and in the
 * program's arguments becomes a free local port.  Every other request the
 * layer makes (its files are local by CONFIG) is answered ERROR{ENOSYS}.
 * The program gets SIGTERM once the stream is over (or 2 s after the
 * refusal) unless it exits by itself; its output is left on its stdout and
 * stderr.  Printed on stdout, in order:
 *   sub remote=R local=P mode=M conflict=C filter=N family=F addr=A
 *   answer: <the bytes the program sent on the stream>
 *   unsub sub=S while-running=0|1
 *   exit=STATUS */
#include "shunt/frameio.h"
#include "shunt/proto.h"
#include "shunt/proxy.h"
#include "shunt/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char TOKEN[] = "lt-incoming-token";
static const uint8_t TARGET[4] = {10, 200, 77, 2};
static const uint8_t CLIENT[4] = {10, 200, 77, 9};

static int agent_fd = -1;
static shunt_rx_t rx;

static void die(const char *what)
{
    fprintf(stderr, "lt_incoming: %s\n", what);
    exit(2);
}

static void *run_proxy(void *arg)
{
    shunt_proxy_run(arg);
    return NULL;
}

static void agent_send(uint16_t type, uint16_t flags, uint64_t id,
                       const void *body)
{
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    if (shunt_encode(&w, type, flags, id, body, SHUNT_FRAME_DEFAULT) != 0 ||
        shunt_write_full(agent_fd, w.data, w.len) != 0)
        die("cannot write to the proxy");
    shunt_wbuf_free(&w);
}

static void *agent_accept(void *arg)
{
    int lfd = *(int *)arg;
    agent_fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (agent_fd < 0)
        return NULL;
    const uint8_t *fr;
    size_t len;
    shunt_msg_t m;
    if (shunt_recv_frame(agent_fd, &rx, 5000, &fr, &len) != 1 ||
        shunt_decode(fr, len, &m) != 0 || m.type != SHUNT_T_HELLO)
        return NULL;
    uint64_t id = m.id;
    shunt_rx_consume(&rx, len);
    shunt_hello_r_t r = {.version = SHUNT_PROTO_VERSION_MAX,
                         .session = 1,
                         .max_frame = SHUNT_FRAME_DEFAULT,
                         .server_pid = (uint32_t)getpid()};
    agent_send(SHUNT_T_HELLO_R, 0, id, &r);
    return NULL;
}

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, l) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        die("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

/* s with every "@PORT@" replaced (malloc'd). */
static char *subst(const char *s, unsigned port)
{
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    char *out = malloc(strlen(s) * 2 + 16), *o = out;
    while (*s) {
        if (strncmp(s, "@PORT@", 6) == 0) {
            o = stpcpy(o, ps);
            s += 6;
        } else {
            *o++ = *s++;
        }
    }
    *o = 0;
    return out;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read the request file");
    static char buf[65536];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* nosys: the program's listener stayed local; talk to it directly. */
static void local_client(unsigned port, const char *req, size_t reqlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 100; i++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            break;
        usleep(20000);
    }
    if (write(fd, req, reqlen) != (ssize_t)reqlen)
        die("local client: write");
    shutdown(fd, SHUT_WR);
    char buf[4096];
    ssize_t n;
    printf("answer: ");
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
}

int main(int argc, char **argv)
{
    int dd = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dd = i;
            break;
        }
    if (dd < 4 || dd + 1 >= argc) {
        fprintf(stderr, "usage: lt_incoming LIBSHUNT steal|refuse|nosys "
                        "CONFIG [REQUEST] -- PROGRAM ARGS...\n");
        return 2;
    }
    const char *lib = argv[1], *how = argv[2];
    size_t reqlen = 0;
    const char *req = dd > 4 ? read_file(argv[4], &reqlen) : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    alarm(60);

    char dir[] = "/tmp/lt-incoming-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    char sock[128], status[128], cfg[128];
    snprintf(sock, sizeof(sock), "%s/proxy.sock", dir);
    snprintf(status, sizeof(status), "%s/status", dir);
    snprintf(cfg, sizeof(cfg), "%s/layer.conf", dir);
    unsigned port = free_port();
    char *cfgtext = subst(argv[3], port);
    FILE *cf = fopen(cfg, "w");
    if (!cf)
        die("config file");
    fputs(cfgtext, cf);
    fclose(cf);

    /* The fake agent's listener, the proxy connected to it. */
    int alfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    if (bind(alfd, (struct sockaddr *)&sin, sl) < 0 || listen(alfd, 1) < 0 ||
        getsockname(alfd, (struct sockaddr *)&sin, &sl) < 0)
        die("agent listener");
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
    shunt_rx_init(&rx, SHUNT_FRAME_DEFAULT);
    pthread_t t;
    pthread_create(&t, NULL, agent_accept, &alfd);
    shunt_proxy_opts_t o = {.socket_path = sock,
                            .agent_addr = addr,
                            .agent_token = "x",
                            .agent_token_len = 1,
                            .layer_token = TOKEN,
                            .layer_token_len = strlen(TOKEN),
                            .timeout_ms = 5000,
                            .incoming_status = status};
    char err[256] = "";
    shunt_proxy_t *proxy = shunt_proxy_new(&o, err, sizeof(err));
    pthread_join(t, NULL);
    if (!proxy || agent_fd < 0) {
        fprintf(stderr, "lt_incoming: proxy: %s\n", err);
        return 2;
    }
    pthread_t pt;
    pthread_create(&pt, NULL, run_proxy, proxy);

    /* The program, under the layer. */
    pid_t pid = fork();
    if (pid == 0) {
        char **av = calloc((size_t)(argc - dd), sizeof(char *));
        for (int i = dd + 1; i < argc; i++)
            av[i - dd - 1] = subst(argv[i], port);
        setenv("LD_PRELOAD", lib, 1);
        setenv("SHUNT_SOCKET", sock, 1);
        setenv("SHUNT_TOKEN", TOKEN, 1);
        setenv("SHUNT_CONFIG", cfg, 1);
        execvp(av[0], av);
        _exit(127);
    }

    int status_code = -1, exited = 0, stream_done = 0;
    double deadline = now() + 30, kill_at = 0, unsub_wait = 0;
    uint32_t stream = 100;
    static char answer[65536], unsubs[1024];
    size_t alen = 0;
    for (;;) {
        if (!exited && waitpid(pid, &status_code, WNOHANG) == pid)
            exited = 1;
        if (!exited && kill_at && now() >= kill_at) {
            kill(pid, SIGTERM);
            kill_at = 0;
        }
        if (exited && !unsub_wait)
            unsub_wait = now() + 2; /* the proxy releases it for the group */
        if ((unsub_wait && now() >= unsub_wait) || now() >= deadline)
            break;
        const uint8_t *fr;
        size_t len;
        int rc = shunt_recv_frame(agent_fd, &rx, 50, &fr, &len);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc != 1)
            die("the proxy's link broke");
        shunt_msg_t m;
        if (shunt_decode(fr, len, &m) != 0)
            die("undecodable frame");
        shunt_rx_consume(&rx, len);
        switch (m.type) {
        case SHUNT_T_INCOMING_SUB: {
            const shunt_incoming_sub_t *q = &m.u.incoming_sub;
            char a[64] = "?";
            inet_ntop(q->local_addr.len == 4 ? AF_INET : AF_INET6,
                      q->local_addr.p, a, sizeof(a));
            printf("sub remote=%u local=%s mode=%u conflict=%u filter=%u "
                   "family=%s addr=%s\n",
                   q->remote_port, q->local_port == port ? "PORT" : "OTHER",
                   q->mode, q->on_conflict, q->filter.count,
                   q->family == AF_INET ? "inet" : "inet6", a);
            if (strcmp(how, "refuse") == 0) {
                shunt_error_t e = {.err = EADDRINUSE,
                                   .msg = shunt_str("held by another session")};
                agent_send(SHUNT_T_ERROR, 0, m.id, &e);
                kill_at = now() + 2;
                break;
            }
            if (strcmp(how, "nosys") == 0) {
                shunt_error_t e = {.err = ENOSYS, .msg = shunt_str("")};
                agent_send(SHUNT_T_ERROR, 0, m.id, &e);
                local_client(port, req, reqlen);
                kill_at = now() + 3;
                break;
            }
            shunt_incoming_sub_r_t r = {.sub = 7,
                                        .family = AF_INET,
                                        .addr = shunt_bytes(TARGET, 4)};
            agent_send(SHUNT_T_INCOMING_SUB_R, 0, m.id, &r);
            shunt_incoming_t in = {.sub = 7,
                                   .stream = stream,
                                   .family = AF_INET,
                                   .peer_addr = shunt_bytes(CLIENT, 4),
                                   .peer_port = 41234,
                                   .local_addr = shunt_bytes(TARGET, 4),
                                   .local_port = 80};
            agent_send(SHUNT_T_INCOMING, SHUNT_FLAG_ONEWAY, 0, &in);
            shunt_data_t d = {.stream = stream,
                              .data = shunt_bytes(req, reqlen)};
            agent_send(SHUNT_T_DATA, SHUNT_FLAG_ONEWAY, 0, &d);
            break;
        }
        case SHUNT_T_DATA:
            if (m.u.data.stream == stream) {
                size_t k = m.u.data.data.len;
                if (k > sizeof(answer) - alen)
                    k = sizeof(answer) - alen;
                memcpy(answer + alen, m.u.data.data.p, k);
                alen += k;
                shunt_window_t w = {.stream = stream,
                                    .bytes = m.u.data.data.len};
                agent_send(SHUNT_T_WINDOW, SHUNT_FLAG_ONEWAY, 0, &w);
            }
            break;
        case SHUNT_T_SHUTDOWN:
        case SHUNT_T_SCLOSE:
            if (m.u.sclose.stream == stream && !stream_done) {
                stream_done = 1;
                if (m.type == SHUNT_T_SHUTDOWN) {
                    shunt_sclose_t s = {.stream = stream, .err = 0};
                    agent_send(SHUNT_T_SCLOSE, SHUNT_FLAG_ONEWAY, 0, &s);
                }
                kill_at = now() + 1.5;
            }
            break;
        case SHUNT_T_INCOMING_UNSUB: {
            /* A process that is exiting has closed its connections
             * (the proxy's own UNSUB) a moment before it can be reaped. */
            int running = !exited;
            for (int i = 0; running && i < 30; i++) {
                if (waitpid(pid, &status_code, WNOHANG) == pid)
                    running = 0;
                else
                    usleep(10000);
            }
            if (!running)
                exited = 1;
            snprintf(unsubs + strlen(unsubs), sizeof(unsubs) - strlen(unsubs),
                     "unsub sub=%u while-running=%d\n",
                     m.u.incoming_unsub.sub, running);
            shunt_ok_t ok = {.ret = 0};
            agent_send(SHUNT_T_OK, 0, m.id, &ok);
            if (exited)
                unsub_wait = now(); /* nothing more to wait for */
            break;
        }
        case SHUNT_T_WINDOW:
            break;
        default:
            if (!shunt_msg_is_oneway(m.type) && m.id) {
                shunt_error_t e = {.err = ENOSYS, .msg = shunt_str("")};
                agent_send(SHUNT_T_ERROR, 0, m.id, &e);
            }
            break;
        }
    }
    if (strcmp(how, "steal") == 0)
        printf("answer: %.*s%s", (int)alen, answer,
               alen && answer[alen - 1] == '\n' ? "" : "\n");
    fputs(unsubs, stdout);
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status_code, 0);
    }
    printf("exit=%s%d\n", WIFSIGNALED(status_code) ? "signal " : "",
           WIFSIGNALED(status_code) ? WTERMSIG(status_code)
                                    : WEXITSTATUS(status_code));
    shunt_proxy_stop(proxy);
    pthread_join(pt, NULL);
    shunt_proxy_free(proxy);
    unlink(cfg);
    unlink(status);
    unlink(sock);
    rmdir(dir);
    return 0;
}
