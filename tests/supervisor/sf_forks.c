/* A program that starts many children at once, each of which execs
 * (faults.sh forks): by fork + execve of /bin/cat (a dynamically linked
 * program), fork + execve of this static program again, and posix_spawn
 * (clone with CLONE_VM|CLONE_VFORK) of it.  Every child runs under the
 * filter and must print the remote file's content (and, for this
 * program, the target's host name).
 *   sf_forks N            the parent: N children
 *   sf_forks child FILE   a child: FILE's content, then "node NAME" */
#include "sf.h"

#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>

extern char **environ;

static int child_main(const char *path)
{
    char buf[256];
    long n = sf_slurp(path, buf, sizeof(buf));
    if (n < 0) {
        fprintf(stderr, "sf_forks child: %s: %s\n", path, strerror((int)-n));
        return 1;
    }
    struct utsname u;
    if (uname(&u) != 0)
        return 1;
    printf("%snode %s\n", buf, u.nodename);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return child_main(argv[2]);
    if (argc != 3) {
        fprintf(stderr, "usage: sf_forks N HOSTNAME | sf_forks child FILE\n");
        return 2;
    }
    alarm(120);
    int n = atoi(argv[1]);
    const char *host = argv[2];
    if (n < 1 || n > 1000)
        return 2;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    CHECK(sl > 0);
    if (sl <= 0)
        return 1;
    self[sl] = 0;
    pid_t *pids = calloc((size_t)n, sizeof(*pids));
    int *rd = calloc((size_t)n, sizeof(*rd));
    if (!pids || !rd)
        return 1;
    char path[64], text[64];
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) {
            CHECK(0);
            return lt_done("sf_forks");
        }
        rd[i] = p[0];
        sf_remote(i % SF_NFILES, path, sizeof(path), text, sizeof(text));
        if (i % 3 == 2) {
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_adddup2(&fa, p[1], 1);
            char *cargv[] = {self, "child", path, NULL};
            int e = posix_spawn(&pids[i], self, &fa, NULL, cargv, environ);
            posix_spawn_file_actions_destroy(&fa);
            CHECK_LONG(e, 0);
            if (e)
                pids[i] = -1;
        } else {
            pids[i] = fork();
            if (pids[i] == 0) {
                dup2(p[1], 1);
                if (i % 3 == 0)
                    execl("/bin/cat", "cat", path, (char *)NULL);
                else
                    execl(self, self, "child", path, (char *)NULL);
                _exit(127);
            }
            CHECK(pids[i] > 0);
        }
        close(p[1]);
    }
    int ok = 0;
    for (int i = 0; i < n; i++) {
        char got[512], want[256];
        sf_remote(i % SF_NFILES, path, sizeof(path), text, sizeof(text));
        if (i % 3 == 0)
            snprintf(want, sizeof(want), "%s", text);
        else
            snprintf(want, sizeof(want), "%snode %s\n", text, host);
        size_t k = 0;
        ssize_t r;
        while (k < sizeof(got) - 1 &&
               (r = read(rd[i], got + k, sizeof(got) - 1 - k)) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                break;
            k += (size_t)r;
        }
        got[k] = 0;
        close(rd[i]);
        int st = -1;
        if (pids[i] > 0)
            waitpid(pids[i], &st, 0);
        if (st == 0 && strcmp(got, want) == 0) {
            ok++;
        } else {
            fprintf(stderr, "child %d (%s): status %#x, printed \"%s\", want "
                            "\"%s\"\n",
                    i, i % 3 == 0 ? "fork+exec cat" : i % 3 == 1
                                                         ? "fork+exec self"
                                                         : "posix_spawn self",
                    st, got, want);
        }
    }
    printf("sf_forks: %d of %d children saw the target\n", ok, n);
    CHECK_LONG(ok, n);
    free(pids);
    free(rd);
    return lt_done("sf_forks");
}
