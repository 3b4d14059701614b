/* cmd_pull.c - placeholder until the module lands (see its issue). */
#include "cmds.h"

int cmd_pull(int argc, char **argv, const struct lm_opts *o, struct lm_err *err)
{
	(void)argc;
	(void)argv;
	(void)o;
	return lm_err_set(err, LM_E_USAGE, "'pull' is not implemented yet");
}
