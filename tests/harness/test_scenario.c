/* Unit tests for scenario loading: a valid target section, and many broken
 * ones with the exact FILE:LINE:COL: key.path: message each must produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shunt/fuzzspec.h"
#include "shunt/scenario.h"

static char err[2048];

static void test_minimal_defaults(void **state)
{
    (void)state;
    shunt_scenario_t *s = shunt_scenario_load_string("dir/demo-1.yaml", "target: {}\n",
                                                     err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(s->target.name, "demo-1");
    assert_string_equal(s->target.hostname, "demo-1");
    assert_string_equal(s->name, "demo-1");
    assert_string_equal(s->dir, "dir");
    assert_string_equal(s->target.dns_domain, "cluster");
    assert_int_equal(s->target.env.n, 1);
    assert_string_equal(s->target.env.v[0].key, "PATH");
    assert_int_equal(s->target.n_services, 0);
    assert_null(s->layer);
    shunt_scenario_free(s);
    /* the scenario is named after its file, as its cases are, not after
     * its target */
    s = shunt_scenario_load_string("dir/file-name.yml", "target: {name: other}\n", err,
                                   sizeof(err));
    assert_non_null(s);
    assert_string_equal(s->name, "file-name");
    assert_string_equal(s->target.name, "other");
    shunt_scenario_free(s);
}

static void test_full_target(void **state)
{
    (void)state;
    const char *yaml =
        "name: full scenario\n"
        "description: every key\n"
        "layer: {env: {include: [\"APP_*\"]}}\n"
        "program: {language: command, args: [\"true\"]}\nruns: {}\nexpect: {}\n"
        "target:\n"
        "  name: demo\n"
        "  hostname: demo-host\n"
        "  env: {APP_MODE: remote, PATH: /bin, EMPTY: \"\"}\n"
        "  hosts:\n"
        "    - {ip: 10.200.250.7, names: [only-in-target.example, b]}\n"
        "    - {ip: \"::1\", names: [v6]}\n"
        "  files:\n"
        "    - {path: /etc/app/config.json, content: \"{}\", mode: 0600}\n"
        "    - {path: /srv/data.bin, from: data/payload.txt}\n"
        "  services:\n"
        "    - name: api\n"
        "      command: [python3, -m, http.server, \"8080\"]\n"
        "      port: 8080\n"
        "      aliases: [api.internal]\n"
        "      files: [{path: /srv/www/index.html, content: hi}]\n"
        "      env: {A: b}\n"
        "    - {name: redis, command: [redis-server]}\n"
        "  dns: {domain: corp, records: [{name: db.corp, ip: 10.200.9.9}]}\n";
    shunt_scenario_t *s =
        shunt_scenario_load_string(FIXTURES_DIR "/t.yaml", yaml, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    const shunt_target_spec_t *t = &s->target;
    assert_string_equal(s->name, "full scenario");
    assert_string_equal(s->description, "every key");
    assert_non_null(s->layer);
    assert_non_null(s->expect);
    assert_string_equal(t->name, "demo");
    assert_string_equal(t->hostname, "demo-host");
    assert_int_equal(t->env.n, 3); /* PATH given, so not added */
    assert_string_equal(t->env.v[2].key, "EMPTY");
    assert_string_equal(t->env.v[2].value, "");
    assert_int_equal(t->n_hosts, 2);
    assert_string_equal(t->hosts[0].names[1], "b");
    assert_int_equal(t->files.n, 2);
    assert_int_equal(t->files.v[0].mode, 0600);
    assert_string_equal(t->files.v[0].content, "{}");
    assert_null(t->files.v[1].from ? NULL : "from missing");
    assert_non_null(strstr(t->files.v[1].from, "/fixtures/data/payload.txt"));
    assert_int_equal(t->files.v[1].mode, 0644);
    assert_int_equal(t->n_services, 2);
    assert_string_equal(t->services[0].command[3], "8080");
    assert_null(t->services[0].command[4]);
    assert_int_equal(t->services[0].port, 8080);
    assert_string_equal(t->services[0].aliases[0], "api.internal");
    assert_int_equal(t->services[0].env.n, 2);
    assert_int_equal(t->services[1].port, 0);
    assert_string_equal(t->dns_domain, "corp");
    assert_string_equal(t->dns_records[0].ip, "10.200.9.9");
    shunt_scenario_free(s);
}

typedef struct {
    const char *yaml;
    const char *error;
} bad_case_t;

#define SVC "target:\n  services:\n    - {name: a, command: [x]}\n"

static const bad_case_t bad_cases[] = {
    /* whole file */
    {"", "t.yaml:1:1: empty scenario: expected a map with a target: section"},
    {"- a\n", "t.yaml:1:1: expected a map, got a list"},
    {"name: x\n", "t.yaml:1:1: missing required section target"},
    {"target: {}\nrun: []\n",
     "t.yaml:2:1: run: unknown key (allowed: name, description, target, layer, "
     "program, runs, expect, cases, fuzz, traffic)"},
    {"target: {}\ntarget: {}\n",
     "t.yaml:2:1: target: duplicate key (first defined at line 1, column 1)"},
    {"target: [\n", "t.yaml:2:1: syntax error: while parsing a flow node did not "
                    "find expected node content"},
    {"target: []\n", "t.yaml:1:9: target: expected a map, got a list"},
    {"name: [a]\ntarget: {}\n", "t.yaml:1:7: name: expected a string, got a list"},
    /* target keys */
    {"target:\n  nmae: x\n",
     "t.yaml:2:3: target.nmae: unknown key (allowed: name, hostname, env, hosts, "
     "files, services, dns, setup, etc, daemons)"},
    {"target:\n  name: Demo\n",
     "t.yaml:2:9: target.name: expected a name of 1-20 characters [a-z0-9-] not "
     "starting or ending with '-', got \"Demo\""},
    {"target:\n  name: abcdefghijklmnopqrstu\n",
     "t.yaml:2:9: target.name: expected a name of 1-20 characters [a-z0-9-] not "
     "starting or ending with '-', got \"abcdefghijklmnopqrstu\""},
    {"target:\n  hostname: bad_host\n",
     "t.yaml:2:13: target.hostname: expected a host name of at most 64 characters "
     "(letters, digits, '-' and '.'), got \"bad_host\""},
    /* env */
    {"target:\n  env: [A]\n", "t.yaml:2:8: target.env: expected a map, got a list"},
    {"target:\n  env: {1A: x}\n",
     "t.yaml:2:9: target.env.1A: environment variable names must match "
     "[A-Za-z_][A-Za-z0-9_]*"},
    {"target:\n  env:\n    A: {b: c}\n",
     "t.yaml:3:8: target.env.A: expected a string, got a map"},
    {"target:\n  env:\n    A: 1\n    A: 2\n",
     "t.yaml:4:5: target.env.A: duplicate key (first defined at line 3, column 5)"},
    /* hosts */
    {"target:\n  hosts:\n    - {ip: 10.0.0.256, names: [a]}\n",
     "t.yaml:3:12: target.hosts[0].ip: expected an IPv4 or IPv6 address, got "
     "\"10.0.0.256\""},
    {"target:\n  hosts:\n    - {ip: 10.0.0.1, names: []}\n",
     "t.yaml:3:29: target.hosts[0].names: expected at least one name"},
    {"target:\n  hosts:\n    - {ip: 10.0.0.1}\n",
     "t.yaml:3:7: target.hosts[0]: missing required key names"},
    {"target:\n  hosts:\n    - {ip: 10.0.0.1, names: [a b]}\n",
     "t.yaml:3:30: target.hosts[0].names[0]: expected a host name (letters, "
     "digits, '-' and '.'), got \"a b\""},
    /* files */
    {"target:\n  files:\n    - {path: etc/x, content: a}\n",
     "t.yaml:3:14: target.files[0].path: must be an absolute path, got \"etc/x\""},
    {"target:\n  files:\n    - {path: /etc/../x, content: a}\n",
     "t.yaml:3:14: target.files[0].path: \"/etc/../x\" must not contain '.' or '..' "
     "components"},
    {"target:\n  files:\n    - {path: /etc//x, content: a}\n",
     "t.yaml:3:14: target.files[0].path: \"/etc//x\" has an empty component or a "
     "trailing '/'"},
    {"target:\n  files:\n    - {path: /usr/bin/evil, content: a}\n",
     "t.yaml:3:14: target.files[0].path: \"/usr/bin/evil\" is under /usr, which is a "
     "read-only or kernel mount in the container"},
    {"target:\n  files:\n    - {path: /proc/x, content: a}\n",
     "t.yaml:3:14: target.files[0].path: \"/proc/x\" is under /proc, which is a "
     "read-only or kernel mount in the container"},
    {"target:\n  files:\n    - {path: /lib64, content: a}\n",
     "t.yaml:3:14: target.files[0].path: \"/lib64\" is under /lib64, which is a "
     "read-only or kernel mount in the container"},
    {"target:\n  files:\n    - {path: /etc/hosts, content: a}\n",
     "t.yaml:3:14: target.files[0].path: \"/etc/hosts\" is generated by the harness "
     "(use target.hostname, target.hosts or target.dns)"},
    {"target:\n  files:\n    - {path: /a, content: a}\n    - {path: /a, content: b}\n",
     "t.yaml:4:14: target.files[1].path: \"/a\" is already listed at "
     "target.files[0]"},
    {"target:\n  files:\n    - {path: /a}\n",
     "t.yaml:3:7: target.files[0]: expected exactly one of content, from, symlink, "
     "link, dir and fifo"},
    {"target:\n  files:\n    - {path: /a, content: x, from: y}\n",
     "t.yaml:3:36: target.files[0]: expected exactly one of content, from, symlink, "
     "link, dir and fifo; content is already given"},
    {"target:\n  files:\n    - {path: /a, from: /nonexistent/x}\n",
     "t.yaml:3:24: target.files[0].from: cannot read \"/nonexistent/x\" on this host: "
     "No such file or directory"},
    {"target:\n  files:\n    - {path: /a, from: data/../../x}\n",
     "t.yaml:3:24: target.files[0].from: \"data/../../x\" escapes the scenario's "
     "directory (an absolute path names a host file)"},
    {"target:\n  files:\n    - {path: /a, from: /dev/null}\n",
     "t.yaml:3:24: target.files[0].from: \"/dev/null\" is neither a regular file nor "
     "a directory"},
    {"target:\n  files:\n    - {path: /a, symlink: /b, mode: 0600}\n",
     "t.yaml:3:37: target.files[0].mode: a symlink has no mode of its own"},
    {"target:\n  files:\n    - {path: /a, link: b}\n",
     "t.yaml:3:24: target.files[0].link: must be an absolute path, got \"b\""},
    {"target:\n  files:\n    - {path: /a, link: /b, owner: root}\n",
     "t.yaml:3:35: target.files[0].owner: a hard link has the owner of its file"},
    {"target:\n  files:\n    - {path: /a, dir: false}\n",
     "t.yaml:3:23: target.files[0].dir: expected true, got \"false\""},
    {"target:\n  files:\n    - {path: /a, fifo: true, owner: \"nosuchuser-x\"}\n",
     "t.yaml:3:37: target.files[0].owner: expected UID, UID:GID, USER or USER:GROUP "
     "(0-65535 or a name in /etc/passwd), got \"nosuchuser-x\""},
    {"target:\n  files:\n    - {path: /a, fifo: true, owner: \"0:nosuchgroup-x\"}\n",
     "t.yaml:3:37: target.files[0].owner: group \"nosuchgroup-x\" is neither a number "
     "0-65535 nor a name in /etc/group"},
    {"target:\n  files:\n    - {path: /tmp, dir: true}\n",
     "t.yaml:3:14: target.files[0].path: \"/tmp\" is the container's own tmpfs; files "
     "beneath it are fine"},
    {"target:\n  setup: [\"true\", {a: b}]\n",
     "t.yaml:2:19: target.setup[1]: expected a shell command (a string) or a list (the "
     "program and its arguments)"},
    {"target:\n  setup: [[]]\n",
     "t.yaml:2:11: target.setup[0]: expected a non-empty list (program and its "
     "arguments)"},
    {"target:\n  etc: {drop: [../x]}\n",
     "t.yaml:2:16: target.etc.drop[0]: expected a path (or glob) below /etc, like "
     "java-17-openjdk or /etc/ssl/private, got \"../x\""},
    {"target:\n  etc: {add: [/etc/hosts]}\n",
     "t.yaml:2:15: target.etc.add[0]: /etc/hosts is generated by the harness (use "
     "target.hostname, target.hosts or target.dns)"},
    {"target:\n  etc: {keep: [x]}\n",
     "t.yaml:2:9: target.etc.keep: unknown key (allowed: drop, add)"},
    {"target:\n  setup: x\n",
     "t.yaml:2:10: target.setup: expected a list, got a scalar"},
    {"target:\n  files:\n    - {path: /a, from: missing.bin}\n",
     "t.yaml:3:24: target.files[0].from: cannot read \"missing.bin\" (relative to "
     "FIXTURES): No such file or directory"},
    {"target:\n  files:\n    - {path: /a, content: x, mode: 0999}\n",
     "t.yaml:3:36: target.files[0].mode: expected an octal file mode like 0644, got "
     "\"0999\""},
    {"target:\n  files:\n    - {path: /a, content: x, ownr: root}\n",
     "t.yaml:3:30: target.files[0].ownr: unknown key (allowed: path, content, "
     "from, symlink, link, dir, fifo, mode, owner)"},
    {"target:\n  files: {path: /a}\n",
     "t.yaml:2:10: target.files: expected a list, got a map"},
    /* services */
    {"target:\n  services:\n    - {name: a, command: [x], port: 8080}\n"
     "    - {name: b, command: [x], port: abc}\n",
     "t.yaml:4:37: target.services[1].port: expected an integer 1-65535, got \"abc\""},
    {"target:\n  services:\n    - {name: a, command: [x], port: 0}\n",
     "t.yaml:3:37: target.services[0].port: expected an integer 1-65535, got \"0\""},
    {"target:\n  services:\n    - {name: a, command: [x], port: 65536}\n",
     "t.yaml:3:37: target.services[0].port: expected an integer 1-65535, got "
     "\"65536\""},
    {"target:\n  services:\n    - {name: a, command: [x], port: [1]}\n",
     "t.yaml:3:37: target.services[0].port: expected an integer 1-65535, got a list"},
    {"target:\n  services:\n    - {name: a}\n",
     "t.yaml:3:7: target.services[0]: missing required key command"},
    {"target:\n  services:\n    - {name: a, command: []}\n",
     "t.yaml:3:26: target.services[0].command: expected a non-empty list (program "
     "and its arguments)"},
    {"target:\n  services:\n    - {name: a, command: python3 -m x}\n",
     "t.yaml:3:26: target.services[0].command: expected a list, got a scalar"},
    {"target:\n  services:\n    - {name: a, command: [x, [y]]}\n",
     "t.yaml:3:30: target.services[0].command[1]: expected a string, got a list"},
    {"target:\n  services:\n    - {command: [x]}\n",
     "t.yaml:3:7: target.services[0]: missing required key name"},
    {"target:\n  services:\n    - {name: dns, command: [x]}\n",
     "t.yaml:3:14: target.services[0].name: \"dns\" is reserved (target, br and dns "
     "name the harness's own containers)"},
    {"target:\n  services:\n    - {name: a, command: [x]}\n    - {name: a, command: [y]}\n",
     "t.yaml:4:14: target.services[1].name: name \"a\" is already used in the cluster"},
    {"target:\n  name: t\n  services:\n    - {name: api, command: [x], aliases: [T]}\n",
     "t.yaml:4:43: target.services[0].aliases[0]: name \"T\" is already used in the "
     "cluster"},
    {"target:\n  services:\n    - {name: a, command: [x], prot: 1}\n",
     "t.yaml:3:31: target.services[0].prot: unknown key (allowed: name, command, "
     "port, aliases, files, env)"},
    {SVC "    - {name: b, command: [x], files: [{path: /sys/x, content: a}]}\n",
     "t.yaml:4:46: target.services[1].files[0].path: \"/sys/x\" is under /sys, which "
     "is a read-only or kernel mount in the container"},
    {SVC "    - {name: b, command: [x], env: {X: [1]}}\n",
     "t.yaml:4:40: target.services[1].env.X: expected a string, got a list"},
    {"target:\n  services: {a: 1}\n",
     "t.yaml:2:13: target.services: expected a list, got a map"},
    /* dns */
    {"target:\n  dns: {domain: corp, zone: x}\n",
     "t.yaml:2:23: target.dns.zone: unknown key (allowed: domain, records)"},
    {"target:\n  dns: {records: [{name: db.cluster, ip: \"::1\"}]}\n",
     "t.yaml:2:42: target.dns.records[0].ip: expected an IPv4 address, got \"::1\""},
    {"target:\n  dns: {records: [{name: db.cluster}]}\n",
     "t.yaml:2:19: target.dns.records[0]: missing required key ip"},
    {SVC "  dns: {records: [{name: a.cluster, ip: 10.200.1.1}]}\n",
     "t.yaml:4:26: target.dns.records[0].name: name \"a.cluster\" is already used in "
     "the cluster"},
    /* cases: errors name the case's own key; the file's defaults keep theirs */
    {"target: {}\ncases: []\n", "t.yaml:2:8: cases: expected at least one case"},
    {"target: {}\ncases:\n  - {command: [ls]}\n",
     "t.yaml:3:5: cases[0]: missing required key name"},
    {"target: {}\ncases:\n  - {name: a, commnd: [ls]}\n",
     "t.yaml:3:15: cases[0].commnd: unknown key (allowed: name, description, command, "
     "language, source, main, inline, build, args, stdin, env, cwd, timeout, go, cgo, "
     "engines, runs, expect, traffic)"},
    {"target: {}\nprogram: {language: command, args: [ls]}\n"
     "cases:\n  - {name: a, engines: [supervisor], expect: {refused: true}}\n",
     "t.yaml:4:56: cases[0].expect.refused: only the layer refuses a program, and "
     "program.engines does not list it"},
    {"target: {}\nprogram: {language: command, args: [ls], engines: [layer]}\n"
     "cases:\n  - {name: a, engines: [layer, lyer]}\n",
     "t.yaml:4:32: cases[0].engines[1]: expected layer or supervisor, got \"lyer\""},
    {"target: {}\ncases:\n  - {name: a, command: [ls]}\n  - {name: a, command: [ls]}\n",
     "t.yaml:4:12: cases[1].name: \"a\" is already the name of cases[0]"},
    {"target: {}\ncases:\n  - {name: a b, command: [ls]}\n",
     "t.yaml:3:12: cases[0].name: expected a name of 1-64 characters [A-Za-z0-9._-] not "
     "starting with '.' or '-', got \"a b\""},
    {"target: {}\ncases:\n  - {name: a}\n",
     "t.yaml:3:5: cases[0]: no program: give command: [PROGRAM, ARGS...], or language: "
     "with source:/inline: (or a program: section for every case)"},
    {"target: {}\ncases:\n  - {name: a, command: [ls], args: [x]}\n",
     "t.yaml:3:24: cases[0].command: command: is the program and its arguments (language "
     "command); it goes without language: and args:"},
    {"target: {}\ncases:\n  - {name: a, command: []}\n",
     "t.yaml:3:24: cases[0].command: expected a non-empty list: the program and its "
     "arguments"},
    {"target: {}\nprogram: {language: command, timeout: 0}\ncases:\n  - {name: a, "
     "command: [ls]}\n",
     "t.yaml:2:39: program.timeout: expected an integer 1-3600, got \"0\""},
    {"target: {}\nprogram: {language: command}\ncases:\n  - {name: a, command: [ls], "
     "timeout: x}\n",
     "t.yaml:4:39: cases[0].timeout: expected an integer 1-3600, got \"x\""},
    {"target: {}\nexpect: {stderr: true}\ncases:\n  - {name: a, command: [ls]}\n"
     "  - {name: b, command: [ls], expect: {status: x}}\n",
     "t.yaml:5:47: cases[1].expect.status: expected an integer 0-255, got \"x\" (or "
     "any, or a signal: SIGABRT...)"},
    {"target: {}\nexpect: {stdrr: true}\ncases:\n  - {name: a, command: [ls]}\n",
     "t.yaml:2:10: expect.stdrr: unknown key (allowed: stdout, stderr, exit, status, "
     "refused, unhooked, journal, files, normalise, no_leaks, leaks, divergences)"},
    {"target: {}\nprogram: {language: command, env: {A: x}}\ncases:\n"
     "  - {name: a, command: [ls], env: {\"B-\": y}}\n",
     "t.yaml:4:36: cases[0].env.B-: environment variable names must match "
     "[A-Za-z_][A-Za-z0-9_]*"},
    {"target: {}\ncases:\n  - {name: a, language: python}\n",
     "t.yaml:3:5: cases[0]: expected exactly one of source (a file or directory) and "
     "inline (the source text)"},
    {"target: {}\ncases:\n  - {name: a, command: [ls], runs: {repeat: 0}}\n",
     "t.yaml:3:45: cases[0].runs.repeat: expected an integer 1-100, got \"0\""},
    /* fuzz: tree entries are target.files' with size:, policies are layer:
     * sections with a name */
    {"target: {}\nfuzz: []\n",
     "t.yaml:2:7: fuzz: expected a map, got a list"},
    {"target: {}\nfuzz:\n  tre: []\n",
     "t.yaml:3:3: fuzz.tre: unknown key (allowed: tree, layer, calls, net, "
     "length, seed, budget, known)"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: fuzz/a, content: x}\n",
     "t.yaml:4:14: fuzz.tree[0].path: must be an absolute path, got "
     "\"fuzz/a\""},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /, dir: true}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/\" is the whole target: name a "
     "directory or file below it"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/../a, content: x}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/fuzz/../a\" must not contain '.' "
     "or '..' components"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /tmp/a, content: x}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/tmp/a\" is under /tmp, in the "
     "layer's default local set: the fuzzer compares paths of the target"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /var/tmp, dir: true}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/var/tmp\" is under /var/tmp, in "
     "the layer's default local set: the fuzzer compares paths of the target"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /run/a, content: x}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/run/a\" is under /run, in the "
     "layer's default local set: the fuzzer compares paths of the target"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /libx32/a, content: x}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/libx32/a\" is under /libx32, in "
     "the layer's default local set: the fuzzer compares paths of the target"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /usr/a, content: x}\n",
     "t.yaml:4:14: fuzz.tree[0].path: \"/usr/a\" is under /usr, which is a "
     "read-only or kernel mount in the container"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, content: x}\n    - {path: /fuzz/a, size: 1}\n",
     "t.yaml:5:14: fuzz.tree[1].path: \"/fuzz/a\" is already listed at "
     "fuzz.tree[0]"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, from: x}\n",
     "t.yaml:4:23: fuzz.tree[0].from: unknown key (allowed: path, content, "
     "size, symlink, link, dir, fifo, mode)"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, content: x, owner: root}\n",
     "t.yaml:4:35: fuzz.tree[0].owner: unknown key (allowed: path, content, "
     "size, symlink, link, dir, fifo, mode)"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a}\n",
     "t.yaml:4:7: fuzz.tree[0]: expected exactly one of content, size, "
     "symlink, link, dir and fifo"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, content: x, size: 3}\n",
     "t.yaml:4:41: fuzz.tree[0]: expected exactly one of content, size, "
     "symlink, link, dir and fifo; content is already given"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, size: 67108865}\n",
     "t.yaml:4:29: fuzz.tree[0].size: expected an integer 0-67108864, got "
     "\"67108865\""},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, size: -1}\n",
     "t.yaml:4:29: fuzz.tree[0].size: expected an integer 0-67108864, got "
     "\"-1\""},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, size: 1, mode: 0999}\n",
     "t.yaml:4:38: fuzz.tree[0].mode: expected an octal file mode like "
     "0644, got \"0999\""},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/a, symlink: /b, mode: 0600}\n",
     "t.yaml:4:42: fuzz.tree[0].mode: a symlink has no mode of its own"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/h, link: /fuzz/a}\n    - {path: /fuzz/a, content: x}\n",
     "t.yaml:4:29: fuzz.tree[0].link: \"/fuzz/a\" is not a regular file "
     "listed before fuzz.tree[0] (a hard link of the fuzz tree links one)"},
    {"target: {}\nfuzz:\n  tree:\n    - {path: /fuzz/d, dir: true}\n    - {path: /fuzz/h, link: /fuzz/d}\n",
     "t.yaml:5:29: fuzz.tree[1].link: \"/fuzz/d\" is not a regular file "
     "listed before fuzz.tree[1] (a hard link of the fuzz tree links one)"},
    {"target: {}\nfuzz:\n  tree: {path: /fuzz/a}\n",
     "t.yaml:3:9: fuzz.tree: expected a list, got a map"},
    {"target: {}\nfuzz:\n  layer: {files: {}}\n",
     "t.yaml:3:10: fuzz.layer: expected a list, got a map"},
    {"target: {}\nfuzz:\n  layer: []\n",
     "t.yaml:3:10: fuzz.layer: expected at least one policy (or no layer: "
     "key: the default policy)"},
    {"target: {}\nfuzz:\n  layer:\n    - {name: Rw}\n",
     "t.yaml:4:14: fuzz.layer[0].name: expected a name of 1-20 characters "
     "[a-z0-9-] not starting or ending with '-', got \"Rw\""},
    {"target: {}\nfuzz:\n  layer:\n    - {name: rw}\n    - {name: rw}\n",
     "t.yaml:5:14: fuzz.layer[1].name: \"rw\" is already the name of "
     "fuzz.layer[0]"},
    {"target: {}\nfuzz:\n  layer:\n    - {nmae: rw}\n",
     "t.yaml:4:8: fuzz.layer[0].nmae: unknown key (allowed: name, log, "
     "files, env, network)"},
    {"target: {}\nfuzz:\n  layer:\n    - {files: {local: [\"^/fuzz\"]}}\n",
     "t.yaml:4:23: fuzz.layer[0].files.local: a fuzz policy has no local "
     "paths: the fuzzer compares each call with the target's, and a local "
     "path has no reference there"},
    {"target: {}\nfuzz:\n  layer:\n    - {name: a}\n    - {files: {not_found: [\"(\"]}}\n",
     "t.yaml:5:28: fuzz.layer[1].files.not_found[0]: invalid regular "
     "expression (POSIX ERE): Unmatched ( or \\("},
    {"target: {}\nfuzz:\n  layer:\n    - {log: {level: loud}}\n",
     "t.yaml:4:21: fuzz.layer[0].log.level: unknown log level \"loud\" "
     "(allowed: off, error, warn, info, debug, trace)"},
    {"target: {}\nfuzz:\n  calls: {opn: 1}\n",
     "t.yaml:3:11: fuzz.calls.opn: unknown key (allowed: open, read, stat, "
     "dir, readlink, access, write, cwd, fd, fork, net)"},
    {"target: {}\nfuzz:\n  calls: {open: 101}\n",
     "t.yaml:3:17: fuzz.calls.open: expected an integer 0-100, got \"101\""},
    {"target: {}\nfuzz:\n  calls: {open: 0, read: 0}\n",
     "t.yaml:3:10: fuzz.calls: every weight is 0: nothing would be called"},
    {"target: {}\nfuzz:\n  calls: {open: 1, net: 1}\n",
     "t.yaml:3:25: fuzz.calls.net: net calls need names to resolve: give "
     "fuzz.net.names"},
    {"target: {}\nfuzz:\n  calls: [open]\n",
     "t.yaml:3:10: fuzz.calls: expected a map, got a list"},
    {"target: {}\nfuzz:\n  net: {names: [a], port: [1]}\n",
     "t.yaml:3:21: fuzz.net.port: unknown key (allowed: names, ports)"},
    {"target: {}\nfuzz:\n  net: {names: [a], ports: [0]}\n",
     "t.yaml:3:29: fuzz.net.ports[0]: expected an integer 1-65535, got \"0\""},
    {"target: {}\nfuzz:\n  net: {names: [\"\"]}\n",
     "t.yaml:3:17: fuzz.net.names[0]: must not be empty"},
    {"target: {}\nfuzz:\n  net: {names: a}\n",
     "t.yaml:3:16: fuzz.net.names: expected a list, got a scalar"},
    {"target: {}\nfuzz:\n  length: 0\n",
     "t.yaml:3:11: fuzz.length: expected an integer 1-200, got \"0\""},
    {"target: {}\nfuzz:\n  length: 201\n",
     "t.yaml:3:11: fuzz.length: expected an integer 1-200, got \"201\""},
    {"target: {}\nfuzz:\n  seed: -1\n",
     "t.yaml:3:9: fuzz.seed: expected an integer 0-18446744073709551615, "
     "got \"-1\""},
    {"target: {}\nfuzz:\n  seed: 18446744073709551616\n",
     "t.yaml:3:9: fuzz.seed: expected an integer 0-18446744073709551615, "
     "got \"18446744073709551616\""},
    {"target: {}\nfuzz:\n  seed: [1]\n",
     "t.yaml:3:9: fuzz.seed: expected an integer 0-18446744073709551615, "
     "got a list"},
    {"target: {}\nfuzz:\n  budget: {minutes: 1, sequences: 2}\n",
     "t.yaml:3:35: fuzz.budget: expected exactly one of minutes and "
     "sequences"},
    {"target: {}\nfuzz:\n  budget: {}\n",
     "t.yaml:3:11: fuzz.budget: expected exactly one of minutes and "
     "sequences"},
    {"target: {}\nfuzz:\n  budget: {minutes: 0}\n",
     "t.yaml:3:21: fuzz.budget.minutes: expected an integer 1-10080, got "
     "\"0\""},
    {"target: {}\nfuzz:\n  budget: {hours: 1}\n",
     "t.yaml:3:12: fuzz.budget.hours: unknown key (allowed: minutes, "
     "sequences)"},
    {"target: {}\nfuzz:\n  budget: {sequences: x}\n",
     "t.yaml:3:23: fuzz.budget.sequences: expected an integer 1-1000000000, "
     "got \"x\""},
    {"target: {}\nfuzz:\n  known:\n    - {reason: because of this}\n",
     "t.yaml:4:7: fuzz.known[0]: missing required key call"},
    {"target: {}\nfuzz:\n  known:\n    - {call: \"(\", reason: because of this}\n",
     "t.yaml:4:14: fuzz.known[0].call: invalid regular expression (POSIX "
     "ERE): Unmatched ( or \\("},
    {"target: {}\nfuzz:\n  known:\n    - {call: x, local: \"a{\", reason: because of this}\n",
     "t.yaml:4:24: fuzz.known[0].local: invalid regular expression (POSIX "
     "ERE): Unmatched \\{"},
    {"target: {}\nfuzz:\n  known:\n    - {call: x, reason: short}\n",
     "t.yaml:4:25: fuzz.known[0].reason: expected a reason of at least 10 "
     "characters, got \"short\""},
    {"target: {}\nfuzz:\n  known:\n    - {call: x}\n",
     "t.yaml:4:7: fuzz.known[0]: missing required key reason (why the "
     "divergence is accepted)"},
    {"target: {}\nfuzz:\n  known:\n    - {call: x, reason: because of this, why: x}\n",
     "t.yaml:4:42: fuzz.known[0].why: unknown key (allowed: call, local, "
     "reason, policies, engines)"},
    {"target: {}\nfuzz:\n  layer: [{name: rw}]\n  known:\n"
     "    - {call: x, reason: because of this, policies: [rw, ro]}\n",
     "t.yaml:5:57: fuzz.known[0].policies[1]: no policy of fuzz.layer is named \"ro\""},
};

static void test_bad_cases(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        char expected[1024];
        const char *fx = strstr(c->error, "FIXTURES");
        if (fx)
            snprintf(expected, sizeof(expected), "%.*s%s%s", (int)(fx - c->error),
                     c->error, FIXTURES_DIR, fx + 8);
        else
            snprintf(expected, sizeof(expected), "%s", c->error);
        /* from: is resolved against the fixtures; messages still say t.yaml. */
        int from = strstr(c->yaml, "from:") != NULL;
        err[0] = 0;
        shunt_scenario_t *s = shunt_scenario_load_string(
            from ? FIXTURES_DIR "/t.yaml" : "t.yaml", c->yaml, err, sizeof(err));
        const char *got = err;
        if (from && strncmp(err, FIXTURES_DIR "/", strlen(FIXTURES_DIR) + 1) == 0)
            got = err + strlen(FIXTURES_DIR) + 1;
        if (s || strcmp(got, expected) != 0) {
            print_error("case %zu:\n%s\n  expected: %s\n  got:      %s\n\n", i,
                        c->yaml, expected, s ? "(loaded fine)" : got);
            failed++;
        }
        shunt_scenario_free(s);
    }
    assert_int_equal(failed, 0);
}

/* cases: inherit the file's program, runs and expect, key by key; env is
 * merged; command: is language command with its args. */
static void test_cases_inherit(void **state)
{
    (void)state;
    const char *yaml =
        "target: {name: fam}\n"
        "program: {language: command, cwd: /srv, timeout: 5, env: {A: file, B: file}}\n"
        "runs: {repeat: 2}\n"
        "expect: {stderr: true, status: 3}\n"
        "cases:\n"
        "  - name: one\n"
        "    command: [ls, -l]\n"
        "  - name: two\n"
        "    command: [cat]\n"
        "    env: {B: case, C: case}\n"
        "    cwd: /tmp\n"
        "    expect: {status: any}\n"
        "    runs: {local: false}\n"
        "  - name: py\n"
        "    language: python\n"
        "    inline: print(1)\n";
    shunt_scenario_t *s = shunt_scenario_load_string("d/fam.yaml", yaml, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_null(s->run);
    assert_int_equal(s->n_cases, 3);
    const shunt_runspec_t *a = s->cases[0].run, *b = s->cases[1].run, *p = s->cases[2].run;
    assert_string_equal(s->cases[0].name, "one");
    assert_int_equal(a->lang, SHUNT_LANG_COMMAND);
    assert_int_equal(a->n_args, 2);
    assert_string_equal(a->args[1], "-l");
    assert_string_equal(a->cwd, "/srv");
    assert_int_equal(a->timeout_s, 5);
    assert_int_equal(a->repeat, 2);
    assert_int_equal(a->cmp_stderr, 1);
    assert_int_equal(a->want_status, 3);
    assert_int_equal(a->n_env, 2);
    assert_string_equal(b->cwd, "/tmp");
    assert_int_equal(b->want_status, -1);
    assert_int_equal(b->cmp_stderr, 1);
    assert_int_equal(b->run_local, 0);
    assert_int_equal(b->repeat, 2);
    assert_int_equal(b->n_env, 3);
    assert_string_equal(b->env[0], "A=file");
    assert_string_equal(b->env[1], "B=case");
    assert_string_equal(b->env[2], "C=case");
    assert_int_equal(p->lang, SHUNT_LANG_PYTHON);
    assert_string_equal(p->inline_src, "print(1)");
    assert_string_equal(p->cwd, "/srv");
    shunt_scenario_free(s);
}

/* target.files kinds, owners and modes; setup: and etc: */
static void test_file_kinds(void **state)
{
    (void)state;
    const char *yaml =
        "target:\n"
        "  files:\n"
        "    - {path: /srv/a, content: x, owner: \"1000:1001\"}\n"
        "    - {path: /srv/l, symlink: /nowhere}\n"
        "    - {path: /srv/h, link: /srv/a}\n"
        "    - {path: /srv/d, dir: true}\n"
        "    - {path: /tmp/f, fifo: yes, mode: 0600, owner: root}\n"
        "    - {path: /opt/t, from: /usr/share}\n"
        "  setup: [\"echo hi\", [/bin/true, x]]\n"
        "  etc: {drop: [java-*, /etc/ssl/certs], add: [machine-id]}\n";
    shunt_scenario_t *s = shunt_scenario_load_string("d/k.yaml", yaml, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    const shunt_file_spec_t *f = s->target.files.v;
    assert_int_equal(s->target.files.n, 6);
    assert_int_equal(f[0].kind, SHUNT_FILE_REG);
    assert_int_equal(f[0].uid, 1000);
    assert_int_equal(f[0].gid, 1001);
    assert_int_equal(f[1].kind, SHUNT_FILE_SYMLINK);
    assert_string_equal(f[1].target, "/nowhere");
    assert_int_equal(f[1].uid, -1);
    assert_int_equal(f[2].kind, SHUNT_FILE_LINK);
    assert_string_equal(f[2].target, "/srv/a");
    assert_int_equal(f[3].kind, SHUNT_FILE_DIR);
    assert_int_equal(f[3].mode, 0755);
    assert_int_equal(f[4].kind, SHUNT_FILE_FIFO);
    assert_int_equal(f[4].mode, 0600);
    assert_int_equal(f[4].uid, 0);
    assert_int_equal(f[5].kind, SHUNT_FILE_TREE);
    assert_false(f[5].mode_set);
    assert_int_equal(s->target.n_setup, 2);
    assert_string_equal(s->target.setup[0][0], "/bin/sh");
    assert_string_equal(s->target.setup[0][2], "echo hi");
    assert_string_equal(s->target.setup[1][1], "x");
    assert_null(s->target.setup[1][2]);
    assert_int_equal(s->target.n_etc_drop, 2);
    assert_string_equal(s->target.etc_drop[1], "ssl/certs");
    assert_string_equal(s->target.etc_add[0], "machine-id");
    shunt_scenario_free(s);
}

static void test_default_name_from_bad_basename(void **state)
{
    (void)state;
    shunt_scenario_t *s =
        shunt_scenario_load_string("My_Scenario.yaml", "target:\n  hostname: h\n",
                                   err, sizeof(err));
    assert_null(s);
    assert_string_equal(err, "My_Scenario.yaml:2:3: target: the file name "
                             "\"My_Scenario\" is not a valid target name; set "
                             "target.name (1-20 characters [a-z0-9-])");
}

/* A fuzz: section as the fuzzer reads it, and its defaults. */
static void test_fuzz_parsed(void **state)
{
    (void)state;
    static const char *const yaml =
        "target: {}\n"
        "fuzz:\n"
        "  tree:\n"
        "    - {path: /fuzz/a.txt, content: \"hello\\n\"}\n"
        "    - {path: /fuzz/big, size: 100000, mode: 0600}\n"
        "    - {path: /fuzz/sub, dir: true}\n"
        "    - {path: /fuzz/esc, symlink: ../../etc/hostname}\n"
        "    - {path: /fuzz/h, link: /fuzz/big}\n"
        "    - {path: /fuzz/p, fifo: true}\n"
        "  layer:\n"
        "    - {name: rw, files: {read_write: [\"^/fuzz(/|$)\"]}}\n"
        "    - {files: {read_only: [\"^/fuzz\"], not_found: [secret, \"^/x$\"]}}\n"
        "  calls: {open: 4, read: 3, net: 2}\n"
        "  net: {names: [api, nope.cluster], ports: [80, 81]}\n"
        "  length: 7\n"
        "  seed: 18446744073709551615\n"
        "  budget: {sequences: 1000}\n"
        "  known:\n"
        "    - {call: \"^readdir\", local: \"x\", reason: \"order of the entries\"}\n";
    shunt_scenario_t *s = shunt_scenario_load_string("f.yaml", yaml, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_null(s->run); /* no program: harness fuzz runs it */
    assert_non_null(s->fuzz);
    shunt_fuzzspec_t *f = NULL;
    assert_int_equal(shunt_fuzzspec_parse(s, &f, err, sizeof(err)), 0);
    assert_int_equal(f->tree.n, 6);
    assert_string_equal(f->tree.v[0].content, "hello\n");
    assert_int_equal(f->sizes[0], -1);
    assert_int_equal(f->tree.v[1].kind, SHUNT_FILE_REG);
    assert_null(f->tree.v[1].content);
    assert_int_equal(f->sizes[1], 100000);
    assert_int_equal(f->tree.v[1].mode, 0600);
    assert_int_equal(f->tree.v[2].kind, SHUNT_FILE_DIR);
    assert_string_equal(f->tree.v[3].target, "../../etc/hostname");
    assert_int_equal(f->tree.v[4].kind, SHUNT_FILE_LINK);
    assert_int_equal(f->tree.v[5].kind, SHUNT_FILE_FIFO);
    assert_int_equal(f->n_policies, 2);
    assert_string_equal(f->policies[0].name, "rw");
    assert_string_equal(f->policies[0].rendered, "read_write ^/fuzz(/|$)\n");
    assert_int_equal(f->policies[0].n_not_found, 0);
    assert_string_equal(f->policies[1].name, "policy-1");
    assert_string_equal(f->policies[1].rendered,
                        "read_only ^/fuzz\nnot_found secret\nnot_found ^/x$\n");
    assert_int_equal(f->policies[1].n_not_found, 2);
    assert_string_equal(f->policies[1].not_found[1], "^/x$");
    assert_null(f->policies[1].not_found[2]);
    assert_null(shunt_ymap_get(f->policies[0].layer, "name"));
    assert_int_equal(f->weights[SHUNT_FZ_OPEN], 4);
    assert_int_equal(f->weights[SHUNT_FZ_READ], 3);
    assert_int_equal(f->weights[SHUNT_FZ_STAT], 0);
    assert_int_equal(f->weights[SHUNT_FZ_NET], 2);
    assert_int_equal(f->n_names, 2);
    assert_string_equal(f->names[1], "nope.cluster");
    assert_int_equal(f->n_ports, 2);
    assert_int_equal(f->ports[1], 81);
    assert_int_equal(f->length, 7);
    assert_true(f->seed_set);
    assert_true(f->seed == 18446744073709551615ull);
    assert_int_equal(f->budget_sequences, 1000);
    assert_int_equal(f->budget_minutes, 0);
    assert_int_equal(f->n_known, 1);
    assert_string_equal(f->known[0].call, "^readdir");
    assert_string_equal(f->known[0].local, "x");
    assert_string_equal(f->known[0].reason, "order of the entries");
    shunt_fuzzspec_free(f);
    shunt_scenario_free(s);

    /* `fuzz:` alone: one default policy, every family but net, length 20 */
    s = shunt_scenario_load_string("f.yaml", "target: {}\nfuzz:\n", err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(shunt_fuzzspec_parse(s, &f, err, sizeof(err)), 0);
    assert_int_equal(f->n_policies, 1);
    assert_string_equal(f->policies[0].name, "default");
    assert_string_equal(f->policies[0].rendered, "");
    assert_int_equal(f->weights[SHUNT_FZ_FORK], 1);
    assert_int_equal(f->weights[SHUNT_FZ_NET], 0);
    assert_int_equal(f->length, 20);
    assert_false(f->seed_set);
    assert_int_equal(f->tree.n, 0);
    shunt_fuzzspec_free(f);
    shunt_scenario_free(s);

    /* names without calls: net is weighed too, and connects to port 80 */
    s = shunt_scenario_load_string("f.yaml", "target: {}\nfuzz: {net: {names: [a]}}\n",
                                   err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(shunt_fuzzspec_parse(s, &f, err, sizeof(err)), 0);
    assert_int_equal(f->weights[SHUNT_FZ_NET], 1);
    assert_int_equal(f->n_ports, 1);
    assert_int_equal(f->ports[0], 80);
    shunt_fuzzspec_free(f);
    shunt_scenario_free(s);

    /* no fuzz: section */
    s = shunt_scenario_load_string("f.yaml", "target: {}\n", err, sizeof(err));
    f = (shunt_fuzzspec_t *)1;
    assert_int_equal(shunt_fuzzspec_parse(s, &f, err, sizeof(err)), 0);
    assert_null(f);
    shunt_scenario_free(s);
}

static void test_example_scenario_loads(void **state)
{
    (void)state;
    shunt_scenario_t *s = shunt_scenario_load(EXAMPLE_YAML, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    assert_int_equal(s->target.n_services, 2);
    shunt_scenario_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_full_target),
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_default_name_from_bad_basename),
        cmocka_unit_test(test_cases_inherit),
        cmocka_unit_test(test_file_kinds),
        cmocka_unit_test(test_fuzz_parsed),
        cmocka_unit_test(test_example_scenario_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
