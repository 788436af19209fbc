// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* XDP entry: ingress on physical NICs. Always XDP_PASS. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <xdp/xdp_helpers.h>

#include "parse.h"
__noinline int ft_parse_xdp(struct xdp_md *ctx, struct ft_parsed *p);
__noinline int ft_http_emit_xdp(struct xdp_md *ctx, __u32 off, __u32 n);
#define FT_PARSE(ctx, p)	  ft_parse_xdp(ctx, p)
#define FT_HTTP_EMIT(ctx, off, n) ft_http_emit_xdp(ctx, off, n)
/* Without multi-buffer support every XDP frame is linear. */
#define FT_HTTP_DETECT(ctx, off, n) FT_HTTP_NONE
#include "datapath.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FT_CAPTURE_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ft_cap_xdp SEC(".maps");

/* Lets libxdp's dispatcher, where it can load, run programs after ours. */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(flowtap_xdp);

/* Global, so verified once; see ft_handle(). */
__noinline int ft_parse_xdp(struct xdp_md *ctx, struct ft_parsed *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ft_parse_in in = {
	    .data = data,
	    .data_end = data_end,
	    .pkt_len = data_end - data,
	};

	if (!p)
		return 0;
	ft_parse(&in, p);
	return 0;
}

/* Global, so verified once; see ft_http_reserve(). */
__noinline int ft_http_emit_xdp(struct xdp_md *ctx, __u32 off, __u32 n)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 frame = data_end - data;
	struct ft_http_event *ev;

	if (n > FT_HTTP_PATH_MAX)
		n = FT_HTTP_PATH_MAX;
	if (off >= frame)
		n = 0;
	else if (n > frame - off)
		n = frame - off;
	ev = ft_http_reserve();
	if (!ev)
		return -1;
	/* One helper call instead of a byte loop where the kernel has it
	 * (5.18+); the relocation makes the other branch dead code the
	 * verifier never visits. */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_xdp_load_bytes)) {
		if (n &&
		    bpf_xdp_load_bytes(ctx, off, ev->path, ((n - 1) & (FT_HTTP_PATH_MAX - 1)) + 1))
			n = 0;
	} else {
		off &= 0x3fff; /* headers never reach this far; bounds the pointer */
		n = ft_http_fill(ev, (const __u8 *)data + off, data_end, n);
	}
	ft_http_cut(ev, n, ft_http_keep_query);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("xdp")
int flowtap_xdp(struct xdp_md *ctx)
{
	struct ft_frame f = {
	    .ctx = ctx,
	    .ifindex = ctx->ingress_ifindex,
	    .len = ctx->data_end - ctx->data,
	    .segs = 1,
	    .dir = FT_DIR_INGRESS,
	};
	__u32 mask = ft_handle(&f);

	if (mask)
		FT_TAIL_CALL_CAPTURES(ctx, ft_cap_xdp, mask, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
