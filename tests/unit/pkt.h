/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A builder for crafted frames. Layers are pushed outermost first; each
 * push writes its own type into the slot the previous layer left open (the
 * Ethernet/VLAN ethertype, the IPv4 protocol or IPv6 next header), and
 * pkt_finish() fills every length and checksum from the final frame, so a
 * builder only states what differs from a well-formed packet:
 *
 *	struct pkt p;
 *
 *	pkt_init(&p);
 *	pkt_eth(&p);
 *	pkt_vlan(&p, ETH_P_8021Q, 100);
 *	ip = pkt_ipv4(&p, NULL, NULL);
 *	pkt_udp(&p, 1000, 53);
 *	pkt_str(&p, "payload");
 *	pkt_finish(&p);
 *	pkt_ip4(&p, ip)->ihl = 4;	// then break what the test is about
 *
 * Every push returns the offset of what it wrote, for such patches.
 * Everything after pkt_finish() (pkt_pad, pkt_truncate, patches) leaves the
 * header fields alone.
 */
#ifndef FT_TEST_PKT_H
#define FT_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>

#define PKT_MAX 3072

/* Documentation addresses; a NULL address in a push means these. */
#define PKT_IP4_SRC "192.0.2.1"
#define PKT_IP4_DST "198.51.100.2"
#define PKT_IP6_SRC "2001:db8::1"
#define PKT_IP6_DST "2001:db8::2"
static const __u8 pkt_mac_src[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x01};
static const __u8 pkt_mac_dst[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x02};

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20

#define PKT_MAX_FIXUPS 16

enum pkt_fix_kind {
	PKT_FIX_IPV4,
	PKT_FIX_IPV6,
	PKT_FIX_TCP,
	PKT_FIX_UDP,
	PKT_FIX_ICMP,
	PKT_FIX_ICMPV6,
};

/* A header whose length or checksum pkt_finish() computes. */
struct pkt_fixup {
	enum pkt_fix_kind kind;
	int off;
	int l3_off; /* for L4: the IP header the pseudo-header comes from */
};

struct pkt {
	/* As NET_IP_ALIGN does in the kernel: data sits 2 bytes past an
	 * 8-byte boundary, so the headers after Ethernet are aligned. */
	__u8 ip_align[2];
	__u8 data[PKT_MAX];
	int len;
	int etype_off; /* open ethertype slot, or -1 */
	int proto_off; /* open IP protocol / next-header slot, or -1 */
	int l3_off;    /* innermost IP header, or -1 */
	int nfix;
	struct pkt_fixup fix[PKT_MAX_FIXUPS];
	bool finished;
} __attribute__((aligned(8)));

static inline void pkt__die(const char *why)
{
	fprintf(stderr, "pkt: %s\n", why);
	abort();
}

static inline void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->etype_off = p->proto_off = p->l3_off = -1;
}

static inline void *pkt_at(struct pkt *p, int off)
{
	return p->data + off;
}

static inline struct iphdr *pkt_ip4(struct pkt *p, int off)
{
	return (struct iphdr *)(p->data + off);
}

static inline struct ipv6hdr *pkt_ip6(struct pkt *p, int off)
{
	return (struct ipv6hdr *)(p->data + off);
}

static inline struct tcphdr *pkt_tcph(struct pkt *p, int off)
{
	return (struct tcphdr *)(p->data + off);
}

static inline struct udphdr *pkt_udph(struct pkt *p, int off)
{
	return (struct udphdr *)(p->data + off);
}

/* Appends n zero bytes; returns their offset. */
static inline int pkt_put(struct pkt *p, int n)
{
	int off = p->len;

	if (n < 0 || p->len + n > PKT_MAX)
		pkt__die("frame too long");
	memset(p->data + off, 0, n);
	p->len += n;
	return off;
}

static inline int pkt_bytes(struct pkt *p, const void *buf, int n)
{
	int off = pkt_put(p, n);

	memcpy(p->data + off, buf, n);
	return off;
}

static inline int pkt_str(struct pkt *p, const char *s)
{
	return pkt_bytes(p, s, strlen(s));
}

static inline int pkt_fill(struct pkt *p, __u8 c, int n)
{
	int off = pkt_put(p, n);

	memset(p->data + off, c, n);
	return off;
}

static inline void pkt__fixup(struct pkt *p, enum pkt_fix_kind kind, int off)
{
	if (p->nfix == PKT_MAX_FIXUPS)
		pkt__die("too many headers");
	p->fix[p->nfix++] = (struct pkt_fixup){.kind = kind, .off = off, .l3_off = p->l3_off};
}

/* Closes the open ethertype slot with type. */
static inline void pkt_ethertype(struct pkt *p, __u16 type)
{
	if (p->etype_off >= 0) {
		__be16 v = htons(type);

		memcpy(p->data + p->etype_off, &v, 2);
	}
	p->etype_off = -1;
}

/* Closes the open IP protocol slot with proto. */
static inline void pkt_proto(struct pkt *p, __u8 proto)
{
	if (p->proto_off >= 0)
		p->data[p->proto_off] = proto;
	p->proto_off = -1;
}

/* Ethernet II header; its ethertype is left open for the next push. */
static inline int pkt_eth(struct pkt *p)
{
	int off = pkt_put(p, ETH_HLEN);
	struct ethhdr *eth = pkt_at(p, off);

	memcpy(eth->h_dest, pkt_mac_dst, ETH_ALEN);
	memcpy(eth->h_source, pkt_mac_src, ETH_ALEN);
	p->etype_off = off + 12;
	return off;
}

/* IEEE 802.3 header: a length, not an ethertype, then LLC (STP here). */
static inline int pkt_eth_8023(struct pkt *p, int payload_len)
{
	static const __u8 llc[3] = {0x42, 0x42, 0x03};
	int off = pkt_eth(p);

	pkt_ethertype(p, payload_len + sizeof(llc));
	pkt_bytes(p, llc, sizeof(llc));
	pkt_put(p, payload_len);
	return off;
}

/* An 802.1Q (ETH_P_8021Q) or 802.1ad (ETH_P_8021AD) tag. */
static inline int pkt_vlan(struct pkt *p, __u16 tpid, __u16 vid)
{
	int off;
	__be16 tci = htons(vid);

	pkt_ethertype(p, tpid);
	off = pkt_bytes(p, &tci, 2);
	pkt_put(p, 2);
	p->etype_off = off + 2;
	return off;
}

/* Ethernet/IPv4 ARP, 28 bytes. */
static inline int pkt_arp(struct pkt *p, __u16 oper)
{
	__u8 arp[28] = {0, 1, 8, 0, 6, 4, 0, 0};
	__be16 op = htons(oper);

	pkt_ethertype(p, ETH_P_ARP);
	memcpy(arp + 6, &op, 2);
	memcpy(arp + 8, pkt_mac_src, ETH_ALEN);
	inet_pton(AF_INET, PKT_IP4_SRC, arp + 14);
	inet_pton(AF_INET, PKT_IP4_DST, arp + 24);
	return pkt_bytes(p, arp, sizeof(arp));
}

static inline void pkt__addr(int af, const char *s, void *dst)
{
	if (inet_pton(af, s, dst) != 1)
		pkt__die("bad address");
}

/* IPv4 header without options, after Ethernet or inside another IP header. */
static inline int pkt_ipv4(struct pkt *p, const char *src, const char *dst)
{
	int off;
	struct iphdr *ip;

	if (p->proto_off >= 0)
		pkt_proto(p, IPPROTO_IPIP);
	else
		pkt_ethertype(p, ETH_P_IP);
	off = pkt_put(p, sizeof(*ip));
	ip = pkt_ip4(p, off);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->id = htons(1);
	pkt__addr(AF_INET, src ? src : PKT_IP4_SRC, &ip->saddr);
	pkt__addr(AF_INET, dst ? dst : PKT_IP4_DST, &ip->daddr);
	p->proto_off = off + 9;
	p->l3_off = off;
	pkt__fixup(p, PKT_FIX_IPV4, off);
	return off;
}

/* Options for the IPv4 header just pushed; n is padded to 4 with EOL. */
static inline int pkt_ipv4_options(struct pkt *p, const void *opts, int n)
{
	int padded = (n + 3) & ~3, off;
	struct iphdr *ip = pkt_ip4(p, p->l3_off);

	if (p->l3_off < 0 || p->len != p->l3_off + ip->ihl * 4 || ip->ihl * 4 + padded > 60)
		pkt__die("IPv4 options must follow their header, at most 40 bytes");
	off = pkt_put(p, padded);
	memcpy(p->data + off, opts, n);
	ip->ihl += padded / 4;
	return off;
}

/* Makes the last IPv4 header a fragment at offset bytes (a multiple of 8). */
static inline void pkt_ipv4_frag(struct pkt *p, int offset, bool more)
{
	pkt_ip4(p, p->l3_off)->frag_off = htons((offset / 8) | (more ? 0x2000 : 0));
}

static inline int pkt_ipv6(struct pkt *p, const char *src, const char *dst)
{
	int off;
	struct ipv6hdr *ip6;

	if (p->proto_off >= 0)
		pkt_proto(p, IPPROTO_IPV6);
	else
		pkt_ethertype(p, ETH_P_IPV6);
	off = pkt_put(p, sizeof(*ip6));
	ip6 = pkt_ip6(p, off);
	ip6->version = 6;
	ip6->hop_limit = 64;
	pkt__addr(AF_INET6, src ? src : PKT_IP6_SRC, &ip6->saddr);
	pkt__addr(AF_INET6, dst ? dst : PKT_IP6_DST, &ip6->daddr);
	p->proto_off = off + 6;
	p->l3_off = off;
	pkt__fixup(p, PKT_FIX_IPV6, off);
	return off;
}

/*
 * A hop-by-hop (IPPROTO_HOPOPTS), routing (IPPROTO_ROUTING) or destination
 * options (IPPROTO_DSTOPTS) header of 8 * (hdrlen + 1) bytes. Option
 * headers are filled with one PadN option; a routing header is an empty
 * segment routing header (type 4, segments left 0).
 */
static inline int pkt_ipv6_ext(struct pkt *p, __u8 type, __u8 hdrlen)
{
	int len = 8 * (hdrlen + 1), off;
	__u8 *h;

	pkt_proto(p, type);
	off = pkt_put(p, len);
	h = p->data + off;
	h[1] = hdrlen;
	if (type == IPPROTO_ROUTING) {
		h[2] = 4;
	} else {
		h[2] = 1; /* PadN */
		h[3] = len - 4;
	}
	p->proto_off = off;
	return off;
}

/* IPv6 fragment header: offset in bytes (a multiple of 8), M flag. */
static inline int pkt_ipv6_frag(struct pkt *p, int offset, bool more)
{
	__be16 fo = htons((offset & ~7) | (more ? 1 : 0));
	__be32 id = htonl(0x1234);
	int off;

	pkt_proto(p, IPPROTO_FRAGMENT);
	off = pkt_put(p, 8);
	memcpy(p->data + off + 2, &fo, 2);
	memcpy(p->data + off + 4, &id, 4);
	p->proto_off = off;
	return off;
}

/* IPsec AH with a 4-byte ICV (16 bytes); closes the chain with proto. */
static inline int pkt_ah(struct pkt *p, __u8 next)
{
	int off;

	pkt_proto(p, IPPROTO_AH);
	off = pkt_put(p, 16);
	p->data[off] = next;
	p->data[off + 1] = 16 / 4 - 2;
	p->data[off + 7] = 1; /* SPI */
	return off;
}

static inline int pkt_tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags)
{
	int off;
	struct tcphdr *th;

	pkt_proto(p, IPPROTO_TCP);
	off = pkt_put(p, sizeof(*th));
	th = pkt_tcph(p, off);
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(1000);
	th->ack_seq = htonl(flags & PKT_TCP_ACK ? 2000 : 0);
	th->doff = 5;
	((__u8 *)th)[13] = flags;
	th->window = htons(65535);
	pkt__fixup(p, PKT_FIX_TCP, off);
	return off;
}

/* TCP options for the header just pushed (tcp_off), NOP-padded to 4. */
static inline int pkt_tcp_options(struct pkt *p, int tcp_off, const void *opts, int n)
{
	int padded = (n + 3) & ~3, off;
	struct tcphdr *th = pkt_tcph(p, tcp_off);

	if (p->len != tcp_off + th->doff * 4 || th->doff * 4 + padded > 60)
		pkt__die("TCP options must follow their header, at most 40 bytes");
	off = pkt_fill(p, 1 /* NOP */, padded);
	memcpy(p->data + off, opts, n);
	th->doff += padded / 4;
	return off;
}

static inline int pkt_udp(struct pkt *p, __u16 sport, __u16 dport)
{
	int off;
	struct udphdr *uh;

	pkt_proto(p, IPPROTO_UDP);
	off = pkt_put(p, sizeof(*uh));
	uh = pkt_udph(p, off);
	uh->source = htons(sport);
	uh->dest = htons(dport);
	pkt__fixup(p, PKT_FIX_UDP, off);
	return off;
}

/* ICMP header (8 bytes: type, code, checksum, id, sequence). */
static inline int pkt_icmp(struct pkt *p, __u8 type, __u8 code)
{
	int off;

	pkt_proto(p, IPPROTO_ICMP);
	off = pkt_put(p, 8);
	p->data[off] = type;
	p->data[off + 1] = code;
	p->data[off + 5] = 1; /* id */
	p->data[off + 7] = 1; /* sequence */
	pkt__fixup(p, PKT_FIX_ICMP, off);
	return off;
}

static inline int pkt_icmp6(struct pkt *p, __u8 type, __u8 code)
{
	int off;

	pkt_proto(p, IPPROTO_ICMPV6);
	off = pkt_put(p, 8);
	p->data[off] = type;
	p->data[off + 1] = code;
	p->data[off + 5] = 1;
	p->data[off + 7] = 1;
	pkt__fixup(p, PKT_FIX_ICMPV6, off);
	return off;
}

static inline __u32 pkt__sum(const __u8 *b, int n, __u32 sum)
{
	int i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (n & 1)
		sum += b[n - 1] << 8;
	return sum;
}

static inline __be16 pkt__fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* Ones' complement sum of the pseudo-header of an L4 header at off. */
static inline __u32 pkt__pseudo(struct pkt *p, const struct pkt_fixup *f, __u8 proto)
{
	__u32 l4_len = p->len - f->off, sum = proto;

	if (f->l3_off < 0)
		return 0;
	if (pkt_ip4(p, f->l3_off)->version == 4)
		sum = pkt__sum(p->data + f->l3_off + 12, 8, sum);
	else
		sum = pkt__sum(p->data + f->l3_off + 8, 32, sum);
	return sum + (l4_len >> 16) + (l4_len & 0xffff);
}

static inline void pkt__finish_one(struct pkt *p, const struct pkt_fixup *f)
{
	__u8 *h = p->data + f->off;
	int l4_len = p->len - f->off;
	__be16 ck;

	switch (f->kind) {
	case PKT_FIX_IPV4: {
		struct iphdr *ip = (void *)h;

		ip->tot_len = htons(l4_len);
		ip->check = 0;
		ip->check = pkt__fold(pkt__sum(h, ip->ihl * 4, 0));
		break;
	}
	case PKT_FIX_IPV6:
		pkt_ip6(p, f->off)->payload_len = htons(l4_len - sizeof(struct ipv6hdr));
		break;
	case PKT_FIX_TCP:
		pkt_tcph(p, f->off)->check = 0;
		ck = pkt__fold(pkt__sum(h, l4_len, pkt__pseudo(p, f, IPPROTO_TCP)));
		pkt_tcph(p, f->off)->check = ck;
		break;
	case PKT_FIX_UDP:
		pkt_udph(p, f->off)->len = htons(l4_len);
		pkt_udph(p, f->off)->check = 0;
		ck = pkt__fold(pkt__sum(h, l4_len, pkt__pseudo(p, f, IPPROTO_UDP)));
		pkt_udph(p, f->off)->check = ck ? ck : 0xffff;
		break;
	case PKT_FIX_ICMP:
	case PKT_FIX_ICMPV6:
		h[2] = h[3] = 0;
		ck = f->kind == PKT_FIX_ICMP
			 ? pkt__fold(pkt__sum(h, l4_len, 0))
			 : pkt__fold(pkt__sum(h, l4_len, pkt__pseudo(p, f, IPPROTO_ICMPV6)));
		memcpy(h + 2, &ck, 2);
		break;
	}
}

/* Fills lengths and checksums, innermost header first. Returns the length. */
static inline int pkt_finish(struct pkt *p)
{
	int i;

	for (i = p->nfix - 1; i >= 0; i--)
		pkt__finish_one(p, &p->fix[i]);
	p->finished = true;
	return p->len;
}

/* Pads the frame with zeros to len bytes (Ethernet's 60-byte minimum). */
static inline void pkt_pad(struct pkt *p, int len)
{
	if (p->len < len)
		pkt_put(p, len - p->len);
}

/* Cuts the frame to len bytes; the headers still claim the old lengths. */
static inline void pkt_truncate(struct pkt *p, int len)
{
	if (len < p->len)
		p->len = len;
}

#endif /* FT_TEST_PKT_H */
