/* The state the Go trampolines (x86_64/go_*.S) read; see shunt/gotramp.h. */
#include "shunt/gotramp.h"
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
 * mov %rax,(%rsp); mov %rbx,8(%rsp); call rel32.  Given the wrapper,
 * follow that call; given the body, return it. */
uintptr_t shunt_go_asmcgocall_body(uintptr_t a)
{
    static const uint8_t seq[] = {0x48, 0x89, 0x04, 0x24, 0x48,
                                  0x89, 0x5c, 0x24, 0x08, 0xe8};
    const uint8_t *p = (const uint8_t *)a;
    for (size_t i = 0; i < 48; i++)
        if (memcmp(p + i, seq, sizeof(seq)) == 0) {
            int32_t rel;
            memcpy(&rel, p + i + sizeof(seq), 4);
            return a + i + sizeof(seq) + 4 + (uintptr_t)(intptr_t)rel;
        }
    return a;
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
