/* A system call the layer cannot see, for tests that need the kernel's own
 * answer: the syscall instruction itself (libc's syscall() is hooked and
 * served like the named calls).  x86_64; -1 and errno on failure. */
#ifndef SHUNT_TEST_RAWSYS_H
#define SHUNT_TEST_RAWSYS_H

#include <errno.h>

static inline long raw_syscall3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

#endif
