/* libshunt.so: the interception layer.  This first version installs no hooks
 * yet (the hook engine and hooks.def arrive with the interception-layer
 * issue); it proves that the library loads into any program under
 * LD_PRELOAD without changing its behaviour, and reports its version. */
#include <stddef.h>

__attribute__((visibility("default"))) const char *shunt_layer_version(void);

const char *shunt_layer_version(void) { return "shunt-layer 0.1.0 (no hooks)"; }
