/* STAT_R to the kernel's struct stat and struct statx: the layer and the
 * supervisor answer the program's stat calls with the same fields. */
#include "shunt/statconv.h"

#include <string.h>
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
