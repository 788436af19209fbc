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

/*
 * ev->path holds the first bytes of the request target, zero-filled past
 * what the packet held. Cuts the path at its end and, unless keep_query, at
 * its '?', zeroing everything after the cut so no query string leaves the
 * kernel, and sets path_len and flags.
 *
 * One loop whose only carried state is whether the cut happened: a loop
 * with more live state, or several loops in a row, makes the verifier walk
 * every combination of exit points.
 */
static __always_inline void ft_http_finish(struct ft_http_event *ev, int keep_query)
{
	__u32 i, len = FT_HTTP_PATH_MAX;
	__u8 flags = FT_HTTP_F_TRUNCATED, cut = 0;

	for (i = 0; i < FT_HTTP_PATH_MAX; i++) {
		__u8 c = ev->path[i];

		if (!cut) {
			if (c == ' ') {
				flags = 0;
				cut = 1;
			} else if (c == '\r' || c == '\n') {
				flags = FT_HTTP_F_NO_VERSION;
				cut = 1;
			} else if (c == '?' && !keep_query) {
				flags = FT_HTTP_F_REDACTED;
				cut = 1;
			} else if (c == 0) {
				cut = 1; /* the segment ended inside the target */
			}
			if (cut)
				len = i;
		}
		if (cut)
			ev->path[i] = 0;
	}
	ev->path_len = len;
	ev->flags = flags;
}

#endif /* FT_HTTP_H */
