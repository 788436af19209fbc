// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Syslog: per interval a summary line, a line per active interface and
 * direction, the top N flows by bytes in the interval and, if asked, a
 * line per ended flow -- all key=value, never more than max_lines (the
 * summary, always first, says how many were held back). Values that come
 * from the network or the system (addresses, interface names, container
 * labels) are printed as "%s" arguments, never as formats. Lines of a
 * container veth carry its labels (ft_ct_labels_kv()); flow lines also the
 * direction as the container sees it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <net/if.h>
#include "cli.h"
#include "collector.h"
#include "containers.h"
#include "names.h"

#define LINE_MAX_LEN 1024

/* Every frame lands in exactly one of these: an L3 (or ARP / other L2)
 * class, or a malformed reason found before the L3 header was valid. */
static const unsigned int pre_l3_reasons[] = {
    FT_MAL_ETH_TRUNCATED, FT_MAL_VLAN_TRUNCATED, FT_MAL_VLAN_DEPTH,
    FT_MAL_ARP_TRUNCATED, FT_MAL_IP_VERSION,	 FT_MAL_IPV4_TRUNCATED,
    FT_MAL_IPV4_IHL,	  FT_MAL_IPV4_TOTAL_LEN, FT_MAL_IPV6_TRUNCATED,
};

void ft_if_total(const struct ft_if_stats *s, struct ft_counter *out)
{
	static const unsigned int l3[] = {FT_CLASS_IPV4, FT_CLASS_IPV6, FT_CLASS_ARP,
					  FT_CLASS_OTHER_L2};
	size_t i;

	out->packets = out->bytes = 0;
	for (i = 0; i < sizeof(l3) / sizeof(l3[0]); i++) {
		out->packets += s->cls[l3[i]].packets;
		out->bytes += s->cls[l3[i]].bytes;
	}
	for (i = 0; i < sizeof(pre_l3_reasons) / sizeof(pre_l3_reasons[0]); i++) {
		out->packets += s->malformed[pre_l3_reasons[i]].packets;
		out->bytes += s->malformed[pre_l3_reasons[i]].bytes;
	}
}

struct line {
	char buf[LINE_MAX_LEN];
	size_t len;
};

static void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len > sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 1;
}

static void line_classes(struct line *l, const struct ft_if_stats *s)
{
	unsigned int c;

	for (c = 0; c < FT_CLASS_MAX; c++)
		if (s->cls[c].packets)
			line_add(l, " %s_pkts=%llu %s_bytes=%llu", ft_class_name(c),
				 s->cls[c].packets, ft_class_name(c), s->cls[c].bytes);
}

/* Flows with the most bytes in the interval, largest first. */
static size_t ft_top_flows(const struct ft_report *r, size_t n, struct ft_cflow **out)
{
	size_t have = 0, i, j;

	/* Insertion into a short sorted array: n is small (tens). */
	for (i = 0; i < r->nrecs && n; i++) {
		struct ft_cflow *f = r->recs[i];
		__u64 b = ft_cflow_dbytes(f);

		if (!ft_cflow_dpackets(f))
			continue;
		if (have == n && b <= ft_cflow_dbytes(out[n - 1]))
			continue;
		j = have < n ? have++ : n - 1;
		while (j > 0 && ft_cflow_dbytes(out[j - 1]) < b) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = f;
	}
	return have;
}

/* The interface's name: a container veth's is known even once it is gone. */
static const char *line_ifname(const struct ft_report *r, __u32 ifindex, char *buf)
{
	const struct ft_cveth *v = ft_report_veth(r, ifindex);

	return v ? v->ifname : ft_ifname(ifindex, buf);
}

static void line_labels(struct line *l, const struct ft_report *r, __u32 ifindex)
{
	const struct ft_cveth *v = ft_report_veth(r, ifindex);
	char kv[640];

	if (v && ft_ct_labels_kv(&v->labels, kv, sizeof(kv)) > 0)
		line_add(l, " %s", kv);
}

static void line_flow(struct line *l, const struct ft_report *r, const struct ft_cflow *f,
		      bool total)
{
	const struct ft_flow_key *k = &f->f.key;
	char ifn[IF_NAMESIZE], src[64], dst[64], fl[64], pb[8];

	line_add(l, " iface=%s dir=%s proto=%s src=%s sport=%u dst=%s dport=%u",
		 line_ifname(r, k->ifindex, ifn), ft_dir_name(k->dir),
		 ft_proto_name(k->proto, pb, sizeof(pb)),
		 ft_addr_str(k->family, k->src, src, sizeof(src)), k->sport,
		 ft_addr_str(k->family, k->dst, dst, sizeof(dst)), k->dport);
	if (k->vlan)
		line_add(l, " vlan=%u", k->vlan);
	line_add(l, " pkts=%llu bytes=%llu flags=%s http=%u",
		 total ? f->f.v.packets : ft_cflow_dpackets(f),
		 total ? f->f.v.bytes : ft_cflow_dbytes(f),
		 f->f.v.tcp_flags ? ft_tcp_flags_str(f->f.v.tcp_flags, fl, sizeof(fl)) : "-",
		 f->f.v.http_requests);
	if (ft_report_veth(r, k->ifindex)) {
		line_labels(l, r, k->ifindex);
		line_add(l, " container_direction=%s", ft_ct_dir_name(k->dir));
	}
}

static void line_summary(struct line *l, const struct ft_report *r, size_t suppressed)
{
	const struct ft_coll_stats *st = r->st;
	struct ft_if_stats all = {0};
	struct ft_counter tot = {0};
	size_t i, w;
	unsigned int e;

	for (i = 0; i < r->nifs; i++) {
		const __u64 *s = (const __u64 *)&r->ifs[i].d;
		__u64 *a = (__u64 *)&all;

		for (w = 0; w < sizeof(all) / sizeof(__u64); w++)
			a[w] += s[w];
	}
	ft_if_total(&all, &tot);
	line_add(l, "summary interval=%.2f pkts=%llu bytes=%llu", r->interval, tot.packets,
		 tot.bytes);
	line_classes(l, &all);
	/* What the flows carried, and the same counting each packet once
	 * where it was seen at several points (docs/containers.md). */
	line_add(l, " flow_pkts=%llu flow_bytes=%llu", st->packets, st->bytes);
	if (r->dd.valid)
		line_add(l, " dedup_pkts=%llu dedup_bytes=%llu", r->dd.packets, r->dd.bytes);
	line_add(l, " flows=%zu flows_active=%zu flows_new=%zu flows_ended=%zu", st->flows,
		 st->active, st->created, st->ended);
	for (e = FT_END_IDLE; e < FT_END_MAX; e++)
		if (e != FT_END_ACTIVE && st->ended_by[e])
			line_add(l, " ended_%s=%zu", ft_end_reason_name(e), st->ended_by[e]);
	line_add(l, " table=%zu/%zu flow_overflow=%llu ringbuf_lost=%llu drain_ms=%.1f",
		 st->kernel_entries - st->kernel_deleted, st->capacity, r->flow_overflow,
		 r->http_samples_lost, st->drain_ns / 1e6);
	if (r->http_samples)
		line_add(l, " http_samples=%llu", r->http_samples);
	if (r->tcp_hs_timeouts)
		line_add(l, " tcp_syn_unanswered=%llu", r->tcp_hs_timeouts);
	if (r->final)
		line_add(l, " final=1");
	if (suppressed)
		line_add(l, " lines_suppressed=%zu", suppressed);
}

size_t ft_syslog_lines(const struct ft_syslog_cfg *cfg, const struct ft_report *r, ft_line_fn emit,
		       void *arg)
{
	size_t ntop = cfg->top, nend = 0, want, budget, i, sent = 0;
	struct ft_cflow **top = NULL;
	struct line l;
	char ifn[IF_NAMESIZE];

	if (ntop) {
		top = calloc(ntop, sizeof(*top));
		ntop = top ? ft_top_flows(r, ntop, top) : 0;
	}
	for (i = 0; cfg->ended && i < r->nrecs; i++)
		nend += ft_cflow_ends(r->recs[i]);
	want = 1 + r->nifs + ntop + nend;
	budget = cfg->max_lines ? cfg->max_lines : want;

	l.len = 0;
	line_summary(&l, r, want > budget ? want - budget : 0);
	emit(r->flow_overflow || r->http_samples_lost ? LOG_WARNING : LOG_INFO, l.buf, arg);
	sent++;
	for (i = 0; i < r->nifs && sent < budget; i++, sent++) {
		const struct ft_if_delta *d = &r->ifs[i];
		struct ft_counter t;

		ft_if_total(&d->d, &t);
		l.len = 0;
		line_add(&l, "iface iface=%s dir=%s pkts=%llu bytes=%llu",
			 line_ifname(r, d->ifindex, ifn), ft_dir_name(d->dir), t.packets, t.bytes);
		line_classes(&l, &d->d);
		line_labels(&l, r, d->ifindex);
		if (d->d.flow_overflow)
			line_add(&l, " flow_overflow=%llu", d->d.flow_overflow);
		if (d->d.http_samples_lost)
			line_add(&l, " ringbuf_lost=%llu", d->d.http_samples_lost);
		emit(LOG_INFO, l.buf, arg);
	}
	for (i = 0; i < ntop && sent < budget; i++, sent++) {
		l.len = 0;
		line_add(&l, "flow rank=%zu", i + 1);
		line_flow(&l, r, top[i], false);
		emit(LOG_INFO, l.buf, arg);
	}
	for (i = 0; nend && i < r->nrecs && sent < budget; i++) {
		const struct ft_cflow *f = r->recs[i];

		if (!ft_cflow_ends(f))
			continue;
		l.len = 0;
		line_add(&l, "end reason=%s", ft_end_reason_name(f->reason));
		line_flow(&l, r, f, true);
		line_add(&l, " duration=%.3f",
			 f->f.v.last_ns > f->f.v.first_ns ? (f->f.v.last_ns - f->f.v.first_ns) / 1e9
							  : 0.0);
		emit(LOG_INFO, l.buf, arg);
		sent++;
	}
	free(top);
	return sent;
}

static const struct {
	const char *name;
	int value;
} facilities[] = {
    {"daemon", LOG_DAEMON}, {"user", LOG_USER},	    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int ft_syslog_facility(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (!strcmp(name, facilities[i].name))
			return facilities[i].value;
	return -1;
}

void ft_syslog_open(const struct ft_syslog_cfg *cfg)
{
	openlog("flowtap", LOG_PID | LOG_NDELAY, cfg->facility);
}

static void ft_syslog_emit(int prio, const char *line, void *arg)
{
	(void)arg;
	syslog(prio, "%s", line);
}

void ft_syslog_report(const struct ft_syslog_cfg *cfg, const struct ft_report *r)
{
	ft_syslog_lines(cfg, r, ft_syslog_emit, NULL);
}

void ft_syslog_close(void)
{
	closelog();
}
