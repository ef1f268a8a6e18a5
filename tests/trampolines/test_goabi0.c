/* shunt_go_abi0_site: where Go < 1.19's ABI0 syscall.Syscall family is
 * patched (trampolines/goabi0.c).  Hand-assembled functions shaped as Go's
 * assembler writes src/syscall/asm_linux_amd64.s, and the variations it
 * must refuse.  shunt_go_family: which versions take which trampolines. */
#include "shunt/gotramp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define BASE 0x4835a0ull

/* Pieces, each annotated. */
#define CALL_ENTER 0xe8, 0x7b, 0x07, 0xfe, 0xff  /* call runtime.entersyscall */
#define LD_DI 0x48, 0x8b, 0x7c, 0x24, 0x10       /* mov 16(%rsp), %rdi  a1 */
#define LD_SI 0x48, 0x8b, 0x74, 0x24, 0x18       /* mov 24(%rsp), %rsi  a2 */
#define LD_DX 0x48, 0x8b, 0x54, 0x24, 0x20       /* mov 32(%rsp), %rdx  a3 */
#define LD_R10 0x4c, 0x8b, 0x54, 0x24, 0x28      /* mov 40(%rsp), %r10  a4 */
#define LD_R8 0x4c, 0x8b, 0x44, 0x24, 0x30       /* mov 48(%rsp), %r8   a5 */
#define LD_R9 0x4c, 0x8b, 0x4c, 0x24, 0x38       /* mov 56(%rsp), %r9   a6 */
#define LD_AX 0x48, 0x8b, 0x44, 0x24, 0x08       /* mov 8(%rsp), %rax   trap */
#define SYSCALL 0x0f, 0x05
#define TAIL                                                                  \
    0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,       /* cmp $-4095, %rax */          \
        0x76, 0x05,                           /* jbe +5 (ok) */               \
        0x48, 0xf7, 0xd8,                     /* neg %rax */                  \
        0xeb, 0x00,                           /* jmp +0 */                    \
        0x48, 0x89, 0x44, 0x24, 0x28,         /* ok: mov %rax, 40(%rsp) */    \
        0xc3,                                 /* ret */                       \
        0xcc, 0xcc, 0xcc                      /* padding */

static int site(int which, const uint8_t *code, size_t len,
                shunt_go_site_t *s, char *why)
{
    int rc = shunt_go_abi0_site(which, code, len, BASE, s, why, 256);
    printf("%s: rc=%d %s\n", shunt_go_abi0_name(which), rc, why);
    return rc;
}

static void accepted(int which, const uint8_t *code, size_t len,
                     uint64_t patch_off, uint64_t resume_off)
{
    shunt_go_site_t s;
    char why[256];
    assert_int_equal(site(which, code, len, &s, why), 0);
    assert_int_equal(s.patch, BASE + patch_off);
    assert_int_equal(s.resume, BASE + resume_off);
}

static void refused(int which, const uint8_t *code, size_t len,
                    const char *reason_part)
{
    shunt_go_site_t s;
    char why[256];
    assert_int_equal(site(which, code, len, &s, why), -1);
    assert_non_null(strstr(why, reason_part));
}

static void test_go_shapes(void **state)
{
    (void)state;
    /* Syscall: call, 4 loads (20 bytes), syscall: patch at +5, back at +27. */
    static const uint8_t sc[] = {CALL_ENTER, LD_DI, LD_SI, LD_DX, LD_AX,
                                 SYSCALL, TAIL};
    accepted(SHUNT_GO_ABI0_SYSCALL, sc, sizeof sc, 5, 27);
    /* Syscall6: 7 loads: back at 5 + 35 + 2. */
    static const uint8_t sc6[] = {CALL_ENTER, LD_DI, LD_SI, LD_DX, LD_R10,
                                  LD_R8, LD_R9, LD_AX, SYSCALL, TAIL};
    accepted(SHUNT_GO_ABI0_SYSCALL6, sc6, sizeof sc6, 5, 42);
    /* The Raw ones start with the loads. */
    accepted(SHUNT_GO_ABI0_RAWSYSCALL, sc + 5, sizeof sc - 5, 0, 22);
    accepted(SHUNT_GO_ABI0_RAWSYSCALL6, sc6 + 5, sizeof sc6 - 5, 0, 37);
    /* Any order of the loads. */
    static const uint8_t shuffled[] = {LD_AX, LD_DX, LD_DI, LD_SI, SYSCALL,
                                       TAIL};
    accepted(SHUNT_GO_ABI0_RAWSYSCALL, shuffled, sizeof shuffled, 0, 22);
    /* A branch to the patched instruction itself lands on the jmp: fine. */
    static const uint8_t to_start[] = {LD_DI, LD_SI, LD_DX, LD_AX, SYSCALL,
                                       0xeb, 0xe8, /* jmp -24: to +0 */
                                       0xc3, 0xcc};
    accepted(SHUNT_GO_ABI0_RAWSYSCALL, to_start, sizeof to_start, 0, 22);
}

static void test_refused(void **state)
{
    (void)state;
    static const uint8_t sc[] = {CALL_ENTER, LD_DI, LD_SI, LD_DX, LD_AX,
                                 SYSCALL, TAIL};
    /* Syscall without the call of entersyscall; RawSyscall with one. */
    refused(SHUNT_GO_ABI0_SYSCALL, sc + 5, sizeof sc - 5, "entersyscall");
    refused(SHUNT_GO_ABI0_RAWSYSCALL, sc, sizeof sc, "not a load");
    /* Syscall6's shape wanted, three arguments found. */
    refused(SHUNT_GO_ABI0_SYSCALL6, sc, sizeof sc, "not the 6 arguments");
    /* Six loads where RawSyscall takes three. */
    static const uint8_t six[] = {LD_DI, LD_SI, LD_DX, LD_R10, LD_R8, LD_R9,
                                  LD_AX, SYSCALL, TAIL};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, six, sizeof six, "not the 3 arguments");
    /* A register loaded from another argument's slot. */
    static const uint8_t slot[] = {0x48, 0x8b, 0x7c, 0x24, 0x18, /* rdi <- 24 */
                                   LD_SI, LD_DX, LD_AX, SYSCALL, TAIL};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, slot, sizeof slot, "not a load");
    /* The same load twice. */
    static const uint8_t twice[] = {LD_DI, LD_DI, LD_SI, LD_DX, LD_AX,
                                    SYSCALL, TAIL};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, twice, sizeof twice, "not a load");
    /* A 32-bit load, another instruction, an RBP-based load. */
    static const uint8_t l32[] = {0x8b, 0x7c, 0x24, 0x10, /* mov 16(%rsp), %edi */
                                  LD_SI, LD_DX, LD_AX, SYSCALL, TAIL};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, l32, sizeof l32, "not a load");
    static const uint8_t other[] = {LD_DI, 0x45, 0x31, 0xd2, /* xor %r10d,%r10d */
                                    LD_SI, LD_DX, LD_AX, SYSCALL, TAIL};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, other, sizeof other, "not a load");
    static const uint8_t rbp[] = {0x48, 0x8b, 0x7d, 0x10, /* mov 16(%rbp), %rdi */
                                  LD_SI, LD_DX, LD_AX, SYSCALL, TAIL};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, rbp, sizeof rbp, "not a load");
    /* Something that branches into the run after the SYSCALL. */
    static const uint8_t into[] = {LD_DI, LD_SI, LD_DX, LD_AX, SYSCALL,
                                   0xeb, 0xf2, /* jmp -14: to +10 (LD_DX) */
                                   0xc3, 0xcc};
    refused(SHUNT_GO_ABI0_RAWSYSCALL, into, sizeof into, "branch into");
    /* Cut before the SYSCALL; nothing at all. */
    refused(SHUNT_GO_ABI0_SYSCALL, sc, 20, "cannot decode");
    refused(SHUNT_GO_ABI0_RAWSYSCALL, sc, 0, "cannot decode");
    /* Bad arguments. */
    shunt_go_site_t s;
    char why[64];
    assert_int_equal(shunt_go_abi0_site(SHUNT_GO_ABI0_N, sc, sizeof sc, BASE,
                                        &s, why, sizeof why), -1);
    assert_int_equal(shunt_go_abi0_site(-1, sc, sizeof sc, BASE, &s, why,
                                        sizeof why), -1);
    assert_null(shunt_go_abi0_entry(SHUNT_GO_ABI0_N));
}

/* shunt_go_family: which trampolines a Go version takes, and the reason
 * an older or incomplete program is left alone. */
static int family(int major, int minor, int sc6, int abi0, int cgo,
                  char *why, size_t n)
{
    shunt_goinfo_t g;
    memset(&g, 0, sizeof g);
    snprintf(g.version, sizeof g.version, "go%d.%d.1", major, minor);
    g.major = major, g.minor = minor;
    g.syscall6 = sc6 ? 0x401000 : 0;
    for (int i = 0; i < 3; i++)
        g.syscall_abi0[i] = abi0 > i ? 0x402000 + 0x60 * (unsigned)i : 0;
    g.asmcgocall = cgo ? 0x403000 : 0;
    why[0] = 0;
    int rc = shunt_go_family(&g, why, n);
    printf("go%d.%d sc6=%d abi0=%d cgo=%d: %d %s\n", major, minor, sc6, abi0,
           cgo, rc, why);
    return rc;
}

static void test_family(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(family(1, 26, 1, 0, 1, why, sizeof why), SHUNT_GO_SYSCALL6);
    assert_int_equal(family(1, 19, 1, 0, 1, why, sizeof why), SHUNT_GO_SYSCALL6);
    assert_int_equal(family(1, 18, 0, 3, 1, why, sizeof why), SHUNT_GO_ABI0);
    assert_int_equal(family(1, 17, 0, 3, 1, why, sizeof why), SHUNT_GO_ABI0);
    assert_int_equal(family(1, 16, 0, 3, 1, why, sizeof why), SHUNT_GO_ABI0);
    /* Older releases: recognised, refused with the reason. */
    assert_int_equal(SHUNT_GO_MIN_MINOR, 16);
    for (int minor = 15; minor >= 10; minor--) {
        assert_int_equal(family(1, minor, 0, 3, 1, why, sizeof why), -1);
        assert_non_null(strstr(why, "is not supported"));
        assert_non_null(strstr(why, "older runtimes are not tested"));
    }
    assert_int_equal(family(2, 0, 1, 0, 1, why, sizeof why), -1);
    /* Something missing. */
    assert_int_equal(family(1, 22, 0, 0, 1, why, sizeof why), -1);
    assert_non_null(strstr(why, "Syscall6 was not found"));
    assert_int_equal(family(1, 18, 0, 2, 1, why, sizeof why), -1);
    assert_non_null(strstr(why, "not all found"));
    assert_int_equal(family(1, 18, 0, 3, 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "asmcgocall"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_shapes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
