/* cmd_inspect.c - lamina inspect OUT.tar [--json]: what an image archive holds, checked. */
#include <archive.h>
#include <archive_entry.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <jansson.h>

#include "cli/cmds.h"
#include "cli/options.h"
#include "common/digest.h"
#include "image/oci.h"
#include "common/alloc.h"
#include "common/str.h"

static const char usage[] =
	"usage: lamina inspect ARCHIVE [--json]\n"
	"\n"
	"Reads an image archive written by 'lamina build' (or any OCI archive), checks every\n"
	"blob against its digest and every layer's uncompressed digest against the config's\n"
	"diff_ids, and prints the manifest digest, the config (entrypoint, cmd, workdir, env,\n"
	"platform) and the layers with compressed and uncompressed sizes.\n"
	"\n"
	"Options:\n"
	"  --json      machine-readable output\n"
	"  -h, --help  this help\n"
	"\n"
	"A blob that does not match its digest, or a layer its diff_id, gives exit status 7.\n"
	"%s";

struct blob {
	char digest[LM_DIGEST_LEN];
	int64_t size;
	uint64_t usize;     /* uncompressed bytes when gzip */
	char diff_id[LM_DIGEST_LEN]; /* digest of the uncompressed stream when gzip */
	char *json;         /* small blobs are kept (manifests, configs) */
	size_t jlen;
	int ok;             /* content matched its name */
};

struct scan {
	struct blob *v;
	size_t n, cap;
	char *index;
	size_t ilen;
};

static struct blob *find(struct scan *s, const char *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].digest, d) == 0)
			return &s->v[i];
	return NULL;
}

static int read_blob(struct archive *a, struct blob *b, struct lm_err *err)
{
	static const size_t chunk = 1 << 18;
	unsigned char *buf = lm_xmalloc(chunk), *ubuf = lm_xmalloc(chunk);
	struct digest_ctx dg, udg;
	struct lm_buf_s {
		char *p;
		size_t n;
	} small = { NULL, 0 };
	z_stream z;
	int gz = -1, zdone = 0, ret = -1;
	char got[LM_DIGEST_LEN];
	memset(&z, 0, sizeof(z));
	digest_init(&dg);
	digest_init(&udg);
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, chunk);
		if (n < 0) {
			lm_err_set(err, LM_E_INPUT, "blob %s: %s", b->digest, archive_error_string(a));
			goto out;
		}
		if (n == 0)
			break;
		digest_update(&dg, buf, (size_t)n);
		if (gz < 0) {
			gz = n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
			if (gz && inflateInit2(&z, 16 + 15) != Z_OK)
				abort();
		}
		if (!gz && b->size <= (int64_t)OCI_JSON_MAX) {
			small.p = lm_xrealloc(small.p, small.n + (size_t)n + 1);
			memcpy(small.p + small.n, buf, (size_t)n);
			small.n += (size_t)n;
			small.p[small.n] = '\0';
		}
		if (gz) {
			z.next_in = buf;
			z.avail_in = (uInt)n;
			/* until the input is used up and inflate has no more output for it */
			for (int full = 0; z.avail_in || full;) {
				int zr;
				if (zdone) { /* another gzip member follows (RFC 1952 2.2), as lamina writes them */
					inflateReset(&z);
					zdone = 0;
				}
				z.next_out = ubuf;
				z.avail_out = (uInt)chunk;
				zr = inflate(&z, Z_NO_FLUSH);
				full = z.avail_out == 0 && zr != Z_STREAM_END;
				if (zr == Z_BUF_ERROR && !z.avail_in)
					break; /* no progress possible without more input */
				if (zr != Z_OK && zr != Z_STREAM_END) {
					lm_err_set(err, LM_E_INPUT, "layer %s: corrupt gzip data", b->digest);
					goto out;
				}
				digest_update(&udg, ubuf, chunk - z.avail_out);
				b->usize += chunk - z.avail_out;
				if (zr == Z_STREAM_END)
					zdone = 1;
			}
		}
	}
	if (gz > 0 && !zdone) {
		lm_err_set(err, LM_E_INPUT, "layer %s: truncated gzip data", b->digest);
		goto out;
	}
	digest_final(&dg, got);
	b->ok = strcmp(got, b->digest) == 0;
	if (gz > 0)
		digest_final(&udg, b->diff_id);
	b->json = small.p;
	b->jlen = small.n;
	small.p = NULL;
	ret = 0;
out:
	if (gz > 0)
		inflateEnd(&z);
	digest_abort(&dg);
	digest_abort(&udg);
	free(small.p);
	free(buf);
	free(ubuf);
	return ret;
}

static int scan_archive(const char *path, struct scan *s, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r, ret = -1;
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "open '%s': %s", path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		while (n[0] == '.' && n[1] == '/')
			n += 2;
		if (strcmp(n, "index.json") == 0) {
			size_t sz = (size_t)archive_entry_size(e);
			if (sz > OCI_JSON_MAX) {
				lm_err_set(err, LM_E_INPUT, "'%s': index.json too large", path);
				goto out;
			}
			s->index = lm_xmalloc(sz + 1);
			if (archive_read_data(a, s->index, sz) != (la_ssize_t)sz) {
				lm_err_set(err, LM_E_INPUT, "'%s': index.json truncated", path);
				goto out;
			}
			s->index[sz] = '\0';
			s->ilen = sz;
		} else if (lm_str_startswith(n, "blobs/sha256/") && archive_entry_filetype(e) == AE_IFREG) {
			struct blob *b;
			lm_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
			b = &s->v[s->n++];
			memset(b, 0, sizeof(*b));
			snprintf(b->digest, sizeof(b->digest), "sha256:%s", n + 13);
			b->size = archive_entry_size(e);
			if (read_blob(a, b, err) < 0)
				goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	if (!s->index) {
		lm_err_set(err, LM_E_INPUT, "'%s' has no index.json (not an OCI archive)", path);
		goto out;
	}
	ret = 0;
out:
	archive_read_free(a);
	return ret;
}

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

int cmd_inspect(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct cli_getopt gopt;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct scan s = { 0 };
	struct oci_index ix = { 0 };
	struct oci_manifest m = { 0 };
	struct oci_config *cfg = NULL;
	struct oci_config_view v = { 0 };
	struct blob *mb, *cb;
	int c, as_json = 0, ret = -1, problems = 0;
	char a1[32], a2[32];
	uint64_t tc = 0, tu = 0;
	(void)o;
	cli_getopt_init(&gopt, "h", longopts);
	while ((c = cli_getopt_next(&gopt, argc, argv, o, err)) != -1) {
		if (c == CLI_GETOPT_ERROR)
			goto out;
		switch (c) {
		case 'J':
			as_json = 1;
			break;
		case 'h': {
			char *ex = lm_exit_status_text();
			printf(usage, ex);
			free(ex);
			return 0;
		}
		default:
			return lm_err_set(err, LM_E_USAGE, "see 'lamina inspect --help'");
		}
	}
	if (optind != argc - 1)
		return lm_err_set(err, LM_E_USAGE, "expected one ARCHIVE argument; see 'lamina inspect --help'");
	if (scan_archive(argv[optind], &s, err) < 0)
		goto out;
	if (oci_index_parse(s.index, s.ilen, &ix, err) < 0 || ix.n == 0) {
		if (ix.n == 0 && !err->msg)
			lm_err_set(err, LM_E_INPUT, "'%s': index.json lists no image", argv[optind]);
		lm_err_wrap(err, "'%s'", argv[optind]);
		goto out;
	}
	mb = find(&s, ix.manifests[0].digest);
	if (!mb || !mb->json || oci_manifest_parse(mb->json, mb->jlen, &m, err) < 0) {
		if (!err->msg)
			lm_err_set(err, LM_E_INPUT, "manifest %s is missing", ix.manifests[0].digest);
		lm_err_wrap(err, "'%s'", argv[optind]);
		goto out;
	}
	cb = find(&s, m.config.digest);
	if (!cb || !cb->json || oci_config_parse(cb->json, cb->jlen, &cfg, err) < 0) {
		if (!err->msg)
			lm_err_set(err, LM_E_INPUT, "config %s is missing", m.config.digest);
		lm_err_wrap(err, "'%s'", argv[optind]);
		goto out;
	}
	oci_config_view_get(cfg, &v);
	for (size_t i = 0; i < s.n; i++)
		problems += !s.v[i].ok;
	for (size_t i = 0; i < m.nlayers; i++) {
		struct blob *b = find(&s, m.layers[i].digest);
		if (!b || b->size != m.layers[i].size || (i < v.ndiff_ids && b->diff_id[0] && strcmp(b->diff_id, v.diff_ids[i])))
			problems++;
	}
	if (m.nlayers != v.ndiff_ids)
		problems++;
	if (as_json) {
		json_t *j = json_object(), *layers = json_array(), *cj = json_object();
		json_object_set_new(j, "manifestDigest", json_string(ix.manifests[0].digest));
		json_object_set_new(j, "mediaType", json_string(m.media_type ? m.media_type : ""));
		json_object_set_new(j, "ref", ix.manifests[0].ref_name ? json_string(ix.manifests[0].ref_name) : json_null());
		json_object_set_new(j, "baseName", m.base_name ? json_string(m.base_name) : json_null());
		json_object_set_new(j, "baseDigest", m.base_digest ? json_string(m.base_digest) : json_null());
		json_object_set_new(cj, "os", json_string(v.os ? v.os : ""));
		json_object_set_new(cj, "architecture", json_string(v.arch ? v.arch : ""));
		json_object_set_new(cj, "entrypoint", strv_json(v.entrypoint, v.nentrypoint));
		json_object_set_new(cj, "cmd", strv_json(v.cmd, v.ncmd));
		json_object_set_new(cj, "workdir", v.workdir ? json_string(v.workdir) : json_null());
		json_object_set_new(cj, "env", strv_json(v.env, v.nenv));
		json_object_set_new(j, "config", cj);
		for (size_t i = 0; i < m.nlayers; i++) {
			struct blob *b = find(&s, m.layers[i].digest);
			json_t *l = json_object();
			json_object_set_new(l, "digest", json_string(m.layers[i].digest));
			json_object_set_new(l, "mediaType", json_string(m.layers[i].media_type ? m.layers[i].media_type : ""));
			json_object_set_new(l, "size", json_integer(m.layers[i].size));
			json_object_set_new(l, "uncompressedSize", json_integer(b ? (json_int_t)b->usize : 0));
			json_object_set_new(l, "diffId", json_string(i < v.ndiff_ids ? v.diff_ids[i] : ""));
			json_object_set_new(l, "verified", json_boolean(b && b->ok && (!b->diff_id[0] || (i < v.ndiff_ids && !strcmp(b->diff_id, v.diff_ids[i])))));
			json_array_append_new(layers, l);
			tc += (uint64_t)m.layers[i].size;
			tu += b ? b->usize : 0;
		}
		json_object_set_new(j, "layers", layers);
		json_object_set_new(j, "size", json_integer((json_int_t)tc));
		json_object_set_new(j, "uncompressedSize", json_integer((json_int_t)tu));
		json_object_set_new(j, "problems", json_integer(problems));
		{
			char *out = json_dumps(j, JSON_INDENT(2));
			puts(out);
			free(out);
		}
		json_decref(j);
	} else {
		printf("manifest   %s (%s)\n", ix.manifests[0].digest, m.media_type ? m.media_type : "no mediaType");
		if (ix.manifests[0].ref_name)
			printf("ref        %s\n", ix.manifests[0].ref_name);
		if (m.base_name)
			printf("base       %s%s%s\n", m.base_name, m.base_digest ? "@" : "", m.base_digest ? m.base_digest : "");
		printf("platform   %s/%s\n", v.os ? v.os : "?", v.arch ? v.arch : "?");
		print_strv("entrypoint", v.entrypoint, v.nentrypoint);
		print_strv("cmd", v.cmd, v.ncmd);
		printf("%-11s%s\n", "workdir", v.workdir ? v.workdir : "(none)");
		for (size_t i = 0; i < v.nenv; i++)
			printf("%-11s%s\n", i ? "" : "env", v.env[i]);
		printf("layers     %-4s %12s %12s  %s\n", "#", "compressed", "uncompressed", "digest");
		for (size_t i = 0; i < m.nlayers; i++) {
			struct blob *b = find(&s, m.layers[i].digest);
			int ok = b && b->ok && (!b->diff_id[0] || (i < v.ndiff_ids && !strcmp(b->diff_id, v.diff_ids[i])));
			printf("           %-4zu %12s %12s  %s%s\n", i + 1, lm_human_bytes((uint64_t)m.layers[i].size, a1, sizeof(a1)),
			       lm_human_bytes(b ? b->usize : 0, a2, sizeof(a2)), m.layers[i].digest, ok ? "" : "  (BAD)");
			tc += (uint64_t)m.layers[i].size;
			tu += b ? b->usize : 0;
		}
		printf("total      %-4s %12s %12s\n", "", lm_human_bytes(tc, a1, sizeof(a1)), lm_human_bytes(tu, a2, sizeof(a2)));
	}
	if (problems) {
		lm_err_set(err, LM_E_VERIFY, "'%s': %d blob(s) do not match their digests or the config's diff_ids",
			   argv[optind], problems);
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].json);
	free(s.v);
	free(s.index);
	oci_index_release(&ix);
	oci_manifest_release(&m);
	oci_config_view_release(&v);
	oci_config_free(cfg);
	return ret;
}
