/* shunt-init: pid 1 of a target container; reaps orphans, exits on SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* Blocked and taken with sigwaitinfo: no handlers, so nothing runs in
     * signal context. As pid 1, unblocked default-action signals would be
     * ignored by the kernel anyway. */
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return 1;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (sig == SIGCHLD) {
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            continue;
        }
        if (sig == SIGHUP)
            continue;
        /* Leaving pid 1 makes the kernel kill the rest of the namespace. */
        return 0;
    }
}
