/* Issue 13 §2.1: a signal handler that opens, reads and closes a remote
 * file while the program opens and closes remote files in a loop.
 *   sig_open REMOTE_FILE EXPECTED_LINE SECONDS   (the file is the line + \n)
 * A SIGALRM timer (setitimer, 100 us) fires throughout.  Every open in the
 * handler must succeed and read the remote content (not this host's file
 * of that name, which does not exist); nothing may hang (run it under
 * timeout).  Before the fix the handler's opens went to the host (the
 * guard was raised: ENOENT) or spun forever on the fd table's lock. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *path, *want;
static size_t want_len;
static volatile sig_atomic_t h_ok, h_bad_open, h_bad_read, h_last_errno;

static volatile sig_atomic_t ticks;

/* Remote work on every 4th tick: a remote open takes longer than the
 * timer's period, and a handler that always worked would leave the
 * program no time between handlers (the timer is due again on return). */
static void on_alarm(int sig)
{
    (void)sig;
    if (ticks++ % 4)
        return;
    int saved = errno;
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        h_bad_open++;
        h_last_errno = errno;
        errno = saved;
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == (ssize_t)want_len && memcmp(buf, want, want_len) == 0)
        h_ok++;
    else
        h_bad_read++;
    close(fd);
    errno = saved;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sig_open FILE CONTENT SECONDS\n");
        return 2;
    }
    path = argv[1];
    static char line[200];
    snprintf(line, sizeof(line), "%s\n", argv[2]);
    want = line;
    want_len = strlen(want);
    int secs = atoi(argv[3]);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_interval = {0, 100}, .it_value = {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long loops = 0, main_bad = 0;
    do {
        char buf[256];
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            if (errno != EINTR)
                main_bad++;
        } else {
            ssize_t n;
            do
                n = read(fd, buf, sizeof(buf));
            while (n < 0 && errno == EINTR);
            if (n != (ssize_t)want_len || memcmp(buf, want, want_len) != 0)
                main_bad++;
            close(fd);
        }
        loops++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < secs);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("sig_open: %ld loops (%ld bad); %d ticks; handler: %d ok, %d failed opens "
           "(last errno %d), %d bad reads\n",
           loops, main_bad, (int)ticks, (int)h_ok, (int)h_bad_open, (int)h_last_errno,
           (int)h_bad_read);
    if (main_bad || h_bad_open || h_bad_read || h_ok < 100 || loops < 100)
        return 1;
    return 0;
}
