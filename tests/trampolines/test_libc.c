/* Hooks real libc functions this test never needs otherwise (getppid,
 * umask, getpgrp, getpagesize, gnu_get_libc_version; in one batch getuid,
 * geteuid, getgid, getegid, with getsid waiting outside it) in the running
 * process: the detour runs, the original runs through the stub, the stub
 * checks out against the saved entry, 8 threads calling the function while
 * it is patched never crash, and a batch leaves every page's protection as
 * it found it. */
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
#include <sys/types.h>
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

/* ---- a batch: getuid, geteuid, getgid, getegid ------------------------ */

#define BIAS 1000000u
#define NB 4
static unsigned (*real_b[NB])(void);
static unsigned my_b0(void) { return real_b[0]() + BIAS; }
static unsigned my_b1(void) { return real_b[1]() + BIAS; }
static unsigned my_b2(void) { return real_b[2]() + BIAS; }
static unsigned my_b3(void) { return real_b[3]() + BIAS; }
static unsigned (*const detour_b[NB])(void) = {my_b0, my_b1, my_b2, my_b3};
static unsigned (*const target_b[NB])(void) = {
    (unsigned (*)(void))getuid, (unsigned (*)(void))geteuid,
    (unsigned (*)(void))getgid, (unsigned (*)(void))getegid};
static unsigned truth_b[NB];
static volatile int stop_b;

/* Calls the four in turn, each through a volatile pointer; before its
 * hook the true id comes back, after it the id + BIAS. */
static void *hammer_b(void *arg)
{
    long *calls = arg;
    while (!__atomic_load_n(&stop_b, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < NB; i++) {
            unsigned (*volatile f)(void) = target_b[i];
            unsigned v = f();
            if (v != truth_b[i] && v != truth_b[i] + BIAS)
                return (void *)1;
        }
        __atomic_add_fetch(calls, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static pid_t (*real_getsid)(pid_t);
static pid_t my_getsid(pid_t p) { return -real_getsid(p); }
static volatile int getsid_rc = 1, getsid_done;

/* Installs a hook while the main thread holds a batch: must wait. */
static void *install_getsid(void *arg)
{
    (void)arg;
    char why[256];
    getsid_rc = shunt_hook_install((void *)getsid, (void *)my_getsid,
                                   (void **)&real_getsid, why, sizeof why);
    __atomic_store_n(&getsid_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static const char *perms(const char *line)
{
    const char *p = strchr(line, ' ');
    return p ? p + 1 : "";
}

static void test_batch(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(shunt_hook_batch_end(why, sizeof why), -EINVAL);

    /* The lines of every page a patch touches, before. */
    char before[NB][2][512], line[512];
    for (int i = 0; i < NB; i++) {
        truth_b[i] = target_b[i]();
        const char *t = (const char *)(uintptr_t)target_b[i];
        assert_int_equal(tramp_maps_line(t, before[i][0], 512), 0);
        assert_int_equal(tramp_maps_line(t + 4, before[i][1], 512), 0);
        assert_int_equal(strncmp(perms(before[i][0]), "r-x", 3), 0);
    }
    pthread_t th[8], other;
    long calls[8] = {0}, seen[8] = {0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_b, &calls[i]), 0);
    assert_true(all_moved(calls, seen, 8));

    shunt_hook_batch_begin();
    shunt_hook_batch_begin(); /* ignored: not nestable */
    assert_int_equal(pthread_create(&other, NULL, install_getsid, NULL), 0);
    for (int i = 0; i < NB; i++) {
        hook_and_check((void *)(uintptr_t)target_b[i],
                       (void *)(uintptr_t)detour_b[i], (void **)&real_b[i]);
        /* The target's page stays writable, the stub's page executable
         * (and writable) until the end; the hooks already work. */
        const char *t = (const char *)(uintptr_t)target_b[i];
        assert_int_equal(tramp_maps_line(t, line, sizeof line), 0);
        assert_int_equal(strncmp(perms(line), "rwx", 3), 0);
        assert_int_equal(tramp_maps_line((void *)(uintptr_t)real_b[i], line,
                                         sizeof line),
                         0);
        assert_int_equal(strncmp(perms(line), "rwx", 3), 0);
        assert_int_equal(target_b[i](), truth_b[i] + BIAS);
        assert_int_equal(real_b[i](), truth_b[i]);
        for (int k = 0; k < 8; k++)
            seen[k] = __atomic_load_n(&calls[k], __ATOMIC_RELAXED);
        assert_true(all_moved(calls, seen, 8)); /* calling it, hooked */
    }
    usleep(20000);
    assert_int_equal(__atomic_load_n(&getsid_done, __ATOMIC_ACQUIRE), 0);
    int rc = shunt_hook_batch_end(why, sizeof why);
    if (rc != 0)
        fail_msg("batch end: %d %s", rc, why);

    assert_int_equal(pthread_join(other, NULL), 0);
    assert_int_equal(getsid_rc, 0);
    assert_int_equal(getsid(0), -(pid_t)syscall(SYS_getsid, 0));
    for (int k = 0; k < 8; k++)
        seen[k] = __atomic_load_n(&calls[k], __ATOMIC_RELAXED);
    assert_true(all_moved(calls, seen, 8));
    __atomic_store_n(&stop_b, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 8; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    /* Every touched page's line is as it was; the stubs are read-execute. */
    for (int i = 0; i < NB; i++) {
        const char *t = (const char *)(uintptr_t)target_b[i];
        assert_int_equal(tramp_maps_line(t, line, sizeof line), 0);
        assert_string_equal(line, before[i][0]);
        assert_int_equal(tramp_maps_line(t + 4, line, sizeof line), 0);
        assert_string_equal(line, before[i][1]);
        assert_int_equal(tramp_maps_line((void *)(uintptr_t)real_b[i], line,
                                         sizeof line),
                         0);
        assert_int_equal(strncmp(perms(line), "r-x", 3), 0);
        assert_int_equal(target_b[i](), truth_b[i] + BIAS);
        assert_int_equal(real_b[i](), truth_b[i]);
    }
    assert_int_equal(shunt_hook_batch_end(why, sizeof why), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getppid),
        cmocka_unit_test(test_umask_under_load),
        cmocka_unit_test(test_getpgrp),
        cmocka_unit_test(test_rip_relative_entries),
        cmocka_unit_test(test_refuses_bad_targets),
        cmocka_unit_test(test_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
