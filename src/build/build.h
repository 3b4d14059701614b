/* build.h - the build behind `lamina build`, `lamina zip` and `lamina verify MANIFEST`.
 *
 * build_run runs the stages of build/stages.h in order (base -> trees -> prune ->
 * compile -> layers -> image -> verify) on a manifest the caller loaded, then makes the
 * outputs the request names: an image archive, a push, a Lambda zip, a size report.
 * Which command asked does not matter to it: a request is a list of outputs. It never
 * prints: what the user should see comes back through the note callback, in order,
 * and the results through struct build_result. */
#ifndef LM_BUILD_H
#define LM_BUILD_H

#include "build/manifest.h"
#include "build/stages.h"
#include "common/opts.h"
#include "image/image.h"
#include "prune/prune.h"
#include "registry/registry.h"
#include "report/model.h"
#include "run/verify.h"
#include "zip/sizereport.h"

/* A Lambda .zip output from the app trees. */
struct build_zip {
	const char *out;           /* the .zip to write; NULL = a scratch file, only measured */
	int kind;                  /* ZIP_FUNCTION, ZIP_LAYER, or -1: the manifest's "zip.kind" (default function) */
	const char *const *layers; /* manifest layers to put in it; NULL = "zip.layers" (default every layer) */
	size_t nlayers;
	int level;   /* deflate level 0..9, -1 = "zip.level" (default ZIP_LEVEL_DEFAULT) */
	int lenient; /* measure only: a layout the kind cannot hold is reported, not an error */
};

struct build_request {
	const struct lm_manifest *m; /* loaded once by the caller; borrowed */
	const char *base;            /* overrides m->base when non-NULL */
	const char *platform;        /* overrides m->platform when non-NULL */
	const struct reg_opts *reg;  /* registry options for a registry base and the push; may be NULL */
	int level;                   /* gzip level of the new layers; 0 = "compression.level" or the default */
	int no_cache;                /* redo every stage: read and record no cached result */
	char *const *cache_from;     /* --cache-from REFs: registry caches to import records from */
	size_t ncache_from;
	const char *cache_to;        /* --cache-to REF: push the records this build used, or NULL */
	/* verify */
	int no_verify;                    /* skip the checks */
	const struct verify_spec *verify; /* the checks to run; NULL = m->verify when set */
	/* check: Lambda's rules (check/check.h) on the image or zip before it is written or pushed */
	int no_check; /* skip them */
	/* outputs */
	const char *archive; /* write the image archive here (temporary name, renamed), or NULL */
	const char *sbom;    /* write the SPDX 2.3 JSON SBOM here (build/sbom.h; temporary name,
				renamed with the archive), or NULL */
	const char *tag;     /* name in the archive; NULL = m->tag */
	const char *push;    /* push the image to this reference, or NULL */
	int push_sbom;       /* with push: attach the SBOM (the file at sbom, or one made for the
				push) to the pushed image as an OCI 1.1 referrer; a failure to
				attach is a warning: the image is pushed */
	const struct build_zip *zip; /* write (or measure) a zip, or NULL */
	int report;                  /* fill result->report with the image's (and the zip's) sizes */
	int full_report;             /* fill result->full (report/model.h): bytes per layer, package and
					file, prune in three measures, limits, import times; implies
					report, and verify is run, not taken from the cache; with
					no archive, push or zip to write, a failed verify still
					gives the report (res->full.recommendation set), then
					the error */
};

/* One app layer as built, for the summary. */
struct build_layer_info {
	const char *name; /* borrowed from the manifest */
	uint64_t files, usize;
	int64_t size;
	char digest[LM_DIGEST_LEN];
};

struct build_result {
	struct lm_image img;          /* the image built (blobs in the cache) */
	struct build_layer_info *layers; /* the app layers (m->nlayers) */
	size_t nlayers;
	size_t base_layers;           /* how many layers the base has */
	int64_t base_size;            /* their compressed bytes */
	struct verify_outcome verify; /* the handler's result (when verify called it), runtime, imports loaded */
	char pushed[LM_DIGEST_LEN];   /* the digest the registry has when pushed, else "" */
	char sbom_attached[LM_DIGEST_LEN]; /* the SBOM artifact's manifest digest when attached, else "" */
	enum reg_attach_how sbom_how;      /* and how the registry lists it */
	struct size_report report;    /* when asked */
	struct report full;           /* when asked (full_report), finished */
	struct build_stats stats;     /* what the stages did and what the caches saved */
};

void build_result_init(struct build_result *r);
void build_result_release(struct build_result *r);

/* A line for the user (a progress line, a warning "warning: ...", a table); may hold
 * newlines, has no trailing one. */
typedef void (*build_note_fn)(void *ctx, const char *text);

/* Runs the stages and makes the outputs. note (may be NULL) receives, in order, what the
 * user should see; res is filled (init it first; release it in every case). Errors name
 * the manifest, the layer or the output. Nothing is written at an output path on
 * failure. */
int build_run(const struct build_request *r, const struct lm_opts *o, build_note_fn note, void *ctx,
	      struct build_result *res, struct lm_err *err);

#endif
