/* Assembly half of fuzz/trampoline_shuffle: a Go-side caller of the Syscall6
 * trampoline, an impersonated Go < 1.19 ABI0 syscall function for the
 * go_abi0.S entries (tsh_call_abi0, below) and a stand-in for
 * runtime.asmcgocall, so that the trampolines' register shuffles run in a
 * plain C process.
 *
 * tsh_call(const tsh_regs_t *in, tsh_regs_t *out)   (System V ABI)
 *   loads Go's ABIInternal entry state from in: AX = nr, BX CX DI SI R8 R9
 *   = a1..a6, R14 = g, X15 = 0, and poison in the registers Go leaves to the
 *   callee (DX R10 R11 R12 R13 R15); calls shunt_go_syscall6_entry; stores
 *   what came back: AX BX CX R14, both halves of X15, and how far RSP moved.
 *
 * tsh_asmcgocall: ABI0, as runtime.asmcgocall: fn at 8(SP), arg at 16(SP),
 *   int32 result at 24(SP).  Runs fn(arg) on tsh_g0_top (a separate stack,
 *   as the real one switches to g0), then clobbers every register an ABI0
 *   function may (R14 and X15 included): the trampoline must restore what
 *   Go needs by itself.
 *
 * tsh_regs_t: 0 nr/ax, 8 a1/bx, 16 a2/cx, 24 a3/di, 32 a4/si, 40 a5/r8,
 *   48 a6/r9, 56 g/r14, 64 x15 low, 72 x15 high, 80 rsp delta. */
        .text

/* The SysV callee-saved registers (6 pushes, 48 bytes), with their CFI,
 * as both callers save them around code that clobbers everything. */
/* VALUE in RAX and every general register but RSP and RBP (and R14 when
 * with_r14 is 0): junk where code may leave or expect anything. */
        .macro FILL_JUNK value, with_r14=1
        movabsq $\value, %rax
        movq    %rax, %rbx
        movq    %rax, %rcx
        movq    %rax, %rdx
        movq    %rax, %rsi
        movq    %rax, %rdi
        movq    %rax, %r8
        movq    %rax, %r9
        movq    %rax, %r10
        movq    %rax, %r11
        movq    %rax, %r12
        movq    %rax, %r13
        .if \with_r14
        movq    %rax, %r14
        .endif
        movq    %rax, %r15
        .endm

        .macro SAVE_CALLEE_SAVED
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbp, -16
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbx, -24
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r12, -32
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r13, -40
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r14, -48
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_offset %r15, -56
        .endm
        .macro RESTORE_CALLEE_SAVED
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .endm

        .globl  tsh_call
        .hidden tsh_call
        .type   tsh_call, @function
        .p2align 4
tsh_call:
        .cfi_startproc
        SAVE_CALLEE_SAVED
        pushq   %rsi                    /* out */
        .cfi_adjust_cfa_offset 8
        /* 7 pushes + return address: RSP is 16-aligned - 8 + 64 = aligned
         * again minus 8 after the call pushes its return address, as Go's
         * own caller frame would leave it. */
        movq    %rsp, %rbp              /* to measure RSP after the call */
        movq    %rdi, %r15
        movq    0(%r15), %rax
        movq    8(%r15), %rbx
        movq    16(%r15), %rcx
        movq    32(%r15), %rsi
        movq    40(%r15), %r8
        movq    48(%r15), %r9
        movq    56(%r15), %r14
        movq    24(%r15), %rdi
        xorps   %xmm15, %xmm15
        movabsq $0x5a5a5a5a5a5a5a01, %rdx
        movabsq $0x5a5a5a5a5a5a5a02, %r10
        movabsq $0x5a5a5a5a5a5a5a03, %r11
        movabsq $0x5a5a5a5a5a5a5a04, %r12
        movabsq $0x5a5a5a5a5a5a5a05, %r13
        movabsq $0x5a5a5a5a5a5a5a06, %r15
        call    shunt_go_syscall6_entry
        movq    %rsp, %rdx
        subq    %rbp, %rdx              /* 0 when the stack is balanced */
        movq    %rbp, %rsp
        movq    0(%rsp), %rsi           /* out */
        movq    %rax, 0(%rsi)
        movq    %rbx, 8(%rsi)
        movq    %rcx, 16(%rsi)
        movq    %r14, 56(%rsi)
        movq    %xmm15, %rax
        movq    %rax, 64(%rsi)
        pextrq  $1, %xmm15, %rax
        movq    %rax, 72(%rsi)
        movq    %rdx, 80(%rsi)
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        RESTORE_CALLEE_SAVED
        ret
        .cfi_endproc
        .size   tsh_call, . - tsh_call

        .globl  tsh_asmcgocall
        .hidden tsh_asmcgocall
        .type   tsh_asmcgocall, @function
        .p2align 4
tsh_asmcgocall:
        .cfi_startproc
        movq    8(%rsp), %rax           /* fn */
        movq    16(%rsp), %rdi          /* arg */
        movq    %rsp, %rdx
        movq    tsh_g0_top(%rip), %rsp  /* 16-aligned top of the "g0" stack */
        .cfi_def_cfa %rdx, 8
        pushq   %rdx                    /* the goroutine's SP */
        subq    $8, %rsp                /* 16-aligned at the call */
        call    *%rax
        addq    $8, %rsp
        popq    %rsp
        .cfi_def_cfa %rsp, 8
        movl    %eax, 24(%rsp)
        /* what an ABI0 function may leave behind */
        FILL_JUNK 0x6b6b6b6b6b6b6b01
        movq    %rax, %xmm15
        pinsrq  $1, %rax, %xmm15
        ret
        .cfi_endproc
        .size   tsh_asmcgocall, . - tsh_asmcgocall

/* tsh_call_abi0(const uint64_t frame[10], void *entry, uint64_t g)
 *   (System V ABI) impersonates a Go < 1.19 ABI0 syscall function whose
 *   run of argument loads was patched to jmp to entry (go_abi0.S): builds
 *   the caller's argument area from frame (trap, a1..a6 and three result
 *   slots: what 8..80(SP) hold at the function's entry), poisons every
 *   register, sets R14 = g and BP to a marker, calls tsh_abi0_fn, which
 *   records its SP and jumps to entry.  The entry must come back to
 *   tsh_abi0_resume (the C side puts it in shunt_go_abi0_resume[]), which
 *   records SP, AX, DX and BP in tsh_abi0_seen and returns as Go's
 *   function would after storing its results.
 *
 * tsh_abi0_seen: 0 SP at the function's entry, 8 SP at the jump back,
 *   16 AX, 24 DX, 32 BP at the jump back.
 *
 * Caller's frame (below the 7 saved registers, 16-aligned at the call):
 *   0(%rsp) trap   8..48 a1..a6   56..72 r1, r2, err   (80 bytes) */
#define BP_MARK 0x5a5a5a5a5a5a5a07
        .globl  tsh_call_abi0
        .hidden tsh_call_abi0
        .type   tsh_call_abi0, @function
        .p2align 4
tsh_call_abi0:
        .cfi_startproc
        SAVE_CALLEE_SAVED
        /* 6 pushes + return address = 56: 8 more and 80 for the frame
         * leave RSP 16-aligned at the call. */
        subq    $88, %rsp
        .cfi_adjust_cfa_offset 88
        movq    %rsi, tsh_abi0_target(%rip)
        movq    %rdx, %r14              /* g */
        xorl    %ecx, %ecx
1:      movq    (%rdi,%rcx,8), %rax
        movq    %rax, (%rsp,%rcx,8)
        incq    %rcx
        cmpq    $10, %rcx
        jb      1b
        FILL_JUNK 0x5a5a5a5a5a5a5a01, with_r14=0
        movabsq $BP_MARK, %rbp
        call    tsh_abi0_fn
        addq    $88, %rsp
        .cfi_adjust_cfa_offset -88
        RESTORE_CALLEE_SAVED
        ret
        .cfi_endproc
        .size   tsh_call_abi0, . - tsh_call_abi0

/* The impersonated Go function: SP recorded (as Go's CALL of entersyscall
 * would come first), then the patched jmp. */
        .type   tsh_abi0_fn, @function
        .p2align 4
tsh_abi0_fn:
        .cfi_startproc
        movq    %rsp, tsh_abi0_seen(%rip)
        jmp     *tsh_abi0_target(%rip)
        .cfi_endproc
        .size   tsh_abi0_fn, . - tsh_abi0_fn

        .globl  tsh_abi0_resume
        .hidden tsh_abi0_resume
        .type   tsh_abi0_resume, @function
        .p2align 4
tsh_abi0_resume:
        .cfi_startproc
        movq    %rsp, tsh_abi0_seen+8(%rip)
        movq    %rax, tsh_abi0_seen+16(%rip)
        movq    %rdx, tsh_abi0_seen+24(%rip)
        movq    %rbp, tsh_abi0_seen+32(%rip)
        ret
        .cfi_endproc
        .size   tsh_abi0_resume, . - tsh_abi0_resume

        .bss
        .p2align 3
        .globl  tsh_abi0_seen
        .hidden tsh_abi0_seen
tsh_abi0_seen:
        .zero   40
tsh_abi0_target:
        .zero   8

        .section .note.GNU-stack, "", @progbits
