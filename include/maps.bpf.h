/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maps shared by the XDP and TC objects. Pinned by name under
 * FT_PIN_ROOT, so both objects, later commands and a restarted daemon all
 * reach the same instances. Hot-path maps are per-CPU: no atomics.
 */
#ifndef FT_MAPS_BPF_H
#define FT_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "flowtap.h"
#include "http.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FT_MAX_IFACE_KEYS);
	/* Entries appear once per interface and direction; no need to
	 * reserve per-CPU memory for thousands of interfaces up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ft_if_key);
	__type(value, struct ft_if_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_ifstats SEC(".maps");

/* ifindex % FT_IFSLOTS -> the ifindex owning that slot (0: free). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FT_IFSLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_ifslot SEC(".maps");

/* Counters of slot s at [2s + dir], and after them the FT_IFSLOT_OTHER
 * pair; see ft_if_stats_get(). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (FT_IFSLOTS + 1) * 2);
	__type(key, __u32);
	__type(value, struct ft_if_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_ifstats_slots SEC(".maps");

/* max_entries is the flow-table-size knob, set by the loader. Preallocated:
 * no allocation on the per-packet path, and a full table fails cleanly. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FT_DEFAULT_FLOWS);
	__type(key, struct ft_flow_key);
	__type(value, struct ft_flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_http_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_cap_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_cap_meta_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FT_TCP_HS_ENTRIES);
	__type(key, struct ft_flow_key);
	__type(value, struct ft_tcp_hs);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_tcp_hs_map SEC(".maps");

/* An HTTP sample is built here, then copied to ft_http_rb whole. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_http_event);
} ft_http_scratch SEC(".maps");

#endif /* FT_MAPS_BPF_H */
