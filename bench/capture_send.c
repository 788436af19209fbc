// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * capture_send: exactly COUNT UDP frames out of a device at a steady RATE
 * (packets per second): through a packet socket that bypasses the qdisc,
 * or with -x as XDP live frames (where the kernel allows them: 6.18 answers
 * EPERM) (BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES running an XDP_TX program: no socket layer,
 * several Mpps from one core). For bench/capture.sh, which looks for the
 * highest rate at which a capture loses nothing. Prints one JSON line:
 * sent, seconds, rate, and its own CPU time (user and system: with a veth
 * that includes the receive path its sends run in softirq context).
 *
 * -t SECONDS stops sending at that time even if COUNT is not reached: a
 * rate the sender cannot keep then shows as a shortfall, quickly.
 *
 * Usage: capture_send -i DEV -r PPS -c COUNT [-s FRAME_BYTES] [-b BATCH] [-t SECONDS] [-x]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#define BATCH_MAX 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned short csum(const unsigned char *p, size_t n)
{
	unsigned long s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (unsigned)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned short)~s;
}

/* Ethernet, IPv4 198.18.0.1 > 198.19.0.1, UDP 40000 > 9 (discard). */
static size_t build(unsigned char *f, size_t len)
{
	static const unsigned char dst[6] = {0x02, 0, 0, 0, 0, 0x02},
				   src[6] = {0x02, 0, 0, 0, 0, 0x01};
	unsigned char *ip = f + 14, *udp = f + 34;
	unsigned short v;

	if (len < 60)
		len = 60;
	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	v = htons((unsigned short)(len - 14));
	memcpy(ip + 2, &v, 2);
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, "198.18.0.1", ip + 12);
	inet_pton(AF_INET, "198.19.0.1", ip + 16);
	v = htons(csum(ip, 20));
	memcpy(ip + 10, &v, 2);
	v = htons(40000);
	memcpy(udp, &v, 2);
	v = htons(9);
	memcpy(udp + 2, &v, 2);
	v = htons((unsigned short)(len - 34));
	memcpy(udp + 4, &v, 2);
	return len;
}

/* A program that sends its frame back out: with live frames, out of the
 * ctx's ingress interface. */
static int xdp_tx_prog(void)
{
	struct bpf_insn insns[] = {
	    {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX},
	    {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "capture_send", "GPL", insns, 2, NULL);
}

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

/* n frames out of ifindex in one call; the count sent or -1. */
static int send_live(int prog, int ifindex, void *frame, size_t len, unsigned int n)
{
	struct xdp_md ctx = {.data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = n);

	return bpf_prog_test_run_opts(prog, &o) ? -1 : (int)n;
}

int main(int argc, char **argv)
{
	const char *dev = NULL;
	double rate = 0, t0, t, cpu, limit = 0;
	struct rusage ru;
	unsigned long count = 0, sent = 0;
	size_t len = 64;
	unsigned char frame[1514];
	static struct mmsghdr msgs[BATCH_MAX];
	unsigned int batch = 64;
	struct iovec iov;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	int opt, fd, one = 1, i, prog = -1;
	int live = 0;

	while ((opt = getopt(argc, argv, "i:r:c:s:b:t:x")) != -1) {
		switch (opt) {
		case 't':
			limit = atof(optarg);
			break;
		case 'x':
			live = 1;
			break;
		case 'b':
			batch = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'i':
			dev = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'c':
			count = strtoul(optarg, NULL, 0);
			break;
		case 's':
			len = strtoul(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (!dev || rate <= 0 || !count || len > sizeof(frame) || !batch || batch > BATCH_MAX)
		goto usage;
	sll.sll_ifindex = (int)if_nametoindex(dev);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (!sll.sll_ifindex || fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "capture_send: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	len = build(frame, len);
	/* Attached to lo (skb mode, where it sees nothing): a test run of an
	 * XDP program attached nowhere pays a synchronize_rcu per call. */
	if (live && ((prog = xdp_tx_prog()) < 0 || lo_up() ||
		     bpf_xdp_attach((int)if_nametoindex("lo"), prog, XDP_FLAGS_SKB_MODE, NULL))) {
		fprintf(stderr, "capture_send: XDP program on lo: %s\n", strerror(errno));
		return 1;
	}
	iov.iov_base = frame;
	iov.iov_len = len;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH_MAX; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now();
	while (sent < count) {
		unsigned int n = count - sent < batch ? (unsigned int)(count - sent) : batch;
		double due = t0 + (double)sent / rate, left;
		int k;

		if (limit > 0 && now() - t0 > limit)
			break;
		/* Pace: each batch leaves when it is due; sleep rather than
		 * spin when it is far, the receiving side needs the CPUs. */
		while ((left = due - now()) > 0) {
			if (left > 50e-6) {
				struct timespec ts = {0, (long)((left - 30e-6) * 1e9)};

				nanosleep(&ts, NULL);
			}
		}
		k = live ? send_live(prog, sll.sll_ifindex, frame, len, n)
			 : sendmmsg(fd, msgs, n, 0);
		if (k < 0 && live && errno == ENOSPC)
			k = (int)n; /* the veth ring was full: frames dropped there,
				     * the receiver's counters tell */
		if (k < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			fprintf(stderr, "capture_send: %s: %s\n", live ? "live frames" : "sendmmsg",
				strerror(errno));
			return 1;
		}
		sent += (unsigned long)k;
	}
	t = now() - t0;
	if (live)
		bpf_xdp_detach((int)if_nametoindex("lo"), XDP_FLAGS_SKB_MODE, NULL);
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
	printf("{\"sent\":%lu,\"seconds\":%.4f,\"rate\":%.0f,\"cpu_s\":%.4f}\n", sent, t,
	       (double)sent / t, cpu);
	return 0;
usage:
	fprintf(
	    stderr,
	    "usage: capture_send -i DEV -r PPS -c COUNT [-s FRAME_BYTES] [-b BATCH] [-t SECONDS] "
	    "[-x]\n");
	return 2;
}
