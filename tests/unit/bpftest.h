// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The fixture the BPF packet tests share: a private network namespace with
 * lo up (programs stay attached to its lo while they are test-run: an XDP
 * program attached nowhere costs ~17 ms per BPF_PROG_TEST_RUN here), libbpf's
 * last warning kept for failure messages, and the test pinned to one CPU so
 * per-CPU state is exact.
 */
#ifndef FT_TEST_BPFTEST_H
#define FT_TEST_BPFTEST_H

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>

static bool verbose;
static int lo_ifindex;
static char libbpf_last_msg[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	if (level == LIBBPF_WARN)
		vsnprintf(libbpf_last_msg, sizeof(libbpf_last_msg), fmt, copy);
	va_end(copy);
	if (verbose)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int netns_enter(char *why, size_t n)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	if (unshare(CLONE_NEWNET)) {
		snprintf(why, n, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -errno;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, n, "socket: %s", strerror(errno));
		return -errno;
	}
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		err = -errno;
		snprintf(why, n, "bringing lo up: %s", strerror(errno));
	}
	close(fd);
	lo_ifindex = if_nametoindex("lo");
	return err;
}

/* Test runs happen on this CPU, so per-CPU state is exact. */
static void pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

#endif
