/* cmds.h - the subcommands (one src/cmd_<name>.c each). */
#ifndef LM_CMDS_H
#define LM_CMDS_H

#include "common/opts.h"

int cmd_check(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_cache(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_build(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_init(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_inspect(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_pull(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_push(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_prune(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_report(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_zip(int argc, char **argv, struct lm_opts *o, struct lm_err *err);
int cmd_verify(int argc, char **argv, struct lm_opts *o, struct lm_err *err);

#endif
