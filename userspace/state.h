/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading the datapath's per-CPU maps: values summed over CPUs. */
#ifndef FT_STATE_H
#define FT_STATE_H

#include <stddef.h>
#include <linux/types.h>
#include "flowtap.h"

struct ft_if_totals {
	__u32 ifindex;
	__u32 dir;
	struct ft_if_stats s;
};

/* A flow with its per-CPU values folded: sums, earliest first, latest last. */
struct ft_flow {
	struct ft_flow_key key;
	struct ft_flow_val v;
};

int ft_ncpus(void);
/* Sums n per-CPU copies of an ft_if_stats / ft_flow_val. */
void ft_sum_if_stats(const void *percpu, int ncpus, struct ft_if_stats *out);
void ft_sum_flow_val(const void *percpu, int ncpus, struct ft_flow_val *out);

/*
 * All interface counters under a pin root: the per-CPU array slots of
 * attached interfaces (ft_ifslot, ft_ifstats_slots) merged with the
 * per-CPU hash ft_ifstats that holds the rest, and the packets of
 * interfaces that had neither (ft_ifstats full) as ifindex FT_IFINDEX_OTHER
 * (0, "unattributed"), when there are any. Use this one.
 */
int ft_read_if_totals(const char *root, struct ft_if_totals **out, size_t *n);
/* The same from map fds; owner_fd/slots_fd may be -1 (hash only). */
int ft_read_if_totals_fds(int hash_fd, int owner_fd, int slots_fd, struct ft_if_totals **out,
			  size_t *n);
/* Only the hash part (ft_ifstats): interfaces without an array slot. */
int ft_read_ifstats(int map_fd, struct ft_if_totals **out, size_t *n);

/* Claims ifindex's array slot for its counters if the slot is free (or
 * held by an interface that no longer exists). 0, or -EBUSY on collision. */
int ft_ifslot_claim(const char *root, int ifindex);
/* Frees ifindex's slot once its counters were reported (interface gone). */
int ft_ifslot_release(const char *root, int ifindex);
/* Uses batch lookups where the kernel has them, else key iteration. */
int ft_read_flows(int map_fd, struct ft_flow **out, size_t *n);

struct ft_drop_total {
	struct ft_drop_key key;
	struct ft_counter c;
};

/* Kernel drops (ft_drops), summed over CPUs. */
int ft_read_drops(int map_fd, struct ft_drop_total **out, size_t *n);

/*
 * Removes handshakes older than max_age_ns from ft_tcp_hs_map. Those whose
 * SYN-ACK never came are failed connection attempts: fn is called once for
 * each (may be NULL). Returns how many failed, or a negative errno.
 */
typedef void (*ft_hs_failed_fn)(void *ctx, const struct ft_flow_key *conn,
				const struct ft_tcp_hs *hs);
int ft_tcp_hs_expire(int map_fd, __u64 max_age_ns, ft_hs_failed_fn fn, void *ctx);

/* CLOCK_MONOTONIC nanoseconds (the datapath's clock) to Unix epoch seconds. */
double ft_mono_to_epoch(__u64 ns);

#endif
