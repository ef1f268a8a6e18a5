/* Unit tests for traffic: (docs/scenarios.md): its validation and that of
 * target.daemons with file:line:col errors, the subscription list the
 * runner waits on (files written here as the proxy writes them), and the
 * verdict on the client's and the program's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shunt/runspec.h"
#include "shunt/scenario.h"
#include "shunt/traffic.h"
#include "shunt/trafficrun.h"

static char err[2048];

#define HEAD                                                                      \
    "target:\n"                                                                   \
    "  name: t\n"                                                                 \
    "  daemons:\n"                                                                \
    "    - {command: [python3, /srv/s.py, remote, \"80\"], port: 80, env: {A: b}}\n" \
    "  services:\n"                                                               \
    "    - {name: client, command: [sleep, infinity]}\n"                          \
    "program: {language: command, args: [srv]}\n"

static void test_parsed(void **state)
{
    (void)state;
    const char *y = HEAD
        "traffic:\n"
        "  wait: {port: 80}\n"
        "  client: {service: client, command: [curl, -s, \"http://t/\"], timeout: 5}\n"
        "  expect:\n"
        "    client_counts: {local: 3}\n"
        "    client_stdout: [^local$]\n"
        "    program_lines: 3\n"
        "  after_exit:\n"
        "    client: {service: client, command: [curl, -s, \"http://t/\"]}\n"
        "    expect: {client_stdout: [^remote$]}\n";
    shunt_scenario_t *s = shunt_scenario_load_string("t.yaml", y, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(s->target.n_daemons, 1);
    assert_string_equal(s->target.daemons[0].command[3], "80");
    assert_int_equal(s->target.daemons[0].port, 80);
    assert_string_equal(s->target.daemons[0].env.v[0].key, "A");
    const shunt_traffic_t *t = s->run->traffic;
    assert_non_null(t);
    assert_int_equal(s->run->run_reference, 0);
    assert_int_equal(s->run->want_status, -1); /* stopped by SIGTERM */
    assert_int_equal(t->wait_port, 80);
    assert_int_equal(t->wait_timeout_s, 30);
    assert_string_equal(t->client.service, "client");
    assert_string_equal(t->client.command[2], "http://t/");
    assert_int_equal(t->client.timeout_s, 5);
    assert_int_equal(t->expect.n_client_counts, 1);
    assert_string_equal(t->expect.client_counts[0].word, "local");
    assert_int_equal(t->expect.client_counts[0].count, 3);
    assert_int_equal(t->expect.program_lines, 3);
    assert_int_equal(t->has_after, 1);
    assert_int_equal(t->after_within_ms, 1000);
    assert_int_equal(t->after_expect.program_lines, -1);
    shunt_scenario_free(s);
}

static void test_cases_merge(void **state)
{
    (void)state;
    const char *y = HEAD
        "traffic:\n"
        "  wait: {port: 80}\n"
        "  client: {service: client, command: [a]}\n"
        "expect: {status: 0}\n"
        "cases:\n"
        "  - {name: one}\n"
        "  - {name: two, traffic: {wait: {port: 81, timeout: 2}}}\n";
    shunt_scenario_t *s = shunt_scenario_load_string("t.yaml", y, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(s->cases[0].run->traffic->wait_port, 80);
    assert_int_equal(s->cases[1].run->traffic->wait_port, 81);
    assert_int_equal(s->cases[1].run->traffic->wait_timeout_s, 2);
    assert_string_equal(s->cases[1].run->traffic->client.command[0], "a");
    assert_int_equal(s->cases[1].run->want_status, 0); /* given: kept */
    shunt_scenario_free(s);
}

static void expect_error(const char *yaml, const char *want)
{
    shunt_scenario_t *s = shunt_scenario_load_string("t.yaml", yaml, err, sizeof(err));
    if (s) {
        shunt_scenario_free(s);
        fail_msg("loaded, expected: %s", want);
    }
    if (strcmp(err, want) != 0)
        fail_msg("got      %s\nexpected %s", err, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(HEAD "traffic: {client: {service: client, command: [a]}}\n",
                 "t.yaml:8:10: traffic: missing required key wait: {port: N}, the remote "
                 "port whose subscription the client waits for");
    expect_error(HEAD "traffic: {wait: {port: 80}, client: {service: api, command: [a]}}\n",
                 "t.yaml:8:47: traffic.client.service: \"api\" is not a service of the "
                 "target (client)");
    expect_error(HEAD "traffic: {wait: {port: 0}, client: {service: client, command: [a]}}\n",
                 "t.yaml:8:24: traffic.wait.port: expected an integer 1-65535, got \"0\"");
    expect_error(HEAD "traffic: {wait: {port: 80}, client: {service: client, command: []}}\n",
                 "t.yaml:8:64: traffic.client.command: expected a non-empty list (the "
                 "program and its arguments)");
    expect_error(HEAD "runs: {reference: true}\n"
                      "traffic: {wait: {port: 80}, client: {service: client, command: [a]}}\n",
                 "t.yaml:8:19: runs.reference: a scenario with traffic: is a local run only "
                 "(the program takes the target's port under the layer)");
    expect_error(HEAD "expect: {no_leaks: true}\n"
                      "traffic: {wait: {port: 80}, client: {service: client, command: [a]}}\n",
                 "t.yaml:9:10: traffic: expect.no_leaks and expect.leaks are not for a "
                 "traffic: run (the recorder's run has no client)");
    expect_error(HEAD "traffic: {wait: {port: 80}, client: {service: client, command: [a]},\n"
                      "  expect: {program_stdout: [\"(\"]}}\n",
                 "t.yaml:9:29: traffic.expect.program_stdout[0]: invalid regular expression "
                 "(POSIX ERE): Unmatched ( or \\(");
    expect_error(HEAD "traffic: {wait: {port: 80}, client: {service: client, command: [a]},\n"
                      "  expect: {client_lines: 3}}\n",
                 "t.yaml:9:12: traffic.expect.client_lines: unknown key (allowed: "
                 "client_status, client_stdout, client_counts, program_lines, "
                 "program_stdout, program_each, program_mirrors)");
    expect_error(HEAD "traffic: {wait: {port: 80}, client: {service: client, command: [a]},\n"
                      "  after_exit: {client: {service: client, command: [a]},\n"
                      "               expect: {program_lines: 1}}}\n",
                 "t.yaml:10:25: traffic.after_exit.expect.program_lines: unknown key "
                 "(allowed: client_status, client_stdout, client_counts)");
    expect_error(HEAD "traffic: {wait: {port: 80}}\ncases:\n"
                      "  - {name: a, traffic: {client: {service: nope, command: [a]}}}\n",
                 "t.yaml:10:43: cases[0].traffic.client.service: \"nope\" is not a service "
                 "of the target (client)");
    expect_error("target:\n  daemons:\n    - {command: [a], port: 80}\n"
                 "    - {command: [b], port: 80}\n",
                 "t.yaml:4:28: target.daemons[1].port: port 80 is already "
                 "target.daemons[0]'s");
    expect_error("target:\n  daemons:\n    - {port: 80}\n",
                 "t.yaml:3:7: target.daemons[0]: missing required key command");
    expect_error("target:\n  daemons:\n    - {command: [a], ports: 80}\n",
                 "t.yaml:3:22: target.daemons[0].ports: unknown key (allowed: command, "
                 "port, env)");
    expect_error("target: {}\ntraffic: {wait: {port: 80}}\n",
                 "t.yaml:2:10: traffic: traffic: drives requests into the target while a "
                 "program runs: give program: (or cases:)");
}

/* The proxy's list: DIR/<pid>, "REMOTE LOCAL MODE" lines. */
static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_incoming_list(void **state)
{
    (void)state;
    char dir[] = "/tmp/shunt-traffic-XXXXXX", line[128], name[32];
    assert_non_null(mkdtemp(dir));
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    assert_int_equal(shunt_incoming_lists_port(missing, 80, line, sizeof(line)), 0);
    assert_int_equal(shunt_incoming_lists_port(dir, 80, line, sizeof(line)), 0);
    /* a live pid's file */
    snprintf(name, sizeof(name), "%d", (int)getpid());
    put(dir, name, "8080 8081 steal\n18080 18080 steal-filter\n");
    assert_int_equal(shunt_incoming_lists_port(dir, 18080, line, sizeof(line)), 1);
    assert_string_equal(line, "18080 18080 steal-filter");
    assert_int_equal(shunt_incoming_lists_port(dir, 8080, line, sizeof(line)), 1);
    assert_string_equal(line, "8080 8081 steal");
    assert_int_equal(shunt_incoming_lists_port(dir, 8081, line, sizeof(line)), 0);
    assert_int_equal(shunt_incoming_lists_port(dir, 180, line, sizeof(line)), 0);
    /* the proxy's next version, and a dot file: not yet */
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%d.tmp", (int)getpid());
    put(dir, tmp, "443 443 mirror\n");
    put(dir, ".x", "443 443 mirror\n");
    assert_int_equal(shunt_incoming_lists_port(dir, 443, line, sizeof(line)), 0);
    /* a list left by a process that is gone is stale */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(name, sizeof(name), "%d", (int)dead);
    put(dir, name, "9090 9090 steal\n");
    assert_int_equal(shunt_incoming_lists_port(dir, 9090, line, sizeof(line)), 0);
    /* a name that is not a pid is read */
    put(dir, "other", "9091 9091 mirror\n");
    assert_int_equal(shunt_incoming_lists_port(dir, 9091, line, sizeof(line)), 1);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int judge(const shunt_texpect_t *x, int st, const char *cout, const char *pout,
                 const char *want)
{
    shunt_buf_t why = {0};
    int rc = shunt_traffic_judge(x, "traffic.expect", st, cout, pout, &why);
    if (want && (!why.p || !strstr(why.p, want)))
        fail_msg("expected \"%s\" in:\n%s", want, why.p ? why.p : "(nothing)");
    if (!want && rc != 0)
        fail_msg("unexpected failure:\n%s", why.p);
    shunt_buf_free(&why);
    return rc;
}

static void test_judge(void **state)
{
    (void)state;
    char *lines[] = {"^local$", "^remote$", NULL};
    shunt_tcount_t counts[] = {{"local", 1}, {"remote", 1}};
    shunt_texpect_t x = {.program_lines = -1};
    int ok = W_EXITCODE(0, 0), bad = W_EXITCODE(3, 0);
    assert_int_equal(judge(&x, ok, "", "", NULL), 0);
    assert_int_equal(judge(&x, bad, "", "", "traffic.expect.client_status: the client ended "
                                            "with exit 3, expected exit 0"), -1);
    assert_int_equal(judge(&x, -1, "", "", "the client timed out"), -1);
    x.client_status = 3;
    assert_int_equal(judge(&x, bad, "", "", NULL), 0);
    x.client_status = 0;
    x.client_stdout = lines;
    x.n_client_stdout = 2;
    x.client_stdout_set = 1;
    assert_int_equal(judge(&x, ok, "local\nremote\n", NULL, NULL), 0);
    assert_int_equal(judge(&x, ok, "local\nlocal\n", NULL,
                           "client_stdout[1]: the client's stdout line 2 \"local\" does not "
                           "match ^remote$"), -1);
    assert_int_equal(judge(&x, ok, "local\nremote\nremote\n", NULL,
                           "client_stdout: the client's stdout has 3 lines, expected 2"), -1);
    assert_int_equal(judge(&x, ok, "local\n", NULL, "has 1 line, expected 2"), -1);
    x.client_stdout_set = 0;
    x.client_counts = counts;
    x.n_client_counts = 2;
    assert_int_equal(judge(&x, ok, "remote\nlocal\nx\n", NULL, NULL), 0);
    assert_int_equal(judge(&x, ok, "remote\nremote\n", NULL,
                           "traffic.expect.client_counts.local: the client's stdout has 0 "
                           "lines \"local\", expected 1"), -1);
    assert_int_equal(judge(&x, ok, "local \nremote\n", NULL, "has 0 lines \"local\""), -1);
    x.n_client_counts = 0;
    x.program_lines = 2;
    assert_int_equal(judge(&x, ok, "", "a\nb\n", NULL), 0);
    assert_int_equal(judge(&x, ok, "", "a\n",
                           "traffic.expect.program_lines: the program printed 1 line, "
                           "expected 2"), -1);
    assert_int_equal(judge(&x, ok, "", NULL, NULL), 0); /* program keys unchecked */
    x.program_lines = -1;
    x.program_stdout = lines;
    x.n_program_stdout = 2;
    x.program_stdout_set = 1;
    assert_int_equal(judge(&x, ok, "", "local\nremote\n", NULL), 0);
    assert_int_equal(judge(&x, ok, "", "remote\n",
                           "program_stdout[0]: the program's stdout line 1 \"remote\" does "
                           "not match ^local$"), -1);
    x.program_stdout_set = 0;
    x.program_each = "^GET /[13579] ";
    assert_int_equal(judge(&x, ok, "", "GET /3 a\nGET /1 b\n", NULL), 0);
    assert_int_equal(judge(&x, ok, "", "GET /3 a\nGET /2 b\n",
                           "traffic.expect.program_each: the program's stdout line 2 "
                           "\"GET /2 b\" does not match ^GET /[13579] "), -1);
    x.program_each = NULL;
    x.program_mirrors = "^sent ";
    assert_int_equal(judge(&x, ok, "sent \"GET /\\r\\n\"\nremote\nsent \"x\"\n",
                           "\"GET /\\r\\n\"\n\"x\"\n", NULL), 0);
    assert_int_equal(judge(&x, ok, "sent \"GET /\\r\\n\"\nremote\n", "\"GET /\\n\"\n",
                           "program_mirrors: the client's line 1 gives \"\"GET /\\r\\n\"\", "
                           "the program's line 1 is \"\"GET /\\n\"\""), -1);
    assert_int_equal(judge(&x, ok, "sent a\nsent b\n", "a\n",
                           "the program's line 2 is missing"), -1);
    assert_int_equal(judge(&x, ok, "sent a\n", "a\nb\n",
                           "program_mirrors: the client's stdout gives 1 line, the program "
                           "printed 2"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsed),        cmocka_unit_test(test_cases_merge),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_incoming_list),
        cmocka_unit_test(test_judge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
