/* Each Go trampoline, case by case: the ABIInternal Syscall6 entry
 * (go_syscall6.S), the four ABI0 entries of Go 1.16–1.18 (go_abi0.S) and
 * the rawVforkSyscall entry (go_vfork.S).
 *
 * The first five are driven through fuzz/trampoline_shuffle's assembly
 * caller, which calls them exactly as Go does with an asmcgocall stand-in
 * and checks everything Go relies on (its oracle aborts with the reason;
 * see that file).  Here each trampoline gets named cases: a call the
 * handler serves (answers of every shape, including -errno), one the
 * kernel answers (getpid), an unknown number (ENOSYS), a fork marker this
 * thread set (served, then forgotten) and another thread's (the child:
 * the kernel only). */
#include "shunt/gotramp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { K_SERVED = 3, K_GETPID = 12, K_UNKNOWN = 40 };
enum { M_NONE = 0, M_OWN = 1, M_CHILD = 2 };

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One call of entry (0: ABIInternal Syscall6; 1-4: the ABI0 entries). */
static void one(int entry, int kind, int mark, uint64_t answer)
{
    uint8_t in[66];
    in[0] = (uint8_t)kind;
    in[1] = (uint8_t)(entry << 4 | mark);
    for (int i = 0; i < 6; i++)
        put64(in + 2 + 8 * i, 0x1111111111111111ull * (uint64_t)(i + 1) + 7);
    put64(in + 50, 0xc000001000ull); /* g */
    put64(in + 58, answer);
    assert_int_equal(LLVMFuzzerTestOneInput(in, sizeof(in)), 0);
    assert_int_equal(shunt_go_fork_tid, 0);
}

static void cases(int entry)
{
    one(entry, K_SERVED, M_NONE, 42);
    one(entry, K_SERVED, M_NONE, 0);
    one(entry, K_SERVED, M_NONE, (uint64_t)-2);    /* -ENOENT */
    one(entry, K_SERVED, M_NONE, (uint64_t)-4095); /* the last errno */
    one(entry, K_SERVED, M_NONE, (uint64_t)-4096); /* a value, not errno */
    one(entry, K_SERVED, M_NONE, 0x7fffffffffffffffull);
    one(entry, K_GETPID, M_NONE, 0);
    one(entry, K_UNKNOWN, M_NONE, 0);
    one(entry, K_SERVED, M_OWN, 9);
    one(entry, K_SERVED, M_CHILD, 9);
    one(entry, K_GETPID, M_CHILD, 0);
}

static void test_syscall6_abiinternal(void **state)
{
    (void)state;
    cases(0);
}

static void test_abi0_syscall(void **state)
{
    (void)state;
    cases(1 + SHUNT_GO_ABI0_SYSCALL);
}

static void test_abi0_syscall6(void **state)
{
    (void)state;
    cases(1 + SHUNT_GO_ABI0_SYSCALL6);
}

static void test_abi0_rawsyscall(void **state)
{
    (void)state;
    cases(1 + SHUNT_GO_ABI0_RAWSYSCALL);
}

static void test_abi0_rawsyscall6(void **state)
{
    (void)state;
    cases(1 + SHUNT_GO_ABI0_RAWSYSCALL6);
}

/* go_vfork.S: records this thread's tid as the fork marker, then jumps to
 * the original with the stack and the argument registers untouched. */
static int orig_calls;
static long orig_args[3];

static long fake_orig(long a, long b, long c)
{
    orig_calls++;
    orig_args[0] = a;
    orig_args[1] = b;
    orig_args[2] = c;
    return a ^ b ^ c;
}

static void test_vfork(void **state)
{
    (void)state;
    shunt_go_vfork_orig = (void *)fake_orig;
    shunt_go_fork_tid = 0;
    long (*entry)(long, long, long) =
        (long (*)(long, long, long))(void *)shunt_go_vfork_entry;
    long r = entry(0x1234, -5, 0x7fffffff00000001);
    assert_int_equal(orig_calls, 1);
    assert_int_equal(orig_args[0], 0x1234);
    assert_int_equal(orig_args[1], -5);
    assert_int_equal(orig_args[2], 0x7fffffff00000001);
    assert_int_equal(r, 0x1234 ^ -5 ^ 0x7fffffff00000001);
    assert_int_equal(shunt_go_fork_tid, (int)syscall(SYS_gettid));
    shunt_go_fork_tid = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syscall6_abiinternal),
        cmocka_unit_test(test_abi0_syscall),
        cmocka_unit_test(test_abi0_syscall6),
        cmocka_unit_test(test_abi0_rawsyscall),
        cmocka_unit_test(test_abi0_rawsyscall6),
        cmocka_unit_test(test_vfork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
