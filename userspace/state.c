// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "state.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* kernel-internal, returned by some map ops */
#endif

#define ROUND8(x) (((x) + 7) & ~(size_t)7)

int ft_ncpus(void)
{
	static int n;

	if (!n)
		n = libbpf_num_possible_cpus();
	return n > 0 ? n : 1;
}

void ft_sum_if_stats(const void *percpu, int ncpus, struct ft_if_stats *out)
{
	const size_t words = sizeof(*out) / sizeof(__u64);
	__u64 *o = (__u64 *)out;
	int c;
	size_t w;

	/* Every field is a __u64 counter, so the sum is word by word. */
	memset(out, 0, sizeof(*out));
	for (c = 0; c < ncpus; c++) {
		const __u64 *v = (const __u64 *)((const char *)percpu + c * ROUND8(sizeof(*out)));

		for (w = 0; w < words; w++)
			o[w] += v[w];
	}
}

void ft_sum_flow_val(const void *percpu, int ncpus, struct ft_flow_val *out)
{
	int c;

	memset(out, 0, sizeof(*out));
	for (c = 0; c < ncpus; c++) {
		const struct ft_flow_val *v =
		    (const void *)((const char *)percpu + c * ROUND8(sizeof(*v)));

		out->packets += v->packets;
		out->bytes += v->bytes;
		out->http_requests += v->http_requests;
		out->tcp_flags |= v->tcp_flags;
		out->retransmits += v->retransmits;
		out->resets += v->resets;
		/* Measured once, on whichever CPU saw the handshake. */
		if (v->handshake_us > out->handshake_us)
			out->handshake_us = v->handshake_us;
		if (v->rtt_us > out->rtt_us)
			out->rtt_us = v->rtt_us;
		if (v->first_ns && (!out->first_ns || v->first_ns < out->first_ns))
			out->first_ns = v->first_ns;
		if (v->last_ns > out->last_ns)
			out->last_ns = v->last_ns;
	}
}

int ft_read_ifstats(int fd, struct ft_if_totals **out, size_t *n)
{
	struct ft_if_key key, next, *prev = NULL;
	size_t cnt = 0, cap = 0;
	struct ft_if_totals *list = NULL;
	void *vals = calloc(ft_ncpus(), ROUND8(sizeof(struct ft_if_stats)));
	int err = 0;

	if (!vals)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue; /* deleted meanwhile */
		if (cnt == cap) {
			struct ft_if_totals *nl;

			cap = cap ? cap * 2 : 16;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl) {
				err = -ENOMEM;
				break;
			}
			list = nl;
		}
		list[cnt].ifindex = key.ifindex;
		list[cnt].dir = key.dir;
		ft_sum_if_stats(vals, ft_ncpus(), &list[cnt].s);
		cnt++;
	}
	free(vals);
	if (err) {
		free(list);
		return err;
	}
	*out = list;
	*n = cnt;
	return 0;
}

int ft_read_drops(int fd, struct ft_drop_total **out, size_t *n)
{
	struct ft_drop_key key, next, *prev = NULL;
	struct ft_drop_total *list = NULL, *nl;
	size_t cnt = 0, cap = 0;
	struct ft_counter *vals = calloc(ft_ncpus(), sizeof(*vals));
	int c;

	if (!vals)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl) {
				free(list);
				free(vals);
				return -ENOMEM;
			}
			list = nl;
		}
		list[cnt].key = key;
		list[cnt].c = (struct ft_counter){0};
		for (c = 0; c < ft_ncpus(); c++) {
			list[cnt].c.packets += vals[c].packets;
			list[cnt].c.bytes += vals[c].bytes;
		}
		cnt++;
	}
	free(vals);
	*out = list;
	*n = cnt;
	return 0;
}

static struct ft_if_totals *ft_if_totals_find(struct ft_if_totals *t, size_t n, __u32 ifindex,
					      __u32 dir)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].ifindex == ifindex && t[i].dir == dir)
			return &t[i];
	return NULL;
}

/* Appends t to *list, growing it; 0 or -ENOMEM (the list is then freed). */
static int ft_if_totals_push(struct ft_if_totals **list, size_t *cnt, size_t *cap,
			     const struct ft_if_totals *t)
{
	struct ft_if_totals *nl;

	if (*cnt == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		nl = realloc(*list, *cap * sizeof(**list));
		if (!nl) {
			free(*list);
			*list = NULL;
			return -ENOMEM;
		}
		*list = nl;
	}
	(*list)[(*cnt)++] = *t;
	return 0;
}

static bool ft_if_stats_zero(const struct ft_if_stats *s)
{
	const __u64 *w = (const __u64 *)s;
	size_t i;

	for (i = 0; i < sizeof(*s) / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

/*
 * Adds the array slots to the hash part: for each slot with an owner, both
 * directions; then the FT_IFSLOT_OTHER pair as FT_IFINDEX_OTHER, when it
 * counted anything (a datapath pinned by an older flowtap has no such pair).
 */
static int ft_read_if_slots(int owner_fd, int slots_fd, void *vals, struct ft_if_totals **list,
			    size_t *cnt, size_t *cap)
{
	__u32 slot, owner, idx, dir;
	struct ft_if_totals t, *hit;
	size_t w;

	for (slot = 0; slot <= FT_IFSLOT_OTHER; slot++) {
		if (slot == FT_IFSLOT_OTHER)
			owner = FT_IFINDEX_OTHER;
		else if (bpf_map_lookup_elem(owner_fd, &slot, &owner) || !owner)
			continue;
		for (dir = 0; dir < FT_DIR_MAX; dir++) {
			idx = slot * 2 + dir;
			if (bpf_map_lookup_elem(slots_fd, &idx, vals))
				continue;
			ft_sum_if_stats(vals, ft_ncpus(), &t.s);
			if (slot == FT_IFSLOT_OTHER && ft_if_stats_zero(&t.s))
				continue;
			/* Counted before the slot was claimed: add to the hash part. */
			hit = ft_if_totals_find(*list, *cnt, owner, dir);
			if (hit) {
				for (w = 0; w < sizeof(t.s) / sizeof(__u64); w++)
					((__u64 *)&hit->s)[w] += ((__u64 *)&t.s)[w];
				continue;
			}
			t.ifindex = owner;
			t.dir = dir;
			if (ft_if_totals_push(list, cnt, cap, &t))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Whether a pinned counter map holds this build's struct ft_if_stats. */
static bool ft_if_stats_map_ok(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       info.value_size == sizeof(struct ft_if_stats);
}

int ft_read_if_totals_fds(int hash_fd, int owner_fd, int slots_fd, struct ft_if_totals **out,
			  size_t *n)
{
	struct ft_if_totals *list;
	size_t cnt, cap;
	void *vals;
	int err;

	/* Read with another layout, every counter would be garbage. */
	if (!ft_if_stats_map_ok(hash_fd) || (slots_fd >= 0 && !ft_if_stats_map_ok(slots_fd))) {
		pr_warn("the pinned interface counters have another layout (an older flowtap?): "
			"flowtap detach --all, then attach again\n");
		return -EPROTO;
	}
	err = ft_read_ifstats(hash_fd, &list, &cnt);
	if (err)
		return err;
	cap = cnt;
	if (owner_fd >= 0 && slots_fd >= 0) {
		vals = calloc(ft_ncpus(), ROUND8(sizeof(struct ft_if_stats)));
		err =
		    vals ? ft_read_if_slots(owner_fd, slots_fd, vals, &list, &cnt, &cap) : -ENOMEM;
		free(vals);
		if (err) {
			free(list);
			return err;
		}
	}
	*out = list;
	*n = cnt;
	return 0;
}

static int ft_pinned_map(const char *root, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int ft_read_if_totals(const char *root, struct ft_if_totals **out, size_t *n)
{
	int hash = ft_pinned_map(root, "ft_ifstats");
	int owner = ft_pinned_map(root, "ft_ifslot");
	int slots = ft_pinned_map(root, "ft_ifstats_slots");
	int err = hash < 0 ? hash : ft_read_if_totals_fds(hash, owner, slots, out, n);

	if (hash >= 0)
		close(hash);
	if (owner >= 0)
		close(owner);
	if (slots >= 0)
		close(slots);
	return err;
}

/* Writes zeroed per-CPU counters for both directions of a slot. */
static int ft_ifslot_zero(int slots_fd, __u32 slot)
{
	void *zero = calloc(ft_ncpus(), ROUND8(sizeof(struct ft_if_stats)));
	__u32 idx, dir;
	int err = 0;

	if (!zero)
		return -ENOMEM;
	for (dir = 0; dir < FT_DIR_MAX && !err; dir++) {
		idx = slot * 2 + dir;
		if (bpf_map_update_elem(slots_fd, &idx, zero, BPF_ANY))
			err = -errno;
	}
	free(zero);
	return err;
}

int ft_ifslot_claim(const char *root, int ifindex)
{
	__u32 slot = (__u32)ifindex & (FT_IFSLOTS - 1), owner = 0, me = ifindex;
	int owner_fd = ft_pinned_map(root, "ft_ifslot");
	int slots_fd = ft_pinned_map(root, "ft_ifstats_slots");
	char name[IF_NAMESIZE];
	int err = -EBUSY;

	if (owner_fd < 0 || slots_fd < 0) {
		err = owner_fd < 0 ? owner_fd : slots_fd;
		goto out;
	}
	bpf_map_lookup_elem(owner_fd, &slot, &owner);
	if (owner == me) {
		err = 0;
		goto out;
	}
	/* A slot whose interface is gone is free again: its counters were
	 * reported while it existed. */
	if (owner && if_indextoname(owner, name))
		goto out;
	err = ft_ifslot_zero(slots_fd, slot);
	if (!err && bpf_map_update_elem(owner_fd, &slot, &me, BPF_ANY))
		err = -errno;
out:
	if (owner_fd >= 0)
		close(owner_fd);
	if (slots_fd >= 0)
		close(slots_fd);
	return err;
}

int ft_ifslot_release(const char *root, int ifindex)
{
	__u32 slot = (__u32)ifindex & (FT_IFSLOTS - 1), owner = 0, none = 0;
	int fd = ft_pinned_map(root, "ft_ifslot");
	int err = 0;

	if (fd < 0)
		return fd;
	if (!bpf_map_lookup_elem(fd, &slot, &owner) && owner == (__u32)ifindex &&
	    bpf_map_update_elem(fd, &slot, &none, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

static int ft_flows_grow(struct ft_flow **list, size_t *cap, size_t need)
{
	struct ft_flow *nl;
	size_t c = *cap ? *cap : 1024;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	nl = realloc(*list, c * sizeof(**list));
	if (!nl)
		return -ENOMEM;
	*list = nl;
	*cap = c;
	return 0;
}

static int ft_read_flows_iter(int fd, struct ft_flow **list, size_t *cnt, size_t *cap, void *vals)
{
	struct ft_flow_key key, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		if (ft_flows_grow(list, cap, *cnt + 1))
			return -ENOMEM;
		(*list)[*cnt].key = key;
		ft_sum_flow_val(vals, ft_ncpus(), &(*list)[*cnt].v);
		(*cnt)++;
	}
	return 0;
}

int ft_read_flows(int fd, struct ft_flow **out, size_t *n)
{
	const size_t vsz = ROUND8(sizeof(struct ft_flow_val)) * ft_ncpus();
	__u32 chunk = 4096, count, batch = 0;
	struct ft_flow_key *keys = NULL;
	struct ft_flow *list = NULL;
	size_t cnt = 0, cap = 0, i;
	bool first = true;
	void *vals = NULL;
	int err = 0;

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		if (!keys) {
			keys = calloc(chunk, sizeof(*keys));
			vals = calloc(chunk, vsz);
			if (!keys || !vals) {
				err = -ENOMEM;
				break;
			}
		}
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count,
					   &bo);
		if (err && errno == ENOSPC && !count) {
			/* A bucket holds more than a chunk: retry bigger. */
			chunk *= 4;
			free(keys);
			free(vals);
			keys = NULL;
			vals = NULL;
			continue;
		}
		if (err && errno != ENOENT) {
			if (first &&
			    (errno == EINVAL || errno == ENOTSUPP || errno == EOPNOTSUPP)) {
				err = ft_read_flows_iter(fd, &list, &cnt, &cap, vals);
				break;
			}
			err = -errno;
			break;
		}
		if (ft_flows_grow(&list, &cap, cnt + count)) {
			err = -ENOMEM;
			break;
		}
		for (i = 0; i < count; i++) {
			list[cnt].key = keys[i];
			ft_sum_flow_val((char *)vals + i * vsz, ft_ncpus(), &list[cnt].v);
			cnt++;
		}
		first = false;
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			break;
		}
	}
	free(keys);
	free(vals);
	if (err) {
		free(list);
		return err;
	}
	*out = list;
	*n = cnt;
	return 0;
}

int ft_tcp_hs_expire(int fd, __u64 max_age_ns, ft_hs_failed_fn fn, void *ctx)
{
	struct ft_flow_key key, next, *prev = NULL, *old = NULL, *nk;
	size_t n = 0, cap = 0, i;
	struct ft_tcp_hs hs;
	struct timespec ts;
	int failed = 0;
	__u64 now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	/* Collect first: deleting while iterating a hash restarts the walk. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &hs) || now - hs.syn_ns < max_age_ns)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nk = realloc(old, cap * sizeof(*old));
			if (!nk) {
				free(old);
				return -ENOMEM;
			}
			old = nk;
		}
		old[n++] = key;
	}
	for (i = 0; i < n; i++) {
		/* Read again: the handshake may have completed meanwhile. */
		if (bpf_map_lookup_elem(fd, &old[i], &hs) || bpf_map_delete_elem(fd, &old[i]))
			continue;
		if (!hs.synack_ns) {
			failed++;
			if (fn)
				fn(ctx, &old[i], &hs);
		}
	}
	free(old);
	return failed;
}

double ft_mono_to_epoch(__u64 ns)
{
	struct timespec mono, real;

	if (!ns)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (real.tv_sec - mono.tv_sec) + (real.tv_nsec - mono.tv_nsec) / 1e9 + ns / 1e9;
}
