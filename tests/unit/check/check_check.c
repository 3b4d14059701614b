/* Lambda's rules (check/check.h) on images and zips made in memory, table-driven: each
 * case breaks one rule and the report names that rule and only it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "common/alloc.h"
#include "unit.h"

/* a layer entry in a table */
struct ent {
	const char *path;
	enum layer_entry_type type;
	unsigned mode;
	const char *link;
};

static const struct ent base_layer[] = {
	{ "lambda-entrypoint.sh", LAYER_ENT_FILE, 0755, NULL },
	{ "var/", LAYER_ENT_DIR, 0755, NULL },
	{ "var/lang/", LAYER_ENT_DIR, 0755, NULL },
	{ "var/lang/bin/", LAYER_ENT_DIR, 0755, NULL },
	{ "var/lang/bin/python3.12", LAYER_ENT_FILE, 0755, NULL },
	{ "var/lang/bin/python3", LAYER_ENT_SYMLINK, 0777, "python3.12" },
	{ NULL, 0, 0, NULL },
};

static const struct ent app_layer[] = {
	{ "var/", LAYER_ENT_DIR, 0755, NULL },
	{ "var/task/", LAYER_ENT_DIR, 0755, NULL },
	{ "var/task/app.py", LAYER_ENT_FILE, 0644, NULL },
	{ "var/task/pkg/", LAYER_ENT_DIR, 0755, NULL },
	{ "var/task/pkg/__init__.py", LAYER_ENT_FILE, 0644, NULL },
	{ NULL, 0, 0, NULL },
};

static char **strv(const char *a, const char *b)
{
	char **v = lm_xcalloc(3, sizeof(*v));
	v[0] = lm_xstrdup(a);
	if (b)
		v[1] = lm_xstrdup(b);
	return v;
}

static void add_layer(struct check_image *ci, const struct ent *e, const char *extra_path,
		      enum layer_entry_type extra_type, unsigned extra_mode)
{
	struct check_layer *l;
	size_t i = ci->nlayers++;
	ci->layers = lm_xrealloc(ci->layers, ci->nlayers * sizeof(*ci->layers));
	l = &ci->layers[i];
	memset(l, 0, sizeof(*l));
	snprintf(l->digest, sizeof(l->digest), "sha256:%064zu", i);
	snprintf(l->diff_id, sizeof(l->diff_id), "sha256:%064zu", i + 100);
	l->media_type = lm_xstrdup(OCI_MT_LAYER_GZIP);
	l->usize = 1000;
	for (; e && e->path; e++) {
		struct layer_entry le = { e->path, e->type, e->mode, e->link, 0 };
		check_layer_add(l, &le);
	}
	if (extra_path) {
		struct layer_entry le = { extra_path, extra_type, extra_mode,
					  extra_type == LAYER_ENT_HARDLINK ? "var/task/app.py" : NULL, 0 };
		check_layer_add(l, &le);
	}
	ci->cfg.diff_ids = lm_xrealloc(ci->cfg.diff_ids, ci->nlayers * sizeof(char *));
	ci->cfg.diff_ids[i] = lm_xstrdup(l->diff_id);
	ci->cfg.ndiff_ids = ci->nlayers;
}

/* A good Python image: base + app, ENTRYPOINT /lambda-entrypoint.sh, CMD app.handler. */
static void good_image(struct check_image *ci)
{
	check_image_init(ci);
	ci->cfg.os = lm_xstrdup("linux");
	ci->cfg.arch = lm_xstrdup("amd64");
	ci->cfg.entrypoint = strv("/lambda-entrypoint.sh", NULL);
	ci->cfg.nentrypoint = 1;
	ci->cfg.cmd = strv("app.handler", NULL);
	ci->cfg.ncmd = 1;
	add_layer(ci, base_layer, NULL, 0, 0);
	add_layer(ci, app_layer, NULL, 0, 0);
}

/* the rules that failed (sev FAIL) and warned, as "rule,rule" */
static char *rules_of(const struct check_report *r, enum check_sev sev)
{
	char *s = lm_xstrdup("");
	for (size_t i = 0; i < r->n; i++) {
		char *t;
		if (r->v[i].sev != sev || strstr(s, r->v[i].rule))
			continue;
		t = lm_asprintf("%s%s%s", s, *s ? "," : "", r->v[i].rule);
		free(s);
		s = t;
	}
	return s;
}

enum mut {
	M_NONE,
	M_ARCH,
	M_OS,
	M_WANT_ARM,
	M_TAR,
	M_DOCKER_TAR,
	M_DOCKER_SAVE,
	M_ZSTD,
	M_DIFFID,
	M_DIFFCOUNT,
	M_PROBLEM,
	M_HARDLINK,
	M_NOPARENT,
	M_WHITEOUT_BAD,
	M_WHITEOUT_DIR,
	M_PERM_FILE,
	M_PERM_DIR,
	M_EP_RELATIVE,
	M_EP_MISSING,
	M_EP_NOEXEC,
	M_EP_WHITEDOUT,
	M_NO_PROGRAM,
	M_HANDLER_MISSING,
	M_HANDLER_BAD,
	M_HANDLER_PKG,
	M_HANDLER_WORKDIR,
	M_HANDLER_PYC,
	M_HANDLER_SO,
	M_HANDLER_TASKROOT,
	M_SIZE,
	M_LAYERS,
};

static const struct {
	enum mut m;
	const char *fails, *warns;
} image_cases[] = {
	{ M_NONE, "", "" },
	{ M_ARCH, "platform", "" },
	{ M_OS, "platform", "" },
	{ M_WANT_ARM, "platform", "" },
	{ M_TAR, "layer-media-type", "" },
	{ M_DOCKER_TAR, "layer-media-type", "" },
	{ M_DOCKER_SAVE, "layer-media-type", "" },
	{ M_ZSTD, "", "layer-media-type" },
	{ M_DIFFID, "layer-digest", "" },
	{ M_DIFFCOUNT, "layer-digest", "" },
	{ M_PROBLEM, "layer-digest", "" },
	{ M_HARDLINK, "hardlink", "" },
	{ M_NOPARENT, "parent-dir", "" },
	{ M_WHITEOUT_BAD, "whiteout", "" },
	{ M_WHITEOUT_DIR, "whiteout", "" },
	{ M_PERM_FILE, "", "permissions" },
	{ M_PERM_DIR, "", "permissions" },
	{ M_EP_RELATIVE, "entrypoint", "" },
	{ M_EP_MISSING, "entrypoint", "" },
	{ M_EP_NOEXEC, "entrypoint", "" },
	{ M_EP_WHITEDOUT, "entrypoint", "" },
	{ M_NO_PROGRAM, "entrypoint", "" },
	{ M_HANDLER_MISSING, "handler", "" },
	{ M_HANDLER_BAD, "handler", "" },
	{ M_HANDLER_PKG, "", "" },
	{ M_HANDLER_WORKDIR, "", "" },
	{ M_HANDLER_PYC, "", "" },
	{ M_HANDLER_SO, "", "" },
	{ M_HANDLER_TASKROOT, "handler", "" },
	{ M_SIZE, "size", "" },
	{ M_LAYERS, "", "layer-count" },
};

static void mutate(struct check_image *ci, enum mut m, struct check_opts *o)
{
	struct check_layer *app = &ci->layers[1];
	switch (m) {
	case M_NONE:
		break;
	case M_ARCH:
		free(ci->cfg.arch);
		ci->cfg.arch = lm_xstrdup("s390x");
		break;
	case M_OS:
		free(ci->cfg.os);
		ci->cfg.os = lm_xstrdup("windows");
		break;
	case M_WANT_ARM:
		o->arch = "arm64";
		break;
	case M_TAR:
		free(app->media_type);
		app->media_type = lm_xstrdup(OCI_MT_LAYER_TAR);
		break;
	case M_DOCKER_TAR:
		free(app->media_type);
		app->media_type = lm_xstrdup(DOCKER_MT_LAYER_TAR);
		break;
	case M_DOCKER_SAVE:
		app->docker_uncompressed = 1;
		break;
	case M_ZSTD:
		free(app->media_type);
		app->media_type = lm_xstrdup(OCI_MT_LAYER_ZSTD);
		break;
	case M_DIFFID:
		ci->cfg.diff_ids[1][10] = 'f';
		break;
	case M_DIFFCOUNT:
		free(ci->cfg.diff_ids[1]);
		ci->cfg.ndiff_ids = 1;
		break;
	case M_PROBLEM:
		app->problem = lm_xstrdup("not gzip data, as its media type says");
		break;
	case M_HARDLINK: {
		struct layer_entry le = { "var/task/copy.py", LAYER_ENT_HARDLINK, 0644, "var/task/app.py", 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_NOPARENT: {
		struct layer_entry le = { "var/task/lib/mod.py", LAYER_ENT_FILE, 0644, NULL, 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_WHITEOUT_BAD: {
		struct layer_entry le = { "var/task/.wh..wh.plnk", LAYER_ENT_FILE, 0644, NULL, 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_WHITEOUT_DIR: {
		struct layer_entry le = { "var/task/.wh.old", LAYER_ENT_DIR, 0755, NULL, 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_PERM_FILE: {
		struct layer_entry le = { "var/task/secret", LAYER_ENT_FILE, 0600, NULL, 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_PERM_DIR: {
		struct layer_entry le = { "var/task/private/", LAYER_ENT_DIR, 0700, NULL, 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_EP_RELATIVE:
		free(ci->cfg.entrypoint[0]);
		ci->cfg.entrypoint[0] = lm_xstrdup("lambda-entrypoint.sh");
		break;
	case M_EP_MISSING:
		free(ci->cfg.entrypoint[0]);
		ci->cfg.entrypoint[0] = lm_xstrdup("/bootstrap");
		break;
	case M_EP_NOEXEC:
		ci->layers[0].v[0].mode = 0744;
		break;
	case M_EP_WHITEDOUT: {
		struct layer_entry le = { ".wh.lambda-entrypoint.sh", LAYER_ENT_FILE, 0644, NULL, 0 };
		check_layer_add(app, &le);
		break;
	}
	case M_NO_PROGRAM:
		lm_strv_free(ci->cfg.entrypoint, 1);
		lm_strv_free(ci->cfg.cmd, 1);
		ci->cfg.entrypoint = ci->cfg.cmd = NULL;
		ci->cfg.nentrypoint = ci->cfg.ncmd = 0;
		break;
	case M_HANDLER_MISSING:
		free(ci->cfg.cmd[0]);
		ci->cfg.cmd[0] = lm_xstrdup("main.handler");
		break;
	case M_HANDLER_BAD:
		free(ci->cfg.cmd[0]);
		ci->cfg.cmd[0] = lm_xstrdup("handler");
		break;
	case M_HANDLER_PKG:
		free(ci->cfg.cmd[0]);
		ci->cfg.cmd[0] = lm_xstrdup("pkg.handler");
		break;
	case M_HANDLER_WORKDIR: {
		/* awslambdaric from WORKDIR /function, no LAMBDA_TASK_ROOT */
		struct layer_entry d = { "function/", LAYER_ENT_DIR, 0755, NULL, 0 };
		struct layer_entry f = { "function/main.py", LAYER_ENT_FILE, 0644, NULL, 0 };
		check_layer_add(app, &d);
		check_layer_add(app, &f);
		ci->cfg.workdir = lm_xstrdup("/function");
		free(ci->cfg.cmd[0]);
		ci->cfg.cmd[0] = lm_xstrdup("main.handler");
		break;
	}
	case M_HANDLER_PYC: {
		/* sourceless: app.pyc, no app.py */
		free(app->v[2].path);
		app->v[2].path = lm_xstrdup("var/task/app.pyc");
		break;
	}
	case M_HANDLER_SO: {
		free(app->v[2].path);
		app->v[2].path = lm_xstrdup("var/task/app.cpython-312-x86_64-linux-gnu.so");
		break;
	}
	case M_HANDLER_TASKROOT:
		/* LAMBDA_TASK_ROOT names another directory: app.py is not there */
		ci->cfg.env = strv("LAMBDA_TASK_ROOT=/srv", NULL);
		ci->cfg.nenv = 1;
		break;
	case M_SIZE:
		app->usize = CHECK_IMAGE_MAX;
		break;
	case M_LAYERS:
		for (int i = 0; i < CHECK_LAYERS_WARN; i++) {
			static const struct ent tmp[] = { { "tmp/", LAYER_ENT_DIR, 01777, NULL },
							  { NULL, 0, 0, NULL } };
			add_layer(ci, tmp, NULL, 0, 0);
		}
		break;
	}
}

START_TEST(test_image_rules)
{
	for (size_t i = 0; i < sizeof(image_cases) / sizeof(image_cases[0]); i++) {
		struct check_image ci;
		struct check_report r;
		struct check_opts o = { NULL, LM_RUNTIME_AUTO };
		char *fails, *warns;
		good_image(&ci);
		mutate(&ci, image_cases[i].m, &o);
		check_report_init(&r, 0);
		check_image_rules(&r, &ci, &o);
		fails = rules_of(&r, CHECK_FAIL);
		warns = rules_of(&r, CHECK_WARN);
		ck_assert_msg(strcmp(fails, image_cases[i].fails) == 0 && strcmp(warns, image_cases[i].warns) == 0,
			      "case %zu: failed '%s' (want '%s'), warned '%s' (want '%s'); first: %s", i, fails,
			      image_cases[i].fails, warns, image_cases[i].warns, r.n ? r.v[0].msg : "");
		ck_assert_uint_eq(r.nfail, *image_cases[i].fails ? r.nfail : 0);
		free(fails);
		free(warns);
		check_report_release(&r);
		check_image_release(&ci);
	}
}
END_TEST

/* the finding names the layer by number and digest, the entry by path */
START_TEST(test_image_where)
{
	struct check_image ci;
	struct check_report r;
	struct check_opts o = { NULL, LM_RUNTIME_AUTO };
	char *text, *first;
	good_image(&ci);
	mutate(&ci, M_HARDLINK, &o);
	check_report_init(&r, 0);
	check_image_rules(&r, &ci, &o);
	ck_assert_uint_eq(r.nfail, 1);
	ck_assert_str_eq(r.v[0].where,
			 "layer 2 sha256:0000000000000000000000000000000000000000000000000000000000000001");
	ck_assert_ptr_nonnull(strstr(r.v[0].msg, "'var/task/copy.py'"));
	text = check_report_text(&r, "img.tar");
	ck_assert_ptr_nonnull(strstr(text, "FAIL hardlink: layer 2 sha256:"));
	ck_assert_ptr_nonnull(strstr(text, "ok   parent-dir\n"));
	ck_assert_ptr_nonnull(strstr(text, "img.tar: 1 failed, 0 warnings"));
	first = check_report_first_fail(&r);
	ck_assert_ptr_nonnull(strstr(first, "hardlink: layer 2 "));
	free(first);
	free(text);
	text = check_report_json(&r, "img.tar");
	ck_assert_ptr_nonnull(strstr(text, "\"passed\": false"));
	ck_assert_ptr_nonnull(strstr(text, "\"severity\": \"fail\""));
	free(text);
	check_report_release(&r);
	check_image_release(&ci);
}
END_TEST

/* names past CHECK_NAMES are counted, not listed */
START_TEST(test_image_names_capped)
{
	struct check_image ci;
	struct check_report r;
	struct check_opts o = { NULL, LM_RUNTIME_AUTO };
	good_image(&ci);
	for (int i = 0; i < 8; i++) {
		char p[64];
		struct layer_entry le = { p, LAYER_ENT_FILE, 0600, NULL, 0 };
		snprintf(p, sizeof(p), "var/task/f%d", i);
		check_layer_add(&ci.layers[1], &le);
	}
	check_report_init(&r, 0);
	check_image_rules(&r, &ci, &o);
	ck_assert_uint_eq(r.nwarn, 1);
	ck_assert_ptr_nonnull(strstr(r.v[0].msg, "8 files"));
	ck_assert_ptr_nonnull(strstr(r.v[0].msg, "'var/task/f4', ..."));
	ck_assert_ptr_null(strstr(r.v[0].msg, "f5"));
	check_report_release(&r);
	check_image_release(&ci);
}
END_TEST

/* lamina build: what the base's layers break is a warning, what lamina added a failure */
START_TEST(test_demote_base)
{
	struct check_image ci;
	struct check_report r;
	struct check_opts o = { NULL, LM_RUNTIME_AUTO };
	struct layer_entry hl = { "var/lang/py", LAYER_ENT_HARDLINK, 0755, "var/lang/bin/python3.12", 0 };
	good_image(&ci);
	check_layer_add(&ci.layers[0], &hl);
	mutate(&ci, M_NOPARENT, &o);
	check_report_init(&r, 0);
	check_image_rules(&r, &ci, &o);
	ck_assert_uint_eq(r.nfail, 2);
	check_report_demote_layers(&r, 1, "in the base image");
	ck_assert_uint_eq(r.nfail, 1);
	ck_assert_uint_eq(r.nwarn, 1);
	ck_assert_str_eq(r.v[0].rule, "hardlink");
	ck_assert_int_eq(r.v[0].sev, CHECK_WARN);
	ck_assert(strncmp(r.v[0].msg, "in the base image: ", 19) == 0);
	ck_assert_int_eq(r.v[1].sev, CHECK_FAIL); /* parent-dir in layer 2, the app's */
	check_report_release(&r);
	check_image_release(&ci);
}
END_TEST

static const char *const tops[][2] = {
	/* document, failing findings ("" none) */
	{ "{\"schemaVersion\":2,\"mediaType\":\"application/"
	  "vnd.oci.image.manifest.v1+json\",\"config\":{},\"layers\":[]}",
	  "" },
	{ "{\"schemaVersion\":2,\"mediaType\":\"application/"
	  "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":"
	  "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:aa\",\"size\":1}]}",
	  "single-manifest" },
	{ "{\"schemaVersion\":2,\"mediaType\":\"application/"
	  "vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":[]}",
	  "single-manifest" },
};

START_TEST(test_top_registry)
{
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		struct check_report r;
		char *f;
		check_report_init(&r, 0);
		check_top_rules(&r, tops[i][0], strlen(tops[i][0]), 0, NULL, NULL);
		f = rules_of(&r, CHECK_FAIL);
		ck_assert_msg(strcmp(f, tops[i][1]) == 0, "top %zu: '%s'", i, f);
		free(f);
		check_report_release(&r);
	}
}
END_TEST

#define IMG_DESC                                                                                                       \
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:11\",\"size\":1,"           \
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}"
#define ATT_DESC                                                                                                       \
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:22\",\"size\":1,"           \
	"\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},\"annotations\":{"                             \
	"\"vnd.docker.reference.type\":\"attestation-manifest\"}}"

static char *nested_get(void *ctx, const char *digest, size_t *len)
{
	(void)ctx;
	if (strcmp(digest, "sha256:33") != 0)
		return NULL;
	*len = strlen("{\"manifests\":[" IMG_DESC "," ATT_DESC "]}");
	return lm_xstrdup("{\"manifests\":[" IMG_DESC "," ATT_DESC "]}");
}

START_TEST(test_top_layout)
{
	static const char one[] = "{\"schemaVersion\":2,\"manifests\":[" IMG_DESC "]}";
	static const char two[] = "{\"schemaVersion\":2,\"manifests\":[" IMG_DESC "," IMG_DESC "]}";
	static const char att[] = "{\"schemaVersion\":2,\"manifests\":[" IMG_DESC "," ATT_DESC "]}";
	static const char nested[] =
		"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		"\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:33\",\"size\":9}]}";
	struct check_report r;
	check_report_init(&r, 0);
	check_top_rules(&r, one, strlen(one), 1, NULL, NULL);
	ck_assert_uint_eq(r.n, 0); /* lamina's own layout */
	check_top_rules(&r, two, strlen(two), 1, NULL, NULL);
	ck_assert_uint_eq(r.nfail, 1);
	check_report_release(&r);
	check_report_init(&r, 0);
	check_top_rules(&r, att, strlen(att), 1, NULL, NULL);
	ck_assert_uint_eq(r.nfail, 2); /* two manifests, one an attestation */
	ck_assert_ptr_nonnull(strstr(r.v[1].msg, "attestation"));
	check_report_release(&r);
	check_report_init(&r, 0);
	check_top_rules(&r, nested, strlen(nested), 1, nested_get, NULL);
	ck_assert_uint_eq(r.nfail, 2); /* an index at the reference; its attestation */
	ck_assert_str_eq(r.v[0].where, "index.json manifests[0]");
	ck_assert_ptr_nonnull(strstr(r.v[1].msg, "sha256:22 is an attestation manifest"));
	check_report_release(&r);
}
END_TEST

/* ---- zips ---- */

static void good_zip(struct check_zip *z)
{
	check_zip_init(z, "fn.zip");
	z->size = 1000;
	check_zip_add(z, "app.py", CHECK_ZFILE, 0644, 1, 100);
	check_zip_add(z, "lib/", CHECK_ZDIR, 0755, 1, 0);
	check_zip_add(z, "lib/util.js", CHECK_ZFILE, 0644, 1, 100);
}

START_TEST(test_zip_rules)
{
	static const struct {
		const char *what, *fails, *warns, *handler;
		int nlayers;
	} cases[] = {
		{ "good", "", "", "app.handler", 0 },
		{ "good node", "", "", "lib/util.handler", 0 },
		{ "no handler given", "", "", NULL, 0 },
		{ "big", "zip-size", "", "app.handler", 0 },
		{ "big via S3", "", "zip-size", "app.handler", 0 },
		{ "unzipped", "unzipped-size", "", "app.handler", 0 },
		{ "unzipped with layers", "unzipped-size", "", "app.handler", 2 },
		{ "six layers", "layer-count", "", "app.handler", 6 },
		{ "five layers", "", "", "app.handler", 5 },
		{ "dotdot", "paths", "", "app.handler", 0 },
		{ "absolute", "paths", "", "app.handler", 0 },
		{ "handler missing", "handler", "", "main.handler", 0 },
		{ "handler malformed", "handler", "", "handler", 0 },
		{ "handler unreadable", "handler", "permissions", "app.handler", 0 },
		{ "symlink", "", "symlinks", "app.handler", 0 },
		{ "dir 0700", "", "permissions", "app.handler", 0 },
		{ "no modes (DOS)", "", "", "app.handler", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct check_zip fn, layers[6];
		struct check_report r;
		const char *w = cases[i].what;
		char *f, *wa;
		good_zip(&fn);
		for (int k = 0; k < cases[i].nlayers; k++) {
			check_zip_init(&layers[k], "layer.zip");
			check_zip_add(&layers[k], "python/", CHECK_ZDIR, 0755, 1, 0);
			check_zip_add(&layers[k], "python/x.py", CHECK_ZFILE, 0644, 1,
				      strcmp(w, "unzipped with layers") == 0 ? 150000000 : 10);
		}
		if (strcmp(w, "big") == 0 || strcmp(w, "big via S3") == 0)
			fn.size = CHECK_ZIP_UPLOAD_MAX + 1;
		else if (strcmp(w, "unzipped") == 0)
			fn.v[0].usize = CHECK_ZIP_UNZIPPED_MAX;
		else if (strcmp(w, "dotdot") == 0)
			check_zip_add(&fn, "lib/../../etc/x", CHECK_ZFILE, 0644, 1, 1);
		else if (strcmp(w, "absolute") == 0)
			check_zip_add(&fn, "/etc/x", CHECK_ZFILE, 0644, 1, 1);
		else if (strcmp(w, "handler unreadable") == 0)
			fn.v[0].mode = 0600;
		else if (strcmp(w, "symlink") == 0)
			check_zip_add(&fn, "lib/link", CHECK_ZSYMLINK, 0777, 1, 6);
		else if (strcmp(w, "dir 0700") == 0)
			fn.v[1].mode = 0700;
		else if (strcmp(w, "no modes (DOS)") == 0)
			for (size_t k = 0; k < fn.n; k++)
				fn.v[k].mode = 0, fn.v[k].has_mode = 0;
		check_report_init(&r, 1);
		check_zip_rules(&r, &fn, layers, (size_t)cases[i].nlayers, cases[i].handler, LM_RUNTIME_AUTO,
				strcmp(w, "big via S3") == 0);
		f = rules_of(&r, CHECK_FAIL);
		wa = rules_of(&r, CHECK_WARN);
		ck_assert_msg(strcmp(f, cases[i].fails) == 0 && strcmp(wa, cases[i].warns) == 0,
			      "zip '%s': failed '%s' (want '%s'), warned '%s' (want '%s')", w, f, cases[i].fails, wa,
			      cases[i].warns);
		free(f);
		free(wa);
		check_report_release(&r);
		check_zip_release(&fn);
		for (int k = 0; k < cases[i].nlayers; k++)
			check_zip_release(&layers[k]);
	}
}
END_TEST

SUITE(check)
{
	Suite *s = suite_create("check");
	TCASE(s, test_image_rules);
	TCASE(s, test_image_where);
	TCASE(s, test_image_names_capped);
	TCASE(s, test_demote_base);
	TCASE(s, test_top_registry);
	TCASE(s, test_top_layout);
	TCASE(s, test_zip_rules);
	return s;
}
