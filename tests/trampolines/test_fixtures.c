/* Hooks the hand-written functions of fixtures.S in this process: the
 * detour runs, the original runs through the stub with its own result,
 * and the entries that cannot be moved are refused with a reason and keep
 * working unhooked. */
#include "shunt/hook.h"
#include "stubcheck.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

typedef int fn_t(int);
extern fn_t fx_add10, fx_jcc_short, fx_riprel, fx_endbr, fx_call, fx_tailjmp,
    fx_tiny, fx_loopback, fx_loopinsn, fx_at12, fx_at60, fx_at63, fx_b12,
    fx_b60, fx_bpage;
extern int fx_global;

/* Called through a volatile pointer so the compiler cannot assume anything
 * about the function's body. */
static int call(fn_t *f, int x)
{
    fn_t *volatile p = f;
    return p(x);
}

/* One detour per fixture: it adds 1000 to what the original returns. */
#define DETOUR(name)                                                       \
    static fn_t *real_##name;                                              \
    static int my_##name(int x) { return real_##name(x) + 1000; }
DETOUR(fx_jcc_short)
DETOUR(fx_riprel)
DETOUR(fx_call)
DETOUR(fx_tailjmp)
DETOUR(fx_at12)
DETOUR(fx_at60)
DETOUR(fx_b12)
DETOUR(fx_b60)
DETOUR(fx_bpage)

static void hooked(fn_t *f, fn_t *detour, fn_t **original)
{
    char why[256];
    int rc = tramp_hook_checked((void *)f, (void *)detour, (void **)original,
                                why, sizeof why);
    if (rc != 0)
        fail_msg("hook: %d %s", rc, why);
}

static void refused(fn_t *f, const char *reason)
{
    char why[256];
    void *orig = NULL;
    uint8_t before[8], after[8];
    memcpy(before, (void *)f, 8);
    int rc = shunt_hook_install((void *)f, (void *)fx_add10, &orig, why,
                                sizeof why);
    memcpy(after, (void *)f, 8);
    if (rc == 0)
        fail_msg("hooked, expected a refusal with \"%s\"", reason);
    if (!strstr(why, reason))
        fail_msg("reason \"%s\", expected \"%s\"", why, reason);
    assert_int_equal(rc, -ENOTSUP);
    assert_null(orig);
    assert_memory_equal(before, after, 8);
}

static void test_short_jcc_at_entry(void **state)
{
    (void)state;
    hooked(fx_jcc_short, my_fx_jcc_short, &real_fx_jcc_short);
    assert_int_equal(call(fx_jcc_short, 0), 1100);
    assert_int_equal(call(fx_jcc_short, 5), 1006);
    assert_int_equal(real_fx_jcc_short(0), 100); /* the jcc taken */
    assert_int_equal(real_fx_jcc_short(5), 6);   /* and not taken */
}

static void test_rip_relative_load(void **state)
{
    (void)state;
    hooked(fx_riprel, my_fx_riprel, &real_fx_riprel);
    assert_int_equal(call(fx_riprel, 1), 1042);
    fx_global = 7; /* the stub reads the same global */
    assert_int_equal(real_fx_riprel(1), 8);
}

static void test_call_and_tail_jump_at_entry(void **state)
{
    (void)state;
    hooked(fx_call, my_fx_call, &real_fx_call);
    hooked(fx_tailjmp, my_fx_tailjmp, &real_fx_tailjmp);
    assert_int_equal(call(fx_call, 1), 1012);
    assert_int_equal(real_fx_call(1), 12);
    assert_int_equal(call(fx_tailjmp, 1), 1011);
    assert_int_equal(real_fx_tailjmp(1), 11);
}

/* A detour more than 2 GiB from the target: reached through a thunk. */
static fn_t *real_fx_endbr;

static void test_far_detour_through_a_thunk(void **state)
{
    (void)state;
    uint64_t hint = ((uint64_t)(uintptr_t)fx_endbr + (16ull << 30)) & ~4095ull;
    void *page = mmap((void *)(uintptr_t)hint, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page == MAP_FAILED)
        skip();
    /* lea eax, [rdi+1000]; ret */
    static const uint8_t far[] = {0x8d, 0x87, 0xe8, 0x03, 0x00, 0x00, 0xc3};
    memcpy(page, far, sizeof far);
    assert_int_equal(mprotect(page, 4096, PROT_READ | PROT_EXEC), 0);
    hooked(fx_endbr, (fn_t *)page, &real_fx_endbr);
    int32_t rel;
    memcpy(&rel, (const uint8_t *)(uintptr_t)fx_endbr + 1, 4);
    uint64_t thunk = (uint64_t)(uintptr_t)fx_endbr + 5 + (uint64_t)(int64_t)rel;
    assert_true(thunk != (uint64_t)(uintptr_t)page);
    assert_int_equal(call(fx_endbr, 3), 1003);
    assert_int_equal(real_fx_endbr(3), 6);
}

static volatile int stop;

/* Calls fx_at12 and fx_at60 until told to stop; either result is right. */
static void *hammer(void *arg)
{
    long *calls = arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        int a = call(fx_at12, 1), b = call(fx_at60, 1);
        if ((a != 13 && a != 1013) || (b != 61 && b != 1061))
            return (void *)1;
        __atomic_add_fetch(calls, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Waits (up to 10 s) until every thread has called past from[]. */
static void wait_moved(long *calls, const long *from)
{
    for (int tries = 0; tries < 10000; tries++) {
        int moved = 0;
        for (int i = 0; i < 8; i++)
            moved += __atomic_load_n(&calls[i], __ATOMIC_RELAXED) > from[i];
        if (moved == 8)
            return;
        usleep(1000);
    }
    fail_msg("the calling threads made no progress");
}

static void test_patch_placed_anywhere_in_a_cache_line(void **state)
{
    (void)state;
    assert_int_equal((uintptr_t)fx_at12 % 64, 12);
    assert_int_equal((uintptr_t)fx_at60 % 64, 60);
    assert_int_equal((uintptr_t)fx_at63 % 64, 63);
    pthread_t th[8];
    long calls[8] = {0}, seen[8] = {0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &calls[i]), 0);
    wait_moved(calls, seen);
    hooked(fx_at12, my_fx_at12, &real_fx_at12);
    hooked(fx_at60, my_fx_at60, &real_fx_at60);
    for (int i = 0; i < 8; i++)
        seen[i] = __atomic_load_n(&calls[i], __ATOMIC_RELAXED);
    wait_moved(calls, seen);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 8; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(call(fx_at12, 1), 1013);
    assert_int_equal(real_fx_at12(1), 13);
    assert_int_equal(call(fx_at60, 1), 1061);
    assert_int_equal(real_fx_at60(1), 61);
    refused(fx_at63, "last byte of a cache line");
    assert_int_equal(call(fx_at63, 1), 64);
}

/* Calls the batch's three fixtures until told to stop. */
static volatile int stop_b;

static void *hammer_b(void *arg)
{
    long *calls = arg;
    while (!__atomic_load_n(&stop_b, __ATOMIC_ACQUIRE)) {
        int a = call(fx_b12, 1), b = call(fx_b60, 1), c = call(fx_bpage, 1);
        if ((a != 13 && a != 1013) || (b != 61 && b != 1061) ||
            (c != 94 && c != 1094))
            return (void *)1;
        __atomic_add_fetch(calls, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* One batch over an aligned store, a store behind "jmp $" and a patch
 * across two pages, while 8 threads call them: all hooked, every touched
 * page's /proc/self/maps line as before. */
static void test_batch_while_called(void **state)
{
    (void)state;
    fn_t *fn[3] = {fx_b12, fx_b60, fx_bpage};
    fn_t *det[3] = {my_fx_b12, my_fx_b60, my_fx_bpage};
    fn_t **real[3] = {&real_fx_b12, &real_fx_b60, &real_fx_bpage};
    assert_int_equal((uintptr_t)fx_bpage % 4096, 4093);
    char before[3][2][512], line[512];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tramp_maps_line((void *)fn[i], before[i][0], 512), 0);
        assert_int_equal(tramp_maps_line((char *)(uintptr_t)fn[i] + 4,
                                         before[i][1], 512),
                         0);
    }
    pthread_t th[8];
    long calls[8] = {0}, seen[8] = {0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_b, &calls[i]), 0);
    wait_moved(calls, seen);
    shunt_hook_batch_begin();
    for (int i = 0; i < 3; i++) {
        hooked(fn[i], det[i], real[i]);
        for (int k = 0; k < 8; k++)
            seen[k] = __atomic_load_n(&calls[k], __ATOMIC_RELAXED);
        wait_moved(calls, seen);
    }
    char why[256];
    int rc = shunt_hook_batch_end(why, sizeof why);
    if (rc != 0)
        fail_msg("batch end: %d %s", rc, why);
    for (int k = 0; k < 8; k++)
        seen[k] = __atomic_load_n(&calls[k], __ATOMIC_RELAXED);
    wait_moved(calls, seen);
    __atomic_store_n(&stop_b, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 8; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tramp_maps_line((void *)fn[i], line, sizeof line), 0);
        assert_string_equal(line, before[i][0]);
        assert_int_equal(tramp_maps_line((char *)(uintptr_t)fn[i] + 4, line,
                                         sizeof line),
                         0);
        assert_string_equal(line, before[i][1]);
    }
    assert_int_equal(call(fx_b12, 1), 1013);
    assert_int_equal(real_fx_b12(1), 13);
    assert_int_equal(call(fx_b60, 1), 1061);
    assert_int_equal(real_fx_b60(1), 61);
    assert_int_equal(call(fx_bpage, 1), 1094);
    assert_int_equal(real_fx_bpage(1), 94);
}

static void test_refused_entries_keep_working(void **state)
{
    (void)state;
    refused(fx_tiny, "function ends before 5 bytes (ret at +2)");
    assert_int_equal(call(fx_tiny, 9), 9);
    refused(fx_loopback, "branch back into the overwritten bytes at +2 (jne at +6)");
    assert_int_equal(call(fx_loopback, 4), 10);
    refused(fx_loopinsn, "branch back into the overwritten bytes at +4 (loop at +7)");
    assert_int_equal(call(fx_loopinsn, 4), 8);
}

static void test_second_and_overlapping_hooks(void **state)
{
    (void)state;
    char why[256];
    void *orig = NULL;
    /* After test_rip_relative_load: fx_riprel is hooked. */
    assert_int_equal(shunt_hook_install((void *)fx_riprel, (void *)fx_add10,
                                        &orig, why, sizeof why),
                     -EEXIST);
    assert_int_equal(shunt_hook_install((uint8_t *)(uintptr_t)fx_riprel + 2,
                                        (void *)fx_add10, &orig, why,
                                        sizeof why),
                     -EBUSY);
    assert_non_null(strstr(why, "overlaps"));
    assert_null(orig);
    assert_int_equal(call(fx_riprel, 1), 1008);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_jcc_at_entry),
        cmocka_unit_test(test_rip_relative_load),
        cmocka_unit_test(test_call_and_tail_jump_at_entry),
        cmocka_unit_test(test_far_detour_through_a_thunk),
        cmocka_unit_test(test_patch_placed_anywhere_in_a_cache_line),
        cmocka_unit_test(test_refused_entries_keep_working),
        cmocka_unit_test(test_second_and_overlapping_hooks),
        cmocka_unit_test(test_batch_while_called),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
