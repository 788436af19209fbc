// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rxattach: the receiving end of the veth benchmark. Turns GRO on (the
 * veth then has the NAPI context that XDP-redirected frames need, with or
 * without a program), attaches a private, unpinned copy of flowtap's XDP
 * or TC programs with a flow table sized for the run, prints "ready" and
 * holds until SIGINT/SIGTERM. It then prints what flowtap counted as JSON
 * (so bench/run can check that flowtap saw what the veth received and that
 * the flow table held every flow) and detaches.
 *
 * With --prefill N the flow table starts with the N flows `gen -n N` sends,
 * keyed by the real parser compiled for userspace, each already past its
 * TCP handshake: the measurement then sees the steady state of a full
 * table rather than a table filling up.
 *
 * The flowtap CLI attaches the same programs; this tool exists because a
 * benchmark also needs a table size and knobs the CLI does not expose, and
 * must leave no pins behind.
 */
#include <signal.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include "bench.h"
#include "opts.h"
#include "flowtap.h"
#include "parse.h"
#include "pkt.h"
#include "flowtap_xdp.skel.h"
#include "flowtap_tc.skel.h"
#include "bare.skel.h"

/* bare_*: programs that only return, for what the hook itself costs. */
enum rx_prog { RX_NONE, RX_XDP, RX_TC, RX_BARE_XDP, RX_BARE_TC };
static const char *const rx_prog_names[] = {"none", "xdp", "tc", "bare_xdp", "bare_tc", NULL};
enum rx_mode { RX_NATIVE, RX_SKB };
static const char *const rx_mode_names[] = {"native", "skb", NULL};

struct rx_cfg {
	struct ft_iface_list dev;
	int prog;
	int mode;
	unsigned long table;
	unsigned long prefill;
	bool no_gro;
};

struct rx_state {
	struct flowtap_xdp *xdp;
	struct flowtap_tc *tc;
	struct bare *bare;
	bool tc_attached;
	struct bpf_tc_hook hook;
	int ifindex;
	int xdp_flags;
};

static volatile sig_atomic_t rx_stop;

static void rx_on_signal(int sig)
{
	(void)sig;
	rx_stop = 1;
}

static int rx_prepare(struct bpf_object *obj, struct bpf_map *flows, unsigned long table)
{
	int err = bench_unpin_maps(obj);

	if (!err)
		err = bpf_map__set_max_entries(flows, (__u32)table);
	return err;
}

/* As `flowtap attach` does: the interface's counters get an array slot. */
static int rx_claim_slot(struct bpf_map *ifslot, int ifindex)
{
	__u32 slot = (__u32)ifindex & (FT_IFSLOTS - 1), me = (__u32)ifindex;

	return bpf_map_update_elem(bpf_map__fd(ifslot), &slot, &me, BPF_ANY) ? -errno : 0;
}

static int rx_xdp_prog(struct rx_state *s, const struct rx_cfg *c, int fd)
{
	int err;

	s->xdp_flags = c->mode == RX_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	err =
	    bpf_xdp_attach(s->ifindex, fd, (__u32)s->xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		pr_err("cannot attach XDP: %s\n", strerror(-err));
		s->xdp_flags = 0;
	}
	return err;
}

static int rx_attach_xdp(struct rx_state *s, const struct rx_cfg *c)
{
	int err;

	s->xdp = flowtap_xdp__open();
	if (!s->xdp)
		return -errno;
	err = rx_prepare(s->xdp->obj, s->xdp->maps.ft_flows, c->table);
	if (!err)
		err = flowtap_xdp__load(s->xdp);
	if (!err)
		err = rx_claim_slot(s->xdp->maps.ft_ifslot, s->ifindex);
	if (err)
		return err;
	return rx_xdp_prog(s, c, bpf_program__fd(s->xdp->progs.flowtap_xdp));
}

static int rx_tc_progs(struct rx_state *s, int in_fd, int eg_fd)
{
	LIBBPF_OPTS(bpf_tc_opts, in, .handle = 1, .priority = 1);
	LIBBPF_OPTS(bpf_tc_opts, eg, .handle = 1, .priority = 1);
	int err;

	s->hook = (struct bpf_tc_hook){.sz = sizeof(s->hook),
				       .ifindex = s->ifindex,
				       .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS};
	err = bpf_tc_hook_create(&s->hook);
	if (err && err != -EEXIST)
		return err;
	s->tc_attached = true;
	in.prog_fd = in_fd;
	eg.prog_fd = eg_fd;
	s->hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_attach(&s->hook, &in);
	s->hook.attach_point = BPF_TC_EGRESS;
	if (!err)
		err = bpf_tc_attach(&s->hook, &eg);
	s->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	if (err)
		pr_err("cannot attach TC: %s\n", strerror(-err));
	return err;
}

static int rx_attach_tc(struct rx_state *s, const struct rx_cfg *c)
{
	int err;

	s->tc = flowtap_tc__open();
	if (!s->tc)
		return -errno;
	err = rx_prepare(s->tc->obj, s->tc->maps.ft_flows, c->table);
	if (!err)
		err = flowtap_tc__load(s->tc);
	if (!err)
		err = rx_claim_slot(s->tc->maps.ft_ifslot, s->ifindex);
	if (err)
		return err;
	return rx_tc_progs(s, bpf_program__fd(s->tc->progs.flowtap_tc_ingress),
			   bpf_program__fd(s->tc->progs.flowtap_tc_egress));
}

static int rx_attach_bare(struct rx_state *s, const struct rx_cfg *c)
{
	int fd;

	s->bare = bare__open_and_load();
	if (!s->bare)
		return -errno;
	if (c->prog == RX_BARE_XDP)
		return rx_xdp_prog(s, c, bpf_program__fd(s->bare->progs.bare_xdp));
	fd = bpf_program__fd(s->bare->progs.bare_tc);
	return rx_tc_progs(s, fd, fd);
}

static void rx_detach(struct rx_state *s)
{
	if (s->xdp_flags)
		bpf_xdp_detach(s->ifindex, (__u32)s->xdp_flags, NULL);
	if (s->tc_attached)
		bpf_tc_hook_destroy(&s->hook);
	flowtap_xdp__destroy(s->xdp);
	flowtap_tc__destroy(s->tc);
	bare__destroy(s->bare);
}

#define RX_BATCH 4096

static int rx_flush(int fd, struct ft_flow_key *keys, void *vals, __u32 *n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count = *n;
	int err = 0;

	if (count && bpf_map_update_batch(fd, keys, vals, &count, &o))
		err = -errno;
	*n = 0;
	return err;
}

/* Puts the flows that gen sends for n flows into the table. */
static int rx_prefill(struct bpf_map *flows, int ifindex, __u32 n)
{
	struct bench_plan_ent plan[BENCH_NSHAPES];
	size_t np = bench_plan(n, -1, plan), i;
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(flows), err = 0, c;
	struct ft_flow_key *keys = calloc(RX_BATCH, sizeof(*keys));
	struct ft_flow_val *vals = calloc((size_t)RX_BATCH * (size_t)ncpu, sizeof(*vals));
	__u64 now = (__u64)(bench_now() * 1e9);
	/* As NET_IP_ALIGN in the kernel: the frame 2 bytes past an 8-byte
	 * boundary, so ft_parse reads the IP and L4 headers aligned. */
	_Alignas(8) __u8 buf[2 + BENCH_PKT_MAX];
	__u8 *pkt = buf + 2;
	__u32 k = 0, f;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < np && !err; i++) {
		const struct bench_shape *s = &bench_mix[plan[i].shape];

		for (f = plan[i].base; f < plan[i].base + plan[i].count && !err; f++) {
			size_t len = bench_build(s, f, pkt);
			struct ft_parse_in in = {
			    .data = pkt, .data_end = pkt + len, .pkt_len = (__u32)len};
			struct ft_parsed pp = {};

			ft_parse(&in, &pp);
			pp.key.ifindex = (__u32)ifindex;
			pp.key.dir = FT_DIR_INGRESS;
			keys[k] = pp.key;
			for (c = 0; c < ncpu; c++)
				vals[(size_t)k * (size_t)ncpu + (size_t)c] =
				    (struct ft_flow_val){.packets = 8,
							 .bytes = 8 * len,
							 .first_ns = now,
							 .last_ns = now,
							 .tcp_flags = pp.tcp_flags};
			if (++k == RX_BATCH)
				err = rx_flush(fd, keys, vals, &k);
		}
	}
	if (!err)
		err = rx_flush(fd, keys, vals, &k);
	if (err)
		pr_err("cannot prefill the flow table: %s\n", strerror(-err));
out:
	free(keys);
	free(vals);
	return err;
}

/* Entries in the flow table; one syscall per entry, done after the run. */
static __u64 rx_count_flows(int fd)
{
	struct ft_flow_key k, next;
	__u64 n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* Ingress counters: from the claimed slot (2 * slot + ingress). */
static void rx_print_counts(struct bpf_map *slots, struct bpf_map *flows, int ifindex)
{
	__u32 idx = ((__u32)ifindex & (FT_IFSLOTS - 1)) * 2 + FT_DIR_INGRESS;
	int ncpu = libbpf_num_possible_cpus(), i;
	struct ft_if_stats *v = calloc((size_t)ncpu, sizeof(*v));
	__u64 pkts = 0, overflow = 0;

	if (v && !bpf_map_lookup_elem(bpf_map__fd(slots), &idx, v))
		for (i = 0; i < ncpu; i++) {
			pkts += v[i].cls[FT_CLASS_IPV4].packets + v[i].cls[FT_CLASS_IPV6].packets;
			overflow += v[i].flow_overflow;
		}
	printf("{\"flowtap_ip_packets\":%llu,\"flow_overflow\":%llu,\"flows\":%llu}\n",
	       (unsigned long long)pkts, (unsigned long long)overflow,
	       (unsigned long long)rx_count_flows(bpf_map__fd(flows)));
	free(v);
}

static int rx_run(void *cfgp, int argc, char **argv)
{
	struct rx_cfg *c = cfgp;
	struct rx_state s = {};
	const char *ifname;
	int err = 0;

	(void)argc;
	(void)argv;
	if (c->dev.n != 1) {
		pr_err("rxattach: one --dev is required\n");
		return 2;
	}
	if (!c->table)
		c->table = 1 << 20;
	libbpf_set_print(bench_libbpf_print);
	s.ifindex = c->dev.v[0].ifindex;
	ifname = c->dev.v[0].name;
	signal(SIGINT, rx_on_signal);
	signal(SIGTERM, rx_on_signal);

	err = bench_set_gro(ifname, !c->no_gro);
	if (err)
		pr_warn("cannot set GRO on %s: %s\n", ifname, strerror(-err));
	if (c->prog == RX_XDP)
		err = rx_attach_xdp(&s, c);
	else if (c->prog == RX_TC)
		err = rx_attach_tc(&s, c);
	else if (c->prog != RX_NONE)
		err = rx_attach_bare(&s, c);
	if (!err && c->prefill && (s.xdp || s.tc))
		err = rx_prefill(s.xdp ? s.xdp->maps.ft_flows : s.tc->maps.ft_flows, s.ifindex,
				 (__u32)c->prefill);
	if (err)
		goto out;
	printf("ready\n");
	fflush(stdout);
	while (!rx_stop)
		pause();
	if (s.xdp)
		rx_print_counts(s.xdp->maps.ft_ifstats_slots, s.xdp->maps.ft_flows, s.ifindex);
	if (s.tc)
		rx_print_counts(s.tc->maps.ft_ifstats_slots, s.tc->maps.ft_flows, s.ifindex);
out:
	rx_detach(&s);
	return err ? 1 : 0;
}

static const struct ft_opt rx_opts[] = {
    {"dev", 'i', FT_OPT_IFACE, offsetof(struct rx_cfg, dev), "IFACE", "the receiving veth"},
    {"prog", 'p', FT_OPT_CHOICE, offsetof(struct rx_cfg, prog), "none|xdp|tc|bare_xdp|bare_tc",
     "what to attach (default none)", rx_prog_names},
    {"mode", 'm', FT_OPT_CHOICE, offsetof(struct rx_cfg, mode), "native|skb",
     "XDP mode (default native)", rx_mode_names},
    {"table", 't', FT_OPT_UINT, offsetof(struct rx_cfg, table), "N",
     "flow table entries (default 1048576)", NULL, 1UL << 26},
    {"prefill", 0, FT_OPT_UINT, offsetof(struct rx_cfg, prefill), "N",
     "start with the flows of `gen -n N` in the table", NULL, BENCH_MAX_FLOWS},
    {"no-gro", 0, FT_OPT_FLAG, offsetof(struct rx_cfg, no_gro), NULL,
     "leave GRO off (XDP-redirected frames then need an XDP program here)"},
    FT_OPT_END,
};

static const struct ft_cmd rx_cmd = {
    .name = "rxattach",
    .summary = "attach a private flowtap to the receiving veth until SIGTERM",
    .opts = rx_opts,
    .cfg_size = sizeof(struct rx_cfg),
    .max_args = 0,
    .run = rx_run,
};

int main(int argc, char **argv)
{
	return ft_cmd_exec(&rx_cmd, argc, argv);
}
