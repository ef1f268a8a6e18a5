/* Issue 13 §2.6: a remote file that grows after the layer's stat of it.
 *   grow_open PATH SECONDS
 * Opens PATH read-only again and again while a process in the target makes
 * it grow from 1 MiB to 400 MiB (grow_open.sh).  The layer snapshots files
 * up to 64 MiB into a memfd; the snapshot must never hold more than that
 * (the kernel's fstat of the fd, not the layer's, gives the memfd's size),
 * and the fd must read the file's content (zeros) either way.  Before the
 * fix a file stat'ed small was fetched whole, however large it had grown. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long raw_fstat(int fd, struct stat *st)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_fstat), "D"((long)fd), "S"(st)
                     : "rcx", "r11", "memory");
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int secs = atoi(argv[2]);
    const long long limit = 64ll << 20;
    long long biggest = 0, last_remote = 0;
    int opens = 0, over = 0, bad_content = 0;
    time_t t0 = time(NULL);
    while (time(NULL) - t0 < secs) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0)
            continue;
        opens++;
        struct stat st, rs;
        if (raw_fstat(fd, &st) == 0) {
            if (st.st_size > biggest)
                biggest = st.st_size;
            if (st.st_size > limit + 1)
                over++;
        }
        char buf[4096], zero[4096] = {0};
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0 || memcmp(buf, zero, (size_t)n) != 0)
            bad_content++;
        if (stat(argv[1], &rs) == 0)
            last_remote = rs.st_size;
        close(fd);
        if (last_remote >= (400ll << 20) && opens > 20)
            break;
    }
    printf("grow_open: %d opens, largest snapshot memfd %lld bytes, %d over "
           "64 MiB, %d bad reads; remote size at the end %lld\n",
           opens, biggest, over, bad_content, last_remote);
    return over || bad_content || last_remote < (400ll << 20) ? 1 : 0;
}
