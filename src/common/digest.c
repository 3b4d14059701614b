#include "common/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/fs.h"

void digest_init(struct digest_ctx *c)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	if (!m || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1) {
		fputs("lamina: cannot initialise SHA-256\n", stderr);
		abort();
	}
	c->md = m;
}

void digest_update(struct digest_ctx *c, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(c->md, data, len);
}

void digest_final(struct digest_ctx *c, char out[LM_DIGEST_LEN])
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(c->md, md, &n);
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hx[md[i] >> 4];
		out[8 + 2 * i] = hx[md[i] & 15];
	}
	out[71] = '\0';
}

void digest_abort(struct digest_ctx *c)
{
	if (c && c->md) {
		EVP_MD_CTX_free(c->md);
		c->md = NULL;
	}
}

void digest_buf(const void *data, size_t len, char out[LM_DIGEST_LEN])
{
	struct digest_ctx c;
	digest_init(&c);
	digest_update(&c, data, len);
	digest_final(&c, out);
}

int digest_file(const char *path, char out[LM_DIGEST_LEN], uint64_t *size, struct lm_err *err)
{
	static const size_t bufsz = 1 << 20;
	struct digest_ctx c;
	uint64_t total = 0;
	char *buf;
	int fd = lm_open_regular(path, O_NOFOLLOW, err);
	if (fd < 0)
		return -1;
	buf = lm_xmalloc(bufsz);
	digest_init(&c);
	for (;;) {
		ssize_t r = read(fd, buf, bufsz);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			lm_err_sys(err, "read '%s'", path);
			digest_abort(&c);
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		digest_update(&c, buf, (size_t)r);
		total += (uint64_t)r;
	}
	digest_final(&c, out);
	free(buf);
	close(fd);
	if (size)
		*size = total;
	return 0;
}

int digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0)
		return 0;
	for (int i = 0; i < 64; i++) {
		char ch = s[7 + i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return 0;
	}
	return s[71] == '\0';
}

const char *digest_hex(const char *s)
{
	return s + 7;
}
