/* A remote stat (STAT_R) as the kernel's structures. */
#ifndef SHUNT_STATCONV_H
#define SHUNT_STATCONV_H

#include "shunt/proto.h"

#include <fcntl.h>
#include <sys/stat.h>

void shunt_stat_from_r(const shunt_stat_r_t *r, struct stat *st);
void shunt_statx_from_r(const shunt_stat_r_t *r, struct statx *sx);

#endif
