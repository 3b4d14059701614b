/* cmd_check.c - lamina check SOURCE: will Lambda take this image or zip? (check/check.h) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build/source.h"
#include "check/check.h"
#include "cli/cmds.h"
#include "cli/options.h"
#include "common/alloc.h"
#include "common/str.h"
#include "image/cache.h"

static const char usage[] =
	"usage: lamina check SOURCE [--json] [--arch ARCH] [--with-layer ZIP]... [--handler H]\n"
	"\n"
	"Checks an image or a zip against the rules Lambda enforces at CreateFunction and\n"
	"UpdateFunctionCode (docs/check.md gives the source of each), before the push or the\n"
	"upload: one line per rule (ok, warn or FAIL), naming the layer (number and digest),\n"
	"the entry or the config field at fault. Warnings do not fail the check.\n"
	"\n"
	"SOURCE is an image: oci-archive:PATH[:REF], docker-archive:PATH[:REF], oci:DIR[:TAG], a\n"
	"registry reference, or a path to an archive (OCI, else docker save); or a .zip.\n"
	"\n"
	"Image rules: single-manifest (no index, manifest list or attestation at the reference),\n"
	"platform (linux, amd64 or arm64, = --arch), layer-media-type (gzip; an uncompressed\n"
	"layer is refused), layer-digest (every blob and diff_id right), hardlink, parent-dir\n"
	"(every directory before its entries), whiteout (well-formed), permissions (under\n"
	"/var/task, /opt, /var/runtime, /var/lang: files 0644, directories 0755; a warning),\n"
	"entrypoint (absolute, in the image, executable), handler (CMD resolves under the task\n"
	"root for the image's Python or Node.js), size (10 GiB uncompressed), layer-count (a\n"
	"warning past 127).\n"
	"Zip rules: zip-size (50 MiB for a direct upload), unzipped-size (262,144,000 bytes for\n"
	"the function and its layers), layer-count (at most 5), paths (no absolute or '..'),\n"
	"handler (--handler: its file is in the zip, readable), permissions and symlinks (warnings).\n"
	"\n"
	"Options:\n"
	"  --json                  the report as JSON (for CI)\n"
	"  --arch ARCH             the function's architecture: amd64 (x86_64) or arm64; picks\n"
	"                          from an index too (default: amd64 there, either in the rule)\n"
	"  --with-layer ZIP        a layer zip the function uses (repeatable; zips only)\n"
	"  --handler H             the function's handler (zips; an image's comes from its CMD)\n"
	"  --runtime RT            python or node (default: the image's, or either for a zip)\n"
	"  --s3                    the zips go up through S3: more than 50 MiB is a warning\n"
	"                          (lamina build and zip check their zips this way)\n"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"A rule failed: exit status 8. A source that cannot be read: 3, 4 or 5 as below.\n";

enum { OPT_JSON = 0x3000, OPT_ARCH, OPT_WITH_LAYER, OPT_HANDLER, OPT_RUNTIME, OPT_S3 };

static int is_zip_path(const char *p)
{
	FILE *f;
	unsigned char m[4] = { 0 };
	if (lm_str_endswith(p, ".zip"))
		return 1;
	if (!(f = fopen(p, "rb")))
		return 0;
	if (fread(m, 1, 4, f) != 4)
		m[0] = 0;
	fclose(f);
	return m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}

static char *blob_from_cache(void *ctx, const char *digest, size_t *len)
{
	struct cache *c = ctx;
	char *buf = NULL;
	struct lm_err e = LM_ERR_INIT;
	if (!cache_has(c, digest, -1) || cache_read_blob(c, digest, OCI_JSON_MAX, &buf, len, &e) < 0) {
		lm_err_release(&e);
		return NULL;
	}
	return buf;
}

static int print_report(const struct check_report *rep, const char *source, int as_json, struct lm_err *err)
{
	char *out = as_json ? check_report_json(rep, source) : check_report_text(rep, source);
	if (!as_json) {
		/* entry names come from the image: no control sequences to the terminal */
		char *clean = lm_str_printable(out);
		free(out);
		out = clean;
	}
	fputs(out, stdout);
	if (as_json)
		fputc('\n', stdout);
	free(out);
	if (rep->nfail) {
		char *first = check_report_first_fail(rep);
		lm_err_set(err, LM_E_CHECK, "'%s': %zu rule finding%s failed; first: %s", source, rep->nfail,
			   rep->nfail == 1 ? "" : "s", first);
		free(first);
		return -1;
	}
	return 0;
}

static int check_zips(const char *path, const char *const *layers, size_t nlayers, const char *handler,
		      enum lm_runtime rt, int via_s3, int as_json, struct lm_err *err)
{
	struct check_report rep;
	struct check_zip fn;
	struct check_zip *lz = lm_xcalloc(nlayers + 1, sizeof(*lz));
	int ret = -1;
	check_report_init(&rep, 1);
	check_zip_init(&fn, path);
	for (size_t i = 0; i < nlayers; i++)
		check_zip_init(&lz[i], layers[i]);
	if (check_zip_load(&fn, path, err) < 0)
		goto out;
	for (size_t i = 0; i < nlayers; i++)
		if (check_zip_load(&lz[i], layers[i], err) < 0) {
			lm_err_wrap(err, "--with-layer");
			goto out;
		}
	check_zip_rules(&rep, &fn, lz, nlayers, handler, rt, via_s3);
	ret = print_report(&rep, path, as_json, err);
out:
	check_zip_release(&fn);
	for (size_t i = 0; i < nlayers; i++)
		check_zip_release(&lz[i]);
	free(lz);
	check_report_release(&rep);
	return ret;
}

static int check_source(const char *arg, const char *spec, const struct reg_opts *reg, const struct check_opts *co,
			const struct lm_opts *o, int as_json, struct lm_err *err)
{
	struct source_info info = { 0 };
	struct source_opts so = { NULL, reg, &info, 1, 1 };
	struct check_report rep;
	struct check_image ci;
	struct lm_image img;
	struct cache *c = NULL;
	/* which image of an index: --arch, else --platform, else amd64 */
	char *plat = co->arch		    ? lm_asprintf("linux/%s", co->arch)
		     : reg && reg->platform ? lm_xstrdup(reg->platform)
					    : lm_xstrdup("linux/amd64");
	char *alt = NULL;
	int ret = -1, r;

	check_report_init(&rep, 0);
	check_image_init(&ci);
	image_init(&img);
	so.platform = plat;
	if (!(c = cache_open(o->cache_dir, err)))
		goto out;
	r = source_open(spec, &so, c, &img, err);
	if (r < 0 && err->msg && strstr(err->msg, "no index.json") && lm_str_startswith(spec, "oci-archive:") &&
	    strcmp(spec + 12, arg) == 0) {
		/* a bare path that is not an OCI archive: a docker save archive */
		lm_err_release(err);
		alt = lm_asprintf("docker-archive:%s", arg);
		spec = alt;
		r = source_open(spec, &so, c, &img, err);
	}
	if (r < 0) {
		if (err->code != LM_E_VERIFY) {
			lm_err_wrap(err, "'%s'", arg);
			goto out;
		}
		/* a blob that is not what its name says: a finding, not a read error */
		check_add(&rep, "layer-digest", CHECK_FAIL, "source", "%s", err->msg);
		rep.partial = 1;
		lm_err_release(err);
		ret = print_report(&rep, arg, as_json, err);
		goto out;
	}
	check_top_rules(&rep, info.top, info.top_len, info.layout, blob_from_cache, c);
	if (check_image_load(&ci, &img, c, info.uncompressed, err) < 0) {
		lm_err_wrap(err, "'%s'", arg);
		goto out;
	}
	check_image_rules(&rep, &ci, co);
	ret = print_report(&rep, arg, as_json, err);
out:
	check_image_release(&ci);
	check_report_release(&rep);
	image_release(&img);
	source_info_release(&info);
	cache_free(c);
	free(plat);
	free(alt);
	return ret;
}

int cmd_check(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "with-layer", required_argument, NULL, OPT_WITH_LAYER },
		{ "handler", required_argument, NULL, OPT_HANDLER },
		{ "runtime", required_argument, NULL, OPT_RUNTIME },
		{ "s3", no_argument, NULL, OPT_S3 },
		REGCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const arches[] = { "amd64", "arm64", "x86_64", "aarch64", NULL };
	struct cli_getopt gopt;
	struct regcli rc;
	struct reg_opts reg = { 0 };
	struct check_opts co = { NULL, LM_RUNTIME_AUTO };
	const char **layers = NULL;
	const char *handler = NULL;
	size_t nlayers = 0, cap = 0;
	char *spec = NULL;
	int ch, as_json = 0, ret = -1, a, via_s3 = 0;

	regcli_init(&rc);
	cli_getopt_init(&gopt, "h", longopts);
	while ((ch = regcli_next(&gopt, &rc, argc, argv, o, err)) != -1) {
		if (ch == CLI_GETOPT_ERROR)
			goto out;
		switch (ch) {
		case OPT_JSON:
			as_json = 1;
			break;
		case OPT_ARCH:
			if (cli_enum("--arch", optarg, arches, &a, err) < 0)
				goto out;
			co.arch = a == 0 || a == 2 ? "amd64" : "arm64";
			break;
		case OPT_WITH_LAYER:
			lm_grow((void **)&layers, &cap, nlayers + 1, sizeof(*layers));
			layers[nlayers++] = optarg;
			break;
		case OPT_S3:
			via_s3 = 1;
			break;
		case OPT_HANDLER:
			handler = optarg;
			break;
		case OPT_RUNTIME:
			if (lm_runtime_parse(optarg, &co.runtime) < 0) {
				lm_err_set(err, LM_E_USAGE, "--runtime '%s' must be python or node", optarg);
				goto out;
			}
			break;
		default: /* -h, --help (or an option this switch does not handle) */
			ret = cli_help_option(ch, "check", err, usage, regcli_help);
			goto out;
		}
	}
	if (cli_operands(argc, 1, "one SOURCE argument", "check", err) < 0)
		goto out;
	if (regcli_check(&rc, err) < 0)
		goto out;
	if (is_zip_path(argv[optind])) {
		ret = check_zips(argv[optind], layers, nlayers, handler, co.runtime, via_s3, as_json, err);
		goto out;
	}
	if (nlayers || handler || via_s3) {
		lm_err_set(err, LM_E_USAGE,
			   "--with-layer, --handler and --s3 are for zips; an image's handler is its CMD");
		goto out;
	}
	regcli_global(&reg, o);
	regcli_fill(&rc, &reg);
	spec = cli_source_spec(argv[optind]);
	ret = check_source(argv[optind], spec, &reg, &co, o, as_json, err);
out:
	free(layers);
	free(spec);
	regcli_release(&rc);
	return ret;
}
