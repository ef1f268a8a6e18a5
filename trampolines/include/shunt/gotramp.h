/* Trampolines for Go's syscall entry points (trampolines/x86_64/go_*.S,
 * docs/go.md).  The hook engine patches Go's Syscall6 to jump to
 * shunt_go_syscall6_entry and syscall.rawVforkSyscall to jump to
 * shunt_go_vfork_entry.  The user of the trampolines (the layer, or a test)
 * fills the variables below before patching. */
#ifndef SHUNT_GOTRAMP_H
#define SHUNT_GOTRAMP_H

/* Hidden: the assembly reaches them RIP-relative, also inside a .so. */
#define SHUNT_GO_HIDDEN __attribute__((visibility("hidden")))

#include "shunt/goinfo.h"

#include <stddef.h>
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
/* What os/exec's children exec: such a child (vfork: it shares its
 * parent's memory) never runs the handler, so when its execve (wanted)
 * reaches the trampoline, the path is copied here (slot seq++ % N, ready
 * set to 1 after the copy; cut at SHUNT_GO_EXEC_PATH - 1 bytes) for the
 * layer to look at from its next handled call (layer/go.c). */
#define SHUNT_GO_EXEC_SLOTS 8 /* a power of two: go_syscall6.S masks */
#define SHUNT_GO_EXEC_PATH 4092
typedef struct {
    int ready;
    char path[SHUNT_GO_EXEC_PATH];
} shunt_go_exec_slot_t;
SHUNT_GO_HIDDEN extern shunt_go_exec_slot_t shunt_go_exec_ring[SHUNT_GO_EXEC_SLOTS];
SHUNT_GO_HIDDEN extern unsigned shunt_go_exec_seq;

/* The ABI0 body of runtime.asmcgocall given the run-time address found
 * for it (which, in a stripped program, may be its ABIInternal wrapper:
 * then the wrapper's call is followed).  Reads the code at a. */
SHUNT_GO_HIDDEN uintptr_t shunt_go_asmcgocall_body(uintptr_t a);

/* Entry points, not callable from C: the targets of the patched jumps. */
SHUNT_GO_HIDDEN void shunt_go_syscall6_entry(void);
SHUNT_GO_HIDDEN void shunt_go_vfork_entry(void);

/* ---- Go < 1.19: the ABI0 functions of src/syscall/asm_linux_amd64.s ----
 * Patched inside, not at the entry: the run of argument loads ending in
 * SYSCALL jumps to go_abi0.S, which makes the call as the Syscall6
 * trampoline does and jumps back after the SYSCALL with the kernel's
 * AX (result or -errno) and DX (r2).  Indexes: */
enum {
    SHUNT_GO_ABI0_SYSCALL,     /* syscall.Syscall(trap, a1, a2, a3) */
    SHUNT_GO_ABI0_SYSCALL6,    /* syscall.Syscall6(trap, a1..a6) */
    SHUNT_GO_ABI0_RAWSYSCALL,  /* syscall.RawSyscall(trap, a1, a2, a3) */
    SHUNT_GO_ABI0_RAWSYSCALL6, /* syscall.RawSyscall6(trap, a1..a6) */
    SHUNT_GO_ABI0_N
};

/* Where the patched jmp goes and where the entry jumps back to. */
typedef struct {
    uint64_t patch;  /* first load after the CALL of entersyscall (Raw*: the entry) */
    uint64_t resume; /* the instruction after SYSCALL */
} shunt_go_site_t;

/* Per index: the address after the replaced SYSCALL (go_abi0.S jumps
 * there); set by shunt_go_abi0_install before its jmp is written. */
SHUNT_GO_HIDDEN extern uintptr_t shunt_go_abi0_resume[SHUNT_GO_ABI0_N];

/* Checks the code of function `which` (len bytes at code, living at addr):
 * [CALL rel32 (not for Raw*)], then only loads `mov REG, N(SP)` of the
 * number (AX, 8(SP)) and each argument (DI SI DX R10 R8 R9 from 16..56(SP)),
 * each once, exactly those the function takes, then SYSCALL; and no
 * relative branch later in the function (up to int3 padding) lands
 * inside that run.  0 with *site filled, or -1 with a reason.  Pure: reads
 * code only (capstone allocates). */
SHUNT_GO_HIDDEN int shunt_go_abi0_site(int which, const uint8_t *code,
                                       size_t len, uint64_t addr,
                                       shunt_go_site_t *site, char *why,
                                       size_t whylen);

/* shunt_go_abi0_site on function `which` at its run-time address fn (read
 * up to the end of its mapping).  0, or -errno with a reason (-ENOTSUP:
 * the code is not as expected). */
SHUNT_GO_HIDDEN int shunt_go_abi0_check(int which, uintptr_t fn,
                                        shunt_go_site_t *site, char *why,
                                        size_t whylen);

/* Checks function `which` at its run-time address fn and patches its run
 * (shunt_hook_install at site.patch; may be called inside a hook batch).
 * 0, or -errno with a reason (-ENOTSUP: the code is not as expected;
 * nothing was changed). */
SHUNT_GO_HIDDEN int shunt_go_abi0_install(int which, uintptr_t fn, char *why,
                                          size_t whylen);

/* Which trampolines a Go program takes, from what shunt_goinfo_read found:
 * SHUNT_GO_SYSCALL6 (Go >= 1.19: patch Syscall6's entry), SHUNT_GO_ABI0
 * (Go 1.16-1.18: patch the ABI0 functions' runs), or -1 with a reason (a
 * release older than SHUNT_GO_MIN_MINOR, or a function missing). */
#define SHUNT_GO_MIN_MINOR 16
enum { SHUNT_GO_SYSCALL6 = 1, SHUNT_GO_ABI0 = 2 };
SHUNT_GO_HIDDEN int shunt_go_family(const shunt_goinfo_t *gi, char *why,
                                    size_t whylen);

/* "syscall.Syscall" ... for messages. */
SHUNT_GO_HIDDEN const char *shunt_go_abi0_name(int which);
/* The go_abi0.S entry for `which` (NULL if out of range). */
SHUNT_GO_HIDDEN void *shunt_go_abi0_entry(int which);
SHUNT_GO_HIDDEN void shunt_go_abi0_syscall_entry(void);
SHUNT_GO_HIDDEN void shunt_go_abi0_syscall6_entry(void);
SHUNT_GO_HIDDEN void shunt_go_abi0_rawsyscall_entry(void);
SHUNT_GO_HIDDEN void shunt_go_abi0_rawsyscall6_entry(void);

#endif
