// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Traffic generator: run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES on a template packet, it gives each frame the
 * next flow's source address and port (pkt.h's encoding), fixes the
 * checksums incrementally and redirects the frame out of gen_ifindex.
 * Live frames keep their bytes between runs, so every field this program
 * relies on is rewritten, never assumed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "pkt.h"

#define GEN_SLOTS 16

const volatile __u32 gen_ifindex = 0;

/* Set by userspace before each run: this template's flows are
 * gen_flow_base .. gen_flow_base + gen_flow_count - 1. One thread runs the
 * generator, so plain globals are enough. */
__u32 gen_flow_base = 0;
__u32 gen_flow_count = 0; /* 0 counts as 1 */
__u32 gen_slot = 0;	  /* which template: each walks its own flows in order */
__u64 gen_seq[GEN_SLOTS] = {};

/* RFC 1624: the checksum after one 16-bit word changed from old to new. */
static __always_inline void csum_replace(__u16 *check, __u16 old, __u16 new)
{
	__u32 sum = (__u16) ~*check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	*check = (__u16)~sum;
}

/* Rewrites the source port and its checksum; l4_csum says whether the
 * checksum covers the address word that changed too. */
static __always_inline int set_l4(void *l4, void *end, __u8 proto, __u16 old_lo, __u16 lo,
				  __u16 sport, int l4_csum)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return -1;
		csum_replace(&th->check, old_lo, lo);
		csum_replace(&th->check, th->source, sport);
		th->source = sport;
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > end)
			return -1;
		if (l4_csum) {
			csum_replace(&uh->check, old_lo, lo);
			csum_replace(&uh->check, uh->source, sport);
			if (!uh->check)
				uh->check = 0xffff;
		}
		uh->source = sport;
		return 0;
	}
	return -1;
}

SEC("xdp")
int gen_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 n, count = gen_flow_count ? gen_flow_count : 1, slot = gen_slot;
	__u16 lo, sport, old;

	if ((void *)(eth + 1) > end || slot >= GEN_SLOTS)
		return XDP_ABORTED;
	n = gen_flow_base + (__u32)(gen_seq[slot]++ % count);
	lo = bpf_htons(bench_flow_addr_lo(n));
	sport = bpf_htons(bench_flow_sport(n));

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u16 *w;

		if ((void *)(ip + 1) > end)
			return XDP_ABORTED;
		w = (__u16 *)&ip->saddr + 1;
		old = *w;
		*w = lo;
		csum_replace(&ip->check, old, lo);
		/* The UDP template has no checksum (0): nothing to fix. */
		if (set_l4(ip + 1, end, ip->protocol, old, lo, sport, ip->protocol == IPPROTO_TCP))
			return XDP_ABORTED;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u16 *w;

		if ((void *)(ip6 + 1) > end)
			return XDP_ABORTED;
		w = &ip6->saddr.in6_u.u6_addr16[7];
		old = *w;
		*w = lo;
		if (set_l4(ip6 + 1, end, ip6->nexthdr, old, lo, sport, 1))
			return XDP_ABORTED;
	} else {
		return XDP_ABORTED;
	}
	return bpf_redirect(gen_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
