/* A small JSON writer into a growing buffer (config.json, status --json). */
#include "shunt/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void jput(shunt_json_t *j, const char *s, size_t n)
{
    shunt_buf_put(&j->out, s, n);
}

void shunt_json_raw(shunt_json_t *j, const char *s, size_t n) { jput(j, s, n); }

static void jsep(shunt_json_t *j)
{
    if (j->comma)
        jput(j, ",", 1);
    j->comma = 0;
}

void shunt_json_obj(shunt_json_t *j) { jsep(j); jput(j, "{", 1); }
void shunt_json_arr(shunt_json_t *j) { jsep(j); jput(j, "[", 1); }
void shunt_json_obj_end(shunt_json_t *j) { jput(j, "}", 1); j->comma = 1; }
void shunt_json_arr_end(shunt_json_t *j) { jput(j, "]", 1); j->comma = 1; }

static void jstring(shunt_json_t *j, const char *s)
{
    jput(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            jput(j, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            jput(j, esc, 6);
        } else {
            jput(j, (const char *)p, 1);
        }
    }
    jput(j, "\"", 1);
}

void shunt_json_key(shunt_json_t *j, const char *key)
{
    jsep(j);
    jstring(j, key);
    jput(j, ":", 1);
}

void shunt_json_str(shunt_json_t *j, const char *s)
{
    jsep(j);
    jstring(j, s);
    j->comma = 1;
}

void shunt_json_int(shunt_json_t *j, long long v)
{
    char b[32];
    jsep(j);
    int n = snprintf(b, sizeof(b), "%lld", v);
    jput(j, b, (size_t)n);
    j->comma = 1;
}

void shunt_json_bool(shunt_json_t *j, int v)
{
    jsep(j);
    jput(j, v ? "true" : "false", v ? 4 : 5);
    j->comma = 1;
}

void shunt_json_free(shunt_json_t *j)
{
    shunt_buf_free(&j->out);
    j->comma = 0;
}
