/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers shared by the benchmark tools (each bench/NAME.c is its own
 * binary, so they live in this header): clocks, statistics, CPU pinning,
 * network namespaces and the flowtap loader settings benchmarks need.
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v (sorted in place). */
static inline double bench_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		pr_err("cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Sets or clears IFF_UP on ifname in the current network namespace. */
static inline int bench_link_up(const char *ifname)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr))
		err = -errno;
	close(fd);
	return err;
}

/* GRO on a veth also gives it the NAPI context that frames redirected
 * into it from XDP need when no XDP program is attached to it. */
static inline int bench_set_gro(const char *ifname, int on)
{
	struct ethtool_value ev = {.cmd = ETHTOOL_SGRO, .data = !!on};
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		err = -errno;
	close(fd);
	return err;
}

/* Enters the named network namespace (ip netns add NAME). */
static inline int bench_enter_netns(const char *name)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_err("network namespace %s: %s\n", name, strerror(errno));
		return -errno;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		pr_err("cannot enter network namespace %s: %s\n", name, strerror(errno));
	}
	close(fd);
	return err;
}

/* The benchmarks load private copies of the datapath: nothing pinned, so
 * they neither disturb nor reuse a running flowtap, and a flow table big
 * enough for the largest run. */
static inline int bench_unpin_maps(struct bpf_object *obj)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj)
	{
		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			return err;
	}
	return 0;
}

/* Makes obj use from's maps of the same names (flow table, counters, ring):
 * programs loaded from several objects then share one datapath state. */
static inline int bench_share_maps(struct bpf_object *obj, struct bpf_object *from)
{
	struct bpf_map *map, *src;
	int err;

	bpf_object__for_each_map(map, obj)
	{
		src = bpf_object__find_map_by_name(from, bpf_map__name(map));
		if (!src || bpf_map__fd(src) < 0 || strstr(bpf_map__name(map), ".rodata") ||
		    strstr(bpf_map__name(map), ".bss") || strstr(bpf_map__name(map), ".data"))
			continue;
		err = bpf_map__reuse_fd(map, bpf_map__fd(src));
		if (err)
			return err;
	}
	return 0;
}

static inline int bench_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && ft_log_level < FT_LOG_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && ft_log_level < FT_LOG_INFO)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

#endif /* BENCH_H */
