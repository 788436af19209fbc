// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * nsbench: nanoseconds per packet of flowtap's XDP and TC programs under
 * BPF_PROG_TEST_RUN, beside programs that only return (bare.bpf.c), over
 * pkt.h's mix at several flow-table sizes.
 *
 * The flow table is filled to the target count first (flows are a prefix:
 * 0..N-1), then each pass cycles through distinct flows' packets, each run
 * with --repeat (1 by default, so consecutive packets belong to different
 * flows as on a busy link). The kernel's duration covers only its run loop,
 * which the bare programs measure alone; every program is measured in
 * every round, so differences and ratios come from the same round.
 *
 * With --profile it also runs knob variants of flowtap (rodata set before
 * load) and stages.bpf.c's partial programs, which together say where the
 * nanoseconds go.
 *
 * Runs in a private network namespace, where each XDP program is attached
 * in skb mode to a veth of its own: a test run of an XDP program attached
 * nowhere adds it to and removes it from the kernel's XDP dispatcher on
 * every call (~17 ms here). The namespace, and all of it, ends with us.
 */
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include "bench.h"
#include "pkt.h"
#include "opts.h"
#include "flowtap.h"
#include "flowtap_xdp.skel.h"
#include "flowtap_tc.skel.h"
#include "bare.skel.h"
#include "stages.skel.h"

#define NSB_MAX_PROGS	 24
#define NSB_MAX_FLOWSETS 8
#define NSB_HTTP_DRAIN	 1000 /* samples between ring drains; the ring holds ~1365 */
#define NSB_FILL_REPEAT	 8    /* packets per flow when filling: past the TCP handshake */

struct nsb_cfg {
	const char *flows;
	unsigned long reps;
	unsigned long runs;
	unsigned long repeat;
	unsigned long table;
	bool profile;
	bool smoke;
};

/* XDP variants of flowtap with different knobs, for the profile. */
struct nsb_variant {
	const char *name;
	__u8 flows_enabled;
	__u32 http_sample_rate;
	__u8 tcp_health;
};

static const struct nsb_variant nsb_variants[] = {
    {"xdp_no_http_sample", 1, 0, 1},
    {"xdp_no_tcp_health", 1, 1, 0},
    {"xdp_no_flows", 0, 1, 1},
    {"xdp_classify_only", 0, 0, 0},
};
#define NSB_NVARIANTS (sizeof(nsb_variants) / sizeof(nsb_variants[0]))

struct nsb_prog {
	const char *name;
	int fd;
	int xdp;
	int profile; /* only with --profile */
};

/* The packets of one pass: distinct flows, built once. */
struct nsb_set {
	const char *shape; /* a shape's name, or "mix" */
	size_t n;
	__u8 *buf;
	size_t *off;
	__u16 *len;
	__u8 *http;
};

struct nsb {
	const struct nsb_cfg *cfg;
	struct flowtap_xdp *xdp;
	struct flowtap_xdp *var[NSB_NVARIANTS];
	struct flowtap_tc *tc;
	struct bare *bare;
	struct stages *st;
	struct ring_buffer *rb;
	struct nsb_prog progs[NSB_MAX_PROGS];
	size_t nprogs;
	__u32 filled; /* flows 0..filled-1 are in the table */
	unsigned long http_since_drain;
};

static int nsb_discard_sample(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

static void nsb_add(struct nsb *b, const char *name, const struct bpf_program *p, int xdp,
		    int profile)
{
	if (b->nprogs < NSB_MAX_PROGS)
		b->progs[b->nprogs++] = (struct nsb_prog){name, bpf_program__fd(p), xdp, profile};
}

/* Every other object shares the first flowtap's maps: one flow table,
 * filled once, that all programs see (all of them key on lo, ingress). */
static int nsb_load_variant(struct nsb *b, size_t i)
{
	struct flowtap_xdp *v = flowtap_xdp__open();
	int err;

	if (!v)
		return -errno;
	b->var[i] = v;
	v->rodata->ft_flows_enabled = nsb_variants[i].flows_enabled;
	v->rodata->ft_http_sample_rate = nsb_variants[i].http_sample_rate;
	v->rodata->ft_tcp_health = nsb_variants[i].tcp_health;
	err = bench_unpin_maps(v->obj);
	if (!err)
		err = bench_share_maps(v->obj, b->xdp->obj);
	if (!err)
		err = flowtap_xdp__load(v);
	if (!err)
		nsb_add(b, nsb_variants[i].name, v->progs.flowtap_xdp, 1, 1);
	return err;
}

static int nsb_load(struct nsb *b)
{
	int err;
	size_t i;

	b->xdp = flowtap_xdp__open();
	b->tc = flowtap_tc__open();
	b->bare = bare__open_and_load();
	b->st = stages__open();
	if (!b->xdp || !b->tc || !b->bare || !b->st)
		return -ENOMEM;
	err = bench_unpin_maps(b->xdp->obj);
	if (!err)
		err = bpf_map__set_max_entries(b->xdp->maps.ft_flows, (__u32)b->cfg->table);
	if (!err)
		err = flowtap_xdp__load(b->xdp);
	if (!err)
		err = bench_unpin_maps(b->tc->obj);
	if (!err)
		err = bench_share_maps(b->tc->obj, b->xdp->obj);
	if (!err)
		err = flowtap_tc__load(b->tc);
	if (!err)
		err = bench_unpin_maps(b->st->obj);
	if (!err)
		err = bench_share_maps(b->st->obj, b->xdp->obj);
	if (!err)
		err = stages__load(b->st);
	if (!err) {
		/* As `flowtap attach` does: lo, where the test runs land, gets an
		 * array slot for its counters. */
		__u32 lo = 1;
		struct ft_if_key k = {.ifindex = lo, .dir = FT_DIR_INGRESS};
		void *zero = calloc((size_t)libbpf_num_possible_cpus(), sizeof(struct ft_if_stats));

		if (bpf_map_update_elem(bpf_map__fd(b->xdp->maps.ft_ifslot), &lo, &lo, BPF_ANY))
			err = -errno;
		/* An entry in the hash too, for st_ifstats (an interface without
		 * a slot); flowtap's programs never look there for lo. */
		if (!err && (!zero || bpf_map_update_elem(bpf_map__fd(b->xdp->maps.ft_ifstats), &k,
							  zero, BPF_NOEXIST)))
			err = zero ? -errno : -ENOMEM;
		free(zero);
	}
	if (err) {
		pr_err("cannot load the programs: %s\n", strerror(-err));
		return err;
	}
	nsb_add(b, "bare_xdp", b->bare->progs.bare_xdp, 1, 0);
	nsb_add(b, "flowtap_xdp", b->xdp->progs.flowtap_xdp, 1, 0);
	nsb_add(b, "bare_tc", b->bare->progs.bare_tc, 0, 0);
	nsb_add(b, "flowtap_tc", b->tc->progs.flowtap_tc_ingress, 0, 0);
	if (b->cfg->profile) {
		for (i = 0; i < NSB_NVARIANTS && !err; i++)
			err = nsb_load_variant(b, i);
		nsb_add(b, "st_parse", b->st->progs.st_parse, 1, 1);
		nsb_add(b, "st_clock", b->st->progs.st_clock, 1, 1);
		nsb_add(b, "st_clock_coarse", b->st->progs.st_clock_coarse, 1, 1);
		nsb_add(b, "st_ifstats", b->st->progs.st_ifstats, 1, 1);
		nsb_add(b, "st_ifarray", b->st->progs.st_ifarray_count, 1, 1);
		nsb_add(b, "st_flowlookup", b->st->progs.st_flowlookup, 1, 1);
	}
	if (err)
		return err;
	b->rb =
	    ring_buffer__new(bpf_map__fd(b->xdp->maps.ft_http_rb), nsb_discard_sample, NULL, NULL);
	return b->rb ? 0 : -errno;
}

/* Attaches each XDP program in skb mode to one end of a veth pair. */
static int nsb_attach_xdp(struct nsb *b)
{
	struct nl_sock *sk = nl_socket_alloc();
	char name[IF_NAMESIZE], peer[IF_NAMESIZE];
	int err = 0, k = 0;
	size_t i;

	if (!sk || nl_connect(sk, NETLINK_ROUTE)) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < b->nprogs && !err; i++) {
		int ifindex;

		if (!b->progs[i].xdp)
			continue;
		if (k % 2 == 0) {
			snprintf(name, sizeof(name), "nsb%d", k);
			snprintf(peer, sizeof(peer), "nsb%d", k + 1);
			err = rtnl_link_veth_add(sk, name, peer, getpid());
			if (err) {
				pr_err("cannot create veth %s: %s\n", name, nl_geterror(err));
				err = -EINVAL;
				break;
			}
		}
		snprintf(name, sizeof(name), "nsb%d", k++);
		ifindex = (int)if_nametoindex(name);
		err = bpf_xdp_attach(ifindex, b->progs[i].fd, XDP_FLAGS_SKB_MODE, NULL);
		if (err)
			pr_err("cannot attach %s: %s\n", b->progs[i].name, strerror(-err));
	}
out:
	nl_socket_free(sk);
	return err;
}

static int nsb_run_one(int fd, const __u8 *pkt, __u32 len, __u32 repeat, __u32 want, __u32 *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o)) {
		pr_err("test run failed: %s\n", strerror(errno));
		return -errno;
	}
	if (o.retval != want) {
		pr_err("unexpected verdict %u (want %u)\n", o.retval, want);
		return -EINVAL;
	}
	*ns = o.duration;
	return 0;
}

static void nsb_note_http(struct nsb *b, unsigned long samples)
{
	b->http_since_drain += samples;
	if (b->http_since_drain >= NSB_HTTP_DRAIN / 2) {
		ring_buffer__consume(b->rb);
		b->http_since_drain = 0;
	}
}

/* Adds flows [b->filled, n) to the table through flowtap's XDP program. */
static int nsb_fill(struct nsb *b, __u32 n)
{
	__u8 pkt[BENCH_PKT_MAX];
	__u32 ns;
	int err;

	for (; b->filled < n; b->filled++) {
		const struct bench_shape *s = &bench_mix[bench_shape_of(b->filled)];
		size_t len = bench_build(s, b->filled, pkt);

		err = nsb_run_one(b->progs[1].fd, pkt, (__u32)len, NSB_FILL_REPEAT, XDP_PASS, &ns);
		if (err)
			return err;
		if (s->http)
			nsb_note_http(b, NSB_FILL_REPEAT);
	}
	return 0;
}

static void nsb_set_free(struct nsb_set *s)
{
	free(s->buf);
	free(s->off);
	free(s->len);
	free(s->http);
	memset(s, 0, sizeof(*s));
}

/* The set holds count flows spread evenly over 0..nflows-1, or, when
 * shape >= 0, that shape's first flow only. */
static int nsb_set_build(struct nsb_set *set, __u32 nflows, size_t count, int shape)
{
	size_t i, used = 0;

	if (shape >= 0)
		count = 1;
	if (count > nflows)
		count = nflows;
	set->shape = shape >= 0 ? bench_mix[shape].name : "mix";
	set->n = count;
	for (i = 0; i < count; i++)
		used +=
		    bench_shape_len(&bench_mix[bench_shape_of((__u32)((__u64)i * nflows / count))]);
	set->buf = malloc(shape >= 0 ? BENCH_PKT_MAX : used);
	used = 0;
	set->off = calloc(count, sizeof(*set->off));
	set->len = calloc(count, sizeof(*set->len));
	set->http = calloc(count, 1);
	if (!set->buf || !set->off || !set->len || !set->http)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		__u32 f = (__u32)((__u64)i * nflows / count);
		const struct bench_shape *s;

		if (shape >= 0) {
			for (f = 0; bench_shape_of(f) != (unsigned int)shape; f++)
				;
		}
		s = &bench_mix[bench_shape_of(f)];
		set->off[i] = used;
		set->len[i] = (__u16)bench_build(s, f, set->buf + used);
		set->http[i] = s->http != NULL;
		used += set->len[i];
	}
	return 0;
}

/* Mean ns/packet of one program over runs test runs cycling through set. */
static int nsb_pass(struct nsb *b, const struct nsb_prog *p, const struct nsb_set *set,
		    double *mean)
{
	__u32 want = p->xdp ? XDP_PASS : (__u32)TC_ACT_UNSPEC, ns, repeat = (__u32)b->cfg->repeat;
	double sum = 0;
	unsigned long k;
	size_t i = 0;
	int err;

	for (k = 0; k < b->cfg->runs; k++) {
		err = nsb_run_one(p->fd, set->buf + set->off[i], set->len[i], repeat, want, &ns);
		if (err)
			return err;
		sum += ns;
		if (set->http[i])
			nsb_note_http(b, repeat);
		if (++i == set->n)
			i = 0;
	}
	*mean = sum / (double)b->cfg->runs;
	return 0;
}

static void nsb_emit(const struct nsb *b, __u32 flows, unsigned long rep, const char *prog,
		     const char *shape, double ns)
{
	printf("{\"bench\":\"nsbench\",\"flows\":%u,\"table\":%lu,\"rep\":%lu,\"prog\":\"%s\","
	       "\"shape\":\"%s\",\"repeat\":%lu,\"runs\":%lu,\"ns\":%.2f}\n",
	       flows, b->cfg->table, rep, prog, shape, b->cfg->repeat, b->cfg->runs, ns);
}

/*
 * One round at one flow count: every program over every set. With one flow
 * the sets are the shapes, one flow each, and the mix's figure is their
 * weighted mean; otherwise one set of distinct flows across the table.
 */
static int nsb_round(struct nsb *b, __u32 flows, struct nsb_set *sets, size_t nsets,
		     unsigned long rep, double *out)
{
	size_t i, j;
	int err;

	for (i = 0; i < b->nprogs; i++) {
		double mix = 0, ns;

		for (j = 0; j < nsets; j++) {
			err = nsb_pass(b, &b->progs[i], &sets[j], &ns);
			if (err)
				return err;
			if (nsets > 1) {
				nsb_emit(b, flows, rep, b->progs[i].name, sets[j].shape, ns);
				mix += ns * bench_mix[j].weight / 100.0;
			} else {
				mix = ns;
			}
		}
		nsb_emit(b, flows, rep, b->progs[i].name, "mix", mix);
		out[i] = mix;
	}
	fflush(stdout);
	return 0;
}

static void nsb_summary(const struct nsb *b, __u32 flows, double res[][NSB_MAX_PROGS],
			unsigned long reps)
{
	double v[64], med[NSB_MAX_PROGS];
	unsigned long r;
	size_t i;

	for (i = 0; i < b->nprogs; i++) {
		for (r = 0; r < reps && r < 64; r++)
			v[r] = res[r][i];
		med[i] = bench_median(v, r);
	}
	fprintf(stderr, "%u flows (median of %lu):\n", flows, reps);
	for (i = 0; i < b->nprogs; i++) {
		double base = b->progs[i].xdp ? med[0] : med[2];

		fprintf(stderr, "  %-20s %8.1f ns/pkt  %+8.1f over bare %s\n", b->progs[i].name,
			med[i], med[i] - base, b->progs[i].xdp ? "XDP" : "TC");
	}
}

static int nsb_flow_count(struct nsb *b, __u32 flows)
{
	static double res[64][NSB_MAX_PROGS];
	struct nsb_set sets[BENCH_NSHAPES] = {};
	size_t nsets = 0, i;
	unsigned long rep;
	int err;

	err = nsb_fill(b, flows);
	if (flows == 1) {
		for (i = 0; i < BENCH_NSHAPES && !err; i++)
			err = nsb_set_build(&sets[nsets++], 1, 1, (int)i);
	} else if (!err) {
		err = nsb_set_build(&sets[nsets++], flows, b->cfg->runs, -1);
	}
	/* The per-shape flows were filled too: flow 0..99 holds each shape. */
	if (!err && flows == 1)
		err = nsb_fill(b, 100);
	for (rep = 0; rep < b->cfg->reps && !err; rep++)
		err = nsb_round(b, flows, sets, nsets, rep, res[rep < 64 ? rep : 63]);
	if (!err)
		nsb_summary(b, flows, res, b->cfg->reps);
	for (i = 0; i < nsets; i++)
		nsb_set_free(&sets[i]);
	return err;
}

/* Parses "1,10000,1000000" into ascending counts. */
static int nsb_parse_flows(const char *s, __u32 *out, size_t max, size_t *n)
{
	char buf[256], *tok, *save = NULL;
	unsigned long v;

	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == max || ft_parse_uint(tok, BENCH_MAX_FLOWS, &v) || !v ||
		    (*n && v <= out[*n - 1])) {
			pr_err("nsbench: --flows wants ascending counts like 1,10000,1000000\n");
			return -EINVAL;
		}
		out[(*n)++] = (__u32)v;
	}
	return *n ? 0 : -EINVAL;
}

static void nsb_destroy(struct nsb *b)
{
	size_t i;

	ring_buffer__free(b->rb);
	for (i = 0; i < NSB_NVARIANTS; i++)
		flowtap_xdp__destroy(b->var[i]);
	stages__destroy(b->st);
	bare__destroy(b->bare);
	flowtap_tc__destroy(b->tc);
	flowtap_xdp__destroy(b->xdp);
}

static void nsb_defaults(struct nsb_cfg *c)
{
	if (c->smoke) {
		c->flows = c->flows ? c->flows : "1,1000";
		c->reps = c->reps ? c->reps : 1;
		c->runs = c->runs ? c->runs : 2000;
		c->table = c->table ? c->table : 4096;
	}
	c->flows = c->flows ? c->flows : "1,10000,1000000";
	c->reps = c->reps ? c->reps : 5;
	c->runs = c->runs ? c->runs : 200000;
	c->repeat = c->repeat ? c->repeat : 1;
	c->table = c->table ? c->table : 1 << 20;
}

static int nsb_run(void *cfgp, int argc, char **argv)
{
	struct nsb_cfg *c = cfgp;
	struct nsb b = {.cfg = c};
	__u32 flows[NSB_MAX_FLOWSETS];
	size_t nflows, i;
	int err;

	(void)argc;
	(void)argv;
	nsb_defaults(c);
	if (nsb_parse_flows(c->flows, flows, NSB_MAX_FLOWSETS, &nflows))
		return 2;
	if (flows[nflows - 1] + 100 > c->table) {
		pr_err("nsbench: a table of %lu entries cannot hold %u flows\n", c->table,
		       flows[nflows - 1]);
		return 2;
	}
	libbpf_set_print(bench_libbpf_print);
	if (unshare(CLONE_NEWNET)) {
		pr_err("nsbench: cannot create a network namespace: %s\n", strerror(errno));
		return 1;
	}
	bench_link_up("lo");
	err = nsb_load(&b);
	if (!err)
		err = nsb_attach_xdp(&b);
	for (i = 0; i < nflows && !err; i++)
		err = nsb_flow_count(&b, flows[i]);
	nsb_destroy(&b);
	return err ? 1 : 0;
}

static const struct ft_opt nsb_opts[] = {
    {"flows", 'n', FT_OPT_STRING, offsetof(struct nsb_cfg, flows), "N,N,..",
     "flow counts, ascending (default 1,10000,1000000)"},
    {"reps", 'r', FT_OPT_UINT, offsetof(struct nsb_cfg, reps), "N",
     "rounds per flow count; medians are over rounds (default 5)", NULL, 64},
    {"runs", 0, FT_OPT_UINT, offsetof(struct nsb_cfg, runs), "N",
     "test runs per program per round (default 200000)", NULL, 100000000},
    {"repeat", 0, FT_OPT_UINT, offsetof(struct nsb_cfg, repeat), "N",
     "kernel repeats of each packet per test run (default 1)", NULL, NSB_HTTP_DRAIN / 2},
    {"table", 't', FT_OPT_UINT, offsetof(struct nsb_cfg, table), "N",
     "flow table entries (default 1048576)", NULL, 1UL << 26},
    {"profile", 'p', FT_OPT_FLAG, offsetof(struct nsb_cfg, profile), NULL,
     "also run knob variants and partial programs (where the time goes)"},
    {"smoke", 0, FT_OPT_FLAG, offsetof(struct nsb_cfg, smoke), NULL,
     "a few seconds' check that everything runs"},
    FT_OPT_END,
};

static const struct ft_cmd nsb_cmd = {
    .name = "nsbench",
    .summary = "ns/packet of flowtap's programs under BPF_PROG_TEST_RUN; JSON lines",
    .opts = nsb_opts,
    .cfg_size = sizeof(struct nsb_cfg),
    .max_args = 0,
    .run = nsb_run,
};

int main(int argc, char **argv)
{
	return ft_cmd_exec(&nsb_cmd, argc, argv);
}
