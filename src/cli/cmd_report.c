/* cmd_report.c - lamina report MANIFEST|IMAGE [--format F] [-o FILE]: where the bytes go,
 * what prune did, Lambda's limits, the slowest imports. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build/build.h"
#include "build/source.h"
#include "cli/buildcmd.h"
#include "cli/cmds.h"
#include "cli/options.h"
#include "common/alloc.h"
#include "common/str.h"
#include "image/cache.h"
#include "image/oci.h"
#include "report/render.h"
#include "report/scan.h"
#include "run/verify.h"

static const char usage[] =
	"usage: lamina report MANIFEST|IMAGE [--format text|json|markdown|html] [-o FILE] [options]\n"
	"\n"
	"Reports on an image, or on the image and the zip a manifest makes:\n"
	"  - where the bytes go: per layer (compressed and uncompressed; shared with the base\n"
	"    or unique to this image), per package (Python distributions and top-level\n"
	"    modules, npm packages; uncompressed and zipped) and the 20 largest files;\n"
	"  - what prune did (MANIFEST): before and after per layer, rule and package, in\n"
	"    uncompressed, gzip'd-layer and zipped bytes, and the .pyc and compile cache added;\n"
	"  - Lambda's limits: the image (10 GiB), the zip with the manifest's other layers\n"
	"    (262,144,000 bytes unzipped), the 50 MB direct upload, at most 5 layers, each with\n"
	"    a verdict and the headroom, and a recommendation between image and zip;\n"
	"  - cold start: the 15 slowest imports while verify loaded the imports and the\n"
	"    handler (Python -X importtime; Node.js each require()), in cumulative ms.\n"
	"\n"
	"MANIFEST (a *.json file) is built as 'lamina build' would, into the cache only, the\n"
	"zip measured as 'lamina zip' would write it, and verified (not taken from the cache).\n"
	"IMAGE is an archive written by 'lamina build' (a path), oci-archive:PATH[:REF],\n"
	"oci:DIR[:TAG], docker-archive:PATH or a registry reference; its lamina.verify label's\n"
	"checks are run to time the imports (--no-verify skips them).\n"
	"\n"
	"Options:\n"
	"  -f, --format FORMAT     text, json (exact bytes, camelCase keys), markdown (a\n"
	"                          pull-request comment or $GITHUB_STEP_SUMMARY) or html\n"
	"                          (one self-contained file:\n"
	"                          a treemap of bytes per package, bars per prune rule, gauges\n"
	"                          against the limits; no script, nothing from the network);\n"
	"                          default: from -o's extension (.json, .md, .html), else text\n"
	"  -o, --output FILE       write the report to FILE (atomically) instead of standard\n"
	"                          output\n"
	"%s"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"The report goes to standard output (or FILE); progress and notes to standard error.\n"
	"Exit status 3 when a hard limit is exceeded (after the report is written), 7 when a\n"
	"verify check fails.\n";

/* v from the image's lamina.verify label; 0 without one (v->set stays 0). */
static int label_spec(const struct lm_image *img, struct verify_spec *v, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	size_t kl = strlen(VERIFY_LABEL);
	int ret = 0;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0)
		return lm_err_wrap(err, "image config");
	oci_config_view_get(cfg, &view);
	for (size_t i = 0; i < view.nlabels; i++) {
		if (strncmp(view.labels[i], VERIFY_LABEL, kl) != 0 || view.labels[i][kl] != '=')
			continue;
		if (verify_spec_from_json(view.labels[i] + kl + 1, v, err) < 0)
			ret = -1;
		else
			v->set = v->from_label = 1;
		break;
	}
	oci_config_view_release(&view);
	oci_config_free(cfg);
	return ret;
}

static void add_imports(struct report *r, const struct verify_outcome *vo)
{
	r->have_imports = 1;
	free(r->runtime);
	r->runtime = lm_xstrdup(lm_runtime_name(vo->runtime));
	for (size_t i = 0; i < vo->ntimes; i++)
		report_add_import(r, vo->times[i].module, (double)vo->times[i].self_us / 1e3,
				  (double)vo->times[i].cum_us / 1e3);
}

/* The image at spec, scanned, its imports timed by its label's checks. The verify
 * error, if any, goes to verr: the report is still made. */
static int image_report(const char *arg, int no_verify, struct reg_opts *reg, const struct lm_opts *o,
			struct report *rep, struct lm_err *verr, struct lm_err *err)
{
	struct source_opts so = { .platform = reg->platform, .reg = reg };
	struct cache *c = NULL;
	struct lm_image img;
	struct verify_spec v = { 0 };
	struct verify_outcome vo = { 0 };
	char *spec = cli_source_spec(arg);
	int ret = -1;
	image_init(&img);
	if (!(c = cache_open(o->cache_dir, err)))
		goto out;
	if (source_open(spec, &so, c, &img, err) < 0) {
		lm_err_wrap(err, "'%s'", arg);
		goto out;
	}
	rep->source = lm_xstrdup(arg);
	if (report_scan_image(rep, &img, c, 1, NULL, err) < 0) {
		lm_err_wrap(err, "'%s'", arg);
		goto out;
	}
	if (!no_verify && label_spec(&img, &v, err) < 0)
		goto out;
	if (v.set) {
		if (!o->quiet)
			fprintf(stderr, "lamina: report: timing the imports with the image's lamina.verify checks\n");
		if (verify_run(&img, c, &v, NULL, o, &vo, verr) == 0 || vo.ntimes)
			add_imports(rep, &vo);
	}
	report_finish(rep);
	ret = 0;
out:
	verify_outcome_release(&vo);
	verify_spec_release(&v);
	image_release(&img);
	cache_free(c);
	free(spec);
	return ret;
}

static int is_manifest(const char *arg)
{
	struct stat st;
	return lm_str_endswith(arg, ".json") && stat(arg, &st) == 0 && S_ISREG(st.st_mode);
}

int cmd_report(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		BUILDCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_getopt gopt;
	struct buildcli b;
	struct build_request r;
	struct build_zip z = { NULL, -1, NULL, 0, -1, 1 };
	struct build_result res;
	struct report img_rep;
	struct lm_err verr = LM_ERR_INIT;
	const struct report *rep = NULL;
	enum report_format fmt = REPORT_TEXT;
	const char *out = NULL;
	int c, ret = -1, fmt_set = 0;

	memset(&r, 0, sizeof(r));
	build_result_init(&res);
	report_init(&img_rep);
	buildcli_init(&b);
	cli_getopt_init(&gopt, "f:o:h", longopts);
	while ((c = buildcli_next(&gopt, &b, argc, argv, o, err)) != -1) {
		if (c == CLI_GETOPT_ERROR)
			goto out;
		switch (c) {
		case 'f':
			if (report_format_parse(optarg, &fmt, err) < 0)
				goto out;
			fmt_set = 1;
			break;
		case 'o':
			out = optarg;
			break;
		default: /* -h, --help (or an option this switch does not handle) */
			ret = cli_help_option(c, "report", err, usage, buildcli_help, regcli_help);
			goto out;
		}
	}
	if (optind != argc - 1) {
		lm_err_set(err, LM_E_USAGE, "expected one MANIFEST or IMAGE argument; see 'lamina report --help'");
		goto out;
	}
	if (out && !*out) {
		lm_err_set(err, LM_E_USAGE, "--output must name a file");
		goto out;
	}
	if (!fmt_set && out)
		fmt = report_format_for_path(out);
	if (is_manifest(argv[optind])) {
		if (buildcli_finish(&b, argv[optind], o, &r, err) < 0)
			goto out;
		r.zip = &z;
		r.report = 1;
		r.full_report = 1;
		if (cli_build(&r, o, &res, err) < 0) {
			if (err->code != LM_E_VERIFY || !res.full.recommendation)
				goto out;
			/* the checks failed: the report still, then the failure */
			verr = *err;
			*err = (struct lm_err)LM_ERR_INIT;
		}
		rep = &res.full;
	} else {
		if (b.base || b.cache_to || b.ncache_from) {
			lm_err_set(err, LM_E_USAGE,
				   "--base, --cache-from and --cache-to go with a MANIFEST, not an image");
			goto out;
		}
		if (regcli_check(&b.rc, err) < 0)
			goto out;
		regcli_global(&b.reg, o);
		regcli_fill(&b.rc, &b.reg);
		if (image_report(argv[optind], b.no_verify, &b.reg, o, &img_rep, &verr, err) < 0)
			goto out;
		rep = &img_rep;
	}
	if (out) {
		if (report_write_file(rep, fmt, out, err) < 0)
			goto out;
		if (!o->quiet)
			fprintf(stderr, "lamina: report: wrote %s\n", out);
	} else {
		report_render(rep, fmt, 0, stdout);
	}
	if (verr.code) {
		lm_err_set(err, verr.code, "%s", verr.msg);
		goto out;
	}
	for (size_t i = 0; i < rep->nlimits; i++)
		if (!rep->limits[i].ok && rep->limits[i].hard) {
			char v[96];
			lm_err_set(err, LM_E_INPUT, "%s: %s (the report says more)", rep->limits[i].name,
				   report_verdict(&rep->limits[i], v, sizeof(v)));
			goto out;
		}
	ret = 0;
out:
	lm_err_release(&verr);
	report_release(&img_rep);
	buildcli_release(&b);
	build_result_release(&res);
	return ret;
}
