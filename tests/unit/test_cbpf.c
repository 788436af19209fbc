// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The classic-to-eBPF translator against libpcap's own interpreter: for
 * every filter expression and every crafted frame, the translated
 * program's return value from BPF_PROG_TEST_RUN (verdict and snap length)
 * must equal bpf_filter()'s. Three variants per filter: SCHED_CLS with
 * direct packet access, SCHED_CLS with every load through
 * bpf_skb_load_bytes, and XDP (attached in skb mode to lo of a private
 * network namespace: a test run of an XDP program attached nowhere costs a
 * synchronize_rcu, ~17 ms here). Then random classic programs the same way,
 * programs the translator must refuse, and the whole capture program
 * (selection, perf record, counters, tail-call chain) on its own maps.
 *
 * Usage: test_cbpf [-v] [-k FILTER] [-n RANDOM_PROGRAMS]
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>

#include "cbpf.h"
#include "flowtap.h"
#include "pkt.h"
#include "test.h"

#define MAX_FRAMES 1024

struct frame {
	__u8 *data;
	int len;
	char name[64];
};

static struct frame frames[MAX_FRAMES];
static int nframes;
static bool verbose;
static int lo_ifindex;
static char log_buf[1 << 20];

static void frame_add(const void *data, int len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void frame_add(const void *data, int len, const char *fmt, ...)
{
	struct frame *f;
	va_list ap;

	if (nframes == MAX_FRAMES || len <= ETH_HLEN)
		return; /* BPF_PROG_TEST_RUN needs more than an Ethernet header */
	f = &frames[nframes++];
	f->data = malloc(len);
	if (!f->data)
		abort();
	memcpy(f->data, data, len);
	f->len = len;
	va_start(ap, fmt);
	vsnprintf(f->name, sizeof(f->name), fmt, ap);
	va_end(ap);
}

static void frame_pkt(struct pkt *p, const char *name)
{
	if (!p->finished)
		pkt_finish(p);
	frame_add(p->data, p->len, "%s", name);
}

/* A deterministic generator: the corpus and the random programs are the
 * same on every run. */
static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u32 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (__u32)(rng_state >> 11);
}

static const char *const addr4[] = {"198.18.0.1", "198.19.255.254", "10.1.2.3",
				    "192.0.2.1",  "198.51.100.2",   "224.0.0.251"};
static const char *const addr6[] = {"fd00::1", "fd00::2", "2001:db8::1", "ff02::1"};

/* L4 over an IP header already pushed. kind: 0 TCP, 1 UDP, 2 ICMP. */
static void push_l4(struct pkt *p, int kind, __u16 sp, __u16 dp, __u8 flags, int payload, bool v6)
{
	int i, off;

	if (kind == 0)
		pkt_tcp(p, sp, dp, flags);
	else if (kind == 1)
		pkt_udp(p, sp, dp);
	else if (v6)
		pkt_icmp6(p, sp, dp);
	else
		pkt_icmp(p, sp, dp);
	off = pkt_put(p, payload);
	for (i = 0; i < payload; i++)
		p->data[off + i] = (__u8)(i * 7 + 1);
}

static void corpus_ipv4(void)
{
	static const struct {
		int kind;
		__u16 sp, dp;
		__u8 flags;
		int payload;
	} l4[] = {
	    {0, 40000, 80, PKT_TCP_SYN, 0},
	    {0, 80, 40000, PKT_TCP_SYN | PKT_TCP_ACK, 0},
	    {0, 51000, 443, PKT_TCP_ACK, 100},
	    {0, 1000, 2000, PKT_TCP_RST, 0},
	    {0, 999, 2001, PKT_TCP_FIN | PKT_TCP_ACK, 10},
	    {0, 22, 22, PKT_TCP_PSH | PKT_TCP_ACK, 1400},
	    {1, 5353, 53, 0, 30},
	    {1, 53, 40000, 0, 200},
	    {1, 1000, 1999, 0, 0},
	    {1, 67, 68, 0, 300},
	    {1, 2001, 999, 0, 1},
	    {1, 123, 123, 0, 48},
	    {2, 8, 0, 0, 56},
	    {2, 0, 0, 0, 56},
	    {2, 3, 3, 0, 28},
	    {2, 11, 0, 0, 28},
	};
	size_t s, i;

	for (s = 0; s < sizeof(addr4) / sizeof(addr4[0]); s++) {
		for (i = 0; i < sizeof(l4) / sizeof(l4[0]); i++) {
			const char *dst = addr4[(s + i + 1) % 6];
			struct pkt p;
			char name[64];

			pkt_init(&p);
			pkt_eth(&p);
			pkt_ipv4(&p, addr4[s], dst);
			push_l4(&p, l4[i].kind, l4[i].sp, l4[i].dp, l4[i].flags, l4[i].payload,
				false);
			pkt_finish(&p);
			if (i % 5 == 0)
				pkt_ip4(&p, ETH_HLEN)->ttl = (__u8)(s * 40);
			if (i % 4 == 1)
				pkt_ip4(&p, ETH_HLEN)->tos = 0xb8;
			snprintf(name, sizeof(name), "ip4 %s>%s l4 %zu", addr4[s], dst, i);
			frame_pkt(&p, name);
		}
	}
}

static void corpus_ipv4_special(void)
{
	static const __u8 ra[4] = {0x94, 0x04, 0, 0};
	struct pkt p;
	int off;

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	pkt_ipv4_options(&p, ra, sizeof(ra));
	pkt_udp(&p, 1500, 53);
	pkt_str(&p, "options");
	frame_pkt(&p, "ip4 options udp");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	pkt_ipv4_options(&p, ra, sizeof(ra));
	off = pkt_tcp(&p, 1234, 80, PKT_TCP_SYN);
	pkt_tcp_options(&p, off, "\x02\x04\x05\xb4\x04\x02\x08\x0a\0\0\0\1\0\0\0\0", 16);
	frame_pkt(&p, "ip4 options tcp options");

	for (off = 0; off < 3; off++) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4(&p, "198.18.0.1", "10.1.2.3");
		pkt_udp(&p, 1000, 53);
		pkt_put(&p, 64);
		pkt_ipv4_frag(&p, off * 1480, off < 2);
		pkt_finish(&p);
		pkt_ipv4_frag(&p, off * 1480, off < 2);
		frame_pkt(&p, off == 0 ? "ip4 first fragment" : "ip4 later fragment");
	}

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "192.0.2.1", "198.18.0.2");
	off = pkt_tcp(&p, 40000, 80, PKT_TCP_PSH | PKT_TCP_ACK);
	pkt_tcp_options(&p, off, "\x01\x01\x08\x0a\0\0\0\1\0\0\0\2", 12);
	pkt_str(&p, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
	frame_pkt(&p, "ip4 http get");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	pkt_ipv4(&p, "10.1.2.3", "192.0.2.1");
	pkt_udp(&p, 4789, 4789);
	frame_pkt(&p, "ip4 in ip4");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	pkt_proto(&p, 47);
	pkt_put(&p, 24);
	frame_pkt(&p, "ip4 gre");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	pkt_proto(&p, 132);
	pkt_put(&p, 28);
	frame_pkt(&p, "ip4 sctp");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "224.0.0.1");
	pkt_proto(&p, 2);
	pkt_put(&p, 8);
	frame_pkt(&p, "ip4 igmp");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	pkt_udp(&p, 9, 9);
	pkt_put(&p, 2900);
	frame_pkt(&p, "ip4 jumbo");
}

static void corpus_ipv6(void)
{
	static const __u8 ext[][2] = {
	    {0, 0},
	    {IPPROTO_HOPOPTS, 0},
	    {IPPROTO_ROUTING, 2},
	    {IPPROTO_DSTOPTS, 1},
	};
	static const struct {
		int kind;
		__u16 sp, dp;
		__u8 flags;
		int payload;
	} l4[] = {
	    {0, 40000, 80, PKT_TCP_SYN, 0},
	    {0, 443, 1500, PKT_TCP_ACK, 60},
	    {1, 5353, 53, 0, 20},
	    {1, 1000, 2000, 0, 500},
	    {2, 128, 0, 0, 32},
	    {2, 129, 0, 0, 32},
	    {2, 135, 0, 0, 24},
	    {2, 136, 0, 0, 24},
	    {2, 133, 0, 0, 8},
	};
	size_t e, i;

	for (e = 0; e < sizeof(ext) / sizeof(ext[0]); e++) {
		for (i = 0; i < sizeof(l4) / sizeof(l4[0]); i++) {
			const char *src = addr6[(e + i) % 4], *dst = addr6[(e + i + 1) % 4];
			struct pkt p;
			char name[64];

			pkt_init(&p);
			pkt_eth(&p);
			pkt_ipv6(&p, src, dst);
			if (ext[e][0])
				pkt_ipv6_ext(&p, ext[e][0], ext[e][1]);
			push_l4(&p, l4[i].kind, l4[i].sp, l4[i].dp, l4[i].flags, l4[i].payload,
				true);
			snprintf(name, sizeof(name), "ip6 ext %d l4 %zu", ext[e][0], i);
			frame_pkt(&p, name);
		}
	}
	for (i = 0; i < 4; i++) {
		struct pkt p;

		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv6(&p, "fd00::1", "fd00::2");
		if (i == 3) {
			pkt_ah(&p, IPPROTO_TCP);
			pkt_tcp(&p, 1, 80, PKT_TCP_SYN);
			frame_pkt(&p, "ip6 ah tcp");
			continue;
		}
		pkt_ipv6_frag(&p, i * 1232, i < 2);
		pkt_udp(&p, 2000, 53);
		pkt_put(&p, 40);
		frame_pkt(&p, i ? "ip6 later fragment" : "ip6 first fragment");
	}
}

static void corpus_l2(void)
{
	static const __u16 tpids[] = {ETH_P_8021Q, ETH_P_8021AD, 0x9100};
	static const __u16 vids[] = {100, 200, 4095, 0x2064 /* PCP 1, VID 100 */};
	struct pkt p;
	size_t t, v;
	int k;

	for (t = 0; t < 3; t++) {
		for (v = 0; v < 4; v++) {
			for (k = 0; k < 4; k++) {
				char name[64];

				pkt_init(&p);
				pkt_eth(&p);
				pkt_vlan(&p, tpids[t], vids[v]);
				if (k == 3)
					pkt_vlan(&p, ETH_P_8021Q, vids[(v + 1) % 4]);
				if (k == 1) {
					pkt_ipv6(&p, "fd00::1", "fd00::2");
					pkt_tcp(&p, 40000, 80, PKT_TCP_SYN);
				} else if (k == 2) {
					pkt_arp(&p, 1);
				} else {
					pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
					pkt_udp(&p, 1500, 53);
					pkt_put(&p, 20);
				}
				snprintf(name, sizeof(name), "vlan %04x/%u kind %d", tpids[t],
					 vids[v], k);
				frame_pkt(&p, name);
			}
		}
	}
	for (k = 1; k <= 4; k++) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_arp(&p, k);
		pkt_pad(&p, 60);
		frame_pkt(&p, "arp");
	}
	pkt_init(&p);
	pkt_eth(&p);
	pkt_ethertype(&p, 0x8035);
	pkt_put(&p, 46);
	frame_pkt(&p, "rarp");

	pkt_init(&p);
	pkt_eth_8023(&p, 35);
	frame_pkt(&p, "802.3 stp");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ethertype(&p, 0x88cc);
	pkt_put(&p, 46);
	frame_pkt(&p, "lldp");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ethertype(&p, 0x8847); /* MPLS, bottom of stack, then IPv4 */
	pkt_bytes(&p, "\x00\x01\x01\x40", 4);
	pkt_ethertype(&p, 0);
	pkt_ipv4(&p, "198.18.0.1", "198.18.0.2");
	frame_pkt(&p, "mpls ip");

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ethertype(&p, 0x8864); /* PPPoE session, PPP IPv4 */
	pkt_bytes(&p, "\x11\x00\x00\x01\x00\x20\x00\x21", 8);
	{
		int off = pkt_put(&p, 20);

		p.data[off] = 0x45;
		p.data[off + 9] = 17;
	}
	pkt_put(&p, 12);
	frame_pkt(&p, "pppoe ip");
}

/* Broadcast and multicast destinations of some frames so far. */
static void corpus_macs(void)
{
	int i, n = nframes;

	for (i = 0; i < n && nframes < MAX_FRAMES; i += 7) {
		__u8 buf[PKT_MAX];
		int len = frames[i].len;

		memcpy(buf, frames[i].data, len);
		if (i % 2)
			memset(buf, 0xff, 6);
		else
			memcpy(buf, "\x01\x00\x5e\x00\x00\xfb", 6);
		frame_add(buf, len, "%s mcast/bcast", frames[i].name);
	}
}

static void corpus_truncated(void)
{
	static const int cuts[] = {15, 16, 17, 20, 23, 30, 34, 38, 40, 42, 47, 50, 54, 58, 62};
	int i, n = nframes;
	size_t c;

	for (i = 0; i < n; i += 2) {
		for (c = (size_t)(i % 3); c < sizeof(cuts) / sizeof(cuts[0]); c += 3)
			if (cuts[c] < frames[i].len)
				frame_add(frames[i].data, cuts[c], "%s cut %d", frames[i].name,
					  cuts[c]);
		frame_add(frames[i].data, frames[i].len - 1, "%s cut -1", frames[i].name);
	}
}

static void corpus_garbage(void)
{
	static const __u16 types[] = {0x0800, 0x86dd, 0x8100, 0x0806, 0x88a8, 0};
	__u8 buf[512];
	int i, j;

	for (i = 0; i < 120; i++) {
		int len = 14 + (int)(rnd() % 200);

		for (j = 0; j < len; j++)
			buf[j] = (__u8)rnd();
		if (types[i % 6]) {
			buf[12] = types[i % 6] >> 8;
			buf[13] = types[i % 6] & 0xff;
		}
		if (i % 3 == 0)
			buf[14] = 0x45 + (i % 4); /* IPv4 with odd IHLs */
		frame_add(buf, len, "garbage %d", i);
	}
}

static void corpus_build(void)
{
	corpus_ipv4();
	corpus_ipv4_special();
	corpus_ipv6();
	corpus_l2();
	corpus_macs();
	corpus_truncated();
	corpus_garbage();
}

/* Filter expressions: hand-written, then generated families. */
static const char *const fixed_exprs[] = {
    "",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "tcp port 80",
    "udp and dst port 53",
    "vlan",
    "vlan and ip",
    "vlan and ip6",
    "vlan and arp",
    "vlan and tcp port 80",
    "vlan 100",
    "vlan 100 and udp",
    "vlan 4095",
    "vlan and vlan",
    "vlan 100 and vlan 200",
    "vlan and vlan and ip",
    "ip[2:2] > 100",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "tcp[tcpflags] & tcp-rst != 0",
    "tcp[tcpflags] & tcp-fin != 0",
    "tcp[tcpflags] = tcp-ack",
    "tcp[tcpflags] & tcp-push != 0",
    "tcp[13] = 0x12",
    "icmp[icmptype] = icmp-echo",
    "icmp[icmptype] == icmp-echoreply",
    "icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 3",
    "icmp6 and ip6[40] = 128",
    "icmp6[icmp6type] = icmp6-echo",
    "icmp6[icmp6type] = icmp6-neighborsolicit",
    "icmp6[0] = 136",
    "ether host 02:00:00:00:00:01",
    "ether src 02:00:00:00:00:01",
    "ether dst ff:ff:ff:ff:ff:ff",
    "ether broadcast",
    "ether multicast",
    "ether multicast and not ether broadcast",
    "ether proto 0x88cc",
    "ether[12:2] = 0x0806",
    "ether[0] & 1 != 0",
    "ether[6:4] = 0x02000000",
    "ether[0:4] = 0xffffffff",
    "ether[len - 1] = 0",
    "ether src 02:00:00:00:00:01 and ip",
    "net 198.18.0.0/15",
    "src net 10.0.0.0/8",
    "dst net 192.0.2.0/24",
    "net 224.0.0.0/4",
    "net 2001:db8::/32",
    "net fd00::/8",
    "src net fd00::/16",
    "ip multicast",
    "ip6 multicast",
    "len > 100",
    "len <= 64",
    "len = 60",
    "greater 200",
    "less 60",
    "len - 14 > 100",
    "len & 0xff = 0x3c",
    "ip6 and tcp",
    "ip6 and udp port 53",
    "portrange 1000-2000",
    "tcp portrange 1000-2000",
    "udp dst portrange 1-1023",
    "src portrange 1024-65535",
    "ip and (tcp or udp)",
    "not ip",
    "not tcp",
    "not (tcp or udp)",
    "ip[0] & 0xf > 5",
    "ip[0] & 0xf != 5",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "ip[6:2] & 0x1fff != 0",
    "ip[6] & 0x20 != 0",
    "ip[8] < 64",
    "ip[1] & 0xfc = 0xb8",
    "ip proto 47",
    "proto 17",
    "ip6 proto 58",
    "udp[8:2] = 0x0107",
    "udp[4:2] > 20",
    "tcp[2:2] = 80",
    "tcp[0:2] > 1023 and tcp[2:2] < 1024",
    "ip6[6] = 17",
    "ip6[7] < 64",
    "ip6[40] = 135",
    "ip6[6] = 0 and ip6[40] = 6",
    "ip6 and ip6[6] = 44",
    "mpls",
    "mpls and ip",
    "pppoes",
    "pppoes and ip",
    "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0",
    "ip[2:2] * 2 > 1000",
    "ip[2:2] / 4 > 10",
    "ip[2:2] % 7 = 3",
    "ip[0] ^ 0x45 = 0",
    "-ip[8] & 0xff = 0xc0",
    "ip[2:2] >> 2 > 10",
    "ip[8] << 1 > 100",
    "ip[ip[0] & 0xf] = 0",
    "ip[2:2] / ip[8] > 1",
    "ip[2:2] % ip[8] = 0",
    "ip[1] << ip[8] = 0",
    "ip[1] >> ip[8] = 0",
    "ip[2:2] >> ip[0] = 0",
    "udp[len - 20] = 0",
    "tcp and (tcp[tcpflags] & tcp-syn != 0) and not tcp[tcpflags] & tcp-ack != 0",
    "host 198.18.0.1 and (port 80 or port 443)",
    "src host 198.18.0.1 or dst host 198.18.0.2",
    "ip src 198.18.0.1 and ip dst 198.18.0.2",
    "udp and not port 53",
    "tcp dst port 80 or tcp dst port 8080",
    "port 53 or port 5353 or port 123",
    "ip and ip[9] = 6 and ip[6:2] & 0x1fff = 0 and tcp[13] & 2 != 0",
    "arp host 192.0.2.1",
    "arp src host 192.0.2.1",
    "arp[6:2] = 2",
    "llc",
    "stp",
    "ipx",
    "decnet",
    "atalk",
    "iso",
    "netbeui",
    "ip6 protochain 6",
    "ip protochain 17",
    "(ip or ip6) and (tcp port 80 or udp port 53)",
    "not vlan and ip",
    "ether[12:2] = 0x8100 and ether[14:2] & 0xfff = 100",
    "ip[12:4] = 0xc6120001",
    "ip[16:4] & 0xfffe0000 = 0xc6120000",
    "ip6[8:4] = 0xfd000000",
    "ip6[24:4] = 0xfd000000 and ip6[36:4] = 2",
    "icmp and icmp[4:2] = 1",
    "tcp[4:4] = 1000",
    "tcp[8:4] = 2000",
    "udp[0:4] = 0x14e90035",
};

/* Families of expressions over ports, hosts, nets, lengths, VLAN ids. */
static int gen_exprs(char ***out)
{
	static const char *const protos[] = {"", "tcp ", "udp ", "ip6 and tcp "};
	static const char *const dirs[] = {"", "src ", "dst "};
	static const int ports[] = {53, 80, 443, 1000, 2000, 0, 65535};
	static const char *const hosts[] = {"198.18.0.1", "198.51.100.2", "10.1.2.3", "fd00::2",
					    "2001:db8::1"};
	static const char *const nets[] = {"198.18.0.0/16", "198.18.0.0/15", "10.0.0.0/8",
					   "0.0.0.0/0",	    "fd00::/64",     "2001:db8::/48"};
	static const int lens[] = {14, 54, 60, 61, 100, 1000, 1500};
	static const int vids[] = {0, 100, 200, 4094};
	size_t n = 0, cap = 512, i, j, k;
	char **v = calloc(cap, sizeof(*v));

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (n < cap && asprintf(&v[n], __VA_ARGS__) >= 0)                                  \
			n++;                                                                       \
	} while (0)
	for (i = 0; i < sizeof(fixed_exprs) / sizeof(fixed_exprs[0]); i++)
		ADD("%s", fixed_exprs[i]);
	for (i = 0; i < 4; i++)
		for (j = 0; j < 3; j++)
			for (k = 0; k < 7; k += 1 + (i + j) % 2)
				ADD("%s%sport %d", protos[i], dirs[j], ports[k]);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 3; j++)
			ADD("%shost %s", dirs[j], hosts[i]);
	for (i = 0; i < 6; i++)
		for (j = 0; j < 3; j++)
			ADD("%snet %s", dirs[j], nets[i]);
	for (i = 0; i < 7; i++) {
		ADD("len > %d", lens[i]);
		ADD("less %d", lens[i]);
		ADD("greater %d and ip", lens[i]);
	}
	for (i = 0; i < 4; i++) {
		ADD("vlan %d", vids[i]);
		ADD("vlan %d and ip6", vids[i]);
		ADD("not vlan %d", vids[i]);
	}
#undef ADD
	*out = v;
	return (int)n;
}

static int load_prog(enum bpf_prog_type type, const struct cbpf_ebpf *e, char *why, size_t n)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log_buf, .log_size = sizeof(log_buf),
		    .log_level = verbose ? 1 : 0);
	int fd;

	log_buf[0] = 0;
	fd = bpf_prog_load(type, "cbpf_test", "Dual BSD/GPL", e->insns, e->len, &o);
	if (fd < 0 && !verbose) {
		/* Load again for the verifier's reasons. */
		o.log_level = 1;
		fd = bpf_prog_load(type, "cbpf_test", "Dual BSD/GPL", e->insns, e->len, &o);
	}
	if (fd < 0) {
		size_t l = strlen(log_buf);
		const char *tail = l > 300 ? log_buf + l - 300 : log_buf;

		snprintf(why, n, "load: %s: ...%s", strerror(errno), tail);
		return -1;
	}
	return fd;
}

static int run_prog(int fd, const struct frame *f, __u32 *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->data, .data_size_in = f->len, .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &o);

	*ret = o.retval;
	return err ? -errno : 0;
}

enum variant { V_SKB, V_SKB_SLOW, V_XDP, V_LIVE, V_MAX };
static const char *const variant_names[V_MAX] = {"skb", "skb-slow", "xdp", "live"};
/* Frames a variant cannot run: the kernel refuses skb test runs of IP
 * frames shorter than their header; lo drops VLAN frames cut in the tag. */
static bool untestable[V_MAX][MAX_FRAMES];
static long nrun[V_MAX];

static int live_load(const struct cbpf_prog *cp, char *why, size_t n);
static int live_run(const struct frame *f, __u32 *ret, char *why, size_t n);

static int variant_load(const struct cbpf_prog *cp, enum variant v, char *why, size_t n)
{
	struct cbpf_opts o = {.ctx = v == V_XDP ? CBPF_CTX_XDP : CBPF_CTX_SKB,
			      .force_slow = v == V_SKB_SLOW};
	struct cbpf_ebpf e;
	char err[256];
	int fd;

	if (v == V_LIVE)
		return live_load(cp, why, n);
	if (cbpf_to_ebpf(cp, &o, &e, err, sizeof(err))) {
		snprintf(why, n, "translate: %s", err);
		return -1;
	}
	fd = load_prog(v == V_XDP ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS, &e, why, n);
	cbpf_ebpf_free(&e);
	if (fd >= 0 && v == V_XDP && bpf_xdp_attach(lo_ifindex, fd, XDP_FLAGS_SKB_MODE, NULL)) {
		snprintf(why, n, "attach to lo: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void variant_unload(enum variant v, int fd)
{
	if (v == V_XDP)
		bpf_xdp_detach(lo_ifindex, XDP_FLAGS_SKB_MODE, NULL);
	if (fd >= 0)
		close(fd);
}

/* 0, -EAGAIN when the variant cannot run this frame, or an error. */
static int variant_run(enum variant v, int fd, int idx, __u32 *ret, char *why, size_t n)
{
	int err;

	if (untestable[v][idx])
		return -EAGAIN;
	if (v == V_LIVE)
		err = live_run(&frames[idx], ret, why, n);
	else if ((err = run_prog(fd, &frames[idx], ret)))
		snprintf(why, n, "test run: %s", strerror(-err));
	if (err == -EINVAL && (v == V_SKB || v == V_SKB_SLOW))
		err = -EAGAIN;
	if (err == -EAGAIN)
		untestable[v][idx] = true;
	else if (!err)
		nrun[v]++;
	return err;
}

/* Runs every frame (or the given subset) through every variant; true if
 * all agree with libpcap. */
static bool diff_one(const struct cbpf_prog *cp, const char *what, const int *subset, int nsub)
{
	enum variant v;
	char why[512];
	int i;

	for (v = 0; v < V_MAX; v++) {
		int fd = variant_load(cp, v, why, sizeof(why));

		if (fd < 0) {
			test_fail("%s %s", variant_names[v], why);
			return false;
		}
		for (i = 0; i < (subset ? nsub : nframes); i++) {
			int idx = subset ? subset[i] : i;
			const struct frame *f = &frames[idx];
			__u32 want = cbpf_run_ref(cp, f->data, f->len, f->len), got = 0;
			int err = variant_run(v, fd, idx, &got, why, sizeof(why));

			if (err == -EAGAIN)
				continue;
			if (err) {
				test_fail("%s: '%s': %s", variant_names[v], f->name, why);
				break;
			}
			if (got != want) {
				test_fail("%s: '%s' (%d bytes): got %u, libpcap %u%s",
					  variant_names[v], f->name, f->len, got, want, what);
				break;
			}
		}
		variant_unload(v, fd);
		if (test__st.failed)
			return false;
	}
	return true;
}

static bool has_backward_jump(const struct cbpf_prog *cp)
{
	size_t i;

	for (i = 0; i < cp->len; i++)
		if (cp->insns[i].code == (BPF_JMP | BPF_JA) && cp->insns[i].k >= cp->len - i - 1)
			return true;
	return false;
}

static void refuse_one(const struct cbpf_prog *cp)
{
	struct cbpf_opts o = {.ctx = CBPF_CTX_SKB};
	struct cbpf_ebpf e;
	char err[256] = "";

	if (ASSERT_TRUE(cbpf_to_ebpf(cp, &o, &e, err, sizeof(err)) < 0, "refused"))
		ASSERT_TRUE(err[0] != 0, "error message");
	else
		cbpf_ebpf_free(&e);
	if (verbose)
		fprintf(stderr, "refused as expected: %s\n", err);
}

static void test_exprs(void)
{
	char **exprs;
	int n = gen_exprs(&exprs), i, pass = 0;

	for (i = 0; i < n; i++) {
		static const __u32 snaps[] = {CBPF_DEFAULT_SNAPLEN, 96};
		int s;

		if (!test_start("cbpf/expr/%s", exprs[i][0] ? exprs[i] : "(empty)"))
			goto next;
		for (s = 0; s < (i % 10 == 0 ? 2 : 1); s++) {
			struct cbpf_prog cp;
			char err[256];

			if (cbpf_compile(exprs[i], snaps[s], &cp, err, sizeof(err))) {
				test_fail("pcap_compile: %s", err);
				break;
			}
			if (has_backward_jump(&cp)) {
				/* 'protochain' loops, which libpcap's own
				 * interpreter allows: the translator must refuse. */
				refuse_one(&cp);
				cbpf_prog_free(&cp);
				break;
			}
			if (!diff_one(&cp, "", NULL, 0)) {
				cbpf_prog_free(&cp);
				break;
			}
			cbpf_prog_free(&cp);
		}
		pass += !test__st.failed;
		test_end();
	next:
		free(exprs[i]);
	}
	free(exprs);
	if (test_start("cbpf/expr-count")) {
		ASSERT_GE(n, 200, "expressions");
		ASSERT_GE(nframes, 500, "frames");
		test_end();
	}
	if (verbose)
		fprintf(stderr, "%d expressions x %d frames, %d agree\n", n, nframes, pass);
}

/* A random classic program that libpcap's validator accepts. M[] is
 * written first: libpcap's interpreter leaves it uninitialised. */
static int random_prog(struct sock_filter *f, int max)
{
	static const __u16 alu_ops[] = {BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD,
					BPF_OR,	 BPF_AND, BPF_XOR, BPF_LSH, BPF_RSH};
	static const __u16 jmp_ops[] = {BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET};
	static const __u16 sizes[] = {BPF_W, BPF_H, BPF_B};
	int n = 0, body = 8 + (int)(rnd() % (max - 26)), i;

	for (i = 0; i < CBPF_MEMWORDS; i++)
		f[n++] = (struct sock_filter){BPF_ST, 0, 0, (__u32)i};
	for (i = 0; i < body; i++) {
		struct sock_filter *in = &f[n++];
		int left = body - i; /* instructions after this one, RET included */
		__u32 r = rnd();

		*in = (struct sock_filter){0, 0, 0, rnd() % 80};
		switch (r % 16) {
		case 0:
		case 1:
			in->code = BPF_LD | sizes[rnd() % 3] | BPF_ABS;
			if (rnd() % 8 == 0)
				in->k = rnd() % 4000;
			break;
		case 2:
			in->code = BPF_LD | sizes[rnd() % 3] | BPF_IND;
			in->k = rnd() % 40;
			break;
		case 3:
			in->code = BPF_LDX | BPF_B | BPF_MSH;
			break;
		case 4:
			in->code = rnd() % 2 ? BPF_LD | BPF_IMM : BPF_LDX | BPF_IMM;
			in->k = rnd() % 3 ? rnd() % 64 : rnd();
			break;
		case 5:
			in->code = rnd() % 2 ? BPF_LD | BPF_W | BPF_LEN : BPF_LDX | BPF_W | BPF_LEN;
			break;
		case 6:
			in->code = (rnd() % 2 ? BPF_LD : BPF_LDX) | BPF_MEM;
			in->k = rnd() % CBPF_MEMWORDS;
			break;
		case 7:
			in->code = rnd() % 2 ? BPF_ST : BPF_STX;
			in->k = rnd() % CBPF_MEMWORDS;
			break;
		case 8:
		case 9: {
			__u16 op = alu_ops[rnd() % 10];

			in->code = BPF_ALU | op | (rnd() % 2 ? BPF_X : BPF_K);
			if (BPF_SRC(in->code) == BPF_K) {
				in->k = rnd() % 3 ? rnd() % 40 : rnd();
				if (op == BPF_LSH || op == BPF_RSH)
					in->k %= 32;
				if ((op == BPF_DIV || op == BPF_MOD) && !in->k)
					in->k = 3;
			}
			break;
		}
		case 10:
			in->code = BPF_ALU | BPF_NEG;
			break;
		case 11:
			in->code = BPF_MISC | (rnd() % 2 ? BPF_TAX : BPF_TXA);
			break;
		case 12:
		case 13:
		case 14:
			in->code = BPF_JMP | jmp_ops[rnd() % 4] | (rnd() % 3 ? BPF_K : BPF_X);
			in->k = rnd() % 3 ? rnd() % 80 : rnd();
			in->jt = (__u8)(rnd() % left);
			in->jf = (__u8)(rnd() % left);
			break;
		default:
			if (rnd() % 2) {
				in->code = BPF_JMP | BPF_JA;
				in->k = rnd() % left;
			} else {
				in->code = BPF_RET | (rnd() % 2 ? BPF_A : BPF_K);
				in->k = rnd() % 2 ? 0 : rnd() % 300;
			}
		}
	}
	f[n++] = (struct sock_filter){BPF_RET | (rnd() % 2 ? BPF_A : BPF_K), 0, 0, rnd() % 200};
	return n;
}

static void test_random(int count)
{
	struct sock_filter insns[80];
	int i, j, ok = 0, invalid = 0, subset[24];

	if (!test_start("cbpf/random"))
		return;
	for (i = 0; i < count && !test__st.failed; i++) {
		struct cbpf_prog cp = {.insns = insns};
		char what[64];

		cp.len = (size_t)random_prog(insns, 64);
		if (!cbpf_validate(&cp)) {
			invalid++;
			continue;
		}
		for (j = 0; j < 24; j++)
			subset[j] = (int)(rnd() % (__u32)nframes);
		snprintf(what, sizeof(what), " (random program %d)", i);
		if (!diff_one(&cp, what, subset, 24) && verbose)
			for (j = 0; j < (int)cp.len; j++)
				fprintf(stderr, "%s\n", cbpf_image(&cp, j));
		ok++;
	}
	ASSERT_GE(ok, count / 2, "valid random programs");
	test_end();
	if (verbose)
		fprintf(stderr, "random: %d run, %d invalid\n", ok, invalid);
}

/* Programs libpcap would never emit: a clean error, not a program. */
static void test_refused(void)
{
	static const struct {
		const char *name;
		struct sock_filter f[3];
		int n;
	} cases[] = {
	    {"ancillary",
	     {{BPF_LD | BPF_W | BPF_ABS, 0, 0, (__u32)SKF_AD_OFF + SKF_AD_PROTOCOL},
	      {BPF_RET | BPF_A, 0, 0, 0}},
	     2},
	    {"div-zero", {{BPF_ALU | BPF_DIV | BPF_K, 0, 0, 0}, {BPF_RET | BPF_A, 0, 0, 0}}, 2},
	    {"shift-32", {{BPF_ALU | BPF_LSH | BPF_K, 0, 0, 32}, {BPF_RET | BPF_A, 0, 0, 0}}, 2},
	    {"jump-out", {{BPF_JMP | BPF_JA, 0, 0, 5}, {BPF_RET | BPF_A, 0, 0, 0}}, 2},
	    {"no-ret", {{BPF_LD | BPF_IMM, 0, 0, 1}}, 1},
	    {"mem-16", {{BPF_ST, 0, 0, 16}, {BPF_RET | BPF_A, 0, 0, 0}}, 2},
	    {"opcode", {{0xffff, 0, 0, 0}, {BPF_RET | BPF_A, 0, 0, 0}}, 2},
	    {"empty", {{0}}, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cbpf_prog cp = {.insns = (struct sock_filter *)cases[i].f,
				       .len = (size_t)cases[i].n};
		struct cbpf_opts o = {.ctx = CBPF_CTX_SKB};
		struct cbpf_ebpf e;
		char err[256] = "";

		if (!test_start("cbpf/refuse/%s", cases[i].name))
			continue;
		if (ASSERT_TRUE(cbpf_to_ebpf(&cp, &o, &e, err, sizeof(err)) < 0, "refused"))
			ASSERT_TRUE(err[0] != 0, "error message");
		else
			cbpf_ebpf_free(&e);
		test_end();
	}
}

/* The capture program on its own maps: two slots chained, the selection
 * by interface and direction, the perf record and the counters. */
struct cap_maps {
	int meta, config, progs, perf, stats[2];
};

static int cap_maps_create(struct cap_maps *m)
{
	int ncpu = libbpf_num_possible_cpus();

	m->meta =
	    bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NULL, 4, sizeof(struct ft_cap_meta), 1, NULL);
	m->config = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, sizeof(struct ft_config), 1, NULL);
	m->progs = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, NULL, 4, 4, FT_CAPTURE_SLOTS, NULL);
	m->perf = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, NULL, 4, 4, ncpu, NULL);
	m->stats[0] = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NULL, 4,
				     sizeof(struct ft_cap_stats), 2, NULL);
	m->stats[1] = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NULL, 4,
				     sizeof(struct ft_cap_stats), 1, NULL);
	return m->meta < 0 || m->config < 0 || m->progs < 0 || m->perf < 0 || m->stats[0] < 0 ||
		       m->stats[1] < 0
		   ? -1
		   : 0;
}

static void cap_maps_close(struct cap_maps *m)
{
	close(m->meta);
	close(m->config);
	close(m->progs);
	close(m->perf);
	close(m->stats[0]);
	close(m->stats[1]);
}

static bool set_meta(int fd, __u32 ifindex, __u8 dir, __u32 len)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct ft_cap_meta *v = calloc(ncpu, sizeof(*v));
	__u32 key = 0;
	bool ok;

	for (i = 0; i < ncpu; i++)
		v[i] = (struct ft_cap_meta){
		    .ts_ns = 12345, .ifindex = ifindex, .pkt_len = len, .dir = dir};
	ok = !bpf_map_update_elem(fd, &key, v, 0);
	free(v);
	return ok;
}

static void stats_sum(int fd, __u32 key, struct ft_cap_stats *s)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct ft_cap_stats *v = calloc(ncpu, sizeof(*v));

	memset(s, 0, sizeof(*s));
	if (v && !bpf_map_lookup_elem(fd, &key, v))
		for (i = 0; i < ncpu; i++) {
			s->matched += v[i].matched;
			s->lost += v[i].lost;
		}
	free(v);
}

struct rec {
	int n;
	struct ft_cap_hdr h;
	__u8 data[256];
};

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	struct rec *r = ctx;

	(void)cpu;
	r->n++;
	if (size >= sizeof(r->h)) {
		memcpy(&r->h, data, sizeof(r->h));
		size -= sizeof(r->h);
		memcpy(r->data, (__u8 *)data + sizeof(r->h), size < 256 ? size : 256);
	}
}

static int cap_load(struct cap_maps *m, const char *expr, int slot, int stats, const __u32 *ifs,
		    size_t nifs, __u8 dirs, char *why, size_t n)
{
	struct cbpf_capture c = {.slot = slot,
				 .meta_fd = m->meta,
				 .config_fd = m->config,
				 .progs_fd = m->progs,
				 .perf_fd = m->perf,
				 .stats_fd = m->stats[stats],
				 .ifindex = ifs,
				 .n_ifindex = nifs,
				 .dir_mask = dirs};
	struct cbpf_opts o = {.ctx = CBPF_CTX_SKB};
	struct cbpf_prog cp;
	struct cbpf_ebpf e;
	char err[256];
	int fd;

	if (cbpf_compile(expr, 96, &cp, err, sizeof(err))) {
		snprintf(why, n, "compile: %s", err);
		return -1;
	}
	if (cbpf_to_capture(&cp, &o, &c, &e, err, sizeof(err))) {
		snprintf(why, n, "translate: %s", err);
		cbpf_prog_free(&cp);
		return -1;
	}
	cbpf_prog_free(&cp);
	fd = load_prog(BPF_PROG_TYPE_SCHED_CLS, &e, why, n);
	cbpf_ebpf_free(&e);
	return fd;
}

static void test_capture_prog(void)
{
	static const __u32 ifs[] = {7, 9};
	struct cap_maps m = {-1, -1, -1, -1, {-1, -1}};
	struct perf_buffer *pb = NULL;
	struct ft_cap_stats s0, s1;
	struct rec rec = {0};
	struct ft_config cfg = {.capture_mask = 1 << 0 | 1 << 3};
	const struct frame *f;
	char why[512];
	int p0 = -1, p3 = -1, i;
	__u32 key, ret, want;

	if (!test_start("cbpf/capture-program"))
		return;
	if (!ASSERT_OK(cap_maps_create(&m), "maps"))
		goto out;
	/* Slot 0: UDP on ifindex 7 or 9, egress only. Slot 3: everything. */
	p0 = cap_load(&m, "udp", 0, 0, ifs, 2, 1 << FT_DIR_EGRESS, why, sizeof(why));
	p3 = cap_load(&m, "", 3, 1, NULL, 0, 3, why, sizeof(why));
	if (p0 < 0 || p3 < 0) {
		test_fail("%s", why);
		goto out;
	}
	key = 0;
	ASSERT_OK(bpf_map_update_elem(m.config, &key, &cfg, 0), "config");
	key = 3;
	ASSERT_OK(bpf_map_update_elem(m.progs, &key, &p3, 0), "prog array");
	pb = perf_buffer__new(m.perf, 8, on_sample, NULL, &rec, NULL);
	if (!ASSERT_OK_PTR(pb, "perf buffer"))
		goto out;
	for (i = 0; i < nframes; i++)
		if (!strncmp(frames[i].name, "ip4 198.18.0.1>", 15) && frames[i].len > 96 &&
		    frames[i].data[23] == IPPROTO_UDP)
			break;
	if (!ASSERT_TRUE(i < nframes, "a long UDP frame"))
		goto out;
	f = &frames[i];

	/* Right interface and direction: slot 0 matches (96 bytes), then slot 3. */
	set_meta(m.meta, 9, FT_DIR_EGRESS, (__u32)f->len);
	ASSERT_OK(run_prog(p0, f, &ret), "run");
	ASSERT_EQ((int)ret, -1, "TC_ACT_UNSPEC");
	perf_buffer__consume(pb);
	stats_sum(m.stats[0], 1, &s0);
	stats_sum(m.stats[1], 0, &s1);
	ASSERT_EQ(s0.matched, 1, "slot 0 matched (index of ifindex 9)");
	ASSERT_EQ(s1.matched, 1, "slot 3 reached through the chain");
	ASSERT_EQ(rec.n, 2, "perf records");
	ASSERT_EQ(rec.h.ifindex, 9, "hdr ifindex");
	ASSERT_EQ(rec.h.pkt_len, f->len, "hdr pkt_len");
	{
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ASSERT_LE(rec.h.ts_ns, (__u64)now.tv_sec * 1000000000ULL + (__u64)now.tv_nsec,
			  "hdr ts not after now");
		ASSERT_GT(rec.h.ts_ns + 5000000000ULL,
			  (__u64)now.tv_sec * 1000000000ULL + (__u64)now.tv_nsec, "hdr ts recent");
	}
	ASSERT_EQ(rec.h.dir, FT_DIR_EGRESS, "hdr dir");
	want = rec.h.snap == 96 ? 96 : (__u32)f->len; /* the last record is slot 3's */
	ASSERT_EQ(rec.h.copy_len, want, "hdr copy_len");
	ASSERT_MEMEQ(rec.data, f->data, 96, "frame bytes");

	/* Wrong direction, wrong interface: slot 0 only passes it on. */
	rec.n = 0;
	set_meta(m.meta, 9, FT_DIR_INGRESS, (__u32)f->len);
	ASSERT_OK(run_prog(p0, f, &ret), "run");
	set_meta(m.meta, 8, FT_DIR_EGRESS, (__u32)f->len);
	ASSERT_OK(run_prog(p0, f, &ret), "run");
	perf_buffer__consume(pb);
	stats_sum(m.stats[0], 1, &s0);
	stats_sum(m.stats[1], 0, &s1);
	ASSERT_EQ(s0.matched, 1, "slot 0 after misses");
	ASSERT_EQ(s1.matched, 3, "slot 3 after the misses of slot 0");
	ASSERT_EQ(rec.n, 2, "records from slot 3 only");

	/* An empty slot in the mask is skipped. */
	cfg.capture_mask |= 1 << 1;
	key = 0;
	bpf_map_update_elem(m.config, &key, &cfg, 0);
	ASSERT_OK(run_prog(p0, f, &ret), "run");
	stats_sum(m.stats[1], 0, &s1);
	ASSERT_EQ(s1.matched, 4, "slot 3 after an empty slot");
out:
	test_end();
	perf_buffer__free(pb);
	if (p0 >= 0)
		close(p0);
	if (p3 >= 0)
		close(p3);
	cap_maps_close(&m);
}

/*
 * The live variant: the capture program in slot 0 of a prog array, behind
 * a dispatcher at lo's TC ingress (what the datapath does), fed real frames
 * through a packet socket. At ingress the kernel moves a VLAN tag out of
 * the frame into skb->vlan_tci, so this runs the offloaded-tag path. The
 * verdict is the snap length in the perf record, or no record.
 */
static struct live {
	struct cap_maps m;
	int sock, dispatch, count;
	struct perf_buffer *pb;
	struct bpf_tc_hook hook;
	int nrec;
	struct ft_cap_hdr h;
	__u8 frame[PKT_MAX + 4];
	__u32 caplen;
} lv = {.sock = -1, .dispatch = -1, .count = -1};

/* The sample's data is 4 bytes off 8-byte alignment: copy the header out. */
static void live_sample(void *ctx, int cpu, void *data, __u32 size)
{
	struct ft_cap_hdr h;

	(void)ctx;
	(void)cpu;
	lv.nrec++;
	if (size < sizeof(h))
		return;
	memcpy(&h, data, sizeof(h));
	if (h.copy_len > PKT_MAX || size < sizeof(h) + h.copy_len)
		return;
	lv.h = h;
	lv.caplen = cbpf_cap_frame(&h, (const __u8 *)data + sizeof(h), lv.frame);
}

static int live_init(char *why, size_t n)
{
	/* Counts the frame, then tail-calls slot 0. */
	struct bpf_insn dispatch[] = {
	    {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0},
	    {BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0},
	    {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0},
	    {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4},
	    {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, 0},
	    {0, 0, 0, 0, 0},
	    {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem},
	    {BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0},
	    {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1},
	    {BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD},
	    {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0},
	    {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, 0},
	    {0, 0, 0, 0, 0},
	    {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0},
	    {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call},
	    {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1},
	    {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	struct cbpf_ebpf e = {dispatch, sizeof(dispatch) / sizeof(dispatch[0])};
	struct ft_config cfg = {.capture_mask = 1};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = lo_ifindex};
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = 1, .priority = 1);
	__u32 key = 0;
	int fd;

	/* No replies or neighbour traffic of the stack's own on lo. */
	fd = open("/proc/sys/net/ipv6/conf/lo/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			(void)0;
		close(fd);
	}
	if (cap_maps_create(&lv.m)) {
		snprintf(why, n, "maps: %s", strerror(errno));
		return -1;
	}
	set_meta(lv.m.meta, (__u32)lo_ifindex, FT_DIR_INGRESS, 0);
	bpf_map_update_elem(lv.m.config, &key, &cfg, 0);
	lv.count = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, NULL);
	dispatch[4].imm = lv.count;
	dispatch[11].imm = lv.m.progs;
	lv.dispatch = load_prog(BPF_PROG_TYPE_SCHED_CLS, &e, why, n);
	if (lv.dispatch < 0)
		return -1;
	lv.hook = (struct bpf_tc_hook){
	    .sz = sizeof(lv.hook), .ifindex = lo_ifindex, .attach_point = BPF_TC_INGRESS};
	bpf_tc_hook_create(&lv.hook);
	tco.prog_fd = lv.dispatch;
	if (bpf_tc_attach(&lv.hook, &tco)) {
		snprintf(why, n, "tc attach to lo: %s", strerror(errno));
		return -1;
	}
	lv.pb = perf_buffer__new(lv.m.perf, 64, live_sample, NULL, NULL, NULL);
	lv.sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (!lv.pb || lv.sock < 0 || bind(lv.sock, (struct sockaddr *)&sll, sizeof(sll))) {
		snprintf(why, n, "perf buffer or packet socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int live_load(const struct cbpf_prog *cp, char *why, size_t n)
{
	struct cbpf_capture c = {.slot = 0,
				 .meta_fd = lv.m.meta,
				 .config_fd = lv.m.config,
				 .progs_fd = lv.m.progs,
				 .perf_fd = lv.m.perf,
				 .stats_fd = lv.m.stats[1],
				 .dir_mask = 3};
	struct cbpf_opts o = {.ctx = CBPF_CTX_SKB};
	struct cbpf_ebpf e;
	char err[256];
	__u32 key = 0;
	int fd;

	if (!lv.pb) {
		snprintf(why, n, "live path not set up");
		return -1;
	}
	if (cbpf_to_capture(cp, &o, &c, &e, err, sizeof(err))) {
		snprintf(why, n, "translate: %s", err);
		return -1;
	}
	fd = load_prog(BPF_PROG_TYPE_SCHED_CLS, &e, why, n);
	cbpf_ebpf_free(&e);
	if (fd >= 0 && bpf_map_update_elem(lv.m.progs, &key, &fd, 0)) {
		snprintf(why, n, "prog array: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Frames the dispatcher saw. */
static __u64 live_seen(void)
{
	__u64 v = 0;
	__u32 key = 0;

	bpf_map_lookup_elem(lv.count, &key, &v);
	return v;
}

static int live_run(const struct frame *f, __u32 *ret, char *why, size_t n)
{
	__u64 before = live_seen();
	int tries;

	lv.nrec = 0;
	if (send(lv.sock, f->data, f->len, 0) != f->len) {
		snprintf(why, n, "send: %s", strerror(errno));
		return -1;
	}
	for (tries = 0; live_seen() == before; tries++) {
		if (tries == 200)
			return -EAGAIN; /* dropped before TC: not testable here */
		usleep(100);
	}
	perf_buffer__consume(lv.pb);
	*ret = lv.nrec ? lv.h.snap : 0;
	if (lv.nrec > 1) {
		snprintf(why, n, "%d records for one frame", lv.nrec);
		return -1;
	}
	if (lv.nrec && (lv.h.pkt_len != (__u32)f->len || memcmp(lv.frame, f->data, lv.caplen) ||
			lv.caplen != (lv.h.snap < (__u32)f->len ? lv.h.snap : (__u32)f->len))) {
		snprintf(why, n, "record differs from the frame: len %u caplen %u vlan %u",
			 lv.h.pkt_len, lv.caplen, lv.h.vlan_present);
		return -1;
	}
	return 0;
}

static void live_fini(void)
{
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = 1, .priority = 1);

	if (lv.dispatch >= 0) {
		bpf_tc_detach(&lv.hook, &tco);
		lv.hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&lv.hook);
		close(lv.dispatch);
	}
	perf_buffer__free(lv.pb);
	if (lv.count >= 0)
		close(lv.count);
	if (lv.sock >= 0)
		close(lv.sock);
	if (lv.m.meta > 0)
		cap_maps_close(&lv.m);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* A private network namespace with lo up, for the XDP variant. */
static int netns_lo(char *why, size_t n)
{
	struct ifreq ifr = {0};
	int s;

	if (unshare(CLONE_NEWNET)) {
		snprintf(why, n, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -1;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr))) {
		snprintf(why, n, "lo up: %s", strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	lo_ifindex = (int)if_nametoindex("lo");
	return 0;
}

int main(int argc, char **argv)
{
	int opt, nrandom = 1500;
	char why[256];

	while ((opt = getopt(argc, argv, "vk:n:")) != -1) {
		switch (opt) {
		case 'v':
			verbose = true;
			break;
		case 'k':
			test_set_filter(optarg);
			break;
		case 'n':
			nrandom = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-v] [-k FILTER] [-n RANDOM]\n", argv[0]);
			return 2;
		}
	}
	libbpf_set_print(libbpf_print);
	if (geteuid()) {
		test_skip_all("cbpf", "needs root (BPF_PROG_TEST_RUN)");
		return 77;
	}
	if (netns_lo(why, sizeof(why))) {
		test_skip_all("cbpf", why);
		return 77;
	}
	corpus_build();
	if (live_init(why, sizeof(why)))
		fprintf(stderr, "live variant unavailable: %s\n", why);
	test_refused();
	test_exprs();
	test_random(nrandom);
	test_capture_prog();
	live_fini();
	if (verbose) {
		enum variant v;

		for (v = 0; v < V_MAX; v++)
			fprintf(stderr, "%s: %ld runs\n", variant_names[v], nrun[v]);
	}
	return test_exit_code();
}
