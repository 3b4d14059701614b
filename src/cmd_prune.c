/* cmd_prune.c - placeholder until the module lands (see its issue). */
#include "cmds.h"

int cmd_prune(int argc, char **argv, const struct lm_opts *o, struct lm_err *err)
{
	(void)argc;
	(void)argv;
	(void)o;
	return lm_err_set(err, LM_E_USAGE, "'prune' is not implemented yet");
}
