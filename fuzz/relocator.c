/* libFuzzer target: the x86_64 prologue relocator (shunt_relocate).
 *
 * Input: 3 bytes choosing where the code and the stub live, then up to 64
 * bytes of code.
 *   byte 0, bits 0-2: base of code_addr (PIE, libc, low, near 2 GiB, near
 *                     the top of user space, ...);
 *   byte 0, bits 3-5: where the stub goes relative to the code (16 MiB
 *                     either way, just inside or just past 2 GiB either
 *                     way, 4 GiB away, right after the code);
 *   byte 1:           added to code_addr (any alignment);
 *   byte 2:           added to the stub's distance (moves it across the
 *                     2 GiB edge byte by byte).
 *
 * Oracle: shunt_relocate either refuses (with a reason) or produces a stub
 * that the independent capstone checker (tests/trampolines/stubcheck.c)
 * accepts: same instructions, RIP-relative operands and branch targets
 * resolving to the same absolute addresses, then a jump back to
 * code_addr + consumed.  Besides: consumed covers at least 5 bytes and no
 * more than the input; nothing is written past out_len; no moved branch
 * lands inside the moved bytes; a second run into a buffer of exactly
 * out_len bytes gives the same stub.  Any violation aborts. */
#include "shunt/hook.h"
#include "stubcheck.h"

#include <capstone/capstone.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 3
#define MAX_CODE 64
#define MIN_LEN 5
#define OUT_CAP 256
#define SLACK 32
#define CANARY 0xA5

static const uint64_t code_base[8] = {
    0x0000555555554000ull, /* a PIE executable */
    0x00007ffff7d80000ull, /* libc */
    0x0000000001000000ull, /* the tests' CODE */
    0x0000000000400000ull, /* a non-PIE executable */
    0x000000007fff0000ull, /* just under 2 GiB */
    0x0000000080000000ull, /* 2 GiB */
    0x00007fff00000000ull, /* near the top of user space */
    0x0000000100000000ull, /* 4 GiB */
};

/* The stub's distance from the code; byte 2 is added to its magnitude. */
static int64_t out_delta(unsigned sel, unsigned fine)
{
    switch (sel & 7) {
    case 0: return 0x1000000 + (int64_t)fine;          /* 16 MiB above */
    case 1: return -(0x1000000 + (int64_t)fine);       /* 16 MiB below */
    case 2: return 0x7fffff00 + (int64_t)fine;         /* the 2 GiB edge */
    case 3: return -(0x7fffff00 + (int64_t)fine);
    case 4: return 0x100000000ll + (int64_t)fine * 16; /* far above */
    case 5: return -(0x100000000ll + (int64_t)fine * 16);
    case 6: return 0x7fff0000 - (int64_t)fine * 0x100; /* inside 2 GiB */
    default: return 64 + (int64_t)fine;                /* right after */
    }
}

static void fail(const char *what, const uint8_t *code, size_t len,
                 uint64_t code_addr, uint64_t out_addr, const uint8_t *out,
                 size_t out_len)
{
    fprintf(stderr, "relocator: %s\n  code_addr 0x%llx out_addr 0x%llx\n  code:",
            what, (unsigned long long)code_addr, (unsigned long long)out_addr);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, " %02x", code[i]);
    fprintf(stderr, "\n  stub:");
    for (size_t i = 0; out && i < out_len; i++)
        fprintf(stderr, " %02x", out[i]);
    fprintf(stderr, "\n");
    abort();
}

static csh cs;

/* 1 when a relative branch among the consumed instructions lands inside
 * [code_addr, code_addr + consumed): the stub would jump into bytes the
 * hook overwrote (or back into the hook). */
static int branches_into_patch(const uint8_t *code, size_t consumed,
                               uint64_t code_addr)
{
    if (!cs) {
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
            abort();
        cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    }
    cs_insn *in = cs_malloc(cs);
    const uint8_t *p = code;
    size_t left = consumed;
    uint64_t a = code_addr;
    int hit = 0;
    while (!hit && left && cs_disasm_iter(cs, &p, &left, &a, in)) {
        if (!cs_insn_group(cs, in, CS_GRP_JUMP) &&
            !cs_insn_group(cs, in, CS_GRP_CALL))
            continue;
        const cs_x86 *x = &in->detail->x86;
        if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
            continue;
        uint64_t t = (uint64_t)x->operands[0].imm;
        if (t >= code_addr && t < code_addr + consumed)
            hit = 1;
    }
    cs_free(in, 1);
    return hit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR + 1)
        return 0;
    uint64_t code_addr = code_base[data[0] & 7] + data[1];
    uint64_t out_addr = code_addr + (uint64_t)out_delta(data[0] >> 3, data[2]);
    size_t len = size - HDR > MAX_CODE ? MAX_CODE : size - HDR;
    /* A copy of exactly len bytes, so ASan sees any read past the end. */
    uint8_t *code = malloc(len);
    if (!code)
        return 0;
    memcpy(code, data + HDR, len);

    uint8_t out[OUT_CAP + SLACK];
    memset(out, CANARY, sizeof out);
    shunt_reloc_t res = {0, 0};
    char why[256];
    memset(why, 'X', sizeof why);
    int r = shunt_relocate(code, len, code_addr, MIN_LEN, out, OUT_CAP,
                           out_addr, &res, why, sizeof why);
    if (r != 0) {
        if (r != -1)
            fail("returned neither 0 nor -1", code, len, code_addr, out_addr,
                 NULL, 0);
        if (!memchr(why, 0, sizeof why) || why[0] == 0)
            fail("refused without a reason", code, len, code_addr, out_addr,
                 NULL, 0);
        /* A refusal may leave scratch in out; only past OUT_CAP counts. */
        for (size_t i = OUT_CAP; i < sizeof out; i++)
            if (out[i] != CANARY)
                fail("refused, but wrote past out_cap", code, len, code_addr,
                     out_addr, NULL, 0);
        free(code);
        return 0;
    }
    if (res.consumed < MIN_LEN || res.consumed > len)
        fail("consumed out of range", code, len, code_addr, out_addr, out,
             res.out_len);
    if (res.out_len == 0 || res.out_len > OUT_CAP)
        fail("out_len out of range", code, len, code_addr, out_addr, out,
             res.out_len > OUT_CAP ? OUT_CAP : res.out_len);
    for (size_t i = res.out_len; i < sizeof out; i++)
        if (out[i] != CANARY)
            fail("wrote past out_len", code, len, code_addr, out_addr, out,
                 sizeof out);

    char ck[256];
    if (tramp_check_stub(code, res.consumed, code_addr, out, res.out_len,
                         out_addr, ck, sizeof ck) != 0) {
        fprintf(stderr, "stubcheck: %s\n", ck);
        fail("stub does not match the original", code, len, code_addr,
             out_addr, out, res.out_len);
    }
    if (branches_into_patch(code, res.consumed, code_addr))
        fail("moved a branch into the moved bytes", code, len, code_addr,
             out_addr, out, res.out_len);

    /* Again, into exactly out_len bytes: deterministic, and it fits. */
    uint8_t *out2 = malloc(res.out_len);
    if (!out2)
        abort();
    shunt_reloc_t res2 = {0, 0};
    r = shunt_relocate(code, len, code_addr, MIN_LEN, out2, res.out_len,
                       out_addr, &res2, why, sizeof why);
    if (r != 0 || res2.consumed != res.consumed ||
        res2.out_len != res.out_len || memcmp(out, out2, res.out_len) != 0)
        fail("second run into exactly out_len bytes differs", code, len,
             code_addr, out_addr, out, res.out_len);
    free(out2);
    free(code);
    return 0;
}
