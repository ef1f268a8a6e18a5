/* libFuzzer target: the register shuffles of the Go trampolines
 * (trampolines/x86_64/go_syscall6.S, and go_abi0.S for Go < 1.19), in a
 * plain C process.  The assembly half (trampoline_shuffle_asm.S) calls the
 * Syscall6 trampoline exactly as Go's ABIInternal code does, impersonates
 * the ABI0 syscall.Syscall family whose patched run jumps to go_abi0.S, and
 * stands in for runtime.asmcgocall; the handler here plays the layer.
 *
 * Input, per call (up to 8 calls per input, 66 bytes each):
 *   byte 0       which system call: 0-11 a wanted pseudo call 500+n (the
 *                handler serves it), 12 getpid (not wanted: the kernel),
 *                13+ a number no kernel has (1000+: the kernel, ENOSYS)
 *   byte 1       low 4 bits, the fork marker: 0 none, 1 this thread's own
 *                tid (a clone this thread made: forgotten, then the
 *                handler), 2+ another tid (a clone child: bare calls
 *                only); high 4 bits, the entry: 1-4 the go_abi0.S entry
 *                for Syscall, Syscall6, RawSyscall, RawSyscall6, anything
 *                else the ABIInternal Syscall6 entry
 *   bytes 2-49   a1..a6 (little-endian)
 *   bytes 50-57  g (R14)
 *   bytes 58-65  what the handler answers (any 64-bit value)
 *
 * Oracle, Syscall6 entry: the handler runs exactly when it must, on the
 * "g0" stack, with the number and a1..a6 exactly as given; Go gets AX =
 * r1, BX = r2, CX = errno by the rule of Go's own body (a result in
 * [-4094, -1], unsigned above 0xfffffffffffff001, is -errno: r1 = -1, r2 =
 * 0; else r1 = result, errno 0; the kernel's r2 is DX, which the bare path
 * loads with a3); R14 comes back as given although asmcgocall clobbered
 * it; X15 comes back zero although asmcgocall clobbered it; RSP is
 * balanced; the fork marker is forgotten when it was this thread's.
 *
 * Oracle, ABI0 entries: the handler as above, with a1..a3 from the frame
 * and a4..a6 = 0 for the three-argument functions (whatever the frame
 * holds there: the result slots); at the jump back AX is what SYSCALL
 * would have left (the handler's answer, or the kernel's result or
 * -errno), DX the kernel's r2 unless that is an error (Go ignores it
 * then), RSP equal to the function's at entry, BP unchanged. */
#include "shunt/gotramp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint64_t ax, bx, cx, di, si, r8, r9, r14, x15lo, x15hi;
    int64_t rsp_delta;
} tsh_regs_t;

void tsh_call(const tsh_regs_t *in, tsh_regs_t *out);
void tsh_asmcgocall(void);
void tsh_call_abi0(const uint64_t frame[10], void *entry, uint64_t g);
void tsh_abi0_resume(void);
extern uint64_t tsh_abi0_seen[5]; /* SP at entry, SP back, AX, DX, BP */
#define BP_MARK 0x5a5a5a5a5a5a5a07ull
__attribute__((visibility("hidden"))) uintptr_t tsh_g0_top;

#define G0_SIZE (256 * 1024)
static uint8_t *g0_stack;
static int handler_calls;
static shunt_go_call_t seen;
static int64_t answer;
static int on_g0;

static void handler(shunt_go_call_t *c)
{
    uint8_t here;
    handler_calls++;
    seen = *c;
    on_g0 = &here > g0_stack && &here < g0_stack + G0_SIZE;
    c->ret = answer;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void fail(const char *what, uint64_t got, uint64_t want)
{
    fprintf(stderr, "trampoline_shuffle: %s: got %#llx, want %#llx\n", what,
            (unsigned long long)got, (unsigned long long)want);
    abort();
}

static void setup(void)
{
    if (g0_stack)
        return;
    g0_stack = aligned_alloc(16, G0_SIZE);
    if (!g0_stack)
        abort();
    tsh_g0_top = (uintptr_t)(g0_stack + G0_SIZE);
    shunt_go_handler = handler;
    shunt_go_asmcgocall = (uintptr_t)tsh_asmcgocall;
    memset(shunt_go_want, 0, sizeof(shunt_go_want));
    for (int nr = 500; nr < 512; nr++)
        shunt_go_want[nr / 64] |= 1ull << (nr % 64);
    for (int i = 0; i < SHUNT_GO_ABI0_N; i++)
        shunt_go_abi0_resume[i] = (uintptr_t)tsh_abi0_resume;
}

static void check_marker(int wanted, int fork)
{
    if (wanted && fork == 1 && shunt_go_fork_tid != 0)
        fail("own fork marker kept", (uint64_t)shunt_go_fork_tid, 0);
    if (fork == 2 && shunt_go_fork_tid == 0)
        fail("a child's fork marker dropped", 0, 1);
}

/* The call of an ABI0 entry: in holds the number and a1..a6 as the frame
 * does; bytes 26-49 (a4..a6) also fill the three-argument functions' result
 * slots, which must not reach the handler. */
static void call_abi0(int which, const tsh_regs_t *in, int wanted, int fork,
                      long pid)
{
    int six = which == SHUNT_GO_ABI0_SYSCALL6 ||
              which == SHUNT_GO_ABI0_RAWSYSCALL6;
    uint64_t frame[10] = {in->ax, in->bx, in->cx, in->di, in->si, in->r8,
                          in->r9, 0x6c6c6c6c6c6c6c01ull, 0x6c6c6c6c6c6c6c02ull,
                          0x6c6c6c6c6c6c6c03ull};
    uint64_t want_a[6] = {in->bx, in->cx, in->di, six ? in->si : 0,
                          six ? in->r8 : 0, six ? in->r9 : 0};
    tsh_call_abi0(frame, shunt_go_abi0_entry(which), in->r14);

    int served = wanted && fork != 2;
    if (handler_calls != served)
        fail("abi0: handler calls", (uint64_t)handler_calls, (uint64_t)served);
    uint64_t raw, r2 = 0;
    if (served) {
        if (!on_g0)
            fail("abi0: handler off the g0 stack", 0, 1);
        if ((uint64_t)seen.nr != in->ax)
            fail("abi0: handler nr", (uint64_t)seen.nr, in->ax);
        for (int i = 0; i < 6; i++)
            if ((uint64_t)seen.a[i] != want_a[i])
                fail("abi0: handler argument", (uint64_t)seen.a[i], want_a[i]);
        raw = (uint64_t)answer;
    } else if (in->ax == SYS_getpid) {
        raw = (uint64_t)pid;
        r2 = in->di; /* the kernel leaves DX, which held a3 */
    } else {
        raw = (uint64_t)-ENOSYS;
    }
    if (tsh_abi0_seen[2] != raw)
        fail("abi0: AX at the jump back", tsh_abi0_seen[2], raw);
    if (raw <= (uint64_t)-4095 && tsh_abi0_seen[3] != r2)
        fail("abi0: DX at the jump back", tsh_abi0_seen[3], r2);
    if (tsh_abi0_seen[1] != tsh_abi0_seen[0])
        fail("abi0: SP at the jump back", tsh_abi0_seen[1], tsh_abi0_seen[0]);
    if (tsh_abi0_seen[4] != BP_MARK)
        fail("abi0: BP", tsh_abi0_seen[4], BP_MARK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    long tid = syscall(SYS_gettid), pid = getpid();
    for (int n = 0; n < 8 && size >= 66; n++, data += 66, size -= 66) {
        tsh_regs_t in = {0}, out;
        int kind = data[0];
        int wanted = kind < 12;
        if (wanted)
            in.ax = 500 + (uint64_t)kind;
        else if (kind == 12)
            in.ax = SYS_getpid;
        else
            in.ax = 1000 + (uint64_t)kind;
        int mark = data[1] & 15, entry = data[1] >> 4;
        int fork = mark == 0 ? 0 : mark == 1 ? 1 : 2;
        shunt_go_fork_tid = fork == 0 ? 0 : fork == 1 ? (int)tid : (int)tid + 1 + mark;
        uint64_t *args[6] = {&in.bx, &in.cx, &in.di, &in.si, &in.r8, &in.r9};
        for (int i = 0; i < 6; i++)
            *args[i] = le64(data + 2 + 8 * i);
        in.r14 = le64(data + 50);
        answer = (int64_t)le64(data + 58);
        handler_calls = 0;
        memset(&seen, 0, sizeof(seen));
        on_g0 = 0;

        if (entry >= 1 && entry <= SHUNT_GO_ABI0_N) {
            call_abi0(entry - 1, &in, wanted, fork, pid);
            check_marker(wanted, fork);
            continue;
        }
        tsh_call(&in, &out);

        int served = wanted && fork != 2;
        if (handler_calls != served)
            fail("handler calls", (uint64_t)handler_calls, (uint64_t)served);
        uint64_t raw; /* what Syscall6's body would have had in AX */
        uint64_t r2 = 0;
        if (served) {
            if (!on_g0)
                fail("handler off the g0 stack", 0, 1);
            if ((uint64_t)seen.nr != in.ax)
                fail("handler nr", (uint64_t)seen.nr, in.ax);
            for (int i = 0; i < 6; i++)
                if ((uint64_t)seen.a[i] != *args[i])
                    fail("handler argument", (uint64_t)seen.a[i], *args[i]);
            raw = (uint64_t)answer;
        } else if (in.ax == SYS_getpid) {
            raw = (uint64_t)pid;
            r2 = in.di; /* the kernel leaves DX, which held a3 */
        } else {
            raw = (uint64_t)-ENOSYS;
        }
        if (raw > (uint64_t)-4095) { /* Go's body: above 0xfffffffffffff001 */
            if (out.ax != (uint64_t)-1)
                fail("r1 of an error (AX)", out.ax, (uint64_t)-1);
            if (out.cx != -raw)
                fail("errno (CX)", out.cx, -raw);
            if (out.bx != 0)
                fail("r2 of an error (BX)", out.bx, 0);
        } else {
            if (out.ax != raw)
                fail("r1 (AX)", out.ax, raw);
            if (out.cx != 0)
                fail("errno (CX)", out.cx, 0);
            if (out.bx != r2)
                fail("r2 (BX)", out.bx, r2);
        }
        if (out.r14 != in.r14)
            fail("R14 (g)", out.r14, in.r14);
        if (out.x15lo || out.x15hi)
            fail("X15", out.x15lo | out.x15hi, 0);
        if (out.rsp_delta != 0)
            fail("RSP balance", (uint64_t)out.rsp_delta, 0);
        check_marker(wanted, fork);
    }
    shunt_go_fork_tid = 0;
    return 0;
}
