// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include "cli.h"
#include "datapath.h"
#include "log.h"
#include "state.h"
#include "flowtap_xdp.skel.h"
#include "flowtap_tc.skel.h"
#include "flowtap_drops.skel.h"

/* Our TC filters: a fixed handle at priority 1, so flowtap sees packets
 * before filters that may redirect or drop them. */
#define FT_TC_HANDLE 0xf10
#define FT_TC_PRIO   1

static const char *const prog_pin_names[FT_PROG_MAX] = {
    [FT_PROG_XDP] = "xdp",
    [FT_PROG_TC_INGRESS] = "tc_ingress",
    [FT_PROG_TC_EGRESS] = "tc_egress",
};

void ft_knobs_default(struct ft_knobs *k)
{
	k->flow_table_size = FT_DEFAULT_FLOWS;
	k->http_sample_rate = 1;
	k->http_keep_query = false;
}

int ft_pin_root_check(const char *root)
{
	char parent[512];
	struct statfs st;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", root);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	if (statfs(parent, &st) || st.f_type != BPF_FS_MAGIC) {
		pr_err("bpffs is not mounted at %s (mount -t bpf bpf %s)\n", parent, parent);
		return -ENOENT;
	}
	if (mkdir(root, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s\n", root, strerror(errno));
		return -errno;
	}
	return 0;
}

static void ft_pin_path(char *buf, size_t len, const char *root, const char *sub, const char *name)
{
	snprintf(buf, len, "%s/%s%s%s", root, sub ? sub : "", sub ? "/" : "", name);
}

int ft_map_fd(const char *root, const char *name)
{
	char path[512];
	int fd;

	ft_pin_path(path, sizeof(path), root, NULL, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* A flow table pinned by an earlier load keeps its size: reuse needs it. */
static __u32 ft_flow_table_size(const char *root, const struct ft_knobs *k)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = ft_map_fd(root, "ft_flows");

	if (fd < 0)
		return k->flow_table_size;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = k->flow_table_size;
	close(fd);
	return info.max_entries;
}

static int ft_pin_prog(struct bpf_program *prog, const char *root, enum ft_prog_kind kind)
{
	char path[512];
	int err;

	ft_pin_path(path, sizeof(path), root, "progs", prog_pin_names[kind]);
	err = bpf_program__pin(prog, path);
	if (err)
		pr_err("cannot pin program at %s: %s\n", path, strerror(-err));
	return err;
}

/*
 * Counts kernel drops from the kfree_skb tracepoint; its link is pinned so
 * it outlives this process like the rest of the datapath. Optional: a
 * kernel without BTF still gets flow accounting.
 */
static void ft_drops_load(const char *root)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = root);
	struct flowtap_drops *d = flowtap_drops__open_opts(&oo);
	struct bpf_link *link = NULL;
	struct btf *vmlinux;
	char path[512];
	int err;

	if (!d)
		goto fail;
	vmlinux = btf__load_vmlinux_btf();
	d->rodata->ft_has_reason =
	    !libbpf_get_error(vmlinux) &&
	    btf__find_by_name_kind(vmlinux, "skb_drop_reason", BTF_KIND_ENUM) >= 0;
	btf__free(libbpf_get_error(vmlinux) ? NULL : vmlinux);
	if (flowtap_drops__load(d))
		goto fail;
	link = bpf_program__attach(d->progs.flowtap_drops); /* tp_btf/kfree_skb */
	if (libbpf_get_error(link)) {
		link = NULL;
		goto fail;
	}
	ft_pin_path(path, sizeof(path), root, "progs", "drops_link");
	err = bpf_link__pin(link, path);
	if (err)
		goto fail;
	bpf_link__destroy(link); /* the pin keeps it attached */
	flowtap_drops__destroy(d);
	return;
fail:
	pr_warn("kernel drop counting unavailable: %s\n", strerror(errno));
	bpf_link__destroy(link);
	flowtap_drops__destroy(d);
}

/*
 * Loads both objects with maps pinned by name under root (libbpf reuses
 * maps already there) and pins the programs under root/progs.
 */
static int ft_datapath_load(const char *root, const struct ft_knobs *k)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = root);
	struct flowtap_xdp *x = NULL;
	struct flowtap_tc *t = NULL;
	__u32 flows = ft_flow_table_size(root, k);
	char dir[512];
	int err;

	ft_pin_path(dir, sizeof(dir), root, NULL, "progs");
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;

	x = flowtap_xdp__open_opts(&oo);
	t = flowtap_tc__open_opts(&oo);
	if (!x || !t) {
		err = -errno;
		pr_err("cannot open the BPF objects: %s\n", strerror(-err));
		goto out;
	}
	x->rodata->ft_http_sample_rate = t->rodata->ft_http_sample_rate = k->http_sample_rate;
	x->rodata->ft_http_keep_query = t->rodata->ft_http_keep_query = k->http_keep_query;
	bpf_map__set_max_entries(x->maps.ft_flows, flows);
	bpf_map__set_max_entries(t->maps.ft_flows, flows);

	err = flowtap_xdp__load(x);
	if (!err)
		err = flowtap_tc__load(t);
	if (err) {
		pr_err("cannot load the BPF programs: %s (run with -v for the verifier log)\n",
		       strerror(-err));
		goto out;
	}
	err = ft_pin_prog(x->progs.flowtap_xdp, root, FT_PROG_XDP);
	if (!err)
		err = ft_pin_prog(t->progs.flowtap_tc_ingress, root, FT_PROG_TC_INGRESS);
	if (!err)
		err = ft_pin_prog(t->progs.flowtap_tc_egress, root, FT_PROG_TC_EGRESS);
	if (!err)
		ft_drops_load(root);
out:
	flowtap_xdp__destroy(x);
	flowtap_tc__destroy(t);
	return err;
}

int ft_datapath_prog_fd(const char *root, const struct ft_knobs *k, enum ft_prog_kind kind)
{
	char path[512];
	int fd, lock, err;

	ft_pin_path(path, sizeof(path), root, "progs", prog_pin_names[kind]);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	err = ft_pin_root_check(root);
	if (err)
		return err;
	/* Serialise first loads: two commands must not pin two datapaths. */
	lock = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		err = -errno;
		pr_err("cannot lock %s: %s\n", root, strerror(errno));
		goto out;
	}
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = ft_datapath_load(root, k);
		if (!err)
			fd = bpf_obj_get(path);
		if (!err && fd < 0)
			err = -errno;
	}
out:
	if (lock >= 0)
		close(lock);
	return fd >= 0 ? fd : err;
}

/*
 * Which programs are flowtap's: those pinned under the pin root, compared
 * by id. Opening a pin needs no CAP_SYS_ADMIN (only the pin's file mode),
 * unlike BPF_PROG_GET_FD_BY_ID, so status, detach and run's cleanup work
 * with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (docs/security.md).
 */
struct ft_own {
	__u32 id[FT_PROG_MAX];
};

static __u32 ft_pinned_prog_id(const char *root, enum ft_prog_kind kind)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char path[512];
	int fd;

	ft_pin_path(path, sizeof(path), root, "progs", prog_pin_names[kind]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static void ft_own_load(struct ft_own *o)
{
	int k;

	for (k = 0; k < FT_PROG_MAX; k++)
		o->id[k] = ft_pinned_prog_id(ft_pin_root(), k);
}

/* Name of a loaded program (kernel-truncated to 15 characters). Needs
 * CAP_SYS_ADMIN (BPF_PROG_GET_FD_BY_ID). */
static int ft_prog_name(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
		close(fd);
		return -errno;
	}
	close(fd);
	snprintf(name, len, "%s", info.name);
	return 0;
}

/* A pinned program, or (with CAP_SYS_ADMIN) one named flowtap_*: that
 * also finds the programs of a datapath whose pins were removed. */
static bool ft_prog_is_ours(const struct ft_own *o, __u32 id)
{
	char name[32];
	int k;

	if (!id)
		return false;
	for (k = 0; k < FT_PROG_MAX; k++)
		if (o->id[k] == id)
			return true;
	return !ft_prog_name(id, name, sizeof(name)) && !strncmp(name, "flowtap_", 8);
}

/* An fd of our program id: its pin, else by id (CAP_SYS_ADMIN). */
static int ft_own_fd(const struct ft_own *o, __u32 id)
{
	char path[512];
	int k, fd;

	for (k = 0; k < FT_PROG_MAX; k++) {
		if (o->id[k] != id)
			continue;
		ft_pin_path(path, sizeof(path), ft_pin_root(), "progs", prog_pin_names[k]);
		fd = bpf_obj_get(path);
		if (fd >= 0)
			return fd;
	}
	fd = bpf_prog_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

enum ft_hook ft_hook_for(int ifindex)
{
	char name[IF_NAMESIZE], path[128];

	if (!if_indextoname(ifindex, name))
		return FT_HOOK_TC;
	/* Physical NICs have a bus device behind them; veths, bridges and lo
	 * do not. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
	return access(path, F_OK) ? FT_HOOK_TC : FT_HOOK_XDP;
}

/* The XDP programs on a link, by mode (netlink: no capability needed). */
struct ft_xdp_ids {
	__u32 drv, skb, hw;
};

static int ft_xdp_ids(int ifindex, struct ft_xdp_ids *x)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query(ifindex, 0, &q);

	memset(x, 0, sizeof(*x));
	if (err)
		return err;
	x->drv = q.drv_prog_id;
	x->skb = q.skb_prog_id;
	x->hw = q.hw_prog_id;
	return 0;
}

/* Our XDP program on a link and its mode flag (XDP_FLAGS_*_MODE); 0 if
 * none. flowtap attaches its pinned program itself, so it is never one of
 * the programs behind someone else's libxdp dispatcher. */
static __u32 ft_xdp_ours(const struct ft_own *o, const struct ft_xdp_ids *x, __u32 *flags)
{
	if (ft_prog_is_ours(o, x->skb)) {
		*flags = XDP_FLAGS_SKB_MODE;
		return x->skb;
	}
	if (ft_prog_is_ours(o, x->drv)) {
		*flags = XDP_FLAGS_DRV_MODE;
		return x->drv;
	}
	if (ft_prog_is_ours(o, x->hw)) {
		*flags = XDP_FLAGS_HW_MODE;
		return x->hw;
	}
	return 0;
}

/*
 * Attaches the pinned program with libbpf (netlink), only where the
 * interface has no XDP program yet. With --mode auto the kernel picks
 * native where the driver has it, else generic (skb) as a fallback.
 */
static int ft_attach_xdp(const char *root, const struct ft_knobs *k, int ifindex,
			 enum ft_xdp_mode mode)
{
	static const __u32 mode_flags[] = {
	    [FT_XDP_AUTO] = 0,
	    [FT_XDP_NATIVE] = XDP_FLAGS_DRV_MODE,
	    [FT_XDP_SKB] = XDP_FLAGS_SKB_MODE,
	};
	char name[IF_NAMESIZE] = "?";
	struct ft_xdp_ids x;
	struct ft_own o;
	__u32 flags;
	int fd, err;

	if_indextoname(ifindex, name);
	ft_own_load(&o);
	if (!ft_xdp_ids(ifindex, &x) && ft_xdp_ours(&o, &x, &flags)) {
		pr_err("already attached to %s\n", name);
		return -EEXIST;
	}
	fd = ft_datapath_prog_fd(root, k, FT_PROG_XDP);
	if (fd < 0)
		return fd;
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_UPDATE_IF_NOEXIST | mode_flags[mode], NULL);
	if (err && mode == FT_XDP_AUTO && err != -EEXIST && err != -EBUSY && err != -EPERM &&
	    err != -EACCES)
		err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE,
				     NULL);
	if (err == -EEXIST || err == -EBUSY)
		pr_err("%s already has an XDP program (see 'flowtap status'; try --tc)\n", name);
	else if (err)
		pr_err("cannot attach XDP to %s: %s\n", name, strerror(-err));
	close(fd);
	return err;
}

/* Detaches our XDP program: only if it is still the one attached
 * (XDP_FLAGS_REPLACE with its fd, where the pin gives one). 1 if done. */
static int ft_detach_xdp(const struct ft_own *o, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	struct ft_xdp_ids x;
	__u32 flags, id;
	int fd, err;

	if (ft_xdp_ids(ifindex, &x))
		return 0;
	id = ft_xdp_ours(o, &x, &flags);
	if (!id)
		return 0;
	fd = ft_own_fd(o, id);
	if (fd >= 0) {
		ao.old_prog_fd = fd;
		flags |= XDP_FLAGS_REPLACE;
	}
	err = bpf_xdp_detach(ifindex, flags, &ao);
	if (fd >= 0)
		close(fd);
	return !err;
}

static int ft_tc_query(int ifindex, enum bpf_tc_attach_point where, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FT_TC_HANDLE, .priority = FT_TC_PRIO);
	int err = bpf_tc_query(&hook, &opts);

	*prog_id = err ? 0 : opts.prog_id;
	return err;
}

/* Filters still on the clsact qdisc after ours went: if none, the qdisc
 * goes too, so detach leaves the interface as it found it. */
static int ft_tc_filters_left(int ifindex)
{
	static const __u32 parents[] = {TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
					TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)};
	struct nl_sock *sk = nl_socket_alloc();
	int left = 0;
	size_t i;

	if (!sk || nl_connect(sk, NETLINK_ROUTE)) {
		nl_socket_free(sk);
		return 1; /* unknown: keep the qdisc */
	}
	for (i = 0; i < 2; i++) {
		struct nl_cache *cache = NULL;

		if (rtnl_cls_alloc_cache(sk, ifindex, parents[i], &cache)) {
			left = 1;
			continue;
		}
		left += nl_cache_nitems(cache);
		nl_cache_free(cache);
	}
	nl_socket_free(sk);
	return left;
}

static int ft_detach_tc(const struct ft_own *o, int ifindex)
{
	static const enum bpf_tc_attach_point points[] = {BPF_TC_INGRESS, BPF_TC_EGRESS};
	int found = 0;
	size_t i;

	for (i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = points[i]);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FT_TC_HANDLE, .priority = FT_TC_PRIO);
		__u32 id;

		if (ft_tc_query(ifindex, points[i], &id) || !ft_prog_is_ours(o, id))
			continue;
		if (!bpf_tc_detach(&hook, &opts))
			found++;
	}
	if (found && !ft_tc_filters_left(ifindex)) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
	return found;
}

static int ft_attach_tc(const char *root, const struct ft_knobs *k, int ifindex)
{
	static const enum bpf_tc_attach_point points[] = {BPF_TC_INGRESS, BPF_TC_EGRESS};
	static const enum ft_prog_kind kinds[] = {FT_PROG_TC_INGRESS, FT_PROG_TC_EGRESS};
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	char name[IF_NAMESIZE] = "?";
	bool created = false;
	struct ft_own o;
	int err = 0, fd;
	size_t i;
	__u32 id;

	if_indextoname(ifindex, name);
	ft_own_load(&o);
	for (i = 0; i < 2; i++) {
		if (ft_tc_query(ifindex, points[i], &id))
			continue;
		if (ft_prog_is_ours(&o, id))
			pr_err("already attached to %s\n", name);
		else
			pr_err("%s has another TC filter at handle 0x%x priority %d (program id "
			       "%u)\n",
			       name, FT_TC_HANDLE, FT_TC_PRIO, id);
		return -EEXIST;
	}
	err = bpf_tc_hook_create(&hook);
	if (err == -ENODEV) /* gone already: a container that came and went */
		return err;
	if (err && err != -EEXIST) {
		pr_err("cannot create clsact qdisc on %s: %s\n", name, strerror(-err));
		return err;
	}
	created = !err;
	for (i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FT_TC_HANDLE, .priority = FT_TC_PRIO);

		fd = ft_datapath_prog_fd(root, k, kinds[i]);
		if (fd < 0) {
			err = fd;
			break;
		}
		opts.prog_fd = fd;
		hook.attach_point = points[i];
		err = bpf_tc_attach(&hook, &opts);
		close(fd);
		if (err) {
			/* ENODEV: the device went while we attached; ft_attach()
			 * says so unless its caller follows containers, where a
			 * veth that comes and goes is no failure. */
			if (err != -ENODEV)
				pr_err("cannot attach TC %s to %s: %s\n", i ? "egress" : "ingress",
				       name, strerror(-err));
			break;
		}
	}
	if (err) {
		ft_own_load(&o); /* the datapath may be new */
		ft_detach_tc(&o, ifindex);
		if (created && !ft_tc_filters_left(ifindex)) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	return err;
}

int ft_attach(const char *root, const struct ft_knobs *k, int ifindex,
	      const struct ft_attach_opts *o)
{
	enum ft_hook hook = o->hook == FT_HOOK_AUTO ? ft_hook_for(ifindex) : o->hook;
	struct ft_attachment *list;
	size_t n, i;
	int err;

	/* One hook per interface: XDP and TC together would count twice. */
	err = ft_status(&list, &n);
	if (err)
		return err;
	for (i = 0; i < n && list[i].ifindex != ifindex; i++)
		;
	if (i < n) {
		pr_err("already attached to %s (%s)\n", list[i].ifname,
		       list[i].hook == FT_HOOK_XDP ? "xdp" : "tc");
		free(list);
		return -EEXIST;
	}
	free(list);
	if (hook == FT_HOOK_XDP)
		err = ft_attach_xdp(root, k, ifindex, o->mode);
	else
		err = ft_attach_tc(root, k, ifindex);
	if (err == -ENODEV && !o->gone_ok) /* ft_attach_tc() leaves this one to us */
		pr_err("cannot attach to ifindex %d: the device is gone\n", ifindex);
	/* Without a slot the interface is counted in the hash: slower, same
	 * numbers. */
	if (!err && ft_ifslot_claim(root, ifindex))
		pr_debug("no counter slot for ifindex %d; using the hash\n", ifindex);
	return err;
}

int ft_detach(int ifindex)
{
	struct ft_own o;
	int found;

	ft_own_load(&o);
	found = ft_detach_xdp(&o, ifindex);
	found += ft_detach_tc(&o, ifindex);
	return found ? 0 : -ENOENT;
}

static void ft_rm_pins(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			ft_rm_pins(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void ft_unload_if_unused(const char *root)
{
	struct ft_attachment *list;
	size_t n;

	if (ft_status(&list, &n))
		return;
	free(list);
	if (!n)
		ft_detach_all(root);
}

int ft_detach_all(const char *root)
{
	struct ft_attachment *list;
	size_t n, i;
	int err = ft_status(&list, &n);

	if (err)
		return err;
	for (i = 0; i < n; i++)
		ft_detach(list[i].ifindex);
	free(list);
	ft_rm_pins(root);
	/* libxdp (which attached XDP before flowtap did it with libbpf) made
	 * this lock directory even for a single program; it goes only if
	 * empty, so other XDP users' state is kept. */
	{
		const char *fs = getenv("LIBXDP_BPFFS");
		char path[512];

		snprintf(path, sizeof(path), "%s/xdp", fs && *fs ? fs : "/sys/fs/bpf");
		rmdir(path);
	}
	return 0;
}

/*
 * The XDP programs of every link, from one RTM_GETLINK dump. Asking per
 * link (bpf_xdp_query) would dump every link each time: quadratic,
 * seconds on a host with a thousand veths.
 */
struct ft_xdp_link {
	int ifindex;
	struct ft_xdp_ids ids;
};

struct ft_xdp_links {
	struct ft_xdp_link *v;
	size_t n, cap;
};

static int ft_xdp_links_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[IFLA_MAX + 1], *xdp[IFLA_XDP_MAX + 1];
	struct nlmsghdr *nh = nlmsg_hdr(msg);
	struct ft_xdp_links *l = arg;
	struct ifinfomsg *ifi = nlmsg_data(nh);
	struct ft_xdp_ids ids = {0};

	if (nlmsg_parse(nh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_XDP] ||
	    nla_parse_nested(xdp, IFLA_XDP_MAX, tb[IFLA_XDP], NULL) < 0)
		return NL_OK;
	/* The kernel reports each mode's program in its own attribute. */
	if (xdp[IFLA_XDP_DRV_PROG_ID])
		ids.drv = nla_get_u32(xdp[IFLA_XDP_DRV_PROG_ID]);
	if (xdp[IFLA_XDP_SKB_PROG_ID])
		ids.skb = nla_get_u32(xdp[IFLA_XDP_SKB_PROG_ID]);
	if (xdp[IFLA_XDP_HW_PROG_ID])
		ids.hw = nla_get_u32(xdp[IFLA_XDP_HW_PROG_ID]);
	if (!ids.drv && !ids.skb && !ids.hw)
		return NL_OK;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ft_xdp_link *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return NL_STOP;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].ifindex = ifi->ifi_index;
	l->v[l->n++].ids = ids;
	return NL_OK;
}

/* 0, or a negative errno: then every link is asked (slow but right). */
static int ft_xdp_links_get(struct ft_xdp_links *l)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	struct nl_sock *sk = nl_socket_alloc();
	int err = -ENOMEM;

	memset(l, 0, sizeof(*l));
	if (!sk || nl_connect(sk, NETLINK_ROUTE))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ft_xdp_links_cb, l);
	if (nl_send_simple(sk, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi)) < 0 ||
	    nl_recvmsgs_default(sk) < 0)
		goto out;
	err = 0;
out:
	nl_socket_free(sk);
	return err;
}

/* The XDP programs of ifindex: from the dump, or asked when it failed. */
static void ft_xdp_links_ids(const struct ft_xdp_links *l, int l_err, int ifindex,
			     struct ft_xdp_ids *x)
{
	size_t i;

	memset(x, 0, sizeof(*x));
	if (l_err) {
		ft_xdp_ids(ifindex, x);
		return;
	}
	for (i = 0; i < l->n; i++) {
		if (l->v[i].ifindex == ifindex) {
			*x = l->v[i].ids;
			return;
		}
	}
}

static void ft_status_one(const struct ft_own *o, int ifindex, const char *ifname,
			  const struct ft_xdp_ids *x, struct ft_attachment *a, bool *hit)
{
	__u32 in = 0, eg = 0, flags = 0, id;

	*hit = false;
	memset(a, 0, sizeof(*a));
	a->ifindex = ifindex;
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	id = ft_xdp_ours(o, x, &flags);
	if (id) {
		a->hook = FT_HOOK_XDP;
		a->mode = flags == XDP_FLAGS_SKB_MODE ? FT_XDP_SKB : FT_XDP_NATIVE;
		a->prog_id[0] = id;
		*hit = true;
		return;
	}
	ft_tc_query(ifindex, BPF_TC_INGRESS, &in);
	ft_tc_query(ifindex, BPF_TC_EGRESS, &eg);
	in = ft_prog_is_ours(o, in) ? in : 0;
	eg = ft_prog_is_ours(o, eg) ? eg : 0;
	if (in || eg) {
		a->hook = FT_HOOK_TC;
		a->prog_id[0] = in;
		a->prog_id[1] = eg;
		*hit = true;
	}
}

int ft_status(struct ft_attachment **out, size_t *n)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct ft_attachment *list = NULL;
	struct ft_xdp_links xl;
	int xl_err = ft_xdp_links_get(&xl);
	size_t cnt = 0, cap = 0;
	struct ft_own o;

	*out = NULL;
	*n = 0;
	if (!ifs) {
		free(xl.v);
		return -errno;
	}
	ft_own_load(&o);
	for (i = ifs; i->if_index; i++) {
		struct ft_attachment a;
		struct ft_xdp_ids x;
		bool hit;

		ft_xdp_links_ids(&xl, xl_err, i->if_index, &x);
		ft_status_one(&o, i->if_index, i->if_name, &x, &a, &hit);
		if (!hit)
			continue;
		if (cnt == cap) {
			struct ft_attachment *nl;

			cap = cap ? cap * 2 : 8;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl) {
				free(list);
				free(xl.v);
				if_freenameindex(ifs);
				return -ENOMEM;
			}
			list = nl;
		}
		list[cnt++] = a;
	}
	free(xl.v);
	if_freenameindex(ifs);
	*out = list;
	*n = cnt;
	return 0;
}
