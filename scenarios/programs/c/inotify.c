/* The kernel's inotify semantics, printed: run in the target (the kernel
 * answers) and locally under the layer on the same remote directory
 * (scenarios/inotify-semantics.yaml).  Watch descriptors are printed by
 * name (W1, W2...), cookies as "pair" when MOVED_FROM and MOVED_TO share a
 * non-zero one: their numbers are the kernel's choice. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *D; /* the watched directory */
static int wds[16], nwds;

static const char *wdname(int wd)
{
    static char b[8][16];
    static int k;
    char *s = b[k++ & 7];
    if (wd == -1)
        return "-1";
    for (int i = 0; i < nwds; i++)
        if (wds[i] == wd) {
            snprintf(s, 16, "W%d", i + 1);
            return s;
        }
    if (nwds < 16)
        wds[nwds++] = wd;
    snprintf(s, 16, "W%d", nwds);
    return s;
}

static void masks(uint32_t m, char *out, size_t len)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } t[] = {
        {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
        {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
        {IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"},
        {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
        {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
        {IN_MOVE_SELF, "MOVE_SELF"}, {IN_UNMOUNT, "UNMOUNT"},
        {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
        {IN_ISDIR, "ISDIR"},
    };
    out[0] = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (m & t[i].bit)
            snprintf(out + strlen(out), len - strlen(out), "%s%s",
                     out[0] ? "," : "", t[i].name);
}

static uint32_t last_cookie;

/* Prints the events of one buffer; returns 1 when an event with a bit of
 * stopmask and the name stop (NULL: none) was among them. */
static int print_events(const char *tag, const char *buf, ssize_t n,
                        uint32_t stopmask, const char *stop)
{
    int seen = 0;
    for (ssize_t off = 0; off < n;) {
        const struct inotify_event *ev = (const void *)(buf + off);
        char m[200];
        masks(ev->mask, m, sizeof(m));
        const char *ck = "";
        if (ev->mask & IN_MOVED_FROM)
            last_cookie = ev->cookie;
        if (ev->mask & IN_MOVED_TO)
            ck = ev->cookie && ev->cookie == last_cookie ? " cookie=pair"
                                                         : " cookie=MISMATCH";
        printf("%s: %s %s %s%s\n", tag, wdname(ev->wd), m,
               ev->len ? ev->name : "-", ck);
        if ((ev->mask & stopmask) &&
            (stop ? ev->len && strcmp(ev->name, stop) == 0 : !ev->len))
            seen = 1;
        off += (ssize_t)sizeof(*ev) + ev->len;
    }
    return seen;
}

/* Reads until that event came (or 3 s without it): the events of a
 * change made by the agent arrive a moment after the call returns, not
 * with it (docs/hooking.md), so the program waits for what it expects. */
static void drain(const char *tag, int fd, uint32_t stopmask, const char *stop)
{
    char buf[8192] __attribute__((aligned(8)));
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 3000);
        if (r <= 0) {
            printf("%s: poll timed out waiting for %s\n", tag,
                   stop ? stop : "an event");
            return;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            printf("%s: read: %s\n", tag, strerror(errno));
            return;
        }
        if (print_events(tag, buf, n, stopmask, stop))
            return;
    }
}

static void path(char *out, const char *name)
{
    snprintf(out, 4096, "%s/%s", D, name);
}

static void touch(const char *name)
{
    char p[4096];
    path(p, name);
    int f = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f >= 0)
        close(f);
}

static void show(const char *what, int r)
{
    int e = errno;
    printf("%s: %d %s\n", what, r, r < 0 ? strerror(e) : "");
}

static void report(const char *what, int r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: ok\n", what);
}

int main(int argc, char **argv)
{
    D = argc > 1 ? argv[1] : "/srv/probe";
    setvbuf(stdout, NULL, _IOLBF, 0);
    char p[4096], q[4096];

    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    report("inotify_init1", fd);
    printf("nonblock=%d cloexec=%d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
           !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    char b[64];
    ssize_t n;
    show("empty read", (int)read(fd, b, sizeof(b)));

    /* the same inode twice is one watch; IN_MASK_ADD keeps it */
    int w1 = inotify_add_watch(fd, D, IN_CREATE | IN_DELETE);
    int w1b = inotify_add_watch(fd, D, IN_CREATE | IN_DELETE | IN_MOVE |
                                           IN_CLOSE_WRITE | IN_ATTRIB);
    int w1c = inotify_add_watch(fd, D, IN_MODIFY | IN_MASK_ADD);
    printf("dir watch %s, again %s, mask_add %s\n", wdname(w1), wdname(w1b),
           wdname(w1c));
    path(p, "plain.txt");
    touch("plain.txt");
    show("onlydir on a file", inotify_add_watch(fd, p, IN_MODIFY | IN_ONLYDIR));
    path(q, "missing");
    show("missing", inotify_add_watch(fd, q, IN_MODIFY));
    show("no events in mask", inotify_add_watch(fd, D, 0));
    show("mask_add|mask_create",
         inotify_add_watch(fd, D, IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
    show("mask_create on a watched inode",
         inotify_add_watch(fd, D, IN_MODIFY | IN_MASK_CREATE));
    /* a symlink to the directory: followed, the directory's watch; not
     * followed, a watch of its own */
    path(q, "link");
    unlink(q);
    if (symlink(".", q) < 0)
        printf("symlink: %s\n", strerror(errno));
    int wl = inotify_add_watch(fd, q, IN_ATTRIB | IN_MASK_ADD);
    int wn = inotify_add_watch(fd, q, IN_ATTRIB | IN_DONT_FOLLOW);
    printf("link followed %s, not followed %s\n", wdname(wl), wdname(wn));
    unlink(q);
    drain("setup", fd, IN_DELETE, "link");

    /* a burst of changes: create, write, rename, chmod, mkdir, delete */
    int f = open(p, O_WRONLY | O_APPEND);
    if (write(f, "x\n", 2) != 2)
        printf("write failed\n");
    close(f);
    path(q, "renamed.txt");
    rename(p, q);
    chmod(q, 0600);
    path(p, "sub");
    mkdir(p, 0755);
    rmdir(p);
    unlink(q);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    touch("zz.end");
    printf("poll: %d\n", poll(&pf, 1, 3000));
    usleep(300000); /* all of them queued */
    int avail = -1;
    ioctl(fd, FIONREAD, &avail);
    printf("FIONREAD > 0: %d\n", avail > 0);
    show("read of 8 bytes", (int)read(fd, b, 8));
    show("read of 20 bytes", (int)read(fd, b, 20));
    drain("burst", fd, IN_CLOSE_WRITE, "zz.end");

    /* IN_ONESHOT: one event, then IN_IGNORED */
    path(p, "once.txt");
    touch("once.txt");
    drain("once-create", fd, IN_CLOSE_WRITE, "once.txt");
    int wo = inotify_add_watch(fd, p, IN_MODIFY | IN_ONESHOT);
    printf("oneshot watch %s\n", wdname(wo));
    for (int i = 0; i < 2; i++) {
        f = open(p, O_WRONLY | O_APPEND);
        if (write(f, "y", 1) != 1)
            printf("write failed\n");
        close(f);
        usleep(100000);
    }
    unlink(p);
    drain("oneshot", fd, IN_DELETE, "once.txt");

    /* rm_watch: IN_IGNORED; a second time EINVAL */
    report("rm_watch", inotify_rm_watch(fd, w1));
    drain("rm", fd, IN_IGNORED, NULL);
    show("rm again", inotify_rm_watch(fd, w1));
    show("rm of a bad fd", inotify_rm_watch(-1, w1));
    show("add on a bad fd", inotify_add_watch(-1, D, IN_MODIFY));

    /* a dup outlives the original; epoll sees it; a child reads it */
    int w2 = inotify_add_watch(fd, D, IN_CREATE);
    printf("new watch %s\n", wdname(w2));
    int d = dup(fd);
    close(fd);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ee = {.events = EPOLLIN, .data.fd = d};
    epoll_ctl(ep, EPOLL_CTL_ADD, d, &ee);
    touch("after-dup");
    struct epoll_event out;
    printf("epoll_wait: %d\n", epoll_wait(ep, &out, 1, 3000));
    drain("dup", d, IN_CREATE, "after-dup");
    pid_t pid = fork();
    if (pid == 0) {
        touch("from-child");
        drain("child", d, IN_CREATE, "from-child");
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));

    /* the instance is gone with its last fd: a new one starts afresh */
    close(d);
    close(ep);
    int fd2 = inotify_init();
    int w3 = inotify_add_watch(fd2, D, IN_DELETE);
    printf("second instance watch %s, blocking read follows\n",
           w3 > 0 ? "ok" : strerror(errno));
    path(p, "zz.end");
    unlink(p);
    char buf[4096] __attribute__((aligned(8)));
    n = read(fd2, buf, sizeof(buf)); /* blocks until the delete is there */
    print_events("blocking", buf, n, 0, NULL);
    const char *rest[] = {"after-dup", "from-child", "plain.txt"};
    for (int i = 0; i < 3; i++) {
        path(p, rest[i]);
        unlink(p);
    }
    close(fd2);
    return 0;
}
