/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The benchmark traffic: a weighted mix of packet shapes and the encoding
 * of a flow number into addresses and ports. The userspace tools build the
 * packets from it; gen.bpf.c rewrites the same fields per packet, so both
 * produce the same flows for the same numbers.
 *
 * Addresses are from the benchmarking ranges (RFC 2544's 198.18.0.0/15 and
 * fd00::/8) and only ever used between namespaces the benchmark creates.
 */
#ifndef BENCH_PKT_H
#define BENCH_PKT_H

#include <linux/types.h>

/*
 * Flow n: source port BENCH_SPORT_BASE + (n & BENCH_SPORT_MASK), and the
 * rest of n (n >> BENCH_SPORT_BITS) in the low 16 bits of the source
 * address. 2^30 flows fit; the benchmark uses at most a few million.
 */
#define BENCH_SPORT_BITS 14
#define BENCH_SPORT_MASK ((1U << BENCH_SPORT_BITS) - 1)
#define BENCH_SPORT_BASE 0x8000
#define BENCH_MAX_FLOWS	 (1U << 30)

static inline __u16 bench_flow_sport(__u32 n)
{
	return BENCH_SPORT_BASE + (n & BENCH_SPORT_MASK);
}

static inline __u16 bench_flow_addr_lo(__u32 n)
{
	return (__u16)(n >> BENCH_SPORT_BITS);
}

#ifndef __bpf__
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

/*
 * The L4 headers, written here rather than taken from <linux/tcp.h> or
 * <netinet/tcp.h>: tools include one family or the other (libnl brings
 * glibc's, the parser the kernel's), and the two cannot meet.
 */
struct bench_tcphdr {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff; /* data offset in the high nibble */
	__u8 flags;
	__be16 window;
	__sum16 check;
	__be16 urg_ptr;
};

struct bench_udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__sum16 check;
};

#define BENCH_TH_PSH 0x08
#define BENCH_TH_ACK 0x10

#define BENCH_PKT_MAX 1514

/* One kind of packet in the mix. size is the frame length, Ethernet header
 * included and FCS excluded, as tcpdump reports it. */
struct bench_shape {
	const char *name;
	__u8 family; /* 4 or 6 */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 size;
	const char *http; /* request line and headers, or NULL */
	__u16 weight;	  /* share of packets, in percent */
};

/*
 * A small-packet-heavy mix close to the classic 7:4:1 IMIX, split between
 * IPv4 and IPv6, TCP and UDP, with 7% HTTP requests (the expensive path:
 * method detection, per-method counters and a ring-buffer sample each).
 */
static const struct bench_shape bench_mix[] = {
    {"v4-udp-64", 4, IPPROTO_UDP, 64, NULL, 22},
    {"v4-tcp-64", 4, IPPROTO_TCP, 64, NULL, 20},
    {"v4-udp-576", 4, IPPROTO_UDP, 576, NULL, 8},
    {"v4-tcp-1500", 4, IPPROTO_TCP, 1500, NULL, 12},
    {"v4-http-get", 4, IPPROTO_TCP, 0,
     "GET /api/v1/items?id=42&page=3 HTTP/1.1\r\nHost: bench.example\r\n"
     "User-Agent: flowtap-bench\r\nAccept: */*\r\n\r\n",
     5},
    {"v6-tcp-78", 6, IPPROTO_TCP, 78, NULL, 12},
    {"v6-udp-576", 6, IPPROTO_UDP, 576, NULL, 8},
    {"v6-tcp-1500", 6, IPPROTO_TCP, 1500, NULL, 6},
    {"v6-http-post", 6, IPPROTO_TCP, 0,
     "POST /upload/v2/objects/bench-object HTTP/1.1\r\nHost: bench.example\r\n"
     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
     2},
    {"v4-udp-1500", 4, IPPROTO_UDP, 1500, NULL, 5},
};
#define BENCH_NSHAPES (sizeof(bench_mix) / sizeof(bench_mix[0]))

/* The shape of flow n: flows are dealt out by weight, in a fixed order, so
 * any count of flows carries the mix (and flow n is the same everywhere). */
static inline unsigned int bench_shape_of(__u32 n)
{
	unsigned int i, r = n % 100, acc = 0;

	for (i = 0; i < BENCH_NSHAPES; i++) {
		acc += bench_mix[i].weight;
		if (r < acc)
			return i;
	}
	return 0;
}

static const __u8 bench_src_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0xbe, 0x0c, 0x01};
/* Nobody's address: the receiver's stack drops the frame (PACKET_OTHERHOST)
 * right after flowtap has seen it, so the rate measures flowtap, not IP. */
static const __u8 bench_dst_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0xbe, 0x0c, 0x02};

static inline __u32 bench_csum_add(__u32 sum, const void *p, size_t len)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (__u32)b[len - 1] << 8;
	return sum;
}

static inline __u16 bench_csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htobe16((__u16)~sum);
}

static inline void bench_fill_addrs(const struct bench_shape *s, __u32 n, __u8 *src, __u8 *dst)
{
	__u16 lo = bench_flow_addr_lo(n);

	if (s->family == 4) {
		const __u8 s4[4] = {198, 18, (__u8)(lo >> 8), (__u8)lo};
		const __u8 d4[4] = {198, 19, 0, 1};

		memcpy(src, s4, 4);
		memcpy(dst, d4, 4);
		return;
	}
	memset(src, 0, 16);
	memset(dst, 0, 16);
	src[0] = dst[0] = 0xfd;
	src[1] = 0xbe;
	dst[1] = 0xbf;
	src[14] = (__u8)(lo >> 8);
	src[15] = (__u8)lo;
	dst[15] = 1;
}

static inline __u16 bench_dport(const struct bench_shape *s)
{
	if (s->http)
		return 80;
	return s->proto == IPPROTO_TCP ? 443 : 4789;
}

/*
 * Writes the L4 header and payload at l4; returns the L4 header length.
 * Headers are built in local structs and copied: in a frame, the L3 and L4
 * headers sit 2 bytes off their natural alignment (after the 14-byte
 * Ethernet header), so they are never accessed through struct pointers.
 */
static inline size_t bench_build_l4(const struct bench_shape *s, __u32 n, __u8 *l4, size_t l4_len)
{
	size_t hl =
	    s->proto == IPPROTO_TCP ? sizeof(struct bench_tcphdr) : sizeof(struct bench_udphdr);
	size_t i;

	for (i = hl; i < l4_len; i++)
		l4[i] = (__u8)('a' + i % 26);
	if (s->http)
		memcpy(l4 + hl, s->http, strlen(s->http));
	if (s->proto == IPPROTO_TCP) {
		struct bench_tcphdr th = {
		    .source = htobe16(bench_flow_sport(n)),
		    .dest = htobe16(bench_dport(s)),
		    .seq = htobe32(0x10000000 + n),
		    .ack_seq = htobe32(0x20000000),
		    .doff = 5 << 4,
		    .flags = BENCH_TH_ACK | (s->http ? BENCH_TH_PSH : 0),
		    .window = htobe16(512),
		};

		memcpy(l4, &th, sizeof(th));
	} else {
		struct bench_udphdr uh = {
		    .source = htobe16(bench_flow_sport(n)),
		    .dest = htobe16(bench_dport(s)),
		    .len = htobe16((__u16)l4_len),
		};

		memcpy(l4, &uh, sizeof(uh));
	}
	return hl;
}

/* Frame length of a shape: fixed, or just big enough for its request. */
static inline size_t bench_shape_len(const struct bench_shape *s)
{
	size_t l3 = s->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

	if (s->size)
		return s->size;
	return ETH_HLEN + l3 + sizeof(struct bench_tcphdr) + strlen(s->http);
}

/* Builds flow n's packet of shape s into buf (BENCH_PKT_MAX bytes), with
 * valid checksums; returns its length. */
static inline size_t bench_build(const struct bench_shape *s, __u32 n, __u8 *buf)
{
	size_t len = bench_shape_len(s), l3_len = s->family == 4 ? 20 : 40;
	size_t l4_len = len - ETH_HLEN - l3_len;
	struct ethhdr eth = {};
	__u8 *l3 = buf + ETH_HLEN, *l4 = l3 + l3_len, src[16], dst[16];
	__u8 pseudo[40] = {};
	size_t check_off = s->proto == IPPROTO_TCP ? offsetof(struct bench_tcphdr, check)
						   : offsetof(struct bench_udphdr, check);
	__u32 sum;
	__u16 check;

	memset(buf, 0, len);
	memcpy(eth.h_dest, bench_dst_mac, ETH_ALEN);
	memcpy(eth.h_source, bench_src_mac, ETH_ALEN);
	bench_fill_addrs(s, n, src, dst);
	bench_build_l4(s, n, l4, l4_len);
	if (s->family == 4) {
		struct iphdr ip = {
		    .version = 4,
		    .ihl = 5,
		    .tot_len = htobe16((__u16)(len - ETH_HLEN)),
		    .ttl = 64,
		    .protocol = s->proto,
		};

		eth.h_proto = htobe16(ETH_P_IP);
		memcpy(&ip.saddr, src, 4);
		memcpy(&ip.daddr, dst, 4);
		ip.check = bench_csum_fold(bench_csum_add(0, &ip, sizeof(ip)));
		memcpy(l3, &ip, sizeof(ip));
		memcpy(pseudo, src, 4);
		memcpy(pseudo + 4, dst, 4);
		sum = bench_csum_add(0, pseudo, 8);
	} else {
		struct ipv6hdr ip6 = {
		    .version = 6,
		    .payload_len = htobe16((__u16)l4_len),
		    .nexthdr = s->proto,
		    .hop_limit = 64,
		};

		eth.h_proto = htobe16(ETH_P_IPV6);
		memcpy(&ip6.saddr, src, 16);
		memcpy(&ip6.daddr, dst, 16);
		memcpy(l3, &ip6, sizeof(ip6));
		memcpy(pseudo, src, 16);
		memcpy(pseudo + 16, dst, 16);
		sum = bench_csum_add(0, pseudo, 32);
	}
	memcpy(buf, &eth, sizeof(eth));
	/* IPv4 UDP keeps checksum 0 (none); everything else gets a real one. */
	if (s->proto == IPPROTO_UDP && s->family == 4)
		return len;
	sum += s->proto + (__u32)l4_len;
	sum = bench_csum_add(sum, l4, l4_len);
	check = bench_csum_fold(sum);
	if (s->proto == IPPROTO_UDP && !check)
		check = 0xffff;
	memcpy(l4 + check_off, &check, sizeof(check));
	return len;
}
/* Flows base .. base + count - 1 all have shape bench_mix[shape]. */
struct bench_plan_ent {
	unsigned int shape;
	__u32 base, count;
};

/*
 * How the generator deals flows out to shapes: by weight, or all to shape
 * only (when >= 0). With fewer flows than shapes, the heaviest shapes get
 * one flow each (so one flow is the dominant v4-udp-64). Fills t (room for
 * BENCH_NSHAPES) and returns the number of entries.
 */
static inline size_t bench_plan(__u32 flows, int only, struct bench_plan_ent *t)
{
	unsigned int order[BENCH_NSHAPES], i, j, n = 0;
	__u32 base = 0, left = flows;

	for (i = 0; i < BENCH_NSHAPES; i++)
		order[i] = i;
	for (i = 1; i < BENCH_NSHAPES; i++) /* stable sort by weight, descending */
		for (j = i; j > 0 && bench_mix[order[j]].weight > bench_mix[order[j - 1]].weight;
		     j--) {
			unsigned int x = order[j];

			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (i = 0; i < BENCH_NSHAPES && left; i++) {
		__u32 k;

		if (only >= 0 && order[i] != (unsigned int)only)
			continue;
		if (only >= 0)
			k = flows;
		else if (flows < BENCH_NSHAPES)
			k = 1;
		else /* the heaviest shape takes what rounding leaves, below */
			k = i == 0 ? 0 : (__u32)((__u64)flows * bench_mix[order[i]].weight / 100);
		t[n++] = (struct bench_plan_ent){order[i], base, k};
		base += k;
		left -= k;
	}
	if (only < 0 && flows >= BENCH_NSHAPES) {
		for (i = 1; i < n; i++)
			t[i].base += left;
		t[0].count = left;
	}
	return n;
}
#endif /* !__bpf__ */

#endif /* BENCH_PKT_H */
