// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * drops_send: one trial of bench/drops.sh. Sends UDP datagrams to a port
 * nobody listens on, as fast as one pinned CPU can, for SECONDS; the
 * receiving namespace frees every one of them with a drop reason
 * (no_socket), which fires skb:kfree_skb once per datagram. With -T it
 * first attaches a drop tracer: "flowtap" is flowtap's own
 * (trace/flowtap_drops.bpf.c, loaded and attached as flowtap does, but with
 * its map private rather than pinned), "raw" the raw_tp program it replaced
 * (bench/drops_raw.bpf.c), "empty" a tp_btf program that does nothing
 * (bench/drops_empty.bpf.c). With -S it turns on the kernel's BPF run-time
 * statistics (BPF_ENABLE_STATS, off again when this process exits) and
 * reports the tracer's run_cnt and run_time_ns over the trial.
 *
 * Prints one JSON line: tracer, stats, seconds, sent, cpu_s (the sender's
 * user+system time: the whole send, veth and receive path runs in its
 * syscalls and the softirqs they raise), ksoftirqd_s (receive work deferred
 * to ksoftirqd on that CPU), run_cnt, run_time_ns and traced (drops the
 * tracer counted in network namespace -N INO).
 *
 * Usage: drops_send -d IPV4 [-p PORT] [-t SECONDS] [-s PAYLOAD] [-b BATCH]
 *                   [-c CPU] [-T none|flowtap|raw|empty] [-S] [-N NETNS_INODE]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include "bench.h"
#include "flowtap.h"
#include "flowtap_drops.skel.h"
#include "drops_raw.skel.h"
#include "drops_empty.skel.h"

#define BATCH_MAX 1024

struct opts {
	const char *dst;
	int port, payload, batch, cpu, stats;
	double seconds;
	const char *tracer;
	unsigned long long netns;
};

struct tracer {
	struct flowtap_drops *ft;
	struct drops_raw *raw;
	struct drops_empty *empty;
	struct bpf_link *link;
	int prog_fd, map_fd;
};

static int tracer_attach(const char *kind, struct tracer *t)
{
	struct bpf_program *prog;

	memset(t, 0, sizeof(*t));
	t->prog_fd = t->map_fd = -1;
	if (!strcmp(kind, "none"))
		return 0;
	if (!strcmp(kind, "flowtap")) {
		t->ft = flowtap_drops__open();
		if (!t->ft || bench_unpin_maps(t->ft->obj))
			return -1;
		t->ft->rodata->ft_has_reason = 1;
		if (flowtap_drops__load(t->ft))
			return -1;
		prog = t->ft->progs.flowtap_drops;
		t->link = bpf_program__attach(prog);
		t->map_fd = bpf_map__fd(t->ft->maps.ft_drops);
	} else if (!strcmp(kind, "raw")) {
		t->raw = drops_raw__open();
		if (!t->raw)
			return -1;
		t->raw->rodata->ft_has_reason = 1;
		if (drops_raw__load(t->raw))
			return -1;
		prog = t->raw->progs.drops_raw;
		t->link = bpf_program__attach_raw_tracepoint(prog, "kfree_skb");
		t->map_fd = bpf_map__fd(t->raw->maps.ft_drops);
	} else if (!strcmp(kind, "empty")) {
		t->empty = drops_empty__open_and_load();
		if (!t->empty)
			return -1;
		prog = t->empty->progs.drops_empty;
		t->link = bpf_program__attach(prog);
	} else {
		pr_err("unknown tracer %s (none, flowtap, raw or empty)\n", kind);
		return -1;
	}
	if (libbpf_get_error(t->link)) {
		t->link = NULL;
		pr_err("cannot attach the %s tracer to kfree_skb\n", kind);
		return -1;
	}
	t->prog_fd = bpf_program__fd(prog);
	return 0;
}

static void tracer_detach(struct tracer *t)
{
	bpf_link__destroy(t->link);
	flowtap_drops__destroy(t->ft);
	drops_raw__destroy(t->raw);
	drops_empty__destroy(t->empty);
}

static void prog_stats(int fd, unsigned long long *cnt, unsigned long long *ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	*cnt = *ns = 0;
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*cnt = info.run_cnt;
		*ns = info.run_time_ns;
	}
}

/* Packets the tracer counted in namespace netns, over every CPU and key. */
static unsigned long long traced(int map_fd, unsigned long long netns)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct ft_drop_key k, next, *prev = NULL;
	unsigned long long sum = 0;
	struct ft_counter *v;

	if (map_fd < 0 || ncpu <= 0 || !(v = calloc(ncpu, sizeof(*v))))
		return 0;
	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.netns != netns || bpf_map_lookup_elem(map_fd, &k, v))
			continue;
		for (i = 0; i < ncpu; i++)
			sum += v[i].packets;
	}
	free(v);
	return sum;
}

/* CPU seconds of the ksoftirqd thread of cpu so far (clock ticks). */
static double ksoftirqd_s(int cpu)
{
	char want[32], path[300], buf[1024], *p;
	double s = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	while (d && (de = readdir(d))) {
		unsigned long ut, st;
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p || strcmp(buf, want))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (!(f = fopen(path, "r")))
			break;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* after "(comm)": state ppid pgrp session tty tpgid flags minflt
		 * cminflt majflt cmajflt utime stime */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st) == 2)
			s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		break;
	}
	if (d)
		closedir(d);
	return s;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int send_for(const struct opts *o, unsigned long long *sent, double *secs)
{
	static char payload[1500];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(o->port)};
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov = {.iov_base = payload, .iov_len = o->payload};
	double t0, end, now;
	int fd, i, n;

	if (inet_pton(AF_INET, o->dst, &to.sin_addr) != 1) {
		pr_err("bad destination %s\n", o->dst);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < o->batch; i++) {
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	*sent = 0;
	t0 = now = bench_now();
	end = t0 + o->seconds;
	while (now < end) {
		n = sendmmsg(fd, msgs, o->batch, 0);
		if (n > 0)
			*sent += n;
		now = bench_now();
	}
	*secs = now - t0;
	close(fd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: drops_send -d IPV4 [-p PORT] [-t SECONDS] [-s PAYLOAD] [-b BATCH]\n"
		"                  [-c CPU] [-T none|flowtap|raw|empty] [-S] [-N NETNS_INODE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.port = 9, .payload = 18, .batch = 64, .seconds = 2, .tracer = "none"};
	unsigned long long sent, cnt0, ns0, cnt1, ns1, tr0, tr1;
	double secs, c0, c1, k0, k1;
	int c, stats_fd = -1, ret = 1;
	struct tracer t;

	while ((c = getopt(argc, argv, "d:p:t:s:b:c:T:SN:h")) != -1) {
		switch (c) {
		case 'd':
			o.dst = optarg;
			break;
		case 'p':
			o.port = atoi(optarg);
			break;
		case 't':
			o.seconds = atof(optarg);
			break;
		case 's':
			o.payload = atoi(optarg);
			break;
		case 'b':
			o.batch = atoi(optarg);
			break;
		case 'c':
			o.cpu = atoi(optarg);
			break;
		case 'T':
			o.tracer = optarg;
			break;
		case 'S':
			o.stats = 1;
			break;
		case 'N':
			o.netns = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!o.dst || o.payload < 0 || o.payload > 1472 || o.batch < 1 || o.batch > BATCH_MAX ||
	    o.seconds <= 0)
		usage();
	libbpf_set_print(bench_libbpf_print);
	if (bench_pin_cpu(o.cpu) || tracer_attach(o.tracer, &t))
		goto out;
	if (o.stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			pr_err("cannot enable BPF run-time statistics: %s\n", strerror(errno));
			goto out;
		}
	}
	prog_stats(t.prog_fd, &cnt0, &ns0);
	tr0 = traced(t.map_fd, o.netns);
	k0 = ksoftirqd_s(o.cpu);
	c0 = cpu_s();
	if (send_for(&o, &sent, &secs))
		goto out;
	c1 = cpu_s();
	k1 = ksoftirqd_s(o.cpu);
	prog_stats(t.prog_fd, &cnt1, &ns1);
	tr1 = traced(t.map_fd, o.netns);
	printf("{\"tracer\":\"%s\",\"stats\":%s,\"seconds\":%.4f,\"sent\":%llu,\"cpu_s\":%.4f,"
	       "\"ksoftirqd_s\":%.2f,\"run_cnt\":%llu,\"run_time_ns\":%llu,\"traced\":%llu}\n",
	       o.tracer, o.stats ? "true" : "false", secs, sent, c1 - c0, k1 - k0, cnt1 - cnt0,
	       ns1 - ns0, tr1 - tr0);
	ret = 0;
out:
	if (stats_fd >= 0)
		close(stats_fd);
	tracer_detach(&t);
	return ret;
}
