/* markdown.c - the report for a pull-request comment or $GITHUB_STEP_SUMMARY. */
#include "report/render.h"

#include <string.h>

#include "common/str.h"

/* A table cell: '|' and newlines would break the row; backticks the code span. */
static void cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', f);
		else if (*s == '<')
			fputs("&lt;", f);
		else
			fputc(*s, f);
	}
}

static const char *hb(uint64_t n, char *buf, size_t sz)
{
	return lm_human_bytes(n, buf, sz);
}

void report_markdown(const struct report *r, FILE *f)
{
	char a[32], b[32], c[32], d[32], v[96];
	uint64_t s, u, bs, bu;
	int ok = 1;
	report_totals(r, &s, &u, &bs, &bu);
	for (size_t i = 0; i < r->nlimits; i++)
		ok &= r->limits[i].ok || !r->limits[i].hard;
	fprintf(f, "## lamina report: ");
	cell(f, r->source ? r->source : "image");
	fprintf(f, " %s\n\n", ok ? "✅" : "❌");
	if (r->digest)
		fprintf(f,
			"Image `%s`: **%s** compressed, **%s** uncompressed; %s shared with the base, %s unique.\n\n",
			r->digest, hb(s, a, sizeof(a)), hb(u, b, sizeof(b)), hb(bs, c, sizeof(c)),
			hb(s - bs, d, sizeof(d)));
	if (r->recommendation)
		fprintf(f, "**Recommendation:** %s\n\n", r->recommendation);
	if (r->nlimits) {
		fprintf(f, "### Against Lambda's limits\n\n| limit | value | of | verdict |\n|---|---:|---:|---|\n");
		for (size_t i = 0; i < r->nlimits; i++) {
			const struct report_limit *l = &r->limits[i];
			int bytes = strcmp(l->unit, "bytes") == 0;
			if (bytes) {
				hb(l->value, a, sizeof(a));
				hb(l->limit, b, sizeof(b));
			} else {
				snprintf(a, sizeof(a), "%llu", (unsigned long long)l->value);
				snprintf(b, sizeof(b), "%llu", (unsigned long long)l->limit);
			}
			fprintf(f, "| %s | %s | %s | %s %s |\n", l->name, a, b,
				l->ok	  ? "✅"
				: l->hard ? "❌"
					  : "⚠️",
				report_verdict(l, v, sizeof(v)));
		}
		fprintf(f, "\n");
	}
	if (r->nlayers) {
		fprintf(f, "### Layers\n\n| layer | compressed | uncompressed | files | |\n|---|---:|---:|---:|---|\n");
		for (size_t i = 0; i < r->nlayers; i++) {
			const struct report_layer *l = &r->layers[i];
			fprintf(f, "| ");
			cell(f, l->name);
			fprintf(f, " | %s | %s | %llu | %s |\n", hb(l->size, a, sizeof(a)), hb(l->usize, b, sizeof(b)),
				(unsigned long long)l->files, l->base ? "shared with the base" : "unique");
		}
		fprintf(f, "\n");
	}
	if (r->npkgs) {
		size_t n = r->npkgs < 15 ? r->npkgs : 15;
		fprintf(f, "### Biggest packages\n\n| package | layer | files | uncompressed | zipped "
			   "|\n|---|---|---:|---:|---:|\n");
		for (size_t i = 0; i < n; i++) {
			const struct report_pkg *p = &r->pkgs[i];
			fprintf(f, "| ");
			cell(f, p->name);
			fprintf(f, " | ");
			cell(f, p->layer);
			fprintf(f, " | %llu | %s | %s |\n", (unsigned long long)p->files, hb(p->usize, a, sizeof(a)),
				hb(p->zsize, b, sizeof(b)));
		}
		if (n < r->npkgs)
			fprintf(f, "\n%zu more packages in the full report.\n", r->npkgs - n);
		fprintf(f, "\n");
	}
	if (r->have_prune) {
		fprintf(f, "### What prune did\n\n| | uncompressed | gzip'd layer | zipped |\n|---|---:|---:|---:|\n");
		for (size_t i = 0; i < r->nplayers; i++) {
			const struct report_delta *dl = &r->players[i];
			fprintf(f, "| layer ");
			cell(f, dl->layer);
			fprintf(f, " | %s → %s |", hb(dl->before[REPORT_U], a, sizeof(a)),
				hb(dl->after[REPORT_U], b, sizeof(b)));
			if (dl->have[REPORT_GZ])
				fprintf(f, " %s → %s |", hb(dl->before[REPORT_GZ], a, sizeof(a)),
					hb(dl->after[REPORT_GZ], b, sizeof(b)));
			else
				fprintf(f, " - |");
			if (dl->have[REPORT_ZIP])
				fprintf(f, " %s → %s |\n", hb(dl->before[REPORT_ZIP], a, sizeof(a)),
					hb(dl->after[REPORT_ZIP], b, sizeof(b)));
			else
				fprintf(f, " - |\n");
		}
		if (r->pyc_files)
			fprintf(f, "| .pyc added | +%s | | |\n", hb(r->pyc_bytes, a, sizeof(a)));
		if (r->cache_files)
			fprintf(f, "| compile cache added | +%s | | |\n", hb(r->cache_bytes, a, sizeof(a)));
		if (r->nrules) {
			fprintf(f, "\n| rule | layer | files | saved | saved zipped |\n|---|---|---:|---:|---:|\n");
			for (size_t i = 0; i < r->nrules; i++) {
				const struct report_delta *dr = &r->rules[i];
				fprintf(f, "| `");
				cell(f, dr->name);
				fprintf(f, "` | ");
				cell(f, dr->layer);
				fprintf(f, " | %llu | %s | %s |\n",
					(unsigned long long)(dr->files_before - dr->files_after),
					hb(dr->before[REPORT_U] - dr->after[REPORT_U], a, sizeof(a)),
					dr->have[REPORT_ZIP]
						? hb(dr->before[REPORT_ZIP] - dr->after[REPORT_ZIP], b, sizeof(b))
						: "-");
			}
		}
		fprintf(f, "\n");
	}
	if (r->have_imports && r->nimports) {
		fprintf(f,
			"### Cold start: slowest imports\n\n| module | cumulative ms | self ms |\n|---|---:|---:|\n");
		for (size_t i = 0; i < r->nimports; i++) {
			fprintf(f, "| `");
			cell(f, r->imports[i].module);
			fprintf(f, "` | %.1f | %.1f |\n", r->imports[i].cum_ms, r->imports[i].self_ms);
		}
		fprintf(f, "\n");
	}
	if (r->nfiles) {
		fprintf(f, "<details><summary>Largest files</summary>\n\n| file | layer | size |\n|---|---|---:|\n");
		for (size_t i = 0; i < r->nfiles; i++) {
			fprintf(f, "| `/");
			cell(f, r->files[i].path);
			fprintf(f, "` | ");
			cell(f, r->files[i].layer);
			fprintf(f, " | %s |\n", hb(r->files[i].size, a, sizeof(a)));
		}
		fprintf(f, "\n</details>\n");
	}
}
