// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The classic BPF to eBPF translator (pcap/cbpf.c), on random classic
 * programs and on tcpdump expressions compiled by libpcap. The translator
 * either refuses with one error line, or produces a program that the
 * kernel's verifier accepts and whose verdict on the packet equals
 * libpcap's own interpreter (bpf_filter). Loading and running need
 * CAP_BPF (root); without it only the translation is checked.
 *
 * Input: byte 0 = flags (bit 0: an expression, not instructions; bit 1:
 * XDP context, else TC; bit 2: every load through bpf_skb_load_bytes),
 * byte 1 = snap length / 4 for expressions (0: the default).
 * Instructions: byte 2 = count N (1..64), then N * 8 bytes of struct
 * sock_filter (code le16, jt, jf, k le32), then the packet.
 * Expression: the text up to a NUL, then the packet.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "fuzz.h"
#include "cbpf.h"

#define F_EXPR	  1
#define F_XDP	  2
#define F_SLOW	  4
#define MAX_INSNS 64
#define MAX_EXPR  256
#define MAX_PKT	  2048

static char vlog[1 << 16];
static int kernel = -1; /* 1: loading works here, 0: no privilege */

/* How far inputs got, printed at exit with FUZZ_STATS=1. */
static struct {
	unsigned long inputs, refused, translated, invalid, loaded, compared;
} st;

static void print_stats(void)
{
	fprintf(stderr,
		"cbpf: %lu inputs, %lu refused, %lu translated (%lu that libpcap's "
		"validator rejects), %lu verified, %lu verdicts compared with libpcap\n",
		st.inputs, st.refused, st.translated, st.invalid, st.loaded, st.compared);
}

static void check_err_line(const char *err)
{
	FUZZ_CHECK(err[0], "refused without an error message");
	FUZZ_CHECK(!strchr(err, '\n'), "error is not one line: '%s'", err);
}

static int load(const struct cbpf_ebpf *e, bool xdp, bool with_log)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o);

	if (with_log) {
		o.log_buf = vlog;
		o.log_size = sizeof(vlog);
		o.log_level = 1;
		vlog[0] = 0;
	}
	return bpf_prog_load(xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS, "fuzz_cbpf", "GPL",
			     e->insns, e->len, &o);
}

static const char *log_tail(void)
{
	size_t l = strlen(vlog);

	return l > 400 ? vlog + l - 400 : vlog;
}

/* Translates, loads and runs p; compares with libpcap when p is valid. */
static void check_prog(const struct cbpf_prog *p, __u8 flags, const __u8 *pkt, size_t len)
{
	struct cbpf_opts o = {.ctx = flags & F_XDP ? CBPF_CTX_XDP : CBPF_CTX_SKB,
			      .force_slow = !!(flags & F_SLOW)};
	bool valid = cbpf_validate(p);
	struct cbpf_ebpf e = {};
	char err[512] = "";
	int fd;

	if (cbpf_to_ebpf(p, &o, &e, err, sizeof(err))) {
		check_err_line(err);
		st.refused++;
		return;
	}
	st.translated++;
	st.invalid += !valid;
	FUZZ_CHECK(e.len > 0 && e.insns, "empty translation");
	if (kernel == 0)
		goto out;
	fd = load(&e, flags & F_XDP, false);
	if (fd < 0 && kernel < 0 && (errno == EPERM || errno == EACCES)) {
		kernel = 0; /* unprivileged: translation only */
		goto out;
	}
	if (fd < 0) {
		int e1 = errno;

		fd = load(&e, flags & F_XDP, true);
		FUZZ_CHECK(fd >= 0, "verifier refused the translation (%s, %zu insns, %s): ...%s",
			   strerror(e1), e.len, valid ? "valid" : "invalid", log_tail());
	}
	kernel = 1;
	st.loaded++;
	/* The kernel's test runs need at least an Ethernet header. */
	if (valid && len >= 14) {
		LIBBPF_OPTS(bpf_test_run_opts, r, .data_in = pkt, .data_size_in = len, .repeat = 1);
		__u32 want = cbpf_run_ref(p, pkt, len, len);

		/* The kernel refuses skb runs of IP frames shorter than their header. */
		if (!bpf_prog_test_run_opts(fd, &r) && ++st.compared)
			FUZZ_CHECK(r.retval == want, "%s%s verdict %u, libpcap %u (%zu-byte frame)",
				   flags & F_XDP ? "xdp" : "tc", flags & F_SLOW ? "-slow" : "",
				   r.retval, want, len);
		else
			FUZZ_CHECK(errno == EINVAL && !(flags & F_XDP), "test run: %s",
				   strerror(errno));
	}
	close(fd);
out:
	cbpf_ebpf_free(&e);
}

static void fuzz_insns(const uint8_t *data, size_t size, __u8 flags)
{
	struct sock_filter f[CBPF_MEMWORDS + MAX_INSNS];
	struct cbpf_prog p = {.insns = f};
	size_t n, i;

	if (size < 1)
		return;
	n = data[0] % MAX_INSNS + 1;
	data++;
	size--;
	if (size < n * 8)
		return;
	/* libpcap's interpreter leaves M[] uninitialised: write it first so
	 * the reference verdict is defined (A is 0 here). */
	for (i = 0; i < CBPF_MEMWORDS; i++)
		f[i] = (struct sock_filter){BPF_ST, 0, 0, (__u32)i};
	for (i = 0; i < n; i++) {
		const uint8_t *b = data + i * 8;

		f[CBPF_MEMWORDS + i] = (struct sock_filter){
		    .code = (__u16)(b[0] | b[1] << 8),
		    .jt = b[2],
		    .jf = b[3],
		    .k = (__u32)b[4] | (__u32)b[5] << 8 | (__u32)b[6] << 16 | (__u32)b[7] << 24,
		};
	}
	p.len = CBPF_MEMWORDS + n;
	data += n * 8;
	size -= n * 8;
	check_prog(&p, flags, data, size > MAX_PKT ? MAX_PKT : size);
}

static void fuzz_expr(const uint8_t *data, size_t size, __u8 flags, __u8 snap4)
{
	size_t n = strnlen((const char *)data, size);
	char expr[MAX_EXPR + 1], err[512] = "";
	struct cbpf_prog p;
	__u32 snap = snap4 ? snap4 * 4u : CBPF_DEFAULT_SNAPLEN;

	if (n > MAX_EXPR)
		return;
	memcpy(expr, data, n);
	expr[n] = 0;
	if (cbpf_compile(expr, snap, &p, err, sizeof(err))) {
		check_err_line(err);
		return;
	}
	FUZZ_CHECK(cbpf_validate(&p), "libpcap's program for '%s' does not validate", expr);
	data += n + (n < size);
	size -= n + (n < size);
	check_prog(&p, flags, data, size > MAX_PKT ? MAX_PKT : size);
	cbpf_prog_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u8 *copy;

	if (!st.inputs++ && getenv("FUZZ_STATS"))
		atexit(print_stats);
	if (size < 2)
		return 0;
	/* A private copy of exactly the packet's size: over-reads are seen. */
	copy = malloc(size - 2 ? size - 2 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 2, size - 2);
	if (data[0] & F_EXPR)
		fuzz_expr(copy, size - 2, data[0], data[1]);
	else
		fuzz_insns(copy, size - 2, data[0]);
	free(copy);
	return 0;
}
