#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <jansson.h>

#include "build/manifest.h"
#include "zip/sizereport.h"
#include "image/tree.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "zip/zip.h"

/* ---- path mapping ---- */

START_TEST(test_map_path)
{
	static const struct {
		enum zip_kind k;
		const char *path;
		enum zip_map want;
		const char *name;
	} t[] = {
		{ ZIP_FUNCTION, "var/task/app.py", ZIP_MAP_IN, "app.py" },
		{ ZIP_FUNCTION, "var/task/pkg/__init__.py", ZIP_MAP_IN, "pkg/__init__.py" },
		{ ZIP_FUNCTION, "var/task", ZIP_MAP_SKIP, NULL },
		{ ZIP_FUNCTION, "var", ZIP_MAP_SKIP, NULL },
		{ ZIP_FUNCTION, "var/taskforce/a", ZIP_MAP_OUTSIDE, NULL },
		{ ZIP_FUNCTION, "var/tas", ZIP_MAP_OUTSIDE, NULL },
		{ ZIP_FUNCTION, "va", ZIP_MAP_OUTSIDE, NULL },
		{ ZIP_FUNCTION, "opt/python/x.py", ZIP_MAP_OUTSIDE, NULL },
		{ ZIP_FUNCTION, "usr/lib/libx.so", ZIP_MAP_OUTSIDE, NULL },
		{ ZIP_LAYER, "opt/python/x.py", ZIP_MAP_IN, "python/x.py" },
		{ ZIP_LAYER, "opt/python", ZIP_MAP_IN, "python" },
		{ ZIP_LAYER, "opt/nodejs/node_modules/a/index.js", ZIP_MAP_IN, "nodejs/node_modules/a/index.js" },
		{ ZIP_LAYER, "opt", ZIP_MAP_SKIP, NULL },
		{ ZIP_LAYER, "optional/x", ZIP_MAP_OUTSIDE, NULL },
		{ ZIP_LAYER, "var/task/app.py", ZIP_MAP_OUTSIDE, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *name = NULL;
		enum zip_map m = zip_map_path(t[i].k, t[i].path, &name);
		ck_assert_msg(m == t[i].want, "%s %s: got %d want %d", zip_kind_name(t[i].k), t[i].path, m, t[i].want);
		if (t[i].name)
			ck_assert_str_eq(name, t[i].name);
	}
}
END_TEST

START_TEST(test_kind_parse)
{
	enum zip_kind k = ZIP_LAYER;
	ck_assert_int_eq(zip_kind_parse("function", &k), 0);
	ck_assert_int_eq(k, ZIP_FUNCTION);
	ck_assert_int_eq(zip_kind_parse("layer", &k), 0);
	ck_assert_int_eq(k, ZIP_LAYER);
	ck_assert_int_eq(zip_kind_parse("Layer", &k), -1);
	ck_assert_int_eq(zip_kind_parse("", &k), -1);
	ck_assert_int_eq(zip_kind_parse(NULL, &k), -1);
	ck_assert_str_eq(zip_kind_dir(ZIP_FUNCTION), "/var/task");
	ck_assert_str_eq(zip_kind_dir(ZIP_LAYER), "/opt");
}
END_TEST

/* ---- entry normalisation: time and attributes ---- */

#define DOSDATE(y, m, d) ((uint16_t)((((y)-1980) << 9) | ((m) << 5) | (d)))
#define DOSTIME(h, mi, s) ((uint16_t)(((h) << 11) | ((mi) << 5) | ((s) / 2)))

START_TEST(test_dos_time)
{
	static const struct {
		int64_t t;
		uint16_t date, time;
	} v[] = {
		{ 315532800, DOSDATE(1980, 1, 1), DOSTIME(0, 0, 0) },     /* lamina's default epoch */
		{ 0, DOSDATE(1980, 1, 1), DOSTIME(0, 0, 0) },             /* before 1980: clamped */
		{ 315532799, DOSDATE(1980, 1, 1), DOSTIME(0, 0, 0) },
		{ 1700000000, DOSDATE(2023, 11, 14), DOSTIME(22, 13, 20) }, /* 2023-11-14T22:13:20Z */
		{ 1700000001, DOSDATE(2023, 11, 14), DOSTIME(22, 13, 20) }, /* odd seconds round down */
		{ 951782400, DOSDATE(2000, 2, 29), DOSTIME(0, 0, 0) },      /* leap day */
		{ 4354819198LL, DOSDATE(2107, 12, 31), DOSTIME(23, 59, 58) },
		{ 8589934591LL, DOSDATE(2107, 12, 31), DOSTIME(23, 59, 58) }, /* after 2107: clamped */
	};
	const char *tz = getenv("TZ");
	char *saved = tz ? lm_xstrdup(tz) : NULL;
	/* the result must not depend on the time zone (libarchive's zip writer's does) */
	for (int pass = 0; pass < 2; pass++) {
		setenv("TZ", pass ? "Asia/Tokyo" : "America/New_York", 1);
		tzset();
		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			uint16_t d = 0, t = 0;
			zip_dos_time(v[i].t, &d, &t);
			ck_assert_msg(d == v[i].date && t == v[i].time, "%lld: %04x %04x, want %04x %04x",
				      (long long)v[i].t, d, t, v[i].date, v[i].time);
		}
	}
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}
END_TEST

START_TEST(test_external_attr)
{
	ck_assert_uint_eq(zip_external_attr(LM_F_DIR, 0755), 0x41ed0010u);
	ck_assert_uint_eq(zip_external_attr(LM_F_REG, 0644), 0x81a40000u);
	ck_assert_uint_eq(zip_external_attr(LM_F_REG, 0755), 0x81ed0000u);
	ck_assert_uint_eq(zip_external_attr(LM_F_SYMLINK, 0777), 0xa1ff0000u);
	/* what the tree normalises host modes to */
	ck_assert_uint_eq(zip_external_attr(LM_F_REG, tree_norm_mode(LM_F_REG, 0600)), 0x81a40000u);
	ck_assert_uint_eq(zip_external_attr(LM_F_REG, tree_norm_mode(LM_F_REG, 0700)), 0x81ed0000u);
}
END_TEST

/* ---- plans ---- */

static void add(struct lm_tree *t, enum lm_ftype type, const char *path, uint64_t size, const char *link)
{
	tree_add(t, type, path, type == LM_F_REG ? "/nonexistent" : NULL, link, tree_norm_mode(type, 0644), size);
}

static size_t find(const struct zip_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return i;
	return (size_t)-1;
}

START_TEST(test_plan_function)
{
	struct lm_tree t[2];
	struct zip_plan p;
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "deps", "app" };
	struct lm_entry *e;
	tree_init(&t[0]);
	tree_init(&t[1]);
	add(&t[0], LM_F_REG, "var/task/a/b.py", 10, NULL);
	add(&t[0], LM_F_REG, "var/task/a0.py", 3, NULL);
	add(&t[0], LM_F_REG, "var/task/shared.py", 100, NULL);
	e = tree_add(&t[0], LM_F_REG, "var/task/gone.txt", "/nonexistent", NULL, 0644, 1000);
	e->removed = 1;
	add(&t[1], LM_F_REG, "var/task/shared.py", 7, NULL);
	add(&t[1], LM_F_SYMLINK, "var/task/link", 0, "a0.py");
	add(&t[1], LM_F_REG, "var/task/a/c.py", 1, NULL);
	tree_finish(&t[0]);
	tree_finish(&t[1]);
	ck_assert_msg(zip_plan_build(&p, t, names, 2, ZIP_FUNCTION, &err) == 0, "%s", err.msg);
	/* sorted bytewise ('/' < '0'), parents present, no root, the removed entry left out, one "a" */
	ck_assert_uint_eq(p.n, 6);
	ck_assert_str_eq(p.v[0].name, "a");
	ck_assert_int_eq(p.v[0].e->type, LM_F_DIR);
	ck_assert_str_eq(p.v[1].name, "a/b.py");
	ck_assert_str_eq(p.v[2].name, "a/c.py");
	ck_assert_str_eq(p.v[3].name, "a0.py");
	ck_assert_str_eq(p.v[4].name, "link");
	ck_assert_str_eq(p.v[5].name, "shared.py");
	/* the later layer wins, as in the image */
	ck_assert_uint_eq(p.v[5].layer, 1);
	ck_assert_uint_eq(p.v[5].e->size, 7);
	ck_assert_uint_eq(p.v[2].layer, 1);
	ck_assert_uint_eq(p.files, 5);
	ck_assert_uint_eq(p.usize, 10 + 1 + 3 + strlen("a0.py") + 7);
	ck_assert_uint_eq(find(&p, "gone.txt"), (size_t)-1);
	zip_plan_release(&p);
	tree_release(&t[0]);
	tree_release(&t[1]);
}
END_TEST

START_TEST(test_plan_layer)
{
	struct lm_tree t;
	struct zip_plan p;
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "deps" };
	tree_init(&t);
	add(&t, LM_F_REG, "opt/python/requests/__init__.py", 5, NULL);
	tree_finish(&t); /* adds opt, opt/python, opt/python/requests */
	ck_assert_msg(zip_plan_build(&p, &t, names, 1, ZIP_LAYER, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(p.n, 3);
	ck_assert_str_eq(p.v[0].name, "python");
	ck_assert_str_eq(p.v[1].name, "python/requests");
	ck_assert_str_eq(p.v[2].name, "python/requests/__init__.py");
	zip_plan_release(&p);
	/* the same tree cannot be a function zip: one error naming the layer and the path */
	ck_assert_int_eq(zip_plan_build(&p, &t, names, 1, ZIP_FUNCTION, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_str_eq(err.msg, "layer 'deps': '/opt/python/requests/__init__.py' is outside /var/task, where Lambda unpacks a function zip");
	ck_assert_ptr_null(p.v);
	lm_err_release(&err);
	tree_release(&t);
}
END_TEST

START_TEST(test_plan_errors)
{
	struct lm_tree t[2];
	struct zip_plan p;
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "deps", "app" };
	/* a file outside /var/task, below a directory that is inside */
	tree_init(&t[0]);
	add(&t[0], LM_F_REG, "var/task/ok.py", 1, NULL);
	add(&t[0], LM_F_REG, "var/lib/x.so", 1, NULL);
	tree_finish(&t[0]);
	ck_assert_int_eq(zip_plan_build(&p, t, names, 1, ZIP_FUNCTION, &err), -1);
	ck_assert_str_eq(err.msg, "layer 'deps': '/var/lib/x.so' is outside /var/task, where Lambda unpacks a function zip");
	lm_err_release(&err);
	tree_release(&t[0]);
	/* a symlink where /var/task's parent should be a directory */
	tree_init(&t[0]);
	add(&t[0], LM_F_SYMLINK, "var", 0, "/srv");
	ck_assert_int_eq(zip_plan_build(&p, t, names, 1, ZIP_FUNCTION, &err), -1);
	ck_assert_str_eq(err.msg, "layer 'deps': '/var' is outside /var/task, where Lambda unpacks a function zip");
	lm_err_release(&err);
	tree_release(&t[0]);
	/* a directory in one layer, a file in the next */
	tree_init(&t[0]);
	tree_init(&t[1]);
	add(&t[0], LM_F_REG, "var/task/lib/a.so", 1, NULL);
	add(&t[1], LM_F_REG, "var/task/lib", 1, NULL);
	tree_finish(&t[0]);
	tree_finish(&t[1]);
	ck_assert_int_eq(zip_plan_build(&p, t, names, 2, ZIP_FUNCTION, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_str_eq(err.msg, "'/var/task/lib' is a directory in layer 'deps' and a file in layer 'app'");
	lm_err_release(&err);
	tree_release(&t[0]);
	tree_release(&t[1]);
}
END_TEST

/* ---- the writer ---- */

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static char *tmpdir(void)
{
	char *d = lm_asprintf("%s/lm-zip-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void put(const char *dir, const char *rel, const void *data, size_t len, mode_t mode)
{
	char *p = lm_path_join(dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "create %s", p);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(chmod(p, mode), 0);
	free(p);
}

static void read_all(int fd, unsigned char **out, size_t *len)
{
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	*out = lm_xmalloc(*len + 1);
	ck_assert_int_eq(pread(fd, *out, *len, 0), (ssize_t)*len);
}

/* The source tree: a compressible file, random bytes (stored: deflate does not help),
 * an empty file, an executable, a symlink, a directory. */
static char *make_src(unsigned char *rnd, size_t nrnd)
{
	char *d = tmpdir(), *p;
	char text[4096];
	unsigned s = 12345;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "lambda "[i % 7];
	for (size_t i = 0; i < nrnd; i++) {
		s = s * 1103515245u + 12345u;
		rnd[i] = (unsigned char)(s >> 16);
	}
	put(d, "app.py", text, sizeof(text), 0600);
	put(d, "blob.bin", rnd, nrnd, 0644);
	put(d, "empty", "", 0, 0644);
	put(d, "run.sh", "#!/bin/sh\necho hi\n", 18, 0700);
	p = lm_path_join(d, "pkg");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	free(p);
	put(d, "pkg/m.py", "x = 1\n", 6, 0644);
	p = lm_path_join(d, "link");
	ck_assert_int_eq(symlink("pkg/m.py", p), 0);
	free(p);
	return d;
}

struct parsed {
	size_t n;
	char name[8][64];
	uint16_t method[8], flags[8], extra[8];
	uint32_t attr[8], crc[8], csize[8], usize[8];
	unsigned char *data[8]; /* the file's uncompressed bytes */
};

/* Walks the central directory and each local header; checks they agree and inflates. */
static void parse_zip(const unsigned char *z, size_t len, struct parsed *out)
{
	const unsigned char *eocd = z + len - 22, *c;
	uint16_t n;
	ck_assert_uint_eq(rd32(eocd), 0x06054b50u);
	n = rd16(eocd + 10);
	ck_assert_uint_eq(rd16(eocd + 8), n);
	ck_assert_uint_eq(rd16(eocd + 20), 0); /* no comment */
	ck_assert_uint_eq(rd32(eocd + 16) + rd32(eocd + 12), len - 22);
	ck_assert_uint_le(n, 8);
	c = z + rd32(eocd + 16);
	memset(out, 0, sizeof(*out));
	out->n = n;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t nl = rd16(c + 28);
		const unsigned char *l = z + rd32(c + 42), *d;
		ck_assert_uint_eq(rd32(c), 0x02014b50u);
		ck_assert_uint_eq(rd16(c + 4) >> 8, 3); /* made by Unix */
		ck_assert_uint_lt(nl, sizeof(out->name[i]));
		memcpy(out->name[i], c + 46, nl);
		out->flags[i] = rd16(c + 8);
		out->method[i] = rd16(c + 10);
		out->crc[i] = rd32(c + 16);
		out->csize[i] = rd32(c + 20);
		out->usize[i] = rd32(c + 24);
		out->extra[i] = rd16(c + 30) + rd16(c + 32); /* extra field and comment */
		out->attr[i] = rd32(c + 38);
		/* DOS time and date of SOURCE_DATE_EPOCH 1700000000 */
		ck_assert_uint_eq(rd16(c + 12), DOSTIME(22, 13, 20));
		ck_assert_uint_eq(rd16(c + 14), DOSDATE(2023, 11, 14));
		/* the local header says the same: no data descriptor, no extra field */
		ck_assert_uint_eq(rd32(l), 0x04034b50u);
		ck_assert_uint_eq(rd16(l + 4), rd16(c + 6)); /* version needed */
		ck_assert_uint_eq(rd16(l + 4), out->method[i] == 8 || out->name[i][nl - 1] == '/' ? 20 : 10);
		ck_assert_uint_eq(rd16(l + 6), out->flags[i]);
		ck_assert_uint_eq(rd16(l + 8), out->method[i]);
		ck_assert_uint_eq(rd16(l + 10), DOSTIME(22, 13, 20));
		ck_assert_uint_eq(rd32(l + 14), out->crc[i]);
		ck_assert_uint_eq(rd32(l + 18), out->csize[i]);
		ck_assert_uint_eq(rd32(l + 22), out->usize[i]);
		ck_assert_uint_eq(rd16(l + 26), nl);
		ck_assert_uint_eq(rd16(l + 28), 0);
		ck_assert_int_eq(memcmp(l + 30, out->name[i], nl), 0);
		d = l + 30 + nl;
		out->data[i] = lm_xmalloc(out->usize[i] + 1);
		if (out->method[i] == 0) {
			ck_assert_uint_eq(out->csize[i], out->usize[i]);
			memcpy(out->data[i], d, out->usize[i]);
		} else {
			z_stream s;
			ck_assert_uint_eq(out->method[i], 8);
			memset(&s, 0, sizeof(s));
			ck_assert_int_eq(inflateInit2(&s, -15), Z_OK);
			s.next_in = (unsigned char *)d;
			s.avail_in = out->csize[i];
			s.next_out = out->data[i];
			s.avail_out = out->usize[i] + 1;
			ck_assert_int_eq(inflate(&s, Z_FINISH), Z_STREAM_END);
			ck_assert_uint_eq(s.total_out, out->usize[i]);
			ck_assert_uint_eq(s.total_in, out->csize[i]);
			inflateEnd(&s);
		}
		ck_assert_uint_eq((uint32_t)crc32(0, out->data[i], out->usize[i]), out->crc[i]);
		c += 46 + nl + rd16(c + 30) + rd16(c + 32);
	}
}

static void write_plan_threads(const struct zip_plan *p, int level, int threads, unsigned char **z, size_t *zlen,
			       struct zip_result *r)
{
	struct zip_opts o = { 1700000000, level, threads, NULL, NULL };
	struct lm_err err = LM_ERR_INIT;
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(zip_write_fd(p, 1, &o, fileno(f), r, &err) == 0, "%s", err.msg);
	read_all(fileno(f), z, zlen);
	fclose(f);
	ck_assert_uint_eq(r->size, *zlen);
}

static void write_plan(const struct zip_plan *p, int level, unsigned char **z, size_t *zlen, struct zip_result *r)
{
	write_plan_threads(p, level, 0, z, zlen, r);
}

START_TEST(test_write_entries)
{
	static unsigned char rnd[70000];
	char *d = make_src(rnd, sizeof(rnd)), *cmd;
	struct lm_tree t;
	struct zip_plan p;
	struct zip_result r;
	struct parsed z;
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "app" };
	unsigned char *bytes, *again;
	size_t len, len2;
	tree_init(&t);
	ck_assert_msg(tree_scan(&t, d, "/var/task", NULL, &err) == 0, "%s", err.msg);
	tree_finish(&t);
	ck_assert_msg(zip_plan_build(&p, &t, names, 1, ZIP_FUNCTION, &err) == 0, "%s", err.msg);
	write_plan(&p, 6, &bytes, &len, &r);
	parse_zip(bytes, len, &z);
	ck_assert_uint_eq(z.n, 7);
	ck_assert_uint_eq(r.entries, 7);
	ck_assert_int_eq(r.zip64, 0);
	static const char *want[] = { "app.py", "blob.bin", "empty", "link", "pkg/", "pkg/m.py", "run.sh" };
	for (size_t i = 0; i < 7; i++) {
		ck_assert_str_eq(z.name[i], want[i]);
		ck_assert_uint_eq(z.extra[i], 0);
		ck_assert_uint_eq(z.flags[i], 0);
	}
	/* app.py: deflated, readable by all */
	ck_assert_uint_eq(z.method[0], 8);
	ck_assert_uint_lt(z.csize[0], 200);
	ck_assert_uint_eq(z.usize[0], 4096);
	ck_assert_uint_eq(z.attr[0], 0x81a40000u);
	/* random bytes: stored, contents intact */
	ck_assert_uint_eq(z.method[1], 0);
	ck_assert_uint_eq(z.usize[1], sizeof(rnd));
	ck_assert_int_eq(memcmp(z.data[1], rnd, sizeof(rnd)), 0);
	/* empty file: stored, no data */
	ck_assert_uint_eq(z.method[2], 0);
	ck_assert_uint_eq(z.usize[2], 0);
	/* symlink: S_IFLNK, the target stored as content */
	ck_assert_uint_eq(z.attr[3], 0xa1ff0000u);
	ck_assert_uint_eq(z.method[3], 0);
	ck_assert_int_eq(memcmp(z.data[3], "pkg/m.py", 8), 0);
	ck_assert_uint_eq(z.usize[3], 8);
	/* directory: trailing slash, S_IFDIR 0755 and the MS-DOS directory bit */
	ck_assert_uint_eq(z.attr[4], 0x41ed0010u);
	ck_assert_uint_eq(z.usize[4], 0);
	ck_assert_int_eq(memcmp(z.data[5], "x = 1\n", 6), 0);
	/* the 0700 script: 0755 */
	ck_assert_uint_eq(z.attr[6], 0x81ed0000u);
	ck_assert_uint_eq(r.usize, 4096 + sizeof(rnd) + 0 + 8 + 6 + 18);
	ck_assert_uint_eq(r.layer_usize[0], r.usize);
	ck_assert_uint_lt(r.layer_csize[0], r.size);
	for (size_t i = 0; i < z.n; i++)
		free(z.data[i]);

	/* deterministic: the same plan gives the same bytes; another level others */
	zip_result_release(&r);
	write_plan(&p, 6, &again, &len2, &r);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(again, bytes, len), 0);
	free(again);
	zip_result_release(&r);
	write_plan(&p, 0, &again, &len2, &r);
	ck_assert_uint_gt(len2, len);
	parse_zip(again, len2, &z);
	for (size_t i = 0; i < z.n; i++) {
		ck_assert_uint_eq(z.method[i], 0);
		free(z.data[i]);
	}
	free(again);
	zip_result_release(&r);
	free(bytes);
	zip_plan_release(&p);
	tree_release(&t);
	cmd = lm_asprintf("rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(d);
}
END_TEST

START_TEST(test_write_changed_file)
{
	char *d = tmpdir(), *cmd, *out;
	struct lm_tree t;
	struct zip_plan p;
	struct zip_result r;
	struct zip_opts o = { 315532800, 6, 0, NULL, NULL };
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "app" };
	struct lm_entry *e;
	put(d, "a.py", "print(1)\n", 9, 0644);
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, d, "/var/task", NULL, &err), 0);
	tree_finish(&t);
	ck_assert_int_eq(zip_plan_build(&p, &t, names, 1, ZIP_FUNCTION, &err), 0);
	out = lm_path_join(d, "out.zip");
	/* grew since the scan */
	put(d, "a.py", "print(1)\nprint(2)\n", 18, 0644);
	ck_assert_int_eq(zip_write(&p, 1, &o, out, &r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "grew while the zip was written"));
	lm_err_release(&err);
	/* shrank since the scan */
	put(d, "a.py", "p\n", 2, 0644);
	ck_assert_int_eq(zip_write(&p, 1, &o, out, &r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "shrank while the zip was written"));
	lm_err_release(&err);
	/* nothing left behind: only a.py in the directory */
	cmd = lm_asprintf("test \"$(ls -A '%s')\" = a.py", d);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	/* and a good write after all */
	put(d, "a.py", "print(1)\n", 9, 0644);
	e = tree_find(&t, "var/task/a.py");
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(zip_write(&p, 1, &o, out, &r, &err) == 0, "%s", err.msg);
	zip_result_release(&r);
	zip_plan_release(&p);
	tree_release(&t);
	cmd = lm_asprintf("rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(out);
	free(d);
}
END_TEST

/* Worker threads deflate small files; the writer streams big ones: the same bytes
 * whatever the number of threads, and the same errors. */
START_TEST(test_write_threads)
{
	static unsigned char rnd[70000];
	char *d = make_src(rnd, sizeof(rnd)), *cmd, *big;
	struct lm_tree t;
	struct zip_plan p;
	struct zip_result r;
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "app" };
	unsigned char *one, *many;
	size_t len1, lenn, n = 9u << 20;
	/* bigger than a job: streamed by the writer between the workers' files */
	big = lm_xmalloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)("0123456789abcdef"[(i * 7 + i / 4096) % 16]);
	put(d, "big.txt", big, n, 0644);
	for (int i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof(name), "pkg/f%02d.py", i);
		put(d, name, big + i * 1000, 5000 + (size_t)i * 300, 0644);
	}
	tree_init(&t);
	ck_assert_msg(tree_scan(&t, d, "/var/task", NULL, &err) == 0, "%s", err.msg);
	tree_finish(&t);
	ck_assert_int_eq(zip_plan_build(&p, &t, names, 1, ZIP_FUNCTION, &err), 0);
	write_plan_threads(&p, 6, 0, &one, &len1, &r);
	zip_result_release(&r);
	for (int th = 2; th <= 5; th += 3) {
		write_plan_threads(&p, 6, th, &many, &lenn, &r);
		zip_result_release(&r);
		ck_assert_uint_eq(lenn, len1);
		ck_assert_msg(memcmp(one, many, len1) == 0, "%d threads: other bytes", th);
		free(many);
	}
	/* a file that shrank, found by a worker */
	put(d, "pkg/f07.py", "x", 1, 0644);
	{
		struct zip_opts o = { 1700000000, 6, 3, NULL, NULL };
		FILE *f = tmpfile();
		ck_assert_int_eq(zip_write_fd(&p, 1, &o, fileno(f), &r, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "f07.py' shrank while the zip was written"));
		lm_err_release(&err);
		fclose(f);
	}
	free(one);
	free(big);
	zip_plan_release(&p);
	tree_release(&t);
	cmd = lm_asprintf("rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(d);
}
END_TEST

/* More than 65,535 entries need the Zip64 end records; fewer must not have them. */
START_TEST(test_write_zip64_entries)
{
	struct lm_tree t;
	struct zip_plan p;
	struct zip_result r;
	struct lm_err err = LM_ERR_INIT;
	const char *names[] = { "app" };
	unsigned char *z;
	size_t len;
	const size_t n = 70000;
	char path[64];
	tree_init(&t);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "var/task/d%06zu", i);
		tree_add(&t, LM_F_DIR, path, NULL, NULL, 0755, 0);
	}
	tree_finish(&t);
	ck_assert_int_eq(zip_plan_build(&p, &t, names, 1, ZIP_FUNCTION, &err), 0);
	ck_assert_uint_eq(p.n, n);
	write_plan(&p, 6, &z, &len, &r);
	ck_assert_int_eq(r.zip64, 1);
	ck_assert_uint_eq(r.entries, n);
	{
		const unsigned char *eocd = z + len - 22, *loc = eocd - 20, *rec;
		ck_assert_uint_eq(rd32(eocd), 0x06054b50u);
		ck_assert_uint_eq(rd16(eocd + 10), 0xffff);
		ck_assert_uint_eq(rd32(loc), 0x07064b50u);
		rec = z + rd32(loc + 8);
		ck_assert_ptr_eq(rec, loc - 56);
		ck_assert_uint_eq(rd32(rec), 0x06064b50u);
		ck_assert_uint_eq(rd32(rec + 24), n); /* entries (low 32 bits of 64) */
		ck_assert_uint_eq(rd32(rec + 32), n);
		ck_assert_uint_eq(rd32(rec + 48) + rd32(rec + 40), (uint32_t)(rec - z)); /* cd offset + size */
	}
	free(z);
	zip_result_release(&r);
	zip_plan_release(&p);
	tree_release(&t);
}
END_TEST

/* ---- limits and the report ---- */

START_TEST(test_checks)
{
	struct size_check c;
	char v[64];
	size_check_eval(&c, "zip direct upload", "n", LAMBDA_ZIP_UPLOAD_MAX, LAMBDA_ZIP_UPLOAD_MAX, 0);
	ck_assert_int_eq(c.ok, 1);
	ck_assert_str_eq(size_check_verdict(&c, v, sizeof(v)), "OK, 0 B to spare");
	size_check_eval(&c, "zip direct upload", "n", LAMBDA_ZIP_UPLOAD_MAX + 1, LAMBDA_ZIP_UPLOAD_MAX, 0);
	ck_assert_int_eq(c.ok, 0);
	ck_assert_str_eq(size_check_verdict(&c, v, sizeof(v)), "over by 1 B");
	/* 57.5 MiB against 50 MiB */
	size_check_eval(&c, "zip direct upload", "n", 60293120, LAMBDA_ZIP_UPLOAD_MAX, 0);
	ck_assert_str_eq(size_check_verdict(&c, v, sizeof(v)), "over by 7.5 MiB");
	size_check_eval(&c, "zip unzipped", "n", 100u << 20, LAMBDA_ZIP_UNZIPPED_MAX, 1);
	ck_assert_str_eq(size_check_verdict(&c, v, sizeof(v)), "OK, 150.0 MiB to spare");
	ck_assert_int_eq(c.hard, 1);
	ck_assert_uint_eq(LAMBDA_ZIP_UNZIPPED_MAX, 250u << 20);
	ck_assert_uint_eq(LAMBDA_ZIP_UPLOAD_MAX, 50u << 20);
}
END_TEST

START_TEST(test_report_checks)
{
	struct size_report r;
	struct size_check c[SIZE_CHECKS_MAX];
	size_report_init(&r);
	ck_assert_uint_eq(size_report_checks(&r, c), 0);
	r.have_image = 1;
	size_report_add_layer(&r, "sha256:aa", 1, 100, 6000000000ULL);
	size_report_add_layer(&r, "app", 0, 100, 5000000000ULL);
	ck_assert_uint_eq(size_report_checks(&r, c), 1);
	ck_assert_str_eq(c[0].name, "image uncompressed");
	ck_assert_uint_eq(c[0].value, 11000000000ULL);
	ck_assert_int_eq(c[0].ok, 0);
	/* a zip that cannot be made is no figure to check */
	r.have_zip = 1;
	r.zip_error = lm_xstrdup("layer 'app': '/etc' is outside /var/task");
	ck_assert_uint_eq(size_report_checks(&r, c), 1);
	free(r.zip_error);
	r.zip_error = NULL;
	r.zip_size = 52428801;
	r.zip_usize = 262144000;
	r.kind = ZIP_LAYER;
	ck_assert_uint_eq(size_report_checks(&r, c), 3);
	ck_assert_str_eq(c[1].name, "zip direct upload");
	ck_assert_int_eq(c[1].ok, 0);
	ck_assert_int_eq(c[1].hard, 0);
	ck_assert_str_eq(c[2].name, "zip unzipped");
	ck_assert_int_eq(c[2].ok, 1);
	ck_assert_ptr_nonnull(strstr(c[2].note, "layer"));
	size_report_release(&r);
}
END_TEST

/* a function zip of one layer fits alone, but the manifest's other (deps) layer, deployed
 * as a Lambda layer, shares the 250 MiB: together they do not fit */
START_TEST(test_report_checks_others)
{
	struct size_report r;
	struct size_check c[SIZE_CHECKS_MAX];
	size_report_init(&r);
	r.have_zip = 1;
	r.kind = ZIP_FUNCTION;
	r.zip_size = 1000;
	r.zip_usize = 200u << 20;
	ck_assert_uint_eq(size_report_checks(&r, c), 2);
	ck_assert_int_eq(c[1].ok, 1);
	r.others_usize = 100u << 20;
	r.nothers = 1;
	ck_assert_uint_eq(size_report_checks(&r, c), 3);
	ck_assert_str_eq(c[1].name, "zip unzipped");
	ck_assert_uint_eq(c[1].value, 300u << 20);
	ck_assert_int_eq(c[1].ok, 0);
	ck_assert_str_eq(c[2].name, "Lambda layers");
	ck_assert_uint_eq(c[2].value, 1);
	ck_assert_int_eq(c[2].ok, 1);
	r.nothers = 6;
	ck_assert_uint_eq(size_report_checks(&r, c), 3);
	ck_assert_int_eq(c[2].ok, 0);
	size_report_release(&r);
}
END_TEST

START_TEST(test_report_json)
{
	struct size_report r;
	json_t *j, *z, *lim;
	json_error_t je;
	char *s;
	size_report_init(&r);
	r.have_image = 1;
	size_report_add_layer(&r, "sha256:aa", 1, 1000, 3000);
	size_report_add_layer(&r, "app", 0, 10, 30);
	r.have_zip = 1;
	r.kind = ZIP_FUNCTION;
	r.zip_path = lm_xstrdup("out.zip");
	snprintf(r.zip_digest, sizeof(r.zip_digest), "sha256:%s",
		 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	r.zip_size = 60000000;
	r.zip_usize = 70000000;
	r.zip_files = 3;
	r.zip_entries = 4;
	size_report_add_zlayer(&r, "app", 59999000, 70000000);
	s = size_report_json(&r);
	j = json_loads(s, 0, &je);
	ck_assert_msg(j != NULL, "%s: %s", je.text, s);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "image"), "size")), 1010);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "image"), "uncompressedSize")), 3030);
	z = json_object_get(j, "zip");
	ck_assert_str_eq(json_string_value(json_object_get(z, "kind")), "function");
	ck_assert_str_eq(json_string_value(json_object_get(z, "codeSha256")),
			 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	ck_assert_int_eq(json_integer_value(json_object_get(z, "size")), 60000000);
	lim = json_object_get(j, "limits");
	ck_assert_uint_eq(json_array_size(lim), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lim, 1), "name")), "zip direct upload");
	ck_assert(json_is_false(json_object_get(json_array_get(lim, 1), "ok")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(lim, 1), "over")), 60000000 - 52428800);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	json_decref(j);
	free(s);
	size_report_release(&r);
}
END_TEST

START_TEST(test_code_sha256)
{
	char b[45];
	/* Lambda's CodeSha256 of an empty file */
	size_code_sha256("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", b);
	ck_assert_str_eq(b, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	size_code_sha256("sha256:nothex", b);
	ck_assert_str_eq(b, "");
}
END_TEST

/* ---- the manifest's "zip" ---- */

static int parse(const char *json, struct lm_manifest *m, struct lm_err *err)
{
	return manifest_parse(json, strlen(json), "m.json", "/proj", m, err);
}

START_TEST(test_manifest_zip)
{
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	static const char *layers = "\"layers\": [{\"name\": \"deps\", \"from\": \"d\", \"to\": \"/opt/python\"},"
				    " {\"name\": \"app\", \"from\": \"a\"}]";
	char *j = lm_asprintf("{%s, \"zip\": {\"kind\": \"layer\", \"layers\": [\"deps\"], \"level\": 9}}", layers);
	ck_assert_msg(parse(j, &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.zip.set, 1);
	ck_assert_int_eq(m.zip.kind_set, 1);
	ck_assert_int_eq(m.zip.kind, ZIP_LAYER);
	ck_assert_uint_eq(m.zip.nlayers, 1);
	ck_assert_str_eq(m.zip.layers[0], "deps");
	ck_assert_int_eq(m.zip.level, 9);
	manifest_release(&m);
	free(j);
	/* absent: defaults */
	j = lm_asprintf("{%s}", layers);
	ck_assert_int_eq(parse(j, &m, &err), 0);
	ck_assert_int_eq(m.zip.set, 0);
	ck_assert_int_eq(m.zip.kind_set, 0);
	ck_assert_ptr_null(m.zip.layers);
	ck_assert_int_eq(m.zip.level, -1);
	manifest_release(&m);
	free(j);

	static const struct {
		const char *zip, *msg;
	} bad[] = {
		{ "{\"kind\": \"image\"}", "zip.kind: must be \"function\" or \"layer\"" },
		{ "{\"kinds\": \"layer\"}", "zip.kinds: unknown field (did you mean 'kind'?)" },
		{ "{\"layers\": [\"dep\"]}", "zip.layers: no layer named 'dep' (did you mean 'deps'?)" },
		{ "{\"layers\": [\"web\"]}", "zip.layers: no layer named 'web' in \"layers\"" },
		{ "{\"layers\": [\"app\", \"app\"]}", "zip.layers: layer 'app' is named twice" },
		{ "{\"layers\": []}", "zip.layers: must name at least one layer" },
		{ "{\"layers\": \"app\"}", "zip.layers: must be an array of strings" },
		{ "{\"level\": 10}", "zip.level: must be an integer from 0 to 9" },
		{ "[\"layer\"]", "zip: must be an object" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = lm_asprintf("{%s,\n\"zip\": %s}", layers, bad[i].zip);
		ck_assert_int_eq(parse(j, &m, &err), -1);
		ck_assert_int_eq(err.code, LM_E_INPUT);
		ck_assert_msg(strstr(err.msg, bad[i].msg), "%s: %s", bad[i].zip, err.msg);
		lm_err_release(&err);
		free(j);
	}
}
END_TEST

SUITE(zip)
{
	Suite *s = suite_create("zip");
	TCASE(s, test_map_path);
	TCASE(s, test_kind_parse);
	TCASE(s, test_dos_time);
	TCASE(s, test_external_attr);
	TCASE(s, test_plan_function);
	TCASE(s, test_plan_layer);
	TCASE(s, test_plan_errors);
	TCASE(s, test_write_entries);
	TCASE(s, test_write_changed_file);
	TCASE(s, test_write_threads);
	TCASE(s, test_write_zip64_entries);
	TCASE(s, test_checks);
	TCASE(s, test_report_checks);
	TCASE(s, test_report_checks_others);
	TCASE(s, test_report_json);
	TCASE(s, test_code_sha256);
	TCASE(s, test_manifest_zip);
	return s;
}
