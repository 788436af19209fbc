// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* http: live HTTP request samples from the datapath's ring buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "datapath.h"
#include "log.h"
#include "names.h"
#include "output.h"

struct http_cfg {
	bool json;
	struct ft_iface_list ifaces;
	unsigned long count;
	unsigned long seen;
};

json_object *ft_http_json(const struct ft_http_event *e)
{
	json_object *o = json_object_new_object();
	char name[IF_NAMESIZE], buf[64];

	json_object_object_add(o, "ts", json_object_new_double(ft_mono_to_epoch(e->ts_ns)));
	json_object_object_add(o, "iface", json_object_new_string(ft_ifname(e->ifindex, name)));
	json_object_object_add(o, "ifindex", json_object_new_int64(e->ifindex));
	json_object_object_add(o, "direction", json_object_new_string(ft_dir_name(e->dir)));
	json_object_object_add(o, "vlan", json_object_new_int(e->vlan));
	json_object_object_add(o, "family", json_object_new_int(e->family));
	json_object_object_add(
	    o, "src", json_object_new_string(ft_addr_str(e->family, e->src, buf, sizeof(buf))));
	json_object_object_add(o, "sport", json_object_new_int(e->sport));
	json_object_object_add(
	    o, "dst", json_object_new_string(ft_addr_str(e->family, e->dst, buf, sizeof(buf))));
	json_object_object_add(o, "dport", json_object_new_int(e->dport));
	json_object_object_add(o, "method", json_object_new_string(ft_method_name(e->method)));
	json_object_object_add(o, "path",
			       json_object_new_string_len(e->path, e->path_len < FT_HTTP_PATH_MAX
								       ? e->path_len
								       : FT_HTTP_PATH_MAX));
	json_object_object_add(o, "truncated",
			       json_object_new_boolean(e->flags & FT_HTTP_F_TRUNCATED));
	json_object_object_add(o, "query_redacted",
			       json_object_new_boolean(e->flags & FT_HTTP_F_REDACTED));
	return o;
}

static void http_text(const struct ft_http_event *e)
{
	char name[IF_NAMESIZE], src[64], dst[64], tbuf[32];
	double ts = ft_mono_to_epoch(e->ts_ns);
	time_t sec = (time_t)ts;
	struct tm tm;
	bool v6 = e->family == FT_FAMILY_IPV6;
	int len = e->path_len < FT_HTTP_PATH_MAX ? e->path_len : FT_HTTP_PATH_MAX;
	int i;

	localtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	printf("%s.%06d %s %s %s%s%s:%u > %s%s%s:%u %s ", tbuf, (int)((ts - sec) * 1e6),
	       ft_ifname(e->ifindex, name), ft_dir_name(e->dir), v6 ? "[" : "",
	       ft_addr_str(e->family, e->src, src, sizeof(src)), v6 ? "]" : "", e->sport,
	       v6 ? "[" : "", ft_addr_str(e->family, e->dst, dst, sizeof(dst)), v6 ? "]" : "",
	       e->dport, ft_method_name(e->method));
	/* The path is attacker-controlled: never print raw control bytes. */
	for (i = 0; i < len; i++) {
		unsigned char ch = e->path[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			putchar(ch);
		else
			printf("\\x%02x", ch);
	}
	printf("%s%s\n", e->flags & FT_HTTP_F_REDACTED ? "?<redacted>" : "",
	       e->flags & FT_HTTP_F_TRUNCATED ? " [truncated]" : "");
}

static int http_event(void *ctx, void *data, size_t len)
{
	struct http_cfg *c = ctx;
	const struct ft_http_event *e = data;
	size_t i;

	/* libbpf goes on through the batch after a positive return (only a
	 * negative one stops it): samples past COUNT are skipped here. */
	if (len < sizeof(*e) || (c->count && c->seen >= c->count))
		return 0;
	if (c->ifaces.n) {
		for (i = 0; i < c->ifaces.n && (__u32)c->ifaces.v[i].ifindex != e->ifindex; i++)
			;
		if (i == c->ifaces.n)
			return 0;
	}
	if (c->json) {
		json_object *o = ft_http_json(e);

		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		http_text(e);
	}
	fflush(stdout);
	c->seen++;
	return 0;
}

static int http_run(void *p, int argc, char **argv)
{
	struct http_cfg *c = p;
	struct ring_buffer *rb = NULL;
	int fd, err = 0;

	(void)argc;
	(void)argv;
	fd = ft_map_fd(ft_pin_root(), "ft_http_rb");
	if (fd < 0) {
		if (fd == -ENOENT)
			pr_err("http: no flowtap state under %s (attach first: flowtap attach "
			       "IFACE)\n",
			       ft_pin_root());
		else
			ft_fail("http", "ft_http_rb", fd);
		return 1;
	}
	rb = ring_buffer__new(fd, http_event, c, NULL);
	if (!rb) {
		err = ft_fail("http", "ring buffer", -errno);
		goto out;
	}
	ft_signals_init();
	while (!ft_stop && !(c->count && c->seen >= c->count)) {
		int r = ring_buffer__poll(rb, 200);

		if (r < 0 && r != -EINTR) {
			err = ft_fail("http", "polling the ring buffer", r);
			break;
		}
	}
out:
	ring_buffer__free(rb);
	close(fd);
	return err;
}

static const struct ft_opt http_opts[] = {
    {"json", 'j', FT_OPT_FLAG, offsetof(struct http_cfg, json), NULL, "JSON lines"},
    {"interface", 'i', FT_OPT_IFACE, offsetof(struct http_cfg, ifaces), "IFACE",
     "only this interface (repeatable)"},
    {"count", 'c', FT_OPT_UINT, offsetof(struct http_cfg, count), "COUNT",
     "exit after COUNT samples", NULL, 0, 1},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_http = {
    .name = "http",
    .summary = "print HTTP request samples live until Ctrl-C or COUNT",
    .opts = http_opts,
    .cfg_size = sizeof(struct http_cfg),
    .max_args = 0,
    .run = http_run,
};
