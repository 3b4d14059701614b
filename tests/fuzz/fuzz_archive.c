/* The image readers of local sources: the bytes as an OCI archive, a `docker save`
 * archive, or (unpacked as a tar into a directory) an OCI layout. The first byte picks
 * the reader; the blobs land in a cache in a temporary directory. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/source.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "fuzz.h"

static char *top;
static struct cache *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lm_err err = LM_ERR_INIT;
	char *c;
	(void)argc;
	(void)argv;
	top = lm_mkdtemp(NULL, "lamina-fuzz-archive", &err);
	if (!top)
		abort();
	c = lm_path_join(top, "cache");
	cache = cache_open(c, &err);
	if (!cache)
		abort();
	free(c);
	return 0;
}

/* the input as a tar, unpacked safely into dir (no "..", no absolute names, no links out) */
static int unpack(const uint8_t *data, size_t size, const char *dir)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	int ok = 0, cwd = open(".", O_RDONLY | O_DIRECTORY);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (cwd < 0 || chdir(dir) < 0 || archive_read_open_memory(a, data, size) != ARCHIVE_OK)
		goto out;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (archive_entry_size(e) > (1 << 20))
			goto out;
		archive_entry_set_perm(e, 0644 | (archive_entry_filetype(e) == AE_IFDIR ? 0111 : 0));
		if (archive_entry_filetype(e) != AE_IFREG && archive_entry_filetype(e) != AE_IFDIR)
			continue;
		if (archive_write_header(w, e) != ARCHIVE_OK)
			goto out;
		const void *buf;
		size_t n;
		la_int64_t off;
		while (archive_read_data_block(a, &buf, &n, &off) == ARCHIVE_OK)
			if (archive_write_data_block(w, buf, n, off) != ARCHIVE_OK)
				goto out;
	}
	ok = 1;
out:
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			abort();
		close(cwd);
	}
	archive_read_free(a);
	archive_write_free(w);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_err err = LM_ERR_INIT;
	struct source_opts so = { 0 };
	struct lm_image img;
	char *path = NULL, *spec = NULL;
	if (size < 1)
		return 0;
	image_init(&img);
	switch (data[0] % 3) {
	case 0:
	case 1: {
		FILE *f;
		path = lm_path_join(top, "input.tar");
		if (!(f = fopen(path, "wb")) || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0)
			abort();
		spec = lm_asprintf("%s:%s", data[0] % 3 == 0 ? "oci-archive" : "docker-archive", path);
		break;
	}
	default:
		path = lm_path_join(top, "layout");
		if (mkdir(path, 0755) < 0 || !unpack(data + 1, size - 1, path))
			goto out;
		spec = lm_asprintf("oci:%s", path);
	}
	if (source_open(spec, &so, cache, &img, &err) == 0)
		image_release(&img);
out:
	lm_err_release(&err);
	if (path && data[0] % 3 == 2)
		lm_rm_rf_quiet(path);
	free(spec);
	free(path);
	return 0;
}
