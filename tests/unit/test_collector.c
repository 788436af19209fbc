// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The collector's userspace logic, table-driven against a fake kernel
 * table: deltas, idle/active/TCP timeouts and end reasons, the delete rule
 * (values read with the delete are final), eviction, restart from a
 * checkpoint, forced ends; the syslog lines, JSON records, log rotation and
 * the config parser. With root and a bpffs, also a drain of a real per-CPU
 * hash map, and `--bench N` times drains of N flows.
 *
 * Usage: test_collector [-v] [FILTER] | test_collector --bench N...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "test.h"
#include "collector.h"
#include "datapath.h"
#include "state.h"

#define S  1000000000ULL /* one second in ns */
#define T0 (1000 * S)	 /* the fake clock starts here */

/* ---- a fake kernel flow table, and checkpoint slots ---- */

struct fake_ckpt {
	bool used[1024];
	struct ft_flow_key key[1024];
	struct ft_ckpt ck[1024];
};

static void ck_put(void *arg, __u32 slot, const struct ft_flow_key *k, const struct ft_ckpt *ck)
{
	struct fake_ckpt *s = arg;

	if (slot < 1024) {
		s->used[slot] = true;
		s->key[slot] = *k;
		s->ck[slot] = *ck;
	}
}

static void ck_drop(void *arg, __u32 slot)
{
	struct fake_ckpt *s = arg;

	if (slot < 1024)
		s->used[slot] = false;
}

static size_t ck_used(const struct fake_ckpt *s)
{
	size_t i, n = 0;

	for (i = 0; i < 1024; i++)
		n += s->used[i];
	return n;
}

struct kentry {
	struct ft_flow_key k;
	struct ft_flow_val v;
	bool used;
};

struct fake {
	struct kentry e[64];
	struct ft_coll *c;
	struct fake_ckpt ck;
	size_t capacity;
	/* traffic that arrives between the read and the delete */
	struct ft_flow_key late_key;
	__u64 late_packets;
	bool late_replace; /* the entry is replaced (new first_ns) instead */
};

static struct ft_flow_key key(__u8 proto, __u16 sport)
{
	struct ft_flow_key k = {.ifindex = 7,
				.dir = FT_DIR_EGRESS,
				.family = FT_FAMILY_IPV4,
				.proto = proto,
				.sport = sport,
				.dport = 53};

	k.src[0] = 198, k.src[1] = 18, k.src[3] = 1;
	k.dst[0] = 198, k.dst[1] = 18, k.dst[3] = 2;
	return k;
}

static struct kentry *kfind(struct fake *f, const struct ft_flow_key *k)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (f->e[i].used && !memcmp(&f->e[i].k, k, sizeof(*k)))
			return &f->e[i];
	return NULL;
}

/* Adds traffic the way the datapath does: a new entry on first packet. */
static void kadd(struct fake *f, const struct ft_flow_key *k, __u64 pkts, __u64 bytes, __u64 now,
		 __u8 flags)
{
	struct kentry *e = kfind(f, k);
	size_t i;

	if (!e) {
		for (i = 0; i < 64 && f->e[i].used; i++)
			;
		if (i == 64)
			return;
		e = &f->e[i];
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->k = *k;
		e->v.first_ns = now;
	}
	e->v.packets += pkts;
	e->v.bytes += bytes;
	e->v.last_ns = now;
	e->v.tcp_flags |= flags;
}

static size_t kcount(struct fake *f)
{
	size_t i, n = 0;

	for (i = 0; i < 64; i++)
		n += f->e[i].used;
	return n;
}

/* One collector cycle against the fake table; returns the records. */
static size_t cycle(struct fake *f, __u64 now, bool shutdown, struct ft_cflow *const **recs)
{
	struct ft_cflow **del;
	size_t i, n;

	ft_coll_begin(f->c, now);
	for (i = 0; i < 64; i++)
		if (f->e[i].used)
			ft_coll_observe(f->c, &f->e[i].k, &f->e[i].v);
	n = ft_coll_expire(f->c, f->capacity, &del);
	for (i = 0; i < n; i++) {
		struct kentry *e = kfind(f, &del[i]->f.key);

		if (e && f->late_packets && !memcmp(&f->late_key, &e->k, sizeof(e->k))) {
			if (f->late_replace) {
				e->v.first_ns = now + 1;
				e->v.packets = f->late_packets;
				e->v.bytes = f->late_packets * 100;
			} else {
				e->v.packets += f->late_packets;
				e->v.bytes += f->late_packets * 100;
			}
			e->v.last_ns = now;
			f->late_packets = 0;
		}
		if (e) {
			ft_coll_final(f->c, del[i], &e->v);
			e->used = false;
		} else {
			ft_coll_final(f->c, del[i], NULL);
		}
	}
	ft_coll_finish(f->c, shutdown);
	return ft_coll_records(f->c, recs);
}

static const struct ft_cflow *rec_of(struct ft_cflow *const *recs, size_t n,
				     const struct ft_flow_key *k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(&recs[i]->f.key, k, sizeof(*k)))
			return recs[i];
	return NULL;
}

static struct ft_coll *new_coll_active(double active)
{
	struct ft_coll_cfg cfg;

	ft_coll_cfg_default(&cfg);
	cfg.to.idle_udp = 10;
	cfg.to.idle_tcp = 100;
	cfg.to.tcp_fin = 5;
	cfg.to.tcp_rst = 2;
	cfg.to.active = active;
	return ft_coll_new(&cfg);
}

static struct ft_coll *new_coll(void)
{
	return new_coll_active(60);
}

static void fake_ops(struct fake *f)
{
	const struct ft_ckpt_ops ops = {ck_put, ck_drop, &f->ck};

	ft_coll_set_ckpt(f->c, &ops);
}

static bool fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->c = new_coll();
	if (f->c)
		fake_ops(f);
	return f->c != NULL;
}

static void fake_fini(struct fake *f)
{
	ft_coll_free(f->c);
}

static void test_deltas(void)
{
	struct ft_flow_key k = key(IPPROTO_UDP, 1000);
	struct ft_cflow *const *r;
	const struct ft_cflow *x;
	struct fake f;
	size_t n;

	if (!test_start("collector/deltas"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &k, 10, 1000, T0, 0);
	n = cycle(&f, T0 + S, false, &r);
	x = rec_of(r, n, &k);
	if (!ASSERT_OK_PTR(x, "record of the new flow") ||
	    !ASSERT_EQ(ft_cflow_dpackets(x), 10, "first delta") ||
	    !ASSERT_EQ(ft_cflow_dbytes(x), 1000, "first delta bytes") ||
	    !ASSERT_TRUE(x->flags & FT_CF_NEW, "new") ||
	    !ASSERT_EQ(ft_coll_stats(f.c)->created, 1, "created"))
		goto out;
	ft_coll_commit(f.c);
	ASSERT_EQ(ck_used(&f.ck), 1, "checkpointed");
	kadd(&f, &k, 5, 500, T0 + 2 * S, 0);
	n = cycle(&f, T0 + 3 * S, false, &r);
	x = rec_of(r, n, &k);
	if (!ASSERT_OK_PTR(x, "record") || !ASSERT_EQ(ft_cflow_dpackets(x), 5, "second delta") ||
	    !ASSERT_EQ(x->f.v.packets, 15, "cumulative") || !ASSERT_EQ(x->reason, 0, "goes on"))
		goto out;
	ft_coll_commit(f.c);
	n = cycle(&f, T0 + 4 * S, false, &r);
	ASSERT_EQ(n, 0, "no traffic, no record");
	ASSERT_EQ(ft_coll_stats(f.c)->flows, 1, "still alive");
	ft_coll_commit(f.c);
out:
	fake_fini(&f);
	test_end();
}

/* Timeouts table: what ends, when, and why. */
static void test_timeouts(void)
{
	static const struct {
		const char *name;
		__u8 proto;
		__u8 flags;
		__u64 idle_s; /* seconds since the last packet at the check */
		__u8 reason;  /* expected; 0: alive */
	} cases[] = {
	    {"udp_alive", IPPROTO_UDP, 0, 9, FT_END_NONE},
	    {"udp_idle", IPPROTO_UDP, 0, 10, FT_END_IDLE},
	    {"tcp_alive", IPPROTO_TCP, 0x10, 99, FT_END_NONE},
	    {"tcp_idle", IPPROTO_TCP, 0x10, 100, FT_END_IDLE},
	    {"tcp_fin_alive", IPPROTO_TCP, 0x11, 4, FT_END_NONE},
	    {"tcp_fin_end", IPPROTO_TCP, 0x11, 5, FT_END_EOF},
	    {"tcp_rst_end", IPPROTO_TCP, 0x14, 2, FT_END_EOF},
	    {"tcp_rst_alive", IPPROTO_TCP, 0x14, 1, FT_END_NONE},
	    {"icmp_idle", IPPROTO_ICMP, 0, 300, FT_END_IDLE},
	    {"icmp_alive", IPPROTO_ICMP, 0, 299, FT_END_NONE},
	    {"gre_idle", 47, 0, 300, FT_END_IDLE},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ft_flow_key k = key(cases[i].proto, 2000 + i);
		struct ft_cflow *const *r;
		const struct ft_cflow *x;
		struct fake f;
		size_t n;

		if (!test_start("collector/timeout/%s", cases[i].name))
			continue;
		memset(&f, 0, sizeof(f));
		f.c = new_coll_active(10000); /* only the idle timeouts here */
		if (!ASSERT_OK_PTR(f.c, "init"))
			goto next;
		kadd(&f, &k, 3, 300, T0, cases[i].flags);
		cycle(&f, T0 + S / 2, false, &r);
		ft_coll_commit(f.c);
		n = cycle(&f, T0 + cases[i].idle_s * S, false, &r);
		x = rec_of(r, n, &k);
		if (cases[i].reason == FT_END_NONE) {
			ASSERT_TRUE(!x, "no record: no traffic, not ended");
			ASSERT_EQ(kcount(&f), 1, "kernel entry kept");
		} else if (ASSERT_OK_PTR(x, "end record")) {
			ASSERT_EQ(x->reason, cases[i].reason, "end reason");
			ASSERT_EQ(ft_cflow_dpackets(x), 0, "nothing new in the interval");
			ASSERT_EQ(ft_cflow_rpackets(x), 3, "the record holds the flow");
			ASSERT_EQ(kcount(&f), 0, "kernel entry removed");
			ASSERT_EQ(ft_coll_stats(f.c)->ended_by[cases[i].reason], 1, "counted");
		}
		ft_coll_commit(f.c);
		if (cases[i].reason != FT_END_NONE) {
			ASSERT_EQ(ft_coll_size(f.c), 0, "flow freed");
			ASSERT_EQ(ck_used(&f.ck), 0, "checkpoint dropped");
		}
	next:
		fake_fini(&f);
		test_end();
	}
}

/* The delete rule: what arrives between the read and the delete is in the
 * values the delete returns, and goes into the ending record. */
static void test_delete_remainder(void)
{
	struct ft_flow_key k = key(IPPROTO_UDP, 3000);
	struct ft_cflow *const *r;
	const struct ft_cflow *x;
	struct fake f;
	size_t n;

	if (!test_start("collector/delete_remainder"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &k, 10, 1000, T0, 0);
	cycle(&f, T0 + S, false, &r);
	ft_coll_commit(f.c);
	f.late_key = k;
	f.late_packets = 3; /* between the read and the delete */
	n = cycle(&f, T0 + 20 * S, false, &r);
	x = rec_of(r, n, &k);
	if (!ASSERT_OK_PTR(x, "end record"))
		goto out;
	ASSERT_EQ(x->reason, FT_END_IDLE, "reason");
	ASSERT_EQ(ft_cflow_dpackets(x), 3, "the remainder is reported");
	ASSERT_EQ(ft_cflow_rpackets(x), 13, "the record has all packets");
	ft_coll_commit(f.c);
	/* A packet after the delete: a new entry, a new flow, counted once. */
	kadd(&f, &k, 1, 100, T0 + 21 * S, 0);
	n = cycle(&f, T0 + 22 * S, false, &r);
	x = rec_of(r, n, &k);
	if (ASSERT_OK_PTR(x, "new flow"))
		ASSERT_EQ(ft_cflow_dpackets(x), 1, "counted from its own start");
	ft_coll_commit(f.c);
out:
	fake_fini(&f);
	test_end();
}

/* The entry was deleted and re-created between our read and our delete:
 * the deleted one is a flow of its own, not lost and not merged. */
static void test_delete_replaced(void)
{
	struct ft_flow_key k = key(IPPROTO_UDP, 3100);
	struct ft_cflow *const *r;
	__u64 pk = 0;
	struct fake f;
	size_t n, i, ends = 0;

	if (!test_start("collector/delete_replaced"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &k, 10, 1000, T0, 0);
	cycle(&f, T0 + S, false, &r);
	ft_coll_commit(f.c);
	f.late_key = k;
	f.late_packets = 4;
	f.late_replace = true;
	n = cycle(&f, T0 + 20 * S, false, &r);
	for (i = 0; i < n; i++) {
		pk += ft_cflow_dpackets(r[i]);
		ends += ft_cflow_ends(r[i]);
	}
	ASSERT_EQ(n, 2, "two records");
	ASSERT_EQ(ends, 2, "both end");
	ASSERT_EQ(pk, 4, "the replacement's packets, once");
	ft_coll_commit(f.c);
	ASSERT_EQ(ft_coll_size(f.c), 0, "nothing left");
out:
	fake_fini(&f);
	test_end();
}

static void test_active(void)
{
	struct ft_flow_key k = key(IPPROTO_TCP, 4000);
	struct ft_cflow *const *r;
	const struct ft_cflow *x;
	__u64 t;
	struct fake f;
	size_t n, closes = 0, pk = 0, rec_pk = 0;

	if (!test_start("collector/active_timeout"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	/* 1 packet every 10 s for 150 s: never idle, active timeout 60 s. */
	for (t = 0; t <= 150; t += 10) {
		kadd(&f, &k, 1, 100, T0 + t * S, 0x10);
		n = cycle(&f, T0 + t * S + S / 2, false, &r);
		x = rec_of(r, n, &k);
		if (!ASSERT_OK_PTR(x, "record each interval"))
			goto out;
		pk += ft_cflow_dpackets(x);
		if (x->reason == FT_END_ACTIVE) {
			closes++;
			rec_pk += ft_cflow_rpackets(x);
			if (!ASSERT_FALSE(ft_cflow_ends(x), "the flow goes on"))
				goto out;
		}
		ft_coll_commit(f.c);
	}
	ASSERT_EQ(closes, 2, "records closed at 60 s and 120 s");
	ASSERT_EQ(pk, 16, "every packet once");
	n = cycle(&f, T0 + 200 * S, true, &r);
	x = rec_of(r, n, &k);
	if (ASSERT_OK_PTR(x, "forced record")) {
		ASSERT_EQ(x->reason, FT_END_FORCED, "forced at shutdown");
		ASSERT_EQ(rec_pk + ft_cflow_rpackets(x), 16, "records cover every packet once");
	}
	ASSERT_EQ(kcount(&f), 1, "shutdown leaves the kernel entry");
	ft_coll_commit(f.c);
	/* ...and keeps its checkpoint, so a later run does not count it again */
	ASSERT_EQ(ck_used(&f.ck), 1, "checkpoint kept");
	for (n = 0; n < 1024; n++)
		if (f.ck.used[n])
			ASSERT_EQ(f.ck.ck[n].rep_packets, 16, "checkpoint at the total");
out:
	fake_fini(&f);
	test_end();
}

static void test_vanished(void)
{
	struct ft_flow_key k = key(IPPROTO_UDP, 5000);
	struct ft_cflow *const *r;
	const struct ft_cflow *x;
	struct fake f;
	size_t n;

	if (!test_start("collector/vanished"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &k, 2, 200, T0, 0);
	cycle(&f, T0 + S, false, &r);
	ft_coll_commit(f.c);
	kfind(&f, &k)->used = false; /* someone else deleted it */
	n = cycle(&f, T0 + 2 * S, false, &r);
	x = rec_of(r, n, &k);
	if (ASSERT_OK_PTR(x, "end record"))
		ASSERT_EQ(x->reason, FT_END_FORCED, "forced");
	ft_coll_commit(f.c);
	ASSERT_EQ(ck_used(&f.ck), 0, "checkpoint dropped");
	ASSERT_EQ(ft_coll_size(f.c), 0, "freed");
out:
	fake_fini(&f);
	test_end();
}

/* Same key, new first_ns: the old entry was replaced behind our back. */
static void test_reincarnation(void)
{
	struct ft_flow_key k = key(IPPROTO_UDP, 5100);
	struct ft_cflow *const *r;
	struct fake f;
	size_t n, i, forced = 0, fresh = 0;

	if (!test_start("collector/replaced_entry"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &k, 2, 200, T0, 0);
	cycle(&f, T0 + S, false, &r);
	ft_coll_commit(f.c);
	kfind(&f, &k)->used = false;
	kadd(&f, &k, 7, 700, T0 + 2 * S, 0);
	n = cycle(&f, T0 + 3 * S, false, &r);
	for (i = 0; i < n; i++) {
		if (r[i]->reason == FT_END_FORCED)
			forced += ft_cflow_dpackets(r[i]) == 0;
		else
			fresh += ft_cflow_dpackets(r[i]);
	}
	ASSERT_EQ(n, 2, "two records");
	ASSERT_EQ(forced, 1, "the old one ends, nothing new in it");
	ASSERT_EQ(fresh, 7, "the new one counts from its start");
	ft_coll_commit(f.c);
	ASSERT_EQ(ft_coll_size(f.c), 1, "one flow left");
out:
	fake_fini(&f);
	test_end();
}

static void test_eviction(void)
{
	struct ft_cflow *const *r;
	struct fake f;
	size_t n, i, evicted = 0;
	__u16 p;

	if (!test_start("collector/eviction"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	f.capacity = 20; /* high water 18, low water 16 */
	for (p = 0; p < 19; p++) {
		struct ft_flow_key k = key(IPPROTO_UDP, 6000 + p);

		kadd(&f, &k, 1, 100, T0 + p * (S / 10), 0);
	}
	n = cycle(&f, T0 + 3 * S, false, &r);
	for (i = 0; i < n; i++) {
		if (r[i]->reason != FT_END_RESOURCES)
			continue;
		evicted++;
		/* the oldest go first */
		ASSERT_LE(r[i]->f.key.sport, 6002, "oldest evicted");
	}
	ASSERT_EQ(evicted, 3, "down to the low-water mark");
	ASSERT_EQ(kcount(&f), 16, "kernel entries left");
	ft_coll_commit(f.c);
	ASSERT_EQ(ft_coll_size(f.c), 16, "flows left");
out:
	fake_fini(&f);
	test_end();
}

/* A restarted collector continues from the checkpoint: no loss, no double
 * count; entries the old one had ended leave nothing behind. */
static void test_restore(void)
{
	struct ft_flow_key a = key(IPPROTO_UDP, 7000), b = key(IPPROTO_UDP, 7001),
			   gone = key(IPPROTO_UDP, 7002), other = key(IPPROTO_UDP, 7003);
	struct ft_cflow *const *r;
	const struct ft_cflow *x;
	struct fake f;
	size_t n, i;

	if (!test_start("collector/restore"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &a, 10, 1000, T0, 0);
	kadd(&f, &b, 5, 500, T0, 0);
	kadd(&f, &gone, 1, 100, T0, 0);
	kadd(&f, &other, 1, 100, T0, 0);
	cycle(&f, T0 + S, false, &r);
	ft_coll_commit(f.c);
	if (!ASSERT_EQ(ck_used(&f.ck), 4, "checkpoints"))
		goto out;
	/* kill -9 and restart: a new core that knows only the checkpoint.
	 * Meanwhile a grows, b is unchanged, gone was ended by the old
	 * collector, other was replaced by a new entry. */
	ft_coll_free(f.c);
	f.c = new_coll();
	if (!ASSERT_OK_PTR(f.c, "restart"))
		goto out;
	for (i = 0; i < 1024; i++)
		if (f.ck.used[i] &&
		    !ASSERT_OK(ft_coll_restore(f.c, i, &f.ck.key[i], &f.ck.ck[i]), "restore"))
			goto out;
	fake_ops(&f);
	kadd(&f, &a, 3, 300, T0 + 2 * S, 0);
	kfind(&f, &gone)->used = false;
	kfind(&f, &other)->used = false;
	kadd(&f, &other, 2, 200, T0 + 2 * S, 0);
	n = cycle(&f, T0 + 3 * S, false, &r);
	x = rec_of(r, n, &a);
	if (ASSERT_OK_PTR(x, "a continues"))
		ASSERT_EQ(ft_cflow_dpackets(x), 3, "only what the old one did not report");
	ASSERT_TRUE(!rec_of(r, n, &b), "b: nothing new, no record");
	ASSERT_TRUE(!rec_of(r, n, &gone), "gone: no record");
	x = rec_of(r, n, &other);
	if (ASSERT_OK_PTR(x, "the replaced entry"))
		ASSERT_EQ(ft_cflow_dpackets(x), 2, "a new flow");
	ASSERT_EQ(n, 2, "records");
	ft_coll_commit(f.c);
	ASSERT_EQ(ft_coll_size(f.c), 3, "a, b, other");
out:
	fake_fini(&f);
	test_end();
}

/* The index survives heavy churn (backward-shift deletion). */
static void test_index_churn(void)
{
	const size_t N = 50000;
	struct ft_coll_cfg cfg;
	struct ft_coll *c;
	struct ft_cflow **del;
	struct ft_cflow *const *r;
	size_t round, i, n;

	if (!test_start("collector/index_churn"))
		return;
	ft_coll_cfg_default(&cfg);
	cfg.to.idle_udp = 1;
	c = ft_coll_new(&cfg);
	if (!ASSERT_OK_PTR(c, "new"))
		goto out;
	srand(1);
	for (round = 0; round < 4; round++) {
		__u64 now = T0 + round * 10 * S, total = 0;

		ft_coll_begin(c, now);
		for (i = 0; i < N; i++) {
			struct ft_flow_key k = key(IPPROTO_UDP, 0);
			struct ft_flow_val v = {.packets = round + 1, .bytes = 1, .first_ns = T0};
			unsigned int id = (i * 7919 + round * (N / 2)) % (N * 2);

			memcpy(k.src + 4, &id, sizeof(id));
			/* half of the flows stay busy, the rest idle out */
			v.last_ns = id % 2 ? now : now - 5 * S;
			v.first_ns = id % 2 ? T0 : now - 5 * S;
			if (!ft_coll_observe(c, &k, &v))
				break;
		}
		n = ft_coll_expire(c, 0, &del);
		for (i = 0; i < n; i++)
			ft_coll_final(c, del[i], NULL);
		ft_coll_finish(c, false);
		n = ft_coll_records(c, &r);
		for (i = 0; i < n; i++)
			total += ft_cflow_ends(r[i]);
		ft_coll_commit(c);
		if (!ASSERT_LE(ft_coll_size(c), N, "index size bounded"))
			break;
		if (round && !ASSERT_GT(total, 0, "some ended"))
			break;
	}
	/* every flow left is findable: observing it again creates nothing */
	ft_coll_begin(c, T0 + 100 * S);
	ASSERT_EQ(ft_coll_stats(c)->created, 0, "stable");
	ft_coll_free(c);
out:
	test_end();
}

/* ---- sinks ---- */

struct lines {
	char l[64][1024];
	int prio[64];
	size_t n;
};

/* ---- the de-duplicated view ---- */

/* Interface 2 is a container's host-side veth, 9 a NIC. */
static unsigned int dd_rank(void *ctx, __u32 ifindex, __u32 dir)
{
	(void)ctx;
	if (ifindex != 2)
		return FT_OBS_NIC;
	return dir == FT_DIR_INGRESS ? FT_OBS_FROM_CONTAINER : FT_OBS_TO_CONTAINER;
}

static struct ft_cflow dd_obs(__u16 sport, __u32 ifindex, __u32 dir, __u64 pkts, __u64 bytes,
			      __u64 reported)
{
	struct ft_cflow c = {.f.key = key(IPPROTO_UDP, sport)};

	c.f.key.ifindex = ifindex;
	c.f.key.dir = (__u8)dir;
	c.f.v.packets = pkts + reported;
	c.f.v.bytes = bytes + reported * 100;
	c.rep_packets = reported;
	c.rep_bytes = reported * 100;
	return c;
}

/* One packet stream seen on a container veth and on the NIC counts once,
 * where the container sent it; distinct flows all count; records without
 * traffic in the interval are neither counted nor duplicates. */
static void test_dedup(void)
{
	struct ft_cflow obs[] = {
	    dd_obs(1000, 9, FT_DIR_EGRESS, 10, 1000, 0), /* 0: NIC copy of flow 1000 */
	    dd_obs(1000, 2, FT_DIR_INGRESS, 10, 980, 0), /* 1: from the container: counts */
	    dd_obs(2000, 9, FT_DIR_EGRESS, 3, 300, 0),	 /* 2: NIC, lower ifindex loses ... */
	    dd_obs(2000, 11, FT_DIR_EGRESS, 3, 400, 0),	 /* 3: ... to more bytes: counts */
	    dd_obs(3000, 9, FT_DIR_INGRESS, 7, 700, 5),	 /* 4: only observation: counts */
	    dd_obs(4000, 2, FT_DIR_EGRESS, 0, 0, 4),	 /* 5: nothing this interval */
	    dd_obs(5000, 9, FT_DIR_INGRESS, 2, 200, 0),	 /* 6: NIC, to the container ... */
	    dd_obs(5000, 2, FT_DIR_EGRESS, 2, 200, 0),	 /* 7: ... to_container wins */
	};
	const __u8 want[] = {0, 1, 0, 1, 1, 0, 0, 1};
	struct ft_cflow *recs[sizeof(obs) / sizeof(obs[0])];
	struct ft_dedup_buf b = {};
	struct ft_dedup d;
	size_t i, n = sizeof(obs) / sizeof(obs[0]);

	if (!test_start("collector/dedup"))
		return;
	for (i = 0; i < n; i++)
		recs[i] = &obs[i];
	if (!ASSERT_EQ(ft_dedup(recs, n, dd_rank, NULL, &b, &d), 0, "dedup") ||
	    !ASSERT_TRUE(d.valid, "valid"))
		goto out;
	for (i = 0; i < n; i++)
		if (!ASSERT_EQ(b.counted[i], want[i], "which observation counts"))
			goto out;
	ASSERT_EQ(d.keys, 4, "distinct flows with traffic");
	ASSERT_EQ(d.packets, 10 + 3 + 7 + 2, "packets, each once");
	ASSERT_EQ(d.bytes, 980 + 400 + 700 + 200, "bytes of the observations that count");
	ASSERT_EQ(d.dups, 3, "observations left out");
	ASSERT_EQ(d.dup_packets, 10 + 3 + 2, "duplicate packets");
	ASSERT_EQ(d.dup_bytes, 1000 + 300 + 200, "duplicate bytes");
	/* The scratch space is reused: a smaller second pass starts clean. */
	if (!ASSERT_EQ(ft_dedup(recs + 4, 1, dd_rank, NULL, &b, &d), 0, "second pass"))
		goto out;
	ASSERT_EQ(b.counted[0], 1, "counted after reuse");
	ASSERT_EQ(d.packets, 7, "second pass packets");
	ASSERT_EQ(d.dups, 0, "second pass duplicates");
	/* Without a rank function every point is a NIC: the most bytes win. */
	if (!ASSERT_EQ(ft_dedup(recs, 2, NULL, NULL, &b, &d), 0, "no rank"))
		goto out;
	ASSERT_EQ(b.counted[0], 1, "more bytes count without ranks");
	ASSERT_EQ(d.bytes, 1000, "no rank bytes");
	/* An empty interval. */
	ASSERT_EQ(ft_dedup(recs, 0, dd_rank, NULL, &b, &d), 0, "empty");
	ASSERT_TRUE(d.valid && !d.keys && !d.packets, "empty is valid and zero");
out:
	ft_dedup_buf_free(&b);
	test_end();
}

static void collect_line(int prio, const char *line, void *arg)
{
	struct lines *ls = arg;

	if (ls->n < 64) {
		snprintf(ls->l[ls->n], sizeof(ls->l[0]), "%s", line);
		ls->prio[ls->n++] = prio;
	}
}

static void fake_report(struct fake *f, struct ft_report *rep, struct ft_if_delta *ifd,
			struct ft_cflow *const *r, size_t n, __u64 now)
{
	memset(rep, 0, sizeof(*rep));
	rep->now_ns = now;
	rep->epoch_off = 1700000000.0;
	rep->interval = 10;
	rep->recs = r;
	rep->nrecs = n;
	rep->ifs = ifd;
	rep->nifs = ifd ? 1 : 0;
	rep->st = ft_coll_stats(f->c);
}

static void test_syslog_lines(void)
{
	struct ft_cflow *const *r;
	struct ft_if_delta ifd = {.ifindex = 1, .dir = FT_DIR_EGRESS};
	struct ft_syslog_cfg cfg = {.facility = LOG_DAEMON, .top = 2, .max_lines = 100};
	struct ft_report rep;
	struct lines ls = {0};
	struct fake f;
	size_t n;
	__u16 p;

	if (!test_start("syslog/lines"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	for (p = 0; p < 3; p++) {
		struct ft_flow_key k = key(IPPROTO_UDP, 8000 + p);

		kadd(&f, &k, 10 * (p + 1), 1000 * (p + 1), T0, 0);
	}
	ifd.d.cls[FT_CLASS_IPV4] = (struct ft_counter){60, 6000};
	ifd.d.cls[FT_CLASS_UDP] = (struct ft_counter){60, 6000};
	n = cycle(&f, T0 + S, false, &r);
	fake_report(&f, &rep, &ifd, r, n, T0 + S);
	ft_syslog_lines(&cfg, &rep, collect_line, &ls);
	if (!ASSERT_EQ(ls.n, 4, "summary + iface + top 2"))
		goto out;
	ASSERT_TRUE(strstr(ls.l[0], "summary interval=10.00 pkts=60 bytes=6000 ") == ls.l[0],
		    "summary totals");
	ASSERT_TRUE(strstr(ls.l[0], " udp_pkts=60 udp_bytes=6000") != NULL, "class totals");
	ASSERT_TRUE(strstr(ls.l[0], " flows=3 flows_active=3 flows_new=3 flows_ended=0") != NULL,
		    "flow counts");
	ASSERT_TRUE(strstr(ls.l[1], "iface iface=lo dir=egress pkts=60 bytes=6000") == ls.l[1],
		    "iface line");
	ASSERT_STREQ(ls.l[2],
		     "flow rank=1 iface=if7 dir=egress proto=udp src=198.18.0.1 sport=8002 "
		     "dst=198.18.0.2 dport=53 pkts=30 bytes=3000 flags=- http=0",
		     "top flow");
	ASSERT_TRUE(strstr(ls.l[3], "rank=2 ") && strstr(ls.l[3], " sport=8001 "), "second");
	ft_coll_commit(f.c);

	/* the line cap holds, and the summary says what it held back */
	cfg.max_lines = 2;
	cfg.ended = true;
	ls.n = 0;
	n = cycle(&f, T0 + 20 * S, false, &r); /* all three end (idle) */
	fake_report(&f, &rep, &ifd, r, n, T0 + 20 * S);
	ft_syslog_lines(&cfg, &rep, collect_line, &ls);
	ASSERT_EQ(ls.n, 2, "capped");
	ASSERT_TRUE(strstr(ls.l[0], " lines_suppressed=3") != NULL, "suppressed counted");
	ASSERT_TRUE(strstr(ls.l[0], " ended_idle=3") != NULL, "ended by reason");
	ft_coll_commit(f.c);
out:
	fake_fini(&f);
	test_end();
}

static void test_record_json(void)
{
	struct ft_flow_key k = key(IPPROTO_TCP, 9000);
	struct ft_cflow *const *r;
	struct ft_report rep;
	json_object *o = NULL, *v;
	struct fake f;
	size_t n;

	if (!test_start("flowlog/record_json"))
		return;
	if (!ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	kadd(&f, &k, 4, 400, T0, 0x12);
	cycle(&f, T0 + S, false, &r);
	ft_coll_commit(f.c);
	kadd(&f, &k, 1, 60, T0 + 2 * S, 0x01);
	n = cycle(&f, T0 + 10 * S, false, &r); /* FIN, 5 s timeout: ends */
	if (!ASSERT_EQ(n, 1, "one record"))
		goto out;
	fake_report(&f, &rep, NULL, r, n, T0 + 10 * S);
	o = ft_record_json(&rep, r[0]);
	ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "packets")), 5, "packets");
	ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "packets_delta")), 1, "delta");
	ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "bytes_delta")), 60, "bytes");
	ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "end_reason")), "end_of_flow",
		     "end_reason");
	ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "tcp_flags")), "FIN|SYN|ACK",
		     "flags");
	ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "proto")), "tcp", "proto");
	v = json_object_object_get(o, "first_seen");
	ASSERT_EQ((long long)(json_object_get_double(v) * 1000), 1700001000000LL, "first_seen");
	ASSERT_EQ(ft_record_start_ms(&rep, r[0]), 1700001000000ULL, "IPFIX start");
	ASSERT_EQ(ft_record_end_ms(&rep, r[0]), 1700001002000ULL, "IPFIX end");
	ft_coll_commit(f.c);
out:
	json_object_put(o);
	fake_fini(&f);
	test_end();
}

static size_t count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int ch;

	if (!fp)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n;
}

static void test_rotation(void)
{
	char dir[] = "/tmp/ft-rot.XXXXXX", path[128], p1[160], p2[160], p3[160];
	struct ft_cflow *const *r;
	struct ft_flowlog *l = NULL;
	struct ft_report rep;
	struct stat st;
	struct fake f;
	size_t n, total = 0, i;
	int err;

	if (!test_start("flowlog/rotation"))
		return;
	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp") || !ASSERT_TRUE(fake_init(&f), "init"))
		goto out;
	snprintf(path, sizeof(path), "%s/flows.jsonl", dir);
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	l = ft_flowlog_open(path, 2000, 2, &err);
	if (!ASSERT_OK_PTR(l, "open"))
		goto out;
	for (i = 0; i < 12; i++) {
		struct ft_flow_key k = key(IPPROTO_UDP, 9100 + i);

		kadd(&f, &k, 1, 100, T0 + i * S, 0);
		n = cycle(&f, T0 + i * S + 1, false, &r);
		fake_report(&f, &rep, NULL, r, n, T0 + i * S + 1);
		if (!ASSERT_OK(ft_flowlog_write(l, &rep), "write"))
			goto out;
		total += n;
		ft_coll_commit(f.c);
	}
	ASSERT_OK(stat(path, &st), "current file");
	ASSERT_LE(st.st_size, 2000, "current file within the size");
	ASSERT_OK(stat(p1, &st), "FILE.1");
	ASSERT_LE(st.st_size, 2000, "FILE.1 within the size");
	ASSERT_OK(stat(p2, &st), "FILE.2");
	ASSERT_TRUE(stat(p3, &st) && errno == ENOENT, "no FILE.3 with keep 2");
	ASSERT_EQ(count_lines(path) + count_lines(p1) + count_lines(p2) <= total, 1,
		  "lines are whole records");
	ASSERT_GT(count_lines(p1), 0, "rotated lines kept");
	/* SIGHUP after an external rotation: a fresh file */
	unlink(path);
	ASSERT_OK(ft_flowlog_reopen(l), "reopen");
	ASSERT_OK(stat(path, &st), "recreated");
	/* a symlink at the path is refused */
	ft_flowlog_close(l);
	l = NULL;
	unlink(path);
	ASSERT_OK(symlink("/etc/passwd", path), "symlink");
	l = ft_flowlog_open(path, 0, 0, &err);
	ASSERT_TRUE(!l && err == -ELOOP, "symlink refused");
	unlink(path);
out:
	ft_flowlog_close(l);
	unlink(p1);
	unlink(p2);
	rmdir(dir);
	fake_fini(&f);
	test_end();
}

static void test_config(void)
{
	static const struct {
		const char *name, *text, *err; /* err: NULL if valid, else a substring */
	} cases[] = {
	    {"empty", "", NULL},
	    {"comments", "# c\n\n   # indented\ninterval = 5s\n", NULL},
	    {"all_keys",
	     "interface = lo\nhook = tc\ninterval = 2.5\nsyslog = yes\nsyslog_top = 3\n"
	     "syslog_facility = local3\nsyslog_max_lines = 50\nsyslog_ended = on\n"
	     "flow_log = /tmp/x.jsonl\nflow_log_max_size = 10M\nflow_log_keep = 3\nhttp_log = yes\n"
	     "ipfix = 127.0.0.1:4739\nipfix_transport = tcp\nipfix_domain = 7\n"
	     "ipfix_template_refresh = 30s\nmetrics = [::1]:9477\ncontainers = no\n"
	     "keep = true\ncheckpoint = off\nflow_table_size = 1000\n"
	     "idle_timeout_tcp = 1h\nidle_timeout_udp = 2m\nidle_timeout_icmp = 30\n"
	     "idle_timeout_other = 60\ntcp_fin_timeout = 10\ntcp_rst_timeout = 5\n"
	     "active_timeout = 30m\ntable_high_water = 95\ntable_low_water = 85\n",
	     NULL},
	    {"crlf", "interval = 5\r\n", NULL},
	    {"unknown", "intervall = 5\n", "cfg:1: unknown key 'intervall'"},
	    {"no_equals", "interval\n", "cfg:1: expected 'key = value'"},
	    {"bad_duration", "\nactive_timeout = forever\n", "cfg:2: active_timeout: 'forever'"},
	    {"zero_duration", "idle_timeout_udp = 0\n", "not a duration"},
	    {"negative", "syslog_top = -1\n", "invalid value '-1' for syslog_top"},
	    {"too_big", "flow_log_keep = 1001\n", "(0..1000)"},
	    {"bad_bool", "keep = maybe\n", "invalid value 'maybe' for keep"},
	    {"bad_iface", "interface = nosuch0\n", "no such interface 'nosuch0'"},
	    {"bad_addr", "ipfix = host\n", "invalid value 'host' for ipfix"},
	    {"bad_facility", "syslog_facility = kern\n", "for syslog_facility"},
	    {"water", "table_high_water = 50\ntable_low_water = 60\n", "above table_high_water"},
	    {"nul", "interval = 5\0x\n", "NUL byte"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ft_run_config c;
		char err[512] = "";
		size_t len = strlen(cases[i].text);
		int ret;

		if (!test_start("config/%s", cases[i].name))
			continue;
		if (!strcmp(cases[i].name, "nul"))
			len = 15;
		ft_run_config_default(&c);
		ret = ft_config_parse(&c, cases[i].text, len, "cfg", err, sizeof(err));
		if (!cases[i].err) {
			ASSERT_OK(ret, err);
		} else if (ASSERT_EQ(ret, -EINVAL, "rejected")) {
			if (!strstr(err, cases[i].err))
				test_fail("error '%s' lacks '%s'", err, cases[i].err);
		}
		if (!strcmp(cases[i].name, "all_keys") && !ret) {
			ASSERT_EQ(c.ifaces.n, 1, "iface");
			ASSERT_EQ(c.hook, FT_RUN_HOOK_TC, "hook");
			ASSERT_EQ((long)(c.interval * 10), 25, "interval");
			ASSERT_EQ(c.sl.facility, LOG_LOCAL3, "facility");
			ASSERT_EQ(c.flow_log_size, 10 << 20, "size");
			ASSERT_TRUE(c.ipfix && c.ipfix_tcp && c.metrics && c.keep, "flags");
			ASSERT_FALSE(c.checkpoint, "checkpoint off");
			ASSERT_EQ((long)c.coll.to.idle_tcp, 3600, "idle tcp");
			ASSERT_EQ((long)c.coll.to.idle_udp, 120, "idle udp");
			ASSERT_EQ((long)c.coll.to.active, 1800, "active");
			ASSERT_EQ(c.coll.high_water, 95, "high water");
		}
		test_end();
	}
}

/* ---- against a real per-CPU hash map (root, bpffs) ---- */

static char bpf_root[128];

static bool bpf_setup(void)
{
	struct statfs st;

	if (geteuid() || statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC)
		return false;
	snprintf(bpf_root, sizeof(bpf_root), "/sys/fs/bpf/ftt-unit-%d", getpid());
	return !mkdir(bpf_root, 0700);
}

static void bpf_teardown(void)
{
	DIR *d = opendir(bpf_root);
	struct dirent *de;
	char path[512];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", bpf_root, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(bpf_root);
}

/* The datapath's two maps, pinned like the loader pins them. */
static int bpf_maps(__u32 flows, int *flows_fd)
{
	char path[256];
	int fd, ifd;

	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "ft_flows", sizeof(struct ft_flow_key),
			    sizeof(struct ft_flow_val), flows, NULL);
	ifd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "ft_ifstats", sizeof(struct ft_if_key),
			     sizeof(struct ft_if_stats), 16, NULL);
	if (fd < 0 || ifd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/ft_flows", bpf_root);
	if (bpf_obj_pin(fd, path))
		return -errno;
	snprintf(path, sizeof(path), "%s/ft_ifstats", bpf_root);
	if (bpf_obj_pin(ifd, path))
		return -errno;
	close(ifd);
	*flows_fd = fd;
	return 0;
}

/* Puts a flow spread over the CPUs: cpu i holds (i+1)*scale packets. */
static int bpf_put(int fd, const struct ft_flow_key *k, __u64 first, __u64 now, __u64 scale)
{
	int ncpu = ft_ncpus(), i, err;
	struct ft_flow_val *v = calloc(ncpu, sizeof(*v));

	for (i = 0; i < ncpu; i++) {
		v[i].packets = (i + 1) * scale;
		v[i].bytes = (i + 1) * 100 * scale;
		v[i].first_ns = first;
		v[i].last_ns = now - i;
	}
	err = bpf_map_update_elem(fd, k, v, BPF_ANY) ? -errno : 0;
	free(v);
	return err;
}

static __u64 mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * S + ts.tv_nsec;
}

static void test_bpf_drain(void)
{
	struct ft_coll_cfg cfg;
	struct ft_collector c = {.core = NULL};
	struct ft_flow_key k1 = key(IPPROTO_UDP, 100), k2 = key(IPPROTO_UDP, 101);
	int ncpu = ft_ncpus(), fd = -1;
	__u64 want = (__u64)ncpu * (ncpu + 1) / 2, pk, t1;
	void *vals = calloc(ncpu, sizeof(struct ft_flow_val));
	size_t i;

	if (!test_start("collector/bpf_drain_and_restart"))
		return;
	if (!bpf_setup()) {
		test_skip("needs root and a bpffs at /sys/fs/bpf");
		goto out;
	}
	if (!ASSERT_OK(bpf_maps(1024, &fd), "maps"))
		goto out;
	ft_coll_cfg_default(&cfg);
	cfg.to.idle_udp = 0.5;
	t1 = mono();
	bpf_put(fd, &k1, t1, t1, 1);
	bpf_put(fd, &k2, t1, t1, 1);
	if (!ASSERT_OK(ft_collector_open(&c, bpf_root, &cfg, true), "open"))
		goto out;
	if (!ASSERT_OK(ft_collector_cycle(&c, false), "cycle"))
		goto out;
	if (!ASSERT_EQ(c.rep.nrecs, 2, "two flows"))
		goto out;
	for (pk = 0, i = 0; i < c.rep.nrecs; i++)
		pk += ft_cflow_dpackets(c.rep.recs[i]);
	ASSERT_EQ(pk, 2 * want, "per-CPU values summed");
	ASSERT_OK(ft_collector_commit(&c), "commit");
	ft_collector_close(&c);

	/* a new collector (a restart) continues from the checkpoint */
	bpf_put(fd, &k1, t1, mono(), 2); /* k1 grows; k2 idles out */
	usleep(600000);
	bpf_put(fd, &k1, t1, mono(), 3);
	if (!ASSERT_OK(ft_collector_open(&c, bpf_root, &cfg, true), "reopen") ||
	    !ASSERT_OK(ft_collector_cycle(&c, false), "cycle 2"))
		goto out;
	for (i = 0; i < c.rep.nrecs; i++) {
		const struct ft_cflow *f = c.rep.recs[i];

		if (f->f.key.sport == 100) {
			ASSERT_EQ(ft_cflow_dpackets(f), 2 * want, "k1: only the new packets");
			ASSERT_EQ(f->reason, FT_END_NONE, "k1 goes on");
		} else {
			ASSERT_EQ(ft_cflow_dpackets(f), 0, "k2: nothing new");
			ASSERT_EQ(f->reason, FT_END_IDLE, "k2 idled out");
		}
	}
	ASSERT_EQ(c.rep.nrecs, 2, "records");
	ASSERT_EQ(c.rep.st->kernel_deleted, 1, "k2 deleted from the kernel");
	ASSERT_TRUE(bpf_map_lookup_elem(fd, &k2, vals) && errno == ENOENT, "k2 gone");
	ASSERT_OK(ft_collector_commit(&c), "commit 2");
out:
	ft_collector_close(&c);
	free(vals);
	if (fd >= 0)
		close(fd);
	if (bpf_root[0])
		bpf_teardown();
	test_end();
}

/* Fills the table with n flows, one slot per CPU holding `packets`. */
static int bench_fill(int fd, unsigned long n, __u64 packets, __u64 first, __u64 last)
{
	int ncpu = ft_ncpus();
	struct ft_flow_key *keys = calloc(4096, sizeof(*keys));
	struct ft_flow_val *vals = calloc((size_t)4096 * ncpu, sizeof(*vals));
	unsigned long j;
	int err = 0;

	if (!keys || !vals)
		err = -ENOMEM;
	for (j = 0; j < n && !err;) {
		__u32 cnt = 0, m;

		for (; cnt < 4096 && j < n; cnt++, j++) {
			keys[cnt] = key(IPPROTO_UDP, j & 0xffff);
			memcpy(keys[cnt].src + 4, &j, sizeof(__u32));
			for (m = 0; m < (__u32)ncpu; m++)
				vals[(size_t)cnt * ncpu + m] =
				    (struct ft_flow_val){.packets = packets,
							 .bytes = 100 * packets,
							 .first_ns = first,
							 .last_ns = last};
		}
		if (bpf_map_update_batch(fd, keys, vals, &cnt, NULL))
			err = -errno;
	}
	free(keys);
	free(vals);
	return err;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * --bench N...: one drain-and-summarise cycle over N flows that all had
 * traffic since the last: drain (read, deltas, expiry), the syslog lines
 * and the checkpoint commit, as wall and CPU time (user + system, all
 * threads); and the peak RSS of the process.
 */
static int bench(int argc, char **argv)
{
	int i;

	if (!bpf_setup()) {
		fprintf(stderr, "bench: needs root and a bpffs at /sys/fs/bpf\n");
		return 1;
	}
	printf("%10s %10s %10s %10s %10s %10s %10s\n", "flows", "drain_ms", "drain_cpu", "sinks_ms",
	       "commit_ms", "cycle_cpu", "rss_MiB");
	for (i = 0; i < argc; i++) {
		unsigned long n = strtoul(argv[i], NULL, 0);
		struct ft_syslog_cfg sl = {.top = 10, .max_lines = 100};
		struct ft_coll_cfg cfg;
		struct ft_collector c;
		struct lines ls;
		struct rusage ru;
		double c0, t1, t2, t3;
		__u64 now = mono();
		int fd, round;

		bpf_teardown();
		mkdir(bpf_root, 0700);
		if (bpf_maps(n + n / 8 + 16, &fd) || bench_fill(fd, n, 1, now, now)) {
			fprintf(stderr, "bench: maps: %s\n", strerror(errno));
			return 1;
		}
		ft_coll_cfg_default(&cfg);
		if (ft_collector_open(&c, bpf_root, &cfg, true))
			return 1;
		for (round = 0; round < 2; round++) {
			if (round)
				bench_fill(fd, n, 2, now, mono()); /* every flow moved on */
			c0 = cpu_ms();
			t1 = mono() / 1e6;
			ft_collector_cycle(&c, false);
			t2 = mono() / 1e6;
			ls.n = 0;
			ft_syslog_lines(&sl, &c.rep, collect_line, &ls);
			t3 = mono() / 1e6;
			ft_collector_commit(&c);
			if (!round)
				continue; /* the first cycle creates every flow */
			getrusage(RUSAGE_SELF, &ru);
			printf("%10lu %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", n, t2 - t1,
			       c.rep.st->drain_cpu_ns / 1e6, t3 - t2, mono() / 1e6 - t3,
			       cpu_ms() - c0, ru.ru_maxrss / 1024.0);
		}
		ft_collector_close(&c);
		close(fd);
	}
	bpf_teardown();
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "--bench"))
		return bench(argc - 2, argv + 2);
	if (i < argc && !strcmp(argv[i], "-v"))
		i++;
	if (i < argc)
		test_set_filter(argv[i]);
	test_deltas();
	test_timeouts();
	test_delete_remainder();
	test_delete_replaced();
	test_active();
	test_vanished();
	test_reincarnation();
	test_eviction();
	test_restore();
	test_index_churn();
	test_dedup();
	test_syslog_lines();
	test_record_json();
	test_rotation();
	test_config();
	test_bpf_drain();
	return test_exit_code();
}
