/* check.h - will Lambda take it? The rules an image or a zip must follow before the push
 * or the upload, each sourced in docs/check.md, and the report they make.
 *
 * The rules are pure: they read a struct check_image (what an image's index, manifest,
 * config and layer tars hold) or struct check_zip (what a zip's central directory says)
 * and add findings to a struct check_report; they never fail. The loaders
 * (check_image_load, check_zip_load) are the only I/O: they read the blobs from the cache
 * or the zip file with libarchive. `lamina check` prints the report; `lamina build` and
 * `lamina zip` run the same rules on what they are about to write and stop on a failure.
 *
 * A finding names its rule ("hardlink"), a severity (a failure: Lambda refuses it; a
 * warning: it may work, or may fail at run time), where (a layer as "layer 3 sha256:…",
 * an entry, a config field, a zip) and what is wrong. */
#ifndef LM_CHECK_H
#define LM_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "image/cache.h"
#include "image/image.h"
#include "image/layercheck.h"
#include "image/oci.h"
#include "run/handler.h"

/* Lambda's numbers (docs/check.md gives the source of each). */
#define CHECK_IMAGE_MAX 10737418240ULL	    /* 10 GiB uncompressed, all layers */
#define CHECK_LAYERS_WARN 127		    /* more layers than overlay-based unpackers take */
#define CHECK_ZIP_UPLOAD_MAX 52428800ULL    /* 50 MiB zipped, direct upload */
#define CHECK_ZIP_UNZIPPED_MAX 262144000ULL /* function and its layers, unzipped */
#define CHECK_ZIP_LAYERS_MAX 5
#define CHECK_NAMES 5 /* how many offending names a line lists */

enum check_sev { CHECK_WARN = 1, CHECK_FAIL = 2 };

struct check_finding {
	char *rule;
	enum check_sev sev;
	char *where;
	char *msg;
};

struct check_report {
	struct check_finding *v;
	size_t n, cap;
	size_t nfail, nwarn;
	int is_zip;  /* which rule table the "ok" lines come from */
	int partial; /* the source could not be read whole: rules without a finding were not
			checked ("skip", not "ok") */
};

void check_report_init(struct check_report *r, int is_zip);
void check_report_release(struct check_report *r);
/* Adds a finding (copies the strings). */
void check_add(struct check_report *r, const char *rule, enum check_sev sev, const char *where, const char *fmt, ...)
	LM_PRINTF(5, 6);
/* The rules of an image (is_zip 0) or a zip (1), NULL-terminated, in report order. */
const char *const *check_rules(int is_zip);
/* One line per rule: "FAIL RULE: WHERE: MESSAGE", "warn RULE: ...", "ok   RULE" (or "skip
 * RULE" in a partial report), then
 * "SOURCE: N failed, N warnings" (or "passed"). Caller frees. */
char *check_report_text(const struct check_report *r, const char *source);
/* The same as JSON (camelCase keys, as inspect's): {"source", "kind", "passed", "failures",
 * "warnings", "rules": [{"rule", "status"}], "findings": [{"rule", "severity", "where",
 * "message"}]}. Caller frees. */
char *check_report_json(const struct check_report *r, const char *source);
/* Turns the failures of the entry rules (hardlink, parent-dir, whiteout) found in layers
 * 1..nfirst into warnings, their message prefixed with why: lamina build passes a base's
 * layers through unchanged, and an AWS base that Lambda runs must not fail the build on
 * a rule lamina cannot confirm for it. */
void check_report_demote_layers(struct check_report *r, size_t nfirst, const char *why);
/* "RULE: WHERE: MESSAGE" of the first failure, or NULL (borrowed from nothing: caller frees). */
char *check_report_first_fail(const struct check_report *r);

/* ---- images ------------------------------------------------------------------------ */

/* A tar entry of a layer; path normalised: no leading "./" or "/", no trailing "/". */
struct check_entry {
	char *path;
	enum layer_entry_type type;
	unsigned mode;
	char *link;
	uint64_t size;
};

struct check_layer {
	char digest[LM_DIGEST_LEN];
	char *media_type;
	int docker_uncompressed;     /* a docker save archive held it as an uncompressed tar */
	char *problem;		     /* why it could not be read as its media type says, or NULL */
	char diff_id[LM_DIGEST_LEN]; /* of its uncompressed stream ("" when unread) */
	uint64_t usize;
	struct check_entry *v;
	size_t n, cap;
};

struct check_image {
	struct oci_config_view cfg;
	struct check_layer *layers;
	size_t nlayers;
};

struct check_opts {
	const char *arch;	 /* "amd64" or "arm64" (--arch), or NULL: either */
	enum lm_runtime runtime; /* AUTO: decided by the image (node or python3 in it) */
};

void check_image_init(struct check_image *ci);
void check_image_release(struct check_image *ci);
/* Adds one tar entry to layer l (normalises the path). */
void check_layer_add(struct check_layer *l, const struct layer_entry *e);

/* Reads img's config and every layer blob from the cache (each decompressed as its media
 * type says, its diff_id computed, its entries listed). docker_uncompressed (may be NULL)
 * marks layers a docker save archive held uncompressed. A layer that cannot be read is
 * recorded in its problem, not an error; errors are the cache's (LM_E_IO) or a config
 * that does not parse (LM_E_INPUT). */
int check_image_load(struct check_image *ci, const struct lm_image *img, struct cache *c,
		     const unsigned char *docker_uncompressed, struct lm_err *err);

/* check_image_load for a build: a layer's entries, diff_id and size are taken from the
 * action cache when a build checked the same layer blob before (and recorded there), so
 * the base layers are read once, not at every build. Then every image rule but
 * single-manifest (lamina writes one manifest). */
int check_image_built(const struct lm_image *img, struct cache *c, const struct check_opts *o, struct check_report *r,
		      struct lm_err *err);

/* The document at the reference: an index (a layout's index.json when layout is 1) or a
 * manifest. get returns a copy of a blob it names (a nested index), or NULL when it
 * cannot (then the nested index's entries are not looked at). Rule "single-manifest". */
typedef char *(*check_blob_fn)(void *ctx, const char *digest, size_t *len);
void check_top_rules(struct check_report *r, const char *top, size_t len, int layout, check_blob_fn get, void *ctx);

/* Every image rule but single-manifest, on ci. Pure. */
void check_image_rules(struct check_report *r, const struct check_image *ci, const struct check_opts *o);

/* ---- zips -------------------------------------------------------------------------- */

enum check_zip_type { CHECK_ZFILE, CHECK_ZDIR, CHECK_ZSYMLINK };

struct check_zip_entry {
	char *name; /* as stored */
	enum check_zip_type type;
	unsigned mode; /* permission bits when has_mode (made on Unix) */
	int has_mode;
	uint64_t usize;
};

struct check_zip {
	char *path;    /* for messages */
	uint64_t size; /* bytes of the .zip */
	struct check_zip_entry *v;
	size_t n, cap;
};

void check_zip_init(struct check_zip *z, const char *path);
void check_zip_release(struct check_zip *z);
void check_zip_add(struct check_zip *z, const char *name, enum check_zip_type type, unsigned mode, int has_mode,
		   uint64_t usize);
/* Reads a zip's entries (libarchive); LM_E_INPUT when it is not a zip, LM_E_IO when it
 * cannot be read. */
int check_zip_load(struct check_zip *z, const char *path, struct lm_err *err);

/* The zip rules on a function zip fn (NULL when only layers are checked) and its layers.
 * handler (may be NULL: not checked) is resolved for rt (AUTO: Python or Node.js, either
 * found). via_s3: the zips go up through S3, where 50 MiB is no limit (zip-size is then a
 * warning, not a failure). Pure. */
void check_zip_rules(struct check_report *r, const struct check_zip *fn, const struct check_zip *layers, size_t nlayers,
		     const char *handler, enum lm_runtime rt, int via_s3);

#endif
