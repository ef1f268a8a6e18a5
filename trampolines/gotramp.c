/* The state the Go trampolines (x86_64/go_*.S) read; see shunt/gotramp.h. */
#include "shunt/gotramp.h"
#include "shunt/insn.h"
#include "tramp.h"

#include <stddef.h>
#include <string.h>

void (*shunt_go_handler)(shunt_go_call_t *call);
uintptr_t shunt_go_asmcgocall;
uint64_t shunt_go_want[SHUNT_GO_NR_MAX / 64];
void *shunt_go_vfork_orig;
__thread int shunt_go_fork_tid __attribute__((tls_model("initial-exec")));
shunt_go_exec_slot_t shunt_go_exec_ring[SHUNT_GO_EXEC_SLOTS];
unsigned shunt_go_exec_seq;

/* The assembly hard-codes these offsets. */
_Static_assert(offsetof(shunt_go_call_t, nr) == 0, "nr at +0");
_Static_assert(offsetof(shunt_go_call_t, a) == 8, "a at +8");
_Static_assert(offsetof(shunt_go_call_t, ret) == 56, "ret at +56");
_Static_assert(sizeof(shunt_go_call_t) == 64, "64 bytes");
_Static_assert(sizeof(shunt_go_exec_slot_t) == 4096 &&
                   offsetof(shunt_go_exec_slot_t, path) == 4,
               "go_syscall6.S: slot = 4096 bytes, path at +4");
_Static_assert(SHUNT_GO_EXEC_SLOTS == 8, "go_syscall6.S masks with 7");

/* In a stripped program the pclntab names runtime.asmcgocall's ABIInternal
 * wrapper like the ABI0 body, and the reader keeps the first it meets.
 * The wrapper stores AX and BX as the ABI0 arguments and calls the body:
 * mov %rax,(%rsp); mov %rbx,8(%rsp); call rel32, starting within its first
 * 48 bytes.  Given the wrapper, follow that call; given the body, return
 * it. */
typedef struct {
    uintptr_t start;
    int stage; /* 0, 1: after the store of AX, 2: and of BX */
    uintptr_t body;
} cgo_walk_t;

static int cgo_step(const cs_insn *in, void *arg)
{
    cgo_walk_t *w = arg;
    if (w->stage == 2 && (w->body = shunt_insn_call_rel32(in)) != 0)
        return 1;
    if (w->stage == 1 && shunt_insn_is_store(in, X86_REG_RBX, X86_REG_RSP, 8)) {
        w->stage = 2;
        return 0;
    }
    w->stage = in->address - w->start < 48 &&
               shunt_insn_is_store(in, X86_REG_RAX, X86_REG_RSP, 0);
    return in->address - w->start >= 48 && w->stage == 0 ? -1 : 0;
}

uintptr_t shunt_go_asmcgocall_body(uintptr_t a)
{
    cgo_walk_t w = {a, 0, 0};
    /* 48 bytes, and the two stores and the call after the last start */
    return shunt_insn_each((const uint8_t *)a, 48 + 14, a, cgo_step, &w) == 1
               ? w.body
               : a;
}

int shunt_go_family(const shunt_goinfo_t *gi, char *why, size_t whylen)
{
    const char *v = gi->version[0] ? gi->version : "Go";
    if (gi->major != 1 || gi->minor < SHUNT_GO_MIN_MINOR)
        return shunt_why(-1, why, whylen, "%s is not supported: hooking starts "
                         "at Go 1.%d (older runtimes are not tested; "
                         "docs/go.md)", v, SHUNT_GO_MIN_MINOR);
    if (!gi->asmcgocall)
        return shunt_why(-1, why, whylen, "%s: runtime.asmcgocall not found",
                         v);
    if (gi->minor >= 19) {
        if (!gi->syscall6)
            return shunt_why(-1, why, whylen, "%s: its Syscall6 was not found",
                             v);
        return SHUNT_GO_SYSCALL6;
    }
    if (!gi->syscall_abi0[0] || !gi->syscall_abi0[1] || !gi->syscall_abi0[2])
        return shunt_why(-1, why, whylen, "%s: syscall.Syscall, Syscall6 and "
                         "RawSyscall (ABI0) were not all found", v);
    return SHUNT_GO_ABI0;
}
