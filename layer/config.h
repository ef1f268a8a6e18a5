/* The layer's configuration file: one directive per line (pure code, also
 * linked into the unit tests). */
#ifndef SHUNT_LAYER_CONFIG_H
#define SHUNT_LAYER_CONFIG_H

#include <regex.h>
#include <stddef.h>

/* Policy lists, in the order they are matched. */
enum {
    SHUNT_LIST_NOT_FOUND = 0,
    SHUNT_LIST_READ_WRITE,
    SHUNT_LIST_READ_ONLY,
    SHUNT_LIST_LOCAL,
    SHUNT_LIST_COUNT
};

typedef struct {
    regex_t *re;
    char **src;
    size_t n, cap;
} shunt_relist_t;

typedef struct {
    char **v;
    size_t n, cap;
} shunt_strlist_t;

typedef struct {
    int log_level;          /* -1: not set */
    char *log_file;         /* NULL: not set */
    int timeout_ms;         /* -1: not set */
    shunt_relist_t lists[SHUNT_LIST_COUNT];
    shunt_strlist_t env_include, env_exclude; /* globs, for env.c */
} shunt_config_t;

void shunt_config_init(shunt_config_t *c);
void shunt_config_free(shunt_config_t *c);
/* Parses text (len bytes, need not be NUL-terminated) into c, adding to
 * what is there.  Returns the number of bad lines (each described in err,
 * the first one kept: "line N: why"); good lines are applied regardless. */
int shunt_config_parse(shunt_config_t *c, const char *text, size_t len,
                       char *err, size_t errlen);
/* "error" .. "trace" -> 1..5, "off"/"none" -> 0, else -1. */
int shunt_log_level_parse(const char *s);
/* Appends a compiled pattern to a list; 0 or -1 with err filled. */
int shunt_relist_add(shunt_relist_t *l, const char *pattern, char *err,
                     size_t errlen);
int shunt_relist_match(const shunt_relist_t *l, const char *path);

#endif
