// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * For bench/drops.sh only: trace/flowtap_drops.bpf.c's counting as a
 * BTF-typed raw tracepoint (tp_btf). Same tracepoint, same dispatch (no
 * trampoline), same key and map, but the skb and the device are read with
 * plain loads instead of one bpf_probe_read_kernel() call per field: what
 * that change would save per traced drop.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "flowtap.h"

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FT_DROP_KEYS);
	__type(key, struct ft_drop_key);
	__type(value, struct ft_counter);
} ft_drops SEC(".maps");

/* args: skb, location, reason (, rx_sk since 6.12) */
SEC("tp_btf/kfree_skb")
int drops_btf(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	struct ft_drop_key k = {.reason = (__u16)ctx[2]};
	struct net_device *dev = skb->dev;
	struct ft_counter *c, one = {.packets = 1};

	if (dev) {
		k.ifindex = dev->ifindex;
		k.netns = dev->nd_net.net->ns.inum;
	}
	k.proto = bpf_ntohs(skb->protocol);
	one.bytes = skb->len;
	c = bpf_map_lookup_elem(&ft_drops, &k);
	if (c) {
		c->packets++;
		c->bytes += one.bytes;
		return 0;
	}
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
