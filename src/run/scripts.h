/* scripts.h - the programs lamina runs inside images, embedded at build time from
 * src/run/scripts/ (scripts/embed.sh, see the Makefile). Each is NUL-terminated; _len
 * excludes the NUL. They are linted and run on the host by tests/lint/scripts.sh. */
#ifndef LM_RUN_SCRIPTS_H
#define LM_RUN_SCRIPTS_H

#include <stddef.h>

/* precompile.py IO MODE OPTIMIZE SOURCELESS EPOCH JOBS: .pyc with the image's Python */
extern const char lm_script_precompile_py[];
extern const size_t lm_script_precompile_py_len;
/* verify.py IO: imports, the handler, a call with an event */
extern const char lm_script_verify_py[];
extern const size_t lm_script_verify_py_len;
/* verify.js IO: the same for Node.js (require/import, the handler, a call) */
extern const char lm_script_verify_js[];
extern const size_t lm_script_verify_js_len;
/* node_driver.js IO SEED MODE: the V8 compile cache, one child node per flag set */
extern const char lm_script_node_driver_js[];
extern const size_t lm_script_node_driver_js_len;
/* node_gen.js (run with node -e) DIR LIST RES: loads the app with the compile cache on */
extern const char lm_script_node_gen_js[];
extern const size_t lm_script_node_gen_js_len;

#endif
