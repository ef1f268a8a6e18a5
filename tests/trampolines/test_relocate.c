/* The relocator, byte for byte: annotated input bytes at a code address,
 * the exact bytes expected at an output address, or the reason for a
 * refusal.  Every accepted stub is also checked by meaning (stubcheck). */
#include "shunt/hook.h"
#include "stubcheck.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define CODE 0x1000000ull      /* where the original lives */
#define NEAR 0x2000000ull      /* a stub 16 MiB above it */
#define FAR 0x101000000ull     /* a stub 4 GiB above it */
#define BACK 0xfb, 0xff, 0xff, 0xfe /* rel32 CODE - NEAR - 5: jump back when
                                       the stub is as long as what it moved */

typedef struct {
    const char *name;
    uint64_t out_addr;
    uint8_t code[32];
    size_t code_len;
    uint8_t want[64];
    size_t want_len; /* 0: refused */
    size_t consumed;
    const char *why; /* for a refusal: a part of the reason */
} case_t;

#define IN(...) .code = {__VA_ARGS__}, .code_len = sizeof((uint8_t[]){__VA_ARGS__})
#define OUT(...) .want = {__VA_ARGS__}, .want_len = sizeof((uint8_t[]){__VA_ARGS__})

static const case_t cases[] = {
    {"plain prologue", NEAR,
     IN(0x55,                   /* +0 push rbp */
        0x48, 0x89, 0xe5,       /* +1 mov rbp, rsp */
        0x48, 0x83, 0xec, 0x20, /* +4 sub rsp, 0x20 */
        0xc9,                   /* +8 leave */
        0xc3),                  /* +9 ret */
     OUT(0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20,
         0xe9, BACK),           /* jmp CODE+8 */
     .consumed = 8},
    {"endbr64 first", NEAR,
     IN(0xf3, 0x0f, 0x1e, 0xfa, /* +0 endbr64 */
        0x55,                   /* +4 push rbp */
        0x48, 0x89, 0xe5),      /* +5 mov rbp, rsp */
     OUT(0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0xe9, BACK), .consumed = 5},
    /* capstone gives a 3DNow! instruction (0F 0F /r ib) the opcode bytes
     * 0F ib: with ib 8A it once looked like jp rel32 (found by fuzzing) */
    {"3DNow! pfnacc is not a jcc", NEAR,
     IN(0x0f, 0x0f, 0xff, 0x8a, /* +0 pfnacc mm7, mm7 */
        0x55,                   /* +4 push rbp */
        0xc3),                  /* +5 ret */
     OUT(0x0f, 0x0f, 0xff, 0x8a, 0x55, 0xe9, BACK), .consumed = 5},
    {"rip-relative mov", NEAR,
     IN(0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0x00, /* +0 mov rax, [rip+0xfd0] */
        0xc3),                                    /* +7 ret */
     OUT(0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0xff, /* [rip+0xff000fd0]: same CODE+0xfd7 */
         0xe9, BACK),
     .consumed = 7},
    {"rip-relative lea, negative displacement", NEAR,
     IN(0x48, 0x8d, 0x3d, 0x00, 0xff, 0xff, 0xff, /* +0 lea rdi, [rip-0x100] */
        0xc3),                                    /* +7 ret */
     OUT(0x48, 0x8d, 0x3d, 0x00, 0xff, 0xff, 0xfe, /* [rip-0x1000100] */
         0xe9, BACK),
     .consumed = 7},
    {"rip-relative cmp with an immediate after the displacement", NEAR,
     IN(0x48, 0x81, 0x3d, 0x10, 0x00, 0x00, 0x00, /* +0 cmp qword [rip+0x10], */
        0x78, 0x56, 0x34, 0x12,                   /*    0x12345678 */
        0xc3),                                    /* +11 ret */
     OUT(0x48, 0x81, 0x3d, 0x10, 0x00, 0x00, 0xff, 0x78, 0x56, 0x34, 0x12,
         0xe9, BACK),
     .consumed = 11},
    {"rip-relative cmp byte after a plain instruction", NEAR,
     IN(0x89, 0xf8,                               /* +0 mov eax, edi */
        0x80, 0x3d, 0x40, 0x00, 0x00, 0x00, 0x01, /* +2 cmp byte [rip+0x40], 1 */
        0xc3),                                    /* +9 ret */
     OUT(0x89, 0xf8, 0x80, 0x3d, 0x40, 0x00, 0x00, 0xff, 0x01, 0xe9, BACK),
     .consumed = 9},
    {"short jcc beyond the patch becomes a near jcc", NEAR,
     IN(0x85, 0xff,       /* +0 test edi, edi */
        0x74, 0x10,       /* +2 je +0x14 */
        0x89, 0xf8),      /* +4 mov eax, edi */
     OUT(0x85, 0xff,
         0x0f, 0x84, 0x0c, 0x00, 0x00, 0xff, /* je CODE+0x14 */
         0x89, 0xf8,
         0xe9, 0xf7, 0xff, 0xff, 0xfe),      /* jmp CODE+6 */
     .consumed = 6},
    {"branch-hinted jcc loses its hint", NEAR,
     IN(0x3e, 0x75, 0x20, /* +0 ds jne +0x23 */
        0x31, 0xc0),      /* +3 xor eax, eax */
     OUT(0x0f, 0x85, 0x1d, 0x00, 0x00, 0xff, /* jne CODE+0x23 */
         0x31, 0xc0,
         0xe9, 0xf8, 0xff, 0xff, 0xfe),      /* jmp CODE+5 */
     .consumed = 5},
    {"jmp rel32 re-targeted", NEAR,
     IN(0xe9, 0x00, 0x01, 0x00, 0x00), /* +0 jmp CODE+0x105 */
     OUT(0xe9, 0x00, 0x01, 0x00, 0xff, 0xe9, BACK), .consumed = 5},
    {"bnd jmp rel32 loses bnd", NEAR,
     IN(0xf2, 0xe9, 0x00, 0x01, 0x00, 0x00), /* +0 bnd jmp CODE+0x106 */
     OUT(0xe9, 0x01, 0x01, 0x00, 0xff,        /* jmp CODE+0x106 */
         0xe9, 0xfc, 0xff, 0xff, 0xfe),       /* jmp CODE+6 */
     .consumed = 6},
    {"short jmp ending the patch becomes a near jmp", NEAR,
     IN(0x48, 0x89, 0xf8, /* +0 mov rax, rdi */
        0xeb, 0x10),      /* +3 jmp CODE+0x15 */
     OUT(0x48, 0x89, 0xf8,
         0xe9, 0x0d, 0x00, 0x00, 0xff,  /* jmp CODE+0x15 */
         0xe9, 0xf8, 0xff, 0xff, 0xfe), /* jmp CODE+5 (never reached) */
     .consumed = 5},
    {"call rel32 re-targeted", NEAR,
     IN(0xe8, 0xf0, 0xff, 0xff, 0xff, /* +0 call CODE-0xb */
        0x5d, 0xc3),                  /* +5 pop rbp; ret */
     OUT(0xe8, 0xf0, 0xff, 0xff, 0xfe, 0xe9, BACK), .consumed = 5},
    {"tail call to the entry further on is allowed", NEAR,
     IN(0x55,                         /* +0 push rbp */
        0x48, 0x89, 0xe5,             /* +1 mov rbp, rsp */
        0x5d,                         /* +4 pop rbp */
        0xe9, 0xf6, 0xff, 0xff, 0xff), /* +5 jmp CODE */
     OUT(0x55, 0x48, 0x89, 0xe5, 0x5d, 0xe9, BACK), .consumed = 5},

    /* A stub more than 2 GiB away: absolute jumps; no RIP-relative operand. */
    {"far: plain prologue, absolute jump back", FAR,
     IN(0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20),
     OUT(0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20,
         0xff, 0x25, 0x00, 0x00, 0x00, 0x00,              /* jmp [rip+0] */
         0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), /* .quad CODE+8 */
     .consumed = 8},
    {"far: short jcc becomes an inverted jcc over an absolute jmp", FAR,
     IN(0x85, 0xff, /* +0 test edi, edi */
        0x74, 0x10, /* +2 je +0x14 */
        0x89, 0xf8), /* +4 mov eax, edi */
     OUT(0x85, 0xff,
         0x75, 0x0e,                                      /* jne +14 */
         0xff, 0x25, 0x00, 0x00, 0x00, 0x00,              /* jmp [rip+0] */
         0x14, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  /* .quad CODE+0x14 */
         0x89, 0xf8,
         0xff, 0x25, 0x00, 0x00, 0x00, 0x00,
         0x06, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), /* .quad CODE+6 */
     .consumed = 6},
    {"far: call becomes an absolute call", FAR,
     IN(0xe8, 0xf0, 0xff, 0xff, 0xff), /* +0 call CODE-0xb */
     OUT(0xff, 0x15, 0x02, 0x00, 0x00, 0x00,             /* call [rip+2] */
         0xeb, 0x08,                                     /* jmp +8 */
         0xf5, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, /* .quad CODE-0xb */
         0xff, 0x25, 0x00, 0x00, 0x00, 0x00,
         0x05, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), /* .quad CODE+5 */
     .consumed = 5},
    {"far: rip-relative operand no longer fits", FAR,
     IN(0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0x00, 0xc3),
     .why = "more than 2 GiB from the stub"},

    /* Refusals. */
    {"short jcc back into the patch", NEAR,
     IN(0x31, 0xc0,       /* +0 xor eax, eax */
        0x74, 0xfc,       /* +2 je CODE+0 */
        0x48, 0x89, 0xf8), /* +4 mov rax, rdi */
     .why = "branch back into the overwritten bytes at +0"},
    {"short jcc forward into the patch", NEAR,
     IN(0x85, 0xff,       /* +0 test edi, edi */
        0x74, 0x00,       /* +2 je +4 */
        0x48, 0x89, 0xf8), /* +4 mov rax, rdi */
     .why = "branch back into the overwritten bytes at +4"},
    {"loop further on jumps back into the patch", NEAR,
     IN(0x31, 0xc0, /* +0 xor eax, eax */
        0x01, 0xf8, /* +2 add eax, edi     <- loop head */
        0xff, 0xcf, /* +4 dec edi */
        0x75, 0xfa, /* +6 jne +2 */
        0xc3),      /* +8 ret */
     .why = "branch back into the overwritten bytes at +2 (jne at +6)"},
    {"function shorter than the patch: ret at +1", NEAR,
     IN(0x90,                   /* +0 nop */
        0xc3,                   /* +1 ret */
        0xcc, 0xcc, 0xcc, 0xcc), /* padding */
     .why = "function ends before 5 bytes (ret at +1)"},
    {"function shorter than the patch: 3 bytes", NEAR,
     IN(0x89, 0xf8, /* +0 mov eax, edi */
        0xc3),      /* +2 ret */
     .why = "function ends before 5 bytes (ret at +2)"},
    {"function is a short jmp", NEAR,
     IN(0xeb, 0x10, 0x90, 0x90, 0x90), /* +0 jmp +0x12 */
     .why = "function ends before 5 bytes (jmp at +0)"},
    {"code ends before the patch", NEAR,
     IN(0x55, 0x48, 0x89), /* +0 push rbp; +1 half a mov */
     .why = "decode the instruction at +1"},
    {"undecodable first byte", NEAR,
     IN(0x06, 0x90, 0x90, 0x90, 0x90, 0x90), /* +0 push es: not in 64-bit mode */
     .why = "cannot decode the instruction at +0 (06 90"},
    {"undecodable after a good instruction", NEAR,
     IN(0x48, 0x89, 0xe5, /* +0 mov rbp, rsp */
        0x27, 0x90, 0x90), /* +3 daa: not in 64-bit mode */
     .why = "cannot decode the instruction at +3"},
    {"loop in the patch", NEAR,
     IN(0x31, 0xc9,              /* +0 xor ecx, ecx */
        0xe2, 0x10,              /* +2 loop +0x14 */
        0x90, 0x90),
     .why = "loop at +2 has only a rel8 form"},
    {"jrcxz in the patch", NEAR,
     IN(0xe3, 0x10, 0x90, 0x90, 0x90, 0x90), /* +0 jrcxz +0x12 */
     .why = "jrcxz at +0 has only a rel8 form"},
    {"xbegin in the patch", NEAR,
     IN(0xc7, 0xf8, 0x10, 0x00, 0x00, 0x00), /* +0 xbegin +0x16 */
     .why = "relative xbegin at +0"},
    {"int3 in the patch", NEAR,
     IN(0xcc, 0x48, 0x89, 0xe5, 0x90, 0x90),
     .why = "int3 at +0"},
    {"eip-relative operand", NEAR,
     IN(0x67, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00), /* mov eax, [eip+0x100] */
     .why = "EIP-relative operand (0x67 prefix) at +0"},
    {"jmp with an operand-size prefix", NEAR,
     IN(0x48, 0x89, 0xf8,        /* +0 mov rax, rdi */
        0x66, 0xe9, 0x10, 0x00), /* +3 jmp rel16 on some CPUs */
     .why = "size-override prefix"},
};

static void run_case(const case_t *c)
{
    uint8_t out[128];
    memset(out, 0xAA, sizeof out);
    shunt_reloc_t r = {0, 0};
    char why[256] = "";
    int rc = shunt_relocate(c->code, c->code_len, CODE, 5, out, sizeof out,
                            c->out_addr, &r, why, sizeof why);
    if (c->want_len == 0) {
        if (rc == 0)
            fail_msg("%s: accepted, expected a refusal with \"%s\"", c->name,
                     c->why);
        if (!strstr(why, c->why))
            fail_msg("%s: reason \"%s\", expected it to contain \"%s\"",
                     c->name, why, c->why);
        return;
    }
    if (rc != 0)
        fail_msg("%s: refused: %s", c->name, why);
    if (r.out_len != c->want_len || memcmp(out, c->want, c->want_len) != 0) {
        fprintf(stderr, "%s:\n", c->name);
        tramp_print_diff(c->want, c->want_len, out, r.out_len);
        fail_msg("%s: stub differs", c->name);
    }
    assert_int_equal(r.consumed, c->consumed);
    if (tramp_check_stub(c->code, r.consumed, CODE, out, r.out_len,
                         c->out_addr, why, sizeof why) != 0)
        fail_msg("%s: stub check: %s", c->name, why);
    assert_int_equal(out[r.out_len], 0xAA); /* nothing written past out_len */
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

static void test_no_room_in_out(void **state)
{
    (void)state;
    static const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20};
    uint8_t out[10];
    shunt_reloc_t r;
    char why[128];
    assert_int_equal(shunt_relocate(code, sizeof code, CODE, 5, out, sizeof out,
                                    NEAR, &r, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "more than the 10 bytes"));
}

static void test_checker_catches_a_wrong_stub(void **state)
{
    (void)state;
    static const uint8_t code[] = {0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0x00};
    /* The displacement copied unchanged: the load reads another address. */
    static const uint8_t stub[] = {0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0x00,
                                   0xe9, BACK};
    char why[128];
    assert_int_equal(tramp_check_stub(code, sizeof code, CODE, stub,
                                      sizeof stub, NEAR, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "reaches"));
    /* A jump back to the wrong place. */
    static const uint8_t stub2[] = {0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0xff,
                                    0xe9, 0xfc, 0xff, 0xff, 0xfe};
    assert_int_equal(tramp_check_stub(code, sizeof code, CODE, stub2,
                                      sizeof stub2, NEAR, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "goes to"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_no_room_in_out),
        cmocka_unit_test(test_checker_catches_a_wrong_stub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
