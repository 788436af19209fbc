// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gen: a packet generator built on BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES (the technique of xdp-trafficgen). The kernel
 * runs gen.bpf.c on frames built from a template, and the program
 * redirects each one out of --dev after giving it the next flow's address
 * and port. The mix of pkt.h is sent as rounds of one run per shape, each
 * run as many frames as the shape's weight.
 *
 * With --rx-netns/--rx-dev it also reads the receiver's counters over the
 * measured window (after --warmup), which is what bench/run uses to compare
 * flowtap attached at the far end of a veth pair with no program at all.
 */
#include <math.h>
#include <signal.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include "bench.h"
#include "pkt.h"
#include "opts.h"
#include "gen.skel.h"

#define GEN_SLOTS 16 /* gen.bpf.c's templates */

struct gen_cfg {
	struct ft_iface_list dev;
	unsigned long flows;
	double duration;
	double warmup;
	const char *shape;
	const char *rx_netns;
	const char *rx_dev;
	unsigned long batch;
	unsigned long round;
	const char *label;
	unsigned long rx_pid;
};

/* One template: a shape, its flows and its frames per round. */
struct gen_tmpl {
	const struct bench_shape *s;
	__u8 pkt[BENCH_PKT_MAX];
	size_t len;
	__u32 base, count, per_round;
};

struct gen_counters {
	double t;
	__u64 sent;
	__u64 rx, rx_drop;
	__u64 rx_cpu_ns; /* on-CPU time of the receiver's NAPI thread */
};

static volatile sig_atomic_t gen_stop;

static void gen_on_signal(int sig)
{
	(void)sig;
	gen_stop = 1;
}

static int gen_shape_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < BENCH_NSHAPES; i++)
		if (!strcmp(bench_mix[i].name, name))
			return (int)i;
	return -1;
}

static size_t gen_plan(const struct gen_cfg *c, struct gen_tmpl *t, unsigned long round)
{
	struct bench_plan_ent plan[BENCH_NSHAPES];
	int only = c->shape ? gen_shape_by_name(c->shape) : -1;
	size_t n = bench_plan((__u32)c->flows, only, plan), i;

	for (i = 0; i < n; i++) {
		const struct bench_shape *s = &bench_mix[plan[i].shape];

		t[i] = (struct gen_tmpl){.s = s,
					 .base = plan[i].base,
					 .count = plan[i].count,
					 .per_round = s->weight * (__u32)round};
		t[i].len = bench_build(s, t[i].base, t[i].pkt);
	}
	return n;
}

static struct nl_sock *gen_rx_socket(const char *netns)
{
	struct nl_sock *sk = NULL;
	int self;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return NULL;
	if (bench_enter_netns(netns))
		goto out;
	sk = nl_socket_alloc();
	if (sk && nl_connect(sk, NETLINK_ROUTE)) {
		nl_socket_free(sk);
		sk = NULL;
	}
	if (setns(self, CLONE_NEWNET)) {
		pr_err("cannot return to the sender's namespace: %s\n", strerror(errno));
		if (sk)
			nl_socket_free(sk);
		sk = NULL;
	}
out:
	close(self);
	return sk;
}

/* Nanoseconds pid has run (the first field of /proc/PID/schedstat). */
static __u64 gen_cpu_ns(unsigned long pid)
{
	unsigned long long ns = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lu/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

static int gen_read_rx(struct nl_sock *sk, const struct gen_cfg *cfg, struct gen_counters *c)
{
	const char *dev = cfg->rx_dev;
	struct rtnl_link *link;

	if (!sk)
		return 0;
	if (rtnl_link_get_kernel(sk, 0, dev, &link) < 0) {
		pr_err("cannot read the counters of %s\n", dev);
		return -ENODEV;
	}
	c->rx = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS);
	c->rx_drop = rtnl_link_get_stat(link, RTNL_LINK_RX_DROPPED);
	rtnl_link_put(link);
	if (cfg->rx_pid)
		c->rx_cpu_ns = gen_cpu_ns(cfg->rx_pid);
	return 0;
}

static int gen_send(struct gen *skel, const struct gen_cfg *c, struct gen_tmpl *t, unsigned int i)
{
	/* The kernel wants data_end to match the frame it is given. */
	struct xdp_md ctx = {.data_end = (__u32)t->len,
			     .ingress_ifindex = (__u32)c->dev.v[0].ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t->pkt, .data_size_in = (__u32)t->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = t->per_round,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = (__u32)c->batch);
	int err;

	skel->bss->gen_flow_base = t->base;
	skel->bss->gen_flow_count = t->count;
	skel->bss->gen_slot = i;
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.gen_xdp), &o);
	if (err) {
		pr_err("live-frames test run failed: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

static void gen_report(const struct gen_cfg *c, const struct gen_counters *a,
		       const struct gen_counters *b)
{
	double dt = b->t - a->t;

	printf("{\"bench\":\"gen\",\"label\":\"%s\",\"flows\":%lu,\"seconds\":%.3f,"
	       "\"sent_pps\":%.0f",
	       c->label ? c->label : "", c->flows, dt, (b->sent - a->sent) / dt);
	if (c->rx_dev)
		printf(",\"rx_pps\":%.0f,\"rx_dropped_pps\":%.0f", (b->rx - a->rx) / dt,
		       (b->rx_drop - a->rx_drop) / dt);
	/* Packets per second of the receiver's own CPU time: unlike the rate,
	 * it does not fall when other work on the machine takes its CPU. */
	if (c->rx_pid && b->rx_cpu_ns > a->rx_cpu_ns)
		printf(",\"rx_cpu_share\":%.3f,\"rx_per_cpu_s\":%.0f",
		       (b->rx_cpu_ns - a->rx_cpu_ns) / 1e9 / dt,
		       (b->rx - a->rx) / ((b->rx_cpu_ns - a->rx_cpu_ns) / 1e9));
	printf("}\n");
	fflush(stdout);
}

static int gen_loop(struct gen *skel, const struct gen_cfg *c, struct gen_tmpl *t, size_t n,
		    struct nl_sock *rx)
{
	struct gen_counters cur = {}, start = {};
	double t0 = bench_now();
	int started = 0, err;
	size_t i;

	while (!gen_stop) {
		for (i = 0; i < n; i++) {
			err = gen_send(skel, c, &t[i], (unsigned int)i);
			if (err)
				return err;
			cur.sent += t[i].per_round;
		}
		cur.t = bench_now();
		if (!started && cur.t - t0 >= c->warmup) {
			err = gen_read_rx(rx, c, &cur);
			if (err)
				return err;
			start = cur;
			started = 1;
		}
		if (started && cur.t - t0 >= c->warmup + c->duration)
			break;
	}
	if (!started)
		return 0;
	cur.t = bench_now();
	err = gen_read_rx(rx, c, &cur);
	if (!err)
		gen_report(c, &start, &cur);
	return err;
}

/* Test runs of an XDP program attached nowhere add it to and remove it
 * from the kernel's XDP dispatcher each time (~17 ms here); attached to lo
 * in skb mode, where nothing flows, it stays there. */
static int gen_pin_dispatcher(struct gen *skel)
{
	int lo = (int)if_nametoindex("lo"), err;

	if (!lo)
		return -ENODEV;
	bench_link_up("lo");
	err = bpf_xdp_attach(lo, bpf_program__fd(skel->progs.gen_xdp), XDP_FLAGS_SKB_MODE, NULL);
	if (err)
		pr_err("cannot attach the generator to lo: %s\n", strerror(-err));
	return err;
}

static int gen_run(void *cfgp, int argc, char **argv)
{
	struct gen_cfg *c = cfgp;
	struct gen_tmpl t[GEN_SLOTS];
	struct nl_sock *rx = NULL;
	struct gen *skel;
	size_t n;
	int err = 1;

	(void)argc;
	(void)argv;
	if (!c->dev.n) {
		pr_err("gen: --dev is required\n");
		return 2;
	}
	if (c->shape && gen_shape_by_name(c->shape) < 0) {
		pr_err("gen: no shape '%s' in the mix\n", c->shape);
		return 2;
	}
	if (!c->flows)
		c->flows = 1;
	if (!c->duration)
		c->duration = 3;
	if (!c->batch)
		c->batch = 64;
	if (!c->round)
		c->round = 256;
	if (!!c->rx_netns != !!c->rx_dev) {
		pr_err("gen: --rx-netns and --rx-dev go together\n");
		return 2;
	}
	libbpf_set_print(bench_libbpf_print);
	n = gen_plan(c, t, c->round);

	skel = gen__open();
	if (!skel)
		return 1;
	skel->rodata->gen_ifindex = (__u32)c->dev.v[0].ifindex;
	if (gen__load(skel) || gen_pin_dispatcher(skel))
		goto out;
	if (c->rx_netns) {
		rx = gen_rx_socket(c->rx_netns);
		if (!rx)
			goto out;
	}
	signal(SIGINT, gen_on_signal);
	signal(SIGTERM, gen_on_signal);
	err = gen_loop(skel, c, t, n, rx) ? 1 : 0;
out:
	bpf_xdp_detach((int)if_nametoindex("lo"), XDP_FLAGS_SKB_MODE, NULL);
	if (rx)
		nl_socket_free(rx);
	gen__destroy(skel);
	return err;
}

static const struct ft_opt gen_opts[] = {
    {"dev", 'i', FT_OPT_IFACE, offsetof(struct gen_cfg, dev), "IFACE",
     "send out of IFACE (a veth whose peer receives)"},
    {"flows", 'n', FT_OPT_UINT, offsetof(struct gen_cfg, flows), "N",
     "distinct flows, dealt out over the mix by weight (default 1)", NULL, BENCH_MAX_FLOWS},
    {"duration", 'd', FT_OPT_DURATION, offsetof(struct gen_cfg, duration), "TIME",
     "measured time after the warm-up (default 3s)"},
    {"warmup", 'w', FT_OPT_DURATION, offsetof(struct gen_cfg, warmup), "TIME",
     "send this long before measuring (default 0)"},
    {"shape", 's', FT_OPT_STRING, offsetof(struct gen_cfg, shape), "NAME",
     "send only this shape of the mix (e.g. v4-udp-64)"},
    {"rx-netns", 0, FT_OPT_STRING, offsetof(struct gen_cfg, rx_netns), "NETNS",
     "namespace of the receiving device"},
    {"rx-dev", 0, FT_OPT_STRING, offsetof(struct gen_cfg, rx_dev), "IFACE",
     "receiving device whose counters give the received rate"},
    {"batch", 0, FT_OPT_UINT, offsetof(struct gen_cfg, batch), "N",
     "frames per kernel batch (default 64)", NULL, 256},
    {"round", 0, FT_OPT_UINT, offsetof(struct gen_cfg, round), "N",
     "frames per weight point per round (default 256)", NULL, 1 << 20},
    {"rx-pid", 0, FT_OPT_UINT, offsetof(struct gen_cfg, rx_pid), "PID",
     "the receiver's NAPI thread: also report packets per second of its CPU time"},
    {"label", 'l', FT_OPT_STRING, offsetof(struct gen_cfg, label), "TEXT",
     "copied into the JSON result"},
    FT_OPT_END,
};

static const struct ft_cmd gen_cmd = {
    .name = "gen",
    .summary = "send the benchmark mix with live XDP frames; print rates as JSON",
    .opts = gen_opts,
    .cfg_size = sizeof(struct gen_cfg),
    .max_args = 0,
    .run = gen_run,
};

int main(int argc, char **argv)
{
	return ft_cmd_exec(&gen_cmd, argc, argv);
}
