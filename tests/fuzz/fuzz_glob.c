/* The prune and exclude matcher: pattern and path separated by the first newline. It
 * must stay polynomial (git's wildmatch trap: many "**" against a deep path); libFuzzer's
 * -timeout reports a slow input. */
#include "common/glob.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *path = strchr(s, '\n');
	if (path) {
		*path++ = '\0';
		(void)wildmatch(s, path);
		(void)glob_match(s, path, 0);
		(void)glob_match(s, path, 1);
		(void)glob_match_within(s, path, 1);
	}
	free(s);
	return 0;
}
