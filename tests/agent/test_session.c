/* shunt-agent sessions: handshake, protocol errors, limits, environment,
 * cleanup on disconnect and shutdown. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static int group_setup(void **state)
{
    (void)state;
    tmp_tree(root, sizeof(root), "session");
    put_file(root, "a.txt", "aaaa");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rm_tree(root);
    return 0;
}

static void start(agent_proc_t *ap, const char *const *extra)
{
    assert_int_equal(agent_start(ap, root, extra), 0);
}

static void stop(agent_proc_t *ap)
{
    assert_int_equal(agent_stop(ap), 0);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sends raw bytes on a handshaken client's socket. */
static void send_raw(shunt_client_t *c, const void *p, size_t n)
{
    assert_int_equal(write(shunt_client_fd(c), p, n), (ssize_t)n);
}

static void put_hdr(uint8_t *b, uint32_t len, uint16_t type, uint64_t id)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(len >> (8 * i));
    b[4] = (uint8_t)type;
    b[5] = (uint8_t)(type >> 8);
    b[6] = b[7] = 0;
    for (int i = 0; i < 8; i++)
        b[8 + i] = (uint8_t)(id >> (8 * i));
}

static void test_handshake(void **state)
{
    (void)state;
    agent_proc_t ap;
    const char *const extra[] = {"--max-frame", "200000", NULL};
    start(&ap, extra);
    char err[256];
    shunt_client_t *c = agent_client_opts(&ap, TEST_TOKEN, 100000, err,
                                          sizeof(err));
    assert_non_null(c);
    assert_int_equal(shunt_client_max_frame(c), 100000);
    assert_int_equal(shunt_client_version(c), SHUNT_PROTO_VERSION_MAX);
    assert_int_not_equal(shunt_client_session(c), 0);
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
    c = agent_client_opts(&ap, TEST_TOKEN, 0, err, sizeof(err));
    assert_int_equal(shunt_client_max_frame(c), 200000); /* ours is smaller */
    shunt_client_close(c);

    /* wrong token */
    c = agent_client_opts(&ap, "not-the-token", 0, err, sizeof(err));
    assert_null(c);
    assert_int_equal(errno, EACCES);
    assert_non_null(strstr(err, "wrong token"));
    c = agent_client_opts(&ap, TEST_TOKEN "x", 0, err, sizeof(err));
    assert_null(c);
    assert_int_equal(errno, EACCES);

    /* bad magic, versions, role: ERROR then close */
    struct {
        uint32_t magic;
        uint16_t vmin, vmax;
        uint8_t role;
        int err;
    } bad[] = {
        {0x12345678u, 1, 1, SHUNT_ROLE_TOOL, EPROTO},
        {SHUNT_MAGIC, 7, 9, SHUNT_ROLE_TOOL, EPROTONOSUPPORT},
        {SHUNT_MAGIC, 0, 0, SHUNT_ROLE_TOOL, EPROTONOSUPPORT},
        {SHUNT_MAGIC, 1, 1, SHUNT_ROLE_TOOL, EPROTONOSUPPORT}, /* signed dirh */
        {SHUNT_MAGIC, SHUNT_PROTO_VERSION_MIN, SHUNT_PROTO_VERSION_MAX,
         SHUNT_ROLE_LAYER, EACCES}, /* as the proxy answers it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = agent_raw_connect(&ap);
        assert_true(fd >= 0);
        assert_int_equal(raw_hello(fd, bad[i].magic, bad[i].vmin, bad[i].vmax,
                                   bad[i].role, TEST_TOKEN), 0);
        shunt_rx_t rx;
        shunt_rx_init(&rx, SHUNT_FRAME_DEFAULT);
        shunt_msg_t m;
        assert_int_equal(raw_recv(fd, &rx, &m, 5000), 1);
        assert_int_equal(m.type, SHUNT_T_ERROR);
        assert_int_equal(m.u.error.err, bad[i].err);
        assert_true(m.u.error.msg.len > 0);
        assert_int_equal(raw_wait_closed(fd, 5000), 0);
        shunt_rx_free(&rx);
        close(fd);
    }
    /* a version range that overlaps is fine */
    int fd = agent_raw_connect(&ap);
    raw_hello(fd, SHUNT_MAGIC, 0, 5, SHUNT_ROLE_PROXY, TEST_TOKEN);
    shunt_rx_t rx;
    shunt_rx_init(&rx, SHUNT_FRAME_DEFAULT);
    shunt_msg_t m;
    assert_int_equal(raw_recv(fd, &rx, &m, 5000), 1);
    assert_int_equal(m.type, SHUNT_T_HELLO_R);
    assert_int_equal(m.u.hello_r.version, SHUNT_PROTO_VERSION_MAX);
    assert_int_equal(m.u.hello_r.server_pid, ap.pid);
    assert_int_equal(m.u.hello_r.max_frame, SHUNT_FRAME_DEFAULT < 200000
                                                ? SHUNT_FRAME_DEFAULT : 200000);
    shunt_rx_free(&rx);
    close(fd);
    stop(&ap);
}

static void test_request_before_hello(void **state)
{
    (void)state;
    agent_proc_t ap;
    start(&ap, NULL);
    int fd = agent_raw_connect(&ap);
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    shunt_ping_t p = {.nonce = 1};
    shunt_encode(&w, SHUNT_T_PING, 0, 77, &p, SHUNT_FRAME_MIN);
    assert_int_equal(write(fd, w.data, w.len), (ssize_t)w.len);
    shunt_wbuf_free(&w);
    shunt_rx_t rx;
    shunt_rx_init(&rx, SHUNT_FRAME_DEFAULT);
    shunt_msg_t m;
    assert_int_equal(raw_recv(fd, &rx, &m, 5000), 1);
    assert_int_equal(m.type, SHUNT_T_ERROR);
    assert_int_equal(m.u.error.err, EPROTO);
    assert_int_equal(m.id, 77);
    assert_int_equal(raw_wait_closed(fd, 5000), 0);
    shunt_rx_free(&rx);
    close(fd);
    stop(&ap);
}

static void test_handshake_timeout(void **state)
{
    (void)state;
    agent_proc_t ap;
    const char *const extra[] = {"--handshake-timeout", "300", NULL};
    start(&ap, extra);
    int fd = agent_raw_connect(&ap);
    uint64_t t0 = now_ms();
    assert_int_equal(raw_wait_closed(fd, 5000), 0);
    uint64_t dt = now_ms() - t0;
    assert_true(dt >= 250 && dt < 3000);
    close(fd);
    /* a half-sent HELLO does not hold it open either */
    fd = agent_raw_connect(&ap);
    uint8_t hdr[8] = {100, 0, 0, 0, 3, 0, 0, 0};
    assert_int_equal(write(fd, hdr, sizeof(hdr)), 8);
    assert_int_equal(raw_wait_closed(fd, 5000), 0);
    close(fd);
    shunt_client_t *c = agent_client(&ap);
    assert_non_null(c);
    usleep(500 * 1000); /* handshaken clients have no such deadline */
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
    stop(&ap);
}

static void test_protocol_errors(void **state)
{
    (void)state;
    agent_proc_t ap;
    const char *const extra[] = {"--max-frame", "65536", NULL};
    start(&ap, extra);
    shunt_client_t *other = agent_client(&ap);
    shunt_msg_t m;

    /* unknown type: ENOSYS, the connection goes on */
    shunt_client_t *c = agent_client(&ap);
    uint8_t f[SHUNT_HDR_LEN + 3];
    put_hdr(f, 3, 0x7abc, 4242);
    f[16] = 1, f[17] = 2, f[18] = 3;
    send_raw(c, f, sizeof(f));
    assert_int_equal(shunt_client_recv(c, &m, 5000), 0);
    assert_int_equal(m.type, SHUNT_T_ERROR);
    assert_int_equal(m.u.error.err, ENOSYS);
    assert_int_equal(m.id, 4242);
    assert_int_equal(r_ping(c), 0);

    /* a response type as a request: EINVAL */
    shunt_ok_t ok = {.ret = 1};
    assert_int_equal(shunt_client_call(c, SHUNT_T_OK, &ok, &m), -EINVAL);
    shunt_open_r_t orr = {.handle = 1};
    assert_int_equal(shunt_client_call(c, SHUNT_T_OPEN_R, &orr, &m), -EINVAL);
    shunt_hello_t h = {.magic = SHUNT_MAGIC, .ver_min = 1, .ver_max = 1,
                       .role = SHUNT_ROLE_TOOL,
                       .token = shunt_bytes(TEST_TOKEN, strlen(TEST_TOKEN))};
    assert_int_equal(shunt_client_call(c, SHUNT_T_HELLO, &h, &m), -EINVAL);
    assert_int_equal(r_ping(c), 0);

    /* a malformed frame (PING with 3 payload bytes): closed */
    put_hdr(f, 3, SHUNT_T_PING, 5);
    send_raw(c, f, sizeof(f));
    assert_int_equal(raw_wait_closed(shunt_client_fd(c), 5000), 0);
    shunt_client_close(c);

    /* an oversized frame: closed */
    c = agent_client(&ap);
    put_hdr(f, 1u << 20, SHUNT_T_WRITE, 6);
    send_raw(c, f, SHUNT_HDR_LEN);
    assert_int_equal(raw_wait_closed(shunt_client_fd(c), 5000), 0);
    shunt_client_close(c);

    /* garbage: closed */
    c = agent_client(&ap);
    uint8_t junk[256];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    send_raw(c, junk, sizeof(junk));
    assert_int_equal(raw_wait_closed(shunt_client_fd(c), 5000), 0);
    shunt_client_close(c);

    /* garbage before the handshake: closed */
    int fd = agent_raw_connect(&ap);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    assert_int_equal(raw_wait_closed(fd, 5000), 0);
    close(fd);

    /* and the agent still serves the others */
    assert_int_equal(r_ping(other), 0);
    shunt_client_close(other);
    c = agent_client(&ap);
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
    stop(&ap);
}

static void test_max_clients(void **state)
{
    (void)state;
    agent_proc_t ap;
    const char *const extra[] = {"--max-clients", "2", NULL};
    start(&ap, extra);
    shunt_client_t *a = agent_client(&ap), *b = agent_client(&ap);
    assert_non_null(a);
    assert_non_null(b);
    char err[256];
    shunt_client_t *c = agent_client_opts(&ap, TEST_TOKEN, 0, err,
                                          sizeof(err));
    assert_null(c);
    assert_int_equal(errno, EUSERS);
    assert_non_null(strstr(err, "too many clients (2)"));
    assert_int_equal(r_ping(a), 0);
    shunt_client_close(a);
    /* a slot is free again once the agent has seen the close */
    for (int i = 0; i < 100 && !c; i++) {
        usleep(20000);
        c = agent_client_opts(&ap, TEST_TOKEN, 0, err, sizeof(err));
    }
    assert_non_null(c);
    assert_int_equal(r_ping(c), 0);
    shunt_client_close(c);
    shunt_client_close(b);
    stop(&ap);
}

static void test_max_fds(void **state)
{
    (void)state;
    agent_proc_t ap;
    const char *const extra[] = {"--max-fds", "4", NULL};
    start(&ap, extra);
    shunt_client_t *c = agent_client(&ap);
    int h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = r_open(c, SHUNT_AT_ROOT, "a.txt", O_RDONLY, 0);
        assert_true(h[i] > 0);
    }
    shunt_open_t o = {.path = shunt_str("a.txt"), .flags = O_RDONLY};
    shunt_msg_t m;
    assert_int_equal(shunt_client_call(c, SHUNT_T_OPEN, &o, &m), -EMFILE);
    assert_int_equal(m.type, SHUNT_T_ERROR);
    assert_non_null(strstr(m.u.error.msg.p, "client handle limit (4) reached"));
    /* O_CREAT is refused before anything is created */
    o.path = shunt_str("not-created");
    o.flags = O_WRONLY | O_CREAT;
    assert_int_equal(shunt_client_call(c, SHUNT_T_OPEN, &o, &m), -EMFILE);
    char p[512];
    snprintf(p, sizeof(p), "%s/not-created", root);
    assert_int_equal(access(p, F_OK), -1);
    /* another client has its own budget */
    shunt_client_t *c2 = agent_client(&ap);
    int h2 = r_open(c2, SHUNT_AT_ROOT, "a.txt", O_RDONLY, 0);
    assert_true(h2 > 0);
    shunt_client_close(c2);
    assert_int_equal(r_close(c, (uint32_t)h[2]), 0);
    h[2] = r_open(c, SHUNT_AT_ROOT, "a.txt", O_RDONLY, 0);
    assert_true(h[2] > 0);
    shunt_client_close(c);
    stop(&ap);
}

static void test_env_file(void **state)
{
    (void)state;
    char envf[512];
    snprintf(envf, sizeof(envf), "%s.env", root);
    put_file("", envf, "PATH=/usr/bin:/bin\nHOME=/root\nEMPTY=\n"
                       "WITH_EQ=a=b=c\n\nLAST=1");
    agent_proc_t ap;
    const char *const extra[] = {"--env-file", envf, NULL};
    start(&ap, extra);
    shunt_client_t *c = agent_client(&ap);
    shunt_msg_t m;
    shunt_env_get_t g = {.max_bytes = 0};
    assert_int_equal(shunt_client_call(c, SHUNT_T_ENV_GET, &g, &m), 0);
    const char *want[] = {"PATH=/usr/bin:/bin", "HOME=/root", "EMPTY=",
                          "WITH_EQ=a=b=c", "LAST=1"};
    assert_int_equal(m.u.env_r.vars.count, 5);
    shunt_list_iter_t it;
    shunt_rec_str_t s;
    shunt_list_iter_init(&it, &m.u.env_r.vars);
    for (int i = 0; shunt_list_next_rec_str(&it, &s) == 1; i++)
        assert_true(shunt_str_eq(s.s, want[i]));
    /* a small max_bytes truncates to whole variables */
    g.max_bytes = 40;
    assert_int_equal(shunt_client_call(c, SHUNT_T_ENV_GET, &g, &m), 0);
    assert_true(m.u.env_r.vars.count >= 1 && m.u.env_r.vars.count < 5);
    assert_true(m.u.env_r.vars.len <= 40);
    shunt_client_close(c);
    stop(&ap);
    unlink(envf);

    /* NUL-separated like /proc/PID/environ */
    int fd = open(envf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, "A=1\0B=two lines\nstill B\0", 24), 24);
    close(fd);
    start(&ap, extra);
    c = agent_client(&ap);
    g.max_bytes = 0;
    assert_int_equal(shunt_client_call(c, SHUNT_T_ENV_GET, &g, &m), 0);
    assert_int_equal(m.u.env_r.vars.count, 2);
    shunt_list_iter_init(&it, &m.u.env_r.vars);
    shunt_list_next_rec_str(&it, &s);
    assert_true(shunt_str_eq(s.s, "A=1"));
    shunt_list_next_rec_str(&it, &s);
    assert_true(shunt_str_eq(s.s, "B=two lines\nstill B"));
    shunt_client_close(c);
    stop(&ap);
    unlink(envf);

    /* without --env-file the environment is empty */
    start(&ap, NULL);
    c = agent_client(&ap);
    assert_int_equal(shunt_client_call(c, SHUNT_T_ENV_GET, &g, &m), 0);
    assert_int_equal(m.u.env_r.vars.count, 0);
    shunt_client_close(c);
    stop(&ap);
}

/* Waits until the agent's fd count drops to want. */
static int wait_fds(pid_t pid, int want)
{
    int n = -1;
    for (int i = 0; i < 200; i++) {
        n = count_fds(pid);
        if (n == want)
            return n;
        usleep(10000);
    }
    return n;
}

static void test_disconnect_closes_everything(void **state)
{
    (void)state;
    agent_proc_t ap;
    start(&ap, NULL);
    int base = count_fds(ap.pid);
    assert_true(base > 0);
    shunt_client_t *c = agent_client(&ap);
    assert_int_equal(r_ping(c), 0);
    int with_client = count_fds(ap.pid);
    assert_int_equal(with_client, base + 1);
    for (int i = 0; i < 50; i++)
        assert_true(r_open(c, SHUNT_AT_ROOT, i % 2 ? "a.txt" : "/",
                           O_RDONLY, 0) > 0);
    /* a stream too: connect to a listener of ours */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    uint32_t lo = htonl(INADDR_LOOPBACK);
    shunt_connect_t cn = {.socktype = SOCK_STREAM, .family = AF_INET,
                          .addr = shunt_bytes(&lo, 4),
                          .port = ntohs(sin.sin_port)};
    shunt_msg_t m;
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), 0);
    assert_int_equal(count_fds(ap.pid), with_client + 51);
    shunt_client_close(c);
    assert_int_equal(wait_fds(ap.pid, base), base);
    close(lfd);
    stop(&ap);
}

/* Handles are u32 with a slot generation in the top 12 bits; the second
 * half of the generations sets bit 31.  Protocol 1 carried dirh as an i32,
 * so from about the 2,048th open on one slot every request relative to a
 * directory handle failed with EBADF (find, du and tar silently lost most of
 * a tree).  100,000 opens wrap the generation counter more than 24 times. */
static void test_many_opens_dir_handles(void **state)
{
    (void)state;
    agent_proc_t ap;
    start(&ap, NULL);
    shunt_client_t *c = agent_client(&ap);
    int high = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t d = r_open(c, SHUNT_AT_ROOT, "/", O_RDONLY | O_DIRECTORY, 0);
        if (d <= 0)
            fail_msg("open %d: %lld", i, (long long)d);
        high |= (d & 0x80000000) != 0;
        shunt_stat_t q = {.dirh = (uint32_t)d, .path = shunt_str("a.txt")};
        shunt_msg_t m;
        int r = shunt_client_call(c, SHUNT_T_STAT, &q, &m);
        if (r != 0)
            fail_msg("open %d: STAT relative to handle %#llx: %d", i,
                     (unsigned long long)d, r);
        if (i % 997 == 0) { /* an OPENAT relative to it as well */
            int64_t f = r_open(c, (uint32_t)d, "a.txt", O_RDONLY, 0);
            if (f <= 0)
                fail_msg("open %d: OPENAT relative to %#llx: %lld", i,
                         (unsigned long long)d, (long long)f);
            assert_int_equal(r_close(c, (uint32_t)f), 0);
        }
        assert_int_equal(r_close(c, (uint32_t)d), 0);
    }
    assert_true(high); /* the test reached the handles that failed */
    shunt_client_close(c);
    stop(&ap);
}

static void test_slow_reader_dropped(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof(p), "%s/big", root);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    agent_proc_t ap;
    const char *const extra[] = {"--max-frame", "65536", "--max-queue",
                                 "1048576", NULL};
    start(&ap, extra);
    shunt_client_t *other = agent_client(&ap);
    shunt_client_t *c = agent_client(&ap);
    int h = r_open(c, SHUNT_AT_ROOT, "big", O_RDONLY, 0);
    assert_true(h > 0);
    /* shrink our receive buffer so the agent's queue must grow */
    int small = 4096;
    setsockopt(shunt_client_fd(c), SOL_SOCKET, SO_RCVBUF, &small,
               sizeof(small));
    shunt_wbuf_t w;
    shunt_wbuf_init(&w);
    for (int i = 0; i < 400; i++) {
        shunt_pread_t pr = {.handle = (uint32_t)h, .count = 60000,
                            .offset = 0};
        shunt_encode(&w, SHUNT_T_PREAD, 0, (uint64_t)i + 100, &pr,
                     SHUNT_FRAME_MIN);
    }
    /* 400 x 60 KB of answers > 1 MiB queue + socket buffers */
    send_raw(c, w.data, w.len);
    shunt_wbuf_free(&w);
    usleep(300 * 1000);
    assert_int_equal(raw_wait_closed(shunt_client_fd(c), 10000), 0);
    shunt_client_close(c);
    assert_int_equal(r_ping(other), 0);
    shunt_client_close(other);
    stop(&ap);
}

static void test_sigterm(void **state)
{
    (void)state;
    agent_proc_t ap;
    start(&ap, NULL);
    shunt_client_t *c = agent_client(&ap);
    int h = r_open(c, SHUNT_AT_ROOT, "a.txt", O_RDONLY, 0);
    assert_true(h > 0);
    int raw = agent_raw_connect(&ap); /* one mid-handshake too */
    uint64_t t0 = now_ms();
    assert_int_equal(agent_stop(&ap), 0);
    assert_true(now_ms() - t0 < 2000);
    assert_int_equal(raw_wait_closed(shunt_client_fd(c), 2000), 0);
    close(raw);
    shunt_client_close(c);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct {
        const char *args[12];
    } cases[] = {
        {{"--bogus", NULL}},
        {{"--root", "/", NULL}},
        {{"--root", "/", "--target-pid", "1", "--listen", "127.0.0.1:0",
          "--token-file", "/dev/null", NULL}},
        {{"--root", "/nonexistent-dir-xyz", "--listen", "127.0.0.1:0",
          "--token-file", "/etc/hostname", NULL}},
        {{"--root", "/", "--listen", "localhost:1", "--token-file",
          "/etc/hostname", NULL}},
        {{"--root", "/", "--listen", "127.0.0.1:0", "--token-file",
          "/etc/hostname", "--max-clients", "0", NULL}},
        {{"--root", "/", "--listen", "127.0.0.1:0", "--token-file",
          "/etc/hostname", "--log-level", "loud", NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            const char *argv[14] = {SHUNT_AGENT_PATH};
            for (int k = 0; cases[i].args[k]; k++)
                argv[k + 1] = cases[i].args[k];
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execv(argv[0], (char *const *)argv);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
            fail_msg("case %zu: exit status %d, expected 2", i,
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_request_before_hello),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_max_clients),
        cmocka_unit_test(test_max_fds),
        cmocka_unit_test(test_env_file),
        cmocka_unit_test(test_disconnect_closes_everything),
        cmocka_unit_test(test_many_opens_dir_handles),
        cmocka_unit_test(test_slow_reader_dropped),
        cmocka_unit_test(test_sigterm),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests_name("agent.session", tests, group_setup,
                                       group_teardown);
}
