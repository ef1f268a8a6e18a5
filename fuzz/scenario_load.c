/* libFuzzer target: the scenario loader and validator (harness/scenario/scenario.c,
 * ydoc.c, layercfg.c) on arbitrary text.
 *
 * Oracle:
 *   - no crash, leak or sanitizer report;
 *   - a refused file gets one message naming it: "fuzz.yaml:" then a line
 *     and a column, or "fuzz.yaml: " for a file-wide error;
 *   - an accepted scenario's layer: section renders (shunt_layercfg_render)
 *     and the layer's own parser (shunt_config_parse) accepts every line of
 *     the result: what `harness check` passes, the layer never rejects;
 *   - so does each policy of an accepted fuzz: section (shunt_fuzzspec_parse
 *     gives it again, and the layer accepts each rendered line). */
#include "shunt/fuzzspec.h"
#include "shunt/layercfg.h"
#include "shunt/scenario.h"

#include "shunt/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_NAME "fuzz.yaml"

static void fail(const char *why, const char *detail)
{
    fprintf(stderr, "scenario_load: %s: %s\n", why, detail);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[1024] = "";
    shunt_scenario_t *s = shunt_scenario_load_string(FILE_NAME, text, err,
                                                     sizeof(err));
    if (!s) {
        size_t fl = strlen(FILE_NAME);
        if (strncmp(err, FILE_NAME ":", fl + 1) != 0)
            fail("error does not name the file", err);
        const char *p = err + fl + 1;
        if (*p != ' ') {
            /* LINE:COL: */
            char *e;
            long line = strtol(p, &e, 10);
            if (e == p || *e != ':' || line < 1)
                fail("error without a line", err);
            p = e + 1;
            long col = strtol(p, &e, 10);
            if (e == p || *e != ':' || col < 1)
                fail("error without a column", err);
        }
        free(text);
        return 0;
    }
    if (s->layer) {
        shunt_yerr_t e = {.file = FILE_NAME, .buf = err, .len = sizeof(err)};
        char *cfgtext = NULL;
        if (shunt_layercfg_render(&e, s->layer, NULL, NULL, &cfgtext) < 0)
            fail("a checked layer: section does not render", err);
        shunt_config_t cfg;
        shunt_config_init(&cfg);
        char perr[256];
        if (shunt_config_parse(&cfg, cfgtext, strlen(cfgtext), perr,
                               sizeof(perr)) != 0) {
            fprintf(stderr, "rendered:\n%s\n", cfgtext);
            fail("the layer refuses a config the harness accepted", perr);
        }
        shunt_config_free(&cfg);
        free(cfgtext);
    }
    if (s->fuzz) {
        shunt_fuzzspec_t *f = NULL;
        if (shunt_fuzzspec_parse(s, &f, err, sizeof(err)) < 0 || !f)
            fail("a checked fuzz: section does not parse again", err);
        for (size_t i = 0; i < f->n_policies; i++) {
            shunt_config_t cfg;
            shunt_config_init(&cfg);
            char perr[256];
            const char *t = f->policies[i].rendered;
            if (shunt_config_parse(&cfg, t, strlen(t), perr, sizeof(perr)) != 0) {
                fprintf(stderr, "rendered fuzz.layer[%zu]:\n%s\n", i, t);
                fail("the layer refuses a fuzz policy the harness accepted", perr);
            }
            shunt_config_free(&cfg);
        }
        shunt_fuzzspec_free(f);
    }
    shunt_scenario_free(s);
    free(text);
    return 0;
}
