/* Writes the seed corpus of fuzz/relocator into a directory: the first 32
 * bytes of a few dozen libc functions (real prologues: endbr64, push, sub,
 * RIP-relative loads, early branches) and the awkward hand-written cases of
 * tests/trampolines/test_relocate.c, each behind the 3-byte placement
 * header the target reads (see fuzz/relocator.c). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ENTRY 32

static int write_seed(const char *dir, const char *name, uint8_t placement,
                      const uint8_t *code, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    uint8_t hdr[3] = {placement, 0, 0};
    if (!f || fwrite(hdr, 1, 3, f) != 3 || fwrite(code, 1, len, f) != len) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static const char *const libc_fns[] = {
    "open", "openat", "read", "write", "pread64", "pwrite64", "close",
    "lseek", "stat", "fstat", "lstat", "fstatat", "access", "readlink",
    "mkdir", "rmdir", "unlink", "rename", "getdents64", "statfs",
    "ftruncate", "fsync", "chmod", "symlink", "utimensat", "getenv",
    "getaddrinfo", "connect", "socket", "send", "recv", "malloc", "free",
    "memcpy", "strlen", "strcmp", "printf", "fopen", "fclose", "opendir",
    "readdir", "execve", "fork", "clock_gettime", "gettimeofday", "time",
    "qsort", "pthread_create", "pthread_mutex_lock", "__libc_start_main",
};

/* The awkward cases of tests/trampolines/test_relocate.c. */
typedef struct {
    const char *name;
    uint8_t code[16];
    size_t len;
} fixture_t;

#define FX(n, ...)                                                       \
    {n, {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})}

static const fixture_t fixtures[] = {
    FX("frame", 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20, 0xc9, 0xc3),
    FX("endbr64", 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5),
    FX("rip_load", 0x48, 0x8b, 0x05, 0xd0, 0x0f, 0x00, 0x00, 0xc3),
    FX("rip_lea_neg", 0x48, 0x8d, 0x3d, 0x00, 0xff, 0xff, 0xff, 0xc3),
    FX("rip_cmp_imm32", 0x48, 0x81, 0x3d, 0x10, 0x00, 0x00, 0x00, 0x78, 0x56,
       0x34, 0x12, 0xc3),
    FX("rip_cmp_imm8", 0x89, 0xf8, 0x80, 0x3d, 0x40, 0x00, 0x00, 0x00, 0x01,
       0xc3),
    FX("short_jcc", 0x85, 0xff, 0x74, 0x10, 0x89, 0xf8),
    FX("ds_jne", 0x3e, 0x75, 0x20, 0x31, 0xc0),
    FX("jmp_rel32", 0xe9, 0x00, 0x01, 0x00, 0x00),
    FX("bnd_jmp", 0xf2, 0xe9, 0x00, 0x01, 0x00, 0x00),
    FX("short_jmp_after", 0x48, 0x89, 0xf8, 0xeb, 0x10),
    FX("call_rel32", 0xe8, 0xf0, 0xff, 0xff, 0xff, 0x5d, 0xc3),
    FX("jmp_to_entry_later", 0x55, 0x48, 0x89, 0xe5, 0x5d, 0xe9, 0xf6, 0xff,
       0xff, 0xff),
    FX("jcc_back_to_entry", 0x31, 0xc0, 0x74, 0xfc, 0x48, 0x89, 0xf8),
    FX("jcc_into_patch", 0x85, 0xff, 0x74, 0x00, 0x48, 0x89, 0xf8),
    FX("loop_into_patch", 0x31, 0xc0, 0x01, 0xf8, 0xff, 0xcf, 0x75, 0xfa,
       0xc3),
    FX("ret_at_1", 0x90, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc),
    FX("three_bytes", 0x89, 0xf8, 0xc3),
    FX("short_jmp_fn", 0xeb, 0x10, 0x90, 0x90, 0x90),
    FX("half_insn", 0x55, 0x48, 0x89),
    FX("push_es", 0x06, 0x90, 0x90, 0x90, 0x90, 0x90),
    FX("daa", 0x48, 0x89, 0xe5, 0x27, 0x90, 0x90),
    FX("loop", 0x31, 0xc9, 0xe2, 0x10, 0x90, 0x90),
    FX("jrcxz", 0xe3, 0x10, 0x90, 0x90, 0x90, 0x90),
    FX("xbegin", 0xc7, 0xf8, 0x10, 0x00, 0x00, 0x00),
    FX("int3", 0xcc, 0x48, 0x89, 0xe5, 0x90, 0x90),
    FX("eip_rel", 0x67, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00),
    FX("jmp_rel16", 0x48, 0x89, 0xf8, 0x66, 0xe9, 0x10, 0x00),
};

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    /* libc's own definitions, not a sanitizer's interceptors. */
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (!libc) {
        fprintf(stderr, "dlopen libc.so.6: %s\n", dlerror());
        return 1;
    }
    int n = 0, rc = 0;
    char name[128];
    for (size_t i = 0; i < sizeof(libc_fns) / sizeof(libc_fns[0]); i++) {
        const uint8_t *fn = dlsym(libc, libc_fns[i]);
        if (!fn)
            continue;
        /* Placements: near (16 MiB above), then the 2 GiB edge, then far,
         * in turn, so every distance class starts with real code. */
        static const uint8_t place[3] = {0 << 3 | 1, 2 << 3 | 1, 4 << 3 | 1};
        snprintf(name, sizeof(name), "libc-%s", libc_fns[i]);
        rc |= write_seed(dir, name, place[i % 3], fn, ENTRY);
        n++;
    }
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        const fixture_t *fx = &fixtures[i];
        snprintf(name, sizeof(name), "fixture-%s-near", fx->name);
        rc |= write_seed(dir, name, 0 << 3 | 2, fx->code, fx->len);
        snprintf(name, sizeof(name), "fixture-%s-far", fx->name);
        rc |= write_seed(dir, name, 4 << 3 | 2, fx->code, fx->len);
        n += 2;
    }
    printf("%d seeds written to %s\n", n, dir);
    return rc ? 1 : 0;
}
