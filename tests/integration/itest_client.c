/* Integration checks against a real runc target, through `harness proxy`
 * and the real agent.  Driven by run.sh, which passes:
 *   SHUNT_ITEST_SOCKET     the proxy's unix socket (token at SOCKET.token)
 *   SHUNT_ITEST_SECRET     a host-only file whose content must never leak
 *   SHUNT_ITEST_HOSTNAME   a name only the host's /etc/hosts knows
 *   SHUNT_ITEST_AGENT_PID  the agent, killed by the last test */
#include "shunt/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const char *sock_path, *secret_path, *host_only_name;
static char secret[256];
static char token[256];
static size_t token_len;

static shunt_client_t *connect_proxy(void)
{
    shunt_client_opts_t o = {.role = SHUNT_ROLE_TOOL, .token = token,
                             .token_len = token_len, .name = "itest",
                             .timeout_ms = 15000};
    char err[256];
    shunt_client_t *c = shunt_client_connect(sock_path, &o, err, sizeof(err));
    if (!c)
        fail_msg("connect: %s", err);
    return c;
}

static int remote_open(shunt_client_t *c, int dirh, const char *path,
                       uint32_t *h)
{
    shunt_msg_t m;
    shunt_openat_t o = {.dirh = dirh, .path = shunt_str(path),
                        .flags = O_RDONLY | O_CLOEXEC};
    int r = shunt_client_call(c, SHUNT_T_OPENAT, &o, &m);
    if (r == 0)
        *h = m.u.open_r.handle;
    return r;
}

/* Reads a whole remote file into buf; returns its length or -errno. */
static long remote_read_file(shunt_client_t *c, const char *path, char *buf,
                             size_t cap)
{
    uint32_t h = 0;
    int r = remote_open(c, SHUNT_AT_ROOT, path, &h);
    if (r < 0)
        return r;
    size_t len = 0;
    for (;;) {
        shunt_msg_t m;
        shunt_read_t rd = {.handle = h, .count = 4096};
        r = shunt_client_call(c, SHUNT_T_READ, &rd, &m);
        if (r < 0)
            return r;
        if (m.u.data_r.data.len == 0)
            break;
        size_t n = m.u.data_r.data.len;
        if (len + n > cap)
            n = cap - len;
        memcpy(buf + len, m.u.data_r.data.p, n);
        len += n;
    }
    shunt_msg_t m;
    shunt_close_t cl = {.handle = h};
    assert_int_equal(shunt_client_call(c, SHUNT_T_CLOSE, &cl, &m), 0);
    return (long)len;
}

/* Resolves name through the target; returns gai_err and the first IPv4. */
static int remote_resolve(shunt_client_t *c, const char *name,
                          struct in_addr *out)
{
    shunt_msg_t m;
    shunt_getaddrinfo_t g = {.has_node = 1, .node = shunt_str(name),
                             .family = AF_INET, .socktype = SOCK_STREAM};
    assert_int_equal(shunt_client_call(c, SHUNT_T_GETADDRINFO, &g, &m), 0);
    if (m.u.gai_r.gai_err)
        return m.u.gai_r.gai_err;
    shunt_list_iter_t it;
    shunt_rec_addrinfo_t ai;
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    assert_int_equal(shunt_list_next_rec_addrinfo(&it, &ai), 1);
    assert_int_equal(ai.family, AF_INET);
    assert_int_equal(ai.addr.len, 4);
    memcpy(out, ai.addr.p, 4);
    return 0;
}

static void test_file_only_in_target_is_read(void **state)
{
    (void)state;
    assert_int_equal(access("/srv/only-in-target.txt", F_OK), -1);
    shunt_client_t *c = connect_proxy();
    char buf[256];
    long n = remote_read_file(c, "/srv/only-in-target.txt", buf, sizeof(buf));
    assert_int_equal(n, strlen("remote file content 42\n"));
    assert_memory_equal(buf, "remote file content 42\n", (size_t)n);

    shunt_msg_t m;
    shunt_stat_t st = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("/srv/sub/dir/nested.txt")};
    assert_int_equal(shunt_client_call(c, SHUNT_T_STAT, &st, &m), 0);
    assert_int_equal(m.u.stat_r.size, 7);
    st.path = shunt_str("/srv/missing");
    assert_int_equal(shunt_client_call(c, SHUNT_T_STAT, &st, &m), -ENOENT);

    /* The directory listing comes from the target too. */
    uint32_t dh = 0;
    assert_int_equal(remote_open(c, SHUNT_AT_ROOT, "/srv", &dh), 0);
    shunt_getdents_t gd = {.handle = dh, .max_entries = 64};
    assert_int_equal(shunt_client_call(c, SHUNT_T_GETDENTS, &gd, &m), 0);
    int found = 0;
    shunt_list_iter_t it;
    shunt_rec_dirent_t de;
    shunt_list_iter_init(&it, &m.u.dirents_r.entries);
    while (shunt_list_next_rec_dirent(&it, &de) == 1)
        found += shunt_str_eq(de.name, "only-in-target.txt");
    assert_int_equal(found, 1);
    shunt_client_close(c);
}

/* Every way out of the target must fail, and never return the secret. */
static void test_escapes_never_reveal_host_files(void **state)
{
    (void)state;
    shunt_client_t *c = connect_proxy();
    char rel[512], dotdot[512], viaproc[512], viaproc1[512];
    const char *base = strrchr(secret_path, '/') + 1;
    snprintf(dotdot, sizeof(dotdot), "../../../../../..%s", secret_path);
    snprintf(rel, sizeof(rel), "/srv/sub/dir/../../../../../../..%s", secret_path);
    snprintf(viaproc, sizeof(viaproc), "/proc/self/root%s", secret_path);
    snprintf(viaproc1, sizeof(viaproc1), "/proc/1/root%s", secret_path);
    const char *paths[] = {
        secret_path, dotdot, rel, viaproc, viaproc1,
        "/srv/abs-link",      /* absolute symlink to the host-only path */
        "/srv/rel-link",      /* relative symlink climbing out */
        "/srv/proc-link",     /* symlink into /proc/1/root */
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char buf[512];
        long n = remote_read_file(c, paths[i], buf, sizeof(buf));
        if (n >= 0 && (size_t)n >= strlen(secret) &&
            memmem(buf, (size_t)n, secret, strlen(secret)))
            fail_msg("%s revealed the host file", paths[i]);
        if (n >= 0)
            fail_msg("%s opened something (%ld bytes) instead of failing",
                     paths[i], n);
        print_message("escape %-40s -> %s\n", paths[i], strerror((int)-n));
    }
    /* Relative to a directory handle, `..` climbs no higher than the root. */
    uint32_t dh = 0, h = 0;
    assert_int_equal(remote_open(c, SHUNT_AT_ROOT, "/srv/sub", &dh), 0);
    char up[512];
    snprintf(up, sizeof(up), "../../../../..%s", secret_path);
    assert_true(remote_open(c, (int)dh, up, &h) < 0);
    snprintf(up, sizeof(up), "../../../tmp/%s", base);
    assert_true(remote_open(c, (int)dh, up, &h) < 0);
    assert_int_equal(remote_open(c, (int)dh, "../only-in-target.txt", &h), 0);
    shunt_client_close(c);
}

static void test_environment_is_the_targets(void **state)
{
    (void)state;
    shunt_client_t *c = connect_proxy();
    shunt_msg_t m;
    shunt_env_get_t e = {.max_bytes = 0};
    assert_int_equal(shunt_client_call(c, SHUNT_T_ENV_GET, &e, &m), 0);
    int saw_target = 0, saw_host = 0;
    shunt_list_iter_t it;
    shunt_rec_str_t kv;
    shunt_list_iter_init(&it, &m.u.env_r.vars);
    while (shunt_list_next_rec_str(&it, &kv) == 1) {
        saw_target += shunt_str_eq(kv.s, "SHUNT_ITEST_ENV=from-target");
        saw_host += kv.s.len >= 19 && memcmp(kv.s.p, "SHUNT_ITEST_SOCKET=", 19) == 0;
    }
    assert_int_equal(saw_target, 1);
    assert_int_equal(saw_host, 0);
    shunt_client_close(c);
}

static void test_names_resolve_in_the_target(void **state)
{
    (void)state;
    shunt_client_t *c = connect_proxy();
    struct in_addr a;
    char s[32];
    assert_int_equal(remote_resolve(c, "only-in-target.example", &a), 0);
    assert_string_equal(inet_ntop(AF_INET, &a, s, sizeof(s)), "10.200.250.7");
    assert_int_equal(remote_resolve(c, "api.cluster", &a), 0);
    assert_int_equal(ntohl(a.s_addr) >> 16, (10u << 8) | 200u);
    /* The host resolves its own name; the target must not. */
    struct addrinfo *res = NULL, hints = {.ai_family = AF_INET};
    assert_int_equal(getaddrinfo(host_only_name, NULL, &hints, &res), 0);
    freeaddrinfo(res);
    assert_int_not_equal(remote_resolve(c, host_only_name, &a), 0);
    /* And the target's name is not known to the host. */
    assert_int_not_equal(getaddrinfo("only-in-target.example", NULL, &hints, &res), 0);
    shunt_client_close(c);
}

static void test_tcp_to_cluster_service(void **state)
{
    (void)state;
    shunt_client_t *c = connect_proxy();
    struct in_addr api;
    assert_int_equal(remote_resolve(c, "api.cluster", &api), 0);

    /* Directly from the host the service network does not exist: with
     * SO_DONTROUTE the kernel refuses at once instead of handing the SYN to
     * the default gateway, so this sends nothing anywhere. */
    int d = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(d, SOL_SOCKET, SO_DONTROUTE, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080),
                              .sin_addr = api};
    assert_int_equal(connect(d, (struct sockaddr *)&sin, sizeof(sin)), -1);
    assert_int_equal(errno, ENETUNREACH);
    close(d);

    shunt_msg_t m;
    shunt_connect_t cn = {.socktype = SOCK_STREAM, .family = AF_INET,
                          .addr = shunt_bytes(&api, 4), .port = 8080,
                          .timeout_ms = 5000};
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), 0);
    assert_int_equal(m.u.connect_r.peer_port, 8080);
    assert_memory_equal(m.u.connect_r.peer_addr.p, &api, 4);
    uint16_t relay = m.u.connect_r.relay_port;
    assert_int_not_equal(relay, 0);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = htons(relay),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&lo, sizeof(lo)), 0);
    const char req[] = "GET /index.html HTTP/1.0\r\nHost: api.cluster\r\n\r\n";
    assert_int_equal(write(s, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    char resp[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(s, resp + len, sizeof(resp) - 1 - len);
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    resp[len] = 0;
    assert_non_null(strstr(resp, " 200 "));
    assert_non_null(strstr(resp, "hello from the cluster api"));
    close(s);

    /* A port nobody listens on is refused, not a false success. */
    cn.port = 8081;
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), -ECONNREFUSED);
    shunt_client_close(c);
}

typedef struct {
    shunt_client_t *c;
    struct in_addr blackhole;
    int result;
    uint64_t done_ns;
} pending_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *pending_connect(void *arg)
{
    pending_t *p = arg;
    shunt_msg_t m;
    shunt_connect_t cn = {.socktype = SOCK_STREAM, .family = AF_INET,
                          .addr = shunt_bytes(&p->blackhole, 4), .port = 80,
                          .timeout_ms = 20000};
    p->result = shunt_client_call(p->c, SHUNT_T_CONNECT, &cn, &m);
    p->done_ns = now_ns();
    return NULL;
}

/* Last: kills the agent while a request is pending. */
static void test_killing_the_agent_fails_requests_promptly(void **state)
{
    (void)state;
    const char *pid_s = getenv("SHUNT_ITEST_AGENT_PID");
    assert_non_null(pid_s);
    pid_t agent = (pid_t)atoi(pid_s);
    assert_true(agent > 1);
    shunt_client_t *c = connect_proxy();
    pending_t p = {.c = c};
    /* An unused address in the target's own subnet: ARP goes unanswered, so
     * the connect stays pending for seconds, inside our namespaces. */
    struct in_addr self;
    assert_int_equal(remote_resolve(c, "itest-host", &self), 0);
    p.blackhole.s_addr = htonl((ntohl(self.s_addr) & 0xffffff00u) | 99u);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pending_connect, &p), 0);
    usleep(300 * 1000);
    assert_int_equal(p.done_ns, 0); /* still pending */
    uint64_t killed = now_ns();
    assert_int_equal(kill(agent, SIGKILL), 0);
    pthread_join(t, NULL);
    double ms = (double)(p.done_ns - killed) / 1e6;
    print_message("pending request failed %.1f ms after the agent died: %s\n",
                  ms, strerror(-p.result));
    assert_int_equal(p.result, -EIO);
    assert_true(ms < 1000.0);
    /* Later requests fail at once, and new connections still work. */
    shunt_msg_t m;
    shunt_ping_t ping = {.nonce = 7};
    uint64_t t0 = now_ns();
    assert_int_equal(shunt_client_call(c, SHUNT_T_PING, &ping, &m), -EIO);
    shunt_client_t *c2 = connect_proxy();
    shunt_stat_t st = {.dirh = SHUNT_AT_ROOT, .path = shunt_str("/srv")};
    assert_int_equal(shunt_client_call(c2, SHUNT_T_STAT, &st, &m), -EIO);
    assert_true((now_ns() - t0) / 1000000 < 500);
    shunt_client_close(c2);
    shunt_client_close(c);
}

int main(void)
{
    sock_path = getenv("SHUNT_ITEST_SOCKET");
    secret_path = getenv("SHUNT_ITEST_SECRET");
    host_only_name = getenv("SHUNT_ITEST_HOSTNAME");
    if (!sock_path || !secret_path || !host_only_name) {
        fprintf(stderr, "run me through tests/integration/run.sh\n");
        return 2;
    }
    char tpath[4096];
    snprintf(tpath, sizeof(tpath), "%s.token", sock_path);
    FILE *f = fopen(tpath, "r");
    if (!f || !fgets(token, sizeof(token), f)) {
        fprintf(stderr, "cannot read %s\n", tpath);
        return 2;
    }
    fclose(f);
    token_len = strcspn(token, "\n");
    f = fopen(secret_path, "r");
    if (!f || !fgets(secret, sizeof(secret), f)) {
        fprintf(stderr, "cannot read %s\n", secret_path);
        return 2;
    }
    fclose(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_only_in_target_is_read),
        cmocka_unit_test(test_escapes_never_reveal_host_files),
        cmocka_unit_test(test_environment_is_the_targets),
        cmocka_unit_test(test_names_resolve_in_the_target),
        cmocka_unit_test(test_tcp_to_cluster_service),
        cmocka_unit_test(test_killing_the_agent_fails_requests_promptly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
