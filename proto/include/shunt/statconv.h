/* A remote stat (STAT_R) as the kernel's structures. */
#ifndef SHUNT_STATCONV_H
#define SHUNT_STATCONV_H

#include "shunt/proto.h"

#include <fcntl.h>
#include <sys/stat.h>

void shunt_stat_from_r(const shunt_stat_r_t *r, struct stat *st);
void shunt_statx_from_r(const shunt_stat_r_t *r, struct statx *sx);
struct statfs;
void shunt_statfs_from_r(const shunt_statfs_r_t *r, struct statfs *sf);

/* A snapshot memfd is named SHUNT_SNAP_PREFIX and the remote file's stat
 * as text, so that fstat of it (in any process it reaches, by fork, exec
 * or SCM_RIGHTS) gives the remote file's metadata, not the memfd's.  A
 * name that would not fit (SHUNT_MEMFD_NAME_MAX) is plain "shunt". */
#define SHUNT_SNAP_PREFIX "shunt-snap:"
#define SHUNT_MEMFD_NAME_MAX 249
/* The stat as text (each field in hex, empty for 0, '.' after each): the
 * length written, 0 when it does not fit; and back (advances *p; 0 or
 * -1).  Snapshot memfd names and the layer's SHUNT_FDS carry it. */
size_t shunt_stat_enc(const shunt_stat_r_t *st, char *out, size_t len);
int shunt_stat_dec(const char **p, shunt_stat_r_t *st);
void shunt_snap_name(const shunt_stat_r_t *st, char *out, size_t len);
/* 0 with *st from a /proc/PID/fd link "/memfd:shunt-snap:... (deleted)". */
int shunt_snap_parse(const char *link, shunt_stat_r_t *st);

#endif
