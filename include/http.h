/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * HTTP/1.x request-line sampler, shared by the BPF programs and the
 * userspace fuzzers. Recognition is cheap (a method token, a space and a
 * plausible first target byte) because it runs on every TCP payload; the
 * path scan runs only for the 1-in-N requests that are sampled.
 */
#ifndef FT_HTTP_H
#define FT_HTTP_H

#include "ft_compat.h"
#include "flowtap.h"

static __always_inline int ft_http_tok(const __u8 *p, const void *end, __u32 avail, const char *tok,
				       __u32 n)
{
	__u32 i;

	/* The token, its space and one byte of target must all be there. */
	if (avail < n + 1 || (const void *)(p + n + 1) > end)
		return 0;
	FT_UNROLL
	for (i = 0; i < n; i++)
		if (p[i] != (__u8)tok[i])
			return 0;
	return p[n] > ' ' && p[n] < 0x7f;
}

/*
 * Returns the method of a payload that begins an HTTP/1.x request line and
 * sets *tok_len to the length of "METHOD ", or FT_HTTP_NONE.
 */
static __always_inline __u8 ft_http_method(const __u8 *p, const void *end, __u32 avail,
					   __u32 *tok_len)
{
	if ((const void *)(p + 1) > end || avail < 1)
		return FT_HTTP_NONE;
	switch (p[0]) {
	case 'G':
		if (ft_http_tok(p, end, avail, "GET ", 4))
			return *tok_len = 4, FT_HTTP_GET;
		break;
	case 'H':
		if (ft_http_tok(p, end, avail, "HEAD ", 5))
			return *tok_len = 5, FT_HTTP_HEAD;
		break;
	case 'P':
		if (ft_http_tok(p, end, avail, "POST ", 5))
			return *tok_len = 5, FT_HTTP_POST;
		if (ft_http_tok(p, end, avail, "PUT ", 4))
			return *tok_len = 4, FT_HTTP_PUT;
		if (ft_http_tok(p, end, avail, "PATCH ", 6))
			return *tok_len = 6, FT_HTTP_PATCH;
		break;
	case 'D':
		if (ft_http_tok(p, end, avail, "DELETE ", 7))
			return *tok_len = 7, FT_HTTP_DELETE;
		break;
	case 'O':
		if (ft_http_tok(p, end, avail, "OPTIONS ", 8))
			return *tok_len = 8, FT_HTTP_OPTIONS;
		break;
	case 'C':
		if (ft_http_tok(p, end, avail, "CONNECT ", 8))
			return *tok_len = 8, FT_HTTP_CONNECT;
		break;
	case 'T':
		if (ft_http_tok(p, end, avail, "TRACE ", 6))
			return *tok_len = 6, FT_HTTP_TRACE;
		break;
	}
	return FT_HTTP_NONE;
}

/* Length of "METHOD " for a method ft_http_method returned. */
static __always_inline __u32 ft_http_tok_len(__u8 method)
{
	switch (method) {
	case FT_HTTP_GET:
	case FT_HTTP_PUT:
		return 4;
	case FT_HTTP_HEAD:
	case FT_HTTP_POST:
		return 5;
	case FT_HTTP_PATCH:
	case FT_HTTP_TRACE:
		return 6;
	case FT_HTTP_DELETE:
		return 7;
	case FT_HTTP_OPTIONS:
	case FT_HTTP_CONNECT:
		return 8;
	}
	return 0;
}

/* Bytes of a little- or big-endian word that come before byte r (r < 8). */
static __always_inline __u64 ft_http_head_mask(__u32 r)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (1ULL << (8 * r)) - 1;
#else
	return r ? ~0ULL << (8 * (8 - r)) : 0;
#endif
}

/*
 * ev->path holds n bytes of the request target; what follows them may be
 * anything (a ring buffer record is not zeroed). Cuts the path at its end
 * and, unless keep_query, at its '?', and zeroes everything from the cut on,
 * so no query string and no stale byte leaves the kernel; sets path_len and
 * flags.
 *
 * The scan stops at the cut, so it costs what the path is long, not
 * FT_HTTP_PATH_MAX steps; the tail is zeroed a word at a time.
 */
static __always_inline void ft_http_cut(struct ft_http_event *ev, __u32 n, int keep_query)
{
	__u8 flags = FT_HTTP_F_TRUNCATED;
	__u32 i, k;
	__u64 w;

	for (i = 0; i < FT_HTTP_PATH_MAX; i++) {
		__u8 c;

		if (i >= n)
			break;
		c = ev->path[i];
		if (c == ' ') {
			flags = 0;
			break;
		}
		if (c == '\r' || c == '\n') {
			flags = FT_HTTP_F_NO_VERSION;
			break;
		}
		if (c == '?' && !keep_query) {
			flags = FT_HTTP_F_REDACTED;
			break;
		}
		if (c == 0)
			break; /* the segment ended inside the target */
	}
	FT_UNROLL
	for (k = 0; k < FT_HTTP_PATH_MAX / 8; k++) {
		if (8 * k + 8 <= i)
			continue;
		__builtin_memcpy(&w, ev->path + 8 * k, 8);
		w = 8 * k >= i ? 0 : w & ft_http_head_mask(i - 8 * k);
		__builtin_memcpy(ev->path + 8 * k, &w, 8);
	}
	ev->path_len = i;
	ev->flags = flags;
}

/* The same for a path zero-filled past what the packet held. */
static __always_inline void ft_http_finish(struct ft_http_event *ev, int keep_query)
{
	ft_http_cut(ev, FT_HTTP_PATH_MAX, keep_query);
}

#endif /* FT_HTTP_H */
