/* Typed raw system calls (over shunt_sys6, shunt/sys.h) and a
 * /proc/self/maps reader that use neither libc's wrappers (the layer may
 * have hooked them) nor stdio nor malloc. */
#include "tramp.h"

#include "shunt/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

long shunt_sys_openat(int dirfd, const char *path, int flags)
{
    return shunt_sys6(SYS_openat, dirfd, (long)path, flags, 0, 0, 0);
}

long shunt_sys_read(int fd, void *buf, size_t n)
{
    return shunt_sys6(SYS_read, fd, (long)buf, (long)n, 0, 0, 0);
}

long shunt_sys_close(int fd)
{
    return shunt_sys6(SYS_close, fd, 0, 0, 0, 0, 0);
}

long shunt_sys_mprotect(uint64_t addr, size_t len, int prot)
{
    return shunt_sys6(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0);
}

long shunt_sys_mmap(uint64_t addr, size_t len, int prot, int flags)
{
    return shunt_sys6(SYS_mmap, (long)addr, (long)len, prot, flags, -1, 0);
}

long shunt_sys_munmap(uint64_t addr, size_t len)
{
    return shunt_sys6(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
}

long shunt_sys_membarrier(int cmd)
{
    return shunt_sys6(SYS_membarrier, cmd, 0, 0, 0, 0, 0);
}

/* A line is parsed one character at a time, so no line ever has to fit a
 * buffer: "start-end perms offset dev inode   path". */
typedef struct {
    int field;
    shunt_map_t m;
    char name[8];
    size_t nlen;
    int pi;
} line_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return 0;
}

static void feed(line_t *l, char c)
{
    switch (l->field) {
    case 0:
        if (c == '-')
            l->field = 1;
        else
            l->m.start = l->m.start << 4 | (uint64_t)hexval(c);
        break;
    case 1:
        if (c == ' ')
            l->field = 2;
        else
            l->m.end = l->m.end << 4 | (uint64_t)hexval(c);
        break;
    case 2:
        if (c == ' ')
            l->field = 3;
        else if (l->pi++ < 3)
            l->m.prot |= c == 'r' ? PROT_READ
                       : c == 'w' ? PROT_WRITE
                       : c == 'x' ? PROT_EXEC
                                  : 0;
        break;
    case 3:
    case 4:
    case 5:
        if (c == ' ')
            l->field++;
        break;
    default: /* the path, after a run of spaces; only its start matters */
        if ((l->nlen == 0 && c == ' ') || l->nlen >= sizeof l->name)
            break;
        l->name[l->nlen++] = c;
    }
}

int shunt_maps_each(int (*fn)(const shunt_map_t *m, void *arg), void *arg)
{
    long fd = shunt_sys_openat(AT_FDCWD, "/proc/self/maps",
                               O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return (int)fd;
    char buf[1024];
    line_t l;
    memset(&l, 0, sizeof l);
    int rc = 0;
    for (;;) {
        long n = shunt_sys_read((int)fd, buf, sizeof buf);
        if (n == -EINTR)
            continue;
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        for (long i = 0; i < n && rc == 0; i++) {
            if (buf[i] != '\n') {
                feed(&l, buf[i]);
                continue;
            }
            l.m.heap = l.nlen == 6 && memcmp(l.name, "[heap]", 6) == 0;
            l.m.stack = l.nlen == 7 && memcmp(l.name, "[stack]", 7) == 0;
            rc = fn(&l.m, arg);
            memset(&l, 0, sizeof l);
        }
        if (rc)
            break;
    }
    shunt_sys_close((int)fd);
    return rc;
}

/* Mappings are gathered into runs of contiguous ones with the same
 * protection: an mprotect on one page (a patch written earlier) splits a
 * library's text into several lines that are still one piece of code. */
typedef struct {
    uint64_t addr;
    shunt_map_t run;
    bool have;
} find_t;

static int find_one(const shunt_map_t *m, void *arg)
{
    find_t *f = arg;
    if (f->have && m->start == f->run.end && m->prot == f->run.prot) {
        f->run.end = m->end;
        return 0;
    }
    if (f->have && f->addr >= f->run.start && f->addr < f->run.end)
        return 1;
    f->run = *m;
    f->have = true;
    return 0;
}

int shunt_maps_find(uint64_t addr, shunt_map_t *m)
{
    find_t f = {addr, {0, 0, 0, false, false}, false};
    int rc = shunt_maps_each(find_one, &f);
    if (rc < 0)
        return rc;
    if (f.have && addr >= f.run.start && addr < f.run.end) {
        *m = f.run;
        return 0;
    }
    return -ENOENT;
}
