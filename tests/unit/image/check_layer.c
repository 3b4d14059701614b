#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "image/cache.h"
#include "common/digest.h"
#include "image/layer.h"
#include "image/tree.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

#define EPOCH 1700000000 /* 014524770400 in octal */

/* A 120-character file name: too long for ustar's name field and not splittable at a '/'. */
#define LONGNAME                                                                                               \
	"a-very-long-module-name-that-does-not-fit-into-the-one-hundred-byte-ustar-name-field-"                 \
	"of-a-tar-header-0123456789.py"

static int buf_sink(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	(void)err;
	return buf_append(ctx, data, len);
}

static void put(const char *dir, const char *rel, const char *data, mode_t mode)
{
	char *p = lm_path_join(dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "create %s", p);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	ck_assert_int_eq(chmod(p, mode), 0);
	free(p);
}

/* The source dir for the layer tests: files, an exec bit, a dir, a symlink, a hardlinked
 * pair and a long name. */
static char *make_src(void)
{
	char *d = lm_asprintf("%s/lm-layer-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"), *p, *q;
	ck_assert_ptr_nonnull(mkdtemp(d));
	put(d, "app.py", "def handler(e, c):\n    return 1\n", 0600);
	put(d, "run.sh", "#!/bin/sh\n", 0700);
	p = lm_path_join(d, "pkg");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	put(d, "pkg/__init__.py", "", 0644);
	put(d, "pkg/" LONGNAME, "long name content\n", 0644);
	put(d, "pkg/a", "hard linked\n", 0644);
	p = lm_path_join(d, "pkg/a");
	q = lm_path_join(d, "pkg/b");
	ck_assert_int_eq(link(p, q), 0);
	free(p);
	free(q);
	p = lm_path_join(d, "link");
	ck_assert_int_eq(symlink("app.py", p), 0);
	free(p);
	return d;
}

static void scan(const char *d, struct lm_tree *t)
{
	struct lm_err err = LM_ERR_INIT;
	tree_init(t);
	ck_assert_msg(tree_scan(t, d, "/var/task", NULL, &err) == 0, "%s", err.msg);
	tree_finish(t);
}

static void write_tar(const struct lm_tree *t, struct lm_buf *b)
{
	struct lm_err err = LM_ERR_INIT;
	buf_init(b, 0);
	ck_assert_msg(layer_write_tar(t, EPOCH, buf_sink, b, &err) == 0, "%s", err.msg);
}

static uint64_t octal(const char *f, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	return v;
}

static int zero_block(const char *p)
{
	for (size_t i = 0; i < 512; i++)
		if (p[i])
			return 0;
	return 1;
}

static size_t count_entries(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	ck_assert_msg(dh != NULL, "open '%s'", dir);
	while ((de = readdir(dh)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(dh);
	return n;
}

static void rmtree(char *d)
{
	struct lm_err err = LM_ERR_INIT;
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(d);
}

START_TEST(test_tar_golden_headers)
{
	struct lm_tree t;
	struct lm_buf b;
	char *d = make_src();
	size_t off = 0, nhdr = 0, npax = 0;
	char mtime[12];
	scan(d, &t);
	write_tar(&t, &b);
	snprintf(mtime, sizeof(mtime), "%011o", (unsigned)EPOCH);

	ck_assert_uint_eq(b.len % 512, 0);
	ck_assert_uint_ge(b.len, 512 * 4);
	/* the first header: "var/", a directory, root-owned, normalised mode, the epoch */
	ck_assert(memcmp(b.data, "var/\0", 5) == 0);
	/* libarchive's ustar numbers: 6 octal digits, space, NUL (GNU tar writes "0000755\0") */
	ck_assert(memcmp(b.data + 100, "000755 \0", 8) == 0);
	ck_assert(memcmp(b.data + 108, "000000 \0", 8) == 0);
	ck_assert(memcmp(b.data + 116, "000000 \0", 8) == 0);
	ck_assert(memcmp(b.data + 124, "00000000000 ", 12) == 0);
	ck_assert(memcmp(b.data + 136, mtime, 11) == 0);
	ck_assert(memcmp(b.data + 136, "14524770400 ", 12) == 0);
	ck_assert_int_eq(b.data[156], '5');
	ck_assert_int_eq(b.data[157], '\0');   /* no link name */
	ck_assert_int_eq(b.data[265], '\0');   /* no user or group name */
	ck_assert_int_eq(b.data[297], '\0');
	ck_assert(memcmp(b.data + 257, "ustar\0" "00", 8) == 0);
	/* the header checksum is right */
	{
		unsigned sum = 0;
		for (size_t i = 0; i < 512; i++)
			sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)b.data[i];
		ck_assert_uint_eq(octal(b.data + 148, 8), sum);
	}

	/* every header: uid/gid 0, one mtime, no hardlinks, then two zero blocks and padding */
	for (;;) {
		const char *h;
		uint64_t size;
		ck_assert_uint_le(off + 512, b.len);
		h = b.data + off;
		if (zero_block(h))
			break;
		nhdr++;
		ck_assert_msg(h[156] != '1', "hardlink entry '%.100s'", h);
		ck_assert_msg(strchr("05x2", h[156]) != NULL, "typeflag '%c' for '%.100s'", h[156], h);
		npax += h[156] == 'x';
		if (h[156] != 'x') {
			ck_assert_msg(memcmp(h + 108, "000000 ", 7) == 0, "uid of '%.100s'", h);
			ck_assert_msg(memcmp(h + 116, "000000 ", 7) == 0, "gid of '%.100s'", h);
			ck_assert_msg(h[265] == 0 && h[297] == 0, "uname/gname of '%.100s'", h);
			ck_assert_msg(memcmp(h + 136, mtime, 11) == 0, "mtime of '%.100s'", h);
		}
		size = octal(h + 124, 12);
		off += 512 + (size + 511) / 512 * 512;
	}
	ck_assert_uint_eq(npax, 1); /* only the long name needs an extended header */
	ck_assert_uint_eq(nhdr, t.n + npax);
	ck_assert_uint_le(off + 1024, b.len);
	for (size_t i = off; i < b.len; i++)
		ck_assert_msg(b.data[i] == 0, "byte %zu after the end is not zero", i);
	ck_assert_uint_eq(b.len % 10240, 0);

	buf_release(&b);
	tree_release(&t);
	rmtree(d);
}
END_TEST

struct rd {
	char *name;
	unsigned mode;
	int type; /* AE_IF* */
	int64_t size;
	char *data, *link;
};

static size_t read_tar(const struct lm_buf *b, struct rd *out, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t n = 0;
	int r;
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, b->data, b->len), ARCHIVE_OK);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		ck_assert_uint_lt(n, max);
		out[n].name = lm_xstrdup(archive_entry_pathname(e));
		out[n].mode = archive_entry_perm(e);
		out[n].type = (int)archive_entry_filetype(e);
		out[n].size = archive_entry_size(e);
		out[n].link = archive_entry_symlink(e) ? lm_xstrdup(archive_entry_symlink(e)) : NULL;
		ck_assert_ptr_null(archive_entry_hardlink(e));
		ck_assert_int_eq(archive_entry_uid(e), 0);
		ck_assert_int_eq(archive_entry_gid(e), 0);
		ck_assert_int_eq(archive_entry_mtime(e), EPOCH);
		ck_assert_int_eq(archive_entry_atime_is_set(e), 0);
		ck_assert_int_eq(archive_entry_ctime_is_set(e), 0);
		out[n].data = lm_xcalloc(1, (size_t)out[n].size + 1);
		if (out[n].size)
			ck_assert_int_eq(archive_read_data(a, out[n].data, (size_t)out[n].size), out[n].size);
		n++;
	}
	ck_assert_int_eq(r, ARCHIVE_EOF);
	archive_read_free(a);
	return n;
}

static void rd_release(struct rd *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].data);
		free(v[i].link);
	}
}

START_TEST(test_tar_reads_back)
{
	static const struct {
		const char *name;
		int type;
		unsigned mode;
		const char *data; /* content or link target */
	} want[] = {
		{ "var/", AE_IFDIR, 0755, NULL },
		{ "var/task/", AE_IFDIR, 0755, NULL },
		{ "var/task/app.py", AE_IFREG, 0644, "def handler(e, c):\n    return 1\n" },
		{ "var/task/link", AE_IFLNK, 0777, "app.py" },
		{ "var/task/pkg/", AE_IFDIR, 0755, NULL },
		{ "var/task/pkg/__init__.py", AE_IFREG, 0644, "" },
		{ "var/task/pkg/a", AE_IFREG, 0644, "hard linked\n" },
		{ "var/task/pkg/" LONGNAME, AE_IFREG, 0644, "long name content\n" },
		{ "var/task/pkg/b", AE_IFREG, 0644, "hard linked\n" },
		{ "var/task/run.sh", AE_IFREG, 0755, "#!/bin/sh\n" },
	};
	struct rd got[32];
	struct lm_tree t;
	struct lm_buf b;
	char *d = make_src();
	size_t n;
	scan(d, &t);
	write_tar(&t, &b);
	n = read_tar(&b, got, 32);
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strcmp(got[i].name, want[i].name) == 0, "entry %zu '%s', want '%s'", i, got[i].name,
			      want[i].name);
		ck_assert_msg(got[i].type == want[i].type, "'%s' type %o", got[i].name, (unsigned)got[i].type);
		ck_assert_msg(got[i].mode == want[i].mode, "'%s' mode %o", got[i].name, got[i].mode);
		if (want[i].type == AE_IFREG) {
			ck_assert_int_eq(got[i].size, (int64_t)strlen(want[i].data));
			ck_assert_str_eq(got[i].data, want[i].data);
		} else {
			ck_assert_int_eq(got[i].size, 0);
		}
		if (want[i].type == AE_IFLNK)
			ck_assert_str_eq(got[i].link, want[i].data);
		else
			ck_assert_ptr_null(got[i].link);
		/* every parent directory comes before its children */
		{
			char *p = lm_xstrdup(got[i].name);
			size_t l = strlen(p);
			if (l && p[l - 1] == '/')
				p[l - 1] = '\0';
			for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
				int found = 0;
				s[1] = '\0';
				for (size_t j = 0; j < i; j++)
					found |= strcmp(got[j].name, p) == 0;
				ck_assert_msg(found, "parent '%s' of '%s' is not before it", p, got[i].name);
				*s = '\0';
			}
			free(p);
		}
	}
	rd_release(got, n);
	buf_release(&b);
	tree_release(&t);
	rmtree(d);
}
END_TEST

START_TEST(test_tar_reproducible)
{
	struct lm_tree t;
	struct lm_buf a, b, c;
	char *d = make_src(), *p;
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	scan(d, &t);
	write_tar(&t, &a);
	write_tar(&t, &b);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(memcmp(a.data, b.data, a.len) == 0);
	/* new source mtimes (files and dirs), a fresh scan: the same bytes */
	tree_release(&t);
	p = lm_path_join(d, "app.py");
	ck_assert_int_eq(utimes(p, tv), 0);
	free(p);
	p = lm_path_join(d, "pkg");
	ck_assert_int_eq(utimes(p, tv), 0);
	free(p);
	ck_assert_int_eq(utimes(d, tv), 0);
	scan(d, &t);
	write_tar(&t, &c);
	ck_assert_uint_eq(a.len, c.len);
	ck_assert(memcmp(a.data, c.data, a.len) == 0);
	buf_release(&c);
	/* the mtime of the layer does show */
	{
		struct lm_err err = LM_ERR_INIT;
		buf_init(&c, 0);
		ck_assert_int_eq(layer_write_tar(&t, EPOCH + 1, buf_sink, &c, &err), 0);
		ck_assert_uint_eq(a.len, c.len);
		ck_assert(memcmp(a.data, c.data, a.len) != 0);
		buf_release(&c);
	}
	buf_release(&a);
	buf_release(&b);
	tree_release(&t);
	rmtree(d);
}
END_TEST

START_TEST(test_tar_skips_removed)
{
	struct lm_tree t;
	struct lm_buf b;
	struct rd got[32];
	char *d = make_src();
	size_t n;
	scan(d, &t);
	tree_find(&t, "var/task/run.sh")->removed = 1;
	tree_find(&t, "var/task/pkg/a")->removed = 1;
	write_tar(&t, &b);
	n = read_tar(&b, got, 32);
	ck_assert_uint_eq(n, t.n - 2);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_ne(got[i].name, "var/task/run.sh");
		ck_assert_str_ne(got[i].name, "var/task/pkg/a");
	}
	ck_assert_str_eq(got[n - 1].name, "var/task/pkg/b");
	rd_release(got, n);
	buf_release(&b);
	tree_release(&t);
	rmtree(d);
}
END_TEST

START_TEST(test_tar_size_changed_is_error)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	struct lm_buf b;
	char *d = make_src();
	scan(d, &t);
	put(d, "app.py", "def handler(e, c):\n    return 1 + 1\n", 0600); /* grew */
	buf_init(&b, 0);
	ck_assert_int_eq(layer_write_tar(&t, EPOCH, buf_sink, &b, &err), -1);
	ck_assert_msg(strstr(err.msg, "app.py") && strstr(err.msg, "grew"), "%s", err.msg);
	lm_err_release(&err);
	buf_release(&b);

	put(d, "app.py", "x", 0600); /* shrank */
	buf_init(&b, 0);
	ck_assert_int_eq(layer_write_tar(&t, EPOCH, buf_sink, &b, &err), -1);
	ck_assert_msg(strstr(err.msg, "app.py") && strstr(err.msg, "shrank"), "%s", err.msg);
	lm_err_release(&err);
	buf_release(&b);
	tree_release(&t);
	rmtree(d);
}
END_TEST

static int full_sink(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	size_t *left = ctx;
	(void)data;
	if (len > *left)
		return lm_err_set(err, LM_E_IO, "write 'layer': No space left on device");
	*left -= len;
	return 0;
}

START_TEST(test_tar_sink_error_propagates)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	char *d = make_src();
	size_t left = 0;
	scan(d, &t);
	ck_assert_int_eq(layer_write_tar(&t, EPOCH, full_sink, &left, &err), -1);
	ck_assert_int_eq(err.code, LM_E_IO);
	ck_assert_str_eq(err.msg, "write 'layer': No space left on device");
	lm_err_release(&err);
	tree_release(&t);
	rmtree(d);
}
END_TEST

START_TEST(test_layer_write_into_cache)
{
	struct lm_err err = LM_ERR_INIT;
	struct layer_opts o = { EPOCH, 0, 2 };
	struct layer_result res, res2;
	struct lm_tree t;
	struct lm_buf tar;
	struct cache *c;
	char *d = make_src(), *cdir = lm_path_join(d, "cache"), *blob, want[LM_DIGEST_LEN], tar_digest[LM_DIGEST_LEN];
	unsigned char *inflated;
	uint64_t bsize = 0;
	int n;
	gzFile gz;

	scan(d, &t); /* before the cache dir exists: it is not part of the tree */
	c = cache_open(cdir, &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_msg(layer_write(&t, &o, c, &res, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(res.desc.media_type, OCI_MT_LAYER_GZIP);
	ck_assert_uint_eq(res.files, t.n);
	ck_assert(digest_valid(res.desc.digest));
	ck_assert(digest_valid(res.diff_id));
	ck_assert_str_ne(res.desc.digest, res.diff_id);

	/* digest and size are those of the blob file */
	blob = cache_blob_path(c, res.desc.digest);
	ck_assert_int_eq(digest_file(blob, want, &bsize, &err), 0);
	ck_assert_str_eq(res.desc.digest, want);
	ck_assert_int_eq(res.desc.size, (int64_t)bsize);
	ck_assert(cache_has(c, res.desc.digest, res.desc.size));

	/* diff_id and usize are those of the decompressed stream, which is the tar */
	write_tar(&t, &tar);
	digest_buf(tar.data, tar.len, tar_digest);
	inflated = lm_xmalloc(tar.len + 4096);
	gz = gzopen(blob, "rb");
	ck_assert_ptr_nonnull(gz);
	n = gzread(gz, inflated, (unsigned)(tar.len + 4096));
	gzclose(gz);
	ck_assert_int_eq(n, (int)tar.len);
	ck_assert_uint_eq(res.usize, tar.len);
	ck_assert(memcmp(inflated, tar.data, tar.len) == 0);
	digest_buf(inflated, (size_t)n, want);
	ck_assert_str_eq(res.diff_id, want);
	ck_assert_str_eq(res.diff_id, tar_digest);

	/* the same tree again: the same blob */
	ck_assert_msg(layer_write(&t, &o, c, &res2, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(res2.desc.digest, res.desc.digest);
	ck_assert_str_eq(res2.diff_id, res.diff_id);
	ck_assert_int_eq(res2.desc.size, res.desc.size);

	layer_result_release(&res);
	layer_result_release(&res2);
	free(inflated);
	free(blob);
	buf_release(&tar);
	cache_free(c);
	free(cdir);
	tree_release(&t);
	rmtree(d);
}
END_TEST

START_TEST(test_layer_write_failure_leaves_nothing)
{
	struct lm_err err = LM_ERR_INIT;
	struct layer_opts o = { EPOCH, 1, 1 };
	struct layer_result res;
	struct lm_tree t;
	struct cache *c;
	char *d = make_src(), *cdir = lm_path_join(d, "cache"), *tmpd, *blobs;
	scan(d, &t);
	c = cache_open(cdir, &err);
	ck_assert_ptr_nonnull(c);
	put(d, "run.sh", "#!/bin/sh\nexit 0\n", 0700); /* grew after the scan */
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(layer_write(&t, &o, c, &res, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "grew"));
	ck_assert_ptr_null(res.desc.media_type);
	lm_err_release(&err);
	/* no blob and no temporary file left */
	tmpd = lm_path_join(cdir, "tmp");
	blobs = lm_path_join(cdir, "blobs/sha256");
	ck_assert_uint_eq(count_entries(tmpd), 0);
	ck_assert_uint_eq(count_entries(blobs), 0);
	free(tmpd);
	free(blobs);
	cache_free(c);
	free(cdir);
	tree_release(&t);
	rmtree(d);
}
END_TEST

SUITE(layer)
{
	Suite *s = suite_create("layer");
	TCASE(s, test_tar_golden_headers);
	TCASE(s, test_tar_reads_back);
	TCASE(s, test_tar_reproducible);
	TCASE(s, test_tar_skips_removed);
	TCASE(s, test_tar_size_changed_is_error);
	TCASE(s, test_tar_sink_error_propagates);
	TCASE(s, test_layer_write_into_cache);
	TCASE(s, test_layer_write_failure_leaves_nothing);
	return s;
}
