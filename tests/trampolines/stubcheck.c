/* The stub checker: decodes the original and the stub side by side with
 * capstone and compares what each instruction means, not how it is
 * encoded (a short jcc may become a near one or an absolute sequence). */
#include "stubcheck.h"
#include "shunt/hook.h"

#include <capstone/capstone.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    csh h;
    cs_insn *o, *s;
    const uint8_t *stub;
    size_t stub_len, spos;
    uint64_t stub_addr;
    char *why;
    size_t whylen;
} ck_t;

static int bad(ck_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(ck_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, c->whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t quad(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool decode(ck_t *c, size_t at, cs_insn *in)
{
    if (at >= c->stub_len)
        return false;
    const uint8_t *p = c->stub + at;
    size_t left = c->stub_len - at;
    uint64_t a = c->stub_addr + at;
    return cs_disasm_iter(c->h, &p, &left, &a, in);
}

/* Bytes of the absolute forms the relocator may write. */
static const uint8_t JMP_ABS[6] = {0xFF, 0x25, 0, 0, 0, 0};
static const uint8_t CALL_ABS[8] = {0xFF, 0x15, 2, 0, 0, 0, 0xEB, 0x08};

static bool has(ck_t *c, size_t at, const uint8_t *b, size_t n)
{
    return at + n <= c->stub_len && memcmp(c->stub + at, b, n) == 0;
}

static unsigned cond_of(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    return (x->opcode[0] == 0x0F ? x->opcode[1] : x->opcode[0]) & 0xF;
}

static bool is_jcc(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    return (x->opcode[0] >= 0x70 && x->opcode[0] <= 0x7F) ||
           (x->opcode[0] == 0x0F && x->opcode[1] >= 0x80 && x->opcode[1] <= 0x8F);
}

static bool is_rel(const cs_insn *in, unsigned id)
{
    return in->id == id && in->detail->x86.op_count == 1 &&
           in->detail->x86.operands[0].type == X86_OP_IMM;
}

/* Consumes, at c->spos, a transfer of the kind of o (jmp, call or jcc with
 * o's condition) to target. */
static int expect_branch(ck_t *c, const cs_insn *o, uint64_t target)
{
    size_t at = c->spos;
    cs_insn *s = c->s;
    bool call = o->id == X86_INS_CALL, jmp = o->id == X86_INS_JMP;
    if (decode(c, at, s)) {
        bool same = call ? is_rel(s, X86_INS_CALL)
                  : jmp  ? is_rel(s, X86_INS_JMP)
                         : is_jcc(s) && cond_of(s) == cond_of(o);
        if (same) {
            if ((uint64_t)s->detail->x86.operands[0].imm != target)
                return bad(c, "+%zu: %s goes to 0x%llx, not 0x%llx", at,
                           s->mnemonic,
                           (unsigned long long)s->detail->x86.operands[0].imm,
                           (unsigned long long)target);
            c->spos += s->size;
            return 0;
        }
    }
    if (jmp && has(c, at, JMP_ABS, 6) && at + 14 <= c->stub_len) {
        if (quad(c->stub + at + 6) != target)
            return bad(c, "+%zu: absolute jmp to the wrong address", at);
        c->spos += 14;
        return 0;
    }
    if (call && has(c, at, CALL_ABS, 8) && at + 16 <= c->stub_len) {
        if (quad(c->stub + at + 8) != target)
            return bad(c, "+%zu: absolute call to the wrong address", at);
        c->spos += 16;
        return 0;
    }
    if (!call && !jmp && at + 16 <= c->stub_len &&
        c->stub[at] == (0x70 | (cond_of(o) ^ 1)) && c->stub[at + 1] == 14 &&
        has(c, at + 2, JMP_ABS, 6)) {
        if (quad(c->stub + at + 8) != target)
            return bad(c, "+%zu: absolute %s to the wrong address", at,
                       o->mnemonic);
        c->spos += 16;
        return 0;
    }
    return bad(c, "+%zu: expected a %s to 0x%llx", at, o->mnemonic,
               (unsigned long long)target);
}

static const cs_x86_op *rip_op(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    for (unsigned i = 0; i < x->op_count; i++)
        if (x->operands[i].type == X86_OP_MEM &&
            x->operands[i].mem.base == X86_REG_RIP)
            return &x->operands[i];
    return NULL;
}

static int expect_same(ck_t *c, const cs_insn *o)
{
    size_t at = c->spos;
    cs_insn *s = c->s;
    if (!decode(c, at, s))
        return bad(c, "+%zu: stub does not decode", at);
    if (s->id != o->id || s->size != o->size)
        return bad(c, "+%zu: %s %s instead of %s %s", at, s->mnemonic,
                   s->op_str, o->mnemonic, o->op_str);
    const cs_x86_op *ro = rip_op(o), *rs = rip_op(s);
    if (!ro != !rs)
        return bad(c, "+%zu: RIP-relative operand lost or gained", at);
    size_t doff = ro ? o->detail->x86.encoding.disp_offset : o->size;
    for (size_t i = 0; i < o->size; i++)
        if ((i < doff || i >= doff + 4) && s->bytes[i] != o->bytes[i])
            return bad(c, "+%zu: %s changed at byte %zu", at, o->mnemonic, i);
    if (ro) {
        uint64_t to = o->address + o->size + (uint64_t)ro->mem.disp;
        uint64_t ts = s->address + s->size + (uint64_t)rs->mem.disp;
        if (to != ts)
            return bad(c, "+%zu: %s reaches 0x%llx instead of 0x%llx", at,
                       o->mnemonic, (unsigned long long)ts,
                       (unsigned long long)to);
    }
    c->spos += s->size;
    return 0;
}

int tramp_check_stub(const uint8_t *orig, size_t consumed, uint64_t orig_addr,
                     const uint8_t *stub, size_t stub_len, uint64_t stub_addr,
                     char *why, size_t whylen)
{
    ck_t c = {.stub = stub, .stub_len = stub_len, .stub_addr = stub_addr,
              .why = why, .whylen = whylen};
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &c.h) != CS_ERR_OK)
        return bad(&c, "capstone: cs_open");
    cs_option(c.h, CS_OPT_DETAIL, CS_OPT_ON);
    c.o = cs_malloc(c.h);
    c.s = cs_malloc(c.h);
    int rc = 0;
    const uint8_t *p = orig;
    size_t left = consumed;
    uint64_t a = orig_addr;
    while (rc == 0 && left) {
        size_t opos = consumed - left;
        if (!cs_disasm_iter(c.h, &p, &left, &a, c.o)) {
            rc = bad(&c, "original +%zu does not decode", opos);
            break;
        }
        const cs_x86 *x = &c.o->detail->x86;
        bool rel = x->op_count == 1 && x->operands[0].type == X86_OP_IMM &&
                   (c.o->id == X86_INS_JMP || c.o->id == X86_INS_CALL ||
                    is_jcc(c.o));
        rc = rel ? expect_branch(&c, c.o, (uint64_t)x->operands[0].imm)
                 : expect_same(&c, c.o);
    }
    if (rc == 0 && left == 0) {
        cs_insn back; /* only .id and .mnemonic are read */
        memset(&back, 0, sizeof back);
        back.id = X86_INS_JMP;
        memcpy(back.mnemonic, "jmp", 4);
        rc = expect_branch(&c, &back, orig_addr + consumed);
    }
    if (rc == 0 && c.spos != stub_len)
        rc = bad(&c, "%zu stray bytes after the jump back", stub_len - c.spos);
    cs_free(c.o, 1);
    cs_free(c.s, 1);
    cs_close(&c.h);
    return rc;
}

void tramp_print_diff(const uint8_t *want, size_t nwant, const uint8_t *got,
                      size_t ngot)
{
    size_t n = nwant > ngot ? nwant : ngot;
    fprintf(stderr, "  off  want got\n");
    for (size_t i = 0; i < n; i++) {
        char w[4] = "--", g[4] = "--";
        if (i < nwant)
            snprintf(w, sizeof w, "%02x", want[i]);
        if (i < ngot)
            snprintf(g, sizeof g, "%02x", got[i]);
        bool differ = i >= nwant || i >= ngot || want[i] != got[i];
        fprintf(stderr, "  %3zu  %s   %s%s\n", i, w, g, differ ? "  <--" : "");
    }
}

int tramp_hook_checked(void *fn, void *detour, void **original, char *why,
                       size_t whylen)
{
    uint8_t saved[64];
    memcpy(saved, fn, sizeof saved);
    int rc = shunt_hook_install(fn, detour, original, why, whylen);
    if (rc != 0)
        return rc;
    uint64_t at = (uint64_t)(uintptr_t)fn;
    uint64_t stub = (uint64_t)(uintptr_t)*original;
    const uint8_t *entry = fn;
    if (entry[0] != 0xE9) {
        snprintf(why, whylen, "the entry starts with %02x, not jmp rel32",
                 entry[0]);
        return 1;
    }
    shunt_reloc_t r;
    uint8_t want[256];
    if (shunt_relocate(saved, sizeof saved, at, 5, want, sizeof want, stub, &r,
                       why, whylen) != 0)
        return 1;
    if (memcmp(want, *original, r.out_len) != 0) {
        tramp_print_diff(want, r.out_len, *original, r.out_len);
        snprintf(why, whylen, "the stub differs from a fresh relocation");
        return 1;
    }
    if (tramp_check_stub(saved, r.consumed, at, *original, r.out_len, stub,
                         why, whylen) != 0)
        return 1;
    return 0;
}

int tramp_maps_line(const void *addr, char *line, size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    char *buf = NULL;
    size_t n = 0;
    int rc = -1;
    unsigned long long a = (uintptr_t)addr, page = a & ~4095ull;
    while (getline(&buf, &n, f) > 0) {
        unsigned long long lo, hi, off;
        char perms[8];
        int rest = 0;
        if (sscanf(buf, "%llx-%llx %7s %llx %n", &lo, &hi, perms, &off,
                   &rest) != 4 ||
            a < lo || a >= hi)
            continue;
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(line, cap, "%llx-%llx %s %08llx %s", page, page + 4096,
                 perms, off + (page - lo), buf + rest);
        rc = 0;
        break;
    }
    free(buf);
    fclose(f);
    return rc;
}
