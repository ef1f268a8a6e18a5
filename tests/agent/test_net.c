/* shunt-agent network: DNS from the root's own resolver files, TCP and UDP
 * relays with flow control, connect errors. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char root[256];
static agent_proc_t ap;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- a fake DNS server on 127.0.0.1:53 that records what it is asked --- */
static int dns_fd = -1;
static atomic_int dns_queries;
static char dns_last[256];
static pthread_t dns_thread;

static void *dns_main(void *arg)
{
    (void)arg;
    for (;;) {
        uint8_t q[512];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(dns_fd, q, sizeof(q), 0,
                             (struct sockaddr *)&from, &fl);
        if (n < 0)
            return NULL;
        if (n < 13)
            continue;
        /* the first label of the question, for the test to check */
        size_t l = q[12];
        if (13 + l <= (size_t)n && l < sizeof(dns_last)) {
            memcpy(dns_last, q + 13, l);
            dns_last[l] = 0;
        }
        atomic_fetch_add(&dns_queries, 1);
        q[2] = 0x81; /* response, recursion desired */
        q[3] = 0x83; /* recursion available, NXDOMAIN */
        sendto(dns_fd, q, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
}

static int group_setup(void **state)
{
    (void)state;
    tmp_tree(root, sizeof(root), "net");
    char p[512];
    snprintf(p, sizeof(p), "%s/etc", root);
    mkdir(p, 0755);
    put_file(root, "etc/hosts",
             "10.11.12.13 shunt-only-in-root.test alias-in-root\n"
             "fd00::1234 shunt-v6-in-root.test\n");
    put_file(root, "etc/nsswitch.conf", "hosts: files dns\n");
    put_file(root, "etc/resolv.conf",
             "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    put_file(root, "etc/services", "shuntsvc 4242/tcp\n");

    dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(dns_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        fprintf(stderr, "note: cannot bind 127.0.0.1:53 (%s); DNS query "
                        "checks skipped\n", strerror(errno));
        close(dns_fd);
        dns_fd = -1;
    } else {
        pthread_create(&dns_thread, NULL, dns_main, NULL);
    }
    if (agent_start(&ap, root, NULL) < 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = agent_stop(&ap);
    if (dns_fd >= 0) {
        shutdown(dns_fd, SHUT_RDWR);
        pthread_cancel(dns_thread);
        pthread_join(dns_thread, NULL);
        close(dns_fd);
    }
    rm_tree(root);
    return rc == 0 ? 0 : -1;
}

static int gai(shunt_client_t *c, const char *node, const char *service,
               int family, int flags, shunt_msg_t *m)
{
    shunt_getaddrinfo_t g = {.has_node = node != NULL,
                             .node = shunt_str(node),
                             .has_service = service != NULL,
                             .service = shunt_str(service),
                             .flags = flags, .family = family,
                             .socktype = SOCK_STREAM};
    return shunt_client_call(c, SHUNT_T_GETADDRINFO, &g, m);
}

static void test_dns_from_root(void **state)
{
    (void)state;
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    assert_int_equal(gai(c, "shunt-only-in-root.test", "80", AF_INET,
                         AI_CANONNAME, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, 0);
    assert_int_equal(m.u.gai_r.addrs.count, 1);
    shunt_list_iter_t it;
    shunt_rec_addrinfo_t a;
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    assert_int_equal(shunt_list_next_rec_addrinfo(&it, &a), 1);
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(a.socktype, SOCK_STREAM);
    assert_int_equal(a.addr.len, 4);
    assert_memory_equal(a.addr.p, "\x0a\x0b\x0c\x0d", 4);
    assert_int_equal(a.port, 80);
    assert_true(shunt_str_eq(a.canonname, "shunt-only-in-root.test"));

    assert_int_equal(gai(c, "alias-in-root", "shuntsvc", AF_UNSPEC, 0, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, 0);
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    assert_int_equal(shunt_list_next_rec_addrinfo(&it, &a), 1);
    assert_int_equal(a.port, 4242); /* the root's /etc/services */

    assert_int_equal(gai(c, "shunt-v6-in-root.test", NULL, AF_INET6, 0, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, 0);
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    assert_int_equal(shunt_list_next_rec_addrinfo(&it, &a), 1);
    assert_int_equal(a.addr.len, 16);

    assert_int_equal(gai(c, "192.0.2.7", "99", AF_INET, AI_NUMERICHOST, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, 0);
    assert_int_equal(gai(c, "x", "no-such-service-xyz", AF_INET, 0, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, EAI_SERVICE);
    assert_int_equal(gai(c, NULL, NULL, AF_INET, 0, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, EAI_NONAME);
    shunt_client_close(c);
}

static void test_dns_host_names_stay_out(void **state)
{
    (void)state;
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    /* names only the host knows: its hostname and /etc/hosts entries */
    const char *names[] = {host, "shunthostonly", "localhost"};
    /* add one to the host's view too: never put in the root */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!names[i][0])
            continue;
        int before = atomic_load(&dns_queries);
        assert_int_equal(gai(c, names[i], NULL, AF_INET, 0, &m), 0);
        if (m.u.gai_r.gai_err == 0) {
            /* "localhost" may be synthesised by glibc; never the host's */
            shunt_list_iter_t it;
            shunt_rec_addrinfo_t a;
            shunt_list_iter_init(&it, &m.u.gai_r.addrs);
            assert_int_equal(shunt_list_next_rec_addrinfo(&it, &a), 1);
            assert_string_equal(names[i], "localhost");
            continue;
        }
        assert_true(m.u.gai_r.gai_err == EAI_NONAME ||
                    m.u.gai_r.gai_err == EAI_AGAIN ||
                    m.u.gai_r.gai_err == EAI_NODATA);
        /* the query went to the root's nameserver (127.0.0.1), which is
         * ours, and not to the host's */
        if (dns_fd >= 0) {
            assert_true(atomic_load(&dns_queries) > before);
            assert_true(strncmp(dns_last, names[i], strlen(dns_last)) == 0);
        }
    }
    shunt_client_close(c);
}

static void test_dns_helper_restarts(void **state)
{
    (void)state;
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    assert_int_equal(gai(c, "shunt-only-in-root.test", NULL, AF_INET, 0, &m),
                     0);
    /* kill the helper: the agent's only child */
    char p[128], buf[256] = "";
    snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)ap.pid,
             (int)ap.pid);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
    close(fd);
    pid_t helper = (pid_t)atoi(buf);
    assert_true(helper > 0);
    assert_int_equal(kill(helper, SIGKILL), 0);
    usleep(100 * 1000);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        int r = gai(c, "shunt-only-in-root.test", NULL, AF_INET, 0, &m);
        assert_true(r == 0 || r == -EIO);
        ok = r == 0 && m.u.gai_r.gai_err == 0;
        if (!ok)
            usleep(20000);
    }
    assert_true(ok);
    shunt_client_close(c);
}

/* ---- streams ------------------------------------------------------------ */

static int listen_on(int type, uint16_t *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        abort();
    if (type == SOCK_STREAM)
        listen(fd, 8);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    *port = ntohs(sin.sin_port);
    return fd;
}

static void *tcp_echo(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int fd = accept(lfd, NULL, NULL);
    static char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    shutdown(fd, SHUT_WR);
    usleep(100 * 1000);
    close(fd);
    return NULL;
}

static void *udp_echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        char buf[2048];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
                             (struct sockaddr *)&from, &fl);
        if (n < 0)
            break;
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static int do_connect(shunt_client_t *c, int type, uint16_t port,
                      uint32_t timeout, shunt_msg_t *m)
{
    uint32_t lo = htonl(INADDR_LOOPBACK);
    shunt_connect_t cn = {.socktype = type, .family = AF_INET,
                          .addr = shunt_bytes(&lo, 4), .port = port,
                          .timeout_ms = timeout};
    return shunt_client_call(c, SHUNT_T_CONNECT, &cn, m);
}

static uint8_t stream_byte(uint64_t i)
{
    return (uint8_t)(i * 131u + (i >> 9) * 7u);
}

#define RELAY_TOTAL (16u << 20)

static void test_tcp_relay(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_on(SOCK_STREAM, &port);
    pthread_t t;
    pthread_create(&t, NULL, tcp_echo, (void *)(intptr_t)lfd);
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    assert_int_equal(do_connect(c, SOCK_STREAM, port, 0, &m), 0);
    uint32_t sid = m.u.connect_r.stream;
    assert_int_equal(m.u.connect_r.family, AF_INET);
    assert_int_equal(m.u.connect_r.peer_port, port);
    assert_int_equal(m.u.connect_r.peer_addr.len, 4);
    assert_memory_equal(m.u.connect_r.peer_addr.p, "\x7f\0\0\x01", 4);
    assert_int_not_equal(m.u.connect_r.local_port, 0);
    assert_int_equal(m.u.connect_r.relay_port, 0);

    static uint8_t chunk[65536];
    int64_t credit = SHUNT_STREAM_WINDOW, max_out = 0;
    uint64_t sent = 0, got = 0, unacked = 0;
    int shut_sent = 0, shut_got = 0, closed = 0;
    while (!closed) {
        while (credit > 0 && sent < RELAY_TOTAL) {
            size_t n = sizeof(chunk);
            if ((int64_t)n > credit)
                n = (size_t)credit;
            if (n > RELAY_TOTAL - sent)
                n = RELAY_TOTAL - sent;
            for (size_t i = 0; i < n; i++)
                chunk[i] = stream_byte(sent + i);
            shunt_data_t d = {.stream = sid, .data = shunt_bytes(chunk, n)};
            assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
            credit -= (int64_t)n;
            sent += n;
        }
        if (sent == RELAY_TOTAL && !shut_sent) {
            shunt_shutdown_t s = {.stream = sid, .how = SHUT_WR};
            assert_int_equal(shunt_client_send(c, SHUNT_T_SHUTDOWN, &s), 0);
            shut_sent = 1;
        }
        assert_int_equal(shunt_client_recv(c, &m, 10000), 0);
        assert_int_equal(m.id, 0);
        switch (m.type) {
        case SHUNT_T_DATA: {
            assert_int_equal(m.u.data.stream, sid);
            assert_int_equal(m.flags & SHUNT_FLAG_ONEWAY, SHUNT_FLAG_ONEWAY);
            uint32_t n = m.u.data.data.len;
            for (uint32_t i = 0; i < n; i++)
                if (m.u.data.data.p[i] != stream_byte(got + i))
                    fail_msg("byte %llu differs", (unsigned long long)(got + i));
            got += n;
            unacked += n;
            /* the agent never exceeds the credit we gave */
            if ((int64_t)unacked > max_out)
                max_out = (int64_t)unacked;
            assert_true(unacked <= SHUNT_STREAM_WINDOW);
            if (unacked >= 128 * 1024) {
                shunt_window_t w = {.stream = sid, .bytes = (uint32_t)unacked};
                assert_int_equal(shunt_client_send(c, SHUNT_T_WINDOW, &w), 0);
                unacked = 0;
            }
            break;
        }
        case SHUNT_T_WINDOW:
            assert_int_equal(m.u.window.stream, sid);
            credit += m.u.window.bytes;
            assert_true(credit <= (int64_t)SHUNT_STREAM_WINDOW);
            break;
        case SHUNT_T_SHUTDOWN:
            assert_int_equal(m.u.shutdown.stream, sid);
            shut_got = 1;
            break;
        case SHUNT_T_SCLOSE:
            assert_int_equal(m.u.sclose.stream, sid);
            assert_int_equal(m.u.sclose.err, 0);
            closed = 1;
            break;
        default:
            fail_msg("unexpected %s", shunt_msg_name(m.type));
        }
    }
    assert_int_equal(got, RELAY_TOTAL);
    assert_true(shut_got);
    /* all credit came back */
    assert_int_equal(credit, SHUNT_STREAM_WINDOW);
    /* the stream is gone: DATA for it is answered with SCLOSE EBADF */
    shunt_data_t d = {.stream = sid, .data = shunt_bytes("x", 1)};
    assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
    assert_int_equal(shunt_client_recv(c, &m, 5000), 0);
    assert_int_equal(m.type, SHUNT_T_SCLOSE);
    assert_int_equal(m.u.sclose.err, EBADF);
    pthread_join(t, NULL);
    close(lfd);
    shunt_client_close(c);
}

static void test_tcp_client_close_and_remote_reset(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_on(SOCK_STREAM, &port);
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    assert_int_equal(do_connect(c, SOCK_STREAM, port, 0, &m), 0);
    uint32_t sid = m.u.connect_r.stream;
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    /* remote data then a reset: DATA, then SCLOSE{ECONNRESET} */
    assert_int_equal(write(fd, "hi", 2), 2);
    assert_int_equal(shunt_client_recv(c, &m, 5000), 0);
    assert_int_equal(m.type, SHUNT_T_DATA);
    assert_int_equal(m.u.data.data.len, 2);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    assert_int_equal(shunt_client_recv(c, &m, 5000), 0);
    assert_int_equal(m.type, SHUNT_T_SCLOSE);
    assert_int_equal(m.u.sclose.stream, sid);
    assert_int_equal(m.u.sclose.err, ECONNRESET);

    /* client SCLOSE closes the remote socket */
    assert_int_equal(do_connect(c, SOCK_STREAM, port, 0, &m), 0);
    sid = m.u.connect_r.stream;
    fd = accept(lfd, NULL, NULL);
    shunt_sclose_t sc = {.stream = sid, .err = 0};
    assert_int_equal(shunt_client_send(c, SHUNT_T_SCLOSE, &sc), 0);
    char b;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(fd, &b, 1), 0);
    close(fd);
    assert_int_equal(r_ping(c), 0);
    close(lfd);
    shunt_client_close(c);
}

static void test_connect_errors(void **state)
{
    (void)state;
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    uint16_t port;
    int fd = listen_on(SOCK_STREAM, &port);
    close(fd); /* nothing listens there now */
    assert_int_equal(do_connect(c, SOCK_STREAM, port, 0, &m), -ECONNREFUSED);
    assert_true(m.u.error.msg.len > 0);
    /* a listener whose accept queue is full drops SYNs: the timeout */
    fd = listen_on(SOCK_STREAM, &port);
    listen(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    usleep(50 * 1000);
    uint64_t t0 = now_ms();
    assert_int_equal(do_connect(c, SOCK_STREAM, port, 300, &m), -ETIMEDOUT);
    uint64_t dt = now_ms() - t0;
    assert_true(dt >= 250 && dt < 3000);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(fd);
    uint8_t tn[4] = {192, 0, 2, 1};
    shunt_connect_t cn = {.socktype = SOCK_STREAM, .family = AF_INET,
                          .addr = shunt_bytes(tn, 4), .port = 9};
    /* malformed requests */
    cn.addr = shunt_bytes(tn, 3);
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), -EINVAL);
    cn.family = AF_APPLETALK;
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m),
                     -EAFNOSUPPORT);
    cn.family = AF_INET;
    cn.addr = shunt_bytes(tn, 4);
    cn.socktype = SOCK_RAW;
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), -EINVAL);
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
}

static void test_udp_relay(void **state)
{
    (void)state;
    uint16_t port;
    int ufd = listen_on(SOCK_DGRAM, &port);
    pthread_t t;
    pthread_create(&t, NULL, udp_echo, (void *)(intptr_t)ufd);
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    assert_int_equal(do_connect(c, SOCK_DGRAM, port, 0, &m), 0);
    uint32_t sid = m.u.connect_r.stream;
    assert_int_equal(m.u.connect_r.peer_port, port);
    const char *dg[] = {"one", "second datagram", "3"};
    for (int i = 0; i < 3; i++) {
        shunt_data_t d = {.stream = sid,
                          .data = shunt_bytes(dg[i], strlen(dg[i]))};
        assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
    }
    int seen = 0, windows = 0;
    while (seen < 3) {
        assert_int_equal(shunt_client_recv(c, &m, 5000), 0);
        if (m.type == SHUNT_T_WINDOW) {
            windows += (int)m.u.window.bytes;
            continue;
        }
        assert_int_equal(m.type, SHUNT_T_DATA);
        assert_int_equal(m.u.data.data.len, strlen(dg[seen]));
        assert_memory_equal(m.u.data.data.p, dg[seen], strlen(dg[seen]));
        seen++;
    }
    assert_true(windows <= 3 + 15 + 1); /* credit back per datagram sent */
    pthread_join(t, NULL);
    close(ufd);
    shunt_sclose_t sc = {.stream = sid};
    shunt_client_send(c, SHUNT_T_SCLOSE, &sc);
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
}

/* AF_UNIX: a socket path resolved inside the root (agent/unixconn.c). */
static int unix_connect_req(shunt_client_t *c, int type, const char *path,
                            shunt_msg_t *m)
{
    shunt_connect_t cn = {.socktype = type, .family = AF_UNIX,
                          .addr = shunt_bytes(path, strlen(path))};
    return shunt_client_call(c, SHUNT_T_CONNECT, &cn, m);
}

static void test_unix_connect(void **state)
{
    (void)state;
    char p[512], q[512];
    snprintf(p, sizeof(p), "%s/run", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/run/app.sock", root);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    assert_true(strlen(p) < sizeof(sun.sun_path));
    strcpy(sun.sun_path, p);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    /* an absolute symlink resolves from the root, not the host */
    snprintf(q, sizeof(q), "%s/run/link.sock", root);
    assert_int_equal(symlink("/run/app.sock", q), 0);
    snprintf(q, sizeof(q), "%s/run/escape.sock", root);
    assert_int_equal(symlink(p, q), 0); /* host path: not in the root */
    put_file(root, "run/plain", "x");

    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    const char *ok[] = {"/run/app.sock", "run/app.sock", "/run/link.sock",
                        "/../run/./app.sock"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(unix_connect_req(c, SOCK_STREAM, ok[i], &m), 0);
        uint32_t sid = m.u.connect_r.stream;
        assert_int_equal(m.u.connect_r.family, AF_UNIX);
        assert_int_equal(m.u.connect_r.relay_port, 0);
        /* the name the server bound (here a host path: --root mode) */
        assert_int_equal(m.u.connect_r.peer_addr.len, strlen(p));
        assert_memory_equal(m.u.connect_r.peer_addr.p, p, strlen(p));
        int fd = accept(lfd, NULL, NULL);
        assert_true(fd >= 0);
        shunt_data_t d = {.stream = sid, .data = shunt_bytes("abc", 3)};
        assert_int_equal(shunt_client_send(c, SHUNT_T_DATA, &d), 0);
        char b[8];
        assert_int_equal(read(fd, b, sizeof(b)), 3);
        assert_memory_equal(b, "abc", 3);
        assert_int_equal(write(fd, "xy", 2), 2);
        for (;;) { /* WINDOW frames may come first */
            assert_int_equal(shunt_client_recv(c, &m, 5000), 0);
            if (m.type != SHUNT_T_WINDOW)
                break;
        }
        assert_int_equal(m.type, SHUNT_T_DATA);
        assert_int_equal(m.u.data.data.len, 2);
        shunt_sclose_t sc = {.stream = sid, .err = 0};
        assert_int_equal(shunt_client_send(c, SHUNT_T_SCLOSE, &sc), 0);
        close(fd);
    }
    assert_int_equal(unix_connect_req(c, SOCK_STREAM, "/run/none.sock", &m),
                     -ENOENT);
    assert_int_equal(unix_connect_req(c, SOCK_STREAM, "/run/escape.sock", &m),
                     -ENOENT);
    assert_int_equal(unix_connect_req(c, SOCK_STREAM, "/run/plain", &m),
                     -ECONNREFUSED);
    assert_int_equal(unix_connect_req(c, SOCK_STREAM, "/run/plain/x", &m),
                     -ENOTDIR);
    assert_int_equal(unix_connect_req(c, SOCK_DGRAM, "/run/app.sock", &m),
                     -EINVAL);
    assert_int_equal(unix_connect_req(c, SOCK_STREAM, "", &m), -EINVAL);
    shunt_connect_t cn = {.socktype = SOCK_STREAM, .family = AF_UNIX,
                          .addr = shunt_bytes("/run\0x", 6)};
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), -EINVAL);
    close(lfd); /* nothing listens any more */
    assert_int_equal(unix_connect_req(c, SOCK_STREAM, "/run/app.sock", &m),
                     -ECONNREFUSED);
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_from_root),
        cmocka_unit_test(test_dns_host_names_stay_out),
        cmocka_unit_test(test_dns_helper_restarts),
        cmocka_unit_test(test_tcp_relay),
        cmocka_unit_test(test_tcp_client_close_and_remote_reset),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_udp_relay),
        cmocka_unit_test(test_unix_connect),
    };
    return cmocka_run_group_tests_name("agent.net", tests, group_setup,
                                       group_teardown);
}
