/* The proxy's side of incoming traffic (docs/incoming.md), against a fake
 * agent of the test's own: subscriptions forwarded once per port and group,
 * answered by the proxy for a second listener, released on close and when
 * the program's connections go; incoming streams delivered by connecting to
 * the program's listener, with INCOMING_PEER telling who the accepted
 * socket stands for; the status file the harness waits on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shunt/client.h"
#include "shunt/frameio.h"
#include "shunt/proto.h"
#include "shunt/proxy.h"
#include "shunt/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    char sock[128];
    char status[160];
    int agent_lfd;      /* the fake agent's listener */
    int agent_fd;       /* the proxy's link, once accepted */
    shunt_rx_t rx;
    shunt_proxy_t *proxy;
    pthread_t thread;
} fx_t;

static const char TOKEN[] = "incoming-test-token";

static void *run_proxy(void *arg)
{
    shunt_proxy_run(arg);
    return NULL;
}

/* The fake agent's next frame, skipping WINDOW credits. */
static void agent_recv(fx_t *f, shunt_msg_t *m)
{
    const uint8_t *fr;
    size_t len;
    for (;;) {
        int rc = shunt_recv_frame(f->agent_fd, &f->rx, 5000, &fr, &len);
        assert_int_equal(rc, 1);
        assert_int_equal(shunt_decode(fr, len, m), 0);
        shunt_rx_consume(&f->rx, len);
        if (m->type != SHUNT_T_WINDOW)
            return;
    }
}

static void agent_send(fx_t *f, uint16_t type, uint16_t flags, uint64_t id,
                       const void *body)
{
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    assert_int_equal(shunt_encode(&w, type, flags, id, body, SHUNT_FRAME_DEFAULT),
                     0);
    assert_int_equal(shunt_write_full(f->agent_fd, w.data, w.len), 0);
    shunt_wbuf_free(&w);
}

/* The fake agent: accept the proxy's link and answer its HELLO. */
static void *agent_accept(void *arg)
{
    fx_t *f = arg;
    f->agent_fd = accept4(f->agent_lfd, NULL, NULL, SOCK_CLOEXEC);
    if (f->agent_fd < 0)
        return NULL;
    const uint8_t *fr;
    size_t len;
    shunt_msg_t m;
    if (shunt_recv_frame(f->agent_fd, &f->rx, 5000, &fr, &len) != 1 ||
        shunt_decode(fr, len, &m) != 0 || m.type != SHUNT_T_HELLO)
        return NULL;
    uint64_t id = m.id;
    shunt_rx_consume(&f->rx, len);
    shunt_hello_r_t r = {.version = SHUNT_PROTO_VERSION_MAX,
                         .session = 1,
                         .max_frame = SHUNT_FRAME_DEFAULT,
                         .server_pid = (uint32_t)getpid()};
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_encode(&w, SHUNT_T_HELLO_R, 0, id, &r, SHUNT_FRAME_DEFAULT);
    shunt_write_full(f->agent_fd, w.data, w.len);
    shunt_wbuf_free(&w);
    return NULL;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/shunt-incoming-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/proxy.sock", f->dir);
    snprintf(f->status, sizeof(f->status), "%s/status", f->dir);
    f->agent_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    assert_int_equal(bind(f->agent_lfd, (struct sockaddr *)&sin, sl), 0);
    assert_int_equal(listen(f->agent_lfd, 1), 0);
    assert_int_equal(getsockname(f->agent_lfd, (struct sockaddr *)&sin, &sl), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
    shunt_rx_init(&f->rx, SHUNT_FRAME_DEFAULT);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, agent_accept, f), 0);
    shunt_proxy_opts_t o = {.socket_path = f->sock,
                            .agent_addr = addr,
                            .agent_token = "x",
                            .agent_token_len = 1,
                            .layer_token = TOKEN,
                            .layer_token_len = strlen(TOKEN),
                            .timeout_ms = 5000,
                            .incoming_status = f->status};
    char err[256] = "";
    f->proxy = shunt_proxy_new(&o, err, sizeof(err));
    pthread_join(t, NULL);
    if (!f->proxy)
        fail_msg("proxy: %s", err);
    assert_true(f->agent_fd >= 0);
    assert_int_equal(pthread_create(&f->thread, NULL, run_proxy, f->proxy), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    shunt_proxy_stop(f->proxy);
    pthread_join(f->thread, NULL);
    shunt_proxy_free(f->proxy);
    close(f->agent_fd);
    close(f->agent_lfd);
    shunt_rx_free(&f->rx);
    unlink(f->status);
    rmdir(f->dir);
    free(f);
    return 0;
}

static shunt_client_t *layer(fx_t *f)
{
    shunt_client_opts_t o = {.role = SHUNT_ROLE_LAYER,
                             .token = TOKEN,
                             .token_len = strlen(TOKEN),
                             .name = "test-layer"};
    char err[256];
    shunt_client_t *c = shunt_client_connect(f->sock, &o, err, sizeof(err));
    if (!c)
        fail_msg("connect: %s", err);
    return c;
}

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sl), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static const uint8_t LO[4] = {127, 0, 0, 1};
static const uint8_t TARGET[4] = {10, 200, 77, 2};
static const uint8_t CLIENT[4] = {10, 200, 77, 9};

/* What a thread waiting in shunt_client_call gets while the test plays
 * the agent on this thread. */
typedef struct {
    shunt_client_t *c;
    uint16_t type;
    const void *body;
    shunt_msg_t resp;
    int rc;
    uint32_t sub;    /* INCOMING_SUB_R.sub */
    int err;         /* ERROR.err */
} call_t;

static void *do_call(void *arg)
{
    call_t *k = arg;
    k->rc = shunt_client_call(k->c, k->type, k->body, &k->resp);
    if (k->rc == 0 && k->resp.type == SHUNT_T_INCOMING_SUB_R)
        k->sub = k->resp.u.incoming_sub_r.sub;
    if (k->resp.type == SHUNT_T_ERROR)
        k->err = k->resp.u.error.err;
    return NULL;
}

static shunt_incoming_sub_t sub_req(uint16_t remote, uint16_t local)
{
    shunt_incoming_sub_t q = {.remote_port = remote,
                              .mode = SHUNT_IN_STEAL,
                              .family = AF_INET,
                              .local_addr = shunt_bytes(LO, 4),
                              .local_port = local};
    return q;
}

static int status_has(fx_t *f, const char *line)
{
    char buf[512] = "";
    FILE *fp = fopen(f->status, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return strstr(buf, line) != NULL;
}

/* Subscribes through the proxy, playing the agent's answer with sub. */
static uint32_t subscribe(fx_t *f, shunt_client_t *c, uint16_t remote,
                          uint16_t local, uint32_t sub)
{
    shunt_incoming_sub_t q = sub_req(remote, local);
    call_t k = {.c = c, .type = SHUNT_T_INCOMING_SUB, .body = &q};
    pthread_t t;
    pthread_create(&t, NULL, do_call, &k);
    shunt_msg_t m;
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_INCOMING_SUB);
    assert_int_equal(m.u.incoming_sub.remote_port, remote);
    shunt_incoming_sub_r_t r = {.sub = sub,
                                .family = AF_INET,
                                .addr = shunt_bytes(TARGET, 4)};
    agent_send(f, SHUNT_T_INCOMING_SUB_R, 0, m.id, &r);
    pthread_join(t, NULL);
    assert_int_equal(k.rc, 0);
    return k.sub;
}

static void incoming(fx_t *f, uint32_t sub, uint32_t stream)
{
    shunt_incoming_t in = {.sub = sub,
                           .stream = stream,
                           .family = AF_INET,
                           .peer_addr = shunt_bytes(CLIENT, 4),
                           .peer_port = 41234,
                           .local_addr = shunt_bytes(TARGET, 4),
                           .local_port = 80};
    agent_send(f, SHUNT_T_INCOMING, SHUNT_FLAG_ONEWAY, 0, &in);
}

static void test_steal_stream(void **state)
{
    fx_t *f = *state;
    uint16_t lport;
    int lfd = listener(&lport);
    shunt_client_t *c = layer(f);
    assert_int_equal(subscribe(f, c, 80, lport, 7), 7);
    char want[64];
    snprintf(want, sizeof(want), "80 %u steal\n", lport);
    assert_true(status_has(f, want));

    /* a stream arrives: the proxy connects to the listener */
    incoming(f, 7, 100);
    shunt_data_t d = {.stream = 100, .data = shunt_bytes("GET / HTTP/1.1\r\n", 16)};
    agent_send(f, SHUNT_T_DATA, SHUNT_FLAG_ONEWAY, 0, &d);
    struct pollfd pf = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    struct sockaddr_in peer;
    socklen_t pl = sizeof(peer);
    int afd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
    assert_true(afd >= 0);
    char buf[64] = "";
    struct timeval tv = {.tv_sec = 5};
    setsockopt(afd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t got = 0;
    while (got < 16) {
        ssize_t n = recv(afd, buf + got, sizeof(buf) - 1 - (size_t)got, 0);
        assert_true(n > 0);
        got += n;
    }
    assert_memory_equal(buf, "GET / HTTP/1.1\r\n", 16);

    /* who is it?  The remote client, and the target's address */
    shunt_incoming_peer_t q = {.port = ntohs(peer.sin_port)};
    shunt_msg_t r;
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_PEER, &q, &r), 0);
    assert_int_equal(r.u.incoming_peer_r.sub, 7);
    assert_int_equal(r.u.incoming_peer_r.peer_port, 41234);
    assert_memory_equal(r.u.incoming_peer_r.peer_addr.p, CLIENT, 4);
    assert_int_equal(r.u.incoming_peer_r.local_port, 80);
    assert_memory_equal(r.u.incoming_peer_r.local_addr.p, TARGET, 4);
    q.port = (uint16_t)(q.port + 1);
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_PEER, &q, &r),
                     -ENOENT);

    /* the program's answer goes to the agent on the same stream */
    assert_int_equal(send(afd, "local", 5, 0), 5);
    shunt_msg_t m;
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_DATA);
    assert_int_equal(m.u.data.stream, 100);
    assert_int_equal(m.u.data.data.len, 5);
    assert_memory_equal(m.u.data.data.p, "local", 5);
    close(afd);
    agent_recv(f, &m); /* EOF: SHUTDOWN, or SCLOSE for the unread rest */
    assert_true(m.type == SHUNT_T_SHUTDOWN || m.type == SHUNT_T_SCLOSE);

    /* a second listener of the group on the port: answered by the proxy */
    shunt_incoming_sub_t q2 = sub_req(80, lport);
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_SUB, &q2, &r), 0);
    assert_int_equal(r.u.incoming_sub_r.sub, 7);
    /* the same remote port for another local port: refused here */
    q2.local_port = (uint16_t)(lport + 1);
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_SUB, &q2, &r),
                     -EADDRINUSE);
    /* first close: still used; second: goes to the agent */
    shunt_incoming_unsub_t u = {.sub = 7};
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_UNSUB, &u, &r), 0);
    assert_true(status_has(f, want));
    call_t k = {.c = c, .type = SHUNT_T_INCOMING_UNSUB, .body = &u};
    pthread_t t;
    pthread_create(&t, NULL, do_call, &k);
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_INCOMING_UNSUB);
    assert_int_equal(m.u.incoming_unsub.sub, 7);
    shunt_ok_t ok = {.ret = 0};
    agent_send(f, SHUNT_T_OK, 0, m.id, &ok);
    pthread_join(t, NULL);
    assert_int_equal(k.rc, 0);
    assert_int_equal(access(f->status, F_OK), -1); /* nothing subscribed */
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_UNSUB, &u, &r),
                     -ENOENT);

    /* a stream for a subscription nobody has: refused */
    incoming(f, 7, 101);
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_SCLOSE);
    assert_int_equal(m.u.sclose.stream, 101);
    assert_int_equal(m.u.sclose.err, ECONNREFUSED);
    shunt_client_close(c);
    close(lfd);
}

/* The listener went away before the stream arrived: refused, and the
 * program's connections going releases the port at the agent. */
static void test_listener_gone(void **state)
{
    fx_t *f = *state;
    uint16_t lport;
    int lfd = listener(&lport);
    shunt_client_t *c = layer(f);
    assert_int_equal(subscribe(f, c, 8080, lport, 9), 9);
    close(lfd);
    incoming(f, 9, 200);
    shunt_msg_t m;
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_SCLOSE);
    assert_int_equal(m.u.sclose.stream, 200);
    assert_int_equal(m.u.sclose.err, ECONNREFUSED);
    shunt_client_close(c); /* the program exits */
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_INCOMING_UNSUB);
    assert_int_equal(m.u.incoming_unsub.sub, 9);
    for (int i = 0; i < 100 && access(f->status, F_OK) == 0; i++)
        usleep(10000);
    assert_int_equal(access(f->status, F_OK), -1);
}

/* The agent refuses (another session holds the port): the error reaches
 * the layer as it was, nothing is recorded. */
static void test_refused(void **state)
{
    fx_t *f = *state;
    shunt_client_t *c = layer(f);
    shunt_incoming_sub_t q = sub_req(443, 1234);
    call_t k = {.c = c, .type = SHUNT_T_INCOMING_SUB, .body = &q};
    pthread_t t;
    pthread_create(&t, NULL, do_call, &k);
    shunt_msg_t m;
    agent_recv(f, &m);
    assert_int_equal(m.type, SHUNT_T_INCOMING_SUB);
    shunt_error_t e = {.err = EADDRINUSE, .msg = shunt_str("taken")};
    agent_send(f, SHUNT_T_ERROR, 0, m.id, &e);
    pthread_join(t, NULL);
    assert_int_equal(k.rc, -EADDRINUSE);
    assert_int_equal(access(f->status, F_OK), -1);
    /* a malformed one never reaches the agent */
    q.local_addr = shunt_bytes(LO, 3);
    shunt_msg_t r;
    assert_int_equal(shunt_client_call(c, SHUNT_T_INCOMING_SUB, &q, &r),
                     -EINVAL);
    shunt_client_close(c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test_setup_teardown(test_steal_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(all, NULL, NULL);
}
