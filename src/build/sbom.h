/* sbom.h - the image's software bill of materials, as an SPDX 2.3 JSON document.
 *
 * What it lists: the image itself (by manifest digest), the base image by reference and
 * manifest digest, every Python distribution (.dist-info/METADATA, .egg-info/PKG-INFO:
 * name, version, licence) and npm package (node_modules/.../package.json) found in the
 * app layers' trees, and every file the app layers put in the image with its SHA-256.
 * A package prune removed (its metadata file removed) is still listed, with a comment
 * saying so, and is not CONTAINed by the image. Only the app layers are described: the
 * base's layers pass through unchanged and are named by its digest.
 *
 * Reproducible: creation time from the options' epoch (SOURCE_DATE_EPOCH), packages
 * and files in a fixed order, the namespace derived from the image digest, so the same
 * inputs give the same bytes. It goes beside the image archive (OUT.spdx.json), never
 * into the image or its index: Lambda rejects indexes and attestation manifests. */
#ifndef LM_SBOM_H
#define LM_SBOM_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "image/tree.h"

/* The media type an SPDX JSON document travels under (OCI artifactType). */
#define SBOM_SPDX_MEDIA_TYPE "application/spdx+json"

struct sbom_input {
	const char *name;         /* the image's name (its tag, or the archive's file name) */
	const char *image_digest; /* "sha256:..." of the image manifest */
	const char *base_ref;     /* the base as the manifest or --base gave it */
	const char *base_digest;  /* "sha256:..." of the base's manifest */
	const struct lm_tree *trees; /* the app layers' trees, as built (removed entries marked) */
	const char *const *layer_names;
	size_t ntrees;
	int64_t epoch; /* creation time */
};

/* A Python core metadata file's headers (METADATA, PKG-INFO): name, version and the
 * licence as an SPDX expression when one can be told ("NOASSERTION" otherwise; the raw
 * text in *license_text, NULL when none). Returns -1 when there is no Name or Version.
 * Caller frees the strings. Pure. */
int sbom_python_metadata(const char *text, size_t len, char **name, char **version, char **license,
			 char **license_text);
/* The SPDX identifier for a licence as packages write it ("MIT License", "Apache 2.0",
 * "BSD-3-Clause", "License :: OSI Approved :: MIT License"), or NULL when it cannot be
 * told for sure. Pure. */
const char *sbom_spdx_license(const char *s);
/* The SBOM's path beside an archive: "out.tar" -> "out.spdx.json", "img" -> "img.spdx.json".
 * Caller frees. Pure. */
char *sbom_path_for(const char *archive);

/* The SPDX 2.3 JSON document for in (reads the metadata files and, for files whose
 * digest is not known yet, the files themselves). *out is NUL-terminated, caller frees.
 * Errors name the file that could not be read. */
int sbom_spdx_json(const struct sbom_input *in, char **out, size_t *len, struct lm_err *err);

#endif
