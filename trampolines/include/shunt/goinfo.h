/* What a Go executable's file says about itself: its Go version, how it is
 * linked, and where the functions through which it enters the kernel are
 * (docs/go.md).  Read with plain file I/O and raw system calls. */
#ifndef SHUNT_GOINFO_H
#define SHUNT_GOINFO_H

#include <stddef.h>
#include <stdint.h>

/* Addresses are the file's own virtual addresses (st_value, p_vaddr): add
 * the load bias (where the lowest PT_LOAD landed minus its p_vaddr) at run
 * time.  0 = absent. */
typedef struct {
    char version[32]; /* "go1.26.8", as `go version` prints it (cut at 31) */
    int major, minor, patch; /* 1, 26, 8; a release candidate has patch 0 */
    int pie;        /* ET_DYN */
    int stripped;   /* no .symtab: found through .gopclntab instead */
    int has_interp; /* PT_INTERP: dynamically linked, a preload can enter */
    /* The ABIInternal Syscall6 every user-level syscall passes through,
     * named per version (GO-FACTS.md): Go >= 1.19 only. */
    uint64_t syscall6;
    uint64_t raw_syscall6; /* syscall.RawSyscall6 (any ABI), if linked */
    /* ABI0 bodies of syscall.Syscall, syscall.Syscall6, syscall.RawSyscall:
     * Go < 1.19 (assembly).  Later they are Go (ABIInternal) functions
     * ending in syscall6, and these stay 0. */
    uint64_t syscall_abi0[3];
    uint64_t raw_vfork; /* syscall.rawVforkSyscall (ABI0): when os/exec is linked */
    /* runtime.asmcgocall (ABI0): runs a C function on the thread's g0
     * stack; the layer's Go trampolines call it.  Present in every Go
     * program; 0 only if the file lacks it. */
    uint64_t asmcgocall;
    /* runtime/cgo is linked (crosscall2): Go's threads then keep libc's
     * TLS, where the layer can run.  Without it (CGO_ENABLED=0, even a
     * dynamically linked -buildmode=pie) the layer cannot enter it. */
    int cgo;
} shunt_goinfo_t;

/* Reads the executable at path.  Returns 0 with *out filled; -ENOEXEC
 * when it is not a Go executable for x86-64 or is not understood (a
 * version that does not parse, a malformed or truncated file, no syscall
 * entry point for its version) -- *out then holds whatever was read so far;
 * or -errno from open/read.  A reason goes to why on every failure.  The
 * file is untrusted: every offset and size is checked against it.  Uses no
 * malloc and no stdio streams (about 40 KiB of stack). */
int shunt_goinfo_read(const char *path, shunt_goinfo_t *out, char *why,
                      size_t whylen);

#endif
