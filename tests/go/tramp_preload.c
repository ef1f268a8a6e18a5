/* Preloaded into tests/go/tramp (a Go program) by the go.trampoline test:
 * installs the Go trampolines (trampolines/x86_64/go_*.S) with a test
 * handler instead of the layer's, so that what the trampolines pass and
 * return can be checked from Go.  Pseudo system calls (numbers no kernel
 * has):
 *   500(a1..a6)  -> a1 + 2*a2 + 3*a3 + 4*a4 + 5*a5 + 6*a6, if the handler
 *                   runs on a stack other than the goroutine's (a6 is the
 *                   address of a goroutine local), else -EFAULT
 *   501          -> -EDOM
 *   502(ns)      -> sleeps ns nanoseconds, returns 7 (preemption, GC)
 *   503          -> how many times the handler ran in a process other than
 *                   this one (a vfork/clone child): must stay 0
 *   504          -> how many times the handler ran
 * close, dup3 and fcntl are wanted too (and passed to the kernel), so that
 * the children of os/exec would reach the handler if the trampolines let
 * them. */
#include "shunt/goinfo.h"
#include "shunt/gotramp.h"
#include "shunt/hook.h"

#include <errno.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long pid;
static atomic_long in_child, calls;

static void handler(shunt_go_call_t *c)
{
    atomic_fetch_add(&calls, 1);
    if (syscall(SYS_getpid) != pid)
        atomic_fetch_add(&in_child, 1);
    long *a = c->a;
    char here;
    switch (c->nr) {
    case 500: {
        long d = (long)(uintptr_t)&here - a[5];
        if (d > -(1l << 24) && d < (1l << 24))
            c->ret = -EFAULT; /* within 16 MiB of the goroutine's local */
        else
            c->ret = a[0] + 2 * a[1] + 3 * a[2] + 4 * a[3] + 5 * a[4] + 6 * a[5];
        return;
    }
    case 501:
        c->ret = -EDOM;
        return;
    case 502: {
        struct timespec ts = {0, a[0]};
        nanosleep(&ts, NULL);
        c->ret = 7;
        return;
    }
    case 503:
        c->ret = atomic_load(&in_child);
        return;
    case 504:
        c->ret = atomic_load(&calls);
        return;
    default:
        c->ret = syscall(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (c->ret == -1)
            c->ret = -errno;
    }
}

static int main_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(uintptr_t *)arg = info->dlpi_addr;
    return 1;
}

static void want(int nr) { shunt_go_want[nr / 64] |= 1ull << (nr % 64); }

__attribute__((constructor)) static void init(void)
{
    if (!getenv("GOTRAMP_TEST"))
        return;
    pid = syscall(SYS_getpid);
    shunt_goinfo_t gi;
    char why[256];
    if (shunt_goinfo_read("/proc/self/exe", &gi, why, sizeof(why)) < 0 ||
        shunt_go_family(&gi, why, sizeof(why)) < 0 || !gi.raw_vfork) {
        /* Silent: the test program's children (/bin/echo) inherit the
         * preload; the program itself says when the handler is missing. */
        return;
    }
    uintptr_t bias = 0;
    dl_iterate_phdr(main_bias, &bias);
    shunt_go_asmcgocall = shunt_go_asmcgocall_body(bias + gi.asmcgocall);
    shunt_go_handler = handler;
    for (int nr = 500; nr <= 504; nr++)
        want(nr);
    want(SYS_close);
    want(SYS_dup3);
    want(SYS_fcntl);
    void *orig;
    if (shunt_hook_install((void *)(bias + gi.raw_vfork),
                           (void *)shunt_go_vfork_entry, &shunt_go_vfork_orig,
                           why, sizeof(why)) < 0) {
        fprintf(stderr, "tramp_preload: install: %s\n", why);
        exit(98);
    }
    if (shunt_go_family(&gi, why, sizeof(why)) == SHUNT_GO_SYSCALL6) {
        if (shunt_hook_install((void *)(bias + gi.syscall6),
                               (void *)shunt_go_syscall6_entry, &orig, why,
                               sizeof(why)) < 0) {
            fprintf(stderr, "tramp_preload: install: %s\n", why);
            exit(98);
        }
        return;
    }
    /* Go < 1.19: the four ABI0 functions, patched inside (go_abi0.S). */
    const uint64_t fn[SHUNT_GO_ABI0_N] = {
        [SHUNT_GO_ABI0_SYSCALL] = gi.syscall_abi0[0],
        [SHUNT_GO_ABI0_SYSCALL6] = gi.syscall_abi0[1],
        [SHUNT_GO_ABI0_RAWSYSCALL] = gi.syscall_abi0[2],
        [SHUNT_GO_ABI0_RAWSYSCALL6] = gi.raw_syscall6,
    };
    for (int i = 0; i < SHUNT_GO_ABI0_N; i++)
        if (!fn[i] || shunt_go_abi0_install(i, bias + fn[i], why,
                                            sizeof(why)) < 0) {
            fprintf(stderr, "tramp_preload: install %s: %s\n",
                    shunt_go_abi0_name(i), fn[i] ? why : "absent");
            exit(98);
        }
}
