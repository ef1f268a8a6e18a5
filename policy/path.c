/* Lexical normalisation of absolute paths. */
#include "shunt/path.h"

#include <errno.h>
#include <string.h>

/* Appends the components of p to out (which holds a normalised absolute
 * path of length *len). */
static int append(char *out, size_t outlen, size_t *len, const char *p)
{
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 1 && s[0] == '.')
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (*len > 1 && out[*len - 1] != '/')
                (*len)--;
            if (*len > 1)
                (*len)--; /* the '/' before the removed component */
            out[*len] = '\0';
            continue;
        }
        size_t need = *len + (*len > 1 ? 1 : 0) + n;
        if (need + 1 > outlen)
            return -ENAMETOOLONG;
        if (*len > 1)
            out[(*len)++] = '/';
        memcpy(out + *len, s, n);
        *len += n;
        out[*len] = '\0';
    }
    return 0;
}

long shunt_path_normalize(const char *base, const char *path, char *out,
                          size_t outlen)
{
    if (!path || !*path || outlen < 2)
        return -EINVAL;
    size_t len = 1;
    out[0] = '/';
    out[1] = '\0';
    if (path[0] != '/') {
        if (!base || base[0] != '/')
            return -EINVAL;
        int r = append(out, outlen, &len, base);
        if (r < 0)
            return r;
    }
    int r = append(out, outlen, &len, path);
    if (r < 0)
        return r;
    return (long)len;
}

int shunt_path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 1 && prefix[0] == '/')
        return path[0] == '/';
    if (strncmp(path, prefix, n) != 0)
        return 0;
    return path[n] == '\0' || path[n] == '/';
}

/* The remote cwd a removed directory's /proc/self/cwd name carries
 * ("/tmp/.shunt-cwd-RANDOM-ESCAPED (deleted)") into out; 0 or -1. */
int shunt_deadcwd_decode(const char *link, char *out, size_t outlen)
{
    static const char deleted[] = " (deleted)";
    size_t l = strlen(link), dl = sizeof(deleted) - 1;
    size_t pl = sizeof(SHUNT_DEADCWD_PREFIX) - 1;
    if (l < pl + 17 + dl || strcmp(link + l - dl, deleted) != 0 ||
        strncmp(link, SHUNT_DEADCWD_PREFIX, pl) != 0 || link[pl + 16] != '-')
        return -1;
    size_t o = 0;
    for (size_t i = pl + 17; i < l - dl; i++) {
        char c = link[i];
        if (c == '%') {
            if (i + 2 >= l - dl || link[i + 1] != '2')
                return -1;
            c = link[i + 2] == 'F' ? '/' : link[i + 2] == '5' ? '%' : 0;
            if (!c)
                return -1;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return o > 0 && out[0] == '/' ? 0 : -1;
}
