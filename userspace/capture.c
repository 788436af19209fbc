// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * flowtap capture. The expression is compiled by libpcap and translated to
 * eBPF (pcap/cbpf.c) as one XDP and one TC program for a free capture slot;
 * the datapath tail-calls them. Matches arrive through a perf buffer, are
 * merged across CPUs in timestamp order and written as pcap or pcapng, or
 * printed one line each. See docs/capture.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "cbpf.h"
#include "cli.h"
#include "containers.h"
#include "datapath.h"
#include "log.h"
#include "opts.h"
#include "state.h"

#define CAP_CMD		"capture"
#define CAP_MAX_SNAPLEN 262144
/* A record's timestamp is taken when the datapath starts on the packet;
 * its perf record is written microseconds later. Records older than this
 * before a read started are complete on every CPU, so can be merged. */
#define CAP_HOLD_NS 2000000ULL
#define CAP_OUTBUF  (256 * 1024)
#define CAP_MAX_IFS 256 /* pcapng interfaces in one file */

enum { CAP_XDP, CAP_TC, CAP_NPROG };
enum cap_fmt { FMT_PRINT, FMT_PCAP, FMT_PCAPNG };

struct cap_opts {
	struct ft_iface_list ifs;
	bool all, pcapng, nano, dump, overwrite;
	const char *out; /* NULL: print; "-": stdout */
	unsigned long snaplen, count, cmbytes, gsec, wcount, buf_kib;
	__u8 dirs;
	char *expr;
};

/* Our share of the pinned capture state. */
struct cap_slot {
	const char *root;
	__u64 netns;
	int lock_fd, owners_fd, ifrefs_fd, config_fd, meta_fd;
	int arr_fd[CAP_NPROG], prog_fd[CAP_NPROG];
	int slot;
	bool created_datapath;
	size_t nrefs;
	__u32 refs[FT_MAX_IFACE_ARGS]; /* interfaces we hold an ifref on */
};

/* One CPU's perf buffer, read in place. */
struct cap_ring {
	struct perf_event_mmap_page *page;
	__u8 *data;
	size_t size;	     /* a power of 2 */
	__u64 pos, head;     /* next record to read; data_head at this round */
	__u64 next;	     /* past the current record */
	struct ft_cap_hdr h; /* the current record, when have */
	const __u8 *bytes;   /* its frame bytes: in the buffer or in wrap */
	bool have;
	__u8 *wrap; /* a record that wraps the buffer's end, copied out */
};

struct cap_out {
	enum cap_fmt fmt;
	int fd;
	bool is_stdout;
	char *buf;
	size_t len;
	off_t flushed;	     /* bytes in the current file */
	char name[PATH_MAX]; /* current file */
	char base[PATH_MAX];
	unsigned long cnt;   /* tcpdump's rotation counter */
	unsigned long files; /* files opened */
	time_t file_start;
	__u32 ifs[CAP_MAX_IFS]; /* pcapng: interface id -> ifindex */
	int nifs;
	char **created;
	size_t ncreated;
};

struct cap_run {
	const struct cap_opts *o;
	struct cap_slot *st;
	int perf_fd, stats_fd;
	int ifstats_fd[3]; /* ft_ifstats, ft_ifslot, ft_ifstats_slots */
	__u64 *calls_base; /* the datapath's capture_calls when we started */
	struct perf_buffer *pb;
	struct cap_ring *q;
	int nq;
	struct cap_out out;
	__u64 captured, malformed, perf_lost;
	__u64 *delivered; /* per interface of -i, [0] with --all */
	__s64 mono_to_real;
	__u64 start_ns;
	bool done;
	int err;
	struct ft_cwatch *cw;
	__u8 frame[CBPF_MAX_COPY + 8];
};

/* ---- options ---- */

static void cap_usage(FILE *f)
{
	fprintf(f,
		"usage: flowtap capture [-i IFACE]... [--all] [-w FILE|-] [-s SNAPLEN] [-c COUNT]\n"
		"                       [-C MBYTES] [-G SECONDS] [-W FILECOUNT] [--pcapng]\n"
		"                       [-Q in|out|inout] [-n] [-B KIB] [--nano] [--overwrite]\n"
		"                       [-d] [-v] [EXPRESSION]\n"
		"  -i IFACE      capture on IFACE (repeatable); attaches flowtap there if needed\n"
		"  --all         every interface flowtap is attached to (default without -i)\n"
		"  -w FILE       write pcap to FILE, '-' for stdout; without -w print packets\n"
		"  -s SNAPLEN    bytes kept per packet (default and 0: 262144)\n"
		"  -c COUNT      stop after COUNT packets\n"
		"  -C MBYTES     start a new file after MBYTES million bytes (FILE1, FILE2, ...)\n"
		"  -G SECONDS    start a new file every SECONDS (FILE is a strftime pattern)\n"
		"  -W FILECOUNT  with -C: reuse FILECOUNT files; with -G: stop after FILECOUNT\n"
		"  --pcapng      write pcapng: interface names, direction flags, statistics\n"
		"  -Q DIR        in, out or inout (default)\n"
		"  -n            do not resolve names (flowtap never does)\n"
		"  -B KIB        perf buffer per CPU, KiB (default 2048)\n"
		"  --nano        nanosecond timestamps (--time-stamp-precision=nano)\n"
		"  --overwrite   replace an existing FILE (never through a symbolic link)\n"
		"  -d            print the compiled filter (classic BPF) and exit\n"
		"  -v            verbose\n");
}

/* tcpdump's ranges: 0 is refused where it would mean nothing (-c, -C, -W,
 * -B), and means "the maximum" for -s and "never" for -G. */
static int cap_parse_ulong(const char *what, const char *s, unsigned long min, unsigned long max,
			   unsigned long *v)
{
	char esc[128], hi[24] = "";

	if (ft_parse_uint(s, max, v) || *v < min) {
		if (max != ULONG_MAX)
			snprintf(hi, sizeof(hi), "%lu", max);
		pr_err(CAP_CMD ": invalid %s '%s' (%lu..%s)\n", what,
		       ft_printable(s, esc, sizeof(esc)), min, hi);
		return -EINVAL;
	}
	return 0;
}

static int cap_parse_dir(const char *s, __u8 *dirs)
{
	if (!strcmp(s, "in"))
		*dirs = 1 << FT_DIR_INGRESS;
	else if (!strcmp(s, "out"))
		*dirs = 1 << FT_DIR_EGRESS;
	else if (!strcmp(s, "inout"))
		*dirs = 1 << FT_DIR_INGRESS | 1 << FT_DIR_EGRESS;
	else {
		pr_err(CAP_CMD ": -Q takes in, out or inout, not '%s'\n", s);
		return -EINVAL;
	}
	return 0;
}

static int cap_add_iface(struct cap_opts *o, const char *name)
{
	struct ft_iface ifc;
	size_t i;

	if (ft_parse_iface(name, &ifc)) {
		pr_err(CAP_CMD ": no interface '%s'\n", name);
		return -EINVAL;
	}
	for (i = 0; i < o->ifs.n; i++)
		if (o->ifs.v[i].ifindex == ifc.ifindex)
			return 0;
	if (o->ifs.n == FT_MAX_IFACE_ARGS) {
		pr_err(CAP_CMD ": at most %d interfaces\n", FT_MAX_IFACE_ARGS);
		return -E2BIG;
	}
	o->ifs.v[o->ifs.n++] = ifc;
	return 0;
}

static char *cap_join(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int cap_opt(struct cap_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'i':
		return cap_add_iface(o, arg);
	case 'A':
		o->all = true;
		return 0;
	case 'w':
		o->out = arg;
		return 0;
	case 's':
		return cap_parse_ulong("snap length -s", arg, 0, CAP_MAX_SNAPLEN, &o->snaplen);
	case 'c':
		return cap_parse_ulong("count -c", arg, 1, ULONG_MAX, &o->count);
	case 'C':
		return cap_parse_ulong("file size -C", arg, 1, 1000000, &o->cmbytes);
	case 'G':
		return cap_parse_ulong("rotation interval -G", arg, 0, 366 * 86400, &o->gsec);
	case 'W':
		return cap_parse_ulong("file count -W", arg, 1, 100000, &o->wcount);
	case 'P':
		o->pcapng = true;
		return 0;
	case 'Q':
		return cap_parse_dir(arg, &o->dirs);
	case 'n':
		return 0;
	case 'B':
		return cap_parse_ulong("buffer size -B", arg, 1, 1 << 20, &o->buf_kib);
	case 'T':
		if (strcmp(arg, "nano") && strcmp(arg, "micro")) {
			pr_err(CAP_CMD ": --time-stamp-precision takes micro or nano\n");
			return -EINVAL;
		}
		o->nano = !strcmp(arg, "nano");
		return 0;
	case 'N':
		o->nano = true;
		return 0;
	case 'O':
		o->overwrite = true;
		return 0;
	case 'd':
		o->dump = true;
		return 0;
	case 'v':
		if (ft_log_level < FT_LOG_DEBUG)
			ft_log_level++;
		return 0;
	}
	return -EINVAL;
}

/* 0, 1 when help was printed, or -EINVAL after a message. */
static int cap_parse(int argc, char **argv, struct cap_opts *o)
{
	static const struct option lo[] = {
	    {"interface", required_argument, NULL, 'i'},
	    {"all", no_argument, NULL, 'A'},
	    {"write", required_argument, NULL, 'w'},
	    {"snapshot-length", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'c'},
	    {"file-size", required_argument, NULL, 'C'},
	    {"rotate-seconds", required_argument, NULL, 'G'},
	    {"file-count", required_argument, NULL, 'W'},
	    {"pcapng", no_argument, NULL, 'P'},
	    {"direction", required_argument, NULL, 'Q'},
	    {"buffer-size", required_argument, NULL, 'B'},
	    {"time-stamp-precision", required_argument, NULL, 'T'},
	    {"nano", no_argument, NULL, 'N'},
	    {"overwrite", no_argument, NULL, 'O'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->snaplen = CAP_MAX_SNAPLEN;
	o->dirs = 1 << FT_DIR_INGRESS | 1 << FT_DIR_EGRESS;
	o->buf_kib = 2048;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:w:s:c:C:G:W:Q:B:ndvh", lo, NULL)) != -1) {
		if (c == 'h') {
			cap_usage(stdout);
			return 1;
		}
		if (c == '?' || cap_opt(o, c, optarg)) {
			if (c == '?')
				fprintf(stderr, "flowtap capture --help lists the options\n");
			return -EINVAL;
		}
	}
	if (!o->snaplen)
		o->snaplen = CAP_MAX_SNAPLEN;
	if ((o->cmbytes || o->gsec || o->wcount) && (!o->out || !strcmp(o->out, "-"))) {
		pr_err(CAP_CMD ": -C, -G and -W need -w FILE\n");
		return -EINVAL;
	}
	if (o->wcount && !o->cmbytes && !o->gsec) {
		pr_err(CAP_CMD ": -W needs -C or -G\n");
		return -EINVAL;
	}
	if (o->all && o->ifs.n) {
		pr_err(CAP_CMD ": -i and --all exclude each other\n");
		return -EINVAL;
	}
	if (!o->ifs.n)
		o->all = true;
	o->expr = cap_join(argc - optind, argv + optind);
	return o->expr ? 0 : -ENOMEM;
}

/* ---- the shared capture state: lock, owners, slots ---- */

static __u64 cap_netns_ino(void)
{
	struct stat sb;

	return stat("/proc/self/ns/net", &sb) ? 0 : (__u64)sb.st_ino;
}

/* Field 22 of /proc/PID/stat; 0 if the process is gone. */
static __u64 cap_start_time(__u32 pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold anything */
	for (field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &v);
	return v;
}

static int cap_lock(struct cap_slot *st)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" FT_CAP_LOCK_DIR, st->root);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	st->lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->lock_fd < 0)
		return -errno;
	if (flock(st->lock_fd, LOCK_EX)) {
		close(st->lock_fd);
		st->lock_fd = -1;
		return -errno;
	}
	return 0;
}

static void cap_unlock(struct cap_slot *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}

/* Opens a pinned map of ours, creating and pinning it the first time. */
static int cap_own_map(const char *root, const char *name, enum bpf_map_type type, __u32 ksz,
		       __u32 vsz, __u32 max)
{
	char path[PATH_MAX];
	int fd = ft_map_fd(root, name);

	if (fd >= 0)
		return fd;
	fd = bpf_map_create(type, name, ksz, vsz, max, NULL);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (bpf_obj_pin(fd, path)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static __u32 cap_mask_get(struct cap_slot *st)
{
	struct ft_config cfg = {0};
	__u32 key = 0;

	if (st->config_fd >= 0)
		bpf_map_lookup_elem(st->config_fd, &key, &cfg);
	return cfg.capture_mask;
}

static int cap_mask_set(struct cap_slot *st, int slot, bool on)
{
	struct ft_config cfg = {0};
	__u32 key = 0;

	if (st->config_fd < 0)
		return 0;
	bpf_map_lookup_elem(st->config_fd, &key, &cfg);
	if (on)
		cfg.capture_mask |= 1U << slot;
	else
		cfg.capture_mask &= ~(1U << slot);
	return bpf_map_update_elem(st->config_fd, &key, &cfg, BPF_ANY) ? -errno : 0;
}

/* Drops slot from one interface's users; the last one detaches. */
static void cap_ifref_drop(struct cap_slot *st, const struct ft_cap_ifref_key *k, int slot)
{
	char name[IF_NAMESIZE];
	__u32 mask;

	if (bpf_map_lookup_elem(st->ifrefs_fd, k, &mask) || !(mask & (1U << slot)))
		return;
	mask &= ~(1U << slot);
	if (mask) {
		bpf_map_update_elem(st->ifrefs_fd, k, &mask, BPF_EXIST);
		return;
	}
	bpf_map_delete_elem(st->ifrefs_fd, k);
	if (k->netns_ino != st->netns) {
		pr_warn(CAP_CMD ": ifindex %u of another network namespace stays attached\n",
			k->ifindex);
		return;
	}
	if (!ft_detach((int)k->ifindex))
		pr_info(CAP_CMD ": detached from %s\n", ft_ifname((int)k->ifindex, name));
}

/* Frees a slot: out of the mask first, so no packet reaches a half-gone
 * program; then the programs, the interface references, the owner. */
static void cap_slot_free(struct cap_slot *st, int slot)
{
	struct ft_cap_ifref_key *keys = calloc(FT_CAP_IFREFS_MAX, sizeof(*keys)), *prev = NULL;
	struct ft_cap_owner none = {0};
	__u32 key = (__u32)slot;
	size_t n = 0, i;

	cap_mask_set(st, slot, false);
	for (i = 0; i < CAP_NPROG; i++)
		if (st->arr_fd[i] >= 0)
			bpf_map_delete_elem(st->arr_fd[i], &key);
	while (keys && n < FT_CAP_IFREFS_MAX &&
	       !bpf_map_get_next_key(st->ifrefs_fd, prev, &keys[n])) {
		prev = &keys[n];
		n++;
	}
	for (i = 0; i < n; i++)
		cap_ifref_drop(st, &keys[i], slot);
	free(keys);
	bpf_map_update_elem(st->owners_fd, &key, &none, BPF_ANY);
}

/* Slots of captures that died without cleaning up (kill -9). */
static void cap_reclaim(struct cap_slot *st)
{
	__u32 mask = cap_mask_get(st), s;

	for (s = 0; s < FT_CAPTURE_SLOTS; s++) {
		struct ft_cap_owner o = {0};

		bpf_map_lookup_elem(st->owners_fd, &s, &o);
		if (o.pid && cap_start_time(o.pid) == o.start_time)
			continue;
		if (!o.pid && !(mask & (1U << s)))
			continue;
		pr_info(CAP_CMD ": reclaiming slot %u of a capture that is gone (pid %u)\n", s,
			o.pid);
		cap_slot_free(st, (int)s);
	}
}

static int cap_pick_slot(struct cap_slot *st)
{
	__u32 mask = cap_mask_get(st), s;

	for (s = 0; s < FT_CAPTURE_SLOTS; s++) {
		struct ft_cap_owner o = {0};

		bpf_map_lookup_elem(st->owners_fd, &s, &o);
		if (!o.pid && !(mask & (1U << s)))
			return (int)s;
	}
	pr_err(CAP_CMD ": all %d capture slots are in use\n", FT_CAPTURE_SLOTS);
	return -EBUSY;
}

static int cap_open_datapath_maps(struct cap_slot *st)
{
	static const char *const arrays[CAP_NPROG] = {"ft_cap_xdp", "ft_cap_tc"};
	int i;

	st->config_fd = ft_map_fd(st->root, "ft_config_map");
	st->meta_fd = ft_map_fd(st->root, "ft_cap_meta_map");
	for (i = 0; i < CAP_NPROG; i++)
		st->arr_fd[i] = ft_map_fd(st->root, arrays[i]);
	if (st->config_fd < 0 || st->meta_fd < 0 || st->arr_fd[0] < 0 || st->arr_fd[1] < 0) {
		pr_err(CAP_CMD ": the datapath's maps are not pinned under %s\n", st->root);
		return -ENOENT;
	}
	return 0;
}

static int cap_ifref_add(struct cap_slot *st, __u32 ifindex)
{
	struct ft_cap_ifref_key k = {.ifindex = ifindex, .netns_ino = st->netns};
	__u32 mask = 0;

	bpf_map_lookup_elem(st->ifrefs_fd, &k, &mask);
	mask |= 1U << st->slot;
	if (bpf_map_update_elem(st->ifrefs_fd, &k, &mask, BPF_ANY))
		return -errno;
	st->refs[st->nrefs++] = ifindex;
	return 0;
}

/*
 * Makes sure flowtap sees every interface asked for. One attached by
 * `flowtap attach` or `run` is left alone; one attached for captures only
 * is shared through ft_cap_ifrefs and detached by the last capture out.
 * For ourselves we take TC: it sees both directions, like tcpdump.
 */
static int cap_attach_ifaces(struct cap_slot *st, const struct cap_opts *o)
{
	struct ft_attach_opts ao = {.hook = FT_HOOK_TC};
	struct ft_attachment *list = NULL;
	struct ft_knobs k;
	size_t n = 0, i, j;
	int err;

	ft_knobs_default(&k);
	err = ft_status(&list, &n);
	if (err)
		return err;
	for (i = 0; i < o->ifs.n && !err; i++) {
		const struct ft_iface *ifc = &o->ifs.v[i];
		struct ft_cap_ifref_key key = {.ifindex = (__u32)ifc->ifindex,
					       .netns_ino = st->netns};
		__u32 mask;

		for (j = 0; j < n && list[j].ifindex != ifc->ifindex; j++)
			;
		if (j < n) {
			if (list[j].hook == FT_HOOK_XDP && o->dirs & (1 << FT_DIR_EGRESS))
				pr_warn(CAP_CMD ": %s: flowtap is on XDP there, which sees only "
						"ingress\n",
					ifc->name);
			if (!bpf_map_lookup_elem(st->ifrefs_fd, &key, &mask))
				err = cap_ifref_add(st, (__u32)ifc->ifindex);
			continue;
		}
		err = ft_attach(st->root, &k, ifc->ifindex, &ao);
		if (err) {
			pr_err(CAP_CMD ": cannot attach to %s\n", ifc->name);
			break;
		}
		pr_info(CAP_CMD ": attached to %s for this capture\n", ifc->name);
		err = cap_ifref_add(st, (__u32)ifc->ifindex);
	}
	if (!err && o->all && !n) {
		pr_err(CAP_CMD ": flowtap is not attached anywhere; name interfaces with -i\n");
		err = -ENOENT;
	}
	free(list);
	return err;
}

/* ---- the capture programs ---- */

static const char *const cap_prog_names[CAP_NPROG] = {"ftcap_xdp", "ftcap_tc"};

static int cap_translate(const struct cap_run *r, const struct cbpf_prog *cp, int which,
			 struct cbpf_ebpf *e)
{
	const struct cap_slot *st = r->st;
	struct cbpf_opts co = {.ctx = which == CAP_XDP ? CBPF_CTX_XDP : CBPF_CTX_SKB};
	__u32 ifs[FT_MAX_IFACE_ARGS];
	struct cbpf_capture c = {
	    .slot = st->slot < 0 ? 0 : st->slot,
	    .meta_fd = st->meta_fd,
	    .config_fd = st->config_fd,
	    .progs_fd = st->arr_fd[which],
	    .perf_fd = r->perf_fd,
	    .stats_fd = r->stats_fd,
	    .ifindex = ifs,
	    .n_ifindex = r->o->all ? 0 : r->o->ifs.n,
	    .dir_mask = r->o->dirs,
	};
	char err[256];
	size_t i;

	for (i = 0; i < r->o->ifs.n; i++)
		ifs[i] = (__u32)r->o->ifs.v[i].ifindex;
	if (cbpf_to_capture(cp, &co, &c, e, err, sizeof(err))) {
		pr_err(CAP_CMD ": cannot translate the filter: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static int cap_load_prog(const struct cap_run *r, const struct cbpf_prog *cp, int which)
{
	static const enum bpf_prog_type types[CAP_NPROG] = {BPF_PROG_TYPE_XDP,
							    BPF_PROG_TYPE_SCHED_CLS};
	LIBBPF_OPTS(bpf_prog_load_opts, lo);
	struct cbpf_ebpf e;
	char *log = NULL;
	int fd;

	if (cap_translate(r, cp, which, &e))
		return -EINVAL;
	/* A prog array takes programs like its first one: libbpf loads the
	 * datapath's XDP entry with expected_attach_type BPF_XDP. */
	if (which == CAP_XDP)
		lo.expected_attach_type = BPF_XDP;
	fd =
	    bpf_prog_load(types[which], cap_prog_names[which], "Dual BSD/GPL", e.insns, e.len, &lo);
	if (fd < 0 && which == CAP_XDP) {
		lo.expected_attach_type = 0;
		fd = bpf_prog_load(types[which], cap_prog_names[which], "Dual BSD/GPL", e.insns,
				   e.len, &lo);
	}
	if (fd < 0) {
		int err = -errno;
		size_t sz = 1 << 20, l;

		log = calloc(1, sz);
		lo.log_buf = log;
		lo.log_size = log ? (__u32)sz : 0;
		lo.log_level = log ? 1 : 0;
		bpf_prog_load(types[which], cap_prog_names[which], "Dual BSD/GPL", e.insns, e.len,
			      &lo);
		l = log ? strlen(log) : 0;
		pr_err(CAP_CMD ": the kernel refused the %s capture program (%zu instructions): "
			       "%s\n",
		       which == CAP_XDP ? "XDP" : "TC", e.len, strerror(-err));
		if (l)
			pr_debug("%s\n", l > 4000 ? log + l - 4000 : log);
		fd = err;
	}
	free(log);
	cbpf_ebpf_free(&e);
	return fd;
}

static int cap_install(struct cap_run *r, const struct cbpf_prog *cp)
{
	struct cap_slot *st = r->st;
	__u32 key = (__u32)st->slot;
	int i;

	for (i = 0; i < CAP_NPROG; i++) {
		st->prog_fd[i] = cap_load_prog(r, cp, i);
		if (st->prog_fd[i] < 0)
			return st->prog_fd[i];
		if (bpf_map_update_elem(st->arr_fd[i], &key, &st->prog_fd[i], BPF_ANY)) {
			int err = -errno;

			pr_err(CAP_CMD ": cannot install the capture program in %s[%d]: %s\n",
			       i == CAP_XDP ? "ft_cap_xdp" : "ft_cap_tc", st->slot, strerror(-err));
			return err;
		}
	}
	/* Last: from now on the datapath calls us. */
	return cap_mask_set(st, st->slot, true);
}

static int cap_claim(struct cap_slot *st)
{
	struct ft_cap_owner me = {.pid = (__u32)getpid(), .netns_ino = st->netns};
	__u32 key;
	int slot;

	me.start_time = cap_start_time(me.pid);
	cap_reclaim(st);
	slot = cap_pick_slot(st);
	if (slot < 0)
		return slot;
	key = (__u32)slot;
	if (bpf_map_update_elem(st->owners_fd, &key, &me, BPF_ANY))
		return -errno;
	st->slot = slot;
	return 0;
}

/* Everything under the capture lock: a slot, interfaces, programs. */
static int cap_setup(struct cap_run *r, const struct cbpf_prog *cp)
{
	struct cap_slot *st = r->st;
	int err, fd;

	err = ft_pin_root_check(st->root);
	if (err)
		return err;
	fd = ft_map_fd(st->root, "ft_config_map");
	st->created_datapath = fd < 0;
	if (fd >= 0)
		close(fd);
	err = cap_lock(st);
	if (err) {
		pr_err(CAP_CMD ": cannot lock %s/" FT_CAP_LOCK_DIR ": %s\n", st->root,
		       strerror(-err));
		return err;
	}
	st->owners_fd = cap_own_map(st->root, FT_CAP_OWNERS, BPF_MAP_TYPE_ARRAY, 4,
				    sizeof(struct ft_cap_owner), FT_CAPTURE_SLOTS);
	st->ifrefs_fd = cap_own_map(st->root, FT_CAP_IFREFS, BPF_MAP_TYPE_HASH,
				    sizeof(struct ft_cap_ifref_key), 4, FT_CAP_IFREFS_MAX);
	if (st->owners_fd < 0 || st->ifrefs_fd < 0) {
		err = st->owners_fd < 0 ? st->owners_fd : st->ifrefs_fd;
		pr_err(CAP_CMD ": cannot pin the capture owner maps: %s\n", strerror(-err));
		goto out;
	}
	if (!st->created_datapath)
		cap_open_datapath_maps(st); /* for reclaiming */
	err = cap_claim(st);
	if (!err)
		err = cap_attach_ifaces(st, r->o);
	if (!err && st->config_fd < 0)
		err = cap_open_datapath_maps(st);
	if (!err)
		err = cap_install(r, cp);
out:
	cap_unlock(st);
	return err;
}

/* Nothing else uses the datapath we loaded: take its pins away too. */
static void cap_remove_datapath(struct cap_slot *st)
{
	struct ft_cap_ifref_key k;
	struct ft_attachment *list = NULL;
	size_t n = 1;
	__u32 s;

	if (!st->created_datapath || cap_mask_get(st))
		return;
	for (s = 0; s < FT_CAPTURE_SLOTS; s++) {
		struct ft_cap_owner o = {0};

		if (!bpf_map_lookup_elem(st->owners_fd, &s, &o) && o.pid)
			return;
	}
	if (!bpf_map_get_next_key(st->ifrefs_fd, NULL, &k))
		return;
	if (ft_status(&list, &n) || n) {
		free(list);
		return;
	}
	pr_info(CAP_CMD ": removing the datapath pins it loaded\n");
	ft_detach_all(st->root);
}

static void cap_teardown(struct cap_slot *st)
{
	int i;

	if (st->slot >= 0 && st->owners_fd >= 0) {
		if (cap_lock(st))
			pr_warn(CAP_CMD ": cannot lock; releasing slot %d anyway\n", st->slot);
		cap_slot_free(st, st->slot);
		st->slot = -1;
		cap_remove_datapath(st);
		cap_unlock(st);
	}
	for (i = 0; i < CAP_NPROG; i++) {
		if (st->prog_fd[i] >= 0)
			close(st->prog_fd[i]);
		if (st->arr_fd[i] >= 0)
			close(st->arr_fd[i]);
	}
	if (st->owners_fd >= 0)
		close(st->owners_fd);
	if (st->ifrefs_fd >= 0)
		close(st->ifrefs_fd);
	if (st->config_fd >= 0)
		close(st->config_fd);
	if (st->meta_fd >= 0)
		close(st->meta_fd);
}

/* ---- records: per-CPU queues, merged in timestamp order ---- */

static __u64 cap_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Each CPU's perf buffer is read in place (perf_buffer__buffer()), not
 * through libbpf's callback: the merge reads the record at each buffer's
 * read position and the writer copies its frame straight from the buffer
 * into the output buffer, so a record is copied once. data_tail moves past
 * records once they are written; a record newer than the merge's cutoff
 * stays in the buffer until a later round. */
static void cap_ring_init(struct cap_run *r)
{
	long page = sysconf(_SC_PAGESIZE);
	int i;

	for (i = 0; i < r->nq; i++) {
		struct cap_ring *q = &r->q[i];
		void *base;
		size_t size;

		if (perf_buffer__buffer(r->pb, i, &base, &size))
			continue;
		q->page = base;
		q->data = (__u8 *)base + page;
		q->size = size;
		q->pos = q->page->data_tail;
	}
}

/* The record at q->pos as a whole, wrapped ones copied out. NULL when the
 * copy buffer cannot be had. */
static const __u8 *cap_ring_rec(struct cap_ring *q, size_t len)
{
	size_t off = (size_t)(q->pos & (q->size - 1));

	if (off + len <= q->size)
		return q->data + off;
	if (!q->wrap && !(q->wrap = malloc(65536)))
		return NULL;
	memcpy(q->wrap, q->data + off, q->size - off);
	memcpy(q->wrap + (q->size - off), q->data, len - (q->size - off));
	return q->wrap;
}

/* Makes the next sample of q, if any before q->head, its current record
 * (q->h, q->bytes); counts and skips lost and malformed records. */
static bool cap_ring_peek(struct cap_run *r, struct cap_ring *q)
{
	while (!q->have && q->pos < q->head) {
		const struct perf_event_header *e =
		    (const void *)(q->data + (q->pos & (q->size - 1)));
		const __u8 *rec;
		__u32 raw;

		/* Records are 8-aligned, so a header never wraps. */
		if (e->size < sizeof(*e) || q->pos + e->size > q->head) {
			r->malformed++;
			q->pos = q->head;
			break;
		}
		rec = cap_ring_rec(q, e->size);
		if (!rec) {
			r->malformed++;
		} else if (e->type == PERF_RECORD_LOST && e->size >= sizeof(*e) + 16) {
			__u64 lost;

			memcpy(&lost, rec + sizeof(*e) + 8, sizeof(lost));
			r->perf_lost += lost;
		} else if (e->type == PERF_RECORD_SAMPLE) {
			/* The sample's data starts 4 bytes past an 8-byte
			 * boundary: the header is copied out, never read in
			 * place. */
			memcpy(&raw, rec + sizeof(*e), sizeof(raw));
			if (e->size < sizeof(*e) + 4 + sizeof(q->h) ||
			    raw > e->size - sizeof(*e) - 4 || raw < sizeof(q->h)) {
				r->malformed++;
			} else {
				memcpy(&q->h, rec + sizeof(*e) + 4, sizeof(q->h));
				if (q->h.copy_len > raw - sizeof(q->h) ||
				    q->h.copy_len > CBPF_MAX_COPY) {
					r->malformed++;
				} else {
					q->bytes = rec + sizeof(*e) + 4 + sizeof(q->h);
					q->next = q->pos + e->size;
					q->have = true;
					return true;
				}
			}
		}
		q->pos += e->size;
	}
	return q->have;
}

static void cap_emit(struct cap_run *r, const struct ft_cap_hdr *h, const __u8 *bytes);

/* Writes the records older than cutoff, oldest first. Each CPU's buffer is
 * in order already: a k-way merge, which takes a run of records from one
 * buffer while they are older than every other buffer's first. */
static void cap_drain(struct cap_run *r, __u64 cutoff)
{
	int i;

	for (i = 0; i < r->nq; i++)
		if (r->q[i].page)
			r->q[i].head = __atomic_load_n(&r->q[i].page->data_head, __ATOMIC_ACQUIRE);
	while (!r->done) {
		__u64 limit = cutoff, best_ts = ~0ULL;
		struct cap_ring *b;
		int bi = -1;

		for (i = 0; i < r->nq; i++) {
			if (cap_ring_peek(r, &r->q[i]) && r->q[i].h.ts_ns < best_ts) {
				best_ts = r->q[i].h.ts_ns;
				bi = i;
			}
		}
		if (bi < 0 || best_ts > cutoff)
			break;
		for (i = 0; i < r->nq; i++)
			if (i != bi && r->q[i].have && r->q[i].h.ts_ns < limit)
				limit = r->q[i].h.ts_ns;
		b = &r->q[bi];
		while (!r->done && cap_ring_peek(r, b) && b->h.ts_ns <= limit) {
			cap_emit(r, &b->h, b->bytes);
			b->pos = b->next;
			b->have = false;
		}
	}
	for (i = 0; i < r->nq; i++)
		if (r->q[i].page)
			__atomic_store_n(&r->q[i].page->data_tail, r->q[i].pos, __ATOMIC_RELEASE);
}

/* Never called: the buffers are read in place (cap_drain). */
static enum bpf_perf_event_ret cap_on_event(void *ctx, int cpu, struct perf_event_header *e)
{
	(void)ctx, (void)cpu, (void)e;
	return LIBBPF_PERF_EVENT_CONT;
}

/* A perf map with a buffer per CPU. Wakeups at a quarter full rather than
 * per record: the loop also reads on a timer. */
static int cap_perf_start(struct cap_run *r)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = 1, want = (r->o->buf_kib * 1024 + (size_t)page - 1) / (size_t)page;
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .config = PERF_COUNT_SW_BPF_OUTPUT,
	    .sample_type = PERF_SAMPLE_RAW,
	    .sample_period = 1,
	    .watermark = 1,
	};
	int ncpu = libbpf_num_possible_cpus(), nstats;

	while (pages < want)
		pages *= 2;
	attr.wakeup_watermark = (__u32)(pages * (size_t)page / 4);
	if (ncpu <= 0)
		return -EINVAL;
	nstats = r->o->all ? 1 : (int)r->o->ifs.n;
	r->nq = ncpu;
	r->q = calloc((size_t)ncpu, sizeof(*r->q));
	r->delivered = calloc((size_t)nstats, sizeof(*r->delivered));
	r->perf_fd =
	    bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "ftcap_perf", 4, 4, (__u32)ncpu, NULL);
	r->stats_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "ftcap_stats", 4,
				     sizeof(struct ft_cap_stats), (__u32)nstats, NULL);
	if (!r->q || !r->delivered || r->perf_fd < 0 || r->stats_fd < 0)
		return ft_fail(CAP_CMD, "creating the perf buffer", errno);
	r->pb = perf_buffer__new_raw(r->perf_fd, pages, &attr, cap_on_event, r, NULL);
	if (!r->pb)
		return ft_fail(CAP_CMD, "opening the perf buffer", errno);
	if (perf_buffer__buffer_cnt(r->pb) < (size_t)r->nq)
		r->nq = (int)perf_buffer__buffer_cnt(r->pb);
	cap_ring_init(r);
	return 0;
}

struct cap_counts {
	__u64 seen;    /* handed to the filter */
	__u64 matched; /* accepted by it */
	__u64 lost;    /* accepted, but the perf buffer was full */
};

/* Packets the datapath handed to the capture hook on ifindex (0: every
 * interface) in the capture's directions: what our filter saw. */
static __u64 cap_hook_calls(const struct cap_run *r, __u32 ifindex)
{
	struct ft_if_totals *t = NULL;
	size_t n = 0, i;
	__u64 sum = 0;

	if (r->ifstats_fd[0] < 0 ||
	    ft_read_if_totals_fds(r->ifstats_fd[0], r->ifstats_fd[1], r->ifstats_fd[2], &t, &n))
		return 0;
	for (i = 0; i < n; i++)
		if ((!ifindex || t[i].ifindex == ifindex) && t[i].dir < FT_DIR_MAX &&
		    r->o->dirs & (1 << t[i].dir))
			sum += t[i].s.capture_calls;
	free(t);
	return sum;
}

static __u32 cap_stats_ifindex(const struct cap_run *r, size_t idx)
{
	return r->o->all ? 0 : (__u32)r->o->ifs.v[idx].ifindex;
}

/* Baselines, once the filter is installed. */
static void cap_calls_start(struct cap_run *r)
{
	size_t n = r->o->all ? 1 : r->o->ifs.n, i;

	/* Kept open: the pins may go before the summary is printed. */
	r->ifstats_fd[0] = ft_map_fd(r->st->root, "ft_ifstats");
	r->ifstats_fd[1] = ft_map_fd(r->st->root, "ft_ifslot");
	r->ifstats_fd[2] = ft_map_fd(r->st->root, "ft_ifstats_slots");
	r->calls_base = calloc(n, sizeof(*r->calls_base));
	for (i = 0; r->calls_base && i < n; i++)
		r->calls_base[i] = cap_hook_calls(r, cap_stats_ifindex(r, i));
}

static void cap_stats_sum(const struct cap_run *r, __u32 idx, struct cap_counts *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct ft_cap_stats *v = calloc((size_t)ncpu, sizeof(*v));

	memset(sum, 0, sizeof(*sum));
	if (v && !bpf_map_lookup_elem(r->stats_fd, &idx, v)) {
		for (i = 0; i < ncpu; i++) {
			sum->matched += v[i].matched;
			sum->lost += v[i].lost;
		}
	}
	free(v);
	if (r->calls_base)
		sum->seen = cap_hook_calls(r, cap_stats_ifindex(r, idx)) - r->calls_base[idx];
}

static void cap_stats_total(const struct cap_run *r, struct cap_counts *t)
{
	size_t n = r->o->all ? 1 : r->o->ifs.n, i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++) {
		struct cap_counts s;

		cap_stats_sum(r, (__u32)i, &s);
		t->seen += s.seen;
		t->matched += s.matched;
		t->lost += s.lost;
	}
}

/* ---- output files ---- */

/*
 * Creates name 0600. Never through a symbolic link anywhere in the path
 * (openat2 RESOLVE_NO_SYMLINKS), never onto an existing file unless
 * overwrite (then only a regular file or a FIFO).
 */
static int cap_open_file(const char *name, bool overwrite)
{
	struct open_how how = {
	    .flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL),
	    .mode = 0600,
	    .resolve = RESOLVE_NO_SYMLINKS,
	};
	struct stat sb;
	int fd;

	fd = (int)syscall(SYS_openat2, AT_FDCWD, name, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = open(name, (int)how.flags | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int err = errno;

		if (err == ELOOP)
			pr_err(CAP_CMD ": %s: refusing to write through a symbolic link\n", name);
		else if (err == EEXIST)
			pr_err(CAP_CMD ": %s exists (--overwrite replaces it)\n", name);
		else
			pr_err(CAP_CMD ": %s: %s\n", name, strerror(err));
		return -err;
	}
	if (fstat(fd, &sb) || !(S_ISREG(sb.st_mode) || S_ISFIFO(sb.st_mode))) {
		pr_err(CAP_CMD ": %s is not a regular file\n", name);
		close(fd);
		return -EINVAL;
	}
	if (overwrite && S_ISREG(sb.st_mode))
		fchmod(fd, 0600);
	return fd;
}

static void cap_out_remember(struct cap_out *out, const char *name)
{
	size_t i;
	char **v;

	for (i = 0; i < out->ncreated; i++)
		if (!strcmp(out->created[i], name))
			return;
	v = realloc(out->created, (out->ncreated + 1) * sizeof(*v));
	if (!v)
		return;
	out->created = v;
	v[out->ncreated] = strdup(name);
	if (v[out->ncreated])
		out->ncreated++;
}

static bool cap_out_ours(const struct cap_out *out, const char *name)
{
	size_t i;

	for (i = 0; i < out->ncreated; i++)
		if (!strcmp(out->created[i], name))
			return true;
	return false;
}

/* tcpdump's MakeFilename(): strftime with -G, then the counter, padded to
 * the digits of -W. */
static void cap_out_name(const struct cap_run *r, time_t t, unsigned long cnt, int chars, char *buf,
			 size_t len)
{
	char base[PATH_MAX];
	struct tm tm;

	snprintf(base, sizeof(base), "%s", r->o->out);
	if (r->o->gsec && localtime_r(&t, &tm) && !strftime(base, sizeof(base), r->o->out, &tm))
		snprintf(base, sizeof(base), "%s", r->o->out);
	if ((cnt == 0 && chars == 0 ? snprintf(buf, len, "%s", base)
				    : snprintf(buf, len, "%s%0*lu", base, chars, cnt)) >= (int)len)
		pr_warn(CAP_CMD ": file name cut to %s\n", buf);
}

static int cap_wchars(unsigned long w)
{
	int n = 0;

	if (!w)
		return 0;
	for (w -= 1; w; w /= 10)
		n++;
	return n ? n : 1;
}

/* Flushes the buffer. On a write error (disk full) the file is cut back to
 * the last whole record and the capture stops: what is there stays readable. */
static int cap_out_flush(struct cap_run *r)
{
	struct cap_out *out = &r->out;
	size_t off = 0;
	int err = 0;

	while (out->fd >= 0 && off < out->len) {
		ssize_t n = write(out->fd, out->buf + off, out->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		off += (size_t)n;
	}
	if (err) {
		r->done = true;
		if (err == EPIPE && out->is_stdout) {
			pr_info(CAP_CMD ": the reader of stdout went away\n");
		} else {
			bool cut = !out->is_stdout && !ftruncate(out->fd, out->flushed);

			pr_err(CAP_CMD ": writing %s: %s%s\n",
			       out->is_stdout ? "stdout" : out->name, strerror(err),
			       cut ? "; the file ends with the last whole packet" : "");
			r->err = -err;
		}
		out->len = 0;
		return -err;
	}
	out->flushed += (off_t)off;
	out->len = 0;
	return 0;
}

/* Room for a whole record of n bytes: the buffer is flushed only between
 * records, so a cut after a failed write is a cut between records. */
static bool cap_out_reserve(struct cap_run *r, size_t n)
{
	struct cap_out *out = &r->out;

	if (out->fd < 0 || r->err || n > CAP_OUTBUF)
		return false;
	return out->len + n <= CAP_OUTBUF || !cap_out_flush(r);
}

/* Appends to a record cap_out_reserve() made room for. */
static void cap_out_put(struct cap_run *r, const void *p, size_t n)
{
	struct cap_out *out = &r->out;

	if (out->fd < 0 || r->err || out->len + n > CAP_OUTBUF)
		return;
	memcpy(out->buf + out->len, p, n);
	out->len += n;
}

static void cap_pcap_header(struct cap_run *r)
{
	struct {
		__u32 magic;
		__u16 major, minor;
		__s32 zone;
		__u32 sigfigs, snaplen, linktype;
	} h = {
	    .magic = r->o->nano ? 0xa1b23c4d : 0xa1b2c3d4,
	    .major = 2,
	    .minor = 4,
	    .snaplen = (__u32)r->o->snaplen,
	    .linktype = 1, /* LINKTYPE_ETHERNET */
	};

	if (cap_out_reserve(r, sizeof(h)))
		cap_out_put(r, &h, sizeof(h));
}

static void cap_pcap_record(struct cap_run *r, const __u8 *frame, __u64 ts, __u32 caplen, __u32 len)
{
	struct {
		__u32 sec, frac, caplen, len;
	} h = {
	    .sec = (__u32)(ts / 1000000000ULL),
	    .frac = (__u32)(ts % 1000000000ULL) / (r->o->nano ? 1 : 1000),
	    .caplen = caplen,
	    .len = len,
	};

	if (!cap_out_reserve(r, sizeof(h) + caplen))
		return;
	cap_out_put(r, &h, sizeof(h));
	cap_out_put(r, frame, caplen);
}

/* pcapng (draft-ietf-opsawg-pcapng): blocks are built here whole. */
struct png {
	__u8 b[512];
	size_t n;
};

static void png_u32(struct png *p, __u32 v)
{
	memcpy(p->b + p->n, &v, 4);
	p->n += 4;
}

static void png_opt(struct png *p, __u16 code, const void *v, size_t len)
{
	static const __u8 zero[4];
	__u16 h[2] = {code, (__u16)len};

	if (p->n + 4 + len + 4 + 8 > sizeof(p->b))
		return;
	memcpy(p->b + p->n, h, 4);
	if (len) /* opt_endofopt has no value: v is NULL */
		memcpy(p->b + p->n + 4, v, len);
	p->n += 4 + len;
	memcpy(p->b + p->n, zero, (4 - len % 4) % 4);
	p->n += (4 - len % 4) % 4;
}

static void png_begin(struct png *p, __u32 type)
{
	p->n = 0;
	png_u32(p, type);
	png_u32(p, 0); /* length, set by png_end */
}

static void png_end(struct cap_run *r, struct png *p)
{
	__u32 len;

	png_opt(p, 0, NULL, 0); /* opt_endofopt */
	len = (__u32)p->n + 4;
	memcpy(p->b + 4, &len, 4);
	png_u32(p, len);
	if (cap_out_reserve(r, p->n))
		cap_out_put(r, p->b, p->n);
}

static void cap_png_shb(struct cap_run *r)
{
	char app[64];
	struct png p;

	snprintf(app, sizeof(app), "flowtap %s", FLOWTAP_VERSION);
	png_begin(&p, 0x0A0D0D0A);
	png_u32(&p, 0x1A2B3C4D);
	png_u32(&p, 1);		 /* version 1.0 */
	png_u32(&p, 0xffffffff); /* section length: unknown */
	png_u32(&p, 0xffffffff);
	png_opt(&p, 4, app, strlen(app)); /* shb_userappl */
	png_end(r, &p);
	r->out.nifs = 0;
}

/* "container web (docker), pod api/ns" for a veth into a container. */
static void cap_if_desc(struct cap_run *r, int ifindex, char *buf, size_t len)
{
	struct ft_cwatch_opts co = {0};
	const struct ft_cveth *v;

	buf[0] = 0;
	if (!r->cw && !ft_cwatch_new(&co, &r->cw))
		ft_cwatch_scan(r->cw);
	v = r->cw ? ft_cwatch_get(r->cw, ifindex) : NULL;
	if (!v)
		return;
	if (ft_ct_labels_resolved(&v->labels)) {
		if (snprintf(buf, len, "container %s (%s)%s%s", v->labels.container,
			     ft_runtime_name(v->labels.runtime), v->labels.pod[0] ? ", pod " : "",
			     v->labels.pod) >= (int)len)
			buf[len - 1] = 0;
	} else
		snprintf(buf, len, "network namespace %s", v->labels.container);
}

/* The interface's id in this file, writing its description first. */
static int cap_png_ifid(struct cap_run *r, __u32 ifindex)
{
	struct cap_out *out = &r->out;
	char name[IF_NAMESIZE], desc[256];
	__u8 tsresol = 9;
	struct png p;
	int i;

	for (i = 0; i < out->nifs; i++)
		if (out->ifs[i] == ifindex)
			return i;
	if (out->nifs == CAP_MAX_IFS)
		return -1;
	ft_ifname((int)ifindex, name);
	cap_if_desc(r, (int)ifindex, desc, sizeof(desc));
	png_begin(&p, 1);
	png_u32(&p, 1); /* LINKTYPE_ETHERNET, reserved */
	png_u32(&p, (__u32)r->o->snaplen);
	png_opt(&p, 2, name, strlen(name)); /* if_name */
	if (desc[0])
		png_opt(&p, 3, desc, strlen(desc)); /* if_description */
	png_opt(&p, 9, &tsresol, 1);		    /* if_tsresol: nanoseconds */
	png_end(r, &p);
	out->ifs[out->nifs] = ifindex;
	return out->nifs++;
}

static void cap_png_epb(struct cap_run *r, const struct ft_cap_hdr *h, const __u8 *frame, __u64 ts,
			__u32 caplen)
{
	static const __u8 zero[4];
	__u32 flags = h->dir == FT_DIR_INGRESS ? 1 : 2; /* epb_flags: inbound/outbound */
	int id = cap_png_ifid(r, h->ifindex);
	struct png p;
	__u32 pad = (4 - caplen % 4) % 4, total;

	if (id < 0)
		return;
	total = 28 + caplen + pad + 8 /* epb_flags */ + 4 /* end */ + 4;
	if (!cap_out_reserve(r, total))
		return;
	png_begin(&p, 6);
	memcpy(p.b + 4, &total, 4);
	png_u32(&p, (__u32)id);
	png_u32(&p, (__u32)(ts >> 32));
	png_u32(&p, (__u32)ts);
	png_u32(&p, caplen);
	png_u32(&p, h->pkt_len);
	cap_out_put(r, p.b, p.n);
	cap_out_put(r, frame, caplen);
	cap_out_put(r, zero, pad);
	p.n = 0;
	png_opt(&p, 2, &flags, 4);
	png_opt(&p, 0, NULL, 0);
	png_u32(&p, total);
	cap_out_put(r, p.b, p.n);
}

static void png_opt_u64(struct png *p, __u16 code, __u64 v)
{
	png_opt(p, code, &v, 8);
}

static void png_opt_ts(struct png *p, __u16 code, __u64 ts)
{
	__u32 v[2] = {(__u32)(ts >> 32), (__u32)ts};

	png_opt(p, code, v, 8);
}

/* Interface statistics at the end of a file. Per interface with -i; with
 * --all the kernel counts for all together, so only what we wrote. */
static void cap_png_isbs(struct cap_run *r)
{
	__u64 now = cap_now(CLOCK_REALTIME);
	int i;

	for (i = 0; i < r->out.nifs; i++) {
		struct cap_counts s = {0};
		size_t k = 0;
		struct png p;

		if (!r->o->all) {
			for (k = 0; k < r->o->ifs.n; k++)
				if ((__u32)r->o->ifs.v[k].ifindex == r->out.ifs[i])
					break;
			cap_stats_sum(r, (__u32)k, &s);
		}
		png_begin(&p, 5);
		png_u32(&p, (__u32)i);
		png_u32(&p, (__u32)(now >> 32));
		png_u32(&p, (__u32)now);
		png_opt_ts(&p, 2, r->start_ns); /* isb_starttime */
		png_opt_ts(&p, 3, now);		/* isb_endtime */
		if (!r->o->all) {
			png_opt_u64(&p, 4, s.seen);    /* isb_ifrecv */
			png_opt_u64(&p, 5, s.lost);    /* isb_ifdrop */
			png_opt_u64(&p, 6, s.matched); /* isb_filteraccept */
			png_opt_u64(&p, 8, k < r->o->ifs.n ? r->delivered[k] : 0); /* usrdeliv */
		}
		png_end(r, &p);
	}
}

static int cap_out_open(struct cap_run *r, time_t t, unsigned long cnt, int chars)
{
	struct cap_out *out = &r->out;
	char name[PATH_MAX];
	bool ours;
	size_t i;

	cap_out_name(r, t, cnt, chars, name, sizeof(name));
	ours = cap_out_ours(out, name);
	if (ours)
		unlink(name); /* ours from an earlier turn of the ring */
	out->fd = cap_open_file(name, r->o->overwrite);
	if (out->fd < 0)
		return out->fd;
	snprintf(out->name, sizeof(out->name), "%s", name);
	cap_out_remember(out, name);
	out->flushed = 0;
	out->file_start = t;
	out->files++;
	if (out->fmt == FMT_PCAP) {
		cap_pcap_header(r);
		return 0;
	}
	cap_png_shb(r);
	for (i = 0; !r->o->all && i < r->o->ifs.n; i++)
		cap_png_ifid(r, (__u32)r->o->ifs.v[i].ifindex);
	return 0;
}

static void cap_out_close(struct cap_run *r)
{
	struct cap_out *out = &r->out;

	if (out->fd < 0)
		return;
	if (out->fmt == FMT_PCAPNG && !r->err)
		cap_png_isbs(r);
	cap_out_flush(r);
	if (!out->is_stdout)
		close(out->fd);
	out->fd = -1;
}

/* tcpdump's rules: -G first (a new strftime name, the -C counter back to
 * 0; with -W, stop after that many files), then -C (the counter, modulo
 * -W). Checked before each packet is written. */
static void cap_out_rotate(struct cap_run *r, time_t t)
{
	const struct cap_opts *o = r->o;
	struct cap_out *out = &r->out;

	if (o->gsec && t - out->file_start >= (time_t)o->gsec) {
		if (o->wcount && out->files >= o->wcount) {
			r->done = true;
			return;
		}
		cap_out_close(r);
		out->cnt = 0;
		if (cap_out_open(r, t, 0, 0))
			r->done = true, r->err = -EIO;
	}
	if (o->cmbytes && (__u64)(out->flushed + (off_t)out->len) > o->cmbytes * 1000000ULL) {
		if (o->wcount)
			out->cnt = out->cnt + 1 < o->wcount ? out->cnt + 1 : 0;
		else
			out->cnt++;
		cap_out_close(r);
		if (cap_out_open(r, out->file_start, out->cnt, cap_wchars(o->wcount)))
			r->done = true, r->err = -EIO;
	}
}

static int cap_out_start(struct cap_run *r)
{
	struct cap_out *out = &r->out;
	const struct cap_opts *o = r->o;

	out->fd = -1;
	if (!o->out) {
		out->fmt = FMT_PRINT;
		return 0;
	}
	out->fmt = o->pcapng ? FMT_PCAPNG : FMT_PCAP;
	out->buf = malloc(CAP_OUTBUF);
	if (!out->buf)
		return -ENOMEM;
	if (!strcmp(o->out, "-")) {
		out->fd = STDOUT_FILENO;
		out->is_stdout = true;
		snprintf(out->name, sizeof(out->name), "stdout");
		if (out->fmt == FMT_PCAP)
			cap_pcap_header(r);
		else
			cap_png_shb(r);
		return 0;
	}
	return cap_out_open(r, time(NULL), 0, cap_wchars(o->wcount));
}

/* Setup failed before anything was captured: no empty files behind. */
static void cap_out_discard(struct cap_run *r)
{
	size_t i;

	if (r->out.fd >= 0 && !r->out.is_stdout)
		close(r->out.fd);
	r->out.fd = -1;
	for (i = 0; !r->out.is_stdout && i < r->out.ncreated; i++)
		unlink(r->out.created[i]);
}

/* ---- one line per packet, as tcpdump prints it ---- */

struct cap_line {
	char s[512];
	size_t n;
};

static void line_add(struct cap_line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void line_add(struct cap_line *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (l->n >= sizeof(l->s))
		return;
	va_start(ap, fmt);
	k = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n = l->n + (size_t)k < sizeof(l->s) ? l->n + (size_t)k : sizeof(l->s) - 1;
}

static __u16 rd16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 rd32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* TCP, UDP, ICMP after "IP src > dst" or "IP6 ...": len is the L4 length
 * the IP header claims, n the bytes captured. */
struct cap_l3 {
	const char *fam;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
};

static void print_tcp(struct cap_line *l, const struct cap_l3 *a, const __u8 *p, __u32 n, __u32 len)
{
	static const char chars[] = "FSRPxUEW";
	char flags[12];
	__u32 hl, i, k = 0, seq, pl;

	if (n < 20) {
		line_add(l, "%s %s > %s: tcp [|tcp]", a->fam, a->src, a->dst);
		return;
	}
	hl = (__u32)(p[12] >> 4) * 4;
	for (i = 0; i < 8; i++)
		if (i != 4 && p[13] & (1u << i))
			flags[k++] = chars[i];
	if (p[13] & 0x10)
		flags[k++] = '.';
	flags[k] = 0;
	pl = len > hl ? len - hl : 0;
	seq = rd32(p + 4);
	line_add(l, "%s %s.%u > %s.%u: Flags [%s], seq %u", a->fam, a->src, rd16(p), a->dst,
		 rd16(p + 2), flags, seq);
	if (pl)
		line_add(l, ":%u", seq + pl);
	if (p[13] & 0x10)
		line_add(l, ", ack %u", rd32(p + 8));
	line_add(l, ", win %u, length %u", rd16(p + 14), pl);
}

static void print_icmp(struct cap_line *l, const struct cap_l3 *a, const __u8 *p, __u32 n,
		       __u32 len, bool v6)
{
	const char *what = NULL;

	if (n < 4) {
		line_add(l, "%s %s > %s: %s [|icmp]", a->fam, a->src, a->dst,
			 v6 ? "ICMP6" : "ICMP");
		return;
	}
	if (!v6)
		what = p[0] == 8    ? "echo request"
		       : p[0] == 0  ? "echo reply"
		       : p[0] == 3  ? "unreachable"
		       : p[0] == 11 ? "time exceeded"
				    : NULL;
	else
		what = p[0] == 128   ? "echo request"
		       : p[0] == 129 ? "echo reply"
		       : p[0] == 135 ? "neighbor solicitation"
		       : p[0] == 136 ? "neighbor advertisement"
		       : p[0] == 133 ? "router solicitation"
		       : p[0] == 134 ? "router advertisement"
		       : p[0] == 1   ? "destination unreachable"
				     : NULL;
	line_add(l, "%s %s > %s: %s%s ", a->fam, a->src, a->dst, v6 ? "ICMP6" : "ICMP",
		 v6 ? "," : "");
	if (what)
		line_add(l, "%s", what);
	else
		line_add(l, "type %u, code %u", p[0], p[1]);
	if (n >= 8 && (p[0] == 8 || p[0] == 0 || p[0] == 128 || p[0] == 129) && (v6 || p[0] <= 8))
		line_add(l, ", id %u, seq %u", rd16(p + 4), rd16(p + 6));
	line_add(l, ", length %u", len);
}

static void print_l4(struct cap_line *l, const struct cap_l3 *a, __u8 proto, const __u8 *p, __u32 n,
		     __u32 len)
{
	switch (proto) {
	case 6:
		print_tcp(l, a, p, n, len);
		return;
	case 17:
		if (n < 8)
			line_add(l, "%s %s > %s: udp [|udp]", a->fam, a->src, a->dst);
		else
			line_add(l, "%s %s.%u > %s.%u: UDP, length %u", a->fam, a->src, rd16(p),
				 a->dst, rd16(p + 2), rd16(p + 4) >= 8 ? rd16(p + 4) - 8u : 0u);
		return;
	case 1:
	case 58:
		print_icmp(l, a, p, n, len, proto == 58);
		return;
	}
	line_add(l, "%s %s > %s: ip-proto-%u %u", a->fam, a->src, a->dst, proto, len);
}

static void print_ip4(struct cap_line *l, const __u8 *p, __u32 n)
{
	struct cap_l3 a = {.fam = "IP"};
	__u32 hl, tot, frag;

	if (n < 20 || p[0] >> 4 != 4) {
		line_add(l, "IP [|ip]");
		return;
	}
	hl = (__u32)(p[0] & 0xf) * 4;
	tot = rd16(p + 2);
	frag = rd16(p + 6);
	inet_ntop(AF_INET, p + 12, a.src, sizeof(a.src));
	inet_ntop(AF_INET, p + 16, a.dst, sizeof(a.dst));
	if (hl < 20 || tot < hl) {
		line_add(l, "IP %s > %s: bad header", a.src, a.dst);
		return;
	}
	if (frag & 0x1fff) {
		line_add(l, "IP %s > %s: ip-proto-%u (frag %u:%u@%u%s)", a.src, a.dst, p[9],
			 rd16(p + 4), tot - hl, (frag & 0x1fff) * 8, frag & 0x2000 ? "+" : "");
		return;
	}
	print_l4(l, &a, p[9], p + hl, n > hl ? n - hl : 0, tot - hl);
}

static void print_ip6(struct cap_line *l, const __u8 *p, __u32 n)
{
	struct cap_l3 a = {.fam = "IP6"};
	__u32 off = 40, len, i;
	__u8 nh;

	if (n < 40) {
		line_add(l, "IP6 [|ip6]");
		return;
	}
	inet_ntop(AF_INET6, p + 8, a.src, sizeof(a.src));
	inet_ntop(AF_INET6, p + 24, a.dst, sizeof(a.dst));
	len = rd16(p + 4);
	nh = p[6];
	/* hop-by-hop, routing, destination options; a fragment header */
	for (i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); i++) {
		__u32 hl = nh == 44 ? 8 : (off + 2 <= n ? (p[off + 1] + 1u) * 8 : 0);

		if (!hl || off + hl > n) {
			line_add(l, "IP6 %s > %s: [|ip6]", a.src, a.dst);
			return;
		}
		if (nh == 44 && rd16(p + off + 2) & 0xfff8) {
			line_add(l, "IP6 %s > %s: frag (%u)", a.src, a.dst,
				 rd16(p + off + 2) & 0xfff8);
			return;
		}
		nh = p[off];
		len = len > hl ? len - hl : 0;
		off += hl;
	}
	print_l4(l, &a, nh, p + off, n > off ? n - off : 0, len);
}

static void print_arp(struct cap_line *l, const __u8 *p, __u32 n, __u32 len)
{
	char spa[INET_ADDRSTRLEN], tpa[INET_ADDRSTRLEN];

	if (n < 28 || rd16(p) != 1 || rd16(p + 2) != 0x0800) {
		line_add(l, "ARP, length %u", len);
		return;
	}
	inet_ntop(AF_INET, p + 14, spa, sizeof(spa));
	inet_ntop(AF_INET, p + 24, tpa, sizeof(tpa));
	if (rd16(p + 6) == 1)
		line_add(l, "ARP, Request who-has %s tell %s, length %u", tpa, spa, len);
	else if (rd16(p + 6) == 2)
		line_add(l, "ARP, Reply %s is-at %02x:%02x:%02x:%02x:%02x:%02x, length %u", spa,
			 p[8], p[9], p[10], p[11], p[12], p[13], len);
	else
		line_add(l, "ARP, op %u, length %u", rd16(p + 6), len);
}

static void print_frame(struct cap_line *l, const __u8 *f, __u32 n, __u32 len)
{
	__u32 off = 12;
	__u16 type;

	if (n < 14) {
		line_add(l, "[|ether]");
		return;
	}
	type = rd16(f + 12);
	while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && off + 6 <= n) {
		off += 4;
		type = rd16(f + off);
	}
	off += 2;
	if (type == 0x0800)
		print_ip4(l, f + off, n - off);
	else if (type == 0x86dd)
		print_ip6(l, f + off, n - off);
	else if (type == 0x0806)
		print_arp(l, f + off, n - off, len - off);
	else if (type < 0x0600)
		line_add(l, "802.3, length %u", type);
	else
		line_add(l, "ethertype 0x%04x, length %u", type, len);
}

static void cap_print(struct cap_run *r, const struct ft_cap_hdr *h, const __u8 *frame, __u64 ts,
		      __u32 caplen)
{
	struct cap_line l = {.n = 0};
	time_t sec = (time_t)(ts / 1000000000ULL);
	char name[IF_NAMESIZE];
	struct tm tm;

	localtime_r(&sec, &tm);
	line_add(&l, "%02d:%02d:%02d.", tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (r->o->nano)
		line_add(&l, "%09llu ", (unsigned long long)(ts % 1000000000ULL));
	else
		line_add(&l, "%06llu ", (unsigned long long)(ts % 1000000000ULL / 1000));
	/* Like tcpdump -i any: the interface and direction when they vary. */
	if (r->o->all || r->o->ifs.n > 1 || r->o->dirs != 3)
		line_add(&l, "%s %-3s ", ft_ifname((int)h->ifindex, name),
			 h->dir == FT_DIR_INGRESS ? "In" : "Out");
	print_frame(&l, frame, caplen, h->pkt_len);
	printf("%s\n", l.s);
}

/* ---- the loop ---- */

static void cap_emit(struct cap_run *r, const struct ft_cap_hdr *h, const __u8 *bytes)
{
	__u64 ts = h->ts_ns + (__u64)r->mono_to_real;
	const __u8 *frame = bytes;
	__u32 caplen;
	size_t i = 0;

	/* Straight from the queue, unless a tag must go back in. */
	if (h->vlan_present) {
		caplen = cbpf_cap_frame(h, bytes, r->frame);
		frame = r->frame;
	} else {
		caplen = h->snap < h->pkt_len ? h->snap : h->pkt_len;
		caplen = caplen < h->copy_len ? caplen : h->copy_len;
	}

	if (r->out.fmt == FMT_PRINT) {
		cap_print(r, h, frame, ts, caplen);
	} else {
		if (!r->out.is_stdout)
			cap_out_rotate(r, (time_t)(ts / 1000000000ULL));
		if (r->done)
			return;
		if (r->out.fmt == FMT_PCAP)
			cap_pcap_record(r, frame, ts, caplen, h->pkt_len);
		else
			cap_png_epb(r, h, frame, ts, caplen);
	}
	if (!r->o->all)
		while (i + 1 < r->o->ifs.n && (__u32)r->o->ifs.v[i].ifindex != h->ifindex)
			i++;
	r->delivered[i]++;
	r->captured++;
	if (r->o->count && r->captured >= r->o->count)
		r->done = true;
}

static void cap_flush_round(struct cap_run *r)
{
	if (r->out.fmt == FMT_PRINT)
		fflush(stdout);
	else
		cap_out_flush(r);
}

/* Waits for a wakeup (a buffer a quarter full) or the timeout, then reads
 * every buffer: libbpf's epoll set of the perf events, without its reader. */
static void cap_loop(struct cap_run *r)
{
	int timeout = r->out.fmt == FMT_PRINT || r->out.is_stdout ? 50 : 100;
	int epfd = perf_buffer__epoll_fd(r->pb);
	struct epoll_event ev[16];

	while (!ft_stop && !r->done) {
		int n = epoll_wait(epfd, ev, 16, timeout);
		__u64 t;

		if (n < 0 && errno != EINTR) {
			ft_fail(CAP_CMD, "reading the perf buffer", errno);
			r->err = -errno;
			break;
		}
		t = cap_now(CLOCK_MONOTONIC);
		cap_drain(r, t > CAP_HOLD_NS ? t - CAP_HOLD_NS : 0);
		cap_flush_round(r);
	}
	if (!r->done)
		cap_drain(r, ~0ULL);
	cap_flush_round(r);
}

static void cap_summary(const struct cap_run *r)
{
	struct cap_counts t;

	cap_stats_total(r, &t);
	fflush(stdout);
	fprintf(stderr, "%llu packet%s captured\n", (unsigned long long)r->captured,
		r->captured == 1 ? "" : "s");
	fprintf(stderr, "%llu packet%s received by filter\n", (unsigned long long)t.seen,
		t.seen == 1 ? "" : "s");
	fprintf(stderr, "%llu packet%s dropped by kernel (capture buffer full)\n",
		(unsigned long long)t.lost, t.lost == 1 ? "" : "s");
	if (r->malformed)
		fprintf(stderr, "%llu malformed records ignored\n",
			(unsigned long long)r->malformed);
}

static void cap_listening(const struct cap_run *r)
{
	const struct cap_opts *o = r->o;
	size_t i;

	fprintf(stderr, "flowtap capture: listening on ");
	if (o->all)
		fprintf(stderr, "every flowtap interface");
	for (i = 0; i < o->ifs.n; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", o->ifs.v[i].name);
	fprintf(stderr, " (slot %d), link-type EN10MB (Ethernet), snapshot length %lu bytes\n",
		r->st->slot, o->snaplen);
}

static int cap_dump(const struct cbpf_prog *cp)
{
	size_t i;

	for (i = 0; i < cp->len; i++)
		printf("%s\n", cbpf_image(cp, i));
	return 0;
}

static void cap_init(struct cap_run *r, struct cap_slot *st, const struct cap_opts *o)
{
	int i;

	memset(st, 0, sizeof(*st));
	st->root = ft_pin_root();
	st->netns = cap_netns_ino();
	st->slot = -1;
	st->lock_fd = st->owners_fd = st->ifrefs_fd = st->config_fd = st->meta_fd = -1;
	for (i = 0; i < CAP_NPROG; i++)
		st->arr_fd[i] = st->prog_fd[i] = -1;
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->st = st;
	r->perf_fd = r->stats_fd = -1;
	for (i = 0; i < 3; i++)
		r->ifstats_fd[i] = -1;
	r->out.fd = -1;
	r->start_ns = cap_now(CLOCK_REALTIME);
	r->mono_to_real = (__s64)(r->start_ns - cap_now(CLOCK_MONOTONIC));
}

static void cap_fini(struct cap_run *r, struct cbpf_prog *cp, struct cap_opts *o)
{
	size_t i;
	int k;

	perf_buffer__free(r->pb);
	if (r->perf_fd >= 0)
		close(r->perf_fd);
	if (r->stats_fd >= 0)
		close(r->stats_fd);
	for (k = 0; k < 3; k++)
		if (r->ifstats_fd[k] >= 0)
			close(r->ifstats_fd[k]);
	free(r->calls_base);
	for (k = 0; k < r->nq; k++)
		free(r->q[k].wrap);
	free(r->q);
	free(r->delivered);
	free(r->out.buf);
	for (i = 0; i < r->out.ncreated; i++)
		free(r->out.created[i]);
	free(r->out.created);
	ft_cwatch_free(r->cw);
	cbpf_prog_free(cp);
	free(o->expr);
}

/* The filter must translate for both hooks before anything is touched. */
static int cap_check(struct cap_run *r, const struct cbpf_prog *cp)
{
	struct cbpf_ebpf e;
	int i;

	for (i = 0; i < CAP_NPROG; i++) {
		if (cap_translate(r, cp, i, &e))
			return -EINVAL;
		cbpf_ebpf_free(&e);
	}
	return 0;
}

int ft_cmd_capture(int argc, char **argv)
{
	struct cbpf_prog cp = {0};
	struct cap_opts o;
	struct cap_slot st;
	struct cap_run r;
	char err[512];
	int rc;

	rc = cap_parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;
	cap_init(&r, &st, &o);
	if (cbpf_compile(o.expr, (__u32)o.snaplen, &cp, err, sizeof(err))) {
		pr_err(CAP_CMD ": %s\n", err);
		rc = 1;
		goto out;
	}
	if (o.dump) {
		rc = cap_dump(&cp);
		goto out;
	}
	if (cap_check(&r, &cp) || ft_require_caps(CAP_CMD, true)) {
		rc = 1;
		goto out;
	}
	ft_signals_init();
	rc = cap_out_start(&r);
	if (!rc)
		rc = cap_perf_start(&r);
	if (!rc)
		rc = cap_setup(&r, &cp);
	if (rc) {
		cap_teardown(&st);
		cap_out_discard(&r);
		rc = 1;
		goto out;
	}
	cap_calls_start(&r);
	cap_listening(&r);
	cap_loop(&r);
	cap_teardown(&st);
	cap_out_close(&r);
	cap_summary(&r);
	rc = r.err ? 1 : 0;
out:
	cap_fini(&r, &cp, &o);
	return rc;
}
