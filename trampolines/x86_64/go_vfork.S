/* The detour for Go's syscall.rawVforkSyscall (ABI0, every Go version):
 * the clone(CLONE_VM|CLONE_VFORK) (or clone3) of os/exec.  The child runs
 * Go code on its parent's memory *and stack* until it execs or exits, and
 * its RawSyscall calls (dup3, fcntl, close, chdir, execve...) reach the
 * Syscall6 trampoline.  That child must not run layer code: the layer's
 * locks, RPC connections and allocator are its parent's.
 *
 * So: record this thread's tid in shunt_go_fork_tid, which the child sees
 * (CLONE_VM without CLONE_SETTLS: same FS base, same TLS block), then run
 * the original untouched.  The Syscall6 trampoline compares the tid with
 * its own (gettid) when the value is nonzero: a different thread is the
 * child and makes bare system calls; the parent, back after the child's
 * exec or exit, clears the value at its next wanted call.
 *
 * ABI0 on entry (go1.19: rawVforkSyscall(trap, a1) (r1, err); later:
 * (trap, a1, a2, a3) (r1, err)):
 *
 *   0(SP) return address   8(SP) trap   16(SP)... arguments and results
 *
 * Nothing on the stack is touched and every register is scratch in ABI0,
 * so the original (the relocated entry, shunt_go_vfork_orig) finds its
 * frame as the caller left it, whatever the signature.
 */
        .text

#define SYS_gettid 186

        .globl  shunt_go_vfork_entry
        .hidden shunt_go_vfork_entry
        .type   shunt_go_vfork_entry, @function
        .p2align 4
shunt_go_vfork_entry:
        .cfi_startproc
        movl    $SYS_gettid, %eax
        syscall                            /* clobbers RCX, R11 */
        movq    shunt_go_fork_tid@gottpoff(%rip), %r11
        movl    %eax, %fs:(%r11)
        jmp     *shunt_go_vfork_orig(%rip)
        .cfi_endproc
        .size   shunt_go_vfork_entry, . - shunt_go_vfork_entry

        .section .note.GNU-stack, "", @progbits
