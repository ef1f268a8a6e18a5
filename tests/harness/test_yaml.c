/* Unit tests for the YAML loader: positions, syntax errors, duplicates, accessors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shunt/ydoc.h"

static char err[2048];

static shunt_ydoc_t *load(const char *text)
{
    err[0] = 0;
    return shunt_yaml_load_string("t.yaml", text, strlen(text), err, sizeof(err));
}

static void expect_load_error(const char *text, const char *expected)
{
    shunt_ydoc_t *d = load(text);
    if (d)
        shunt_yaml_free(d);
    assert_null(d);
    assert_string_equal(err, expected);
}

static void test_tree_and_positions(void **state)
{
    (void)state;
    shunt_ydoc_t *d = load("a: 1\n"
                           "b:\n"
                           "  - x\n"
                           "  - {k: \"v\"}\n"
                           "c: ~\n");
    assert_non_null(d);
    const shunt_ynode_t *r = d->root;
    assert_int_equal(r->kind, SHUNT_Y_MAP);
    assert_int_equal(r->count, 3);
    const shunt_ynode_t *a = shunt_ymap_get(r, "a");
    assert_int_equal(a->kind, SHUNT_Y_SCALAR);
    assert_string_equal(a->value, "1");
    assert_true(a->plain);
    assert_int_equal(a->line, 1);
    assert_int_equal(a->col, 4);
    const shunt_ynode_t *b = shunt_ymap_get(r, "b");
    assert_int_equal(b->kind, SHUNT_Y_SEQ);
    assert_int_equal(b->count, 2);
    assert_int_equal(b->items[0]->line, 3);
    assert_int_equal(b->items[0]->col, 5);
    const shunt_ynode_t *k = shunt_ymap_get(b->items[1], "k");
    assert_string_equal(k->value, "v");
    assert_false(k->plain);
    assert_int_equal(k->line, 4);
    assert_int_equal(k->col, 9);
    assert_true(shunt_ynode_is_null(shunt_ymap_get(r, "c")));
    assert_null(shunt_ymap_get(r, "missing"));
    assert_string_equal(d->dir, ".");
    shunt_yaml_free(d);
}

static void test_empty_document(void **state)
{
    (void)state;
    shunt_ydoc_t *d = load("# only a comment\n");
    assert_non_null(d);
    assert_null(d->root);
    shunt_yaml_free(d);
}

static void test_aliases_share_nodes(void **state)
{
    (void)state;
    shunt_ydoc_t *d = load("base: &b {x: 1}\nother: *b\n");
    assert_non_null(d);
    assert_ptr_equal(shunt_ymap_get(d->root, "base"), shunt_ymap_get(d->root, "other"));
    shunt_yaml_free(d);
}

static void test_syntax_error_unclosed_flow(void **state)
{
    (void)state;
    expect_load_error("a: [1, 2\nb: 3\n",
                      "t.yaml:2:2: syntax error: while parsing a flow sequence "
                      "did not find expected ',' or ']'");
}

static void test_syntax_error_bad_indent(void **state)
{
    (void)state;
    expect_load_error("a:\n  b: 1\n c: 2\n",
                      "t.yaml:3:2: syntax error: while parsing a block mapping "
                      "did not find expected key");
}

static void test_syntax_error_tab(void **state)
{
    (void)state;
    expect_load_error("a:\n\tb: 1\n",
                      "t.yaml:2:1: syntax error: while scanning for the next token "
                      "found character that cannot start any token");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_load_error("target:\n  name: a\n  hostname: h\n  name: b\n",
                      "t.yaml:4:3: target.name: duplicate key (first defined at "
                      "line 2, column 3)");
}

static void test_duplicate_key_in_list(void **state)
{
    (void)state;
    expect_load_error("s:\n  - {a: 1, a: 2}\n",
                      "t.yaml:2:12: s[0].a: duplicate key (first defined at line "
                      "2, column 6)");
}

static void test_non_scalar_key(void **state)
{
    (void)state;
    expect_load_error("? [a, b]\n: 1\n",
                      "t.yaml:1:3: keys must be plain strings, got a list");
}

static void test_multiple_documents(void **state)
{
    (void)state;
    expect_load_error("a: 1\n---\nb: 2\n",
                      "t.yaml:2:1: only one YAML document per file is supported");
}

static void test_unknown_alias(void **state)
{
    (void)state;
    expect_load_error("a: *nope\n",
                      "t.yaml:1:4: a: unknown alias *nope");
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char deep[400];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = 0;
    shunt_ydoc_t *d = load(deep);
    assert_null(d);
    assert_non_null(strstr(err, "nesting deeper than 64 levels"));
}

static void test_accessors(void **state)
{
    (void)state;
    shunt_ydoc_t *d = load("port: abc\nbig: 70000\nok: 8080\nq: \"443\"\n"
                           "mode: 0644\nmode2: 0o755\nbadmode: 0999\nlist: [1]\n"
                           "n: ~\n");
    assert_non_null(d);
    shunt_yerr_t e = {.file = "t.yaml", .buf = err, .len = sizeof(err)};
    long v;
    unsigned m;
    const char *s;
    const shunt_ynode_t *r = d->root;
    assert_int_equal(shunt_yget_int(&e, shunt_ymap_get(r, "port"), "x.port", 1, 65535, &v), -1);
    assert_string_equal(err, "t.yaml:1:7: x.port: expected an integer 1-65535, got \"abc\"");
    assert_int_equal(shunt_yget_int(&e, shunt_ymap_get(r, "big"), "big", 1, 65535, &v), -1);
    assert_string_equal(err, "t.yaml:2:6: big: expected an integer 1-65535, got \"70000\"");
    assert_int_equal(shunt_yget_int(&e, shunt_ymap_get(r, "ok"), "ok", 1, 65535, &v), 0);
    assert_int_equal(v, 8080);
    assert_int_equal(shunt_yget_int(&e, shunt_ymap_get(r, "q"), "q", 1, 65535, &v), 0);
    assert_int_equal(v, 443);
    assert_int_equal(shunt_yget_mode(&e, shunt_ymap_get(r, "mode"), "mode", &m), 0);
    assert_int_equal(m, 0644);
    assert_int_equal(shunt_yget_mode(&e, shunt_ymap_get(r, "mode2"), "mode2", &m), 0);
    assert_int_equal(m, 0755);
    assert_int_equal(shunt_yget_mode(&e, shunt_ymap_get(r, "badmode"), "badmode", &m), -1);
    assert_string_equal(err, "t.yaml:7:10: badmode: expected an octal file mode like "
                             "0644, got \"0999\"");
    assert_int_equal(shunt_yget_str(&e, shunt_ymap_get(r, "list"), "list", &s), -1);
    assert_string_equal(err, "t.yaml:8:7: list: expected a string, got a list");
    assert_int_equal(shunt_yget_str(&e, shunt_ymap_get(r, "n"), "n", &s), -1);
    assert_string_equal(err, "t.yaml:9:4: n: expected a string, got a null");
    assert_int_equal(shunt_yexpect_map(&e, shunt_ymap_get(r, "list"), "list"), -1);
    assert_string_equal(err, "t.yaml:8:7: list: expected a map, got a list");
    shunt_yaml_free(d);
}

static void test_check_keys(void **state)
{
    (void)state;
    static const char *const allowed[] = {"name", "port", NULL};
    shunt_ydoc_t *d = load("svc:\n  name: a\n  prot: 1\n");
    assert_non_null(d);
    shunt_yerr_t e = {.file = "t.yaml", .buf = err, .len = sizeof(err)};
    assert_int_equal(shunt_ycheck_keys(&e, shunt_ymap_get(d->root, "svc"), "svc", allowed), -1);
    assert_string_equal(err, "t.yaml:3:3: svc.prot: unknown key (allowed: name, port)");
    shunt_yaml_free(d);
}

static void test_value_quoting_in_errors(void **state)
{
    (void)state;
    shunt_ydoc_t *d = load("p: \"a\\\"b\\tc\"\n");
    assert_non_null(d);
    shunt_yerr_t e = {.file = "t.yaml", .buf = err, .len = sizeof(err)};
    long v;
    assert_int_equal(shunt_yget_int(&e, shunt_ymap_get(d->root, "p"), "p", 1, 9, &v), -1);
    assert_string_equal(err, "t.yaml:1:4: p: expected an integer 1-9, got \"a\\\"b\\x09c\"");
    shunt_yaml_free(d);
}

static void test_long_value_shortened(void **state)
{
    (void)state;
    char text[160], expected[256];
    snprintf(text, sizeof(text), "p: %0100d\n", 0);
    shunt_ydoc_t *d = load(text);
    assert_non_null(d);
    shunt_yerr_t e = {.file = "t.yaml", .buf = err, .len = sizeof(err)};
    assert_int_equal(shunt_yexpect_seq(&e, shunt_ymap_get(d->root, "p"), "p"), -1);
    assert_string_equal(err, "t.yaml:1:4: p: expected a list, got a scalar");
    long v;
    assert_int_equal(shunt_yget_int(&e, shunt_ymap_get(d->root, "p"), "p", 1, 9, &v), -1);
    snprintf(expected, sizeof(expected),
             "t.yaml:1:4: p: expected an integer 1-9, got \"%048d...\"", 0);
    assert_string_equal(err, expected);
    shunt_yaml_free(d);
}

static void test_missing_file(void **state)
{
    (void)state;
    shunt_ydoc_t *d = shunt_yaml_load_file("/nonexistent/x.yaml", err, sizeof(err));
    assert_null(d);
    assert_string_equal(err, "/nonexistent/x.yaml: cannot open: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_positions),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_aliases_share_nodes),
        cmocka_unit_test(test_syntax_error_unclosed_flow),
        cmocka_unit_test(test_syntax_error_bad_indent),
        cmocka_unit_test(test_syntax_error_tab),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_duplicate_key_in_list),
        cmocka_unit_test(test_non_scalar_key),
        cmocka_unit_test(test_multiple_documents),
        cmocka_unit_test(test_unknown_alias),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_value_quoting_in_errors),
        cmocka_unit_test(test_long_value_shortened),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
