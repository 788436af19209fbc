/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP health from packets alone: handshake latency, refused connections,
 * resets and retransmission hints. Costs nothing beyond the flow update for
 * established traffic: the handshake table is looked up only for SYNs, RSTs
 * and the first few segments of a flow.
 */
#ifndef FT_TCP_BPF_H
#define FT_TCP_BPF_H

#include "parse.h"
#include "maps.bpf.h"
#include "frame.bpf.h"

#define FT_TH_FIN 0x01
#define FT_TH_SYN 0x02
#define FT_TH_RST 0x04
#define FT_TH_ACK 0x10

/* A flow past this many non-SYN segments (on this CPU) is past its
 * handshake. SYNs do not count: a connection may retry its SYN many times. */
#define FT_TCP_HS_SEGS 4

struct ft_tcp_meas {
	__u32 hs_us;
	__u32 rtt_us;
};

/* The connection's key independent of direction: lower endpoint first. */
static __always_inline __u8 ft_tcp_canon(const struct ft_flow_key *k, struct ft_flow_key *c)
{
	const __u32 *s = (const __u32 *)k->src, *d = (const __u32 *)k->dst;
	int i, swap = k->sport > k->dport;

	FT_UNROLL
	for (i = 0; i < 4; i++) {
		if (s[i] != d[i]) {
			swap = s[i] > d[i];
			break;
		}
	}
	*c = *k;
	c->dir = 0;
	if (swap) {
		__builtin_memcpy(c->src, k->dst, 16);
		__builtin_memcpy(c->dst, k->src, 16);
		c->sport = k->dport;
		c->dport = k->sport;
	}
	return !swap;
}

static __always_inline __u32 ft_log2_bucket(__u64 v)
{
	__u32 b = 0;

	if (!v)
		return 0;
	if (v >> 32) {
		b += 32;
		v >>= 32;
	}
	if (v >> 16) {
		b += 16;
		v >>= 16;
	}
	if (v >> 8) {
		b += 8;
		v >>= 8;
	}
	if (v >> 4) {
		b += 4;
		v >>= 4;
	}
	if (v >> 2) {
		b += 2;
		v >>= 2;
	}
	if (v >> 1)
		b += 1;
	b += 1;
	return b < FT_HS_BUCKETS ? b : FT_HS_BUCKETS - 1;
}

static __always_inline void ft_hs_observe(struct ft_if_stats *st, __u64 us)
{
	__u32 b = ft_log2_bucket(us);

	st->tcp_handshakes++;
	st->tcp_handshake_sum_us += us;
	if (b < FT_HS_BUCKETS)
		st->tcp_handshake_hist[b]++;
}

static __always_inline void ft_tcp_syn(const struct ft_frame *f, struct ft_if_stats *st,
				       const struct ft_flow_key *ck, struct ft_tcp_hs *hs,
				       __u8 a_to_b, __u64 now)
{
	struct ft_tcp_hs n = {
	    .syn_ns = now,
	    .client_is_a = a_to_b,
	    .syn_dir = f->dir,
	    .syns = 1,
	};
	long err;

	if (hs) {
		/* A SYN retry; a SYN from the other side is a simultaneous
		 * open, timed from the first SYN all the same. The same SYN
		 * seen in the other direction (TC on lo sees each segment
		 * leave and arrive) is not a retry. */
		if (!hs->synack_ns && hs->client_is_a == a_to_b && hs->syn_dir == f->dir) {
			hs->syns++;
			st->tcp_syn_retries++;
		}
		return;
	}
	err = bpf_map_update_elem(&ft_tcp_hs_map, ck, &n, BPF_NOEXIST);
	if (err && err != -EEXIST)
		st->tcp_hs_overflow++;
}

/*
 * Advances the handshake this segment belongs to. Returns what it measured:
 * hs_us when the SYN-ACK (or, where the SYN-ACK is not visible, the final
 * ACK) arrives; rtt_us for the leg that crossed the network from here
 * (SYN to SYN-ACK when the SYN left through this hook, SYN-ACK to ACK when
 * it arrived through it).
 */
static __always_inline struct ft_tcp_meas ft_tcp_handshake(const struct ft_frame *f,
							   const struct ft_parsed *pp,
							   struct ft_if_stats *st, __u32 seen)
{
	struct ft_tcp_meas m = {};
	__u8 fl = pp->tcp_flags, a_to_b, from_client;
	struct ft_flow_key ck;
	struct ft_tcp_hs *hs;
	__u64 us, now;

	if (!(fl & (FT_TH_SYN | FT_TH_RST)) && seen >= FT_TCP_HS_SEGS)
		return m;
	now = bpf_ktime_get_ns(); /* f->now is tick-coarse */
	a_to_b = ft_tcp_canon(&pp->key, &ck);
	hs = bpf_map_lookup_elem(&ft_tcp_hs_map, &ck);
	if ((fl & (FT_TH_SYN | FT_TH_ACK)) == FT_TH_SYN) {
		ft_tcp_syn(f, st, &ck, hs, a_to_b, now);
		return m;
	}
	if (!hs)
		return m;
	from_client = hs->client_is_a == a_to_b;
	if (fl & FT_TH_RST) {
		if (!from_client && !hs->synack_ns)
			st->tcp_conn_refused++;
		bpf_map_delete_elem(&ft_tcp_hs_map, &ck);
		return m;
	}
	if (fl & FT_TH_SYN) { /* SYN-ACK */
		if (from_client || hs->synack_ns)
			return m;
		hs->synack_ns = now;
		us = (now - hs->syn_ns) / 1000;
		m.hs_us = us;
		if (hs->syn_dir == FT_DIR_EGRESS)
			m.rtt_us = us;
		ft_hs_observe(st, us);
		return m;
	}
	if (!from_client || !(fl & FT_TH_ACK))
		return m;
	if (hs->synack_ns) {
		if (hs->syn_dir == FT_DIR_INGRESS)
			m.rtt_us = (now - hs->synack_ns) / 1000;
	} else {
		us = (now - hs->syn_ns) / 1000;
		m.hs_us = us;
		ft_hs_observe(st, us);
	}
	bpf_map_delete_elem(&ft_tcp_hs_map, &ck);
	return m;
}

/* Sequence space this segment covers ends at; == seq for a bare ACK. */
static __always_inline __u32 ft_tcp_seq_end(const struct ft_parsed *pp)
{
	return pp->tcp_seq + pp->payload_len + !!(pp->tcp_flags & FT_TH_SYN) +
	       !!(pp->tcp_flags & FT_TH_FIN);
}

enum ft_tcp_event {
	FT_TCPE_RESET = 1 << 0,
	FT_TCPE_RETRANS = 1 << 1,
};

/*
 * Per-flow (per-CPU) resets, retransmission hints and measurements; returns
 * the FT_TCPE_* events so the caller counts them per interface exactly once
 * (a flow insert that loses a race runs this twice). prev_flags: the flow's
 * flags before this segment.
 */
static __always_inline __u32 ft_tcp_segment(struct ft_flow_val *v, const struct ft_parsed *pp,
					    const struct ft_tcp_meas *m, __u8 prev_flags)
{
	__u32 end = ft_tcp_seq_end(pp), ev = 0;
	__u8 fl = pp->tcp_flags;

	if (fl & FT_TH_RST) {
		v->resets++;
		ev |= FT_TCPE_RESET;
	}
	if (m->hs_us)
		v->handshake_us = m->hs_us;
	if (m->rtt_us)
		v->rtt_us = m->rtt_us;
	if (!(fl & (FT_TH_SYN | FT_TH_RST)) && v->hs_segs < 255)
		v->hs_segs++;
	if (end == pp->tcp_seq)
		return ev;
	if (!(v->tcp_bits & FT_TCPB_SEQ) || (__s32)(end - v->next_seq) > 0) {
		v->next_seq = end;
		v->tcp_bits |= FT_TCPB_SEQ;
		return ev;
	}
	/* In a simultaneous open each side's SYN-ACK repeats its own SYN's
	 * sequence number: the handshake, not a retransmission. */
	if ((fl & (FT_TH_SYN | FT_TH_ACK)) == (FT_TH_SYN | FT_TH_ACK) &&
	    (prev_flags & (FT_TH_SYN | FT_TH_ACK)) == FT_TH_SYN)
		return ev;
	v->retransmits++;
	return ev | FT_TCPE_RETRANS;
}

static __always_inline void ft_tcp_count(struct ft_if_stats *st, __u32 ev)
{
	if (ev & FT_TCPE_RESET)
		st->tcp_resets++;
	if (ev & FT_TCPE_RETRANS)
		st->tcp_retransmits++;
}

#endif /* FT_TCP_BPF_H */
