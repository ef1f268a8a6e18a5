/* Filesystem helpers of the harness: mkdir -p, and copying a file or
 * directory tree (the program cache, the runner, a target's /etc). */
#ifndef SHUNT_HARNESS_FSUTIL_H
#define SHUNT_HARNESS_FSUTIL_H

#include <sys/types.h>

/* Creates path and its missing parents with mode.  0, or -1 with errno. */
int shunt_mkdir_p(const char *path, mode_t mode);

enum {
    /* symbolic links are copied as links (default: skipped) */
    SHUNT_COPY_LINKS = 1,
    /* a missing source, an unreadable file, a name too long or a tree
     * deeper than SHUNT_COPY_MAX_DEPTH is skipped (default: an error) */
    SHUNT_COPY_LENIENT = 2,
};
#define SHUNT_COPY_MAX_DEPTH 32

/* Copies src (a file or a directory, recursively) to dst: directories,
 * regular files with their modes, and with SHUNT_COPY_LINKS symbolic
 * links; sockets and devices are skipped.  An existing file at dst is
 * replaced, never written through.  0, or -1 with errno set. */
int shunt_copy_tree(const char *src, const char *dst, int flags);

#endif
