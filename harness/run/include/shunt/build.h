/* Building a scenario's program (C, Rust, Go with one toolchain, or the
 * sources of an interpreted one) into a content-addressed cache directory,
 * and the process helpers the runner shares with it. */
#ifndef SHUNT_HARNESS_BUILD_H
#define SHUNT_HARNESS_BUILD_H

#include "shunt/util.h"

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "shunt/runspec.h"

typedef struct {
    char version[32];      /* "go1.26.8" */
    char go[PATH_MAX];     /* its go binary */
} shunt_gotool_t;

/* The Go toolchains on this machine (ci/go-toolchains, or the script named
 * by $SHUNT_GO_TOOLCHAINS).  *out malloc'd; 0, or -1 with err. */
int shunt_go_toolchains(shunt_gotool_t **out, size_t *n, char *err, size_t errlen);

/* "all", "1.19" (any 1.19.x), "1.26.8" or "go1.26.8" against "go1.26.8". */
int shunt_go_version_matches(const char *pattern, const char *version);

typedef struct {
    char dir[PATH_MAX];    /* the cache entry: prog and/or src/ */
    char **argv;           /* NULL-terminated, malloc'd: what both runs execute */
    int cached;            /* 1 when the entry already existed */
    double seconds;        /* time spent building (0 when cached) */
} shunt_built_t;

/* The cache root: $SHUNT_CACHE_DIR, or ../cache next to the harness binary. */
int shunt_cache_root(char *out, size_t outlen);

/* Builds (or finds in the cache) r's program, with the Go toolchain gt for
 * Go programs.  The cache key hashes the language, the sources, the build
 * command, the toolchain (its path, size and mtime) and the entry file.
 * 0 with out filled; -1 with err (and the build's output tail). */
int shunt_build(const shunt_runspec_t *r, const shunt_gotool_t *gt,
                const char *cache_root, shunt_built_t *out, char *err,
                size_t errlen);
void shunt_built_free(shunt_built_t *b);

/* Runs argv with stdin/stdout/stderr from/to the given paths (NULL:
 * /dev/null; out_path == err_path shares one file), in cwd, with envp
 * (NULL: the harness's).  In its own process group; after timeout_ms
 * SIGTERM, then SIGKILL to the group 2 s later (*timed_out set).  Returns
 * the wait status, or -1 with err set when it could not start. */
int shunt_proc_run(char *const *argv, char *const *envp, const char *cwd,
                   const char *in_path, const char *out_path,
                   const char *err_path, int timeout_ms, int *timed_out,
                   char *err, size_t errlen);

/* Set by a signal handler: shunt_proc_run stops its child as if its time
 * were up (SIGTERM, then SIGKILL). */
extern volatile sig_atomic_t shunt_proc_interrupted;



#endif
