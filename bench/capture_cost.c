// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * capture_cost: what a capture filter that matches nothing adds to every
 * packet. The datapath's XDP and TC programs run a 64-byte UDP frame under
 * BPF_PROG_TEST_RUN (repeat N) with no capture slot in use, then with a
 * translated filter in slot 0 (any interface, so the filter really runs);
 * the difference is the cost of the tail call, the capture program's
 * selection and the filter. The XDP run is attached to lo of a private
 * network namespace: an XDP test run on a program attached nowhere pays a
 * synchronize_rcu per call.
 *
 * Needs FLOWTAP_PIN_ROOT on a bpffs of its own (bench/capture.sh mounts
 * one). Prints one JSON line per hook.
 *
 * Usage: capture_cost [-n REPEAT] [-k ROUNDS] [FILTER]   (default "tcp port 9999")
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "cbpf.h"
#include "cli.h"
#include "datapath.h"
#include "flowtap.h"

struct hook {
	const char *name;
	enum ft_prog_kind kind;
	enum cbpf_ctx ctx;
	enum bpf_prog_type type;
	const char *array;
};

static const struct hook hooks[] = {
    {"xdp", FT_PROG_XDP, CBPF_CTX_XDP, BPF_PROG_TYPE_XDP, "ft_cap_xdp"},
    {"tc", FT_PROG_TC_INGRESS, CBPF_CTX_SKB, BPF_PROG_TYPE_SCHED_CLS, "ft_cap_tc"},
};

static unsigned char frame[64] = {
    0x02, 0,	0, 0,  0, 2,  0x02, 0, 0,  0,  0, 1, 0x08, 0x00,		      /* Ethernet */
    0x45, 0,	0, 50, 0, 1,  0,    0, 64, 17, 0, 0, 198,  18,	 0, 1, 198, 19, 0, 1, /* IPv4 */
    0x9c, 0x40, 0, 9,  0, 30, 0,    0, /* UDP 40000 > 9 */
};

static int lo_up(void)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM, 0), err;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	err = s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	err = err || ioctl(s, SIOCSIFFLAGS, &ifr);
	if (s >= 0)
		close(s);
	return err ? -1 : 0;
}

static double run_once(int fd, int n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
		    .repeat = n);

	return bpf_prog_test_run_opts(fd, &o) ? -1.0 : (double)o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void set_mask(const char *root, __u32 mask);

/*
 * Per round, the datapath without a capture (mask 0) and with the masks
 * given, back to back, so that drift from other load on the machine hits
 * both: the medians of the per-round base and differences.
 */
static void measure(const char *root, int fd, int n, int k, const __u32 *masks, int nm,
		    double *base, double *added)
{
	double b[64], d[4][64];
	int i, m;

	if (k > 64)
		k = 64;
	for (i = 0; i < k; i++) {
		set_mask(root, 0);
		b[i] = run_once(fd, n);
		for (m = 0; m < nm; m++) {
			set_mask(root, masks[m]);
			d[m][i] = run_once(fd, n) - b[i];
		}
	}
	set_mask(root, 0);
	qsort(b, (size_t)k, sizeof(double), cmp_double);
	*base = b[k / 2];
	for (m = 0; m < nm; m++) {
		qsort(d[m], (size_t)k, sizeof(double), cmp_double);
		added[m] = d[m][k / 2];
	}
}

/* The filter as capture program of slot 0, on its own perf and stats maps. */
static int load_capture(const struct hook *h, const struct cbpf_prog *cp, const char *root)
{
	struct cbpf_capture c = {.slot = 0, .dir_mask = 3};
	struct cbpf_opts o = {.ctx = h->ctx};
	LIBBPF_OPTS(bpf_prog_load_opts, lo,
		    .expected_attach_type = h->ctx == CBPF_CTX_XDP ? BPF_XDP : 0);
	struct cbpf_ebpf e;
	char err[256];
	int fd;

	c.meta_fd = ft_map_fd(root, "ft_cap_meta_map");
	c.config_fd = ft_map_fd(root, "ft_config_map");
	c.progs_fd = ft_map_fd(root, h->array);
	c.perf_fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, NULL, 4, 4,
				   (__u32)libbpf_num_possible_cpus(), NULL);
	c.stats_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NULL, 4, sizeof(struct ft_cap_stats),
				    1, NULL);
	if (cbpf_to_capture(cp, &o, &c, &e, err, sizeof(err))) {
		fprintf(stderr, "capture_cost: %s\n", err);
		return -1;
	}
	fd = bpf_prog_load(h->type, "ftcap_bench", "Dual BSD/GPL", e.insns, e.len, &lo);
	cbpf_ebpf_free(&e);
	if (fd >= 0) {
		__u32 key = 0;

		if (bpf_map_update_elem(c.progs_fd, &key, &fd, 0))
			fd = -1;
	}
	return fd;
}

static void set_mask(const char *root, __u32 mask)
{
	struct ft_config cfg = {.capture_mask = mask};
	int fd = ft_map_fd(root, "ft_config_map");
	__u32 key = 0;

	bpf_map_update_elem(fd, &key, &cfg, 0);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *root = ft_pin_root(), *expr = "tcp port 9999";
	struct ft_knobs k;
	struct cbpf_prog cp;
	char err[256];
	int opt, n = 200000, rounds = 21;
	size_t i;

	while ((opt = getopt(argc, argv, "n:k:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'k')
			rounds = atoi(optarg);
		else
			return 2;
	}
	if (optind < argc)
		expr = argv[optind];
	if (unshare(CLONE_NEWNET) || lo_up()) {
		perror("capture_cost: private network namespace");
		return 1;
	}
	ft_knobs_default(&k);
	if (cbpf_compile(expr, 262144, &cp, err, sizeof(err))) {
		fprintf(stderr, "capture_cost: %s\n", err);
		return 1;
	}
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		const struct hook *h = &hooks[i];
		int dp = ft_datapath_prog_fd(root, &k, h->kind), cap;
		double base, added[2];

		if (dp < 0)
			return 1;
		if (h->ctx == CBPF_CTX_XDP &&
		    bpf_xdp_attach((int)if_nametoindex("lo"), dp, XDP_FLAGS_SKB_MODE, NULL)) {
			perror("capture_cost: attach to lo");
			return 1;
		}
		cap = load_capture(h, &cp, root);
		if (cap < 0) {
			fprintf(stderr, "capture_cost: cannot load the capture program\n");
			return 1;
		}
		/* mask 1: the filter in slot 0; mask 2: a slot bit without a
		 * program, which is the datapath's part alone. */
		run_once(dp, n / 10); /* warm up */
		measure(root, dp, n, rounds, (const __u32[]){1, 2}, 2, &base, added);
		printf("{\"hook\":\"%s\",\"filter\":\"%s\",\"classic_insns\":%zu,"
		       "\"base_ns\":%.1f,\"added_ns\":%.1f,\"datapath_part_ns\":%.1f,"
		       "\"filter_part_ns\":%.1f}\n",
		       h->name, expr, cp.len, base, added[0], added[1], added[0] - added[1]);
		if (h->ctx == CBPF_CTX_XDP)
			bpf_xdp_detach((int)if_nametoindex("lo"), XDP_FLAGS_SKB_MODE, NULL);
		close(cap);
		close(dp);
	}
	cbpf_prog_free(&cp);
	return 0;
}
