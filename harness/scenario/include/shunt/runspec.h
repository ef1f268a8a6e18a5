/* The runner's sections of a scenario: program:, runs: and expect:
 * (docs/scenarios.md), validated with file:line:col errors. */
#ifndef SHUNT_HARNESS_RUNSPEC_H
#define SHUNT_HARNESS_RUNSPEC_H

#include <stddef.h>

#include "shunt/ydoc.h"

typedef enum {
    SHUNT_LANG_C,
    SHUNT_LANG_RUST,
    SHUNT_LANG_GO,
    SHUNT_LANG_NODE,
    SHUNT_LANG_PYTHON,
    SHUNT_LANG_SHELL,
    SHUNT_LANG_COMMAND, /* no source: args[0] is a program on both sides */
} shunt_lang_t;

/* How the local run is intercepted (harness exec --engine): program.engines
 * and harness run --engine.  A set of them is a mask of SHUNT_ENGINE_BIT. */
typedef enum {
    SHUNT_ENGINE_LAYER,      /* LD_PRELOAD of libshunt.so */
    SHUNT_ENGINE_SUPERVISOR, /* shunt-supervisor: seccomp user notification */
    SHUNT_ENGINE_AUTO,       /* harness exec picks one per program */
    SHUNT_ENGINE_COUNT,
} shunt_engine_t;

#define SHUNT_ENGINE_BIT(e) (1u << (e))

/* What a normaliser or a divergence applies to (a bit mask). */
enum {
    SHUNT_OBS_STDOUT = 1,
    SHUNT_OBS_STDERR = 2,
    SHUNT_OBS_EXIT = 4,
    SHUNT_OBS_FILES = 8,
    SHUNT_OBS_JOURNAL = 16, /* the layer's call journal (expect.journal) */
};

typedef enum {
    SHUNT_NORM_REPLACE, /* regex -> with, every match of every line */
    SHUNT_NORM_DROP,    /* drop lines matching regex */
    SHUNT_NORM_SORT,    /* sort the lines */
    SHUNT_NORM_FIELDS,  /* drop fields (1-based) of lines matching regex */
} shunt_norm_kind_t;

typedef struct {
    shunt_norm_kind_t kind;
    char *regex;        /* POSIX ERE; NULL for sort (and fields: every line) */
    char *with;         /* replace: the replacement (\0-\9 refer to groups) */
    int *fields;        /* fields: 1-based indexes to drop */
    size_t n_fields;
    unsigned in;        /* SHUNT_OBS_* mask */
} shunt_norm_t;

typedef struct {
    unsigned in;        /* exactly one SHUNT_OBS_* bit */
    char *lines;        /* optional ERE: every differing line must match */
    char *reason;
    unsigned engines;   /* the engines it is declared for (SHUNT_ENGINE_BIT
                           mask; every engine by default) */
} shunt_divergence_t;

typedef struct {
    char *path;         /* absolute path the program writes */
    int local_on_host;  /* the local run writes it on the host (under /tmp) */
} shunt_expect_file_t;

struct shunt_traffic;

typedef struct shunt_runspec {
    shunt_lang_t lang;
    char *source;        /* file or directory, absolute, or NULL */
    int source_is_dir;
    char *main;          /* inside a directory source: the entry file */
    char *inline_src;    /* inline source text, or NULL */
    char **build;        /* NULL-terminated build command, or NULL (default) */
    char **args;         /* NULL-terminated arguments (command: the program) */
    size_t n_args;
    char *stdin_text;    /* NULL: /dev/null */
    char **env;          /* NULL-terminated "K=V" */
    size_t n_env;
    char *cwd;           /* default /tmp */
    int timeout_s;       /* default 60 */
    char **go_versions;  /* NULL-terminated patterns ("1.19", "go1.26.8",
                            "all"); NULL for non-Go programs */
    size_t n_go;
    /* program.cgo (Go only): CGO_ENABLED for the build, 1 by default (a
     * dynamically linked program the layer enters); 0 builds a static one */
    int go_cgo;
    /* program.engines: the engines the local side runs under, a mask of
     * SHUNT_ENGINE_BIT (layer and supervisor only); engines_given when the
     * file says so (then harness run --engine runs no other), else the
     * layer alone */
    unsigned engines;
    int engines_given;

    int run_reference, run_local, repeat;
    /* runs.reset_files: target.files put back as at harness up before
     * every run (reference and local, each repetition) */
    int reset_files;

    int cmp_stdout, cmp_stderr, cmp_exit;
    /* expect.journal: both runs under the layer's journal (the reference in
     * observe-only mode); only the calls named in journal_calls (NULL: all),
     * none of journal_exclude */
    int cmp_journal;
    char **journal_calls;
    size_t n_journal_calls;
    char **journal_exclude;
    size_t n_journal_exclude;
    /* expect.journal.skip_paths: POSIX EREs; records naming such a path,
     * and their process's calls on the fd it opened, are left out */
    char **journal_skip_paths;
    size_t n_journal_skip_paths;
    int want_status;     /* the reference's exit status; -1: any */
    int want_signal;     /* expect.status: SIGNAME: killed by it (or exit
                            128+N, how runc exec and harness exec report it);
                            then want_status is 128+N */
    /* expect.refused: the local run must be refused by harness exec (exit
     * 126, "harness exec: ..." -- a static binary the layer cannot enter);
     * refused_re, if given, must match that line; nothing is compared */
    int want_refused;
    char *refused_re;
    /* expect.unhooked: a program of the local run's tree must be one the
     * layer cannot enter and says so ("shunt: not intercepted: ...", a
     * non-cgo Go program); unhooked_re, if given, must match that notice;
     * nothing is compared and the recorder is not run */
    int want_unhooked;
    char *unhooked_re;
    shunt_expect_file_t *files;
    size_t n_files;
    shunt_norm_t *norms;
    size_t n_norms;
    shunt_divergence_t *divergences;
    size_t n_divergences;
    int no_leaks;
    /* expect.leaks: the leaks the recorder must report, one ERE each,
     * matched in order against its LEAK lines; exactly n_leaks of them
     * (a leak canary proves the detector works this way) */
    char **leaks;
    size_t n_leaks;
    int leaks_listed;
    /* traffic: a client driving requests into the target while the local
     * program runs (shunt/traffic.h); NULL without */
    struct shunt_traffic *traffic;
} shunt_runspec_t;

/* Parses program/runs/expect (any may be NULL).  dir anchors source:.
 * 0 with *out malloc'd (shunt_runspec_free), or -1 with e set.  A
 * scenario without program: gets *out = NULL and 0. */
int shunt_runspec_parse(const shunt_yerr_t *e, const char *dir,
                        const shunt_ynode_t *program, const shunt_ynode_t *runs,
                        const shunt_ynode_t *expect, shunt_runspec_t **out);
void shunt_runspec_free(shunt_runspec_t *r);

const char *shunt_lang_name(shunt_lang_t l);
/* "layer", "supervisor", "auto"; -1 from shunt_engine_parse for another */
const char *shunt_engine_name(shunt_engine_t e);
int shunt_engine_parse(const char *s);
const char *shunt_obs_name(unsigned bit);

#endif
