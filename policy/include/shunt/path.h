/* Lexical path handling (policy/, pure code). */
#ifndef SHUNT_POLICY_PATH_H
#define SHUNT_POLICY_PATH_H

#include <stddef.h>

/* Normalises an absolute path lexically: repeated '/' collapse, '.'
 * components go, '..' removes the previous component ('..' at the root
 * stays at the root), no trailing '/' except for "/" itself.  When base is
 * not NULL and path is relative, path is taken relative to base (itself
 * absolute).  Returns the length written to out, or -ENAMETOOLONG (result
 * or input longer than outlen - 1), -EINVAL (relative path without base,
 * or an empty path). */
long shunt_path_normalize(const char *base, const char *path, char *out,
                          size_t outlen);

/* 1 when path equals prefix or lies below it ("/usr" matches "/usr" and
 * "/usr/lib", not "/usrx").  prefix "/" matches everything. */
int shunt_path_under(const char *path, const char *prefix);

/* The layer's remote cwd (layer/cwd.c): the kernel's cwd is a removed
 * directory named SHUNT_DEADCWD_PREFIX RANDOM "-" the remote path with '/'
 * and '%' written %2F and %25.  The path such a /proc/PID/cwd link
 * ("... (deleted)") carries, into out: 0, or -1 when it carries none. */
#define SHUNT_DEADCWD_PREFIX "/tmp/.shunt-cwd-"
int shunt_deadcwd_decode(const char *link, char *out, size_t outlen);

#endif
