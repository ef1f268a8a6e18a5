/* Locks on remote fds: fcntl record locks (F_GETLK/F_SETLK/F_SETLKW and the
 * F_OFD_* commands) and flock(2), applied by the agent on its own fd in the
 * target (LOCK, FLOCK), so that local processes and processes inside the
 * target exclude each other as on one machine.
 *
 * The agent holds every lock as an open-file-description lock.  POSIX
 * (process-associated) locks are emulated per process: the first remote
 * handle of a file that the process locks through becomes the owner of all
 * its POSIX locks on that file (a table keyed by the remote dev/inode), and
 * closing any fd of that file drops them all, as close(2) does.  The agent
 * never blocks: F_SETLKW and a blocking flock() retry here, sleeping on a
 * timerfd between tries so that a signal interrupts the wait exactly as it
 * interrupts the kernel's (EINTR, or restarted under SA_RESTART). */
#include "hooks.h"
#include "layer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

/* ---- the per-process owners of POSIX locks ------------------------------- */
typedef struct {
    uint32_t dev_major, dev_minor;
    uint64_t ino;
    shunt_rfile_t *f; /* a reference: its handle carries the locks */
} owner_t;

static owner_t *owners;
static size_t nowners, capowners;
static atomic_flag owners_lock = ATOMIC_FLAG_INIT;

static void olock(void)
{
    shunt_sig_block(); /* no handler may find it taken (sigblock.h) */
    while (atomic_flag_test_and_set_explicit(&owners_lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void ounlock(void)
{
    atomic_flag_clear_explicit(&owners_lock, memory_order_release);
    shunt_sig_unblock();
}

static int same_file(const owner_t *o, const shunt_rfile_t *f)
{
    return o->ino == f->st.ino && o->dev_major == f->st.dev_major &&
           o->dev_minor == f->st.dev_minor;
}

/* The owner of this process's POSIX locks on f's file (f itself when it is
 * the first), with a reference taken; NULL on ENOMEM. */
static shunt_rfile_t *owner_of(shunt_rfile_t *f)
{
    shunt_rfile_t *r = NULL;
    olock();
    for (size_t i = 0; i < nowners; i++)
        if (same_file(&owners[i], f)) {
            r = owners[i].f;
            break;
        }
    if (!r) {
        if (nowners == capowners) {
            size_t ncap = capowners ? capowners * 2 : 8;
            owner_t *nv = realloc(owners, ncap * sizeof(*nv));
            if (!nv) {
                ounlock();
                return NULL;
            }
            owners = nv;
            capowners = ncap;
        }
        owners[nowners++] = (owner_t){.dev_major = f->st.dev_major,
                                      .dev_minor = f->st.dev_minor,
                                      .ino = f->st.ino, .f = f};
        shunt_rfile_ref(f); /* the table's */
        r = f;
    }
    shunt_rfile_ref(r);
    ounlock();
    return r;
}

static long rpc_lock(uint32_t handle, int cmd, struct flock *fl)
{
    shunt_lock_t q = {.handle = handle, .cmd = cmd, .type = fl->l_type,
                      .whence = fl->l_whence, .start = fl->l_start,
                      .len = fl->l_len};
    shunt_msg_t m;
    long r = shunt_rpc(SHUNT_T_LOCK, &q, &m);
    if (r < 0)
        return r;
    /* LOCK has two answers (messages.def): OK for SETLK, LOCK_R for GETLK. */
    if (m.type != (cmd == F_OFD_SETLK ? SHUNT_T_OK : SHUNT_T_LOCK_R))
        return -EIO;
    if (cmd == F_OFD_GETLK) {
        fl->l_type = (short)m.u.lock_r.type;
        fl->l_whence = (short)m.u.lock_r.whence;
        fl->l_start = m.u.lock_r.start;
        fl->l_len = m.u.lock_r.len;
        fl->l_pid = m.u.lock_r.pid;
    }
    return r;
}

/* close(2) of any fd of a file drops the process's POSIX locks on it. */
void layer_locks_closed(shunt_rfile_t *f)
{
    if (!f || (f->kind != SHUNT_RF_FWD && f->kind != SHUNT_RF_DIR) ||
        !nowners)
        return;
    shunt_rfile_t *o = NULL;
    olock();
    for (size_t i = 0; i < nowners; i++)
        if (same_file(&owners[i], f)) {
            o = owners[i].f;
            owners[i] = owners[--nowners];
            break;
        }
    ounlock();
    if (!o)
        return;
    struct flock all = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    long r = rpc_lock(o->handle, F_OFD_SETLK, &all);
    if (r < 0)
        LOG_DEBUG("unlock of handle %u at close: %s", o->handle, ESTR((int)-r));
    shunt_rfile_unref(o);
}

/* A forked child holds none of its parent's POSIX locks: forget the table
 * (the references stay with the parent's copy). */
void layer_locks_fork_child(void)
{
    atomic_flag_clear(&owners_lock);
    owners = NULL;
    nowners = capowners = 0;
}

/* ---- waiting --------------------------------------------------------------
 * try() is called until it gives something else than EAGAIN; between tries
 * the thread sleeps on a timerfd (1 ms, doubling up to 50 ms) outside the
 * guard.  A read(2) of a timerfd is interrupted like F_SETLKW: EINTR when a
 * handler without SA_RESTART runs, restarted by the kernel otherwise. */
typedef long (*try_fn)(void *arg);

static long wait_for(try_fn try, void *arg)
{
    int tfd = -1;
    long delay_us = 1000, r;
    for (;;) {
        r = try(arg);
        if (r != -EAGAIN && r != -EACCES)
            break;
        if (tfd < 0) {
            tfd = (int)LSYS2(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_CLOEXEC);
            if (tfd < 0) {
                r = tfd;
                break;
            }
        }
        struct itimerspec its = {.it_value = {.tv_sec = delay_us / 1000000,
                                              .tv_nsec = (delay_us % 1000000) * 1000}};
        LSYS4(SYS_timerfd_settime, tfd, 0, &its, NULL);
        uint64_t ticks;
        LAYER_LEAVE();
        long rr = LSYS3(SYS_read, tfd, &ticks, sizeof(ticks));
        LAYER_ENTER();
        if (rr == -EINTR) {
            r = -EINTR;
            break;
        }
        if (delay_us < 50000)
            delay_us *= 2;
    }
    if (tfd >= 0)
        LSYS1(SYS_close, tfd);
    return r;
}

/* ---- fcntl --------------------------------------------------------------- */
typedef struct {
    uint32_t handle;
    struct flock fl;
} setlk_t;

static long try_setlk(void *arg)
{
    setlk_t *s = arg;
    struct flock fl = s->fl;
    return rpc_lock(s->handle, F_OFD_SETLK, &fl);
}

int layer_is_lock_cmd(int cmd)
{
    return cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW ||
           cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
}

static long lock_fcntl(shunt_rfile_t *f, int cmd, struct flock *fl)
{
    if (!fl)
        return -EFAULT;
    if (f->oflags & O_PATH)
        return -EBADF;
    int ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
    int get = cmd == F_GETLK || cmd == F_OFD_GETLK;
    int acc = f->oflags & O_ACCMODE;
    if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK &&
        fl->l_type != F_UNLCK)
        return -EINVAL;
    if (fl->l_whence != SEEK_SET && fl->l_whence != SEEK_CUR &&
        fl->l_whence != SEEK_END)
        return -EINVAL;
    if (ofd && fl->l_pid != 0)
        return -EINVAL;
    if (!get && ((fl->l_type == F_RDLCK && acc == O_WRONLY) ||
                 (fl->l_type == F_WRLCK && acc == O_RDONLY)))
        return -EBADF;
    shunt_rfile_t *o = ofd ? (shunt_rfile_ref(f), f) : owner_of(f);
    if (!o)
        return -ENOLCK;
    struct flock q = *fl;
    long r = 0;
    if (q.l_whence == SEEK_CUR && o != f) {
        /* Relative to this fd's offset, which the owner's handle lacks. */
        shunt_lseek_t lq = {.handle = f->handle, .offset = 0,
                            .whence = SEEK_CUR};
        shunt_msg_t m;
        r = shunt_rpc(SHUNT_T_LSEEK, &lq, &m);
        if (r >= 0) {
            q.l_start += r;
            q.l_whence = SEEK_SET;
        }
    }
    if (r >= 0) {
        if (get) {
            r = rpc_lock(o->handle, F_OFD_GETLK, &q);
            if (r == 0)
                *fl = q;
        } else if (cmd == F_SETLKW || cmd == F_OFD_SETLKW) {
            setlk_t s = {.handle = o->handle, .fl = q};
            r = wait_for(try_setlk, &s);
        } else {
            r = rpc_lock(o->handle, F_OFD_SETLK, &q);
        }
    }
    if (r == -EACCES && !get)
        r = -EAGAIN; /* Linux's F_SETLK conflict */
    shunt_rfile_unref(o);
    return r < 0 ? r : 0;
}

/* From hook_fcntl for a lock command on a layer fd: *served is 0 when the
 * fd is not a remote handle (snapshot: a real memfd, locked locally). */
long layer_fcntl_lock(int fd, int cmd, void *arg, int *served)
{
    *served = 0;
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || (f->kind != SHUNT_RF_FWD && f->kind != SHUNT_RF_DIR)) {
        shunt_rfile_unref(f);
        return 0;
    }
    *served = 1;
    long r = lock_fcntl(f, cmd, arg);
    shunt_rfile_unref(f);
    return r;
}

/* ---- flock ----------------------------------------------------------------- */
typedef struct {
    uint32_t handle;
    int op;
} flk_t;

static long try_flock(void *arg)
{
    flk_t *s = arg;
    shunt_flock_t q = {.handle = s->handle, .op = s->op | LOCK_NB};
    shunt_msg_t m;
    return shunt_rpc(SHUNT_T_FLOCK, &q, &m);
}

static __attribute__((noinline, cold)) int slow_flock(int fd, int op)
{
    if (LAYER_BYPASS())
        return REAL(flock, fd, op);
    shunt_rfile_t *f = shunt_fdt_get(fd);
    if (!f || (f->kind != SHUNT_RF_FWD && f->kind != SHUNT_RF_DIR)) {
        shunt_rfile_unref(f);
        return REAL(flock, fd, op);
    }
    int saved = errno;
    LAYER_ENTER();
    int base = op & ~LOCK_NB;
    long r;
    if (base != LOCK_SH && base != LOCK_EX && base != LOCK_UN)
        r = -EINVAL;
    else if (f->oflags & O_PATH)
        r = -EBADF;
    else {
        flk_t s = {.handle = f->handle, .op = base};
        r = (op & LOCK_NB) || base == LOCK_UN ? try_flock(&s)
                                               : wait_for(try_flock, &s);
    }
    shunt_rfile_unref(f);
    LAYER_LEAVE();
    return (int)layer_ret(r, saved);
}

int hook_flock(int fd, int op)
{
    if (__builtin_expect(!shunt_fdt_is_ours(fd), 1))
        return REAL(flock, fd, op);
    return slow_flock(fd, op);
}
