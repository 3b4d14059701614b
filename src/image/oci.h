/* oci.h - OCI image manifest, index and config <-> typed structs (jansson stays inside). */
#ifndef LM_OCI_H
#define LM_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/err.h"

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define OCI_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MT_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MT_CONFIG "application/vnd.docker.container.image.v1+json"
#define DOCKER_MT_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_MT_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define OCI_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_ANNOT_BASE_NAME "org.opencontainers.image.base.name"
#define OCI_ANNOT_BASE_DIGEST "org.opencontainers.image.base.digest"

/* Caps for JSON documents read from files or the network. */
#define OCI_JSON_MAX (4u << 20)

struct oci_platform {
	char *os, *arch, *variant; /* NULL when absent */
};

struct oci_descriptor {
	char *media_type;
	char digest[LM_DIGEST_LEN];
	int64_t size;
	struct oci_platform platform; /* index entries only */
	char *ref_name;               /* annotation org.opencontainers.image.ref.name, or NULL */
};

struct oci_manifest {
	char *media_type; /* top-level mediaType (may be NULL in the input; always written) */
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t nlayers;
	/* annotations org.opencontainers.image.base.name / .base.digest: the registry image
	 * this one is built on (NULL when unknown or not from a registry) */
	char *base_name;
	char *base_digest;
};

struct oci_index {
	char *media_type;
	struct oci_descriptor *manifests;
	size_t n;
};

void oci_platform_release(struct oci_platform *p);
/* Parses "os/arch[/variant]" ("linux/amd64", "linux/arm64/v8"). Normalises aliases
 * (x86_64 -> amd64, aarch64 -> arm64; arm64 without variant means v8). */
int oci_platform_parse(const char *s, struct oci_platform *out, struct lm_err *err);
/* 1 when a descriptor's platform satisfies want (variant compared only when both set,
 * with arm64 "" == "v8"). */
int oci_platform_match(const struct oci_platform *have, const struct oci_platform *want);

void oci_descriptor_release(struct oci_descriptor *d);
void oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src);

/* Kind of a JSON document: from its mediaType, else from its shape. */
enum oci_doc_kind { OCI_DOC_UNKNOWN, OCI_DOC_MANIFEST, OCI_DOC_INDEX, OCI_DOC_DOCKER_V1 };
enum oci_doc_kind oci_doc_kind(const char *buf, size_t len, const char *content_type);
int oci_is_layer_media_type(const char *mt);
int oci_is_gzip_layer(const char *mt);

/* Manifest: parse checks required fields and digest syntax. */
int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest *out, struct lm_err *err);
/* Canonical compact JSON; caller frees. */
char *oci_manifest_serialize(const struct oci_manifest *m, size_t *len);
void oci_manifest_release(struct oci_manifest *m);

int oci_index_parse(const char *buf, size_t len, struct oci_index *out, struct lm_err *err);
char *oci_index_serialize(const struct oci_index *ix, size_t *len);
void oci_index_release(struct oci_index *ix);
/* Index of the manifest for the platform, or -1. */
int oci_index_select(const struct oci_index *ix, const struct oci_platform *want);

/* Image config: kept as a JSON document so fields lamina does not know pass through. */
struct oci_config;

struct oci_config_view {
	char *os, *arch, *variant;
	char **env;
	size_t nenv;
	char **entrypoint; /* NULL when unset */
	size_t nentrypoint;
	char **cmd; /* NULL when unset */
	size_t ncmd;
	char *workdir;
	char *user;
	char **diff_ids;
	size_t ndiff_ids;
	char **labels; /* "KEY=VALUE", sorted by key */
	size_t nlabels;
	char **layer_history; /* created_by of each history entry that is not empty_layer, in
				 order (so [i] belongs to layer i when the history is complete) */
	size_t nlayer_history;
};

int oci_config_parse(const char *buf, size_t len, struct oci_config **out, struct lm_err *err);
void oci_config_free(struct oci_config *c);
/* A copy of the fields lamina uses; release with oci_config_view_release. */
void oci_config_view_get(const struct oci_config *c, struct oci_config_view *v);
void oci_config_view_release(struct oci_config_view *v);
/* Sets KEY=VALUE in config.Env, replacing an existing KEY. */
void oci_config_set_env(struct oci_config *c, const char *key, const char *value);
/* Sets Entrypoint/Cmd; argv == NULL sets JSON null (unset). */
void oci_config_set_entrypoint(struct oci_config *c, char *const *argv, size_t n);
void oci_config_set_cmd(struct oci_config *c, char *const *argv, size_t n);
void oci_config_set_workdir(struct oci_config *c, const char *dir);
void oci_config_set_label(struct oci_config *c, const char *key, const char *value);
/* Sets "created" (RFC 3339 from epoch seconds). */
void oci_config_set_created(struct oci_config *c, int64_t epoch);
/* Appends a diff_id to rootfs.diff_ids and a history entry. */
void oci_config_add_layer(struct oci_config *c, const char *diff_id, const char *created_by, int64_t epoch);
/* Compact JSON (keys in document order); caller frees. */
char *oci_config_serialize(const struct oci_config *c, size_t *len);

/* Formats epoch as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 32 bytes). */
const char *oci_time_rfc3339(int64_t epoch, char *buf, size_t bufsz);

#endif
