/* shunt-agent --target-pid: files, environment, DNS and connections come
 * from the target's mount and network namespaces, not the host's.  The
 * target is a child in its own mount + network namespace with a tmpfs,
 * its own /etc/hosts, a listener on its loopback and its own environment. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static pid_t target;
static uint16_t target_port;
static agent_proc_t ap;
static shunt_client_t *c;

static void __attribute__((noreturn)) target_main(int report)
{
    char p[512];
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0)
        _exit(77);
    put_file(dir, "marker", "IN-TARGET");
    put_file(dir, "hosts", "10.9.8.7 only-in-target.test\n");
    snprintf(p, sizeof(p), "%s/hosts", dir);
    if (mount(p, "/etc/hosts", NULL, MS_BIND, NULL) < 0)
        _exit(77);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        _exit(77);
    close(s);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 16) < 0)
        _exit(77);
    getsockname(l, (struct sockaddr *)&sin, &sl);
    uint16_t port = ntohs(sin.sin_port);
    if (write(report, &port, sizeof(port)) != sizeof(port))
        _exit(77);
    close(report);
    /* the listener stays open across exec: connections land in its backlog */
    char *const argv[] = {"sleep", "120", NULL};
    char *const envp[] = {"SHUNT_TARGET_MARK=yes", "PATH=/usr/bin:/bin",
                          NULL};
    execve("/usr/bin/sleep", argv, envp);
    execve("/bin/sleep", argv, envp);
    _exit(77);
}

static int setup(void **state)
{
    (void)state;
    tmp_tree(dir, sizeof(dir), "target");
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) < 0)
        return -1;
    target = fork();
    if (target == 0) {
        close(pp[0]);
        target_main(pp[1]);
    }
    close(pp[1]);
    ssize_t n = read(pp[0], &target_port, sizeof(target_port));
    close(pp[0]);
    if (n != sizeof(target_port)) {
        int st;
        waitpid(target, &st, 0);
        target = 0;
        fprintf(stderr, "note: cannot build a target namespace; skipped\n");
        return 0;
    }
    /* wait for the exec: its environ is then the target's own */
    char p[64], env[256];
    snprintf(p, sizeof(p), "/proc/%d/environ", (int)target);
    for (int i = 0; i < 500; i++) {
        int fd = open(p, O_RDONLY);
        ssize_t k = fd >= 0 ? read(fd, env, sizeof(env) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (k > 0 && memmem(env, (size_t)k, "SHUNT_TARGET_MARK", 17))
            break;
        usleep(10000);
    }
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)target);
    const char *const extra[] = {"--target-pid", pid, NULL};
    if (agent_start(&ap, NULL, extra) < 0)
        return -1;
    c = agent_client(&ap);
    return c ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    if (target > 0) {
        shunt_client_close(c);
        rc = agent_stop(&ap);
        kill(target, SIGKILL);
        waitpid(target, NULL, 0);
    }
    rmdir(dir);
    return rc == 0 ? 0 : -1;
}

static void test_files_from_target_mounts(void **state)
{
    (void)state;
    if (target <= 0)
        skip();
    char p[512], buf[64];
    snprintf(p, sizeof(p), "%s/marker", dir);
    assert_int_equal(access(p, F_OK), -1); /* the host sees an empty dir */
    assert_int_equal(r_slurp(c, SHUNT_AT_ROOT, p, buf, sizeof(buf)), 9);
    assert_string_equal(buf, "IN-TARGET");
    assert_true(r_slurp(c, SHUNT_AT_ROOT, "/etc/hosts", buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "only-in-target.test"));
}

static void test_env_from_target(void **state)
{
    (void)state;
    if (target <= 0)
        skip();
    shunt_msg_t m;
    shunt_env_get_t g = {0};
    assert_int_equal(shunt_client_call(c, SHUNT_T_ENV_GET, &g, &m), 0);
    assert_int_equal(m.u.env_r.vars.count, 2);
    shunt_list_iter_t it;
    shunt_rec_str_t s;
    shunt_list_iter_init(&it, &m.u.env_r.vars);
    shunt_list_next_rec_str(&it, &s);
    assert_true(shunt_str_eq(s.s, "SHUNT_TARGET_MARK=yes"));
}

static void test_dns_from_target(void **state)
{
    (void)state;
    if (target <= 0)
        skip();
    shunt_msg_t m;
    shunt_getaddrinfo_t g = {.has_node = 1,
                             .node = shunt_str("only-in-target.test"),
                             .family = AF_INET, .socktype = SOCK_STREAM};
    assert_int_equal(shunt_client_call(c, SHUNT_T_GETADDRINFO, &g, &m), 0);
    assert_int_equal(m.u.gai_r.gai_err, 0);
    shunt_list_iter_t it;
    shunt_rec_addrinfo_t a;
    shunt_list_iter_init(&it, &m.u.gai_r.addrs);
    assert_int_equal(shunt_list_next_rec_addrinfo(&it, &a), 1);
    assert_memory_equal(a.addr.p, "\x0a\x09\x08\x07", 4);
    /* the host itself does not know the name */
    struct addrinfo *res = NULL, hints = {.ai_family = AF_INET};
    hints.ai_flags = 0;
    int rc = getaddrinfo("only-in-target.test", NULL, &hints, &res);
    assert_int_not_equal(rc, 0);
    if (res)
        freeaddrinfo(res);
}

static void test_connect_in_target_netns(void **state)
{
    (void)state;
    if (target <= 0)
        skip();
    shunt_msg_t m;
    uint32_t lo = htonl(INADDR_LOOPBACK);
    shunt_connect_t cn = {.socktype = SOCK_STREAM, .family = AF_INET,
                          .addr = shunt_bytes(&lo, 4), .port = target_port};
    assert_int_equal(shunt_client_call(c, SHUNT_T_CONNECT, &cn, &m), 0);
    assert_int_equal(m.u.connect_r.peer_port, target_port);
    shunt_sclose_t sc = {.stream = m.u.connect_r.stream};
    shunt_client_send(c, SHUNT_T_SCLOSE, &sc);
    assert_int_equal(r_ping(c), 0);
    /* the same port on the host's loopback is somebody else (or nobody):
     * from the host it usually refuses, which proves the agent used the
     * target's network namespace above */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(target_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int hr = connect(s, (struct sockaddr *)&sin, sizeof(sin));
    close(s);
    if (hr == 0)
        print_message("note: port %u is also open on the host\n",
                      target_port);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_from_target_mounts),
        cmocka_unit_test(test_env_from_target),
        cmocka_unit_test(test_dns_from_target),
        cmocka_unit_test(test_connect_in_target_netns),
    };
    return cmocka_run_group_tests_name("agent.target", tests, setup, teardown);
}
