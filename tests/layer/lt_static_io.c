/* A statically linked program (the layer cannot enter it): one read or
 * write on an inherited fd, and what came of it on stderr.  execfds.sh
 * hands it remote fds through shell redirects: it must get an error, never
 * end-of-file or a write that lands nowhere.
 *   lt_static_io FD r|w */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = atoi(argv[1]);
    char buf[64] = "static write\n";
    ssize_t n = argv[2][0] == 'w' ? write(fd, buf, strlen(buf))
                                  : read(fd, buf, sizeof(buf));
    if (n < 0)
        fprintf(stderr, "lt_static_io: %s fd %d: %s\n",
                argv[2][0] == 'w' ? "write" : "read", fd, strerrorname_np(errno));
    else
        fprintf(stderr, "lt_static_io: %s fd %d: %zd bytes\n",
                argv[2][0] == 'w' ? "write" : "read", fd, n);
    return 0;
}
