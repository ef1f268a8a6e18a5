/* Unit tests of the layer's pure logic: config parser, policy, path
 * normaliser, fd table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fdtable.h"
#include "inaddr.h"

#include "shunt/config.h"
#include "shunt/path.h"
#include "shunt/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

/* ---- path ---------------------------------------------------------------- */
static void check_norm(const char *base, const char *in, const char *want)
{
    char out[64];
    long n = shunt_path_normalize(base, in, out, sizeof(out));
    if (n < 0 || strcmp(out, want) != 0)
        fail_msg("normalize(%s, %s) = %ld \"%s\", want \"%s\"",
                 base ? base : "NULL", in, n, n < 0 ? "" : out, want);
    assert_int_equal(n, (long)strlen(want));
}

static void test_path_normalize(void **state)
{
    (void)state;
    check_norm(NULL, "/", "/");
    check_norm(NULL, "//", "/");
    check_norm(NULL, "/a/b/c", "/a/b/c");
    check_norm(NULL, "/a//b///c/", "/a/b/c");
    check_norm(NULL, "/a/./b/.", "/a/b");
    check_norm(NULL, "/a/b/../c", "/a/c");
    check_norm(NULL, "/a/b/../../..", "/");
    check_norm(NULL, "/../../etc", "/etc");
    check_norm(NULL, "/a/..b/.c", "/a/..b/.c");
    check_norm("/home/u", "x/y", "/home/u/x/y");
    check_norm("/home/u", "../v", "/home/v");
    check_norm("/", "x", "/x");
    check_norm("/home/u", ".", "/home/u");
    check_norm("/home/u", "/abs", "/abs");
    char out[64];
    assert_int_equal(shunt_path_normalize(NULL, "rel", out, sizeof(out)), -EINVAL);
    assert_int_equal(shunt_path_normalize("/", "", out, sizeof(out)), -EINVAL);
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(shunt_path_normalize(NULL, big, out, sizeof(out)),
                     -ENAMETOOLONG);
    /* ".." can shorten a long input below the limit */
    char sh[160] = "/";
    for (int i = 0; i < 15; i++)
        strcat(sh, "abc/../");
    strcat(sh, "z");
    check_norm(NULL, sh, "/z");
}

static void test_path_under(void **state)
{
    (void)state;
    assert_true(shunt_path_under("/usr", "/usr"));
    assert_true(shunt_path_under("/usr/lib/x", "/usr"));
    assert_false(shunt_path_under("/usrx", "/usr"));
    assert_false(shunt_path_under("/us", "/usr"));
    assert_true(shunt_path_under("/anything", "/"));
}

/* ---- config -------------------------------------------------------------- */
static void test_config_parse(void **state)
{
    (void)state;
    shunt_config_t c;
    shunt_config_init(&c);
    const char *text = "# a comment\n"
                       "log_level debug\n"
                       "  log_file /tmp/x.log   # trailing comment\n"
                       "local ^/home/me(/|$)\n"
                       "read_only ^/etc/app\n"
                       "read_write ^/srv/rw\n"
                       "not_found ^/secret[#]\n"
                       "env_include APP_*\n"
                       "env_exclude *_TOKEN\n"
                       "timeout_ms 1500\n"
                       "\n";
    char err[128];
    assert_int_equal(shunt_config_parse(&c, text, strlen(text), err, sizeof(err)), 0);
    assert_int_equal(c.log_level, 4);
    assert_string_equal(c.log_file, "/tmp/x.log");
    assert_int_equal(c.timeout_ms, 1500);
    assert_int_equal(c.lists[SHUNT_LIST_LOCAL].n, 1);
    assert_int_equal(c.lists[SHUNT_LIST_NOT_FOUND].n, 1);
    assert_string_equal(c.lists[SHUNT_LIST_NOT_FOUND].src[0], "^/secret[#]");
    assert_true(shunt_relist_match(&c.lists[SHUNT_LIST_LOCAL], "/home/me/x"));
    assert_false(shunt_relist_match(&c.lists[SHUNT_LIST_LOCAL], "/home/meme"));
    assert_int_equal(c.env_include.n, 1);
    assert_string_equal(c.env_include.v[0], "APP_*");
    assert_string_equal(c.env_exclude.v[0], "*_TOKEN");
    shunt_config_free(&c);
}

static void test_config_errors(void **state)
{
    (void)state;
    shunt_config_t c;
    shunt_config_init(&c);
    const char *text = "log_level loud\n"
                       "local ^/ok\n"
                       "bogus x\n"
                       "local (unclosed\n"
                       "read_only\n";
    char err[128];
    assert_int_equal(shunt_config_parse(&c, text, strlen(text), err, sizeof(err)), 4);
    assert_string_equal(err, "line 1: bad log_level 'loud'");
    assert_int_equal(c.lists[SHUNT_LIST_LOCAL].n, 1); /* good lines apply */
    assert_int_equal(c.log_level, -1);
    shunt_config_free(&c);
    /* no final newline, CRLF */
    shunt_config_init(&c);
    const char *t2 = "log_level warn\r\nlocal ^/a";
    assert_int_equal(shunt_config_parse(&c, t2, strlen(t2), err, sizeof(err)), 0);
    assert_int_equal(c.log_level, 2);
    assert_string_equal(c.lists[SHUNT_LIST_LOCAL].src[0], "^/a");
    shunt_config_free(&c);
    assert_int_equal(shunt_log_level_parse("trace"), 5);
    assert_int_equal(shunt_log_level_parse("off"), 0);
    assert_int_equal(shunt_log_level_parse("x"), -1);
}

static void test_config_unix_remote(void **state)
{
    (void)state;
    shunt_config_t c;
    shunt_config_init(&c);
    const char *text = "net_remote_unix ^/run/(echo|db)\\.sock$\n"
                       "net_remote_unix (bad\n"
                       "net_remote /run/x.sock\n";
    char err[160];
    assert_int_equal(shunt_config_parse(&c, text, strlen(text), err, sizeof(err)), 2);
    assert_non_null(strstr(err, "line 2: bad regex"));
    assert_int_equal(c.unix_remote.n, 1);
    assert_int_equal(shunt_relist_match(&c.unix_remote, "/run/echo.sock"), 1);
    assert_int_equal(shunt_relist_match(&c.unix_remote, "/run/db.sock"), 1);
    assert_int_equal(shunt_relist_match(&c.unix_remote, "/run/other.sock"), 0);
    assert_int_equal(c.net.n, 0); /* a path is no net_remote rule */
    shunt_config_free(&c);
    shunt_config_init(&c);
    const char *t2 = "net_remote unix:/run/x.sock\n";
    assert_int_equal(shunt_config_parse(&c, t2, strlen(t2), err, sizeof(err)), 1);
    assert_non_null(strstr(err, "net_remote_unix"));
    shunt_config_free(&c);
}


/* net_incoming*: modes, ports, mappings, the filter tree (docs/incoming.md). */
static void test_config_incoming(void **state)
{
    (void)state;
    shunt_config_t c;
    shunt_config_init(&c);
    char err[256];
    assert_int_equal(c.incoming.mode, SHUNT_INC_OFF);
    assert_int_equal(shunt_incoming_remote_port(&c.incoming, 8080), 0);
    const char *text = "net_incoming steal\n"
                       "net_incoming_port 8081\n"
                       "net_incoming_port 9090\n"
                       "net_incoming_port 7000\n"
                       "net_incoming_map 8081:80\n"
                       "net_incoming_ignore 9090\n"
                       "net_incoming_conflict replace\n"
                       "net_incoming_filter all 2\n"
                       "net_incoming_filter header ^x-route: local$\n"
                       "net_incoming_filter any 2\n"
                       "net_incoming_filter method GET\n"
                       "net_incoming_filter path ^/api/[#]x\n"
                       "net_incoming_filter_port 80\n";
    assert_int_equal(shunt_config_parse(&c, text, strlen(text), err,
                                        sizeof(err)), 0);
    const shunt_incfg_t *in = &c.incoming;
    assert_int_equal(in->mode, SHUNT_INC_STEAL);
    assert_int_equal(in->on_conflict, SHUNT_INC_REPLACE);
    assert_int_equal(shunt_incoming_remote_port(in, 8081), 80);
    assert_int_equal(shunt_incoming_remote_port(in, 7000), 7000);
    assert_int_equal(shunt_incoming_remote_port(in, 9090), 0); /* ignored */
    assert_int_equal(shunt_incoming_remote_port(in, 8080), 0); /* not listed */
    assert_int_equal(in->nfilter, 5);
    assert_int_equal(in->filter[0].kind, SHUNT_INC_HF_ALL);
    assert_int_equal(in->filter[0].nkids, 2);
    assert_string_equal(in->filter[1].value, "^x-route: local$");
    assert_int_equal(in->filter[2].kind, SHUNT_INC_HF_ANY);
    assert_string_equal(in->filter[3].value, "GET");
    assert_string_equal(in->filter[4].value, "^/api/[#]x");
    assert_int_equal(shunt_incoming_filter_applies(in, 80), 1);
    assert_int_equal(shunt_incoming_filter_applies(in, 7000), 0);
    shunt_config_free(&c);

    /* No port list: every port; two trees at the top become one ALL. */
    shunt_config_init(&c);
    const char *t2 = "net_incoming mirror\n"
                     "net_incoming_map 8081:80\n"
                     "net_incoming_map 8081:81\n"
                     "net_incoming_filter header ^a: b$\n"
                     "net_incoming_filter method POST\n";
    assert_int_equal(shunt_config_parse(&c, t2, strlen(t2), err, sizeof(err)),
                     0);
    in = &c.incoming;
    assert_int_equal(shunt_incoming_remote_port(in, 1), 1);
    assert_int_equal(shunt_incoming_remote_port(in, 8081), 81);
    assert_int_equal(in->on_conflict, SHUNT_INC_REFUSE);
    assert_int_equal(in->nfilter, 3);
    assert_int_equal(in->filter[0].kind, SHUNT_INC_HF_ALL);
    assert_int_equal(in->filter[0].nkids, 2);
    assert_int_equal(shunt_incoming_filter_applies(in, 80), 0); /* mirror */
    shunt_config_free(&c);

    /* Bad lines: each refused with a reason. */
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"net_incoming borrow\n", "line 1: bad net_incoming 'borrow'"},
        {"net_incoming_port 0\n", "line 1: bad port '0' for net_incoming_port"},
        {"net_incoming_port 65536\n", "line 1: bad port '65536'"},
        {"net_incoming_ignore x\n", "line 1: bad port 'x'"},
        {"net_incoming_map 80\n", "line 1: bad net_incoming_map '80'"},
        {"net_incoming_map 80:0\n", "line 1: bad port '0' for net_incoming_map"},
        {"net_incoming_conflict share\n", "line 1: bad net_incoming_conflict"},
        {"net_incoming_filter header (x\n", "line 1: bad regex '(x'"},
        {"net_incoming_filter path a+++++\n", "line 1: regex 'a+++++' is too"},
        {"net_incoming_filter method GE T\n", "line 1: bad HTTP method"},
        {"net_incoming_filter cookie x\n", "line 1: bad net_incoming_filter"},
        {"net_incoming_filter all 0\n", "line 1: bad child count"},
        {"net_incoming_filter_port 99999\n", "line 1: bad port"},
        {"net_incoming_weird 1\n", "line 1: unknown directive"},
        {"net_incoming steal\nnet_incoming_filter any 2\n"
         "net_incoming_filter method GET\n",
         "net_incoming_filter: node 1 ('any 2') has fewer children"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        shunt_config_init(&c);
        int n = shunt_config_parse(&c, bad[i].line, strlen(bad[i].line), err,
                                   sizeof(err));
        if (n != 1 || strncmp(err, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("case %zu: %d bad, '%s', want '%s'", i, n, err,
                     bad[i].why);
        /* a tree cut short leaves incoming traffic off */
        assert_int_equal(c.incoming.mode, SHUNT_INC_OFF);
        shunt_config_free(&c);
    }
}


/* ---- incoming traffic: addresses (layer/inaddr.c) ------------------------ */
static void sin4(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
    struct sockaddr_in *in = (void *)ss;
    memset(ss, 0, sizeof(*ss));
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &in->sin_addr);
}
static void sin6(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
    struct sockaddr_in6 *in6 = (void *)ss;
    memset(ss, 0, sizeof(*ss));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &in6->sin6_addr);
}
static void check_listen(struct sockaddr_storage *ss, int v6only, int family,
                         const char *want, unsigned port)
{
    shunt_inaddr_t a;
    char buf[64];
    socklen_t l = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                           : sizeof(struct sockaddr_in6);
    assert_int_equal(shunt_in_listen_addr((struct sockaddr *)ss, l, v6only, &a),
                     0);
    assert_int_equal(a.family, family);
    assert_int_equal(a.port, port);
    inet_ntop(a.family, a.addr, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_inaddr(void **state)
{
    (void)state;
    struct sockaddr_storage ss, out;
    /* Where the proxy connects: loopback for the wildcard. */
    sin4(&ss, "0.0.0.0", 8080);
    check_listen(&ss, 0, AF_INET, "127.0.0.1", 8080);
    sin4(&ss, "10.1.2.3", 80);
    check_listen(&ss, 0, AF_INET, "10.1.2.3", 80);
    sin6(&ss, "::", 8081);
    check_listen(&ss, 0, AF_INET, "127.0.0.1", 8081); /* dual-stack */
    check_listen(&ss, 1, AF_INET6, "::1", 8081);      /* IPV6_V6ONLY */
    sin6(&ss, "::1", 9);
    check_listen(&ss, 0, AF_INET6, "::1", 9);
    sin6(&ss, "::ffff:127.0.0.1", 9);
    check_listen(&ss, 0, AF_INET, "127.0.0.1", 9);
    sin6(&ss, "::ffff:0.0.0.0", 9);
    check_listen(&ss, 0, AF_INET, "127.0.0.1", 9);
    shunt_inaddr_t a;
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(shunt_in_listen_addr(&un, sizeof(un), 0, &a), -1);
    sin4(&ss, "0.0.0.0", 1);
    assert_int_equal(shunt_in_listen_addr((struct sockaddr *)&ss, 8, 0, &a),
                     -1); /* too short */

    /* Which accepted peers are worth asking the proxy about. */
    sin4(&ss, "127.0.0.1", 40000);
    assert_int_equal(shunt_in_loopback_port((struct sockaddr *)&ss,
                                            sizeof(struct sockaddr_in)),
                     40000);
    sin4(&ss, "10.0.0.1", 40000);
    assert_int_equal(shunt_in_loopback_port((struct sockaddr *)&ss,
                                            sizeof(struct sockaddr_in)),
                     0);
    sin6(&ss, "::ffff:127.0.0.1", 40001);
    assert_int_equal(shunt_in_loopback_port((struct sockaddr *)&ss,
                                            sizeof(struct sockaddr_in6)),
                     40001);
    sin6(&ss, "::1", 40002);
    assert_int_equal(shunt_in_loopback_port((struct sockaddr *)&ss,
                                            sizeof(struct sockaddr_in6)),
                     40002);
    sin6(&ss, "fd00::1", 40002);
    assert_int_equal(shunt_in_loopback_port((struct sockaddr *)&ss,
                                            sizeof(struct sockaddr_in6)),
                     0);
    assert_int_equal(shunt_in_loopback_port(NULL, 0), 0);
    /* the proxy's end bound to the listener's own non-loopback address */
    const uint8_t own4[4] = {10, 0, 0, 5};
    uint8_t own6[16];
    inet_pton(AF_INET6, "fd00::5", own6);
    sin4(&ss, "10.0.0.5", 40003);
    assert_int_equal(shunt_in_peer_port((struct sockaddr *)&ss,
                                        sizeof(struct sockaddr_in), own4, 4),
                     40003);
    assert_int_equal(shunt_in_peer_port((struct sockaddr *)&ss,
                                        sizeof(struct sockaddr_in), own4, 0),
                     0);
    sin6(&ss, "::ffff:10.0.0.5", 40004);
    assert_int_equal(shunt_in_peer_port((struct sockaddr *)&ss,
                                        sizeof(struct sockaddr_in6), own4, 4),
                     40004);
    sin6(&ss, "fd00::5", 40005);
    assert_int_equal(shunt_in_peer_port((struct sockaddr *)&ss,
                                        sizeof(struct sockaddr_in6), own6, 16),
                     40005);
    assert_int_equal(shunt_in_peer_port((struct sockaddr *)&ss,
                                        sizeof(struct sockaddr_in6), own4, 4),
                     0);
    sin4(&ss, "127.0.0.1", 40006); /* loopback: always */
    assert_int_equal(shunt_in_peer_port((struct sockaddr *)&ss,
                                        sizeof(struct sockaddr_in), own4, 4),
                     40006);

    /* The remote client as the socket's family says it. */
    const uint8_t v4[4] = {10, 200, 0, 7};
    uint8_t v6[16], mapped[16];
    inet_pton(AF_INET6, "fd00::7", v6);
    inet_pton(AF_INET6, "::ffff:10.200.0.7", mapped);
    char buf[64];
    assert_int_equal(shunt_in_sockaddr(AF_INET, v4, 4, 5555, &out),
                     sizeof(struct sockaddr_in));
    struct sockaddr_in *o4 = (void *)&out;
    assert_int_equal(ntohs(o4->sin_port), 5555);
    assert_string_equal(inet_ntop(AF_INET, &o4->sin_addr, buf, sizeof(buf)),
                        "10.200.0.7");
    assert_int_equal(shunt_in_sockaddr(AF_INET6, v4, 4, 5555, &out),
                     sizeof(struct sockaddr_in6));
    struct sockaddr_in6 *o6 = (void *)&out;
    assert_string_equal(inet_ntop(AF_INET6, &o6->sin6_addr, buf, sizeof(buf)),
                        "::ffff:10.200.0.7");
    assert_int_equal(shunt_in_sockaddr(AF_INET, mapped, 16, 1, &out),
                     sizeof(struct sockaddr_in));
    assert_string_equal(inet_ntop(AF_INET, &o4->sin_addr, buf, sizeof(buf)),
                        "10.200.0.7");
    assert_int_equal(shunt_in_sockaddr(AF_INET, v6, 16, 1, &out), 0);
    assert_int_equal(shunt_in_sockaddr(AF_INET6, v6, 16, 2, &out),
                     sizeof(struct sockaddr_in6));
    assert_string_equal(inet_ntop(AF_INET6, &o6->sin6_addr, buf, sizeof(buf)),
                        "fd00::7");
    assert_int_equal(shunt_in_sockaddr(AF_INET6, v6, 5, 2, &out), 0);
    assert_int_equal(shunt_in_sockaddr(AF_UNIX, v4, 4, 2, &out), 0);

    /* accept's out-parameter: cut to the room given, the full size back. */
    shunt_in_sockaddr(AF_INET, v4, 4, 5555, &out);
    struct sockaddr_in dst;
    memset(&dst, 0xaa, sizeof(dst));
    socklen_t dl = 4;
    shunt_in_addr_out(&out, sizeof(struct sockaddr_in), (struct sockaddr *)&dst,
                      &dl);
    assert_int_equal(dl, sizeof(struct sockaddr_in));
    assert_int_equal(dst.sin_family, AF_INET);
    assert_int_equal(dst.sin_port, htons(5555));
    assert_int_equal(((uint8_t *)&dst)[4], 0xaa); /* not written */
    shunt_in_addr_out(&out, sizeof(struct sockaddr_in), NULL, &dl);
}

/* ---- policy -------------------------------------------------------------- */
/* Patterns glibc would compile into exponential memory are refused with
 * a reason before regcomp() sees them; ordinary ones pass. */
static void test_regex_check(void **state)
{
    (void)state;
    static const char *const good[] = {
        "^/srv/", "\\.so(\\.[0-9]+)*$", "^/home/[^/]+/\\.cache(/|$)",
        "[[:alpha:]]+[]x]*", "a{3,}", "(ab|cd){1,255}", "x\\+\\+", "{", "a{,2}",
        "/usr/include/c++/", "a+*", "a{2}{3}", "(a+)+", ""};
    static const char *const bad[] = {
        "c+++++++++++++++++++++++++++++++++++++++++++++++", "a{100}{100}",
        "x))+++++++++++++++++++++++++++++++++++++", "(a)){99}{99}", "^/+*+++runs+/", "a+*?",
        "(a{200}){200}", "((a{20}){20}){20}", "a{256}", "a{1,300}"};
    char why[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        why[0] = '\0';
        if (shunt_regex_check(good[i], why, sizeof(why)) != 0)
            fail_msg("refused '%s': %s", good[i], why);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        why[0] = '\0';
        if (shunt_regex_check(bad[i], why, sizeof(why)) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(why, "too complex"));
    }
    shunt_config_t c;
    shunt_config_init(&c);
    char err[256];
    assert_int_equal(shunt_config_parse(&c, "local a+++++++++++++++++++++\n", 29,
                                        err, sizeof(err)), 1);
    assert_non_null(strstr(err, "line 1: regex"));
    assert_int_equal(c.lists[SHUNT_LIST_LOCAL].n, 0);
    shunt_config_free(&c);
}

static void test_policy_defaults(void **state)
{
    (void)state;
    shunt_policy_t p;
    shunt_policy_init(&p, NULL);
    assert_int_equal(shunt_policy_add_defaults(&p), 0);
    assert_int_equal(shunt_policy_add_local(&p, "/home/me/project"), 0);
    assert_int_equal(shunt_policy_add_local(&p, "/"), -EINVAL);
    struct {
        const char *path;
        int mode;
    } cases[] = {
        {"/usr/bin/cat", SHUNT_MODE_LOCAL},
        {"/lib/x86_64-linux-gnu/libc.so.6", SHUNT_MODE_LOCAL},
        {"/proc/self/maps", SHUNT_MODE_LOCAL},
        {"/dev/null", SHUNT_MODE_LOCAL},
        {"/tmp/x", SHUNT_MODE_LOCAL},
        {"/etc/ld.so.cache", SHUNT_MODE_LOCAL},
        {"/etc/ld.so.conf.d/x.conf", SHUNT_MODE_LOCAL},
        {"/etc/passwd", SHUNT_MODE_LOCAL},
        {"/etc/passwdx", SHUNT_MODE_READ},
        {"/etc/hosts", SHUNT_MODE_READ},
        {"/etc/resolv.conf", SHUNT_MODE_READ},
        {"/etc/app/config.json", SHUNT_MODE_READ},
        {"/home/me/project/src/a.c", SHUNT_MODE_LOCAL},
        {"/home/me/other", SHUNT_MODE_READ},
        {"/", SHUNT_MODE_READ},
        {"/usrlocal", SHUNT_MODE_READ},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (shunt_policy_mode(&p, cases[i].path) != cases[i].mode)
            fail_msg("%s: mode %s, want %s", cases[i].path,
                     shunt_mode_name(shunt_policy_mode(&p, cases[i].path)),
                     shunt_mode_name(cases[i].mode));
    shunt_policy_free(&p);
}

/* A program's own files: the file, its directory, the prefix above a
 * bin/, sbin/, libexec/ or shims/ directory; never "/". */
static void test_policy_program(void **state)
{
    (void)state;
    shunt_config_t c;
    shunt_config_init(&c);
    const char *text = "read_only ^/h/.pyenv/version$\n";
    char err[64];
    assert_int_equal(shunt_config_parse(&c, text, strlen(text), err, sizeof(err)), 0);
    shunt_policy_t p;
    shunt_policy_init(&p, &c);
    assert_int_equal(shunt_policy_add_program(&p, "/h/.pyenv/shims/python3", 0), 0);
    assert_int_equal(shunt_policy_add_program(&p, "/h/venv/bin/python", 0), 0);
    assert_int_equal(shunt_policy_add_program(&p, "/h/proj/run.sh", 0), 0);
    assert_int_equal(shunt_policy_add_program(&p, "/h/.cargo/bin", 1), 0);
    assert_int_equal(shunt_policy_add_program(&p, "/bin", 1), 0);
    assert_int_equal(shunt_policy_add_program(&p, "/init", 0), 0);
    assert_int_equal(shunt_policy_add_program(&p, "rel/x", 0), -EINVAL);
    struct {
        const char *path;
        int mode;
    } cases[] = {
        {"/h/.pyenv/versions/3.11/lib/python3.11/os.py", SHUNT_MODE_LOCAL},
        {"/h/.pyenv/libexec/pyenv", SHUNT_MODE_LOCAL},
        {"/h/.pyenv/version", SHUNT_MODE_READ}, /* the explicit rule wins */
        {"/h/venv/pyvenv.cfg", SHUNT_MODE_LOCAL},
        {"/h/proj/run.sh", SHUNT_MODE_LOCAL},
        {"/h/proj/data.txt", SHUNT_MODE_LOCAL},
        {"/h/.cargo/registry/x", SHUNT_MODE_LOCAL},
        {"/h/other.txt", SHUNT_MODE_READ},
        {"/h", SHUNT_MODE_READ},
        {"/bin/sh", SHUNT_MODE_LOCAL},
        {"/etc/app.conf", SHUNT_MODE_READ}, /* not "/" for /bin or /init */
        {"/init", SHUNT_MODE_LOCAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (shunt_policy_mode(&p, cases[i].path) != cases[i].mode)
            fail_msg("%s: mode %s, want %s", cases[i].path,
                     shunt_mode_name(shunt_policy_mode(&p, cases[i].path)),
                     shunt_mode_name(cases[i].mode));
    /* no entry covered by another: /h/.pyenv/shims went when /h/.pyenv
     * came, /bin/sh... never came */
    for (size_t i = 0; i < p.local.n; i++)
        for (size_t j = 0; j < p.local.n; j++)
            if (i != j && shunt_path_under(p.local.v[i], p.local.v[j]))
                fail_msg("%s is under %s", p.local.v[i], p.local.v[j]);
    assert_int_equal(p.local.n, 6); /* .pyenv venv proj .cargo /bin /init */
    /* Directories on the way to a local entry: their metadata is local. */
    assert_int_equal(shunt_policy_local_ancestor(&p, "/h"), 1);
    assert_int_equal(shunt_policy_local_ancestor(&p, "/h/.pyenv"), 0); /* local itself */
    assert_int_equal(shunt_policy_local_ancestor(&p, "/h/.py"), 0);
    assert_int_equal(shunt_policy_local_ancestor(&p, "/h/other.txt"), 0);
    assert_int_equal(shunt_policy_local_ancestor(&p, "/"), 0);
    assert_int_equal(shunt_policy_local_ancestor(&p, "/etc"), 0);
    shunt_policy_free(&p);
    shunt_config_free(&c);
}

static void test_policy_config_order(void **state)
{
    (void)state;
    shunt_config_t c;
    shunt_config_init(&c);
    const char *text = "not_found ^/srv/secret\n"
                       "read_write ^/srv\n"
                       "read_only ^/usr/share/app\n"
                       "local ^/etc/hosts$\n"
                       "read_only ^/srv/ro\n";
    char err[64];
    assert_int_equal(shunt_config_parse(&c, text, strlen(text), err, sizeof(err)), 0);
    shunt_policy_t p;
    shunt_policy_init(&p, &c);
    shunt_policy_add_defaults(&p);
    assert_int_equal(shunt_policy_mode(&p, "/srv/secret/x"), SHUNT_MODE_NOT_FOUND);
    /* read_write is matched before read_only */
    assert_int_equal(shunt_policy_mode(&p, "/srv/ro/x"), SHUNT_MODE_WRITE);
    assert_int_equal(shunt_policy_mode(&p, "/srv/x"), SHUNT_MODE_WRITE);
    assert_int_equal(shunt_policy_mode(&p, "/usr/share/app/x"), SHUNT_MODE_READ);
    assert_int_equal(shunt_policy_mode(&p, "/usr/share/other"), SHUNT_MODE_LOCAL);
    assert_int_equal(shunt_policy_mode(&p, "/etc/hosts"), SHUNT_MODE_LOCAL);
    assert_int_equal(shunt_policy_mode(&p, "/etc/hostname"), SHUNT_MODE_READ);
    shunt_policy_free(&p);
    shunt_config_free(&c);
}

/* What the open hooks and the leak recorder call an open for writing. */
static void test_open_writes(void **state)
{
    (void)state;
    static const struct {
        uint64_t flags;
        int writes;
    } cases[] = {
        {O_RDONLY, 0},
        {O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_DIRECTORY, 0},
        {O_RDONLY | O_PATH, 0},
        /* O_PATH drops the access mode, O_CREAT, O_TRUNC: never a write */
        {O_RDWR | O_PATH, 0},
        {O_WRONLY | O_CREAT | O_TRUNC | O_PATH, 0},
        {O_RDONLY | O_APPEND, 0},
        {O_RDONLY | O_EXCL, 0},
        {O_WRONLY, 1},
        {O_RDWR, 1},
        {O_ACCMODE, 1},
        {O_RDONLY | O_CREAT, 1},
        {O_RDONLY | O_TRUNC, 1},
        {O_RDWR | O_TMPFILE, 1},
        /* O_TMPFILE is __O_TMPFILE | O_DIRECTORY: the directory bit alone
         * is a read */
        {O_RDONLY | (O_TMPFILE & ~O_DIRECTORY), 0},
        /* openat2's how.flags: bits above 32 change nothing */
        {O_RDONLY | (1ULL << 40), 0},
        {O_WRONLY | (1ULL << 40), 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (shunt_open_writes(cases[i].flags) != cases[i].writes)
            fail_msg("shunt_open_writes(%#llx) = %d, want %d",
                     (unsigned long long)cases[i].flags,
                     shunt_open_writes(cases[i].flags), cases[i].writes);
}

/* ---- fd table ------------------------------------------------------------ */
static int released;
static void on_release(shunt_rfile_t *f)
{
    released += (int)f->handle;
}

static void test_fdtable(void **state)
{
    (void)state;
    shunt_rfile_release = on_release;
    released = 0;
    assert_false(shunt_fdt_is_ours(5));
    assert_false(shunt_fdt_is_ours(-1));
    assert_false(shunt_fdt_is_ours(SHUNT_FDT_MAX));
    shunt_rfile_t *f = shunt_rfile_new(SHUNT_RF_FWD);
    f->handle = 7;
    assert_int_equal(shunt_fdt_set(5, f), 0);
    assert_int_equal(shunt_fdt_set(70000, f), 0); /* a dup, another chunk */
    assert_int_equal(shunt_fdt_set(SHUNT_FDT_MAX, f), -EBADF);
    shunt_rfile_unref(f); /* the table holds two references */
    assert_true(shunt_fdt_is_ours(5));
    assert_true(shunt_fdt_is_ours(70000));
    assert_false(shunt_fdt_is_ours(6));
    assert_int_equal(shunt_fdt_next(0), 5);
    assert_int_equal(shunt_fdt_next(6), 70000);
    assert_int_equal(shunt_fdt_next(70001), -1);
    shunt_rfile_t *g = shunt_fdt_get(5);
    assert_ptr_equal(g, f);
    shunt_rfile_unref(g);
    shunt_rfile_unref(shunt_fdt_take(5));
    assert_false(shunt_fdt_is_ours(5));
    assert_null(shunt_fdt_get(5));
    assert_int_equal(released, 0);
    /* replacing an entry drops the old one */
    shunt_rfile_t *h = shunt_rfile_new(SHUNT_RF_DIR);
    h->handle = 100;
    shunt_fdt_set(70000, h);
    assert_int_equal(released, 7);
    shunt_rfile_unref(h);
    shunt_rfile_unref(shunt_fdt_take(70000));
    assert_int_equal(released, 107);
    assert_int_equal(shunt_fdt_next(0), -1);
}

static int net_remote(const shunt_policy_t *p, int proto, const char *ip,
                      unsigned port, const char *name)
{
    unsigned char a[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(fam, ip, a), 1);
    return shunt_policy_net_remote(p, proto, fam, a, port, name);
}

static void test_net_filter(void **state)
{
    (void)state;
    shunt_policy_t p;
    shunt_config_t c;
    shunt_config_init(&c);
    shunt_policy_init(&p, &c);
    /* defaults: everything remote but loopback and the unspecified address */
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.1.2.3", 80, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_UDP, "fd00::1", 53, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "127.0.0.1", 80, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "127.9.9.9", 80, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "::1", 80, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "::ffff:127.0.0.1", 80, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "0.0.0.0", 80, NULL), 0);
    shunt_policy_free(&p);

    char err[256];
    const char *local = "net_local tcp 10.1.0.0/16:8000-8999\n"
                        "net_local udp [fd00::]/8:53\n"
                        "net_local *.local.test\n";
    assert_int_equal(shunt_config_parse(&c, local, strlen(local), err,
                                        sizeof(err)), 0);
    shunt_policy_init(&p, &c);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.1.2.3", 8080, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.1.2.3", 9000, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_UDP, "10.1.2.3", 8080, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.2.0.1", 8080, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "::ffff:10.1.0.1", 8080, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_UDP, "fd12::5", 53, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_UDP, "fe12::5", 53, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.9.9.9", 1, "DB.Local.Test"), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.9.9.9", 1, "db.cluster"), 1);
    shunt_policy_free(&p);

    /* a remote list is the whole remote set; loopback can be in it */
    const char *remote = "net_remote tcp *.cluster\nnet_remote any 127.0.0.1:6379\n";
    assert_int_equal(shunt_config_parse(&c, remote, strlen(remote), err,
                                        sizeof(err)), 0);
    shunt_policy_init(&p, &c);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.9.9.9", 1, "api.cluster"), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_UDP, "10.9.9.9", 1, "api.cluster"), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.9.9.9", 1, NULL), 0);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "127.0.0.1", 6379, NULL), 1);
    assert_int_equal(net_remote(&p, SHUNT_NET_TCP, "10.1.2.3", 8080, NULL), 0);
    shunt_policy_free(&p);

    const char *bad[] = {"net_remote tcp 1.2.3.4/33", "net_remote 1.2.3.4:0-",
                         "net_local /run/x.sock",
                         "net_remote tcp a b", "net_local [::1", "net_local */8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(shunt_config_parse(&c, bad[i], strlen(bad[i]), err,
                                            sizeof(err)), 1);
    shunt_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_normalize),
        cmocka_unit_test(test_path_under),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_unix_remote),
        cmocka_unit_test(test_config_incoming),
        cmocka_unit_test(test_inaddr),
        cmocka_unit_test(test_regex_check),
        cmocka_unit_test(test_policy_defaults),
        cmocka_unit_test(test_policy_config_order),
        cmocka_unit_test(test_policy_program),
        cmocka_unit_test(test_open_writes),
        cmocka_unit_test(test_fdtable),
        cmocka_unit_test(test_net_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
