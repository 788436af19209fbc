// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Container runtimes' state files (userspace/containers.c): Docker's
 * config.v2.json, an OCI bundle's config.json, containers/storage's
 * containers.json. A container's owner writes parts of them (names,
 * labels, annotations), so every string copied out must be terminated and
 * limited to [A-Za-z0-9._:@/+-], and a failed parse leaves a zeroed result.
 *
 * Input: byte 0 = which parser (0 docker, 1 oci, 2 storage); for storage,
 * byte 1 bit 0 = take the id from the next 64 bytes (else a fixed one);
 * then the file's bytes.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "containers.h"

static const char fixed_id[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static int label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("._:@/+-", c));
}

#define CHECK_LABEL(m, f) check_label((m)->f, sizeof((m)->f), #f)

static void check_label(const char *s, size_t size, const char *what)
{
	const char *end = memchr(s, 0, size), *p;

	FUZZ_CHECK(end, "%s not terminated", what);
	for (p = s; p < end; p++)
		FUZZ_CHECK(label_char(*p), "%s has byte 0x%02x", what, (unsigned char)*p);
}

static void check_meta(int ret, const struct ft_container_meta *m)
{
	static const struct ft_container_meta zero;

	FUZZ_CHECK(ret == 0 || ret == -ENOENT || ret == -EINVAL, "returned %d", ret);
	if (ret == -EINVAL)
		FUZZ_CHECK(!memcmp(m, &zero, sizeof(zero)), "result not zeroed after -EINVAL");
	CHECK_LABEL(m, id);
	CHECK_LABEL(m, name);
	CHECK_LABEL(m, k8s_container);
	CHECK_LABEL(m, pod);
	CHECK_LABEL(m, pod_namespace);
	CHECK_LABEL(m, pod_uid);
	CHECK_LABEL(m, sandbox_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_container_meta m;
	char id[FT_CT_ID_LEN + 1], *buf;
	int kind, ret = 0;
	size_t n;

	if (size < 2)
		return 0;
	kind = data[0] % 3;
	memcpy(id, fixed_id, sizeof(id));
	if (kind == 2 && (data[1] & 1)) {
		if (size < 2 + FT_CT_ID_LEN)
			return 0;
		memcpy(id, data + 2, FT_CT_ID_LEN);
		id[FT_CT_ID_LEN] = 0;
		data += FT_CT_ID_LEN;
		size -= FT_CT_ID_LEN;
	}
	n = size - 2;
	buf = malloc(n ? n : 1); /* exact size, no NUL: over-reads are seen */
	if (!buf)
		return 0;
	memcpy(buf, data + 2, n);
	memset(&m, 0xa5, sizeof(m));
	switch (kind) {
	case 0:
		ret = ft_docker_config_parse(buf, n, &m);
		break;
	case 1:
		ret = ft_oci_config_parse(buf, n, &m);
		break;
	case 2:
		ret = ft_storage_parse(buf, n, id, &m);
		if (!ret)
			FUZZ_CHECK(!strcmp(m.id, id), "found '%s' for '%s'", m.id, id);
		break;
	}
	check_meta(ret, &m);
	free(buf);
	return 0;
}
