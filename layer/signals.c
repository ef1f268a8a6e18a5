/* The program's signal handlers run with the layer's per-thread state of
 * a fresh call (docs/hooking.md, "Signals").
 *
 * The layer blocks signals around its own work (sigblock.h), so a handler
 * never lands inside it -- but it may land inside an original: REAL()
 * keeps the guard up for the whole of an original call (a read(), a
 * getaddrinfo()), and a handler's open() there would bypass the layer and
 * act on this host.  So sigaction() installs, for every handler the
 * program gives it, this file's wrapper instead: the wrapper sets the
 * thread's guard state to "outside the layer", runs the program's handler
 * and puts the state back.  sigaction() answers with the program's own
 * handler and flags, so the program never sees the wrapper.  glibc's
 * signal(), sigset() and bsd_signal() call sigaction's patched entry.
 * A Go program's handlers (its runtime's, set through libc with cgo) are
 * left alone: they never call libc.
 *
 * A fault signal (SIGSEGV...) is not blocked by the layer; when it
 * arrives during the layer's own work (shunt_sigblk > 0) the state is left
 * as it is, so the handler's calls go to the originals as before: the
 * layer's locks or connection may be taken.  A handler left by siglongjmp
 * leaves the guard down, which is right for the code it jumps to (outside
 * any original, where sigsetjmp was called). */
#include "hooks.h"
#include "layer.h"
#include "sigblock.h"

#include <signal.h>
#include <string.h>

#define NSIG_MAX 65

typedef struct {
    void *fn;  /* the program's handler: sa_handler or sa_sigaction */
    int flags; /* the program's sa_flags (SA_SIGINFO says which) */
} prog_handler_t;

static prog_handler_t handlers[NSIG_MAX];

static void wrapper(int sig, siginfo_t *si, void *ctx)
{
    prog_handler_t h = {0, 0};
    if (sig > 0 && sig < NSIG_MAX) {
        h.fn = __atomic_load_n(&handlers[sig].fn, __ATOMIC_ACQUIRE);
        h.flags = __atomic_load_n(&handlers[sig].flags, __ATOMIC_RELAXED);
    }
    if (!h.fn)
        return; /* cannot happen: the table is set before the kernel's */
    int fresh = shunt_sigblk == 0;
    int guard = shunt_guard, win = shunt_win;
    unsigned held = shunt_held;
    int prevwin[32];
    if (fresh) {
        memcpy(prevwin, shunt_prevwin, sizeof(prevwin));
        shunt_guard = 0;
        shunt_win = 0;
        shunt_held = 0;
    }
    if (h.flags & SA_SIGINFO)
        ((void (*)(int, siginfo_t *, void *))h.fn)(sig, si, ctx);
    else
        ((void (*)(int))h.fn)(sig);
    if (fresh) {
        memcpy(shunt_prevwin, prevwin, sizeof(prevwin));
        shunt_guard = guard;
        shunt_win = win;
        shunt_held = held;
    }
}

static int is_handler(const struct sigaction *a)
{
    void *fn = (a->sa_flags & SA_SIGINFO) ? (void *)a->sa_sigaction
                                          : (void *)a->sa_handler;
    return fn != (void *)SIG_DFL && fn != (void *)SIG_IGN && fn != NULL;
}

int hook_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG_MAX || shunt_state != SHUNT_STATE_ACTIVE ||
        shunt_go_main)
        return REAL(sigaction, sig, act, old);
    prog_handler_t prev = {
        __atomic_load_n(&handlers[sig].fn, __ATOMIC_ACQUIRE),
        __atomic_load_n(&handlers[sig].flags, __ATOMIC_RELAXED)};
    struct sigaction a;
    const struct sigaction *use = act;
    if (act && is_handler(act)) {
        a = *act;
        void *fn = (act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction
                                                : (void *)act->sa_handler;
        /* the table first: from the kernel's switch on, the wrapper runs */
        __atomic_store_n(&handlers[sig].flags, act->sa_flags, __ATOMIC_RELAXED);
        __atomic_store_n(&handlers[sig].fn, fn, __ATOMIC_RELEASE);
        a.sa_sigaction = wrapper;
        a.sa_flags |= SA_SIGINFO;
        use = &a;
    }
    int r = REAL(sigaction, sig, use, old);
    if (r < 0 && use == &a) { /* refused: the table goes back */
        __atomic_store_n(&handlers[sig].flags, prev.flags, __ATOMIC_RELAXED);
        __atomic_store_n(&handlers[sig].fn, prev.fn, __ATOMIC_RELEASE);
    }
    if (r == 0 && old && (old->sa_flags & SA_SIGINFO) &&
        old->sa_sigaction == wrapper && prev.fn) {
        /* what the program installed, as it installed it */
        old->sa_flags = prev.flags;
        if (prev.flags & SA_SIGINFO)
            old->sa_sigaction = (void (*)(int, siginfo_t *, void *))prev.fn;
        else
            old->sa_handler = (void (*)(int))prev.fn;
    }
    return r;
}
