/* Files inside a running target, reached only through a directory fd on
 * its root (issue 13 §1).
 *
 * A target's program owns its filesystem: it can replace any path the
 * harness uses with a symbolic link, and /proc/PID/root/PATH follows an
 * absolute link out to the host.  Every read, write, copy or unlink the
 * harness does inside a target goes through these helpers instead:
 *
 *  - paths are resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
 *    from the root fd, so "..", absolute paths and absolute links stay in
 *    the target (the same kernel-enforced resolution the agent uses);
 *  - the last component is acted on with *at calls that never follow it
 *    (unlinkat, O_CREAT|O_EXCL|O_NOFOLLOW);
 *  - directories the harness creates for itself (the program's cache path,
 *    the layer's directory, the journal's directory) are walked one
 *    component at a time with no symbolic link at all: a planted link there
 *    is an error, never followed;
 *  - only regular files are read: a path is opened O_PATH, checked with
 *    fstat, and reopened through /proc/self/fd, so no device (a target's
 *    /dev/tty is the harness's terminal) or FIFO is ever opened for I/O.
 *
 * All return -1 (or NULL) with errno set on failure. */
#ifndef SHUNT_HARNESS_INROOT_H
#define SHUNT_HARNESS_INROOT_H

#include <stddef.h>
#include <sys/types.h>

/* The root of process PID (a target's init): an O_PATH directory fd.
 * EPERM when it is this host's own root (a pid reused after the target's
 * init died). */
int shunt_inroot_open_root(pid_t pid);

/* Opens PATH's parent directory inside ROOT (resolved in the root, links
 * included) as an O_PATH fd; copies the last component into base.  A path
 * without a last component ("/", "x/..") is EINVAL. */
int shunt_inroot_parent(int root, const char *path, char *base, size_t baselen);

/* mkdir -p of the absolute PATH inside ROOT without following any symbolic
 * link (ELOOP if one is in the way).  Returns an O_PATH fd of PATH. */
int shunt_inroot_mkdir_p(int root, const char *path, mode_t mode);

/* The content of the regular file PATH inside ROOT (links followed inside
 * the root), NUL-terminated, at most max bytes.  Not a regular file:
 * EINVAL without opening it for I/O. */
char *shunt_inroot_read(int root, const char *path, size_t max, size_t *len);

/* The same for NAME in the directory DFD (no link followed): DFD a host
 * directory or one opened by shunt_inroot_opendir. */
char *shunt_inroot_read_at(int dfd, const char *name, size_t max, size_t *len);

/* Removes the directory entry PATH inside ROOT (a link itself, never what
 * it points to).  A missing entry is not an error. */
int shunt_inroot_unlink(int root, const char *path);

/* rm -rf of PATH inside ROOT, never through a symbolic link: PATH's
 * directories are resolved in the root with no link at all (ELOOP if one
 * is in the way); PATH itself and everything below it are removed with
 * unlinkat from their own directory's fd -- a symlink is removed itself,
 * never followed -- and a mount point is never descended into (EXDEV).
 * A missing PATH is not an error. */
int shunt_inroot_rm_rf(int root, const char *path);

/* Opens the directory PATH inside ROOT for reading (links followed inside
 * the root). */
int shunt_inroot_opendir(int root, const char *path);

/* Copies the host file or directory SRC to the absolute path DST inside
 * ROOT: directories (created without following links), regular files with
 * their modes (an existing entry is replaced, never written through);
 * symbolic links, devices, FIFOs and sockets of SRC are skipped. */
int shunt_inroot_copy(const char *src, int root, const char *dst);

#endif
