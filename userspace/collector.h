/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The collector behind `flowtap run`: drains the datapath's per-CPU flow
 * table every interval, keeps each flow's state in userspace with IPFIX
 * timeouts and end reasons, and hands one report per interval to the sinks
 * (syslog, JSON lines, IPFIX, the terminal, metrics). docs/collector.md has
 * the rules; in short:
 *
 *  - The kernel table holds cumulative counters of each flow and is never
 *    reset; the collector turns them into deltas. So `flowtap flows` from
 *    another shell keeps seeing complete, growing counts.
 *  - A kernel entry is removed only when its flow ends (idle longer than its
 *    timeout, or evicted when the table is near full), and it is removed
 *    with lookup-and-delete: the values read with the delete are final and
 *    what arrived after the last read is accounted to the ending record. A
 *    packet after the delete creates a new entry, which is a new flow.
 *  - What was reported is checkpointed in pinned maps next to the datapath,
 *    so a restarted collector (even after kill -9) continues the deltas
 *    without loss or double counting.
 *
 * The core (ft_coll_*) is pure userspace logic that unit tests drive with
 * synthetic values; ft_collector_* adds the kernel maps.
 */
#ifndef FT_COLLECTOR_H
#define FT_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "flowtap.h"
#include "opts.h"
#include "state.h"

struct ft_cveth;

/* Why a flow record ends: the values of IPFIX flowEndReason (RFC 7012). */
enum ft_end_reason {
	FT_END_NONE = 0,      /* interval record: the flow goes on */
	FT_END_IDLE = 1,      /* no packet for the idle timeout */
	FT_END_ACTIVE = 2,    /* the record closed at the active timeout; the flow goes on */
	FT_END_EOF = 3,	      /* TCP FIN or RST seen, then idle for the short timeout */
	FT_END_FORCED = 4,    /* shutdown, the interface went away, or the kernel entry was
			       * removed by someone else */
	FT_END_RESOURCES = 5, /* evicted to keep the kernel table from filling */
	FT_END_MAX,
};

/* "idle", "active", "end_of_flow", "forced", "lack_of_resources"; "" for none. */
const char *ft_end_reason_name(unsigned int r);

/* Seconds. Defaults are softflowd's. */
struct ft_timeouts {
	double idle_tcp;   /* 3600 */
	double idle_udp;   /* 300 */
	double idle_icmp;  /* 300 (ICMP and ICMPv6) */
	double idle_other; /* 300 */
	double tcp_fin;	   /* 300: idle timeout once a FIN was seen */
	double tcp_rst;	   /* 120: idle timeout once a RST was seen */
	double active;	   /* 1800: longest record of a flow that never idles */
};

struct ft_coll_cfg {
	struct ft_timeouts to;
	double tcp_handshake;	 /* 30: a SYN unanswered this long is a failed attempt */
	unsigned int high_water; /* % of the kernel table that starts eviction (90) */
	unsigned int low_water;	 /* % eviction brings it down to (80) */
};

void ft_coll_cfg_default(struct ft_coll_cfg *c);

/*
 * One flow as the collector keeps it: the summed kernel values of the
 * current kernel entry and what was reported of them. The open record (the
 * one IPFIX exports when it closes) starts at rec_*.
 */
struct ft_cflow {
	struct ft_flow f;	      /* key and summed values, what ft_flow_json() takes */
	__u64 rep_packets, rep_bytes; /* reported through the last commit */
	__u64 rec_packets, rec_bytes; /* at the start of the open record */
	__u64 rec_start_ns;	      /* CLOCK_MONOTONIC */
	__u32 seen;		      /* cycle that last read it from the kernel */
	__u8 reason;		      /* enum ft_end_reason decided this cycle */
	__u8 flags;		      /* FT_CF_* */
	__u8 pad[2];
};

enum {
	FT_CF_NEW = 1 << 0,	 /* first seen this cycle */
	FT_CF_RESTORED = 1 << 1, /* from a checkpoint, not yet matched to the kernel */
	FT_CF_DELETE = 1 << 2,	 /* its kernel entry is to be removed this cycle */
	FT_CF_DETACHED = 1 << 3, /* an ended incarnation, no longer in the index */
};

/* Traffic of the interval, and of the open record. */
static inline __u64 ft_cflow_dpackets(const struct ft_cflow *c)
{
	return c->f.v.packets - c->rep_packets;
}
static inline __u64 ft_cflow_dbytes(const struct ft_cflow *c)
{
	return c->f.v.bytes - c->rep_bytes;
}
static inline __u64 ft_cflow_rpackets(const struct ft_cflow *c)
{
	return c->f.v.packets - c->rec_packets;
}
static inline __u64 ft_cflow_rbytes(const struct ft_cflow *c)
{
	return c->f.v.bytes - c->rec_bytes;
}
/* The flow ends this cycle (as opposed to a record closing at the active
 * timeout, or going on). */
static inline bool ft_cflow_ends(const struct ft_cflow *c)
{
	return c->reason != FT_END_NONE && c->reason != FT_END_ACTIVE;
}

struct ft_coll_stats {
	__u64 cycle;
	size_t flows;	/* flows alive after the cycle */
	size_t active;	/* flows with traffic in the interval */
	size_t created; /* flows new in the interval */
	size_t ended;	/* flows that ended in the interval */
	size_t ended_by[FT_END_MAX];
	__u64 ended_total[FT_END_MAX]; /* since start, for metrics */
	size_t kernel_entries;	       /* entries read from the kernel table */
	size_t kernel_deleted;	       /* entries this cycle removed */
	size_t capacity;	       /* size of the kernel table */
	__u64 packets, bytes;	       /* all flows' traffic in the interval */
	__u64 drain_ns;		       /* time the drain took (wall clock) */
	__u64 drain_cpu_ns;	       /* CPU time of the drain (this thread) */
};

/* What a restarted collector needs to continue a flow. */
struct ft_ckpt {
	__u64 first_ns; /* identifies the kernel entry (a new entry has a new one) */
	__u64 rep_packets, rep_bytes;
	__u64 rec_packets, rec_bytes;
	__u64 rec_start_ns;
};

/*
 * Where checkpoints go: one slot per flow, the flow's index in the core's
 * pool, so a commit writes only the slots of flows that changed. put()
 * writes a slot, drop() empties it. A restarted core is rebuilt from the
 * slots with ft_coll_restore(), in increasing slot order.
 */
struct ft_ckpt_ops {
	void (*put)(void *arg, __u32 slot, const struct ft_flow_key *k, const struct ft_ckpt *ck);
	void (*drop)(void *arg, __u32 slot);
	void *arg;
};

/* The core: flow state and its rules, no kernel. */
struct ft_coll;

struct ft_coll *ft_coll_new(const struct ft_coll_cfg *cfg);
void ft_coll_free(struct ft_coll *c);

/*
 * One cycle: begin; observe every kernel entry read; expire (returns the
 * flows whose kernel entries must go, with lookup-and-delete); final() with
 * the values read by each delete; finish; let the sinks read the records;
 * commit. now_ns is CLOCK_MONOTONIC, the datapath's clock.
 */
void ft_coll_begin(struct ft_coll *c, __u64 now_ns);
/* v holds the per-CPU values already summed. NULL only on -ENOMEM. */
struct ft_cflow *ft_coll_observe(struct ft_coll *c, const struct ft_flow_key *k,
				 const struct ft_flow_val *v);
/* The same for n entries at once, faster (prefetches); 0 or -ENOMEM. */
int ft_coll_observe_many(struct ft_coll *c, const struct ft_flow_key *k,
			 const struct ft_flow_val *v, size_t n);
/* capacity: kernel table size, for eviction (0: no eviction). */
size_t ft_coll_expire(struct ft_coll *c, size_t capacity, struct ft_cflow ***del);
/* v: the values read with the delete, or NULL when the entry was gone. */
void ft_coll_final(struct ft_coll *c, struct ft_cflow *f, const struct ft_flow_val *v);
/* The delete failed and the entry is still there: the flow goes on. */
void ft_coll_keep(struct ft_coll *c, struct ft_cflow *f);
/* shutdown: every flow ends, reason forced. */
void ft_coll_finish(struct ft_coll *c, bool shutdown);
/*
 * Between cycles: the interface of k went away (a container's veth was
 * deleted), and v holds the values its kernel entry had when it was
 * removed with lookup-and-delete. The flow ends now, reason forced, and its
 * record is reported with the next cycle. 0 or -ENOMEM.
 */
int ft_coll_end_entry(struct ft_coll *c, const struct ft_flow_key *k, const struct ft_flow_val *v);
/* The records of the finished cycle: every flow with traffic in the
 * interval or whose record closed. Valid until commit. */
size_t ft_coll_records(struct ft_coll *c, struct ft_cflow *const **recs);
const struct ft_coll_stats *ft_coll_stats(const struct ft_coll *c);

/* Checkpoints are written through ops from the next commit on. */
void ft_coll_set_ckpt(struct ft_coll *c, const struct ft_ckpt_ops *ops);
/* Marks the records reported, frees ended flows, writes checkpoints. */
void ft_coll_commit(struct ft_coll *c);
/* Before the first cycle, in increasing slot order: a flow a previous
 * collector had reported, in the same slot. It continues if the kernel
 * still has the same entry, else is dropped. */
int ft_coll_restore(struct ft_coll *c, __u32 slot, const struct ft_flow_key *k,
		    const struct ft_ckpt *ck);
size_t ft_coll_size(const struct ft_coll *c);

/* Per (interface, direction) class counters over the interval. */
struct ft_if_delta {
	__u32 ifindex;
	__u32 dir;
	struct ft_if_stats d;
};

/* TCP handshakes whose SYN-ACK never came, this interval, per interface
 * and the direction the SYN was seen in. */
struct ft_hs_timeouts {
	__u32 ifindex;
	__u32 dir;
	__u64 n;
};

/*
 * The de-duplicated view of an interval (docs/containers.md, "Counting a
 * packet once"): a packet seen at several observation points is the same
 * traffic. Per flow key without its observation point (family, protocol,
 * addresses, ports, VLAN), only the observation of the best rank counts:
 * from_container (host-side veth ingress), then to_container (host-side
 * veth egress), then a NIC. Among observations of the same rank, the one
 * with the most bytes in the interval (then the lowest ifindex).
 */
enum ft_obs_rank {
	FT_OBS_FROM_CONTAINER = 1,
	FT_OBS_TO_CONTAINER = 2,
	FT_OBS_NIC = 3,
};

/* The rank of an observation point; ctx is the caller's. */
typedef unsigned int (*ft_obs_rank_fn)(void *ctx, __u32 ifindex, __u32 dir);

struct ft_dedup {
	bool valid;		      /* computed for this report */
	__u64 packets, bytes;	      /* the interval's flow traffic, each packet once */
	__u64 dup_packets, dup_bytes; /* observations left out */
	size_t keys;		      /* distinct keys with traffic */
	size_t dups;		      /* observations left out */
};

/* Scratch space reused from interval to interval. */
struct ft_dedup_buf {
	__u32 *slots; /* open addressing: record index + 1 of each key's best */
	size_t nslots;
	__u8 *counted;
	size_t ncounted;
};

/*
 * One pass over an interval's records (those with packets in it): fills
 * out and, in b->counted, one byte per record: 1 when it is the
 * observation that counts. 0 or -ENOMEM (out->valid false).
 */
int ft_dedup(struct ft_cflow *const *recs, size_t n, ft_obs_rank_fn rank, void *ctx,
	     struct ft_dedup_buf *b, struct ft_dedup *out);
void ft_dedup_buf_free(struct ft_dedup_buf *b);

/* One interval, as every sink sees it. */
struct ft_report {
	__u64 now_ns;	  /* CLOCK_MONOTONIC at the drain */
	double epoch_off; /* Unix seconds = monotonic seconds + epoch_off */
	double interval;  /* seconds since the previous report */
	bool final;	  /* the last one: every flow ended (forced) */
	struct ft_cflow *const *recs;
	size_t nrecs;
	const struct ft_if_delta *ifs;
	size_t nifs;
	const struct ft_coll_stats *st;
	__u64 flow_overflow;	 /* packets the full kernel table could not hold */
	__u64 http_samples_lost; /* HTTP samples the ring buffer had no room for */
	const struct ft_hs_timeouts *hs_timeouts;
	size_t nhs_timeouts;
	__u64 tcp_hs_timeouts; /* their sum */
	__u64 http_samples;    /* HTTP samples consumed from the ring buffer */
	/* Container veths (`flowtap run --containers`): the veth behind an
	 * ifindex, with its name and labels (also for a veth removed during
	 * the interval), NULL for any other interface. NULL: none known. */
	const struct ft_cveth *(*veth)(void *ctx, __u32 ifindex);
	void *veth_ctx;
	/* The de-duplicated view; counted[i] (when not NULL) is 1 if recs[i]
	 * is the observation that counts in it. */
	struct ft_dedup dd;
	const __u8 *counted;
};

static inline const struct ft_cveth *ft_report_veth(const struct ft_report *r, __u32 ifindex)
{
	return r->veth ? r->veth(r->veth_ctx, ifindex) : NULL;
}

/* The rank of an observation point in a report: a container veth's
 * ingress / egress, else a NIC. */
unsigned int ft_report_rank(const struct ft_report *r, __u32 ifindex, __u32 dir);

static inline double ft_report_epoch(const struct ft_report *r, __u64 ns)
{
	return ns ? ns / 1e9 + r->epoch_off : 0;
}
/* Start and end of a record in Unix milliseconds (IPFIX *Milliseconds). */
__u64 ft_record_start_ms(const struct ft_report *r, const struct ft_cflow *f);
__u64 ft_record_end_ms(const struct ft_report *r, const struct ft_cflow *f);

/* The collector over the pinned maps under a pin root. */
struct ft_collector {
	struct ft_coll *core;
	char root[256];
	int flows_fd, ifstats_fd;
	int ifslot_fd, ifslots_fd; /* per-CPU array slots of attached interfaces (-1: none) */
	int hs_fd;		   /* TCP handshakes in progress (-1: none) */
	struct ft_hs_timeouts *hs;
	size_t nhs, caphs;
	double hs_max_age;
	int ckpt_fd, ifckpt_fd; /* -1: no checkpoints */
	void *ckpt;		/* the checkpoint slots, mapped */
	size_t ckpt_slots, ckpt_len;
	size_t ckpt_missed; /* flows beyond the last slot: not checkpointed */
	__u32 flows_id;	    /* map id of ft_flows: a new id is a new datapath */
	size_t capacity;
	bool lookup_delete; /* the kernel has lookup-and-delete for this map */
	struct ft_if_totals *ifprev;
	size_t nifprev;
	struct ft_if_delta *ifd;
	size_t nifd;
	struct ft_if_totals *ifcur;
	size_t nifcur;
	__u64 last_ns;
	struct ft_if_totals *ifgone; /* last totals of interfaces that went away */
	size_t nifgone, nifgone_cur; /* ... and how many of them ifcur ends with */
	struct ft_dedup_buf dd;
	struct ft_report rep;
};

/* ckpt: keep checkpoints in pinned maps (and resume from them). */
int ft_collector_open(struct ft_collector *c, const char *root, const struct ft_coll_cfg *cfg,
		      bool ckpt);
/* Drains and fills c->rep; the sinks read it, then ft_collector_commit(). */
int ft_collector_cycle(struct ft_collector *c, bool final);
int ft_collector_commit(struct ft_collector *c);
void ft_collector_close(struct ft_collector *c);
/* After a cycle, before the sinks: the report's de-duplicated view, ranked
 * with ft_report_rank() (set rep.veth first). */
int ft_collector_dedup(struct ft_collector *c);
/*
 * Between cycles, when an interface went away (before ft_ct_forget()): its
 * kernel flow entries are removed with lookup-and-delete and end (forced),
 * and its interface counters are kept, so that the next report carries
 * their last deltas. Returns the number of flows ended or a negative errno.
 */
int ft_collector_forget_iface(struct ft_collector *c, __u32 ifindex);

/*
 * What a run attached, pinned next to the datapath so that a run restarted
 * after a crash adopts (and at exit detaches) what its predecessor
 * attached, but never what was attached by someone else.
 */
#define FT_RUN_META_MAGIC 0x66747275 /* "ftru" */
#define FT_RUN_META_MAX	  4096	     /* interfaces given plus container veths */
struct ft_run_meta {
	__u32 magic;
	__u32 created_datapath; /* a run loaded the datapath and may remove it */
	__u32 nifaces;
	__u32 ifindex[FT_RUN_META_MAX];
};
/* 0 and the meta, -ENOENT when none. */
int ft_run_meta_load(const char *root, struct ft_run_meta *m);
int ft_run_meta_save(const char *root, const struct ft_run_meta *m);

/* ---- sinks ---- */

/* Packets and bytes of an interface and direction: every frame is in
 * exactly one L3 / ARP / other-L2 class or one early malformed reason. */
void ft_if_total(const struct ft_if_stats *s, struct ft_counter *out);

/* JSON lines: one record per flow per interval it was active in, one when
 * it ends. Rotates FILE -> FILE.1 -> ... FILE.keep at max_size bytes. */
struct ft_flowlog;
struct ft_flowlog *ft_flowlog_open(const char *path, unsigned long max_size, unsigned int keep,
				   int *err);
int ft_flowlog_write(struct ft_flowlog *l, const struct ft_report *r);
/* One HTTP sample as a line of its own: "type":"http_sample" and the
 * fields of `flowtap http --json`. Written with the next interval's flush. */
int ft_flowlog_sample(struct ft_flowlog *l, const struct ft_http_event *e);
/* SIGHUP: reopen the file (after an external rotation). */
int ft_flowlog_reopen(struct ft_flowlog *l);
void ft_flowlog_close(struct ft_flowlog *l);
/* One record: ft_flow_json() plus packets_delta, bytes_delta, end_reason;
 * on a container veth also its labels and container_direction. (The flow
 * log adds dedup_counted when the report has the de-duplicated view.) */
json_object *ft_record_json(const struct ft_report *r, const struct ft_cflow *f);

struct ft_syslog_cfg {
	int facility;		 /* LOG_DAEMON */
	unsigned long top;	 /* top flows by bytes per interval (10) */
	unsigned long max_lines; /* per interval, all kinds (100) */
	bool ended;		 /* one line per ended flow */
};
/* Formats the interval's lines; emit() gets each (syslog(3) in the daemon). */
typedef void (*ft_line_fn)(int prio, const char *line, void *arg);
size_t ft_syslog_lines(const struct ft_syslog_cfg *cfg, const struct ft_report *r, ft_line_fn emit,
		       void *arg);
void ft_syslog_open(const struct ft_syslog_cfg *cfg);
void ft_syslog_report(const struct ft_syslog_cfg *cfg, const struct ft_report *r);
void ft_syslog_close(void);
/* "daemon", "local0".."local7", "user": the LOG_* value, or -1. */
int ft_syslog_facility(const char *name);

/* IPFIX export of closed records (RFC 7011) through libfixbuf. */
struct ft_ipfix;
bool ft_ipfix_available(void);
/* labels: also the templates of container veths' records (their labels in
 * enterprise-specific elements), for a collector that follows containers. */
struct ft_ipfix *ft_ipfix_open(const struct ft_addrport *dst, bool tcp, __u32 domain,
			       double template_refresh, bool labels);
int ft_ipfix_report(struct ft_ipfix *x, const struct ft_report *r);
void ft_ipfix_close(struct ft_ipfix *x);

/* ---- configuration of `flowtap run` (docs/config.md) ---- */

enum ft_run_hook { FT_RUN_HOOK_AUTO, FT_RUN_HOOK_XDP, FT_RUN_HOOK_TC };

/* Following container veths: by default when the host has a container
 * runtime (docs/collector.md, "Containers"). */
enum ft_run_containers { FT_RUN_CT_AUTO, FT_RUN_CT_ON, FT_RUN_CT_OFF };
#define FT_RUN_PATTERNS_MAX 512

struct ft_run_config {
	struct ft_iface_list ifaces;
	int hook;	 /* enum ft_run_hook */
	double interval; /* seconds */
	bool syslog;
	struct ft_syslog_cfg sl;
	char flow_log[512];
	unsigned long flow_log_size;
	unsigned long flow_log_keep;
	bool http_log; /* HTTP samples into the flow log */
	bool ipfix;
	struct ft_addrport ipfix_dst;
	bool ipfix_tcp;
	unsigned long ipfix_domain;
	double ipfix_template_refresh;
	bool metrics;
	struct ft_addrport metrics_addr;
	double metrics_retention;		      /* seconds a gone interface's series stay */
	int containers;				      /* enum ft_run_containers */
	char containers_include[FT_RUN_PATTERNS_MAX]; /* comma-separated fnmatch globs */
	char containers_exclude[FT_RUN_PATTERNS_MAX];
	bool keep;
	bool checkpoint;
	unsigned long flow_table_size; /* 0: the datapath's default */
	struct ft_coll_cfg coll;
};

void ft_run_config_default(struct ft_run_config *c);
/* Parses a config text; on error returns -EINVAL with "FILE:LINE: why" in err. */
int ft_config_parse(struct ft_run_config *c, const char *text, size_t len, const char *name,
		    char *err, size_t errlen);
/* Reads and parses a file; prints the one error line. */
int ft_config_load(struct ft_run_config *c, const char *path);

/*
 * The metrics exporter (issue 6, userspace/metrics.c): `flowtap run
 * --metrics` calls start() once before attaching, publish() after every
 * cycle with the report (copy what is needed: it is gone after the call),
 * stop() at exit.
 */
int ft_metrics_start(const struct ft_addrport *addr, const char *pin_root);
void ft_metrics_publish(const struct ft_report *r);
void ft_metrics_stop(void);

#endif
