#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/manifest.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

static int parse(const char *json, struct lm_manifest *m, struct lm_err *err)
{
	return manifest_parse(json, strlen(json), "m.json", "/proj", m, err);
}

START_TEST(test_full_manifest)
{
	static const char *json = "{\n"
				  "  \"$schema\": \"https://example.com/lamina.json\",\n"
				  "  \"base\": \"public.ecr.aws/lambda/python:3.12\",\n"
				  "  \"platform\": \"linux/arm64\",\n"
				  "  \"tag\": \"hello:v1\",\n"
				  "  \"layers\": [\n"
				  "    {\"name\": \"deps\", \"from\": \"build/deps\", \"to\": \"/opt/python\",\n"
				  "     \"exclude\": [\"*.pyc\", \"tests/\"]},\n"
				  "    {\"from\": \"/abs/src\"}\n"
				  "  ],\n"
				  "  \"config\": {\"cmd\": [\"app.handler\", \"x\"], \"entrypoint\": [\"/lambda-entrypoint.sh\"],\n"
				  "             \"env\": {\"ZED\": \"1\", \"ALPHA\": \"two words\"},\n"
				  "             \"labels\": {\"team\": \"core\"}, \"workdir\": \"/srv\"},\n"
				  "  \"prune\": {\"remove\": [\"**/tests/\"], \"keep\": [\"a\"], \"strip\": \"none\"},\n"
				  "  \"precompile\": {\"python\": {\"invalidation\": \"checked-hash\", \"optimize\": 2,\n"
				  "                               \"sourceless\": true, \"jobs\": 4}},\n"
				  "  \"verify\": {\"imports\": [\"boto3\", \"numpy\"], \"handler\": false}\n"
				  "}\n";
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_msg(parse(json, &m, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(m.path, "m.json");
	ck_assert_str_eq(m.dir, "/proj");
	ck_assert_str_eq(m.base, "public.ecr.aws/lambda/python:3.12");
	ck_assert_str_eq(m.platform, "linux/arm64");
	ck_assert_str_eq(m.tag, "hello:v1");
	ck_assert_uint_eq(m.nlayers, 2);
	ck_assert_str_eq(m.layers[0].name, "deps");
	ck_assert_str_eq(m.layers[0].from, "/proj/build/deps");
	ck_assert_str_eq(m.layers[0].to, "/opt/python");
	ck_assert_uint_eq(m.layers[0].nexclude, 2);
	ck_assert_str_eq(m.layers[0].exclude[0], "*.pyc");
	ck_assert_str_eq(m.layers[0].exclude[1], "tests/");
	ck_assert_int_eq(m.layers[0].prune.set, 0);
	ck_assert_str_eq(m.layers[1].name, "layer2");
	ck_assert_str_eq(m.layers[1].from, "/abs/src");
	ck_assert_str_eq(m.layers[1].to, "/var/task");
	ck_assert_uint_eq(m.layers[1].nexclude, 0);
	ck_assert_uint_eq(m.config.ncmd, 2);
	ck_assert_str_eq(m.config.cmd[0], "app.handler");
	ck_assert_str_eq(m.config.cmd[1], "x");
	ck_assert_int_eq(m.config.entrypoint_given, 1);
	ck_assert_uint_eq(m.config.nentrypoint, 1);
	ck_assert_str_eq(m.config.entrypoint[0], "/lambda-entrypoint.sh");
	ck_assert_str_eq(m.config.workdir, "/srv");
	ck_assert_uint_eq(m.config.nenv, 2); /* document order, not sorted */
	ck_assert_str_eq(m.config.env[0].key, "ZED");
	ck_assert_str_eq(m.config.env[0].value, "1");
	ck_assert_str_eq(m.config.env[1].key, "ALPHA");
	ck_assert_str_eq(m.config.env[1].value, "two words");
	ck_assert_uint_eq(m.config.nlabels, 1);
	ck_assert_str_eq(m.config.labels[0].key, "team");
	ck_assert_str_eq(m.config.labels[0].value, "core");
	ck_assert_int_eq(m.prune.set, 1);
	ck_assert_uint_eq(m.prune.nremove, 1);
	ck_assert_str_eq(m.prune.remove[0], "**/tests/");
	ck_assert_uint_eq(m.prune.nkeep, 1);
	ck_assert_int_eq(m.prune.strip_set, 1);
	ck_assert_int_eq(m.prune.strip, PRUNE_STRIP_NONE);
	ck_assert_int_eq(m.precompile.set, 1);
	ck_assert_int_eq(m.precompile.enabled, 1);
	ck_assert_int_eq(m.precompile.invalidation, PYC_CHECKED_HASH);
	ck_assert_int_eq(m.precompile.optimize, 2);
	ck_assert_int_eq(m.precompile.sourceless, 1);
	ck_assert_int_eq(m.precompile.jobs, 4);
	ck_assert_int_eq(m.verify.set, 1);
	ck_assert_uint_eq(m.verify.nimports, 2);
	ck_assert_str_eq(m.verify.imports[1], "numpy");
	ck_assert_int_eq(m.verify.handler, 0);
	ck_assert_ptr_null(err.msg);
	manifest_release(&m);
}
END_TEST

START_TEST(test_defaults)
{
	static const char *json = "{\"layers\": [{\"from\": \"src\"}, {\"from\": \"sub/dir\", \"name\": \"n\"}]}";
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_msg(parse(json, &m, &err) == 0, "%s", err.msg);
	ck_assert_ptr_null(m.base);
	ck_assert_ptr_null(m.tag);
	ck_assert_str_eq(m.platform, "linux/amd64");
	ck_assert_str_eq(m.config.workdir, "/var/task");
	ck_assert_ptr_null(m.config.cmd);
	ck_assert_int_eq(m.config.entrypoint_given, 0);
	ck_assert_ptr_null(m.config.entrypoint);
	ck_assert_uint_eq(m.nlayers, 2);
	ck_assert_str_eq(m.layers[0].name, "layer1");
	ck_assert_str_eq(m.layers[0].from, "/proj/src");
	ck_assert_str_eq(m.layers[0].to, "/var/task");
	ck_assert_str_eq(m.layers[1].name, "n");
	ck_assert_str_eq(m.layers[1].from, "/proj/sub/dir");
	ck_assert_int_eq(m.prune.set, 0);
	ck_assert_int_eq(m.precompile.set, 0);
	ck_assert_int_eq(m.verify.set, 0);
	ck_assert_int_eq(m.compression_level, 0); /* the build's default */
	manifest_release(&m);
}
END_TEST

START_TEST(test_cmd_string_and_switches)
{
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_msg(parse("{\"config\": {\"cmd\": \"app.handler\", \"entrypoint\": null}, \"precompile\": false}", &m,
			    &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(m.config.ncmd, 1);
	ck_assert_str_eq(m.config.cmd[0], "app.handler");
	ck_assert_ptr_null(m.config.cmd[1]);
	ck_assert_int_eq(m.config.entrypoint_given, 1); /* null: keep the base's */
	ck_assert_ptr_null(m.config.entrypoint);
	ck_assert_int_eq(m.precompile.set, 1);
	ck_assert_int_eq(m.precompile.enabled, 0);
	ck_assert_uint_eq(m.nlayers, 0);
	manifest_release(&m);

	ck_assert_msg(parse("{\"precompile\": {\"python\": false}, \"verify\": {}}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.precompile.enabled, 0);
	ck_assert_int_eq(m.verify.set, 1);
	ck_assert_int_eq(m.verify.handler, 1); /* default on when "verify" is given */
	manifest_release(&m);

	ck_assert_msg(parse("{\"precompile\": {\"python\": {\"invalidation\": \"timestamp\"}}}", &m, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(m.precompile.enabled, 1);
	ck_assert_int_eq(m.precompile.invalidation, PYC_TIMESTAMP);
	manifest_release(&m);

	ck_assert_msg(parse("{\"compression\": {\"level\": 9}}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.compression_level, 9);
	manifest_release(&m);
	ck_assert_msg(parse("{\"compression\": {}}", &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.compression_level, 0);
	manifest_release(&m);
}
END_TEST

/* Each bad manifest must fail with LM_E_INPUT and a message containing every listed piece. */
START_TEST(test_bad_manifests)
{
	static const struct {
		const char *json;
		const char *want[3];
		const char *not_want;
	} t[] = {
		/* invalid JSON: position from the parser */
		{ "{\n  \"layers\": [\n    {\"from\": \"a\"},\n  ]\n}", { "m.json:4:3: invalid JSON", NULL }, NULL },
		{ "{\"base\": \"a\", \"base\": \"b\"}", { "m.json:1:", "invalid JSON", "duplicate" }, NULL },
		{ "[1, 2]", { "m.json: the manifest must be a JSON object", NULL }, NULL },
		/* unknown keys, with the nearest known one */
		{ "{\n  \"base\": \"x\",\n  \"layrs\": []\n}", { "m.json:3:3: layrs: unknown field (did you mean 'layers'?)" },
		  NULL },
		{ "{\"layers\": [{\"frm\": \"src\"}]}", { "m.json:1:14: layers[0].frm: unknown field (did you mean 'from'?)" },
		  NULL },
		{ "{\"config\": {\"cmdd\": [\"a\"]}}", { "config.cmdd", "did you mean 'cmd'" }, NULL },
		{ "{\"precompile\": {\"python\": {\"optimise\": 1}}}",
		  { "precompile.python.optimise", "did you mean 'optimize'" }, NULL },
		{ "{\"verify\": {\"import\": []}}", { "verify.import", "did you mean 'imports'" }, NULL },
		{ "{\"prune\": {\"preset\": []}}", { "prune.preset", "did you mean 'presets'" }, NULL },
		{ "{\"zzzzzzzz\": 1}", { "zzzzzzzz: unknown field" }, "did you mean" },
		/* wrong types */
		{ "{\"config\": {\"cmd\": 5}}", { "config.cmd: must be an array of strings" }, NULL },
		{ "{\"config\": {\"cmd\": [\"a\", 5]}}", { "config.cmd: element 1 must be a string" }, NULL },
		{ "{\"config\": {\"env\": {\"A\": \"x\", \"PORT\": 8080}}}", { "config.env.PORT: must be a string" }, NULL },
		{ "{\"config\": {\"env\": {\"A=B\": \"x\"}}}", { "config.env.A=B: is not a valid name" }, NULL },
		{ "{\"config\": {\"env\": [\"A=1\"]}}", { "config.env: must be an object of strings" }, NULL },
		{ "{\"config\": []}", { "config: must be an object" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"exclude\": \"*.pyc\"}]}",
		  { "layers[0].exclude: must be an array of strings" }, NULL },
		{ "{\"layers\": {\"from\": \"a\"}}", { "layers: must be an array" }, NULL },
		{ "{\"layers\": [\"src\"]}", { "layers[0]: must be an object" }, NULL },
		{ "{\"base\": 3}", { "base: must be a string" }, NULL },
		{ "{\"base\": \"\"}", { "base: must not be empty" }, NULL },
		{ "{\"verify\": {\"handler\": \"yes\"}}", { "verify.handler: must be true or false" }, NULL },
		{ "{\"precompile\": {\"python\": {\"optimize\": 3}}}",
		  { "precompile.python.optimize: must be an integer from 0 to 2" }, NULL },
		{ "{\"precompile\": {\"python\": {\"invalidation\": \"never\"}}}",
		  { "precompile.python.invalidation: must be \"unchecked-hash\"" }, NULL },
		{ "{\"precompile\": {\"python\": {\"invalidation\": 1}}}", { "precompile.python.invalidation" }, NULL },
		{ "{\"precompile\": \"yes\"}", { "precompile: must be an object or false" }, NULL },
		/* compression */
		{ "{\"compression\": {\"level\": 0}}", { "compression.level: must be an integer from 1 to 12" }, NULL },
		{ "{\"compression\": {\"level\": 13}}", { "compression.level: must be an integer from 1 to 12" }, NULL },
		{ "{\"compression\": {\"level\": \"6\"}}", { "compression.level: must be an integer" }, NULL },
		{ "{\"compression\": {\"levle\": 6}}", { "compression.levle", "did you mean 'level'" }, NULL },
		{ "{\"compression\": 6}", { "compression: must be an object" }, NULL },
		{ "{\"compresion\": {}}", { "did you mean 'compression'" }, NULL },
		/* layers */
		{ "{\"layers\": [{\"from\": \"a\"}, {\"to\": \"/opt\"}]}", { "layers[1]: missing \"from\"" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"to\": \"var/task\"}]}",
		  { "layers[0].to: must be an absolute path in the image" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"to\": \"/var/../etc\"}]}", { "layers[0].to:", "'..'" }, NULL },
		/* a key that occurs twice: no position rather than the first (wrong) one */
		{ "{\"layers\": [\n {\"from\": \"a\", \"to\": \"/opt\"},\n {\"from\": \"b\", \"to\": \"rel\"}\n]}",
		  { "m.json: layers[1].to: must be an absolute path" }, "m.json:2:" },
		{ "{\"layers\": [\n {\"from\": \"b\", \"to\": \"rel\"}\n]}", { "m.json:2:16: layers[0].to: must be" },
		  NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"name\": \"x\"}, {\"from\": \"b\", \"name\": \"x\"}]}",
		  { "layers[1]: name 'x' is used twice" }, NULL },
		/* an explicit name that collides with a default one */
		{ "{\"layers\": [{\"from\": \"a\", \"name\": \"layer2\"}, {\"from\": \"b\"}]}",
		  { "layers[1]: name 'layer2' is used twice" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"prune\": {\"presets\": [\"nope\"]}}]}",
		  { "layers[0].prune.presets: unknown preset 'nope'" }, NULL },
		{ "{\"prune\": {\"presets\": [\"nope\"]}}", { "prune.presets: unknown preset 'nope'" }, NULL },
		{ "{\"prune\": {\"strip\": \"all\"}}", { "prune.strip: must be" }, NULL },
		/* bundle */
		{ "{\"layers\": [{\"from\": \"a\", \"bundel\": {}}]}", { "layers[0].bundel", "did you mean 'bundle'" },
		  NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"nod\": {}}}]}",
		  { "m.json:1:38: layers[0].bundle.nod: unknown field (did you mean 'node'?)" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": [\"i.js\"], \"minfy\": true}}}]}",
		  { "layers[0].bundle.node.minfy", "did you mean 'minify'" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": [\"i.js\"], \"externals\": []}}}]}",
		  { "layers[0].bundle.node.externals", "did you mean 'external'" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {}}]}", { "layers[0].bundle: needs \"node\"" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": true}]}", { "layers[0].bundle: must be an object" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {}}}]}",
		  { "layers[0].bundle.node: missing \"entry\"" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": []}}}]}",
		  { "layers[0].bundle.node.entry: needs at least one entry" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\",\n \"bundle\": {\"node\": {\"entry\": [\"a.js\", \"../up.js\"]}}}]}",
		  { "m.json:2:22: layers[0].bundle.node.entry: element 1: '../up.js' must be a path relative" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": [\"/abs.js\"]}}}]}",
		  { "layers[0].bundle.node.entry: element 0: '/abs.js'" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": [\"-x.js\"]}}}]}",
		  { "must not start with '-'" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": \"i.js\", \"external\": [\"ok\", \"--x\"]}}}]}",
		  { "layers[0].bundle.node.external: element 1: '--x' is not a package name" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": \"i.js\", \"format\": \"iife\"}}}]}",
		  { "layers[0].bundle.node.format: must be \"cjs\" or \"esm\"" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": \"i.js\", \"target\": \"es2020\"}}}]}",
		  { "layers[0].bundle.node.target: 'es2020' must be a Node.js version" }, NULL },
		{ "{\"layers\": [{\"from\": \"a\", \"bundle\": {\"node\": {\"entry\": \"i.js\", \"minify\": \"yes\"}}}]}",
		  { "layers[0].bundle.node.minify: must be true or false" }, NULL },
		/* platform, tag, config paths */
		{ "{\"platform\": \"windows/amd64\"}", { "platform:", "Lambda runs linux/amd64 or linux/arm64" }, NULL },
		{ "{\"platform\": \"linux\"}", { "platform:", "os/arch" }, NULL },
		{ "{\"platform\": \"linux/s390x\"}", { "platform:", "linux/s390x" }, NULL },
		{ "{\"tag\": \"hello world\"}", { "tag: image reference 'hello world' contains a space" }, NULL },
		{ "{\"tag\": \"UPPER/Case:tag\"}", { "tag: image reference 'UPPER/Case:tag': bad repository name component 'UPPER' (must be lowercase)" }, NULL },
		{ "{\"config\": {\"workdir\": \"srv\"}}", { "config.workdir: must be an absolute path" }, NULL },
		{ "{\"config\": {\"entrypoint\": \"python3\"}}", { "config.entrypoint: must start with an absolute path" },
		  NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_manifest m;
		struct lm_err err = LM_ERR_INIT;
		int r = parse(t[i].json, &m, &err);
		ck_assert_msg(r == -1, "case %zu (%s) was accepted", i, t[i].json);
		ck_assert_msg(err.code == LM_E_INPUT, "case %zu: code %d", i, err.code);
		for (size_t k = 0; k < 3 && t[i].want[k]; k++)
			ck_assert_msg(strstr(err.msg, t[i].want[k]) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg,
				      t[i].want[k]);
		if (t[i].not_want)
			ck_assert_msg(strstr(err.msg, t[i].not_want) == NULL, "case %zu: '%s' has '%s'", i, err.msg,
				      t[i].not_want);
		/* the struct is left empty on failure: releasing it again is harmless */
		ck_assert_ptr_null(m.layers);
		manifest_release(&m);
		lm_err_release(&err);
	}
}
END_TEST

/* Every error of a manifest in one run, one line each, in the manifest's order. */
START_TEST(test_errors_collected)
{
	static const char json[] = "{\"bsae\": \"x\", \"tga\": \"y\", \"tag\": \"Bad Tag\",\n"
				   " \"layers\": [{\"from\": \"a\", \"to\": \"rel\"}, {\"form\": \"b\"}],\n"
				   " \"verify\": {\"imports\": 1}, \"compression\": {\"level\": 99}}";
	static const char *const want[] = { "bsae: unknown field (did you mean 'base'?)", "tga: unknown field",
					     "tag: image reference 'Bad Tag'", "layers[0].to: must be an absolute path",
					     "layers[1].form: unknown field", "verify.imports:", "compression.level:" };
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	const char *at;
	size_t lines = 1;
	ck_assert_int_eq(parse(json, &m, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	at = err.msg;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *f = strstr(at, want[i]);
		ck_assert_msg(f, "'%s' lacks '%s' (in order)", err.msg, want[i]);
		at = f;
	}
	for (const char *p = err.msg; *p; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(lines, sizeof(want) / sizeof(want[0]));
	ck_assert_ptr_null(m.layers);
	lm_err_release(&err);
}
END_TEST

START_TEST(test_edit_distance_table)
{
	static const struct {
		const char *a, *b;
		size_t d;
	} t[] = {
		{ "", "", 0 },         { "abc", "abc", 0 },      { "", "abc", 3 },        { "abc", "", 3 },
		{ "layrs", "layers", 1 }, { "frm", "from", 1 },   { "kitten", "sitting", 3 }, { "flaw", "lawn", 2 },
		{ "cmd", "md", 1 },    { "base", "case", 1 },    { "abc", "xyz", 3 },     { "precompile", "verify", 8 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(manifest_edit_distance(t[i].a, t[i].b) == t[i].d, "d('%s','%s') = %zu, want %zu", t[i].a,
			      t[i].b, manifest_edit_distance(t[i].a, t[i].b), t[i].d);
		ck_assert_uint_eq(manifest_edit_distance(t[i].b, t[i].a), t[i].d);
	}
}
END_TEST

START_TEST(test_load_resolves_against_file_dir)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_manifest m;
	char *dir = lm_mkdtemp(NULL, "mf", &err), *sub, *path, *want, *real;
	ck_assert_ptr_nonnull(dir);
	real = realpath(dir, NULL);
	sub = lm_path_join(dir, "proj");
	ck_assert_int_eq(lm_mkdir_p(sub, &err), 0);
	path = lm_path_join(sub, "lamina.json");
	{
		static const char body[] = "{\"layers\": [{\"from\": \"app\"}]}\n";
		ck_assert_int_eq(lm_write_file_atomic(path, body, sizeof(body) - 1, &err), 0);
	}
	ck_assert_msg(manifest_load(path, &m, &err) == 0, "%s", err.msg);
	want = lm_asprintf("%s/proj/app", real);
	ck_assert_str_eq(m.layers[0].from, want);
	ck_assert_str_eq(m.path, path);
	manifest_release(&m);
	free(want);

	/* a missing file names it */
	free(path);
	path = lm_path_join(sub, "missing.json");
	ck_assert_int_eq(manifest_load(path, &m, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "missing.json"));
	lm_err_release(&err);

	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	free(path);
	free(sub);
	free(real);
	free(dir);
}
END_TEST

START_TEST(test_bundle_fields)
{
	static const char *json = "{\"layers\": [{\"from\": \"app\", \"bundle\": {\"node\": {\"entry\": [\"src/index.js\", \"b.mjs\"],\n"
				  "  \"external\": [\"better-sqlite3\", \"@aws-sdk/*\"], \"format\": \"esm\", \"minify\": true,\n"
				  "  \"sourcemap\": true, \"target\": \"node20.11\"}}}, {\"from\": \"x\", \"bundle\": {\"node\": {\"entry\": \"i.js\"}}},\n"
				  "  {\"from\": \"plain\"}]}";
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_msg(parse(json, &m, &err) == 0, "%s", err.msg);
	const struct bundle_node_spec *b = &m.layers[0].bundle;
	ck_assert(b->set);
	ck_assert_uint_eq(b->nentry, 2);
	ck_assert_str_eq(b->entry[0], "src/index.js");
	ck_assert_str_eq(b->entry[1], "b.mjs");
	ck_assert_uint_eq(b->nexternal, 2);
	ck_assert_str_eq(b->external[1], "@aws-sdk/*");
	ck_assert_int_eq(b->format, BUNDLE_ESM);
	ck_assert(b->minify && b->sourcemap);
	ck_assert_str_eq(b->target, "node20.11");
	b = &m.layers[1].bundle;
	ck_assert(b->set && b->nentry == 1 && !b->minify && !b->sourcemap && b->format == BUNDLE_CJS && !b->target);
	ck_assert(!m.layers[2].bundle.set);
	manifest_release(&m);
}
END_TEST

SUITE(manifest)
{
	Suite *s = suite_create("manifest");
	TCASE(s, test_full_manifest);
	TCASE(s, test_defaults);
	TCASE(s, test_cmd_string_and_switches);
	TCASE(s, test_bad_manifests);
	TCASE(s, test_bundle_fields);
	TCASE(s, test_edit_distance_table);
	TCASE(s, test_errors_collected);
	TCASE(s, test_load_resolves_against_file_dir);
	return s;
}
