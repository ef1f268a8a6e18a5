/* Unit tests for the runner's pure functions: every normaliser, the line
 * diff and its unified rendering, and the known-divergence line test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shunt/compare.h"

static char *norm1(const char *text, shunt_norm_t n, unsigned stream)
{
    return shunt_normalise(text, strlen(text), &n, 1, stream);
}

static void test_replace(void **state)
{
    (void)state;
    shunt_norm_t n = {.kind = SHUNT_NORM_REPLACE, .regex = "pid [0-9]+",
                      .with = "pid N", .in = SHUNT_OBS_STDOUT};
    char *o = norm1("a pid 12 b pid 7\nno\n", n, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "a pid N b pid N\nno\n");
    free(o);
    /* not for this stream: unchanged */
    o = norm1("pid 12\n", n, SHUNT_OBS_STDERR);
    assert_string_equal(o, "pid 12\n");
    free(o);
    /* groups, and a last line without newline kept so */
    shunt_norm_t g = {.kind = SHUNT_NORM_REPLACE, .regex = "([a-z]+)=([0-9]+)",
                      .with = "\\2=\\1", .in = SHUNT_OBS_STDOUT};
    o = norm1("x=1 y=22", g, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "1=x 22=y");
    free(o);
    /* anchored: replaces once per line */
    shunt_norm_t a = {.kind = SHUNT_NORM_REPLACE, .regex = "^[0-9]+$", .with = "N",
                      .in = SHUNT_OBS_STDOUT};
    o = norm1("1\n22\nx3\n", a, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "N\nN\nx3\n");
    free(o);
}

static void test_drop_sort_fields(void **state)
{
    (void)state;
    shunt_norm_t d = {.kind = SHUNT_NORM_DROP, .regex = "^debug:", .in = SHUNT_OBS_STDERR};
    char *o = norm1("debug: x\nkeep\ndebug: y\n", d, SHUNT_OBS_STDERR);
    assert_string_equal(o, "keep\n");
    free(o);
    shunt_norm_t s = {.kind = SHUNT_NORM_SORT, .in = SHUNT_OBS_STDOUT};
    o = norm1("c\na\nb\n", s, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "a\nb\nc\n");
    free(o);
    int fields[] = {2, 4};
    shunt_norm_t f = {.kind = SHUNT_NORM_FIELDS, .fields = fields, .n_fields = 2,
                      .in = SHUNT_OBS_STDOUT};
    o = norm1("a  b\tc d e\n", f, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "a c e\n");
    free(o);
    shunt_norm_t fm = {.kind = SHUNT_NORM_FIELDS, .fields = fields, .n_fields = 1,
                       .regex = "^ino", .in = SHUNT_OBS_STDOUT};
    o = norm1("ino 123 x\nother 1 2\n", fm, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "ino x\nother 1 2\n");
    free(o);
    /* in order: drop then sort */
    shunt_norm_t two[] = {d, s};
    two[0].in = two[1].in = SHUNT_OBS_STDOUT;
    const char *t = "z\ndebug: 1\na\n";
    o = shunt_normalise(t, strlen(t), two, 2, SHUNT_OBS_STDOUT);
    assert_string_equal(o, "a\nz\n");
    free(o);
}

static void test_diff_equal(void **state)
{
    (void)state;
    shunt_diff_t d;
    assert_int_equal(shunt_diff("a\nb\n", "a\nb\n", "ref", "local", 0, &d), 0);
    assert_false(d.differs);
    assert_string_equal(d.text, "");
    shunt_diff_free(&d);
}

static void test_diff_unified(void **state)
{
    (void)state;
    shunt_diff_t d;
    const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
    const char *b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n";
    assert_int_equal(shunt_diff(a, b, "ref", "local", 0, &d), 0);
    assert_true(d.differs);
    assert_string_equal(d.text,
                        "--- ref\n+++ local\n"
                        "@@ -2,9 +2,10 @@\n"
                        " 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n+11\n");
    assert_int_equal(d.n_removed, 1);
    assert_string_equal(d.removed[0], "5");
    assert_int_equal(d.n_added, 2);
    assert_string_equal(d.added[1], "11");
    shunt_diff_free(&d);
}

static void test_diff_two_hunks_and_newline(void **state)
{
    (void)state;
    shunt_diff_t d;
    const char *a = "a\n1\n2\n3\n4\n5\n6\n7\n8\nz\n";
    const char *b = "A\n1\n2\n3\n4\n5\n6\n7\n8\nZ";
    assert_int_equal(shunt_diff(a, b, "r", "l", 0, &d), 0);
    assert_string_equal(d.text,
                        "--- r\n+++ l\n"
                        "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n"
                        "@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-z\n+Z\n"
                        "\\ No newline at end of l\n");
    shunt_diff_free(&d);
    /* colours only when asked */
    assert_int_equal(shunt_diff("x\n", "y\n", "r", "l", 1, &d), 0);
    assert_non_null(strstr(d.text, "\033[31m-x\033[0m"));
    assert_non_null(strstr(d.text, "\033[32m+y\033[0m"));
    shunt_diff_free(&d);
}

static void test_diff_only_lines(void **state)
{
    (void)state;
    shunt_diff_t d;
    assert_int_equal(shunt_diff("t=1\nsame\n", "t=2\nsame\n", "r", "l", 0, &d), 0);
    assert_true(shunt_diff_only_lines(&d, "^t=[0-9]+$"));
    assert_true(shunt_diff_only_lines(&d, NULL));
    assert_false(shunt_diff_only_lines(&d, "^t=1$"));
    shunt_diff_free(&d);
    assert_int_equal(shunt_diff("t=1\n", "t=2\nextra\n", "r", "l", 0, &d), 0);
    assert_false(shunt_diff_only_lines(&d, "^t="));
    shunt_diff_free(&d);
}

/* Journal lines grouped by process (dotted tags by number), the order in a
 * process kept; calls filtered by name. */
static void test_journal_prepare(void **state)
{
    (void)state;
    const char *j = "1 open(\"/a\", O_RDONLY) = 3\n"
                    "1.10 stat(\"/t\") = 0\n"
                    "1.2 open(\"/c\", O_RDONLY) = 3\n"
                    "1 read(3, 10) = 4\n"
                    "1.2 close(3) = 0\n"
                    "1 close(3) = 0\n"
                    "1.10 execve(\"/bin/x\", [\"x\"]) = ?\n";
    char *o = shunt_journal_prepare(j, NULL, 0, NULL, 0, NULL, 0);
    assert_string_equal(o, "1 open(\"/a\", O_RDONLY) = 3\n"
                           "1 read(3, 10) = 4\n"
                           "1 close(3) = 0\n"
                           "1.2 open(\"/c\", O_RDONLY) = 3\n"
                           "1.2 close(3) = 0\n"
                           "1.10 stat(\"/t\") = 0\n"
                           "1.10 execve(\"/bin/x\", [\"x\"]) = ?\n");
    free(o);
    char *calls[] = {"open", "close"}, *excl[] = {"close"};
    o = shunt_journal_prepare(j, calls, 2, excl, 1, NULL, 0);
    assert_string_equal(o, "1 open(\"/a\", O_RDONLY) = 3\n"
                           "1.2 open(\"/c\", O_RDONLY) = 3\n");
    free(o);
    o = shunt_journal_prepare("", NULL, 0, NULL, 0, NULL, 0);
    assert_string_equal(o, "");
    free(o);
}

/* skip_paths: the record naming the path goes, with its process's calls on
 * the fd it opened up to the close; the same fd number elsewhere stays. */
static void test_journal_skip_paths(void **state)
{
    (void)state;
    const char *j = "1 openat(AT_FDCWD, \"/proc/self/maps\", O_RDONLY) = 3\n"
                    "1.1 read(3, 10) = 10\n"
                    "1 read(3, 1024) = 1024\n"
                    "1 fstatat(3, \"\", AT_EMPTY_PATH) = 0 {mode=0100444, size=0}\n"
                    "1 read(3, 1024) = 7\n"
                    "1 close(3) = 0\n"
                    "1 open(\"/etc/app.conf\", O_RDONLY) = 3\n"
                    "1 read(3, 512) = 49\n"
                    "1 stat(\"/sys/fs/cgroup/x\") = -1 ENOENT\n"
                    "1 open(\"/sys/nope\", O_RDONLY) = -1 ENOENT\n"
                    "1 close(3) = 0\n";
    char *skip[] = {"^/(proc|sys)/"};
    char *o = shunt_journal_prepare(j, NULL, 0, NULL, 0, skip, 1);
    assert_non_null(o);
    assert_string_equal(o, "1 open(\"/etc/app.conf\", O_RDONLY) = 3\n"
                           "1 read(3, 512) = 49\n"
                           "1 close(3) = 0\n"
                           "1.1 read(3, 10) = 10\n");
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_drop_sort_fields),
        cmocka_unit_test(test_diff_equal),
        cmocka_unit_test(test_diff_unified),
        cmocka_unit_test(test_diff_two_hunks_and_newline),
        cmocka_unit_test(test_diff_only_lines),
        cmocka_unit_test(test_journal_prepare),
        cmocka_unit_test(test_journal_skip_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
