/* Hooks real libc functions this test never needs otherwise (getppid,
 * umask, getpgrp, getpagesize, gnu_get_libc_version) in the running process: the detour runs, the original
 * runs through the stub, the stub checks out against the saved entry, and
 * 8 threads calling the function while it is patched never crash. */
#include "shunt/hook.h"
#include "stubcheck.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

static void hook_and_check(void *fn, void *detour, void **original)
{
    char why[256];
    int rc = tramp_hook_checked(fn, detour, original, why, sizeof why);
    if (rc != 0)
        fail_msg("hook: %d %s", rc, why);
}

/* ---- getppid ------------------------------------------------------------ */

static pid_t (*real_getppid)(void);
static volatile int getppid_detoured;

static pid_t my_getppid(void)
{
    __atomic_add_fetch(&getppid_detoured, 1, __ATOMIC_RELAXED);
    return real_getppid() + 1000000;
}

static void test_getppid(void **state)
{
    (void)state;
    pid_t truth = (pid_t)syscall(SYS_getppid);
    hook_and_check((void *)getppid, (void *)my_getppid, (void **)&real_getppid);
    assert_int_equal(getppid(), truth + 1000000);
    assert_int_equal(real_getppid(), truth);
    assert_true(getppid_detoured >= 1);

    char why[128];
    void *again = NULL;
    assert_int_equal(shunt_hook_install((void *)getppid, (void *)my_getppid,
                                        &again, why, sizeof why),
                     -EEXIST);
    assert_null(again);
    assert_non_null(strstr(why, "already hooked"));
}

/* ---- umask, patched while 8 threads call it ------------------------------ */

static mode_t (*real_umask)(mode_t);
static volatile int umask_detoured;
static volatile int stop;

static mode_t my_umask(mode_t m)
{
    __atomic_add_fetch(&umask_detoured, 1, __ATOMIC_RELAXED);
    return real_umask(m);
}

static void *hammer(void *arg)
{
    long *calls = arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        if (umask(022) != 022)
            return (void *)1;
        __atomic_add_fetch(calls, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Waits (up to 10 s: the machine may be loaded) until every counter has
 * moved past its value in from[]. */
static bool all_moved(long *calls, const long *from, int n)
{
    for (int tries = 0; tries < 10000; tries++) {
        int moved = 0;
        for (int i = 0; i < n; i++)
            moved += __atomic_load_n(&calls[i], __ATOMIC_RELAXED) > from[i];
        if (moved == n)
            return true;
        usleep(1000);
    }
    return false;
}

static void test_umask_under_load(void **state)
{
    (void)state;
    umask(022);
    pthread_t th[8];
    long calls[8] = {0}, seen[8] = {0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &calls[i]), 0);
    assert_true(all_moved(calls, seen, 8)); /* all 8 are calling umask */
    hook_and_check((void *)umask, (void *)my_umask, (void **)&real_umask);
    for (int i = 0; i < 8; i++)
        seen[i] = __atomic_load_n(&calls[i], __ATOMIC_RELAXED);
    assert_true(all_moved(calls, seen, 8)); /* and all 8 went on */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 8; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    assert_true(umask_detoured > 0);
    int before = umask_detoured;
    assert_int_equal(umask(022), 022);
    assert_int_equal(umask_detoured, before + 1);
}

/* ---- getpgrp ------------------------------------------------------------ */

static pid_t (*real_getpgrp)(void);

static pid_t my_getpgrp(void) { return -real_getpgrp(); }

static void test_getpgrp(void **state)
{
    (void)state;
    hook_and_check((void *)getpgrp, (void *)my_getpgrp, (void **)&real_getpgrp);
    pid_t truth = (pid_t)syscall(SYS_getpgid, 0);
    assert_int_equal(getpgrp(), -truth);
    assert_int_equal(real_getpgrp(), truth);
}

/* ---- entries that load through RIP-relative operands ------------------- */

static const char *(*real_version)(void);
static int (*real_getpagesize)(void);

static const char *my_version(void) { return "hooked"; }
static int my_getpagesize(void) { return real_getpagesize() * 2; }

static void test_rip_relative_entries(void **state)
{
    (void)state;
    const char *v = gnu_get_libc_version();
    int page = getpagesize();
    hook_and_check((void *)gnu_get_libc_version, (void *)my_version,
                   (void **)&real_version);
    hook_and_check((void *)getpagesize, (void *)my_getpagesize,
                   (void **)&real_getpagesize);
    assert_string_equal(gnu_get_libc_version(), "hooked");
    assert_ptr_equal(real_version(), v);
    /* getpagesize is declared const: call it where the compiler cannot
     * reuse the value from before the hook. */
    int (*volatile call)(void) = getpagesize;
    assert_int_equal(call(), page * 2);
    assert_int_equal(real_getpagesize(), page);
}

static void test_refuses_bad_targets(void **state)
{
    (void)state;
    char why[128];
    void *orig = NULL;
    static int data;
    assert_int_equal(shunt_hook_install(&data, (void *)my_getpgrp, &orig, why,
                                        sizeof why),
                     -EINVAL);
    assert_non_null(strstr(why, "executable"));
    assert_int_equal(shunt_hook_install((void *)16, (void *)my_getpgrp, &orig,
                                        why, sizeof why),
                     -ENOENT);
    assert_int_equal(shunt_hook_install(NULL, NULL, NULL, why, sizeof why),
                     -EINVAL);
    assert_null(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getppid),
        cmocka_unit_test(test_umask_under_load),
        cmocka_unit_test(test_getpgrp),
        cmocka_unit_test(test_rip_relative_entries),
        cmocka_unit_test(test_refuses_bad_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
