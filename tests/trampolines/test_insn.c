/* shunt_insn_each and its matchers (shunt/insn.h): the decoder that the
 * layer's finders use instead of byte-pattern scans.  The fixtures are
 * annotated bytes; the decoded walk must find a pattern only at
 * instruction boundaries. */
#include "shunt/gotramp.h"
#include "shunt/insn.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include <cmocka.h>

/* runtime.asmcgocall's ABIInternal wrapper (Go >= 1.17, stripped).  Each
 * fixture fills the 62 bytes the finder reads. */
static const uint8_t wrapper[64] = { /* the rest: 00 00, add %al,(%rax) */
    0x55,                         /* push %rbp */
    0x48, 0x89, 0xe5,             /* mov %rsp,%rbp */
    0x48, 0x83, 0xec, 0x10,       /* sub $0x10,%rsp */
    0x48, 0x89, 0x04, 0x24,       /* mov %rax,(%rsp) */
    0x48, 0x89, 0x5c, 0x24, 0x08, /* mov %rbx,0x8(%rsp) */
    0xe8, 0x20, 0x01, 0x00, 0x00, /* call +0x120 */
    0x48, 0x83, 0xc4, 0x10,       /* add $0x10,%rsp */
    0x5d,                         /* pop %rbp */
    0xc3,                         /* ret */
};

/* The ABI0 body: loads, no stores of AX and BX. */
static const uint8_t body[64] = {
    0x48, 0x8b, 0x44, 0x24, 0x08, /* mov 0x8(%rsp),%rax */
    0x48, 0x8b, 0x1c, 0x24,       /* mov (%rsp),%rbx */
    0x48, 0x89, 0xe2,             /* mov %rsp,%rdx */
    0xc3,                         /* ret */
};

/* The wrapper's bytes inside an immediate: a byte scan matched them at
 * +2 and followed a call that does not exist. */
static const uint8_t hidden[64] = {
    0x48, 0xb8, 0x48, 0x89, 0x04, 0x24,
    0x48, 0x89, 0x5c, 0x24,       /* movabs $0x245c894824048948,%rax */
    0x08, 0xe8,                   /* or %ch,%al */
    0x00, 0x01, 0x00, 0x00,       /* add %al,(%rcx); add %al,(%rax) */
    0xc3,                         /* ret */
};

/* The same wrapper with the call beyond the first 48 bytes' window. */
static uint8_t late[80];

static void test_asmcgocall_wrapper_is_followed(void **state)
{
    (void)state;
    uintptr_t a = (uintptr_t)wrapper;
    assert_int_equal(shunt_go_asmcgocall_body(a), a + 22 + 0x120);
}

static void test_asmcgocall_body_is_kept(void **state)
{
    (void)state;
    assert_int_equal(shunt_go_asmcgocall_body((uintptr_t)body),
                     (uintptr_t)body);
}

static void test_pattern_inside_an_instruction_is_not_matched(void **state)
{
    (void)state;
    assert_int_equal(shunt_go_asmcgocall_body((uintptr_t)hidden),
                     (uintptr_t)hidden);
}

static void test_stores_past_48_bytes_are_not_matched(void **state)
{
    (void)state;
    memset(late, 0x90, sizeof(late)); /* nop */
    memcpy(late + 48, wrapper + 8, 14); /* the two stores and the call */
    assert_int_equal(shunt_go_asmcgocall_body((uintptr_t)late),
                     (uintptr_t)late);
    memset(late, 0x90, sizeof(late));
    memcpy(late + 47, wrapper + 8, 14);
    assert_int_equal(shunt_go_asmcgocall_body((uintptr_t)late),
                     (uintptr_t)late + 47 + 14 + 0x120);
}

typedef struct {
    int mov_eax, mov_edi, syscalls, rets, n;
} seen_t;

static int count(const cs_insn *in, void *arg)
{
    seen_t *s = arg;
    s->n++;
    s->mov_eax += shunt_insn_is_mov_imm(in, X86_REG_EAX, SYS_openat);
    s->mov_edi += shunt_insn_is_mov_imm(in, X86_REG_EDI, AT_FDCWD);
    s->syscalls += in->id == X86_INS_SYSCALL;
    s->rets += in->id == X86_INS_RET;
    return 0;
}

/* What layer/install.c looks for in glibc's __openat64_nocancel. */
static void test_matchers(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xbf, 0x9c, 0xff, 0xff, 0xff,             /* mov $-100,%edi */
        0xb8, 0x01, 0x01, 0x00, 0x00,             /* mov $0x101,%eax */
        0x48, 0x8d, 0x05, 0x0f, 0x05, 0xc3, 0x00, /* lea 0xc3050f(%rip),%rax */
        0x0f, 0x05,                               /* syscall */
        0xc3,                                     /* ret */
        0xff, 0xff,                               /* no instruction */
        0xc3,
    };
    seen_t s = {0};
    assert_int_equal(shunt_insn_each(code, sizeof(code), 0x1000, count, &s), 0);
    assert_int_equal(s.n, 5); /* the walk stops at the undecodable bytes */
    assert_int_equal(s.mov_eax, 1);
    assert_int_equal(s.mov_edi, 1);
    assert_int_equal(s.syscalls, 1); /* not the 0f 05 inside the lea */
    assert_int_equal(s.rets, 1);     /* nor its c3 */
}

static int stop_second(const cs_insn *in, void *arg)
{
    (void)in;
    return ++*(int *)arg == 2 ? 7 : 0;
}

static void test_walk_stops_where_fn_says(void **state)
{
    (void)state;
    int n = 0;
    assert_int_equal(shunt_insn_each(wrapper, sizeof(wrapper),
                                     (uintptr_t)wrapper, stop_second, &n), 7);
    assert_int_equal(n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asmcgocall_wrapper_is_followed),
        cmocka_unit_test(test_asmcgocall_body_is_kept),
        cmocka_unit_test(test_pattern_inside_an_instruction_is_not_matched),
        cmocka_unit_test(test_stores_past_48_bytes_are_not_matched),
        cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_walk_stops_where_fn_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
