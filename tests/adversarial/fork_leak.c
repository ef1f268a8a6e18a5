/* Issue 13 §2.2: fork() while holding remote directory and write-mode fds.
 *   fork_leak N
 * N times: open a remote directory and a write-mode remote file, fork; the
 * child opens a directory of its own and exits holding all three; the
 * parent waits and closes its two.  Then prints "done" and waits for a line
 * on stdin, so that the caller counts the agent's fds while this process
 * (the fork group's first member) is still alive.  Before the fix every
 * iteration left handles at the agent until the whole group ended. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    for (int i = 0; i < n; i++) {
        int d = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
        int w = open("/srv/rw/keep.txt", O_RDWR);
        if (d < 0 || w < 0) {
            perror("open");
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int d2 = open("/srv/data/sub/deeper", O_RDONLY | O_DIRECTORY);
            _exit(d2 < 0 ? 3 : 0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "child %d failed (status %d)\n", i, st);
            return 1;
        }
        close(d);
        close(w);
    }
    /* The parent's own handles still work after all that. */
    int d = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
    if (d < 0) {
        perror("open after the forks");
        return 1;
    }
    close(d);
    printf("done\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return 0;
}
