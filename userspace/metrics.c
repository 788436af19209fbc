// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Prometheus exporter; metrics.h has the model, docs/prometheus.md the
 * metrics. Three layers: gathering (maps, links, /proc) into a
 * struct ft_metrics_input; the interface state (cap, retention, folding)
 * updated from it without I/O; rendering. Tests drive the last two.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <microhttpd.h>
#include <zlib.h>
#include "collector.h"
#include "datapath.h"
#include "log.h"
#include "metrics.h"
#include "names.h"

#ifndef FLOWTAP_VERSION
#define FLOWTAP_VERSION "unknown"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Drain durations: 0.5 ms .. 2.5 s, then +Inf. */
static const double mx_drain_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				     0.05,   0.1,   0.25,   0.5,   1,	 2.5};
#define MX_DRAIN_BUCKETS      ARRAY_SIZE(mx_drain_le)
#define MX_MAX_REASONS	      8
#define MX_MAX_RINGS	      4
#define MX_NAME_MAX	      48
#define MX_ATTACHED_MAX_LINKS 64
#define MX_ATTACHED_TTL	      10.0
/* A gone container's labels are kept a little longer than its series. */
#define MX_LABEL_GRACE 60.0

/* ---------------------------------------------------------------------- */
/* Output buffer and the exposition's lexical rules */

struct mx_out {
	char *p;
	size_t len, cap;
	bool oom;
	bool om; /* OpenMetrics */
};

static void mx_put(struct mx_out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64 * 1024;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

static void mx_puts(struct mx_out *o, const char *s)
{
	mx_put(o, s, strlen(s));
}

static void mx_u64(struct mx_out *o, __u64 v)
{
	char b[24];
	size_t i = sizeof(b);

	do {
		b[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	mx_put(o, b + i, sizeof(b) - i);
}

/* Shortest of %.15g / %.17g that reads back the same, as Go's 'g' -1. */
static void mx_fmt_double(double v, char *b, size_t len)
{
	if (isnan(v))
		snprintf(b, len, "NaN");
	else if (isinf(v))
		snprintf(b, len, v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(b, len, "%.15g", v);
		if (strtod(b, NULL) != v)
			snprintf(b, len, "%.17g", v);
	}
}

static void mx_double(struct mx_out *o, double v)
{
	char b[40];

	mx_fmt_double(v, b, sizeof(b));
	mx_puts(o, b);
}

size_t ft_metrics_escape(const char *s, char *out, size_t cap)
{
	size_t n = 0, w = 0; /* needed, written */

	for (; *s; s++) {
		char e = *s == '\\' ? '\\' : *s == '"' ? '"' : *s == '\n' ? 'n' : 0;
		size_t k = e ? 2 : 1;

		/* Never half an escape: once something does not fit, stop. */
		if (w == n && w + k < cap) {
			if (e)
				out[w++] = '\\';
			out[w++] = e ? e : *s;
		}
		n += k;
	}
	if (cap)
		out[w] = 0;
	return n;
}

/* Label values: \\, \" and \n. HELP text in 0.0.4: \\ and \n only. */
static void mx_escaped(struct mx_out *o, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : NULL;

		if (!rep && *s == '"' && quote)
			rep = "\\\"";
		if (!rep)
			continue;
		mx_put(o, run, s - run);
		mx_puts(o, rep);
		run = s + 1;
	}
	mx_put(o, run, s - run);
}

/* HELP and TYPE. Counters are named with _total; OpenMetrics names the
 * family without it. */
static void mx_family(struct mx_out *o, const char *name, const char *type, const char *help)
{
	size_t n = strlen(name);

	if (o->om && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	mx_puts(o, "# HELP ");
	mx_put(o, name, n);
	mx_puts(o, " ");
	mx_escaped(o, help, o->om);
	mx_puts(o, "\n# TYPE ");
	mx_put(o, name, n);
	mx_puts(o, " ");
	mx_puts(o, type);
	mx_puts(o, "\n");
}

/* One label set: a prebuilt, escaped prefix (may be NULL) and up to two
 * more pairs (keys NULL when absent). */
struct mx_lbl {
	const char *prefix;
	size_t plen;
	const char *k1, *v1, *k2, *v2;
};

static void mx_pair(struct mx_out *o, bool *first, const char *k, const char *v)
{
	if (!k)
		return;
	mx_puts(o, *first ? "{" : ",");
	*first = false;
	mx_puts(o, k);
	mx_puts(o, "=\"");
	mx_escaped(o, v, true);
	mx_puts(o, "\"");
}

static void mx_labels(struct mx_out *o, const struct mx_lbl *l)
{
	bool first = true;

	if (l && l->plen) {
		mx_puts(o, "{");
		mx_put(o, l->prefix, l->plen);
		first = false;
	}
	if (l) {
		mx_pair(o, &first, l->k1, l->v1);
		mx_pair(o, &first, l->k2, l->v2);
	}
	if (!first)
		mx_puts(o, "}");
}

static void mx_sample_u64(struct mx_out *o, const char *name, const struct mx_lbl *l, __u64 v)
{
	mx_puts(o, name);
	mx_labels(o, l);
	mx_puts(o, " ");
	mx_u64(o, v);
	mx_puts(o, "\n");
}

static void mx_sample_f(struct mx_out *o, const char *name, const struct mx_lbl *l, double v)
{
	mx_puts(o, name);
	mx_labels(o, l);
	mx_puts(o, " ");
	mx_double(o, v);
	mx_puts(o, "\n");
}

/* A gauge or counter with one sample. */
static void mx_single(struct mx_out *o, const char *name, const char *type, const char *help,
		      double v)
{
	mx_family(o, name, type, help);
	mx_sample_f(o, name, NULL, v);
}

/* Cumulative buckets from per-bucket counts: counts[i] for i < n are at
 * most le[i], counts[n] is above le[n - 1]. _count is the +Inf bucket, as
 * OpenMetrics requires, even when the counters were read mid-update. */
static void mx_histogram(struct mx_out *o, const char *name, const struct mx_lbl *base,
			 const __u64 *counts, const double *le, size_t n, double sum)
{
	char bname[128], lbuf[40];
	struct mx_lbl l = base ? *base : (struct mx_lbl){0};
	__u64 cum = 0;
	size_t i;

	snprintf(bname, sizeof(bname), "%s_bucket", name);
	l.k2 = "le";
	l.v2 = lbuf;
	for (i = 0; i < n; i++) {
		cum += counts[i];
		mx_fmt_double(le[i], lbuf, sizeof(lbuf));
		mx_sample_u64(o, bname, &l, cum);
	}
	cum += counts[n];
	mx_fmt_double(INFINITY, lbuf, sizeof(lbuf));
	mx_sample_u64(o, bname, &l, cum);
	l.k2 = NULL;
	snprintf(bname, sizeof(bname), "%s_sum", name);
	mx_sample_f(o, bname, &l, sum);
	snprintf(bname, sizeof(bname), "%s_count", name);
	mx_sample_u64(o, bname, &l, cum);
}

double ft_metrics_hs_le(unsigned int b)
{
	/* Bucket b holds [2^(b-1), 2^b) microseconds; the last one all above. */
	return b + 1 >= FT_HS_BUCKETS ? INFINITY : ldexp(1.0, b) * 1e-6;
}

/* ---------------------------------------------------------------------- */
/* State */

struct mx_coll {
	bool flows_set;
	__u64 flows_active, table_entries;
	size_t nended;
	struct {
		char reason[24];
		__u64 total;
	} ended[MX_MAX_REASONS];
	bool drain_set;
	__u64 drain_counts[MX_DRAIN_BUCKETS + 1]; /* per bucket; the last is +Inf */
	double drain_sum;
	bool capture_set;
	__u64 cap_packets, cap_dropped;
	size_t nrings;
	struct {
		char name[16];
		__u64 lost;
	} rings[MX_MAX_RINGS];
	long long attached; /* -1: not set */
	bool timeouts_set;
	bool dedup_set;
	__u64 dedup_packets, dedup_bytes; /* sums of the intervals' de-duplicated views */
};

/* Handshakes whose SYN-ACK never came, per interface and direction of the
 * SYN: the collector finds them when it expires the handshake table. */
struct mx_timeout {
	int ifindex;
	__u64 n[FT_DIR_MAX];
};

/* Labels the collector pushed for one ifindex of our namespace. */
struct mx_label {
	int ifindex;
	double gone_at; /* 0: the container is there */
	struct ft_metrics_labels l;
};

struct mx_drop {
	__u16 reason;
	__u64 packets;
};

enum mx_slot {
	MX_SLOT_NEW,	  /* not decided yet */
	MX_SLOT_EXPORTED, /* has series of its own */
	MX_SLOT_FOLDED,	  /* counted in interface="other" */
};

/* One interface label set: an ifindex in a network namespace. */
struct mx_ident {
	__u32 netns, ifindex; /* ifindex 0: drops without a device, netns 0 */
	char name[MX_NAME_MAX];
	bool has_labels;
	struct ft_metrics_labels lab;
	char *prefix; /* escaped label pairs of the name and labels */
	size_t plen;
	enum mx_slot slot;
	bool seen;	/* in the maps at this scrape */
	bool hidden;	/* gone for longer than the retention */
	bool dead;	/* to be removed from the table */
	double gone_at; /* 0: present */
	__u32 drops_gen;
	bool has_if[FT_DIR_MAX];
	struct ft_if_stats s[FT_DIR_MAX]; /* last values read */
	__u64 tmo[FT_DIR_MAX];		  /* handshake timeouts (collector) */
	struct mx_drop *drops;		  /* last values, summed over protocols */
	size_t ndrops, capdrops;
};

struct mx_reason_name {
	__u16 reason;
	char name[48];
};

/* What a scrape copies from the collector's side. */
struct mx_snap {
	struct mx_coll c;
	struct mx_label *labs;
	size_t nlabs;
	struct mx_timeout *tmo;
	size_t ntmo;
};

struct ft_metrics {
	struct ft_metrics_cfg cfg;
	char pin_root[256];

	/* Shared with the collector's thread: held only to copy. */
	pthread_mutex_t lock;
	struct mx_coll coll;
	struct mx_label *labels;
	size_t nlabels, caplabels;
	int *known; /* ifindexes of our namespace the last scrape saw */
	size_t nknown;
	struct mx_timeout *tmo;
	size_t ntmo, captmo;

	/* The scrape side: one scrape at a time. */
	pthread_mutex_t scrape_lock;
	struct mx_ident *ids; /* sorted by (netns, ifindex) between scrapes */
	size_t nids, capids;
	__u32 gen;
	__u64 folded_total;
	/* What folded interfaces had when they went: "other" never decreases. */
	struct ft_if_stats other_gone[FT_DIR_MAX];
	bool other_gone_if[FT_DIR_MAX];
	__u64 other_gone_tmo[FT_DIR_MAX];
	struct mx_drop *other_gone_drops;
	size_t nother_gone_drops, capother_gone_drops;
	__u64 http_lost_gone; /* ring losses of interfaces that went */
	struct mx_reason_name *rnames;
	size_t nrnames, caprnames;
	double last_scrape_s;
	long long attached; /* ft_status()'s count, at attached_at */
	double attached_at;

	struct MHD_Daemon *mhd;
	int port;
};

void ft_metrics_cfg_default(struct ft_metrics_cfg *c)
{
	*c = (struct ft_metrics_cfg){
	    .pin_root = FT_PIN_ROOT,
	    .max_ifaces = FT_METRICS_MAX_IFACES,
	    .retention = FT_METRICS_RETENTION,
	};
}

struct ft_metrics *ft_metrics_new(const struct ft_metrics_cfg *cfg)
{
	struct ft_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cfg = *cfg;
	snprintf(m->pin_root, sizeof(m->pin_root), "%s",
		 cfg->pin_root ? cfg->pin_root : FT_PIN_ROOT);
	m->cfg.pin_root = m->pin_root;
	m->coll.attached = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->scrape_lock, NULL);
	return m;
}

static void mx_ident_release(struct mx_ident *id)
{
	free(id->prefix);
	free(id->drops);
}

void ft_metrics_free(struct ft_metrics *m)
{
	size_t i;

	if (!m)
		return;
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	for (i = 0; i < m->nids; i++)
		mx_ident_release(&m->ids[i]);
	free(m->ids);
	free(m->labels);
	free(m->known);
	free(m->tmo);
	free(m->other_gone_drops);
	free(m->rnames);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->scrape_lock);
	free(m);
}

/* ---------------------------------------------------------------------- */
/* Collector setters */

void ft_metrics_set_flows(struct ft_metrics *m, __u64 active, __u64 table_entries)
{
	pthread_mutex_lock(&m->lock);
	m->coll.flows_set = true;
	m->coll.flows_active = active;
	m->coll.table_entries = table_entries;
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_set_flows_ended(struct ft_metrics *m, const char *reason, __u64 total)
{
	struct mx_coll *c = &m->coll;
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < c->nended && strcmp(c->ended[i].reason, reason); i++)
		;
	if (i == c->nended && i < MX_MAX_REASONS)
		snprintf(c->ended[c->nended++].reason, sizeof(c->ended[i].reason), "%s", reason);
	if (i < c->nended)
		c->ended[i].total = total;
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_observe_drain(struct ft_metrics *m, double seconds)
{
	size_t b;

	for (b = 0; b < MX_DRAIN_BUCKETS && seconds > mx_drain_le[b]; b++)
		;
	pthread_mutex_lock(&m->lock);
	m->coll.drain_set = true;
	m->coll.drain_counts[b]++;
	m->coll.drain_sum += seconds;
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_set_capture(struct ft_metrics *m, __u64 packets, __u64 dropped)
{
	pthread_mutex_lock(&m->lock);
	m->coll.capture_set = true;
	m->coll.cap_packets = packets;
	m->coll.cap_dropped = dropped;
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_set_ringbuf_lost(struct ft_metrics *m, const char *ring, __u64 total)
{
	struct mx_coll *c = &m->coll;
	size_t i;

	if (!strcmp(ring, "http"))
		return; /* read from the maps */
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < c->nrings && strcmp(c->rings[i].name, ring); i++)
		;
	if (i == c->nrings && i < MX_MAX_RINGS)
		snprintf(c->rings[c->nrings++].name, sizeof(c->rings[i].name), "%s", ring);
	if (i < c->nrings)
		c->rings[i].lost = total;
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_set_attached(struct ft_metrics *m, unsigned int n)
{
	pthread_mutex_lock(&m->lock);
	m->coll.attached = n;
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_add_tcp_timeouts(struct ft_metrics *m, int ifindex, unsigned int dir, __u64 n)
{
	struct mx_timeout *e = NULL;
	size_t i;

	if (dir >= FT_DIR_MAX)
		return;
	pthread_mutex_lock(&m->lock);
	m->coll.timeouts_set = true;
	for (i = 0; i < m->ntmo && !e; i++)
		if (m->tmo[i].ifindex == ifindex)
			e = &m->tmo[i];
	if (!e && m->ntmo == m->captmo) {
		size_t cap = m->captmo ? m->captmo * 2 : 16;
		struct mx_timeout *p = realloc(m->tmo, cap * sizeof(*p));

		if (p) {
			m->tmo = p;
			m->captmo = cap;
		}
	}
	if (!e && m->ntmo < m->captmo) {
		e = &m->tmo[m->ntmo++];
		*e = (struct mx_timeout){.ifindex = ifindex};
	}
	if (e)
		e->n[dir] += n;
	pthread_mutex_unlock(&m->lock);
}

static double mx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Under m->lock: forgets labels of containers gone long ago. */
static void mx_labels_prune(struct ft_metrics *m, double now)
{
	size_t i, j = 0;

	for (i = 0; i < m->nlabels; i++) {
		const struct mx_label *e = &m->labels[i];

		if (e->gone_at && now - e->gone_at > m->cfg.retention + MX_LABEL_GRACE)
			continue;
		m->labels[j++] = *e;
	}
	m->nlabels = j;
}

static void mx_set_labels_locked(struct ft_metrics *m, int ifindex,
				 const struct ft_metrics_labels *l, double now)
{
	struct mx_label *e = NULL;
	size_t i;

	for (i = 0; i < m->nlabels && !e; i++)
		if (m->labels[i].ifindex == ifindex)
			e = &m->labels[i];
	if (!l) {
		if (e && !e->gone_at)
			e->gone_at = now;
		return;
	}
	if (!e) {
		if (m->nlabels == m->caplabels) {
			size_t cap = m->caplabels ? m->caplabels * 2 : 64;
			struct mx_label *p = realloc(m->labels, cap * sizeof(*p));

			if (!p)
				return;
			m->labels = p;
			m->caplabels = cap;
		}
		e = &m->labels[m->nlabels++];
		e->ifindex = ifindex;
	}
	e->gone_at = 0;
	e->l = *l;
}

void ft_metrics_set_labels(struct ft_metrics *m, int ifindex, const struct ft_metrics_labels *l)
{
	double now = mx_now();

	pthread_mutex_lock(&m->lock);
	mx_set_labels_locked(m, ifindex, l, now);
	mx_labels_prune(m, now);
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_refresh_labels(struct ft_metrics *m)
{
	struct ft_metrics_labels *got = NULL;
	bool *ok = NULL;
	int *known = NULL;
	size_t n, i;
	double now;

	if (!m->cfg.labels)
		return;
	pthread_mutex_lock(&m->lock);
	n = m->nknown;
	if (n && (known = malloc(n * sizeof(*known))))
		memcpy(known, m->known, n * sizeof(*known));
	pthread_mutex_unlock(&m->lock);
	if (!known)
		return;
	got = calloc(n, sizeof(*got));
	ok = calloc(n, sizeof(*ok));
	/* The provider runs outside the lock: a scrape never waits for it. */
	for (i = 0; got && ok && i < n; i++)
		ok[i] = m->cfg.labels(known[i], &got[i], m->cfg.labels_ctx);
	now = mx_now();
	pthread_mutex_lock(&m->lock);
	for (i = 0; got && ok && i < n; i++)
		mx_set_labels_locked(m, known[i], ok[i] ? &got[i] : NULL, now);
	mx_labels_prune(m, now);
	pthread_mutex_unlock(&m->lock);
	free(known);
	free(got);
	free(ok);
}

/* ---------------------------------------------------------------------- */
/* Interface state: updated from one scrape's input, no I/O */

static int mx_key_cmp(__u32 na, __u32 ia, __u32 nb, __u32 ib)
{
	if (na != nb)
		return na < nb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static int mx_ident_cmp(const void *a, const void *b)
{
	const struct mx_ident *x = a, *y = b;

	return mx_key_cmp(x->netns, x->ifindex, y->netns, y->ifindex);
}

/* ids[0, nsorted) is sorted; entries added during this scrape follow. */
static long mx_find(const struct ft_metrics *m, size_t nsorted, __u32 netns, __u32 ifindex)
{
	size_t lo = 0, hi = nsorted, i;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = mx_key_cmp(netns, ifindex, m->ids[mid].netns, m->ids[mid].ifindex);

		if (!c)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	for (i = nsorted; i < m->nids; i++)
		if (m->ids[i].netns == netns && m->ids[i].ifindex == ifindex)
			return i;
	return -1;
}

static struct mx_ident *mx_get(struct ft_metrics *m, size_t nsorted, __u32 netns, __u32 ifindex)
{
	long i = mx_find(m, nsorted, netns, ifindex);
	struct mx_ident *id;

	if (i >= 0)
		return &m->ids[i];
	if (m->nids == m->capids) {
		size_t cap = m->capids ? m->capids * 2 : 64;
		struct mx_ident *p = realloc(m->ids, cap * sizeof(*p));

		if (!p)
			return NULL;
		m->ids = p;
		m->capids = cap;
	}
	id = &m->ids[m->nids++];
	memset(id, 0, sizeof(*id));
	id->netns = netns;
	id->ifindex = ifindex;
	return id;
}

static int mx_drop_add(struct mx_drop **v, size_t *n, size_t *cap, __u16 reason, __u64 packets)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i].reason == reason) {
			(*v)[i].packets += packets;
			return 0;
		}
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct mx_drop *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = (struct mx_drop){reason, packets};
	return 0;
}

static void mx_stats_add(struct ft_if_stats *to, const struct ft_if_stats *s)
{
	const size_t words = sizeof(*s) / sizeof(__u64);
	const __u64 *a = (const __u64 *)s;
	__u64 *b = (__u64 *)to;
	size_t w;

	for (w = 0; w < words; w++)
		b[w] += a[w];
}

static int mx_drop_total_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct ft_drop_total *)a)->key,
		      &((const struct ft_drop_total *)b)->key, sizeof(struct ft_drop_key));
}

static int mx_take_drops(struct ft_metrics *m, size_t nsorted, const struct ft_metrics_input *in)
{
	struct ft_drop_total *d;
	size_t i;

	if (!in->ndrops)
		return 0;
	/* Key iteration can return a key twice when entries go meanwhile:
	 * sort, and count each key once. */
	d = malloc(in->ndrops * sizeof(*d));
	if (!d)
		return -ENOMEM;
	memcpy(d, in->drops, in->ndrops * sizeof(*d));
	qsort(d, in->ndrops, sizeof(*d), mx_drop_total_cmp);
	for (i = 0; i < in->ndrops; i++) {
		const struct ft_drop_key *k = &d[i].key;
		struct mx_ident *id;

		if (i && !memcmp(k, &d[i - 1].key, sizeof(*k)))
			continue;
		id = mx_get(m, nsorted, k->ifindex ? k->netns : 0, k->ifindex);
		if (!id)
			break;
		if (id->drops_gen != m->gen) {
			id->drops_gen = m->gen;
			id->ndrops = 0;
		}
		id->seen = true;
		if (mx_drop_add(&id->drops, &id->ndrops, &id->capdrops, k->reason, d[i].c.packets))
			break;
	}
	free(d);
	return i < in->ndrops ? -ENOMEM : 0;
}

/* Reads the input into the table: last values of every interface seen. */
static int mx_take(struct ft_metrics *m, const struct ft_metrics_input *in)
{
	size_t nsorted = m->nids, i;

	m->gen++;
	for (i = 0; i < m->nids; i++)
		m->ids[i].seen = false;
	for (i = 0; i < in->nifs; i++) {
		const struct ft_if_totals *t = &in->ifs[i];
		struct mx_ident *id;

		if (t->dir >= FT_DIR_MAX)
			continue;
		id = mx_get(m, nsorted, in->self_netns, t->ifindex);
		if (!id)
			return -ENOMEM;
		id->seen = true;
		id->has_if[t->dir] = true;
		id->s[t->dir] = t->s;
	}
	if (in->drops_available && mx_take_drops(m, nsorted, in))
		return -ENOMEM;
	if (m->nids > 1)
		qsort(m->ids, m->nids, sizeof(*m->ids), mx_ident_cmp);
	return 0;
}

static const struct mx_label *mx_label_for(const struct mx_ident *id, __u32 self,
					   const struct mx_label *labs, size_t n)
{
	const struct mx_label *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct mx_label *e = &labs[i];
		bool match = id->netns == self ? (__u32)e->ifindex == id->ifindex
					       : id->ifindex && e->l.netns_ino == id->netns;

		/* A namespace may have several veths: a live one wins. */
		if (match && (!best || (best->gone_at && !e->gone_at)))
			best = e;
	}
	return best;
}

static bool mx_link_exists(const struct if_nameindex *links, __u32 ifindex, const char **name)
{
	const struct if_nameindex *l;

	for (l = links; l && l->if_index; l++)
		if (l->if_index == ifindex) {
			*name = l->if_name;
			return true;
		}
	return false;
}

static int mx_prefix_build(struct mx_ident *id)
{
	const struct ft_metrics_labels *l = &id->lab;
	const char *keys[] = {"interface", "container", "pod",
			      "namespace", "runtime",	"container_id"};
	const char *vals[] = {id->name,		l->container, l->pod,
			      l->pod_namespace, l->runtime,   l->container_id};
	struct mx_out o = {0};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (i && (!id->has_labels || !*vals[i]))
			continue;
		if (o.len)
			mx_puts(&o, ",");
		mx_puts(&o, keys[i]);
		mx_puts(&o, "=\"");
		mx_escaped(&o, vals[i], true);
		mx_puts(&o, "\"");
	}
	if (o.oom) {
		free(o.p);
		return -ENOMEM;
	}
	free(id->prefix);
	id->prefix = o.p;
	id->plen = o.len;
	return 0;
}

/* Name and labels of an interface; the prefix is rebuilt when they change. */
static bool mx_describe(struct mx_ident *id, const struct ft_metrics_input *in,
			const struct mx_label *lab)
{
	char name[MX_NAME_MAX];
	const char *ln;
	bool exists = true, changed;

	if (!id->ifindex) /* a drop without a device, or FT_IFINDEX_OTHER's counters */
		snprintf(name, sizeof(name), "%s", id->netns ? "unattributed" : "none");
	else if (id->netns != in->self_netns)
		snprintf(name, sizeof(name), "netns:%u/if%u", id->netns, id->ifindex);
	else if ((exists = mx_link_exists(in->links, id->ifindex, &ln)))
		snprintf(name, sizeof(name), "%s", ln);
	else if (id->name[0])
		snprintf(name, sizeof(name), "%s", id->name); /* gone: its last name */
	else
		snprintf(name, sizeof(name), "if%u", id->ifindex);
	changed = !id->prefix || strcmp(name, id->name);
	if (lab && (!id->has_labels || memcmp(&lab->l, &id->lab, sizeof(lab->l)))) {
		id->lab = lab->l;
		id->has_labels = changed = true;
	}
	strcpy(id->name, name);
	if (changed)
		mx_prefix_build(id);
	return exists;
}

/* A folded label set leaves "other": what it counted so far stays there,
 * so "other" never goes down. */
static void mx_unfold(struct ft_metrics *m, struct mx_ident *id)
{
	size_t d, i;

	for (d = 0; d < FT_DIR_MAX; d++) {
		if (id->has_if[d]) {
			mx_stats_add(&m->other_gone[d], &id->s[d]);
			m->other_gone_if[d] = true;
		}
		m->other_gone_tmo[d] += id->tmo[d];
	}
	for (i = 0; i < id->ndrops; i++)
		mx_drop_add(&m->other_gone_drops, &m->nother_gone_drops, &m->capother_gone_drops,
			    id->drops[i].reason, id->drops[i].packets);
}

/* Past the retention: the series go; what they counted stays in "other"
 * (folded interfaces) and in the ring loss total. */
static void mx_hide(struct ft_metrics *m, struct mx_ident *id)
{
	size_t d;

	id->hidden = true;
	for (d = 0; d < FT_DIR_MAX; d++)
		if (id->has_if[d])
			m->http_lost_gone += id->s[d].http_samples_lost;
	if (id->slot == MX_SLOT_FOLDED)
		mx_unfold(m, id);
	id->slot = MX_SLOT_NEW;
}

static void mx_lifecycle(struct ft_metrics *m, struct mx_ident *id, bool gone, double now)
{
	if (!gone) {
		id->gone_at = 0;
		if (id->hidden) /* back (an ifindex reused): a new label set */
			id->hidden = false;
		return;
	}
	if (!id->gone_at)
		id->gone_at = now;
	if (!id->hidden && now - id->gone_at >= m->cfg.retention)
		mx_hide(m, id);
	/* Hidden and no longer in the maps: nothing left to remember. */
	id->dead = id->hidden && !id->seen;
}

/* Attached interfaces of our namespace come first; then devices known only
 * from kernel drops (other namespaces, unattached devices). */
static bool mx_first_class(const struct mx_ident *id, __u32 self)
{
	return id->netns == self && (id->has_if[FT_DIR_INGRESS] || id->has_if[FT_DIR_EGRESS]);
}

/*
 * Label sets get series of their own while there is room, first class
 * first, each class in the order of its keys; the rest fold into "other"
 * until label sets that go make room. An exported label set is never
 * folded.
 */
static void mx_admit(struct ft_metrics *m, __u32 self)
{
	size_t i, pass, exported = 0;

	for (i = 0; i < m->nids; i++)
		exported += !m->ids[i].hidden && m->ids[i].slot == MX_SLOT_EXPORTED;
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < m->nids; i++) {
			struct mx_ident *id = &m->ids[i];

			if (id->hidden || id->slot == MX_SLOT_EXPORTED ||
			    mx_first_class(id, self) != !pass)
				continue;
			if (exported < m->cfg.max_ifaces) {
				if (id->slot == MX_SLOT_FOLDED)
					mx_unfold(m, id);
				id->slot = MX_SLOT_EXPORTED;
				exported++;
			} else if (id->slot == MX_SLOT_NEW) {
				id->slot = MX_SLOT_FOLDED;
				m->folded_total++;
			}
		}
}

static void mx_compact(struct ft_metrics *m)
{
	size_t i, j = 0;

	for (i = 0; i < m->nids; i++) {
		if (m->ids[i].dead) {
			mx_ident_release(&m->ids[i]);
			continue;
		}
		m->ids[j++] = m->ids[i];
	}
	m->nids = j;
}

static int mx_update(struct ft_metrics *m, const struct ft_metrics_input *in,
		     const struct mx_snap *sn, double now)
{
	size_t i;
	int err = mx_take(m, in);

	if (err)
		return err;
	for (i = 0; i < sn->ntmo; i++) {
		long k = mx_find(m, m->nids, in->self_netns, sn->tmo[i].ifindex);

		if (k >= 0)
			memcpy(m->ids[k].tmo, sn->tmo[i].n, sizeof(m->ids[k].tmo));
	}
	for (i = 0; i < m->nids; i++) {
		struct mx_ident *id = &m->ids[i];
		const struct mx_label *lab = mx_label_for(id, in->self_netns, sn->labs, sn->nlabs);
		bool exists = mx_describe(id, in, lab);
		/* Labels once known but since forgotten: the container went. */
		bool gone = !id->seen || !exists || (lab ? lab->gone_at != 0 : id->has_labels);

		mx_lifecycle(m, id, gone, now);
	}
	mx_compact(m);
	mx_admit(m, in->self_netns);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Rendering */

/* The series of one label set: an exported interface, or "other". */
struct mx_row {
	struct mx_lbl l;
	const struct ft_if_stats *s[FT_DIR_MAX]; /* NULL: no counters that way */
	__u64 tmo[FT_DIR_MAX];
	const struct mx_drop *drops;
	size_t ndrops;
};

struct mx_rows {
	struct mx_row *v;
	size_t n;
	struct ft_if_stats other[FT_DIR_MAX];
	__u64 other_tmo[FT_DIR_MAX];
	struct mx_drop *other_drops;
	size_t nother_drops, capother_drops;
};

static const char *mx_reason(struct ft_metrics *m, __u16 reason)
{
	struct mx_reason_name *r;
	size_t i;

	for (i = 0; i < m->nrnames; i++)
		if (m->rnames[i].reason == reason)
			return m->rnames[i].name;
	if (m->nrnames == m->caprnames) {
		size_t cap = m->caprnames ? m->caprnames * 2 : 16;
		struct mx_reason_name *p = realloc(m->rnames, cap * sizeof(*p));

		if (!p)
			return "unknown";
		m->rnames = p;
		m->caprnames = cap;
	}
	r = &m->rnames[m->nrnames++];
	r->reason = reason;
	ft_drop_reason_name(reason, r->name, sizeof(r->name));
	return r->name;
}

static int mx_rows_build(struct ft_metrics *m, struct mx_rows *r)
{
	static const char other[] = "interface=\"other\"";
	bool any_other = m->nother_gone_drops > 0;
	size_t i, d;

	memset(r, 0, sizeof(*r));
	r->v = calloc(m->nids + 1, sizeof(*r->v));
	if (!r->v)
		return -ENOMEM;
	for (d = 0; d < FT_DIR_MAX; d++) {
		r->other[d] = m->other_gone[d];
		r->other_tmo[d] = m->other_gone_tmo[d];
		any_other |= m->other_gone_if[d];
	}
	for (i = 0; i < m->nids; i++) {
		const struct mx_ident *id = &m->ids[i];
		struct mx_row *row = &r->v[r->n];

		if (id->hidden || !id->prefix)
			continue;
		if (id->slot == MX_SLOT_FOLDED) {
			any_other = true;
			for (d = 0; d < FT_DIR_MAX; d++) {
				if (id->has_if[d])
					mx_stats_add(&r->other[d], &id->s[d]);
				r->other_tmo[d] += id->tmo[d];
			}
			for (d = 0; d < id->ndrops; d++)
				if (mx_drop_add(&r->other_drops, &r->nother_drops,
						&r->capother_drops, id->drops[d].reason,
						id->drops[d].packets))
					return -ENOMEM;
			continue;
		}
		row->l = (struct mx_lbl){.prefix = id->prefix, .plen = id->plen};
		for (d = 0; d < FT_DIR_MAX; d++) {
			row->s[d] = id->has_if[d] ? &id->s[d] : NULL;
			row->tmo[d] = id->tmo[d];
		}
		row->drops = id->drops;
		row->ndrops = id->ndrops;
		r->n++;
	}
	if (!any_other)
		return 0;
	for (i = 0; i < m->nother_gone_drops; i++)
		if (mx_drop_add(&r->other_drops, &r->nother_drops, &r->capother_drops,
				m->other_gone_drops[i].reason, m->other_gone_drops[i].packets))
			return -ENOMEM;
	r->v[r->n] = (struct mx_row){
	    .l = {other, sizeof(other) - 1}, .drops = r->other_drops, .ndrops = r->nother_drops};
	for (d = 0; d < FT_DIR_MAX; d++) {
		r->v[r->n].s[d] = &r->other[d];
		r->v[r->n].tmo[d] = r->other_tmo[d];
	}
	r->n++;
	return 0;
}

static void mx_rows_free(struct mx_rows *r)
{
	free(r->v);
	free(r->other_drops);
}

static void mx_traffic(struct mx_out *o, const struct mx_rows *r, bool bytes)
{
	const char *name = bytes ? "flowtap_bytes_total" : "flowtap_packets_total";
	size_t i, d, c;

	mx_family(o, name, "counter",
		  bytes
		      ? "Bytes seen by the datapath, by interface, direction and traffic class."
		      : "Packets seen by the datapath, by interface, direction and traffic class; "
			"a packet is in every class it belongs to (ipv4 and tcp and http).");
	for (i = 0; i < r->n; i++)
		for (d = 0; d < FT_DIR_MAX; d++) {
			struct mx_lbl l = r->v[i].l;

			if (!r->v[i].s[d])
				continue;
			l.k1 = "direction";
			l.v1 = ft_dir_name(d);
			l.k2 = "class";
			for (c = 0; c < FT_CLASS_MAX; c++) {
				const struct ft_counter *k = &r->v[i].s[d]->cls[c];

				l.v2 = ft_class_name(c);
				mx_sample_u64(o, name, &l, bytes ? k->bytes : k->packets);
			}
		}
}

/* Counters of an enum with a name per value; only values seen are shown. */
static void mx_by_enum(struct mx_out *o, const struct mx_rows *r, const char *name,
		       const char *help, const char *key, bool http)
{
	size_t i, d, e, n = http ? FT_HTTP_MAX : FT_MAL_MAX;

	mx_family(o, name, "counter", help);
	for (i = 0; i < r->n; i++)
		for (d = 0; d < FT_DIR_MAX; d++) {
			const struct ft_if_stats *s = r->v[i].s[d];
			struct mx_lbl l = r->v[i].l;

			if (!s)
				continue;
			l.k1 = "direction";
			l.v1 = ft_dir_name(d);
			l.k2 = key;
			for (e = 1; e < n; e++) {
				__u64 v = http ? s->http[e].packets : s->malformed[e].packets;

				if (!v)
					continue;
				l.v2 = http ? ft_method_name(e) : ft_reason_name(e);
				mx_sample_u64(o, name, &l, v);
			}
		}
}

/* A per-direction counter of ft_if_stats at a byte offset. */
static void mx_if_counter(struct mx_out *o, const struct mx_rows *r, const char *name,
			  const char *help, size_t off, bool seen_only)
{
	size_t i, d;

	mx_family(o, name, "counter", help);
	for (i = 0; i < r->n; i++)
		for (d = 0; d < FT_DIR_MAX; d++) {
			struct mx_lbl l = r->v[i].l;
			__u64 v;

			if (!r->v[i].s[d])
				continue;
			v = *(const __u64 *)((const char *)r->v[i].s[d] + off);
			if (seen_only && !v)
				continue;
			l.k1 = "direction";
			l.v1 = ft_dir_name(d);
			mx_sample_u64(o, name, &l, v);
		}
}

static void mx_handshakes(struct mx_out *o, const struct mx_rows *r)
{
	static const char name[] = "flowtap_tcp_handshake_seconds";
	double le[FT_HS_BUCKETS - 1];
	size_t i, d, b;

	for (b = 0; b + 1 < FT_HS_BUCKETS; b++)
		le[b] = ft_metrics_hs_le(b);
	mx_family(o, name, "histogram",
		  "TCP handshake latency (SYN to SYN-ACK, or to the final ACK where the SYN-ACK is "
		  "not seen), by interface.");
	for (i = 0; i < r->n; i++) {
		__u64 counts[FT_HS_BUCKETS] = {0};
		double sum_us = 0;
		bool any = false;

		for (d = 0; d < FT_DIR_MAX; d++) {
			const struct ft_if_stats *s = r->v[i].s[d];

			if (!s)
				continue;
			for (b = 0; b < FT_HS_BUCKETS; b++) {
				counts[b] += s->tcp_handshake_hist[b];
				any |= s->tcp_handshake_hist[b] != 0;
			}
			sum_us += s->tcp_handshake_sum_us;
		}
		if (any)
			mx_histogram(o, name, &r->v[i].l, counts, le, FT_HS_BUCKETS - 1,
				     sum_us / 1e6);
	}
}

#define MX_OFF(f) offsetof(struct ft_if_stats, f)

/* Refused from the datapath; timeouts from the collector, when it runs. */
static void mx_conn_failures(struct mx_out *o, const struct mx_rows *r, bool timeouts)
{
	static const char name[] = "flowtap_tcp_connection_failures_total";
	size_t i, d;

	mx_family(
	    o, name, "counter",
	    "TCP connection attempts that failed: refused (a RST answered the SYN; direction "
	    "of the RST), timeout (no SYN-ACK, found by the collector; direction of the SYN).");
	for (i = 0; i < r->n; i++)
		for (d = 0; d < FT_DIR_MAX; d++) {
			struct mx_lbl l = r->v[i].l;

			if (!r->v[i].s[d])
				continue;
			l.k1 = "direction";
			l.v1 = ft_dir_name(d);
			l.k2 = "reason";
			l.v2 = "refused";
			mx_sample_u64(o, name, &l, r->v[i].s[d]->tcp_conn_refused);
			l.v2 = "timeout";
			if (timeouts)
				mx_sample_u64(o, name, &l, r->v[i].tmo[d]);
		}
}

static void mx_tcp(struct mx_out *o, const struct mx_rows *r, bool timeouts)
{
	mx_handshakes(o, r);
	mx_conn_failures(o, r, timeouts);
	mx_if_counter(o, r, "flowtap_tcp_syn_retransmits_total", "Repeated SYNs of a handshake.",
		      MX_OFF(tcp_syn_retries), false);
	mx_if_counter(o, r, "flowtap_tcp_retransmits_total",
		      "TCP segments at or below the highest sequence number seen for their flow "
		      "and direction (retransmission hints).",
		      MX_OFF(tcp_retransmits), false);
	mx_if_counter(o, r, "flowtap_tcp_resets_total", "TCP segments with RST.",
		      MX_OFF(tcp_resets), false);
	mx_if_counter(o, r, "flowtap_tcp_handshakes_untracked_total",
		      "SYNs whose handshake was not timed: the handshake table was full.",
		      MX_OFF(tcp_hs_overflow), false);
}

static void mx_drops(struct ft_metrics *m, struct mx_out *o, const struct mx_rows *r)
{
	static const char name[] = "flowtap_kernel_drops_total";
	size_t i, j;

	mx_family(
	    o, name, "counter",
	    "Packets the kernel dropped (skb:kfree_skb), by device and drop reason. Devices of "
	    "other network namespaces are netns:<inode>/if<ifindex>; none: no device.");
	for (i = 0; i < r->n; i++)
		for (j = 0; j < r->v[i].ndrops; j++) {
			struct mx_lbl l = r->v[i].l;

			l.k1 = "reason";
			l.v1 = mx_reason(m, r->v[i].drops[j].reason);
			mx_sample_u64(o, name, &l, r->v[i].drops[j].packets);
		}
}

static void mx_ringbuf(struct ft_metrics *m, struct mx_out *o, const struct mx_coll *c)
{
	static const char name[] = "flowtap_ringbuf_lost_total";
	__u64 http = m->http_lost_gone;
	struct mx_lbl l = {.k1 = "ring"};
	size_t i, d;

	for (i = 0; i < m->nids; i++)
		for (d = 0; d < FT_DIR_MAX; d++)
			if (!m->ids[i].hidden && m->ids[i].has_if[d])
				http += m->ids[i].s[d].http_samples_lost;
	mx_family(o, name, "counter", "Events a full ring buffer had no room for, by ring.");
	l.v1 = "http";
	mx_sample_u64(o, name, &l, http);
	for (i = 0; i < c->nrings; i++) {
		l.v1 = c->rings[i].name;
		mx_sample_u64(o, name, &l, c->rings[i].lost);
	}
}

static void mx_flows(struct mx_out *o, const struct mx_coll *c, const struct ft_metrics_input *in)
{
	static const char ended[] = "flowtap_flows_ended_total";
	long long entries = c->flows_set ? (long long)c->table_entries : in->flow_entries;
	size_t i;

	if (c->flows_set) {
		mx_single(o, "flowtap_flows_active", "gauge",
			  "Flows the collector tracks (seen and not ended).", c->flows_active);
		mx_family(o, ended, "counter", "Flows the collector ended, by IPFIX end reason.");
		for (i = 0; i < c->nended; i++) {
			struct mx_lbl l = {.k1 = "reason", .v1 = c->ended[i].reason};

			mx_sample_u64(o, ended, &l, c->ended[i].total);
		}
	}
	if (entries >= 0)
		mx_single(o, "flowtap_flow_table_entries", "gauge",
			  "Entries in the datapath's flow table.", entries);
	if (in->flow_capacity)
		mx_single(o, "flowtap_flow_table_capacity", "gauge",
			  "Size of the datapath's flow table.", in->flow_capacity);
}

static void mx_collector(struct mx_out *o, const struct mx_coll *c)
{
	if (c->dedup_set) {
		mx_single(
		    o, "flowtap_dedup_packets_total", "counter",
		    "Flow packets with each packet counted once, at its best observation point "
		    "(container side first), over all interfaces.",
		    c->dedup_packets);
		mx_single(
		    o, "flowtap_dedup_bytes_total", "counter",
		    "Flow bytes with each packet counted once, as flowtap_dedup_packets_total.",
		    c->dedup_bytes);
	}
	if (c->capture_set) {
		mx_single(o, "flowtap_capture_packets_total", "counter",
			  "Packets the capture wrote.", c->cap_packets);
		mx_single(o, "flowtap_capture_dropped_total", "counter",
			  "Packets the capture matched but could not write (ring buffer full).",
			  c->cap_dropped);
	}
	if (c->drain_set) {
		mx_family(o, "flowtap_drain_duration_seconds", "histogram",
			  "Time a drain of the flow table took.");
		mx_histogram(o, "flowtap_drain_duration_seconds", NULL, c->drain_counts,
			     mx_drain_le, MX_DRAIN_BUCKETS, c->drain_sum);
	}
}

static void mx_self(struct ft_metrics *m, struct mx_out *o)
{
	static const char name[] = "flowtap_metrics_interfaces";
	size_t n[3] = {0}, i;
	struct mx_lbl l = {.k1 = "state"};

	for (i = 0; i < m->nids; i++) {
		const struct mx_ident *id = &m->ids[i];

		if (!id->hidden)
			n[id->gone_at ? 2 : id->slot == MX_SLOT_FOLDED ? 1 : 0]++;
	}
	mx_family(o, name, "gauge",
		  "Interface label sets: exported, folded into interface=\"other\" by the cap, "
		  "gone (kept for the retention time).");
	l.v1 = "exported";
	mx_sample_u64(o, name, &l, n[0]);
	l.v1 = "folded";
	mx_sample_u64(o, name, &l, n[1]);
	l.v1 = "gone";
	mx_sample_u64(o, name, &l, n[2]);
	mx_single(o, "flowtap_metrics_interfaces_max", "gauge",
		  "Interface label sets exported before the rest fold into interface=\"other\".",
		  m->cfg.max_ifaces);
	mx_single(o, "flowtap_metrics_interfaces_folded_total", "counter",
		  "Interface label sets folded into interface=\"other\" by the cap.",
		  m->folded_total);
	mx_single(o, "flowtap_metrics_scrape_duration_seconds", "gauge",
		  "Time the previous scrape took to read the maps and render.", m->last_scrape_s);
}

/* The usual process_* metrics of an exporter, from /proc. */
static void mx_process(struct mx_out *o)
{
	unsigned long long utime = 0, stime = 0, start = 0, vsize = 0, btime = 0;
	long long rss = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char buf[1024], *p;
	struct rlimit rl;
	struct dirent *de;
	size_t n = 0;
	FILE *f;
	DIR *d;

	f = fopen("/proc/self/stat", "r");
	if (!f)
		return;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* After "pid (comm)": state is field 3, utime 14, stime 15, starttime
	 * 22, vsize 23, rss 24. */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
			 "%*d %*d %llu %llu %lld",
			 &utime, &stime, &start, &vsize, &rss) != 5)
		return;
	f = fopen("/proc/stat", "r");
	while (f && fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	if (f)
		fclose(f);
	mx_single(o, "process_cpu_seconds_total", "counter",
		  "User and system CPU time spent in seconds.", (double)(utime + stime) / tck);
	mx_single(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
		  (double)rss * page);
	mx_single(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		  vsize);
	mx_single(o, "process_start_time_seconds", "gauge",
		  "Start time of the process since unix epoch in seconds.",
		  btime + (double)start / tck);
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d) {
		closedir(d);
		mx_single(o, "process_open_fds", "gauge", "Number of open file descriptors.",
			  n - 1);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		mx_single(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
			  rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
}

static void mx_info(struct mx_out *o, const struct ft_metrics_input *in, const struct mx_coll *c)
{
	static const char name[] = "flowtap_build_info";
	struct mx_lbl l = {.k1 = "version", .v1 = FLOWTAP_VERSION};
	long long attached = c->attached >= 0 ? c->attached : in->attached;

	mx_family(o, name, "gauge", "Always 1; the version of flowtap in a label.");
	mx_sample_u64(o, name, &l, 1);
	mx_single(o, "flowtap_datapath_loaded", "gauge",
		  "1 when the datapath's pinned maps could be read at this scrape.", in->datapath);
	if (attached >= 0)
		mx_single(o, "flowtap_attached_interfaces", "gauge",
			  "Interfaces flowtap's programs are attached to.", attached);
}

static void mx_families(struct ft_metrics *m, struct mx_out *o, const struct ft_metrics_input *in,
			const struct mx_coll *c, const struct mx_rows *r)
{
	mx_info(o, in, c);
	mx_traffic(o, r, false);
	mx_traffic(o, r, true);
	mx_by_enum(o, r, "flowtap_malformed_packets_total",
		   "Packets that could not be parsed to the end, by reason (only reasons seen).",
		   "reason", false);
	mx_by_enum(o, r, "flowtap_http_requests_total",
		   "HTTP/1.x request lines seen, by method (only methods seen).", "method", true);
	mx_if_counter(o, r, "flowtap_flow_table_overflow_total",
		      "Packets counted in their classes but missing from the full flow table.",
		      MX_OFF(flow_overflow), false);
	mx_if_counter(o, r, "flowtap_capture_examined_packets_total",
		      "Packets handed to the capture filters of running captures (only interfaces "
		      "with some).",
		      MX_OFF(capture_calls), true);
	mx_ringbuf(m, o, c);
	mx_tcp(o, r, c->timeouts_set);
	if (in->drops_available)
		mx_drops(m, o, r);
	mx_flows(o, c, in);
	mx_collector(o, c);
	mx_self(m, o);
	mx_process(o);
	if (o->om)
		mx_puts(o, "# EOF\n");
}

static void mx_snap_free(struct mx_snap *sn)
{
	free(sn->labs);
	free(sn->tmo);
}

/* Labels the collector pushed, and its values: copied, so the collector
 * never waits for the rest of a scrape. */
static int mx_snapshot(struct ft_metrics *m, struct mx_snap *sn)
{
	int err = 0;

	pthread_mutex_lock(&m->lock);
	sn->c = m->coll;
	sn->nlabs = m->nlabels;
	sn->ntmo = m->ntmo;
	sn->labs = malloc((m->nlabels ? m->nlabels : 1) * sizeof(*sn->labs));
	sn->tmo = malloc((m->ntmo ? m->ntmo : 1) * sizeof(*sn->tmo));
	if (!sn->labs || !sn->tmo)
		err = -ENOMEM;
	if (!err && m->nlabels)
		memcpy(sn->labs, m->labels, m->nlabels * sizeof(*sn->labs));
	if (!err && m->ntmo)
		memcpy(sn->tmo, m->tmo, m->ntmo * sizeof(*sn->tmo));
	pthread_mutex_unlock(&m->lock);
	return err;
}

/* For ft_metrics_refresh_labels(): the interfaces of our namespace. Also
 * forgets handshake timeouts of interfaces that left the table. */
static void mx_publish_known(struct ft_metrics *m, __u32 self)
{
	int *k = malloc((m->nids ? m->nids : 1) * sizeof(*k));
	size_t i, j = 0, n = 0;

	if (!k)
		return;
	for (i = 0; i < m->nids; i++)
		if (m->ids[i].netns == self && m->ids[i].ifindex && !m->ids[i].hidden)
			k[n++] = m->ids[i].ifindex;
	pthread_mutex_lock(&m->lock);
	free(m->known);
	m->known = k;
	m->nknown = n;
	for (i = 0; i < m->ntmo; i++)
		if (mx_find(m, m->nids, self, m->tmo[i].ifindex) >= 0)
			m->tmo[j++] = m->tmo[i];
	m->ntmo = j;
	pthread_mutex_unlock(&m->lock);
}

/* With scrape_lock held. */
static int mx_render_locked(struct ft_metrics *m, const struct ft_metrics_input *in, double now,
			    enum ft_metrics_format fmt, char **out, size_t *len)
{
	struct mx_out o = {.om = fmt == FT_METRICS_OPENMETRICS};
	struct mx_snap sn = {0};
	struct mx_rows rows;
	int err;

	err = mx_snapshot(m, &sn);
	if (!err)
		err = mx_update(m, in, &sn, now);
	if (err) {
		mx_snap_free(&sn);
		return err;
	}
	mx_publish_known(m, in->self_netns);
	err = mx_rows_build(m, &rows);
	if (!err)
		mx_families(m, &o, in, &sn.c, &rows);
	mx_rows_free(&rows);
	mx_snap_free(&sn);
	if (!err && o.oom)
		err = -ENOMEM;
	if (err) {
		free(o.p);
		return err;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}

int ft_metrics_render(struct ft_metrics *m, const struct ft_metrics_input *in, double now,
		      enum ft_metrics_format fmt, char **out, size_t *len)
{
	int err;

	pthread_mutex_lock(&m->scrape_lock);
	err = mx_render_locked(m, in, now, fmt, out, len);
	pthread_mutex_unlock(&m->scrape_lock);
	return err;
}

/* ---------------------------------------------------------------------- */
/* Gathering: the pinned maps, the links, our namespace */

struct mx_gathered {
	struct ft_if_totals *ifs;
	struct ft_drop_total *drops;
	struct if_nameindex *links;
};

/* A pinned map with the layout this binary knows; -1 otherwise (an older
 * flowtap's pins would be read out of bounds). */
static int mx_map_open(const char *root, const char *name, __u32 ksz, __u32 vsz, __u32 *max)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int fd = ft_map_fd(root, name);

	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size != ksz ||
	    info.value_size != vsz) {
		pr_debug("metrics: %s: unexpected layout, not read\n", name);
		close(fd);
		return -1;
	}
	if (max)
		*max = info.max_entries;
	return fd;
}

static long long mx_count_keys(int fd)
{
	struct ft_flow_key k[2];
	long long n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &k[n & 1])) {
		prev = &k[n & 1];
		n++;
	}
	return n;
}

/* Interface counters: the hash ft_ifstats merged with the array slots of
 * attached interfaces. */
static void mx_read_ifs(struct ft_metrics *m, struct ft_metrics_input *in, struct mx_gathered *g)
{
	const __u32 vsz = sizeof(struct ft_if_stats);
	int hash = mx_map_open(m->pin_root, "ft_ifstats", sizeof(struct ft_if_key), vsz, NULL);
	int owner = mx_map_open(m->pin_root, "ft_ifslot", sizeof(__u32), sizeof(__u32), NULL);
	int slots = mx_map_open(m->pin_root, "ft_ifstats_slots", sizeof(__u32), vsz, NULL);

	if (hash >= 0 && !ft_read_if_totals_fds(hash, owner, slots, &g->ifs, &in->nifs)) {
		in->datapath = true;
		in->ifs = g->ifs;
	}
	if (hash >= 0)
		close(hash);
	if (owner >= 0)
		close(owner);
	if (slots >= 0)
		close(slots);
}

/*
 * Attached interfaces, when no collector tells: ft_status() costs a link
 * dump per link (quadratic: 8 s for 1000 links), so it runs only in small
 * namespaces, and at most every MX_ATTACHED_TTL seconds.
 */
static long long mx_attached(struct ft_metrics *m, const struct if_nameindex *links)
{
	const struct if_nameindex *l;
	struct ft_attachment *a;
	size_t nlinks = 0, n;
	double now = mx_now();

	for (l = links; l && l->if_index; l++)
		nlinks++;
	if (nlinks > MX_ATTACHED_MAX_LINKS)
		return -1;
	if (m->attached_at && now - m->attached_at < MX_ATTACHED_TTL)
		return m->attached;
	if (ft_status(&a, &n))
		return -1;
	free(a);
	m->attached = n;
	m->attached_at = now;
	return n;
}

static void mx_gather(struct ft_metrics *m, struct ft_metrics_input *in, struct mx_gathered *g)
{
	bool flows_set, attached_set;
	struct stat st;
	__u32 max = 0;
	int fd;

	pthread_mutex_lock(&m->lock);
	flows_set = m->coll.flows_set;
	attached_set = m->coll.attached >= 0;
	pthread_mutex_unlock(&m->lock);

	*in = (struct ft_metrics_input){.flow_entries = -1, .attached = -1};
	mx_read_ifs(m, in, g);
	fd = mx_map_open(m->pin_root, "ft_drops", sizeof(struct ft_drop_key),
			 sizeof(struct ft_counter), NULL);
	if (fd >= 0 && !ft_read_drops(fd, &g->drops, &in->ndrops)) {
		in->drops_available = true;
		in->drops = g->drops;
	}
	if (fd >= 0)
		close(fd);
	fd = mx_map_open(m->pin_root, "ft_flows", sizeof(struct ft_flow_key),
			 sizeof(struct ft_flow_val), &max);
	if (fd >= 0) {
		in->flow_capacity = max;
		/* Without a collector, count: at most max_entries syscalls. */
		if (!flows_set)
			in->flow_entries = mx_count_keys(fd);
		close(fd);
	}
	if (!stat("/proc/self/ns/net", &st))
		in->self_netns = st.st_ino;
	g->links = if_nameindex();
	in->links = g->links;
	if (!attached_set && in->datapath)
		in->attached = mx_attached(m, g->links);
}

static void mx_gathered_free(struct mx_gathered *g)
{
	free(g->ifs);
	free(g->drops);
	if (g->links)
		if_freenameindex(g->links);
}

int ft_metrics_scrape(struct ft_metrics *m, enum ft_metrics_format fmt, char **out, size_t *len)
{
	struct ft_metrics_input in;
	struct mx_gathered g = {0};
	double t0;
	int err;

	pthread_mutex_lock(&m->scrape_lock);
	t0 = mx_now();
	mx_gather(m, &in, &g);
	err = mx_render_locked(m, &in, mx_now(), fmt, out, len);
	m->last_scrape_s = mx_now() - t0;
	pthread_mutex_unlock(&m->scrape_lock);
	mx_gathered_free(&g);
	return err;
}

/* ---------------------------------------------------------------------- */
/* HTTP (libmicrohttpd, in its own thread) */

/* One media range of an Accept header: its q, or -1 when it is neither
 * OpenMetrics nor text. */
static double mx_accept_q(const char *range, size_t len, bool *om)
{
	char r[160], *save = NULL, *tok, *type;
	bool version_ok = true;
	double q = 1;

	if (len >= sizeof(r))
		return -1;
	memcpy(r, range, len);
	r[len] = 0;
	type = strtok_r(r, ";", &save);
	if (!type)
		return -1;
	type += strspn(type, " \t");
	type[strcspn(type, " \t")] = 0;
	while ((tok = strtok_r(NULL, ";", &save))) {
		tok += strspn(tok, " \t");
		if (!strncasecmp(tok, "q=", 2))
			q = strtod(tok + 2, NULL);
		else if (!strncasecmp(tok, "version=", 8))
			version_ok = !strncmp(tok + 8, "1.0.0", 5) || !strncmp(tok + 8, "0.0.1", 5);
	}
	*om = !strcasecmp(type, "application/openmetrics-text");
	if (*om)
		return version_ok ? q : -1;
	if (!strcasecmp(type, "text/plain") || !strcasecmp(type, "text/*") || !strcmp(type, "*/*"))
		return q;
	return -1;
}

enum ft_metrics_format ft_metrics_negotiate(const char *accept)
{
	double qom = 0, qtext = 0;
	const char *p = accept;

	while (p && *p) {
		size_t len = strcspn(p, ",");
		bool om = false;
		double q = mx_accept_q(p, len, &om);

		if (om && q > qom)
			qom = q;
		else if (!om && q > qtext)
			qtext = q;
		p += len + (p[len] == ',');
	}
	return qom > 0 && qom >= qtext ? FT_METRICS_OPENMETRICS : FT_METRICS_TEXT;
}

const char *ft_metrics_content_type(enum ft_metrics_format fmt)
{
	return fmt == FT_METRICS_OPENMETRICS
		   ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		   : "text/plain; version=0.0.4; charset=utf-8";
}

static bool mx_wants_gzip(const char *ae)
{
	const char *p = ae ? strcasestr(ae, "gzip") : NULL;

	if (!p)
		return false;
	p += 4;
	p += strspn(p, " \t");
	if (*p != ';')
		return true;
	p = strcasestr(p, "q=");
	return !p || strtod(p + 2, NULL) > 0;
}

/* gzip of buf, or NULL (then the body goes uncompressed). */
static char *mx_gzip(const char *buf, size_t len, size_t *zlen)
{
	z_stream z = {0};
	size_t cap;
	char *out;

	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&z, len);
	out = malloc(cap);
	if (out) {
		z.next_in = (Bytef *)buf;
		z.avail_in = len;
		z.next_out = (Bytef *)out;
		z.avail_out = cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
			free(out);
			out = NULL;
		}
		*zlen = z.total_out;
	}
	deflateEnd(&z);
	return out;
}

static enum MHD_Result mx_reply(struct MHD_Connection *c, unsigned int status, const char *type,
				char *body, size_t len, const char *encoding)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (encoding)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result mx_reply_text(struct MHD_Connection *c, unsigned int status,
				     const char *type, const char *text)
{
	char *body = strdup(text);

	return body ? mx_reply(c, status, type, body, strlen(body), NULL) : MHD_NO;
}

static enum MHD_Result mx_serve_metrics(struct ft_metrics *m, struct MHD_Connection *c)
{
	const char *accept =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	const char *ae =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	enum ft_metrics_format fmt = ft_metrics_negotiate(accept);
	char *body, *z;
	size_t len, zlen;
	int err;

	err = ft_metrics_scrape(m, fmt, &body, &len);
	if (err) {
		pr_warn("metrics: scrape failed: %s\n", strerror(-err));
		return mx_reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
				     "scrape failed\n");
	}
	if (len > 1024 && mx_wants_gzip(ae) && (z = mx_gzip(body, len, &zlen))) {
		free(body);
		return mx_reply(c, MHD_HTTP_OK, ft_metrics_content_type(fmt), z, zlen, "gzip");
	}
	return mx_reply(c, MHD_HTTP_OK, ft_metrics_content_type(fmt), body, len, NULL);
}

static enum MHD_Result mx_handler(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	static const char index[] =
	    "<html><head><title>flowtap</title></head><body><h1>flowtap</h1>"
	    "<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return mx_reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				     "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return mx_serve_metrics(cls, c);
	if (!strcmp(url, "/-/healthy")) /* for probes: no scrape behind it */
		return mx_reply_text(c, MHD_HTTP_OK, "text/plain", "OK\n");
	if (!strcmp(url, "/"))
		return mx_reply_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", index);
	return mx_reply_text(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found: try /metrics\n");
}

/* libmicrohttpd's messages; the last one explains a failed start. */
static char mx_mhd_error[256];

static void mx_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	vsnprintf(mx_mhd_error, sizeof(mx_mhd_error), fmt, ap);
	mx_mhd_error[strcspn(mx_mhd_error, "\n")] = 0;
	pr_debug("metrics: libmicrohttpd: %s\n", mx_mhd_error);
}

int ft_metrics_listen(struct ft_metrics *m, const struct ft_addrport *addr)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int port;

	if (m->mhd)
		return -EALREADY;
	if (addr->ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	port = ntohs(((const struct sockaddr_in *)&addr->ss)->sin_port);
	mx_mhd_error[0] = 0;
	/* One polling thread: scrapes run one after another, none of them in
	 * the collector's thread. */
	m->mhd = MHD_start_daemon(flags, port, NULL, NULL, mx_handler, m, MHD_OPTION_SOCK_ADDR,
				  (const struct sockaddr *)&addr->ss, MHD_OPTION_CONNECTION_LIMIT,
				  64, MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_EXTERNAL_LOGGER,
				  mx_mhd_log, NULL, MHD_OPTION_END);
	if (!m->mhd) {
		pr_err("metrics: cannot listen on %s%s%s\n", addr->text,
		       mx_mhd_error[0] ? ": " : "", mx_mhd_error);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info && info->port ? info->port : port;
	return 0;
}

int ft_metrics_port(const struct ft_metrics *m)
{
	return m->port;
}

/* ---------------------------------------------------------------------- */
/* The process-wide exporter of `flowtap run` */

static struct ft_metrics *mx_global;

int ft_metrics_start_cfg(const struct ft_addrport *addr, const struct ft_metrics_cfg *cfg)
{
	char rb[48];
	int err;

	if (mx_global)
		return -EALREADY;
	/* Lazy, unlocked initialisations, done here before the server thread
	 * exists: kernel BTF for drop reasons, the CPU count. */
	ft_drop_reason_name(0, rb, sizeof(rb));
	ft_ncpus();
	mx_global = ft_metrics_new(cfg);
	if (!mx_global) {
		pr_err("metrics: cannot listen on %s: %s\n", addr->text, strerror(ENOMEM));
		return -ENOMEM;
	}
	err = ft_metrics_listen(mx_global, addr);
	if (err) {
		ft_metrics_free(mx_global);
		mx_global = NULL;
		return err;
	}
	pr_info("metrics: serving http://%s/metrics\n", addr->text);
	return 0;
}

int ft_metrics_start(const struct ft_addrport *addr, const char *pin_root)
{
	struct ft_metrics_cfg cfg;

	ft_metrics_cfg_default(&cfg);
	cfg.pin_root = pin_root;
	return ft_metrics_start_cfg(addr, &cfg);
}

struct ft_metrics *ft_metrics_global(void)
{
	return mx_global;
}

void ft_metrics_publish(const struct ft_report *r)
{
	const struct ft_coll_stats *st = r->st;
	unsigned int i;

	if (!mx_global || !st)
		return;
	ft_metrics_set_flows(
	    mx_global, st->flows,
	    st->kernel_entries >= st->kernel_deleted ? st->kernel_entries - st->kernel_deleted : 0);
	for (i = FT_END_NONE + 1; i < FT_END_MAX; i++)
		if (i != FT_END_ACTIVE) /* a record closed, the flow goes on */
			ft_metrics_set_flows_ended(mx_global, ft_end_reason_name(i),
						   st->ended_total[i]);
	ft_metrics_observe_drain(mx_global, st->drain_ns / 1e9);
	pthread_mutex_lock(&mx_global->lock);
	mx_global->coll.timeouts_set = true; /* this collector expires handshakes */
	if (r->dd.valid) {
		mx_global->coll.dedup_set = true;
		mx_global->coll.dedup_packets += r->dd.packets;
		mx_global->coll.dedup_bytes += r->dd.bytes;
	}
	pthread_mutex_unlock(&mx_global->lock);
	for (i = 0; i < r->nhs_timeouts; i++)
		ft_metrics_add_tcp_timeouts(mx_global, r->hs_timeouts[i].ifindex,
					    r->hs_timeouts[i].dir, r->hs_timeouts[i].n);
	ft_metrics_refresh_labels(mx_global);
}

void ft_metrics_stop(void)
{
	ft_metrics_free(mx_global);
	mx_global = NULL;
}
