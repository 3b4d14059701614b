/* cmd_inspect.c - lamina inspect SOURCE [--json]: what an image holds, every blob and layer checked. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "build/source.h"
#include "cli/cmds.h"
#include "cli/options.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/str.h"
#include "image/cache.h"
#include "image/layercheck.h"
#include "image/oci.h"
#include "report/model.h"
#include "report/scan.h"

static const char usage[] =
	"usage: lamina inspect SOURCE [--json] [--tree [--layer N] [--depth D]] [--largest N]\n"
	"\n"
	"Reads an image, checks every blob against its digest and every layer as its media type\n"
	"says (a whole tar in that compression) against the config's diff_id, and prints the\n"
	"manifest digest, the config (platform, entrypoint, cmd, workdir, env, labels) and the\n"
	"layers with compressed and uncompressed sizes, their names (the manifest layer's, from\n"
	"the history lamina writes; \"base\" for the base image's) and what made them, and the\n"
	"bytes shared with the base against those unique to this image.\n"
	"\n"
	"SOURCE is an archive written by 'lamina build' (a path), oci-archive:PATH[:REF],\n"
	"oci:DIR[:TAG], docker-archive:PATH or a registry reference; its blobs go into the cache.\n"
	"\n"
	"Options:\n"
	"  --json                  machine-readable output\n"
	"  --tree                  the files as a tree with the bytes under each directory (as\n"
	"                          a container sees them: later layers over earlier ones,\n"
	"                          whiteouts applied), instead of the listing\n"
	"  --layer N               with --tree or --largest: only layer N (1 is the first)\n"
	"  --depth D               with --tree: down to D levels (default 3; 0: all)\n"
	"  --largest N             the N largest files, with their layer, instead of the listing\n"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"A blob that does not match its digest, or a layer its diff_id or media type, gives\n"
	"exit status 7 (after the listing).\n";

static json_t *strv_json(char **v, size_t n)
{
	json_t *a;
	if (!v)
		return json_null();
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void print_strv(const char *label, char **v, size_t n)
{
	printf("%-11s", label);
	if (!v) {
		printf("(none)\n");
		return;
	}
	printf("[");
	for (size_t i = 0; i < n; i++)
		printf("%s\"%s\"", i ? ", " : "", v[i]);
	printf("]\n");
}

static int cmp_size(const void *a, const void *b)
{
	const struct report_entry *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* The layer's name: the manifest layer's (lamina's history), else "base". */
static char *layer_label(const struct oci_config_view *v, size_t nlayers, size_t i)
{
	char *n = v->nlayer_history == nlayers ? report_layer_name(v->layer_history[i]) : NULL;
	return n ? n : lm_xstrdup("base");
}

/* --tree and --largest: the files of the image (or of one layer). */
static int show_files(const struct lm_image *img, struct cache *c, const struct oci_config_view *v, int tree,
		      long layer, long depth, long largest, int as_json, struct lm_err *err)
{
	struct report rep;
	struct report_entries all = { 0 }, sel = { 0 }, m = { 0 };
	int ret = -1;
	report_init(&rep);
	if (report_scan_image(&rep, img, c, 0, &all, err) < 0)
		goto out;
	for (size_t i = 0; i < all.n; i++) {
		if (layer > 0 && all.v[i].layer != (size_t)(layer - 1))
			continue;
		lm_grow((void **)&sel.v, &sel.cap, sel.n + 1, sizeof(*sel.v));
		sel.v[sel.n] = all.v[i];
		sel.v[sel.n++].path = lm_xstrdup(all.v[i].path);
	}
	report_entries_merge(&sel, &m);
	if (tree) {
		if (as_json) {
			json_t *a = json_array();
			for (size_t i = 0; i < m.n; i++)
				json_array_append_new(a, json_pack("{s:s,s:s#,s:I,s:I}", "path", m.v[i].path, "type", &m.v[i].type,
								   (size_t)1, "size", (json_int_t)m.v[i].size, "layer",
								   (json_int_t)m.v[i].layer + 1));
			char *out = json_dumps(a, JSON_INDENT(2));
			puts(out);
			free(out);
			json_decref(a);
		} else {
			report_tree_print(&m, (unsigned)depth, stdout);
		}
	}
	if (largest > 0) {
		size_t n = 0;
		json_t *a = json_array();
		char h[32];
		if (m.n)
			qsort(m.v, m.n, sizeof(*m.v), cmp_size);
		for (size_t i = 0; i < m.n && n < (size_t)largest; i++) {
			char *ln;
			if (m.v[i].type != 'f')
				continue;
			n++;
			ln = layer_label(v, img->manifest.nlayers, m.v[i].layer);
			if (as_json)
				json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:s}", "path", m.v[i].path, "size",
								   (json_int_t)m.v[i].size, "layer", (json_int_t)m.v[i].layer + 1,
								   "layerName", ln));
			else
				printf("%10s  %-3zu %-12s /%s\n", lm_human_bytes(m.v[i].size, h, sizeof(h)), m.v[i].layer + 1, ln,
				       m.v[i].path);
			free(ln);
		}
		if (as_json) {
			char *out = json_dumps(a, JSON_INDENT(2));
			puts(out);
			free(out);
		}
		json_decref(a);
	}
	ret = 0;
out:
	report_entries_release(&all);
	report_entries_release(&sel);
	report_entries_release(&m);
	report_release(&rep);
	return ret;
}

/* Bytes of the base's layers (those without lamina's history entry) and of the others;
 * 0 when no layer is lamina's (then which are the base's is not known). */
static int shared_unique(const struct lm_image *img, const struct oci_config_view *v, const uint64_t *usize,
			 uint64_t out[4])
{
	int any = 0;
	memset(out, 0, 4 * sizeof(*out));
	for (size_t i = 0; i < img->manifest.nlayers; i++) {
		char *n = v->nlayer_history == img->manifest.nlayers ? report_layer_name(v->layer_history[i]) : NULL;
		int k = n ? 2 : 0;
		any |= n != NULL;
		free(n);
		out[k] += (uint64_t)img->manifest.layers[i].size;
		out[k + 1] += usize[i];
	}
	return any;
}

/* One layer as checked. */
struct lcheck {
	struct layer_check lc;
	char *problem; /* why it is bad, or NULL */
};

int cmd_inspect(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "tree", no_argument, NULL, 'T' },
		{ "layer", required_argument, NULL, 'L' },
		{ "depth", required_argument, NULL, 'D' },
		{ "largest", required_argument, NULL, 'N' },
		REGCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_getopt gopt;
	struct regcli rc;
	struct reg_opts reg = { 0 };
	struct source_opts so = { NULL, &reg, NULL, 0, 0 };
	struct cache *c = NULL;
	struct lm_image img;
	struct oci_config *cfg = NULL;
	struct oci_config_view v = { 0 };
	struct lcheck *lv = NULL;
	char *spec = NULL;
	int ch, as_json = 0, ret = -1, problems = 0, tree = 0;
	long layer = 0, depth = 3, largest = 0;
	uint64_t *us = NULL, su[4];
	char a1[32], a2[32];
	uint64_t tc = 0, tu = 0;

	image_init(&img);
	regcli_init(&rc);
	cli_getopt_init(&gopt, "h", longopts);
	while ((ch = regcli_next(&gopt, &rc, argc, argv, o, err)) != -1) {
		if (ch == CLI_GETOPT_ERROR)
			goto out;
		switch (ch) {
		case 'J':
			as_json = 1;
			break;
		case 'T':
			tree = 1;
			break;
		case 'L':
			if (cli_int("--layer", optarg, 1, 1000000, &layer, err) < 0)
				goto out;
			break;
		case 'D':
			if (cli_int("--depth", optarg, 0, 1000, &depth, err) < 0)
				goto out;
			break;
		case 'N':
			if (cli_int("--largest", optarg, 1, 1000000, &largest, err) < 0)
				goto out;
			break;
		default: /* -h, --help (or an option this switch does not handle) */
			ret = cli_help_option(ch, "inspect", err, usage, regcli_help);
			goto out;
		}
	}
	if (cli_operands(argc, 1, "one SOURCE argument", "inspect", err) < 0)
		goto out;
	if (layer && !tree && !largest) {
		lm_err_set(err, LM_E_USAGE, "--layer goes with --tree or --largest");
		goto out;
	}
	if (regcli_check(&rc, err) < 0)
		goto out;
	regcli_global(&reg, o);
	regcli_fill(&rc, &reg);
	so.platform = reg.platform;
	spec = cli_source_spec(argv[optind]);
	if (!(c = cache_open(o->cache_dir, err)))
		goto out;
	if (source_open(spec, &so, c, &img, err) < 0) {
		lm_err_wrap(err, "'%s'", argv[optind]);
		goto out;
	}
	if (oci_config_parse(img.config_raw, img.config_len, &cfg, err) < 0) {
		lm_err_wrap(err, "'%s': config", argv[optind]);
		goto out;
	}
	oci_config_view_get(cfg, &v);
	lv = lm_xcalloc(img.manifest.nlayers + 1, sizeof(*lv));
	us = lm_xcalloc(img.manifest.nlayers + 1, sizeof(*us));
	for (size_t i = 0; i < img.manifest.nlayers; i++) {
		struct lm_err e2 = LM_ERR_INIT;
		if (layer_check(c, &img.manifest.layers[i], &lv[i].lc, &e2) < 0)
			lv[i].problem = lm_asprintf("layer %zu (%s): %s", i + 1, img.manifest.layers[i].digest, e2.msg);
		else if (i >= v.ndiff_ids || strcmp(lv[i].lc.diff_id, v.diff_ids[i]) != 0)
			lv[i].problem = lm_asprintf("layer %zu (%s): its uncompressed content is %s, the config's diff_id %s",
						    i + 1, img.manifest.layers[i].digest, lv[i].lc.diff_id,
						    i < v.ndiff_ids ? v.diff_ids[i] : "(missing)");
		lm_err_release(&e2);
		problems += lv[i].problem != NULL;
		us[i] = lv[i].lc.usize;
	}
	if (img.manifest.nlayers != v.ndiff_ids)
		problems++;
	if (layer > (long)img.manifest.nlayers) {
		lm_err_set(err, LM_E_USAGE, "--layer %ld: '%s' has %zu layers", layer, argv[optind], img.manifest.nlayers);
		goto out;
	}
	if (tree || largest) {
		if (show_files(&img, c, &v, tree, layer, depth, largest, as_json, err) < 0) {
			lm_err_wrap(err, "'%s'", argv[optind]);
			goto out;
		}
	} else if (as_json) {
		json_t *j = json_object(), *layers = json_array(), *cj = json_object();
		json_object_set_new(j, "manifestDigest", json_string(img.manifest_digest));
		json_object_set_new(j, "mediaType", json_string(img.manifest.media_type ? img.manifest.media_type : ""));
		json_object_set_new(j, "ref", json_string(img.name ? img.name : spec));
		json_object_set_new(j, "baseName", img.manifest.base_name ? json_string(img.manifest.base_name) : json_null());
		json_object_set_new(j, "baseDigest",
				    img.manifest.base_digest ? json_string(img.manifest.base_digest) : json_null());
		json_object_set_new(cj, "os", json_string(v.os ? v.os : ""));
		json_object_set_new(cj, "architecture", json_string(v.arch ? v.arch : ""));
		json_object_set_new(cj, "entrypoint", strv_json(v.entrypoint, v.nentrypoint));
		json_object_set_new(cj, "cmd", strv_json(v.cmd, v.ncmd));
		json_object_set_new(cj, "workdir", v.workdir ? json_string(v.workdir) : json_null());
		json_object_set_new(cj, "env", strv_json(v.env, v.nenv));
		json_object_set_new(cj, "labels", strv_json(v.labels, v.nlabels));
		json_object_set_new(j, "config", cj);
		for (size_t i = 0; i < img.manifest.nlayers; i++) {
			const struct oci_descriptor *d = &img.manifest.layers[i];
			json_t *l = json_object();
			json_object_set_new(l, "digest", json_string(d->digest));
			json_object_set_new(l, "mediaType", json_string(d->media_type ? d->media_type : ""));
			json_object_set_new(l, "size", json_integer(d->size));
			json_object_set_new(l, "uncompressedSize", json_integer((json_int_t)lv[i].lc.usize));
			json_object_set_new(l, "diffId", json_string(i < v.ndiff_ids ? v.diff_ids[i] : ""));
			{
				char *ln = v.nlayer_history == img.manifest.nlayers ? report_layer_name(v.layer_history[i]) : NULL;
				json_object_set_new(l, "name", ln ? json_string(ln) : json_null());
				json_object_set_new(l, "base", json_boolean(ln == NULL));
				free(ln);
			}
			json_object_set_new(l, "createdBy", i < v.nlayer_history && v.nlayer_history == img.manifest.nlayers
								    ? json_string(v.layer_history[i])
								    : json_null());
			json_object_set_new(l, "verified", json_boolean(!lv[i].problem));
			if (lv[i].problem)
				json_object_set_new(l, "problem", json_string(lv[i].problem));
			json_array_append_new(layers, l);
			tc += (uint64_t)d->size;
			tu += lv[i].lc.usize;
		}
		json_object_set_new(j, "layers", layers);
		json_object_set_new(j, "size", json_integer((json_int_t)tc));
		json_object_set_new(j, "uncompressedSize", json_integer((json_int_t)tu));
		if (shared_unique(&img, &v, us, su)) {
			json_object_set_new(j, "sharedWithBase", json_pack("{s:I,s:I}", "size", (json_int_t)su[0],
									   "uncompressedSize", (json_int_t)su[1]));
			json_object_set_new(j, "uniqueToImage", json_pack("{s:I,s:I}", "size", (json_int_t)su[2],
									  "uncompressedSize", (json_int_t)su[3]));
		}
		json_object_set_new(j, "problems", json_integer(problems));
		{
			char *out = json_dumps(j, JSON_INDENT(2));
			puts(out);
			free(out);
		}
		json_decref(j);
	} else {
		printf("manifest   %s (%s)\n", img.manifest_digest,
		       img.manifest.media_type ? img.manifest.media_type : "no mediaType");
		printf("source     %s\n", img.name ? img.name : spec);
		if (img.manifest.base_name)
			printf("base       %s%s%s\n", img.manifest.base_name, img.manifest.base_digest ? "@" : "",
			       img.manifest.base_digest ? img.manifest.base_digest : "");
		printf("platform   %s/%s\n", v.os ? v.os : "?", v.arch ? v.arch : "?");
		print_strv("entrypoint", v.entrypoint, v.nentrypoint);
		print_strv("cmd", v.cmd, v.ncmd);
		printf("%-11s%s\n", "workdir", v.workdir ? v.workdir : "(none)");
		for (size_t i = 0; i < v.nenv; i++)
			printf("%-11s%s\n", i ? "" : "env", v.env[i]);
		for (size_t i = 0; i < v.nlabels; i++)
			printf("%-11s%s\n", i ? "" : "labels", v.labels[i]);
		printf("layers     %-4s %-12s %12s %12s  %-19s  %s\n", "#", "name", "compressed", "uncompressed", "digest",
		       "created by");
		for (size_t i = 0; i < img.manifest.nlayers; i++) {
			const struct oci_descriptor *d = &img.manifest.layers[i];
			const char *by = v.nlayer_history == img.manifest.nlayers ? v.layer_history[i] : "";
			char *ln = layer_label(&v, img.manifest.nlayers, i);
			printf("           %-4zu %-12.12s %12s %12s  %.19s  %.60s%s\n", i + 1, ln,
			       lm_human_bytes((uint64_t)d->size, a1, sizeof(a1)), lm_human_bytes(lv[i].lc.usize, a2, sizeof(a2)),
			       d->digest, by, lv[i].problem ? "  (BAD)" : "");
			free(ln);
			tc += (uint64_t)d->size;
			tu += lv[i].lc.usize;
		}
		printf("total      %-4s %-12s %12s %12s\n", "", "", lm_human_bytes(tc, a1, sizeof(a1)),
		       lm_human_bytes(tu, a2, sizeof(a2)));
		if (shared_unique(&img, &v, us, su)) {
			char p1[32], p2[32], p3[32];
			printf("shared     %s compressed, %s uncompressed with the base (%s); unique to this image: %s, %s\n",
			       lm_human_bytes(su[0], a1, sizeof(a1)), lm_human_bytes(su[1], a2, sizeof(a2)),
			       report_pct(su[0], su[0] + su[2], p1, sizeof(p1)), lm_human_bytes(su[2], p2, sizeof(p2)),
			       lm_human_bytes(su[3], p3, sizeof(p3)));
		}
	}
	if (problems) {
		const char *first = NULL;
		for (size_t i = 0; i < img.manifest.nlayers && !first; i++)
			first = lv[i].problem;
		lm_err_set(err, LM_E_VERIFY, "'%s': %d problem%s: %s", argv[optind], problems, problems == 1 ? "" : "s",
			   first ? first : "the config's diff_ids do not match the layers");
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; lv && i < img.manifest.nlayers; i++)
		free(lv[i].problem);
	free(lv);
	free(us);
	oci_config_view_release(&v);
	oci_config_free(cfg);
	image_release(&img);
	cache_free(c);
	regcli_release(&rc);
	free(spec);
	return ret;
}
