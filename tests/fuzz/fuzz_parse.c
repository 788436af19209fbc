// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The packet parser, compiled from the same include/parse.h the BPF
 * programs use. The frame is copied to a buffer of exactly its length, so
 * ASan catches any read past data_end; then the result is checked against
 * the invariants the datapath and the counters rely on.
 *
 * Input: byte 0 bit 0 = a VLAN tag was stripped into skb->vlan_tci,
 * bytes 1-2 = that tag, byte 3 = bytes of the frame that are not linear
 * (pkt_len - (data_end - data)); the frame follows.
 */
#include <string.h>
#include "fuzz.h"
#include "parse.h"

#define HDR_LEN	     4
#define NET_IP_ALIGN 2

#define L3_BITS                                                                                    \
	(FT_BIT(FT_CLASS_IPV4) | FT_BIT(FT_CLASS_IPV6) | FT_BIT(FT_CLASS_ARP) |                    \
	 FT_BIT(FT_CLASS_OTHER_L2))
#define L4_BITS                                                                                    \
	(FT_BIT(FT_CLASS_TCP) | FT_BIT(FT_CLASS_UDP) | FT_BIT(FT_CLASS_ICMP) |                     \
	 FT_BIT(FT_CLASS_ICMPV6) | FT_BIT(FT_CLASS_OTHER_L4))
#define IP_BITS (FT_BIT(FT_CLASS_IPV4) | FT_BIT(FT_CLASS_IPV6))

/* What an independent walk of the headers says about fragments. */
struct ref_frag {
	int nonfirst; /* an IPv4 offset or IPv6 fragment header offset != 0 */
	int first;    /* a fragment with offset 0 (MF set) */
	long l4_off;  /* first fragment: where its L4 header starts, else -1 */
	long l4_end;  /* where the IP lengths say the L4 part ends */
	__u8 l4_proto;
};

static __u16 be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static int is_vlan(__u16 proto)
{
	return proto == ETH_P_8021Q || proto == ETH_P_8021AD;
}

/* Offset and ethertype of the L3 header, or -1 if the L2 part is bad. */
static long ref_l3(const __u8 *d, size_t len, int hw_vlan, __u16 *proto)
{
	unsigned int nv = hw_vlan ? 1 : 0;
	size_t pos = ETH_HLEN;

	if (len < ETH_HLEN)
		return -1;
	*proto = be16(d + 12);
	while (is_vlan(*proto) && nv < FT_MAX_VLAN_TAGS) {
		if (pos + 4 > len)
			return -1;
		*proto = be16(d + pos + 2);
		pos += 4;
		nv++;
	}
	return is_vlan(*proto) ? -1 : (long)pos;
}

static void ref_frag_v4(const __u8 *d, size_t len, size_t l3, size_t frame, struct ref_frag *r)
{
	const __u8 *ip = d + l3;
	size_t ihl, tot;
	__u16 frag;

	if (l3 + 20 > len || ip[0] >> 4 != 4)
		return;
	ihl = (ip[0] & 15) * 4;
	tot = be16(ip + 2);
	if (ihl < 20 || l3 + ihl > len || tot < ihl || l3 + tot > frame)
		return;
	frag = be16(ip + 6);
	if (frag & FT_IP_OFFSET) {
		r->nonfirst = 1;
	} else if (frag & FT_IP_MF) {
		r->first = 1;
		r->l4_off = l3 + ihl;
		r->l4_end = l3 + tot;
		r->l4_proto = ip[9];
	}
}

static void ref_frag_v6(const __u8 *d, size_t len, size_t l3, size_t frame, struct ref_frag *r)
{
	size_t pos = l3 + 40, end;
	__u8 nh;
	int i;

	if (l3 + 40 > len || d[l3] >> 4 != 6 || l3 + 40 + be16(d + l3 + 4) > frame)
		return;
	end = pos + be16(d + l3 + 4);
	nh = d[l3 + 6];
	for (i = 0; i < FT_IPV6_EXT_MAX && ft_ipv6_is_ext(nh); i++) {
		size_t hl;

		if (pos + 8 > len || pos + 8 > end)
			return;
		hl = (d[pos + 1] + 1) * 8;
		if (nh == IPPROTO_FRAGMENT) {
			if (be16(d + pos + 2) & ~7) {
				r->nonfirst = 1;
				return;
			}
			r->first = 1;
			hl = 8;
		}
		nh = d[pos];
		if (pos + hl > len || pos + hl > end)
			return;
		pos += hl;
	}
	if (r->first && !ft_ipv6_is_ext(nh)) {
		r->l4_off = pos;
		r->l4_end = end;
		r->l4_proto = nh;
	}
}

static void ref_frag(const __u8 *d, size_t len, const struct ft_parse_in *in, struct ref_frag *r)
{
	__u16 proto;
	long l3 = ref_l3(d, len, in->hw_vlan_present, &proto);

	memset(r, 0, sizeof(*r));
	r->l4_off = -1;
	if (l3 < 0)
		return;
	if (proto == ETH_P_IP)
		ref_frag_v4(d, len, l3, in->pkt_len, r);
	else if (proto == ETH_P_IPV6)
		ref_frag_v6(d, len, l3, in->pkt_len, r);
}

static int popcount(__u32 v)
{
	return __builtin_popcount(v);
}

static void check_classes(const struct ft_parsed *p)
{
	__u32 c = p->classes;
	__u32 valid = (FT_BIT(FT_CLASS_MAX) - 1) & ~FT_BIT(FT_CLASS_HTTP);

	FUZZ_CHECK(!(c & ~valid), "classes 0x%x", c);
	FUZZ_CHECK(!p->reason == !(c & FT_BIT(FT_CLASS_MALFORMED)), "reason %u classes 0x%x",
		   p->reason, c);
	FUZZ_CHECK(p->reason < FT_MAL_MAX, "reason %u", p->reason);
	FUZZ_CHECK(popcount(c & L3_BITS) <= 1, "classes 0x%x", c);
	FUZZ_CHECK(popcount(c & L4_BITS) <= 1, "classes 0x%x", c);
	if (!p->reason) {
		FUZZ_CHECK(popcount(c & L3_BITS) == 1, "no L2/L3 class: 0x%x", c);
		if (c & IP_BITS)
			FUZZ_CHECK(popcount(c & L4_BITS) == 1, "IP without L4 class: 0x%x", c);
	}
	/* The layer that failed is never counted, nor anything above it. */
	if (p->reason)
		FUZZ_CHECK(!(c & L4_BITS), "reason %u with L4 class 0x%x", p->reason, c);
	switch (p->reason) {
	case FT_MAL_ETH_TRUNCATED:
	case FT_MAL_VLAN_TRUNCATED:
	case FT_MAL_VLAN_DEPTH:
	case FT_MAL_ARP_TRUNCATED:
	case FT_MAL_IP_VERSION:
	case FT_MAL_IPV4_TRUNCATED:
	case FT_MAL_IPV4_IHL:
	case FT_MAL_IPV4_TOTAL_LEN:
	case FT_MAL_IPV6_TRUNCATED:
		FUZZ_CHECK(!(c & (L3_BITS | FT_BIT(FT_CLASS_FRAGMENT))), "reason %u classes 0x%x",
			   p->reason, c);
		break;
	case FT_MAL_IPV6_EXT_TRUNCATED:
	case FT_MAL_IPV6_EXT_CHAIN:
	case FT_MAL_ICMPV6_TRUNCATED:
		FUZZ_CHECK(c & FT_BIT(FT_CLASS_IPV6), "reason %u classes 0x%x", p->reason, c);
		break;
	case FT_MAL_ICMP_TRUNCATED:
		FUZZ_CHECK(c & FT_BIT(FT_CLASS_IPV4), "reason %u classes 0x%x", p->reason, c);
		break;
	case FT_MAL_TCP_TRUNCATED:
	case FT_MAL_TCP_DOFF:
	case FT_MAL_UDP_TRUNCATED:
	case FT_MAL_UDP_LEN:
		FUZZ_CHECK(c & IP_BITS, "reason %u classes 0x%x", p->reason, c);
		break;
	}
	if (c & (FT_BIT(FT_CLASS_ARP) | FT_BIT(FT_CLASS_OTHER_L2)))
		FUZZ_CHECK(!(c & (L4_BITS | FT_BIT(FT_CLASS_FRAGMENT))), "classes 0x%x", c);
	if (c & FT_BIT(FT_CLASS_ICMP))
		FUZZ_CHECK(c & FT_BIT(FT_CLASS_IPV4), "icmp outside ipv4: 0x%x", c);
	if (c & FT_BIT(FT_CLASS_ICMPV6))
		FUZZ_CHECK(c & FT_BIT(FT_CLASS_IPV6), "icmpv6 outside ipv6: 0x%x", c);
}

static void check_key(const struct ft_parsed *p, const struct ft_parse_in *in, size_t len)
{
	static const __u8 zero[16];
	const struct ft_flow_key *k = &p->key;
	__u32 c = p->classes;

	FUZZ_CHECK(!k->ifindex && !k->dir && !k->pad && !k->pad2, "caller's key fields touched");
	FUZZ_CHECK((k->family == FT_FAMILY_IPV4) == !!(c & FT_BIT(FT_CLASS_IPV4)) &&
		       (k->family == FT_FAMILY_IPV6) == !!(c & FT_BIT(FT_CLASS_IPV6)),
		   "family %u classes 0x%x", k->family, c);
	if (!k->family)
		FUZZ_CHECK(!k->proto && !memcmp(k->src, zero, 16) && !memcmp(k->dst, zero, 16),
			   "non-IP packet with addresses");
	if (k->family == FT_FAMILY_IPV4)
		FUZZ_CHECK(!memcmp(k->src + 4, zero, 12) && !memcmp(k->dst + 4, zero, 12),
			   "IPv4 address tails not zero");
	FUZZ_CHECK(p->nvlan <= FT_MAX_VLAN_TAGS, "nvlan %u", p->nvlan);
	FUZZ_CHECK(!!p->nvlan == !!(c & FT_BIT(FT_CLASS_VLAN)), "nvlan %u classes 0x%x", p->nvlan,
		   c);
	FUZZ_CHECK(k->vlan <= FT_VLAN_VID && (p->nvlan || !k->vlan), "vlan %u", k->vlan);
	if (in->hw_vlan_present && len >= ETH_HLEN)
		FUZZ_CHECK(k->vlan == (in->hw_vlan_tci & FT_VLAN_VID), "hw vlan %u, key %u",
			   in->hw_vlan_tci, k->vlan);
	if (!(c & (FT_BIT(FT_CLASS_TCP) | FT_BIT(FT_CLASS_UDP) | FT_BIT(FT_CLASS_ICMP) |
		   FT_BIT(FT_CLASS_ICMPV6))))
		FUZZ_CHECK(!k->sport && !k->dport, "ports %u/%u without a port class", k->sport,
			   k->dport);
	if (c & (FT_BIT(FT_CLASS_ICMP) | FT_BIT(FT_CLASS_ICMPV6)))
		FUZZ_CHECK(k->sport < 256 && k->dport < 256, "icmp type/code %u/%u", k->sport,
			   k->dport);
}

static void check_frag(const __u8 *d, size_t len, const struct ft_parse_in *in,
		       const struct ft_parsed *p)
{
	struct ref_frag r;

	ref_frag(d, len, in, &r);
	if (r.nonfirst && !p->reason) {
		FUZZ_CHECK(p->classes & FT_BIT(FT_CLASS_FRAGMENT), "fragment not classified");
		FUZZ_CHECK(!p->key.sport && !p->key.dport && !p->payload_off && !p->payload_len &&
			       !p->tcp_flags && !p->http_method,
			   "non-first fragment with L4 fields: ports %u/%u", p->key.sport,
			   p->key.dport);
		FUZZ_CHECK(p->classes & ft_l4_class(p->key.family, p->key.proto),
			   "non-first fragment without its L4 class");
	}
	if (p->classes & FT_BIT(FT_CLASS_FRAGMENT))
		FUZZ_CHECK(r.nonfirst || r.first, "FRAGMENT class on a packet that is none");
	/*
	 * The first fragment carries the L4 header but only part of the
	 * datagram: a UDP length covering the whole datagram is valid.
	 */
	if (r.first && r.l4_off >= 0 && r.l4_proto == IPPROTO_UDP && r.l4_off + 8 <= (long)len &&
	    r.l4_off + 8 <= r.l4_end && be16(d + r.l4_off + 4) >= 8)
		FUZZ_CHECK_OPEN("udp-first-fragment", p->reason != FT_MAL_UDP_LEN,
				"first fragment of a UDP datagram (udp len %u, fragment holds %ld) "
				"counted malformed(udp_len)",
				be16(d + r.l4_off + 4), r.l4_end - r.l4_off);
}

/* The method a payload starting at pl (avail bytes there) must get. */
static __u8 ref_method(const __u8 *pl, size_t avail)
{
	static const char *const toks[FT_HTTP_MAX] = {
	    [FT_HTTP_GET] = "GET ",	  [FT_HTTP_HEAD] = "HEAD ",
	    [FT_HTTP_POST] = "POST ",	  [FT_HTTP_PUT] = "PUT ",
	    [FT_HTTP_DELETE] = "DELETE ", [FT_HTTP_OPTIONS] = "OPTIONS ",
	    [FT_HTTP_PATCH] = "PATCH ",	  [FT_HTTP_CONNECT] = "CONNECT ",
	    [FT_HTTP_TRACE] = "TRACE ",
	};
	__u8 m;

	for (m = 1; m < FT_HTTP_MAX; m++) {
		size_t n = strlen(toks[m]);

		if (avail > n && !memcmp(pl, toks[m], n) && pl[n] > ' ' && pl[n] < 0x7f)
			return m;
	}
	return FT_HTTP_NONE;
}

static void check_payload(const __u8 *d, size_t len, const struct ft_parse_in *in,
			  const struct ft_parsed *p)
{
	size_t want, avail;

	if (!(p->classes & FT_BIT(FT_CLASS_TCP))) {
		FUZZ_CHECK(!p->payload_off && !p->payload_len && !p->tcp_flags && !p->tcp_seq &&
			       !p->http_method && !p->payload_nonlinear,
			   "TCP fields on a non-TCP packet");
		return;
	}
	FUZZ_CHECK((__u64)p->payload_off + p->payload_len <= in->pkt_len,
		   "payload %u+%u past the frame (%u)", p->payload_off, p->payload_len,
		   in->pkt_len);
	if (!p->payload_len) {
		FUZZ_CHECK(!p->payload_off && !p->http_method && !p->payload_nonlinear,
			   "empty payload with offset %u", p->payload_off);
		return;
	}
	FUZZ_CHECK(p->payload_off >= ETH_HLEN + 20 + 20, "payload_off %u inside the headers",
		   p->payload_off);
	want = p->payload_len < 9 ? p->payload_len : 9;
	if (p->payload_nonlinear) {
		FUZZ_CHECK(p->payload_off + want > len, "nonlinear, yet %zu bytes at %u are linear",
			   want, p->payload_off);
		FUZZ_CHECK(!p->http_method, "method decided from nonlinear bytes");
		return;
	}
	FUZZ_CHECK(p->payload_off + want <= len, "payload %u+%zu past data_end %zu", p->payload_off,
		   want, len);
	avail = len - p->payload_off;
	if (avail > p->payload_len)
		avail = p->payload_len;
	FUZZ_CHECK(p->http_method == ref_method(d + p->payload_off, avail),
		   "http method %u, expected %u", p->http_method,
		   ref_method(d + p->payload_off, avail));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_parsed p = {}, again = {};
	struct ft_parse_in in = {};
	__u8 *buf, *frame;
	size_t len;

	if (size < HDR_LEN)
		return 0;
	len = size - HDR_LEN;
	/* The frame ends where the allocation does: a read past data_end
	 * is a heap overflow. It starts 2 bytes in, as drivers place it
	 * (NET_IP_ALIGN), so the IP header is 4-byte aligned. */
	buf = malloc(len + NET_IP_ALIGN);
	if (!buf)
		return 0;
	frame = buf + NET_IP_ALIGN;
	memcpy(frame, data + HDR_LEN, len);
	in.data = frame;
	in.data_end = frame + len;
	in.hw_vlan_present = data[0] & 1;
	in.hw_vlan_tci = (__u16)(data[1] << 8 | data[2]);
	in.pkt_len = len + data[3];

	ft_parse(&in, &p);
	check_classes(&p);
	check_key(&p, &in, len);
	check_frag(frame, len, &in, &p);
	check_payload(frame, len, &in, &p);
	ft_parse(&in, &again);
	FUZZ_CHECK(!memcmp(&p, &again, sizeof(p)), "parse is not deterministic");
	free(buf);
	return 0;
}
