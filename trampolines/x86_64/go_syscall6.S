/* The detour for Go's ABIInternal Syscall6 (Go >= 1.19: runtime/internal/
 * syscall.Syscall6, internal/runtime/syscall.Syscall6, internal/runtime/
 * syscall/linux.Syscall6), which every user-level system call of a Go
 * program passes through.  Its entry is patched to `jmp
 * shunt_go_syscall6_entry`; the original body is never run again, its
 * work is done here (.Lbare).  docs/go.md explains the design.
 *
 * Go's ABIInternal on entry (func Syscall6(num, a1..a6) (r1, r2, errno)):
 *
 *   AX = num   BX = a1   CX = a2   DI = a3   SI = a4   R8 = a5   R9 = a6
 *   R14 = g (current goroutine)   X15 = 0   0(SP) = return address
 *
 * on return:
 *
 *   AX = r1    BX = r2   CX = errno (0 on success; on error r1 = -1, r2 = 0)
 *   R14, X15 (zero), SP and BP as on entry; every other register is the
 *   caller's scratch.  The kernel's error range is Go's: a raw result above
 *   0xfffffffffffff001 (unsigned) is -errno.
 *
 * Three paths:
 *   .Lbare    the system call is not one the layer wants (bit clear in
 *             shunt_go_want), or this thread is a clone/vfork child sharing
 *             or copying its parent's memory: the `syscall` instruction
 *             itself, on the goroutine stack, as Go's body does;
 *   .Lclone   clone/clone3: record this thread's tid in shunt_go_fork_tid
 *             first, so that the child (which sees the same TLS) knows it
 *             is a child, then .Lbare;
 *   .Lchild   a vfork child's execve (os/exec): its path is copied into
 *             shunt_go_exec_ring (shunt/gotramp.h) with plain stores (the
 *             memory is the parent's), then .Lbare;
 *   .Lslow    call shunt_go_handler(&call) on the thread's g0 stack through
 *             the runtime's own runtime.asmcgocall, exactly as a cgo call
 *             does (it saves g.sched, switches g and SP, aligns for C, and
 *             switches back; g0 and gsignal run it on the current stack).
 *
 * Goroutine stack frame of .Lslow (96 bytes below the return address; the
 * caller is NOSPLIT code, the runtime's nosplit limit is 800 bytes):
 *
 *   96(SP)   return address into Go                (CFA - 8)
 *   88(SP)   call.ret    out: result or -errno     \
 *   40(SP)   call.a[0..5] = BX CX DI SI R8 R9       | shunt_go_call_t
 *   32(SP)   call.nr     = AX                      /
 *   24(SP)   saved R14 (g)
 *   16(SP)   asmcgocall's int32 result (ignored)   ret+16(FP)
 *    8(SP)   &call                                 arg+8(FP)
 *    0(SP)   shunt_go_handler                      fn+0(FP)
 */
        .text

#define SYS_clone  56
#define SYS_execve 59
#define SYS_gettid 186
#define SYS_clone3 435
#define NR_MAX     512

        .globl  shunt_go_syscall6_entry
        .hidden shunt_go_syscall6_entry
        .type   shunt_go_syscall6_entry, @function
        .p2align 4
shunt_go_syscall6_entry:
        .cfi_startproc
        cmpq    $SYS_clone, %rax
        je      .Lclone
        cmpq    $SYS_clone3, %rax
        je      .Lclone
        cmpq    $NR_MAX, %rax
        jae     .Lbare
        btq     %rax, shunt_go_want(%rip)  /* bit AX of the 512-bit map */
        jnc     .Lbare
        /* A wanted call: is this thread a clone child of its TLS owner? */
        movq    shunt_go_fork_tid@gottpoff(%rip), %r11
        movl    %fs:(%r11), %r10d
        testl   %r10d, %r10d
        jnz     .Lforked

.Lslow:
        subq    $96, %rsp
        .cfi_adjust_cfa_offset 96
        movq    %r14, 24(%rsp)
        movq    %rax, 32(%rsp)
        movq    %rbx, 40(%rsp)
        movq    %rcx, 48(%rsp)
        movq    %rdi, 56(%rsp)
        movq    %rsi, 64(%rsp)
        movq    %r8, 72(%rsp)
        movq    %r9, 80(%rsp)
        movq    $-38, 88(%rsp)             /* -ENOSYS unless the handler answers */
        movq    shunt_go_handler(%rip), %rax
        movq    %rax, 0(%rsp)
        leaq    32(%rsp), %rax
        movq    %rax, 8(%rsp)
        call    *shunt_go_asmcgocall(%rip)
        movq    24(%rsp), %r14
        movq    88(%rsp), %rax
        addq    $96, %rsp
        .cfi_adjust_cfa_offset -96
        xorps   %xmm15, %xmm15             /* C may have used it; Go needs 0 */
        xorl    %edx, %edx                 /* r2 is 0 for what the layer serves */
        jmp     .Lresult

        /* shunt_go_fork_tid is set: either this is the thread that cloned
         * (the child has exec'd or exited by now: forget it), or a child
         * running on its parent's memory and stack (bare calls only). */
.Lforked:
        movq    %rax, %r12                 /* syscall clobbers RCX and R11 */
        movq    %rcx, %r13
        movl    $SYS_gettid, %eax
        syscall
        movq    %r13, %rcx
        cmpl    %eax, %r10d
        movq    %r12, %rax
        jne     .Lchild
        movq    shunt_go_fork_tid@gottpoff(%rip), %r11
        movl    $0, %fs:(%r11)
        jmp     .Lslow

        /* A child on its parent's memory: bare calls only.  Its execve's
         * path (BX) goes into the next ring slot first: 4096-byte slots,
         * ready flag at +0, path at +4, at most 4091 bytes and a NUL.
         * Registers: DX, R10, R11 are free (.Lbare sets DX and R10). */
.Lchild:
        cmpq    $SYS_execve, %rax
        jne     .Lbare
        testq   %rbx, %rbx
        jz      .Lbare
        movl    $1, %edx
        lock xaddl %edx, shunt_go_exec_seq(%rip)
        andl    $7, %edx                   /* SHUNT_GO_EXEC_SLOTS - 1 */
        shlq    $12, %rdx
        leaq    shunt_go_exec_ring(%rip), %r10
        addq    %rdx, %r10                 /* the slot */
        movl    $0, (%r10)                 /* not ready while written */
        xorl    %edx, %edx
1:      movzbl  (%rbx,%rdx), %r11d
        movb    %r11b, 4(%r10,%rdx)
        testb   %r11b, %r11b
        jz      2f
        incq    %rdx
        cmpq    $4091, %rdx
        jb      1b
        movb    $0, 4(%r10,%rdx)
2:      movl    $1, (%r10)                 /* x86 stores are ordered */
        jmp     .Lbare

.Lclone:
        movq    %rax, %r12
        movq    %rcx, %r13
        movl    $SYS_gettid, %eax
        syscall
        movq    shunt_go_fork_tid@gottpoff(%rip), %r11
        movl    %eax, %fs:(%r11)
        movq    %r12, %rax
        movq    %r13, %rcx
        /* fall through */

        /* Go's own body: ABIInternal registers to the kernel's. */
.Lbare:
        movq    %rsi, %r10                 /* a4 */
        movq    %rdi, %rdx                 /* a3 */
        movq    %rcx, %rsi                 /* a2 */
        movq    %rbx, %rdi                 /* a1 */
        syscall                            /* AX = result, DX = r2 */

        /* AX = raw result, DX = r2: Go's results. */
.Lresult:
        cmpq    $-4095, %rax               /* 0xfffffffffffff001 */
        jbe     .Lok
        negq    %rax
        movq    %rax, %rcx                 /* errno */
        movq    $-1, %rax                  /* r1 */
        xorl    %ebx, %ebx                 /* r2 */
        ret
.Lok:
        movq    %rdx, %rbx                 /* r2 */
        xorl    %ecx, %ecx                 /* errno 0 */
        ret
        .cfi_endproc
        .size   shunt_go_syscall6_entry, . - shunt_go_syscall6_entry

        .section .note.GNU-stack, "", @progbits
