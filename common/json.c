/* A small JSON writer into a growing buffer (config.json, status --json). */
#include "shunt/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void jput(shunt_json_t *j, const char *s, size_t n)
{
    if (j->oom)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        while (cap < j->len + n + 1)
            cap *= 2;
        char *nb = realloc(j->buf, cap);
        if (!nb) {
            j->oom = 1;
            return;
        }
        j->buf = nb;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = 0;
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
    free(j->buf);
    memset(j, 0, sizeof(*j));
}
