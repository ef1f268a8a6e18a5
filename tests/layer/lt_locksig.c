/* F_SETLKW on a remote file held elsewhere, interrupted by SIGALRM: with an
 * SA_RESTART handler the wait goes on until the lock is granted; without,
 * it ends with EINTR, as the kernel's own F_SETLKW.
 *   lt_locksig restart PATH   prints "granted after 1 signal(s)"
 *   lt_locksig eintr PATH     prints "EINTR after 1 signal(s)" */
#include "lt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t rings;

static void ring(int sig)
{
    (void)sig;
    rings++;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int restart = strcmp(argv[1], "restart") == 0;
    struct sigaction sa = {.sa_handler = ring,
                           .sa_flags = restart ? SA_RESTART : 0};
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    int fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK(fcntl(fd, F_SETLK, &fl) == -1 && errno == EAGAIN);
    alarm(1);
    int r = fcntl(fd, F_SETLKW, &fl);
    int e = errno;
    if (r == 0)
        printf("granted after %d signal(s)\n", (int)rings);
    else
        printf("%s after %d signal(s)\n", e == EINTR ? "EINTR" : strerror(e),
               (int)rings);
    fflush(stdout);
    close(fd);
    return lt_done("lt_locksig");
}
