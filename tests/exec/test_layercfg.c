/* The layer: section: validation errors (FILE:LINE:COL: key.path: ...) and
 * the text configuration it renders for the layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shunt/config.h"
#include "shunt/layercfg.h"
#include "shunt/scenario.h"
#include "shunt/ydoc.h"

static char err[2048];

/* Renders the layer: key of yaml; NULL (with err) on failure. */
static char *render(const char *yaml, const char *level, const char *file)
{
    shunt_ydoc_t *doc =
        shunt_yaml_load_string("t.yaml", yaml, strlen(yaml), err, sizeof(err));
    if (!doc)
        return NULL;
    shunt_yerr_t e = {.file = "t.yaml", .buf = err, .len = sizeof(err)};
    char *out = NULL;
    int rc = shunt_layercfg_render(&e, shunt_ymap_get(doc->root, "layer"),
                                   level, file, &out);
    shunt_yaml_free(doc);
    return rc == 0 ? out : NULL;
}

static void test_full(void **state)
{
    (void)state;
    char *out = render("layer:\n"
                       "  log: {level: debug, file: /tmp/layer.log}\n"
                       "  files:\n"
                       "    local: [\"^/work/\", \"^/home/[^/]+/\\\\.cache\"]\n"
                       "    read_only: []\n"
                       "    read_write: [\"^/srv/out/\"]\n"
                       "    not_found: [\"^/etc/secret\"]\n"
                       "  env:\n"
                       "    include: [\"APP_*\", PATH]\n"
                       "    exclude: [\"*_TOKEN\"]\n"
                       "  network:\n"
                       "    remote: [\"tcp 10.0.0.0/8:5432\", \"*.cluster\"]\n"
                       "    local: [\"udp [fd00::1]:53\", \"any *:9000-9100\"]\n"
                       "    unix_remote: [\"^/run/app/.*\\\\.sock$\"]\n",
                       NULL, NULL);
    if (!out)
        fail_msg("%s", err);
    assert_string_equal(out, "log_level debug\n"
                             "log_file /tmp/layer.log\n"
                             "local ^/work/\n"
                             "local ^/home/[^/]+/\\.cache\n"
                             "read_write ^/srv/out/\n"
                             "not_found ^/etc/secret\n"
                             "env_include APP_*\n"
                             "env_include PATH\n"
                             "env_exclude *_TOKEN\n"
                             "net_remote tcp 10.0.0.0/8:5432\n"
                             "net_remote *.cluster\n"
                             "net_local udp [fd00::1]:53\n"
                             "net_local any *:9000-9100\n"
                             "net_remote_unix ^/run/app/.*\\.sock$\n");
    free(out);
}

static void test_empty_and_overrides(void **state)
{
    (void)state;
    char *out = render("description: nothing\n", NULL, NULL);
    assert_non_null(out);
    assert_string_equal(out, "");
    free(out);
    out = render("layer:\n", NULL, NULL);
    assert_non_null(out);
    assert_string_equal(out, "");
    free(out);
    /* The command line wins over the section's log settings. */
    out = render("layer: {log: {level: info, file: /a}, files: {local: ~}}\n",
                 "trace", "/b");
    assert_non_null(out);
    assert_string_equal(out, "log_level trace\nlog_file /b\n");
    free(out);
    out = render("layer: {log: {level: off}}\n", NULL, NULL);
    assert_non_null(out);
    assert_string_equal(out, "log_level off\n");
    free(out);
}

typedef struct {
    const char *yaml, *error;
} bad_t;

static const bad_t bad_cases[] = {
    {"layer: [a]\n", "t.yaml:1:8: layer: expected a map, got a list"},
    {"layer:\n  fils: {}\n",
     "t.yaml:2:3: layer.fils: unknown key (allowed: log, files, env, "
     "network)"},
    {"layer:\n  network: {remote: [\"tcp 10.0.0.0/40\"]}\n",
     "t.yaml:2:22: layer.network.remote[0]: bad prefix"},
    {"layer:\n  network: {local: [\"tcp 1.2.3.4:99999\"]}\n",
     "t.yaml:2:21: layer.network.local[0]: bad port"},
    {"layer:\n  network: {remote: [\"/run/x.sock\"]}\n",
     "t.yaml:2:22: layer.network.remote[0]: bad host"},
    {"layer:\n  network: {both: []}\n",
     "t.yaml:2:13: layer.network.both: unknown key (allowed: remote, local, "
     "unix_remote, incoming)"},
    {"layer:\n  network: {unix_remote: [\"^/run/(x\"]}\n",
     "t.yaml:2:27: layer.network.unix_remote[0]: invalid regular expression "
     "(POSIX ERE)"},
    {"layer:\n  log: {level: loud}\n",
     "t.yaml:2:16: layer.log.level: unknown log level \"loud\" (allowed: off, "
     "error, warn, info, debug, trace)"},
    {"layer:\n  log: {file: layer.log}\n",
     "t.yaml:2:15: layer.log.file: expected an absolute path, got "
     "\"layer.log\""},
    {"layer:\n  log: {lvl: x}\n",
     "t.yaml:2:9: layer.log.lvl: unknown key (allowed: level, file)"},
    {"layer:\n  files: {local: \"^/a\"}\n",
     "t.yaml:2:18: layer.files.local: expected a list, got a scalar"},
    {"layer:\n  files:\n    read_only: [\"^/ok\", \"(unclosed\"]\n",
     "t.yaml:3:25: layer.files.read_only[1]: invalid regular expression "
     "(POSIX ERE): "},
    {"layer:\n  files: {remote: []}\n",
     "t.yaml:2:11: layer.files.remote: unknown key (allowed: local, "
     "read_only, read_write, not_found)"},
    {"layer:\n  files: {not_found: [\"\"]}\n",
     "t.yaml:2:23: layer.files.not_found[0]: must not be empty"},
    {"layer:\n  files: {local: [\"a\\nb\"]}\n",
     "t.yaml:2:19: layer.files.local[0]: must not contain control characters"},
    {"layer:\n  files: {local: [\"^/a #b\"]}\n",
     "t.yaml:2:19: layer.files.local[0]: '#' at the start or after a blank"},
    {"layer:\n  files: {local: [\"^/a \"]}\n",
     "t.yaml:2:19: layer.files.local[0]: must not start or end with a blank"},
    {"layer:\n  files: {local: [[a]]}\n",
     "t.yaml:2:19: layer.files.local[0]: expected a string, got a list"},
    {"layer:\n  env: {include: [\"A=B\"]}\n",
     "t.yaml:2:19: layer.env.include[0]: a pattern on variable names cannot "
     "contain '='"},
    {"layer:\n  env: {exclude: \"*\"}\n",
     "t.yaml:2:18: layer.env.exclude: expected a list, got a scalar"},
    {"layer:\n  env: {only: []}\n",
     "t.yaml:2:9: layer.env.only: unknown key (allowed: include, exclude)"},
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char *out = render(bad_cases[i].yaml, NULL, NULL);
        if (out)
            fail_msg("case %zu accepted:\n%s", i, bad_cases[i].yaml);
        if (strncmp(err, bad_cases[i].error, strlen(bad_cases[i].error)) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s...", i, err,
                     bad_cases[i].error);
    }
}


/* layer.network.incoming -> net_incoming* (docs/incoming.md). */
static void test_incoming(void **state)
{
    (void)state;
    char *out = render("layer:\n"
                       "  network:\n"
                       "    incoming:\n"
                       "      mode: steal\n"
                       "      ports: [8081, 9000]\n"
                       "      port_mapping: {8081: 80}\n"
                       "      ignore_ports: [9090]\n"
                       "      on_conflict: replace\n"
                       "      http_filter:\n"
                       "        header: \"^x-route: local$\"\n"
                       "        path: ^/api/\n"
                       "        method: [GET, POST]\n"
                       "        any_of: [{method: PUT}, {header: a, path: b}]\n"
                       "        ports: [80]\n",
                       NULL, NULL);
    if (!out)
        fail_msg("%s", err);
    assert_string_equal(out, "net_incoming steal\n"
                             "net_incoming_port 8081\n"
                             "net_incoming_port 9000\n"
                             "net_incoming_map 8081:80\n"
                             "net_incoming_ignore 9090\n"
                             "net_incoming_conflict replace\n"
                             "net_incoming_filter all 4\n"
                             "net_incoming_filter header ^x-route: local$\n"
                             "net_incoming_filter path ^/api/\n"
                             "net_incoming_filter any 2\n"
                             "net_incoming_filter method GET\n"
                             "net_incoming_filter method POST\n"
                             "net_incoming_filter any 2\n"
                             "net_incoming_filter method PUT\n"
                             "net_incoming_filter all 2\n"
                             "net_incoming_filter header a\n"
                             "net_incoming_filter path b\n"
                             "net_incoming_filter_port 80\n");
    /* The layer's parser takes every line the harness writes. */
    shunt_config_t c;
    shunt_config_init(&c);
    char perr[256];
    assert_int_equal(shunt_config_parse(&c, out, strlen(out), perr,
                                        sizeof(perr)), 0);
    assert_int_equal(c.incoming.nfilter, 11);
    assert_int_equal(shunt_incoming_remote_port(&c.incoming, 8081), 80);
    shunt_config_free(&c);
    free(out);
    /* One part alone: no "all"; one method: no "any". */
    out = render("layer: {network: {incoming: {mode: steal, "
                 "http_filter: {method: [GET]}}}}\n",
                 NULL, NULL);
    if (!out)
        fail_msg("%s", err);
    assert_string_equal(out, "net_incoming steal\n"
                             "net_incoming_filter method GET\n");
    free(out);
    out = render("layer: {network: {incoming: {mode: mirror}}}\n", NULL, NULL);
    assert_non_null(out);
    assert_string_equal(out, "net_incoming mirror\n");
    free(out);
}

static const bad_t incoming_bad[] = {
    {"layer:\n  network: {incoming: {mode: borrow}}\n",
     "t.yaml:2:30: layer.network.incoming.mode: unknown mode \"borrow\" "
     "(allowed: off, mirror, steal)"},
    {"layer:\n  network: {incoming: {ports: [0]}}\n",
     "t.yaml:2:32: layer.network.incoming.ports[0]: expected an integer 1-65535"},
    {"layer:\n  network: {incoming: {ignore_ports: [65536]}}\n",
     "t.yaml:2:39: layer.network.incoming.ignore_ports[0]: expected an integer 1-65535"},
    {"layer:\n  network: {incoming: {port_mapping: {80: 70000}}}\n",
     "t.yaml:2:43: layer.network.incoming.port_mapping.80: "},
    {"layer:\n  network: {incoming: {port_mapping: {x: 80}}}\n",
     "t.yaml:2:39: layer.network.incoming.port_mapping.x: "},
    {"layer:\n  network: {incoming: {on_conflict: share}}\n",
     "t.yaml:2:37: layer.network.incoming.on_conflict: unknown value "
     "\"share\" (allowed: refuse, replace)"},
    {"layer:\n  network: {incoming: {mode: steal, stolen: 1}}\n",
     "t.yaml:2:37: layer.network.incoming.stolen: unknown key"},
    {"layer:\n  network: {incoming: {mode: mirror, http_filter: {path: a}}}"
     "\n",
     "t.yaml:2:51: layer.network.incoming.http_filter: only with mode: steal "
     "(mode is mirror)"},
    {"layer:\n  network: {incoming: {http_filter: {path: a}}}\n",
     "t.yaml:2:37: layer.network.incoming.http_filter: only with mode: steal "
     "(mode is off)"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {header: \"(x\"}\n",
     "t.yaml:5:29: layer.network.incoming.http_filter.header: bad regex '(x'"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {path: \"a{300}\"}\n",
     "t.yaml:5:27: layer.network.incoming.http_filter.path: regex 'a{300}' "
     "is too complex"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {method: [GET, \"GE T\"]}\n",
     "t.yaml:5:35: layer.network.incoming.http_filter.method[1]: bad HTTP "
     "method"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {cookie: a}\n",
     "t.yaml:5:21: layer.network.incoming.http_filter.cookie: unknown key "
     "(allowed: header, path, method, all_of, any_of, ports)"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {ports: [80]}\n",
     "t.yaml:5:20: layer.network.incoming.http_filter: needs at least one"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {any_of: []}\n",
     "t.yaml:5:29: layer.network.incoming.http_filter.any_of: must not be "
     "empty"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {all_of: [{path: a, ports: [1]}]}\n",
     "t.yaml:5:47: layer.network.incoming.http_filter.all_of[0].ports: only "
     "the top http_filter takes ports"},
    {"layer:\n  network:\n    incoming:\n      mode: steal\n"
     "      http_filter: {path: a, ports: [99999]}\n",
     "t.yaml:5:38: layer.network.incoming.http_filter.ports[0]: expected an integer"},
};

static void test_incoming_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(incoming_bad) / sizeof(incoming_bad[0]);
         i++) {
        char *out = render(incoming_bad[i].yaml, NULL, NULL);
        if (out)
            fail_msg("case %zu accepted:\n%s", i, incoming_bad[i].yaml);
        if (strncmp(err, incoming_bad[i].error,
                    strlen(incoming_bad[i].error)) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s...", i, err,
                     incoming_bad[i].error);
    }
    /* More than 64 nodes. */
    char yaml[4096] = "layer:\n  network:\n    incoming:\n      mode: steal\n"
                      "      http_filter: {any_of: [";
    for (int i = 0; i < 70; i++)
        strcat(yaml, i ? ", {path: a}" : "{path: a}");
    strcat(yaml, "]}\n");
    assert_null(render(yaml, NULL, NULL));
    assert_non_null(strstr(err, "71 filter nodes, at most 64"));
}

/* A scenario's layer: section is validated with the scenario. */
static void test_scenario(void **state)
{
    (void)state;
    shunt_scenario_t *s = shunt_scenario_load_string(
        "t.yaml", "target: {name: t}\nlayer: {env: {include: [A]}}\n", err,
        sizeof(err));
    if (!s)
        fail_msg("%s", err);
    shunt_scenario_free(s);
    s = shunt_scenario_load_string(
        "t.yaml", "target: {name: t}\nlayer:\n  files: {local: [\"[\"]}\n",
        err, sizeof(err));
    assert_null(s);
    assert_true(strncmp(err, "t.yaml:3:19: layer.files.local[0]: invalid "
                             "regular expression",
                        60) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_empty_and_overrides),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_scenario),
        cmocka_unit_test(test_incoming),
        cmocka_unit_test(test_incoming_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
