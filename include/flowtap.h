/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the BPF programs and userspace. Each struct is defined
 * here once; the _Static_asserts break the build if a layout drifts, since
 * pinned maps outlive the binaries that created them.
 */
#ifndef FLOWTAP_H
#define FLOWTAP_H

#include <linux/types.h>

#define FT_PIN_ROOT "/sys/fs/bpf/flowtap"

/* Bounds the datapath relies on; changing one changes map layouts. */
#define FT_MAX_IFACE_KEYS 4096
#define FT_IFSLOTS	  256 /* interfaces with array-backed counters; a power of 2 */
/* Counters of packets whose interface has neither a slot nor a hash entry
 * (ft_ifstats full) live in ft_ifstats_slots[2 * FT_IFSLOT_OTHER + dir];
 * readers report them as interface FT_IFINDEX_OTHER ("unattributed"). */
#define FT_IFSLOT_OTHER	  FT_IFSLOTS
#define FT_IFINDEX_OTHER  0
#define FT_DEFAULT_FLOWS  65536
#define FT_IPV6_EXT_MAX	  8
#define FT_MAX_VLAN_TAGS  2
#define FT_HTTP_PATH_MAX  128
#define FT_CAPTURE_SLOTS  16
#define FT_TCP_HS_ENTRIES 16384 /* handshakes in progress */
#define FT_HS_BUCKETS	  24	/* log2 microsecond buckets: <1us .. >=8s */
#define FT_DROP_KEYS	  4096

enum ft_direction {
	FT_DIR_INGRESS = 0,
	FT_DIR_EGRESS = 1,
	FT_DIR_MAX,
};

/* Traffic classes; a packet may be in several (ipv4 + tcp + vlan + http). */
enum ft_class {
	FT_CLASS_IPV4 = 0,
	FT_CLASS_IPV6,
	FT_CLASS_ARP,
	FT_CLASS_OTHER_L2,
	FT_CLASS_TCP,
	FT_CLASS_UDP,
	FT_CLASS_ICMP,
	FT_CLASS_ICMPV6,
	FT_CLASS_OTHER_L4,
	FT_CLASS_VLAN,
	FT_CLASS_FRAGMENT,
	FT_CLASS_MALFORMED,
	FT_CLASS_HTTP,
	FT_CLASS_MAX,
};

/*
 * Why a packet could not be parsed to the end. A layer's class is counted
 * only when its header is complete and valid, so a packet whose TCP header
 * is cut short counts as ipv4 + malformed(tcp_truncated), never as tcp.
 */
enum ft_malformed_reason {
	FT_MAL_NONE = 0,
	FT_MAL_ETH_TRUNCATED,
	FT_MAL_VLAN_TRUNCATED,
	FT_MAL_VLAN_DEPTH,
	FT_MAL_ARP_TRUNCATED,
	FT_MAL_IP_VERSION,
	FT_MAL_IPV4_TRUNCATED,
	FT_MAL_IPV4_IHL,
	FT_MAL_IPV4_TOTAL_LEN,
	FT_MAL_IPV6_TRUNCATED,
	FT_MAL_IPV6_EXT_TRUNCATED,
	FT_MAL_IPV6_EXT_CHAIN,
	FT_MAL_TCP_TRUNCATED,
	FT_MAL_TCP_DOFF,
	FT_MAL_UDP_TRUNCATED,
	FT_MAL_UDP_LEN,
	FT_MAL_ICMP_TRUNCATED,
	FT_MAL_ICMPV6_TRUNCATED,
	FT_MAL_MAX,
};

enum ft_http_method {
	FT_HTTP_NONE = 0,
	FT_HTTP_GET,
	FT_HTTP_HEAD,
	FT_HTTP_POST,
	FT_HTTP_PUT,
	FT_HTTP_DELETE,
	FT_HTTP_OPTIONS,
	FT_HTTP_PATCH,
	FT_HTTP_CONNECT,
	FT_HTTP_TRACE,
	FT_HTTP_MAX,
};

struct ft_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct ft_counter) == 16, "ft_counter layout");

/* Key of ft_ifstats: one entry per (interface, direction). */
struct ft_if_key {
	__u32 ifindex;
	__u32 dir;
};
_Static_assert(sizeof(struct ft_if_key) == 8, "ft_if_key layout");

/*
 * Everything counted per (interface, direction), per CPU. One lookup per
 * packet reaches all of it, which is why the counters live together.
 */
struct ft_if_stats {
	struct ft_counter cls[FT_CLASS_MAX];
	struct ft_counter malformed[FT_MAL_MAX];
	struct ft_counter http[FT_HTTP_MAX];
	__u64 flow_overflow;	   /* packets not in ft_flows: table full */
	__u64 http_samples_lost;   /* ring buffer full */
	__u64 http_sample_counter; /* drives 1-in-N sampling */
	__u64 capture_calls;	   /* packets handed to the capture hook */
	/* TCP health; handshakes complete or refused here, by the interface
	 * that saw the SYN-ACK / final ACK / RST. */
	__u64 tcp_handshakes;
	__u64 tcp_handshake_sum_us;
	__u64 tcp_handshake_hist[FT_HS_BUCKETS]; /* bucket b: [2^(b-1), 2^b) us */
	__u64 tcp_conn_refused;			 /* RST answered a SYN */
	__u64 tcp_syn_retries;
	__u64 tcp_retransmits; /* segments at or below the highest seq seen */
	__u64 tcp_resets;      /* RST segments */
	__u64 tcp_hs_overflow; /* SYNs not tracked: handshake table full */
	/* Only in the FT_IFSLOT_OTHER entry: packets counted there because
	 * their interface had no counters of its own (ft_ifstats full). */
	__u64 unattributed;
};
/* Userspace sums this struct word by word: every field must be a __u64. */
_Static_assert(sizeof(struct ft_if_stats) ==
		   16 * (FT_CLASS_MAX + FT_MAL_MAX + FT_HTTP_MAX) + 8 * (4 + 2 + FT_HS_BUCKETS + 6),
	       "ft_if_stats layout");

enum ft_family {
	FT_FAMILY_NONE = 0,
	FT_FAMILY_IPV4 = 4,
	FT_FAMILY_IPV6 = 6,
};

/*
 * Flow key. IPv4 addresses sit in the first 4 bytes of src/dst, the rest
 * zero. For ICMP and ICMPv6, sport holds the type and dport the code. The
 * VLAN id is the outermost tag (0 when untagged). Non-first fragments have
 * ports 0: only the first fragment carries the L4 header.
 */
struct ft_flow_key {
	__u32 ifindex;
	__u8 dir;
	__u8 family;
	__u8 proto;
	__u8 pad;
	__u16 vlan;
	__u16 sport;
	__u16 dport;
	__u16 pad2;
	__u8 src[16];
	__u8 dst[16];
};
_Static_assert(sizeof(struct ft_flow_key) == 48, "ft_flow_key layout");

/* Per-CPU flow value; userspace sums packets/bytes, takes min/max times. */
struct ft_flow_val {
	__u64 packets;
	__u64 bytes;
	__u64 first_ns; /* CLOCK_MONOTONIC */
	__u64 last_ns;
	__u32 http_requests;
	__u8 tcp_flags; /* OR of all flags seen */
	__u8 hs_segs;	/* non-SYN segments that still looked for a handshake (saturates) */
	__u8 tcp_bits;	/* FT_TCPB_* */
	__u8 pad;
	/* TCP health. Per-CPU like the rest: a retransmission is a segment
	 * ending at or below the highest sequence this CPU saw for the flow,
	 * so these are hints (a flow moving between CPUs can hide one). */
	__u32 next_seq;
	__u32 retransmits;
	__u32 resets;
	__u32 handshake_us; /* SYN to SYN-ACK (or to the final ACK when the SYN-ACK is not seen
			       here) */
	__u32 rtt_us;	    /* the handshake leg that crossed the network from here */
	__u32 pad2;
};
_Static_assert(sizeof(struct ft_flow_val) == 64, "ft_flow_val layout");

enum ft_tcp_bits {
	FT_TCPB_SEQ = 1 << 0, /* next_seq is set (0 is a valid sequence number) */
};

/*
 * A TCP handshake in progress, keyed by the connection's canonical
 * ft_flow_key (dir 0, lower address/port first). Not per-CPU: the SYN and
 * the SYN-ACK are often handled on different CPUs. Entries live from the
 * SYN to the final ACK or RST; userspace expires the ones whose SYN-ACK
 * never came and reports them as failed connection attempts.
 */
struct ft_tcp_hs {
	__u64 syn_ns;
	__u64 synack_ns;
	__u8 client_is_a; /* the SYN went from the key's src to its dst */
	__u8 syn_dir;	  /* direction the SYN was seen in here */
	__u8 syns;	  /* SYNs seen (retries + 1) */
	__u8 pad[5];
};
_Static_assert(sizeof(struct ft_tcp_hs) == 24, "ft_tcp_hs layout");

/*
 * Kernel drops from skb:kfree_skb, per (interface, reason, protocol). The
 * tracepoint sees every network namespace, and ifindexes repeat across
 * them, so the device's namespace is part of the key.
 */
struct ft_drop_key {
	__u32 ifindex; /* 0: no device (e.g. dropped at a socket) */
	__u32 netns;   /* inode of the device's network namespace */
	__u16 reason;  /* enum skb_drop_reason; names come from kernel BTF */
	__u16 proto;   /* ethertype, host order (0x0800, 0x86dd, ...) */
};
_Static_assert(sizeof(struct ft_drop_key) == 12, "ft_drop_key layout");

enum ft_http_flags {
	FT_HTTP_F_TRUNCATED = 1 << 0,  /* path cut by segment end or FT_HTTP_PATH_MAX */
	FT_HTTP_F_REDACTED = 1 << 1,   /* a query string was removed */
	FT_HTTP_F_NO_VERSION = 1 << 2, /* the line ended right after the target (HTTP/0.9 style) */
};

/* One sampled HTTP request line, sent through ft_http_rb. */
struct ft_http_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u32 ifindex;
	__u8 dir;
	__u8 family;
	__u8 method;
	__u8 flags;
	__u16 sport;
	__u16 dport;
	__u16 path_len;
	__u16 vlan;
	__u8 src[16];
	__u8 dst[16];
	char path[FT_HTTP_PATH_MAX];
};
_Static_assert(sizeof(struct ft_http_event) == 56 + FT_HTTP_PATH_MAX, "ft_http_event layout");

/* ft_config[0]: written by userspace, read by every packet. */
struct ft_config {
	__u32 capture_mask; /* bit i: a capture filter occupies slot i */
	__u32 pad;
};
_Static_assert(sizeof(struct ft_config) == 8, "ft_config layout");

/*
 * Handed to capture filters through the per-CPU ft_cap_meta map before the
 * datapath tail-calls them: the filter's own context cannot tell a TC
 * ingress packet from an egress one.
 */
struct ft_cap_meta {
	__u64 ts_ns; /* coarse; a capture's record has its own, precise */
	__u32 ifindex;
	__u32 pkt_len; /* original frame length, as tcpdump reports it */
	__u8 dir;
	__u8 pad[7];
};
_Static_assert(sizeof(struct ft_cap_meta) == 24, "ft_cap_meta layout");

#endif /* FLOWTAP_H */
