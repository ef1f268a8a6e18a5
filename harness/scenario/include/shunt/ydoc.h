/* A small YAML node tree on libyaml, with positions and typed accessors whose
 * errors read "FILE:LINE:COL: key.path: message". */
#ifndef SHUNT_HARNESS_YDOC_H
#define SHUNT_HARNESS_YDOC_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SHUNT_Y_SCALAR, SHUNT_Y_MAP, SHUNT_Y_SEQ } shunt_ykind_t;

typedef struct shunt_ynode shunt_ynode_t;
struct shunt_ynode {
    shunt_ykind_t kind;
    int line, col;           /* 1-based position of the node's first character */
    /* SHUNT_Y_SCALAR */
    char *value;             /* NUL-terminated; may contain NULs, see len */
    size_t len;
    bool plain;              /* unquoted plain scalar (so ~ / null / 42 are untyped) */
    /* SHUNT_Y_MAP: keys[i] (always scalars) -> items[i]; SHUNT_Y_SEQ: items[i] */
    shunt_ynode_t **keys;
    shunt_ynode_t **items;
    size_t count;
    size_t cap;              /* loader: room in keys/items (grown by doubling) */
};

typedef struct {
    char *file;              /* as given by the caller, used in messages */
    char *dir;               /* directory of file, for relative references */
    shunt_ynode_t *root;     /* NULL for an empty document */
    void *arena;             /* every node, so aliases can share nodes */
} shunt_ydoc_t;

/* Error sink shared by the accessors: the file name and the output buffer. */
typedef struct {
    const char *file;
    char *buf;
    size_t len;
} shunt_yerr_t;

/* Parse one YAML document. Syntax errors, duplicate keys, non-scalar keys and
 * multiple documents are reported as FILE:LINE:COL: ... in err. */
shunt_ydoc_t *shunt_yaml_load_file(const char *path, char *err, size_t errlen);
shunt_ydoc_t *shunt_yaml_load_string(const char *file, const char *text,
                                     size_t len, char *err, size_t errlen);
void shunt_yaml_free(shunt_ydoc_t *doc);

/* Formats "FILE:LINE:COL: PATH: message" into e->buf; always returns -1. */
int shunt_yerror(const shunt_yerr_t *e, const shunt_ynode_t *n,
                 const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "a.b" + "c" -> "a.b.c"; "a.b" + index 2 -> "a.b[2]" (truncated safely). */
void shunt_ypath_key(char *out, size_t outlen, const char *path, const char *key);
void shunt_ypath_index(char *out, size_t outlen, const char *path, size_t i);

const char *shunt_ykind_name(const shunt_ynode_t *n);
bool shunt_ynode_is_null(const shunt_ynode_t *n);

/* Value of key in a map, or NULL. */
shunt_ynode_t *shunt_ymap_get(const shunt_ynode_t *map, const char *key);

/* Each checks the node's type and returns 0, or -1 with the error set. */
int shunt_yexpect_map(const shunt_yerr_t *e, const shunt_ynode_t *n, const char *path);
int shunt_yexpect_seq(const shunt_yerr_t *e, const shunt_ynode_t *n, const char *path);
/* Rejects keys not in allowed (NULL-terminated), listing the allowed ones. */
int shunt_ycheck_keys(const shunt_yerr_t *e, const shunt_ynode_t *map,
                      const char *path, const char *const *allowed);
/* A scalar that is not null; *out points into the node (no copy). */
int shunt_yget_str(const shunt_yerr_t *e, const shunt_ynode_t *n,
                   const char *path, const char **out);
/* A scalar that is a POSIX ERE the layer accepts: it compiles with
 * regcomp(REG_EXTENDED) and passes shunt_regex_check (policy/); *out points
 * into the node. */
int shunt_yget_regex(const shunt_yerr_t *e, const shunt_ynode_t *n,
                     const char *path, const char **out);
/* A decimal integer in [min, max]; quoted digits are accepted too. */
int shunt_yget_int(const shunt_yerr_t *e, const shunt_ynode_t *n,
                   const char *path, long min, long max, long *out);
/* Octal digits (644, 0644, 0o644, "0644") up to 07777. */
int shunt_yget_mode(const shunt_yerr_t *e, const shunt_ynode_t *n,
                    const char *path, unsigned *out);

#endif
