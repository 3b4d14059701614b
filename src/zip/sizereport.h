/* sizereport.h - image vs zip sizes against Lambda's limits (lamina zip, build --report).
 *
 * The builder fills a size_report with what it measured: the image's layers (base
 * layers as pulled, app layers as built: compressed bytes pushed and uncompressed
 * tar bytes) and the zip (bytes of the file, bytes of the unzipped contents, per
 * manifest layer). The checks compare them with Lambda's limits; the printers write a
 * table for people or JSON for CI. */
#ifndef LM_SIZEREPORT_H
#define LM_SIZEREPORT_H

#include <stdint.h>
#include <stdio.h>

#include "image/cache.h"
#include "common/digest.h"
#include "common/err.h"
#include "image/oci.h"
#include "zip/zip.h"

/* A container image: 10 GB uncompressed, all layers together (counted as 10 GiB). */
#define LAMBDA_IMAGE_MAX 10737418240ULL
/* A zip uploaded directly with CreateFunction/UpdateFunctionCode: 50 MB. The request
 * carries it in base64 and must stay under 69,905,067 bytes, so 50 MiB (52,428,800
 * bytes) of zip; larger zips go through S3. */
#define LAMBDA_ZIP_UPLOAD_MAX 52428800ULL
/* A function's zip and all its layers' zips, unzipped: 262,144,000 bytes (250 MiB). */
#define LAMBDA_ZIP_UNZIPPED_MAX 262144000ULL

struct size_item {
	char *name;
	int base;       /* image: a layer of the base image */
	uint64_t size;  /* compressed: the layer blob / the entries' bytes in the zip */
	uint64_t usize; /* uncompressed: the layer's tar stream / the entries' contents */
};

struct size_report {
	int have_image;
	char image_digest[LM_DIGEST_LEN];
	struct size_item *layers; /* base layers first, in order, then the app layers */
	size_t nlayers;

	int have_zip;
	enum zip_kind kind;
	char *zip_error; /* the app cannot be a zip of this kind (why); the figures below are unset */
	char *zip_path;  /* NULL when the zip was only measured */
	char zip_digest[LM_DIGEST_LEN];
	uint64_t zip_size, zip_usize, zip_entries, zip_files;
	int zip64;
	struct size_item *zlayers; /* the manifest layers in the zip */
	size_t nzlayers;
	/* the manifest's other layers: deployed beside the zip as Lambda layers (or, for a
	 * layer zip, as the function and its other layers), they share the unzipped limit */
	uint64_t others_usize;
	size_t nothers;
};

void size_report_init(struct size_report *r);
void size_report_release(struct size_report *r);
/* Appends an image layer / a zip layer (copies name). */
void size_report_add_layer(struct size_report *r, const char *name, int base, uint64_t size, uint64_t usize);
void size_report_add_zlayer(struct size_report *r, const char *name, uint64_t size, uint64_t usize);

/* One limit and where a figure stands against it. */
struct size_check {
	const char *name;  /* "image uncompressed", "zip direct upload", "zip unzipped" */
	const char *note;  /* what the limit means, for people */
	uint64_t value, limit;
	int ok;            /* value <= limit */
	int hard;          /* over means Lambda refuses it whatever the route */
};

/* Fills c for value against limit. Pure. */
void size_check_eval(struct size_check *c, const char *name, const char *note, uint64_t value, uint64_t limit,
		     int hard);
/* "OK, 22.7 MiB to spare" or "over by 7.3 MiB". Pure. */
const char *size_check_verdict(const struct size_check *c, char *buf, size_t bufsz);
/* A function uses at most 5 layers. */
#define LAMBDA_LAYERS_MAX 5
#define SIZE_CHECKS_MAX 4
/* The checks that apply to the report (image and/or zip): at most SIZE_CHECKS_MAX, in
 * out. The unzipped one counts the zip and the manifest's other layers together. Pure. */
size_t size_report_checks(const struct size_report *r, struct size_check out[SIZE_CHECKS_MAX]);

/* Prints the table for people. */
void size_report_print(const struct size_report *r, FILE *f);
/* The report as JSON (compact, one line, exact bytes). Caller frees. */
char *size_report_json(const struct size_report *r);

/* Lambda's CodeSha256 for a "sha256:<hex>" digest: the raw digest in base64. Writes
 * at most 45 bytes to out. Pure. */
void size_code_sha256(const char *digest, char out[45]);

/* Uncompressed bytes of a layer blob in the cache (gzip, zstd or plain tar). */
int size_blob_usize(const struct cache *c, const struct oci_descriptor *d, uint64_t *usize, struct lm_err *err);

#endif
