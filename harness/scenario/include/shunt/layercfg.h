/* The `layer:` section of a scenario (or of a `harness exec --config` file):
 * validation and its rendering into the layer's text configuration, one
 * directive per line (docs/exec.md):
 *   log_level L | log_file P | local RE | read_only RE | read_write RE |
 *   not_found RE | env_include GLOB | env_exclude GLOB */
#ifndef SHUNT_HARNESS_LAYERCFG_H
#define SHUNT_HARNESS_LAYERCFG_H

#include <stddef.h>

#include "shunt/ydoc.h"

/* Validates a layer: node (NULL or null means an empty section): known keys,
 * types, log levels, absolute log path, every regex compiled with regcomp
 * (POSIX ERE), globs without '=' or control characters.  0, or -1 with
 * "FILE:LINE:COL: layer.key.path: message" in e. */
int shunt_layercfg_check(const shunt_yerr_t *e, const shunt_ynode_t *layer);

/* Validates and renders the section.  log_level / log_file, when not NULL,
 * replace the section's own log settings (the command line wins).  On
 * success *out is a malloc'd NUL-terminated text (free it) and 0 is
 * returned; -1 with e set otherwise. */
int shunt_layercfg_render(const shunt_yerr_t *e, const shunt_ynode_t *layer,
                          const char *log_level, const char *log_file,
                          char **out);

/* The same for a layer section found elsewhere (fuzz.layer[N]): at is its
 * key path in messages instead of "layer". */
int shunt_layercfg_check_at(const shunt_yerr_t *e, const shunt_ynode_t *layer,
                            const char *at);
int shunt_layercfg_render_at(const shunt_yerr_t *e, const shunt_ynode_t *layer,
                             const char *at, const char *log_level,
                             const char *log_file, char **out);

/* Loads a --config FILE: a full scenario (when it has a target: key; it is
 * then validated entirely) or a file with just a layer: section.  Renders
 * the section as above; *out is malloc'd.  -1 with err set. */
int shunt_layercfg_load(const char *path, const char *log_level,
                        const char *log_file, char **out, char *err,
                        size_t errlen);

/* "off", "error", "warn", "info", "debug" or "trace". */
int shunt_layercfg_level_ok(const char *level);

#endif
