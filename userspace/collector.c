// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The collector: flow state with IPFIX timeouts over the datapath's
 * cumulative per-CPU flow table. The rules are in collector.h and
 * docs/collector.md; the first half of this file is the pure logic the
 * unit tests drive, the second half reads and trims the kernel maps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector.h"
#include "datapath.h"
#include "log.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

#define NS	   1000000000ULL
#define ROUND8(x)  (((x) + 7) & ~(size_t)7)
#define FT_CF_FREE (1 << 7) /* pool slot unused */
#define IDX_EMPTY  0

static const char *const end_names[FT_END_MAX] = {
    [FT_END_NONE] = "",		[FT_END_IDLE] = "idle",
    [FT_END_ACTIVE] = "active", [FT_END_EOF] = "end_of_flow",
    [FT_END_FORCED] = "forced", [FT_END_RESOURCES] = "lack_of_resources",
};

const char *ft_end_reason_name(unsigned int r)
{
	return r < FT_END_MAX ? end_names[r] : "unknown";
}

void ft_coll_cfg_default(struct ft_coll_cfg *c)
{
	c->to = (struct ft_timeouts){
	    .idle_tcp = 3600,
	    .idle_udp = 300,
	    .idle_icmp = 300,
	    .idle_other = 300,
	    .tcp_fin = 300,
	    .tcp_rst = 120,
	    .active = 1800,
	};
	c->tcp_handshake = 30;
	c->high_water = 90;
	c->low_water = 80;
}

/* A growable array of pointers or indices. */
#define VEC_PUSH(arr, n, cap, val)                                                                 \
	({                                                                                         \
		int ___err = 0;                                                                    \
		if ((n) == (cap)) {                                                                \
			size_t ___c = (cap) ? (cap)*2 : 256;                                       \
			void *___p = realloc((arr), ___c * sizeof(*(arr)));                        \
			if (___p) {                                                                \
				(arr) = ___p;                                                      \
				(cap) = ___c;                                                      \
			} else {                                                                   \
				___err = -ENOMEM;                                                  \
			}                                                                          \
		}                                                                                  \
		if (!___err)                                                                       \
			(arr)[(n)++] = (val);                                                      \
		___err;                                                                            \
	})

struct ft_coll {
	struct ft_coll_cfg cfg;
	/* Flows live in a pool addressed by index; the index (open
	 * addressing, linear probing) holds per key the low 32 bits of its
	 * hash (home slot and fingerprint, no pool access to skip or move an
	 * entry) over the pool index + 1. */
	struct ft_cflow *pool;
	size_t npool, cappool;
	__u32 *freel;
	size_t nfree, capfree;
	__u64 *idx;
	size_t idxmask; /* slots - 1 */
	size_t nidx;	/* flows in the index */
	__u64 now;
	__u32 gen;
	bool finished;
	__u32 *recs_i; /* records of the cycle, as pool indices */
	size_t nrecs, caprecs;
	struct ft_cflow **recs; /* the same as pointers, built by finish */
	size_t caprecp;
	__u32 *deli; /* flows whose kernel entries go, as pool indices */
	size_t ndel, capdel;
	struct ft_cflow **del; /* the same as pointers, built by expire */
	size_t capdelp;
	struct ft_ckpt_ops ops;
	bool has_ops;
	size_t carry_created; /* flows started between cycles (ft_coll_end_entry) */
	struct ft_coll_stats st;
};

static __u64 ft_key_hash(const struct ft_flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < sizeof(*k) / 8; i++) {
		h ^= w[i] * 0xff51afd7ed558ccdULL;
		h = (h << 31 | h >> 33) * 0xc4ceb9fe1a85ec53ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static bool ft_key_eq(const struct ft_flow_key *a, const struct ft_flow_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

#define IDX_POOL(e)	((__u32)((e) >> 32) - 1)
#define IDX_TAG(e)	((__u32)(e))
#define IDX_ENTRY(i, h) ((__u64)((i) + 1) << 32 | (__u32)(h))

static int ft_idx_resize(struct ft_coll *c, size_t slots)
{
	__u64 *old = c->idx, *nidx = calloc(slots, sizeof(*nidx));
	size_t oldslots = c->idx ? c->idxmask + 1 : 0, i;

	if (!nidx)
		return -ENOMEM;
	c->idx = nidx;
	c->idxmask = slots - 1;
	for (i = 0; i < oldslots; i++) {
		size_t s;

		if (old[i] == IDX_EMPTY)
			continue;
		s = IDX_TAG(old[i]) & c->idxmask;
		while (nidx[s] != IDX_EMPTY)
			s = (s + 1) & c->idxmask;
		nidx[s] = old[i];
	}
	free(old);
	return 0;
}

/* The index slot holding k (hash h), or the empty slot where it would go. */
static size_t ft_idx_slot_h(const struct ft_coll *c, const struct ft_flow_key *k, __u64 h)
{
	size_t s = h & c->idxmask;

	while (c->idx[s] != IDX_EMPTY && (IDX_TAG(c->idx[s]) != (__u32)h ||
					  !ft_key_eq(&c->pool[IDX_POOL(c->idx[s])].f.key, k)))
		s = (s + 1) & c->idxmask;
	return s;
}

static size_t ft_idx_slot(const struct ft_coll *c, const struct ft_flow_key *k)
{
	return ft_idx_slot_h(c, k, ft_key_hash(k));
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void ft_idx_remove(struct ft_coll *c, const struct ft_flow_key *k)
{
	size_t s = ft_idx_slot(c, k), j = s;

	if (c->idx[s] == IDX_EMPTY)
		return;
	c->idx[s] = IDX_EMPTY;
	c->nidx--;
	for (;;) {
		size_t home;

		j = (j + 1) & c->idxmask;
		if (c->idx[j] == IDX_EMPTY)
			return;
		home = IDX_TAG(c->idx[j]) & c->idxmask;
		/* Move j back into the hole unless its home lies in (s, j]. */
		if ((j > s && (home <= s || home > j)) || (j < s && home <= s && home > j)) {
			c->idx[s] = c->idx[j];
			c->idx[j] = IDX_EMPTY;
			s = j;
		}
	}
}

static long ft_pool_alloc(struct ft_coll *c)
{
	__u32 i;

	if (c->nfree) {
		i = c->freel[--c->nfree];
	} else {
		if (c->npool == c->cappool) {
			size_t cap = c->cappool ? c->cappool * 2 : 1024;
			struct ft_cflow *p = realloc(c->pool, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			c->pool = p;
			c->cappool = cap;
		}
		i = c->npool++;
	}
	memset(&c->pool[i], 0, sizeof(c->pool[i]));
	return i;
}

static void ft_pool_reserve(struct ft_coll *c, size_t extra)
{
	size_t cap = c->cappool ? c->cappool : 1024;
	struct ft_cflow *p;

	if (c->npool + extra <= c->cappool)
		return;
	while (cap < c->npool + extra)
		cap *= 2;
	p = realloc(c->pool, cap * sizeof(*p));
	if (p) {
		c->pool = p;
		c->cappool = cap;
	}
}

static void ft_pool_free(struct ft_coll *c, __u32 i)
{
	c->pool[i].flags = FT_CF_FREE;
	/* The free list never outgrows the pool, which it indexes. */
	if (c->nfree == c->capfree) {
		size_t cap = c->cappool;
		__u32 *p = realloc(c->freel, cap * sizeof(*p));

		if (!p)
			return; /* the slot leaks until the collector is freed */
		c->freel = p;
		c->capfree = cap;
	}
	c->freel[c->nfree++] = i;
}

struct ft_coll *ft_coll_new(const struct ft_coll_cfg *cfg)
{
	struct ft_coll *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cfg = *cfg;
	if (ft_idx_resize(c, 1024)) {
		free(c);
		return NULL;
	}
	return c;
}

void ft_coll_free(struct ft_coll *c)
{
	if (!c)
		return;
	free(c->pool);
	free(c->freel);
	free(c->idx);
	free(c->recs_i);
	free(c->recs);
	free(c->deli);
	free(c->del);
	free(c);
}

size_t ft_coll_size(const struct ft_coll *c)
{
	return c->nidx;
}

const struct ft_coll_stats *ft_coll_stats(const struct ft_coll *c)
{
	return &c->st;
}

void ft_coll_begin(struct ft_coll *c, __u64 now_ns)
{
	size_t i;

	c->now = now_ns;
	c->gen++;
	c->nrecs = 0;
	c->ndel = 0;
	c->finished = false;
	c->st.cycle++;
	c->st.active = c->st.ended = 0;
	c->st.created = c->carry_created;
	c->carry_created = 0;
	c->st.kernel_entries = c->st.kernel_deleted = 0;
	c->st.packets = c->st.bytes = 0;
	memset(c->st.ended_by, 0, sizeof(c->st.ended_by));
	for (i = 0; i < c->npool; i++)
		c->pool[i].flags &= ~(FT_CF_NEW | FT_CF_DELETE);
}

/* Inserts a flow for k (hash h), growing the index first if needed. */
static long ft_coll_insert(struct ft_coll *c, const struct ft_flow_key *k, __u64 h)
{
	long i;

	if ((c->nidx + 1) * 2 > c->idxmask + 1 && ft_idx_resize(c, (c->idxmask + 1) * 2))
		return -ENOMEM;
	i = ft_pool_alloc(c);
	if (i < 0)
		return i;
	c->pool[i].f.key = *k;
	c->idx[ft_idx_slot_h(c, k, h)] = IDX_ENTRY(i, h);
	c->nidx++;
	return i;
}

static void ft_cflow_start(struct ft_coll *c, struct ft_cflow *f, const struct ft_flow_val *v)
{
	f->f.v = *v;
	f->rep_packets = f->rep_bytes = 0;
	f->rec_packets = f->rec_bytes = 0;
	f->rec_start_ns = v->first_ns ? v->first_ns : c->now;
	f->reason = FT_END_NONE;
	f->flags = FT_CF_NEW;
	c->st.created++;
}

/*
 * The kernel entry of a flow we know was replaced (someone else deleted
 * it and traffic re-created it): the old incarnation ends, forced, with
 * what we had read of it, in a slot of its own outside the index.
 */
static int ft_coll_detach_old(struct ft_coll *c, __u32 i)
{
	long d = ft_pool_alloc(c);

	if (d < 0)
		return d;
	c->pool[d] = c->pool[i];
	c->pool[d].flags = FT_CF_DETACHED;
	c->pool[d].reason = FT_END_FORCED;
	return 0;
}

static bool ft_same_entry(const struct ft_flow_val *have, const struct ft_flow_val *v)
{
	return have->first_ns == v->first_ns && v->packets >= have->packets &&
	       v->bytes >= have->bytes;
}

static struct ft_cflow *ft_coll_observe_h(struct ft_coll *c, const struct ft_flow_key *k,
					  const struct ft_flow_val *v, __u64 h)
{
	size_t s = ft_idx_slot_h(c, k, h);
	struct ft_cflow *f;
	long i;

	c->st.kernel_entries++;
	if (c->idx[s] == IDX_EMPTY) {
		i = ft_coll_insert(c, k, h);
		if (i < 0)
			return NULL;
		f = &c->pool[i];
		ft_cflow_start(c, f, v);
	} else {
		i = IDX_POOL(c->idx[s]);
		f = &c->pool[i];
		if (f->flags & FT_CF_RESTORED) {
			/* Checkpointed: the same kernel entry continues where
			 * the previous collector left it; another one is new. */
			f->flags &= ~FT_CF_RESTORED;
			if (ft_same_entry(&f->f.v, v))
				f->f.v = *v;
			else
				ft_cflow_start(c, f, v);
		} else if (ft_same_entry(&f->f.v, v)) {
			f->f.v = *v;
		} else {
			if (ft_coll_detach_old(c, i))
				return NULL;
			f = &c->pool[i]; /* the pool may have moved */
			ft_cflow_start(c, f, v);
		}
	}
	f->seen = c->gen;
	return f;
}

struct ft_cflow *ft_coll_observe(struct ft_coll *c, const struct ft_flow_key *k,
				 const struct ft_flow_val *v)
{
	return ft_coll_observe_h(c, k, v, ft_key_hash(k));
}

/*
 * The same for many entries, as a batch read returns them: in blocks,
 * hashing and prefetching the index slots first, then the flows they
 * point to, so the lookups find their cache lines ready instead of
 * waiting for memory one flow at a time.
 */
int ft_coll_observe_many(struct ft_coll *c, const struct ft_flow_key *k,
			 const struct ft_flow_val *v, size_t n)
{
	enum { BLOCK = 64 };
	__u64 h[BLOCK];
	size_t i, j, m;

	for (i = 0; i < n; i += m) {
		m = n - i < BLOCK ? n - i : BLOCK;
		for (j = 0; j < m; j++) {
			h[j] = ft_key_hash(&k[i + j]);
			__builtin_prefetch(&c->idx[h[j] & c->idxmask]);
		}
		for (j = 0; j < m; j++) {
			__u64 e = c->idx[h[j] & c->idxmask];

			if (e != IDX_EMPTY)
				__builtin_prefetch(&c->pool[IDX_POOL(e)], 1);
		}
		for (j = 0; j < m; j++)
			if (!ft_coll_observe_h(c, &k[i + j], &v[i + j], h[j]))
				return -ENOMEM;
	}
	return 0;
}

void ft_coll_set_ckpt(struct ft_coll *c, const struct ft_ckpt_ops *ops)
{
	c->ops = *ops;
	c->has_ops = true;
}

static void ft_ckpt_drop(struct ft_coll *c, __u32 slot)
{
	if (c->has_ops)
		c->ops.drop(c->ops.arg, slot);
}

int ft_coll_restore(struct ft_coll *c, __u32 slot, const struct ft_flow_key *k,
		    const struct ft_ckpt *ck)
{
	struct ft_cflow *f;
	size_t s;

	__u64 h = ft_key_hash(k);

	if (slot < c->npool || c->gen)
		return -EINVAL; /* only before the first cycle, in slot order */
	s = ft_idx_slot_h(c, k, h);
	if (c->idx[s] != IDX_EMPTY)
		return -EEXIST;
	if ((c->nidx + 1) * 2 > c->idxmask + 1 && ft_idx_resize(c, (c->idxmask + 1) * 2))
		return -ENOMEM;
	ft_pool_reserve(c, slot + 1 - c->npool);
	if (c->cappool < (size_t)slot + 1)
		return -ENOMEM;
	/* The slots skipped over are free. */
	while (c->npool < slot) {
		memset(&c->pool[c->npool], 0, sizeof(c->pool[0]));
		ft_pool_free(c, c->npool++);
	}
	c->npool++;
	f = &c->pool[slot];
	memset(f, 0, sizeof(*f));
	f->f.key = *k;
	f->f.v.first_ns = ck->first_ns;
	f->f.v.packets = ck->rep_packets;
	f->f.v.bytes = ck->rep_bytes;
	f->rep_packets = ck->rep_packets;
	f->rep_bytes = ck->rep_bytes;
	f->rec_packets = ck->rec_packets;
	f->rec_bytes = ck->rec_bytes;
	f->rec_start_ns = ck->rec_start_ns;
	f->flags = FT_CF_RESTORED;
	c->idx[ft_idx_slot_h(c, k, h)] = IDX_ENTRY(slot, h);
	c->nidx++;
	return 0;
}

/* The idle timeout that applies to a flow, and the reason it would end. */
static double ft_idle_timeout(const struct ft_timeouts *to, const struct ft_cflow *f, __u8 *reason)
{
	const struct ft_flow_key *k = &f->f.key;
	double t;

	*reason = FT_END_IDLE;
	switch (k->proto) {
	case IPPROTO_TCP:
		t = to->idle_tcp;
		if ((f->f.v.tcp_flags & 0x01) && to->tcp_fin < t) { /* FIN */
			t = to->tcp_fin;
			*reason = FT_END_EOF;
		}
		if ((f->f.v.tcp_flags & 0x04) && to->tcp_rst < t) { /* RST */
			t = to->tcp_rst;
			*reason = FT_END_EOF;
		}
		if (f->f.v.tcp_flags & 0x05)
			*reason = FT_END_EOF;
		return t;
	case IPPROTO_UDP:
		return to->idle_udp;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return to->idle_icmp;
	default:
		return to->idle_other;
	}
}

static __s64 ft_age(__u64 now, __u64 then)
{
	return (__s64)(now - then);
}

static int ft_coll_mark_delete(struct ft_coll *c, struct ft_cflow *f, __u8 reason)
{
	f->reason = reason;
	f->flags |= FT_CF_DELETE;
	return VEC_PUSH(c->deli, c->ndel, c->capdel, (__u32)(f - c->pool));
}

static int cmp_last_ns(const void *a, const void *b)
{
	const struct ft_cflow *x = *(struct ft_cflow *const *)a, *y = *(struct ft_cflow *const *)b;

	return x->f.v.last_ns < y->f.v.last_ns ? -1 : x->f.v.last_ns > y->f.v.last_ns;
}

/*
 * Past the high-water mark, the flows idle longest make room, down to the
 * low-water mark: a full table would lose new flows to the overflow
 * counter, which is worse than ending old records early.
 */
static void ft_coll_evict(struct ft_coll *c, size_t capacity, size_t alive)
{
	size_t high = capacity * c->cfg.high_water / 100, low = capacity * c->cfg.low_water / 100;
	struct ft_cflow **cand = NULL;
	size_t n = 0, cap = 0, i, want;

	if (!capacity || alive <= high || alive <= low)
		return;
	want = alive - low;
	for (i = 0; i < c->npool; i++) {
		struct ft_cflow *f = &c->pool[i];

		if (f->flags & (FT_CF_FREE | FT_CF_DETACHED | FT_CF_DELETE) || f->seen != c->gen)
			continue;
		if (VEC_PUSH(cand, n, cap, f))
			break;
	}
	qsort(cand, n, sizeof(*cand), cmp_last_ns);
	for (i = 0; i < n && i < want; i++)
		if (ft_coll_mark_delete(c, cand[i], FT_END_RESOURCES))
			break;
	free(cand);
}

size_t ft_coll_expire(struct ft_coll *c, size_t capacity, struct ft_cflow ***del)
{
	const struct ft_timeouts *to = &c->cfg.to;
	size_t i, alive = 0;

	for (i = 0; i < c->npool; i++) {
		struct ft_cflow *f = &c->pool[i];
		__u8 reason;
		double idle;

		if (f->flags & (FT_CF_FREE | FT_CF_DETACHED))
			continue;
		if (f->seen != c->gen) {
			if (f->flags & FT_CF_RESTORED) {
				/* Ended by the previous collector: nothing left. */
				ft_idx_remove(c, &f->f.key);
				ft_ckpt_drop(c, i);
				ft_pool_free(c, i);
			} else {
				f->reason = FT_END_FORCED; /* removed behind our back */
			}
			continue;
		}
		idle = ft_idle_timeout(to, f, &reason);
		if (ft_age(c->now, f->f.v.last_ns) >= (__s64)(idle * NS)) {
			ft_coll_mark_delete(c, f, reason);
			continue;
		}
		alive++;
		/* The record has carried traffic for the active timeout: its
		 * duration by packets, so an idle flow waits for its idle
		 * timeout instead, and an empty record has nothing to close. */
		if (ft_cflow_rpackets(f) &&
		    ft_age(f->f.v.last_ns, f->rec_start_ns) >= (__s64)(to->active * NS))
			f->reason = FT_END_ACTIVE;
	}
	ft_coll_evict(c, capacity, alive);
	/* final() may add a flow per deletion: make room now so that the
	 * pool does not move under the pointers handed out. */
	ft_pool_reserve(c, c->ndel);
	if (c->capdelp < c->ndel) {
		struct ft_cflow **p = realloc(c->del, c->ndel * sizeof(*p));

		if (!p)
			c->ndel = c->capdelp;
		else
			c->del = p, c->capdelp = c->ndel;
	}
	for (i = 0; i < c->ndel; i++)
		c->del[i] = &c->pool[c->deli[i]];
	*del = c->del;
	return c->ndel;
}

void ft_coll_final(struct ft_coll *c, struct ft_cflow *f, const struct ft_flow_val *v)
{
	c->st.kernel_deleted += v != NULL;
	if (!v)
		return; /* already gone: what we read last is all there is */
	if (ft_same_entry(&f->f.v, v)) {
		/* Packets since the read belong to the ending record. */
		f->f.v = *v;
		return;
	}
	/* The entry was replaced between our read and the delete: it is a
	 * flow of its own that ends with the same reason. The pool has room:
	 * expire() reserved it, so the pointers in del stay valid. */
	{
		struct ft_flow_key key = f->f.key;
		__u8 reason = f->reason;
		long d = ft_pool_alloc(c);

		if (d < 0)
			return;
		f = &c->pool[d];
		f->f.key = key;
		ft_cflow_start(c, f, v);
		f->flags = FT_CF_DETACHED | FT_CF_NEW;
		f->reason = reason;
	}
}

/* A flow that was in the index ends where it is: out of the index, its
 * checkpoint slot emptied, freed by the commit after its end record. */
static void ft_coll_detach_here(struct ft_coll *c, struct ft_cflow *f)
{
	ft_idx_remove(c, &f->f.key);
	ft_ckpt_drop(c, f - c->pool);
	f->flags = (f->flags & FT_CF_NEW) | FT_CF_DETACHED;
	f->reason = FT_END_FORCED;
}

int ft_coll_end_entry(struct ft_coll *c, const struct ft_flow_key *k, const struct ft_flow_val *v)
{
	size_t s = ft_idx_slot(c, k);
	struct ft_cflow *f;
	long i;

	if (c->idx[s] != IDX_EMPTY) {
		i = IDX_POOL(c->idx[s]);
		f = &c->pool[i];
		if (ft_same_entry(&f->f.v, v)) {
			/* Known (or checkpointed by a previous run): what arrived
			 * since the last read is the end record's. */
			f->f.v = *v;
			f->flags &= ~FT_CF_RESTORED;
			ft_coll_detach_here(c, f);
			return 0;
		}
		if (f->flags & FT_CF_RESTORED) {
			/* A checkpoint of an entry that is no longer there. */
			ft_idx_remove(c, k);
			ft_ckpt_drop(c, i);
			ft_pool_free(c, i);
		} else {
			/* Replaced since the last read: the old one ends with
			 * what was read of it, the new one with v. */
			ft_coll_detach_here(c, f);
		}
	}
	i = ft_pool_alloc(c);
	if (i < 0)
		return i;
	f = &c->pool[i];
	f->f.key = *k;
	ft_cflow_start(c, f, v);
	c->st.created--; /* counted with the cycle that reports it */
	c->carry_created++;
	f->flags = FT_CF_NEW | FT_CF_DETACHED;
	f->reason = FT_END_FORCED;
	return 0;
}

void ft_coll_keep(struct ft_coll *c, struct ft_cflow *f)
{
	(void)c;
	f->flags &= ~FT_CF_DELETE;
	f->reason = FT_END_NONE;
}

void ft_coll_finish(struct ft_coll *c, bool shutdown)
{
	size_t i;

	c->nrecs = 0;
	for (i = 0; i < c->npool; i++) {
		struct ft_cflow *f = &c->pool[i];
		__u64 dp;

		if (f->flags & (FT_CF_FREE | FT_CF_RESTORED))
			continue;
		if (shutdown && !ft_cflow_ends(f))
			f->reason = FT_END_FORCED;
		dp = ft_cflow_dpackets(f);
		if (!dp && f->reason == FT_END_NONE)
			continue;
		if (VEC_PUSH(c->recs_i, c->nrecs, c->caprecs, i))
			break;
		c->st.active += dp > 0;
		c->st.packets += dp;
		c->st.bytes += ft_cflow_dbytes(f);
		if (ft_cflow_ends(f)) {
			c->st.ended++;
			c->st.ended_by[f->reason]++;
			c->st.ended_total[f->reason]++;
		}
	}
	c->st.flows = c->nidx;
	for (i = 0; i < c->nrecs; i++) {
		const struct ft_cflow *f = &c->pool[c->recs_i[i]];

		if (ft_cflow_ends(f) && !(f->flags & FT_CF_DETACHED))
			c->st.flows--;
	}
	if (c->caprecp < c->nrecs) {
		struct ft_cflow **p = realloc(c->recs, c->nrecs * sizeof(*p));

		if (!p) {
			c->nrecs = c->caprecp;
		} else {
			c->recs = p;
			c->caprecp = c->nrecs;
		}
	}
	for (i = 0; i < c->nrecs; i++)
		c->recs[i] = &c->pool[c->recs_i[i]];
	c->finished = true;
}

size_t ft_coll_records(struct ft_coll *c, struct ft_cflow *const **recs)
{
	*recs = c->recs;
	return c->finished ? c->nrecs : 0;
}

static void ft_ckpt_put(struct ft_coll *c, const struct ft_cflow *f)
{
	struct ft_ckpt ck = {
	    .first_ns = f->f.v.first_ns,
	    .rep_packets = f->rep_packets,
	    .rep_bytes = f->rep_bytes,
	    .rec_packets = f->rec_packets,
	    .rec_bytes = f->rec_bytes,
	    .rec_start_ns = f->rec_start_ns,
	};

	if (c->has_ops)
		c->ops.put(c->ops.arg, f - c->pool, &f->f.key, &ck);
}

void ft_coll_commit(struct ft_coll *c)
{
	size_t i;

	for (i = 0; c->finished && i < c->nrecs; i++) {
		struct ft_cflow *f = c->recs[i];
		bool detached = f->flags & FT_CF_DETACHED;
		/* The kernel entry stays (a forced end at shutdown keeps it):
		 * its checkpoint must stay too, or a later run would report
		 * it again from zero. */
		bool entry_left = !detached && f->seen == c->gen && !(f->flags & FT_CF_DELETE);

		f->rep_packets = f->f.v.packets;
		f->rep_bytes = f->f.v.bytes;
		if (f->reason != FT_END_NONE) {
			f->rec_packets = f->f.v.packets;
			f->rec_bytes = f->f.v.bytes;
			f->rec_start_ns = c->now;
		}
		/* A detached flow has a slot of its own that was never written. */
		if (entry_left)
			ft_ckpt_put(c, f);
		else if (!detached)
			ft_ckpt_drop(c, f - c->pool);
		if (ft_cflow_ends(f)) {
			if (!detached)
				ft_idx_remove(c, &f->f.key);
			ft_pool_free(c, f - c->pool);
		} else {
			f->reason = FT_END_NONE;
		}
	}
	c->finished = false;
	c->nrecs = 0;
}

/* ---- the de-duplicated view ---- */

/* The key without its observation point. */
static void ft_dedup_key(const struct ft_flow_key *k, struct ft_flow_key *out)
{
	*out = *k;
	out->ifindex = 0;
	out->dir = 0;
	out->pad = 0;
	out->pad2 = 0;
}

static bool ft_dedup_same(const struct ft_cflow *f, const struct ft_flow_key *rk)
{
	struct ft_flow_key k;

	ft_dedup_key(&f->f.key, &k);
	return ft_key_eq(&k, rk);
}

/* Whether observation a counts rather than b (both of the same key). */
static bool ft_dedup_better(const struct ft_cflow *a, const struct ft_cflow *b, ft_obs_rank_fn rank,
			    void *ctx)
{
	unsigned int ra = rank ? rank(ctx, a->f.key.ifindex, a->f.key.dir) : FT_OBS_NIC;
	unsigned int rb = rank ? rank(ctx, b->f.key.ifindex, b->f.key.dir) : FT_OBS_NIC;

	if (ra != rb)
		return ra < rb;
	if (ft_cflow_dbytes(a) != ft_cflow_dbytes(b))
		return ft_cflow_dbytes(a) > ft_cflow_dbytes(b);
	return a->f.key.ifindex < b->f.key.ifindex;
}

/* Room for n records; *mask is that of a table of at least 2n slots, of
 * which exactly those are cleared (the buffer may be larger). */
static int ft_dedup_reserve(struct ft_dedup_buf *b, size_t n, size_t *mask)
{
	size_t slots = 16;

	while (slots < 2 * n)
		slots *= 2;
	if (b->ncounted < n) {
		__u8 *p = realloc(b->counted, n);

		if (!p)
			return -ENOMEM;
		b->counted = p;
		b->ncounted = n;
	}
	if (b->nslots < slots) {
		__u32 *p = realloc(b->slots, slots * sizeof(*p));

		if (!p)
			return -ENOMEM;
		b->slots = p;
		b->nslots = slots;
	}
	memset(b->slots, 0, slots * sizeof(*b->slots));
	memset(b->counted, 0, n);
	*mask = slots - 1;
	return 0;
}

int ft_dedup(struct ft_cflow *const *recs, size_t n, ft_obs_rank_fn rank, void *ctx,
	     struct ft_dedup_buf *b, struct ft_dedup *out)
{
	size_t mask, i;

	memset(out, 0, sizeof(*out));
	if (n > UINT32_MAX - 1 || ft_dedup_reserve(b, n ? n : 1, &mask))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct ft_cflow *f = recs[i];
		struct ft_flow_key rk;
		size_t s;

		if (!ft_cflow_dpackets(f))
			continue;
		ft_dedup_key(&f->f.key, &rk);
		s = ft_key_hash(&rk) & mask;
		while (b->slots[s] && !ft_dedup_same(recs[b->slots[s] - 1], &rk))
			s = (s + 1) & mask;
		if (!b->slots[s]) {
			b->slots[s] = i + 1;
			b->counted[i] = 1;
			out->keys++;
		} else if (ft_dedup_better(f, recs[b->slots[s] - 1], rank, ctx)) {
			b->counted[b->slots[s] - 1] = 0;
			b->slots[s] = i + 1;
			b->counted[i] = 1;
		}
	}
	for (i = 0; i < n; i++) {
		const struct ft_cflow *f = recs[i];

		if (!ft_cflow_dpackets(f))
			continue;
		if (b->counted[i]) {
			out->packets += ft_cflow_dpackets(f);
			out->bytes += ft_cflow_dbytes(f);
		} else {
			out->dup_packets += ft_cflow_dpackets(f);
			out->dup_bytes += ft_cflow_dbytes(f);
			out->dups++;
		}
	}
	out->valid = true;
	return 0;
}

void ft_dedup_buf_free(struct ft_dedup_buf *b)
{
	free(b->slots);
	free(b->counted);
	memset(b, 0, sizeof(*b));
}

unsigned int ft_report_rank(const struct ft_report *r, __u32 ifindex, __u32 dir)
{
	if (!ft_report_veth(r, ifindex))
		return FT_OBS_NIC;
	return dir == FT_DIR_INGRESS ? FT_OBS_FROM_CONTAINER : FT_OBS_TO_CONTAINER;
}

/* ---- the kernel side ---- */

static __u64 ft_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * NS + ts.tv_nsec;
}

__u64 ft_record_start_ms(const struct ft_report *r, const struct ft_cflow *f)
{
	__u64 s = f->rec_start_ns;

	/* A record opened by an active timeout starts at that cycle; its first
	 * packet may come later, never earlier than the flow's. */
	if (s < f->f.v.first_ns)
		s = f->f.v.first_ns;
	return (__u64)(ft_report_epoch(r, s) * 1000.0);
}

__u64 ft_record_end_ms(const struct ft_report *r, const struct ft_cflow *f)
{
	__u64 e = f->f.v.last_ns;

	if (e < f->rec_start_ns)
		e = f->rec_start_ns;
	return (__u64)(ft_report_epoch(r, e) * 1000.0);
}

static int ft_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* A pinned map of our own next to the datapath's; created if absent or of
 * another shape. */
static int ft_own_map(const char *root, const char *name, enum bpf_map_type type, __u32 ksz,
		      __u32 vsz, __u32 max, __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	struct bpf_map_info info;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (!ft_map_info(fd, &info) && info.type == type && info.key_size == ksz &&
		    info.value_size == vsz && info.max_entries >= max && info.map_flags == flags)
			return fd;
		close(fd);
		unlink(path);
	}
	fd = bpf_map_create(type, name, ksz, vsz, max, &o);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ft_run_meta_load(const char *root, struct ft_run_meta *m)
{
	int fd = ft_map_fd(root, "ft_run_meta"), err = 0;
	struct bpf_map_info info;
	__u32 zero = 0;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return fd;
	/* A meta of another layout (another flowtap version) is none. */
	if (ft_map_info(fd, &info) || info.value_size != sizeof(*m))
		err = -ENOENT;
	else if (bpf_map_lookup_elem(fd, &zero, m))
		err = -errno;
	else if (m->magic != FT_RUN_META_MAGIC || m->nifaces > FT_RUN_META_MAX)
		err = -ENOENT;
	close(fd);
	if (err)
		memset(m, 0, sizeof(*m));
	return err;
}

int ft_run_meta_save(const char *root, const struct ft_run_meta *m)
{
	struct ft_run_meta v = *m;
	__u32 zero = 0;
	int fd = ft_own_map(root, "ft_run_meta", BPF_MAP_TYPE_ARRAY, 4, sizeof(v), 1, 0), err = 0;

	if (fd < 0)
		return fd;
	v.magic = FT_RUN_META_MAGIC;
	if (bpf_map_update_elem(fd, &zero, &v, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

static void ft_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * A checkpoint slot. The slots live in a pinned BPF array created with
 * BPF_F_MMAPABLE and mapped here: writing one is a few stores, not a
 * syscall, and what was written survives the process (kill -9 included)
 * for as long as the pin. seq is odd while a slot is being written, so a
 * slot torn by a crash is recognised and ignored; 0 is empty.
 */
struct ft_ckpt_slot {
	__u32 seq;
	__u32 pad;
	struct ft_flow_key key;
	struct ft_ckpt ck;
};

/* Pinned: a layout change must come with a new map (ft_own_map checks the
 * value size). */
_Static_assert(sizeof(struct ft_ckpt_slot) == 104, "ft_ckpt_slot layout");

static void ft_ckpt_slot_put(void *arg, __u32 slot, const struct ft_flow_key *k,
			     const struct ft_ckpt *ck)
{
	struct ft_collector *c = arg;
	struct ft_ckpt_slot *s = (struct ft_ckpt_slot *)c->ckpt + slot;
	__u32 seq;

	if (slot >= c->ckpt_slots) {
		if (!c->ckpt_missed++)
			pr_warn("more flows than checkpoint slots (%zu): a restart may report some "
				"flows again\n",
				c->ckpt_slots);
		return;
	}
	seq = s->seq;
	__atomic_store_n(&s->seq, (seq + 1) | 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->key = *k;
	s->ck = *ck;
	__atomic_store_n(&s->seq, ((seq + 1) | 1) + 1, __ATOMIC_RELEASE);
}

static void ft_ckpt_slot_drop(void *arg, __u32 slot)
{
	struct ft_collector *c = arg;

	if (slot < c->ckpt_slots)
		__atomic_store_n(&((struct ft_ckpt_slot *)c->ckpt + slot)->seq, 0,
				 __ATOMIC_RELEASE);
}

static void ft_ckpt_close(struct ft_collector *c)
{
	if (c->ckpt)
		munmap(c->ckpt, c->ckpt_len);
	c->ckpt = NULL;
	c->ckpt_slots = 0;
	ft_close_fd(&c->ckpt_fd);
	ft_close_fd(&c->ifckpt_fd);
}

static int ft_ckpt_open(struct ft_collector *c)
{
	const struct ft_ckpt_ops ops = {ft_ckpt_slot_put, ft_ckpt_slot_drop, c};
	/* Flows in the core: the kernel's, plus a cycle's ended ones. */
	size_t slots = c->capacity + c->capacity / 4 + 4096;
	long page = sysconf(_SC_PAGESIZE);

	c->ckpt_fd = ft_own_map(c->root, "ft_run_ckpt", BPF_MAP_TYPE_ARRAY, 4,
				sizeof(struct ft_ckpt_slot), slots, BPF_F_MMAPABLE);
	if (c->ckpt_fd < 0)
		return c->ckpt_fd;
	c->ckpt_len = (slots * sizeof(struct ft_ckpt_slot) + page - 1) / page * page;
	c->ckpt = mmap(NULL, c->ckpt_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->ckpt_fd, 0);
	if (c->ckpt == MAP_FAILED) {
		int err = -errno;

		c->ckpt = NULL;
		return err;
	}
	c->ckpt_slots = slots;
	c->ifckpt_fd =
	    ft_own_map(c->root, "ft_run_ifckpt", BPF_MAP_TYPE_HASH, sizeof(struct ft_if_key),
		       sizeof(struct ft_if_stats), FT_MAX_IFACE_KEYS, BPF_F_NO_PREALLOC);
	if (c->ifckpt_fd < 0)
		return c->ifckpt_fd;
	ft_coll_set_ckpt(c->core, &ops);
	return 0;
}

/* Flows and interface counters a previous collector had reported. */
static int ft_ckpt_load(struct ft_collector *c)
{
	const struct ft_ckpt_slot *slots = c->ckpt;
	struct ft_if_key ik, in, *ip = NULL;
	size_t n = 0, torn = 0, cap = 0, i;

	for (i = 0; i < c->ckpt_slots; i++) {
		__u32 seq = __atomic_load_n(&slots[i].seq, __ATOMIC_ACQUIRE);
		int err;

		if (!seq)
			continue;
		if (seq & 1) { /* the writer died mid-slot */
			torn++;
			ft_ckpt_slot_drop(c, i);
			continue;
		}
		err = ft_coll_restore(c->core, i, &slots[i].key, &slots[i].ck);
		if (err == -ENOMEM)
			return err;
		if (err)
			ft_ckpt_slot_drop(c, i);
		else
			n++;
	}
	while (!bpf_map_get_next_key(c->ifckpt_fd, ip, &in)) {
		struct ft_if_totals t = {.ifindex = in.ifindex, .dir = in.dir};

		ik = in;
		ip = &ik;
		if (bpf_map_lookup_elem(c->ifckpt_fd, &ik, &t.s))
			continue;
		if (VEC_PUSH(c->ifprev, c->nifprev, cap, t))
			return -ENOMEM;
	}
	if (n)
		pr_info("resumed %zu flows from the checkpoint\n", n);
	if (torn)
		pr_warn("%zu flow checkpoints were being written when the previous run died: "
			"those flows are reported again from their start\n",
			torn);
	return 0;
}

static void ft_close_datapath(struct ft_collector *c)
{
	ft_close_fd(&c->flows_fd);
	ft_close_fd(&c->ifstats_fd);
	ft_close_fd(&c->ifslot_fd);
	ft_close_fd(&c->ifslots_fd);
	ft_close_fd(&c->hs_fd);
}

static int ft_collector_maps(struct ft_collector *c)
{
	struct bpf_map_info info;
	int err;

	c->flows_fd = ft_map_fd(c->root, "ft_flows");
	c->ifstats_fd = ft_map_fd(c->root, "ft_ifstats");
	if (c->flows_fd < 0 || c->ifstats_fd < 0)
		return c->flows_fd < 0 ? c->flows_fd : c->ifstats_fd;
	/* Optional: datapaths without them keep everything in the hash. */
	c->ifslot_fd = ft_map_fd(c->root, "ft_ifslot");
	c->ifslots_fd = ft_map_fd(c->root, "ft_ifstats_slots");
	c->hs_fd = ft_map_fd(c->root, "ft_tcp_hs_map");
	err = ft_map_info(c->flows_fd, &info);
	if (err)
		return err;
	if (info.key_size != sizeof(struct ft_flow_key) ||
	    info.value_size != sizeof(struct ft_flow_val)) {
		pr_err("the pinned ft_flows has another layout (an older flowtap?): "
		       "flowtap detach --all, then start again\n");
		return -EINVAL;
	}
	c->flows_id = info.id;
	c->capacity = info.max_entries;
	return 0;
}

/* Whether the kernel can read and delete one element atomically for this
 * map (hash maps since 5.14): probed with a key that cannot exist. */
static bool ft_probe_lookup_delete(int fd)
{
	struct ft_flow_key k = {0};
	void *v = calloc(ft_ncpus(), ROUND8(sizeof(struct ft_flow_val)));
	bool ok;

	if (!v)
		return false;
	ok = bpf_map_lookup_and_delete_elem(fd, &k, v) == 0 || errno == ENOENT;
	free(v);
	return ok;
}

int ft_collector_open(struct ft_collector *c, const char *root, const struct ft_coll_cfg *cfg,
		      bool ckpt)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->flows_fd = c->ifstats_fd = c->ckpt_fd = c->ifckpt_fd = -1;
	c->ifslot_fd = c->ifslots_fd = c->hs_fd = -1;
	c->hs_max_age = cfg->tcp_handshake;
	snprintf(c->root, sizeof(c->root), "%s", root);
	c->core = ft_coll_new(cfg);
	if (!c->core)
		return -ENOMEM;
	err = ft_collector_maps(c);
	if (err)
		goto fail;
	c->lookup_delete = ft_probe_lookup_delete(c->flows_fd);
	if (!c->lookup_delete)
		pr_warn("this kernel cannot read-and-delete flow entries at once: a packet "
			"arriving between the two steps of an expiry may be lost\n");
	if (ckpt) {
		err = ft_ckpt_open(c);
		if (!err)
			err = ft_ckpt_load(c);
		if (err) {
			pr_warn("flow checkpoints unavailable (%s): a restart will report "
				"flows again from zero\n",
				strerror(-err));
			ft_ckpt_close(c);
		}
	}
	c->last_ns = ft_clock_ns(CLOCK_MONOTONIC);
	return 0;
fail:
	ft_collector_close(c);
	return err;
}

void ft_collector_close(struct ft_collector *c)
{
	ft_coll_free(c->core);
	c->core = NULL;
	ft_close_datapath(c);
	ft_ckpt_close(c);
	free(c->hs);
	c->hs = NULL;
	free(c->ifprev);
	free(c->ifd);
	free(c->ifcur);
	free(c->ifgone);
	c->ifprev = c->ifcur = c->ifgone = NULL;
	c->ifd = NULL;
	ft_dedup_buf_free(&c->dd);
}

/*
 * If the pinned datapath was replaced (detach --all, then a new attach),
 * follow the new maps; the flows of the old one end as forced. If the pins
 * are simply gone, keep reading the maps we hold.
 */
static void ft_collector_follow(struct ft_collector *c)
{
	struct bpf_map_info info;
	int fd = ft_map_fd(c->root, "ft_flows");

	if (fd < 0)
		return;
	if (ft_map_info(fd, &info) || info.id == c->flows_id) {
		close(fd);
		return;
	}
	close(fd);
	pr_warn("the pinned datapath was replaced: following the new one\n");
	ft_close_datapath(c);
	if (ft_collector_maps(c)) {
		pr_err("cannot open the new datapath's maps\n");
		return;
	}
	free(c->ifprev);
	c->ifprev = NULL;
	c->nifprev = 0;
	if (c->ckpt_fd >= 0) {
		/* The old checkpoints belong to the old datapath. */
		memset(c->ckpt, 0, c->ckpt_len);
		ft_ckpt_close(c);
		if (ft_ckpt_open(c)) {
			pr_warn("flow checkpoints unavailable for the new datapath\n");
			ft_ckpt_close(c);
		}
	}
}

static const struct ft_if_stats *ft_if_prev(const struct ft_collector *c, __u32 ifindex, __u32 dir)
{
	size_t i;

	for (i = 0; i < c->nifprev; i++)
		if (c->ifprev[i].ifindex == ifindex && c->ifprev[i].dir == dir)
			return &c->ifprev[i].s;
	return NULL;
}

static bool ft_if_in(const struct ft_if_totals *t, size_t n, __u32 ifindex, __u32 dir)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].ifindex == ifindex && t[i].dir == dir)
			return true;
	return false;
}

/* The last counters of interfaces that went away since the last report
 * join the ones just read, at the end, so that their last deltas are
 * reported like any other. */
static int ft_collector_ifgone_append(struct ft_collector *c)
{
	size_t n = c->nifcur, i;
	struct ft_if_totals *p;

	c->nifgone_cur = 0;
	if (!c->nifgone)
		return 0;
	p = realloc(c->ifcur, (n + c->nifgone) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->ifcur = p;
	for (i = 0; i < c->nifgone; i++) {
		const struct ft_if_totals *g = &c->ifgone[i];

		/* Still counted in the kernel (the forget failed): as it is. */
		if (!ft_if_in(c->ifcur, n, g->ifindex, g->dir))
			c->ifcur[c->nifcur + c->nifgone_cur++] = *g;
	}
	c->nifcur += c->nifgone_cur;
	return 0;
}

/* Interval deltas of the class counters; a counter that went down belongs
 * to a new entry, counted from zero. */
static int ft_collector_ifstats(struct ft_collector *c)
{
	const size_t words = sizeof(struct ft_if_stats) / sizeof(__u64);
	size_t i, w;
	int err;

	free(c->ifcur);
	c->ifcur = NULL;
	c->nifcur = 0;
	err = ft_read_if_totals_fds(c->ifstats_fd, c->ifslot_fd, c->ifslots_fd, &c->ifcur,
				    &c->nifcur);
	if (err)
		return err;
	err = ft_collector_ifgone_append(c);
	if (err)
		return err;
	free(c->ifd);
	c->ifd = calloc(c->nifcur ? c->nifcur : 1, sizeof(*c->ifd));
	if (!c->ifd)
		return -ENOMEM;
	c->nifd = 0;
	c->rep.flow_overflow = c->rep.http_samples_lost = 0;
	for (i = 0; i < c->nifcur; i++) {
		const struct ft_if_stats *p = ft_if_prev(c, c->ifcur[i].ifindex, c->ifcur[i].dir);
		const __u64 *cur = (const __u64 *)&c->ifcur[i].s, *old = (const __u64 *)p;
		struct ft_if_delta *d = &c->ifd[c->nifd];
		__u64 *out = (__u64 *)&d->d;
		bool any = false;

		d->ifindex = c->ifcur[i].ifindex;
		d->dir = c->ifcur[i].dir;
		for (w = 0; w < words; w++) {
			out[w] = old && cur[w] >= old[w] ? cur[w] - old[w] : cur[w];
			any |= out[w] != 0;
		}
		if (!any)
			continue;
		c->rep.flow_overflow += d->d.flow_overflow;
		c->rep.http_samples_lost += d->d.http_samples_lost;
		c->nifd++;
	}
	return 0;
}

/* Called with each batch of entries read, their per-CPU values summed. */
typedef int (*ft_batch_fn)(void *arg, const struct ft_flow_key *k, const struct ft_flow_val *v,
			   size_t n);

/* Reads the whole flow table in batches (key iteration on kernels without
 * them). */
static int ft_flows_each(int fd, ft_batch_fn fn, void *arg)
{
	const size_t vsz = ROUND8(sizeof(struct ft_flow_val)) * ft_ncpus();
	__u32 chunk = 4096, count, batch = 0, i;
	struct ft_flow_val *sum = NULL;
	struct ft_flow_key *keys = NULL;
	bool first = true;
	void *vals = NULL;
	int err = 0;

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		if (!keys) {
			keys = calloc(chunk, sizeof(*keys));
			vals = calloc(chunk, vsz);
			sum = calloc(chunk, sizeof(*sum));
			if (!keys || !vals || !sum) {
				err = -ENOMEM;
				break;
			}
		}
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count,
					   &bo);
		if (err && errno == ENOSPC && !count) {
			chunk *= 4; /* a bucket holds more than a chunk */
			free(keys);
			free(vals);
			free(sum);
			keys = vals = NULL;
			sum = NULL;
			continue;
		}
		if (err && errno != ENOENT) {
			err = -errno;
			if (first && (errno == EINVAL || errno == ENOTSUPP || errno == EOPNOTSUPP))
				err = 1; /* no batch ops: iterate */
			break;
		}
		for (i = 0; i < count; i++)
			ft_sum_flow_val((char *)vals + i * vsz, ft_ncpus(), &sum[i]);
		if (fn(arg, keys, sum, count)) {
			err = -ENOMEM;
			break;
		}
		first = false;
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			break;
		}
	}
	if (err == 1) {
		struct ft_flow_key key, next, *prev = NULL;

		err = 0;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct ft_flow_val v;

			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, vals))
				continue;
			ft_sum_flow_val(vals, ft_ncpus(), &v);
			if (fn(arg, &key, &v, 1)) {
				err = -ENOMEM;
				break;
			}
		}
	}
	free(keys);
	free(vals);
	free(sum);
	return err;
}

static int ft_observe_batch(void *arg, const struct ft_flow_key *k, const struct ft_flow_val *v,
			    size_t n)
{
	return ft_coll_observe_many(arg, k, v, n);
}

/* Feeds every kernel entry to the core. */
static int ft_collector_read(struct ft_collector *c)
{
	return ft_flows_each(c->flows_fd, ft_observe_batch, c->core);
}

/*
 * Removes the kernel entries of ending flows. Lookup-and-delete returns
 * the values as they were when the entry left the table, so packets that
 * arrived since the read are in them; a packet after the delete makes a new
 * entry. (Batch lookup-and-delete cannot be used: it removes every entry it
 * returns, not the chosen ones.)
 */
static void ft_collector_expire(struct ft_collector *c, struct ft_cflow **del, size_t n)
{
	void *vals = calloc(ft_ncpus(), ROUND8(sizeof(struct ft_flow_val)));
	size_t i;

	if (!vals)
		return;
	for (i = 0; i < n; i++) {
		const struct ft_flow_key *k = &del[i]->f.key;
		struct ft_flow_val v;
		int err;

		if (c->lookup_delete) {
			err = bpf_map_lookup_and_delete_elem(c->flows_fd, k, vals);
		} else {
			err = bpf_map_lookup_elem(c->flows_fd, k, vals);
			if (!err)
				bpf_map_delete_elem(c->flows_fd, k);
		}
		if (err && errno != ENOENT) {
			/* Still in the kernel: ending it here would report its
			 * packets again as a new flow next time. */
			ft_coll_keep(c->core, del[i]);
			continue;
		}
		if (err) {
			ft_coll_final(c->core, del[i], NULL);
			continue;
		}
		ft_sum_flow_val(vals, ft_ncpus(), &v);
		ft_coll_final(c->core, del[i], &v);
	}
	free(vals);
}

static void ft_hs_failed(void *ctx, const struct ft_flow_key *conn, const struct ft_tcp_hs *hs)
{
	struct ft_collector *c = ctx;
	struct ft_hs_timeouts t = {.ifindex = conn->ifindex, .dir = hs->syn_dir, .n = 1};
	size_t i;

	c->rep.tcp_hs_timeouts++;
	for (i = 0; i < c->nhs; i++) {
		if (c->hs[i].ifindex == t.ifindex && c->hs[i].dir == t.dir) {
			c->hs[i].n++;
			return;
		}
	}
	VEC_PUSH(c->hs, c->nhs, c->caphs, t);
}

/* Handshakes whose SYN was never answered leave the handshake table as
 * failed connection attempts, counted per interface and direction. */
static void ft_collector_handshakes(struct ft_collector *c)
{
	c->nhs = 0;
	c->rep.tcp_hs_timeouts = 0;
	if (c->hs_fd >= 0 && c->hs_max_age > 0)
		ft_tcp_hs_expire(c->hs_fd, (__u64)(c->hs_max_age * NS), ft_hs_failed, c);
	c->rep.hs_timeouts = c->hs;
	c->rep.nhs_timeouts = c->nhs;
}

/*
 * Unix time minus CLOCK_MONOTONIC, read between two monotonic reads. Kept
 * unless the wall clock moved by more than a millisecond (a step), so the
 * times of one flow agree from interval to interval.
 */
static double ft_epoch_offset(double prev)
{
	__u64 m0 = ft_clock_ns(CLOCK_MONOTONIC), r = ft_clock_ns(CLOCK_REALTIME);
	__u64 m1 = ft_clock_ns(CLOCK_MONOTONIC);
	double off = (double)r / NS - (double)(m0 / 2 + m1 / 2) / NS;

	return prev && off - prev < 1e-3 && prev - off < 1e-3 ? prev : off;
}

int ft_collector_cycle(struct ft_collector *c, bool final)
{
	__u64 t0 = ft_clock_ns(CLOCK_MONOTONIC), cpu0 = ft_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	struct ft_coll_stats *st = (struct ft_coll_stats *)ft_coll_stats(c->core);
	struct ft_cflow **del;
	size_t ndel;
	int err;

	ft_collector_follow(c);
	ft_coll_begin(c->core, t0);
	err = ft_collector_ifstats(c);
	if (err)
		pr_warn("cannot read the interface counters: %s\n", strerror(-err));
	err = ft_collector_read(c);
	if (err) {
		/* Without a complete read every known flow would look
		 * vanished: report nothing this cycle. */
		pr_err("cannot read the flow table: %s\n", strerror(-err));
		return err;
	}
	ndel = ft_coll_expire(c->core, c->capacity, &del);
	ft_collector_expire(c, del, ndel);
	ft_coll_finish(c->core, final);
	ft_collector_handshakes(c);

	st->capacity = c->capacity;
	st->drain_ns = ft_clock_ns(CLOCK_MONOTONIC) - t0;
	st->drain_cpu_ns = ft_clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	c->rep.now_ns = t0;
	c->rep.epoch_off = ft_epoch_offset(c->rep.epoch_off);
	c->rep.interval = (double)(t0 - c->last_ns) / NS;
	c->rep.final = final;
	c->rep.nrecs = ft_coll_records(c->core, &c->rep.recs);
	c->rep.ifs = c->ifd;
	c->rep.nifs = c->nifd;
	c->rep.st = st;
	c->last_ns = t0;
	return 0;
}

static void ft_collector_ifckpt(struct ft_collector *c)
{
	size_t live = c->nifcur - c->nifgone_cur, i;

	for (i = 0; c->ifckpt_fd >= 0 && i < c->nifcur; i++) {
		struct ft_if_key k = {.ifindex = c->ifcur[i].ifindex, .dir = c->ifcur[i].dir};

		if (i < live)
			bpf_map_update_elem(c->ifckpt_fd, &k, &c->ifcur[i].s, BPF_ANY);
		else
			bpf_map_delete_elem(c->ifckpt_fd, &k);
	}
	/* What was just reported is the base of the next interval; the
	 * interfaces that went away are done with. */
	free(c->ifprev);
	c->ifprev = c->ifcur;
	c->nifprev = live;
	c->ifcur = NULL;
	c->nifcur = 0;
	c->nifgone = c->nifgone_cur = 0;
}

static unsigned int ft_rank_of_report(void *ctx, __u32 ifindex, __u32 dir)
{
	return ft_report_rank(ctx, ifindex, dir);
}

int ft_collector_dedup(struct ft_collector *c)
{
	int err =
	    ft_dedup(c->rep.recs, c->rep.nrecs, ft_rank_of_report, &c->rep, &c->dd, &c->rep.dd);

	c->rep.counted = err ? NULL : c->dd.counted;
	return err;
}

/* Keeps the current counters of ifindex for the next report. */
static int ft_collector_if_stash(struct ft_collector *c, __u32 ifindex)
{
	struct ft_if_totals *t = NULL, *p;
	size_t n = 0, i, j;
	int err;

	err = ft_read_if_totals_fds(c->ifstats_fd, c->ifslot_fd, c->ifslots_fd, &t, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (t[i].ifindex != ifindex)
			continue;
		for (j = 0; j < c->nifgone; j++)
			if (c->ifgone[j].ifindex == ifindex && c->ifgone[j].dir == t[i].dir)
				break;
		if (j == c->nifgone) {
			p = realloc(c->ifgone, (c->nifgone + 1) * sizeof(*p));
			if (!p) {
				err = -ENOMEM;
				break;
			}
			c->ifgone = p;
			c->nifgone++;
		}
		c->ifgone[j] = t[i];
	}
	free(t);
	return err;
}

struct ft_iface_keys {
	__u32 ifindex;
	struct ft_flow_key *v;
	size_t n, cap;
};

static int ft_pick_iface(void *arg, const struct ft_flow_key *k, const struct ft_flow_val *v,
			 size_t n)
{
	struct ft_iface_keys *ks = arg;
	size_t i;

	(void)v;
	for (i = 0; i < n; i++)
		if (k[i].ifindex == ks->ifindex && VEC_PUSH(ks->v, ks->n, ks->cap, k[i]))
			return -ENOMEM;
	return 0;
}

int ft_collector_forget_iface(struct ft_collector *c, __u32 ifindex)
{
	struct ft_iface_keys ks = {.ifindex = ifindex};
	void *vals = NULL;
	int err, ended = 0;
	__u32 dir;
	size_t i;

	err = ft_collector_if_stash(c, ifindex);
	if (err)
		pr_warn("interface %u went away: its last counters are lost (%s)\n", ifindex,
			strerror(-err));
	err = ft_flows_each(c->flows_fd, ft_pick_iface, &ks);
	if (!err && ks.n && !(vals = calloc(ft_ncpus(), ROUND8(sizeof(struct ft_flow_val)))))
		err = -ENOMEM;
	for (i = 0; !err && i < ks.n; i++) {
		struct ft_flow_val v;
		int r;

		if (c->lookup_delete) {
			r = bpf_map_lookup_and_delete_elem(c->flows_fd, &ks.v[i], vals);
		} else {
			r = bpf_map_lookup_elem(c->flows_fd, &ks.v[i], vals);
			if (!r)
				bpf_map_delete_elem(c->flows_fd, &ks.v[i]);
		}
		if (r)
			continue; /* gone already: the next cycle ends it (forced) */
		ft_sum_flow_val(vals, ft_ncpus(), &v);
		err = ft_coll_end_entry(c->core, &ks.v[i], &v);
		ended += !err;
	}
	for (dir = 0; c->ifckpt_fd >= 0 && dir < FT_DIR_MAX; dir++) {
		struct ft_if_key k = {.ifindex = ifindex, .dir = dir};

		bpf_map_delete_elem(c->ifckpt_fd, &k);
	}
	free(vals);
	free(ks.v);
	return err ? err : ended;
}

int ft_collector_commit(struct ft_collector *c)
{
	ft_coll_commit(c->core);
	ft_collector_ifckpt(c);
	c->rep.nrecs = 0;
	return 0;
}
