/* json.c - the report as one JSON object: exact bytes, camelCase keys (as inspect and zip). */
#include "report/render.h"

#include <stdlib.h>

#include <jansson.h>

#include "common/alloc.h"

static json_t *ji(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *measures(const struct report_delta *d, const uint64_t *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "uncompressed", ji(v[REPORT_U]));
	json_object_set_new(o, "gzip", d->have[REPORT_GZ] ? ji(v[REPORT_GZ]) : json_null());
	json_object_set_new(o, "zip", d->have[REPORT_ZIP] ? ji(v[REPORT_ZIP]) : json_null());
	return o;
}

static json_t *deltas(const struct report_delta *v, size_t n, int with_layer)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		if (with_layer)
			json_object_set_new(o, "layer", json_string(v[i].layer));
		json_object_set_new(o, "name", json_string(v[i].name));
		json_object_set_new(o, "filesBefore", ji(v[i].files_before));
		json_object_set_new(o, "filesAfter", ji(v[i].files_after));
		json_object_set_new(o, "before", measures(&v[i], v[i].before));
		json_object_set_new(o, "after", measures(&v[i], v[i].after));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *report_to_json(const struct report *r)
{
	json_t *root = json_object(), *layers = json_array(), *pkgs = json_array(), *files = json_array(),
	       *lim = json_array();
	uint64_t s, u, bs, bu;
	int ok = 1;
	report_totals(r, &s, &u, &bs, &bu);
	json_object_set_new(root, "source", r->source ? json_string(r->source) : json_null());
	json_object_set_new(root, "digest", r->digest ? json_string(r->digest) : json_null());
	json_object_set_new(root, "runtime", r->runtime ? json_string(r->runtime) : json_null());
	for (size_t i = 0; i < r->nlayers; i++) {
		const struct report_layer *l = &r->layers[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(l->name));
		json_object_set_new(o, "digest", l->digest ? json_string(l->digest) : json_null());
		json_object_set_new(o, "base", json_boolean(l->base));
		json_object_set_new(o, "size", ji(l->size));
		json_object_set_new(o, "uncompressedSize", ji(l->usize));
		json_object_set_new(o, "files", ji(l->files));
		json_object_set_new(o, "fileBytes", ji(l->fbytes));
		json_object_set_new(o, "zippedBytes", l->zbytes ? ji(l->zbytes) : json_null());
		json_array_append_new(layers, o);
	}
	json_object_set_new(root, "layers", layers);
	json_object_set_new(root, "size", ji(s));
	json_object_set_new(root, "uncompressedSize", ji(u));
	json_object_set_new(root, "sharedWithBase", json_pack("{s:o,s:o}", "size", ji(bs), "uncompressedSize", ji(bu)));
	json_object_set_new(root, "uniqueToImage",
			    json_pack("{s:o,s:o}", "size", ji(s - bs), "uncompressedSize", ji(u - bu)));
	for (size_t i = 0; i < r->npkgs; i++) {
		const struct report_pkg *p = &r->pkgs[i];
		json_array_append_new(pkgs, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "name", p->name, "ecosystem", p->eco,
						      "layer", p->layer, "files", ji(p->files), "uncompressedSize",
						      ji(p->usize), "zippedSize", ji(p->zsize)));
	}
	json_object_set_new(root, "packages", pkgs);
	for (size_t i = 0; i < r->nfiles; i++)
		json_array_append_new(files, json_pack("{s:s,s:s,s:o}", "path", r->files[i].path, "layer",
						       r->files[i].layer, "size", ji(r->files[i].size)));
	json_object_set_new(root, "largestFiles", files);
	if (r->have_prune) {
		json_t *p = json_object();
		json_object_set_new(p, "layers", deltas(r->players, r->nplayers, 0));
		json_object_set_new(p, "rules", deltas(r->rules, r->nrules, 1));
		json_object_set_new(p, "packages", deltas(r->ppkgs, r->nppkgs, 1));
		json_object_set_new(p, "pycAdded",
				    json_pack("{s:o,s:o}", "files", ji(r->pyc_files), "bytes", ji(r->pyc_bytes)));
		json_object_set_new(p, "compileCacheAdded",
				    json_pack("{s:o,s:o}", "files", ji(r->cache_files), "bytes", ji(r->cache_bytes)));
		json_object_set_new(root, "prune", p);
	} else {
		json_object_set_new(root, "prune", json_null());
	}
	if (r->have_zip) {
		json_t *z = json_object();
		json_object_set_new(z, "kind", json_string(r->zip_kind ? r->zip_kind : ""));
		json_object_set_new(z, "error", r->zip_error ? json_string(r->zip_error) : json_null());
		json_object_set_new(z, "size", ji(r->zip_size));
		json_object_set_new(z, "uncompressedSize", ji(r->zip_usize));
		json_object_set_new(z, "files", ji(r->zip_files));
		json_object_set_new(z, "otherLayersUncompressedSize", ji(r->others_usize));
		json_object_set_new(z, "lambdaLayers", ji(r->lambda_layers));
		json_object_set_new(root, "zip", z);
		ok &= !r->zip_error;
	} else {
		json_object_set_new(root, "zip", json_null());
	}
	for (size_t i = 0; i < r->nlimits; i++) {
		const struct report_limit *l = &r->limits[i];
		json_array_append_new(lim, json_pack("{s:s,s:s,s:o,s:o,s:b,s:b,s:o,s:o}", "name", l->name, "unit",
						     l->unit, "value", ji(l->value), "limit", ji(l->limit), "ok", l->ok,
						     "hard", l->hard, "headroom", ji(l->ok ? l->limit - l->value : 0),
						     "over", ji(l->ok ? 0 : l->value - l->limit)));
		ok &= l->ok || !l->hard;
	}
	json_object_set_new(root, "limits", lim);
	json_object_set_new(root, "recommendation", r->recommendation ? json_string(r->recommendation) : json_null());
	if (r->have_imports) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->nimports; i++)
			json_array_append_new(a,
					      json_pack("{s:s,s:f,s:f}", "module", r->imports[i].module, "cumulativeMs",
							r->imports[i].cum_ms, "selfMs", r->imports[i].self_ms));
		json_object_set_new(root, "imports", a);
	} else {
		json_object_set_new(root, "imports", json_null());
	}
	json_object_set_new(root, "ok", json_boolean(ok));
	return root;
}

void report_json(const struct report *r, FILE *f)
{
	json_t *j = report_to_json(r);
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(j);
	if (!s)
		abort();
	fprintf(f, "%s\n", s);
	free(s);
}
