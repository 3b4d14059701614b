/* model.h - the report behind `lamina report` and `lamina build --report FORMAT`.
 *
 * A struct report holds what was measured about one image (and the zip of the same
 * app): where the bytes go (layers, packages, largest files, bytes shared with the base),
 * what prune did (per rule, per package, per layer; uncompressed, gzip'd-layer and zipped
 * bytes), the checks against Lambda's limits with a recommendation, and the slowest
 * imports measured during verify. Scanners (scan.h) and the build fill it; renderers
 * (render.h) print it. Everything here is pure: memory in, memory out. Strings the
 * model holds are its own copies. */
#ifndef LM_REPORT_MODEL_H
#define LM_REPORT_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* How many largest files and slowest imports a report keeps. */
#define REPORT_TOP_FILES 20
#define REPORT_TOP_IMPORTS 15

/* The three measures of a size: the bytes as files, their share of the gzip'd layer
 * (an estimate for parts of a layer, see docs/report.md) and in a zip (deflate level 6). */
enum report_measure { REPORT_U = 0, REPORT_GZ, REPORT_ZIP, REPORT_NMEASURES };

struct report_layer {
	char *name;	 /* the manifest layer's name, or "base 1" ... */
	char *digest;	 /* the layer blob's, or NULL */
	int base;	 /* passed through from the base image: shared with it */
	uint64_t size;	 /* compressed blob bytes */
	uint64_t usize;	 /* uncompressed tar bytes */
	uint64_t files;	 /* regular files */
	uint64_t fbytes; /* bytes of those files */
	uint64_t zbytes; /* the same files deflated (0 when not measured, e.g. base layers) */
};

struct report_pkg {
	char *name;  /* "numpy", "@aws-sdk/client-s3", "(app)" */
	char *eco;   /* "python", "npm" or "" */
	char *layer; /* the layer it is in */
	uint64_t files, usize, zsize;
};

struct report_file {
	char *path; /* in the image, without a leading '/' */
	char *layer;
	uint64_t size;
};

/* What prune did to one rule, package or layer: before and after in each measure
 * (have[m] is 0 when measure m was not measured). */
struct report_delta {
	char *layer;
	char *name;
	uint64_t files_before, files_after;
	uint64_t before[REPORT_NMEASURES], after[REPORT_NMEASURES];
	int have[REPORT_NMEASURES];
};

struct report_import {
	char *module;
	double self_ms, cum_ms;
};

/* One limit of Lambda's and where the image or zip stands. */
struct report_limit {
	const char *name; /* "image uncompressed", "zip unzipped (function + layers)", ... (static) */
	const char *unit; /* "bytes" or "layers" (static) */
	const char *note; /* for people (static) */
	uint64_t value, limit;
	int ok, hard;
};

#define REPORT_MAX_LIMITS 5

struct report {
	char *source;  /* the manifest or image the report is about */
	char *digest;  /* the image's manifest digest, or NULL */
	char *runtime; /* "python", "node", or NULL */

	struct report_layer *layers; /* base layers first, in order, then the app layers */
	size_t nlayers;
	struct report_pkg *pkgs; /* after report_finish: biggest first */
	size_t npkgs, cappkgs;
	struct report_file *files; /* the largest, biggest first, at most REPORT_TOP_FILES */
	size_t nfiles;

	int have_prune;
	struct report_delta *rules, *ppkgs, *players; /* per rule, per package, per layer */
	size_t nrules, nppkgs, nplayers;
	uint64_t pyc_files, pyc_bytes;	   /* .pyc added by precompile */
	uint64_t cache_files, cache_bytes; /* Node compile cache added */

	int have_zip;
	char *zip_kind;	 /* "function" or "layer" */
	char *zip_error; /* the app cannot be a zip of this kind, or NULL */
	uint64_t zip_size, zip_usize, zip_files;
	uint64_t others_usize; /* the manifest layers not in the zip, which would be Lambda layers */
	size_t lambda_layers;  /* how many Lambda layers the function would use */

	struct report_limit limits[REPORT_MAX_LIMITS]; /* filled by report_finish */
	size_t nlimits;
	char *recommendation; /* filled by report_finish */

	/* internal, scan.c: the app layers' files as deflated when the image was read, so
	 * that report_add_prune does not deflate them again */
	struct report_zfile {
		char *layer, *path;
		uint64_t zsize;
	} *zfiles;
	size_t nzfiles, capzfiles;

	int have_imports;
	struct report_import *imports; /* after report_finish: slowest first, at most REPORT_TOP_IMPORTS */
	size_t nimports;
};

void report_init(struct report *r);
void report_release(struct report *r);

/* Appends a layer (copies the strings; digest may be NULL) and returns it, valid until
 * the next append. */
struct report_layer *report_add_layer(struct report *r, const char *name, const char *digest, int base, uint64_t size,
				      uint64_t usize);
/* Counts a file of layer under the largest files when it is one of them. */
void report_add_file(struct report *r, const char *layer, const char *path, uint64_t size);
/* Adds a file's bytes to package name of layer (created on first use). */
void report_add_pkg(struct report *r, const char *layer, const char *name, const char *eco, uint64_t usize,
		    uint64_t zsize);
/* Appends a prune row (rule, package or layer; copies the strings) and returns it. */
struct report_delta *report_add_delta(struct report_delta **v, size_t *n, const char *layer, const char *name);
/* Adds an import timing. */
void report_add_import(struct report *r, const char *module, double self_ms, double cum_ms);

/* Sorts (packages, prune rows and imports biggest first), keeps the top imports,
 * evaluates Lambda's limits and writes the recommendation. Call once, after filling. */
void report_finish(struct report *r);

/* The package an image path belongs to: the folder after the last "node_modules/" (with
 * its @scope), else the first component below site-packages/, dist-packages/,
 * opt/python/ or var/task/ ("numpy", "yaml"; "PyYAML-6.0.dist-info" gives "PyYAML"; a
 * top-level module "six.py" gives "six"), else NULL. *eco is set to "npm", "python" or
 * "". Caller frees. Pure. */
char *report_pkg_of(const char *path, const char **eco);

/* The manifest layer name lamina's history records ("lamina: layer 'deps' -> /var/task"
 * gives "deps"), or NULL when created_by is not one of lamina's. Caller frees. Pure. */
char *report_layer_name(const char *created_by);

/* Totals over the layers: compressed and uncompressed bytes, and the same for the base
 * layers only (shared with the base) . Pure. */
void report_totals(const struct report *r, uint64_t *size, uint64_t *usize, uint64_t *base_size, uint64_t *base_usize);

/* "12.3 %" of part in whole, never "-0.0 %"; "0 %" when whole is 0. Pure. */
const char *report_pct(uint64_t part, uint64_t whole, char *buf, size_t bufsz);
/* "OK, 9.8 GiB to spare" / "over by 7.3 MiB" (bytes) or "OK, 3 to spare" (layers). Pure. */
const char *report_verdict(const struct report_limit *l, char *buf, size_t bufsz);
/* A count and a noun in the right number: "1 package", "3 packages". Pure. */
const char *report_plural(uint64_t n, const char *one, const char *many, char *buf, size_t bufsz);

#endif
