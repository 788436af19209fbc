/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Prometheus exporter: /metrics in the text exposition format 0.0.4, or
 * OpenMetrics 1.0 when the scraper's Accept header prefers it. The metric
 * list, PromQL examples and alert rules are in docs/prometheus.md.
 *
 * Where the numbers come from:
 *  - Counters the datapath keeps in its pinned maps (packets, bytes,
 *    classes, malformed reasons, HTTP methods, losses, TCP health, kernel
 *    drops) are read at scrape time, in the HTTP server's thread, with
 *    plain map lookups: a scrape never waits for, or blocks, the datapath.
 *  - What only the collector knows (flows, drain times, captures) it hands
 *    over with the ft_metrics_set_*() calls after each drain. They take a
 *    mutex that a scrape holds only to copy a few hundred bytes, so the
 *    collector never waits for a scrape.
 *
 * Cardinality is bounded: series are per interface label set (interface,
 * plus container, pod, namespace, runtime, container_id when known), never
 * per flow or path. At most max_ifaces label sets are exported; later ones
 * are folded into interface="other" (flowtap_metrics_interfaces_folded_total
 * counts them). An interface that is gone (deleted, its container gone, its
 * counters removed) keeps its last values for `retention` seconds, so the
 * last increments are scraped, then its series disappear.
 */
#ifndef FT_METRICS_H
#define FT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <linux/types.h>
#include "flowtap.h"
#include "opts.h"
#include "state.h"

#define FT_METRICS_PORT	      9477
#define FT_METRICS_LISTEN     "127.0.0.1:9477"
#define FT_METRICS_MAX_IFACES 1024
#define FT_METRICS_RETENTION  300.0 /* seconds */

/* Container labels of one interface (the host side of a veth). Empty
 * strings are unknown and left out of the series. */
struct ft_metrics_labels {
	__u64 netns_ino; /* the container's namespace; its kernel drops get these labels */
	char runtime[16];
	char container_id[65];
	char container[128];
	char pod[254];
	char pod_namespace[64]; /* exported as namespace="..." */
};

/*
 * Label provider: fills *out and returns true when ifindex leads to a
 * container, false when it does not (any more). Called from the thread
 * that calls ft_metrics_refresh_labels() (the collector's), never from the
 * HTTP thread, so it may read the caller's own state without locking.
 */
typedef bool (*ft_metrics_label_fn)(int ifindex, struct ft_metrics_labels *out, void *ctx);

struct ft_metrics_cfg {
	const char *pin_root;	    /* where the datapath's maps are pinned */
	size_t max_ifaces;	    /* label sets exported before folding into "other" */
	double retention;	    /* seconds a gone interface's series stay */
	ft_metrics_label_fn labels; /* may be NULL */
	void *labels_ctx;
};

void ft_metrics_cfg_default(struct ft_metrics_cfg *c);

struct ft_metrics;

/* NULL on -ENOMEM. cfg->pin_root is copied. */
struct ft_metrics *ft_metrics_new(const struct ft_metrics_cfg *cfg);
/* Stops the server if it runs. */
void ft_metrics_free(struct ft_metrics *m);

/* Serves GET /metrics from libmicrohttpd's own thread. Port 0 picks a free
 * one (ft_metrics_port() tells which). 0 or a negative errno, after one
 * error line that says why. */
int ft_metrics_listen(struct ft_metrics *m, const struct ft_addrport *addr);
int ft_metrics_port(const struct ft_metrics *m);

enum ft_metrics_format {
	FT_METRICS_TEXT,	/* text/plain; version=0.0.4 */
	FT_METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/* What a client's Accept header asks for (NULL: text). */
enum ft_metrics_format ft_metrics_negotiate(const char *accept);
const char *ft_metrics_content_type(enum ft_metrics_format fmt);

/* One scrape: reads the maps and renders. *out is malloc'd (caller frees). */
int ft_metrics_scrape(struct ft_metrics *m, enum ft_metrics_format fmt, char **out, size_t *len);

/*
 * Collector values. Thread-safe; each call holds the mutex for a copy.
 * Families whose setter was never called are left out of the exposition,
 * except the flow table's, which a standalone exporter reads from the map.
 */
void ft_metrics_set_flows(struct ft_metrics *m, __u64 active, __u64 table_entries);
/* Running total of flows that ended for reason ("idle", "end_of_flow", ...). */
void ft_metrics_set_flows_ended(struct ft_metrics *m, const char *reason, __u64 total);
void ft_metrics_observe_drain(struct ft_metrics *m, double seconds);
void ft_metrics_set_capture(struct ft_metrics *m, __u64 packets, __u64 dropped);
/* A ring buffer's running loss total ("http" comes from the maps). */
void ft_metrics_set_ringbuf_lost(struct ft_metrics *m, const char *ring, __u64 total);
void ft_metrics_set_attached(struct ft_metrics *m, unsigned int n);
/* n more handshakes whose SYN-ACK never came (ft_tcp_hs_expire()), on
 * ifindex, SYN seen in direction dir. */
void ft_metrics_add_tcp_timeouts(struct ft_metrics *m, int ifindex, unsigned int dir, __u64 n);
/* Labels of ifindex; NULL: it no longer leads to a container (its series
 * stay for the retention time). */
void ft_metrics_set_labels(struct ft_metrics *m, int ifindex, const struct ft_metrics_labels *l);
/* Asks cfg.labels about every interface the last scrape saw. */
void ft_metrics_refresh_labels(struct ft_metrics *m);

/* ---- for tests: a scrape over given inputs instead of the system ---- */

struct ft_metrics_input {
	bool datapath; /* the pinned maps could be read */
	const struct ft_if_totals *ifs;
	size_t nifs;
	bool drops_available;
	const struct ft_drop_total *drops;
	size_t ndrops;
	__u32 self_netns;		  /* inode of our network namespace */
	const struct if_nameindex *links; /* interfaces that exist (if_index 0 ends) */
	__u64 flow_capacity;		  /* 0: unknown */
	long long flow_entries;		  /* -1: unknown */
	long long attached;		  /* -1: unknown */
};

/* Updates the interface state (cap, retention) and renders; now is
 * CLOCK_MONOTONIC seconds. */
int ft_metrics_render(struct ft_metrics *m, const struct ft_metrics_input *in, double now,
		      enum ft_metrics_format fmt, char **out, size_t *len);

/* Label value escaping (\\, \", \n); returns the length it needs, writes at
 * most cap - 1 characters and a NUL. */
size_t ft_metrics_escape(const char *s, char *out, size_t cap);
/* Upper bound in seconds of TCP handshake bucket b; INFINITY for the last. */
double ft_metrics_hs_le(unsigned int b);

/* ---- the process-wide exporter `flowtap run` drives (collector.h) ---- */

/* 0, or a negative errno after one error line (the caller adds none). */
int ft_metrics_start(const struct ft_addrport *addr, const char *pin_root);
int ft_metrics_start_cfg(const struct ft_addrport *addr, const struct ft_metrics_cfg *cfg);
/* After every drain: copies what it needs from the report. */
struct ft_report;
void ft_metrics_publish(const struct ft_report *r);
void ft_metrics_stop(void);
/* The exporter ft_metrics_start() made, for the setters; NULL if none. */
struct ft_metrics *ft_metrics_global(void);

#endif
