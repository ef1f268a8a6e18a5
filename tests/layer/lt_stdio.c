/* End-to-end: stdio on remote files (fopen with "e"/"c" modes goes through
 * libc's nocancel entry points). */
#include "lt.h"

#include <stdlib.h>

int main(void)
{
    const char *modes[] = {"r", "re", "rce", "rm"};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        FILE *f = fopen("/srv/data/hello.txt", modes[i]);
        CHECK(f != NULL);
        if (!f)
            continue;
        char line[64];
        CHECK(fgets(line, sizeof(line), f) != NULL);
        CHECK_STR(line, "hello from the target\n");
        CHECK_LONG(ftell(f), 22);
        CHECK_LONG(fseek(f, 6, SEEK_SET), 0);
        char w[5] = "";
        CHECK_LONG(fread(w, 1, 4, f), 4);
        CHECK(memcmp(w, "from", 4) == 0);
        CHECK_LONG(fclose(f), 0);
    }
    FILE *f = fopen("/srv/data/big.txt", "r");
    CHECK(f != NULL);
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        long lines = 0, last = 0;
        while (getline(&line, &cap, f) > 0) {
            lines++;
            last = atol(line);
        }
        CHECK_LONG(lines, 400000);
        CHECK_LONG(last, 400000);
        free(line);
        fclose(f);
    }
    CHECK(fopen("/srv/data/nope", "r") == NULL && errno == ENOENT);
    /* write mode through stdio */
    f = fopen("/srv/rw/stdio.txt", "w");
    CHECK(f != NULL);
    if (f) {
        CHECK(fprintf(f, "line %d\n", 1) > 0);
        CHECK_LONG(fwrite("line 2\n", 1, 7, f), 7);
        CHECK_LONG(fclose(f), 0);
    }
    f = fopen("/srv/rw/stdio.txt", "r");
    CHECK(f != NULL);
    if (f) {
        char all[64] = "";
        CHECK_LONG(fread(all, 1, sizeof(all) - 1, f), 14);
        CHECK_STR(all, "line 1\nline 2\n");
        f = freopen("/srv/data/sub/a.txt", "r", f);
        CHECK(f != NULL);
        if (f) {
            char l[16];
            CHECK(fgets(l, sizeof(l), f) != NULL);
            CHECK_STR(l, "aaa\n");
            fclose(f);
        }
    }
    return lt_done("lt_stdio");
}
