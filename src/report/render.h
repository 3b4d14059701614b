/* render.h - the report as text, JSON, Markdown or one self-contained HTML file.
 *
 * Every renderer reads a finished report (report_finish) and writes to a FILE *; none
 * prints anywhere else or fails but for the stream's own errors (which the caller
 * checks with ferror). Sizes in JSON are exact bytes, keys camelCase; text, Markdown
 * and HTML give sizes in KiB/MiB/GiB, biggest first. */
#ifndef LM_REPORT_RENDER_H
#define LM_REPORT_RENDER_H

#include <stdio.h>

#include "common/err.h"
#include "report/model.h"

enum report_format { REPORT_TEXT = 0, REPORT_JSON, REPORT_MARKDOWN, REPORT_HTML };

/* "text", "json", "markdown" (or "md"), "html": 0; else -1 with err (LM_E_USAGE). */
int report_format_parse(const char *s, enum report_format *f, struct lm_err *err);
/* The format a file name asks for by its extension (.json, .md, .html/.htm), else text. Pure. */
enum report_format report_format_for_path(const char *path);

/* Text for a terminal. brief: the summary a build prints by default (totals, the five
 * biggest packages, prune's totals, the limits, the recommendation, the five slowest
 * imports); else every table. */
void report_text(const struct report *r, int brief, FILE *f);
/* One JSON object, indented, ending in a newline. */
void report_json(const struct report *r, FILE *f);
/* GitHub-flavoured Markdown (a pull-request comment, $GITHUB_STEP_SUMMARY). */
void report_markdown(const struct report *r, FILE *f);
/* One HTML document: inline CSS and SVG (a treemap of bytes per package, bars before and
 * after per prune rule, gauges against the limits); no script, nothing from the network. */
void report_html(const struct report *r, FILE *f);

/* Dispatches on fmt (text: brief as given). */
void report_render(const struct report *r, enum report_format fmt, int brief, FILE *f);

/* Writes the report to path atomically (temporary file, fsync, rename). */
int report_write_file(const struct report *r, enum report_format fmt, const char *path, struct lm_err *err);

/* --- the treemap's layout (html.c), exposed for tests ------------------------------- */
struct report_rect {
	double x, y, w, h;
};
/* Squarified treemap: lays out n values (biggest first, all > 0) in the w x h rectangle;
 * out[i] is value i's rectangle; areas are proportional to the values. Pure. */
void report_treemap(const double *values, size_t n, double w, double h, struct report_rect *out);

#endif
