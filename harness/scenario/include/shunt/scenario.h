/* Scenario files: load and validate a YAML scenario into plain structs. */
#ifndef SHUNT_HARNESS_SCENARIO_H
#define SHUNT_HARNESS_SCENARIO_H

#include <stddef.h>

#include "shunt/runspec.h"
#include "shunt/ydoc.h"

#define SHUNT_NAME_MAX 20      /* target and service names: [a-z0-9-]{1,20} */
#define SHUNT_MAX_SERVICES 200 /* service IPs are .10 .. .209 */

typedef struct {
    char *key, *value;
} shunt_env_t;

typedef struct {
    shunt_env_t *v;
    size_t n;
} shunt_envlist_t;

typedef enum {
    SHUNT_FILE_REG,     /* content: or from: a file */
    SHUNT_FILE_TREE,    /* from: a directory, copied whole */
    SHUNT_FILE_DIR,     /* dir: true, an empty directory */
    SHUNT_FILE_SYMLINK, /* symlink: TARGET (any text: dangling, looping) */
    SHUNT_FILE_LINK,    /* link: PATH, a hard link to another container path */
    SHUNT_FILE_FIFO,    /* fifo: true */
} shunt_file_kind_t;

typedef struct {
    char *path;      /* absolute path inside the container */
    shunt_file_kind_t kind;
    char *content;   /* inline content, or NULL */
    size_t content_len;
    char *from;      /* host path (absolute, or resolved against the YAML's
                        directory), or NULL */
    char *target;    /* symlink: its text; link: the container path */
    unsigned mode;   /* default 0644 (directories 0755) */
    int mode_set;    /* mode: given (a tree keeps its files' own otherwise) */
    long uid, gid;   /* owner:, -1 for root's default */
} shunt_file_spec_t;

typedef struct {
    shunt_file_spec_t *v;
    size_t n;
} shunt_filelist_t;

typedef struct {
    char *ip;
    char **names;
    size_t n_names;
} shunt_host_spec_t;

typedef struct {
    char *name;
    char **command;  /* NULL-terminated argv */
    size_t n_command;
    int port;        /* 0: no readiness port */
    char **aliases;
    size_t n_aliases;
    shunt_filelist_t files;
    shunt_envlist_t env;
} shunt_service_spec_t;

typedef struct {
    char *name, *ip;
} shunt_dns_record_t;

/* target.daemons[i]: the target's own long-running service, started in the
 * target container at up (after setup:), in the background. */
typedef struct {
    char **command;  /* NULL-terminated argv */
    size_t n_command;
    int port;        /* 0: no readiness port */
    shunt_envlist_t env; /* on top of target.env */
} shunt_daemon_spec_t;

typedef struct shunt_target_spec {
    char *name;
    char *hostname;
    shunt_envlist_t env;       /* PATH is always present after loading */
    shunt_host_spec_t *hosts;
    size_t n_hosts;
    shunt_filelist_t files;
    shunt_service_spec_t *services;
    size_t n_services;
    char *dns_domain;          /* default "cluster" */
    char **etc_drop, **etc_add; /* etc: patterns relative to /etc */
    size_t n_etc_drop, n_etc_add;
    char ***setup;             /* setup: NULL-terminated argvs, run in the
                                  target once it is up */
    size_t n_setup;
    shunt_dns_record_t *dns_records;
    size_t n_dns_records;
    shunt_daemon_spec_t *daemons;
    size_t n_daemons;
} shunt_target_spec_t;

/* One entry of cases: (a family of programs sharing the file's target). */
typedef struct {
    char *name;                /* cases[i].name */
    shunt_runspec_t *run;      /* the file's program/runs/expect with the
                                  case's keys on top */
} shunt_scase_t;

/* One scenario file. Sections other than target: are parsed by later rooms
 * from doc (kept alive for them); their nodes are available here. */
typedef struct {
    char *file;                /* path as given */
    char *dir;                 /* its directory */
    char *name;                /* name: (a title), or the file's basename
                                  without .yaml/.yml (what cases are named
                                  after) */
    char *description;
    shunt_target_spec_t target;
    shunt_ydoc_t *doc;
    const shunt_ynode_t *layer, *program, *runs, *expect;
    const shunt_ynode_t *traffic; /* traffic: (shunt/traffic.h), parsed
                                     into each case's runspec */
    const shunt_ynode_t *fuzz; /* fuzz: (harness fuzz; shunt_fuzzspec_parse),
                                  checked when loading; NULL without */
    shunt_runspec_t *run;      /* program/runs/expect; NULL without program:
                                  and with cases: (then they are defaults) */
    shunt_scase_t *cases;      /* cases:, in file order; NULL without */
    size_t n_cases;
    void *mem;                 /* owns every string and array above */
} shunt_scenario_t;

#define SHUNT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

shunt_scenario_t *shunt_scenario_load(const char *path, char *err, size_t errlen);
/* For tests: file names the text in messages; its directory anchors from:. */
shunt_scenario_t *shunt_scenario_load_string(const char *file, const char *text,
                                             char *err, size_t errlen);
void shunt_scenario_free(shunt_scenario_t *s);

/* [a-z0-9-]{1,20}, not starting or ending with '-'. */
int shunt_valid_name(const char *s);

#endif
