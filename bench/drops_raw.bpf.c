// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * For bench/drops.sh only: flowtap's drop tracer as it was before it became
 * a tp_btf program: a plain raw tracepoint (raw_tp) that reads each field
 * of the skb and its device with its own bpf_probe_read_kernel() call (six
 * per drop).
 * Kept as the reference the current tracer (trace/flowtap_drops.bpf.c,
 * tp_btf with plain loads) is measured against.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "flowtap.h"

/* Only the fields read here, relocated against the running kernel's BTF. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
	unsigned int len;
	__be16 protocol;
} __attribute__((preserve_access_index));

/* Kernels before 5.17 pass no reason; reading args[2] there would make the
 * attach fail, so the loader clears this and the read is never verified. */
const volatile __u8 ft_has_reason = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FT_DROP_KEYS);
	__type(key, struct ft_drop_key);
	__type(value, struct ft_counter);
} ft_drops SEC(".maps");

SEC("raw_tp/kfree_skb")
int drops_raw(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	struct ft_drop_key k = {};
	struct net_device *dev;
	struct ft_counter *c, one;

	if (ft_has_reason)
		k.reason = ctx->args[2];
	dev = BPF_CORE_READ(skb, dev);
	if (dev) {
		k.ifindex = BPF_CORE_READ(dev, ifindex);
		k.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	}
	k.proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	one.packets = 1;
	one.bytes = BPF_CORE_READ(skb, len);

	c = bpf_map_lookup_elem(&ft_drops, &k);
	if (c) {
		c->packets++;
		c->bytes += one.bytes;
		return 0;
	}
	/* EEXIST: another CPU inserted the key first; our slot is still 0. */
	if (bpf_map_update_elem(&ft_drops, &k, &one, BPF_NOEXIST)) {
		c = bpf_map_lookup_elem(&ft_drops, &k);
		if (c) {
			c->packets++;
			c->bytes += one.bytes;
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
