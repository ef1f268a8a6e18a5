/* The fd table: which fds of the program are the layer's (placeholders of
 * remote files, the layer's own sockets).  Pure code, also linked into the
 * unit tests. */
#ifndef SHUNT_LAYER_FDTABLE_H
#define SHUNT_LAYER_FDTABLE_H

#include "shunt/proto.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHUNT_FDT_MAX (1 << 20) /* fds at or above are never the layer's */

enum {
    SHUNT_RF_LAYER = 1, /* the layer's own fd (connection, log) */
    SHUNT_RF_SNAPSHOT,  /* remote read-only file: memfd with its content */
    SHUNT_RF_DIR,       /* remote directory: placeholder + handle */
    SHUNT_RF_FWD,       /* remote handle, I/O forwarded (write mode, FIFOs) */
    SHUNT_RF_INOTIFY,   /* inotify instance: the socket the proxy fills */
};

typedef struct shunt_rfile {
    atomic_int refs;
    int kind;
    atomic_int shared;    /* inherited across fork: released with the group */
    uint32_t handle;      /* DIR, FWD */
    int oflags;           /* flags of the open */
    shunt_stat_r_t st;    /* remote stat taken at open */
    char *path;           /* normalised remote path (DIR: for its children) */
    uint64_t ph_dev, ph_ino; /* the placeholder (DIR, FWD, SNAPSHOT): which
                              * fd a vfork-style child's dup2 made of it */
    atomic_flag lock;     /* DIR: guards the getdents buffer below */
    uint8_t *pend;        /* DIR: linux_dirent64 records not yet handed out */
    size_t pend_len, pend_off;
    int eof;
    int counted;          /* SNAPSHOT: counted in rfiles.c's live ones */
    int *owner;           /* LAYER: the variable holding this fd */
    int kfd;              /* INOTIFY: the kernel inotify fd of the local
                             watches (a layer fd); handle: the instance */
    void *watches;        /* INOTIFY: remote wd -> path (layer/inotify.c) */
} shunt_rfile_t;

/* A remote file or directory (not the layer's own fd, not an inotify
 * instance, which are local fds). */
static inline int shunt_rf_remote(const shunt_rfile_t *f)
{
    return f->kind == SHUNT_RF_SNAPSHOT || f->kind == SHUNT_RF_DIR ||
           f->kind == SHUNT_RF_FWD;
}

extern _Atomic uint64_t shunt_fdt_bits[SHUNT_FDT_MAX / 64];

/* The hot-path check: a couple of ns for an fd that is not the layer's. */
static inline int shunt_fdt_is_ours(int fd)
{
    if ((unsigned)fd >= SHUNT_FDT_MAX)
        return 0;
    return (int)((atomic_load_explicit(&shunt_fdt_bits[fd >> 6],
                                       memory_order_relaxed) >>
                  (fd & 63)) & 1u);
}

/* Called when the last reference to a rfile goes (set by the layer: sends
 * CLOSE for the handle unless shared); then the rfile is freed. */
extern void (*shunt_rfile_release)(shunt_rfile_t *f);

shunt_rfile_t *shunt_rfile_new(int kind); /* refs = 1; NULL on ENOMEM */
void shunt_rfile_ref(shunt_rfile_t *f);
void shunt_rfile_unref(shunt_rfile_t *f);

/* Returns the fd's rfile with a reference taken, or NULL. */
shunt_rfile_t *shunt_fdt_get(int fd);
/* Sets fd -> f (takes a new reference); any previous entry is dropped.
 * 0 or -EBADF (fd out of range), -ENOMEM. */
int shunt_fdt_set(int fd, shunt_rfile_t *f);
/* Removes fd's entry and returns the reference the table held (NULL when
 * none): the caller unrefs it once the fd is really closed. */
shunt_rfile_t *shunt_fdt_take(int fd);
/* Lowest fd >= from that is in the table, or -1. */
int shunt_fdt_next(int from);
/* Calls fn for every entry (under the table lock: fn must not call back). */
void shunt_fdt_foreach(void (*fn)(int fd, shunt_rfile_t *f, void *arg),
                       void *arg);
/* The same with the table lock already held by the caller. */
void shunt_fdt_foreach_locked(void (*fn)(int fd, shunt_rfile_t *f, void *arg),
                              void *arg);
/* fork: the table is locked across fork() so that the child never sees it
 * half-updated. */
void shunt_fdt_lock(void);
void shunt_fdt_unlock(void);
void shunt_fdt_reset_lock(void);

#endif
