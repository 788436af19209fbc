// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * For bench/drops.sh only: a tp_btf program on kfree_skb that does nothing,
 * the floor any drop tracer pays (the tracepoint's dispatch into BPF).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tp_btf/kfree_skb")
int drops_empty(__u64 *ctx)
{
	(void)ctx;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
