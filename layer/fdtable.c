/* The fd table: a bitmap for the hot path and a two-level array of rfiles. */
#include "fdtable.h"
#include "sigblock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
#define NCHUNKS (SHUNT_FDT_MAX / CHUNK)

_Atomic uint64_t shunt_fdt_bits[SHUNT_FDT_MAX / 64];
void (*shunt_rfile_release)(shunt_rfile_t *f);

static shunt_rfile_t **chunks[NCHUNKS];
static atomic_flag table_lock = ATOMIC_FLAG_INIT;

__thread int shunt_sigblk __attribute__((tls_model("initial-exec")));
__thread uint64_t shunt_sigsaved __attribute__((tls_model("initial-exec")));

/* Signals are held off while the lock is taken: a handler that opens or
 * closes a file on this thread would otherwise spin on it for ever
 * (sigblock.h). */
void shunt_fdt_lock(void)
{
    shunt_sig_block();
    while (atomic_flag_test_and_set_explicit(&table_lock, memory_order_acquire))
        __builtin_ia32_pause();
}

void shunt_fdt_unlock(void)
{
    atomic_flag_clear_explicit(&table_lock, memory_order_release);
    shunt_sig_unblock();
}

/* fork child: the lock atfork_prepare took (and the signals it blocked). */
void shunt_fdt_reset_lock(void)
{
    atomic_flag_clear(&table_lock);
    shunt_sig_unblock();
}

shunt_rfile_t *shunt_rfile_new(int kind)
{
    shunt_rfile_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    atomic_flag_clear(&f->lock);
    f->kind = kind;
    return f;
}

void shunt_rfile_ref(shunt_rfile_t *f) { atomic_fetch_add(&f->refs, 1); }

void shunt_rfile_unref(shunt_rfile_t *f)
{
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    if (shunt_rfile_release)
        shunt_rfile_release(f);
    free(f->path);
    free(f->pend);
    free(f);
}

static void bit_set(int fd, int on)
{
    uint64_t m = 1ull << (fd & 63);
    if (on)
        atomic_fetch_or(&shunt_fdt_bits[fd >> 6], m);
    else
        atomic_fetch_and(&shunt_fdt_bits[fd >> 6], ~m);
}

shunt_rfile_t *shunt_fdt_get(int fd)
{
    if (!shunt_fdt_is_ours(fd))
        return NULL;
    shunt_fdt_lock();
    shunt_rfile_t **c = chunks[fd / CHUNK];
    shunt_rfile_t *f = c ? c[fd % CHUNK] : NULL;
    if (f)
        shunt_rfile_ref(f);
    shunt_fdt_unlock();
    return f;
}

int shunt_fdt_set(int fd, shunt_rfile_t *f)
{
    if (fd < 0 || fd >= SHUNT_FDT_MAX)
        return -EBADF;
    shunt_fdt_lock();
    shunt_rfile_t **c = chunks[fd / CHUNK];
    if (!c) {
        c = calloc(CHUNK, sizeof(*c));
        if (!c) {
            shunt_fdt_unlock();
            return -ENOMEM;
        }
        chunks[fd / CHUNK] = c;
    }
    shunt_rfile_t *old = c[fd % CHUNK];
    shunt_rfile_ref(f);
    c[fd % CHUNK] = f;
    bit_set(fd, 1);
    shunt_fdt_unlock();
    shunt_rfile_unref(old);
    return 0;
}

shunt_rfile_t *shunt_fdt_take(int fd)
{
    if (!shunt_fdt_is_ours(fd))
        return NULL;
    shunt_fdt_lock();
    shunt_rfile_t **c = chunks[fd / CHUNK];
    shunt_rfile_t *f = NULL;
    if (c) {
        f = c[fd % CHUNK];
        c[fd % CHUNK] = NULL;
    }
    bit_set(fd, 0);
    shunt_fdt_unlock();
    return f;
}

int shunt_fdt_next(int from)
{
    if (from < 0)
        from = 0;
    for (int w = from >> 6; w < SHUNT_FDT_MAX / 64; w++) {
        uint64_t b = atomic_load_explicit(&shunt_fdt_bits[w],
                                          memory_order_relaxed);
        if (w == from >> 6)
            b &= ~0ull << (from & 63);
        if (b)
            return w * 64 + __builtin_ctzll(b);
    }
    return -1;
}

void shunt_fdt_foreach_locked(void (*fn)(int fd, shunt_rfile_t *f, void *arg),
                              void *arg)
{
    for (int fd = shunt_fdt_next(0); fd >= 0; fd = shunt_fdt_next(fd + 1)) {
        shunt_rfile_t **c = chunks[fd / CHUNK];
        if (c && c[fd % CHUNK])
            fn(fd, c[fd % CHUNK], arg);
    }
}

void shunt_fdt_foreach(void (*fn)(int fd, shunt_rfile_t *f, void *arg),
                       void *arg)
{
    shunt_fdt_lock();
    shunt_fdt_foreach_locked(fn, arg);
    shunt_fdt_unlock();
}
