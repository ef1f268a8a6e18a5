/* The seccomp filter: built with libseccomp from calls.def, loaded in the
 * process that then execs the program.  Calls it does not list run in the
 * kernel at full speed; the listed ones stop until the supervisor answers.
 * It is an interception mechanism, not a security boundary: the program
 * could change a path between the supervisor's look and the kernel's
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE), which only misleads itself.
 *
 * It is loaded with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19):
 * once a worker has received a call, only a fatal signal interrupts the
 * program's wait for the answer.  Without it a signal (Go's preemption,
 * a timer) cancels the call and the kernel restarts it while its answer is
 * on the way -- a connect made twice, an fd installed by ADDFD that the
 * program never hears of -- and an answer the supervisor sent can still be
 * dropped (the kernel finds the signal first).  libseccomp 2.5 cannot set
 * the flag: the program it builds is exported and loaded here. */
#include "sv.h"

#include "shunt/log.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SV_ALWAYS -1
#define SV_WRITE -2
#define SV_ARG_SET(n) (n)

/* ctx's BPF program, exported by libseccomp (malloc'd), or NULL. */
static struct sock_filter *export_bpf(scmp_filter_ctx ctx, unsigned short *len)
{
    int fd = memfd_create("shunt-sv-bpf", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct sock_filter *f = NULL;
    off_t size = seccomp_export_bpf(ctx, fd) == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (size > 0 && size % (off_t)sizeof(*f) == 0 &&
        size / (off_t)sizeof(*f) <= BPF_MAXINSNS && (f = malloc((size_t)size)) &&
        pread(fd, f, (size_t)size, 0) != size) {
        free(f);
        f = NULL;
    }
    close(fd);
    *len = f ? (unsigned short)(size / (off_t)sizeof(*f)) : 0;
    return f;
}

/* Loads prog with a listener: without no_new_privs for root (set-user-ID
 * programs in the tree keep working), with it otherwise; with
 * WAIT_KILLABLE_RECV where the kernel has it.  The listener, or -errno. */
static int load_bpf(const struct sock_fprog *prog)
{
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER |
                          SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    for (int tries = 0; tries < 3; tries++) {
        long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
        if (fd >= 0)
            return (int)fd;
        if (errno == EACCES && !prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        } else if (errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
            LOG_INFO("seccomp: no WAIT_KILLABLE_RECV in this kernel (before 5.19): "
                     "a signal can cancel a call the supervisor is answering");
            flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        } else {
            return -errno;
        }
    }
    return -EPERM;
}

/* The listener's fd, or -errno (said why). */
int sv_filter_install(void);
int sv_filter_install(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        LOG_ERROR("seccomp_init failed");
        return -ENOMEM;
    }
    int r = 0;
    /* Another architecture's calls (a 32-bit program) run as they are:
     * the handlers decode x86-64 only (docs/supervisor.md). */
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    /* no_new_privs is load_bpf's to set */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
#define SV(name, fn, when)                                                  \
    if (r == 0 && ((when) != SV_WRITE || sv_wr_enabled)) {                 \
        int arg_ = (when);                                                  \
        r = arg_ < 0 ? seccomp_rule_add(ctx, SCMP_ACT_NOTIFY,               \
                                        SCMP_SYS(name), 0)                  \
                     : seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(name), \
                                        1,                                  \
                                        SCMP_CMP((unsigned)arg_,            \
                                                 SCMP_CMP_NE, 0, 0));       \
        if (r < 0)                                                          \
            LOG_ERROR("seccomp rule for %s: %s", #name, strerror(-r));     \
    }
#include "calls.def"
#undef SV
    unsigned short len = 0;
    struct sock_filter *bpf = r == 0 ? export_bpf(ctx, &len) : NULL;
    seccomp_release(ctx);
    if (r == 0 && !bpf)
        r = -ENOMEM;
    if (r == 0) {
        struct sock_fprog prog = {.len = len, .filter = bpf};
        r = load_bpf(&prog);
    }
    free(bpf);
    if (r < 0)
        LOG_ERROR("loading the seccomp filter: %s", strerror(-r));
    return r;
}
