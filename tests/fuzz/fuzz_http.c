// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The HTTP request-line sampler (include/http.h): method recognition on a
 * TCP payload, then the path cut that decides what leaves the kernel.
 * ft_http_finish is the privacy boundary: with keep_query off no byte of a
 * query string may survive it.
 *
 * Input: byte 0 bit 0 = keep_query, byte 1 = how many payload bytes the
 * recogniser may look at (avail; the datapath passes payload_len, which
 * may be less than the linear bytes); the TCP payload follows.
 */
#include <string.h>
#include "fuzz.h"
#include "http.h"

static const char *const toks[FT_HTTP_MAX] = {
    [FT_HTTP_GET] = "GET ",	[FT_HTTP_HEAD] = "HEAD ",	[FT_HTTP_POST] = "POST ",
    [FT_HTTP_PUT] = "PUT ",	[FT_HTTP_DELETE] = "DELETE ",	[FT_HTTP_OPTIONS] = "OPTIONS ",
    [FT_HTTP_PATCH] = "PATCH ", [FT_HTTP_CONNECT] = "CONNECT ", [FT_HTTP_TRACE] = "TRACE ",
};

static __u8 ref_method(const __u8 *p, size_t n)
{
	__u8 m;

	for (m = 1; m < FT_HTTP_MAX; m++) {
		size_t t = strlen(toks[m]);

		if (n > t && !memcmp(p, toks[m], t) && p[t] > ' ' && p[t] < 0x7f)
			return m;
	}
	return FT_HTTP_NONE;
}

static void check_method(const __u8 *p, size_t len, __u32 avail)
{
	__u32 tok = 0xdead;
	size_t n = avail < len ? avail : len;
	__u8 m = ft_http_method(p, p + len, avail, &tok);

	FUZZ_CHECK(m < FT_HTTP_MAX, "method %u", m);
	FUZZ_CHECK(m == ref_method(p, n), "method %u, expected %u", m, ref_method(p, n));
	if (m == FT_HTTP_NONE) {
		FUZZ_CHECK(tok == 0xdead, "tok_len written without a method");
		return;
	}
	FUZZ_CHECK(tok == strlen(toks[m]) && tok == ft_http_tok_len(m), "tok_len %u for %s", tok,
		   toks[m]);
}

/* The sampled target as the datapath builds it: zero-filled, then the
 * bytes after "METHOD " (ft_http_fill / ft_http_emit_*). */
static void fill(struct ft_http_event *ev, const __u8 *p, size_t n)
{
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->path, p, n < FT_HTTP_PATH_MAX ? n : FT_HTTP_PATH_MAX);
}

static void check_finish(const __u8 *p, size_t n, int keep_query)
{
	struct ft_http_event ev, in, twice;
	__u32 i, len;
	__u8 end;

	fill(&ev, p, n);
	in = ev;
	ft_http_finish(&ev, keep_query);
	len = ev.path_len;
	FUZZ_CHECK(len <= FT_HTTP_PATH_MAX, "path_len %u", len);
	FUZZ_CHECK(!memcmp(ev.path, in.path, len), "bytes before path_len changed");
	for (i = len; i < FT_HTTP_PATH_MAX; i++)
		FUZZ_CHECK(!ev.path[i], "byte %u after path_len %u is 0x%02x", i, len,
			   (__u8)ev.path[i]);
	for (i = 0; i < len; i++) {
		__u8 c = ev.path[i];

		FUZZ_CHECK(c && c != ' ' && c != '\r' && c != '\n', "byte 0x%02x kept at %u", c, i);
		FUZZ_CHECK(keep_query || c != '?', "'?' kept at %u with keep_query=0", i);
	}
	end = len < FT_HTTP_PATH_MAX ? (__u8)in.path[len] : 0;
	switch (ev.flags) {
	case 0:
		FUZZ_CHECK(len < FT_HTTP_PATH_MAX && end == ' ', "complete path ends with 0x%02x",
			   end);
		break;
	case FT_HTTP_F_NO_VERSION:
		FUZZ_CHECK(len < FT_HTTP_PATH_MAX && (end == '\r' || end == '\n'),
			   "no-version path ends with 0x%02x", end);
		break;
	case FT_HTTP_F_REDACTED:
		FUZZ_CHECK(!keep_query && len < FT_HTTP_PATH_MAX && end == '?',
			   "redacted path ends with 0x%02x", end);
		break;
	case FT_HTTP_F_TRUNCATED:
		FUZZ_CHECK(len == FT_HTTP_PATH_MAX || !end, "truncated path ends with 0x%02x", end);
		break;
	default:
		FUZZ_CHECK(0, "flags 0x%x", ev.flags);
	}
	/* Finishing a finished event keeps its length: nothing was left to cut. */
	twice = ev;
	ft_http_finish(&twice, keep_query);
	FUZZ_CHECK(twice.path_len == len && !memcmp(twice.path, ev.path, sizeof(ev.path)),
		   "finish is not idempotent: %u then %u", len, twice.path_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u8 *p;
	size_t n;
	__u32 tok;
	__u8 m;

	if (size < 2)
		return 0;
	n = size - 2;
	p = malloc(n ? n : 1); /* exact size: ASan sees reads past the end */
	if (!p)
		return 0;
	memcpy(p, data + 2, n);
	check_method(p, n, data[1]);
	check_method(p, n, n);

	m = ft_http_method(p, p + n, n, &tok);
	tok = m ? ft_http_tok_len(m) : 0;
	check_finish(p + tok, n - tok, data[0] & 1);
	check_finish(p + tok, n - tok, !(data[0] & 1));
	free(p);
	return 0;
}
