/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Classic BPF (what libpcap's pcap_compile emits) to eBPF, for capture
 * filters that run at the XDP and TC hooks.
 *
 * The translated filter keeps classic BPF's semantics exactly as libpcap's
 * own interpreter (bpf_filter) has them: 32-bit unsigned arithmetic, a load
 * outside the packet rejects, division by a zero X rejects, a shift by
 * X >= 32 gives 0, and the return value is the snap length (0 = reject).
 * Anything it cannot translate is an error, never a different filter.
 *
 * Classic BPF and eBPF both call their instruction "struct bpf_insn"; this
 * header uses the kernel's names (struct sock_filter for classic, struct
 * bpf_insn for eBPF) so it can be included next to libbpf. Only cbpf.c
 * includes libpcap.
 */
#ifndef FT_CBPF_H
#define FT_CBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/filter.h>
#include <linux/bpf.h>

#define CBPF_MEMWORDS	     16
#define CBPF_DEFAULT_SNAPLEN 262144
/*
 * Bytes of one packet a capture program copies to userspace. A perf
 * record's size is a u16, header included; larger frames (GSO at egress)
 * are cut here and marked as cut in the pcap record (caplen < len).
 */
#define CBPF_MAX_COPY 65000

struct cbpf_prog {
	struct sock_filter *insns;
	size_t len;
};

/*
 * Bounds on a filter (docs/capture.md). libpcap's code generation grows
 * quadratically and its optimiser about cubically with the expression: a
 * 1000-term "host A or host B or ..." keeps it busy for minutes. So the
 * expression is measured before libpcap sees it (bytes, primitives joined
 * by and/or), then compiled unoptimised and measured again (the
 * optimiser's input), and the optimised program must fit the kernel's
 * classic BPF limit, as tcpdump's would.
 */
#define CBPF_MAX_EXPR_LEN 8192 /* bytes */
#define CBPF_MAX_TERMS	  128  /* and/or/&&/|| + 1 */
#define CBPF_MAX_UNOPT	  8192 /* classic instructions before optimisation */
#define CBPF_MAX_INSNS	  4096 /* after: BPF_MAXINSNS */

/* Compiles a tcpdump expression for Ethernet framing (DLT_EN10MB) with
 * libpcap, optimised. "" matches everything. 0 or -1 with err set; an
 * expression over the bounds above is refused before the optimiser runs. */
int cbpf_compile(const char *expr, __u32 snaplen, struct cbpf_prog *out, char *err, size_t errlen);
void cbpf_prog_free(struct cbpf_prog *p);
/* Primitives in expr: 1 + the and/or operators (&&, ||) in it. */
size_t cbpf_terms(const char *expr);
/* libpcap's own checks and interpreter: the reference the tests compare to. */
bool cbpf_validate(const struct cbpf_prog *p);
__u32 cbpf_run_ref(const struct cbpf_prog *p, const void *pkt, __u32 wirelen, __u32 caplen);
/* tcpdump -d style listing of one instruction (static buffer). */
const char *cbpf_image(const struct cbpf_prog *p, size_t i);

enum cbpf_ctx {
	CBPF_CTX_XDP, /* struct xdp_md: linear frame, direct access only */
	CBPF_CTX_SKB, /* struct __sk_buff: direct access, else bpf_skb_load_bytes */
};

struct cbpf_opts {
	enum cbpf_ctx ctx;
	/* SKB: every load through bpf_skb_load_bytes, to test that path on
	 * the linear packets BPF_PROG_TEST_RUN builds. */
	bool force_slow;
};

struct cbpf_ebpf {
	struct bpf_insn *insns;
	size_t len;
};

/*
 * The filter alone: the program returns the filter's result (snap length,
 * 0 = reject) as its return value. For tests, run with BPF_PROG_TEST_RUN.
 * At SKB a VLAN tag the kernel moved out of the packet (skb->vlan_tci) is
 * seen in place, as tcpdump shows it.
 */
int cbpf_to_ebpf(const struct cbpf_prog *p, const struct cbpf_opts *o, struct cbpf_ebpf *out,
		 char *err, size_t errlen);

/* Where a capture program finds its maps and what it selects. */
struct cbpf_capture {
	int slot;	      /* its index in the datapath's capture prog array */
	int meta_fd;	      /* ft_cap_meta_map */
	int config_fd;	      /* ft_config_map: capture_mask */
	int progs_fd;	      /* ft_cap_xdp or ft_cap_tc: the rest of the chain */
	int perf_fd;	      /* PERF_EVENT_ARRAY: struct ft_cap_hdr + frame bytes */
	int stats_fd;	      /* PERCPU_ARRAY of struct ft_cap_stats, n_ifindex entries (>= 1) */
	const __u32 *ifindex; /* interfaces to capture on; n_ifindex 0: any */
	size_t n_ifindex;
	__u8 dir_mask; /* 1 << FT_DIR_INGRESS | 1 << FT_DIR_EGRESS */
};

/*
 * A whole capture program for one slot: selects the interface and
 * direction from ft_cap_meta, runs the filter, sends a match to the perf
 * buffer, tail-calls the capture slots after its own and returns XDP_PASS
 * or TC_ACT_UNSPEC. It never changes a verdict or the packet.
 */
int cbpf_to_capture(const struct cbpf_prog *p, const struct cbpf_opts *o,
		    const struct cbpf_capture *c, struct cbpf_ebpf *out, char *err, size_t errlen);
void cbpf_ebpf_free(struct cbpf_ebpf *e);

/* What a capture program sends before the frame bytes, per match. */
struct ft_cap_hdr {
	__u64 ts_ns; /* CLOCK_MONOTONIC, when the filter matched */
	__u32 ifindex;
	__u32 pkt_len;	   /* frame length as tcpdump reports it (VLAN tag included) */
	__u32 snap;	   /* the filter's return value */
	__u32 copy_len;	   /* frame bytes that follow (without an offloaded VLAN tag) */
	__u8 dir;	   /* enum ft_direction */
	__u8 vlan_present; /* the tag is offloaded: insert it after the MACs */
	__u16 vlan_tci;
	__u16 vlan_proto; /* host order */
	__u16 pad;
};
_Static_assert(sizeof(struct ft_cap_hdr) == 32, "ft_cap_hdr layout");

/*
 * The frame of a record as tcpdump shows it: an offloaded VLAN tag put
 * back after the MAC addresses, cut to the snap length. out needs room for
 * h->copy_len + 4 bytes. Returns the captured length.
 */
__u32 cbpf_cap_frame(const struct ft_cap_hdr *h, const __u8 *bytes, __u8 *out);

/* Per capture and interface, per CPU. What the filter saw is the
 * datapath's capture_calls (struct ft_if_stats) over the same time. */
struct ft_cap_stats {
	__u64 matched; /* the filter accepted them */
	__u64 lost;    /* matched, but the perf buffer was full */
};
_Static_assert(sizeof(struct ft_cap_stats) == 16, "ft_cap_stats layout");

#endif /* FT_CBPF_H */
