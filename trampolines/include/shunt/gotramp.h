/* Trampolines for Go's syscall entry points (trampolines/x86_64/go_*.S,
 * docs/go.md).  The hook engine patches Go's Syscall6 to jump to
 * shunt_go_syscall6_entry and syscall.rawVforkSyscall to jump to
 * shunt_go_vfork_entry.  The user of the trampolines (the layer, or a test)
 * fills the variables below before patching. */
#ifndef SHUNT_GOTRAMP_H
#define SHUNT_GOTRAMP_H

/* Hidden: the assembly reaches them RIP-relative, also inside a .so. */
#define SHUNT_GO_HIDDEN __attribute__((visibility("hidden")))

#include <stdint.h>

/* One raw system call as the C handler sees it.  Layout fixed: the
 * assembly writes and reads it at these offsets. */
typedef struct {
    long nr;   /* +0   system call number (Go's AX) */
    long a[6]; /* +8   arguments a1..a6 (Go's BX, CX, DI, SI, R8, R9) */
    long ret;  /* +56  out: result >= 0, or -errno */
} shunt_go_call_t;

/* Number of system-call numbers covered by shunt_go_want. */
#define SHUNT_GO_NR_MAX 512

/* Called on the thread's g0 (system) stack through runtime.asmcgocall,
 * for every system call whose bit is set in shunt_go_want; it must fill
 * call->ret.  Any other system call is made by the trampoline itself, on
 * the goroutine's stack, exactly as Go's own Syscall6 would. */
SHUNT_GO_HIDDEN extern void (*shunt_go_handler)(shunt_go_call_t *call);
/* Run-time address of runtime.asmcgocall (ABI0: fn at 8(SP), arg at
 * 16(SP), int32 result at 24(SP)). */
SHUNT_GO_HIDDEN extern uintptr_t shunt_go_asmcgocall;
/* One bit per system-call number: 1 = call shunt_go_handler. */
SHUNT_GO_HIDDEN extern uint64_t shunt_go_want[SHUNT_GO_NR_MAX / 64];
/* The relocated original of syscall.rawVforkSyscall (set by
 * shunt_hook_install as its *original). */
SHUNT_GO_HIDDEN extern void *shunt_go_vfork_orig;
/* Per thread: the tid of a thread that started a clone/vfork, 0 if none.
 * A thread whose tid differs from a nonzero value here is a child sharing
 * (or copying) the memory of that thread: the trampoline never calls the
 * handler there. */
SHUNT_GO_HIDDEN extern __thread int shunt_go_fork_tid __attribute__((tls_model("initial-exec")));

/* The ABI0 body of runtime.asmcgocall given the run-time address found
 * for it (which, in a stripped program, may be its ABIInternal wrapper:
 * then the wrapper's call is followed).  Reads the code at a. */
SHUNT_GO_HIDDEN uintptr_t shunt_go_asmcgocall_body(uintptr_t a);

/* Entry points, not callable from C: the targets of the patched jumps. */
SHUNT_GO_HIDDEN void shunt_go_syscall6_entry(void);
SHUNT_GO_HIDDEN void shunt_go_vfork_entry(void);

#endif
