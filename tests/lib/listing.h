/* Test helper for the lt_* programs: the sorted names of a directory
 * stream, without . and .., joined by ',' (at most 64 names). */
#ifndef SHUNT_TESTS_LISTING_H
#define SHUNT_TESTS_LISTING_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* Sorted names of a DIR, without . and .., joined by ','. */
static inline void listing(DIR *d, char *out, size_t outlen)
{
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(out, names[i], outlen - strlen(out) - 1);
        if (i + 1 < n)
            strncat(out, ",", outlen - strlen(out) - 1);
        free(names[i]);
    }
}

#endif
