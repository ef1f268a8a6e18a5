/* Go < 1.19: where to patch syscall.Syscall, Syscall6, RawSyscall and
 * RawSyscall6 (ABI0 assembly), and the patch itself.  The run of argument
 * loads that ends in SYSCALL is replaced by a jmp to go_abi0.S, which
 * jumps back after the SYSCALL (docs/go.md).  Only a run that looks
 * exactly as Go's assembler writes it is accepted. */
#include "shunt/gotramp.h"
#include "shunt/hook.h"
#include "tramp.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>

uintptr_t shunt_go_abi0_resume[SHUNT_GO_ABI0_N];

#define JMP_LEN 5
#define MAX_LOADS 7
#define SCAN_MAX 256 /* bytes of a function read (Syscall6 is 107 in 1.18) */

static const char *const fn_names[SHUNT_GO_ABI0_N] = {
    "syscall.Syscall", "syscall.Syscall6", "syscall.RawSyscall",
    "syscall.RawSyscall6"};

const char *shunt_go_abi0_name(int which)
{
    return which >= 0 && which < SHUNT_GO_ABI0_N ? fn_names[which] : "?";
}

void *shunt_go_abi0_entry(int which)
{
    switch (which) {
    case SHUNT_GO_ABI0_SYSCALL: return (void *)shunt_go_abi0_syscall_entry;
    case SHUNT_GO_ABI0_SYSCALL6: return (void *)shunt_go_abi0_syscall6_entry;
    case SHUNT_GO_ABI0_RAWSYSCALL: return (void *)shunt_go_abi0_rawsyscall_entry;
    case SHUNT_GO_ABI0_RAWSYSCALL6: return (void *)shunt_go_abi0_rawsyscall6_entry;
    default: return NULL;
    }
}

/* The frame slot each kernel register is loaded from (ABI0, SP at entry):
 * AX = trap 8(SP), DI SI DX R10 R8 R9 = a1..a6 at 16..56(SP). */
static int slot_of(x86_reg r)
{
    switch (r) {
    case X86_REG_RAX: return 8;
    case X86_REG_RDI: return 16;
    case X86_REG_RSI: return 24;
    case X86_REG_RDX: return 32;
    case X86_REG_R10: return 40;
    case X86_REG_R8: return 48;
    case X86_REG_R9: return 56;
    default: return -1;
    }
}

/* mov REG64, qword ptr [rsp + disp]: the slot's bit (1 << disp/8), or 0. */
static unsigned load_bit(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    if (in->id != X86_INS_MOV || x->op_count != 2)
        return 0;
    const cs_x86_op *d = &x->operands[0], *s = &x->operands[1];
    if (d->type != X86_OP_REG || s->type != X86_OP_MEM || s->size != 8)
        return 0;
    if (s->mem.base != X86_REG_RSP || s->mem.index != X86_REG_INVALID ||
        s->mem.segment != X86_REG_INVALID)
        return 0;
    int slot = slot_of(d->reg);
    if (slot < 0 || s->mem.disp != slot)
        return 0;
    return 1u << (slot / 8);
}

static bool is_rel_branch(csh h, const cs_insn *in)
{
    return cs_insn_group(h, in, CS_GRP_BRANCH_RELATIVE) &&
           in->detail->x86.op_count == 1 &&
           in->detail->x86.operands[0].type == X86_OP_IMM;
}

int shunt_go_abi0_site(int which, const uint8_t *code, size_t len,
                       uint64_t addr, shunt_go_site_t *site, char *why,
                       size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (which < 0 || which >= SHUNT_GO_ABI0_N || !code || !site)
        return shunt_why(-1, why, whylen, "bad arguments");
    bool raw = which == SHUNT_GO_ABI0_RAWSYSCALL ||
               which == SHUNT_GO_ABI0_RAWSYSCALL6;
    int nargs = which == SHUNT_GO_ABI0_SYSCALL6 ||
                        which == SHUNT_GO_ABI0_RAWSYSCALL6 ? 6 : 3;
    /* trap, a1..nargs: bits 1..nargs+1 */
    unsigned want = ((1u << (nargs + 1)) - 1) << 1;
    if (len > SCAN_MAX)
        len = SCAN_MAX;

    csh h;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
        return shunt_why(-1, why, whylen, "capstone: cannot open a decoder");
    cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
    cs_insn *in = cs_malloc(h);
    if (!in) {
        cs_close(&h);
        return shunt_why(-1, why, whylen, "capstone: out of memory");
    }
    const uint8_t *p = code;
    size_t left = len;
    uint64_t a = addr;
    int rc = -1;
    const char *name = fn_names[which];
#define NEXT() cs_disasm_iter(h, &p, &left, &a, in)

    /* Syscall, Syscall6: CALL runtime.entersyscall first. */
    if (!raw) {
        if (!NEXT() || in->id != X86_INS_CALL || !is_rel_branch(h, in)) {
            shunt_why(-1, why, whylen, "%s: does not start with a call of "
                 "runtime.entersyscall", name);
            goto out;
        }
    }
    uint64_t patch = a;
    unsigned seen = 0;
    for (int n = 0;; n++) {
        if (!NEXT()) {
            shunt_why(-1, why, whylen, "%s+%#llx: cannot decode", name,
                 (unsigned long long)(a - addr));
            goto out;
        }
        if (in->id == X86_INS_SYSCALL)
            break;
        unsigned bit = load_bit(in);
        if (!bit || (seen & bit) || n == MAX_LOADS) {
            shunt_why(-1, why, whylen, "%s+%#llx: %s %s is not a load of a system-call "
                 "argument from the frame", name,
                 (unsigned long long)(in->address - addr), in->mnemonic,
                 in->op_str);
            goto out;
        }
        seen |= bit;
    }
    uint64_t resume = a;
    if (seen != want) {
        shunt_why(-1, why, whylen, "%s: the loads before SYSCALL set %#x, not the %d "
             "arguments and the number (%#x)", name, seen, nargs, want);
        goto out;
    }
    if (resume - patch < JMP_LEN + 2) { /* loads (>= 5) + SYSCALL (2) */
        shunt_why(-1, why, whylen, "%s: %llu bytes before SYSCALL, fewer than a jmp",
             name, (unsigned long long)(resume - patch - 2));
        goto out;
    }
    /* Nothing later in the function may branch into the replaced run
     * (Go's function ends at the int3 padding). */
    while (left && *p != 0xCC && NEXT()) {
        if (!is_rel_branch(h, in))
            continue;
        uint64_t t = (uint64_t)in->detail->x86.operands[0].imm;
        if (t > patch && t < resume) {
            shunt_why(-1, why, whylen, "%s+%#llx: a branch into the replaced run", name,
                 (unsigned long long)(in->address - addr));
            goto out;
        }
    }
#undef NEXT
    site->patch = patch;
    site->resume = resume;
    rc = 0;
out:
    cs_free(in, 1);
    cs_close(&h);
    return rc;
}

int shunt_go_abi0_check(int which, uintptr_t fn, shunt_go_site_t *site,
                        char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    shunt_map_t m;
    if (which < 0 || which >= SHUNT_GO_ABI0_N || !fn || !site) {
        shunt_why(-1, why, whylen, "bad arguments");
        return -EINVAL;
    }
    if (shunt_maps_find(fn, &m) < 0 ||
        (m.prot & (PROT_READ | PROT_EXEC)) != (PROT_READ | PROT_EXEC)) {
        shunt_why(-1, why, whylen, "%s: %#lx is not mapped executable",
             fn_names[which], (unsigned long)fn);
        return -EINVAL;
    }
    size_t len = m.end - fn < SCAN_MAX ? (size_t)(m.end - fn) : SCAN_MAX;
    if (shunt_go_abi0_site(which, (const uint8_t *)fn, len, fn, site, why,
                           whylen) < 0)
        return -ENOTSUP;
    return 0;
}

int shunt_go_abi0_install(int which, uintptr_t fn, char *why, size_t whylen)
{
    shunt_go_site_t s;
    int rc = shunt_go_abi0_check(which, fn, &s, why, whylen);
    if (rc < 0)
        return rc;
    /* Published before the jmp can be taken. */
    __atomic_store_n(&shunt_go_abi0_resume[which], (uintptr_t)s.resume,
                     __ATOMIC_RELEASE);
    void *unused = NULL; /* the relocated loads: never run */
    char r[192];
    rc = shunt_hook_install((void *)(uintptr_t)s.patch,
                            shunt_go_abi0_entry(which), &unused, r, sizeof r);
    if (rc < 0)
        shunt_why(-1, why, whylen, "%s: %s", fn_names[which], r);
    return rc;
}
