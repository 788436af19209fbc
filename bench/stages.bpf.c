// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Pieces of the XDP datapath, for nsbench's profile of where the
 * nanoseconds go. Each program stops after one more step of ft_handle():
 * the shared parser, the clock, the interface counters, the flow lookup.
 * The maps are flowtap's own (maps.bpf.h); nsbench points them at the
 * loaded datapath's, so the lookups hit the same populated flow table.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "maps.bpf.h"

__u64 st_sink = 0;

/* A global function like the entry's ft_parse_xdp(), so the call costs
 * the same. */
__noinline int st_parse_xdp(struct xdp_md *ctx, struct ft_parsed *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ft_parse_in in = {
	    .data = data,
	    .data_end = data_end,
	    .pkt_len = data_end - data,
	};

	if (!p)
		return 0;
	ft_parse(&in, p);
	return 0;
}

SEC("xdp")
int st_parse(struct xdp_md *ctx)
{
	struct ft_parsed pp = {};

	st_parse_xdp(ctx, &pp);
	st_sink += pp.classes;
	return XDP_PASS;
}

SEC("xdp")
int st_clock(struct xdp_md *ctx)
{
	(void)ctx;
	st_sink += bpf_ktime_get_ns();
	return XDP_PASS;
}

/* The coarse clock (jiffies resolution), as an alternative. */
SEC("xdp")
int st_clock_coarse(struct xdp_md *ctx)
{
	(void)ctx;
	st_sink += bpf_ktime_get_coarse_ns();
	return XDP_PASS;
}

static __always_inline void st_count(struct ft_if_stats *st, __u32 classes, __u32 len)
{
	int c;

#pragma unroll
	for (c = 0; c < FT_CLASS_MAX; c++)
		if (classes & FT_BIT(c)) {
			st->cls[c].packets++;
			st->cls[c].bytes += len;
		}
}

/* Parser, then the per-interface counters in the per-CPU hash, as for an
 * interface without an array slot. */
SEC("xdp")
int st_ifstats(struct xdp_md *ctx)
{
	struct ft_if_key k = {.ifindex = ctx->ingress_ifindex, .dir = FT_DIR_INGRESS};
	struct ft_parsed pp = {};
	struct ft_if_stats *st;

	st_parse_xdp(ctx, &pp);
	st = bpf_map_lookup_elem(&ft_ifstats, &k);
	if (st)
		st_count(st, pp.classes, ctx->data_end - ctx->data);
	return XDP_PASS;
}

/* Parser, then the counters as ft_handle() reaches them for an attached
 * interface: its slot's owner, then the slot (two inlined array lookups). */
SEC("xdp")
int st_ifarray_count(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex, slot = ifindex & (FT_IFSLOTS - 1), idx;
	struct ft_parsed pp = {};
	struct ft_if_stats *st;
	__u32 *owner;

	st_parse_xdp(ctx, &pp);
	owner = bpf_map_lookup_elem(&ft_ifslot, &slot);
	if (!owner || *owner != ifindex)
		return XDP_PASS;
	idx = slot * 2 + FT_DIR_INGRESS;
	st = bpf_map_lookup_elem(&ft_ifstats_slots, &idx);
	if (st)
		st_count(st, pp.classes, ctx->data_end - ctx->data);
	return XDP_PASS;
}

/* Parser, then only the flow table lookup (no update). */
SEC("xdp")
int st_flowlookup(struct xdp_md *ctx)
{
	struct ft_parsed pp = {};
	struct ft_flow_val *v;

	st_parse_xdp(ctx, &pp);
	pp.key.ifindex = ctx->ingress_ifindex;
	pp.key.dir = FT_DIR_INGRESS;
	v = bpf_map_lookup_elem(&ft_flows, &pp.key);
	if (v)
		st_sink += v->packets;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
