// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * top: the busiest flows, interfaces or containers by their current bit and
 * packet rates, with the protocol mix, HTTP methods and losses -- a live
 * terminal view (ncurses), one sample (--once), or JSON for scripts.
 *
 * The datapath's counters are cumulative and never reset; a rate is the
 * difference of two reads over the CLOCK_MONOTONIC time between them. The
 * reads go through the pins each time, so a reloaded datapath or a
 * collector deleting flows between reads is seen for what it is (see
 * ft_top_flow_deltas): no rate is ever negative.
 */
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <curses.h>
#include <json-c/json.h>
#include "cli.h"
#include "collector.h"
#include "containers.h"
#include "datapath.h"
#include "log.h"
#include "names.h"
#include "output.h"
#include "state.h"
#include "top.h"

#define ARRAY_SIZE(a)	  (sizeof(a) / sizeof((a)[0]))
#define TOP_DEFAULT_LIMIT 20
#define TOP_SUMMARY_LINES 4
#define IF_WORDS	  (sizeof(struct ft_if_stats) / sizeof(__u64))

enum top_by { TOP_BY_FLOW, TOP_BY_IFACE, TOP_BY_CONTAINER, TOP_BY_MAX };
enum top_sort { TOP_SORT_BPS, TOP_SORT_PPS, TOP_SORT_BYTES, TOP_SORT_PACKETS, TOP_SORT_MAX };

static const char *const by_names[] = {"flow", "iface", "container", NULL};
static const char *const sort_names[] = {"bps", "pps", "bytes", "packets", NULL};
static const char *const sort_titles[] = {"bit rate", "packet rate", "bytes", "packets"};

struct top_cfg {
	struct ft_iface_list ifaces;
	int by;
	int sort;
	double delay;
	unsigned long limit;
	bool once, json, all;
};

/* One read of everything, restricted to the selected interfaces. */
struct top_sample {
	__u64 ns;		  /* CLOCK_MONOTONIC when the read began */
	struct ft_if_totals *ifs; /* by ifindex, direction */
	size_t nifs;
	struct ft_flow *flows; /* by key */
	size_t nflows;
	struct ft_drop_total *drops; /* unordered; summed */
	size_t ndrops;
};

/* An interface, or a container (its host-side veths together). */
struct top_agg {
	__u32 ifindex; /* a container's: its first veth */
	bool labelled; /* a veth into another namespace: labels are set */
	struct ft_ct_labels labels;
	unsigned int nifaces;
	char ifnames[64]; /* a container's veths, comma-separated */
	/* Frames per datapath direction of the host-side interface. */
	struct ft_counter cum[FT_DIR_MAX], delta[FT_DIR_MAX];
	__u64 loss_delta; /* flow table full, HTTP samples lost, malformed */
	size_t flows;	  /* flow table entries */
};

struct top_totals {
	struct ft_if_stats cum, delta; /* every selected interface, both directions */
	struct ft_counter frames_cum[FT_DIR_MAX], frames_delta[FT_DIR_MAX];
	__u64 drops_cum, drops_delta;
	size_t flows, active;
};

/* Rates between two samples, and the rows in display order. */
struct top_view {
	double dt; /* seconds between the reads */
	const struct top_sample *cur;
	struct ft_counter *fdelta; /* per flow of cur */
	struct top_agg *ifrows, *ctrows;
	size_t nif, nct;
	size_t *order; /* indexes into the current view's rows */
	size_t nrows;
	int by, sort;
	bool reverse;
	struct top_totals tot;
};

/* ---- the model ---- */

__u64 ft_top_gained(__u64 cur, __u64 prev)
{
	return cur >= prev ? cur - prev : cur;
}

int ft_top_flow_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct ft_flow *)a)->key, &((const struct ft_flow *)b)->key,
		      sizeof(struct ft_flow_key));
}

void ft_top_flow_deltas(const struct ft_flow *prev, size_t nprev, const struct ft_flow *cur,
			size_t ncur, struct ft_counter *out)
{
	size_t i, j = 0;

	for (i = 0; i < ncur; i++) {
		const struct ft_flow_val *c = &cur[i].v, *p = NULL;

		while (j < nprev && ft_top_flow_cmp(&prev[j], &cur[i]) < 0)
			j++;
		if (j < nprev && !ft_top_flow_cmp(&prev[j], &cur[i]))
			p = &prev[j].v;
		/* The collector's identity rule: key and first_ns, counters
		 * that only grow (docs/collector.md). */
		if (p && p->first_ns == c->first_ns && c->packets >= p->packets &&
		    c->bytes >= p->bytes) {
			out[i].packets = c->packets - p->packets;
			out[i].bytes = c->bytes - p->bytes;
		} else {
			out[i].packets = c->packets;
			out[i].bytes = c->bytes;
		}
	}
}

int ft_top_if_cmp(const void *a, const void *b)
{
	const struct ft_if_totals *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return x->dir < y->dir ? -1 : x->dir > y->dir;
}

void ft_top_if_delta(const struct ft_if_stats *cur, const struct ft_if_stats *prev,
		     struct ft_if_stats *out)
{
	/* Every field is a __u64 (flowtap.h asserts it). */
	const __u64 *c = (const __u64 *)cur, *p = (const __u64 *)prev;
	__u64 *o = (__u64 *)out;
	size_t i;

	for (i = 0; prev && i < IF_WORDS; i++)
		if (c[i] < p[i])
			prev = NULL;
	for (i = 0; i < IF_WORDS; i++)
		o[i] = prev ? c[i] - p[i] : c[i];
}

const char *ft_top_si(double v, const char *unit, char *buf, size_t len)
{
	static const char prefix[] = "kMGTPE";
	int i = -1;

	if (!(v > 0)) {
		snprintf(buf, len, "0%s", unit);
		return buf;
	}
	while (v >= 999.5 && i < (int)sizeof(prefix) - 2) {
		v /= 1000;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, v < 9.95 && v != (__u64)v ? "%.1f%s" : "%.0f%s", v, unit);
	else
		snprintf(buf, len, "%.*f%c%s",
			 v < 9.995   ? 2
			 : v < 99.95 ? 1
				     : 0,
			 v, prefix[i], unit);
	return buf;
}

static void if_stats_add(struct ft_if_stats *acc, const struct ft_if_stats *x)
{
	__u64 *a = (__u64 *)acc;
	const __u64 *b = (const __u64 *)x;
	size_t i;

	for (i = 0; i < IF_WORDS; i++)
		a[i] += b[i];
}

/* Counters that mean something was not seen or not kept. */
static __u64 if_losses(const struct ft_if_stats *s)
{
	return s->flow_overflow + s->http_samples_lost + s->cls[FT_CLASS_MALFORMED].packets;
}

/* ---- reading ---- */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool top_wanted(const struct top_cfg *c, __u32 ifindex)
{
	size_t i;

	if (!c->ifaces.n)
		return true;
	for (i = 0; i < c->ifaces.n; i++)
		if ((__u32)c->ifaces.v[i].ifindex == ifindex)
			return true;
	return false;
}

static void top_sample_free(struct top_sample *s)
{
	free(s->ifs);
	free(s->flows);
	free(s->drops);
	memset(s, 0, sizeof(*s));
}

static int top_read_ifs(const struct top_cfg *c, struct top_sample *s)
{
	size_t i, n = 0;
	int err = ft_read_if_totals(ft_pin_root(), &s->ifs, &s->nifs);

	if (err) {
		s->ifs = NULL;
		s->nifs = 0;
		return err;
	}
	for (i = 0; i < s->nifs; i++)
		if (top_wanted(c, s->ifs[i].ifindex))
			s->ifs[n++] = s->ifs[i];
	s->nifs = n;
	if (n)
		qsort(s->ifs, n, sizeof(*s->ifs), ft_top_if_cmp);
	return 0;
}

static int top_read_flows(const struct top_cfg *c, struct top_sample *s)
{
	int fd = ft_map_fd(ft_pin_root(), "ft_flows"), err;
	size_t i, n = 0;

	if (fd < 0)
		return fd;
	err = ft_read_flows(fd, &s->flows, &s->nflows);
	close(fd);
	if (err) {
		s->flows = NULL;
		s->nflows = 0;
		return err;
	}
	for (i = 0; i < s->nflows; i++)
		if (top_wanted(c, s->flows[i].key.ifindex))
			s->flows[n++] = s->flows[i];
	s->nflows = n;
	if (n)
		qsort(s->flows, n, sizeof(*s->flows), ft_top_flow_cmp);
	return 0;
}

/*
 * Kernel drops of this namespace's devices (of the selected ones with -i):
 * the tracepoint sees every namespace, and drops without a device cannot be
 * told apart. Optional: kernels without the tracepoint have no map.
 */
static void top_read_drops(const struct top_cfg *c, struct top_sample *s)
{
	int fd = ft_map_fd(ft_pin_root(), "ft_drops");
	struct stat st;
	__u32 self = stat("/proc/self/ns/net", &st) ? 0 : (__u32)st.st_ino;
	size_t i, n = 0;

	if (fd < 0)
		return;
	if (ft_read_drops(fd, &s->drops, &s->ndrops)) {
		s->drops = NULL;
		s->ndrops = 0;
	}
	close(fd);
	for (i = 0; i < s->ndrops; i++)
		if (s->drops[i].key.ifindex && s->drops[i].key.netns == self &&
		    top_wanted(c, s->drops[i].key.ifindex))
			s->drops[n++] = s->drops[i];
	s->ndrops = n;
}

static int top_read(const struct top_cfg *c, struct top_sample *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->ns = now_ns();
	err = top_read_ifs(c, s);
	if (!err)
		err = top_read_flows(c, s);
	if (err) {
		top_sample_free(s);
		return err;
	}
	top_read_drops(c, s);
	return 0;
}

static int drop_key_cmp(const struct ft_drop_key *a, const struct ft_drop_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

/* Drops gained, entry by entry (entries of vanished interfaces go). */
static __u64 drops_gained(const struct top_sample *prev, const struct top_sample *cur)
{
	__u64 sum = 0;
	size_t i, j;

	for (i = 0; i < cur->ndrops; i++) {
		__u64 p = 0;

		for (j = 0; j < prev->ndrops; j++)
			if (!drop_key_cmp(&prev->drops[j].key, &cur->drops[i].key)) {
				p = prev->drops[j].c.packets;
				break;
			}
		sum += ft_top_gained(cur->drops[i].c.packets, p);
	}
	return sum;
}

/* ---- the view ---- */

static const struct ft_if_totals *if_find(const struct top_sample *s, __u32 ifindex, __u32 dir)
{
	struct ft_if_totals k = {.ifindex = ifindex, .dir = dir};

	if (!s->nifs)
		return NULL;
	return bsearch(&k, s->ifs, s->nifs, sizeof(k), ft_top_if_cmp);
}

static struct top_agg *agg_find(struct top_agg *rows, size_t n, __u32 ifindex)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (rows[mid].ifindex == ifindex)
			return &rows[mid];
		if (rows[mid].ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One row per interface, and the totals over all of them. */
static int view_ifaces(struct top_view *v, const struct top_sample *prev,
		       const struct top_sample *cur, struct ft_cwatch *w)
{
	size_t i;

	v->ifrows = calloc(cur->nifs + 1, sizeof(*v->ifrows));
	if (!v->ifrows)
		return -ENOMEM;
	for (i = 0; i < cur->nifs; i++) {
		const struct ft_if_totals *t = &cur->ifs[i], *p = if_find(prev, t->ifindex, t->dir);
		struct top_agg *a = v->nif ? &v->ifrows[v->nif - 1] : NULL;
		const struct ft_cveth *veth;
		struct ft_if_stats d;
		__u32 dir = t->dir < FT_DIR_MAX ? t->dir : FT_DIR_INGRESS;

		ft_top_if_delta(&t->s, p ? &p->s : NULL, &d);
		if_stats_add(&v->tot.cum, &t->s);
		if_stats_add(&v->tot.delta, &d);
		if (!a || a->ifindex != t->ifindex) {
			a = &v->ifrows[v->nif++];
			a->ifindex = t->ifindex;
			a->nifaces = 1;
			ft_ifname(t->ifindex, a->ifnames);
			veth = w ? ft_cwatch_get(w, t->ifindex) : NULL;
			if (veth) {
				a->labelled = true;
				a->labels = veth->labels;
			}
		}
		ft_if_total(&t->s, &a->cum[dir]);
		ft_if_total(&d, &a->delta[dir]);
		a->loss_delta += if_losses(&d);
		v->tot.frames_cum[dir].packets += a->cum[dir].packets;
		v->tot.frames_cum[dir].bytes += a->cum[dir].bytes;
		v->tot.frames_delta[dir].packets += a->delta[dir].packets;
		v->tot.frames_delta[dir].bytes += a->delta[dir].bytes;
	}
	return 0;
}

static bool same_container(const struct top_agg *a, const struct ft_ct_labels *l, __u32 ifindex)
{
	if (ft_ct_labels_resolved(l))
		return ft_ct_labels_resolved(&a->labels) &&
		       !strcmp(a->labels.container_id, l->container_id);
	if (l->netns_ino)
		return !ft_ct_labels_resolved(&a->labels) && a->labels.netns_ino == l->netns_ino;
	return a->ifindex == ifindex;
}

static void agg_add(struct top_agg *to, const struct top_agg *from)
{
	unsigned int d;

	for (d = 0; d < FT_DIR_MAX; d++) {
		to->cum[d].packets += from->cum[d].packets;
		to->cum[d].bytes += from->cum[d].bytes;
		to->delta[d].packets += from->delta[d].packets;
		to->delta[d].bytes += from->delta[d].bytes;
	}
	to->loss_delta += from->loss_delta;
	to->flows += from->flows;
}

/* Containers: the interface rows of veths leading into one, together. */
static int view_containers(struct top_view *v)
{
	size_t i, j;

	v->ctrows = calloc(v->nif + 1, sizeof(*v->ctrows));
	if (!v->ctrows)
		return -ENOMEM;
	for (i = 0; i < v->nif; i++) {
		const struct top_agg *r = &v->ifrows[i];
		struct top_agg *c = NULL;
		size_t len;

		if (!r->labelled)
			continue;
		for (j = 0; j < v->nct && !c; j++)
			if (same_container(&v->ctrows[j], &r->labels, r->ifindex))
				c = &v->ctrows[j];
		if (!c) {
			c = &v->ctrows[v->nct++];
			*c = *r;
			continue;
		}
		agg_add(c, r);
		c->nifaces++;
		len = strlen(c->ifnames);
		snprintf(c->ifnames + len, sizeof(c->ifnames) - len, ",%s", r->ifnames);
	}
	return 0;
}

static void view_flows(struct top_view *v, const struct top_sample *prev,
		       const struct top_sample *cur)
{
	size_t i;

	ft_top_flow_deltas(prev->flows, prev->nflows, cur->flows, cur->nflows, v->fdelta);
	v->tot.flows = cur->nflows;
	for (i = 0; i < cur->nflows; i++) {
		struct top_agg *a = agg_find(v->ifrows, v->nif, cur->flows[i].key.ifindex);

		if (v->fdelta[i].packets)
			v->tot.active++;
		if (a)
			a->flows++;
	}
}

static void view_free(struct top_view *v)
{
	free(v->fdelta);
	free(v->ifrows);
	free(v->ctrows);
	free(v->order);
	memset(v, 0, sizeof(*v));
}

static void row_counts(const struct top_view *v, size_t i, struct ft_counter *cum,
		       struct ft_counter *delta)
{
	const struct top_agg *a;

	if (v->by == TOP_BY_FLOW) {
		cum->packets = v->cur->flows[i].v.packets;
		cum->bytes = v->cur->flows[i].v.bytes;
		*delta = v->fdelta[i];
		return;
	}
	a = v->by == TOP_BY_IFACE ? &v->ifrows[i] : &v->ctrows[i];
	cum->packets = a->cum[0].packets + a->cum[1].packets;
	cum->bytes = a->cum[0].bytes + a->cum[1].bytes;
	delta->packets = a->delta[0].packets + a->delta[1].packets;
	delta->bytes = a->delta[0].bytes + a->delta[1].bytes;
}

/* The sort key, its companion (bytes for packets and back), then for rows
 * equal in the interval, the cumulative bytes. */
static void row_keys(const struct top_view *v, size_t i, __u64 k[3])
{
	struct ft_counter c, d;

	row_counts(v, i, &c, &d);
	switch (v->sort) {
	case TOP_SORT_BPS:
		k[0] = d.bytes, k[1] = d.packets, k[2] = c.bytes;
		break;
	case TOP_SORT_PPS:
		k[0] = d.packets, k[1] = d.bytes, k[2] = c.bytes;
		break;
	case TOP_SORT_BYTES:
		k[0] = c.bytes, k[1] = c.packets, k[2] = 0;
		break;
	default:
		k[0] = c.packets, k[1] = c.bytes, k[2] = 0;
	}
}

/* Largest first (smallest with reverse); equal rows keep their key order so
 * that the screen does not flicker between refreshes. */
static int row_cmp(const void *a, const void *b, void *ctx)
{
	const struct top_view *v = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b, i;
	__u64 kx[3], ky[3];

	row_keys(v, x, kx);
	row_keys(v, y, ky);
	for (i = 0; i < 3; i++)
		if (kx[i] != ky[i])
			return (kx[i] < ky[i]) != v->reverse ? 1 : -1;
	return x < y ? -1 : x > y;
}

static void view_sort(struct top_view *v, int by, int sort, bool reverse)
{
	size_t i;

	v->by = by;
	v->sort = sort;
	v->reverse = reverse;
	v->nrows = by == TOP_BY_FLOW ? v->cur->nflows : by == TOP_BY_IFACE ? v->nif : v->nct;
	for (i = 0; i < v->nrows; i++)
		v->order[i] = i;
	if (v->nrows)
		qsort_r(v->order, v->nrows, sizeof(*v->order), row_cmp, v);
}

static int view_build(struct top_view *v, const struct top_sample *prev,
		      const struct top_sample *cur, struct ft_cwatch *w)
{
	size_t n = cur->nflows > cur->nifs ? cur->nflows : cur->nifs;

	memset(v, 0, sizeof(*v));
	v->cur = cur;
	v->dt = cur->ns > prev->ns ? (cur->ns - prev->ns) / 1e9 : 1e-9;
	v->fdelta = calloc(cur->nflows + 1, sizeof(*v->fdelta));
	v->order = calloc(n + 1, sizeof(*v->order));
	if (!v->fdelta || !v->order || view_ifaces(v, prev, cur, w)) {
		view_free(v);
		return -ENOMEM;
	}
	view_flows(v, prev, cur);
	if (view_containers(v)) {
		view_free(v);
		return -ENOMEM;
	}
	v->tot.drops_delta = drops_gained(prev, cur);
	for (n = 0; n < cur->ndrops; n++)
		v->tot.drops_cum += cur->drops[n].c.packets;
	return 0;
}

/* ---- text ---- */

struct line {
	char s[1024];
	size_t n;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->n >= sizeof(l->s) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->n += (size_t)n;
	if (l->n > sizeof(l->s) - 1)
		l->n = sizeof(l->s) - 1;
}

/* A left-aligned column of width w; what does not fit is cut, keeping the
 * end when keep_end (an address's port and last groups tell most). */
static void put_col(struct line *l, int w, const char *s, bool keep_end)
{
	int len = (int)strlen(s);

	if (len > w && keep_end && w > 1)
		put(l, "~%s ", s + len - (w - 1));
	else
		put(l, "%-*.*s ", w, w, s);
}

static const char *rate_str(double per_s, const char *unit, char *buf, size_t len)
{
	return ft_top_si(per_s, unit, buf, len);
}

/* Column widths, for the screen or for --once. */
struct top_cols {
	int ifw, aw, cw, pw; /* interface, address, container, pod */
	bool exact;	     /* exact cumulative counts (--once) */
};

#define RATE_W 8

static int metric_w(const struct top_cols *k, int sort)
{
	if (sort == TOP_SORT_BYTES)
		return k->exact ? 14 : RATE_W;
	if (sort == TOP_SORT_PACKETS)
		return k->exact ? 11 : RATE_W;
	return RATE_W;
}

/* Where the column of a sort key starts, after name_w columns of names. */
static int metric_x(const struct top_cols *k, int name_w, int sort)
{
	int x = name_w, i;

	for (i = 0; i < sort; i++)
		x += metric_w(k, i) + 1;
	return x;
}

static void put_metrics(struct line *l, const struct top_cols *k, const struct ft_counter *cum,
			const struct ft_counter *d, double dt)
{
	char a[32], b[32], c[32], e[32];

	rate_str(d->bytes * 8 / dt, "b", a, sizeof(a));
	rate_str(d->packets / dt, "", b, sizeof(b));
	if (k->exact) {
		put(l, "%*s %*s %*llu %*llu ", RATE_W, a, RATE_W, b, metric_w(k, TOP_SORT_BYTES),
		    cum->bytes, metric_w(k, TOP_SORT_PACKETS), cum->packets);
		return;
	}
	put(l, "%*s %*s %*s %*s ", RATE_W, a, RATE_W, b, RATE_W,
	    ft_top_si(cum->bytes, "B", c, sizeof(c)), RATE_W,
	    ft_top_si(cum->packets, "", e, sizeof(e)));
}

static void put_metric_titles(struct line *l, const struct top_cols *k)
{
	put(l, "%*s %*s %*s %*s ", RATE_W, "BIT/S", RATE_W, "PKT/S", metric_w(k, TOP_SORT_BYTES),
	    "BYTES", metric_w(k, TOP_SORT_PACKETS), "PACKETS");
}

static const char *endpoint(const struct ft_flow_key *k, bool src, char *buf, size_t len)
{
	char a[64];
	__u16 port = src ? k->sport : k->dport;
	bool ports = !ft_is_icmp(k->family, k->proto) &&
		     (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP || port);

	ft_addr_str(k->family, src ? k->src : k->dst, a, sizeof(a));
	if (!ports)
		snprintf(buf, len, "%s", a);
	else if (k->family == FT_FAMILY_IPV6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

static int flow_name_w(const struct top_cols *k)
{
	return k->ifw + 1 + 7 + 1 + 6 + 1 + 2 * (k->aw + 1);
}

static void flow_line(const struct top_view *v, size_t i, const struct top_cols *k,
		      struct ft_cwatch *w, struct line *l)
{
	const struct ft_flow *f = &v->cur->flows[i];
	const struct ft_flow_key *key = &f->key;
	const struct ft_cveth *veth = w ? ft_cwatch_get(w, key->ifindex) : NULL;
	char ifn[IF_NAMESIZE], ep[80], pb[8], fl[64];
	struct ft_counter cum = {f->v.packets, f->v.bytes};

	put_col(l, k->ifw, ft_ifname(key->ifindex, ifn), false);
	put_col(l, 7, ft_dir_name(key->dir), false);
	put_col(l, 6, ft_proto_name(key->proto, pb, sizeof(pb)), false);
	put_col(l, k->aw, endpoint(key, true, ep, sizeof(ep)), true);
	put_col(l, k->aw, endpoint(key, false, ep, sizeof(ep)), true);
	put_metrics(l, k, &cum, &v->fdelta[i], v->dt);
	put(l, "%s", ft_tcp_flags_str(f->v.tcp_flags, fl, sizeof(fl)));
	if (ft_is_icmp(key->family, key->proto))
		put(l, " type=%u code=%u", key->sport, key->dport);
	if (f->v.http_requests)
		put(l, " http=%u", f->v.http_requests);
	if (f->v.retransmits)
		put(l, " retx=%u", f->v.retransmits);
	if (key->vlan)
		put(l, " vlan=%u", key->vlan);
	if (veth)
		put(l, " %s(%s)", veth->labels.container, ft_ct_dir_name(key->dir));
}

static void flow_title(const struct top_cols *k, struct line *l)
{
	put_col(l, k->ifw, "IFACE", false);
	put_col(l, 7, "DIR", false);
	put_col(l, 6, "PROTO", false);
	put_col(l, k->aw, "SOURCE", false);
	put_col(l, k->aw, "DESTINATION", false);
	put_metric_titles(l, k);
	put(l, "INFO");
}

/* Receive and transmit from the point of view of what the row names: an
 * interface receives its ingress; a container receives what the host sends
 * into its veth (egress there). */
static void rx_tx(const struct top_view *v, int *rx, int *tx)
{
	*rx = v->by == TOP_BY_CONTAINER ? FT_DIR_EGRESS : FT_DIR_INGRESS;
	*tx = !*rx;
}

static const char *pod_str(const struct ft_ct_labels *l, char *buf, size_t len)
{
	if (l->pod[0])
		snprintf(buf, len, "%s/%s", l->pod_namespace[0] ? l->pod_namespace : "-", l->pod);
	else
		snprintf(buf, len, "-");
	return buf;
}

static int agg_name_w(const struct top_view *v, const struct top_cols *k)
{
	return v->by == TOP_BY_IFACE ? k->ifw + 1 : k->cw + 1 + k->pw + 1;
}

static void agg_line(const struct top_view *v, size_t i, const struct top_cols *k, struct line *l)
{
	const struct top_agg *a = v->by == TOP_BY_IFACE ? &v->ifrows[i] : &v->ctrows[i];
	struct ft_counter cum, d;
	char r1[32], r2[32], r3[32], r4[32], pod[FT_CT_POD_MAX + FT_CT_NS_MAX];
	int rx, tx;

	rx_tx(v, &rx, &tx);
	row_counts(v, i, &cum, &d);
	if (v->by == TOP_BY_IFACE) {
		put_col(l, k->ifw, a->ifnames, false);
	} else {
		put_col(l, k->cw, a->labels.container, false);
		put_col(l, k->pw, pod_str(&a->labels, pod, sizeof(pod)), false);
	}
	put_metrics(l, k, &cum, &d, v->dt);
	put(l, "%*s %*s %*s %*s %6zu ", RATE_W,
	    rate_str(a->delta[rx].bytes * 8 / v->dt, "b", r1, 32), RATE_W,
	    rate_str(a->delta[tx].bytes * 8 / v->dt, "b", r2, 32), RATE_W,
	    rate_str(a->delta[rx].packets / v->dt, "", r3, 32), RATE_W,
	    rate_str(a->delta[tx].packets / v->dt, "", r4, 32), a->flows);
	if (a->loss_delta)
		put(l, "loss=%s/s ", rate_str(a->loss_delta / v->dt, "", r1, 32));
	if (v->by == TOP_BY_CONTAINER)
		put(l, "%s %s", ft_runtime_name(a->labels.runtime), a->ifnames);
	else if (a->labelled)
		put(l, "%s", a->labels.container);
}

static void agg_title(const struct top_view *v, const struct top_cols *k, struct line *l)
{
	if (v->by == TOP_BY_IFACE) {
		put_col(l, k->ifw, "IFACE", false);
	} else {
		put_col(l, k->cw, "CONTAINER", false);
		put_col(l, k->pw, "POD", false);
	}
	put_metric_titles(l, k);
	put(l, "%*s %*s %*s %*s %6s %s", RATE_W, "RX BIT/S", RATE_W, "TX BIT/S", RATE_W, "RX PKT/S",
	    RATE_W, "TX PKT/S", "FLOWS", v->by == TOP_BY_IFACE ? "INFO" : "RUNTIME IFACES");
}

static void row_line(const struct top_view *v, size_t i, const struct top_cols *k,
		     struct ft_cwatch *w, struct line *l)
{
	if (v->by == TOP_BY_FLOW)
		flow_line(v, i, k, w, l);
	else
		agg_line(v, i, k, l);
}

static void title_line(const struct top_view *v, const struct top_cols *k, struct line *l)
{
	if (v->by == TOP_BY_FLOW)
		flow_title(k, l);
	else
		agg_title(v, k, l);
}

static int name_w(const struct top_view *v, const struct top_cols *k)
{
	return v->by == TOP_BY_FLOW ? flow_name_w(k) : agg_name_w(v, k);
}

/* The summary above the rows: totals, protocol mix, HTTP, losses. */
static void summary_total(const struct top_view *v, struct line *l)
{
	const struct top_totals *t = &v->tot;
	char a[32], b[32], c[32], d[32];

	put(l, "total      ingress %s/s %s pkt/s   egress %s/s %s pkt/s   flows %zu, %zu active",
	    rate_str(t->frames_delta[0].bytes * 8 / v->dt, "b", a, 32),
	    rate_str(t->frames_delta[0].packets / v->dt, "", b, 32),
	    rate_str(t->frames_delta[1].bytes * 8 / v->dt, "b", c, 32),
	    rate_str(t->frames_delta[1].packets / v->dt, "", d, 32), t->flows, t->active);
}

static void summary_protocols(const struct top_view *v, struct line *l)
{
	static const unsigned int shown[] = {
	    FT_CLASS_IPV4,     FT_CLASS_IPV6,	  FT_CLASS_TCP,	     FT_CLASS_UDP,
	    FT_CLASS_ICMP,     FT_CLASS_ICMPV6,	  FT_CLASS_OTHER_L4, FT_CLASS_ARP,
	    FT_CLASS_OTHER_L2, FT_CLASS_FRAGMENT, FT_CLASS_VLAN,     FT_CLASS_MALFORMED,
	};
	const struct top_totals *t = &v->tot;
	__u64 all = t->frames_delta[0].packets + t->frames_delta[1].packets;
	size_t i;

	put(l, "protocols ");
	if (!all) {
		put(l, " -");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(shown); i++) {
		__u64 p = t->delta.cls[shown[i]].packets;

		if (p)
			put(l, " %s %.1f%%", ft_class_name(shown[i]), 100.0 * p / all);
	}
	put(l, "  (of packets)");
}

static void summary_http(const struct top_view *v, struct line *l)
{
	const struct top_totals *t = &v->tot;
	char a[32];
	bool any = false;
	unsigned int m;

	put(l, "http      ");
	for (m = 1; m < FT_HTTP_MAX; m++) {
		if (!t->cum.http[m].packets)
			continue;
		put(l, " %s %s/s (%llu)", ft_method_name(m),
		    rate_str(t->delta.http[m].packets / v->dt, "", a, 32), t->cum.http[m].packets);
		any = true;
	}
	if (!any)
		put(l, " -");
}

static void summary_losses(const struct top_view *v, struct line *l)
{
	const struct ft_if_stats *d = &v->tot.delta;
	const struct {
		const char *name;
		__u64 n;
	} x[] = {
	    {"flow_table_full", d->flow_overflow},
	    {"http_samples_lost", d->http_samples_lost},
	    {"malformed", d->cls[FT_CLASS_MALFORMED].packets},
	    {"retransmits", d->tcp_retransmits},
	    {"resets", d->tcp_resets},
	    {"refused", d->tcp_conn_refused},
	    {"kernel_drops", v->tot.drops_delta},
	};
	char a[32];
	size_t i;

	put(l, "losses    ");
	for (i = 0; i < ARRAY_SIZE(x); i++)
		put(l, " %s %s/s", x[i].name, rate_str(x[i].n / v->dt, "", a, 32));
}

static void summary_line(const struct top_view *v, int which, struct line *l)
{
	static void (*const fn[TOP_SUMMARY_LINES])(const struct top_view *, struct line *) = {
	    summary_total, summary_protocols, summary_http, summary_losses};

	fn[which](v, l);
}

static size_t shown_rows(const struct top_cfg *c, const struct top_view *v)
{
	size_t lim = c->all ? v->nrows : c->limit ? c->limit : TOP_DEFAULT_LIMIT;

	return lim < v->nrows ? lim : v->nrows;
}

/* Widths that fit rows first..first+n-1 (and the titles), nothing cut. */
static void cols_fit(const struct top_view *v, size_t first, size_t n, struct top_cols *k)
{
	char buf[80], pod[FT_CT_POD_MAX + FT_CT_NS_MAX];
	size_t i;

	*k = (struct top_cols){.ifw = 5, .aw = 11, .cw = 9, .pw = 3, .exact = true};
	for (i = first; i < first + n && i < v->nrows; i++) {
		size_t r = v->order[i];
		const struct top_agg *a;
		int len;

		if (v->by == TOP_BY_FLOW) {
			const struct ft_flow_key *key = &v->cur->flows[r].key;

			len = strlen(ft_ifname(key->ifindex, buf));
			k->ifw = len > k->ifw ? len : k->ifw;
			len = strlen(endpoint(key, true, buf, sizeof(buf)));
			k->aw = len > k->aw ? len : k->aw;
			len = strlen(endpoint(key, false, buf, sizeof(buf)));
			k->aw = len > k->aw ? len : k->aw;
			continue;
		}
		a = v->by == TOP_BY_IFACE ? &v->ifrows[r] : &v->ctrows[r];
		len = strlen(a->ifnames);
		k->ifw = len > k->ifw ? len : k->ifw;
		len = strlen(a->labels.container);
		k->cw = len > k->cw ? len : k->cw;
		len = strlen(pod_str(&a->labels, pod, sizeof(pod)));
		k->pw = len > k->pw ? len : k->pw;
	}
}

static void print_text(const struct top_cfg *c, const struct top_view *v, struct ft_cwatch *w)
{
	size_t i, n = shown_rows(c, v);
	struct top_cols k;
	struct line l = {};
	int s;

	cols_fit(v, 0, n, &k);
	printf("flowtap top: %.2f s, by %s, sorted by %s\n", v->dt, by_names[v->by],
	       sort_titles[v->sort]);
	for (s = 0; s < TOP_SUMMARY_LINES; s++) {
		l.n = 0;
		summary_line(v, s, &l);
		printf("%s\n", l.s);
	}
	l.n = 0;
	title_line(v, &k, &l);
	printf("\n%s\n", l.s);
	for (i = 0; i < n; i++) {
		l.n = 0;
		row_line(v, v->order[i], &k, w, &l);
		/* Rows never end in blanks: scripts split them on spaces. */
		while (l.n && l.s[l.n - 1] == ' ')
			l.s[--l.n] = 0;
		printf("%s\n", l.s);
	}
}

/* ---- JSON ---- */

static json_object *rate_obj(const struct ft_counter *cum, const struct ft_counter *d, double dt)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "bps", json_object_new_double(d->bytes * 8 / dt));
	json_object_object_add(o, "pps", json_object_new_double(d->packets / dt));
	json_object_object_add(o, "packets", json_object_new_uint64(cum->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(cum->bytes));
	json_object_object_add(o, "packets_delta", json_object_new_uint64(d->packets));
	json_object_object_add(o, "bytes_delta", json_object_new_uint64(d->bytes));
	return o;
}

/* Merges the members of src into dst (json-c has no such call). */
static void json_merge(json_object *dst, json_object *src)
{
	json_object_object_foreach(src, key, val)
	{
		json_object_object_add(dst, key, json_object_get(val));
	}
	json_object_put(src);
}

static json_object *flow_json(const struct top_view *v, size_t i, struct ft_cwatch *w)
{
	const struct ft_flow *f = &v->cur->flows[i];
	const struct ft_cveth *veth = w ? ft_cwatch_get(w, f->key.ifindex) : NULL;
	struct ft_counter cum = {f->v.packets, f->v.bytes};
	json_object *o = ft_flow_json(f);

	json_merge(o, rate_obj(&cum, &v->fdelta[i], v->dt));
	if (veth) {
		ft_ct_labels_json(&veth->labels, o);
		json_object_object_add(o, "container_direction",
				       json_object_new_string(ft_ct_dir_name(f->key.dir)));
	}
	return o;
}

static json_object *agg_json(const struct top_view *v, size_t i)
{
	const struct top_agg *a = v->by == TOP_BY_IFACE ? &v->ifrows[i] : &v->ctrows[i];
	json_object *o = json_object_new_object(), *names;
	struct ft_counter cum, d;
	char ifn[IF_NAMESIZE], *save = NULL, *tok, buf[sizeof(a->ifnames)];
	unsigned int dir;

	row_counts(v, i, &cum, &d);
	if (v->by == TOP_BY_IFACE) {
		json_object_object_add(o, "iface",
				       json_object_new_string(ft_ifname(a->ifindex, ifn)));
		json_object_object_add(o, "ifindex", json_object_new_int64(a->ifindex));
	} else {
		names = json_object_new_array();
		snprintf(buf, sizeof(buf), "%s", a->ifnames);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			json_object_array_add(names, json_object_new_string(tok));
		json_object_object_add(o, "ifaces", names);
	}
	if (a->labelled)
		ft_ct_labels_json(&a->labels, o);
	json_merge(o, rate_obj(&cum, &d, v->dt));
	for (dir = 0; dir < FT_DIR_MAX; dir++)
		json_object_object_add(
		    o, v->by == TOP_BY_IFACE ? ft_dir_name(dir) : ft_ct_dir_name(dir),
		    rate_obj(&a->cum[dir], &a->delta[dir], v->dt));
	json_object_object_add(o, "flows", json_object_new_uint64(a->flows));
	json_object_object_add(o, "losses_delta", json_object_new_uint64(a->loss_delta));
	return o;
}

static json_object *counter_json(__u64 cum, __u64 d, double dt)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "rate", json_object_new_double(d / dt));
	json_object_object_add(o, "total", json_object_new_uint64(cum));
	return o;
}

static json_object *totals_json(const struct top_view *v)
{
	const struct top_totals *t = &v->tot;
	json_object *o = json_object_new_object(), *cls = json_object_new_object();
	json_object *http = json_object_new_object(), *loss = json_object_new_object();
	unsigned int i;

	for (i = 0; i < FT_DIR_MAX; i++)
		json_object_object_add(o, ft_dir_name(i),
				       rate_obj(&t->frames_cum[i], &t->frames_delta[i], v->dt));
	json_object_object_add(o, "flows", json_object_new_uint64(t->flows));
	json_object_object_add(o, "flows_active", json_object_new_uint64(t->active));
	for (i = 0; i < FT_CLASS_MAX; i++)
		json_object_object_add(cls, ft_class_name(i),
				       rate_obj(&t->cum.cls[i], &t->delta.cls[i], v->dt));
	json_object_object_add(o, "classes", cls);
	for (i = 1; i < FT_HTTP_MAX; i++)
		if (t->cum.http[i].packets)
			json_object_object_add(http, ft_method_name(i),
					       rate_obj(&t->cum.http[i], &t->delta.http[i], v->dt));
	json_object_object_add(o, "http", http);
#define LOSS(name, field)                                                                          \
	json_object_object_add(loss, name, counter_json(t->cum.field, t->delta.field, v->dt))
	LOSS("flow_overflow", flow_overflow);
	LOSS("http_samples_lost", http_samples_lost);
	LOSS("malformed", cls[FT_CLASS_MALFORMED].packets);
	LOSS("tcp_retransmits", tcp_retransmits);
	LOSS("tcp_resets", tcp_resets);
	LOSS("tcp_conn_refused", tcp_conn_refused);
	LOSS("tcp_syn_retries", tcp_syn_retries);
	LOSS("tcp_hs_overflow", tcp_hs_overflow);
#undef LOSS
	json_object_object_add(loss, "kernel_drops",
			       counter_json(t->drops_cum, t->drops_delta, v->dt));
	json_object_object_add(o, "losses", loss);
	return o;
}

static int print_json(const struct top_cfg *c, const struct top_view *v, struct ft_cwatch *w)
{
	json_object *o = json_object_new_object(), *rows = json_object_new_array();
	size_t i, n = shown_rows(c, v);
	int err;

	json_object_object_add(o, "time", json_object_new_double(ft_mono_to_epoch(v->cur->ns)));
	json_object_object_add(o, "interval", json_object_new_double(v->dt));
	json_object_object_add(o, "by", json_object_new_string(by_names[v->by]));
	json_object_object_add(o, "sort", json_object_new_string(sort_names[v->sort]));
	json_object_object_add(o, "totals", totals_json(v));
	for (i = 0; i < n; i++)
		json_object_array_add(rows, v->by == TOP_BY_FLOW ? flow_json(v, v->order[i], w)
								 : agg_json(v, v->order[i]));
	json_object_object_add(o, "rows", rows);
	err = puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0 || fflush(stdout);
	json_object_put(o);
	return err ? -EPIPE : 0;
}

/* ---- the terminal ---- */

static volatile sig_atomic_t top_winch;

static void on_winch(int sig)
{
	(void)sig;
	top_winch = 1;
}

struct top_ui {
	const struct top_cfg *cfg;
	struct ft_cwatch *w;
	struct top_sample s[2]; /* s[cur] the latest read, s[!cur] the one before */
	int cur;
	bool have_view;
	struct top_view v;
	int by, sort;
	bool reverse, quit, refresh_now;
	size_t scroll;
	char msg[160];
};

/* The screen: the rows in view fit, within limits that leave room for the
 * numbers and some of INFO. */
static void ui_cols(const struct top_view *v, size_t first, size_t n, struct top_cols *k)
{
	int room;

	cols_fit(v, first, n, k);
	k->exact = false;
	/* An IPv4 address and port (21) is never cut; longer ones are when
	 * they would leave INFO less than 16 columns. */
	room = (COLS - (k->ifw + 1 + 7 + 1 + 6 + 1 + 4 * (RATE_W + 1)) - 16) / 2 - 1;
	if (k->aw > room)
		k->aw = room > 21 ? room : k->aw < 21 ? k->aw : 21;
	if (k->cw > 32)
		k->cw = 32;
	if (k->pw > 40)
		k->pw = 40;
}

static void ui_title(const struct top_ui *u)
{
	char tbuf[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	attron(A_BOLD);
	mvprintw(0, 0, "flowtap top  %s  by %s  sort: %s%s  every %.1fs", tbuf, by_names[u->by],
		 sort_titles[u->sort], u->reverse ? " (reversed)" : "", u->cfg->delay);
	attroff(A_BOLD);
}

static void ui_rows(struct top_ui *u, int y0)
{
	const struct top_view *v = &u->v;
	struct top_cols k;
	struct line l = {};
	int y, page = LINES - 1 - (y0 + 1);
	size_t i;

	if (u->scroll + page > v->nrows)
		u->scroll = v->nrows > (size_t)page ? v->nrows - page : 0;
	ui_cols(v, u->scroll, page > 0 ? page : 0, &k);
	title_line(v, &k, &l);
	attron(A_REVERSE);
	mvprintw(y0, 0, "%-*.*s", COLS, COLS, l.s);
	attroff(A_REVERSE);
	if (metric_x(&k, name_w(v, &k), u->sort) < COLS)
		mvchgat(y0, metric_x(&k, name_w(v, &k), u->sort), metric_w(&k, u->sort),
			A_BOLD | A_UNDERLINE, 0, NULL);
	for (y = 0, i = u->scroll; y < page && i < v->nrows; y++, i++) {
		l.n = 0;
		l.s[0] = 0;
		row_line(v, v->order[i], &k, u->w, &l);
		mvaddnstr(y0 + 1 + y, 0, l.s, COLS);
	}
}

static void ui_draw(struct top_ui *u)
{
	struct line l;
	int s;

	erase();
	ui_title(u);
	if (!u->have_view) {
		mvprintw(2, 0, "reading the counters; first rates in %.1fs", u->cfg->delay);
	} else {
		for (s = 0; s < TOP_SUMMARY_LINES; s++) {
			l.n = 0;
			l.s[0] = 0;
			summary_line(&u->v, s, &l);
			mvaddnstr(1 + s, 0, l.s, COLS);
		}
		ui_rows(u, 2 + TOP_SUMMARY_LINES);
	}
	attron(A_REVERSE);
	mvprintw(LINES - 1, 0, "%-*.*s", COLS, COLS,
		 u->msg[0]
		     ? u->msg
		     : "q quit  b/p/B/P sort by bit rate/packet rate/bytes/packets  r reverse  "
		       "f/i/c flows/interfaces/containers  arrows/PgUp/PgDn scroll  space refresh");
	attroff(A_REVERSE);
	refresh();
}

/* Reads the counters again and computes the rates since the last read. */
static void ui_sample(struct top_ui *u)
{
	struct top_sample *next = &u->s[!u->cur];
	int err;

	if (u->have_view)
		view_free(&u->v);
	u->have_view = false;
	top_sample_free(next);
	err = top_read(u->cfg, next);
	if (err) {
		snprintf(u->msg, sizeof(u->msg), "reading the counters under %s: %s", ft_pin_root(),
			 strerror(-err));
		return;
	}
	u->msg[0] = 0;
	if (u->w)
		ft_cwatch_tick(u->w);
	if (u->s[u->cur].ns && !view_build(&u->v, &u->s[u->cur], next, u->w)) {
		view_sort(&u->v, u->by, u->sort, u->reverse);
		u->have_view = true;
	}
	u->cur = !u->cur;
}

static void ui_key(struct top_ui *u, int ch)
{
	int page = LINES - 3 - TOP_SUMMARY_LINES;
	static const char sort_keys[] = "bpBP";
	const char *s = ch > 0 && ch < 256 ? strchr(sort_keys, ch) : NULL;

	if (s && *s) {
		u->sort = s - sort_keys;
	} else {
		switch (ch) {
		case 'q':
		case 'Q':
			u->quit = true;
			return;
		case 'r':
			u->reverse = !u->reverse;
			break;
		case '<':
			u->sort = (u->sort + TOP_SORT_MAX - 1) % TOP_SORT_MAX;
			break;
		case '>':
			u->sort = (u->sort + 1) % TOP_SORT_MAX;
			break;
		case 'f':
		case 'i':
		case 'c':
			u->by = ch == 'f'   ? TOP_BY_FLOW
				: ch == 'i' ? TOP_BY_IFACE
					    : TOP_BY_CONTAINER;
			u->scroll = 0;
			break;
		case '\t':
			u->by = (u->by + 1) % TOP_BY_MAX;
			u->scroll = 0;
			break;
		case ' ':
			u->refresh_now = true;
			return;
		case KEY_UP:
		case 'k':
			u->scroll -= u->scroll > 0;
			break;
		case KEY_DOWN:
		case 'j':
			u->scroll++;
			break;
		case KEY_PPAGE:
			u->scroll = u->scroll > (size_t)page ? u->scroll - page : 0;
			break;
		case KEY_NPAGE:
			u->scroll += page > 0 ? page : 1;
			break;
		case KEY_HOME:
		case 'g':
			u->scroll = 0;
			break;
		case 12: /* ^L */
			clearok(curscr, TRUE);
			break;
		default:
			return;
		}
	}
	if (u->have_view)
		view_sort(&u->v, u->by, u->sort, u->reverse);
}

static void ui_resize(void)
{
	struct winsize ws;

	top_winch = 0;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
}

/* Waits for a key, a link notification, a signal or the next refresh. */
static void ui_wait(struct top_ui *u, __u64 deadline)
{
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = -1}};
	__u64 now = now_ns();
	int ms = deadline > now ? (int)((deadline - now + 999999) / 1000000) : 0, ch;

	if (u->w)
		p[1] = (struct pollfd){.fd = ft_cwatch_fd(u->w), .events = POLLIN};
	if (poll(p, 2, ms) <= 0)
		return;
	if (p[0].revents & (POLLHUP | POLLERR))
		u->quit = true; /* the terminal went away (ssh dropped) */
	while (p[0].revents & POLLIN && (ch = getch()) != ERR && !u->quit)
		if (ch == KEY_RESIZE)
			top_winch = 1;
		else
			ui_key(u, ch);
	if (u->w && p[1].revents & POLLIN)
		ft_cwatch_process(u->w);
}

static int ui_start(void)
{
	struct sigaction sa = {.sa_handler = on_winch};
	SCREEN *scr;

	/* Ours before ncurses starts: it then leaves these signals to us. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	ft_signals_init();
	setlocale(LC_ALL, "");
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		pr_err("top: cannot use this terminal (TERM=%s)\n", getenv("TERM") ?: "");
		return -ENOTTY;
	}
	set_term(scr);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(50); /* a lone Esc need not stall the view */
	curs_set(0);
	return 0;
}

static int top_interactive(const struct top_cfg *c, struct ft_cwatch *w)
{
	struct top_ui u = {.cfg = c, .w = w, .by = c->by, .sort = c->sort};
	__u64 step = (__u64)(c->delay * 1e9), deadline;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		pr_err("top: not a terminal (use --once or --json)\n");
		return 1;
	}
	if (ui_start())
		return 1;
	ui_sample(&u);
	deadline = now_ns() + step;
	while (!ft_stop && !u.quit) {
		if (top_winch)
			ui_resize();
		ui_draw(&u);
		ui_wait(&u, deadline);
		if (u.refresh_now || now_ns() >= deadline) {
			u.refresh_now = false;
			ui_sample(&u);
			deadline += step;
			if (deadline < now_ns())
				deadline = now_ns() + step;
		}
	}
	endwin();
	if (u.have_view)
		view_free(&u.v);
	top_sample_free(&u.s[0]);
	top_sample_free(&u.s[1]);
	return 0;
}

/* ---- scripts ---- */

static void top_sleep(double secs)
{
	__u64 end = now_ns() + (__u64)(secs * 1e9), now;

	while (!ft_stop && (now = now_ns()) < end)
		poll(NULL, 0, (int)((end - now + 999999) / 1000000));
}

/* --once: two reads DELAY apart; --json without it: one object per DELAY. */
static int top_batch(const struct top_cfg *c, struct ft_cwatch *w)
{
	struct top_sample s[2] = {};
	struct top_view v;
	int cur = 0, err;

	ft_signals_init();
	err = top_read(c, &s[0]);
	while (!err && !ft_stop) {
		top_sleep(c->delay);
		if (ft_stop)
			break;
		err = top_read(c, &s[!cur]);
		if (err)
			break;
		if (w)
			ft_cwatch_tick(w);
		err = view_build(&v, &s[cur], &s[!cur], w);
		if (err)
			break;
		view_sort(&v, c->by, c->sort, false);
		if (c->json)
			err = print_json(c, &v, w);
		else
			print_text(c, &v, w);
		view_free(&v);
		top_sample_free(&s[cur]);
		cur = !cur;
		if (c->once)
			break;
	}
	top_sample_free(&s[0]);
	top_sample_free(&s[1]);
	if (err == -EPIPE)
		return 0; /* the reader is gone */
	return err ? ft_fail("top", "reading the counters", err) : 0;
}

/* Container labels for every view: one discovery pass, then kept current
 * from link notifications. NULL without them (no netlink, no /proc). */
static struct ft_cwatch *top_cwatch(void)
{
	struct ft_cwatch_opts o = {};
	struct ft_cwatch *w;

	if (ft_cwatch_new(&o, &w))
		return NULL;
	if (ft_cwatch_scan(w) < 0 || ft_cwatch_attribute_all(w) < 0) {
		ft_cwatch_free(w);
		return NULL;
	}
	return w;
}

static int top_run(void *p, int argc, char **argv)
{
	struct top_cfg *c = p;
	struct ft_cwatch *w;
	int fd, err;

	(void)argc;
	(void)argv;
	if (!c->delay)
		c->delay = 1;
	if (c->delay < 0.1) {
		pr_err("top: --delay must be at least 0.1s\n");
		return 2;
	}
	fd = ft_map_fd(ft_pin_root(), "ft_ifstats");
	if (fd < 0) {
		if (fd == -ENOENT)
			pr_err("top: no flowtap state under %s (attach first: flowtap attach "
			       "IFACE)\n",
			       ft_pin_root());
		else
			ft_fail("top", "ft_ifstats", fd);
		return 1;
	}
	close(fd);
	w = top_cwatch();
	if (c->once || c->json)
		err = top_batch(c, w);
	else
		err = top_interactive(c, w);
	ft_cwatch_free(w);
	return err;
}

static const struct ft_opt top_opts[] = {
    {"interface", 'i', FT_OPT_IFACE, offsetof(struct top_cfg, ifaces), "IFACE",
     "only this interface (repeatable)"},
    {"by", 0, FT_OPT_CHOICE, offsetof(struct top_cfg, by), "flow|iface|container",
     "what a row is (default flow)", by_names},
    {"sort", 's', FT_OPT_CHOICE, offsetof(struct top_cfg, sort), "bps|pps|bytes|packets",
     "order, largest first (default bps)", sort_names},
    {"delay", 'd', FT_OPT_DURATION, offsetof(struct top_cfg, delay), "SECONDS",
     "time between reads, 100ms to 1h (default 1s)", NULL, 3600000, 100},
    {"once", 0, FT_OPT_FLAG, offsetof(struct top_cfg, once), NULL,
     "print one sample (two reads DELAY apart) and exit"},
    {"json", 'j', FT_OPT_FLAG, offsetof(struct top_cfg, json), NULL,
     "JSON: one object per DELAY, or one with --once"},
    {"limit", 'n', FT_OPT_UINT, offsetof(struct top_cfg, limit), "N",
     "rows printed by --once/--json (default 20)"},
    {"all", 'a', FT_OPT_FLAG, offsetof(struct top_cfg, all), NULL, "every row in --once/--json"},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_top = {
    .name = "top",
    .summary = "live view of the busiest flows, interfaces or containers",
    .opts = top_opts,
    .cfg_size = sizeof(struct top_cfg),
    .max_args = 0,
    .run = top_run,
};
