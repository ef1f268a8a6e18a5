/* Another object marked INITFIRST (-z initfirst): preloaded after
 * libshunt.so, it takes the loader's one "initialise first" place, so the
 * layer starts in dependency order (its fallback) — tests/layer/initfirst.sh. */
void lt_initfirst_marker(void);
void lt_initfirst_marker(void) {}
