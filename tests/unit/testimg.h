/* testimg.h - small images for unit tests: an OCI layout directory, an OCI archive
 * (the layout in a tar) and a `docker save` archive, built from a list of files. */
#ifndef LM_TESTIMG_H
#define LM_TESTIMG_H

#include <stddef.h>

enum testimg_type { TI_FILE, TI_DIR, TI_SYMLINK };

struct testimg_file {
	enum testimg_type type;
	const char *path; /* in the image, no leading '/' */
	const char *data; /* file contents, or the symlink target */
	unsigned mode;
};

struct testimg {
	const struct testimg_file *files;
	size_t nfiles;
	const char *config;  /* config JSON; NULL = linux/amd64 with LAMBDA_TASK_ROOT and WORKDIR /var/task */
	int plain_tar;       /* the layer is an uncompressed tar (OCI tar media type) */
	const char *ref;     /* org.opencontainers.image.ref.name in index.json; NULL = "latest" */
};

/* Writes the image as an OCI layout in dir (created). Aborts the test on failure. */
void testimg_layout(const struct testimg *ti, const char *dir);
/* The same layout packed into an OCI archive at path. */
void testimg_oci_archive(const struct testimg *ti, const char *path);
/* A `docker save` archive (manifest.json, <config>.json, <layer>/layer.tar) at path. */
void testimg_docker_archive(const struct testimg *ti, const char *path);

/* Writes data to dir/rel, creating parent directories. */
void testimg_write(const char *dir, const char *rel, const char *data);

#endif
