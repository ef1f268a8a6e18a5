/* Unit tests for the program:, runs: and expect: sections: a full valid
 * scenario, the defaults, and each new key's error with its position and
 * key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>

#include "shunt/scenario.h"

#define FILE_NAME FIXTURES_DIR "/t.yaml"
static char err[4096];

static shunt_scenario_t *load(const char *body)
{
    char text[4096];
    snprintf(text, sizeof(text), "target: {name: t}\n%s", body);
    return shunt_scenario_load_string(FILE_NAME, text, err, sizeof(err));
}

static void test_full(void **state)
{
    (void)state;
    shunt_scenario_t *s = load(
        "program:\n"
        "  language: c\n"
        "  source: run/hello.c\n"
        "  build: [cc, -o, \"{out}\", \"{src}\"]\n"
        "  args: [a, \"\"]\n"
        "  stdin: \"in\\n\"\n"
        "  env: {K: v, E: \"\"}\n"
        "  cwd: /srv\n"
        "  timeout: 9\n"
        "runs: {reference: true, local: true, repeat: 3, reset_files: true}\n"
        "expect:\n"
        "  stdout: true\n  stderr: true\n  exit: false\n  status: any\n"
        "  files: [/srv/a, {path: /tmp/b, local: host}]\n"
        "  normalise:\n"
        "    - {replace: 'pid [0-9]+', with: pid, in: [stdout]}\n"
        "    - {drop: '^#'}\n"
        "    - {sort: true, in: stderr}\n"
        "    - {fields: [1, 3], match: '^ino'}\n"
        "  no_leaks: true\n"
        "  divergences:\n"
        "    - {in: stdout, lines: '^t=', reason: the clock differs between runs}\n");
    assert_non_null(s);
    const shunt_runspec_t *r = s->run;
    assert_int_equal(r->lang, SHUNT_LANG_C);
    assert_string_equal(r->source, FIXTURES_DIR "/run/hello.c");
    assert_false(r->source_is_dir);
    assert_string_equal(r->build[2], "{out}");
    assert_int_equal(r->n_args, 2);
    assert_string_equal(r->args[1], "");
    assert_string_equal(r->stdin_text, "in\n");
    assert_int_equal(r->n_env, 2);
    assert_string_equal(r->env[0], "K=v");
    assert_string_equal(r->env[1], "E=");
    assert_string_equal(r->cwd, "/srv");
    assert_int_equal(r->timeout_s, 9);
    assert_int_equal(r->repeat, 3);
    assert_true(r->reset_files);
    assert_true(r->cmp_stderr);
    assert_false(r->cmp_exit);
    assert_int_equal(r->want_status, -1);
    assert_int_equal(r->n_files, 2);
    assert_true(r->files[1].local_on_host);
    assert_int_equal(r->n_norms, 4);
    assert_int_equal(r->norms[0].kind, SHUNT_NORM_REPLACE);
    assert_int_equal(r->norms[0].in, SHUNT_OBS_STDOUT);
    assert_int_equal(r->norms[1].in, SHUNT_OBS_STDOUT | SHUNT_OBS_STDERR | SHUNT_OBS_FILES);
    assert_int_equal(r->norms[2].kind, SHUNT_NORM_SORT);
    assert_int_equal(r->norms[3].n_fields, 2);
    assert_string_equal(r->norms[3].regex, "^ino");
    assert_true(r->no_leaks);
    assert_int_equal(r->n_divergences, 1);
    assert_string_equal(r->divergences[0].lines, "^t=");
    assert_int_equal(r->divergences[0].engines, SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER) |
                                                    SHUNT_ENGINE_BIT(SHUNT_ENGINE_SUPERVISOR) |
                                                    SHUNT_ENGINE_BIT(SHUNT_ENGINE_AUTO));
    shunt_scenario_free(s);
}

static void test_defaults(void **state)
{
    (void)state;
    shunt_scenario_t *s = load("program: {language: python, inline: \"print(1)\"}\n");
    assert_non_null(s);
    const shunt_runspec_t *r = s->run;
    assert_string_equal(r->inline_src, "print(1)");
    assert_string_equal(r->cwd, "/tmp");
    assert_int_equal(r->timeout_s, 60);
    assert_int_equal(r->repeat, 1);
    assert_false(r->reset_files);
    assert_true(r->run_reference && r->run_local);
    assert_true(r->cmp_stdout && r->cmp_exit);
    assert_false(r->cmp_stderr);
    assert_int_equal(r->want_status, 0);
    assert_null(r->go_versions);
    assert_false(r->cmp_journal);
    assert_false(r->want_signal);
    assert_false(r->want_refused);
    shunt_scenario_free(s);
    s = load("program: {language: c, inline: x}\nexpect: {status: SIGABRT, refused: true}\n");
    assert_non_null(s);
    assert_int_equal(s->run->want_signal, 6);
    assert_int_equal(s->run->want_status, 134);
    assert_true(s->run->want_refused);
    assert_null(s->run->refused_re);
    shunt_scenario_free(s);
    s = load("program: {language: c, inline: x}\nexpect: {status: sigsegv, refused: static}\n");
    assert_non_null(s);
    assert_int_equal(s->run->want_signal, 11);
    assert_string_equal(s->run->refused_re, "static");
    shunt_scenario_free(s);
    s = load("program: {language: c, inline: x}\n"
             "expect:\n"
             "  journal: {calls: [open, stat], exclude: [read], skip_paths: ['^/proc/']}\n"
             "  normalise: [{drop: x, in: journal}]\n"
             "  divergences: [{in: journal, reason: a reason long enough}]\n");
    assert_non_null(s);
    assert_true(s->run->cmp_journal);
    assert_int_equal(s->run->n_journal_calls, 2);
    assert_string_equal(s->run->journal_calls[1], "stat");
    assert_int_equal(s->run->n_journal_exclude, 1);
    assert_int_equal(s->run->n_journal_skip_paths, 1);
    assert_string_equal(s->run->journal_skip_paths[0], "^/proc/");
    assert_int_equal(s->run->norms[0].in, SHUNT_OBS_JOURNAL);
    assert_int_equal(s->run->divergences[0].in, SHUNT_OBS_JOURNAL);
    shunt_scenario_free(s);
    s = load("program: {language: c, inline: x}\n"
             "expect: {divergences: [{in: exit, reason: a reason long enough, "
             "engines: [supervisor]}]}\n");
    assert_non_null(s);
    assert_int_equal(s->run->divergences[0].engines, SHUNT_ENGINE_BIT(SHUNT_ENGINE_SUPERVISOR));
    shunt_scenario_free(s);
    s = load("program: {language: c, inline: x}\nexpect: {journal: true}\n");
    assert_non_null(s);
    assert_true(s->run->cmp_journal);
    assert_null(s->run->journal_calls);
    shunt_scenario_free(s);
    s = load("program: {language: go, source: run}\n");
    assert_non_null(s);
    assert_true(s->run->source_is_dir);
    assert_int_equal(s->run->n_go, 1);
    assert_string_equal(s->run->go_versions[0], "all");
    shunt_scenario_free(s);
    s = load("program: {language: go, source: run, go: [\"1.19\", go1.26.8]}\n");
    assert_non_null(s);
    assert_int_equal(s->run->n_go, 2);
    assert_true(s->run->go_cgo);
    assert_int_equal(s->run->engines, SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER));
    assert_false(s->run->engines_given);
    shunt_scenario_free(s);
    s = load("program: {language: go, source: run, cgo: false, engines: [supervisor, layer]}\n");
    assert_non_null(s);
    assert_false(s->run->go_cgo);
    assert_true(s->run->engines_given);
    assert_int_equal(s->run->engines, SHUNT_ENGINE_BIT(SHUNT_ENGINE_LAYER) |
                                          SHUNT_ENGINE_BIT(SHUNT_ENGINE_SUPERVISOR));
    shunt_scenario_free(s);
    /* no program: no runspec */
    s = load("");
    assert_non_null(s);
    assert_null(s->run);
    shunt_scenario_free(s);
}

typedef struct {
    const char *yaml;
    const char *want; /* after "FILE:" */
} bad_t;

static const bad_t bad[] = {
    {"program: {language: cobol, inline: x}\n",
     "2:21: program.language: expected c, rust, go, node, python, shell or command, got \"cobol\""},
    {"program: {inline: x}\n",
     "2:10: program: missing required key language (c, rust, go, node, python, shell or command)"},
    {"program: {language: c}\n",
     "2:10: program: expected exactly one of source (a file or directory) and inline (the source text)"},
    {"program: {language: c, source: /etc/passwd}\n",
     "2:32: program.source: expected a path relative to the scenario's directory, got the absolute path \"/etc/passwd\""},
    {"program: {language: c, source: ../../x}\n",
     NULL /* cannot read or outside: checked with strstr below */},
    {"program: {language: c, inline: x, colour: red}\n",
     "2:35: program.colour: unknown key (allowed: language, source, main, inline, build, args, stdin, env, cwd, timeout, go, cgo, engines)"},
    {"program: {language: c, inline: x, cgo: false}\n",
     "2:40: program.cgo: cgo (CGO_ENABLED of the build) is only for language: go"},
    {"program: {language: go, inline: x, cgo: 0}\n",
     "2:41: program.cgo: expected true or false, got \"0\""},
    {"program: {language: c, inline: x, engines: supervisor}\n",
     "2:44: program.engines: expected a list, got a scalar"},
    {"program: {language: c, inline: x, engines: []}\n",
     "2:44: program.engines: expected a non-empty list of engines (layer, supervisor)"},
    {"program: {language: c, inline: x, engines: [layer, preload]}\n",
     "2:52: program.engines[1]: expected layer or supervisor, got \"preload\""},
    {"program: {language: c, inline: x, engines: [auto]}\n",
     "2:45: program.engines[0]: expected layer or supervisor, got \"auto\" (auto is harness "
     "exec's choice per program: harness run --engine auto)"},
    {"program: {language: c, inline: x, engines: [supervisor, supervisor]}\n",
     "2:57: program.engines[1]: supervisor is listed twice"},
    {"program: {language: c, inline: x, engines: [supervisor]}\nexpect: {unhooked: true}\n",
     "3:20: expect.unhooked: only the layer leaves a program unhooked, and program.engines "
     "does not list it"},
    {"program: {language: c, inline: x, args: a}\n",
     "2:41: program.args: expected a list, got a scalar"},
    {"program: {language: c, inline: x, timeout: 0}\n",
     "2:44: program.timeout: expected an integer 1-3600, got \"0\""},
    {"program: {language: c, inline: x, cwd: tmp}\n",
     "2:40: program.cwd: expected an absolute path, got \"tmp\""},
    {"program: {language: c, inline: x, env: {1A: b}}\n",
     "2:41: program.env.1A: environment variable names must match [A-Za-z_][A-Za-z0-9_]*"},
    {"program: {language: c, inline: x, go: [\"1.19\"]}\n",
     "2:39: program.go: a Go version list is only for language: go"},
    {"program: {language: go, inline: x, go: [\"1.x\"]}\n",
     "2:41: program.go[0]: expected a Go version (1.NN, 1.NN.P, go1.NN.P) or all, got \"1.x\""},
    {"program: {language: command, args: [ls], build: [make]}\n",
     "2:49: program.build: a command program is not built"},
    {"program: {language: command}\n",
     "2:10: program: a command program needs args: the program to run and its arguments"},
    {"program: {language: c, inline: x, main: m.c}\n",
     "2:41: program.main: main names the entry file of a source directory; source is not a directory"},
    {"program: {language: c, inline: x}\nruns: {repeat: 0}\n",
     "3:16: runs.repeat: expected an integer 1-100, got \"0\""},
    {"program: {language: c, inline: x}\nruns: {reference: false, local: false}\n",
     "3:7: runs: reference and local are both false: nothing would run"},
    {"program: {language: c, inline: x}\nruns: {local: maybe}\n",
     "3:15: runs.local: expected true or false, got \"maybe\""},
    {"runs: {repeat: 2}\n", "2:7: runs: needs a program: section (what to run)"},
    {"program: {language: c, inline: x}\nruns: {reset_files: 1}\n",
     "3:21: runs.reset_files: expected true or false, got \"1\""},
    {"program: {language: c, inline: x}\nruns: {reset: true}\n",
     "3:8: runs.reset: unknown key (allowed: reference, local, repeat, reset_files)"},
    {"program: {language: c, inline: x}\nexpect: {journal: maybe}\n",
     "3:19: expect.journal: expected true or false, got \"maybe\""},
    {"program: {language: c, inline: x}\nexpect: {journal: [open]}\n",
     "3:19: expect.journal: expected true, false or a map (calls:, exclude:, skip_paths:)"},
    {"program: {language: c, inline: x}\nexpect: {journal: {calls: open}}\n",
     "3:27: expect.journal.calls: expected a list, got a scalar"},
    {"program: {language: c, inline: x}\nexpect: {journal: {exclude: [read, \"Open\"]}}\n",
     "3:36: expect.journal.exclude[1]: expected a call name as the journal writes it (open, stat, connect...), got \"Open\""},
    {"program: {language: c, inline: x}\nexpect: {journal: {skip_paths: [\"(\"]}}\n",
     "3:33: expect.journal.skip_paths[0]: invalid regular expression (POSIX ERE): Unmatched ( or \\("},
    {"program: {language: c, inline: x}\nexpect: {journal: {call: [open]}}\n",
     "3:20: expect.journal.call: unknown key (allowed: calls, exclude, skip_paths)"},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: journal, reason: layer fds differ}]}\n",
     "3:29: expect.divergences[0].in: journal is not compared (expect.journal is off or empty)"},
    {"program: {language: c, inline: x}\nexpect: {stdot: true}\n",
     "3:10: expect.stdot: unknown key (allowed: stdout, stderr, exit, status, refused, unhooked, journal, files, normalise, no_leaks, leaks, divergences)"},
    {"program: {language: c, inline: x}\nexpect: {status: SIGNOPE}\n",
     "3:18: expect.status: unknown signal \"SIGNOPE\" (SIGABRT, SIGSEGV, SIGKILL...)"},
    {"program: {language: c, inline: x}\nexpect: {refused: true, unhooked: true}\n",
     "3:35: expect.unhooked: a refused program never starts: expect.refused and expect.unhooked exclude each other"},
    {"program: {language: c, inline: x}\nexpect: {unhooked: '('}\n",
     "3:20: expect.unhooked: invalid regular expression (POSIX ERE): Unmatched ( or \\("},
    {"program: {language: c, inline: x}\nexpect: {refused: '('}\n",
     "3:19: expect.refused: invalid regular expression (POSIX ERE): Unmatched ( or \\("},
    {"program: {language: c, inline: x}\nruns: {local: false}\nexpect: {refused: true}\n",
     "4:19: expect.refused: the local run is off (runs.local: false): nothing can be refused"},
    {"program: {language: c, inline: x}\nexpect: {no_leaks: true, leaks: [x]}\n",
     "3:33: expect.leaks: no_leaks: true and a leaks: list contradict each other (no_leaks is leaks: [])"},
    {"program: {language: c, inline: x}\nexpect: {leaks: x}\n",
     "3:17: expect.leaks: expected a list, got a scalar"},
    {"program: {language: c, inline: x}\nexpect: {leaks: ['openat(']}\n",
     "3:18: expect.leaks[0]: invalid regular expression (POSIX ERE): Unmatched ( or \\("},
    {"program: {language: c, inline: x}\nexpect: {leaks: ['a+++']}\n",
     "3:18: expect.leaks[0]: regex 'a+++' is too complex to compile safely (more "
     "than 2 repetition operators in a row such as 'a+*+', a repetition count over 255, or "
     "more than 4096 atoms once repetitions are expanded)"},
    {"program: {language: c, inline: x}\nexpect: {status: 300}\n",
     "3:18: expect.status: expected an integer 0-255, got \"300\" (or any, or a signal: SIGABRT...)"},
    {"program: {language: c, inline: x}\nexpect: {no_leaks: 1}\n",
     "3:20: expect.no_leaks: expected true or false, got \"1\""},
    {"program: {language: c, inline: x}\nexpect: {files: [rel/path]}\n",
     "3:18: expect.files[0]: expected an absolute path without . or .. components, got \"rel/path\""},
    {"program: {language: c, inline: x}\nexpect: {files: [{path: /srv/x, local: host}]}\n",
     "3:40: expect.files[0].local: a file the local run writes on the host must be under /tmp/ (the runner removes it before the run), got \"/srv/x\""},
    {"program: {language: c, inline: x}\nexpect: {normalise: [{replace: '(x'}]}\n",
     "3:32: expect.normalise[0].replace: invalid regular expression (POSIX ERE): Unmatched ( or \\("},
    {"program: {language: c, inline: x}\nexpect: {normalise: [{replace: x}]}\n",
     "3:22: expect.normalise[0]: replace needs with: (the replacement text)"},
    {"program: {language: c, inline: x}\nexpect: {normalise: [{drop: x, sort: true}]}\n",
     "3:22: expect.normalise[0]: expected exactly one of replace, drop, sort and fields"},
    {"program: {language: c, inline: x}\nexpect: {normalise: [{drop: x, in: [exit]}]}\n",
     "3:37: expect.normalise[0].in[0]: expected stdout, stderr, files or journal, got \"exit\""},
    {"program: {language: c, inline: x}\nexpect: {normalise: [{fields: [0]}]}\n",
     "3:32: expect.normalise[0].fields[0]: expected an integer 1-1000, got \"0\""},
    {"program: {language: c, inline: x}\nexpect: {normalise: [{drop: x, match: y}]}\n",
     "3:39: expect.normalise[0].match: match: (the lines to change) belongs to fields:"},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: stdout, reason: by design "
     "here, engines: [preload]}]}\n",
     "3:71: expect.divergences[0].engines[0]: expected layer, supervisor or auto, got \"preload\""},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: stdout, reason: by design "
     "here, engines: []}]}\n",
     "3:70: expect.divergences[0].engines: expected a non-empty list of engines (layer, "
     "supervisor, auto)"},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: stdout}]}\n",
     "3:24: expect.divergences[0]: missing required key reason: a known divergence says why it is one"},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: stdout, reason: why}]}\n",
     "3:45: expect.divergences[0].reason: expected an explanation (at least 10 characters), got \"why\""},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: stdin, reason: a long enough reason}]}\n",
     "3:29: expect.divergences[0].in: expected stdout, stderr, exit, files or journal, got \"stdin\""},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: stderr, reason: a long enough reason}]}\n",
     "3:29: expect.divergences[0].in: stderr is not compared (expect.stderr is off or empty)"},
    {"program: {language: c, inline: x}\nexpect: {divergences: [{in: exit, lines: x, reason: a long enough reason}]}\n",
     "3:42: expect.divergences[0].lines: lines: does not apply to exit"},
};

static void test_errors(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        shunt_scenario_t *s = load(bad[i].yaml);
        if (s) {
            print_error("case %zu loaded: %s", i, bad[i].yaml);
            shunt_scenario_free(s);
            fail();
        }
        if (!bad[i].want) {
            assert_non_null(strstr(err, "program.source: "));
            continue;
        }
        char want[2048];
        snprintf(want, sizeof(want), "%s:%s", FILE_NAME, bad[i].want);
        if (strcmp(err, want) != 0) {
            print_error("case %zu\n got: %s\nwant: %s\n", i, err, want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Every scenario shipped, and every runner fixture but the invalid one,
 * loads (with a program, or a fuzz: section); the invalid one fails with
 * its position. */
static void load_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        shunt_scenario_t *s = shunt_scenario_load(path, err, sizeof(err));
        if (strcmp(e->d_name, "invalid.yaml") == 0) {
            assert_null(s);
            char want[1200];
            snprintf(want, sizeof(want),
                     "%s:6:21: expect.journal.calls[0]: expected a call name as the journal "
                     "writes it (open, stat, connect...), got \"open(\"",
                     path);
            assert_string_equal(err, want);
            continue;
        }
        if (!s)
            print_error("%s\n", err);
        assert_non_null(s);
        /* cases: instead of a program, or a fuzz: scenario alone (harness
         * fuzz runs it) */
        assert_true(s->run || s->n_cases || s->fuzz);
        shunt_scenario_free(s);
        (*count)++;
    }
    closedir(d);
}

static void test_files(void **state)
{
    (void)state;
    size_t n = 0;
    load_dir(SCENARIOS_DIR, &n);
    assert_true(n >= 12);
    n = 0;
    load_dir(FIXTURES_DIR "/run", &n);
    assert_true(n >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
