/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * flowtap capture: tcpdump expressions filtered in the kernel at the
 * datapath's capture hook. See docs/capture.md.
 */
#ifndef FT_CAPTURE_H
#define FT_CAPTURE_H

#include <linux/types.h>
#include "flowtap.h"

/*
 * Capture slots are shared by every capture process of a pin root. These
 * maps, pinned next to the datapath's, say who holds what; they are only
 * changed under flock(FT_CAP_LOCK_DIR).
 */
#define FT_CAP_LOCK_DIR	  "ft_cap_lock"	  /* a directory: flock()ed */
#define FT_CAP_OWNERS	  "ft_cap_owners" /* ARRAY[FT_CAPTURE_SLOTS] of ft_cap_owner */
#define FT_CAP_IFREFS	  "ft_cap_ifrefs" /* HASH ft_cap_ifref_key -> slot mask */
#define FT_CAP_IFREFS_MAX 1024

/* The process holding a slot; pid 0: free. start_time tells a reused pid
 * from the owner (field 22 of /proc/PID/stat, clock ticks since boot). */
struct ft_cap_owner {
	__u32 pid;
	__u32 pad;
	__u64 start_time;
	__u64 netns_ino; /* where its interfaces are */
};
_Static_assert(sizeof(struct ft_cap_owner) == 24, "ft_cap_owner layout");

/* An interface flowtap was attached to only for captures: the slots that
 * need it. The last one out detaches. */
struct ft_cap_ifref_key {
	__u32 ifindex;
	__u32 pad;
	__u64 netns_ino;
};
_Static_assert(sizeof(struct ft_cap_ifref_key) == 16, "ft_cap_ifref_key layout");

int ft_cmd_capture(int argc, char **argv);

#endif
