/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * flowtap top: rates from two reads of the datapath's cumulative counters.
 * The pure parts are here so that tests can drive them with synthetic
 * values; the command and its terminal view are in top.c.
 */
#ifndef FT_TOP_H
#define FT_TOP_H

#include <stddef.h>
#include <linux/types.h>
#include "opts.h"
#include "state.h"

extern const struct ft_cmd ft_cmd_top;

/*
 * What a cumulative counter gained between two reads. A counter that went
 * down was removed and re-created in between: all it holds is new.
 */
__u64 ft_top_gained(__u64 cur, __u64 prev);

/* Orders flows by key, the order ft_top_flow_deltas() needs. */
int ft_top_flow_cmp(const void *a, const void *b);

/*
 * For each flow of cur, the packets and bytes since prev (both sorted with
 * ft_top_flow_cmp). A flow absent from prev, or whose kernel entry was
 * replaced in between (another first_ns, or lower counters: a collector
 * deleted it and traffic re-created it), counts from zero. Flows of prev
 * absent from cur are gone and have no rate.
 */
void ft_top_flow_deltas(const struct ft_flow *prev, size_t nprev, const struct ft_flow *cur,
			size_t ncur, struct ft_counter *out);

/* Orders interface counters by ifindex, then direction. */
int ft_top_if_cmp(const void *a, const void *b);

/*
 * Interface counters gained since prev (NULL: the entry is new). An entry
 * with any counter lower than before was removed and re-created (its slot
 * freed and claimed again): everything in it is new.
 */
void ft_top_if_delta(const struct ft_if_stats *cur, const struct ft_if_stats *prev,
		     struct ft_if_stats *out);

/* At most three significant digits with an SI prefix (powers of 1000):
 * 1234567 with unit "b" gives "1.23Mb", 0.5 gives "0.5", 0 gives "0". */
const char *ft_top_si(double v, const char *unit, char *buf, size_t len);

#endif
