/* Opens remote handles (a write-mode file, directories) and waits to be
 * killed: resilience.sh checks the agent ends up with no fd of it. */
#include "lt.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

int main(void)
{
    int fds[4];
    fds[0] = open("/srv/rw/keep.txt", O_RDWR);
    fds[1] = open("/srv/data", O_RDONLY | O_DIRECTORY);
    fds[2] = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
    DIR *d = opendir("/srv/data/sub/deeper");
    fds[3] = d ? dirfd(d) : -1;
    for (int i = 0; i < 4; i++)
        CHECK(fds[i] >= 0);
    if (lt_failures)
        return lt_done("lt_hold");
    if (write(1, "ready\n", 6) != 6)
        return 1;
    for (;;)
        pause();
}
