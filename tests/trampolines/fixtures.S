/* Functions with awkward entries, for hooking in a live process.  Each is
 * real and callable (SysV: argument in edi, result in eax); branches and
 * calls at the entry are written as bytes so the assembler cannot pick
 * another encoding.  Offsets from the entry are in the comments. */

        .data
        .p2align 2
        .globl  fx_global
        .hidden fx_global
fx_global:
        .long   41

        .text

#define FUNC(name) \
        .globl name; .hidden name; .type name, @function; name:
#define END(name) .size name, . - name

/* x + 10: the target of the call and the tail jump below. */
        .p2align 4
FUNC(fx_add10)
        lea     10(%rdi), %eax
        ret
END(fx_add10)

/* x == 0 ? 100 : x + 1.  A short jcc at +2 over the rest of the patch:
 * moved as a near jcc to the same +8. */
        .p2align 4
FUNC(fx_jcc_short)
        test    %edi, %edi              /* +0  85 ff */
        .byte   0x74, 1f - . - 1        /* +2  je +8 */
        lea     1(%rdi), %eax           /* +4  8d 47 01 */
        ret                             /* +7 */
1:      mov     $100, %eax              /* +8 */
        ret
END(fx_jcc_short)

/* x + fx_global: a RIP-relative load, its displacement recomputed. */
        .p2align 4
FUNC(fx_riprel)
        mov     fx_global(%rip), %eax   /* +0  8b 05 disp32 */
        add     %edi, %eax              /* +6 */
        ret
END(fx_riprel)

/* 2x, behind endbr64, which is copied as is. */
        .p2align 4
FUNC(fx_endbr)
        endbr64                         /* +0  f3 0f 1e fa */
        lea     (%rdi,%rdi), %eax       /* +4  8d 04 3f */
        ret
END(fx_endbr)

/* x + 11: call rel32 at the entry, re-targeted from the stub. */
        .p2align 4
FUNC(fx_call)
        .byte   0xe8                    /* +0  call fx_add10 */
        .long   fx_add10 - . - 4
        add     $1, %eax                /* +5 */
        ret
END(fx_call)

/* x + 10: the whole function is a tail jump (jmp rel32). */
        .p2align 4
FUNC(fx_tailjmp)
        .byte   0xe9                    /* +0  jmp fx_add10 */
        .long   fx_add10 - . - 4
END(fx_tailjmp)

/* x, three bytes long: refused, the patch would spill into what follows. */
        .p2align 4
FUNC(fx_tiny)
        mov     %edi, %eax              /* +0  89 f8 */
        ret                             /* +2 */
END(fx_tiny)
        .byte   0xcc, 0xcc, 0xcc, 0xcc, 0xcc

/* 1 + 2 + ... + x (x > 0): the loop head is at +2, inside the patch. */
        .p2align 4
FUNC(fx_loopback)
        xor     %eax, %eax              /* +0 */
1:      add     %edi, %eax              /* +2  loop head */
        dec     %edi                    /* +4 */
        .byte   0x75, 1b - . - 1        /* +6  jne +2 */
        ret
END(fx_loopback)

/* 2x (x > 0) with the loop instruction, whose head is also in the patch. */
        .p2align 4
FUNC(fx_loopinsn)
        mov     %edi, %ecx              /* +0 */
        xor     %eax, %eax              /* +2 */
1:      add     $2, %eax                /* +4 */
        .byte   0xe2, 1b - . - 1        /* +7  loop +4 */
        ret
END(fx_loopinsn)

/* Entries placed where the 5-byte patch sits differently in its cache
 * line: at +12 (an unaligned 8-byte store inside the line), at +60 (the
 * patch crosses the line: written behind a "jmp $"), at +63 (refused).
 * Each entry is one 6-byte instruction, so no thread can be stopped inside
 * the patched bytes and they can be hooked while threads call them. */
        .p2align 6
        .skip   12, 0xcc
FUNC(fx_at12)
        .byte   0x8d, 0x87              /* +0  lea eax, [rdi+12] */
        .long   12                      /*     (disp32: one 6-byte instruction) */
        ret
END(fx_at12)

        .p2align 6
        .skip   60, 0xcc
FUNC(fx_at60)
        .byte   0x8d, 0x87              /* +0  lea eax, [rdi+60] */
        .long   60                      /*     (disp32: one 6-byte instruction) */
        ret
END(fx_at60)

        .p2align 6
        .skip   63, 0xcc
FUNC(fx_at63)
        .byte   0x8d, 0x87              /* +0  lea eax, [rdi+63] */
        .long   63                      /*     (disp32: one 6-byte instruction) */
        ret
END(fx_at63)

/* The same, for a batch: at +12 and +60 of a line, and at the last 3
 * bytes of a page (the patch spans two pages and crosses a line). */
        .p2align 6
        .skip   12, 0xcc
FUNC(fx_b12)
        .byte   0x8d, 0x87              /* +0  lea eax, [rdi+12] */
        .long   12
        ret
END(fx_b12)

        .p2align 6
        .skip   60, 0xcc
FUNC(fx_b60)
        .byte   0x8d, 0x87              /* +0  lea eax, [rdi+60] */
        .long   60
        ret
END(fx_b60)

        .p2align 12
        .skip   4093, 0xcc
FUNC(fx_bpage)
        .byte   0x8d, 0x87              /* +0  lea eax, [rdi+93] */
        .long   93
        ret
END(fx_bpage)
        .skip   64, 0xcc

        .section .note.GNU-stack, "", @progbits
