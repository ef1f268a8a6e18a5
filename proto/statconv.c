/* STAT_R to the kernel's struct stat and struct statx: the layer and the
 * supervisor answer the program's stat calls with the same fields. */
#include "shunt/statconv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

void shunt_stat_from_r(const shunt_stat_r_t *r, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(r->dev_major, r->dev_minor);
    st->st_ino = r->ino;
    st->st_mode = r->mode;
    st->st_nlink = r->nlink;
    st->st_uid = r->uid;
    st->st_gid = r->gid;
    st->st_rdev = makedev(r->rdev_major, r->rdev_minor);
    st->st_size = (off_t)r->size;
    st->st_blksize = r->blksize;
    st->st_blocks = (blkcnt_t)r->blocks;
    st->st_atim.tv_sec = r->atime_sec;
    st->st_atim.tv_nsec = r->atime_nsec;
    st->st_mtim.tv_sec = r->mtime_sec;
    st->st_mtim.tv_nsec = r->mtime_nsec;
    st->st_ctim.tv_sec = r->ctime_sec;
    st->st_ctim.tv_nsec = r->ctime_nsec;
}

void shunt_statx_from_r(const shunt_stat_r_t *r, struct statx *sx)
{
    memset(sx, 0, sizeof(*sx));
    sx->stx_mask = r->mask;
    sx->stx_blksize = r->blksize;
    sx->stx_attributes = r->attributes;
    sx->stx_nlink = r->nlink;
    sx->stx_uid = r->uid;
    sx->stx_gid = r->gid;
    sx->stx_mode = r->mode;
    sx->stx_ino = r->ino;
    sx->stx_size = r->size;
    sx->stx_blocks = r->blocks;
    sx->stx_attributes_mask = r->attributes_mask;
    sx->stx_atime.tv_sec = r->atime_sec;
    sx->stx_atime.tv_nsec = r->atime_nsec;
    sx->stx_btime.tv_sec = r->btime_sec;
    sx->stx_btime.tv_nsec = r->btime_nsec;
    sx->stx_ctime.tv_sec = r->ctime_sec;
    sx->stx_ctime.tv_nsec = r->ctime_nsec;
    sx->stx_mtime.tv_sec = r->mtime_sec;
    sx->stx_mtime.tv_nsec = r->mtime_nsec;
    sx->stx_rdev_major = r->rdev_major;
    sx->stx_rdev_minor = r->rdev_minor;
    sx->stx_dev_major = r->dev_major;
    sx->stx_dev_minor = r->dev_minor;
#ifdef STATX_MNT_ID
    sx->stx_mnt_id = r->mnt_id;
#endif
}

/* A snapshot's memfd is named after the remote stat taken at open, so
 * that the layer of a program it is inherited by across exec (`cmd <
 * /remote/file` run by a shell under the layer) answers fstat with the
 * remote file's metadata, not the memfd's (mode 0777, nlink 0, mtime of
 * the open).  One list for both directions; each field in hex, empty for
 * 0, '.' between; a name that would not fit (249 bytes) is plain. */
#define SNAP_FIELDS(X)                                                     \
    X(mask) X(blksize) X(attributes) X(nlink) X(uid) X(gid) X(mode) X(ino) \
    X(size) X(blocks) X(attributes_mask) X(atime_sec) X(atime_nsec)        \
    X(btime_sec) X(btime_nsec) X(ctime_sec) X(ctime_nsec) X(mtime_sec)     \
    X(mtime_nsec) X(rdev_major) X(rdev_minor) X(dev_major) X(dev_minor)    \
    X(mnt_id)
#define SHUNT_SNAP_PREFIX "shunt-snap:"

size_t shunt_stat_enc(const shunt_stat_r_t *st, char *out, size_t len)
{
    size_t n = 0;
#define X(f)                                                               \
    if (n < len)                                                           \
        n += (size_t)(st->f ? snprintf(out + n, len - n, "%llx.",          \
                                       (unsigned long long)st->f)          \
                            : snprintf(out + n, len - n, "."));
    SNAP_FIELDS(X)
#undef X
    return n < len ? n : 0;
}

int shunt_stat_dec(const char **pp, shunt_stat_r_t *st)
{
    const char *p = *pp;
    memset(st, 0, sizeof(*st));
#define X(f)                                                               \
    {                                                                      \
        char *end;                                                         \
        unsigned long long v = *p == '.' ? 0 : strtoull(p, &end, 16);      \
        if (*p != '.')                                                     \
            p = end;                                                       \
        if (*p != '.')                                                     \
            return -1;                                                     \
        p++;                                                               \
        st->f = (__typeof__(st->f))v;                                      \
    }
    SNAP_FIELDS(X)
#undef X
    *pp = p;
    return 0;
}

void shunt_snap_name(const shunt_stat_r_t *st, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "%s", SHUNT_SNAP_PREFIX);
    size_t k = n < len ? shunt_stat_enc(st, out + n, len - n) : 0;
    if (!k || n + k > SHUNT_MEMFD_NAME_MAX)
        snprintf(out, len, "shunt");
}

/* 0 with *st from a /proc/self/fd link "/memfd:shunt-snap:... (deleted)". */
int shunt_snap_parse(const char *link, shunt_stat_r_t *st)
{
    static const char pre[] = "/memfd:" SHUNT_SNAP_PREFIX;
    if (strncmp(link, pre, sizeof(pre) - 1) != 0)
        return -1;
    const char *p = link + sizeof(pre) - 1;
    return shunt_stat_dec(&p, st);
}

void shunt_statfs_from_r(const shunt_statfs_r_t *r, struct statfs *sf)
{
    memset(sf, 0, sizeof(*sf));
    sf->f_type = r->type;
    sf->f_bsize = r->bsize;
    sf->f_blocks = r->blocks;
    sf->f_bfree = r->bfree;
    sf->f_bavail = r->bavail;
    sf->f_files = r->files;
    sf->f_ffree = r->ffree;
    memcpy(&sf->f_fsid, &r->fsid, sizeof(sf->f_fsid));
    sf->f_namelen = r->namelen;
    sf->f_frsize = r->frsize;
    sf->f_flags = r->flags;
}
