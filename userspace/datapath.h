/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Loading, pinning and attaching the datapath. The BPF objects are loaded
 * once; their maps and programs are pinned under a root (FT_PIN_ROOT), and
 * every later attach, command or restarted daemon reuses the pins.
 */
#ifndef FT_DATAPATH_H
#define FT_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <linux/types.h>
#include "flowtap.h"

/* Knobs applied when the datapath is first loaded (rodata, map sizes). */
struct ft_knobs {
	__u32 flow_table_size;	/* entries of ft_flows */
	__u32 http_sample_rate; /* send 1 in N HTTP requests; 0: none */
	bool http_keep_query;	/* keep query strings in samples */
};

void ft_knobs_default(struct ft_knobs *k);
/* Knobs from the options every loading command shares; prints the error. */
int ft_knobs_from_opts(const char *cmd, unsigned long flows, const char *sample_rate,
		       bool keep_query, struct ft_knobs *k);

enum ft_prog_kind {
	FT_PROG_XDP,
	FT_PROG_TC_INGRESS,
	FT_PROG_TC_EGRESS,
	FT_PROG_MAX,
};

enum ft_hook {
	FT_HOOK_AUTO, /* XDP on physical NICs, TC on veths and virtual devices */
	FT_HOOK_XDP,
	FT_HOOK_TC,
};

enum ft_xdp_mode {
	FT_XDP_AUTO,
	FT_XDP_NATIVE,
	FT_XDP_SKB,
};

struct ft_attach_opts {
	enum ft_hook hook;
	enum ft_xdp_mode mode;
	bool gone_ok; /* a device that vanishes meanwhile: -ENODEV, no message */
};

/* Checks that root is on a bpffs; 0 or a negative errno with a message. */
int ft_pin_root_check(const char *root);

/*
 * Returns an fd of the pinned program of this kind, loading and pinning
 * the datapath (maps and programs) under root if it is not there yet. The
 * caller closes the fd.
 */
int ft_datapath_prog_fd(const char *root, const struct ft_knobs *k, enum ft_prog_kind kind);

/* Opens a pinned map by name (e.g. "ft_flows"); negative errno if absent. */
int ft_map_fd(const char *root, const char *name);

/* Attaches to ifindex. Fails with -EEXIST and a message if another XDP or
 * TC program holds the hook; leaves nothing half-attached on failure. */
int ft_attach(const char *root, const struct ft_knobs *k, int ifindex,
	      const struct ft_attach_opts *o);
/* Detaches flowtap from ifindex; -ENOENT if it was not attached. */
int ft_detach(int ifindex);
/* After a failed attach: a datapath attached nowhere is removed again, so
 * a failure leaves the host as it was. */
void ft_unload_if_unused(const char *root);
/* Detaches from every interface and removes the pins under root. */
int ft_detach_all(const char *root);

struct ft_attachment {
	int ifindex;
	char ifname[IF_NAMESIZE];
	enum ft_hook hook;     /* FT_HOOK_XDP or FT_HOOK_TC */
	enum ft_xdp_mode mode; /* for XDP */
	__u32 prog_id[2];      /* XDP: [0]; TC: [0] ingress, [1] egress */
};

/* Lists the interfaces flowtap is attached to (in this network namespace). */
int ft_status(struct ft_attachment **out, size_t *n);
/* The hook flowtap would pick for ifindex under FT_HOOK_AUTO. */
enum ft_hook ft_hook_for(int ifindex);

#endif
