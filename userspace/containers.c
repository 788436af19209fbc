// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Container discovery and attribution; see containers.h for the layers and
 * docs/containers.md for the rules.
 *
 * Everything read from a runtime's state or from /proc is untrusted: files
 * are opened without following symlinks below the runtime's state directory,
 * must be regular and under a size cap, and every string that leaves a
 * parser is cut to its field and limited to a safe character set, so a
 * hostile file can at worst produce a wrong or "unknown" label.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/net_namespace.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <limits.h>
#include <json-c/json.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include "containers.h"
#include "datapath.h"
#include "log.h"
#include "state.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define FT_CGROUP_FILE_MAX (64u << 10)
#define FT_JSON_DEPTH	   32
#define FT_NESTED_MAX	   (64u << 10) /* JSON inside an annotation */
#define FT_NS_PIDS	   32	       /* processes examined per namespace */

static const char *const runtime_names[FT_RT_MAX] = {
    [FT_RT_NONE] = "none",     [FT_RT_UNKNOWN] = "unknown",
    [FT_RT_DOCKER] = "docker", [FT_RT_CONTAINERD] = "containerd",
    [FT_RT_CRIO] = "crio",     [FT_RT_PODMAN] = "podman",
    [FT_RT_LXC] = "lxc",
};

const char *ft_runtime_name(enum ft_runtime rt)
{
	return (unsigned)rt < FT_RT_MAX ? runtime_names[rt] : "unknown";
}

/* ---- strings ---- */

static bool ft_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("._:@/+-", c));
}

/* Copies at most n-1 bytes of src[0..len), each outside the label set
 * replaced by '_'. */
static void ft_label_copy(char *dst, size_t n, const char *src, size_t len)
{
	size_t i;

	if (!n)
		return;
	if (len > n - 1)
		len = n - 1;
	for (i = 0; i < len; i++)
		dst[i] = ft_label_char(src[i]) ? src[i] : '_';
	dst[len] = 0;
}

static bool ft_is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return n > 0;
}

static bool ft_is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static bool ft_is_id(const char *s, size_t n)
{
	return n == FT_CT_ID_LEN && ft_is_hex(s, n);
}

static bool ft_has_prefix(const char *s, size_t n, const char *p, size_t *plen)
{
	size_t l = strlen(p);

	if (n < l || memcmp(s, p, l))
		return false;
	if (plen)
		*plen = l;
	return true;
}

/* ---- cgroup paths ---- */

static const struct {
	const char *prefix; /* "<prefix><id>[.scope]" */
	enum ft_runtime rt;
} scope_prefixes[] = {
    {"docker-", FT_RT_DOCKER}, {"cri-containerd-", FT_RT_CONTAINERD}, {"crio-", FT_RT_CRIO},
    {"libpod-", FT_RT_PODMAN}, {"nerdctl-", FT_RT_CONTAINERD},
};

/* The systemd-driver name containerd uses on non-systemd hosts:
 * "kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>". */
static const struct {
	const char *kind;
	enum ft_runtime rt;
} colon_kinds[] = {
    {"cri-containerd", FT_RT_CONTAINERD},
    {"docker", FT_RT_DOCKER},
    {"crio", FT_RT_CRIO},
    {"libpod", FT_RT_PODMAN},
};

static bool ft_cg_set(struct ft_cgroup_ref *r, enum ft_runtime rt, const char *id, size_t n)
{
	r->runtime = rt;
	ft_label_copy(r->id, sizeof(r->id), id, n);
	return true;
}

static bool ft_cg_colon(const char *c, size_t n, struct ft_cgroup_ref *r)
{
	const char *last = memrchr(c, ':', n), *mid;
	size_t i, idlen, kl;

	if (!last || last == c)
		return false;
	idlen = n - (last + 1 - c);
	if (!ft_is_id(last + 1, idlen))
		return false;
	mid = memrchr(c, ':', last - c);
	mid = mid ? mid + 1 : c;
	kl = last - mid;
	for (i = 0; i < ARRAY_SIZE(colon_kinds); i++)
		if (kl == strlen(colon_kinds[i].kind) && !memcmp(mid, colon_kinds[i].kind, kl))
			return ft_cg_set(r, colon_kinds[i].rt, last + 1, idlen);
	return ft_cg_set(r, FT_RT_UNKNOWN, last + 1, idlen);
}

/* "<prefix><64 hex>" with an optional ".scope". */
static bool ft_cg_scope(const char *c, size_t n, struct ft_cgroup_ref *r)
{
	size_t i, pl;

	if (n > 6 && !memcmp(c + n - 6, ".scope", 6))
		n -= 6;
	for (i = 0; i < ARRAY_SIZE(scope_prefixes); i++) {
		if (ft_has_prefix(c, n, scope_prefixes[i].prefix, &pl) && ft_is_id(c + pl, n - pl))
			return ft_cg_set(r, scope_prefixes[i].rt, c + pl, n - pl);
	}
	return false;
}

/* LXC 4+/LXD "lxc.payload.<name>", LXC 3 "/lxc/<name>". */
static bool ft_cg_lxc(const char *c, size_t n, const char *prev, size_t pn, struct ft_cgroup_ref *r)
{
	size_t pl = 0;

	if (ft_has_prefix(c, n, "lxc.payload.", &pl) ||
	    (pn == 3 && !memcmp(prev, "lxc", 3) && !ft_has_prefix(c, n, "lxc.", NULL))) {
		if (n == pl || n - pl > FT_CT_ID_LEN)
			return false;
		return ft_cg_set(r, FT_RT_LXC, c + pl, n - pl);
	}
	return false;
}

/* "pod<uid>" anywhere in a kubepods component; systemd spells the dashes
 * of the UID as underscores. */
static void ft_cg_pod_uid(const char *c, size_t n, struct ft_cgroup_ref *r)
{
	const char *p = NULL, *q = c;
	size_t i, l;

	/* The last "pod": "kubepods" itself contains one. */
	while ((q = memmem(q, n - (q - c), "pod", 3))) {
		p = q + 3;
		q = p;
	}
	if (!p)
		return;
	l = n - (p - c);
	if (l > 6 && !memcmp(p + l - 6, ".slice", 6))
		l -= 6;
	if (l < 32 || l >= sizeof(r->pod_uid))
		return;
	for (i = 0; i < l; i++)
		if (!ft_is_hex(p + i, 1) && p[i] != '-' && p[i] != '_')
			return;
	for (i = 0; i < l; i++)
		r->pod_uid[i] = p[i] == '_' ? '-' : p[i];
	r->pod_uid[l] = 0;
}

/* One component; prev is the component before it. */
static bool ft_cg_component(const char *c, size_t n, const char *prev, size_t pn,
			    struct ft_cgroup_ref *r)
{
	if (ft_has_prefix(c, n, "kubepods", NULL)) {
		const char *colon = memchr(c, ':', n); /* "<slice>:<kind>:<id>" */

		r->kubepods = true;
		ft_cg_pod_uid(c, colon ? (size_t)(colon - c) : n, r);
	} else if (r->kubepods && ft_has_prefix(c, n, "pod", NULL)) {
		ft_cg_pod_uid(c, n, r);
	}
	if (ft_cg_scope(c, n, r))
		return true;
	if (ft_is_id(c, n)) /* cgroupfs driver: "/docker/<id>", "/kubepods/.../<id>" */
		return ft_cg_set(
		    r, pn == 6 && !memcmp(prev, "docker", 6) ? FT_RT_DOCKER : FT_RT_UNKNOWN, c, n);
	if (memchr(c, ':', n) && ft_cg_colon(c, n, r))
		return true;
	return ft_cg_lxc(c, n, prev, pn, r);
}

int ft_cgroup_path_parse(const char *path, size_t len, struct ft_cgroup_ref *out)
{
	struct ft_cgroup_ref r = {0}, found = {0};
	const char *p = path, *end, *prev = "";
	size_t pn = 0;
	bool any = false;

	memset(out, 0, sizeof(*out));
	if (!path || !len || len > 4096 || path[0] != '/' || memchr(path, 0, len))
		return -EINVAL;
	end = path + len;
	/* The innermost container wins: Docker in Docker nests them. */
	while (p < end) {
		const char *slash = memchr(p, '/', end - p);
		size_t n = (slash ? slash : end) - p;

		if (n && !(n <= 2 && !memcmp(p, "..", n)) && ft_cg_component(p, n, prev, pn, &r)) {
			found = r;
			any = true;
		}
		if (n) {
			prev = p;
			pn = n;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	if (!any)
		return -ENOENT;
	found.kubepods = r.kubepods;
	if (!found.pod_uid[0])
		memcpy(found.pod_uid, r.pod_uid, sizeof(found.pod_uid));
	*out = found;
	return 0;
}

/* 0: the unified (v2) line, 1: name=systemd, 2: other v1 controllers. */
static int ft_cg_line_rank(const char *ctrl, size_t n)
{
	if (!n)
		return 0;
	if (n == 12 && !memcmp(ctrl, "name=systemd", 12))
		return 1;
	return 2;
}

int ft_cgroup_parse(const char *buf, size_t len, struct ft_cgroup_ref *out)
{
	struct ft_cgroup_ref best = {0}, r;
	const char *p = buf, *end;
	int best_rank = 3, valid = 0;

	memset(out, 0, sizeof(*out));
	if (!buf || len > FT_CGROUP_FILE_MAX)
		return -EINVAL;
	end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *le = nl ? nl : end;
		const char *line = p, *c1, *c2;
		int rank;

		p = nl ? nl + 1 : end;
		c1 = memchr(line, ':', le - line);
		c2 = c1 ? memchr(c1 + 1, ':', le - c1 - 1) : NULL;
		if (!c2 || c1 == line || !ft_is_digits(line, c1 - line))
			continue;
		valid++;
		rank = ft_cg_line_rank(c1 + 1, c2 - c1 - 1);
		if (rank >= best_rank || ft_cgroup_path_parse(c2 + 1, le - c2 - 1, &r))
			continue;
		best = r;
		best_rank = rank;
	}
	if (!valid)
		return -EINVAL;
	if (best_rank == 3)
		return -ENOENT;
	*out = best;
	return 0;
}

/* ---- runtime state (JSON) ---- */

static json_object *ft_json_parse(const char *buf, size_t len, size_t max)
{
	struct json_tokener *tok;
	json_object *o;

	if (!buf || !len || len > max)
		return NULL;
	tok = json_tokener_new_ex(FT_JSON_DEPTH);
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static json_object *ft_json_get(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* Copies the string o[key] into dst unless dst is already set (callers ask
 * in order of preference). strip: leading characters to drop ("/"). */
static bool ft_json_fill(json_object *o, const char *key, char *dst, size_t n, const char *strip)
{
	json_object *v = ft_json_get(o, key, json_type_string);
	const char *s;
	size_t l;

	if (!v || dst[0])
		return false;
	s = json_object_get_string(v);
	l = json_object_get_string_len(v);
	while (strip && l && *s && strchr(strip, *s)) {
		s++;
		l--;
	}
	if (!l)
		return false;
	ft_label_copy(dst, n, s, l);
	return true;
}

static bool ft_json_is(json_object *o, const char *key, const char *want)
{
	json_object *v = ft_json_get(o, key, json_type_string);

	return v && (size_t)json_object_get_string_len(v) == strlen(want) &&
	       !memcmp(json_object_get_string(v), want, strlen(want));
}

#define FILL(o, key, field) ft_json_fill(o, key, field, sizeof(field), NULL)

/* Kubernetes' own labels, as kubelet sets them on every container. */
static void ft_k8s_labels(json_object *o, struct ft_container_meta *m)
{
	FILL(o, "io.kubernetes.pod.name", m->pod);
	FILL(o, "io.kubernetes.pod.namespace", m->pod_namespace);
	FILL(o, "io.kubernetes.pod.uid", m->pod_uid);
	FILL(o, "io.kubernetes.container.name", m->k8s_container);
	FILL(o, "io.kubernetes.sandbox.id", m->sandbox_id);
	if (ft_json_is(o, "io.kubernetes.docker.type", "podsandbox") ||
	    ft_json_is(o, "io.kubernetes.container.name", "POD"))
		m->sandbox = true;
}

static bool ft_meta_any(const struct ft_container_meta *m)
{
	return m->id[0] || m->name[0] || m->pod[0] || m->k8s_container[0] || m->sandbox_id[0];
}

int ft_docker_config_parse(const char *buf, size_t len, struct ft_container_meta *out)
{
	json_object *root = ft_json_parse(buf, len, FT_CT_FILE_MAX);
	int ret;

	memset(out, 0, sizeof(*out));
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	FILL(root, "ID", out->id);
	ft_json_fill(root, "Name", out->name, sizeof(out->name), "/");
	ft_k8s_labels(
	    ft_json_get(ft_json_get(root, "Config", json_type_object), "Labels", json_type_object),
	    out);
	ret = ft_meta_any(out) ? 0 : -ENOENT;
	json_object_put(root);
	return ret;
}

/* CRI-O keeps the container's labels as a JSON string in an annotation. */
static void ft_crio_labels(json_object *ann, struct ft_container_meta *m)
{
	json_object *v = ft_json_get(ann, "io.kubernetes.cri-o.Labels", json_type_string), *l;

	if (!v)
		return;
	l = ft_json_parse(json_object_get_string(v), json_object_get_string_len(v), FT_NESTED_MAX);
	if (l && json_object_is_type(l, json_type_object))
		ft_k8s_labels(l, m);
	json_object_put(l);
}

int ft_oci_config_parse(const char *buf, size_t len, struct ft_container_meta *out)
{
	json_object *root = ft_json_parse(buf, len, FT_CT_FILE_MAX), *a;
	int ret = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	a = ft_json_get(root, "annotations", json_type_object);
	if (!a)
		goto out;
	ft_k8s_labels(a, out);
	/* containerd's CRI plugin */
	FILL(a, "io.kubernetes.cri.container-name", out->k8s_container);
	FILL(a, "io.kubernetes.cri.sandbox-name", out->pod);
	FILL(a, "io.kubernetes.cri.sandbox-namespace", out->pod_namespace);
	FILL(a, "io.kubernetes.cri.sandbox-uid", out->pod_uid);
	FILL(a, "io.kubernetes.cri.sandbox-id", out->sandbox_id);
	/* CRI-O */
	FILL(a, "io.kubernetes.cri-o.SandboxID", out->sandbox_id);
	ft_crio_labels(a, out);
	if (ft_json_is(a, "io.kubernetes.cri.container-type", "sandbox") ||
	    ft_json_is(a, "io.kubernetes.cri-o.ContainerType", "sandbox"))
		out->sandbox = true;
	/* The runtime's own name: nerdctl, CRI-O. */
	FILL(a, "nerdctl/name", out->name);
	FILL(a, "io.kubernetes.cri-o.Name", out->name);
	FILL(a, "io.kubernetes.cri-o.ContainerName", out->name);
	out->libpod = ft_json_is(a, "io.container.manager", "libpod");
	ret = ft_meta_any(out) || out->sandbox || out->libpod ? 0 : -ENOENT;
out:
	json_object_put(root);
	return ret;
}

/* The containers.json entry of id: its first name, else the name in its
 * metadata (itself a JSON string). */
static int ft_storage_find(json_object *arr, const char *id, struct ft_container_meta *out)
{
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!arr || !json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *names, *md;

		if (!ft_json_is(e, "id", id))
			continue;
		ft_label_copy(out->id, sizeof(out->id), id, strlen(id));
		names = ft_json_get(e, "names", json_type_array);
		if (names && json_object_array_length(names) > 0) {
			json_object *s = json_object_array_get_idx(names, 0);

			if (json_object_is_type(s, json_type_string))
				ft_label_copy(out->name, sizeof(out->name),
					      json_object_get_string(s),
					      json_object_get_string_len(s));
		}
		md = ft_json_get(e, "metadata", json_type_string);
		if (!out->name[0] && md) {
			json_object *m =
			    ft_json_parse(json_object_get_string(md),
					  json_object_get_string_len(md), FT_NESTED_MAX);

			FILL(m, "name", out->name);
			json_object_put(m);
		}
		return 0;
	}
	return -ENOENT;
}

int ft_storage_parse(const char *buf, size_t len, const char *id, struct ft_container_meta *out)
{
	json_object *root = ft_json_parse(buf, len, FT_CT_STORE_MAX);
	int ret;

	if (!id || !ft_is_id(id, strlen(id))) {
		json_object_put(root);
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	ret = ft_storage_find(root, id, out);
	json_object_put(root);
	return ret;
}

/* ---- reading untrusted files ---- */

/* Opens rel below dirfd without following symlinks or leaving dirfd. */
static int ft_open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) /* before 5.6: the last component at least */
		fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

/* Reads a whole regular file of at most max bytes, NUL-terminated. */
static int ft_read_fd(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	struct stat st;
	char *buf, *nb;
	ssize_t r;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((unsigned long long)st.st_size > max)
		return -EFBIG;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				goto fail_errno;
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail_errno;
		if (!r)
			break;
		n += r;
		if (n > max) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
fail_errno:
	r = errno ? -errno : -ENOMEM;
	free(buf);
	return r;
}

/* ---- snapshots of network namespaces ---- */

#define FT_NSID_UNQUERIED (-2)

struct ft_ns_ent {
	__u64 ino;
	int nsid; /* in our namespace; FT_NSID_UNQUERIED, -1 (none) or the id */
	int npids;
	int pids[FT_NS_PIDS];
	int bind_dir;		   /* index of the bind mount's directory; -1: none */
	char name[FT_CT_NAME_MAX]; /* the bind mount's name, as a label */
	char file[NAME_MAX + 1];   /* and as it is on disk */
};

/* Where `ip netns` and Docker bind-mount namespaces, in order of preference
 * for naming. Always on the real root: namespaces are not runtime state. */
static const char *const netns_dirs[] = {"/run/netns", "/run/docker/netns"};

/* Storage bases of containers/storage (podman, CRI-O): graph root first. */
static const char *const storage_bases[] = {
    "var/lib/containers/storage/overlay-containers",
    "run/containers/storage/overlay-containers",
    "var/lib/containers/storage/vfs-containers",
};

static const char *const containerd_bases[] = {
    "run/containerd/io.containerd.runtime.v2.task",
    "run/containerd/io.containerd.runtime.v1.linux",
};

struct ft_ct_snapshot {
	int rootfd; /* the state root */
	int procfd;
	int dirfd[ARRAY_SIZE(netns_dirs)];
	struct nl_sock *sk;
	__u64 self_ino;
	dev_t nsfs_dev;
	struct ft_ns_ent *ns;
	size_t nns, cap;
	bool queried;
	json_object *store[ARRAY_SIZE(storage_bases)]; /* containers.json, parsed */
	bool store_read[ARRAY_SIZE(storage_bases)];
};

static struct ft_ns_ent *ft_ns_find(struct ft_ct_snapshot *s, __u64 ino)
{
	size_t i;

	for (i = s->nns; i-- > 0;) /* recent first: /proc lists a container's PIDs together */
		if (s->ns[i].ino == ino)
			return &s->ns[i];
	return NULL;
}

static struct ft_ns_ent *ft_ns_add(struct ft_ct_snapshot *s, __u64 ino)
{
	struct ft_ns_ent *e = ft_ns_find(s, ino);

	if (e)
		return e;
	if (s->nns == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct ft_ns_ent *n = realloc(s->ns, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->ns = n;
		s->cap = cap;
	}
	e = &s->ns[s->nns++];
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->nsid = FT_NSID_UNQUERIED;
	e->bind_dir = -1;
	return e;
}

/* A DIR over a copy of fd, from the start. */
static DIR *ft_opendir_fd(int fd)
{
	int nfd = fd >= 0 ? dup(fd) : -1;
	DIR *d = nfd >= 0 ? fdopendir(nfd) : NULL;

	if (!d && nfd >= 0)
		close(nfd);
	if (d)
		rewinddir(d); /* the copy shares its offset with fd */
	return d;
}

static int ft_scan_procs(struct ft_ct_snapshot *s)
{
	DIR *d = ft_opendir_fd(s->procfd);
	struct dirent *de;
	char path[64];

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct ft_ns_ent *e;
		struct stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "%ld/ns/net", pid);
		if (fstatat(s->procfd, path, &st, 0) || st.st_ino == s->self_ino ||
		    st.st_dev != s->nsfs_dev)
			continue;
		e = ft_ns_add(s, st.st_ino);
		if (e && e->npids < FT_NS_PIDS)
			e->pids[e->npids++] = pid;
	}
	closedir(d);
	return 0;
}

static void ft_scan_binds(struct ft_ct_snapshot *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(netns_dirs); i++) {
		struct dirent *de;
		DIR *d;

		if (!(d = ft_opendir_fd(s->dirfd[i])))
			continue;
		while ((de = readdir(d))) {
			struct ft_ns_ent *e;
			struct stat st;

			if (de->d_name[0] == '.' ||
			    fstatat(s->dirfd[i], de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    st.st_dev != s->nsfs_dev || st.st_ino == s->self_ino)
				continue; /* not a mounted namespace */
			e = ft_ns_add(s, st.st_ino);
			if (e && e->bind_dir < 0) {
				e->bind_dir = i;
				snprintf(e->file, sizeof(e->file), "%s", de->d_name);
				ft_label_copy(e->name, sizeof(e->name), de->d_name,
					      strlen(de->d_name));
			}
		}
		closedir(d);
	}
}

void ft_ct_snapshot_free(struct ft_ct_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	if (s->rootfd >= 0)
		close(s->rootfd);
	if (s->procfd >= 0)
		close(s->procfd);
	for (i = 0; i < ARRAY_SIZE(s->dirfd); i++)
		if (s->dirfd[i] >= 0)
			close(s->dirfd[i]);
	for (i = 0; i < ARRAY_SIZE(s->store); i++)
		json_object_put(s->store[i]);
	if (s->sk)
		nl_socket_free(s->sk);
	free(s->ns);
	free(s);
}

static struct nl_sock *ft_nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return NULL;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

int ft_ct_snapshot_new(const char *state_root, struct ft_ct_snapshot **out)
{
	struct ft_ct_snapshot *s = calloc(1, sizeof(*s));
	struct stat st;
	size_t i;
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->procfd = s->rootfd = -1;
	for (i = 0; i < ARRAY_SIZE(s->dirfd); i++)
		s->dirfd[i] = open(netns_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->rootfd =
	    open(state_root && *state_root ? state_root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	s->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0 || s->procfd < 0 || stat("/proc/self/ns/net", &st)) {
		err = -errno;
		goto fail;
	}
	s->self_ino = st.st_ino;
	s->nsfs_dev = st.st_dev;
	s->sk = ft_nl_open();
	if (!s->sk) {
		err = -ENOMEM;
		goto fail;
	}
	/* Replies only: an ACK left in the socket would be read as the next
	 * request's answer. */
	nl_socket_disable_auto_ack(s->sk);
	err = ft_scan_procs(s);
	if (err)
		goto fail;
	ft_scan_binds(s);
	*out = s;
	return 0;
fail:
	ft_ct_snapshot_free(s);
	return err;
}

static int ft_nsid_reply(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[NETNSA_MAX + 1];

	if (h->nlmsg_type == RTM_NEWNSID &&
	    !nlmsg_parse(h, sizeof(struct rtgenmsg), tb, NETNSA_MAX, NULL) && tb[NETNSA_NSID])
		*(int *)arg = (int)nla_get_u32(tb[NETNSA_NSID]);
	return NL_OK;
}

/* The id our namespace gives the namespace of fd (RTM_GETNSID). */
static int ft_nsid_of(struct nl_sock *sk, int fd)
{
	struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_GETNSID, 0);
	int id = NETNSA_NSID_NOT_ASSIGNED, err;

	if (!m)
		return -ENOMEM;
	if (nlmsg_append(m, &g, sizeof(g), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, NETNSA_FD, fd) < 0) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	err = nl_send_auto(sk, m);
	nlmsg_free(m);
	if (err < 0)
		return -EIO;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ft_nsid_reply, &id);
	err = nl_recvmsgs_default(sk);
	return err < 0 ? -EIO : id;
}

/* An fd of the namespace, checked to still be the one recorded. */
static int ft_ns_open(struct ft_ct_snapshot *s, const struct ft_ns_ent *e)
{
	char path[64];
	struct stat st;
	int i, fd;

	for (i = 0; i <= e->npids; i++) {
		if (i < e->npids) {
			snprintf(path, sizeof(path), "%d/ns/net", e->pids[i]);
			fd = openat(s->procfd, path, O_RDONLY | O_CLOEXEC);
		} else if (e->bind_dir >= 0) {
			fd = openat(s->dirfd[e->bind_dir], e->file,
				    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		} else {
			break;
		}
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && st.st_ino == e->ino && st.st_dev == s->nsfs_dev)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

static void ft_ns_query(struct ft_ct_snapshot *s)
{
	size_t i;

	if (s->queried)
		return;
	s->queried = true;
	for (i = 0; i < s->nns; i++) {
		int fd = ft_ns_open(s, &s->ns[i]);

		if (fd < 0)
			continue;
		s->ns[i].nsid = ft_nsid_of(s->sk, fd);
		close(fd);
	}
}

/* ---- runtime state on disk ---- */

/* Reads base/rel below the state root. base may be a symlink (an admin's
 * choice, e.g. /var/lib/docker on another disk); nothing below it may. */
static int ft_read_state(struct ft_ct_snapshot *s, const char *base, const char *rel, size_t max,
			 char **buf, size_t *len)
{
	int dfd = openat(s->rootfd, base, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, err;

	*buf = NULL;
	*len = 0;
	if (dfd < 0)
		return -errno;
	fd = ft_open_beneath(dfd, rel);
	close(dfd);
	if (fd < 0)
		return fd;
	err = ft_read_fd(fd, max, buf, len);
	close(fd);
	return err;
}

/* A file the runtime keeps for the container exists: the runtime knows it,
 * even if what the file says cannot be used. */
static bool ft_state_exists(int err)
{
	return err != -ENOENT && err != -ENOTDIR;
}

/* Drops what a file says when it claims to be about another container. */
static void ft_meta_check_id(struct ft_container_meta *m, const char *id)
{
	if (m->id[0] && strcmp(m->id, id))
		memset(m, 0, sizeof(*m));
}

static int ft_meta_docker(struct ft_ct_snapshot *s, const char *id, struct ft_container_meta *m)
{
	char rel[FT_CT_ID_LEN + 32], *buf;
	size_t len;
	int err;

	snprintf(rel, sizeof(rel), "%s/config.v2.json", id);
	err = ft_read_state(s, "var/lib/docker/containers", rel, FT_CT_FILE_MAX, &buf, &len);
	if (!err)
		ft_docker_config_parse(buf, len, m);
	free(buf);
	ft_meta_check_id(m, id);
	return ft_state_exists(err) ? 0 : -ENOENT;
}

static bool ft_safe_name(const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (!ft_label_char(s[i]) || s[i] == '/')
			return false;
	return n && n < 64 && strcmp(s, ".") && strcmp(s, "..");
}

/* containerd's task bundles: <base>/<namespace>/<id>/config.json. */
static int ft_meta_containerd(struct ft_ct_snapshot *s, const char *id, struct ft_container_meta *m)
{
	char rel[NAME_MAX + FT_CT_ID_LEN + 16], *buf;
	int ret = -ENOENT, err;
	struct dirent *de;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(containerd_bases) && ret; i++) {
		int dfd =
		    openat(s->rootfd, containerd_bases[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = ft_opendir_fd(dfd);
		int nns = 0;

		if (dfd >= 0)
			close(dfd);
		while (d && ret && (de = readdir(d)) && nns++ < 256) {
			if (!ft_safe_name(de->d_name))
				continue;
			snprintf(rel, sizeof(rel), "%s/%s/config.json", de->d_name, id);
			err =
			    ft_read_state(s, containerd_bases[i], rel, FT_CT_FILE_MAX, &buf, &len);
			if (!err)
				ft_oci_config_parse(buf, len, m);
			free(buf);
			if (ft_state_exists(err))
				ret = 0;
		}
		if (d)
			closedir(d);
	}
	return ret;
}

static json_object *ft_store(struct ft_ct_snapshot *s, size_t i)
{
	char *buf;
	size_t len;

	if (!s->store_read[i]) {
		s->store_read[i] = true;
		if (!ft_read_state(s, storage_bases[i], "containers.json", FT_CT_STORE_MAX, &buf,
				   &len))
			s->store[i] = ft_json_parse(buf, len, FT_CT_STORE_MAX);
		free(buf);
	}
	return s->store[i];
}

/* containers/storage: <base>/<id>/userdata/config.json, and the name from
 * the base's containers.json. */
static int ft_meta_storage(struct ft_ct_snapshot *s, const char *id, struct ft_container_meta *m)
{
	struct ft_container_meta named;
	char rel[FT_CT_ID_LEN + 32], *buf;
	int ret = -ENOENT, err;
	size_t i, len;

	snprintf(rel, sizeof(rel), "%s/userdata/config.json", id);
	for (i = 0; i < ARRAY_SIZE(storage_bases) && ret; i++) {
		err = ft_read_state(s, storage_bases[i], rel, FT_CT_FILE_MAX, &buf, &len);
		if (!err)
			ft_oci_config_parse(buf, len, m);
		free(buf);
		if (ft_state_exists(err))
			ret = 0;
	}
	for (i = 0; i < ARRAY_SIZE(storage_bases); i++) {
		if (ft_storage_find(ft_store(s, i), id, &named))
			continue;
		if (!m->name[0])
			memcpy(m->name, named.name, sizeof(m->name));
		ret = 0;
		break;
	}
	return ret;
}

/* Fills m from the runtime's state; refines an unknown runtime by where the
 * id is found. */
static void ft_meta_load(struct ft_ct_snapshot *s, enum ft_runtime *rt, const char *id,
			 struct ft_container_meta *m)
{
	memset(m, 0, sizeof(*m));
	switch (*rt) {
	case FT_RT_DOCKER:
		ft_meta_docker(s, id, m);
		return;
	case FT_RT_CONTAINERD:
		ft_meta_containerd(s, id, m);
		return;
	case FT_RT_CRIO:
	case FT_RT_PODMAN:
		ft_meta_storage(s, id, m);
		return;
	case FT_RT_UNKNOWN:
		if (!ft_meta_docker(s, id, m))
			*rt = FT_RT_DOCKER;
		else if (!ft_meta_containerd(s, id, m))
			*rt = FT_RT_CONTAINERD;
		else if (!ft_meta_storage(s, id, m))
			*rt = m->libpod ? FT_RT_PODMAN : FT_RT_CRIO;
		return;
	default:
		return;
	}
}

/* ---- attribution ---- */

bool ft_ct_labels_resolved(const struct ft_ct_labels *l)
{
	return l->runtime != FT_RT_NONE && l->container_id[0];
}

static int ft_pid_cgroup(struct ft_ct_snapshot *s, int pid, struct ft_cgroup_ref *r)
{
	char path[32], *buf;
	size_t len;
	int fd, err;

	snprintf(path, sizeof(path), "%d/cgroup", pid);
	fd = openat(s->procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = ft_read_fd(fd, FT_CGROUP_FILE_MAX, &buf, &len);
	close(fd);
	if (!err)
		err = ft_cgroup_parse(buf, len, r);
	free(buf);
	return err;
}

static void ft_member_name(const struct ft_ct_member *mb, const struct ft_container_meta *m,
			   char *dst, size_t n)
{
	const char *name = m->k8s_container[0]	      ? m->k8s_container
			   : m->sandbox		      ? "POD"
			   : m->name[0]		      ? m->name
			   : mb->runtime == FT_RT_LXC ? mb->id
						      : "unknown";

	snprintf(dst, n, "%s", name);
}

/* The containers behind the namespace's processes, one per id. */
static int ft_members(struct ft_ct_snapshot *s, const struct ft_ns_ent *e, struct ft_ct_member *mb,
		      struct ft_container_meta *meta)
{
	int i, j, n = 0;

	for (i = 0; i < e->npids; i++) {
		struct ft_cgroup_ref r;

		if (ft_pid_cgroup(s, e->pids[i], &r))
			continue;
		for (j = 0; j < n && strcmp(mb[j].id, r.id); j++)
			;
		if (j < n || n == FT_CT_MEMBERS)
			continue;
		memset(&mb[n], 0, sizeof(mb[n]));
		mb[n].runtime = r.runtime;
		mb[n].pid = e->pids[i];
		memcpy(mb[n].id, r.id, sizeof(mb[n].id));
		ft_meta_load(s, &mb[n].runtime, r.id, &meta[n]);
		if (!meta[n].pod_uid[0])
			memcpy(meta[n].pod_uid, r.pod_uid, sizeof(meta[n].pod_uid));
		mb[n].sandbox = meta[n].sandbox;
		ft_member_name(&mb[n], &meta[n], mb[n].name, sizeof(mb[n].name));
		n++;
	}
	return n;
}

/* The container a pod's traffic is labelled with: the application
 * container with the smallest name (stable across restarts), the sandbox
 * only when it is alone. */
static int ft_primary(const struct ft_ct_member *mb, int n)
{
	int i, best = 0;

	for (i = 1; i < n; i++) {
		int c;

		if (mb[i].sandbox != mb[best].sandbox) {
			if (!mb[i].sandbox)
				best = i;
			continue;
		}
		c = strcmp(mb[i].name, mb[best].name);
		if (c < 0 || (!c && strcmp(mb[i].id, mb[best].id) < 0))
			best = i;
	}
	return best;
}

static void ft_labels_from_members(struct ft_ct_labels *l, const struct ft_ct_member *mb,
				   const struct ft_container_meta *meta, int n)
{
	int p = ft_primary(mb, n), i;

	l->runtime = mb[p].runtime;
	l->pid = mb[p].pid;
	memcpy(l->container_id, mb[p].id, sizeof(l->container_id));
	memcpy(l->container, mb[p].name, sizeof(l->container));
	for (i = -1; i < n; i++) { /* the primary first, then any that knows */
		const struct ft_container_meta *m = &meta[i < 0 ? p : i];

		if (!l->pod[0] && m->pod[0]) {
			memcpy(l->pod, m->pod, sizeof(l->pod));
			memcpy(l->pod_namespace, m->pod_namespace, sizeof(l->pod_namespace));
		}
	}
	l->nmembers = n;
	memcpy(l->members, mb, n * sizeof(*mb));
}

int ft_ct_attribute(struct ft_ct_snapshot *s, int link_netnsid, struct ft_ct_labels *out)
{
	struct ft_container_meta *meta;
	struct ft_ct_member mb[FT_CT_MEMBERS];
	struct ft_ns_ent *e = NULL;
	size_t i;
	int n;

	memset(out, 0, sizeof(*out));
	ft_ns_query(s);
	for (i = 0; i < s->nns && link_netnsid >= 0; i++)
		if (s->ns[i].nsid == link_netnsid)
			e = &s->ns[i];
	if (!e) {
		snprintf(out->container, sizeof(out->container), "netnsid:%d", link_netnsid);
		return -ENOENT;
	}
	out->netns_ino = e->ino;
	memcpy(out->netns_name, e->name, sizeof(out->netns_name));
	out->pid = e->npids ? e->pids[0] : 0;
	meta = calloc(FT_CT_MEMBERS, sizeof(*meta));
	if (!meta)
		return -ENOMEM;
	n = ft_members(s, e, mb, meta);
	if (n)
		ft_labels_from_members(out, mb, meta, n);
	else if (e->name[0])
		memcpy(out->container, e->name, sizeof(out->container));
	else
		snprintf(out->container, sizeof(out->container), "netns:%llu",
			 (unsigned long long)e->ino);
	free(meta);
	return 0;
}

/* ---- discovery ---- */

/* Whether name matches one of the comma-separated fnmatch patterns. */
static bool ft_match_list(const char *name, const char *list)
{
	char pat[256];
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n && n < sizeof(pat)) {
			memcpy(pat, p, n);
			pat[n] = 0;
			if (!fnmatch(pat, name, 0))
				return true;
		}
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

bool ft_ct_name_selected(const char *name, const char *include, const char *exclude)
{
	if (include && *include && !ft_match_list(name, include))
		return false;
	return !(exclude && *exclude && ft_match_list(name, exclude));
}

struct ft_cwatch {
	char *include, *exclude, *state_root;
	ft_cwatch_cb cb;
	void *ctx;
	bool no_labels;
	struct nl_sock *ev; /* notifications */
	struct nl_cb *ev_cb;
	struct nl_sock *sk; /* dumps */
	int msg_type;	    /* of the message being parsed */
	struct ft_cveth *v; /* sorted by ifindex */
	size_t n, cap;
	unsigned gen;
	bool resync; /* the kernel dropped notifications */
};

static double ft_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Index of ifindex in w->v, or of where it would go. */
static size_t ft_cw_pos(const struct ft_cwatch *w, int ifindex)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->v[mid].ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct ft_cveth *ft_cwatch_get(const struct ft_cwatch *w, int ifindex)
{
	size_t i = ft_cw_pos(w, ifindex);

	return i < w->n && w->v[i].ifindex == ifindex ? &w->v[i] : NULL;
}

size_t ft_cwatch_list(const struct ft_cwatch *w, const struct ft_cveth **out)
{
	*out = w->v;
	return w->n;
}

int ft_cwatch_fd(const struct ft_cwatch *w)
{
	return nl_socket_get_fd(w->ev);
}

static void ft_cw_fire(struct ft_cwatch *w, enum ft_cwatch_event_kind kind,
		       const struct ft_cveth *e)
{
	struct ft_cwatch_event ev = {.kind = kind, .veth = e};

	if (w->cb)
		w->cb(&ev, w->ctx);
}

static void ft_cw_remove(struct ft_cwatch *w, size_t i)
{
	ft_cw_fire(w, FT_CW_REMOVED, &w->v[i]);
	memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof(*w->v));
	w->n--;
}

static struct ft_cveth *ft_cw_insert(struct ft_cwatch *w, int ifindex)
{
	size_t i = ft_cw_pos(w, ifindex);

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct ft_cveth *nv = realloc(w->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		w->v = nv;
		w->cap = cap;
	}
	memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(*w->v));
	w->n++;
	memset(&w->v[i], 0, sizeof(w->v[i]));
	w->v[i].ifindex = ifindex;
	return &w->v[i];
}

/* A host-side veth whose peer is in another namespace, selected by name. */
static bool ft_cw_qualifies(struct ft_cwatch *w, struct rtnl_link *l, int *nsid, int *peer)
{
	const char *kind = rtnl_link_get_type(l), *name = rtnl_link_get_name(l);
	int32_t id;

	if (!kind || strcmp(kind, "veth") || !name || rtnl_link_get_link_netnsid(l, &id) < 0 ||
	    id < 0)
		return false;
	*nsid = id;
	*peer = rtnl_link_get_link(l);
	return ft_ct_name_selected(name, w->include, w->exclude);
}

/* A link was reported (dump or RTM_NEWLINK). */
static void ft_cw_seen(struct ft_cwatch *w, struct rtnl_link *l)
{
	int ifindex = rtnl_link_get_ifindex(l), nsid = -1, peer = 0;
	bool q = ft_cw_qualifies(w, l, &nsid, &peer);
	size_t i = ft_cw_pos(w, ifindex);
	bool known = i < w->n && w->v[i].ifindex == ifindex;
	struct ft_cveth *e;

	if (known && !q) {
		ft_cw_remove(w, i);
		return;
	}
	if (!q)
		return;
	e = known ? &w->v[i] : ft_cw_insert(w, ifindex);
	if (!e)
		return;
	e->gen = w->gen;
	snprintf(e->ifname, sizeof(e->ifname), "%s", rtnl_link_get_name(l));
	e->peer_ifindex = peer;
	if (known && e->link_netnsid == nsid)
		return;
	e->link_netnsid = nsid; /* new, or its peer moved: attribute again */
	e->next_attr = 0;
	e->backoff = 0;
	if (!known)
		ft_cw_fire(w, FT_CW_ADDED, e);
}

static void ft_cw_gone(struct ft_cwatch *w, int ifindex)
{
	size_t i = ft_cw_pos(w, ifindex);

	if (i < w->n && w->v[i].ifindex == ifindex)
		ft_cw_remove(w, i);
}

static void ft_cw_obj(struct nl_object *obj, void *arg)
{
	struct ft_cwatch *w = arg;
	struct rtnl_link *l = (struct rtnl_link *)obj;

	if (w->msg_type == RTM_DELLINK)
		ft_cw_gone(w, rtnl_link_get_ifindex(l));
	else
		ft_cw_seen(w, l);
}

static int ft_cw_msg(struct nl_msg *msg, void *arg)
{
	struct ft_cwatch *w = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct ifinfomsg *ifi;

	if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
	    !nlmsg_valid_hdr(h, sizeof(*ifi)))
		return NL_SKIP;
	/* AF_BRIDGE messages are about bridge ports: a veth leaving a bridge
	 * gets an RTM_DELLINK of that family and is still there. */
	ifi = nlmsg_data(h);
	if (ifi->ifi_family != AF_UNSPEC)
		return NL_SKIP;
	w->msg_type = h->nlmsg_type;
	nl_msg_parse(msg, ft_cw_obj, w);
	return NL_OK;
}

void ft_cwatch_free(struct ft_cwatch *w)
{
	if (!w)
		return;
	if (w->ev_cb)
		nl_cb_put(w->ev_cb);
	if (w->ev)
		nl_socket_free(w->ev);
	if (w->sk)
		nl_socket_free(w->sk);
	free(w->include);
	free(w->exclude);
	free(w->state_root);
	free(w->v);
	free(w);
}

static char *ft_strdup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int ft_cwatch_new(const struct ft_cwatch_opts *o, struct ft_cwatch **out)
{
	struct ft_cwatch *w = calloc(1, sizeof(*w));
	int err = -ENOMEM;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->include = ft_strdup_or_null(o->include);
	w->exclude = ft_strdup_or_null(o->exclude);
	w->state_root = ft_strdup_or_null(o->state_root);
	w->cb = o->cb;
	w->ctx = o->ctx;
	w->no_labels = o->no_labels;
	w->ev = nl_socket_alloc();
	w->sk = ft_nl_open();
	if (!w->ev || !w->sk)
		goto fail;
	/* Notifications carry no sequence numbers of ours. */
	nl_socket_disable_seq_check(w->ev);
	nl_socket_modify_cb(w->ev, NL_CB_VALID, NL_CB_CUSTOM, ft_cw_msg, w);
	w->ev_cb = nl_socket_get_cb(w->ev);
	err = nl_connect(w->ev, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_add_membership(w->ev, RTNLGRP_LINK);
	if (!err)
		err = nl_socket_set_nonblocking(w->ev);
	if (err) {
		err = -EIO;
		goto fail;
	}
	/* Room for a burst (a node starting many pods at once). */
	nl_socket_set_buffer_size(w->ev, 4 << 20, 0);
	*out = w;
	return 0;
fail:
	ft_cwatch_free(w);
	return err;
}

/* Attributes the veths that are due (all of them if force), firing LABELS
 * where the labels are new or changed. */
static int ft_cw_attribute(struct ft_cwatch *w, bool force)
{
	struct ft_ct_snapshot *s = NULL;
	double now = ft_now();
	size_t i;
	int err;

	if (w->no_labels)
		return 0;
	for (i = 0; i < w->n && !force && w->v[i].next_attr > now; i++)
		;
	if (i == w->n)
		return 0;
	err = ft_ct_snapshot_new(w->state_root, &s);
	if (err)
		return err;
	for (i = 0; i < w->n; i++) {
		struct ft_cveth *e = &w->v[i];
		struct ft_ct_labels l;
		bool changed;

		if (!force && e->next_attr > now)
			continue;
		ft_ct_attribute(s, e->link_netnsid, &l);
		changed = !e->attributed || memcmp(&l, &e->labels, sizeof(l));
		e->labels = l;
		e->attributed = true;
		if (ft_ct_labels_resolved(&l)) {
			e->backoff = 0;
			e->next_attr = now + 60;
		} else {
			e->backoff = e->backoff ? (e->backoff * 2 > 30 ? 30 : e->backoff * 2) : 0.5;
			e->next_attr = now + e->backoff;
		}
		if (changed)
			ft_cw_fire(w, FT_CW_LABELS, e);
	}
	ft_ct_snapshot_free(s);
	return 0;
}

int ft_cwatch_scan(struct ft_cwatch *w)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	size_t i;
	int err;

	w->resync = false;
	err = rtnl_link_alloc_cache(w->sk, AF_UNSPEC, &cache);
	if (err < 0) {
		pr_warn("containers: cannot list links: %s\n", nl_geterror(err));
		return -EIO;
	}
	w->gen++;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj))
		ft_cw_seen(w, (struct rtnl_link *)obj);
	nl_cache_free(cache);
	for (i = w->n; i-- > 0;)
		if (w->v[i].gen != w->gen)
			ft_cw_remove(w, i);
	return ft_cw_attribute(w, false);
}

int ft_cwatch_process(struct ft_cwatch *w)
{
	int err;

	do {
		err = nl_recvmsgs_report(w->ev, w->ev_cb);
	} while (err > 0);
	if (err == -NLE_NOMEM || err == -NLE_MSG_OVERFLOW) {
		/* ENOBUFS: notifications were lost; the dump is the truth. */
		pr_info("containers: link notifications lost, rescanning\n");
		w->resync = true;
	} else if (err < 0 && err != -NLE_AGAIN) {
		pr_debug("containers: netlink: %s\n", nl_geterror(err));
	}
	if (w->resync)
		return ft_cwatch_scan(w);
	return ft_cw_attribute(w, false);
}

int ft_cwatch_tick(struct ft_cwatch *w)
{
	return w->resync ? ft_cwatch_scan(w) : ft_cw_attribute(w, false);
}

int ft_cwatch_attribute_all(struct ft_cwatch *w)
{
	return ft_cw_attribute(w, true);
}

/* ---- attaching ---- */

int ft_ct_attach(const char *pin_root, const struct ft_knobs *k, int ifindex)
{
	struct ft_attach_opts o = {.hook = FT_HOOK_TC, .gone_ok = true};
	struct ft_attachment *list;
	size_t n, i;
	int err = ft_status(&list, &n);

	if (err)
		return err;
	for (i = 0; i < n && list[i].ifindex != ifindex; i++)
		;
	err = i < n && list[i].hook == FT_HOOK_TC ? 1 : 0;
	free(list);
	if (err)
		return 1; /* a restarted daemon finds its own filters */
	return ft_attach(pin_root, k, ifindex, &o);
}

/* ---- forgetting a vanished interface ---- */

static bool ft_key_if(const void *key, int ifindex, __u32 self_ns)
{
	(void)self_ns;
	return *(const __u32 *)key == (__u32)ifindex;
}

static bool ft_key_drop(const void *key, int ifindex, __u32 self_ns)
{
	const struct ft_drop_key *k = key;

	return k->ifindex == (__u32)ifindex && k->netns == self_ns;
}

/* Deletes the entries of a pinned map whose key matches. Keys are
 * collected first: deleting while iterating restarts the walk. */
static int ft_forget_map(const char *root, const char *name, size_t ksize,
			 bool (*match)(const void *, int, __u32), int ifindex, __u32 self_ns)
{
	unsigned char cur[64], next[64], *keys = NULL, *nk;
	size_t n = 0, cap = 0, i;
	int fd = ft_map_fd(root, name), removed = 0;
	void *prev = NULL;

	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);

	if (fd < 0)
		return 0; /* not loaded: nothing kept */
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) || info.key_size != ksize) {
		close(fd);
		return -EINVAL;
	}
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(cur, next, ksize);
		prev = cur;
		if (!match(cur, ifindex, self_ns))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nk = realloc(keys, cap * ksize);
			if (!nk)
				break;
			keys = nk;
		}
		memcpy(keys + n++ * ksize, cur, ksize);
	}
	for (i = 0; i < n; i++)
		removed += !bpf_map_delete_elem(fd, keys + i * ksize);
	free(keys);
	close(fd);
	return removed;
}

int ft_ct_forget(const char *pin_root, int ifindex)
{
	struct stat st;
	__u32 self_ns = stat("/proc/self/ns/net", &st) ? 0 : (__u32)st.st_ino;
	static const struct {
		const char *map;
		size_t ksize;
		bool (*match)(const void *, int, __u32);
	} maps[] = {
	    {"ft_ifstats", sizeof(struct ft_if_key), ft_key_if},
	    {"ft_flows", sizeof(struct ft_flow_key), ft_key_if},
	    {"ft_tcp_hs_map", sizeof(struct ft_flow_key), ft_key_if},
	    {"ft_drops", sizeof(struct ft_drop_key), ft_key_drop},
	};
	int n = 0, r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		r = ft_forget_map(pin_root, maps[i].map, maps[i].ksize, maps[i].match, ifindex,
				  self_ns);
		if (r < 0)
			return r;
		n += r;
	}
	/* Its array slot of counters (attached interfaces have one). */
	r = ft_ifslot_release(pin_root, ifindex);
	return r && r != -ENOENT ? r : n;
}

/* ---- labels in outputs ---- */

static json_object *ft_json_str_or_null(const char *s)
{
	return s[0] ? json_object_new_string(s) : NULL;
}

void ft_ct_labels_json(const struct ft_ct_labels *l, struct json_object *o)
{
	json_object_object_add(o, "runtime", json_object_new_string(ft_runtime_name(l->runtime)));
	json_object_object_add(o, "container_id", ft_json_str_or_null(l->container_id));
	json_object_object_add(o, "container", ft_json_str_or_null(l->container));
	json_object_object_add(o, "pod", ft_json_str_or_null(l->pod));
	json_object_object_add(o, "namespace", ft_json_str_or_null(l->pod_namespace));
}

int ft_ct_labels_kv(const struct ft_ct_labels *l, char *buf, size_t len)
{
	int n = snprintf(buf, len, "runtime=%s container=%s", ft_runtime_name(l->runtime),
			 l->container[0] ? l->container : "unknown");

	if (l->container_id[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " container_id=%.12s", l->container_id);
	if (l->pod[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " pod=%s namespace=%s", l->pod,
			      l->pod_namespace[0] ? l->pod_namespace : "unknown");
	return n;
}

const char *ft_ct_dir_name(unsigned int dir)
{
	/* TC sits on the host side: what the host receives, the container sent. */
	return dir == FT_DIR_INGRESS ? "from_container" : "to_container";
}
