// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The baselines: programs that do nothing. BPF_PROG_TEST_RUN's duration
 * includes its own loop; measured beside flowtap, these cancel it out. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bare_xdp(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("tc")
int bare_tc(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
