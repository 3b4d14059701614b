#include "image/ociarchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/fs.h"

#define COPY_CHUNK (1u << 20)

char *ociarchive_repo_tag(const char *tag)
{
	const char *slash = strrchr(tag, '/');
	const char *colon = strrchr(slash ? slash : tag, ':');
	if (colon || strchr(tag, '@'))
		return lm_xstrdup(tag);
	return lm_asprintf("%s:latest", tag);
}

char *ociarchive_full_name(const char *tag)
{
	char *rt = ociarchive_repo_tag(tag), *r;
	const char *slash = strchr(rt, '/');
	int has_host = 0;
	if (slash) {
		size_t n = (size_t)(slash - rt);
		has_host = memchr(rt, '.', n) || memchr(rt, ':', n) || (n == 9 && strncmp(rt, "localhost", 9) == 0);
	}
	if (has_host)
		return rt;
	r = slash ? lm_asprintf("docker.io/%s", rt) : lm_asprintf("docker.io/library/%s", rt);
	free(rt);
	return r;
}

/* A write into the archive failed: name the file being written (not the member) and the
 * system's reason when there is one ("No space left on device"), not libarchive's
 * "Write error". */
static int write_failed(struct archive *a, const char *out, struct lm_err *err)
{
	int e = archive_errno(a);
	if (e > 0 && e < 4096)
		return lm_err_set(err, LM_E_IO, "write '%s': %s", out, strerror(e));
	return lm_err_set(err, LM_E_IO, "write '%s': %s", out, archive_error_string(a));
}

static int add_entry(struct archive *a, const char *out, const char *name, int dir, int64_t size, int64_t mtime,
		     struct lm_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : size);
	archive_entry_set_mtime(e, (time_t)mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return write_failed(a, out, err);
	return 0;
}

static int add_mem(struct archive *a, const char *out, const char *name, const char *data, size_t len,
		   int64_t mtime, struct lm_err *err)
{
	if (add_entry(a, out, name, 0, (int64_t)len, mtime, err) < 0)
		return -1;
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
		return write_failed(a, out, err);
	return 0;
}

/* Copies the blob into the archive (written to outfd), hashing it unless this process
 * verified it already, and starts the disk's writeback of what is written so far, so the
 * final fsync has little left to wait for. */
static int add_blob(struct archive *a, int outfd, const char *out, struct cache *c, const char *digest, int64_t size,
		    int64_t mtime, char *buf, struct lm_err *err)
{
	char *name = lm_asprintf("blobs/sha256/%s", digest_hex(digest));
	char *path = cache_blob_path(c, digest);
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -1;
	int64_t left = size;
	struct digest_ctx dg;
	char got[LM_DIGEST_LEN];
	/* checked by this process already (a reused layer): no second hash */
	int check = !cache_is_verified(c, digest);
	digest_init(&dg);
	if (fd < 0) {
		lm_err_sys(err, "blob %s: open '%s'", digest, path);
		goto out;
	}
	if (add_entry(a, out, name, 0, size, mtime, err) < 0)
		goto out;
	while (left > 0) {
		ssize_t n = read(fd, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				lm_err_sys(err, "read '%s'", path);
			else
				lm_err_set(err, LM_E_VERIFY, "cached blob %s is shorter than %lld bytes", digest,
					   (long long)size);
			goto out;
		}
		if (check)
			digest_update(&dg, buf, (size_t)n);
		if (archive_write_data(a, buf, (size_t)n) != n) {
			write_failed(a, out, err);
			goto out;
		}
		left -= n;
	}
	/* the cache verified it on the way in; check again on the way out (disk rot, tampering) */
	digest_final(&dg, got);
	if (check && strcmp(got, digest) != 0) {
		lm_err_set(err, LM_E_VERIFY, "cached blob %s is corrupt (hashes to %s); remove it and build again", digest,
			   got);
		goto out;
	}
	sync_file_range(outfd, 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint: its failure changes nothing */
	ret = 0;
out:
	digest_abort(&dg);
	if (fd >= 0)
		close(fd);
	free(name);
	free(path);
	return ret;
}

int ociarchive_write(const struct lm_image *img, const char *tag, int64_t mtime, struct cache *c, const char *out,
		     struct lm_err *err)
{
	struct archive *a = NULL;
	char *tmp = NULL, *mbuf = NULL, *index = NULL, *dman = NULL, *repos = NULL, *buf = NULL;
	size_t mlen, ilen, dlen, rlen = 0;
	char mdigest[LM_DIGEST_LEN];
	int fd = -1, ret = -1;
	const struct oci_manifest *m = &img->manifest;

	mbuf = oci_manifest_serialize(m, &mlen);
	digest_buf(mbuf, mlen, mdigest);
	if (!cache_has(c, mdigest, (int64_t)mlen) && cache_put_buf(c, mbuf, mlen, NULL, err) < 0)
		goto out;
	{
		json_t *ix = json_object(), *arr = json_array(), *d = json_object(), *ann = json_object();
		json_object_set_new(ix, "schemaVersion", json_integer(2));
		json_object_set_new(ix, "mediaType", json_string(OCI_MT_INDEX));
		json_object_set_new(d, "mediaType", json_string(m->media_type ? m->media_type : OCI_MT_MANIFEST));
		json_object_set_new(d, "digest", json_string(mdigest));
		json_object_set_new(d, "size", json_integer((json_int_t)mlen));
		if (tag) {
			char *full = ociarchive_full_name(tag), *rt = ociarchive_repo_tag(tag);
			const char *colon = strrchr(rt, ':');
			json_object_set_new(ann, "io.containerd.image.name", json_string(full));
			json_object_set_new(ann, OCI_ANNOT_REF_NAME, json_string(colon ? colon + 1 : "latest"));
			free(full);
			free(rt);
		}
		json_object_set_new(d, "annotations", ann);
		json_array_append_new(arr, d);
		json_object_set_new(ix, "manifests", arr);
		index = json_dumps(ix, JSON_COMPACT);
		ilen = strlen(index);
		json_decref(ix);
	}
	{
		json_t *arr = json_array(), *e = json_object(), *layers = json_array(), *tags = json_array();
		char *cfg = lm_asprintf("blobs/sha256/%s", digest_hex(m->config.digest));
		json_object_set_new(e, "Config", json_string(cfg));
		free(cfg);
		if (tag) {
			char *rt = ociarchive_repo_tag(tag);
			json_array_append_new(tags, json_string(rt));
			free(rt);
		}
		json_object_set_new(e, "RepoTags", tags);
		for (size_t i = 0; i < m->nlayers; i++) {
			char *l = lm_asprintf("blobs/sha256/%s", digest_hex(m->layers[i].digest));
			json_array_append_new(layers, json_string(l));
			free(l);
		}
		json_object_set_new(e, "Layers", layers);
		json_array_append_new(arr, e);
		dman = json_dumps(arr, JSON_COMPACT);
		dlen = strlen(dman);
		json_decref(arr);
		if (tag && m->nlayers) {
			/* legacy: repository -> tag -> top layer id */
			char *rt = ociarchive_repo_tag(tag);
			char *colon = strrchr(rt, ':');
			json_t *r = json_object(), *t = json_object();
			*colon = '\0';
			json_object_set_new(t, colon + 1, json_string(digest_hex(m->layers[m->nlayers - 1].digest)));
			json_object_set_new(r, rt, t);
			repos = json_dumps(r, JSON_COMPACT);
			rlen = strlen(repos);
			json_decref(r);
			free(rt);
		}
	}

	fd = lm_tmpfile_beside(out, &tmp, err);
	if (fd < 0)
		goto out;
	if (fchmod(fd, 0644) < 0) { /* as the zip and every other output: not mkstemp's 0600 */
		lm_err_sys(err, "chmod '%s'", tmp);
		goto out;
	}
	a = archive_write_new();
	/* write 1000 KB at a time (libarchive's default, 10 KiB, is one write call per 10 KiB),
	 * the last block unpadded, as libarchive does for a regular file: the same bytes */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 100 * 10240) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		write_failed(a, out, err);
		goto out;
	}
	buf = lm_xmalloc(COPY_CHUNK);
	if (add_mem(a, out, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, mtime, err) < 0 ||
	    add_mem(a, out, "index.json", index, ilen, mtime, err) < 0 ||
	    add_mem(a, out, "manifest.json", dman, dlen, mtime, err) < 0 ||
	    (repos && add_mem(a, out, "repositories", repos, rlen, mtime, err) < 0) ||
	    add_entry(a, out, "blobs/", 1, 0, mtime, err) < 0 || add_entry(a, out, "blobs/sha256/", 1, 0, mtime, err) < 0)
		goto out;
	if (add_blob(a, fd, out, c, m->config.digest, m->config.size, mtime, buf, err) < 0)
		goto out;
	for (size_t i = 0; i < m->nlayers; i++) {
		int dup = 0;
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(m->layers[i].digest, m->layers[j].digest) == 0;
		if (!dup && add_blob(a, fd, out, c, m->layers[i].digest, m->layers[i].size, mtime, buf, err) < 0)
			goto out;
	}
	if (add_blob(a, fd, out, c, mdigest, (int64_t)mlen, mtime, buf, err) < 0)
		goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		write_failed(a, out, err);
		goto out;
	}
	{
		int r = lm_tmpfile_commit(fd, tmp, out, 1, err);
		fd = -1;
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	if (a)
		archive_write_free(a);
	if (fd >= 0)
		close(fd);
	if (ret < 0 && tmp)
		lm_tmpfile_discard(tmp);
	free(tmp);
	free(mbuf);
	free(index);
	free(dman);
	free(repos);
	free(buf);
	return ret;
}
