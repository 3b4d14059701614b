#include "zip/sizereport.h"

#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "common/alloc.h"
#include "common/str.h"

void size_report_init(struct size_report *r)
{
	memset(r, 0, sizeof(*r));
}

static void items_free(struct size_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void size_report_release(struct size_report *r)
{
	if (!r)
		return;
	items_free(r->layers, r->nlayers);
	items_free(r->zlayers, r->nzlayers);
	free(r->zip_error);
	free(r->zip_path);
	size_report_init(r);
}

static void add_item(struct size_item **v, size_t *n, const char *name, int base, uint64_t size, uint64_t usize)
{
	*v = lm_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].name = lm_xstrdup(name);
	(*v)[*n].base = base;
	(*v)[*n].size = size;
	(*v)[*n].usize = usize;
	(*n)++;
}

void size_report_add_layer(struct size_report *r, const char *name, int base, uint64_t size, uint64_t usize)
{
	add_item(&r->layers, &r->nlayers, name, base, size, usize);
}

void size_report_add_zlayer(struct size_report *r, const char *name, uint64_t size, uint64_t usize)
{
	add_item(&r->zlayers, &r->nzlayers, name, 0, size, usize);
}

void size_check_eval(struct size_check *c, const char *name, const char *note, uint64_t value, uint64_t limit,
		     int hard)
{
	c->name = name;
	c->note = note;
	c->value = value;
	c->limit = limit;
	c->ok = value <= limit;
	c->hard = hard;
}

const char *size_check_verdict(const struct size_check *c, char *buf, size_t bufsz)
{
	char h[32];
	if (c->ok)
		snprintf(buf, bufsz, "OK, %s to spare", lm_human_bytes(c->limit - c->value, h, sizeof(h)));
	else
		snprintf(buf, bufsz, "over by %s", lm_human_bytes(c->value - c->limit, h, sizeof(h)));
	return buf;
}

static void image_totals(const struct size_report *r, uint64_t *size, uint64_t *usize)
{
	*size = *usize = 0;
	for (size_t i = 0; i < r->nlayers; i++) {
		*size += r->layers[i].size;
		*usize += r->layers[i].usize;
	}
}

size_t size_report_checks(const struct size_report *r, struct size_check out[SIZE_CHECKS_MAX])
{
	size_t n = 0;
	if (r->have_image) {
		uint64_t s, u;
		image_totals(r, &s, &u);
		size_check_eval(&out[n++], "image uncompressed", "all layers together", u, LAMBDA_IMAGE_MAX, 1);
	}
	if (r->have_zip && !r->zip_error) {
		size_check_eval(&out[n++], "zip direct upload", "larger zips can be uploaded through S3", r->zip_size,
				LAMBDA_ZIP_UPLOAD_MAX, 0);
		size_check_eval(&out[n++], "zip unzipped",
				r->nothers ? (r->kind == ZIP_LAYER
						      ? "this layer and the manifest's other layers, which share the limit"
						      : "the function and the manifest's other layers as Lambda layers")
				: r->kind == ZIP_LAYER ? "this layer; the function and all its layers share the limit"
						       : "the function and all its layers together",
				r->zip_usize + r->others_usize, LAMBDA_ZIP_UNZIPPED_MAX, 1);
		if (r->kind == ZIP_FUNCTION && r->nothers)
			size_check_eval(&out[n++], "Lambda layers", "the manifest's other layers; a function uses at most 5",
					r->nothers, LAMBDA_LAYERS_MAX, 1);
	}
	return n;
}

static void row(FILE *f, const char *name, uint64_t size, uint64_t usize, const char *tail)
{
	char a[32], b[32];
	fprintf(f, "    %-22s %12s %13s%s%s\n", name, lm_human_bytes(size, a, sizeof(a)), lm_human_bytes(usize, b, sizeof(b)),
		tail ? "   " : "", tail ? tail : "");
}

void size_report_print(const struct size_report *r, FILE *f)
{
	struct size_check c[SIZE_CHECKS_MAX];
	size_t n = size_report_checks(r, c);
	char a[32], b[32], v[96];
	fprintf(f, "sizes against Lambda's limits\n");
	if (r->have_image) {
		uint64_t s, u;
		size_t nb = 0;
		image_totals(r, &s, &u);
		fprintf(f, "  %-24s %12s %13s\n", "image", "compressed", "uncompressed");
		for (size_t i = 0; i < r->nlayers; i++) {
			char *name = r->layers[i].base ? lm_asprintf("base %zu", ++nb) : lm_xstrdup(r->layers[i].name);
			row(f, name, r->layers[i].size, r->layers[i].usize, NULL);
			free(name);
		}
		row(f, "total", s, u, NULL);
	}
	if (r->have_zip && r->zip_error) {
		fprintf(f, "  %s zip: not possible: %s\n", zip_kind_name(r->kind), r->zip_error);
	} else if (r->have_zip) {
		char *tail = lm_asprintf("%llu files, %llu entries%s", (unsigned long long)r->zip_files,
					 (unsigned long long)r->zip_entries, r->zip64 ? ", Zip64" : "");
		char *head = lm_asprintf("%s zip", zip_kind_name(r->kind));
		fprintf(f, "  %-24s %12s %13s\n", head, "zipped", "unzipped");
		free(head);
		for (size_t i = 0; i < r->nzlayers; i++)
			row(f, r->zlayers[i].name, r->zlayers[i].size, r->zlayers[i].usize, NULL);
		row(f, "total", r->zip_size, r->zip_usize, tail);
		free(tail);
		if (r->nothers)
			fprintf(f, "    %-22s %12s %13s   %zu more manifest layer%s, counted in the unzipped limit\n",
				"other layers", "", lm_human_bytes(r->others_usize, b, sizeof(b)), r->nothers,
				r->nothers == 1 ? "" : "s");
	}
	if (n)
		fprintf(f, "  limits\n");
	for (size_t i = 0; i < n; i++) {
		size_check_verdict(&c[i], v, sizeof(v));
		if (strcmp(c[i].name, "Lambda layers") == 0) {
			snprintf(a, sizeof(a), "%llu", (unsigned long long)c[i].value);
			snprintf(b, sizeof(b), "%llu", (unsigned long long)c[i].limit);
			snprintf(v, sizeof(v), c[i].ok ? "OK, %llu to spare" : "over by %llu",
				 (unsigned long long)(c[i].ok ? c[i].limit - c[i].value : c[i].value - c[i].limit));
		} else {
			lm_human_bytes(c[i].value, a, sizeof(a));
			lm_human_bytes(c[i].limit, b, sizeof(b));
		}
		fprintf(f, "    %-22s %12s of %-10s %s%s (%s)\n", c[i].name, a, b, v,
			c[i].ok ? "" : c[i].hard ? ": Lambda refuses it" : ": upload it through S3", c[i].note);
	}
}

static json_t *items_json(const struct size_item *v, size_t n, int image)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(v[i].name));
		if (image)
			json_object_set_new(o, "base", json_boolean(v[i].base));
		json_object_set_new(o, "size", json_integer((json_int_t)v[i].size));
		json_object_set_new(o, "uncompressedSize", json_integer((json_int_t)v[i].usize));
		json_array_append_new(a, o);
	}
	return a;
}

char *size_report_json(const struct size_report *r)
{
	json_t *root = json_object(), *lim = json_array();
	struct size_check c[SIZE_CHECKS_MAX];
	size_t n = size_report_checks(r, c);
	int ok = 1;
	char *s;
	if (r->have_image) {
		json_t *im = json_object();
		uint64_t sz, u;
		image_totals(r, &sz, &u);
		if (r->image_digest[0])
			json_object_set_new(im, "digest", json_string(r->image_digest));
		json_object_set_new(im, "size", json_integer((json_int_t)sz));
		json_object_set_new(im, "uncompressedSize", json_integer((json_int_t)u));
		json_object_set_new(im, "layers", items_json(r->layers, r->nlayers, 1));
		json_object_set_new(root, "image", im);
	}
	if (r->have_zip) {
		json_t *z = json_object();
		json_object_set_new(z, "kind", json_string(zip_kind_name(r->kind)));
		if (r->zip_error) {
			json_object_set_new(z, "error", json_string(r->zip_error));
			ok = 0;
		} else {
			char b64[45];
			json_object_set_new(z, "path", r->zip_path ? json_string(r->zip_path) : json_null());
			json_object_set_new(z, "sha256", json_string(digest_hex(r->zip_digest)));
			size_code_sha256(r->zip_digest, b64);
			json_object_set_new(z, "codeSha256", json_string(b64));
			json_object_set_new(z, "size", json_integer((json_int_t)r->zip_size));
			json_object_set_new(z, "uncompressedSize", json_integer((json_int_t)r->zip_usize));
			json_object_set_new(z, "files", json_integer((json_int_t)r->zip_files));
			json_object_set_new(z, "entries", json_integer((json_int_t)r->zip_entries));
			json_object_set_new(z, "zip64", json_boolean(r->zip64));
			json_object_set_new(z, "layers", items_json(r->zlayers, r->nzlayers, 0));
			json_object_set_new(z, "otherLayersUncompressedSize", json_integer((json_int_t)r->others_usize));
			json_object_set_new(z, "otherLayers", json_integer((json_int_t)r->nothers));
		}
		json_object_set_new(root, "zip", z);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(c[i].name));
		json_object_set_new(o, "value", json_integer((json_int_t)c[i].value));
		json_object_set_new(o, "limit", json_integer((json_int_t)c[i].limit));
		json_object_set_new(o, "ok", json_boolean(c[i].ok));
		json_object_set_new(o, "hard", json_boolean(c[i].hard));
		json_object_set_new(o, "over", json_integer(c[i].ok ? 0 : (json_int_t)(c[i].value - c[i].limit)));
		json_array_append_new(lim, o);
		ok &= c[i].ok;
	}
	json_object_set_new(root, "limits", lim);
	json_object_set_new(root, "ok", json_boolean(ok));
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		abort();
	return s;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

void size_code_sha256(const char *digest, char out[45])
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[32];
	const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
	size_t o = 0;
	out[0] = '\0';
	if (strlen(hex) != 64)
		return;
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return;
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	for (size_t i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < 32 ? (uint32_t)raw[i + 1] << 8 : 0) |
			     (i + 2 < 32 ? raw[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < 32 ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < 32 ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

int size_blob_usize(const struct cache *c, const struct oci_descriptor *d, uint64_t *usize, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *path = cache_blob_path(c, d->digest);
	char *buf = lm_xmalloc(1u << 18);
	uint64_t n = 0;
	int ret = -1;
	if (!a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, path, 1u << 18) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "layer %s: %s", d->digest, archive_error_string(a));
		goto out;
	}
	for (;;) {
		la_ssize_t r = archive_read_data(a, buf, 1u << 18);
		if (r < 0) {
			lm_err_set(err, LM_E_INPUT, "layer %s: %s", d->digest, archive_error_string(a));
			goto out;
		}
		if (r == 0)
			break;
		n += (uint64_t)r;
	}
	*usize = n;
	ret = 0;
out:
	archive_read_free(a);
	free(path);
	free(buf);
	return ret;
}
