/* End-to-end: a remote current directory.  chdir/fchdir into the target's
 * directories, getcwd and its relatives, relative paths and AT_FDCWD
 * against it, "..", symlinked directories, a removed cwd, chdir back to a
 * local directory; children inherit it through fork, exec, posix_spawn and
 * popen.  Run with rw.conf (/srv/rw in write mode). */
#include "lt.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The kernel's own getcwd, past any hook. */
static long kernel_getcwd(char *buf, size_t size)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_getcwd), "D"(buf), "S"(size)
                     : "rcx", "r11", "memory");
    return r;
}

static char *cwd_now(void)
{
    static char buf[PATH_MAX];
    return getcwd(buf, sizeof(buf)) ? buf : NULL;
}

static char *slurp_fd(int fd)
{
    static char buf[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    return buf;
}

static char *file_text(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *s = slurp_fd(fd);
    close(fd);
    return s;
}

static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    static char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    pclose(p);
    return out;
}

/* The exec'd child: prints what it sees; the parent compares. */
static int child(void)
{
    char *c = cwd_now();
    char *t = file_text("hello.txt");
    printf("%s|%s|%s", c ? c : "(null)", t ? t : "(null)\n",
           getenv("SHUNT_CWD") ? "SHUNT_CWD visible" : "hidden");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child();
    char start[PATH_MAX];
    CHECK(getcwd(start, sizeof(start)) != NULL);
    struct stat st, st2;
    char buf[PATH_MAX];

    /* chdir into a target-only directory, getcwd and relatives */
    CHECK_LONG(chdir("/srv/data"), 0);
    CHECK_STR(cwd_now(), "/srv/data");
    char *g = get_current_dir_name();
    CHECK_STR(g, "/srv/data");
    free(g);
    g = getcwd(NULL, 0);
    CHECK_STR(g, "/srv/data");
    free(g);
    /* getwd, looked up: calling it directly earns a link-time warning */
    char *(*getwd_fn)(char *) = (char *(*)(char *))dlsym(RTLD_DEFAULT, "getwd");
    CHECK(getwd_fn != NULL);
    if (getwd_fn)
        CHECK_STR(getwd_fn(buf), "/srv/data");
    CHECK_STR(realpath("sub/../hello.txt", buf), "/srv/data/hello.txt");
    CHECK(getcwd(buf, 5) == NULL && errno == ERANGE);
    /* the kernel's cwd meanwhile: a removed local directory */
    CHECK_LONG(kernel_getcwd(buf, sizeof(buf)), -ENOENT);

    /* relative paths and AT_FDCWD */
    CHECK_STR(file_text("hello.txt"), "hello from the target\n");
    int fd = openat(AT_FDCWD, "sub/b.txt", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_STR(slurp_fd(fd), "bbbbbb\n");
    close(fd);
    CHECK_LONG(stat("sub/a.txt", &st), 0);
    CHECK_LONG(st.st_size, 4);
    CHECK_LONG(fstatat(AT_FDCWD, "sub", &st, AT_SYMLINK_NOFOLLOW), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_LONG(access("hello.txt", R_OK), 0);
    CHECK_ERR(access("nope.txt", F_OK), ENOENT);
    ssize_t n = readlink("link", buf, sizeof(buf));
    CHECK_LONG(n, 9);
    CHECK(n == 9 && memcmp(buf, "hello.txt", 9) == 0);
    CHECK_LONG(stat(".", &st), 0);
    CHECK_LONG(stat("/srv/data", &st2), 0);
    CHECK(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
    CHECK_LONG(fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH), 0);
    CHECK(st.st_ino == st2.st_ino);
    DIR *d = opendir(".");
    CHECK(d != NULL);
    int seen = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        seen |= strcmp(e->d_name, "hello.txt") == 0;
    CHECK(seen);
    if (d)
        closedir(d);
    /* a relative path that normalises to a local directory stays local */
    CHECK_LONG(stat("../../proc/self", &st), 0);
    CHECK(S_ISDIR(st.st_mode));

    /* "..", relative chdir, errors */
    CHECK_LONG(chdir("sub"), 0);
    CHECK_STR(cwd_now(), "/srv/data/sub");
    CHECK_STR(file_text("a.txt"), "aaa\n");
    CHECK_LONG(chdir("deeper/../.."), 0);
    CHECK_STR(cwd_now(), "/srv/data");
    CHECK_LONG(chdir("sub/deeper"), 0);
    CHECK_LONG(chdir(".."), 0);
    CHECK_STR(cwd_now(), "/srv/data/sub");
    CHECK_ERR(chdir("a.txt"), ENOTDIR);
    CHECK_ERR(chdir("nope"), ENOENT);
    CHECK_STR(cwd_now(), "/srv/data/sub");

    /* a symlinked directory: getcwd gives the physical path */
    CHECK_LONG(symlink("/srv/data/sub", "/srv/rw/sublink"), 0);
    CHECK_LONG(chdir("/srv/rw/sublink"), 0);
    CHECK_STR(cwd_now(), "/srv/data/sub");
    CHECK_LONG(unlink("/srv/rw/sublink"), 0);

    /* back to a local directory, then fchdir to a remote directory fd */
    CHECK_LONG(chdir(start), 0);
    CHECK_STR(cwd_now(), start);
    CHECK(kernel_getcwd(buf, sizeof(buf)) > 0 && strcmp(buf, start) == 0);
    int dfd = open("/srv/data/sub", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK_LONG(fchdir(dfd), 0);
    CHECK_STR(cwd_now(), "/srv/data/sub");
    CHECK_STR(file_text("b.txt"), "bbbbbb\n");
    int lfd = open(start, O_RDONLY | O_DIRECTORY);
    CHECK_LONG(fchdir(lfd), 0);
    CHECK_STR(cwd_now(), start);
    close(lfd);
    int ffd = open("/srv/data/hello.txt", O_RDONLY);
    CHECK_ERR(fchdir(ffd), ENOTDIR);
    close(ffd);
    close(dfd);

    /* write mode: creates, renames and removals relative to the cwd
     * (never relative to a local cwd: a layer that failed the chdir stops
     * the test here) */
    if (chdir("/srv/rw") != 0 || !cwd_now() || strcmp(cwd_now(), "/srv/rw")) {
        fprintf(stderr, "lt_cwd: not in /srv/rw; the rest is not run\n");
        lt_failures++;
        return lt_done("lt_cwd");
    }
    fd = open("new.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_LONG(write(fd, "new\n", 4), 4);
    close(fd);
    CHECK_LONG(mkdir("dir", 0755), 0);
    CHECK_LONG(rename("new.txt", "dir/moved.txt"), 0);
    CHECK_STR(file_text("/srv/rw/dir/moved.txt"), "new\n");
    CHECK_LONG(unlink("dir/moved.txt"), 0);
    CHECK_LONG(rmdir("dir"), 0);

    /* the cwd itself as "" with AT_EMPTY_PATH: the remote cwd, not the
     * kernel's (a removed local directory); "" alone is ENOENT */
    CHECK_LONG(mkdir("stamp", 0755), 0);
    CHECK_LONG(chdir("stamp"), 0);
    struct timespec ts2[2] = {{1000000, 0}, {2000000, 0}};
    CHECK_LONG(utimensat(AT_FDCWD, "", ts2, AT_EMPTY_PATH), 0);
    CHECK_LONG(stat("/srv/rw/stamp", &st), 0);
    CHECK_LONG(st.st_mtim.tv_sec, 2000000);
    if (geteuid() == 0) {
        CHECK_LONG(fchownat(AT_FDCWD, "", 4321, 4322, AT_EMPTY_PATH), 0);
        CHECK_LONG(stat("/srv/rw/stamp", &st), 0);
        CHECK_LONG(st.st_uid, 4321);
        CHECK_LONG(st.st_gid, 4322);
    }
    CHECK_ERR(utimensat(AT_FDCWD, "", ts2, 0), ENOENT);
    CHECK_ERR(fchownat(AT_FDCWD, "", 0, 0, 0), ENOENT);
    CHECK_ERR(fchmodat(AT_FDCWD, "", 0700, 0), ENOENT);
    CHECK_LONG(chdir("/srv/rw"), 0);
    CHECK_LONG(rmdir("stamp"), 0);

    /* a removed cwd: ENOENT, as the kernel says */
    CHECK_LONG(mkdir("gone", 0755), 0);
    CHECK_LONG(chdir("gone"), 0);
    CHECK_STR(cwd_now(), "/srv/rw/gone");
    CHECK_LONG(rmdir("/srv/rw/gone"), 0);
    CHECK(getcwd(buf, sizeof(buf)) == NULL && errno == ENOENT);
    CHECK_ERR(open("x", O_RDONLY), ENOENT);
    CHECK_LONG(chdir("/srv/rw"), 0);

    /* a renamed cwd, or a renamed parent: the kernel's cwd is the
     * directory itself, so getcwd gives its new name and relative paths
     * reach it (the layer's cwd was its name at chdir: ENOENT for both) */
    CHECK_LONG(mkdir("mv", 0755), 0);
    CHECK_LONG(mkdir("mv/in", 0755), 0);
    fd = open("mv/in/f.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_LONG(write(fd, "moved\n", 6), 6);
    close(fd);
    CHECK_LONG(chdir("mv"), 0);
    CHECK_LONG(rename("/srv/rw/mv", "/srv/rw/mv2"), 0);
    CHECK_STR(cwd_now(), "/srv/rw/mv2");
    CHECK_STR(file_text("in/f.txt"), "moved\n");
    CHECK_LONG(mkdir("made", 0755), 0);
    CHECK_LONG(stat("/srv/rw/mv2/made", &st), 0);
    CHECK_LONG(rmdir("made"), 0);
    CHECK_LONG(chdir("in"), 0);
    CHECK_STR(cwd_now(), "/srv/rw/mv2/in");
    CHECK_LONG(rename("/srv/rw/mv2", "/srv/rw/mv3"), 0); /* the parent */
    CHECK_STR(cwd_now(), "/srv/rw/mv3/in");
    CHECK_LONG(fstatat(AT_FDCWD, "f.txt", &st, 0), 0);
    CHECK_LONG(st.st_size, 6);
    CHECK_LONG(stat("..", &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    /* a forked child holds the cwd's handle too: the parent's chdir away
     * (which CLOSEs its own hold) leaves the child's cwd working, and the
     * child's leaves the parent's */
    int go[2];
    CHECK_LONG(pipe(go), 0);
    pid_t mpid = fork();
    if (mpid == 0) {
        char c1;
        close(go[1]);
        int ok = read(go[0], &c1, 1) == 1; /* the parent moved away */
        char *c = cwd_now();
        ok = ok && c && strcmp(c, "/srv/rw/mv3/in") == 0 &&
             access("f.txt", R_OK) == 0 && chdir("/srv/rw") == 0;
        _exit(ok ? 0 : 1);
    }
    close(go[0]);
    CHECK_LONG(chdir("/srv/rw"), 0);
    CHECK_LONG(write(go[1], "g", 1), 1);
    close(go[1]);
    int mst = 0;
    CHECK(mpid > 0 && waitpid(mpid, &mst, 0) == mpid && WIFEXITED(mst) &&
          WEXITSTATUS(mst) == 0);
    CHECK_LONG(chdir("mv3/in"), 0);
    mpid = fork();
    if (mpid == 0)
        _exit(chdir("/srv/rw") == 0 ? 0 : 1);
    CHECK(mpid > 0 && waitpid(mpid, &mst, 0) == mpid && WIFEXITED(mst) &&
          WEXITSTATUS(mst) == 0);
    CHECK_STR(cwd_now(), "/srv/rw/mv3/in");
    CHECK_STR(file_text("f.txt"), "moved\n");
    /* fchdir: the cwd outlives the fd, and follows a rename too */
    dfd = open("/srv/rw/mv3", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK_LONG(fchdir(dfd), 0);
    close(dfd);
    CHECK_LONG(rename("/srv/rw/mv3", "/srv/rw/mv4"), 0);
    CHECK_STR(cwd_now(), "/srv/rw/mv4");
    CHECK_STR(file_text("in/f.txt"), "moved\n");
    CHECK_LONG(chdir("/srv/rw"), 0);
    CHECK_LONG(unlink("mv4/in/f.txt"), 0);
    CHECK_LONG(rmdir("mv4/in"), 0);
    CHECK_LONG(rmdir("mv4"), 0);

    /* children: fork, exec, posix_spawn, popen */
    CHECK_LONG(chdir("/srv/data"), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char *c = cwd_now();
        char *t = file_text("hello.txt");
        _exit(c && strcmp(c, "/srv/data") == 0 && t &&
                      strcmp(t, "hello from the target\n") == 0
                  ? 0
                  : 1);
    }
    int status = 0;
    CHECK_LONG(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    const char *want = "/srv/data|hello from the target\n|hidden";
    int pfd[2];
    CHECK_LONG(pipe(pfd), 0);
    pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        execl("/proc/self/exe", "lt_cwd", "child", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    CHECK_STR(slurp_fd(pfd[0]), want);
    close(pfd[0]);
    CHECK_LONG(waitpid(pid, &status, 0), pid);

    CHECK_LONG(pipe(pfd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    char *cargv[] = {"lt_cwd", "child", NULL};
    CHECK_LONG(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, cargv, environ),
               0);
    close(pfd[1]);
    CHECK_STR(slurp_fd(pfd[0]), want);
    close(pfd[0]);
    CHECK_LONG(waitpid(pid, &status, 0), pid);
    posix_spawn_file_actions_destroy(&fa);

    /* an exec the layer does not see (a raw execve, as Go's os/exec or a
     * program without the layer make): the child's environment has no
     * SHUNT_CWD, the name of the kernel's cwd tells the remote cwd */
    CHECK_LONG(pipe(pfd), 0);
    pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        long r;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "0"((long)SYS_execve), "D"("/proc/self/exe"),
                           "S"(cargv), "d"(environ)
                         : "rcx", "r11", "memory");
        _exit(127);
    }
    close(pfd[1]);
    CHECK_STR(slurp_fd(pfd[0]), want);
    close(pfd[0]);
    CHECK_LONG(waitpid(pid, &status, 0), pid);

    /* a shell keeps its logical $PWD and sees the physical cwd */
    CHECK_STR(run("pwd; pwd -P; cat hello.txt; cd sub && pwd && cat a.txt && "
                  "cd .. && pwd && ls"),
              "/srv/data\n/srv/data\nhello from the target\n/srv/data/sub\n"
              "aaa\n/srv/data\nbig.txt\ndangling\nhello.txt\nlink\n"
              "secret.txt\nsub\n");

    /* a path too long to be named by the removed directory: SHUNT_CWD */
    char longp[PATH_MAX] = "/srv/rw";
    if (chdir(longp) != 0 || !cwd_now() || strcmp(cwd_now(), longp)) {
        lt_failures++;
        return lt_done("lt_cwd");
    }
    for (int i = 0; i < 5; i++) {
        char comp[64];
        snprintf(comp, sizeof(comp), "%d-%.50s", i,
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        CHECK_LONG(mkdir(comp, 0755), 0);
        CHECK_LONG(chdir(comp), 0);
        strcat(longp, "/");
        strcat(longp, comp);
    }
    CHECK(strlen(longp) > 255);
    CHECK_STR(cwd_now(), longp);
    char wantl[PATH_MAX + 16];
    snprintf(wantl, sizeof(wantl), "%s\n%s\n", longp, longp);
    CHECK_STR(run("pwd -P; sh -c 'pwd -P'"), wantl);

    CHECK_LONG(chdir(start), 0);
    CHECK_STR(cwd_now(), start);
    return lt_done("lt_cwd");
}
