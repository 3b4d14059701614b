/* slim.h - rewrite data files into smaller ones that load the same.
 *
 * Prune presets remove files; these functions shrink files that must stay, where the
 * reader is known and what it reads does not change:
 *  - JSON without insignificant whitespace (json.loads() returns the same object; strings,
 *    numbers, key order and duplicate keys are copied byte for byte);
 *  - optionally without the "documentation" strings of botocore service models, at the
 *    places botocore reads them with .get(..., '') and only uses them to build docstrings;
 *  - core metadata (.dist-info/METADATA, .egg-info/PKG-INFO) without the description
 *    body: importlib.metadata reads the headers (Name, Version, Requires-Dist ...).
 * All are pure: memory in, memory out. Input they do not fully understand is left alone. */
#ifndef LM_SLIM_H
#define LM_SLIM_H

#include <stddef.h>

enum slim_json_flags {
	/* drop "documentation": "<string>" members at the places a botocore service model
	 * (service-2.json) keeps prose: the top level, operations.<op>, operations.<op>.input,
	 * .output, .errors[], shapes.<s>, shapes.<s>.key, .value, .member; in
	 * shapes.<s>.members.<m> the string becomes " " (botocore.docs needs it non-empty to
	 * generate docstrings). Nowhere else (clientContextParams.<p>.documentation is read
	 * with [] and stays; a member named "documentation" is a member, not prose). */
	SLIM_JSON_BOTO_DOCS = 1 << 0,
};

/* Rewrites the JSON text in[0..len) without whitespace between tokens (and, by flags,
 * without botocore documentation). Returns 1 and sets *out (caller frees,
 * NUL-terminated) and *outlen when the result is smaller; 0 when it would not be, or
 * when in is not one valid RFC 8259 JSON text (a BOM, NaN, trailing data, nesting deeper
 * than 512 ...): such files are left alone. */
int slim_json(const char *in, size_t len, unsigned flags, char **out, size_t *outlen);

/* Cuts an RFC 822 style core metadata file after its headers (at the first empty line,
 * "\n\n" or "\r\n\r\n"), keeping the headers byte for byte. Returns 1 and sets *out
 * (caller frees) and *outlen when there was a body; 0 otherwise. */
int slim_metadata(const char *in, size_t len, char **out, size_t *outlen);

#endif
