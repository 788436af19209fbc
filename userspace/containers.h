/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Containers: which veths lead into other network namespaces (discovery),
 * and who lives behind them (attribution). The datapath keys everything by
 * the ifindex of the host-side veth; these labels are the userspace map from
 * that ifindex to a container, a pod or a plain namespace.
 *
 * Three layers, each usable alone:
 *  - pure parsers (buffer in, struct out; no I/O, fuzzable): cgroup files
 *    and paths, Docker's config.v2.json, OCI config.json, containers/storage's
 *    containers.json;
 *  - attribution: ft_ct_attribute() for one link-netnsid, from /proc and the
 *    runtimes' state on disk;
 *  - the watcher (struct ft_cwatch): libnl link notifications plus an
 *    initial dump, driven from the caller's event loop, with include/exclude
 *    name patterns, firing "added" / "removed" / "labels" callbacks.
 * See docs/containers.md.
 */
#ifndef FT_CONTAINERS_H
#define FT_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <linux/types.h>

enum ft_runtime {
	FT_RT_NONE,    /* a network namespace without a known container */
	FT_RT_UNKNOWN, /* a container id whose runtime could not be told */
	FT_RT_DOCKER,
	FT_RT_CONTAINERD, /* containerd, CRI (cri-containerd-*) or plain (nerdctl) */
	FT_RT_CRIO,
	FT_RT_PODMAN,
	FT_RT_LXC,
	FT_RT_MAX,
};

/* "none", "unknown", "docker", "containerd", "crio", "podman", "lxc". */
const char *ft_runtime_name(enum ft_runtime rt);

#define FT_CT_ID_LEN	64 /* hex digits of a full container id */
#define FT_CT_NAME_MAX	128
#define FT_CT_POD_MAX	254 /* a Kubernetes name is at most 253 characters */
#define FT_CT_NS_MAX	64  /* a Kubernetes namespace: at most 63 */
#define FT_CT_UID_MAX	40
#define FT_CT_MEMBERS	8	    /* containers remembered per network namespace */
#define FT_CT_FILE_MAX	(4u << 20)  /* config.v2.json / config.json cap */
#define FT_CT_STORE_MAX (32u << 20) /* containers.json (all containers) cap */

/* What a cgroup path says about the process in it. */
struct ft_cgroup_ref {
	enum ft_runtime runtime;     /* FT_RT_NONE: not a container's cgroup */
	bool kubepods;		     /* under a kubepods hierarchy */
	char id[FT_CT_ID_LEN + 1];   /* lowercase hex; for LXC, the container name */
	char pod_uid[FT_CT_UID_MAX]; /* kubepods: the pod UID, with dashes */
};

/*
 * Pure parsers. Inputs need not be NUL-terminated and may hold anything;
 * they return 0 when something was recognised, -ENOENT when the input is
 * well-formed but names no container, -EINVAL when it is malformed. *out is
 * always fully written (zeroed on failure). Strings copied out are cut to
 * their field and limited to [A-Za-z0-9._:@/+-] (anything else becomes '_').
 */
/* One path ("/kubepods.slice/.../cri-containerd-<id>.scope"). */
int ft_cgroup_path_parse(const char *path, size_t len, struct ft_cgroup_ref *out);
/* A /proc/PID/cgroup file: v1 "N:ctrl:/path", v2 "0::/path", or both (hybrid).
 * The unified line wins, then name=systemd, then the other v1 lines. */
int ft_cgroup_parse(const char *buf, size_t len, struct ft_cgroup_ref *out);

/* What a runtime's state says about one container. */
struct ft_container_meta {
	char id[FT_CT_ID_LEN + 1];	    /* the id the file claims ("" if none) */
	char name[FT_CT_NAME_MAX];	    /* the runtime's own name */
	char k8s_container[FT_CT_NAME_MAX]; /* io.kubernetes.container.name */
	char pod[FT_CT_POD_MAX];	    /* io.kubernetes.pod.name */
	char pod_namespace[FT_CT_NS_MAX];   /* io.kubernetes.pod.namespace */
	char pod_uid[FT_CT_UID_MAX];
	char sandbox_id[FT_CT_ID_LEN + 1];
	bool sandbox; /* a pod's infra ("pause") container */
	bool libpod;  /* io.container.manager=libpod (podman) */
};

/* Docker's /var/lib/docker/containers/<id>/config.v2.json. */
int ft_docker_config_parse(const char *buf, size_t len, struct ft_container_meta *out);
/* An OCI runtime bundle's config.json (containerd, CRI-O, podman): the
 * annotations, including CRI's and CRI-O's nested io.kubernetes.cri-o.Labels. */
int ft_oci_config_parse(const char *buf, size_t len, struct ft_container_meta *out);
/* containers/storage's containers.json (podman, CRI-O): the entry of id,
 * -ENOENT when absent. Only name and id are filled. */
int ft_storage_parse(const char *buf, size_t len, const char *id, struct ft_container_meta *out);

/* One container found in a namespace. */
struct ft_ct_member {
	enum ft_runtime runtime;
	bool sandbox;
	int pid; /* lowest PID seen in it */
	char id[FT_CT_ID_LEN + 1];
	char name[FT_CT_NAME_MAX]; /* as in labels.container */
};

/* The labels of one veth. Empty strings are unknown. */
struct ft_ct_labels {
	enum ft_runtime runtime;
	__u64 netns_ino; /* 0: the namespace could not be opened */
	int pid;	 /* a process of the container (or of the namespace); 0: none */
	char container_id[FT_CT_ID_LEN + 1];
	/* The container's name: the Kubernetes container name when there is
	 * one, else the runtime's name, else "unknown"; for a namespace without
	 * container, its `ip netns` name or "netns:<inode>". */
	char container[FT_CT_NAME_MAX];
	char pod[FT_CT_POD_MAX];
	char pod_namespace[FT_CT_NS_MAX];
	char netns_name[FT_CT_NAME_MAX]; /* `ip netns` name, "" if none */
	int nmembers;			 /* containers sharing the namespace */
	struct ft_ct_member members[FT_CT_MEMBERS];
};

/* True when labels name a container (a runtime and an id). */
bool ft_ct_labels_resolved(const struct ft_ct_labels *l);

/*
 * One attribution pass: a snapshot of the network namespaces of all
 * processes and of `ip netns` (/run/netns) and Docker's (/run/docker/netns)
 * bind mounts, reused for every veth attributed with it. state_root is "/"
 * (or NULL) except in tests, which point it at a fake tree holding
 * var/lib/docker, run/containerd, var/lib/containers and run/containers.
 */
struct ft_ct_snapshot;
int ft_ct_snapshot_new(const char *state_root, struct ft_ct_snapshot **out);
void ft_ct_snapshot_free(struct ft_ct_snapshot *s);
/* Labels for the namespace the host calls link_netnsid (IFLA_LINK_NETNSID of
 * the veth). Always fills out; -ENOENT when no process or bind mount of that
 * namespace was found (labels then read "netns:unknown"). */
int ft_ct_attribute(struct ft_ct_snapshot *s, int link_netnsid, struct ft_ct_labels *out);

/* A host-side veth whose peer is in another network namespace. */
struct ft_cveth {
	int ifindex;
	char ifname[IF_NAMESIZE];
	int link_netnsid; /* the peer namespace's id, in ours */
	int peer_ifindex; /* the container side's ifindex, in its namespace */
	bool attributed;  /* labels were computed at least once */
	struct ft_ct_labels labels;
	/* private */
	double next_attr; /* CLOCK_MONOTONIC seconds */
	double backoff;
	unsigned gen;
};

enum ft_cwatch_event_kind {
	FT_CW_ADDED,   /* attach now */
	FT_CW_REMOVED, /* the veth is gone (its filters went with it): forget it */
	FT_CW_LABELS,  /* first labels, or labels changed */
};

struct ft_cwatch_event {
	enum ft_cwatch_event_kind kind;
	const struct ft_cveth *veth; /* valid during the callback only */
};

typedef void (*ft_cwatch_cb)(const struct ft_cwatch_event *ev, void *ctx);

struct ft_cwatch_opts {
	/* Comma-separated fnmatch(3) patterns on the host-side name; NULL or
	 * "": every qualifying veth / none excluded. */
	const char *include;
	const char *exclude;
	ft_cwatch_cb cb; /* may be NULL; must not free the watcher */
	void *ctx;
	const char *state_root; /* NULL: "/" */
	bool no_labels;		/* discovery only */
};

struct ft_cwatch;

/* Subscribes to link notifications. Nothing is reported until
 * ft_cwatch_scan(). 0 or a negative errno. */
int ft_cwatch_new(const struct ft_cwatch_opts *o, struct ft_cwatch **out);
void ft_cwatch_free(struct ft_cwatch *w);
/* The fd to poll for POLLIN. */
int ft_cwatch_fd(const struct ft_cwatch *w);
/* Dumps all links: ADDED for qualifying veths not known yet, REMOVED for
 * known ones that are gone. Call once after ft_cwatch_new(); the watcher
 * calls it itself when the kernel reports lost notifications. */
int ft_cwatch_scan(struct ft_cwatch *w);
/* Handles pending notifications (call when the fd is readable), then
 * attributes the veths that appeared. */
int ft_cwatch_process(struct ft_cwatch *w);
/* Re-attributes veths whose labels are due: unresolved ones with a backoff
 * from 0.5 s to 30 s (a runtime creates the veth before the container's
 * process), resolved ones every 60 s. Call about once a second. */
int ft_cwatch_tick(struct ft_cwatch *w);
/* Attributes every known veth now. */
int ft_cwatch_attribute_all(struct ft_cwatch *w);
/* The tracked veth of ifindex, or NULL. Valid until the next call into w. */
const struct ft_cveth *ft_cwatch_get(const struct ft_cwatch *w, int ifindex);
/* All tracked veths, sorted by ifindex. Valid until the next call into w. */
size_t ft_cwatch_list(const struct ft_cwatch *w, const struct ft_cveth **out);

/* Adds runtime, container_id, container, pod and namespace to a JSON
 * object (null when unknown): the label fields of every JSON output. */
struct json_object;
void ft_ct_labels_json(const struct ft_ct_labels *l, struct json_object *o);
/* "runtime=podman container=web container_id=<12 hex> pod=... namespace=..."
 * for key=value lines (syslog); unknown fields are left out. Labels hold no
 * spaces or '=' (see the parsers' character set). Returns snprintf's count. */
int ft_ct_labels_kv(const struct ft_ct_labels *l, char *buf, size_t len);

/* The datapath's direction on a host-side veth (FT_DIR_INGRESS/EGRESS) from
 * the container's point of view: "from_container" / "to_container". */
const char *ft_ct_dir_name(unsigned int dir);

/* True if name passes comma-separated include/exclude fnmatch patterns. */
bool ft_ct_name_selected(const char *name, const char *include, const char *exclude);

/* Attaches TC (ingress and egress) to a discovered veth, unless flowtap's
 * TC programs are already there: 0 attached, 1 adopted, or a negative errno
 * (with a message). */
struct ft_knobs;
int ft_ct_attach(const char *pin_root, const struct ft_knobs *k, int ifindex);

/*
 * Removes what the datapath kept for a vanished interface: its counters
 * (ft_ifstats entries and its array slot), flows and TCP handshakes, and its
 * kernel-drop counters in this namespace. Returns the number of entries removed or a negative
 * errno. A collector drains the flows first.
 */
int ft_ct_forget(const char *pin_root, int ifindex);

#endif
