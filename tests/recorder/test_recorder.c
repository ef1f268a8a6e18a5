/* The recorder against rec_prog: every mode's syscalls recorded with the
 * right pid, arguments and result; exit status and signals as without it;
 * the timeout; which calls are leaks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "shunt/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef REC_PROG
#error REC_PROG must name the rec_prog binary
#endif

static char dir[64], outfile[128];
static char *envp[64];

/* The value of "key" in rec_prog's OUT file, or -1. */
static long val(const char *key)
{
    FILE *f = fopen(outfile, "r");
    char k[64];
    long v, found = -1;
    while (f && fscanf(f, "%63s %ld", k, &v) == 2)
        if (strcmp(k, key) == 0)
            found = v;
    if (f)
        fclose(f);
    return found;
}

static void touch(const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/shunt-rec-test.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(outfile, sizeof(outfile), "%s/out", dir);
    char p[256];
    snprintf(p, sizeof(p), "%s/local", dir);
    mkdir(p, 0755);
    touch("libc.txt");
    touch("child.txt");
    touch("thread.txt");
    /* LeakSanitizer stops the world with ptrace: not in a tracee. */
    extern char **environ;
    size_t k = 0;
    envp[k++] = (char *)"ASAN_OPTIONS=detect_leaks=0";
    for (size_t i = 0; environ[i] && k < 62; i++)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
            envp[k++] = environ[i];
    envp[k] = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int run(const char *mode, const recorder_opts_t *o,
               recorder_result_t *res)
{
    unlink(outfile);
    char *argv[] = {(char *)REC_PROG, (char *)mode, outfile, dir, NULL};
    char err[512] = "";
    int r = recorder_run(o, REC_PROG, argv, envp, res, err, sizeof(err));
    if (r < 0)
        print_error("recorder_run: %s\n", err);
    return r;
}

/* The first syscall event of name by pid whose args contain needle. */
static const recorder_event_t *find(const recorder_result_t *res, pid_t pid,
                                    const char *name, const char *needle)
{
    for (size_t i = 0; i < res->n_ev; i++) {
        const recorder_event_t *e = &res->ev[i];
        if (e->kind == RECORDER_EV_SYSCALL && (pid == 0 || e->pid == pid) &&
            strcmp(e->name, name) == 0 && strstr(e->args, needle))
            return e;
    }
    return NULL;
}

static void dump(const recorder_result_t *res)
{
    recorder_print(stderr, res, RECORDER_PRINT_EVENTS | RECORDER_PRINT_LEAKS);
}

/* The event, or the journal printed and the test failed. */
static const recorder_event_t *expect_event(const recorder_result_t *res,
                                            pid_t pid, const char *name,
                                            const char *needle)
{
    const recorder_event_t *e = find(res, pid, name, needle);
    if (!e) {
        dump(res);
        fail_msg("no %s(...%s...) by pid %d", name, needle, (int)pid);
    }
    return e;
}
#define EXPECT_EVENT expect_event

static void files_in(int all)
{
    recorder_opts_t o = {.timeout_ms = 20000, .all_syscalls = all};
    recorder_result_t res;
    assert_int_equal(run("files", &o, &res), 0);
    assert_true(WIFEXITED(res.status));
    assert_int_equal(WEXITSTATUS(res.status), 0);
    pid_t pid = (pid_t)val("pid");
    char want[256];
    snprintf(want, sizeof(want), "AT_FDCWD, \"%s/libc.txt\", O_RDONLY", dir);
    const recorder_event_t *e = EXPECT_EVENT(&res, pid, "openat", want);
    assert_true(e->done && e->ret >= 0);
    assert_int_equal(e->tgid, pid);
    /* The raw syscall, relative to the cwd, resolved. */
    snprintf(want, sizeof(want), "\"raw-missing.txt\" <%s/raw-missing.txt>",
             dir);
    e = EXPECT_EVENT(&res, pid, "openat", want);
    assert_true(e->done);
    assert_int_equal(e->ret, -ENOENT);
    assert_int_equal(val("raw_ret"), -ENOENT);
    snprintf(want, sizeof(want), "\"%s/written.txt\", O_WRONLY|O_CREAT|O_TRUNC, 0600", dir);
    EXPECT_EVENT(&res, pid, "openat", want);
    snprintf(want, sizeof(want), "\"%s\"", REC_PROG);
    e = EXPECT_EVENT(&res, pid, "execve", want);
    assert_int_equal(e->ret, 0);
    assert_int_equal(res.n_leaks, 0); /* no rules, no leaks */
    recorder_result_free(&res);
}

static void test_files(void **state)
{
    (void)state;
    files_in(0);
}

static void test_files_all_syscalls(void **state)
{
    (void)state;
    files_in(1);
}

static void test_net(void **state)
{
    (void)state;
    recorder_opts_t o = {.timeout_ms = 20000};
    recorder_result_t res;
    assert_int_equal(run("net", &o, &res), 0);
    assert_int_equal(res.status, 0);
    pid_t pid = (pid_t)val("pid");
    char want[256];
    snprintf(want, sizeof(want), "{AF_UNIX, \"%s/sock\"}", dir);
    const recorder_event_t *e = EXPECT_EVENT(&res, pid, "connect", want);
    assert_int_equal(e->ret, 0);
    EXPECT_EVENT(&res, pid, "bind", want);
    snprintf(want, sizeof(want), "{AF_INET, 127.0.0.1:%ld}", val("port"));
    e = EXPECT_EVENT(&res, pid, "connect", want);
    assert_int_equal(e->ret, 0);
    recorder_result_free(&res);
}

static void spawn_in(const char *mode)
{
    recorder_opts_t o = {.timeout_ms = 20000};
    recorder_result_t res;
    assert_int_equal(run(mode, &o, &res), 0);
    assert_int_equal(res.status, 0);
    pid_t pid = (pid_t)val("pid"), child = (pid_t)val("child_pid");
    assert_true(child > 0 && child != pid);
    const recorder_event_t *e =
        EXPECT_EVENT(&res, pid, strcmp(mode, "vfork") == 0 ? "vfork" : "clone", "");
    assert_int_equal(e->ret, child);
    e = EXPECT_EVENT(&res, child, "execve", "\"child-open\"");
    assert_int_equal(e->ret, 0);
    char want[256];
    snprintf(want, sizeof(want), "\"%s/child.txt\"", dir);
    e = EXPECT_EVENT(&res, child, "openat", want);
    assert_true(e->ret >= 0);
    assert_int_equal(e->tgid, child);
    recorder_result_free(&res);
}

static void test_fork(void **state)
{
    (void)state;
    spawn_in("fork");
}

static void test_vfork(void **state)
{
    (void)state;
    spawn_in("vfork");
}

static void test_thread(void **state)
{
    (void)state;
    recorder_opts_t o = {.timeout_ms = 20000};
    recorder_result_t res;
    assert_int_equal(run("thread", &o, &res), 0);
    assert_int_equal(res.status, 0);
    pid_t pid = (pid_t)val("pid"), tid = (pid_t)val("thread_tid");
    assert_true(tid > 0 && tid != pid);
    char want[256];
    snprintf(want, sizeof(want), "\"%s/thread.txt\"", dir);
    const recorder_event_t *e = EXPECT_EVENT(&res, tid, "openat", want);
    assert_true(e->ret >= 0);
    assert_int_equal(e->tgid, pid);
    recorder_result_free(&res);
}

static void test_thread_exec(void **state)
{
    (void)state;
    recorder_opts_t o = {.timeout_ms = 20000};
    recorder_result_t res;
    assert_int_equal(run("thread-exec", &o, &res), 0);
    assert_int_equal(res.status, 0);
    pid_t pid = (pid_t)val("pid"), tid = (pid_t)val("exec_tid");
    assert_true(tid > 0 && tid != pid);
    assert_int_equal(val("child_pid"), pid); /* the leader's id */
    const recorder_event_t *e = EXPECT_EVENT(&res, 0, "execve", "\"child-open\"");
    assert_int_equal(e->ret, 0);
    char want[256];
    snprintf(want, sizeof(want), "\"%s/child.txt\"", dir);
    e = EXPECT_EVENT(&res, pid, "openat", want);
    assert_true(e->ret >= 0);
    assert_int_equal(e->tgid, pid);
    recorder_result_free(&res);
}

static void test_status(void **state)
{
    (void)state;
    recorder_opts_t o = {.timeout_ms = 20000};
    recorder_result_t res;
    assert_int_equal(run("exit3", &o, &res), 0);
    assert_true(WIFEXITED(res.status));
    assert_int_equal(WEXITSTATUS(res.status), 3);
    recorder_result_free(&res);
    assert_int_equal(run("term", &o, &res), 0);
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGTERM);
    recorder_result_free(&res);
    /* A grandchild killed by SIGKILL, one stopped and continued (group
     * stop), a handled signal: rec_prog checks what it sees. */
    assert_int_equal(run("signals", &o, &res), 0);
    if (res.status != 0)
        dump(&res);
    assert_int_equal(res.status, 0);
    recorder_result_free(&res);
    assert_int_equal(run("handled", &o, &res), 0);
    assert_int_equal(res.status, 0);
    recorder_result_free(&res);
}

static void test_not_found(void **state)
{
    (void)state;
    recorder_opts_t o = {.timeout_ms = 20000};
    recorder_result_t res;
    char *argv[] = {(char *)"/nonexistent/prog", NULL};
    char err[256];
    assert_int_equal(recorder_run(&o, argv[0], argv, envp, &res, err, sizeof(err)),
                     -ENOENT);
    assert_true(WIFEXITED(res.status));
    assert_int_equal(WEXITSTATUS(res.status), 127);
    recorder_result_free(&res);
}

static void test_timeout(void **state)
{
    (void)state;
    recorder_opts_t o = {.timeout_ms = 400};
    recorder_result_t res;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(run("sleep", &o, &res), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(res.timed_out);
    assert_true(WIFSIGNALED(res.status));
    assert_int_equal(WTERMSIG(res.status), SIGKILL);
    assert_true(s >= 0.35 && s < 10);
    pid_t c = (pid_t)val("sleeper_child");
    assert_true(c > 0);
    /* The whole tree is gone (a zombie until init reaps it at most). */
    char st[64], buf[256] = "";
    snprintf(st, sizeof(st), "/proc/%d/stat", (int)c);
    FILE *f = fopen(st, "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    char *paren = strrchr(buf, ')');
    assert_true(!f || (paren && paren[1] == ' ' && paren[2] == 'Z'));
    recorder_result_free(&res);
}

static void count_leaks(const recorder_result_t *res, const char *name,
                        const char *needle, size_t want)
{
    size_t n = 0;
    for (size_t i = 0; i < res->n_ev; i++)
        if (res->ev[i].leak && strcmp(res->ev[i].name, name) == 0 &&
            strstr(res->ev[i].args, needle))
            n++;
    if (n != want) {
        dump(res);
        fail_msg("%zu leaks %s(...%s...), want %zu", n, name, needle, want);
    }
}

/* Explicit rules: exactly the calls that name them. */
static void test_leaks_explicit(void **state)
{
    (void)state;
    recorder_rules_t *rules = recorder_rules_new();
    char err[256], re[128];
    snprintf(re, sizeof(re), "^%s/(raw-|sock$)", dir);
    assert_int_equal(recorder_rules_add_path(rules, re, err, sizeof(err)), 0);
    recorder_opts_t o = {.timeout_ms = 20000, .rules = rules};
    recorder_result_t res;
    assert_int_equal(run("files", &o, &res), 0);
    count_leaks(&res, "openat", "raw-missing.txt", 1);
    assert_int_equal(res.n_leaks, 1);
    recorder_result_free(&res);
    assert_int_equal(run("net", &o, &res), 0);
    count_leaks(&res, "bind", "/sock\"", 1);
    count_leaks(&res, "connect", "/sock\"", 1);
    count_leaks(&res, "unlink", "/sock\"", 1);
    assert_int_equal(res.n_leaks, 3);
    recorder_result_free(&res);
    /* leaks_only keeps just them */
    o.leaks_only = 1;
    assert_int_equal(run("net", &o, &res), 0);
    assert_int_equal(res.n_ev, 3);
    assert_int_equal(res.n_leaks, 3);
    recorder_result_free(&res);
    recorder_rules_free(rules);

    assert_int_not_equal(recorder_rules_add_net(rules = recorder_rules_new(),
                                                "10.200.0.0/99", err,
                                                sizeof(err)),
                         0);
    assert_int_not_equal(recorder_rules_add_path(rules, "(", err, sizeof(err)), 0);
    recorder_rules_free(rules);
}

/* Layer mode: the layer's policy decides, as it would in the process. */
static void test_leaks_layer(void **state)
{
    (void)state;
    recorder_rules_t *rules = recorder_rules_new();
    char err[256], conf[512];
    /* raw-*: remote (read mode): a read is a leak, a write stays local;
     * written.txt: read mode too, but it is opened for writing; local/:
     * local; everything else in dir: /tmp, local by default. */
    snprintf(conf, sizeof(conf),
             "read_only ^%s/(raw-|written)\nlocal ^%s/local/\n", dir, dir);
    assert_int_equal(recorder_rules_layer(rules, conf, err, sizeof(err)), 0);
    recorder_opts_t o = {.timeout_ms = 20000, .rules = rules};
    recorder_result_t res;
    assert_int_equal(run("files", &o, &res), 0);
    count_leaks(&res, "openat", "raw-missing.txt", 1);
    assert_int_equal(res.n_leaks, 1);
    recorder_result_free(&res);
    recorder_rules_free(rules);

    /* read_write: the write is a leak too. */
    rules = recorder_rules_new();
    snprintf(conf, sizeof(conf), "read_write ^%s/written\n", dir);
    assert_int_equal(recorder_rules_layer(rules, conf, err, sizeof(err)), 0);
    o.rules = rules;
    assert_int_equal(run("files", &o, &res), 0);
    count_leaks(&res, "openat", "written.txt", 1);
    assert_int_equal(res.n_leaks, 1);
    recorder_result_free(&res);
    recorder_rules_free(rules);
}

/* Addresses and DNS, in rec_prog's own network namespace (root only). */
static void test_leaks_net(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    recorder_rules_t *rules = recorder_rules_new();
    char err[256];
    assert_int_equal(recorder_rules_add_name(rules, "*.cluster", err, sizeof(err)), 0);
    assert_int_equal(recorder_rules_add_net(rules, "192.0.2.7/32", err, sizeof(err)), 0);
    recorder_opts_t o = {.timeout_ms = 20000, .rules = rules};
    recorder_result_t res;
    assert_int_equal(run("dns", &o, &res), 0);
    assert_int_equal(res.status, 0);
    const recorder_event_t *e =
        EXPECT_EVENT(&res, 0, "sendto", "{AF_INET, 127.0.0.1:53} (DNS query secret.cluster)");
    assert_non_null(e->leak);
    count_leaks(&res, "connect", "192.0.2.1:53", 1); /* DNS off the host */
    count_leaks(&res, "connect", "192.0.2.7:8080", 1); /* --remote-net */
    assert_int_equal(res.n_leaks, 3);
    recorder_result_free(&res);
    recorder_rules_free(rules);
}

/* Layer mode on sockets: net_remote_unix is about connecting; the network
 * filter and the name filter decide addresses and DNS queries; loopback
 * is never remote (the layer's relays are there). */
static void test_leaks_layer_net(void **state)
{
    (void)state;
    recorder_rules_t *rules = recorder_rules_new();
    char err[256], conf[512];
    snprintf(conf, sizeof(conf), "net_remote_unix ^%s/sock$\n", dir);
    assert_int_equal(recorder_rules_layer(rules, conf, err, sizeof(err)), 0);
    recorder_opts_t o = {.timeout_ms = 20000, .rules = rules};
    recorder_result_t res;
    assert_int_equal(run("net", &o, &res), 0);
    count_leaks(&res, "connect", "/sock\"", 1);
    assert_int_equal(res.n_leaks, 1); /* not the bind, not the TCP loopback */
    recorder_result_free(&res);
    recorder_rules_free(rules);
    if (geteuid() != 0)
        return; /* the rest in rec_prog's own network namespace */

    /* Only TCP to 192.0.2.0/24 is remote; names follow (a net_remote
     * address rule may apply to any name). */
    rules = recorder_rules_new();
    assert_int_equal(recorder_rules_layer(rules, "net_remote tcp 192.0.2.0/24\n",
                                          err, sizeof(err)), 0);
    o.rules = rules;
    assert_int_equal(run("dns", &o, &res), 0);
    count_leaks(&res, "sendto", "DNS query secret.cluster", 1);
    count_leaks(&res, "connect", "192.0.2.1:53", 1);
    count_leaks(&res, "connect", "192.0.2.7:8080", 1);
    assert_int_equal(res.n_leaks, 3);
    recorder_result_free(&res);
    recorder_rules_free(rules);

    /* *.cluster kept local: its lookup on a loopback resolver is not a
     * leak; DNS off the host and the default remote set still are. */
    rules = recorder_rules_new();
    assert_int_equal(recorder_rules_layer(rules, "net_local any *.cluster\n",
                                          err, sizeof(err)), 0);
    o.rules = rules;
    assert_int_equal(run("dns", &o, &res), 0);
    count_leaks(&res, "sendto", "DNS query secret.cluster", 0);
    count_leaks(&res, "connect", "192.0.2.1:53", 1);
    count_leaks(&res, "connect", "192.0.2.7:8080", 1);
    assert_int_equal(res.n_leaks, 2);
    recorder_result_free(&res);
    recorder_rules_free(rules);
}

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(recorder_syscall_nr("openat"), SYS_openat);
    assert_int_equal(recorder_syscall_nr("connect"), SYS_connect);
    assert_int_equal(recorder_syscall_nr("read"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_files_all_syscalls),
        cmocka_unit_test(test_net),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_vfork),
        cmocka_unit_test(test_thread),
        cmocka_unit_test(test_thread_exec),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_leaks_explicit),
        cmocka_unit_test(test_leaks_layer),
        cmocka_unit_test(test_leaks_net),
        cmocka_unit_test(test_leaks_layer_net),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
