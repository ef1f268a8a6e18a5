/* The state the Go trampolines (x86_64/go_*.S) read; see shunt/gotramp.h. */
#include "shunt/gotramp.h"

#include <stddef.h>

void (*shunt_go_handler)(shunt_go_call_t *call);
uintptr_t shunt_go_asmcgocall;
uint64_t shunt_go_want[SHUNT_GO_NR_MAX / 64];
void *shunt_go_vfork_orig;
__thread int shunt_go_fork_tid __attribute__((tls_model("initial-exec")));

/* The assembly hard-codes these offsets. */
_Static_assert(offsetof(shunt_go_call_t, nr) == 0, "nr at +0");
_Static_assert(offsetof(shunt_go_call_t, a) == 8, "a at +8");
_Static_assert(offsetof(shunt_go_call_t, ret) == 56, "ret at +56");
_Static_assert(sizeof(shunt_go_call_t) == 64, "64 bytes");
