// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Container attribution from cgroups (userspace/containers.c): a
 * /proc/PID/cgroup file, and each path alone. Both read bytes a container
 * controls (its cgroup names), so: no read past the input, a result only
 * in the documented shape (a runtime, a 64-hex id or an LXC name, a pod
 * UID of hex and dashes, only [A-Za-z0-9._:@/+-]), and a zeroed result on
 * failure.
 *
 * Input: byte 0 bit 0 = a single path (else a whole file), then the bytes.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "containers.h"

static int label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("._:@/+-", c));
}

static void check_label(const char *s, size_t size, const char *what)
{
	const char *end = memchr(s, 0, size);
	const char *p;

	FUZZ_CHECK(end, "%s not terminated", what);
	for (p = s; p < end; p++)
		FUZZ_CHECK(label_char(*p), "%s has byte 0x%02x", what, (unsigned char)*p);
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

static void check_ref(int ret, const struct ft_cgroup_ref *r)
{
	size_t i, n;

	FUZZ_CHECK(ret == 0 || ret == -ENOENT || ret == -EINVAL, "returned %d", ret);
	if (ret) {
		FUZZ_CHECK(all_zero(r, sizeof(*r)), "result not zeroed after %d", ret);
		return;
	}
	FUZZ_CHECK(r->runtime > FT_RT_NONE && r->runtime < FT_RT_MAX, "runtime %d", r->runtime);
	check_label(r->id, sizeof(r->id), "id");
	check_label(r->pod_uid, sizeof(r->pod_uid), "pod_uid");
	n = strlen(r->id);
	FUZZ_CHECK(n > 0, "recognised without an id");
	if (r->runtime != FT_RT_LXC) {
		FUZZ_CHECK(n == FT_CT_ID_LEN, "%s id of %zu characters",
			   ft_runtime_name(r->runtime), n);
		for (i = 0; i < n; i++)
			FUZZ_CHECK((r->id[i] >= '0' && r->id[i] <= '9') ||
				       (r->id[i] >= 'a' && r->id[i] <= 'f'),
				   "id '%s' is not lowercase hex", r->id);
	}
	n = strlen(r->pod_uid);
	if (n) {
		FUZZ_CHECK(r->kubepods, "pod uid '%s' outside kubepods", r->pod_uid);
		FUZZ_CHECK(n >= 32, "pod uid '%s' too short", r->pod_uid);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(strchr("0123456789abcdef-", r->pod_uid[i]),
				   "pod uid '%s' has 0x%02x", r->pod_uid,
				   (unsigned char)r->pod_uid[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_cgroup_ref r, again;
	char *buf;
	size_t n;
	int ret;

	if (size < 1)
		return 0;
	n = size - 1;
	buf = malloc(n ? n : 1); /* exact size, no NUL: over-reads are seen */
	if (!buf)
		return 0;
	memcpy(buf, data + 1, n);
	memset(&r, 0xa5, sizeof(r));
	if (data[0] & 1) {
		ret = ft_cgroup_path_parse(buf, n, &r);
		check_ref(ret, &r);
		FUZZ_CHECK(ft_cgroup_path_parse(buf, n, &again) == ret &&
			       !memcmp(&r, &again, sizeof(r)),
			   "not deterministic");
	} else {
		ret = ft_cgroup_parse(buf, n, &r);
		check_ref(ret, &r);
	}
	free(buf);
	return 0;
}
