/* expect.no_leaks without a recorder: not available (see leaks.h). */
#include "leaks.h"

#include <stdlib.h>
#include <string.h>

int shunt_leaks_check(const shunt_leaks_input_t *in, char **report)
{
    (void)in;
    *report = strdup("not available: the ptrace recorder (harness/recorder.c) "
                     "is not built into this harness");
    return SHUNT_LEAKS_UNAVAILABLE;
}
