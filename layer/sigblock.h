/* Signals held off while the layer works (docs/hooking.md, "Signals").
 *
 * A handler may call any async-signal-safe function, open/read/close
 * included, at any instant -- also while the layer is inside a hook of the
 * same thread, holding the fd table's lock or halfway through an RPC on
 * the thread's connection.  So the layer never runs its own work with
 * signals deliverable: shunt_sig_block() blocks every signal but the
 * synchronous ones (a fault in the layer's own code, or in a buffer the
 * program passed, must still reach the program's handler or kill it) and
 * shunt_sig_unblock() puts the thread's mask back; a pending signal is
 * delivered right then, when the layer's state is consistent and the guard
 * is down, so the handler's calls get the same policy as the program's.
 * Nested uses cost a counter; only the outermost makes the two
 * rt_sigprocmask calls.  Pure code with a raw syscall (shunt_sys6,
 * common/include/shunt/sys.h): linked into the unit tests with fdtable.c. */
#ifndef SHUNT_LAYER_SIGBLOCK_H
#define SHUNT_LAYER_SIGBLOCK_H

#include "shunt/sys.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

extern __thread int shunt_sigblk __attribute__((tls_model("initial-exec")));
extern __thread uint64_t shunt_sigsaved
    __attribute__((tls_model("initial-exec")));

/* Every signal but SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV, SIGSYS
 * (SIGKILL and SIGSTOP cannot be blocked anyway). */
#define SHUNT_SIGBLOCK_SET                                                 \
    (~((1ull << (SIGILL - 1)) | (1ull << (SIGTRAP - 1)) |                  \
       (1ull << (SIGBUS - 1)) | (1ull << (SIGFPE - 1)) |                   \
       (1ull << (SIGSEGV - 1)) | (1ull << (SIGSYS - 1))))

/* rt_sigprocmask with the kernel's 8-byte sigset, through the one raw
 * syscall. */
static inline long shunt_sigmask_sys(int how, const uint64_t *set,
                                     uint64_t *old)
{
    return shunt_sys6(SYS_rt_sigprocmask, how, (long)set, (long)old, 8, 0, 0);
}

/* A handler may run between any two statements below until the mask is
 * set; it makes its own complete block/unblock pair, so the counter and
 * the saved mask are the ones of this level again when it returns. */
static inline void shunt_sig_block(void)
{
    if (shunt_sigblk == 0) {
        uint64_t set = SHUNT_SIGBLOCK_SET, old = 0;
        shunt_sigmask_sys(SIG_BLOCK, &set, &old);
        shunt_sigsaved = old;
    }
    shunt_sigblk++;
}

static inline void shunt_sig_unblock(void)
{
    uint64_t m = shunt_sigsaved; /* before a synchronous signal's handler
                                  * could reuse the slot */
    if (--shunt_sigblk == 0)
        shunt_sigmask_sys(SIG_SETMASK, &m, NULL);
}

#endif
