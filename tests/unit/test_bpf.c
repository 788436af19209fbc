// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Datapath tests: the real XDP and TC objects, loaded through their
 * skeletons, fed crafted frames with BPF_PROG_TEST_RUN; every case checks
 * the verdict and the exact contents of ft_ifstats, ft_flows and ft_http_rb.
 *
 * The binary moves into a private network namespace (nothing it attaches or
 * creates outlives it; no map is pinned) and keeps the XDP program attached
 * to that namespace's lo in generic mode: test runs of an XDP program that
 * is attached nowhere can cost milliseconds each.
 *
 * Usage: test_bpf [-v] [-k PATTERN]   (PATTERN: substring or glob of names)
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
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowtap.h"
#include "parse.h"
#include "flowtap_xdp.skel.h"
#include "flowtap_tc.skel.h"
#include "test.h"
#include "bpftest.h"
#include "pkt.h"

#define C(x) FT_BIT(FT_CLASS_##x)
#define V4   C(IPV4)
#define V6   C(IPV6)
#define TCP  C(TCP)
#define UDP  C(UDP)
#define MAL  C(MALFORMED)
#define FRAG C(FRAGMENT)
#define VLAN C(VLAN)
#define HTTP C(HTTP)

#define SYN PKT_TCP_SYN
#define ACK PKT_TCP_ACK
#define PSH PKT_TCP_PSH
#define FIN PKT_TCP_FIN

#define CPORT 40000 /* client port of the TCP cases */

static const char *const class_names[FT_CLASS_MAX] = {
    "ipv4",   "ipv6",	  "arp",  "other_l2", "tcp",	   "udp",  "icmp",
    "icmpv6", "other_l4", "vlan", "fragment", "malformed", "http",
};

static const char *const reason_names[FT_MAL_MAX] = {
    "none",	      "eth_truncated",	  "vlan_truncated",	"vlan_depth",
    "arp_truncated",  "ip_version",	  "ipv4_truncated",	"ipv4_ihl",
    "ipv4_total_len", "ipv6_truncated",	  "ipv6_ext_truncated", "ipv6_ext_chain",
    "tcp_truncated",  "tcp_doff",	  "udp_truncated",	"udp_len",
    "icmp_truncated", "icmpv6_truncated",
};

static const char *const method_names[FT_HTTP_MAX] = {
    "none", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
};

static int ncpus;

/* ---- Fixture: namespace, loaded datapath, hooks ---- */

enum hook_id {
	HOOK_XDP,
	HOOK_TC_IN,
	HOOK_TC_EG,
	HOOK_MAX,
};

/* One program plus the maps of the object it belongs to. */
struct hook {
	const char *name;
	enum hook_id id;
	int prog_fd;
	int ifstats_fd, flows_fd, config_fd, cap_meta_fd, tcp_hs_fd;
	int ifslot_fd, slots_fd; /* array-backed counters; -1 if the object has none */
	__u32 nslots;
	bool use_slot; /* claim lo's slot: counters go to the array */
	struct ring_buffer *rb;
	__u8 dir;
	int verdict; /* what the program must return: it never drops */
};

struct knobs {
	__u32 sample_rate;
	__u8 keep_query;
	__u8 flows_enabled;
	__u32 flows_max; /* 0: the object's default */
};

static const struct knobs default_knobs = {.sample_rate = 1, .flows_enabled = 1};

struct dp {
	struct flowtap_xdp *xdp;
	struct flowtap_tc *tc;
	struct hook hooks[HOOK_MAX];
	bool xdp_attached;
};

#define MAX_EVENTS 4096
static struct ft_http_event events[MAX_EVENTS];
static int nevents, nevents_bad;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size != sizeof(struct ft_http_event) || nevents == MAX_EVENTS) {
		nevents_bad++;
		return 0;
	}
	memcpy(&events[nevents++], data, size);
	return 0;
}

static void unpin_maps(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) bpf_map__set_pin_path(m, NULL);
}

/* The maps every hook reads, from the object the hook's program is in. */
struct obj_maps {
	struct bpf_map *ifstats, *flows, *config, *cap_meta, *tcp_hs;
	struct bpf_map *ifslot, *slots; /* looked up by name: optional */
	struct ring_buffer *rb;
};

static int map_fd_or_none(const struct bpf_map *m)
{
	return m ? bpf_map__fd(m) : -1;
}

static void hook_init(struct hook *h, enum hook_id id, struct bpf_program *prog,
		      const struct obj_maps *m)
{
	static const char *const names[HOOK_MAX] = {"xdp", "tc_in", "tc_eg"};

	*h = (struct hook){
	    .name = names[id],
	    .id = id,
	    .prog_fd = bpf_program__fd(prog),
	    .ifstats_fd = bpf_map__fd(m->ifstats),
	    .flows_fd = bpf_map__fd(m->flows),
	    .config_fd = bpf_map__fd(m->config),
	    .cap_meta_fd = bpf_map__fd(m->cap_meta),
	    .tcp_hs_fd = bpf_map__fd(m->tcp_hs),
	    .ifslot_fd = map_fd_or_none(m->ifslot),
	    .slots_fd = map_fd_or_none(m->slots),
	    .nslots = m->ifslot ? bpf_map__max_entries(m->ifslot) : 0,
	    .rb = m->rb,
	    .dir = id == HOOK_TC_EG ? FT_DIR_EGRESS : FT_DIR_INGRESS,
	    .verdict = id == HOOK_XDP ? XDP_PASS : TC_ACT_UNSPEC,
	};
}

static int dp_set_knobs(struct bpf_object *obj, struct bpf_map *flows, const struct knobs *k)
{
	unpin_maps(obj);
	if (k->flows_max)
		return bpf_map__set_max_entries(flows, k->flows_max);
	return 0;
}

static void dp_close(struct dp *dp)
{
	if (dp->xdp_attached)
		bpf_xdp_detach(lo_ifindex, XDP_FLAGS_SKB_MODE, NULL);
	ring_buffer__free(dp->hooks[HOOK_XDP].rb);
	ring_buffer__free(dp->hooks[HOOK_TC_IN].rb); /* TC egress shares it */
	flowtap_xdp__destroy(dp->xdp);
	flowtap_tc__destroy(dp->tc);
	memset(dp, 0, sizeof(*dp));
}

/* Loads both objects with the knobs; each object keeps its own maps. */
static int dp_open(struct dp *dp, const struct knobs *k, char *why, size_t n)
{
	struct obj_maps xm, tm;
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->xdp = flowtap_xdp__open();
	dp->tc = flowtap_tc__open();
	if (!dp->xdp || !dp->tc) {
		snprintf(why, n, "opening the skeletons: %s", strerror(errno));
		goto fail;
	}
	dp->xdp->rodata->ft_http_sample_rate = k->sample_rate;
	dp->xdp->rodata->ft_http_keep_query = k->keep_query;
	dp->xdp->rodata->ft_flows_enabled = k->flows_enabled;
	dp->tc->rodata->ft_http_sample_rate = k->sample_rate;
	dp->tc->rodata->ft_http_keep_query = k->keep_query;
	dp->tc->rodata->ft_flows_enabled = k->flows_enabled;
	if (dp_set_knobs(dp->xdp->obj, dp->xdp->maps.ft_flows, k) ||
	    dp_set_knobs(dp->tc->obj, dp->tc->maps.ft_flows, k)) {
		snprintf(why, n, "setting knobs failed");
		goto fail;
	}
	if ((err = flowtap_xdp__load(dp->xdp)) || (err = flowtap_tc__load(dp->tc))) {
		snprintf(why, n, "load: %s (libbpf: %.150s)", strerror(-err), libbpf_last_msg);
		goto fail;
	}
	xm = (struct obj_maps){dp->xdp->maps.ft_ifstats, dp->xdp->maps.ft_flows,
			       dp->xdp->maps.ft_config_map, dp->xdp->maps.ft_cap_meta_map,
			       dp->xdp->maps.ft_tcp_hs_map};
	tm = (struct obj_maps){dp->tc->maps.ft_ifstats, dp->tc->maps.ft_flows,
			       dp->tc->maps.ft_config_map, dp->tc->maps.ft_cap_meta_map,
			       dp->tc->maps.ft_tcp_hs_map};
	xm.ifslot = bpf_object__find_map_by_name(dp->xdp->obj, "ft_ifslot");
	xm.slots = bpf_object__find_map_by_name(dp->xdp->obj, "ft_ifstats_slots");
	tm.ifslot = bpf_object__find_map_by_name(dp->tc->obj, "ft_ifslot");
	tm.slots = bpf_object__find_map_by_name(dp->tc->obj, "ft_ifstats_slots");
	xm.rb = ring_buffer__new(bpf_map__fd(dp->xdp->maps.ft_http_rb), on_event, NULL, NULL);
	tm.rb = ring_buffer__new(bpf_map__fd(dp->tc->maps.ft_http_rb), on_event, NULL, NULL);
	hook_init(&dp->hooks[HOOK_XDP], HOOK_XDP, dp->xdp->progs.flowtap_xdp, &xm);
	hook_init(&dp->hooks[HOOK_TC_IN], HOOK_TC_IN, dp->tc->progs.flowtap_tc_ingress, &tm);
	hook_init(&dp->hooks[HOOK_TC_EG], HOOK_TC_EG, dp->tc->progs.flowtap_tc_egress, &tm);
	if (!xm.rb || !tm.rb) {
		snprintf(why, n, "ring_buffer__new: %s", strerror(errno));
		goto fail;
	}
	err = bpf_xdp_attach(lo_ifindex, dp->hooks[HOOK_XDP].prog_fd, XDP_FLAGS_SKB_MODE, NULL);
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

static void map_clear(int fd, size_t key_size)
{
	__u8 key[64], next[64];

	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

static void events_drain(const struct hook *h)
{
	ring_buffer__consume(h->rb);
	nevents = nevents_bad = 0;
}

static void events_poll(const struct hook *h)
{
	ring_buffer__consume(h->rb);
}

/* The slot of lo in ft_ifslot, as the datapath computes it. */
static __u32 lo_slot(const struct hook *h)
{
	return h->nslots ? lo_ifindex % h->nslots : 0;
}

/* Gives lo's array slot to lo (use_slot) or frees it, counters zeroed. */
static void slot_reset(const struct hook *h)
{
	__u32 slot, owner, idx, dir;
	void *zeros;

	if (h->ifslot_fd < 0)
		return;
	slot = lo_slot(h);
	owner = h->use_slot ? lo_ifindex : 0;
	bpf_map_update_elem(h->ifslot_fd, &slot, &owner, BPF_ANY);
	zeros = calloc(ncpus, sizeof(struct ft_if_stats));
	for (dir = 0; zeros && dir < 2; dir++) {
		idx = slot * 2 + dir;
		bpf_map_update_elem(h->slots_fd, &idx, zeros, BPF_ANY);
		idx = FT_IFSLOT_OTHER * 2 + dir; /* "unattributed" */
		bpf_map_update_elem(h->slots_fd, &idx, zeros, BPF_ANY);
	}
	free(zeros);
}

/* Forgets everything the previous case left in the hook's maps. */
static void hook_reset(const struct hook *h)
{
	struct ft_config cfg = {};
	__u32 zero = 0;

	map_clear(h->ifstats_fd, sizeof(struct ft_if_key));
	map_clear(h->flows_fd, sizeof(struct ft_flow_key));
	map_clear(h->tcp_hs_fd, sizeof(struct ft_flow_key));
	bpf_map_update_elem(h->config_fd, &zero, &cfg, BPF_ANY);
	slot_reset(h);
	events_drain(h);
}

/*
 * Sums lo's counters over CPUs (every field is a __u64): from its array
 * slot when the hook claimed one, else from ft_ifstats[{lo, dir}].
 */
static bool stats_read(const struct hook *h, __u8 dir, struct ft_if_stats *sum)
{
	struct ft_if_key key = {.ifindex = lo_ifindex, .dir = dir};
	const size_t nw = sizeof(*sum) / sizeof(__u64);
	__u64 *vals = calloc(ncpus, sizeof(*sum)), *s = (__u64 *)sum;
	bool found;
	int cpu;
	size_t i;

	memset(sum, 0, sizeof(*sum));
	if (h->use_slot) {
		__u32 idx = lo_slot(h) * 2 + dir;

		found = vals && !bpf_map_lookup_elem(h->slots_fd, &idx, vals);
	} else {
		found = vals && !bpf_map_lookup_elem(h->ifstats_fd, &key, vals);
	}
	for (cpu = 0; found && cpu < ncpus; cpu++)
		for (i = 0; i < nw; i++)
			s[i] += vals[cpu * nw + i];
	free(vals);
	return found;
}

static int map_count(int fd, size_t key_size)
{
	__u8 key[64], next[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next) && n < 100000) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

struct flow {
	struct ft_flow_key key;
	struct ft_flow_val val; /* summed: min first_ns, max last_ns */
};

static void flow_sum(const struct ft_flow_val *v, struct ft_flow_val *s)
{
	int cpu;

	memset(s, 0, sizeof(*s));
	for (cpu = 0; cpu < ncpus; cpu++, v++) {
		s->packets += v->packets;
		s->bytes += v->bytes;
		s->http_requests += v->http_requests;
		s->tcp_flags |= v->tcp_flags;
		if (v->first_ns && (!s->first_ns || v->first_ns < s->first_ns))
			s->first_ns = v->first_ns;
		if (v->last_ns > s->last_ns)
			s->last_ns = v->last_ns;
	}
}

/* Reads up to max flows of the hook's object; returns how many exist. */
static int flows_read(const struct hook *h, struct flow *out, int max)
{
	struct ft_flow_val *vals = calloc(ncpus, sizeof(*vals));
	struct ft_flow_key key, next;
	void *prev = NULL;
	int n = 0;

	while (vals && !bpf_map_get_next_key(h->flows_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (n < max && !bpf_map_lookup_elem(h->flows_fd, &key, vals)) {
			out[n].key = key;
			flow_sum(vals, &out[n].val);
		}
		n++;
	}
	free(vals);
	return n;
}

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Bounds for timestamps the datapath takes, from bpf_ktime_get_ns() or the
 * tick-coarse bpf_ktime_get_coarse_ns(): both are CLOCK_MONOTONIC, the
 * coarse one at most a tick behind.
 */
static __u64 time_before(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

static __u64 time_after(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* ---- Running packets ---- */

struct run_opts {
	__u32 gso_segs; /* TC only: skb ctx */
};

static int hook_run(const struct hook *h, const struct pkt *p, const struct run_opts *ro,
		    int *retval)
{
	struct __sk_buff skb = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len, .repeat = 1);
	int err;

	if (h->id != HOOK_XDP && ro && ro->gso_segs) {
		skb.gso_segs = ro->gso_segs;
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	err = bpf_prog_test_run_opts(h->prog_fd, &o);
	*retval = (int)o.retval;
	return err ? -errno : 0;
}

/* Runs p n times and checks the verdict of each run. */
static bool run_n(const struct hook *h, const struct pkt *p, int n, const struct run_opts *ro)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		if (!ASSERT_OK(hook_run(h, p, ro, &ret), "BPF_PROG_TEST_RUN"))
			return false;
		if (!ASSERT_EQ(ret, h->verdict, "verdict"))
			return false;
	}
	return true;
}

/* ---- Real frames through lo ---- */

/* Waits until the program has counted the frame sent to lo. */
static bool wait_counted(const struct hook *h)
{
	struct ft_if_stats s;
	int i, c;

	for (i = 0; i < 200; i++) {
		if (stats_read(h, h->dir, &s))
			for (c = 0; c < FT_CLASS_MAX; c++)
				if (s.cls[c].packets) {
					usleep(20000); /* let the run that counted it finish */
					return true;
				}
		usleep(5000);
	}
	return false;
}

static int send_lo(const struct pkt *p)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_ifindex = lo_ifindex, .sll_halen = ETH_ALEN};
	int fd, err = 0;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sll.sll_addr, pkt_mac_dst, ETH_ALEN);
	if (sendto(fd, p->data, p->len, 0, (struct sockaddr *)&sll, sizeof(sll)) != p->len)
		err = -errno;
	close(fd);
	return err;
}

static void lo_tc_hook(const struct hook *h, struct bpf_tc_hook *tch)
{
	memset(tch, 0, sizeof(*tch));
	tch->sz = sizeof(*tch);
	tch->ifindex = lo_ifindex;
	tch->attach_point = h->dir == FT_DIR_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

static int lo_tc_attach(const struct hook *h, struct bpf_tc_opts *tco)
{
	struct bpf_tc_hook tch;
	int err;

	lo_tc_hook(h, &tch);
	err = bpf_tc_hook_create(&tch);
	if (err && err != -EEXIST)
		return err;
	tco->prog_fd = h->prog_fd;
	return bpf_tc_attach(&tch, tco);
}

static void lo_tc_detach(const struct hook *h, struct bpf_tc_opts *tco)
{
	struct bpf_tc_hook tch;

	lo_tc_hook(h, &tch);
	tco->prog_fd = tco->prog_id = tco->flags = 0;
	bpf_tc_detach(&tch, tco);
}

/* Removes lo's clsact qdisc, and with it anything still attached. */
static void lo_tc_destroy(void)
{
	LIBBPF_OPTS(bpf_tc_hook, tch, .ifindex = lo_ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	bpf_tc_hook_destroy(&tch);
}

/*
 * Sends p through lo with the TC program attached at its hook and waits
 * until it is counted: for frames that test runs cannot carry.
 */
static bool run_real(const struct hook *h, const struct pkt *p)
{
	LIBBPF_OPTS(bpf_tc_opts, tco);
	bool ok;

	if (!ASSERT_OK(lo_tc_attach(h, &tco), "attaching TC to lo"))
		return false;
	ok = ASSERT_OK(send_lo(p), "sending to lo") &&
	     ASSERT_TRUE(wait_counted(h), "frame counted by TC on lo within 1 s");
	lo_tc_detach(h, &tco);
	return ok;
}

/* ---- Checks ---- */

/* What one hook's ft_ifstats entry must hold, exactly. */
struct want_stats {
	__u32 cls;
	__u8 reason;
	__u8 method;
	__u64 packets; /* for each counted class, reason and method */
	__u64 bytes;
	__u64 flow_overflow;
	__u64 http_sample_counter;
	__u64 tcp_handshakes;
	__u64 tcp_retransmits; /* every other TCP health counter must be 0 */
};

static bool check_tcp_health(const struct ft_if_stats *s, const struct want_stats *w)
{
	__u64 hist = 0;
	int i;

	for (i = 0; i < FT_HS_BUCKETS; i++)
		hist += s->tcp_handshake_hist[i];
	return ASSERT_EQ(s->tcp_handshakes, w->tcp_handshakes, "tcp_handshakes") &&
	       ASSERT_EQ(hist, w->tcp_handshakes, "tcp_handshake_hist total") &&
	       ASSERT_EQ(s->tcp_retransmits, w->tcp_retransmits, "tcp_retransmits") &&
	       ASSERT_EQ(s->tcp_conn_refused, 0, "tcp_conn_refused") &&
	       ASSERT_EQ(s->tcp_syn_retries, 0, "tcp_syn_retries") &&
	       ASSERT_EQ(s->tcp_resets, 0, "tcp_resets") &&
	       ASSERT_EQ(s->tcp_hs_overflow, 0, "tcp_hs_overflow");
}

static bool check_counter(const struct ft_counter *c, bool on, const struct want_stats *w,
			  const char *what, const char *name)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "%s[%s].packets", what, name);
	if (!ASSERT_EQ(c->packets, on ? w->packets : 0, buf))
		return false;
	snprintf(buf, sizeof(buf), "%s[%s].bytes", what, name);
	return ASSERT_EQ(c->bytes, on ? w->bytes : 0, buf);
}

static bool check_stats(const struct hook *h, const struct want_stats *w)
{
	struct ft_if_stats s;
	int i;

	if (!ASSERT_TRUE(stats_read(h, h->dir, &s), "counters for {lo, dir}"))
		return false;
	/* With lo's array slot claimed, nothing may fall back to the hash. */
	if (!ASSERT_EQ(map_count(h->ifstats_fd, sizeof(struct ft_if_key)), h->use_slot ? 0 : 1,
		       "ft_ifstats entries"))
		return false;
	for (i = 0; i < FT_CLASS_MAX; i++)
		if (!check_counter(&s.cls[i], w->cls & FT_BIT(i), w, "cls", class_names[i]))
			return false;
	for (i = 0; i < FT_MAL_MAX; i++)
		if (!check_counter(&s.malformed[i], w->reason && i == w->reason, w, "malformed",
				   reason_names[i]))
			return false;
	for (i = 0; i < FT_HTTP_MAX; i++)
		if (!check_counter(&s.http[i], w->method && i == w->method, w, "http",
				   method_names[i]))
			return false;
	return ASSERT_EQ(s.flow_overflow, w->flow_overflow, "flow_overflow") &&
	       ASSERT_EQ(s.http_samples_lost, 0, "http_samples_lost") &&
	       ASSERT_EQ(s.http_sample_counter, w->http_sample_counter, "http_sample_counter") &&
	       ASSERT_EQ(s.capture_calls, 0, "capture_calls") && check_tcp_health(&s, w);
}

/* The flow a packet should create; NULL addresses mean pkt.h's defaults. */
struct want_flow {
	__u8 family;
	__u8 proto;
	__u16 vlan;
	__u16 sport;
	__u16 dport;
	__u8 tcp_flags;
	const char *src;
	const char *dst;
};

static void want_addr(const struct want_flow *f, bool src, __u8 out[16])
{
	const char *s = src ? f->src : f->dst;
	bool v4 = f->family == FT_FAMILY_IPV4;

	memset(out, 0, 16);
	if (!s)
		s = v4 ? (src ? PKT_IP4_SRC : PKT_IP4_DST) : (src ? PKT_IP6_SRC : PKT_IP6_DST);
	inet_pton(v4 ? AF_INET : AF_INET6, s, out);
}

static void want_key(const struct hook *h, const struct want_flow *f, struct ft_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = lo_ifindex;
	k->dir = h->dir;
	k->family = f->family;
	k->proto = f->proto;
	k->vlan = f->vlan;
	k->sport = f->sport;
	k->dport = f->dport;
	want_addr(f, true, k->src);
	want_addr(f, false, k->dst);
}

static bool check_key(const struct ft_flow_key *got, const struct ft_flow_key *want)
{
	return ASSERT_EQ(got->ifindex, want->ifindex, "key.ifindex") &&
	       ASSERT_EQ(got->dir, want->dir, "key.dir") &&
	       ASSERT_EQ(got->family, want->family, "key.family") &&
	       ASSERT_EQ(got->proto, want->proto, "key.proto") &&
	       ASSERT_EQ(got->vlan, want->vlan, "key.vlan") &&
	       ASSERT_EQ(got->sport, want->sport, "key.sport") &&
	       ASSERT_EQ(got->dport, want->dport, "key.dport") &&
	       ASSERT_MEMEQ(got->src, want->src, 16, "key.src") &&
	       ASSERT_MEMEQ(got->dst, want->dst, 16, "key.dst") &&
	       ASSERT_MEMEQ(got, want, sizeof(*got), "key (padding)");
}

static bool check_times(__u64 first, __u64 last, __u64 t0, __u64 t1, const char *what)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s first_ns after the first run", what);
	if (!ASSERT_GE(first, t0, buf))
		return false;
	snprintf(buf, sizeof(buf), "%s last_ns >= first_ns", what);
	if (!ASSERT_GE(last, first, buf))
		return false;
	snprintf(buf, sizeof(buf), "%s last_ns before the last run ended", what);
	return ASSERT_LE(last, t1, buf);
}

static bool check_flow_val(const struct ft_flow_val *v, __u64 packets, __u64 bytes, __u8 tcp_flags,
			   __u32 http, __u64 t0, __u64 t1)
{
	return ASSERT_EQ(v->packets, packets, "flow packets") &&
	       ASSERT_EQ(v->bytes, bytes, "flow bytes") &&
	       ASSERT_EQ(v->tcp_flags, tcp_flags, "flow tcp_flags") &&
	       ASSERT_EQ(v->http_requests, http, "flow http_requests") &&
	       check_times(v->first_ns, v->last_ns, t0, t1, "flow");
}

/* Exactly one flow (f->family != 0) or none. */
static bool check_one_flow(const struct hook *h, const struct want_flow *f, __u64 packets,
			   __u64 bytes, __u32 http, __u64 t0, __u64 t1)
{
	struct ft_flow_key want;
	struct flow got;
	int n = flows_read(h, &got, 1);

	if (!f->family)
		return ASSERT_EQ(n, 0, "ft_flows entries");
	if (!ASSERT_EQ(n, 1, "ft_flows entries"))
		return false;
	want_key(h, f, &want);
	return check_key(&got.key, &want) &&
	       check_flow_val(&got.val, packets, bytes, f->tcp_flags, http, t0, t1);
}

/* A sampled request line: the path as it must leave the kernel. */
struct want_event {
	const char *path; /* NULL: no sample */
	__u8 flags;
};

static bool check_event(const struct hook *h, const struct ft_http_event *ev,
			const struct want_flow *f, __u8 method, const struct want_event *w,
			__u64 t0, __u64 t1)
{
	static const char zeros[FT_HTTP_PATH_MAX];
	struct ft_flow_key k;
	size_t len = strlen(w->path);

	want_key(h, f, &k);
	return ASSERT_GE(ev->ts_ns, t0, "event ts_ns") && ASSERT_LE(ev->ts_ns, t1, "event ts_ns") &&
	       ASSERT_EQ(ev->ifindex, lo_ifindex, "event ifindex") &&
	       ASSERT_EQ(ev->dir, h->dir, "event dir") &&
	       ASSERT_EQ(ev->family, f->family, "event family") &&
	       ASSERT_EQ(ev->method, method, "event method") &&
	       ASSERT_EQ(ev->flags, w->flags, "event flags") &&
	       ASSERT_EQ(ev->sport, f->sport, "event sport") &&
	       ASSERT_EQ(ev->dport, f->dport, "event dport") &&
	       ASSERT_EQ(ev->vlan, f->vlan, "event vlan") &&
	       ASSERT_MEMEQ(ev->src, k.src, 16, "event src") &&
	       ASSERT_MEMEQ(ev->dst, k.dst, 16, "event dst") &&
	       ASSERT_EQ(ev->path_len, len, "event path_len") &&
	       ASSERT_MEMEQ(ev->path, w->path, len, "event path") &&
	       ASSERT_MEMEQ(ev->path + len, zeros, FT_HTTP_PATH_MAX - len,
			    "event path zero past path_len");
}

static bool check_events(const struct hook *h, int n, const struct want_flow *f, __u8 method,
			 const struct want_event *w, __u64 t0, __u64 t1)
{
	int i;

	events_poll(h);
	if (!ASSERT_EQ(nevents_bad, 0, "ring buffer records of the wrong size"))
		return false;
	if (!ASSERT_EQ(nevents, w->path ? n : 0, "HTTP samples"))
		return false;
	for (i = 0; i < nevents; i++)
		if (!check_event(h, &events[i], f, method, w, t0, t1))
			return false;
	return true;
}

/* ---- The table ---- */

struct pcase {
	const char *name;
	void (*build)(struct pkt *p);
	__u32 cls;
	__u8 reason;
	__u8 method;
	struct want_flow flow; /* family 0: the packet must not be in ft_flows */
	struct want_event ev;
	const char *known; /* a known failure, pending a decision: reported as SKIP */
};

#define BUILD(name) static void build_##name(struct pkt *p)

static char path_127[128], path_128[129], long_target[201], long_target_128[129];

static void paths_init(void)
{
	memset(path_127, 'a', 127);
	path_127[0] = '/';
	memset(path_128, 'b', 128);
	path_128[0] = '/';
	memset(long_target, 'c', 200);
	long_target[0] = '/';
	memcpy(long_target_128, long_target, 128);
}

/* Ethernet + IPv4 + TCP client->80 with flags, then payload s (may be NULL). */
static int tcp4(struct pkt *p, __u8 flags, const char *s)
{
	int off;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	off = pkt_tcp(p, CPORT, 80, flags);
	if (s)
		pkt_str(p, s);
	return off;
}

static int tcp6(struct pkt *p, __u8 flags, const char *s)
{
	int off;

	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	off = pkt_tcp(p, CPORT, 80, flags);
	if (s)
		pkt_str(p, s);
	return off;
}

/* ---- Classes ---- */

BUILD(ipv4_tcp_syn)
{
	tcp4(p, SYN, NULL);
}

BUILD(ipv4_tcp_opts_synack)
{
	static const __u8 mss[4] = {2, 4, 0x05, 0xb4};
	int th;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	th = pkt_tcp(p, 80, CPORT, SYN | ACK);
	pkt_tcp_options(p, th, mss, sizeof(mss));
}

BUILD(ipv4_udp)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 5353, 53);
	pkt_str(p, "dns query");
}

BUILD(ipv4_udp_empty)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
}

BUILD(ipv4_icmp_echo)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_icmp(p, 8, 0);
	pkt_fill(p, 0x42, 56);
}

BUILD(ipv4_icmp_unreach)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_icmp(p, 3, 3);
	pkt_ipv4(p, PKT_IP4_DST, PKT_IP4_SRC);
	pkt_udp(p, 53, 5353);
}

BUILD(ipv4_gre)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_proto(p, 47);
	pkt_bytes(p, "\x00\x00\x08\x00", 4);
}

BUILD(ipv4_ipip)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4(p, "10.0.0.1", "10.0.0.2");
	pkt_udp(p, 1, 2);
}

BUILD(ipv4_proto_icmpv6)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_icmp6(p, 128, 0);
}

BUILD(ipv4_ah)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ah(p, IPPROTO_TCP);
	pkt_fill(p, 0, 20);
}

BUILD(ipv4_padded)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1000, 2000);
	pkt_str(p, "x");
	pkt_finish(p);
	pkt_pad(p, 60);
}

BUILD(ipv6_tcp)
{
	tcp6(p, SYN, NULL);
}

BUILD(ipv6_udp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_udp(p, 546, 547);
	pkt_str(p, "dhcpv6");
}

BUILD(ipv6_icmpv6_echo)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_icmp6(p, 128, 0);
	pkt_fill(p, 0x42, 56);
}

BUILD(ipv6_icmpv6_ns)
{
	pkt_eth(p);
	pkt_ipv6(p, "fe80::1", "ff02::1:ff00:2");
	pkt_icmp6(p, 135, 0);
	pkt_fill(p, 0, 16);
}

BUILD(ipv6_proto_icmp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_icmp(p, 8, 0);
}

BUILD(ipv6_no_next)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_proto(p, IPPROTO_NONE);
}

BUILD(ipv6_esp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_proto(p, IPPROTO_ESP);
	pkt_fill(p, 0x11, 24);
}

BUILD(ipv6_in_ipv4)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv6(p, NULL, NULL);
	pkt_udp(p, 1, 2);
}

BUILD(arp_request)
{
	pkt_eth(p);
	pkt_arp(p, 1);
}

BUILD(arp_reply_padded)
{
	pkt_eth(p);
	pkt_arp(p, 2);
	pkt_finish(p);
	pkt_pad(p, 60);
}

BUILD(other_l2_lldp)
{
	pkt_eth(p);
	pkt_ethertype(p, 0x88cc);
	pkt_fill(p, 0, 32);
}

BUILD(other_l2_mpls)
{
	pkt_eth(p);
	pkt_ethertype(p, 0x8847);
	pkt_bytes(p, "\x00\x01\x01\x40", 4);
	pkt_ipv4(p, NULL, NULL); /* after the label, unparsed */
	pkt_udp(p, 1, 2);
}

BUILD(other_l2_8023_stp)
{
	pkt_eth_8023(p, 35);
}

BUILD(other_l2_8023_min)
{
	pkt_eth_8023(p, 0);
	pkt_finish(p);
	pkt_pad(p, 60);
}

/* ---- VLAN ---- */

BUILD(vlan_ipv4_udp)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 100);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 5353, 53);
}

BUILD(vlan_8021ad_ipv6_tcp)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021AD, 300);
	pkt_ipv6(p, NULL, NULL);
	pkt_tcp(p, CPORT, 80, ACK);
}

BUILD(vlan_pcp_dei)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 0xb000 | 42); /* PCP 5, DEI 1, VID 42 */
	pkt_ipv4(p, NULL, NULL);
	pkt_icmp(p, 0, 0);
}

BUILD(vlan_arp)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 7);
	pkt_arp(p, 1);
}

BUILD(vlan_other_l2)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 7);
	pkt_ethertype(p, 0x88cc);
	pkt_fill(p, 0, 20);
}

BUILD(qinq_ipv4_tcp)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021AD, 10);
	pkt_vlan(p, ETH_P_8021Q, 20);
	pkt_ipv4(p, NULL, NULL);
	pkt_tcp(p, CPORT, 443, SYN);
}

BUILD(qinq_8100_8100_icmpv6)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 4000);
	pkt_vlan(p, ETH_P_8021Q, 1);
	pkt_ipv6(p, NULL, NULL);
	pkt_icmp6(p, 129, 0);
}

BUILD(vlan3_depth)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021AD, 10);
	pkt_vlan(p, ETH_P_8021Q, 20);
	pkt_vlan(p, ETH_P_8021Q, 30);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
}

/* ---- IPv4 options and fragments ---- */

BUILD(ipv4_opts_router_alert)
{
	static const __u8 ra[4] = {0x94, 0x04, 0, 0};

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_options(p, ra, sizeof(ra));
	pkt_tcp(p, CPORT, 80, SYN);
}

BUILD(ipv4_opts_max)
{
	__u8 rr[39] = {7, 39, 4}; /* record route, 9 empty slots */

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_options(p, rr, sizeof(rr));
	pkt_udp(p, 5353, 53);
}

BUILD(ipv4_df_not_fragment)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_ip4(p, ip)->frag_off = htons(0x4000);
	pkt_tcp(p, CPORT, 80, ACK);
}

BUILD(ipv4_frag_first_tcp)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 0, true);
	pkt_tcp(p, CPORT, 80, ACK);
	pkt_fill(p, 'x', 64);
}

BUILD(ipv4_frag_first_icmp)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 0, true);
	pkt_icmp(p, 8, 0);
	pkt_fill(p, 'x', 64);
}

/* A real first fragment: the UDP length covers the whole datagram. */
BUILD(ipv4_frag_first_udp)
{
	int uh;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 0, true);
	uh = pkt_udp(p, 5353, 53);
	pkt_fill(p, 'x', 64);
	pkt_finish(p);
	pkt_udph(p, uh)->len = htons(8 + 64 + 1400);
}

/* Looks like a UDP header to 53 and an HTTP request: must not be read. */
static const char frag_junk[] = "\x14\xe9\x00\x35\x00\x20\x00\x00GET /frag HTTP/1.1\r\n";

BUILD(ipv4_frag_middle_udp)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 1480, true);
	pkt_proto(p, IPPROTO_UDP);
	pkt_bytes(p, frag_junk, sizeof(frag_junk) - 1);
}

BUILD(ipv4_frag_last_tcp)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 2960, false);
	pkt_proto(p, IPPROTO_TCP);
	pkt_bytes(p, frag_junk, sizeof(frag_junk) - 1);
}

BUILD(ipv4_frag_nonfirst_short)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 8, false);
	pkt_proto(p, IPPROTO_TCP);
	pkt_str(p, "abc"); /* shorter than any L4 header: not truncation */
}

/* ---- IPv6 extension headers ---- */

BUILD(ipv6_hbh_udp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_udp(p, 5353, 53);
}

BUILD(ipv6_hbh_long_udp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 2);
	pkt_udp(p, 5353, 53);
}

BUILD(ipv6_routing_tcp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_ROUTING, 2);
	pkt_tcp(p, CPORT, 80, SYN);
}

BUILD(ipv6_dstopts_icmpv6)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_icmp6(p, 128, 0);
}

BUILD(ipv6_hbh_dst_routing_dst_tcp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 1);
	pkt_ipv6_ext(p, IPPROTO_ROUTING, 0);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_tcp(p, CPORT, 80, SYN);
}

BUILD(ipv6_frag_first_tcp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_frag(p, 0, true);
	pkt_tcp(p, CPORT, 80, ACK);
	pkt_fill(p, 'x', 64);
}

BUILD(ipv6_frag_first_udp)
{
	int uh;

	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_frag(p, 0, true);
	uh = pkt_udp(p, 5353, 53);
	pkt_fill(p, 'x', 64);
	pkt_finish(p);
	pkt_udph(p, uh)->len = htons(8 + 64 + 1400);
}

BUILD(ipv6_frag_nonfirst_udp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_frag(p, 1232, true);
	pkt_proto(p, IPPROTO_UDP);
	pkt_bytes(p, frag_junk, sizeof(frag_junk) - 1);
}

BUILD(ipv6_hbh_frag_last_tcp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_ipv6_frag(p, 2464, false);
	pkt_proto(p, IPPROTO_TCP);
	pkt_bytes(p, frag_junk, sizeof(frag_junk) - 1);
}

BUILD(ipv6_frag_nonfirst_icmpv6)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_frag(p, 8, false);
	pkt_proto(p, IPPROTO_ICMPV6);
	pkt_str(p, "ab");
}

/* HBH, then n-1 destination options headers, then UDP. */
static void ipv6_chain(struct pkt *p, int n)
{
	int i;

	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	for (i = 1; i < n; i++)
		pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_udp(p, 5353, 53);
}

BUILD(ipv6_chain_8)
{
	ipv6_chain(p, 8);
}

BUILD(ipv6_chain_9)
{
	ipv6_chain(p, 9);
}

/* Eight headers of every kind, the fragment one included. */
BUILD(ipv6_chain_8_mixed)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 1);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_ipv6_ext(p, IPPROTO_ROUTING, 2);
	pkt_ipv6_frag(p, 0, true);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_ipv6_ext(p, IPPROTO_ROUTING, 0);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 3);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_tcp(p, CPORT, 80, SYN);
}

BUILD(ipv6_ah_tcp)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ah(p, IPPROTO_TCP);
	pkt_fill(p, 0, 20);
}

BUILD(ipv6_hbh_no_next)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_proto(p, IPPROTO_NONE);
}

/* ---- Malformed ---- */

BUILD(eth_truncated)
{
	pkt_bytes(p, pkt_mac_dst, ETH_ALEN);
	pkt_bytes(p, pkt_mac_src, 4);
}

BUILD(eth_only_ipv4)
{
	pkt_eth(p);
	pkt_ethertype(p, ETH_P_IP);
}

BUILD(vlan_truncated)
{
	pkt_eth(p);
	pkt_ethertype(p, ETH_P_8021Q);
	pkt_bytes(p, "\x00\x64\x08", 3);
}

BUILD(qinq_inner_truncated)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021AD, 10);
	pkt_ethertype(p, ETH_P_8021Q);
	pkt_bytes(p, "\x00\x14", 2);
}

BUILD(arp_truncated)
{
	pkt_eth(p);
	pkt_arp(p, 1);
	pkt_finish(p);
	pkt_truncate(p, ETH_HLEN + 7);
}

BUILD(arp_addresses_truncated)
{
	pkt_eth(p);
	pkt_arp(p, 1);
	pkt_finish(p);
	pkt_truncate(p, ETH_HLEN + 20); /* target MAC and IP cut off */
}

BUILD(ip_version_in_ipv4)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_ip4(p, ip)->version = 6;
}

BUILD(ip_version_in_ipv6)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv6(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_ip6(p, ip)->version = 4;
}

BUILD(ipv4_header_truncated)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_finish(p);
	pkt_truncate(p, ETH_HLEN + 19);
}

BUILD(ipv4_ihl_4)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_ip4(p, ip)->ihl = 4;
}

BUILD(ipv4_ihl_0)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_ip4(p, ip)->ihl = 0;
}

BUILD(ipv4_options_truncated)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_put(p, 4);
	pkt_finish(p);
	pkt_ip4(p, ip)->ihl = 15; /* 60 bytes claimed, 24 there */
}

BUILD(ipv4_total_len_lt_ihl)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_ip4(p, ip)->tot_len = htons(19);
}

BUILD(ipv4_total_len_lt_options)
{
	static const __u8 nops[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_options(p, nops, sizeof(nops));
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_ip4(p, ip)->tot_len = htons(20);
}

BUILD(ipv4_total_len_0)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_tcp(p, CPORT, 80, ACK);
	pkt_finish(p);
	pkt_ip4(p, ip)->tot_len = 0;
}

BUILD(ipv4_total_len_gt_frame)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_fill(p, 'x', 100);
	pkt_finish(p);
	pkt_truncate(p, p->len - 1);
}

BUILD(ipv6_header_truncated)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_finish(p);
	pkt_truncate(p, ETH_HLEN + 39);
}

BUILD(ipv6_payload_len_gt_frame)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_truncate(p, p->len - 1);
}

BUILD(ipv6_ext_fixed_truncated)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_finish(p);
	pkt_truncate(p, p->len - 4);
	pkt_ip6(p, ETH_HLEN)->payload_len = htons(4);
}

BUILD(ipv6_ext_len_truncated)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 3);
	pkt_finish(p);
	pkt_truncate(p, p->len - 24);
	pkt_ip6(p, ETH_HLEN)->payload_len = htons(8);
}

BUILD(ipv6_ext_beyond_payload_len)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 1);
	pkt_finish(p);
	pkt_ip6(p, ETH_HLEN)->payload_len = htons(8); /* the frame has 16 */
}

BUILD(ipv6_frag_hdr_truncated)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_frag(p, 0, true);
	pkt_finish(p);
	pkt_truncate(p, p->len - 2);
	pkt_ip6(p, ETH_HLEN)->payload_len = htons(6);
}

BUILD(ipv6_second_ext_truncated)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_ipv6_ext(p, IPPROTO_ROUTING, 2);
	pkt_finish(p);
	pkt_truncate(p, p->len - 8);
	pkt_ip6(p, ETH_HLEN)->payload_len = htons(24);
}

/* IPv4 with protocol proto and n bytes of L4 header. */
static void ipv4_l4_bytes(struct pkt *p, __u8 proto, int n)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_proto(p, proto);
	pkt_fill(p, 0x50, n); /* 0x50: doff 5 where TCP's doff would be */
}

static void ipv6_l4_bytes(struct pkt *p, __u8 proto, int n)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_proto(p, proto);
	pkt_fill(p, 0x50, n);
}

BUILD(tcp_truncated)
{
	ipv4_l4_bytes(p, IPPROTO_TCP, 19);
}

BUILD(tcp6_truncated)
{
	ipv6_l4_bytes(p, IPPROTO_TCP, 12);
}

BUILD(tcp_truncated_by_tot_len)
{
	int ip;

	pkt_eth(p);
	ip = pkt_ipv4(p, NULL, NULL);
	pkt_tcp(p, CPORT, 80, ACK);
	pkt_finish(p);
	pkt_ip4(p, ip)->tot_len = htons(20 + 10); /* the frame holds all 20 */
}

BUILD(tcp_doff_4)
{
	int th = tcp4(p, ACK, "GET / HTTP/1.1\r\n");

	pkt_finish(p);
	pkt_tcph(p, th)->doff = 4;
}

BUILD(tcp_doff_0)
{
	int th = tcp4(p, ACK, NULL);

	pkt_finish(p);
	pkt_tcph(p, th)->doff = 0;
}

BUILD(tcp_doff_beyond)
{
	int th = tcp4(p, ACK, "abcd");

	pkt_finish(p);
	pkt_tcph(p, th)->doff = 15; /* 60 bytes claimed, 24 there */
}

BUILD(udp_truncated)
{
	ipv4_l4_bytes(p, IPPROTO_UDP, 7);
}

BUILD(udp6_truncated)
{
	ipv6_l4_bytes(p, IPPROTO_UDP, 4);
}

BUILD(udp_len_lt_8)
{
	int uh;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	uh = pkt_udp(p, 1, 2);
	pkt_str(p, "data");
	pkt_finish(p);
	pkt_udph(p, uh)->len = htons(7);
}

BUILD(udp_len_gt_ip)
{
	int uh;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	uh = pkt_udp(p, 1, 2);
	pkt_str(p, "data");
	pkt_finish(p);
	pkt_udph(p, uh)->len = htons(13);
}

BUILD(udp6_len_gt_ip)
{
	int uh;

	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	uh = pkt_udp(p, 1, 2);
	pkt_str(p, "data");
	pkt_finish(p);
	pkt_udph(p, uh)->len = htons(100);
}

/* A UDP length shorter than the IP payload: the rest is padding. */
BUILD(udp_len_lt_ip)
{
	int uh;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	uh = pkt_udp(p, 1, 2);
	pkt_str(p, "data");
	pkt_finish(p);
	pkt_udph(p, uh)->len = htons(9);
}

BUILD(icmp_truncated)
{
	ipv4_l4_bytes(p, IPPROTO_ICMP, 7);
}

BUILD(icmpv6_truncated)
{
	ipv6_l4_bytes(p, IPPROTO_ICMPV6, 4);
}

BUILD(vlan_ipv4_truncated)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 5);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, 1, 2);
	pkt_finish(p);
	pkt_truncate(p, ETH_HLEN + 4 + 10);
}

/* ---- HTTP ---- */

#define HTTP_BUILD(name, req)                                                                      \
	BUILD(name)                                                                                \
	{                                                                                          \
		tcp4(p, PSH | ACK, req);                                                           \
	}

HTTP_BUILD(http_get, "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n")
HTTP_BUILD(http_head, "HEAD /status HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_post, "POST /api/v1/items HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
HTTP_BUILD(http_put, "PUT /items/7 HTTP/1.0\r\n\r\n")
HTTP_BUILD(http_delete, "DELETE /items/7 HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_options, "OPTIONS * HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_patch, "PATCH /items/7 HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_connect, "CONNECT example.com:443 HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_trace, "TRACE /t HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_query_redacted, "GET /search?q=secret&token=hunter2 HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_query_only, "GET /?password=hunter2 HTTP/1.1\r\n\r\n")
HTTP_BUILD(http_split_request_line, "GET /very/long/path/that/continues")
HTTP_BUILD(http_split_in_query, "POST /form?user=alice&pass")
HTTP_BUILD(http_minimal, "GET /")
HTTP_BUILD(http_no_version, "GET /x\r\n")
HTTP_BUILD(http_no_version_junk, "GET /x FOO\r\n")
HTTP_BUILD(not_http_getx, "GETX / HTTP/1.1\r\n")
HTTP_BUILD(not_http_lowercase, "get / HTTP/1.1\r\n")
HTTP_BUILD(not_http_bare_get, "GET")
HTTP_BUILD(not_http_get_space, "GET ")
HTTP_BUILD(not_http_double_space, "GET  / HTTP/1.1\r\n")
HTTP_BUILD(not_http_get_crlf, "GET \r\n")
HTTP_BUILD(not_http_post_crlf, "POST\r\n")
HTTP_BUILD(not_http_puts, "PUTS /x HTTP/1.1\r\n")
HTTP_BUILD(not_http_response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
HTTP_BUILD(not_http_tls, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
HTTP_BUILD(not_http_prefix, "xGET / HTTP/1.1\r\n")

BUILD(http_path_127)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n", path_127);
	tcp4(p, PSH | ACK, req);
}

BUILD(http_path_128)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n", path_128);
	tcp4(p, PSH | ACK, req);
}

BUILD(http_path_over_128)
{
	char req[300];

	snprintf(req, sizeof(req), "GET %s?secret=1 HTTP/1.1\r\n", long_target);
	tcp4(p, PSH | ACK, req);
}

BUILD(http_ipv6_get)
{
	tcp6(p, PSH | ACK, "GET /v6 HTTP/1.1\r\n\r\n");
}

BUILD(http_vlan_get)
{
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021Q, 100);
	pkt_ipv4(p, NULL, NULL);
	pkt_tcp(p, CPORT, 80, PSH | ACK);
	pkt_str(p, "GET /tagged HTTP/1.1\r\n\r\n");
}

BUILD(http_port_8080)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_tcp(p, CPORT, 8080, PSH | ACK);
	pkt_str(p, "DELETE /x HTTP/1.1\r\n\r\n");
}

BUILD(http_tcp_options)
{
	static const __u8 ts[10] = {8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	int th;

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	th = pkt_tcp(p, CPORT, 80, PSH | ACK);
	pkt_tcp_options(p, th, ts, sizeof(ts));
	pkt_str(p, "PUT /opts HTTP/1.1\r\n\r\n");
}

BUILD(http_padded)
{
	tcp4(p, PSH | ACK, "GET /p");
	pkt_finish(p);
	pkt_pad(p, 60);
}

BUILD(http_ipv6_ext)
{
	pkt_eth(p);
	pkt_ipv6(p, NULL, NULL);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, 0);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_tcp(p, CPORT, 80, PSH | ACK);
	pkt_str(p, "GET /ext HTTP/1.1\r\n\r\n");
}

BUILD(http_ipv4_options)
{
	static const __u8 ra[4] = {0x94, 0x04, 0, 0};

	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_options(p, ra, sizeof(ra));
	pkt_tcp(p, CPORT, 80, PSH | ACK);
	pkt_str(p, "HEAD /ra HTTP/1.1\r\n\r\n");
}

BUILD(not_http_udp)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_udp(p, CPORT, 80);
	pkt_str(p, "GET / HTTP/1.1\r\n\r\n");
}

BUILD(http_frag_first)
{
	pkt_eth(p);
	pkt_ipv4(p, NULL, NULL);
	pkt_ipv4_frag(p, 0, true);
	pkt_tcp(p, CPORT, 80, PSH | ACK);
	pkt_str(p, "GET /frag HTTP/1.1\r\n");
}

/* Request bytes past the IP total length (in the padding) do not count. */
BUILD(not_http_in_padding)
{
	int ip;

	ip = tcp4(p, ACK, "GET / HTTP/1.1\r\n") - 20;
	pkt_finish(p);
	pkt_ip4(p, ip)->tot_len = htons(40);
}

/* clang-format off */
#define TCPF(fl, sp, dp) { .family = 4, .proto = IPPROTO_TCP, .sport = sp, .dport = dp, .tcp_flags = fl }
#define TCP6F(fl, sp, dp) { .family = 6, .proto = IPPROTO_TCP, .sport = sp, .dport = dp, .tcp_flags = fl }
#define UDPF(sp, dp)	  { .family = 4, .proto = IPPROTO_UDP, .sport = sp, .dport = dp }
#define UDP6F(sp, dp)	  { .family = 6, .proto = IPPROTO_UDP, .sport = sp, .dport = dp }
#define HTTPF		  TCPF(PSH | ACK, CPORT, 80)
#define NOT_HTTP(name)	  { #name, build_##name, V4 | TCP, 0, 0, HTTPF, {} }
#define V4ONLY(p)	  { .family = 4, .proto = p }
#define V6ONLY(p)	  { .family = 6, .proto = p }

static const struct pcase cases[] = {
	/* Classes, one layer at a time. */
	{ "ipv4_tcp_syn", build_ipv4_tcp_syn, V4 | TCP, 0, 0, TCPF(SYN, CPORT, 80), {} },
	{ "ipv4_tcp_opts_synack", build_ipv4_tcp_opts_synack, V4 | TCP, 0, 0,
	  TCPF(SYN | ACK, 80, CPORT), {} },
	{ "ipv4_udp", build_ipv4_udp, V4 | UDP, 0, 0, UDPF(5353, 53), {} },
	{ "ipv4_udp_empty", build_ipv4_udp_empty, V4 | UDP, 0, 0, UDPF(1, 2), {} },
	{ "ipv4_icmp_echo", build_ipv4_icmp_echo, V4 | C(ICMP), 0, 0,
	  { .family = 4, .proto = IPPROTO_ICMP, .sport = 8, .dport = 0 }, {} },
	{ "ipv4_icmp_unreach", build_ipv4_icmp_unreach, V4 | C(ICMP), 0, 0,
	  { .family = 4, .proto = IPPROTO_ICMP, .sport = 3, .dport = 3 }, {} },
	{ "ipv4_gre", build_ipv4_gre, V4 | C(OTHER_L4), 0, 0, V4ONLY(47), {} },
	{ "ipv4_ipip", build_ipv4_ipip, V4 | C(OTHER_L4), 0, 0, V4ONLY(IPPROTO_IPIP), {} },
	{ "ipv4_ipv6_in_ipv4", build_ipv6_in_ipv4, V4 | C(OTHER_L4), 0, 0, V4ONLY(IPPROTO_IPV6),
	  {} },
	{ "ipv4_proto_icmpv6", build_ipv4_proto_icmpv6, V4 | C(OTHER_L4), 0, 0,
	  V4ONLY(IPPROTO_ICMPV6), {} },
	{ "ipv4_ah", build_ipv4_ah, V4 | C(OTHER_L4), 0, 0, V4ONLY(IPPROTO_AH), {} },
	{ "ipv4_padded_frame", build_ipv4_padded, V4 | UDP, 0, 0, UDPF(1000, 2000), {} },
	{ "ipv6_tcp", build_ipv6_tcp, V6 | TCP, 0, 0, TCP6F(SYN, CPORT, 80), {} },
	{ "ipv6_udp", build_ipv6_udp, V6 | UDP, 0, 0, UDP6F(546, 547), {} },
	{ "ipv6_icmpv6_echo", build_ipv6_icmpv6_echo, V6 | C(ICMPV6), 0, 0,
	  { .family = 6, .proto = IPPROTO_ICMPV6, .sport = 128 }, {} },
	{ "ipv6_icmpv6_ns", build_ipv6_icmpv6_ns, V6 | C(ICMPV6), 0, 0,
	  { .family = 6, .proto = IPPROTO_ICMPV6, .sport = 135, .src = "fe80::1",
	    .dst = "ff02::1:ff00:2" }, {} },
	{ "ipv6_proto_icmp", build_ipv6_proto_icmp, V6 | C(OTHER_L4), 0, 0, V6ONLY(IPPROTO_ICMP),
	  {} },
	{ "ipv6_no_next_header", build_ipv6_no_next, V6 | C(OTHER_L4), 0, 0, V6ONLY(IPPROTO_NONE),
	  {} },
	{ "ipv6_esp", build_ipv6_esp, V6 | C(OTHER_L4), 0, 0, V6ONLY(IPPROTO_ESP), {} },
	{ "arp_request", build_arp_request, C(ARP), 0, 0, {}, {} },
	{ "arp_reply_padded", build_arp_reply_padded, C(ARP), 0, 0, {}, {} },
	{ "other_l2_lldp", build_other_l2_lldp, C(OTHER_L2), 0, 0, {}, {} },
	{ "other_l2_mpls", build_other_l2_mpls, C(OTHER_L2), 0, 0, {}, {} },
	{ "other_l2_8023_stp", build_other_l2_8023_stp, C(OTHER_L2), 0, 0, {}, {} },
	{ "other_l2_8023_min", build_other_l2_8023_min, C(OTHER_L2), 0, 0, {}, {} },

	/* VLAN: the key holds the outermost VID, without PCP and DEI. */
	{ "vlan_ipv4_udp", build_vlan_ipv4_udp, VLAN | V4 | UDP, 0, 0,
	  { .family = 4, .proto = IPPROTO_UDP, .vlan = 100, .sport = 5353, .dport = 53 }, {} },
	{ "vlan_8021ad_ipv6_tcp", build_vlan_8021ad_ipv6_tcp, VLAN | V6 | TCP, 0, 0,
	  { .family = 6, .proto = IPPROTO_TCP, .vlan = 300, .sport = CPORT, .dport = 80,
	    .tcp_flags = ACK }, {} },
	{ "vlan_pcp_dei_masked", build_vlan_pcp_dei, VLAN | V4 | C(ICMP), 0, 0,
	  { .family = 4, .proto = IPPROTO_ICMP, .vlan = 42 }, {} },
	{ "vlan_arp", build_vlan_arp, VLAN | C(ARP), 0, 0, {}, {} },
	{ "vlan_other_l2", build_vlan_other_l2, VLAN | C(OTHER_L2), 0, 0, {}, {} },
	{ "qinq_ipv4_tcp", build_qinq_ipv4_tcp, VLAN | V4 | TCP, 0, 0,
	  { .family = 4, .proto = IPPROTO_TCP, .vlan = 10, .sport = CPORT, .dport = 443,
	    .tcp_flags = SYN }, {} },
	{ "qinq_8100_8100_icmpv6", build_qinq_8100_8100_icmpv6, VLAN | V6 | C(ICMPV6), 0, 0,
	  { .family = 6, .proto = IPPROTO_ICMPV6, .vlan = 4000, .sport = 129 }, {} },
	{ "vlan_3_tags", build_vlan3_depth, VLAN | MAL, FT_MAL_VLAN_DEPTH, 0, {}, {} },

	/* IPv4 options and fragments. */
	{ "ipv4_options_router_alert", build_ipv4_opts_router_alert, V4 | TCP, 0, 0,
	  TCPF(SYN, CPORT, 80), {} },
	{ "ipv4_options_40_bytes", build_ipv4_opts_max, V4 | UDP, 0, 0, UDPF(5353, 53), {} },
	{ "ipv4_df_not_fragment", build_ipv4_df_not_fragment, V4 | TCP, 0, 0,
	  TCPF(ACK, CPORT, 80), {} },
	{ "ipv4_frag_first_tcp", build_ipv4_frag_first_tcp, V4 | FRAG | TCP, 0, 0,
	  TCPF(ACK, CPORT, 80), {} },
	{ "ipv4_frag_first_icmp", build_ipv4_frag_first_icmp, V4 | FRAG | C(ICMP), 0, 0,
	  { .family = 4, .proto = IPPROTO_ICMP, .sport = 8 }, {} },
	{ "ipv4_frag_first_udp", build_ipv4_frag_first_udp, V4 | FRAG | UDP, 0, 0, UDPF(5353, 53),
	  {} },
	{ "ipv4_frag_middle_udp", build_ipv4_frag_middle_udp, V4 | FRAG | UDP, 0, 0,
	  V4ONLY(IPPROTO_UDP), {} },
	{ "ipv4_frag_last_tcp", build_ipv4_frag_last_tcp, V4 | FRAG | TCP, 0, 0,
	  V4ONLY(IPPROTO_TCP), {} },
	{ "ipv4_frag_nonfirst_short", build_ipv4_frag_nonfirst_short, V4 | FRAG | TCP, 0, 0,
	  V4ONLY(IPPROTO_TCP), {} },

	/* IPv6 extension headers. */
	{ "ipv6_hop_by_hop", build_ipv6_hbh_udp, V6 | UDP, 0, 0, UDP6F(5353, 53), {} },
	{ "ipv6_hop_by_hop_24_bytes", build_ipv6_hbh_long_udp, V6 | UDP, 0, 0, UDP6F(5353, 53),
	  {} },
	{ "ipv6_routing", build_ipv6_routing_tcp, V6 | TCP, 0, 0, TCP6F(SYN, CPORT, 80), {} },
	{ "ipv6_dest_options", build_ipv6_dstopts_icmpv6, V6 | C(ICMPV6), 0, 0,
	  { .family = 6, .proto = IPPROTO_ICMPV6, .sport = 128 }, {} },
	{ "ipv6_hbh_dst_rt_dst", build_ipv6_hbh_dst_routing_dst_tcp, V6 | TCP, 0, 0,
	  TCP6F(SYN, CPORT, 80), {} },
	{ "ipv6_frag_first_tcp", build_ipv6_frag_first_tcp, V6 | FRAG | TCP, 0, 0,
	  TCP6F(ACK, CPORT, 80), {} },
	{ "ipv6_frag_first_udp", build_ipv6_frag_first_udp, V6 | FRAG | UDP, 0, 0,
	  UDP6F(5353, 53), {} },
	{ "ipv6_frag_nonfirst_udp", build_ipv6_frag_nonfirst_udp, V6 | FRAG | UDP, 0, 0,
	  V6ONLY(IPPROTO_UDP), {} },
	{ "ipv6_hbh_frag_last_tcp", build_ipv6_hbh_frag_last_tcp, V6 | FRAG | TCP, 0, 0,
	  V6ONLY(IPPROTO_TCP), {} },
	{ "ipv6_frag_nonfirst_icmpv6", build_ipv6_frag_nonfirst_icmpv6, V6 | FRAG | C(ICMPV6), 0,
	  0, V6ONLY(IPPROTO_ICMPV6), {} },
	{ "ipv6_ext_chain_8", build_ipv6_chain_8, V6 | UDP, 0, 0, UDP6F(5353, 53), {} },
	{ "ipv6_ext_chain_8_mixed", build_ipv6_chain_8_mixed, V6 | FRAG | TCP, 0, 0,
	  TCP6F(SYN, CPORT, 80), {} },
	{ "ipv6_ext_chain_9", build_ipv6_chain_9, V6 | MAL, FT_MAL_IPV6_EXT_CHAIN, 0, {}, {} },
	{ "ipv6_ah_ends_chain", build_ipv6_ah_tcp, V6 | C(OTHER_L4), 0, 0, V6ONLY(IPPROTO_AH),
	  {} },
	{ "ipv6_hbh_no_next_header", build_ipv6_hbh_no_next, V6 | C(OTHER_L4), 0, 0,
	  V6ONLY(IPPROTO_NONE), {} },

	/* Every malformed reason; a class counts only once its header is whole. */
	{ "mal_eth_truncated", build_eth_truncated, MAL, FT_MAL_ETH_TRUNCATED, 0, {}, {} },
	{ "mal_ipv4_ethertype_only", build_eth_only_ipv4, MAL, FT_MAL_IPV4_TRUNCATED, 0, {}, {} },
	{ "mal_vlan_truncated", build_vlan_truncated, MAL, FT_MAL_VLAN_TRUNCATED, 0, {}, {} },
	{ "mal_qinq_inner_truncated", build_qinq_inner_truncated, VLAN | MAL,
	  FT_MAL_VLAN_TRUNCATED, 0, {}, {} },
	{ "mal_vlan_depth", build_vlan3_depth, VLAN | MAL, FT_MAL_VLAN_DEPTH, 0, {}, {} },
	{ "mal_arp_truncated", build_arp_truncated, MAL, FT_MAL_ARP_TRUNCATED, 0, {}, {} },
	{ "mal_arp_addresses_truncated", build_arp_addresses_truncated, MAL,
	  FT_MAL_ARP_TRUNCATED, 0, {}, {}},
	{ "mal_ip_version_in_ipv4", build_ip_version_in_ipv4, MAL, FT_MAL_IP_VERSION, 0, {}, {} },
	{ "mal_ip_version_in_ipv6", build_ip_version_in_ipv6, MAL, FT_MAL_IP_VERSION, 0, {}, {} },
	{ "mal_ipv4_header_truncated", build_ipv4_header_truncated, MAL, FT_MAL_IPV4_TRUNCATED, 0,
	  {}, {} },
	{ "mal_ipv4_ihl_4", build_ipv4_ihl_4, MAL, FT_MAL_IPV4_IHL, 0, {}, {} },
	{ "mal_ipv4_ihl_0", build_ipv4_ihl_0, MAL, FT_MAL_IPV4_IHL, 0, {}, {} },
	{ "mal_ipv4_options_truncated", build_ipv4_options_truncated, MAL, FT_MAL_IPV4_TRUNCATED,
	  0, {}, {} },
	{ "mal_ipv4_total_len_lt_20", build_ipv4_total_len_lt_ihl, MAL, FT_MAL_IPV4_TOTAL_LEN, 0,
	  {}, {} },
	{ "mal_ipv4_total_len_lt_ihl", build_ipv4_total_len_lt_options, MAL,
	  FT_MAL_IPV4_TOTAL_LEN, 0, {}, {} },
	{ "mal_ipv4_total_len_0", build_ipv4_total_len_0, MAL, FT_MAL_IPV4_TOTAL_LEN, 0, {}, {} },
	{ "mal_ipv4_total_len_gt_frame", build_ipv4_total_len_gt_frame, MAL,
	  FT_MAL_IPV4_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_header_truncated", build_ipv6_header_truncated, MAL, FT_MAL_IPV6_TRUNCATED, 0,
	  {}, {} },
	{ "mal_ipv6_payload_len_gt_frame", build_ipv6_payload_len_gt_frame, MAL,
	  FT_MAL_IPV6_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_ext_fixed_part_truncated", build_ipv6_ext_fixed_truncated, V6 | MAL,
	  FT_MAL_IPV6_EXT_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_ext_length_truncated", build_ipv6_ext_len_truncated, V6 | MAL,
	  FT_MAL_IPV6_EXT_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_ext_beyond_payload_len", build_ipv6_ext_beyond_payload_len, V6 | MAL,
	  FT_MAL_IPV6_EXT_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_frag_header_truncated", build_ipv6_frag_hdr_truncated, V6 | MAL,
	  FT_MAL_IPV6_EXT_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_second_ext_truncated", build_ipv6_second_ext_truncated, V6 | MAL,
	  FT_MAL_IPV6_EXT_TRUNCATED, 0, {}, {} },
	{ "mal_ipv6_ext_chain", build_ipv6_chain_9, V6 | MAL, FT_MAL_IPV6_EXT_CHAIN, 0, {}, {} },
	{ "mal_tcp_truncated", build_tcp_truncated, V4 | MAL, FT_MAL_TCP_TRUNCATED, 0, {}, {} },
	{ "mal_tcp_truncated_ipv6", build_tcp6_truncated, V6 | MAL, FT_MAL_TCP_TRUNCATED, 0, {},
	  {} },
	{ "mal_tcp_truncated_by_total_len", build_tcp_truncated_by_tot_len, V4 | MAL,
	  FT_MAL_TCP_TRUNCATED, 0, {}, {} },
	{ "mal_tcp_doff_beyond_segment", build_tcp_doff_beyond, V4 | MAL, FT_MAL_TCP_TRUNCATED, 0,
	  {}, {} },
	{ "mal_tcp_doff_4", build_tcp_doff_4, V4 | MAL, FT_MAL_TCP_DOFF, 0, {}, {} },
	{ "mal_tcp_doff_0", build_tcp_doff_0, V4 | MAL, FT_MAL_TCP_DOFF, 0, {}, {} },
	{ "mal_udp_truncated", build_udp_truncated, V4 | MAL, FT_MAL_UDP_TRUNCATED, 0, {}, {} },
	{ "mal_udp_truncated_ipv6", build_udp6_truncated, V6 | MAL, FT_MAL_UDP_TRUNCATED, 0, {},
	  {} },
	{ "mal_udp_len_lt_8", build_udp_len_lt_8, V4 | MAL, FT_MAL_UDP_LEN, 0, {}, {} },
	{ "mal_udp_len_gt_ip", build_udp_len_gt_ip, V4 | MAL, FT_MAL_UDP_LEN, 0, {}, {} },
	{ "mal_udp_len_gt_ip_ipv6", build_udp6_len_gt_ip, V6 | MAL, FT_MAL_UDP_LEN, 0, {}, {} },
	{ "udp_len_lt_ip_ok", build_udp_len_lt_ip, V4 | UDP, 0, 0, UDPF(1, 2), {} },
	{ "mal_icmp_truncated", build_icmp_truncated, V4 | MAL, FT_MAL_ICMP_TRUNCATED, 0, {}, {} },
	{ "mal_icmpv6_truncated", build_icmpv6_truncated, V6 | MAL, FT_MAL_ICMPV6_TRUNCATED, 0, {},
	  {} },
	{ "mal_vlan_ipv4_truncated", build_vlan_ipv4_truncated, VLAN | MAL,
	  FT_MAL_IPV4_TRUNCATED, 0, {}, {} },

	/* HTTP: all methods, paths, and payloads that only look like requests. */
	{ "http_get", build_http_get, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF, { "/index.html", 0 } },
	{ "http_head", build_http_head, V4 | TCP | HTTP, 0, FT_HTTP_HEAD, HTTPF, { "/status", 0 } },
	{ "http_post", build_http_post, V4 | TCP | HTTP, 0, FT_HTTP_POST, HTTPF,
	  { "/api/v1/items", 0 } },
	{ "http_put", build_http_put, V4 | TCP | HTTP, 0, FT_HTTP_PUT, HTTPF, { "/items/7", 0 } },
	{ "http_delete", build_http_delete, V4 | TCP | HTTP, 0, FT_HTTP_DELETE, HTTPF,
	  { "/items/7", 0 } },
	{ "http_options", build_http_options, V4 | TCP | HTTP, 0, FT_HTTP_OPTIONS, HTTPF,
	  { "*", 0 } },
	{ "http_patch", build_http_patch, V4 | TCP | HTTP, 0, FT_HTTP_PATCH, HTTPF,
	  { "/items/7", 0 } },
	{ "http_connect", build_http_connect, V4 | TCP | HTTP, 0, FT_HTTP_CONNECT, HTTPF,
	  { "example.com:443", 0 } },
	{ "http_trace", build_http_trace, V4 | TCP | HTTP, 0, FT_HTTP_TRACE, HTTPF, { "/t", 0 } },
	{ "http_query_redacted", build_http_query_redacted, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { "/search", FT_HTTP_F_REDACTED } },
	{ "http_query_only_redacted", build_http_query_only, V4 | TCP | HTTP, 0, FT_HTTP_GET,
	  HTTPF, { "/", FT_HTTP_F_REDACTED } },
	{ "http_split_request_line", build_http_split_request_line, V4 | TCP | HTTP, 0,
	  FT_HTTP_GET, HTTPF, { "/very/long/path/that/continues", FT_HTTP_F_TRUNCATED } },
	{ "http_split_in_query", build_http_split_in_query, V4 | TCP | HTTP, 0, FT_HTTP_POST,
	  HTTPF, { "/form", FT_HTTP_F_REDACTED } },
	{ "http_minimal", build_http_minimal, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { "/", FT_HTTP_F_TRUNCATED } },
	{ "http_no_version", build_http_no_version, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { "/x", FT_HTTP_F_NO_VERSION } },
	/* The version is not checked: a space ends the target like any other. */
	{ "http_version_not_http", build_http_no_version_junk, V4 | TCP | HTTP, 0, FT_HTTP_GET,
	  HTTPF, { "/x", 0 } },
	{ "http_path_127", build_http_path_127, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { path_127, 0 } },
	{ "http_path_128", build_http_path_128, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { path_128, FT_HTTP_F_TRUNCATED } },
	{ "http_path_over_128", build_http_path_over_128, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { long_target_128, FT_HTTP_F_TRUNCATED } },
	{ "http_ipv6", build_http_ipv6_get, V6 | TCP | HTTP, 0, FT_HTTP_GET,
	  TCP6F(PSH | ACK, CPORT, 80), { "/v6", 0 } },
	{ "http_ipv6_ext_headers", build_http_ipv6_ext, V6 | TCP | HTTP, 0, FT_HTTP_GET,
	  TCP6F(PSH | ACK, CPORT, 80), { "/ext", 0 } },
	{ "http_vlan", build_http_vlan_get, VLAN | V4 | TCP | HTTP, 0, FT_HTTP_GET,
	  { .family = 4, .proto = IPPROTO_TCP, .vlan = 100, .sport = CPORT, .dport = 80,
	    .tcp_flags = PSH | ACK }, { "/tagged", 0 } },
	{ "http_port_8080", build_http_port_8080, V4 | TCP | HTTP, 0, FT_HTTP_DELETE,
	  TCPF(PSH | ACK, CPORT, 8080), { "/x", 0 } },
	{ "http_after_tcp_options", build_http_tcp_options, V4 | TCP | HTTP, 0, FT_HTTP_PUT, HTTPF,
	  { "/opts", 0 } },
	{ "http_after_ipv4_options", build_http_ipv4_options, V4 | TCP | HTTP, 0, FT_HTTP_HEAD,
	  HTTPF, { "/ra", 0 } },
	{ "http_padded_frame", build_http_padded, V4 | TCP | HTTP, 0, FT_HTTP_GET, HTTPF,
	  { "/p", FT_HTTP_F_TRUNCATED } },
	{ "http_first_fragment", build_http_frag_first, V4 | FRAG | TCP | HTTP, 0, FT_HTTP_GET,
	  HTTPF, { "/frag", 0 } },
	NOT_HTTP(not_http_getx),
	NOT_HTTP(not_http_lowercase),
	NOT_HTTP(not_http_bare_get),
	NOT_HTTP(not_http_get_space),
	NOT_HTTP(not_http_double_space),
	NOT_HTTP(not_http_get_crlf),
	NOT_HTTP(not_http_post_crlf),
	NOT_HTTP(not_http_puts),
	NOT_HTTP(not_http_response),
	NOT_HTTP(not_http_tls),
	NOT_HTTP(not_http_prefix),
	{ "not_http_in_padding", build_not_http_in_padding, V4 | TCP, 0, 0, TCPF(ACK, CPORT, 80),
	  {} },
	{ "not_http_udp", build_not_http_udp, V4 | UDP, 0, 0, UDPF(CPORT, 80), {} },
};
/* clang-format on */

/* Runs one table case on one hook and checks every map. */
static void run_case(const struct hook *h, const struct pcase *c)
{
	struct want_stats ws = {
	    .cls = c->cls, .reason = c->reason, .method = c->method, .packets = 1};
	struct pkt p;
	__u64 t0, t1;
	int err, ret;

	if (!test_start("%s/%s", h->name, c->name))
		return;
	pkt_init(&p);
	c->build(&p);
	if (!p.finished)
		pkt_finish(&p);
	if (p.len < ETH_HLEN) {
		test_skip("BPF_PROG_TEST_RUN rejects frames shorter than ETH_HLEN (EINVAL); "
			  "see parser/%s",
			  c->name);
		goto out;
	}
	ws.bytes = p.len;
	ws.http_sample_counter = c->method ? 1 : 0;
	if (c->known)
		test_known_failure(c->known);
	hook_reset(h);
	t0 = time_before();
	err = hook_run(h, &p, NULL, &ret);
	if (err == -EINVAL && h->id != HOOK_XDP) {
		/* No test skb has an IP header shorter than the minimum, but
		 * such frames do reach TC: send a real one. */
		if (!run_real(h, &p))
			goto out;
	} else if (!ASSERT_OK(err, "BPF_PROG_TEST_RUN") || !ASSERT_EQ(ret, h->verdict, "verdict")) {
		goto out;
	}
	t1 = time_after();
	if (!check_stats(h, &ws))
		goto out;
	if (!check_one_flow(h, &c->flow, 1, p.len, c->method ? 1 : 0, t0, t1))
		goto out;
	check_events(h, 1, &c->flow, c->method, &c->ev, t0, t1);
out:
	test_end();
}

/*
 * The same parser source, built for userspace as the fuzzers build it, must
 * agree with the BPF build: same classes (HTTP is counted by the caller, not
 * the parser), reason, key and method. It is also the only way to reach
 * frames shorter than an Ethernet header, which the kernel will not run.
 */
static void run_parser_case(const struct pcase *c)
{
	struct ft_flow_key want, got;
	struct ft_parsed pp = {};
	struct ft_parse_in in;
	struct hook h = {.dir = FT_DIR_INGRESS};
	struct pkt p;

	if (!test_start("parser/%s", c->name))
		return;
	if (c->known)
		test_known_failure(c->known);
	pkt_init(&p);
	c->build(&p);
	if (!p.finished)
		pkt_finish(&p);
	in = (struct ft_parse_in){.data = p.data, .data_end = p.data + p.len, .pkt_len = p.len};
	ft_parse(&in, &pp);
	if (!ASSERT_EQ(pp.reason, c->reason, "reason") ||
	    !ASSERT_EQ(pp.classes, c->cls & ~HTTP, "classes") ||
	    !ASSERT_EQ(pp.http_method, c->method, "http_method") ||
	    !ASSERT_EQ(pp.payload_nonlinear, 0, "payload_nonlinear"))
		goto out;
	if (c->flow.family) {
		want_key(&h, &c->flow, &want);
		got = pp.key;
		got.ifindex = want.ifindex; /* the caller's to fill */
		(void)(check_key(&got, &want) &&
		       ASSERT_EQ(pp.tcp_flags, c->flow.tcp_flags, "tcp_flags"));
	}
out:
	test_end();
}

/* A sample of the table again, with lo's counters in an array slot. */
static void run_slot_cases(struct dp *dp)
{
	static const char *const names[] = {
	    "ipv4_tcp_syn", "ipv6_udp",	      "arp_request", "qinq_ipv4_tcp",
	    "vlan_3_tags",  "mal_tcp_doff_4", "http_get",    "http_query_redacted",
	};
	static const char *const hook_names[HOOK_MAX] = {"xdp_slot", "tc_in_slot", "tc_eg_slot"};
	struct hook h;
	size_t i, k;
	int id;

	for (id = 0; id < HOOK_MAX; id++) {
		h = dp->hooks[id];
		if (h.ifslot_fd < 0 || h.slots_fd < 0) {
			test_skip_all(hook_names[id], "the datapath has no ft_ifslot map");
			continue;
		}
		h.name = hook_names[id];
		h.use_slot = true;
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
				if (!strcmp(cases[i].name, names[k]))
					run_case(&h, &cases[i]);
		h.use_slot = false;
		slot_reset(&h); /* give the slot back */
	}
}

static void run_table(struct dp *dp)
{
	size_t i;
	int h;

	for (h = 0; h < HOOK_MAX; h++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_case(&dp->hooks[h], &cases[i]);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_parser_case(&cases[i]);
}

/* ---- Cases that need more than one packet or a special context ---- */

static void build_pkt(struct pkt *p, void (*build)(struct pkt *))
{
	pkt_init(p);
	build(p);
	if (!p->finished)
		pkt_finish(p);
}

/*
 * One TCP connection's packets from the client: one flow, flags ORed. The
 * SYN and the final ACK, with no SYN-ACK seen here, make one handshake.
 */
static void test_flow_accumulates(const struct hook *h)
{
	static const __u8 flags[] = {SYN, ACK, PSH | ACK, FIN | ACK};
	static const __u32 seq[] = {1000, 1001, 1001, 1010};
	struct want_flow f = TCPF(SYN | ACK | PSH | FIN, CPORT, 80);
	struct want_stats ws = {.cls = V4 | TCP, .packets = 4, .tcp_handshakes = 1};
	struct pkt p;
	__u64 t0, t1;
	size_t i;

	if (!test_start("%s/flow_accumulates", h->name))
		return;
	hook_reset(h);
	t0 = time_before();
	for (i = 0; i < sizeof(flags); i++) {
		pkt_init(&p);
		pkt_tcph(&p, tcp4(&p, flags[i], i == 2 ? "some data" : NULL))->seq = htonl(seq[i]);
		pkt_finish(&p);
		ws.bytes += p.len;
		if (!run_n(h, &p, 1, NULL))
			goto out;
	}
	t1 = time_after();
	if (check_stats(h, &ws))
		check_one_flow(h, &f, 4, ws.bytes, 0, t0, t1);
out:
	test_end();
}

/* Direction, reversed addresses and VLAN id each make a distinct flow. */
static void test_flow_keys_distinct(struct dp *dp)
{
	const struct hook *in = &dp->hooks[HOOK_TC_IN], *eg = &dp->hooks[HOOK_TC_EG];
	struct ft_if_stats s;
	struct flow fl[8];
	struct pkt p;
	int n, i, ndir[2] = {};

	if (!test_start("tc/flow_keys_distinct"))
		return;
	hook_reset(in);
	build_pkt(&p, build_ipv4_udp);
	if (!run_n(in, &p, 1, NULL) || !run_n(eg, &p, 1, NULL))
		goto out;
	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, PKT_IP4_DST, PKT_IP4_SRC);
	pkt_udp(&p, 53, 5353);
	pkt_finish(&p);
	if (!run_n(in, &p, 1, NULL))
		goto out;
	build_pkt(&p, build_vlan_ipv4_udp);
	if (!run_n(in, &p, 1, NULL))
		goto out;
	n = flows_read(in, fl, 8);
	if (!ASSERT_EQ(n, 4, "ft_flows entries"))
		goto out;
	for (i = 0; i < n; i++) {
		ndir[fl[i].key.dir & 1]++;
		if (!ASSERT_EQ(fl[i].val.packets, 1, "packets of each flow"))
			goto out;
	}
	if (!ASSERT_EQ(ndir[FT_DIR_INGRESS], 3, "ingress flows") ||
	    !ASSERT_EQ(ndir[FT_DIR_EGRESS], 1, "egress flows"))
		goto out;
	if (!ASSERT_EQ(map_count(in->ifstats_fd, sizeof(struct ft_if_key)), 2,
		       "ft_ifstats entries (ingress, egress)"))
		goto out;
	(void)(ASSERT_TRUE(stats_read(in, FT_DIR_INGRESS, &s), "ingress stats") &&
	       ASSERT_EQ(s.cls[FT_CLASS_UDP].packets, 3, "ingress udp packets") &&
	       ASSERT_TRUE(stats_read(in, FT_DIR_EGRESS, &s), "egress stats") &&
	       ASSERT_EQ(s.cls[FT_CLASS_UDP].packets, 1, "egress udp packets"));
out:
	test_end();
}

/* A GSO packet counts its segments as packets and its bytes once. */
static void test_gso_segs(const struct hook *h)
{
	struct want_flow f = HTTPF;
	struct want_event ev = {"/index.html", 0};
	struct want_stats ws = {
	    .cls = V4 | TCP | HTTP, .method = FT_HTTP_GET, .packets = 4, .http_sample_counter = 1};
	struct run_opts ro = {.gso_segs = 4};
	struct pkt p;
	__u64 t0, t1;
	int ret, err;

	if (!test_start("%s/gso_segs", h->name))
		return;
	hook_reset(h);
	build_pkt(&p, build_http_get);
	ws.bytes = p.len;
	t0 = time_before();
	err = hook_run(h, &p, &ro, &ret);
	t1 = time_after();
	if (err == -EINVAL) {
		test_skip("kernel rejects gso_segs in BPF_PROG_TEST_RUN ctx_in (EINVAL)");
		goto out;
	}
	if (!ASSERT_OK(err, "BPF_PROG_TEST_RUN") || !ASSERT_EQ(ret, h->verdict, "verdict"))
		goto out;
	if (check_stats(h, &ws) && check_one_flow(h, &f, 4, p.len, 1, t0, t1))
		check_events(h, 1, &f, FT_HTTP_GET, &ev, t0, t1);
out:
	test_end();
}

/* An accelerated tag through the test-run context, where the kernel allows it. */
static void test_hw_vlan_ctx(const struct hook *h)
{
	struct want_flow f = {
	    .family = 4, .proto = IPPROTO_UDP, .vlan = 77, .sport = 5353, .dport = 53};
	struct want_stats ws = {.cls = VLAN | V4 | UDP, .packets = 1};
	struct __sk_buff skb = {.vlan_present = 1, .vlan_tci = 77};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &skb, .ctx_size_in = sizeof(skb));
	struct pkt p;
	__u64 t0, t1;
	int err;

	if (!test_start("%s/hw_vlan_ctx", h->name))
		return;
	hook_reset(h);
	build_pkt(&p, build_ipv4_udp);
	o.data_in = p.data;
	o.data_size_in = p.len;
	ws.bytes = p.len + 4;
	t0 = time_before();
	err = bpf_prog_test_run_opts(h->prog_fd, &o) ? -errno : 0;
	t1 = time_after();
	if (err == -EINVAL) {
		test_skip("kernel rejects vlan_present/vlan_tci in BPF_PROG_TEST_RUN ctx_in "
			  "(EINVAL); covered by %s/hw_vlan_lo_* with real frames",
			  h->name);
		goto out;
	}
	if (!ASSERT_OK(err, "BPF_PROG_TEST_RUN") ||
	    !ASSERT_EQ((int)o.retval, h->verdict, "verdict"))
		goto out;
	if (check_stats(h, &ws))
		check_one_flow(h, &f, 1, p.len + 4, 0, t0, t1);
out:
	test_end();
}

/*
 * Real frames sent to lo: the receive path moves the outer tag into
 * skb->vlan_tci before TC ingress runs, which test runs cannot reproduce.
 */
static void hw_vlan_lo_case(const struct hook *h, const char *name, void (*build)(struct pkt *),
			    const struct want_stats *w, const struct want_flow *f)
{
	struct want_stats ws = *w;
	struct pkt p;
	__u64 t0, t1;

	if (!test_start("%s/hw_vlan_lo_%s", h->name, name))
		return;
	hook_reset(h);
	build_pkt(&p, build);
	ws.bytes = p.len; /* the frame as sent, its tag included */
	t0 = time_before();
	if (!run_real(h, &p))
		goto out;
	t1 = time_after();
	if (check_stats(h, &ws))
		check_one_flow(h, f, 1, p.len, 0, t0, t1);
out:
	test_end();
}

static void test_hw_vlan_lo(const struct hook *h)
{
	struct want_stats one = {.cls = VLAN | V4 | UDP, .packets = 1};
	struct want_stats two = {.cls = VLAN | V4 | TCP, .packets = 1};
	struct want_stats three = {.cls = VLAN | MAL, .reason = FT_MAL_VLAN_DEPTH, .packets = 1};
	struct want_flow f1 = {
	    .family = 4, .proto = IPPROTO_UDP, .vlan = 100, .sport = 5353, .dport = 53};
	struct want_flow f2 = {.family = 4,
			       .proto = IPPROTO_TCP,
			       .vlan = 10,
			       .sport = CPORT,
			       .dport = 443,
			       .tcp_flags = SYN};
	struct want_flow none = {};

	hw_vlan_lo_case(h, "8021q", build_vlan_ipv4_udp, &one, &f1);
	hw_vlan_lo_case(h, "qinq", build_qinq_ipv4_tcp, &two, &f2);
	hw_vlan_lo_case(h, "3_tags", build_vlan3_depth, &three, &none);
}

/* With a capture slot in use, the metadata is handed over and the verdict kept. */
static void test_capture_hook(const struct hook *h)
{
	struct ft_config cfg = {.capture_mask = 1}; /* slot 0, left empty */
	struct ft_cap_meta *meta, *m = NULL;
	struct ft_if_stats s;
	struct pkt p;
	__u32 zero = 0;
	__u64 t0, t1;
	int cpu;

	if (!test_start("%s/capture_hook_metadata", h->name))
		return;
	meta = calloc(ncpus, sizeof(*meta));
	hook_reset(h);
	if (!ASSERT_OK_PTR(meta, "calloc") ||
	    !ASSERT_OK(bpf_map_update_elem(h->config_fd, &zero, &cfg, BPF_ANY), "set capture_mask"))
		goto out;
	build_pkt(&p, build_ipv4_udp);
	t0 = time_before();
	if (!run_n(h, &p, 1, NULL))
		goto out;
	t1 = time_after();
	if (!ASSERT_TRUE(stats_read(h, h->dir, &s), "stats") ||
	    !ASSERT_EQ(s.capture_calls, 1, "capture_calls") ||
	    !ASSERT_EQ(s.cls[FT_CLASS_UDP].packets, 1, "udp packets") ||
	    !ASSERT_OK(bpf_map_lookup_elem(h->cap_meta_fd, &zero, meta), "read ft_cap_meta_map"))
		goto out;
	for (cpu = 0; cpu < ncpus; cpu++)
		if (meta[cpu].ts_ns >= t0)
			m = &meta[cpu];
	if (!ASSERT_OK_PTR(m, "metadata written by this run"))
		goto out;
	(void)(ASSERT_LE(m->ts_ns, t1, "meta ts_ns") &&
	       ASSERT_EQ(m->ifindex, lo_ifindex, "meta ifindex") &&
	       ASSERT_EQ(m->pkt_len, p.len, "meta pkt_len") &&
	       ASSERT_EQ(m->dir, h->dir, "meta dir"));
out:
	free(meta);
	bpf_map_update_elem(h->config_fd, &zero, &(struct ft_config){}, BPF_ANY);
	test_end();
}

/* A full ring buffer loses samples, counts them, and still counts the requests. */
static void test_ringbuf_full(const struct hook *h)
{
	const int n = 1500; /* more than 256 KiB of 192-byte records */
	struct ft_if_stats s;
	struct pkt p;
	int i;

	if (!test_start("%s/http_ringbuf_full", h->name))
		return;
	hook_reset(h);
	build_pkt(&p, build_http_get);
	for (i = 0; i < n; i++)
		if (!run_n(h, &p, 1, NULL))
			goto out;
	events_poll(h);
	if (!ASSERT_TRUE(stats_read(h, h->dir, &s), "stats"))
		goto out;
	(void)(ASSERT_EQ(s.http[FT_HTTP_GET].packets, n, "http[GET] packets") &&
	       ASSERT_EQ(s.http_sample_counter, n, "http_sample_counter") &&
	       ASSERT_GT(s.http_samples_lost, 0, "http_samples_lost") &&
	       ASSERT_EQ(nevents + s.http_samples_lost, n, "samples received + lost"));
out:
	events_drain(h);
	test_end();
}

/* One request of the connection the HTTP cases use, with this payload. */
static void build_request(struct pkt *p, const char *payload)
{
	pkt_init(p);
	tcp4(p, PSH | ACK, payload);
	pkt_finish(p);
}

/*
 * Samples are built in place in the ring, which is not zeroed: after the
 * ring has wrapped over records with long paths, a short path still has
 * only zeros past its end (no stale byte, no query string).
 */
static void test_http_stale_ring(const struct hook *h)
{
	static const char zeros[FT_HTTP_PATH_MAX];
	char longreq[FT_HTTP_PATH_MAX + 64];
	const struct ft_http_event *ev;
	struct pkt p;
	int i;

	if (!test_start("%s/http_stale_ring", h->name))
		return;
	hook_reset(h);
	memset(longreq, 'a', sizeof(longreq));
	memcpy(longreq, "GET /", 5);
	snprintf(longreq + sizeof(longreq) - 16, 16, " HTTP/1.1\r\n\r\n");
	build_request(&p, longreq);
	for (i = 0; i < 1500; i++) { /* more than the ring's 1365 records */
		if (!run_n(h, &p, 1, NULL))
			goto out;
		if (i % 100 == 99)
			events_drain(h);
	}
	events_drain(h);
	build_request(&p, "GET /x?q=secret HTTP/1.1\r\n\r\n");
	if (!run_n(h, &p, 1, NULL))
		goto out;
	events_poll(h);
	if (!ASSERT_EQ(nevents, 1, "samples"))
		goto out;
	ev = &events[0];
	(void)(ASSERT_EQ(ev->path_len, 2, "path_len") && ASSERT_MEMEQ(ev->path, "/x", 2, "path") &&
	       ASSERT_EQ(ev->flags, FT_HTTP_F_REDACTED, "flags") &&
	       ASSERT_MEMEQ(ev->path + 2, zeros, FT_HTTP_PATH_MAX - 2, "zero past path_len"));
out:
	events_drain(h);
	test_end();
}

/* Fills ft_ifstats with entries of interfaces that do not exist, as a long
 * churn would without a collector; returns how many went in. */
static int ifstats_fill(const struct hook *h)
{
	void *zeros = calloc(ncpus, sizeof(struct ft_if_stats));
	int i, n = 0, tries, err = 0;

	for (i = 0; zeros && i < FT_MAX_IFACE_KEYS; i++) {
		struct ft_if_key k = {.ifindex = 100000 + i / 2, .dir = i % 2};

		/* Without preallocation an insert fails for memory until the
		 * allocator's per-CPU cache is refilled (asynchronously). */
		for (tries = 0; tries < 1000; tries++) {
			err =
			    bpf_map_update_elem(h->ifstats_fd, &k, zeros, BPF_NOEXIST) ? -errno : 0;
			if (err != -ENOMEM)
				break;
			usleep(100);
		}
		n += !err;
	}
	free(zeros);
	return n;
}

/*
 * With ft_ifstats full and lo holding no slot, lo's packets count in the
 * "unattributed" slot (FT_IFSLOT_OTHER), and its flows under lo as always.
 */
static void test_ifstats_full(const struct hook *h)
{
	__u32 idx = FT_IFSLOT_OTHER * 2 + h->dir;
	struct ft_if_key lo = {.ifindex = lo_ifindex, .dir = h->dir};
	struct ft_if_stats *vals, sum = {};
	struct flow fl[2];
	struct pkt p;
	int cpu, n;

	if (!test_start("%s/ifstats_full_unattributed", h->name))
		return;
	vals = calloc(ncpus, sizeof(*vals));
	hook_reset(h);
	if (h->slots_fd < 0 || !vals) {
		test_skip("the datapath has no array slots");
		goto out;
	}
	if (!ASSERT_EQ(ifstats_fill(h), FT_MAX_IFACE_KEYS, "stale ft_ifstats entries"))
		goto out;
	build_pkt(&p, build_ipv4_udp);
	if (!run_n(h, &p, 2, NULL))
		goto out;
	if (!ASSERT_TRUE(bpf_map_lookup_elem(h->ifstats_fd, &lo, vals) != 0, "no entry for lo") ||
	    !ASSERT_TRUE(!bpf_map_lookup_elem(h->slots_fd, &idx, vals), "unattributed slot"))
		goto out;
	for (cpu = 0; cpu < ncpus; cpu++) {
		sum.cls[FT_CLASS_UDP].packets += vals[cpu].cls[FT_CLASS_UDP].packets;
		sum.cls[FT_CLASS_UDP].bytes += vals[cpu].cls[FT_CLASS_UDP].bytes;
		sum.unattributed += vals[cpu].unattributed;
	}
	n = flows_read(h, fl, 2);
	(void)(ASSERT_EQ(sum.cls[FT_CLASS_UDP].packets, 2, "unattributed udp packets") &&
	       ASSERT_EQ(sum.cls[FT_CLASS_UDP].bytes, 2 * p.len, "unattributed udp bytes") &&
	       ASSERT_EQ(sum.unattributed, 2, "unattributed counter") &&
	       ASSERT_EQ(n, 1, "ft_flows entries") &&
	       ASSERT_EQ(fl[0].key.ifindex, lo_ifindex, "the flow's interface") &&
	       ASSERT_EQ(fl[0].val.packets, 2, "the flow's packets"));
out:
	free(vals);
	hook_reset(h);
	test_end();
}

static void run_default_tests(struct dp *dp)
{
	int i;

	for (i = 0; i < HOOK_MAX; i++) {
		test_ifstats_full(&dp->hooks[i]);
		test_flow_accumulates(&dp->hooks[i]);
		test_capture_hook(&dp->hooks[i]);
		test_ringbuf_full(&dp->hooks[i]);
		test_http_stale_ring(&dp->hooks[i]);
	}
	test_flow_keys_distinct(dp);
	test_gso_segs(&dp->hooks[HOOK_TC_IN]);
	test_gso_segs(&dp->hooks[HOOK_TC_EG]);
	test_hw_vlan_ctx(&dp->hooks[HOOK_TC_IN]);
	test_hw_vlan_lo(&dp->hooks[HOOK_TC_IN]);
}

/* ---- Knobs, each on its own freshly loaded datapath ---- */

/* Sends n GETs of one connection, each at the next sequence number. */
static bool run_requests(const struct hook *h, int n, __u64 *bytes)
{
	struct pkt p;
	int i, th;

	for (i = 0; i < n; i++) {
		pkt_init(&p);
		th = tcp4(&p, PSH | ACK, "GET /index.html HTTP/1.1\r\n\r\n");
		pkt_tcph(&p, th)->seq = htonl(1000 + i * (p.len - th - 20));
		pkt_finish(&p);
		*bytes += p.len;
		if (!run_n(h, &p, 1, NULL))
			return false;
	}
	return true;
}

/* 1 in 3: ten requests give the 3rd, 6th and 9th as samples. */
static void test_sample_rate_3(const struct hook *h)
{
	struct want_flow f = HTTPF;
	struct want_event ev = {"/index.html", 0};
	struct want_stats ws = {.cls = V4 | TCP | HTTP,
				.method = FT_HTTP_GET,
				.packets = 10,
				.http_sample_counter = 10};
	__u64 t0, t1;

	if (!test_start("%s/http_sample_rate_3", h->name))
		return;
	hook_reset(h);
	t0 = time_before();
	if (!run_requests(h, 10, &ws.bytes))
		goto out;
	t1 = time_after();
	if (check_stats(h, &ws) && check_one_flow(h, &f, 10, ws.bytes, 10, t0, t1))
		check_events(h, 3, &f, FT_HTTP_GET, &ev, t0, t1);
out:
	test_end();
}

static void test_sample_rate_0(const struct hook *h)
{
	struct want_flow f = HTTPF;
	struct want_event none = {};
	struct want_stats ws = {.cls = V4 | TCP | HTTP, .method = FT_HTTP_GET, .packets = 3};
	__u64 t0, t1;

	if (!test_start("%s/http_sample_rate_0", h->name))
		return;
	hook_reset(h);
	t0 = time_before();
	if (!run_requests(h, 3, &ws.bytes))
		goto out;
	t1 = time_after();
	if (check_stats(h, &ws) && check_one_flow(h, &f, 3, ws.bytes, 3, t0, t1))
		check_events(h, 0, &f, FT_HTTP_GET, &none, t0, t1);
out:
	test_end();
}

static void keep_query_case(const struct hook *h, const char *name, const char *req, __u8 method,
			    const struct want_event *ev)
{
	struct want_flow f = HTTPF;
	struct want_stats ws = {
	    .cls = V4 | TCP | HTTP, .method = method, .packets = 1, .http_sample_counter = 1};
	struct pkt p;
	__u64 t0, t1;

	if (!test_start("%s/http_keep_query_%s", h->name, name))
		return;
	hook_reset(h);
	pkt_init(&p);
	tcp4(&p, PSH | ACK, req);
	pkt_finish(&p);
	ws.bytes = p.len;
	t0 = time_before();
	if (!run_n(h, &p, 1, NULL))
		goto out;
	t1 = time_after();
	if (check_stats(h, &ws) && check_one_flow(h, &f, 1, p.len, 1, t0, t1))
		check_events(h, 1, &f, method, ev, t0, t1);
out:
	test_end();
}

static void test_keep_query(const struct hook *h)
{
	static const struct want_event full = {"/s?q=1&x=2", 0};
	static const struct want_event split = {"/form?user=alice&pass", FT_HTTP_F_TRUNCATED};
	static const struct want_event nover = {"/a?b", FT_HTTP_F_NO_VERSION};

	keep_query_case(h, "full", "GET /s?q=1&x=2 HTTP/1.1\r\n\r\n", FT_HTTP_GET, &full);
	keep_query_case(h, "split", "POST /form?user=alice&pass", FT_HTTP_POST, &split);
	keep_query_case(h, "no_version", "GET /a?b\r\n", FT_HTTP_GET, &nover);
}

/*
 * ft_flows holds 4 entries: the 5th and 6th flows are counted as overflow,
 * their classes still counted, and a known flow still updated.
 */
static void test_flow_table_full(const struct hook *h)
{
	struct want_stats ws = {.cls = V4 | UDP, .packets = 7, .flow_overflow = 2};
	struct flow fl[8];
	struct pkt p;
	int i, n;

	if (!test_start("%s/flow_table_full", h->name))
		return;
	hook_reset(h);
	for (i = 0; i < 7; i++) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_ipv4(&p, NULL, NULL);
		pkt_udp(&p, i == 6 ? 1 : 1 + i, 53); /* the 7th: flow 1 again */
		pkt_finish(&p);
		ws.bytes += p.len;
		if (!run_n(h, &p, 1, NULL))
			goto out;
	}
	if (!check_stats(h, &ws))
		goto out;
	n = flows_read(h, fl, 8);
	if (!ASSERT_EQ(n, 4, "ft_flows entries"))
		goto out;
	for (i = 0; i < n; i++)
		if (!ASSERT_LE(fl[i].key.sport, 4, "the first 4 flows are the ones kept") ||
		    !ASSERT_EQ(fl[i].val.packets, fl[i].key.sport == 1 ? 2 : 1, "flow packets"))
			goto out;
out:
	test_end();
}

static void test_flows_disabled(const struct hook *h)
{
	struct want_stats ws = {.cls = V4 | TCP, .packets = 1};
	struct want_flow none = {};
	struct pkt p;

	if (!test_start("%s/flows_disabled", h->name))
		return;
	hook_reset(h);
	build_pkt(&p, build_ipv4_tcp_syn);
	ws.bytes = p.len;
	if (run_n(h, &p, 1, NULL) && check_stats(h, &ws))
		check_one_flow(h, &none, 0, 0, 0, 0, 0);
	test_end();
}

struct variant {
	const char *name;
	struct knobs knobs;
	void (*test)(const struct hook *h);
};

static const struct variant variants[] = {
    {"sample_rate_3", {.sample_rate = 3, .flows_enabled = 1}, test_sample_rate_3},
    {"sample_rate_0", {.sample_rate = 0, .flows_enabled = 1}, test_sample_rate_0},
    {"keep_query", {.sample_rate = 1, .keep_query = 1, .flows_enabled = 1}, test_keep_query},
    {"flows_max_4", {.sample_rate = 1, .flows_enabled = 1, .flows_max = 4}, test_flow_table_full},
    {"flows_disabled", {.sample_rate = 1, .flows_enabled = 0}, test_flows_disabled},
};

static void run_variant(const struct variant *v)
{
	char why[256];
	struct dp dp;
	int i;

	if (dp_open(&dp, &v->knobs, why, sizeof(why))) {
		if (test_start("load/%s", v->name)) {
			test_fail("%s", why);
			test_end();
		}
		return;
	}
	if (v->knobs.flows_max && test_start("load/%s", v->name)) {
		ASSERT_EQ(bpf_map__max_entries(dp.xdp->maps.ft_flows), v->knobs.flows_max,
			  "ft_flows max_entries");
		test_end();
	}
	for (i = 0; i < HOOK_MAX; i++)
		v->test(&dp.hooks[i]);
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
	struct dp dp;
	size_t i;
	int opt;

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
		test_skip_all("test_bpf", "needs root (BPF, network namespaces)");
		return 0;
	}
	ncpus = libbpf_num_possible_cpus();
	paths_init();
	if (netns_enter(why, sizeof(why)) || ncpus <= 0) {
		test_skip_all("test_bpf", why);
		return 0;
	}
	pin_cpu();
	if (dp_open(&dp, &default_knobs, why, sizeof(why))) {
		if (test_start("load/default")) {
			test_fail("%s", why);
			test_end();
		}
		return test_exit_code();
	}
	run_table(&dp);
	run_slot_cases(&dp);
	run_default_tests(&dp);
	lo_tc_destroy();
	dp_close(&dp);
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		run_variant(&variants[i]);
	return test_exit_code();
}
