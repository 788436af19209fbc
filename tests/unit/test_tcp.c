// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TCP health tests: crafted segment sequences through the real XDP and TC
 * objects (BPF_PROG_TEST_RUN), each with the exact state it must leave in
 * the handshake table (after every segment), in ft_flows and in ft_ifstats.
 *
 * At TC one observation point sees both directions of a connection, as on
 * a container's veth: a client's SYN leaves through egress and its SYN-ACK
 * comes back through ingress. XDP sees ingress only, as on a server's NIC:
 * the SYN and the final ACK, never the SYN-ACK.
 *
 * Handshake times are real: the test sleeps between segments, so a time
 * measured across sleeps of N ms is at least N ms, and at most N ms plus
 * whatever the whole sequence took beyond all of its sleeps (the slack,
 * measured: under load it grows, and a fixed tolerance would be flaky).
 *
 * The binary moves into a private network namespace and keeps the XDP
 * program attached to its lo (generic mode): test runs of an XDP program
 * attached nowhere cost milliseconds each. No map is pinned.
 *
 * Usage: test_tcp [-v] [-k PATTERN]   (PATTERN: substring or glob of names)
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowtap.h"
#include "flowtap_xdp.skel.h"
#include "flowtap_tc.skel.h"
#include "test.h"
#include "bpftest.h"
#include "pkt.h"

#define SYN PKT_TCP_SYN
#define ACK PKT_TCP_ACK
#define PSH PKT_TCP_PSH
#define FIN PKT_TCP_FIN
#define RST PKT_TCP_RST
#define SA  (SYN | ACK)

#define IN FT_DIR_INGRESS
#define EG FT_DIR_EGRESS

#define CPORT	  40000 /* the client's port unless a segment says otherwise */
#define SPORT	  80
#define MAX_FLOWS 8

/* Where a segment is run; 0 ends a list of segments. */
enum hook_id {
	H_END = 0,
	H_XDP,
	H_IN, /* TC ingress */
	H_EG, /* TC egress */
	H_MAX,
};

enum side {
	C2S, /* client to server */
	S2C,
};

/* One crafted segment and the handshake table it must leave. */
struct seg {
	__u8 hook;
	__u8 from;
	__u8 flags;
	__u16 cport; /* 0: CPORT */
	__u32 seq;
	__u32 ack;
	__u16 len;	/* payload bytes */
	__u16 delay_ms; /* slept before the segment */
	__u8 hs;	/* entries in ft_tcp_hs_map after it */
	__u8 syns;	/* with hs == 1 and syns != 0, the entry is this segment's */
	__u8 syn_dir;	/* connection, with these syns and syn_dir */
};

/* The entry is checked: its connection, SYN count and SYN direction. */
#define HS(n, dir) .hs = 1, .syns = (n), .syn_dir = (dir)

/* One ft_flows entry, exactly; every flow not listed must not exist. */
struct want_flow {
	__u8 hook; /* H_END ends the list */
	__u8 from;
	__u16 cport;
	__u64 packets;
	__u32 next_seq;
	__u32 retransmits;
	__u32 resets;
	__u32 hs_ms;  /* handshake_us: 0, or hs_ms ms up to the slack more */
	__u32 rtt_ms; /* rtt_us, as hs_ms */
};

/* TCP health counters of lo in one direction; all of them, exactly. */
struct want_st {
	__u64 handshakes;
	__u32 hs_ms; /* tcp_handshake_sum_us, as want_flow.hs_ms */
	__u64 refused;
	__u64 syn_retries;
	__u64 retransmits;
	__u64 resets;
	__u64 hs_overflow;
};

enum variant {
	VAR_DEFAULT,
	VAR_HS_MAX_2,	/* ft_tcp_hs_map holds 2 handshakes */
	VAR_HEALTH_OFF, /* ft_tcp_health = 0 */
	VAR_MAX,
};

struct tcase {
	const char *name;
	enum variant variant;
	__u8 family;		     /* 0: IPv4 */
	const char *client, *server; /* NULL: pkt.h's source and destination */
	const struct seg *segs;
	struct want_flow flows[MAX_FLOWS];
	struct want_st st[FT_DIR_MAX]; /* of the segments' object, by direction */
};

static const struct knobs {
	const char *name;
	__u8 tcp_health;
	__u32 hs_max; /* 0: the object's default */
} knobs[VAR_MAX] = {
    [VAR_DEFAULT] = {"default", 1, 0},
    [VAR_HS_MAX_2] = {"hs_max_2", 1, 2},
    [VAR_HEALTH_OFF] = {"tcp_health_0", 0, 0},
};

#define SEGS(...) ((const struct seg[]){__VA_ARGS__, {H_END}})

static const struct tcase cases[] = {
    /* ---- Handshakes ---- */
    {
	.name = "tc/client_handshake",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 20, HS(1, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 2},
		     {H_EG, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 100},
		     {H_IN, S2C, ACK, .seq = 5001, .ack = 1101}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1101},
		  {H_IN, S2C, .packets = 2, .next_seq = 5001, .hs_ms = 20, .rtt_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}},
    },
    {
	.name = "tc/client_handshake_ipv6",
	.family = 6,
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 20, HS(1, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1001},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 20, .rtt_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}},
    },
    {
	/* Both ends on one address: the ports alone order the connection. */
	.name = "tc/client_handshake_same_address",
	.client = "10.1.1.1",
	.server = "10.1.1.1",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 20, HS(1, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1001},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 20, .rtt_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}},
    },
    {
	/* TC at the server: the handshake is the server's own SYN to
	 * SYN-ACK; the leg that crossed the network is SYN-ACK to ACK. */
	.name = "tc/server_handshake",
	.segs = SEGS({H_IN, C2S, SYN, .seq = 1000, HS(1, IN)},
		     {H_EG, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 5, HS(1, IN)},
		     {H_IN, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 20}),
	.flows = {{H_IN, C2S, .packets = 2, .next_seq = 1001, .rtt_ms = 20},
		  {H_EG, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 5}},
	.st = {[EG] = {.handshakes = 1, .hs_ms = 5}},
    },
    {
	/* XDP at the server: no SYN-ACK, so SYN to final ACK; no RTT. */
	.name = "xdp/server_handshake",
	.segs = SEGS({H_XDP, C2S, SYN, .seq = 1000, HS(1, IN)},
		     {H_XDP, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 20},
		     {H_XDP, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 50}),
	.flows = {{H_XDP, C2S, .packets = 3, .next_seq = 1051, .hs_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}},
    },
    {
	/* The final ACK carries the first request. */
	.name = "xdp/server_handshake_ack_with_data",
	.segs = SEGS({H_XDP, C2S, SYN, .seq = 1000, HS(1, IN)},
		     {H_XDP, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 50, .delay_ms = 20}),
	.flows = {{H_XDP, C2S, .packets = 2, .next_seq = 1051, .hs_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}},
    },
    {
	/* Timed from the first SYN, as connect() would see it. */
	.name = "tc/syn_retry",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_EG, C2S, SYN, .seq = 1000, .delay_ms = 20, HS(2, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 20, HS(2, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1001, .retransmits = 1},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 40, .rtt_ms = 40}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 40}, [EG] = {.syn_retries = 1, .retransmits = 1}},
    },
    {
	.name = "xdp/server_syn_retry",
	.segs = SEGS({H_XDP, C2S, SYN, .seq = 1000, HS(1, IN)},
		     {H_XDP, C2S, SYN, .seq = 1000, .delay_ms = 20, HS(2, IN)},
		     {H_XDP, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 20}),
	.flows = {{H_XDP, C2S, .packets = 3, .next_seq = 1001, .retransmits = 1, .hs_ms = 40}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 40, .syn_retries = 1, .retransmits = 1}},
    },
    {
	/* Three retries (Linux's 1, 3, 7 s) put the SYN's flow past
	 * FT_TCP_HS_SEGS before its final ACK: that ACK must still end
	 * the handshake. */
	.name = "tc/syn_retries_3",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_EG, C2S, SYN, .seq = 1000, .delay_ms = 5, HS(2, EG)},
		     {H_EG, C2S, SYN, .seq = 1000, .delay_ms = 5, HS(3, EG)},
		     {H_EG, C2S, SYN, .seq = 1000, .delay_ms = 5, HS(4, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 5, HS(4, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 5, .next_seq = 1001, .retransmits = 3},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 20, .rtt_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}, [EG] = {.syn_retries = 3, .retransmits = 3}},
    },
    {
	/* As above where the SYN-ACK is not seen: the final ACK is the
	 * only end of the handshake there is. */
	.name = "xdp/server_syn_retries_3",
	.segs = SEGS({H_XDP, C2S, SYN, .seq = 1000, HS(1, IN)},
		     {H_XDP, C2S, SYN, .seq = 1000, .delay_ms = 5, HS(2, IN)},
		     {H_XDP, C2S, SYN, .seq = 1000, .delay_ms = 5, HS(3, IN)},
		     {H_XDP, C2S, SYN, .seq = 1000, .delay_ms = 5, HS(4, IN)},
		     {H_XDP, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 5}),
	.flows = {{H_XDP, C2S, .packets = 5, .next_seq = 1001, .retransmits = 3, .hs_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20, .syn_retries = 3, .retransmits = 3}},
    },
    {
	/*
	 * TC on lo: every segment leaves through egress and comes back
	 * through ingress of the same interface. The SYN delivered is the
	 * SYN sent, not a retry; a retry is a SYN seen again in the
	 * direction it was first seen.
	 */
	.name = "tc/loopback_segments_seen_twice",
	.segs = SEGS(
	    {H_EG, C2S, SYN, .seq = 1000, HS(1, EG)}, {H_IN, C2S, SYN, .seq = 1000, HS(1, EG)},
	    {H_EG, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 5, HS(1, EG)},
	    {H_IN, S2C, SA, .seq = 5000, .ack = 1001, HS(1, EG)},
	    {H_EG, C2S, ACK, .seq = 1001, .ack = 5001}, {H_IN, C2S, ACK, .seq = 1001, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1001},
		  {H_IN, C2S, .packets = 2, .next_seq = 1001},
		  {H_EG, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 5, .rtt_ms = 5},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001}},
	.st = {[EG] = {.handshakes = 1, .hs_ms = 5}},
    },
    {
	/* TCP Fast Open: the SYN's data takes sequence space after it. */
	.name = "tc/syn_with_data",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, .len = 20, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1021, .delay_ms = 5, HS(1, EG)},
		     {H_EG, C2S, ACK, .seq = 1021, .ack = 5001},
		     {H_EG, C2S, PSH | ACK, .seq = 1021, .ack = 5001, .len = 10}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1031},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 5, .rtt_ms = 5}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 5}},
    },
    {
	/* No answer yet: the entry stays for userspace to expire. */
	.name = "tc/syn_unanswered",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_EG, C2S, SYN, .seq = 1000, .delay_ms = 2, HS(2, EG)}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1001, .retransmits = 1}},
	.st = {[EG] = {.syn_retries = 1, .retransmits = 1}},
    },
    {
	/* A SYN-ACK with no SYN seen (reordered, or the SYN went another
	 * way): nothing measured, nothing created. */
	.name = "tc/synack_before_syn",
	.segs = SEGS({H_IN, S2C, SA, .seq = 5000, .ack = 1001},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 2}),
	.flows = {{H_IN, S2C, .packets = 1, .next_seq = 5001}, {H_EG, C2S, .packets = 1}},
    },
    {
	/* The server's SYN-ACK again (our ACK was lost): measured once. */
	.name = "tc/synack_retransmit",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 20, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 5, HS(1, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1001},
		  {H_IN, S2C, .packets = 2, .next_seq = 5001, .retransmits = 1, .hs_ms = 20,
		   .rtt_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20, .retransmits = 1}},
    },
    {
	/*
	 * Both ends send a SYN, then each a SYN-ACK that carries its own
	 * ISN again (RFC 9293 3.5, figure 8): the other side's SYN is not
	 * a retry, our SYN-ACK measures nothing, theirs ends the handshake
	 * timed from our SYN. Nothing was lost, so nothing is a
	 * retransmission: the kernel does not count these SYN-ACKs in
	 * TcpRetransSegs either.
	 */
	.name = "tc/simultaneous_open",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SYN, .seq = 5000, .delay_ms = 10, HS(1, EG)},
		     {H_EG, C2S, SA, .seq = 1000, .ack = 5001, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 10, HS(1, EG)},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001},
		     {H_IN, S2C, ACK, .seq = 5001, .ack = 1001}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1001},
		  {H_IN, S2C, .packets = 3, .next_seq = 5001, .hs_ms = 20, .rtt_ms = 20}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 20}},
    },

    /* ---- Resets ---- */
    {
	/* A closed port: RST|ACK, seq 0, acking the SYN. */
	.name = "tc/rst_refused",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, RST | ACK, .seq = 0, .ack = 1001, .delay_ms = 1}),
	.flows = {{H_EG, C2S, .packets = 1, .next_seq = 1001},
		  {H_IN, S2C, .packets = 1, .resets = 1}},
	.st = {[IN] = {.refused = 1, .resets = 1}},
    },
    {
	/* The client gives up after the SYN-ACK: a reset, not a refusal. */
	.name = "tc/rst_from_client_in_handshake",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 5, HS(1, EG)},
		     {H_EG, C2S, RST, .seq = 1001}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1001, .resets = 1},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001, .hs_ms = 5, .rtt_ms = 5}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 5}, [EG] = {.resets = 1}},
    },
    {
	/* The server resets after its SYN-ACK: accepted, so not refused. */
	.name = "tc/rst_from_server_after_synack",
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000, HS(1, EG)},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 5, HS(1, EG)},
		     {H_IN, S2C, RST, .seq = 5001}),
	.flows = {{H_EG, C2S, .packets = 1, .next_seq = 1001},
		  {H_IN, S2C, .packets = 2, .next_seq = 5001, .resets = 1, .hs_ms = 5,
		   .rtt_ms = 5}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 5, .resets = 1}},
    },
    {
	.name = "tc/rst_without_handshake",
	.segs =
	    SEGS({H_EG, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 10},
		 {H_IN, S2C, RST | ACK, .seq = 5000, .ack = 1010}, {H_IN, S2C, RST, .seq = 5000}),
	.flows = {{H_EG, C2S, .packets = 1, .next_seq = 1010},
		  {H_IN, S2C, .packets = 2, .resets = 2}},
	.st = {[IN] = {.resets = 2}},
    },
    {
	.name = "xdp/rst_without_handshake",
	.segs = SEGS({H_XDP, C2S, RST | ACK, .seq = 1000, .ack = 5000}),
	.flows = {{H_XDP, C2S, .packets = 1, .resets = 1}},
	.st = {[IN] = {.resets = 1}},
    },

    /* ---- Retransmission hints ---- */
    {
	/* The same segment twice; duplicate ACKs the other way are not
	 * retransmissions. */
	.name = "tc/data_retransmit",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 100},
		     {H_EG, C2S, PSH | ACK, .seq = 1100, .ack = 5000, .len = 100},
		     {H_IN, S2C, ACK, .seq = 5000, .ack = 1100},
		     {H_IN, S2C, ACK, .seq = 5000, .ack = 1100},
		     {H_IN, S2C, ACK, .seq = 5000, .ack = 1100},
		     {H_EG, C2S, PSH | ACK, .seq = 1100, .ack = 5000, .len = 100}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1200, .retransmits = 1},
		  {H_IN, S2C, .packets = 3}},
	.st = {[EG] = {.retransmits = 1}},
    },
    {
	.name = "xdp/data_retransmit",
	.segs = SEGS({H_XDP, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 100},
		     {H_XDP, C2S, PSH | ACK, .seq = 1100, .ack = 5000, .len = 100},
		     {H_XDP, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 100}),
	.flows = {{H_XDP, C2S, .packets = 3, .next_seq = 1200, .retransmits = 1}},
	.st = {[IN] = {.retransmits = 1}},
    },
    {
	/* Linux's keep-alive (and zero-window) probe: snd_una - 1, no
	 * data. It covers no sequence space: not a retransmission. */
	.name = "tc/keepalive_probe",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 100},
		     {H_EG, C2S, ACK, .seq = 1099, .ack = 5000, .delay_ms = 1},
		     {H_EG, C2S, ACK, .seq = 1099, .ack = 5000, .delay_ms = 1}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1100}},
    },
    {
	/* The 1-byte probe of other stacks resends byte snd_una - 1: by
	 * the documented rule (ending at or below the highest seen) a
	 * hint, each time. */
	.name = "tc/keepalive_probe_1_byte",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 100},
		     {H_EG, C2S, ACK, .seq = 1099, .ack = 5000, .len = 1, .delay_ms = 1},
		     {H_EG, C2S, ACK, .seq = 1099, .ack = 5000, .len = 1, .delay_ms = 1}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1100, .retransmits = 2}},
	.st = {[EG] = {.retransmits = 2}},
    },
    {
	/* 1100..1200 arrives after 1200..1300: reordering or a
	 * retransmission, a hint either way; the highest end stays. */
	.name = "tc/out_of_order_older_segment",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 100},
		     {H_EG, C2S, PSH | ACK, .seq = 1200, .ack = 5000, .len = 100},
		     {H_EG, C2S, PSH | ACK, .seq = 1100, .ack = 5000, .len = 100}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 1300, .retransmits = 1}},
	.st = {[EG] = {.retransmits = 1}},
    },
    {
	/* Across 2^32 the next segment is new and the old one old. */
	.name = "tc/seq_wrap",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 0xffffffc0, .ack = 5000, .len = 100},
		     {H_EG, C2S, PSH | ACK, .seq = 0x24, .ack = 5000, .len = 100},
		     {H_EG, C2S, PSH | ACK, .seq = 0xffffffc0, .ack = 5000, .len = 100}),
	.flows = {{H_EG, C2S, .packets = 3, .next_seq = 0x88, .retransmits = 1}},
	.st = {[EG] = {.retransmits = 1}},
    },
    {
	/* A segment ending exactly at 2^32 (next_seq 0) and then resent:
	 * as much a retransmission as at any other sequence number. */
	.name = "tc/seq_end_at_2_32",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 0xffffff9c, .ack = 5000, .len = 100},
		     {H_EG, C2S, PSH | ACK, .seq = 0xffffff9c, .ack = 5000, .len = 100}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 0, .retransmits = 1}},
	.st = {[EG] = {.retransmits = 1}},
    },
    {
	/* A FIN takes one sequence number: after data ending at 1010 it is
	 * new (1010..1011), sent again it is a retransmission, and the
	 * ACK after it (seq 1011) covers nothing. */
	.name = "tc/fin_retransmit",
	.segs = SEGS({H_EG, C2S, PSH | ACK, .seq = 1000, .ack = 5000, .len = 10},
		     {H_EG, C2S, FIN | ACK, .seq = 1010, .ack = 5000},
		     {H_EG, C2S, FIN | ACK, .seq = 1010, .ack = 5000, .delay_ms = 1},
		     {H_IN, S2C, FIN | ACK, .seq = 5000, .ack = 1011},
		     {H_EG, C2S, ACK, .seq = 1011, .ack = 5001}),
	.flows = {{H_EG, C2S, .packets = 4, .next_seq = 1011, .retransmits = 1},
		  {H_IN, S2C, .packets = 1, .next_seq = 5001}},
	.st = {[EG] = {.retransmits = 1}},
    },
    {
	/* Data and FIN in one segment, then the FIN alone again. */
	.name = "tc/fin_with_data_retransmit",
	.segs = SEGS({H_EG, C2S, PSH | FIN | ACK, .seq = 1000, .ack = 5000, .len = 10},
		     {H_EG, C2S, FIN | ACK, .seq = 1010, .ack = 5000, .delay_ms = 1}),
	.flows = {{H_EG, C2S, .packets = 2, .next_seq = 1011, .retransmits = 1}},
	.st = {[EG] = {.retransmits = 1}},
    },

    /* ---- Knobs ---- */
    {
	/* Two handshakes fit: the third SYN is counted as overflow and its
	 * SYN-ACK finds nothing; a finished handshake frees its slot. */
	.name = "tc/hs_table_full",
	.variant = VAR_HS_MAX_2,
	.segs =
	    SEGS({H_EG, C2S, SYN, .cport = 40001, .seq = 1000, HS(1, EG)},
		 {H_EG, C2S, SYN, .cport = 40002, .seq = 1000, .hs = 2},
		 {H_EG, C2S, SYN, .cport = 40003, .seq = 1000, .hs = 2},
		 {H_IN, S2C, SA, .cport = 40003, .seq = 5000, .ack = 1001, .delay_ms = 10, .hs = 2},
		 {H_IN, S2C, SA, .cport = 40001, .seq = 5000, .ack = 1001, .hs = 2},
		 {H_EG, C2S, ACK, .cport = 40001, .seq = 1001, .ack = 5001, .hs = 1},
		 {H_EG, C2S, SYN, .cport = 40004, .seq = 1000, .hs = 2}),
	.flows = {{H_EG, C2S, 40001, .packets = 2, .next_seq = 1001},
		  {H_EG, C2S, 40002, .packets = 1, .next_seq = 1001},
		  {H_EG, C2S, 40003, .packets = 1, .next_seq = 1001},
		  {H_EG, C2S, 40004, .packets = 1, .next_seq = 1001},
		  {H_IN, S2C, 40003, .packets = 1, .next_seq = 5001},
		  {H_IN, S2C, 40001, .packets = 1, .next_seq = 5001, .hs_ms = 10, .rtt_ms = 10}},
	.st = {[IN] = {.handshakes = 1, .hs_ms = 10}, [EG] = {.hs_overflow = 1}},
    },
    {
	.name = "tc/tcp_health_off",
	.variant = VAR_HEALTH_OFF,
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000}, {H_EG, C2S, SYN, .seq = 1000, .delay_ms = 1},
		     {H_IN, S2C, SA, .seq = 5000, .ack = 1001, .delay_ms = 2},
		     {H_EG, C2S, ACK, .seq = 1001, .ack = 5001},
		     {H_EG, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 10},
		     {H_EG, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 10},
		     {H_IN, S2C, RST, .seq = 5001}),
	.flows = {{H_EG, C2S, .packets = 5}, {H_IN, S2C, .packets = 2}},
    },
    {
	.name = "tc/tcp_health_off_refused",
	.variant = VAR_HEALTH_OFF,
	.segs = SEGS({H_EG, C2S, SYN, .seq = 1000}, {H_IN, S2C, RST | ACK, .seq = 0, .ack = 1001}),
	.flows = {{H_EG, C2S, .packets = 1}, {H_IN, S2C, .packets = 1}},
    },
    {
	.name = "xdp/tcp_health_off",
	.variant = VAR_HEALTH_OFF,
	.segs = SEGS({H_XDP, C2S, SYN, .seq = 1000}, {H_XDP, C2S, SYN, .seq = 1000, .delay_ms = 1},
		     {H_XDP, C2S, ACK, .seq = 1001, .ack = 5001, .delay_ms = 2},
		     {H_XDP, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 10},
		     {H_XDP, C2S, PSH | ACK, .seq = 1001, .ack = 5001, .len = 10},
		     {H_XDP, C2S, RST, .seq = 1011}),
	.flows = {{H_XDP, C2S, .packets = 6}},
    },
};

static __u64 slack_us; /* the running case's time beyond its sleeps */
static int ncpus;

/* ---- Fixture: namespace, loaded objects ---- */

/* The maps of one object (XDP or TC); each object keeps its own. */
struct obj {
	const char *name;
	int ifstats_fd, flows_fd, hs_fd;
};

struct dp {
	struct flowtap_xdp *xdp;
	struct flowtap_tc *tc;
	struct obj xdp_maps, tc_maps;
	int prog_fd[H_MAX];
	bool xdp_attached;
};

static const char *const hook_names[H_MAX] = {"", "xdp", "tc_in", "tc_eg"};

static __u8 hook_dir(__u8 hook)
{
	return hook == H_EG ? FT_DIR_EGRESS : FT_DIR_INGRESS;
}

static const struct obj *hook_obj(const struct dp *dp, __u8 hook)
{
	return hook == H_XDP ? &dp->xdp_maps : &dp->tc_maps;
}

static int obj_set_knobs(struct bpf_object *obj, struct bpf_map *hs, const struct knobs *k)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) bpf_map__set_pin_path(m, NULL);
	return k->hs_max ? bpf_map__set_max_entries(hs, k->hs_max) : 0;
}

static void dp_close(struct dp *dp)
{
	if (dp->xdp_attached)
		bpf_xdp_detach(lo_ifindex, XDP_FLAGS_SKB_MODE, NULL);
	flowtap_xdp__destroy(dp->xdp);
	flowtap_tc__destroy(dp->tc);
	memset(dp, 0, sizeof(*dp));
}

static int dp_open(struct dp *dp, const struct knobs *k, char *why, size_t n)
{
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->xdp = flowtap_xdp__open();
	dp->tc = flowtap_tc__open();
	if (!dp->xdp || !dp->tc) {
		snprintf(why, n, "opening the skeletons: %s", strerror(errno));
		goto fail;
	}
	dp->xdp->rodata->ft_tcp_health = k->tcp_health;
	dp->tc->rodata->ft_tcp_health = k->tcp_health;
	if (obj_set_knobs(dp->xdp->obj, dp->xdp->maps.ft_tcp_hs_map, k) ||
	    obj_set_knobs(dp->tc->obj, dp->tc->maps.ft_tcp_hs_map, k)) {
		snprintf(why, n, "setting knobs failed");
		goto fail;
	}
	if ((err = flowtap_xdp__load(dp->xdp)) || (err = flowtap_tc__load(dp->tc))) {
		snprintf(why, n, "load: %s (libbpf: %.150s)", strerror(-err), libbpf_last_msg);
		goto fail;
	}
	dp->xdp_maps = (struct obj){"xdp", bpf_map__fd(dp->xdp->maps.ft_ifstats),
				    bpf_map__fd(dp->xdp->maps.ft_flows),
				    bpf_map__fd(dp->xdp->maps.ft_tcp_hs_map)};
	dp->tc_maps = (struct obj){"tc", bpf_map__fd(dp->tc->maps.ft_ifstats),
				   bpf_map__fd(dp->tc->maps.ft_flows),
				   bpf_map__fd(dp->tc->maps.ft_tcp_hs_map)};
	dp->prog_fd[H_XDP] = bpf_program__fd(dp->xdp->progs.flowtap_xdp);
	dp->prog_fd[H_IN] = bpf_program__fd(dp->tc->progs.flowtap_tc_ingress);
	dp->prog_fd[H_EG] = bpf_program__fd(dp->tc->progs.flowtap_tc_egress);
	if (k->hs_max && (bpf_map__max_entries(dp->xdp->maps.ft_tcp_hs_map) != k->hs_max ||
			  bpf_map__max_entries(dp->tc->maps.ft_tcp_hs_map) != k->hs_max)) {
		snprintf(why, n, "ft_tcp_hs_map max_entries not %u", k->hs_max);
		goto fail;
	}
	err = bpf_xdp_attach(lo_ifindex, dp->prog_fd[H_XDP], XDP_FLAGS_SKB_MODE, NULL);
	if (err) {
		snprintf(why, n, "attaching XDP to lo: %s", strerror(-err));
		goto fail;
	}
	dp->xdp_attached = true;
	return 0;
fail:
	dp_close(dp);
	return -1;
}

/* ---- Map access ---- */

static void map_clear(int fd)
{
	__u8 key[64];

	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			break;
}

static int map_count(int fd)
{
	__u8 key[64], next[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next) && n < 100000) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

static void obj_reset(const struct obj *o)
{
	map_clear(o->ifstats_fd);
	map_clear(o->flows_fd);
	map_clear(o->hs_fd);
}

/* Sums lo's counters in one direction over CPUs; false if there are none. */
static bool stats_read(const struct obj *o, __u8 dir, struct ft_if_stats *sum)
{
	struct ft_if_key key = {.ifindex = lo_ifindex, .dir = dir};
	const size_t nw = sizeof(*sum) / sizeof(__u64);
	__u64 *vals = calloc(ncpus, sizeof(*sum)), *s = (__u64 *)sum;
	bool found = vals && !bpf_map_lookup_elem(o->ifstats_fd, &key, vals);
	size_t i;
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; found && cpu < ncpus; cpu++)
		for (i = 0; i < nw; i++)
			s[i] += vals[cpu * nw + i];
	free(vals);
	return found;
}

/* ---- Segments ---- */

static __u64 mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

static __u16 seg_cport(const struct seg *s)
{
	return s->cport ? s->cport : CPORT;
}

static const char *client_addr(const struct tcase *c)
{
	if (c->client)
		return c->client;
	return c->family == 6 ? PKT_IP6_SRC : PKT_IP4_SRC;
}

static const char *server_addr(const struct tcase *c)
{
	if (c->server)
		return c->server;
	return c->family == 6 ? PKT_IP6_DST : PKT_IP4_DST;
}

static void build_seg(struct pkt *p, const struct tcase *c, const struct seg *s)
{
	const char *src = client_addr(c), *dst = server_addr(c);
	__u16 sport = seg_cport(s), dport = SPORT;
	struct tcphdr *th;
	int off;

	if (s->from == S2C) {
		src = server_addr(c);
		dst = client_addr(c);
		sport = SPORT;
		dport = seg_cport(s);
	}
	pkt_init(p);
	pkt_eth(p);
	if (c->family == 6)
		pkt_ipv6(p, src, dst);
	else
		pkt_ipv4(p, src, dst);
	off = pkt_tcp(p, sport, dport, s->flags);
	pkt_fill(p, 'x', s->len);
	th = pkt_tcph(p, off);
	th->seq = htonl(s->seq);
	th->ack_seq = htonl(s->ack);
	pkt_finish(p);
}

static bool run_seg(const struct dp *dp, const struct tcase *c, const struct seg *s, int i)
{
	struct pkt p;
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
	int want = s->hook == H_XDP ? XDP_PASS : TC_ACT_UNSPEC;
	char what[64];

	build_seg(&p, c, s);
	o.data_in = p.data;
	o.data_size_in = p.len;
	snprintf(what, sizeof(what), "segment %d: BPF_PROG_TEST_RUN", i);
	if (!ASSERT_OK(bpf_prog_test_run_opts(dp->prog_fd[s->hook], &o) ? -errno : 0, what))
		return false;
	snprintf(what, sizeof(what), "segment %d: verdict", i);
	return ASSERT_EQ((int)o.retval, want, what);
}

/* The address of the connection's client or server, as the key holds it. */
static void addr_bytes(const struct tcase *c, bool client, __u8 out[16])
{
	memset(out, 0, 16);
	inet_pton(c->family == 6 ? AF_INET6 : AF_INET, client ? client_addr(c) : server_addr(c),
		  out);
}

static bool check_eq(__u64 got, __u64 want, const char *who, const char *field)
{
	char what[160];

	snprintf(what, sizeof(what), "%s %s", who, field);
	if (verbose && got != want)
		fprintf(stderr, "  %s: got %llu, want %llu\n", what, (unsigned long long)got,
			(unsigned long long)want);
	return ASSERT_EQ(got, want, what);
}

/*
 * The handshake key of a connection: direction 0, one endpoint first; which
 * one is the datapath's choice, and client_is_a must say which it took.
 */
static bool check_hs_entry(const struct tcase *c, const struct seg *s, const struct ft_flow_key *k,
			   const struct ft_tcp_hs *v, int i)
{
	struct ft_flow_key want = {.ifindex = lo_ifindex, .family = c->family ? c->family : 4};
	char what[80];

	want.proto = IPPROTO_TCP;
	if (v->client_is_a) {
		addr_bytes(c, true, want.src);
		addr_bytes(c, false, want.dst);
		want.sport = seg_cport(s);
		want.dport = SPORT;
	} else {
		addr_bytes(c, false, want.src);
		addr_bytes(c, true, want.dst);
		want.sport = SPORT;
		want.dport = seg_cport(s);
	}
	snprintf(what, sizeof(what), "segment %d: handshake key (client_is_a %u)", i,
		 v->client_is_a);
	if (!ASSERT_MEMEQ(k, &want, sizeof(want), what))
		return false;
	snprintf(what, sizeof(what), "segment %d: handshake client_is_a", i);
	if (!ASSERT_LE(v->client_is_a, 1, what))
		return false;
	snprintf(what, sizeof(what), "segment %d: handshake syns", i);
	if (!ASSERT_EQ(v->syns, s->syns, what))
		return false;
	snprintf(what, sizeof(what), "segment %d: handshake syn_dir", i);
	if (!ASSERT_EQ(v->syn_dir, s->syn_dir, what))
		return false;
	snprintf(what, sizeof(what), "segment %d: handshake syn_ns", i);
	return ASSERT_NEQ(v->syn_ns, 0, what);
}

static bool check_hs(const struct obj *o, const struct tcase *c, const struct seg *s, int i)
{
	struct ft_flow_key k;
	struct ft_tcp_hs v;
	char what[64];

	snprintf(what, sizeof(what), "segment %d:", i);
	if (!check_eq(map_count(o->hs_fd), s->hs, what, "ft_tcp_hs_map entries"))
		return false;
	if (s->hs != 1 || !s->syns)
		return true;
	snprintf(what, sizeof(what), "segment %d: reading the handshake", i);
	if (!ASSERT_OK(bpf_map_get_next_key(o->hs_fd, NULL, &k), what) ||
	    !ASSERT_OK(bpf_map_lookup_elem(o->hs_fd, &k, &v), what))
		return false;
	return check_hs_entry(c, s, &k, &v, i);
}

/* ---- Outcomes ---- */

/* 0 exactly, or at least want_ms and at most the slack more. */
static bool check_time(__u64 got_us, __u32 want_ms, const char *who, const char *field)
{
	__u64 lo = want_ms * 1000ULL;
	char what[160];

	if (!want_ms)
		return check_eq(got_us, 0, who, field);
	snprintf(what, sizeof(what), "%s %s (us)", who, field);
	if (verbose && (got_us < lo || got_us > lo + slack_us))
		fprintf(stderr, "  %s: got %llu, want %llu..%llu\n", what,
			(unsigned long long)got_us, (unsigned long long)lo,
			(unsigned long long)(lo + slack_us));
	return ASSERT_GE(got_us, lo, what) && ASSERT_LE(got_us, lo + slack_us, what);
}

static void flow_key(const struct tcase *c, const struct want_flow *w, struct ft_flow_key *k)
{
	bool c2s = w->from == C2S;
	__u16 cport = w->cport ? w->cport : CPORT;

	memset(k, 0, sizeof(*k));
	k->ifindex = lo_ifindex;
	k->dir = hook_dir(w->hook);
	k->family = c->family ? c->family : 4;
	k->proto = IPPROTO_TCP;
	k->sport = c2s ? cport : SPORT;
	k->dport = c2s ? SPORT : cport;
	addr_bytes(c, c2s, k->src);
	addr_bytes(c, !c2s, k->dst);
}

static bool check_flow(const struct obj *o, const struct tcase *c, const struct want_flow *w)
{
	struct ft_flow_val *vals = calloc(ncpus, sizeof(*vals)), *v = NULL;
	struct ft_flow_key k;
	char who[64];
	int cpu, used = 0;
	bool ok = false;

	snprintf(who, sizeof(who), "flow %s %s:%u", hook_names[w->hook],
		 w->from == C2S ? "c2s" : "s2c", w->cport ? w->cport : CPORT);
	flow_key(c, w, &k);
	if (!ASSERT_OK_PTR(vals, "calloc") ||
	    !ASSERT_OK(bpf_map_lookup_elem(o->flows_fd, &k, vals) ? -errno : 0, who))
		goto out;
	for (cpu = 0; cpu < ncpus; cpu++)
		if (vals[cpu].packets) {
			v = &vals[cpu];
			used++;
		}
	if (!check_eq(used, 1, who, "CPUs with packets (the test is pinned)"))
		goto out;
	ok = check_eq(v->packets, w->packets, who, "packets");
	ok = check_eq(v->next_seq, w->next_seq, who, "next_seq") && ok;
	ok = check_eq(v->retransmits, w->retransmits, who, "retransmits") && ok;
	ok = check_eq(v->resets, w->resets, who, "resets") && ok;
	ok = check_time(v->handshake_us, w->hs_ms, who, "handshake_us") && ok;
	ok = check_time(v->rtt_us, w->rtt_ms, who, "rtt_us") && ok;
out:
	free(vals);
	return ok;
}

static bool check_flows(const struct obj *o, const struct tcase *c)
{
	const struct want_flow *w;
	bool ok = true;
	int n = 0;

	for (w = c->flows; w < c->flows + MAX_FLOWS && w->hook; w++, n++)
		ok = check_flow(o, c, w) && ok;
	return check_eq(map_count(o->flows_fd), n, o->name, "ft_flows entries") && ok;
}

/* Bucket b holds [2^(b-1), 2^b) us, the last one everything above. */
static int hs_bucket(__u64 us)
{
	int b = 0;

	for (; us; us >>= 1)
		b++;
	return b < FT_HS_BUCKETS ? b : FT_HS_BUCKETS - 1;
}

static bool check_hist(const struct ft_if_stats *s, const char *who)
{
	int b, want = s->tcp_handshakes == 1 ? hs_bucket(s->tcp_handshake_sum_us) : -1;
	__u64 total = 0;
	bool ok = true;
	char field[64];

	for (b = 0; b < FT_HS_BUCKETS; b++) {
		total += s->tcp_handshake_hist[b];
		if (want < 0)
			continue;
		snprintf(field, sizeof(field), "tcp_handshake_hist[%d]", b);
		ok = check_eq(s->tcp_handshake_hist[b], b == want, who, field) && ok;
	}
	return check_eq(total, s->tcp_handshakes, who, "tcp_handshake_hist total") && ok;
}

/* The TCP health counters of one direction, and its TCP packets. */
static bool check_dir(const struct obj *o, __u8 dir, const struct want_st *w, __u64 nseg)
{
	struct ft_if_stats s;
	bool found = stats_read(o, dir, &s), ok;
	char who[32];

	snprintf(who, sizeof(who), "%s %s", o->name, dir == EG ? "egress" : "ingress");
	ok = check_eq(found, nseg > 0, who, "ft_ifstats entry");
	ok = check_eq(s.cls[FT_CLASS_TCP].packets, nseg, who, "tcp packets") && ok;
	ok = check_eq(s.tcp_handshakes, w->handshakes, who, "tcp_handshakes") && ok;
	ok = check_time(s.tcp_handshake_sum_us, w->hs_ms, who, "tcp_handshake_sum_us") && ok;
	ok = check_hist(&s, who) && ok;
	ok = check_eq(s.tcp_conn_refused, w->refused, who, "tcp_conn_refused") && ok;
	ok = check_eq(s.tcp_syn_retries, w->syn_retries, who, "tcp_syn_retries") && ok;
	ok = check_eq(s.tcp_retransmits, w->retransmits, who, "tcp_retransmits") && ok;
	ok = check_eq(s.tcp_resets, w->resets, who, "tcp_resets") && ok;
	return check_eq(s.tcp_hs_overflow, w->hs_overflow, who, "tcp_hs_overflow") && ok;
}

static void run_case(const struct dp *dp, const struct tcase *c)
{
	const struct obj *o = hook_obj(dp, c->segs[0].hook);
	__u64 nseg[FT_DIR_MAX] = {}, slept_ns = 0, t0;
	const struct seg *s;
	char what[64];
	int i;

	if (!test_start("%s", c->name))
		return;
	obj_reset(o);
	t0 = mono_ns();
	for (s = c->segs, i = 0; s->hook; s++, i++) {
		snprintf(what, sizeof(what), "segment %d: through the first one's object", i);
		if (!ASSERT_TRUE(hook_obj(dp, s->hook) == o, what))
			goto out;
		if (s->delay_ms)
			sleep_ms(s->delay_ms);
		slept_ns += s->delay_ms * 1000000ULL;
		if (!run_seg(dp, c, s, i))
			goto out;
		/* Run on: what the rest of the sequence leaves tells more. */
		check_hs(o, c, s, i);
		nseg[hook_dir(s->hook)]++;
	}
	slack_us = (mono_ns() - t0 - slept_ns + 999) / 1000;
	/* All of them: the first failure is reported, the rest counted. */
	check_flows(o, c);
	check_dir(o, IN, &c->st[IN], nseg[IN]);
	check_dir(o, EG, &c->st[EG], nseg[EG]);
out:
	test_end();
}

static void run_variant(enum variant var)
{
	char why[256];
	struct dp dp;
	size_t i;

	if (dp_open(&dp, &knobs[var], why, sizeof(why))) {
		if (test_start("load/%s", knobs[var].name)) {
			test_fail("%s", why);
			test_end();
		}
		return;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cases[i].variant == var)
			run_case(&dp, &cases[i]);
	dp_close(&dp);
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-v] [-k PATTERN]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	char why[256];
	int opt, var;

	while ((opt = getopt(argc, argv, "vk:h")) != -1) {
		if (opt == 'v')
			verbose = true;
		else if (opt == 'k')
			test_set_filter(optarg);
		else
			usage(argv[0]);
	}
	if (optind < argc)
		test_set_filter(argv[optind]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(libbpf_print);
	if (geteuid() != 0) {
		test_skip_all("test_tcp", "needs root (BPF, network namespaces)");
		return 0;
	}
	ncpus = libbpf_num_possible_cpus();
	if (netns_enter(why, sizeof(why)) || ncpus <= 0) {
		test_skip_all("test_tcp", why);
		return 0;
	}
	pin_cpu();
	for (var = 0; var < VAR_MAX; var++)
		run_variant(var);
	return test_exit_code();
}
