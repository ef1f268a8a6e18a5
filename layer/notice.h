/* Programs the layer cannot enter are named on stderr (notice.c). */
#ifndef SHUNT_LAYER_NOTICE_H
#define SHUNT_LAYER_NOTICE_H

/* Reads $SHUNT_UNHOOKED_FILE (start-up, active layer only). */
void shunt_notice_init(void);
/* "shunt: not intercepted: TEXT" on stderr, every time, and appended to
 * $SHUNT_UNHOOKED_FILE.  Raw syscalls, no malloc. */
void shunt_notice_unhooked(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* "shunt: TEXT" on stderr, every time (and in the log): something the
 * user must act on.  Raw syscalls, no malloc. */
void shunt_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exec hooks, before the real exec: a notice when the program the kernel
 * will start (through #! interpreters) is statically linked.  dirfd, path
 * and at_flags as execveat's; fexecve passes (fd, "", AT_EMPTY_PATH).
 * 1 when it is (the new image runs without the layer), -1 when there is no
 * executable file there (the exec will fail), else 0. */
int shunt_exec_check(int dirfd, const char *path, int at_flags);
/* The supervisor a static child is run under (children.c), or NULL. */
const char *shunt_children_supervisor(void);
/* This process's image again, under that supervisor (same pid, the
 * session and environment a child would get): for a program the layer
 * finds it cannot enter once loaded (go.c: a Go program without cgo).
 * Returns only on failure: -1 with errno (ENOSYS: no supervisor). */
int shunt_children_exec_supervisor(const char *path, char *const argv[]);

#endif
