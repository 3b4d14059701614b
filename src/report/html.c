/* html.c - the report as one self-contained HTML file: inline CSS and SVG, no script,
 * nothing fetched. Charts carry their numbers in data-* attributes and <title>s, so a
 * test (or a person with the inspector) can read them back from the DOM. */
#include "report/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

#define TM_W 1000.0
#define TM_H 460.0
#define TM_MAX 40 /* packages drawn; the rest become one "other" box */

static double worst(double max, double min, double sum, double side)
{
	double s2 = side * side, sum2 = sum * sum;
	double a = s2 * max / sum2, b = sum2 / (s2 * min);
	return a > b ? a : b;
}

void report_treemap(const double *values, size_t n, double w, double h, struct report_rect *out)
{
	double total = 0, x = 0, y = 0;
	size_t i = 0;
	for (size_t k = 0; k < n; k++)
		total += values[k];
	if (total <= 0)
		return;
	while (i < n) {
		double scale = w * h / total, side = w < h ? w : h, sum = values[i] * scale;
		size_t j = i + 1;
		while (j < n) {
			double next = values[j] * scale;
			if (worst(values[i] * scale, next, sum + next, side) >
			    worst(values[i] * scale, values[j - 1] * scale, sum, side))
				break;
			sum += next;
			j++;
		}
		if (w >= h) { /* a column on the left */
			double cw = sum / h, yy = y;
			for (size_t k = i; k < j; k++) {
				double hh = values[k] * scale / cw;
				out[k] = (struct report_rect){ x, yy, cw, hh };
				yy += hh;
			}
			x += cw;
			w -= cw;
		} else { /* a row on top */
			double rh = sum / w, xx = x;
			for (size_t k = i; k < j; k++) {
				double ww = values[k] * scale / rh;
				out[k] = (struct report_rect){ xx, y, ww, rh };
				xx += ww;
			}
			y += rh;
			h -= rh;
		}
		for (size_t k = i; k < j; k++)
			total -= values[k];
		i = j;
	}
}

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *hb(uint64_t n, char *buf, size_t sz)
{
	return lm_human_bytes(n, buf, sz);
}

static const char *const palette[] = { "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
				       "#edc948", "#e15759", "#9c755f", "#bab0ac", "#ff9da7" };

static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2330;"
	"background:#f5f6f8}"
	"header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}"
	"header p{margin:4px 0 0;color:#b9c0cc;font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}"
	"main{max-width:1100px;margin:0 auto;padding:8px 24px 40px}"
	"section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin:18px 0;padding:14px "
	"20px}"
	"h2{font-size:17px;margin:4px 0 12px}"
	".cards{display:flex;flex-wrap:wrap;gap:12px}.card{flex:1 1 120px;background:#f0f3f7;border-radius:6px;"
	"padding:10px 12px}.card b{display:block;font-size:20px}.card span{color:#5b6475;font-size:12px}"
	".gauges{display:flex;flex-wrap:wrap;gap:10px}.gauge{margin:0;flex:1 1 190px;text-align:center}"
	".gauge figcaption{font-size:12px;color:#39414f}.gauge .track{fill:none;stroke:#e3e6eb;stroke-width:18}"
	".gauge .fill{fill:none;stroke-width:18}.gauge text{font-size:20px;font-weight:600;text-anchor:middle}"
	".ok .fill{stroke:#2e9e5b}.warn .fill{stroke:#e39b1b}.over .fill{stroke:#d43d3d}"
	".verdict{font-weight:600}.ok .verdict{color:#217a45}.over .verdict{color:#b32a2a}.warn .verdict{color:#a86a00}"
	".rec{background:#eef6ff;border-left:4px solid #4e79a7;padding:8px 12px;margin:12px 0 0}"
	"table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid "
	"#eceef1;"
	"text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"td code{font-size:12px;word-break:break-all}"
	"svg text{font-family:system-ui,sans-serif}#treemap text{font-size:12px;fill:#fff;pointer-events:none}"
	"#treemap rect{stroke:#fff;stroke-width:1.5}.legend{font-size:12px;color:#5b6475;margin:6px 0 10px}"
	".legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}"
	".bars text{font-size:12px;fill:#1d2330}.bars .before{fill:#c9ced6}.bars .after{fill:#4e79a7}"
	".bars .imp{fill:#f28e2b}.muted{color:#5b6475;font-size:12px}";

static void card(FILE *f, const char *id, const char *value, const char *label)
{
	fprintf(f, "<div class=\"card\" id=\"%s\"><b>", id);
	esc(f, value);
	fprintf(f, "</b><span>");
	esc(f, label);
	fprintf(f, "</span></div>");
}

static void gauge(FILE *f, const struct report_limit *l)
{
	char a[32], b[32], v[96], p[32];
	int bytes = strcmp(l->unit, "bytes") == 0;
	double frac = l->limit ? (double)l->value / (double)l->limit : 0;
	const char *cls = !l->ok ? (l->hard ? "over" : "warn") : frac > 0.8 ? "warn" : "ok";
	double fr = frac > 1 ? 1 : frac, ang = M_PI * (1 - fr);
	if (bytes) {
		hb(l->value, a, sizeof(a));
		hb(l->limit, b, sizeof(b));
	} else {
		snprintf(a, sizeof(a), "%llu", (unsigned long long)l->value);
		snprintf(b, sizeof(b), "%llu", (unsigned long long)l->limit);
	}
	fprintf(f, "<figure class=\"gauge %s\" data-limit=\"", cls);
	esc(f, l->name);
	fprintf(f, "\" data-value=\"%llu\" data-max=\"%llu\" data-ok=\"%d\">", (unsigned long long)l->value,
		(unsigned long long)l->limit, l->ok);
	fprintf(f, "<svg viewBox=\"0 0 200 115\" width=\"200\" height=\"115\" role=\"img\"><title>");
	esc(f, l->name);
	fprintf(f, ": %s of %s</title><path class=\"track\" d=\"M20,100 A80,80 0 0 1 180,100\"/>", a, b);
	if (fr > 0.002)
		fprintf(f, "<path class=\"fill\" d=\"M20,100 A80,80 0 0 1 %.2f,%.2f\"/>", 100 + 80 * cos(ang),
			100 - 80 * sin(ang));
	fprintf(f, "<text x=\"100\" y=\"96\" class=\"pct\">%s</text></svg>",
		report_pct(l->value, l->limit, p, sizeof(p)));
	fprintf(f, "<figcaption><b>");
	esc(f, l->name);
	fprintf(f,
		"</b><br><span class=\"value\">%s</span> of <span class=\"max\">%s</span><br>"
		"<span class=\"verdict\">%s</span></figcaption></figure>",
		a, b, report_verdict(l, v, sizeof(v)));
}

static void treemap(const struct report *r, FILE *f)
{
	size_t n = 0;
	double *vals;
	struct report_rect *rc;
	uint64_t other = 0;
	size_t nother = 0;
	char a[32];
	for (size_t i = 0; i < r->npkgs; i++) {
		if (!r->pkgs[i].usize)
			continue;
		if (n < TM_MAX)
			n++;
		else
			other += r->pkgs[i].usize, nother++;
	}
	if (!n)
		return;
	vals = lm_xcalloc(n + 2, sizeof(*vals));
	rc = lm_xcalloc(n + 2, sizeof(*rc));
	for (size_t i = 0, k = 0; i < r->npkgs && k < n; i++)
		if (r->pkgs[i].usize)
			vals[k++] = (double)r->pkgs[i].usize;
	if (other) /* smaller than every box drawn, so the order stays sorted */
		vals[n] = (double)other;
	report_treemap(vals, n + (other ? 1 : 0), TM_W, TM_H, rc);
	fprintf(f,
		"<h3>Bytes per package (uncompressed, the app's layers)</h3>"
		"<p class=\"legend\">Each box is a package, its area its bytes; hover for the layer.</p><svg "
		"id=\"treemap\" viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\">",
		TM_W, TM_H);
	for (size_t i = 0, k = 0; k < n + (other ? 1 : 0); k++) {
		const struct report_pkg *p = NULL;
		const char *name;
		uint64_t bytes;
		while (k < n && !r->pkgs[i].usize)
			i++;
		if (k < n)
			p = &r->pkgs[i++];
		name = p ? p->name : "other";
		bytes = p ? p->usize : other;
		fprintf(f,
			"<g><rect class=\"tm\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
			"data-name=\"",
			rc[k].x, rc[k].y, rc[k].w, rc[k].h, p ? palette[k % 10] : "#8a8f98");
		esc(f, name);
		fprintf(f, "\" data-layer=\"");
		esc(f, p ? p->layer : "");
		fprintf(f, "\" data-bytes=\"%llu\"><title>", (unsigned long long)bytes);
		esc(f, name);
		if (p) {
			fprintf(f, " (layer ");
			esc(f, p->layer);
			fprintf(f, ")");
		} else {
			fprintf(f, " (%zu packages)", nother);
		}
		fprintf(f, ": %s</title></rect>", hb(bytes, a, sizeof(a)));
		if (rc[k].w > 70 && rc[k].h > 34) {
			char nm[64];
			size_t maxc = (size_t)(rc[k].w / 7.5);
			snprintf(nm, sizeof(nm), "%s", name);
			if (maxc < sizeof(nm) && strlen(nm) > maxc && maxc > 3)
				strcpy(nm + maxc - 3, "...");
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", rc[k].x + 6, rc[k].y + 16);
			esc(f, nm);
			fprintf(f, "</text><text x=\"%.1f\" y=\"%.1f\">%s</text>", rc[k].x + 6, rc[k].y + 30, a);
		}
		fprintf(f, "</g>");
	}
	fprintf(f, "</svg>");
	free(vals);
	free(rc);
}

/* Per layer: before and after in each measure, a pair of bars each. */
static void layer_bars(const struct report *r, FILE *f)
{
	static const char *const mname[] = { "uncompressed", "gzip'd layer", "zipped" };
	uint64_t max = 1;
	double rowh = 20, lw = 330, bw = 420, y = 4;
	size_t rows = 0;
	char a[32], b[32], p[32];
	for (size_t i = 0; i < r->nplayers; i++)
		for (int m = 0; m < REPORT_NMEASURES; m++)
			if (r->players[i].have[m] && r->players[i].before[REPORT_U] != r->players[i].after[REPORT_U]) {
				rows++;
				if (r->players[i].before[m] > max)
					max = r->players[i].before[m];
			}
	if (!rows)
		return;
	fprintf(f, "<h3>Per layer: before (grey) and after (blue)</h3>");
	fprintf(f,
		"<svg id=\"prune-layer-bars\" class=\"bars\" viewBox=\"0 0 1000 %.0f\" width=\"100%%\" role=\"img\">",
		(rowh * 2 + 6) * (double)rows + 8);
	for (size_t i = 0; i < r->nplayers; i++) {
		const struct report_delta *d = &r->players[i];
		for (int m = 0; m < REPORT_NMEASURES; m++) {
			double wb, wa;
			if (!d->have[m] || d->before[REPORT_U] == d->after[REPORT_U])
				continue; /* a layer prune left alone */
			wb = bw * (double)d->before[m] / (double)max;
			wa = bw * (double)d->after[m] / (double)max;
			fprintf(f, "<g class=\"layer-bar\" data-layer=\"");
			esc(f, d->layer);
			fprintf(f,
				"\" data-measure=\"%s\" data-before=\"%llu\" data-after=\"%llu\"><text x=\"0\" "
				"y=\"%.1f\">",
				mname[m], (unsigned long long)d->before[m], (unsigned long long)d->after[m], y + 14);
			esc(f, d->layer);
			fprintf(f, ", %s</text>", mname[m]);
			fprintf(f,
				"<rect class=\"before\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\"/>"
				"<text x=\"%.1f\" y=\"%.1f\">%s</text>",
				lw, y + 2, wb < 1 ? 1 : wb, lw + wb + 8, y + 14, hb(d->before[m], a, sizeof(a)));
			fprintf(f,
				"<rect class=\"after\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\"/>"
				"<text x=\"%.1f\" y=\"%.1f\">%s",
				lw, y + rowh + 2, wa < 1 ? 1 : wa, lw + wa + 8, y + rowh + 14,
				hb(d->after[m], b, sizeof(b)));
			if (d->before[m] > d->after[m])
				fprintf(f, " (-%s)",
					report_pct(d->before[m] - d->after[m], d->before[m], p, sizeof(p)));
			fprintf(f, "</text></g>");
			y += rowh * 2 + 6;
		}
	}
	fprintf(f, "</svg>");
}

/* Per rule: the bytes it took away, uncompressed and zipped. */
static void rule_bars(const struct report *r, FILE *f)
{
	size_t n = r->nrules < 20 ? r->nrules : 20;
	uint64_t max = 1;
	double rowh = 34, lw = 330, bw = 420;
	char a[32], b[32];
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		if (r->rules[i].before[REPORT_U] > max)
			max = r->rules[i].before[REPORT_U];
	fprintf(f, "<h3>Per rule: bytes it took away, uncompressed (blue) and zipped (orange)</h3>");
	fprintf(f, "<svg id=\"prune-bars\" class=\"bars\" viewBox=\"0 0 1000 %.0f\" width=\"100%%\" role=\"img\">",
		rowh * (double)n + 6);
	for (size_t i = 0; i < n; i++) {
		const struct report_delta *d = &r->rules[i];
		uint64_t su = d->before[REPORT_U] - d->after[REPORT_U];
		uint64_t sz = d->have[REPORT_ZIP] ? d->before[REPORT_ZIP] - d->after[REPORT_ZIP] : 0;
		double y = rowh * (double)i + 4, wu = bw * (double)su / (double)max, wz = bw * (double)sz / (double)max;
		fprintf(f, "<g class=\"rule-bar\" data-rule=\"");
		esc(f, d->name);
		fprintf(f, "\" data-layer=\"");
		esc(f, d->layer);
		fprintf(f, "\" data-before=\"%llu\" data-after=\"%llu\"", (unsigned long long)d->before[REPORT_U],
			(unsigned long long)d->after[REPORT_U]);
		if (d->have[REPORT_ZIP])
			fprintf(f, " data-zip-before=\"%llu\" data-zip-after=\"%llu\"",
				(unsigned long long)d->before[REPORT_ZIP], (unsigned long long)d->after[REPORT_ZIP]);
		fprintf(f, "><title>");
		esc(f, d->name);
		fprintf(f, " (layer ");
		esc(f, d->layer);
		fprintf(f, "): %llu files, %s -> %s</title><text x=\"0\" y=\"%.1f\">",
			(unsigned long long)d->files_before, hb(d->before[REPORT_U], a, sizeof(a)),
			hb(d->after[REPORT_U], b, sizeof(b)), y + 17);
		{
			char nm[56];
			snprintf(nm, sizeof(nm), "%s", d->name);
			if (strlen(d->name) > 46)
				strcpy(nm + 43, "...");
			esc(f, nm);
		}
		fprintf(f, "</text><rect class=\"after\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\"/>", lw,
			y + 3, wu < 1 ? 1 : wu);
		if (d->have[REPORT_ZIP])
			fprintf(f, "<rect class=\"imp\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\"/>", lw,
				y + 17, wz < 1 ? 1 : wz);
		fprintf(f, "<text class=\"v\" x=\"%.1f\" y=\"%.1f\">-%s", lw + bw + 10, y + 17, hb(su, a, sizeof(a)));
		if (d->have[REPORT_ZIP])
			fprintf(f, " (zipped -%s)", hb(sz, b, sizeof(b)));
		fprintf(f, "</text></g>");
	}
	fprintf(f, "</svg>");
}

static void import_bars(const struct report *r, FILE *f)
{
	double max = 0.001, rowh = 22, lw = 330, bw = 520;
	if (!r->nimports)
		return;
	for (size_t i = 0; i < r->nimports; i++)
		if (r->imports[i].cum_ms > max)
			max = r->imports[i].cum_ms;
	fprintf(f, "<svg id=\"import-bars\" class=\"bars\" viewBox=\"0 0 1000 %.0f\" width=\"100%%\" role=\"img\">",
		rowh * (double)r->nimports + 6);
	for (size_t i = 0; i < r->nimports; i++) {
		double y = rowh * (double)i + 4, w = bw * r->imports[i].cum_ms / max;
		fprintf(f, "<g class=\"import-bar\" data-module=\"");
		esc(f, r->imports[i].module);
		fprintf(f, "\" data-ms=\"%.1f\"><text x=\"0\" y=\"%.1f\">", r->imports[i].cum_ms, y + 13);
		esc(f, r->imports[i].module);
		fprintf(f,
			"</text><rect class=\"imp\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\"/>"
			"<text x=\"%.1f\" y=\"%.1f\">%.1f ms</text></g>",
			lw, y + 2, w < 1 ? 1 : w, lw + w + 8, y + 13, r->imports[i].cum_ms);
	}
	fprintf(f, "</svg>");
}

static void measures_cell(FILE *f, const struct report_delta *d, int m)
{
	char a[32], b[32], p[48], pp[32];
	if (!d->have[m]) {
		fprintf(f, "<td class=\"n\">-</td>");
		return;
	}
	if (d->before[m] > d->after[m])
		snprintf(p, sizeof(p), "-%s", report_pct(d->before[m] - d->after[m], d->before[m], pp, sizeof(pp)));
	else
		snprintf(p, sizeof(p), "unchanged");
	fprintf(f, "<td class=\"n\" data-before=\"%llu\" data-after=\"%llu\">%s &rarr; %s (%s)</td>",
		(unsigned long long)d->before[m], (unsigned long long)d->after[m], hb(d->before[m], a, sizeof(a)),
		hb(d->after[m], b, sizeof(b)), p);
}

void report_html(const struct report *r, FILE *f)
{
	char a[32], b[32], c[32], pc[32];
	uint64_t s, u, bs, bu;
	report_totals(r, &s, &u, &bs, &bu);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>lamina report: ");
	esc(f, r->source);
	fprintf(f, "</title><style>%s</style></head><body><header><h1>lamina report</h1><p>", css);
	esc(f, r->source);
	if (r->digest) {
		fprintf(f, "<br>");
		esc(f, r->digest);
	}
	fprintf(f, "</p></header><main>");

	fprintf(f, "<section id=\"summary\"><div class=\"cards\">");
	if (r->nlayers) {
		card(f, "card-size", hb(s, a, sizeof(a)), "image, compressed (what a push sends)");
		card(f, "card-usize", hb(u, a, sizeof(a)), "image, uncompressed");
		card(f, "card-shared", hb(bs, a, sizeof(a)), "shared with the base");
		card(f, "card-unique", hb(s - bs, a, sizeof(a)), "unique to this image");
	}
	if (r->have_zip && !r->zip_error) {
		card(f, "card-zip", hb(r->zip_size, a, sizeof(a)), "zip");
		card(f, "card-unzipped", hb(r->zip_usize, a, sizeof(a)), "zip, unzipped");
	}
	fprintf(f, "</div></section>");

	if (r->nlimits || r->recommendation) {
		fprintf(f, "<section id=\"limits\"><h2>Against Lambda's limits</h2><div class=\"gauges\">");
		for (size_t i = 0; i < r->nlimits; i++)
			gauge(f, &r->limits[i]);
		fprintf(f, "</div>");
		if (r->have_zip && r->zip_error) {
			fprintf(f, "<p class=\"muted\">No %s zip: ", r->zip_kind ? r->zip_kind : "");
			esc(f, r->zip_error);
			fprintf(f, "</p>");
		}
		if (r->recommendation) {
			fprintf(f, "<p class=\"rec\" id=\"recommendation\"><b>Recommendation:</b> ");
			esc(f, r->recommendation);
			fprintf(f, "</p>");
		}
		fprintf(f, "</section>");
	}

	fprintf(f, "<section id=\"bytes\"><h2>Where the bytes go</h2>");
	treemap(r, f);
	if (r->nlayers) {
		fprintf(f, "<h3>Layers</h3><table id=\"layers\"><tr><th>layer</th><th class=\"n\">compressed</th>"
			   "<th class=\"n\">uncompressed</th><th class=\"n\">files</th><th></th></tr>");
		for (size_t i = 0; i < r->nlayers; i++) {
			const struct report_layer *l = &r->layers[i];
			fprintf(f, "<tr data-size=\"%llu\" data-usize=\"%llu\"><td>", (unsigned long long)l->size,
				(unsigned long long)l->usize);
			esc(f, l->name);
			fprintf(f,
				"</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td "
				"class=\"n\">%llu</td><td>%s</td></tr>",
				hb(l->size, a, sizeof(a)), hb(l->usize, b, sizeof(b)), (unsigned long long)l->files,
				l->base ? "shared with the base" : "unique to this image");
		}
		fprintf(f,
			"<tr><td><b>total</b></td><td class=\"n\"><b>%s</b></td><td class=\"n\"><b>%s</b></td><td></td>"
			"<td>%s shared (%s)</td></tr></table>",
			hb(s, a, sizeof(a)), hb(u, b, sizeof(b)), hb(bs, c, sizeof(c)),
			report_pct(bs, s, pc, sizeof(pc)));
	}
	if (r->npkgs) {
		size_t n = r->npkgs < 30 ? r->npkgs : 30;
		fprintf(f, "<h3>Packages</h3><table id=\"packages\"><tr><th>package</th><th>layer</th><th "
			   "class=\"n\">files</th>"
			   "<th class=\"n\">uncompressed</th><th class=\"n\">zipped</th></tr>");
		for (size_t i = 0; i < n; i++) {
			const struct report_pkg *p = &r->pkgs[i];
			fprintf(f, "<tr data-bytes=\"%llu\"><td>", (unsigned long long)p->usize);
			esc(f, p->name);
			fprintf(f, "</td><td>");
			esc(f, p->layer);
			fprintf(f, "</td><td class=\"n\">%llu</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>",
				(unsigned long long)p->files, hb(p->usize, a, sizeof(a)), hb(p->zsize, b, sizeof(b)));
		}
		fprintf(f, "</table>");
		if (n < r->npkgs)
			fprintf(f, "<p class=\"muted\">and %zu smaller packages</p>", r->npkgs - n);
	}
	if (r->nfiles) {
		fprintf(f, "<h3>Largest files</h3><table id=\"largest\"><tr><th>file</th><th>layer</th><th "
			   "class=\"n\">size</th></tr>");
		for (size_t i = 0; i < r->nfiles; i++) {
			fprintf(f, "<tr data-bytes=\"%llu\"><td><code>/", (unsigned long long)r->files[i].size);
			esc(f, r->files[i].path);
			fprintf(f, "</code></td><td>");
			esc(f, r->files[i].layer);
			fprintf(f, "</td><td class=\"n\">%s</td></tr>", hb(r->files[i].size, a, sizeof(a)));
		}
		fprintf(f, "</table>");
	}
	fprintf(f, "</section>");

	if (r->have_prune) {
		fprintf(f, "<section id=\"prune\"><h2>What prune did</h2><table id=\"prune-layers\"><tr><th>layer</th>"
			   "<th class=\"n\">uncompressed</th><th class=\"n\">gzip'd layer</th><th "
			   "class=\"n\">zipped</th></tr>");
		for (size_t i = 0; i < r->nplayers; i++) {
			fprintf(f, "<tr><td>");
			esc(f, r->players[i].layer);
			fprintf(f, "</td>");
			for (int m = 0; m < REPORT_NMEASURES; m++)
				measures_cell(f, &r->players[i], m);
			fprintf(f, "</tr>");
		}
		fprintf(f, "</table>");
		if (r->pyc_files || r->cache_files) {
			fprintf(f, "<p class=\"muted\">");
			if (r->pyc_files)
				fprintf(f, "Added by precompile: %s of .pyc in %llu files. ",
					hb(r->pyc_bytes, a, sizeof(a)), (unsigned long long)r->pyc_files);
			if (r->cache_files)
				fprintf(f, "Added: %s of Node compile cache in %llu files.",
					hb(r->cache_bytes, a, sizeof(a)), (unsigned long long)r->cache_files);
			fprintf(f, "</p>");
		}
		layer_bars(r, f);
		rule_bars(r, f);
		fprintf(f, "</section>");
	}

	if (r->have_imports) {
		fprintf(f, "<section id=\"imports\"><h2>Cold start: the slowest imports during verify</h2>");
		if (r->nimports)
			fprintf(f,
				"<p class=\"muted\">Cumulative milliseconds (a module's own time and its imports'), "
				"measured once in the image's own %s: candidates to import lazily.</p>",
				r->runtime ? r->runtime : "interpreter");
		else
			fprintf(f, "<p class=\"muted\">No imports were timed.</p>");
		import_bars(r, f);
		fprintf(f, "</section>");
	}
	fprintf(f, "<p class=\"muted\">Written by lamina. Sizes in KiB/MiB/GiB (1024); the exact bytes are in "
		   "<code>lamina report --format json</code>.</p></main></body></html>\n");
}
