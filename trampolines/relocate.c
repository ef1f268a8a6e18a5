/* The relocator: moves a function's first instructions into a stub at
 * another address and ends it with a jump back.  Pure: no memory is
 * mapped, nothing is logged; capstone decodes, we re-encode. */
#include "shunt/hook.h"
#include "shunt/insn.h"
#include "tramp.h"

#include <capstone/capstone.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t len;
    uint64_t addr; /* where out[0] will live */
    char *why;
    size_t whylen;
} emit_t;

/* Kinds of instruction the relocator treats differently from a plain copy. */
typedef enum {
    K_PLAIN,
    K_JCC,  /* 7x rel8, 0F 8x rel32 */
    K_JMP,  /* EB rel8, E9 rel32 */
    K_CALL, /* E8 rel32 */
    K_LOOP, /* E0-E2 loop*, E3 jrcxz: rel8 only, no near form */
    K_OTHER_REL, /* xbegin and anything else capstone calls relative */
} kind_t;

static bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

static void put32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int32_t get32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static uint8_t *room(emit_t *e, size_t n)
{
    if (e->len + n > e->cap) {
        shunt_why(-1, e->why, e->whylen, "the stub needs more than the %zu bytes given",
             e->cap);
        return NULL;
    }
    uint8_t *p = e->out + e->len;
    e->len += n;
    return p;
}

/* Displacement from the end of an n-byte instruction emitted next. */
static int64_t rel_from_here(const emit_t *e, size_t n, uint64_t target)
{
    return (int64_t)(target - (e->addr + e->len + n));
}

int shunt_emit_jmp(uint8_t *out, size_t cap, uint64_t out_addr,
                   uint64_t target)
{
    int64_t rel = (int64_t)(target - (out_addr + 5));
    if (fits32(rel)) {
        if (cap < 5)
            return -1;
        out[0] = 0xE9; /* jmp rel32 */
        put32(out + 1, (int32_t)rel);
        return 5;
    }
    if (cap < SHUNT_ABS_JMP_LEN)
        return -1;
    out[0] = 0xFF; /* jmp qword [rip+0] */
    out[1] = 0x25;
    put32(out + 2, 0);
    put64(out + 6, target); /* .quad target */
    return SHUNT_ABS_JMP_LEN;
}

static int emit_jmp(emit_t *e, uint64_t target)
{
    int n = shunt_emit_jmp(e->out + e->len, e->cap - e->len, e->addr + e->len,
                           target);
    if (n < 0)
        return shunt_why(-1, e->why, e->whylen,
                    "the stub needs more than the %zu bytes given", e->cap);
    e->len += (size_t)n;
    return 0;
}

static int emit_call(emit_t *e, uint64_t target)
{
    int64_t rel = rel_from_here(e, 5, target);
    uint8_t *p;
    if (fits32(rel)) {
        if (!(p = room(e, 5)))
            return -1;
        p[0] = 0xE8; /* call rel32: returns to the stub's next instruction */
        put32(p + 1, (int32_t)rel);
        return 0;
    }
    if (!(p = room(e, 16)))
        return -1;
    p[0] = 0xFF; /* call qword [rip+2]: the quad after the jmp below */
    p[1] = 0x15;
    put32(p + 2, 2);
    p[6] = 0xEB; /* jmp +8: the return lands here and skips the quad */
    p[7] = 0x08;
    put64(p + 8, target);
    return 0;
}

static int emit_jcc(emit_t *e, unsigned cc, uint64_t target)
{
    int64_t rel = rel_from_here(e, 6, target);
    uint8_t *p;
    if (fits32(rel)) {
        if (!(p = room(e, 6)))
            return -1;
        p[0] = 0x0F; /* jcc rel32 */
        p[1] = (uint8_t)(0x80 | cc);
        put32(p + 2, (int32_t)rel);
        return 0;
    }
    if (!(p = room(e, 2 + SHUNT_ABS_JMP_LEN)))
        return -1;
    p[0] = (uint8_t)(0x70 | (cc ^ 1)); /* j!cc over the absolute jump */
    p[1] = SHUNT_ABS_JMP_LEN;
    p[2] = 0xFF; /* jmp qword [rip+0] */
    p[3] = 0x25;
    put32(p + 4, 0);
    put64(p + 8, target);
    return 0;
}

static kind_t classify(const cs_insn *in, const cs_x86 *x, csh h)
{
    /* The opcode bytes alone mislead: capstone gives a 3DNow! instruction
     * (0F 0F /r ib) the opcode bytes 0F ib, and 0F 8A is also jp rel32.
     * Only what capstone calls a branch is read as one. */
    if (!cs_insn_group(h, in, CS_GRP_JUMP) && !cs_insn_group(h, in, CS_GRP_CALL) &&
        !cs_insn_group(h, in, CS_GRP_BRANCH_RELATIVE))
        return K_PLAIN;
    uint8_t o0 = x->opcode[0], o1 = x->opcode[1];
    if (o0 >= 0x70 && o0 <= 0x7F)
        return K_JCC;
    if (o0 == 0x0F && o1 >= 0x80 && o1 <= 0x8F)
        return K_JCC;
    if (o0 == 0xEB || o0 == 0xE9)
        return K_JMP;
    if (o0 == 0xE8)
        return K_CALL;
    if (o0 >= 0xE0 && o0 <= 0xE3)
        return K_LOOP;
    if (cs_insn_group(h, in, CS_GRP_BRANCH_RELATIVE))
        return K_OTHER_REL;
    return K_PLAIN;
}

/* The absolute target of a relative branch, read from its own bytes: the
 * displacement is the instruction's last 1 or 4 bytes. */
static uint64_t branch_target(const cs_insn *in, const cs_x86 *x)
{
    int64_t rel;
    if (x->encoding.imm_size == 1)
        rel = (int8_t)in->bytes[in->size - 1];
    else
        rel = get32(in->bytes + in->size - 4);
    return in->address + in->size + (uint64_t)rel;
}

static bool is_terminal(unsigned id)
{
    switch (id) {
    case X86_INS_RET:
    case X86_INS_RETF:
    case X86_INS_RETFQ:
    case X86_INS_IRET:
    case X86_INS_IRETD:
    case X86_INS_IRETQ:
    case X86_INS_JMP:
    case X86_INS_LJMP:
    case X86_INS_UD2:
    case X86_INS_HLT:
        return true;
    default:
        return false;
    }
}

/* The RIP-relative memory operand, if any (an instruction has at most one). */
static const cs_x86_op *rip_operand(const cs_x86 *x, bool *eip)
{
    *eip = false;
    for (unsigned i = 0; i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM)
            continue;
        if (op->mem.base == X86_REG_RIP)
            return op;
        if (op->mem.base == X86_REG_EIP) {
            *eip = true;
            return op;
        }
    }
    return NULL;
}

/* Copies one instruction that lives at code offset off, re-encoding what
 * depends on its address.  *target gets a relative branch's target (or
 * UINT64_MAX) for the range check done once consumed is known. */
static int move_insn(emit_t *e, csh h, const cs_insn *in, uint64_t code_addr,
                     uint64_t *target)
{
    const cs_x86 *x = &in->detail->x86;
    size_t off = (size_t)(in->address - code_addr);
    kind_t k = classify(in, x, h);
    *target = UINT64_MAX;

    if (k != K_PLAIN) {
        if (k == K_LOOP)
            return shunt_why(-1, e->why, e->whylen,
                        "%s at +%zu has only a rel8 form and cannot be moved",
                        cs_insn_name(h, in->id), off);
        if (k == K_OTHER_REL)
            return shunt_why(-1, e->why, e->whylen,
                        "relative %s at +%zu cannot be moved", cs_insn_name(h, in->id),
                        off);
        if (x->prefix[2] == 0x66 || x->prefix[3] == 0x67)
            return shunt_why(-1, e->why, e->whylen,
                        "%s at +%zu has a size-override prefix", cs_insn_name(h, in->id),
                        off);
        /* Prefixes dropped on purpose: bnd (F2) and branch hints (2E, 3E)
         * change nothing a relocated branch needs; REX.W is ignored. */
        *target = branch_target(in, x);
        if (k == K_JMP)
            return emit_jmp(e, *target);
        if (k == K_CALL)
            return emit_call(e, *target);
        unsigned cc = (x->opcode[0] == 0x0F ? x->opcode[1] : x->opcode[0]) & 0xF;
        return emit_jcc(e, cc, *target);
    }

    bool eip;
    const cs_x86_op *op = rip_operand(x, &eip);
    if (op && eip)
        return shunt_why(-1, e->why, e->whylen,
                    "EIP-relative operand (0x67 prefix) at +%zu", off);
    uint8_t *p = room(e, in->size);
    if (!p)
        return -1;
    memcpy(p, in->bytes, in->size);
    if (!op)
        return 0;

    size_t doff = x->encoding.disp_offset;
    if (x->encoding.disp_size != 4 || doff == 0 || doff + 4 > in->size ||
        get32(in->bytes + doff) != (int32_t)op->mem.disp)
        return shunt_why(-1, e->why, e->whylen,
                    "cannot locate the displacement of the %s at +%zu",
                    cs_insn_name(h, in->id), off);
    uint64_t abs = in->address + in->size + (uint64_t)(int64_t)(int32_t)op->mem.disp;
    uint64_t here = e->addr + (uint64_t)(p - e->out);
    int64_t disp = (int64_t)(abs - (here + in->size));
    if (!fits32(disp))
        return shunt_why(-1, e->why, e->whylen,
                    "RIP-relative operand of the %s at +%zu points to 0x%llx, "
                    "more than 2 GiB from the stub at 0x%llx",
                    cs_insn_name(h, in->id), off, (unsigned long long)abs,
                    (unsigned long long)here);
    put32(p + doff, (int32_t)disp);
    return 0;
}

static bool inside(uint64_t t, uint64_t lo, uint64_t hi)
{
    return t >= lo && t < hi;
}

static void hexbytes(char *buf, size_t cap, const uint8_t *p, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? " %02x" : "%02x", p[i]);
}

/* A relative branch read from raw bytes (legacy prefixes, REX, opcode):
 * the tail sweep runs capstone without detail, which is several times
 * faster, and needs no more than this. */
static kind_t classify_bytes(const uint8_t *b, size_t n, size_t *relsize)
{
    size_t i = 0;
    while (i < n && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xF2 ||
                     b[i] == 0xF3 || b[i] == 0xF0 || b[i] == 0x2E ||
                     b[i] == 0x3E || b[i] == 0x26 || b[i] == 0x36 ||
                     b[i] == 0x64 || b[i] == 0x65)) {
        if (b[i] == 0x66 || b[i] == 0x67)
            return K_PLAIN; /* rel16 / jecxz: not worth reading */
        i++;
    }
    if (i < n && (b[i] & 0xF0) == 0x40)
        i++;
    if (i >= n)
        return K_PLAIN;
    uint8_t o = b[i];
    *relsize = 1;
    if (o >= 0x70 && o <= 0x7F)
        return K_JCC;
    if (o == 0xEB)
        return K_JMP;
    if (o >= 0xE0 && o <= 0xE3)
        return K_LOOP;
    *relsize = 4;
    if (o == 0xE9)
        return K_JMP;
    if (o == 0xE8)
        return K_CALL;
    if (o == 0x0F && i + 1 < n && b[i + 1] >= 0x80 && b[i + 1] <= 0x8F)
        return K_JCC;
    return K_PLAIN;
}

/* Branches after the moved instructions must not land inside them: after
 * the patch those bytes hold the middle of a jmp.  A linear sweep of the
 * rest of code (stopping at the first undecodable byte) finds the loops
 * that do; a branch to the entry itself is allowed when unconditional
 * (a call or tail call, likely from a function that follows). */
static int scan_tail(csh h, cs_insn *in, const uint8_t *code, size_t code_len,
                     uint64_t code_addr, size_t consumed, char *why,
                     size_t whylen)
{
    const uint8_t *p = code + consumed;
    size_t left = code_len - consumed;
    uint64_t a = code_addr + consumed;
    while (left && cs_disasm_iter(h, &p, &left, &a, in)) {
        size_t rs = 0;
        kind_t k = classify_bytes(in->bytes, in->size, &rs);
        if (k == K_PLAIN || rs > in->size)
            continue;
        int64_t rel = rs == 1 ? (int8_t)in->bytes[in->size - 1]
                              : get32(in->bytes + in->size - 4);
        uint64_t t = in->address + in->size + (uint64_t)rel;
        bool cond = k == K_JCC || k == K_LOOP;
        if (inside(t, code_addr + (cond ? 0 : 1), code_addr + consumed))
            return shunt_why(-1, why, whylen,
                        "branch back into the overwritten bytes at +%llu "
                        "(%s at +%llu)",
                        (unsigned long long)(t - code_addr), cs_insn_name(h, in->id),
                        (unsigned long long)(in->address - code_addr));
    }
    return 0;
}

/* One decoder kept for the process (cs_open is costly); a caller that
 * finds it busy opens its own. */
static pthread_mutex_t dec_lock = PTHREAD_MUTEX_INITIALIZER;
static csh dec_h;
static cs_insn *dec_in;

static int dec_open(csh *h, cs_insn **in)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK)
        return -1;
    cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
    /* AT&T: capstone 4's Intel printer sorts a table with qsort on its first
     * use, which mallocs with the program's allocator; the layer installs
     * hooks before any other initialiser (docs/hooking.md, "Start-up") and
     * must not start a replacement malloc's own initialisation then.
     * Messages name instructions with cs_insn_name, the same in both. */
    cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
    if (!(*in = cs_malloc(*h))) {
        cs_close(h);
        return -1;
    }
    return 0;
}

__thread int shunt_insn_quiet __attribute__((tls_model("initial-exec")));

static bool dec_get(csh *h, cs_insn **in)
{
    shunt_insn_quiet++;
    if (pthread_mutex_trylock(&dec_lock) == 0) {
        if (dec_in || dec_open(&dec_h, &dec_in) == 0) {
            *h = dec_h;
            *in = dec_in;
            return true;
        }
        pthread_mutex_unlock(&dec_lock);
    }
    if (dec_open(h, in) == 0)
        return true;
    shunt_insn_quiet--;
    return false;
}

static void dec_put(csh h, cs_insn *in)
{
    shunt_insn_quiet--;
    cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
    if (in == dec_in) {
        pthread_mutex_unlock(&dec_lock);
        return;
    }
    cs_free(in, 1);
    cs_close(&h);
}

int shunt_insn_each(const uint8_t *code, size_t len, uint64_t addr,
                    int (*fn)(const cs_insn *in, void *arg), void *arg)
{
    csh h;
    cs_insn *in;
    if (!code || !dec_get(&h, &in))
        return -1;
    int rc = 0;
    while (len && cs_disasm_iter(h, &code, &len, &addr, in))
        if ((rc = fn(in, arg)) != 0)
            break;
    dec_put(h, in);
    return rc;
}

static const cs_x86_op *insn_op(const cs_insn *in, uint8_t access)
{
    const cs_x86 *x = &in->detail->x86;
    for (int i = 0; i < x->op_count; i++)
        if (x->operands[i].access == access)
            return &x->operands[i];
    return NULL;
}

const cs_x86_op *shunt_insn_dst(const cs_insn *in)
{
    return insn_op(in, CS_AC_WRITE);
}

/* An immediate is read without an access mark. */
const cs_x86_op *shunt_insn_src(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    for (int i = 0; i < x->op_count; i++)
        if (x->operands[i].access == CS_AC_READ ||
            x->operands[i].type == X86_OP_IMM)
            return &x->operands[i];
    return NULL;
}

int shunt_insn_is_mov_imm(const cs_insn *in, x86_reg reg, int64_t imm)
{
    const cs_x86_op *d = shunt_insn_dst(in), *s = shunt_insn_src(in);
    if (in->id != X86_INS_MOV || !d || !s || d->type != X86_OP_REG ||
        d->reg != reg || s->type != X86_OP_IMM)
        return 0;
    /* Compared at the register's width: capstone gives the immediate of
     * mov $-100,%edi as 0xffffff9c. */
    uint64_t mask = d->size >= 8 ? ~0ull : (1ull << (8 * d->size)) - 1;
    return ((uint64_t)s->imm & mask) == ((uint64_t)imm & mask);
}

int shunt_insn_is_store(const cs_insn *in, x86_reg reg, x86_reg base,
                        int64_t disp)
{
    const cs_x86_op *d = shunt_insn_dst(in), *s = shunt_insn_src(in);
    return in->id == X86_INS_MOV && d && s && s->type == X86_OP_REG &&
           s->reg == reg && d->type == X86_OP_MEM && d->mem.base == base &&
           d->mem.index == X86_REG_INVALID &&
           d->mem.segment == X86_REG_INVALID && d->mem.disp == disp;
}

uint64_t shunt_insn_call_rel32(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    if (in->id != X86_INS_CALL || in->size != 5 || in->bytes[0] != 0xe8 ||
        x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
        return 0;
    return (uint64_t)x->operands[0].imm;
}

int shunt_relocate(const uint8_t *code, size_t code_len, uint64_t code_addr,
                   size_t min_len, uint8_t *out, size_t out_cap,
                   uint64_t out_addr, shunt_reloc_t *res, char *why,
                   size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!code || !out || !res || min_len == 0 || min_len > 64)
        return shunt_why(-1, why, whylen, "bad arguments");

    csh h;
    cs_insn *in;
    if (!dec_get(&h, &in))
        return shunt_why(-1, why, whylen, "capstone: cannot open an x86-64 decoder");

    emit_t e = {out, out_cap, 0, out_addr, why, whylen};
    uint64_t targets[64];
    size_t ntargets = 0;
    int rc = 0;
    const uint8_t *p = code;
    size_t left = code_len;
    uint64_t a = code_addr;
    size_t pos = 0;
    while (pos < min_len) {
        if (left == 0) {
            rc = shunt_why(-1, why, whylen, "code ends at +%zu, before %zu bytes",
                      pos, min_len);
            goto out;
        }
        if (!cs_disasm_iter(h, &p, &left, &a, in)) {
            char hex[64];
            hexbytes(hex, sizeof hex, code + pos,
                     code_len - pos < 8 ? code_len - pos : 8);
            rc = shunt_why(-1, why, whylen, "cannot decode the instruction at +%zu (%s)",
                      pos, hex);
            goto out;
        }
        if (in->id == X86_INS_INT3) {
            rc = shunt_why(-1, why, whylen,
                      "int3 at +%zu (a debugger's breakpoint, or padding)", pos);
            goto out;
        }
        if (is_terminal(in->id) && pos + in->size < min_len) {
            rc = shunt_why(-1, why, whylen,
                      "function ends before %zu bytes (%s at +%zu)", min_len,
                      cs_insn_name(h, in->id), pos);
            goto out;
        }
        uint64_t t;
        if ((rc = move_insn(&e, h, in, code_addr, &t)) < 0)
            goto out;
        if (t != UINT64_MAX)
            targets[ntargets++] = t;
        pos += in->size;
    }
    for (size_t i = 0; i < ntargets; i++)
        if (inside(targets[i], code_addr, code_addr + pos)) {
            rc = shunt_why(-1, why, whylen,
                      "branch back into the overwritten bytes at +%llu",
                      (unsigned long long)(targets[i] - code_addr));
            goto out;
        }
    cs_option(h, CS_OPT_DETAIL, CS_OPT_OFF);
    if ((rc = scan_tail(h, in, code, code_len, code_addr, pos, why, whylen)) < 0)
        goto out;
    if ((rc = emit_jmp(&e, code_addr + pos)) < 0)
        goto out;
    res->consumed = pos;
    res->out_len = e.len;
out:
    dec_put(h, in);
    return rc;
}
