/* The layer: section: validation errors (FILE:LINE:COL: key.path: ...) and
 * the text configuration it renders for the layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
     "unix_remote)"},
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
