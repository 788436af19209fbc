// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * capture_send: exactly COUNT UDP frames out of a device at a steady RATE
 * (packets per second), through a packet socket that bypasses the qdisc.
 * For bench/capture.sh, which looks for the highest rate at which a
 * capture loses nothing. Prints one JSON line: sent, seconds, rate.
 *
 * Usage: capture_send -i DEV -r PPS -c COUNT [-s FRAME_BYTES]
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

#define BATCH 32

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
	static const unsigned char dst[6] = { 0x02, 0, 0, 0, 0, 0x02 },
				   src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
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

int main(int argc, char **argv)
{
	const char *dev = NULL;
	double rate = 0, t0, t;
	unsigned long count = 0, sent = 0;
	size_t len = 64;
	unsigned char frame[1514];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int opt, fd, one = 1, i;

	while ((opt = getopt(argc, argv, "i:r:c:s:")) != -1) {
		switch (opt) {
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
	if (!dev || rate <= 0 || !count || len > sizeof(frame))
		goto usage;
	sll.sll_ifindex = (int)if_nametoindex(dev);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (!sll.sll_ifindex || fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "capture_send: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	len = build(frame, len);
	iov.iov_base = frame;
	iov.iov_len = len;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now();
	while (sent < count) {
		unsigned int n = count - sent < BATCH ? (unsigned int)(count - sent) : BATCH;
		int k;

		/* Pace: batch b leaves at t0 + b * BATCH / rate. */
		while (now() < t0 + (double)sent / rate)
			;
		k = sendmmsg(fd, msgs, n, 0);
		if (k < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			fprintf(stderr, "capture_send: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		sent += (unsigned long)k;
	}
	t = now() - t0;
	printf("{\"sent\":%lu,\"seconds\":%.4f,\"rate\":%.0f}\n", sent, t, (double)sent / t);
	return 0;
usage:
	fprintf(stderr, "usage: capture_send -i DEV -r PPS -c COUNT [-s FRAME_BYTES]\n");
	return 2;
}
