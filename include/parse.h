/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one packet parser: used by the XDP and TC programs and, compiled for
 * userspace, by the fuzzers. It reads only between data and data_end and
 * classifies; it never modifies the packet.
 */
#ifndef FT_PARSE_H
#define FT_PARSE_H

#include "ft_compat.h"
#include "flowtap.h"
#include "http.h"

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>

/* Not in the uapi headers. */
/* ICMP and ICMPv6 share this 8-byte shape. Defined here because linux/icmp.h
 * pulls in libc's sys/socket.h, which needs 32-bit libc headers under
 * -target bpf. */
struct ft_icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be32 rest;
};

struct ft_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct ft_arp_hdr {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 oper;
};

struct ft_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ft_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

#define FT_IP_MF     0x2000
#define FT_IP_OFFSET 0x1fff
#define FT_VLAN_VID  0x0fff

/* Parse result. key.ifindex and key.dir are left to the caller. */
struct ft_parsed {
	struct ft_flow_key key;
	__u32 payload_off; /* TCP payload offset from data, 0 if none */
	__u32 payload_len; /* by the IP lengths; may extend past data_end */
	__u32 classes;	   /* bitmask of 1 << enum ft_class */
	__u32 tcp_seq;	   /* host order */
	__u8 reason;	   /* enum ft_malformed_reason */
	__u8 tcp_flags;
	__u8 nvlan;
	__u8 http_method;	/* enum ft_http_method, from the linear bytes */
	__u8 payload_nonlinear; /* too few payload bytes linear to decide http */
};

/* What the caller knows beyond the bytes: the frame's full length and any
 * VLAN tag the kernel already stripped into skb->vlan_tci. */
struct ft_parse_in {
	const void *data;
	const void *data_end;
	__u32 pkt_len;
	__u16 hw_vlan_tci;
	__u8 hw_vlan_present;
};

#define FT_BIT(c) (1U << (c))

static __always_inline void ft_malformed(struct ft_parsed *p, __u8 reason)
{
	p->classes |= FT_BIT(FT_CLASS_MALFORMED);
	p->reason = reason;
}

static __always_inline __u32 ft_l4_class(__u8 family, __u8 proto)
{
	if (proto == IPPROTO_TCP)
		return FT_BIT(FT_CLASS_TCP);
	if (proto == IPPROTO_UDP)
		return FT_BIT(FT_CLASS_UDP);
	if (proto == IPPROTO_ICMP && family == FT_FAMILY_IPV4)
		return FT_BIT(FT_CLASS_ICMP);
	if (proto == IPPROTO_ICMPV6 && family == FT_FAMILY_IPV6)
		return FT_BIT(FT_CLASS_ICMPV6);
	return FT_BIT(FT_CLASS_OTHER_L4);
}

/* l4 points at the L4 header; l4_end is where the IP lengths say it ends. */
static __always_inline void ft_parse_l4(struct ft_parsed *p, const void *data, const __u8 *l4,
					const __u8 *l4_end, const void *data_end)
{
	__u8 proto = p->key.proto;

	if (proto == IPPROTO_TCP) {
		const struct tcphdr *th = (const void *)l4;
		__u32 doff;

		if ((const void *)(th + 1) > data_end || l4 + sizeof(*th) > l4_end)
			return ft_malformed(p, FT_MAL_TCP_TRUNCATED);
		doff = th->doff * 4;
		if (doff < sizeof(*th))
			return ft_malformed(p, FT_MAL_TCP_DOFF);
		if (l4 + doff > l4_end)
			return ft_malformed(p, FT_MAL_TCP_TRUNCATED);
		p->classes |= FT_BIT(FT_CLASS_TCP);
		p->key.sport = bpf_ntohs(th->source);
		p->key.dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((const __u8 *)th)[13];
		p->tcp_seq = bpf_ntohl(th->seq);
		/* Decide HTTP here, while the payload pointer is fresh: the
		 * parser leaves only scalars behind, so the verifier can merge
		 * the many ways through it. */
		l4 += doff;
		p->payload_len = l4_end - l4;
		if (!p->payload_len)
			return;
		p->payload_off = l4 - (const __u8 *)data;
		if ((const void *)(l4 + (p->payload_len < 9 ? p->payload_len : 9)) > data_end) {
			p->payload_nonlinear = 1;
			return;
		}
		p->http_method = ft_http_method(l4, data_end, p->payload_len, &doff);
		return;
	}
	if (proto == IPPROTO_UDP) {
		const struct udphdr *uh = (const void *)l4;
		__u32 ulen;

		if ((const void *)(uh + 1) > data_end || l4 + sizeof(*uh) > l4_end)
			return ft_malformed(p, FT_MAL_UDP_TRUNCATED);
		ulen = bpf_ntohs(uh->len);
		/* A first fragment holds only part of the datagram that the
		 * UDP length covers. */
		if (ulen < sizeof(*uh) ||
		    (!(p->classes & FT_BIT(FT_CLASS_FRAGMENT)) && l4 + ulen > l4_end))
			return ft_malformed(p, FT_MAL_UDP_LEN);
		p->classes |= FT_BIT(FT_CLASS_UDP);
		p->key.sport = bpf_ntohs(uh->source);
		p->key.dport = bpf_ntohs(uh->dest);
		return;
	}
	if (ft_l4_class(p->key.family, proto) & (FT_BIT(FT_CLASS_ICMP) | FT_BIT(FT_CLASS_ICMPV6))) {
		const struct ft_icmp_hdr *ih = (const void *)l4;

		if ((const void *)(ih + 1) > data_end || l4 + sizeof(*ih) > l4_end)
			return ft_malformed(p, proto == IPPROTO_ICMP ? FT_MAL_ICMP_TRUNCATED
								     : FT_MAL_ICMPV6_TRUNCATED);
		p->classes |= ft_l4_class(p->key.family, proto);
		p->key.sport = ih->type;
		p->key.dport = ih->code;
		return;
	}
	p->classes |= FT_BIT(FT_CLASS_OTHER_L4);
}

/* frame_left: bytes of the frame from l3 on, including what is not linear. */
static __always_inline void ft_parse_ipv4(struct ft_parsed *p, const void *data, const __u8 *l3,
					  __u32 frame_left, const void *data_end)
{
	const struct iphdr *iph = (const void *)l3;
	__u32 ihl, tot_len;
	__u16 frag;

	if ((const void *)(iph + 1) > data_end)
		return ft_malformed(p, FT_MAL_IPV4_TRUNCATED);
	if (iph->version != 4)
		return ft_malformed(p, FT_MAL_IP_VERSION);
	ihl = iph->ihl * 4;
	if (ihl < sizeof(*iph))
		return ft_malformed(p, FT_MAL_IPV4_IHL);
	if ((const void *)(l3 + ihl) > data_end)
		return ft_malformed(p, FT_MAL_IPV4_TRUNCATED);
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < ihl)
		return ft_malformed(p, FT_MAL_IPV4_TOTAL_LEN);
	if (tot_len > frame_left)
		return ft_malformed(p, FT_MAL_IPV4_TRUNCATED);

	p->classes |= FT_BIT(FT_CLASS_IPV4);
	p->key.family = FT_FAMILY_IPV4;
	p->key.proto = iph->protocol;
	__builtin_memcpy(p->key.src, &iph->saddr, 4);
	__builtin_memcpy(p->key.dst, &iph->daddr, 4);

	frag = bpf_ntohs(iph->frag_off);
	if (frag & (FT_IP_MF | FT_IP_OFFSET)) {
		p->classes |= FT_BIT(FT_CLASS_FRAGMENT);
		if (frag & FT_IP_OFFSET) {
			p->classes |= ft_l4_class(FT_FAMILY_IPV4, iph->protocol);
			return;
		}
	}
	ft_parse_l4(p, data, l3 + ihl, l3 + tot_len, data_end);
}

/*
 * Zero, in a form the verifier cannot see through: the fragment header's
 * fixed 8 bytes then take the same shape as the other headers' variable
 * length, the verifier merges the paths, and a chain of 8 headers costs it
 * 8 steps instead of 2^8.
 */
static __always_inline __u32 ft_unknown_zero(__u8 byte)
{
	__u32 v = byte;

#ifdef __bpf__
	asm volatile("%[v] ^= %[v]" : [v] "+r"(v));
#else
	v = 0;
#endif
	return v;
}

static __always_inline int ft_ipv6_is_ext(__u8 nh)
{
	/* AH (51) ends the chain like ESP: it is counted as other_l4. */
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
	       nh == IPPROTO_DSTOPTS;
}

static __always_inline void ft_parse_ipv6(struct ft_parsed *p, const void *data, const __u8 *l3,
					  __u32 frame_left, const void *data_end)
{
	const struct ipv6hdr *ip6 = (const void *)l3;
	const __u8 *pos = l3 + sizeof(*ip6);
	const __u8 *l3_end;
	__u8 nh;
	int i;

	if ((const void *)(ip6 + 1) > data_end)
		return ft_malformed(p, FT_MAL_IPV6_TRUNCATED);
	if (ip6->version != 6)
		return ft_malformed(p, FT_MAL_IP_VERSION);
	if (sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > frame_left)
		return ft_malformed(p, FT_MAL_IPV6_TRUNCATED);
	l3_end = pos + bpf_ntohs(ip6->payload_len);

	p->classes |= FT_BIT(FT_CLASS_IPV6);
	p->key.family = FT_FAMILY_IPV6;
	__builtin_memcpy(p->key.src, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;

	/* One shape for every extension header keeps the verifier's paths
	 * linear in the chain length instead of exponential. */
	for (i = 0; i < FT_IPV6_EXT_MAX; i++) {
		const struct ft_ipv6_opt_hdr *oh = (const void *)pos;
		__u32 len;

		if (!ft_ipv6_is_ext(nh))
			break;
		if ((const void *)(pos + 8) > data_end || pos + 8 > l3_end)
			return ft_malformed(p, FT_MAL_IPV6_EXT_TRUNCATED);
		if (nh == IPPROTO_FRAGMENT) {
			const struct ft_ipv6_frag_hdr *fh = (const void *)pos;

			p->classes |= FT_BIT(FT_CLASS_FRAGMENT);
			if (bpf_ntohs(fh->frag_off) & ~7) {
				p->key.proto = fh->nexthdr;
				p->classes |= ft_l4_class(FT_FAMILY_IPV6, fh->nexthdr);
				return;
			}
			len = ft_unknown_zero(fh->reserved);
		} else {
			len = oh->hdrlen;
		}
		len = (len + 1) * 8;
		nh = oh->nexthdr;
		if ((const void *)(pos + len) > data_end || pos + len > l3_end)
			return ft_malformed(p, FT_MAL_IPV6_EXT_TRUNCATED);
		pos += len;
	}
	if (ft_ipv6_is_ext(nh))
		return ft_malformed(p, FT_MAL_IPV6_EXT_CHAIN);
	p->key.proto = nh;
	if (nh == IPPROTO_NONE) {
		p->classes |= FT_BIT(FT_CLASS_OTHER_L4);
		return;
	}
	ft_parse_l4(p, data, pos, l3_end, data_end);
}

static __always_inline int ft_is_vlan_proto(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/*
 * Classify one frame. Up to FT_MAX_VLAN_TAGS tags are read, counting one the
 * kernel moved to skb->vlan_tci; the outermost tag's id goes into the key.
 */
static __always_inline void ft_parse(const struct ft_parse_in *in, struct ft_parsed *p)
{
	const __u8 *data = in->data;
	const void *data_end = in->data_end;
	const struct ethhdr *eth = in->data;
	const __u8 *pos;
	__u32 l2_len, frame_left;
	__be16 proto;
	int i;

	if ((const void *)(eth + 1) > data_end)
		return ft_malformed(p, FT_MAL_ETH_TRUNCATED);
	proto = eth->h_proto;
	pos = data + sizeof(*eth);
	if (in->hw_vlan_present) {
		p->classes |= FT_BIT(FT_CLASS_VLAN);
		p->key.vlan = in->hw_vlan_tci & FT_VLAN_VID;
		p->nvlan = 1;
	}

	FT_UNROLL
	for (i = 0; i < FT_MAX_VLAN_TAGS; i++) {
		const struct ft_vlan_hdr *vh = (const void *)pos;

		if (!ft_is_vlan_proto(proto) || p->nvlan >= FT_MAX_VLAN_TAGS)
			break;
		if ((const void *)(vh + 1) > data_end)
			return ft_malformed(p, FT_MAL_VLAN_TRUNCATED);
		if (!p->nvlan)
			p->key.vlan = bpf_ntohs(vh->tci) & FT_VLAN_VID;
		p->classes |= FT_BIT(FT_CLASS_VLAN);
		p->nvlan++;
		proto = vh->encap_proto;
		pos += sizeof(*vh);
	}
	if (ft_is_vlan_proto(proto))
		return ft_malformed(p, FT_MAL_VLAN_DEPTH);
	l2_len = pos - data;
	frame_left = in->pkt_len > l2_len ? in->pkt_len - l2_len : 0;

	if (proto == bpf_htons(ETH_P_IP))
		return ft_parse_ipv4(p, data, pos, frame_left, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return ft_parse_ipv6(p, data, pos, frame_left, data_end);
	if (proto == bpf_htons(ETH_P_ARP)) {
		const struct ft_arp_hdr *ah = (const void *)pos;

		/* Complete means with both address pairs, not just the fixed part. */
		if ((const void *)(ah + 1) > data_end ||
		    (const void *)(pos + sizeof(*ah) + 2 * (ah->hlen + ah->plen)) > data_end)
			return ft_malformed(p, FT_MAL_ARP_TRUNCATED);
		p->classes |= FT_BIT(FT_CLASS_ARP);
		return;
	}
	p->classes |= FT_BIT(FT_CLASS_OTHER_L2);
}

#endif /* FT_PARSE_H */
