/* text.c - the report for a terminal: aligned columns, biggest first. */
#include "report/render.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

#define NAMEW_MAX 56

static const char *hb(uint64_t n, char *buf, size_t sz)
{
	return lm_human_bytes(n, buf, sz);
}

/* A name cut to w columns (with "..." in the middle of what is cut). */
static const char *fit(const char *s, size_t w, char *buf, size_t sz)
{
	size_t n = strlen(s);
	if (n <= w || w < 8) {
		snprintf(buf, sz, "%s", s);
		return buf;
	}
	snprintf(buf, sz, "%.*s...%s", (int)(w - 3) / 2, s, s + n - (w - 3 - (w - 3) / 2));
	return buf;
}

static size_t width(size_t cur, const char *s)
{
	size_t n = strlen(s);
	if (n > NAMEW_MAX)
		n = NAMEW_MAX;
	return n > cur ? n : cur;
}

static void layers_table(const struct report *r, FILE *f)
{
	size_t w = 8, nb = 0;
	uint64_t s, u, bs, bu;
	char a[32], b[32], c[32], nm[128];
	for (size_t i = 0; i < r->nlayers; i++)
		w = width(w, r->layers[i].name);
	report_totals(r, &s, &u, &bs, &bu);
	fprintf(f, "where the bytes go\n");
	fprintf(f, "  %-*s %12s %13s %8s\n", (int)w, "layer", "compressed", "uncompressed", "files");
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct report_layer *l = &r->layers[i];
		char files[24] = "";
		nb += l->base;
		if (l->files)
			snprintf(files, sizeof(files), "%llu", (unsigned long long)l->files);
		fprintf(f, "  %-*s %12s %13s %8s  %s\n", (int)w, fit(l->name, w, nm, sizeof(nm)),
			hb(l->size, a, sizeof(a)), hb(l->usize, b, sizeof(b)), files,
			l->base ? "shared with the base" : "unique to this image");
	}
	fprintf(f, "  %-*s %12s %13s\n", (int)w, "total", hb(s, a, sizeof(a)), hb(u, b, sizeof(b)));
	fprintf(f, "  shared with the base: %s compressed (%s); unique to this image: %s (%s)\n", hb(bs, a, sizeof(a)),
		report_pct(bs, s, c, sizeof(c)), hb(s - bs, b, sizeof(b)), report_pct(s - bs, s, nm, sizeof(nm)));
}

static void pkgs_table(const struct report *r, size_t max, FILE *f)
{
	size_t w = 8, n = r->npkgs < max ? r->npkgs : max, lw = 5;
	char a[32], b[32], nm[128], cnt[48];
	if (!r->npkgs)
		return;
	for (size_t i = 0; i < n; i++) {
		w = width(w, r->pkgs[i].name);
		lw = width(lw, r->pkgs[i].layer);
	}
	fprintf(f, "packages (%s%s)\n", report_plural(r->npkgs, "package", "packages", cnt, sizeof(cnt)),
		n < r->npkgs ? ", the biggest shown; -v for all" : "");
	fprintf(f, "  %-*s %-7s %-*s %8s %13s %10s\n", (int)w, "package", "kind", (int)lw, "layer", "files",
		"uncompressed", "zipped");
	for (size_t i = 0; i < n; i++) {
		const struct report_pkg *p = &r->pkgs[i];
		fprintf(f, "  %-*s %-7s %-*s %8llu %13s %10s\n", (int)w, fit(p->name, w, nm, sizeof(nm)),
			*p->eco ? p->eco : "-", (int)lw, p->layer, (unsigned long long)p->files,
			hb(p->usize, a, sizeof(a)), p->zsize ? hb(p->zsize, b, sizeof(b)) : "-");
	}
}

static void files_table(const struct report *r, FILE *f)
{
	char a[32], nm[128];
	if (!r->nfiles)
		return;
	fprintf(f, "largest files\n");
	for (size_t i = 0; i < r->nfiles; i++)
		fprintf(f, "  %10s  %-12s /%s\n", hb(r->files[i].size, a, sizeof(a)),
			fit(r->files[i].layer, 12, nm, sizeof(nm)), r->files[i].path);
}

static void delta_row(const struct report_delta *d, size_t w, FILE *f)
{
	char a[32], b[32], c[32], e[32], nm[128], p[32];
	uint64_t sv = d->before[REPORT_U] - d->after[REPORT_U];
	fprintf(f, "  %-*s ", (int)w, fit(d->name, w, nm, sizeof(nm)));
	fprintf(f, "%8llu %11s %11s %8s", (unsigned long long)(d->files_before - d->files_after),
		hb(d->before[REPORT_U], a, sizeof(a)), hb(d->after[REPORT_U], b, sizeof(b)),
		report_pct(sv, d->before[REPORT_U], p, sizeof(p)));
	if (d->have[REPORT_ZIP])
		fprintf(f, " %11s %11s", hb(d->before[REPORT_ZIP], c, sizeof(c)),
			hb(d->after[REPORT_ZIP], e, sizeof(e)));
	else
		fprintf(f, " %11s %11s", "-", "-");
	fprintf(f, "\n");
}

static void prune_tables(const struct report *r, int brief, FILE *f)
{
	size_t w = 8, lw = 5, shown = 0;
	char a[32], b[32], c[32], e[32], g[32], h[32], cnt[48];
	if (!r->have_prune)
		return;
	fprintf(f, "what prune did\n");
	for (size_t i = 0; i < r->nplayers; i++) {
		const struct report_delta *d = &r->players[i];
		if (d->before[REPORT_U] == d->after[REPORT_U] && d->files_before == d->files_after) {
			fprintf(f, "  layer '%s': unchanged (%s, %s)\n", d->layer, hb(d->after[REPORT_U], a, sizeof(a)),
				report_plural(d->files_after, "file", "files", cnt, sizeof(cnt)));
			continue;
		}
		fprintf(f, "  layer '%s': %s -> %s uncompressed", d->layer, hb(d->before[REPORT_U], a, sizeof(a)),
			hb(d->after[REPORT_U], b, sizeof(b)));
		if (d->have[REPORT_GZ])
			fprintf(f, ", %s -> %s gzip'd", hb(d->before[REPORT_GZ], c, sizeof(c)),
				hb(d->after[REPORT_GZ], e, sizeof(e)));
		if (d->have[REPORT_ZIP])
			fprintf(f, ", %s -> %s zipped", hb(d->before[REPORT_ZIP], g, sizeof(g)),
				hb(d->after[REPORT_ZIP], h, sizeof(h)));
		fprintf(f, " (%s)\n",
			report_plural(d->files_before - d->files_after, "file removed", "files removed", cnt,
				      sizeof(cnt)));
	}
	if (r->pyc_files)
		fprintf(f, "  added by precompile: %s of .pyc in %s\n", hb(r->pyc_bytes, a, sizeof(a)),
			report_plural(r->pyc_files, "file", "files", cnt, sizeof(cnt)));
	if (r->cache_files)
		fprintf(f, "  added: %s of Node compile cache in %s\n", hb(r->cache_bytes, a, sizeof(a)),
			report_plural(r->cache_files, "file", "files", cnt, sizeof(cnt)));
	if (brief)
		return;
	for (size_t i = 0; i < r->nrules; i++) {
		w = width(w, r->rules[i].name);
		lw = width(lw, r->rules[i].layer);
	}
	for (size_t i = 0; i < r->nppkgs; i++)
		w = width(w, r->ppkgs[i].name);
	if (r->nrules) {
		fprintf(f, "  %-*s %-*s %8s %11s %12s\n", (int)w, "rule", (int)lw, "layer", "files", "saved",
			"saved zipped");
		for (size_t i = 0; i < r->nrules; i++) {
			const struct report_delta *d = &r->rules[i];
			char nm[128];
			fprintf(f, "  %-*s %-*s %8llu %11s %12s\n", (int)w, fit(d->name, w, nm, sizeof(nm)), (int)lw,
				d->layer, (unsigned long long)d->files_before,
				hb(d->before[REPORT_U] - d->after[REPORT_U], a, sizeof(a)),
				d->have[REPORT_ZIP] ? hb(d->before[REPORT_ZIP] - d->after[REPORT_ZIP], b, sizeof(b))
						    : "-");
		}
	}
	for (size_t i = 0; i < r->nppkgs; i++)
		shown += r->ppkgs[i].before[REPORT_U] != r->ppkgs[i].after[REPORT_U];
	if (shown) {
		fprintf(f, "  %-*s %8s %11s %11s %8s %11s %11s\n", (int)w, "package", "removed", "before", "after",
			"saved", "zip before", "zip after");
		for (size_t i = 0; i < r->nppkgs; i++)
			if (r->ppkgs[i].before[REPORT_U] != r->ppkgs[i].after[REPORT_U])
				delta_row(&r->ppkgs[i], w, f);
	}
	if (r->nppkgs > shown)
		fprintf(f, "  (%s unchanged)\n",
			report_plural(r->nppkgs - shown, "package", "packages", cnt, sizeof(cnt)));
}

static void limits_table(const struct report *r, FILE *f)
{
	char a[32], b[32], v[96];
	if (r->have_zip && !r->zip_error) {
		char head[32];
		snprintf(head, sizeof(head), "%s zip", r->zip_kind ? r->zip_kind : "");
		fprintf(f, "%-20s %12s %13s\n", head, "zipped", "unzipped");
		fprintf(f, "  %-18s %12s %13s   %s\n", "zip", hb(r->zip_size, a, sizeof(a)),
			hb(r->zip_usize, b, sizeof(b)), report_plural(r->zip_files, "file", "files", v, sizeof(v)));
		if (r->others_usize || r->lambda_layers)
			fprintf(f, "  %-18s %12s %13s   %s, counted in the unzipped limit\n", "other layers", "",
				hb(r->others_usize, b, sizeof(b)),
				report_plural(r->lambda_layers, "manifest layer", "manifest layers", v, sizeof(v)));
	}
	if (!r->nlimits)
		return;
	fprintf(f, "against Lambda's limits\n");
	for (size_t i = 0; i < r->nlimits; i++) {
		const struct report_limit *l = &r->limits[i];
		if (strcmp(l->unit, "bytes") == 0) {
			lm_human_bytes(l->value, a, sizeof(a));
			lm_human_bytes(l->limit, b, sizeof(b));
		} else {
			snprintf(a, sizeof(a), "%llu", (unsigned long long)l->value);
			snprintf(b, sizeof(b), "%llu", (unsigned long long)l->limit);
		}
		fprintf(f, "  %-20s %11s of %-10s %s%s (%s)\n", l->name, a, b, report_verdict(l, v, sizeof(v)),
			l->ok	  ? ""
			: l->hard ? ": Lambda refuses it"
				  : ": upload it through S3",
			l->note);
	}
	if (r->have_zip && r->zip_error)
		fprintf(f, "  %s zip: not possible: %s\n", r->zip_kind ? r->zip_kind : "", r->zip_error);
	if (r->recommendation)
		fprintf(f, "  recommendation: %s\n", r->recommendation);
}

static void imports_table(const struct report *r, size_t max, FILE *f)
{
	size_t n = r->nimports < max ? r->nimports : max, w = 8;
	char nm[128];
	if (!r->have_imports)
		return;
	if (!r->nimports) {
		fprintf(f, "cold start: no imports were timed\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		w = width(w, r->imports[i].module);
	fprintf(f, "cold start: the slowest imports during verify (%s)\n", r->runtime ? r->runtime : "");
	fprintf(f, "  %-*s %14s %10s\n", (int)w, "module", "cumulative ms", "self ms");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-*s %14.1f %10.1f\n", (int)w, fit(r->imports[i].module, w, nm, sizeof(nm)),
			r->imports[i].cum_ms, r->imports[i].self_ms);
}

void report_text(const struct report *r, int brief, FILE *f)
{
	fprintf(f, "report for %s%s%s%s\n", r->source ? r->source : "the image", r->digest ? " (" : "",
		r->digest ? r->digest : "", r->digest ? ")" : "");
	if (r->nlayers)
		layers_table(r, f);
	pkgs_table(r, brief ? 5 : (size_t)-1, f);
	if (!brief)
		files_table(r, f);
	prune_tables(r, brief, f);
	limits_table(r, f);
	imports_table(r, brief ? 5 : REPORT_TOP_IMPORTS, f);
}

int report_format_parse(const char *s, enum report_format *f, struct lm_err *err)
{
	if (strcmp(s, "text") == 0)
		*f = REPORT_TEXT;
	else if (strcmp(s, "json") == 0)
		*f = REPORT_JSON;
	else if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
		*f = REPORT_MARKDOWN;
	else if (strcmp(s, "html") == 0)
		*f = REPORT_HTML;
	else {
		char *q = lm_str_quote(s, 40);
		lm_err_set(err, LM_E_USAGE, "report format '%s': expected text, json, markdown or html", q);
		free(q);
		return -1;
	}
	return 0;
}

enum report_format report_format_for_path(const char *path)
{
	if (lm_str_endswith(path, ".json"))
		return REPORT_JSON;
	if (lm_str_endswith(path, ".md") || lm_str_endswith(path, ".markdown"))
		return REPORT_MARKDOWN;
	if (lm_str_endswith(path, ".html") || lm_str_endswith(path, ".htm"))
		return REPORT_HTML;
	return REPORT_TEXT;
}

void report_render(const struct report *r, enum report_format fmt, int brief, FILE *f)
{
	switch (fmt) {
	case REPORT_JSON:
		report_json(r, f);
		break;
	case REPORT_MARKDOWN:
		report_markdown(r, f);
		break;
	case REPORT_HTML:
		report_html(r, f);
		break;
	default:
		report_text(r, brief, f);
	}
}

int report_write_file(const struct report *r, enum report_format fmt, const char *path, struct lm_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;
	if (!f)
		return lm_err_sys(err, "report");
	report_render(r, fmt, 0, f);
	if (fclose(f) != 0) {
		free(buf);
		return lm_err_sys(err, "report");
	}
	ret = lm_write_file_atomic(path, buf, len, err);
	free(buf);
	return ret;
}
