/* The detours for Go 1.16-1.18's ABI0 system-call functions in
 * src/syscall/asm_linux_amd64.s: syscall.Syscall, Syscall6 (which call
 * runtime.entersyscall first) and RawSyscall, RawSyscall6 (which do not).
 * docs/go.md explains the design.
 *
 * Not the entry is patched but the run of loads that puts the arguments in
 * the kernel's registers, up to and including SYSCALL (after the CALL of
 * entersyscall; from the entry for the Raw ones).  goabi0.c checks that
 * run instruction by instruction and the layer replaces its first 5 bytes
 * with `jmp` to one of the entries below.  So Go's own entersyscall and
 * exitsyscall still run around us, g.syscallpc stays inside Go's function
 * (what GC tracebacks need), and Go's own code stores the results.
 *
 * Each entry does what the replaced run and its SYSCALL did:
 *
 *   in   SP as at the function's entry (NOSPLIT, $0 frame: no locals, BP
 *        not pushed), R14 = g (Go >= 1.17: ABI0 code is entered from
 *        ABIInternal code or the entersyscall wrapper with R14 = g, and
 *        runtime.asmcgocall relies on it).  Go 1.16 has no register ABI:
 *        R14 is any value there, its asmcgocall takes g from TLS, and the
 *        Syscall6 trampoline's save and restore of R14 (and zeroing of
 *        X15) only touch registers that are scratch in ABI0.
 *   out  AX = the kernel's raw result (>= 0, or -errno), DX = r2, then
 *        `jmp` to the instruction after the replaced SYSCALL
 *        (shunt_go_abi0_resume[i]); every other register is scratch in
 *        ABI0, SP and BP are unchanged.
 *
 * ABI0 frame of the patched functions (0(SP) = return address into Go):
 *
 *            Syscall, RawSyscall          Syscall6, RawSyscall6
 *   8(SP)    trap                         trap
 *  16(SP)    a1                           a1
 *  24(SP)    a2                           a2
 *  32(SP)    a3                           a3
 *  40(SP)    r1 (Go stores it)            a4
 *  48(SP)    r2                           a5
 *  56(SP)    err                          a6
 *  64..80                                 r1, r2, err (Go stores them)
 *
 * The work is done by shunt_go_syscall6_entry (go_syscall6.S), called
 * with the ABIInternal registers it expects (AX trap, BX CX DI SI R8 R9 =
 * a1..a6; a4..a6 = 0 for the three-argument functions): the want bitmap
 * and bare path, the clone/vfork child checks and the slow path through
 * runtime.asmcgocall are the same code for every Go version.  Its result
 * (AX r1, BX r2, CX errno) is turned back into the kernel's: -errno in AX
 * when CX is nonzero.  Stack below Go's SP: 8 (this call) + 96 (its frame)
 * + 8 (asmcgocall's return) + 8 (asmcgocall's own call) = 120 bytes, well
 * within the 800 bytes Go keeps for NOSPLIT chains.
 */
        .text

/* ABI0_ENTRY name, resume slot, number of arguments (3 or 6) */
        .macro  ABI0_ENTRY name, slot, nargs
        .globl  \name
        .hidden \name
        .type   \name, @function
        .p2align 4
\name:
        .cfi_startproc
        movq    8(%rsp), %rax              /* trap */
        movq    16(%rsp), %rbx             /* a1 */
        movq    24(%rsp), %rcx             /* a2 */
        movq    32(%rsp), %rdi             /* a3 */
        .if \nargs == 6
        movq    40(%rsp), %rsi             /* a4 */
        movq    48(%rsp), %r8              /* a5 */
        movq    56(%rsp), %r9              /* a6 */
        .else
        xorl    %esi, %esi                 /* Syscall(trap, a1, a2, a3) */
        xorl    %r8d, %r8d
        xorl    %r9d, %r9d
        .endif
        call    shunt_go_syscall6_entry    /* AX r1, BX r2, CX errno */
        testq   %rcx, %rcx
        jz      1f
        movq    %rcx, %rax
        negq    %rax                       /* -errno: the kernel's form */
1:      movq    %rbx, %rdx                 /* r2 */
        jmp     *shunt_go_abi0_resume+8*\slot(%rip)
        .cfi_endproc
        .size   \name, . - \name
        .endm

        ABI0_ENTRY shunt_go_abi0_syscall_entry, 0, 3
        ABI0_ENTRY shunt_go_abi0_syscall6_entry, 1, 6
        ABI0_ENTRY shunt_go_abi0_rawsyscall_entry, 2, 3
        ABI0_ENTRY shunt_go_abi0_rawsyscall6_entry, 3, 6

        .section .note.GNU-stack, "", @progbits
