/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef FT_FRAME_BPF_H
#define FT_FRAME_BPF_H

#include <linux/types.h>

#ifndef E2BIG
#define E2BIG 7
#endif
#ifndef EEXIST
#define EEXIST 17
#endif

/* What an entry knows about the frame it hands to the shared code. */
struct ft_frame {
	void *ctx;
	__u32 ifindex;
	__u32 len;  /* bytes to account: the frame as tcpdump shows it */
	__u32 segs; /* packets to account: GSO segments at TC, else 1 */
	__u8 dir;
	__u8 is_tc; /* payload may be non-linear: copy it with skb_load_bytes */
	__u64 now;
};

#endif /* FT_FRAME_BPF_H */
