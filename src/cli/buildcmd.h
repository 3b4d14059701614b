/* buildcmd.h - what build, zip and verify MANIFEST share around build_run: the notes
 * printed on standard error (nothing under -q), and the image summary. */
#ifndef LM_CLI_BUILDCMD_H
#define LM_CLI_BUILDCMD_H

#include "build/build.h"

/* Runs build_run with the notes going to standard error unless o->quiet. */
int cli_build(const struct build_request *r, const struct lm_opts *o, struct build_result *res, struct lm_err *err);

/* The image summary: base layers, each app layer, the image digest (standard error). */
void cli_build_summary(const struct build_result *res, const struct lm_opts *o);

#endif
