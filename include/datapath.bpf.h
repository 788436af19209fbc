/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Classification and accounting shared by the XDP and TC entries. The
 * entries say what they know about the frame (ft_frame) and then hand every
 * packet to the capture hook; none of this changes a verdict.
 */
#ifndef FT_DATAPATH_BPF_H
#define FT_DATAPATH_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "http.h"
#include "maps.bpf.h"
#include "frame.bpf.h"
#include "tcp.bpf.h"

/* Runtime knobs, set by the loader through the skeleton before load. */
const volatile __u32 ft_http_sample_rate = 1; /* 1 in N; 0 disables samples */
const volatile __u8 ft_http_keep_query = 0;
const volatile __u8 ft_flows_enabled = 1;
const volatile __u8 ft_tcp_health = 1;

/* Inserted when an interface appears before userspace created its entry. */
static const struct ft_if_stats ft_zero_stats;

/*
 * Counters of an attached interface live in a per-CPU array slot that
 * userspace claimed for it at attach time (ft_ifslot[ifindex % slots] ==
 * ifindex): two inlined array lookups. Interfaces without a slot (a
 * collision, or more interfaces than slots) use the per-CPU hash. When the
 * hash has no room for one more (full of interfaces, or no memory), the
 * packet is counted in the FT_IFSLOT_OTHER slot, reported as interface
 * "unattributed": every packet is counted somewhere.
 */
static __always_inline struct ft_if_stats *ft_if_stats_get(__u32 ifindex, __u8 dir, __u32 segs)
{
	struct ft_if_key k = {.ifindex = ifindex, .dir = dir};
	__u32 slot = ifindex & (FT_IFSLOTS - 1), idx;
	struct ft_if_stats *st;
	__u32 *owner;

	owner = bpf_map_lookup_elem(&ft_ifslot, &slot);
	if (owner && *owner == ifindex) {
		idx = slot * 2 + (dir & 1);
		st = bpf_map_lookup_elem(&ft_ifstats_slots, &idx);
		if (st)
			return st;
	}
	st = bpf_map_lookup_elem(&ft_ifstats, &k);
	if (likely(st))
		return st;
	bpf_map_update_elem(&ft_ifstats, &k, &ft_zero_stats, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&ft_ifstats, &k);
	if (st)
		return st;
	idx = FT_IFSLOT_OTHER * 2 + (dir & 1);
	st = bpf_map_lookup_elem(&ft_ifstats_slots, &idx);
	if (st)
		st->unattributed += segs;
	return st;
}

static __always_inline void ft_count(struct ft_counter *c, const struct ft_frame *f)
{
	c->packets += f->segs;
	c->bytes += f->len;
}

/*
 * The sampled path is copied by a global function, ft_http_emit(), that
 * each entry defines for its context type (FT_HTTP_EMIT). The verifier
 * checks a global function once, on its own, instead of once for every way
 * the parser can reach it (VLAN depths times IPv6 extension chains).
 *
 * The record is built in place in the ring (bpf_ringbuf_reserve): the
 * 56-byte header the caller staged in ft_http_scratch, then the path
 * straight from the packet, cut where it ends (ft_http_cut). No memset of
 * the path, no second copy of the whole record (bpf_ringbuf_output).
 */
static __always_inline struct ft_http_event *ft_http_reserve(void)
{
	struct ft_http_event *hdr, *ev;
	__u32 zero = 0;

	hdr = bpf_map_lookup_elem(&ft_http_scratch, &zero);
	if (!hdr)
		return NULL;
	ev = bpf_ringbuf_reserve(&ft_http_rb, sizeof(*ev), 0);
	if (ev)
		__builtin_memcpy(ev, hdr, __builtin_offsetof(struct ft_http_event, path));
	return ev;
}

/* Byte by byte, for kernels without bpf_xdp_load_bytes(); returns how many
 * bytes it copied. */
static __always_inline __u32 ft_http_fill(struct ft_http_event *ev, const __u8 *p, const void *end,
					  __u32 n)
{
	__u32 i;

	if (n > FT_HTTP_PATH_MAX)
		n = FT_HTTP_PATH_MAX;
	for (i = 0; i < FT_HTTP_PATH_MAX; i++) {
		if (i >= n || (const void *)(p + i + 1) > end)
			break;
		ev->path[i] = p[i];
	}
	return i;
}

static __always_inline void ft_http_sample(const struct ft_frame *f, const struct ft_parsed *pp,
					   struct ft_if_stats *st, __u8 method)
{
	struct ft_http_event *ev;
	__u32 zero = 0, tok = ft_http_tok_len(method);

	if (!ft_http_sample_rate)
		return;
	st->http_sample_counter++;
	/* The division only where the rate asks for one (rodata: the other
	 * branch is pruned at load). */
	if (ft_http_sample_rate > 1 && st->http_sample_counter % ft_http_sample_rate)
		return;
	ev = bpf_map_lookup_elem(&ft_http_scratch, &zero);
	if (!ev)
		return;
	ev->ts_ns = f->now;
	ev->ifindex = f->ifindex;
	ev->dir = f->dir;
	ev->family = pp->key.family;
	ev->method = method;
	ev->sport = pp->key.sport;
	ev->dport = pp->key.dport;
	ev->vlan = pp->key.vlan;
	__builtin_memcpy(ev->src, pp->key.src, 16);
	__builtin_memcpy(ev->dst, pp->key.dst, 16);
	if (FT_HTTP_EMIT(f->ctx, pp->payload_off + tok, pp->payload_len - tok))
		st->http_samples_lost++;
}

static __always_inline void ft_flow_account(const struct ft_frame *f, struct ft_parsed *pp,
					    struct ft_if_stats *st, __u32 http)
{
	int tcp = ft_tcp_health && (pp->classes & FT_BIT(FT_CLASS_TCP));
	struct ft_tcp_meas m = {};
	struct ft_flow_val *v, nv;
	__u32 ev = 0;
	__u8 prev_flags;
	long err;

	pp->key.ifindex = f->ifindex;
	pp->key.dir = f->dir;
	v = bpf_map_lookup_elem(&ft_flows, &pp->key);
	if (tcp)
		m = ft_tcp_handshake(f, pp, st, v ? v->hs_segs : 0);
	if (!v) {
		nv = (struct ft_flow_val){
		    .packets = f->segs,
		    .bytes = f->len,
		    .first_ns = f->now,
		    .last_ns = f->now,
		    .http_requests = http,
		    .tcp_flags = pp->tcp_flags,
		};
		if (tcp)
			ev = ft_tcp_segment(&nv, pp, &m, 0);
		err = bpf_map_update_elem(&ft_flows, &pp->key, &nv, BPF_NOEXIST);
		if (!err) {
			ft_tcp_count(st, ev);
			return;
		}
		/* Another CPU created it first: fall through to our slot. */
		if (err == -EEXIST)
			v = bpf_map_lookup_elem(&ft_flows, &pp->key);
		if (!v) {
			st->flow_overflow += f->segs;
			return;
		}
	}
	prev_flags = v->tcp_flags;
	if (!v->first_ns)
		v->first_ns = f->now;
	v->packets += f->segs;
	v->bytes += f->len;
	v->last_ns = f->now;
	v->http_requests += http;
	v->tcp_flags |= pp->tcp_flags;
	if (tcp)
		ft_tcp_count(st, ft_tcp_segment(v, pp, &m, prev_flags));
}

/*
 * Accounts one frame that the entry's FT_PARSE() global function parsed
 * into pp. Returns the mask of capture slots in use so the entry can
 * tail-call the capture filters last.
 *
 * The parser is a global function so that the verifier checks it once and
 * the accounting once, instead of the accounting once for every way
 * through the parser (VLAN depths times IPv6 extension chains).
 */
static __always_inline __u32 ft_handle(struct ft_frame *f)
{
	struct ft_parsed pp = {};
	struct ft_if_stats *st;
	struct ft_config *cfg;
	__u32 zero = 0;
	__u8 method = FT_HTTP_NONE;
	int c;

	FT_PARSE(f->ctx, &pp);
	/* Tick resolution is plenty for flow and sample timestamps and costs
	 * half the precise clock; handshakes and captures read the precise one. */
	f->now = bpf_ktime_get_coarse_ns();
	st = ft_if_stats_get(f->ifindex, f->dir, f->segs);
	if (!st) /* not even the FT_IFSLOT_OTHER slot: cannot happen */
		goto capture;

	method = pp.http_method;
	if (pp.payload_nonlinear)
		method = FT_HTTP_DETECT(f->ctx, pp.payload_off, pp.payload_len);
	{
		if (method != FT_HTTP_NONE) {
			__u32 idx = method;

			/* Keep clang from dropping the bound the verifier needs. */
			asm volatile("" : "+r"(idx));
			pp.classes |= FT_BIT(FT_CLASS_HTTP);
			if (idx < FT_HTTP_MAX)
				ft_count(&st->http[idx], f);
		}
	}

	FT_UNROLL
	for (c = 0; c < FT_CLASS_MAX; c++)
		if (pp.classes & FT_BIT(c))
			ft_count(&st->cls[c], f);
	if (pp.reason) {
		__u32 idx = pp.reason;

		asm volatile("" : "+r"(idx));
		if (idx < FT_MAL_MAX)
			ft_count(&st->malformed[idx], f);
	}

	if (ft_flows_enabled && pp.key.family && !pp.reason)
		ft_flow_account(f, &pp, st, method != FT_HTTP_NONE);
	if (method != FT_HTTP_NONE)
		ft_http_sample(f, &pp, st, method);

capture:
	cfg = bpf_map_lookup_elem(&ft_config_map, &zero);
	if (!cfg || !cfg->capture_mask)
		return 0;
	if (st)
		st->capture_calls++;
	{
		struct ft_cap_meta *m = bpf_map_lookup_elem(&ft_cap_meta_map, &zero);

		if (!m)
			return 0;
		/* Coarse: the capture programs stamp a match with the precise
		 * clock themselves, so non-matching packets pay for no clock
		 * read here (~30 ns in a VM). */
		m->ts_ns = f->now;
		m->ifindex = f->ifindex;
		m->pkt_len = f->len;
		m->dir = f->dir;
	}
	return cfg->capture_mask;
}

/* A filter that matched or not returns the same verdict; an empty slot
 * makes bpf_tail_call return, so try the next one in the mask. */
#define FT_TAIL_CALL_CAPTURES(ctx, prog_array, mask, first)                                        \
	do {                                                                                       \
		int __i;                                                                           \
		FT_UNROLL for (__i = (first); __i < FT_CAPTURE_SLOTS;                              \
			       __i++) if ((mask) & (1U << __i))                                    \
		    bpf_tail_call((ctx), &(prog_array), __i);                                      \
	} while (0)

#endif /* FT_DATAPATH_BPF_H */
