/* The one raw system call: how code that must not use libc's wrappers
 * (the layer hooks them; the hooking engine runs while it does) enters the
 * kernel.  Header-only, so that the layer, which links no code of common/,
 * the trampolines and proto's framed I/O all use this one: no libc, no
 * errno, no allocation, async-signal-safe.  Returns the kernel's value:
 * -errno (-4095..-1) on failure. */
#ifndef SHUNT_SYS_H
#define SHUNT_SYS_H

static inline long shunt_sys6(long nr, long a, long b, long c, long d, long e,
                              long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    /* The kernel clobbers rcx (return address) and r11 (rflags). */
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#endif
