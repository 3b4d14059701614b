#include <stdlib.h>
#include <string.h>

#include "build/manifest.h"
#include "run/precompile_node.h"
#include "unit.h"

static int parse(const char *json, struct lm_manifest *m, struct lm_err *err)
{
	return manifest_parse(json, strlen(json), "m.json", "/proj", m, err);
}

/* The flags AWS's Node bootstrap passes: new space = mb/10, semi = new/2, old = mb - new.
 * 128 MB gives --max-semi-space-size=6 --max-old-space-size=116, as seen in Lambda's
 * process list. */
START_TEST(test_lambda_flags)
{
	static const struct {
		int mb;
		const char *semi, *old;
	} t[] = {
		{ 128, "--max-semi-space-size=6", "--max-old-space-size=116" },
		{ 1024, "--max-semi-space-size=51", "--max-old-space-size=922" },
		{ 1769, "--max-semi-space-size=88", "--max-old-space-size=1593" },
		{ 10240, "--max-semi-space-size=512", "--max-old-space-size=9216" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pn_flags f = { 0 };
		precompile_node_lambda_flags(t[i].mb, &f);
		ck_assert_uint_eq(f.n, 3);
		ck_assert_str_eq(f.v[0], "--expose-gc");
		ck_assert_str_eq(f.v[1], t[i].semi);
		ck_assert_str_eq(f.v[2], t[i].old);
		ck_assert_ptr_null(f.v[3]);
		pn_flags_release(&f);
		ck_assert_ptr_null(f.v);
	}
}
END_TEST

START_TEST(test_handler_module)
{
	static const struct {
		const char *cmd, *want;
	} t[] = {
		{ "index.handler", "index" },
		{ "src/app.handler", "src/app" },
		{ "app.handlers.get", "app" }, /* the export may be a dotted path */
		{ "v1.2/app.main", "v1.2/app" }, /* dots in directory names are kept */
		{ "a/b/c.d", "a/b/c" },
		{ "nodot", NULL },
		{ ".handler", NULL },
		{ "dir/.handler", NULL },
		{ "index.", NULL },
		{ "/var/task/index.handler", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = precompile_node_handler_module(t[i].cmd);
		if (t[i].want)
			ck_assert_msg(got && strcmp(got, t[i].want) == 0, "'%s': got '%s'", t[i].cmd, got ? got : "(null)");
		else
			ck_assert_msg(got == NULL, "'%s': got '%s'", t[i].cmd, got);
		free(got);
	}
	ck_assert_ptr_null(precompile_node_handler_module(NULL));
}
END_TEST

START_TEST(test_split_tag)
{
	static const struct {
		const char *name;
		long uid;
		const char *base; /* NULL: no uid suffix */
	} t[] = {
		{ "v22.23.3-x64-9ac5647c-0", 0, "v22.23.3-x64-9ac5647c" },
		{ "v22.23.3-arm64-0000abcd-993", 993, "v22.23.3-arm64-0000abcd" },
		{ "v22.23.3-x64-9ac5647c-993", 0, NULL },
		{ "v22.23.3-x64-9ac5647c-10", 0, NULL }, /* "-10" is not "-0" */
		{ "v22.1.0-x64-9ac5647c", 0, NULL },     /* a node that puts no uid in the tag */
		{ "-0", 0, NULL },
		{ "", 0, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *base = (char *)"untouched";
		int r = precompile_node_split_tag(t[i].name, t[i].uid, &base);
		if (t[i].base) {
			ck_assert_msg(r == 1, "'%s' not split", t[i].name);
			ck_assert_str_eq(base, t[i].base);
			free(base);
		} else {
			ck_assert_msg(r == 0, "'%s' split", t[i].name);
			ck_assert_str_eq(base, "untouched");
		}
	}
}
END_TEST

START_TEST(test_layer_choice)
{
	const char *dir = "var/task/.node-compile-cache";
	char *a[] = { "var/task", "opt" };
	char *b[] = { "opt", "var/task" };
	char *c[] = { "opt" };
	char *d[] = { "", "var/task", "opt/x" };
	char *e[] = { "var/tasks", "var" };
	char *f[] = { "var/task/.node-compile-cache/x", "opt" };
	char *g[] = { "var/task", "var/task" };
	ck_assert_uint_eq(precompile_node_layer(dir, a, 2), 0);
	ck_assert_uint_eq(precompile_node_layer(dir, b, 2), 1);
	ck_assert_uint_eq(precompile_node_layer(dir, c, 1), 0);
	ck_assert_uint_eq(precompile_node_layer(dir, d, 3), 1);
	ck_assert_uint_eq(precompile_node_layer(dir, e, 2), 1); /* "var/tasks" does not hold var/task */
	ck_assert_uint_eq(precompile_node_layer(dir, f, 2), 1); /* none holds it: the last */
	ck_assert_uint_eq(precompile_node_layer(dir, g, 2), 1); /* the same root twice: the upper layer */
	ck_assert_uint_eq(precompile_node_layer("opt/cache", d, 3), 0);
}
END_TEST

START_TEST(test_parse_full)
{
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	const struct precompile_node_spec *s = &m.precompile_node;
	ck_assert_msg(parse("{\"precompile\": {\"node\": {\"compileCache\": true, \"dir\": \"/opt/ncc\",\n"
			    "  \"memorySizes\": [128, 3008], \"nodeArgs\": [[], [\"--expose-gc\", \"--stack-size=900\"]],\n"
			    "  \"entries\": [\"./index.mjs\", \"openai\", \"@aws-sdk/client-s3\"], \"uids\": [993, 0, 1000]}},\n"
			    " \"config\": {\"env\": {\"NODE_COMPILE_CACHE\": \"/opt/ncc\"}}}",
			    &m, &err) == 0,
		      "%s", err.msg);
	ck_assert_int_eq(s->set, 1);
	ck_assert_int_eq(s->compile_cache, 1);
	ck_assert_str_eq(precompile_node_dir(s), "/opt/ncc");
	ck_assert_uint_eq(s->nmemory_sizes, 2);
	ck_assert_int_eq(s->memory_sizes[0], 128);
	ck_assert_int_eq(s->memory_sizes[1], 3008);
	ck_assert_uint_eq(s->nnode_args, 2);
	ck_assert_uint_eq(s->node_args[0].n, 0);
	ck_assert_uint_eq(s->node_args[1].n, 2);
	ck_assert_str_eq(s->node_args[1].v[1], "--stack-size=900");
	ck_assert_uint_eq(s->nentries, 3);
	ck_assert_str_eq(s->entries[2], "@aws-sdk/client-s3");
	ck_assert_uint_eq(s->nuids, 3);
	ck_assert_int_eq(s->uids[0], 993);
	ck_assert_int_eq(s->uids[2], 1000);
	/* only "node" given: Python's precompile keeps its default (on when there is Python) */
	ck_assert_int_eq(m.precompile.set, 0);
	manifest_release(&m);
}
END_TEST

START_TEST(test_parse_defaults)
{
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_msg(parse("{\"precompile\": {\"node\": {}}}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.precompile_node.set, 1);
	ck_assert_int_eq(m.precompile_node.compile_cache, 1);
	ck_assert_str_eq(precompile_node_dir(&m.precompile_node), "/var/task/.node-compile-cache");
	ck_assert_ptr_null(m.precompile_node.entries);
	ck_assert_ptr_null(m.precompile_node.uids);
	ck_assert_uint_eq(m.precompile_node.nmemory_sizes + m.precompile_node.nnode_args, 0);
	manifest_release(&m);

	ck_assert_msg(parse("{\"precompile\": {\"node\": false, \"python\": {\"optimize\": 1}}}", &m, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(m.precompile_node.set, 1);
	ck_assert_int_eq(m.precompile_node.compile_cache, 0);
	ck_assert_int_eq(m.precompile.set, 1);
	ck_assert_int_eq(m.precompile.optimize, 1);
	manifest_release(&m);

	ck_assert_msg(parse("{\"precompile\": {\"node\": true}}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.precompile_node.compile_cache, 1);
	manifest_release(&m);

	ck_assert_msg(parse("{\"precompile\": {\"node\": {\"compileCache\": false}}}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.precompile_node.set, 1);
	ck_assert_int_eq(m.precompile_node.compile_cache, 0);
	manifest_release(&m);

	/* no precompile.node at all; "precompile": false turns Python off and leaves Node off */
	ck_assert_msg(parse("{\"precompile\": false}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.precompile_node.set, 0);
	ck_assert_int_eq(m.precompile.enabled, 0);
	manifest_release(&m);

	/* NODE_COMPILE_CACHE in config.env equal to the dir is accepted */
	ck_assert_msg(parse("{\"precompile\": {\"node\": {}}, \"config\": {\"env\": {\"NODE_COMPILE_CACHE\": "
			    "\"/var/task/.node-compile-cache\"}}}",
			    &m, &err) == 0,
		      "%s", err.msg);
	manifest_release(&m);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const struct {
		const char *json;
		const char *want[2];
	} t[] = {
		{ "{\"precompile\": {\"node\": \"yes\"}}", { "precompile.node: must be an object, true or false" } },
		{ "{\"precompile\": {\"nod\": {}}}", { "precompile.nod", "did you mean 'node'" } },
		{ "{\"precompile\": {\"node\": {\"memorySize\": [1024]}}}",
		  { "precompile.node.memorySize", "did you mean 'memorySizes'" } },
		{ "{\"precompile\": {\"node\": {\"compileCache\": 1}}}", { "precompile.node.compileCache: must be true or false" } },
		{ "{\"precompile\": {\"node\": {\"memorySizes\": [64]}}}",
		  { "precompile.node.memorySizes: element 0 must be an integer from 128 to 10240" } },
		{ "{\"precompile\": {\"node\": {\"memorySizes\": 1024}}}",
		  { "precompile.node.memorySizes: must be a non-empty array of integers" } },
		{ "{\"precompile\": {\"node\": {\"memorySizes\": []}}}", { "precompile.node.memorySizes: must be a non-empty" } },
		{ "{\"precompile\": {\"node\": {\"uids\": [-1]}}}", { "precompile.node.uids: element 0 must be an integer" } },
		{ "{\"precompile\": {\"node\": {\"dir\": \"cache\"}}}", { "precompile.node.dir: must be an absolute path" } },
		{ "{\"precompile\": {\"node\": {\"dir\": \"/\"}}}", { "precompile.node.dir: must be an absolute path" } },
		{ "{\"precompile\": {\"node\": {\"dir\": \"/var/../etc\"}}}", { "precompile.node.dir:", "'..'" } },
		{ "{\"precompile\": {\"node\": {\"entries\": [\"\"]}}}", { "precompile.node.entries: element 0" } },
		{ "{\"precompile\": {\"node\": {\"entries\": [\"a\\tb\"]}}}", { "precompile.node.entries: element 0" } },
		{ "{\"precompile\": {\"node\": {\"nodeArgs\": [\"--expose-gc\"]}}}",
		  { "precompile.node.nodeArgs: element 0 must be an array of flags" } },
		{ "{\"precompile\": {\"node\": {\"nodeArgs\": [[\"expose-gc\"]]}}}",
		  { "precompile.node.nodeArgs: element 0.0 must be a flag starting with '-'" } },
		{ "{\"precompile\": {\"node\": {\"nodeArgs\": []}}}", { "precompile.node.nodeArgs: must be a non-empty" } },
		{ "{\"precompile\": {\"node\": {}}, \"config\": {\"env\": {\"NODE_COMPILE_CACHE\": \"/tmp/c\"}}}",
		  { "config.env.NODE_COMPILE_CACHE: is '/tmp/c' but precompile.node.dir is '/var/task/.node-compile-cache'" } },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_manifest m;
		struct lm_err err = LM_ERR_INIT;
		int r = parse(t[i].json, &m, &err);
		ck_assert_msg(r == -1, "case %zu (%s) was accepted", i, t[i].json);
		ck_assert_msg(err.code == LM_E_INPUT, "case %zu: code %d", i, err.code);
		for (size_t k = 0; k < 2 && t[i].want[k]; k++)
			ck_assert_msg(strstr(err.msg, t[i].want[k]) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg,
				      t[i].want[k]);
		lm_err_release(&err);
	}
}
END_TEST

SUITE(precompile_node)
{
	Suite *s = suite_create("precompile_node");
	TCASE(s, test_lambda_flags);
	TCASE(s, test_handler_module);
	TCASE(s, test_split_tag);
	TCASE(s, test_layer_choice);
	TCASE(s, test_parse_full);
	TCASE(s, test_parse_defaults);
	TCASE(s, test_parse_errors);
	return s;
}
