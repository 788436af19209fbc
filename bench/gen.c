// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gen: a packet generator built on BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES (the technique of xdp-trafficgen). The kernel
 * runs gen.bpf.c on frames built from a template, and the program
 * redirects each one out of --dev after giving it the next flow's address
 * and port. The mix of pkt.h is sent as rounds of one run per shape, each
 * run as many frames as the shape's weight.
 *
 * Some kernels refuse live-frame test runs (EPERM here: kernel lockdown in
 * integrity mode, or a missing capability). Then, or with --mode packet,
 * gen sends the same frames from userspace through an AF_PACKET socket
 * that bypasses the qdisc, patching each template for the next flow as
 * gen.bpf.c does. It is slower per frame than live frames, so it reports
 * which generator ran; the receiver's packets per CPU-second
 * (rx_per_cpu_s) stay comparable either way.
 *
 * With --rx-netns/--rx-dev it also reads the receiver's counters over the
 * measured window (after --warmup), which is what bench/run uses to compare
 * flowtap attached at the far end of a veth pair with no program at all.
 */
#include <math.h>
#include <signal.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include "bench.h"
#include "pkt.h"
#include "opts.h"
#include "gen.skel.h"

#define GEN_SLOTS 16 /* gen.bpf.c's templates */
#define GEN_MMSG  64 /* frames per sendmmsg() in packet mode */

enum gen_mode { GEN_AUTO, GEN_LIVE, GEN_PACKET };

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
	const char *mode_name;
	enum gen_mode mode;
	int pkt_fd; /* AF_PACKET socket in packet mode */
};

/* One template: a shape, its flows and its frames per round. */
struct gen_tmpl {
	const struct bench_shape *s;
	__u8 pkt[BENCH_PKT_MAX];
	size_t len;
	__u32 base, count, per_round;
	__u64 seq; /* packet mode: next flow of this template */
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

/* RFC 1624, on a byte buffer: the checksum at check after one 16-bit word
 * (network order, as read by memcpy) went from old to new. */
static void gen_csum_replace(__u8 *check, __u16 old, __u16 new)
{
	__u16 c;
	__u32 sum;

	memcpy(&c, check, 2);
	sum = (__u16)~c + (__u16)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	c = (__u16)~sum;
	memcpy(check, &c, 2);
}

/* Rewrites a copy of t's template (built for flow t->base) for flow n:
 * the low 16 bits of the source address and the source port, with their
 * checksums, as gen.bpf.c does in the kernel. */
static void gen_patch(const struct gen_tmpl *t, __u32 n, __u8 *f)
{
	size_t l3 = ETH_HLEN, l4 = l3 + (t->s->family == 4 ? 20 : 40);
	size_t lo_at = t->s->family == 4 ? l3 + 14 : l3 + 22;
	size_t l4_check = l4 + (t->s->proto == IPPROTO_TCP ? 16 : 6);
	__u16 old_lo, lo = htobe16(bench_flow_addr_lo(n));
	__u16 old_sp, sp = htobe16(bench_flow_sport(n));
	int l4_csum = t->s->family == 6 || t->s->proto == IPPROTO_TCP;

	memcpy(f, t->pkt, t->len);
	memcpy(&old_lo, f + lo_at, 2);
	memcpy(&old_sp, f + l4, 2);
	memcpy(f + lo_at, &lo, 2);
	memcpy(f + l4, &sp, 2);
	if (t->s->family == 4)
		gen_csum_replace(f + l3 + 10, old_lo, lo);
	if (l4_csum) {
		gen_csum_replace(f + l4_check, old_lo, lo);
		gen_csum_replace(f + l4_check, old_sp, sp);
		if (t->s->proto == IPPROTO_UDP && !f[l4_check] && !f[l4_check + 1])
			f[l4_check] = f[l4_check + 1] = 0xff;
	}
}

static int gen_packet_open(struct gen_cfg *c)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_ifindex = c->dev.v[0].ifindex, .sll_protocol = 0};
	int one = 1;

	/* Protocol 0: a send-only socket that receives nothing. */
	c->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (c->pkt_fd < 0) {
		pr_err("cannot open a packet socket: %s\n", strerror(errno));
		return -errno;
	}
	if (setsockopt(c->pkt_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) ||
	    bind(c->pkt_fd, (struct sockaddr *)&sll, sizeof(sll))) {
		pr_err("cannot set up the packet socket on %s: %s\n", c->dev.v[0].name,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

static int gen_send_packet(const struct gen_cfg *c, struct gen_tmpl *t)
{
	static __u8 frames[GEN_MMSG][BENCH_PKT_MAX];
	struct mmsghdr msg[GEN_MMSG];
	struct iovec iov[GEN_MMSG];
	__u32 left = t->per_round, count = t->count ? t->count : 1, k;
	int sent;

	while (left && !gen_stop) {
		__u32 batch = left < GEN_MMSG ? left : GEN_MMSG;

		for (k = 0; k < batch; k++) {
			gen_patch(t, t->base + (__u32)(t->seq++ % count), frames[k]);
			iov[k] = (struct iovec){.iov_base = frames[k], .iov_len = t->len};
			msg[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[k], .msg_iovlen = 1}};
		}
		sent = sendmmsg(c->pkt_fd, msg, batch, 0);
		if (sent < 0) {
			if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)
				continue;
			pr_err("packet socket send failed: %s\n", strerror(errno));
			return -errno;
		}
		left -= (__u32)sent;
	}
	return 0;
}

static int gen_send(struct gen *skel, struct gen_cfg *c, struct gen_tmpl *t, unsigned int i)
{
	/* The kernel wants data_end to match the frame it is given. */
	struct xdp_md ctx = {.data_end = (__u32)t->len,
			     .ingress_ifindex = (__u32)c->dev.v[0].ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t->pkt, .data_size_in = (__u32)t->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = t->per_round,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = (__u32)c->batch);
	int err;

	if (c->mode == GEN_PACKET)
		return gen_send_packet(c, t);
	skel->bss->gen_flow_base = t->base;
	skel->bss->gen_flow_count = t->count;
	skel->bss->gen_slot = i;
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.gen_xdp), &o);
	if (err && c->mode == GEN_AUTO && (errno == EPERM || errno == EOPNOTSUPP)) {
		fprintf(stderr,
			"gen: the kernel refuses live-frame test runs (%s); "
			"sending through a packet socket\n",
			strerror(errno));
		c->mode = GEN_PACKET;
		err = gen_packet_open(c);
		return err ? err : gen_send_packet(c, t);
	}
	if (!err && c->mode == GEN_AUTO)
		c->mode = GEN_LIVE;
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

	printf("{\"bench\":\"gen\",\"label\":\"%s\",\"generator\":\"%s\",\"flows\":%lu,"
	       "\"seconds\":%.3f,\"sent_pps\":%.0f",
	       c->label ? c->label : "", c->mode == GEN_PACKET ? "packet" : "live", c->flows, dt,
	       (b->sent - a->sent) / dt);
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

static int gen_loop(struct gen *skel, struct gen_cfg *c, struct gen_tmpl *t, size_t n,
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
	c->pkt_fd = -1;
	if (!c->mode_name || !strcmp(c->mode_name, "auto"))
		c->mode = GEN_AUTO;
	else if (!strcmp(c->mode_name, "live"))
		c->mode = GEN_LIVE;
	else if (!strcmp(c->mode_name, "packet"))
		c->mode = GEN_PACKET;
	else {
		pr_err("gen: --mode is auto, live or packet\n");
		return 2;
	}
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
	if (c->mode == GEN_PACKET && gen_packet_open(c))
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
	if (c->pkt_fd >= 0)
		close(c->pkt_fd);
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
    {"mode", 0, FT_OPT_STRING, offsetof(struct gen_cfg, mode_name), "MODE",
     "auto (live frames, else a packet socket), live or packet"},
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
