/* A small JSON writer into a growing buffer (a target's config.json,
 * status --json, run --json, the recorder's --json). */
#ifndef SHUNT_JSON_H
#define SHUNT_JSON_H

#include <stddef.h>

#include "shunt/buf.h"

typedef struct {
    shunt_buf_t out; /* the text; out.oom after an allocation failure */
    int comma;
} shunt_json_t;

void shunt_json_obj(shunt_json_t *j);
void shunt_json_obj_end(shunt_json_t *j);
void shunt_json_arr(shunt_json_t *j);
void shunt_json_arr_end(shunt_json_t *j);
void shunt_json_key(shunt_json_t *j, const char *key);
void shunt_json_str(shunt_json_t *j, const char *s);
void shunt_json_int(shunt_json_t *j, long long v);
void shunt_json_bool(shunt_json_t *j, int v);
/* Raw text, no separator (config.json's trailing newline). */
void shunt_json_raw(shunt_json_t *j, const char *s, size_t n);
void shunt_json_free(shunt_json_t *j);

#endif
