/* shunt_inroot_rm_rf (runs.reset_files) on a directory standing for a
 * target's root: what a target's program planted -- links to this host's
 * directories by absolute and relative paths, a link in place of a
 * directory, a link among a path's directories, a mount inside -- is never
 * followed, and nothing outside the root is removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shunt/inroot.h"

static char top[256], rootdir[PATH_MAX], host[PATH_MAX];

static void path(char *out, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    assert_true(la + lb < PATH_MAX);
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
}

static void mk(const char *a, const char *b)
{
    char p[PATH_MAX];
    path(p, a, b);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void put(const char *a, const char *b, const char *text)
{
    char p[PATH_MAX];
    path(p, a, b);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void ln(const char *target, const char *a, const char *b)
{
    char p[PATH_MAX];
    path(p, a, b);
    assert_int_equal(symlink(target, p), 0);
}

static int exists(const char *a, const char *b)
{
    char p[PATH_MAX];
    struct stat st;
    path(p, a, b);
    return lstat(p, &st) == 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(top, sizeof(top), "/tmp/shunt-test-inroot.XXXXXX");
    assert_non_null(mkdtemp(top));
    path(rootdir, top, "/root");
    path(host, top, "/host");
    mk(rootdir, "");
    mk(host, "");
    put(host, "/secret.txt", "host canary\n");
    mk(host, "/sub");
    put(host, "/sub/x", "host canary 2\n");
    mk(rootdir, "/etc");
    put(rootdir, "/etc/canary", "the target's own /etc\n");
    mk(rootdir, "/srv");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

static int open_root(void)
{
    int root = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(root >= 0);
    return root;
}

/* A listed directory full of links out: they go, what they name stays. */
static void test_rm_rf_links_inside(void **state)
{
    (void)state;
    mk(rootdir, "/srv/d");
    put(rootdir, "/srv/d/a", "a\n");
    mk(rootdir, "/srv/d/sub");
    put(rootdir, "/srv/d/sub/b", "b\n");
    ln(host, rootdir, "/srv/d/abs");              /* a host-looking path */
    ln("../../../host", rootdir, "/srv/d/rel");   /* out of the root by .. */
    ln("/etc", rootdir, "/srv/d/sub/etc");        /* the target's /etc */
    ln("../../../host/secret.txt", rootdir, "/srv/d/f");
    int root = open_root();
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv/d"), 0);
    close(root);
    assert_false(exists(rootdir, "/srv/d"));
    assert_true(exists(host, "/secret.txt"));
    assert_true(exists(host, "/sub/x"));
    assert_true(exists(rootdir, "/etc/canary"));
}

/* A listed path that is itself a link: the link goes, never its target. */
static void test_rm_rf_link_itself(void **state)
{
    (void)state;
    ln(host, rootdir, "/srv/l");
    ln("/etc", rootdir, "/srv/e");
    int root = open_root();
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv/l"), 0);
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv/e"), 0);
    close(root);
    assert_false(exists(rootdir, "/srv/l"));
    assert_false(exists(rootdir, "/srv/e"));
    assert_true(exists(host, "/secret.txt"));
    assert_true(exists(host, "/sub/x"));
    assert_true(exists(rootdir, "/etc/canary"));
}

/* A link among the path's directories is an error, not followed (inside
 * the root it would remove another path of the target). */
static void test_rm_rf_link_in_parents(void **state)
{
    (void)state;
    ln(host, rootdir, "/srv2");
    ln("/etc", rootdir, "/srv3");
    int root = open_root();
    errno = 0;
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv2/secret.txt"), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv2/sub"), -1);
    errno = 0;
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv3/canary"), -1);
    assert_int_equal(errno, ELOOP);
    /* missing: nothing to do; no last component: refused */
    assert_int_equal(shunt_inroot_rm_rf(root, "/srv/nothing/here"), 0);
    assert_int_equal(shunt_inroot_rm_rf(root, "/"), -1);
    close(root);
    assert_true(exists(host, "/secret.txt"));
    assert_true(exists(host, "/sub/x"));
    assert_true(exists(rootdir, "/etc/canary"));
}

/* A mount inside a listed directory is never descended into. */
static void test_rm_rf_mount(void **state)
{
    (void)state;
    mk(rootdir, "/srv/m");
    mk(rootdir, "/srv/m/mnt");
    char mnt[PATH_MAX];
    path(mnt, rootdir, "/srv/m/mnt");
    if (mount(host, mnt, NULL, MS_BIND, NULL) < 0) {
        print_message("no bind mount here (%s): part skipped\n", strerror(errno));
        skip();
    }
    int root = open_root();
    errno = 0;
    int rc = shunt_inroot_rm_rf(root, "/srv/m");
    int e = errno;
    close(root);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EXDEV);
    assert_true(exists(host, "/secret.txt"));
    assert_true(exists(host, "/sub/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rm_rf_links_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_rf_link_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_rf_link_in_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_rf_mount, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
