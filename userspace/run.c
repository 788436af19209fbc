// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `flowtap run`: attach, drain the flow table every interval, report to the
 * configured sinks, and at SIGINT/SIGTERM flush final records and detach
 * what this run attached. docs/collector.md describes the behaviour.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/route.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "collector.h"
#include "containers.h"
#include "datapath.h"
#include "log.h"
#include "metrics.h"
#include "names.h"

struct run_opts {
	struct ft_iface_list ifaces;
	const char *hook;
	double interval;
	bool syslog;
	const char *syslog_top;
	const char *flow_log;
	struct ft_addrport ipfix;
	bool ipfix_tcp;
	struct ft_addrport metrics;
	double metrics_retention;
	bool containers;
	bool no_containers;
	const char *ct_include;
	const char *ct_exclude;
	const char *config;
	bool keep;
	unsigned long flows;
	bool no_checkpoint;
};

struct run_ctx {
	struct ft_run_config cfg;
	const char *root;
	struct ft_run_meta meta; /* what this run owns */
	int lock_fd;
	struct ft_collector coll;
	bool coll_open;
	struct ft_flowlog *flowlog;
	struct ft_ipfix *ipfix;
	bool syslog_open;
	bool human; /* the terminal summary */
	bool metrics;
	struct ring_buffer *http_rb; /* HTTP samples (NULL: none) */
	__u64 http_samples;	     /* consumed this interval */
	unsigned int http_batch;     /* consumed in this poll */
	struct ft_knobs knobs;
	bool containers;      /* to follow container veths */
	struct ft_cwatch *cw; /* container veths (NULL: not followed) */
	/* Veths removed since the last report: their flows' end records still
	 * carry their names and labels. */
	struct ft_cveth *gone;
	size_t ngone, capgone;
	__u64 next_tick; /* the watcher's re-attribution, once a second */
	bool ct_failing; /* the watcher's last call failed (said once) */
	bool meta_full;	 /* said once that ft_run_meta has no room */
};

static volatile sig_atomic_t ft_reopen;

static void ft_on_hup(int sig)
{
	(void)sig;
	ft_reopen = 1;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The interface of the lowest-metric IPv4 default route, else of an IPv6
 * default route, else lo. */
static void ft_default_iface(char *name)
{
	unsigned long dst, gw, mask, best = ~0UL;
	unsigned int flags, refcnt, use, metric;
	char line[512], ifn[64], d6[40];
	FILE *f;

	strcpy(name, "lo");
	f = fopen("/proc/net/route", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lx %lx %x %u %u %u %lx", ifn, &dst, &gw, &flags, &refcnt,
			   &use, &metric, &mask) != 8)
			continue;
		if (dst || mask || !(flags & RTF_UP) || metric >= best ||
		    strlen(ifn) >= IF_NAMESIZE)
			continue;
		best = metric;
		strcpy(name, ifn);
	}
	if (f)
		fclose(f);
	if (best != ~0UL)
		return;
	f = fopen("/proc/net/ipv6_route", "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned int plen;

		/* dst plen src splen nexthop metric refcnt use flags dev */
		if (sscanf(line, "%32s %x %*s %*s %*s %*x %*x %*x %x %63s", d6, &plen, &flags,
			   ifn) != 4)
			continue;
		if (plen || strspn(d6, "0") != 32 || !(flags & RTF_UP) || (flags & RTF_REJECT) ||
		    !strcmp(ifn, "lo") || strlen(ifn) >= IF_NAMESIZE)
			continue;
		strcpy(name, ifn);
		break;
	}
	if (f)
		fclose(f);
}

/*
 * One `flowtap run` per datapath: an exclusive flock on a directory in the
 * pin root. Directories are all bpffs allows; the lock dies with the
 * process, so a run killed with -9 does not block its successor. (Not the
 * pin root itself: loading holds a lock there briefly.)
 */
static int ft_run_lock(const char *root)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/run_lock", root);
	if (mkdir(path, 0700) && errno != EEXIST) {
		pr_err("run: cannot create %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		pr_err("run: cannot open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK) {
			pr_err("run: another flowtap run is already collecting from %s\n", root);
			return -EBUSY;
		}
		pr_err("run: cannot lock %s: %s\n", path, strerror(err));
		return -err;
	}
	return fd;
}

static bool ft_meta_has(const struct ft_run_meta *m, int ifindex)
{
	__u32 i;

	for (i = 0; i < m->nifaces; i++)
		if (m->ifindex[i] == (__u32)ifindex)
			return true;
	return false;
}

/* false when there is no room left. */
static bool ft_meta_add(struct ft_run_meta *m, int ifindex)
{
	if (ft_meta_has(m, ifindex))
		return true;
	if (m->nifaces >= FT_RUN_META_MAX)
		return false;
	m->ifindex[m->nifaces++] = ifindex;
	return true;
}

static bool ft_meta_del(struct ft_run_meta *m, int ifindex)
{
	__u32 i;

	for (i = 0; i < m->nifaces; i++) {
		if (m->ifindex[i] == (__u32)ifindex) {
			m->ifindex[i] = m->ifindex[--m->nifaces];
			return true;
		}
	}
	return false;
}

static bool ft_attached(const struct ft_attachment *list, size_t n, int ifindex)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i].ifindex == ifindex)
			return true;
	return false;
}

static void ft_run_detach_owned(struct run_ctx *rc)
{
	char name[IF_NAMESIZE];
	__u32 i;

	for (i = 0; i < rc->meta.nifaces; i++) {
		int err = ft_detach(rc->meta.ifindex[i]);

		if (err && err != -ENOENT && err != -ENODEV)
			pr_warn("run: detaching from %s: %s\n",
				ft_ifname(rc->meta.ifindex[i], name), strerror(-err));
	}
	rc->meta.nifaces = 0;
}

/*
 * With --hook auto a NIC gets native XDP; where the driver cannot (virtual
 * NICs often lack it: virtio with fewer queues than CPUs), TC instead,
 * which also sees egress. The XDP attempt's messages are held back and
 * shown only if TC fails too.
 */
static int ft_run_attach_one(struct run_ctx *rc, const struct ft_knobs *k,
			     const struct ft_iface *ifc)
{
	static const enum ft_hook hooks[] = {FT_HOOK_AUTO, FT_HOOK_XDP, FT_HOOK_TC};
	struct ft_attach_opts ao = {.hook = hooks[rc->cfg.hook], .mode = FT_XDP_AUTO};
	FILE *saved = stderr, *mem;
	char *held = NULL;
	size_t len = 0;
	int err;

	if (rc->cfg.hook != FT_RUN_HOOK_AUTO || ft_hook_for(ifc->ifindex) != FT_HOOK_XDP)
		return ft_attach(rc->root, k, ifc->ifindex, &ao);
	ao.hook = FT_HOOK_XDP;
	ao.mode = FT_XDP_NATIVE;
	mem = open_memstream(&held, &len);
	if (mem)
		stderr = mem;
	err = ft_attach(rc->root, k, ifc->ifindex, &ao);
	stderr = saved;
	if (mem)
		fclose(mem);
	if (err && err != -EPERM && err != -EACCES) {
		ao.hook = FT_HOOK_TC;
		if (!ft_attach(rc->root, k, ifc->ifindex, &ao)) {
			pr_warn("run: %s: native XDP unavailable (%s); attached TC instead\n",
				ifc->name, strerror(-err));
			err = 0;
		} else if (held) {
			fputs(held, stderr);
		}
	} else if (err && held) {
		fputs(held, stderr);
	}
	free(held);
	return err;
}

/*
 * Attaches to every configured interface. An interface flowtap is already
 * attached to is used as it is -- and owned (detached at exit) only if the
 * pinned meta says a previous run attached it, i.e. that run died. On any
 * failure, what this call attached is detached again.
 */
static int ft_run_attach(struct run_ctx *rc)
{
	struct ft_run_meta prev, mine = {0};
	struct ft_attachment *list = NULL;
	struct ft_knobs k;
	size_t n = 0, i;
	bool had;
	int fd, err;

	if (ft_knobs_from_opts("run", rc->cfg.flow_table_size, NULL, false, &k))
		return -EINVAL;
	rc->knobs = k;
	fd = ft_map_fd(rc->root, "ft_flows");
	had = fd >= 0;
	if (fd >= 0)
		close(fd);
	ft_run_meta_load(rc->root, &prev);
	err = ft_status(&list, &n);
	if (err)
		return ft_fail("run", "querying interfaces", err), err;
	/* A dead predecessor's interfaces are ours to clean up. */
	for (i = 0; i < prev.nifaces; i++)
		if (ft_attached(list, n, prev.ifindex[i]))
			ft_meta_add(&mine, prev.ifindex[i]);
	for (i = 0; i < rc->cfg.ifaces.n; i++) {
		const struct ft_iface *ifc = &rc->cfg.ifaces.v[i];

		if (ft_attached(list, n, ifc->ifindex))
			continue;
		err = ft_run_attach_one(rc, &k, ifc);
		if (err) {
			if (err == -EPERM || err == -EACCES)
				ft_fail("run", ifc->name, err);
			for (; mine.nifaces > 0; mine.nifaces--)
				if (!ft_meta_has(&prev, mine.ifindex[mine.nifaces - 1]))
					ft_detach(mine.ifindex[mine.nifaces - 1]);
			free(list);
			return err;
		}
		ft_meta_add(&mine, ifc->ifindex);
	}
	free(list);
	mine.created_datapath = prev.created_datapath || !had;
	rc->meta = mine;
	err = ft_run_meta_save(rc->root, &rc->meta);
	if (err)
		pr_warn("run: cannot record what this run attached (%s): a restart after a "
			"crash will not detach it\n",
			strerror(-err));
	return 0;
}

/* At exit: detach what this run owns and, when a run loaded the datapath
 * and nothing is attached any more, remove the pins too. */
static void ft_run_release(struct run_ctx *rc)
{
	struct ft_attachment *list = NULL;
	size_t n = 0;

	if (rc->cfg.keep) {
		/* What stays attached is no run's to remove any more. */
		memset(&rc->meta, 0, sizeof(rc->meta));
		ft_run_meta_save(rc->root, &rc->meta);
		return;
	}
	ft_run_detach_owned(rc);
	if (rc->meta.created_datapath && !ft_status(&list, &n) && !n) {
		ft_detach_all(rc->root);
	} else {
		ft_run_meta_save(rc->root, &rc->meta);
	}
	free(list);
}

/*
 * Whether the host has a container runtime, for the default of
 * --containers: paths each runtime creates when it starts (Docker's socket,
 * containerd's task state, containers/storage's container stores of Podman
 * and CRI-O). They are the state directories attribution reads, so in a
 * pod they are the ones the DaemonSet mounts.
 */
static const char *const ft_runtime_marks[] = {
    "/var/run/docker.sock",
    "/var/lib/docker/containers",
    "/run/containerd/io.containerd.runtime.v2.task",
    "/run/containerd/io.containerd.runtime.v1.linux",
    "/var/lib/containers/storage/overlay-containers",
    "/var/lib/containers/storage/vfs-containers",
    "/run/containers/storage/overlay-containers",
};

static bool ft_run_want_containers(const struct ft_run_config *c)
{
	size_t i;

	if (c->containers != FT_RUN_CT_AUTO)
		return c->containers == FT_RUN_CT_ON;
	for (i = 0; i < sizeof(ft_runtime_marks) / sizeof(ft_runtime_marks[0]); i++) {
		if (!access(ft_runtime_marks[i], F_OK)) {
			pr_info("run: %s exists: following container veths (--no-containers: "
				"do not)\n",
				ft_runtime_marks[i]);
			return true;
		}
	}
	return false;
}

/* The container veth behind ifindex, including those removed since the
 * last report (whose end records are still to come). */
static const struct ft_cveth *ft_run_veth(void *ctx, __u32 ifindex)
{
	const struct run_ctx *rc = ctx;
	const struct ft_cveth *v = rc->cw ? ft_cwatch_get(rc->cw, ifindex) : NULL;
	size_t i;

	for (i = 0; !v && i < rc->ngone; i++)
		if (rc->gone[i].ifindex == (int)ifindex)
			v = &rc->gone[i];
	return v;
}

static void ft_run_gone_add(struct run_ctx *rc, const struct ft_cveth *v)
{
	if (rc->ngone == rc->capgone) {
		size_t cap = rc->capgone ? rc->capgone * 2 : 8;
		struct ft_cveth *p = realloc(rc->gone, cap * sizeof(*p));

		if (!p)
			return; /* its end records go out without labels */
		rc->gone = p;
		rc->capgone = cap;
	}
	rc->gone[rc->ngone++] = *v;
}

static void ft_run_metrics_labels_of(const struct ft_ct_labels *l, struct ft_metrics_labels *out)
{
	memset(out, 0, sizeof(*out));
	out->netns_ino = l->netns_ino;
	snprintf(out->runtime, sizeof(out->runtime), "%s", ft_runtime_name(l->runtime));
	snprintf(out->container_id, sizeof(out->container_id), "%s", l->container_id);
	snprintf(out->container, sizeof(out->container), "%s", l->container);
	snprintf(out->pod, sizeof(out->pod), "%s", l->pod);
	snprintf(out->pod_namespace, sizeof(out->pod_namespace), "%s", l->pod_namespace);
}

/*
 * The exporter's label provider, called from this thread (publish). Series
 * get labels for known containers only (a runtime and an id): a bare
 * namespace is already told apart by its interface, and a label that
 * appears later would start new series.
 */
static bool ft_run_metrics_labels(int ifindex, struct ft_metrics_labels *out, void *ctx)
{
	const struct run_ctx *rc = ctx;
	const struct ft_cveth *v = rc->cw ? ft_cwatch_get(rc->cw, ifindex) : NULL;

	if (!v || !ft_ct_labels_resolved(&v->labels))
		return false;
	ft_run_metrics_labels_of(&v->labels, out);
	return true;
}

static void ft_run_meta_changed(struct run_ctx *rc)
{
	int err = ft_run_meta_save(rc->root, &rc->meta);

	if (err)
		pr_warn("run: cannot record what this run attached (%s)\n", strerror(-err));
}

static bool ft_run_given(const struct run_ctx *rc, int ifindex)
{
	size_t i;

	for (i = 0; i < rc->cfg.ifaces.n; i++)
		if (rc->cfg.ifaces.v[i].ifindex == ifindex)
			return true;
	return false;
}

/* A new container veth: TC on it now, and this run owns what it attached. */
static void ft_run_ct_added(struct run_ctx *rc, const struct ft_cveth *v)
{
	int r = ft_run_given(rc, v->ifindex) ? 1 : ft_ct_attach(rc->root, &rc->knobs, v->ifindex);

	if (r == -ENODEV) {
		pr_debug("run: %s was gone before it could be attached\n", v->ifname);
		return;
	}
	if (r < 0) {
		pr_warn("run: %s: not collecting on this container veth: %s\n", v->ifname,
			strerror(-r));
		return;
	}
	if (!r) {
		if (!ft_meta_add(&rc->meta, v->ifindex) && !rc->meta_full) {
			rc->meta_full = true;
			pr_warn("run: more than %d interfaces: those beyond are not detached at "
				"exit\n",
				FT_RUN_META_MAX);
		}
		ft_run_meta_changed(rc);
	}
	pr_info("run: %s %s (ifindex %d)\n", r ? "adopted" : "attached to", v->ifname, v->ifindex);
}

/*
 * A container veth is gone, and its filters with it. Its flows end now
 * (forced) with their final values, reported with the next interval under
 * the veth's name and labels; then the datapath forgets the ifindex.
 *
 * A veth that still exists no longer qualifies (renamed out of the
 * patterns, its peer back in this namespace): an interface given with -i,
 * or attached by someone else, stays as it is, without labels; one this
 * run attached is detached and forgotten like a deleted one.
 */
static void ft_run_ct_removed(struct run_ctx *rc, const struct ft_cveth *v)
{
	struct ft_metrics *m = rc->metrics ? ft_metrics_global() : NULL;
	char name[IF_NAMESIZE];
	int n = 0, r;

	if (if_indextoname(v->ifindex, name)) {
		if (ft_run_given(rc, v->ifindex) || !ft_meta_has(&rc->meta, v->ifindex))
			return;
		r = ft_detach(v->ifindex);
		if (r && r != -ENOENT)
			pr_warn("run: detaching from %s: %s\n", v->ifname, strerror(-r));
	}
	ft_run_gone_add(rc, v);
	if (rc->coll_open) {
		n = ft_collector_forget_iface(&rc->coll, v->ifindex);
		if (n < 0)
			pr_warn("run: %s went away; its last flow records are lost: %s\n",
				v->ifname, strerror(-n));
	}
	r = ft_ct_forget(rc->root, v->ifindex);
	if (r < 0)
		pr_warn("run: forgetting %s: %s\n", v->ifname, strerror(-r));
	if (ft_meta_del(&rc->meta, v->ifindex))
		ft_run_meta_changed(rc);
	if (m) /* its series go after the exporter's retention */
		ft_metrics_set_labels(m, v->ifindex, NULL);
	pr_info("run: %s went away: %d flows ended\n", v->ifname, n > 0 ? n : 0);
}

static void ft_run_ct_labels(struct run_ctx *rc, const struct ft_cveth *v)
{
	struct ft_metrics *m = rc->metrics ? ft_metrics_global() : NULL;
	struct ft_metrics_labels ml;
	char kv[640];

	if (m && ft_run_metrics_labels(v->ifindex, &ml, rc))
		ft_metrics_set_labels(m, v->ifindex, &ml);
	else if (m) /* no longer a known container's */
		ft_metrics_set_labels(m, v->ifindex, NULL);
	ft_ct_labels_kv(&v->labels, kv, sizeof(kv));
	pr_info("run: %s: %s\n", v->ifname, kv);
}

static void ft_run_ct_event(const struct ft_cwatch_event *ev, void *ctx)
{
	switch (ev->kind) {
	case FT_CW_ADDED:
		ft_run_ct_added(ctx, ev->veth);
		break;
	case FT_CW_REMOVED:
		ft_run_ct_removed(ctx, ev->veth);
		break;
	case FT_CW_LABELS:
		ft_run_ct_labels(ctx, ev->veth);
		break;
	}
}

/* Follows container veths: what exists now is attached (or adopted) before
 * this returns, later ones as their notifications arrive. */
static int ft_run_containers_watch(struct run_ctx *rc)
{
	struct ft_cwatch_opts o = {
	    .include = rc->cfg.containers_include,
	    .exclude = rc->cfg.containers_exclude,
	    .cb = ft_run_ct_event,
	    .ctx = rc,
	};
	int fd, err;

	/* The TC programs now: loading them with the first veth would take
	 * longer than attaching should. */
	fd = ft_datapath_prog_fd(rc->root, &rc->knobs, FT_PROG_TC_INGRESS);
	if (fd < 0)
		return fd;
	close(fd);
	err = ft_cwatch_new(&o, &rc->cw);
	if (err) {
		rc->cw = NULL;
		return err;
	}
	err = ft_cwatch_scan(rc->cw);
	if (err) {
		ft_cwatch_free(rc->cw);
		rc->cw = NULL;
	}
	rc->next_tick = mono_ns() + 1000000000ULL;
	return err;
}

/* A failure stops the start when --containers (or containers = yes) asked
 * for it; by default the run goes on without. */
static int ft_run_containers_start(struct run_ctx *rc)
{
	int err = ft_run_containers_watch(rc);

	if (!err)
		return 0;
	if (rc->cfg.containers == FT_RUN_CT_ON)
		return ft_fail("run", "following container veths", err), err;
	pr_warn("run: not following container veths: %s\n", strerror(-err));
	return 0;
}

/* Link notifications (readable), and once a second the re-attribution of
 * veths whose labels are due. */
static void ft_run_containers_poll(struct run_ctx *rc, bool readable)
{
	__u64 now = mono_ns();
	int err = 0;

	if (readable)
		err = ft_cwatch_process(rc->cw);
	if (!err && now >= rc->next_tick) {
		err = ft_cwatch_tick(rc->cw);
		rc->next_tick = now + 1000000000ULL;
	}
	if (err && !rc->ct_failing)
		pr_warn("run: following container veths: %s\n", strerror(-err));
	rc->ct_failing = err != 0;
}

static const char *ft_human_size(double v, char *buf, size_t len, const char *unit)
{
	static const char *const pre[] = {"", "k", "M", "G", "T"};
	size_t i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s%s" : "%.0f %s%s", v, pre[i], unit);
	return buf;
}

/* A container veth's name is known even once it is gone. */
static const char *ft_human_ifname(const struct ft_report *r, __u32 ifindex, char *buf)
{
	const struct ft_cveth *v = ft_report_veth(r, ifindex);

	return v ? v->ifname : ft_ifname(ifindex, buf);
}

static void ft_human_flow(const struct ft_report *r, const struct ft_cflow *f)
{
	const struct ft_flow_key *k = &f->f.key;
	const struct ft_cveth *v = ft_report_veth(r, k->ifindex);
	char ifn[IF_NAMESIZE], src[64], dst[64], pb[8], fl[64], b[32], ends[160];
	bool v6 = k->family == FT_FAMILY_IPV6;

	ft_addr_str(k->family, k->src, src, sizeof(src));
	ft_addr_str(k->family, k->dst, dst, sizeof(dst));
	if (ft_is_icmp(k->family, k->proto))
		snprintf(ends, sizeof(ends), "%s -> %s type %u/%u", src, dst, k->sport, k->dport);
	else
		snprintf(ends, sizeof(ends), "%s%s%s:%u -> %s%s%s:%u", v6 ? "[" : "", src,
			 v6 ? "]" : "", k->sport, v6 ? "[" : "", dst, v6 ? "]" : "", k->dport);
	printf("  %-10s %-7s %-6s %-44s %9llu pkts %10s  %s%s%s",
	       ft_human_ifname(r, k->ifindex, ifn), ft_dir_name(k->dir),
	       ft_proto_name(k->proto, pb, sizeof(pb)), ends, ft_cflow_dpackets(f),
	       ft_human_size(ft_cflow_dbytes(f), b, sizeof(b), "B"),
	       ft_tcp_flags_str(f->f.v.tcp_flags, fl, sizeof(fl)), f->reason ? " ended:" : "",
	       f->reason ? ft_end_reason_name(f->reason) : "");
	if (v)
		printf("  container=%s %s", v->labels.container, ft_ct_dir_name(k->dir));
	printf("\n");
}

/* What `sudo make run` shows: per interval, traffic per interface and the
 * busiest flows. */
static void ft_human_report(const struct run_ctx *rc, const struct ft_report *r)
{
	const struct ft_coll_stats *st = r->st;
	size_t top = rc->cfg.sl.top ? rc->cfg.sl.top : 10, i;
	struct ft_cflow **best = calloc(top, sizeof(*best));
	char ts[32], ifn[IF_NAMESIZE], b1[32], b2[32];
	time_t now = time(NULL);
	size_t shown = 0;

	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime(&now));
	printf("--- %s  %.1fs  flows %zu (active %zu, new %zu, ended %zu)  table %zu/%zu%s\n", ts,
	       r->interval, st->flows, st->active, st->created, st->ended,
	       st->kernel_entries - st->kernel_deleted, st->capacity, r->final ? "  final" : "");
	if (r->flow_overflow || r->http_samples_lost)
		printf("  LOSSES: %llu packets not in the flow table (full), %llu HTTP samples "
		       "dropped\n",
		       r->flow_overflow, r->http_samples_lost);
	if (r->tcp_hs_timeouts)
		printf("  %llu TCP connection attempts unanswered\n", r->tcp_hs_timeouts);
	if (r->dd.valid && (r->dd.dup_packets || rc->cw))
		printf("  counted once: %llu pkts %s (%llu pkts were seen at more than one "
		       "point)\n",
		       r->dd.packets, ft_human_size(r->dd.bytes, b1, sizeof(b1), "B"),
		       r->dd.dup_packets);
	for (i = 0; i < r->nifs; i++) {
		struct ft_counter t;

		ft_if_total(&r->ifs[i].d, &t);
		if (!t.packets)
			continue;
		if (!shown++)
			printf("  %-10s %-7s %15s %10s %14s\n", "IFACE", "DIR", "PACKETS", "BYTES",
			       "RATE");
		printf("  %-10s %-7s %10llu pkts %10s %14s\n",
		       ft_human_ifname(r, r->ifs[i].ifindex, ifn), ft_dir_name(r->ifs[i].dir),
		       t.packets, ft_human_size(t.bytes, b1, sizeof(b1), "B"),
		       ft_human_size(r->interval > 0 ? t.bytes * 8 / r->interval : 0, b2,
				     sizeof(b2), "bit/s"));
	}
	if (best) {
		/* Same ranking as syslog's top flows. */
		size_t n = 0, j;

		for (i = 0; i < r->nrecs; i++) {
			struct ft_cflow *f = r->recs[i];
			__u64 by = ft_cflow_dbytes(f);

			if (!ft_cflow_dpackets(f) ||
			    (n == top && by <= ft_cflow_dbytes(best[n - 1])))
				continue;
			j = n < top ? n++ : top - 1;
			while (j > 0 && ft_cflow_dbytes(best[j - 1]) < by) {
				best[j] = best[j - 1];
				j--;
			}
			best[j] = f;
		}
		if (n)
			printf("  top flows by bytes in the interval:\n");
		for (i = 0; i < n; i++)
			ft_human_flow(r, best[i]);
		free(best);
	}
	fflush(stdout);
}

static void ft_run_report(struct run_ctx *rc, const struct ft_report *r)
{
	if (rc->flowlog)
		ft_flowlog_write(rc->flowlog, r);
	if (rc->syslog_open)
		ft_syslog_report(&rc->cfg.sl, r);
	if (rc->ipfix)
		ft_ipfix_report(rc->ipfix, r);
	if (rc->metrics)
		ft_metrics_publish(r);
	if (rc->human)
		ft_human_report(rc, r);
}

/* Samples that could not be handled in one poll wait for the next: a
 * flood must not keep the loop from its interval. */
#define FT_HTTP_BATCH 4096

static int ft_http_sample(void *ctx, void *data, size_t len)
{
	struct run_ctx *rc = ctx;

	if (len < sizeof(struct ft_http_event))
		return 0;
	rc->http_samples++;
	if (rc->cfg.http_log && rc->flowlog)
		ft_flowlog_sample(rc->flowlog, data);
	return ++rc->http_batch >= FT_HTTP_BATCH ? -EAGAIN : 0;
}

/*
 * The collector consumes the HTTP sample ring buffer: unconsumed, it would
 * stay full and every later sample would count as lost. (A ring buffer has
 * one consumer position: `flowtap http` running meanwhile sees part of
 * the samples; http_log = yes keeps them all in the flow log.)
 */
static void ft_run_http_open(struct run_ctx *rc)
{
	int fd = ft_map_fd(rc->root, "ft_http_rb");

	if (fd < 0)
		return;
	rc->http_rb = ring_buffer__new(fd, ft_http_sample, rc, NULL);
	close(fd); /* the ring buffer holds its own reference */
	if (!rc->http_rb)
		pr_warn("run: HTTP samples unavailable: %s\n", strerror(errno));
}

/* Waits up to ms for samples, link notifications (or a signal), handling
 * what comes. */
static void ft_run_wait(struct run_ctx *rc, int ms)
{
	struct pollfd p[2];
	int n = 0, rb = -1, cw = -1;

	if (rc->http_rb) {
		rb = n;
		p[n++] =
		    (struct pollfd){.fd = ring_buffer__epoll_fd(rc->http_rb), .events = POLLIN};
	}
	if (rc->cw) {
		cw = n;
		p[n++] = (struct pollfd){.fd = ft_cwatch_fd(rc->cw), .events = POLLIN};
	}
	if (poll(p, n, ms) <= 0) {
		p[0].revents = p[1].revents = 0;
	}
	if (rb >= 0 && p[rb].revents) {
		rc->http_batch = 0;
		ring_buffer__consume(rc->http_rb);
	}
	if (cw >= 0)
		ft_run_containers_poll(rc, p[cw].revents != 0);
}

/*
 * Interfaces that went away without a watcher event -- a deleted NIC, a
 * veth attached by hand -- once their counters were reported: like a
 * removed container veth, their flows end (forced) and the datapath
 * forgets them, so that churn leaves no hash entries or counter slots.
 */
static void ft_run_forget_gone(struct run_ctx *rc)
{
	const struct ft_if_totals *t = rc->coll.ifprev;
	char name[IF_NAMESIZE];
	int done[16], ndone = 0, j, r;
	size_t i;

	for (i = 0; i < rc->coll.nifprev && ndone < 16; i++) {
		int idx = t[i].ifindex;

		for (j = 0; j < ndone && done[j] != idx; j++)
			;
		if (j < ndone || idx == FT_IFINDEX_OTHER || if_indextoname(idx, name) ||
		    errno != ENXIO || (rc->cw && ft_cwatch_get(rc->cw, idx)))
			continue; /* a followed veth's removal comes as an event */
		done[ndone++] = idx;
		r = ft_collector_forget_iface(&rc->coll, idx);
		if (r >= 0)
			r = ft_ct_forget(rc->root, idx);
		if (r < 0)
			pr_warn("run: forgetting interface %d, which went away: %s\n", idx,
				strerror(-r));
		if (ft_meta_del(&rc->meta, idx))
			ft_run_meta_changed(rc);
	}
}

static int ft_run_cycle(struct run_ctx *rc, bool final)
{
	int err;

	if (rc->http_rb) {
		rc->http_batch = 0;
		ring_buffer__consume(rc->http_rb);
	}
	err = ft_collector_cycle(&rc->coll, final);
	if (err)
		return err;
	rc->coll.rep.http_samples = rc->http_samples;
	rc->http_samples = 0;
	rc->coll.rep.veth = ft_run_veth;
	rc->coll.rep.veth_ctx = rc;
	if (ft_collector_dedup(&rc->coll))
		pr_warn("run: no memory for the de-duplicated totals of this interval\n");
	pr_debug("drain: %zu entries, %zu records, %.3f ms (%.3f ms CPU)\n",
		 rc->coll.rep.st->kernel_entries, rc->coll.rep.nrecs,
		 rc->coll.rep.st->drain_ns / 1e6, rc->coll.rep.st->drain_cpu_ns / 1e6);
	ft_run_report(rc, &rc->coll.rep);
	err = ft_collector_commit(&rc->coll);
	rc->ngone = 0; /* their end records are out */
	if (!final)
		ft_run_forget_gone(rc);
	return err;
}

static void ft_run_loop(struct run_ctx *rc)
{
	const __u64 step = (__u64)(rc->cfg.interval * 1e9);
	__u64 next = mono_ns() + step, now;

	while (!ft_stop) {
		if (ft_reopen) {
			ft_reopen = 0;
			if (rc->flowlog && ft_flowlog_reopen(rc->flowlog))
				pr_err("run: reopening %s: %s\n", rc->cfg.flow_log,
				       strerror(errno));
		}
		now = mono_ns();
		if (now < next) {
			__u64 wait = next - now;

			/* Short waits: a signal between the check and the wait
			 * delays the exit by at most this. */
			if (wait > 200000000ULL)
				wait = 200000000ULL;
			ft_run_wait(rc, (int)((wait + 999999) / 1000000));
			continue;
		}
		ft_run_cycle(rc, false);
		next += step;
		if (next <= mono_ns())
			next = mono_ns() + step; /* a slow cycle: do not bunch up */
	}
}

static int ft_run_sinks(struct run_ctx *rc)
{
	struct ft_run_config *c = &rc->cfg;
	int err;

	if (c->flow_log[0]) {
		rc->flowlog =
		    ft_flowlog_open(c->flow_log, c->flow_log_size, c->flow_log_keep, &err);
		if (!rc->flowlog) {
			pr_err("run: flow log %s: %s\n", c->flow_log, strerror(-err));
			return err;
		}
	}
	if (c->ipfix) {
		rc->ipfix = ft_ipfix_open(&c->ipfix_dst, c->ipfix_tcp, c->ipfix_domain,
					  c->ipfix_template_refresh, rc->containers);
		if (!rc->ipfix) {
			if (ft_ipfix_available())
				pr_err("run: cannot set up IPFIX export to %s\n",
				       c->ipfix_dst.text);
			return -EINVAL;
		}
	}
	if (c->syslog) {
		ft_syslog_open(&c->sl);
		rc->syslog_open = true;
	}
	rc->human = isatty(STDOUT_FILENO) || !(c->flow_log[0] || c->ipfix || c->syslog);
	return 0;
}

static void ft_run_close_sinks(struct run_ctx *rc)
{
	ft_flowlog_close(rc->flowlog);
	ft_ipfix_close(rc->ipfix);
	if (rc->syslog_open)
		ft_syslog_close();
	if (rc->metrics)
		ft_metrics_stop();
}

/* Comma-separated fnmatch(3) patterns from the command line. */
static int ft_run_patterns(char *dst, const char *v, const char *opt)
{
	if (!v)
		return 0;
	if (strlen(v) >= FT_RUN_PATTERNS_MAX) {
		pr_err("run: %s: at most %d characters\n", opt, FT_RUN_PATTERNS_MAX - 1);
		return -EINVAL;
	}
	snprintf(dst, FT_RUN_PATTERNS_MAX, "%s", v);
	return 0;
}

/* Config file first, then the command line over it. */
static int ft_run_configure(struct ft_run_config *c, const struct run_opts *o)
{
	unsigned long top;
	size_t i;

	ft_run_config_default(c);
	if (o->config && ft_config_load(c, o->config))
		return -EINVAL;
	if (o->ifaces.n) {
		c->ifaces.n = 0;
		for (i = 0; i < o->ifaces.n; i++)
			c->ifaces.v[c->ifaces.n++] = o->ifaces.v[i];
	}
	if (o->hook) {
		if (!strcmp(o->hook, "auto"))
			c->hook = FT_RUN_HOOK_AUTO;
		else if (!strcmp(o->hook, "xdp"))
			c->hook = FT_RUN_HOOK_XDP;
		else if (!strcmp(o->hook, "tc"))
			c->hook = FT_RUN_HOOK_TC;
		else
			return pr_err("run: invalid value '%s' for --hook (auto|xdp|tc)\n",
				      o->hook),
			       -EINVAL;
	}
	/* The option table refuses 0: > 0 means given. */
	if (o->interval > 0)
		c->interval = o->interval;
	if (c->interval < 0.1 || c->interval > 86400) {
		pr_err("run: --interval must be between 100ms and 1 day\n");
		return -EINVAL;
	}
	if (o->syslog_top) {
		if (ft_parse_uint(o->syslog_top, 10000, &top)) {
			pr_err("run: invalid value '%s' for --syslog-top (0..10000)\n",
			       o->syslog_top);
			return -EINVAL;
		}
		c->sl.top = top;
		c->syslog = true;
	}
	c->syslog |= o->syslog;
	if (o->flow_log) {
		if (!*o->flow_log || strlen(o->flow_log) >= sizeof(c->flow_log)) {
			pr_err("run: invalid --flow-log path\n");
			return -EINVAL;
		}
		snprintf(c->flow_log, sizeof(c->flow_log), "%s", o->flow_log);
	}
	if (o->ipfix.len) {
		c->ipfix = true;
		c->ipfix_dst = o->ipfix;
	}
	c->ipfix_tcp |= o->ipfix_tcp;
	if (c->ipfix && !ft_addrport_port(&c->ipfix_dst)) {
		pr_err("run: the IPFIX collector %s needs a port (1..65535)\n", c->ipfix_dst.text);
		return -EINVAL;
	}
	if (o->metrics.len) {
		c->metrics = true;
		c->metrics_addr = o->metrics;
	}
	if (o->containers && o->no_containers) {
		pr_err("run: --containers and --no-containers contradict each other\n");
		return -EINVAL;
	}
	if (o->containers)
		c->containers = FT_RUN_CT_ON;
	if (o->no_containers)
		c->containers = FT_RUN_CT_OFF;
	if (ft_run_patterns(c->containers_include, o->ct_include, "--containers-include") ||
	    ft_run_patterns(c->containers_exclude, o->ct_exclude, "--containers-exclude"))
		return -EINVAL;
	if (o->metrics_retention > 0)
		c->metrics_retention = o->metrics_retention;
	c->keep |= o->keep;
	if (o->flows)
		c->flow_table_size = o->flows;
	if (o->no_checkpoint)
		c->checkpoint = false;
	if (!c->ifaces.n) {
		char name[IF_NAMESIZE];

		ft_default_iface(name);
		if (ft_parse_iface(name, &c->ifaces.v[0])) {
			pr_err("run: no interface given and '%s' does not exist\n", name);
			return -ENODEV;
		}
		c->ifaces.n = 1;
	}
	return 0;
}

static void ft_run_banner(const struct run_ctx *rc)
{
	size_t i;

	if (!rc->human)
		return;
	printf("flowtap run: collecting on");
	for (i = 0; i < rc->cfg.ifaces.n; i++)
		printf(" %s", rc->cfg.ifaces.v[i].name);
	if (rc->cw)
		printf(" and container veths");
	printf(" every %gs; Ctrl-C to stop\n", rc->cfg.interval);
	fflush(stdout);
}

/* A run that fails to start leaves no pins behind if there were none. */
static void ft_run_unwind(const char *root)
{
	struct ft_attachment *list = NULL;
	size_t n = 0;

	if (!ft_status(&list, &n) && !n)
		ft_detach_all(root);
	free(list);
}

static bool ft_datapath_pinned(const char *root)
{
	int fd = ft_map_fd(root, "ft_flows");

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The exporter, with the container labels of this run's veths. */
static int ft_run_metrics_start(struct run_ctx *rc)
{
	struct ft_metrics_cfg mc;

	ft_metrics_cfg_default(&mc);
	mc.pin_root = rc->root;
	if (rc->cfg.metrics_retention > 0)
		mc.retention = rc->cfg.metrics_retention;
	mc.labels = ft_run_metrics_labels;
	mc.labels_ctx = rc;
	return ft_metrics_start_cfg(&rc->cfg.metrics_addr, &mc);
}

static int run_main(void *p, int argc, char **argv)
{
	struct run_ctx rc = {.lock_fd = -1};
	struct sigaction sa = {.sa_handler = ft_on_hup};
	bool had;
	int err, ret = 1;

	(void)argc;
	(void)argv;
	if (ft_run_configure(&rc.cfg, p))
		return 2;
	/* Before anything is created: a missing capability is named, not
	 * found out by the first kernel call that fails. */
	if (ft_require_caps("run", true))
		return 1;
	rc.root = ft_pin_root();
	rc.containers = ft_run_want_containers(&rc.cfg);
	ft_signals_init();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	had = ft_datapath_pinned(rc.root);
	if (ft_pin_root_check(rc.root))
		return 1;
	rc.lock_fd = ft_run_lock(rc.root);
	if (rc.lock_fd < 0) {
		if (!had)
			ft_run_unwind(rc.root);
		return 1;
	}
	if (ft_run_sinks(&rc))
		goto out;
	if (rc.cfg.metrics) {
		/* It said why it failed. */
		if (ft_run_metrics_start(&rc))
			goto out;
		rc.metrics = true;
	}
	if (ft_run_attach(&rc))
		goto out;
	err = ft_collector_open(&rc.coll, rc.root, &rc.cfg.coll, rc.cfg.checkpoint);
	if (err) {
		ft_fail("run", "opening the flow table", err);
		goto release;
	}
	rc.coll_open = true;
	if (rc.containers && ft_run_containers_start(&rc))
		goto release;
	ft_run_http_open(&rc);
	ft_run_banner(&rc);
	ft_run_loop(&rc);
	/* The last cycle: every flow's record closes, reason forced. */
	if (ft_run_cycle(&rc, true))
		pr_err("run: the final drain failed; the last interval is not reported\n");
	ret = 0;
release:
	ft_cwatch_free(rc.cw);
	rc.cw = NULL;
	free(rc.gone);
	if (rc.coll_open)
		ft_collector_close(&rc.coll);
	ft_run_release(&rc);
out:
	if (ret && !had)
		ft_run_unwind(rc.root);
	ring_buffer__free(rc.http_rb);
	ft_run_close_sinks(&rc);
	if (rc.lock_fd >= 0)
		close(rc.lock_fd);
	return ret;
}

static const struct ft_opt run_opts_table[] = {
    {"interface", 'i', FT_OPT_IFACE, offsetof(struct run_opts, ifaces), "IFACE",
     "collect on this interface (repeatable; default: the default route's, or lo)"},
    {"hook", 0, FT_OPT_STRING, offsetof(struct run_opts, hook), "auto|xdp|tc",
     "how to attach (default auto: XDP on NICs, TC on veths)"},
    {"interval", 0, FT_OPT_DURATION, offsetof(struct run_opts, interval), "SECONDS",
     "report every SECONDS, 100ms to 1 day (default 10)", NULL, 86400000, 100},
    {"syslog", 0, FT_OPT_FLAG, offsetof(struct run_opts, syslog), NULL,
     "summaries to syslog (ident flowtap)"},
    {"syslog-top", 0, FT_OPT_STRING, offsetof(struct run_opts, syslog_top), "N",
     "top N flows per interval to syslog (default 10; implies --syslog)"},
    {"flow-log", 0, FT_OPT_STRING, offsetof(struct run_opts, flow_log), "FILE",
     "JSON lines flow records, rotated by size"},
    {"ipfix", 0, FT_OPT_ADDRPORT, offsetof(struct run_opts, ipfix), "HOST:PORT",
     "export IPFIX over UDP to this collector"},
    {"ipfix-tcp", 0, FT_OPT_FLAG, offsetof(struct run_opts, ipfix_tcp), NULL,
     "export IPFIX over TCP instead"},
    {"metrics", 0, FT_OPT_ADDRPORT, offsetof(struct run_opts, metrics), "ADDR:PORT",
     "serve Prometheus metrics"},
    {"metrics-retention", 0, FT_OPT_DURATION, offsetof(struct run_opts, metrics_retention),
     "DURATION", "keep a gone interface's series this long, at least 1s (default 5m)", NULL, 0,
     1000},
    {"containers", 0, FT_OPT_FLAG, offsetof(struct run_opts, containers), NULL,
     "follow container veths: attach TC, label flows (default: when a runtime is installed)"},
    {"no-containers", 0, FT_OPT_FLAG, offsetof(struct run_opts, no_containers), NULL,
     "do not follow container veths"},
    {"containers-include", 0, FT_OPT_STRING, offsetof(struct run_opts, ct_include), "PATTERNS",
     "only container veths whose name matches one of these comma-separated globs"},
    {"containers-exclude", 0, FT_OPT_STRING, offsetof(struct run_opts, ct_exclude), "PATTERNS",
     "skip container veths whose name matches one of these comma-separated globs"},
    {"config", 0, FT_OPT_STRING, offsetof(struct run_opts, config), "FILE",
     "configuration file (docs/config.md); options override it"},
    {"keep", 0, FT_OPT_FLAG, offsetof(struct run_opts, keep), NULL,
     "leave the datapath attached at exit"},
    {"flow-table-size", 0, FT_OPT_UINT, offsetof(struct run_opts, flows), "N",
     "flow table entries when first loaded (default 65536)", NULL, 1UL << 26, 1},
    {"no-checkpoint", 0, FT_OPT_FLAG, offsetof(struct run_opts, no_checkpoint), NULL,
     "do not keep restart checkpoints next to the datapath"},
    FT_OPT_END,
};

static const struct ft_cmd run_cmd = {
    .name = "run",
    .summary = "attach, collect flows and report them periodically",
    .opts = run_opts_table,
    .cfg_size = sizeof(struct run_opts),
    .max_args = 0,
    .run = run_main,
};

int ft_cmd_run(int argc, char **argv)
{
	return ft_cmd_exec(&run_cmd, argc, argv);
}
