/* The seccomp filter: built with libseccomp from calls.def, loaded in the
 * process that then execs the program.  Calls it does not list run in the
 * kernel at full speed; the listed ones stop until the supervisor answers.
 * It is an interception mechanism, not a security boundary: the program
 * could change a path between the supervisor's look and the kernel's
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE), which only misleads itself. */
#include "sv.h"

#include "shunt/log.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <unistd.h>

#define SV_ALWAYS -1
#define SV_WRITE -2
#define SV_ARG_SET(n) (n)

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
    /* Root may install a filter without no_new_privs, so that set-user-ID
     * programs in the tree keep working; anyone else must set it. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, geteuid() == 0 ? 0 : 1);
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
    if (r == 0 && (r = seccomp_load(ctx)) < 0 && geteuid() == 0) {
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        r = seccomp_load(ctx);
    }
    if (r < 0) {
        LOG_ERROR("loading the seccomp filter: %s", strerror(-r));
        seccomp_release(ctx);
        return r;
    }
    int fd = seccomp_notify_fd(ctx);
    seccomp_release(ctx); /* the fd stays open */
    if (fd < 0)
        LOG_ERROR("seccomp: no notification fd");
    return fd < 0 ? -EIO : fd;
}
