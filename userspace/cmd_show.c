// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* stats and flows: what the datapath counted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <json-c/json.h>
#include "cli.h"
#include "log.h"
#include "names.h"
#include "state.h"
#include "datapath.h"
#include "output.h"
#include "containers.h"

/*
 * Container labels for listings: one discovery pass over veths whose peer
 * is in another namespace, made on first use. NULL when the interface is
 * not such a veth.
 */
static const struct ft_cveth *ft_labels_for(__u32 ifindex)
{
	static struct ft_cwatch *w;
	static bool tried;

	if (!tried) {
		struct ft_cwatch_opts o = {};

		tried = true;
		if (ft_cwatch_new(&o, &w)) {
			w = NULL;
			return NULL;
		}
		if (ft_cwatch_scan(w) < 0 || ft_cwatch_attribute_all(w) < 0) {
			ft_cwatch_free(w);
			w = NULL;
		}
	}
	return w ? ft_cwatch_get(w, ifindex) : NULL;
}

/* The label fields, and the direction as the container sees it. */
static void ft_labels_json(json_object *o, __u32 ifindex, __u32 dir)
{
	const struct ft_cveth *v = ft_labels_for(ifindex);

	if (!v)
		return;
	ft_ct_labels_json(&v->labels, o);
	json_object_object_add(o, "container_direction",
			       json_object_new_string(ft_ct_dir_name(dir)));
}

static bool ft_iface_wanted(const struct ft_iface_list *l, __u32 ifindex)
{
	size_t i;

	if (!l->n)
		return true;
	for (i = 0; i < l->n; i++)
		if ((__u32)l->v[i].ifindex == ifindex)
			return true;
	return false;
}

/* Opens a pinned map, or explains that nothing is attached. */
static int ft_open_map(const char *cmd, const char *name)
{
	int fd = ft_map_fd(ft_pin_root(), name);

	if (fd == -ENOENT)
		pr_err("%s: no flowtap state under %s (attach first: flowtap attach IFACE)\n", cmd,
		       ft_pin_root());
	else if (fd < 0)
		ft_fail(cmd, name, fd);
	return fd;
}

struct stats_cfg {
	bool json;
	struct ft_iface_list ifaces;
};

static json_object *stats_row(const struct ft_if_totals *t, const char *key, const char *val,
			      const struct ft_counter *c)
{
	json_object *o = json_object_new_object();
	char name[IF_NAMESIZE];

	json_object_object_add(o, "iface", json_object_new_string(ft_ifname(t->ifindex, name)));
	json_object_object_add(o, "ifindex", json_object_new_int64(t->ifindex));
	json_object_object_add(o, "direction", json_object_new_string(ft_dir_name(t->dir)));
	json_object_object_add(o, key, json_object_new_string(val));
	json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	ft_labels_json(o, t->ifindex, t->dir);
	return o;
}

/* Counters that are not packet classes: losses (packets counted in their
 * classes but missing from the flow table, HTTP samples the ring buffer
 * had no room for) and TCP health. */
#define FT_IF_COUNTERS(X)                                                                          \
	X(flow_overflow)                                                                           \
	X(http_samples_lost)                                                                       \
	X(tcp_handshakes)                                                                          \
	X(tcp_handshake_sum_us)                                                                    \
	X(tcp_conn_refused)                                                                        \
	X(tcp_syn_retries)                                                                         \
	X(tcp_retransmits)                                                                         \
	X(tcp_resets)                                                                              \
	X(tcp_hs_overflow)

static json_object *counter_row(const struct ft_if_totals *t, const char *name, __u64 value)
{
	json_object *o = json_object_new_object();
	char ifn[IF_NAMESIZE];

	json_object_object_add(o, "iface", json_object_new_string(ft_ifname(t->ifindex, ifn)));
	json_object_object_add(o, "ifindex", json_object_new_int64(t->ifindex));
	json_object_object_add(o, "direction", json_object_new_string(ft_dir_name(t->dir)));
	json_object_object_add(o, "counter", json_object_new_string(name));
	json_object_object_add(o, "value", json_object_new_uint64(value));
	ft_labels_json(o, t->ifindex, t->dir);
	return o;
}

static void stats_counters_json(const struct ft_if_totals *t, json_object *arr)
{
	json_object *o, *b;
	unsigned int i;

#define X(name) json_object_array_add(arr, counter_row(t, #name, t->s.name));
	FT_IF_COUNTERS(X)
#undef X
	/* Packets counted here for want of their interface's own entry. */
	if (t->ifindex == FT_IFINDEX_OTHER)
		json_object_array_add(arr, counter_row(t, "unattributed", t->s.unattributed));
	/* Handshake latency: bucket i counts [2^(i-1), 2^i) microseconds. */
	o = counter_row(t, "tcp_handshake_us_hist", t->s.tcp_handshakes);
	b = json_object_new_array();
	for (i = 0; i < FT_HS_BUCKETS; i++)
		json_object_array_add(b, json_object_new_uint64(t->s.tcp_handshake_hist[i]));
	json_object_object_add(o, "buckets", b);
	json_object_array_add(arr, o);
}

static void stats_json(const struct ft_if_totals *t, json_object *arr)
{
	unsigned int i;

	for (i = 0; i < FT_CLASS_MAX; i++)
		json_object_array_add(arr, stats_row(t, "class", ft_class_name(i), &t->s.cls[i]));
	for (i = 1; i < FT_MAL_MAX; i++) {
		json_object *o;

		if (!t->s.malformed[i].packets)
			continue;
		o = stats_row(t, "class", "malformed", &t->s.malformed[i]);
		json_object_object_add(o, "reason", json_object_new_string(ft_reason_name(i)));
		json_object_array_add(arr, o);
	}
	for (i = 1; i < FT_HTTP_MAX; i++) {
		json_object *o;

		if (!t->s.http[i].packets)
			continue;
		o = stats_row(t, "class", "http", &t->s.http[i]);
		json_object_object_add(o, "method", json_object_new_string(ft_method_name(i)));
		json_object_array_add(arr, o);
	}
	stats_counters_json(t, arr);
}

static void stats_text(const struct ft_if_totals *t)
{
	char name[IF_NAMESIZE];
	unsigned int i;

	ft_ifname(t->ifindex, name);
	for (i = 0; i < FT_CLASS_MAX; i++)
		if (t->s.cls[i].packets)
			printf("%-16s %-8s %-24s %14llu %16llu\n", name, ft_dir_name(t->dir),
			       ft_class_name(i), t->s.cls[i].packets, t->s.cls[i].bytes);
	for (i = 1; i < FT_MAL_MAX; i++)
		if (t->s.malformed[i].packets)
			printf("%-16s %-8s malformed:%-14s %14llu %16llu\n", name,
			       ft_dir_name(t->dir), ft_reason_name(i), t->s.malformed[i].packets,
			       t->s.malformed[i].bytes);
	for (i = 1; i < FT_HTTP_MAX; i++)
		if (t->s.http[i].packets)
			printf("%-16s %-8s http:%-19s %14llu %16llu\n", name, ft_dir_name(t->dir),
			       ft_method_name(i), t->s.http[i].packets, t->s.http[i].bytes);
#define X(field)                                                                                   \
	if (t->s.field)                                                                            \
		printf("%-16s %-8s %-24s %14llu\n", name, ft_dir_name(t->dir), #field, t->s.field);
	FT_IF_COUNTERS(X)
	X(unattributed)
#undef X
}

static int cmp_if_totals(const void *a, const void *b)
{
	const struct ft_if_totals *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return (int)x->dir - (int)y->dir;
}

static __u32 ft_self_netns(void)
{
	static __u32 self;
	struct stat st;

	if (!self && !stat("/proc/self/ns/net", &st))
		self = (__u32)st.st_ino;
	return self;
}

/* An interface name only for devices of our own namespace: ifindexes of
 * other namespaces (containers) would name the wrong device here. */
static const char *ft_drop_iface(const struct ft_drop_key *k, char *buf, size_t len)
{
	if (!k->ifindex)
		return "-";
	if (k->netns == ft_self_netns())
		return ft_ifname(k->ifindex, buf);
	snprintf(buf, len, "netns:%u/if%u", k->netns, k->ifindex);
	return buf;
}

/* Kernel drops are per interface (no direction): rows of their own. */
static void stats_drops(const struct stats_cfg *c, json_object *arr)
{
	struct ft_drop_total *d;
	char ifn[64], rb[64], pb[16];
	size_t n, i;
	int fd = ft_map_fd(ft_pin_root(), "ft_drops");

	if (fd < 0)
		return; /* drop counting unavailable on this kernel */
	if (ft_read_drops(fd, &d, &n)) {
		close(fd);
		return;
	}
	close(fd);
	for (i = 0; i < n; i++) {
		const char *iface = ft_drop_iface(&d[i].key, ifn, sizeof(ifn));
		const char *reason = ft_drop_reason_name(d[i].key.reason, rb, sizeof(rb));
		const char *l3 = ft_ethertype_name(d[i].key.proto, pb, sizeof(pb));

		/* -i names devices of this namespace: another namespace's
		 * device with the same ifindex is not the one asked for. */
		if (c->ifaces.n && (d[i].key.netns != ft_self_netns() ||
				    !ft_iface_wanted(&c->ifaces, d[i].key.ifindex)))
			continue;
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "iface", json_object_new_string(iface));
			json_object_object_add(o, "ifindex",
					       json_object_new_int64(d[i].key.ifindex));
			json_object_object_add(o, "netns", json_object_new_int64(d[i].key.netns));
			json_object_object_add(o, "class", json_object_new_string("kernel_drop"));
			json_object_object_add(o, "reason", json_object_new_string(reason));
			json_object_object_add(o, "l3", json_object_new_string(l3));
			json_object_object_add(o, "packets",
					       json_object_new_uint64(d[i].c.packets));
			json_object_object_add(o, "bytes", json_object_new_uint64(d[i].c.bytes));
			json_object_array_add(arr, o);
		} else {
			printf("%-16s %-8s drop:%-19s %14llu %16llu %s\n", iface, "-", reason,
			       d[i].c.packets, d[i].c.bytes, l3);
		}
	}
	free(d);
}

static int stats_run(void *p, int argc, char **argv)
{
	struct stats_cfg *c = p;
	struct ft_if_totals *t;
	json_object *arr = NULL;
	size_t n, i;
	int fd, err;

	(void)argc;
	(void)argv;
	fd = ft_open_map("stats", "ft_ifstats");
	if (fd < 0)
		return 1;
	close(fd);
	err = ft_read_if_totals(ft_pin_root(), &t, &n);
	if (err)
		return ft_fail("stats", "reading counters", err);
	if (n)
		qsort(t, n, sizeof(*t), cmp_if_totals);
	if (c->json)
		arr = json_object_new_array();
	else
		printf("%-16s %-8s %-24s %14s %16s\n", "IFACE", "DIR", "CLASS", "PACKETS", "BYTES");
	for (i = 0; i < n; i++) {
		if (!ft_iface_wanted(&c->ifaces, t[i].ifindex))
			continue;
		if (arr)
			stats_json(&t[i], arr);
		else
			stats_text(&t[i]);
	}
	stats_drops(c, arr);
	if (arr) {
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	}
	free(t);
	return 0;
}

static const struct ft_opt stats_opts[] = {
    {"json", 'j', FT_OPT_FLAG, offsetof(struct stats_cfg, json), NULL, "JSON output"},
    {"interface", 'i', FT_OPT_IFACE, offsetof(struct stats_cfg, ifaces), "IFACE",
     "only this interface (repeatable)"},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_stats = {
    .name = "stats",
    .summary = "show packet and byte counters per interface, direction and class",
    .opts = stats_opts,
    .cfg_size = sizeof(struct stats_cfg),
    .max_args = 0,
    .run = stats_run,
};

struct flows_cfg {
	bool json;
	struct ft_iface_list ifaces;
	int sort;
	unsigned long limit;
};

static const char *const sort_keys[] = {"bytes", "packets", NULL};
static int flows_sort_key;

static int cmp_flows(const void *a, const void *b)
{
	const struct ft_flow *x = a, *y = b;
	__u64 vx = flows_sort_key ? x->v.packets : x->v.bytes;
	__u64 vy = flows_sort_key ? y->v.packets : y->v.bytes;

	return vx < vy ? 1 : vx > vy ? -1 : 0;
}

static json_object *ft_flow_json_labelled(const struct ft_flow *f)
{
	json_object *o = ft_flow_json(f);

	ft_labels_json(o, f->key.ifindex, f->key.dir);
	return o;
}

json_object *ft_flow_json(const struct ft_flow *f)
{
	json_object *o = json_object_new_object();
	char name[IF_NAMESIZE], buf[64], pbuf[8];
	const struct ft_flow_key *k = &f->key;
	bool icmp = ft_is_icmp(k->family, k->proto);

	json_object_object_add(o, "iface", json_object_new_string(ft_ifname(k->ifindex, name)));
	json_object_object_add(o, "ifindex", json_object_new_int64(k->ifindex));
	json_object_object_add(o, "direction", json_object_new_string(ft_dir_name(k->dir)));
	json_object_object_add(o, "vlan", json_object_new_int(k->vlan));
	json_object_object_add(o, "family", json_object_new_int(k->family));
	json_object_object_add(o, "proto",
			       json_object_new_string(ft_proto_name(k->proto, pbuf, sizeof(pbuf))));
	json_object_object_add(
	    o, "src", json_object_new_string(ft_addr_str(k->family, k->src, buf, sizeof(buf))));
	json_object_object_add(
	    o, "dst", json_object_new_string(ft_addr_str(k->family, k->dst, buf, sizeof(buf))));
	json_object_object_add(o, icmp ? "type" : "sport", json_object_new_int(k->sport));
	json_object_object_add(o, icmp ? "code" : "dport", json_object_new_int(k->dport));
	json_object_object_add(o, "packets", json_object_new_uint64(f->v.packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(f->v.bytes));
	json_object_object_add(o, "first_seen",
			       json_object_new_double(ft_mono_to_epoch(f->v.first_ns)));
	json_object_object_add(o, "last_seen",
			       json_object_new_double(ft_mono_to_epoch(f->v.last_ns)));
	json_object_object_add(
	    o, "tcp_flags",
	    json_object_new_string(ft_tcp_flags_str(f->v.tcp_flags, buf, sizeof(buf))));
	json_object_object_add(o, "http_requests", json_object_new_int64(f->v.http_requests));
	if (k->proto == IPPROTO_TCP) {
		json_object_object_add(o, "retransmits", json_object_new_int64(f->v.retransmits));
		json_object_object_add(o, "resets", json_object_new_int64(f->v.resets));
		/* Only where this observation point could measure them. */
		if (f->v.handshake_us)
			json_object_object_add(o, "handshake_us",
					       json_object_new_int64(f->v.handshake_us));
		if (f->v.rtt_us)
			json_object_object_add(o, "rtt_us", json_object_new_int64(f->v.rtt_us));
	}
	return o;
}

static void flow_text(const struct ft_flow *f)
{
	const struct ft_flow_key *k = &f->key;
	char name[IF_NAMESIZE], src[64], dst[64], fl[64], pbuf[8];
	bool v6 = k->family == FT_FAMILY_IPV6;

	ft_addr_str(k->family, k->src, src, sizeof(src));
	ft_addr_str(k->family, k->dst, dst, sizeof(dst));
	printf("%-12s %-7s %-6s %s%s%s%s%u -> %s%s%s%s%u %10llu %12llu %s",
	       ft_ifname(k->ifindex, name), ft_dir_name(k->dir),
	       ft_proto_name(k->proto, pbuf, sizeof(pbuf)), v6 ? "[" : "", src, v6 ? "]" : "",
	       ft_is_icmp(k->family, k->proto) ? " type " : ":", k->sport, v6 ? "[" : "", dst,
	       v6 ? "]" : "", ft_is_icmp(k->family, k->proto) ? " code " : ":", k->dport,
	       f->v.packets, f->v.bytes, ft_tcp_flags_str(f->v.tcp_flags, fl, sizeof(fl)));
	if (k->vlan)
		printf(" vlan=%u", k->vlan);
	if (f->v.http_requests)
		printf(" http=%u", f->v.http_requests);
	if (ft_labels_for(k->ifindex))
		printf(" container=%s %s", ft_labels_for(k->ifindex)->labels.container,
		       ft_ct_dir_name(k->dir));
	printf("\n");
}

static int flows_run(void *p, int argc, char **argv)
{
	struct flows_cfg *c = p;
	struct ft_flow *f;
	size_t n, i, shown = 0;
	int fd, err;

	(void)argc;
	(void)argv;
	fd = ft_open_map("flows", "ft_flows");
	if (fd < 0)
		return 1;
	err = ft_read_flows(fd, &f, &n);
	close(fd);
	if (err)
		return ft_fail("flows", "reading the flow table", err);
	flows_sort_key = c->sort;
	if (n)
		qsort(f, n, sizeof(*f), cmp_flows);
	if (c->json)
		fputs("[", stdout);
	for (i = 0; i < n && (!c->limit || shown < c->limit); i++) {
		if (!ft_iface_wanted(&c->ifaces, f[i].key.ifindex))
			continue;
		if (c->json) {
			json_object *o = ft_flow_json_labelled(&f[i]);

			printf("%s%s", shown ? "," : "",
			       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
		} else {
			flow_text(&f[i]);
		}
		shown++;
	}
	if (c->json)
		puts("]");
	free(f);
	return 0;
}

static const struct ft_opt flows_opts[] = {
    {"json", 'j', FT_OPT_FLAG, offsetof(struct flows_cfg, json), NULL, "JSON output"},
    {"interface", 'i', FT_OPT_IFACE, offsetof(struct flows_cfg, ifaces), "IFACE",
     "only this interface (repeatable)"},
    {"sort", 0, FT_OPT_CHOICE, offsetof(struct flows_cfg, sort), "bytes|packets",
     "order, largest first (default bytes)", sort_keys},
    {"limit", 'n', FT_OPT_UINT, offsetof(struct flows_cfg, limit), "N", "show at most N flows",
     NULL, 0, 1},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_flows = {
    .name = "flows",
    .summary = "show the flow table",
    .opts = flows_opts,
    .cfg_size = sizeof(struct flows_cfg),
    .max_args = 0,
    .run = flows_run,
};
