/* cmd_inspect.c - placeholder. */
#include "cmds.h"

int cmd_inspect(int argc, char **argv, const struct lm_opts *o, struct lm_err *err)
{
	(void)argc;
	(void)argv;
	(void)o;
	return lm_err_set(err, LM_E_USAGE, "'inspect' is not implemented yet");
}
