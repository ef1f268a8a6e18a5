/* harness fuzz (docs/fuzzing.md, "Differential fuzzing"): sequences of
 * calls generated from a scenario's fuzz: section, run by the interpreter
 * (scenarios/programs/c/shunt-fuzz-interp.c) inside the target -- the
 * truth -- and locally under the layer, compared line by line, minimised
 * when they differ and written out as ordinary scenarios.
 *
 *   gen.c      the generator: a path pool from the tree, calls by weight
 *   driver.c   the interpreters (target side, one local side per policy),
 *              one sequence run on both sides, the comparison
 *   minimise.c delta debugging over the calls, then over the tree
 *   write.c    the regression scenario and the report lines
 */
#ifndef SHUNT_HARNESS_FUZZ_H
#define SHUNT_HARNESS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shunt/buf.h"
#include "shunt/fuzzspec.h"

/* A sequence: lines without their newline. */
typedef struct {
    char **v;
    size_t n, cap;
} shunt_fz_lines_t;

int shunt_fz_lines_push(shunt_fz_lines_t *l, const char *s);
void shunt_fz_lines_free(shunt_fz_lines_t *l);
int shunt_fz_lines_copy(shunt_fz_lines_t *dst, const shunt_fz_lines_t *src);

/* A string as the interpreter's token (docs/fuzzing.md, "Tokens"):
 * [A-Za-z0-9/._-] as they are, every other byte %XX, the empty string %. */
void shunt_fz_put_enc(shunt_buf_t *b, const char *s, size_t n);

/* The random source: splitmix64, one state per sequence. */
uint64_t shunt_fz_rand(uint64_t *s);

/* --- gen.c ---------------------------------------------------------- */
typedef struct shunt_fz_gen shunt_fz_gen_t;

/* addrs: the addresses the target resolved fuzz.net.names to (may be
 * empty).  NULL on allocation failure or a bad policy (err set). */
shunt_fz_gen_t *shunt_fz_gen_new(const shunt_fuzzspec_t *f, char **addrs,
                                 size_t n_addrs, char *err, size_t errlen);
void shunt_fz_gen_free(shunt_fz_gen_t *g);
/* One sequence of f->length calls for policy pi from seed. */
int shunt_fz_gen_seq(shunt_fz_gen_t *g, size_t pi, uint64_t seed,
                     shunt_fz_lines_t *out);
/* Family of a call line (its first word; "fork X" is fork), or -1. */
int shunt_fz_family_of(const char *line);
/* The mode (SHUNT_MODE_*) of tree path under policy pi. */
int shunt_fz_gen_mode(const shunt_fz_gen_t *g, size_t pi, const char *path);

/* --- driver.c ------------------------------------------------------- */
typedef struct {
    pid_t pid;
    int in, out;        /* its stdin (we write), its stdout (we read) */
    char *rbuf;
    size_t rlen, rcap;
    char what[64];      /* "target", "local rw" (messages) */
} shunt_fz_server_t;

typedef struct {
    const shunt_fuzzspec_t *f;
    const char *target;      /* the target's name */
    const char *harness;     /* this harness binary */
    const char *interp;      /* the interpreter, at the same path in the
                                target */
    const char *layer;       /* harness exec --layer, or NULL */
    const char *engine;      /* harness exec --engine, or NULL (auto) */
    const char *logdir;      /* the sides' stderr go to LOGDIR/side-*.log
                                (NULL: this process's stderr) */
    int worker;              /* names the logs */
    char cfgdir[64];         /* per-policy layer configs (a temp dir) */
    shunt_fz_server_t ref;
    shunt_fz_server_t *loc;  /* one per policy, started on first use */
    int timeout_ms;          /* per answer (default 15000) */
    int dirty;               /* the target's tree may differ from the spec */
    uint64_t tree_hash;      /* which entries the target's tree has */
    uint64_t ns_tree, ns_ref, ns_loc; /* time spent rebuilding the tree, on
                                         the target side, on the local side */
    char err[1024];
} shunt_fz_driver_t;

int shunt_fz_driver_start(shunt_fz_driver_t *d, char *err, size_t errlen);
void shunt_fz_driver_stop(shunt_fz_driver_t *d);

/* One run on both sides: tree (the spec's, or a subset: keep[i] == 0
 * leaves entry i out; keep NULL: all), the target side with the policy's
 * not_found entries hidden, then the local side under policy pi.  ref and
 * loc get the output lines (the "done STATUS" line last).  0, or -1 with
 * d->err set on an infrastructure failure (a server died, a timeout). */
int shunt_fz_run_pair(shunt_fz_driver_t *d, size_t pi, const unsigned char *keep,
                      const shunt_fz_lines_t *seq, shunt_fz_lines_t *ref,
                      shunt_fz_lines_t *loc);

/* A sequence on the target side alone (no tree rebuilt): the names
 * fuzz.net resolves to there.  0 or -1 (d->err). */
int shunt_fz_run_target(shunt_fz_driver_t *d, const shunt_fz_lines_t *seq,
                        shunt_fz_lines_t *out);

/* The first difference of two outputs. */
typedef struct {
    int differs;
    size_t index;          /* line index in the outputs */
    char call[32];         /* the diverging call's name ("done" for the
                              status line, "fork" calls as "fork:CALL") */
    char sig[160];         /* call + the result classes on both sides:
                              what the minimiser keeps */
    const char *ref_line, *loc_line; /* NULL: missing on that side */
    int known;             /* matched a fuzz.known entry */
    size_t known_i;
} shunt_fz_diff_t;

/* f NULL: no known divergence applies; policy: the name of the sequence's
 * policy (a known entry with policies: applies to those only). */
void shunt_fz_compare(const shunt_fuzzspec_t *f, const char *policy,
                      const shunt_fz_lines_t *ref, const shunt_fz_lines_t *loc,
                      shunt_fz_diff_t *out);

/* The hidden paths of policy pi (its not_found regexes over the kept tree
 * entries), for the target side: a NULL-terminated malloc'd array of
 * pointers into f's tree. */
const char **shunt_fz_hidden(const shunt_fuzzspec_t *f, size_t pi,
                             const unsigned char *keep);

/* 1 when a call line may change the tree (a write call, an open that
 * writes or creates). */
int shunt_fz_writes(const char *line);
/* 1 when tree entry i has no parent in the tree (a top: the tree is
 * rebuilt from its tops, which are never left out). */
int shunt_fz_is_top(const shunt_fuzzspec_t *f, size_t i);

/* --- minimise.c ----------------------------------------------------- */
typedef struct {
    shunt_fz_lines_t seq;   /* the minimised sequence */
    unsigned char *keep;    /* the minimised tree (f->tree.n flags) */
    int probes;             /* runs spent */
    double secs;
} shunt_fz_min_t;

/* Delta debugging: the shortest sequence, then the smallest tree, whose
 * first difference keeps sig.  0, or -1 (d->err). */
int shunt_fz_minimise(shunt_fz_driver_t *d, size_t pi, const shunt_fz_lines_t *seq,
                      const char *sig, int max_secs, shunt_fz_min_t *out);
void shunt_fz_min_free(shunt_fz_min_t *m);
/* Slot renumbering when calls are left out: the sequence of the calls in
 * keep (n flags), each fN/dN reference following its producer (one that
 * was left out becomes f15/d7, never filled). */
int shunt_fz_subseq(const shunt_fz_lines_t *seq, const unsigned char *keep,
                    shunt_fz_lines_t *out);

/* --- write.c -------------------------------------------------------- */
/* Writes OUT/NAME.yaml: an ordinary scenario (harness run) that runs the
 * sequence with the interpreter in the scenario's target with the
 * minimised tree and the policy, and fails while the divergence lasts.
 * 0 or -1 (err). */
int shunt_fz_write_scenario(const char *path, const shunt_scenario_t *s,
                            const shunt_fuzzspec_t *f, size_t pi,
                            const unsigned char *keep, const shunt_fz_lines_t *seq,
                            const shunt_fz_diff_t *df, uint64_t seed,
                            char *err, size_t errlen);
/* The interpreter's source (embedded at build time) into path. */
int shunt_fz_write_interp_source(const char *path, char *err, size_t errlen);
/* A policy (its layer: node without name:) as one line of JSON (a YAML
 * flow mapping). malloc'd. */
char *shunt_fz_policy_json(const shunt_fz_policy_t *p);
/* A percent-decoded copy of a token (malloc'd) / encode into b. */
char *shunt_fz_decode(const char *tok);

#endif
