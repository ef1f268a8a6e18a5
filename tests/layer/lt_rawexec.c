/* Execs argv[1] with a raw execve system call (the inline instruction, no
 * libc function the layer could hook), as a Go program's os/exec child
 * does: the exec hooks never see it.  execfds.sh checks that the new image
 * gets EBADF from a forwarded fd it inherits so, not end-of-file.
 *   lt_rawexec PROGRAM [ARGS...] */
#include <stdio.h>
#include <sys/syscall.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_execve), "D"(argv[1]), "S"(argv + 1),
                       "d"(environ)
                     : "rcx", "r11", "memory");
    fprintf(stderr, "lt_rawexec: execve %s: %ld\n", argv[1], r);
    return 127;
}
