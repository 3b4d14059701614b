/* The OCI 1.1 artifact manifest registry_attach pushes (golden bytes: its digest is what
 * the referrers list and the tag index name). */
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "unit.h"

START_TEST(test_artifact_manifest)
{
	struct oci_descriptor subj;
	size_t len = 0;
	char *m;
	memset(&subj, 0, sizeof(subj));
	subj.media_type = "application/vnd.oci.image.manifest.v1+json";
	strcpy(subj.digest, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
	subj.size = 1234;
	m = registry_artifact_manifest("application/spdx+json",
				       "sha256:2222222222222222222222222222222222222222222222222222222222222222", 99,
				       "out.spdx.json", &subj, &len);
	ck_assert_uint_eq(strlen(m), len);
	ck_assert_str_eq(
		m, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		   "\"artifactType\":\"application/spdx+json\","
		   "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
		   "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2,"
		   "\"data\":\"e30=\"},"
		   "\"layers\":[{\"mediaType\":\"application/spdx+json\","
		   "\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\",\"size\":99,"
		   "\"annotations\":{\"org.opencontainers.image.title\":\"out.spdx.json\"}}],"
		   "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		   "\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1234}}");
	free(m);
	/* the empty config's digest is that of "{}" */
	{
		char d[LM_DIGEST_LEN];
		digest_buf("{}", 2, d);
		ck_assert_str_eq(d, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
	}
}
END_TEST

SUITE(referrer)
{
	Suite *s = suite_create("referrer");
	TCASE(s, test_artifact_manifest);
	return s;
}
