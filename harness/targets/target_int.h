/* Private to the target rooms: the state records, one container as up builds
 * it, and what each room offers the others (target.h is the public side). */
#ifndef SHUNT_HARNESS_TARGET_INT_H
#define SHUNT_HARNESS_TARGET_INT_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "shunt/json.h"
#include "shunt/target.h"

#define ERRLEN 4096

/* One container in NAME's state file. */
typedef struct {
    char id[96];
    char role[16];
    char svc[SHUNT_NAME_MAX + 1];
    char ip[16];
    int pid;
    unsigned long long start;
} ctr_state_t;

/* NAME's state file, /run/shunt/targets/NAME/state. */
typedef struct {
    char name[64];
    char scenario[4096];
    char hash[17];
    char status[16];
    int subnet;
    ctr_state_t ctr[SHUNT_MAX_SERVICES + 2];
    size_t n_ctr;
} state_t;

/* One container of a target as up builds it. */
typedef struct {
    ctr_state_t *st;
    const char *const *argv;
    const shunt_envlist_t *env;
    const shunt_filelist_t *files;
    const char *hostname;
    int port;           /* readiness port, 0 for none */
    int is_target;
    const shunt_target_spec_t *spec; /* the cluster's (target.etc) */
    char bundle[PATH_MAX];
} ctr_t;


/* spawn.c */
void tgt_join_argv(const char *const *argv, char *out, size_t outlen);
int tgt_run_argv(const char *const *argv, int out_fd, char *out, size_t outlen);
int tgt_run_ok(const char *const *argv, char *err, size_t errlen);
void tgt_append_tail(char *err, size_t errlen, const char *what,
                     const char *path);

#define RUN(err, errlen, ...)                                              \
    tgt_run_ok((const char *const[]){__VA_ARGS__, NULL}, err, errlen)

/* files.c */
int tgt_rm_rf(const char *path);
int tgt_write_all_fd(int fd, const void *data, size_t len);
int tgt_write_file(const char *path, const char *data, mode_t mode);
int tgt_write_atomic(const char *path, const char *data);
int tgt_copy_fd(int in, int out);
/* Writes one scenario file (any kind) beneath the container root whose
 * directory fd is root, never following a symlink of the container. */
int tgt_put_file(int root, const shunt_file_spec_t *f, char *err, size_t errlen);
/* Those of files under /tmp (tmp) or not (!tmp), in order. */
int tgt_put_files(int root, const shunt_filelist_t *files, int tmp, char *err,
                  size_t errlen);
int tgt_in_tmp(const char *cpath);
/* The host's /etc into ROOT/etc, without what makes it the host's
 * (tgt_etc_dropped, fnmatch patterns relative to /etc) nor drop, except
 * what keep matches. */
extern const char *const tgt_etc_dropped[];
int tgt_copy_etc(const char *root, const char *const *drop, size_t ndrop,
                 const char *const *keep, size_t nkeep, char *err, size_t errlen);

/* state.c */
void tgt_state_dir(const char *name, char *out, size_t outlen);
int tgt_state_write(const state_t *st, char *err, size_t errlen);
int tgt_state_read(const char *name, state_t *st);
unsigned long long tgt_proc_start(int pid);
int tgt_ctr_alive(const ctr_state_t *c);
const char *tgt_state_problem(const state_t *st, char *buf, size_t len);
int tgt_lock_target(const char *name, char *err, size_t errlen);
void tgt_unlock_target(const char *name, int fd, int remove_file);
int tgt_list_state_dirs(char ***names, size_t *n);
void tgt_free_names(char **names, size_t n);
int tgt_allocate_subnet(state_t *st, char *err, size_t errlen);

/* leftovers.c */
int tgt_teardown(const char *name, int *removed, char *err, size_t errlen);

/* cfghash.c */
int tgt_config_hash(const shunt_target_spec_t *t, const char *init,
                    char out[17], char *err, size_t errlen);

/* hosts.c: the texts every container's /etc gets. */
typedef struct {
    char *hosts;    /* /etc/hosts of the dns and service containers */
    char *thosts;   /* the target's: hosts plus target.hosts */
    char *resolv;   /* /etc/resolv.conf */
    char *chosts;   /* /etc/cluster.hosts, served by the cluster dnsmasq */
} etc_texts_t;

int tgt_etc_texts(const shunt_target_spec_t *t, const state_t *st, int has_dns,
                  etc_texts_t *out);
void tgt_etc_texts_free(etc_texts_t *e);

/* rootfs.c */
extern const char *const tgt_sys_dirs[];
int tgt_build_rootfs(const ctr_t *c, const char *hosts, const char *resolv,
                     const char *extra_path, const char *extra_content,
                     char *err, size_t errlen);

/* ocispec.c */
int tgt_write_config(const ctr_t *c, const char *init, int dns, char *err,
                     size_t errlen);

/* netns.c */
int tgt_add_bridge(const char *br, char *err, size_t errlen);
int tgt_add_ctr_network(const char *br, const char *ns, const char *veth,
                        const char *ip, char *err, size_t errlen);
int tgt_wait_tcp(const char *ns, const char *ip, int port, int watch_pid,
                 int timeout_ms, char *err, size_t errlen);

#endif
