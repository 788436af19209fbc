// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* TC entries (clsact ingress and egress) for container veths. They
 * return TC_ACT_UNSPEC so the rest of the filter chain still runs. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

__noinline int ft_http_emit_tc(struct __sk_buff *skb, __u32 off, __u32 n);
#include "parse.h"
__noinline int ft_parse_tc(struct __sk_buff *skb, struct ft_parsed *p);
__noinline int ft_http_detect_tc(struct __sk_buff *skb, __u32 off, __u32 n);
#define FT_PARSE(ctx, p)	    ft_parse_tc(ctx, p)
#define FT_HTTP_EMIT(ctx, off, n)   ft_http_emit_tc(ctx, off, n)
#define FT_HTTP_DETECT(ctx, off, n) ft_http_detect_tc(ctx, off, n)
#include "datapath.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FT_CAPTURE_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_cap_tc SEC(".maps");

/* Global, so verified once; see ft_handle(). */
__noinline int ft_parse_tc(struct __sk_buff *skb, struct ft_parsed *p)
{
	struct ft_parse_in in = {
	    .data = (void *)(long)skb->data,
	    .data_end = (void *)(long)skb->data_end,
	    .pkt_len = skb->len,
	    .hw_vlan_present = skb->vlan_present,
	    .hw_vlan_tci = skb->vlan_tci,
	};

	if (!p)
		return 0;
	ft_parse(&in, p);
	return 0;
}

/*
 * Global, so verified once. Copies with skb_load_bytes, which also reads
 * non-linear data, rather than pulling (that would unclone the skb, e.g.
 * every TCP segment at egress).
 */
__noinline int ft_http_emit_tc(struct __sk_buff *skb, __u32 off, __u32 n)
{
	struct ft_http_event *ev = ft_http_reserve();

	if (!ev)
		return -1;
	if (n > FT_HTTP_PATH_MAX)
		n = FT_HTTP_PATH_MAX;
	if (n && bpf_skb_load_bytes(skb, off, ev->path, ((n - 1) & (FT_HTTP_PATH_MAX - 1)) + 1))
		n = 0;
	ft_http_cut(ev, n, ft_http_keep_query);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* The payload start is not linear (locally sent TCP keeps it in page
 * frags): copy the few bytes that decide whether it is an HTTP request. */
__noinline int ft_http_detect_tc(struct __sk_buff *skb, __u32 off, __u32 n)
{
	__u8 buf[16] = {};
	__u32 tok;

	if (n == 0)
		return FT_HTTP_NONE;
	if (n > 9)
		n = 9;
	/* A form of the bound [1, 16] that survives clang's rewrites. */
	n = ((n - 1) & 15) + 1;
	if (bpf_skb_load_bytes(skb, off, buf, n))
		return FT_HTTP_NONE;
	return ft_http_method(buf, buf + n, n, &tok);
}

static __always_inline int ft_tc(struct __sk_buff *skb, __u8 dir)
{
	/* tcpdump shows an accelerated tag in the frame; count its 4 bytes. */
	struct ft_frame f = {
	    .ctx = skb,
	    .ifindex = skb->ifindex,
	    .len = skb->len + (skb->vlan_present ? 4 : 0),
	    .segs = skb->gso_segs ? skb->gso_segs : 1,
	    .dir = dir,
	    .is_tc = 1,
	};
	__u32 mask = ft_handle(&f);

	if (mask)
		FT_TAIL_CALL_CAPTURES(skb, ft_cap_tc, mask, 0);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int flowtap_tc_ingress(struct __sk_buff *skb)
{
	return ft_tc(skb, FT_DIR_INGRESS);
}

SEC("tc")
int flowtap_tc_egress(struct __sk_buff *skb)
{
	return ft_tc(skb, FT_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
