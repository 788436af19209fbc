// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * containers: the veths that lead into other network namespaces and who is
 * behind them. With --watch, attaches TC to each as it appears (what
 * `flowtap run --containers` does inside the collector) and prints one line
 * per event, for operators and tests.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "cli.h"
#include "containers.h"
#include "datapath.h"
#include "log.h"

struct containers_cfg {
	bool json, watch, keep, no_attach;
	const char *include, *exclude, *state_root;
};

/* ifindexes flowtap is attached to, from ft_status(). */
struct attached_set {
	int *v;
	size_t n;
};

static int attached_load(struct attached_set *s)
{
	struct ft_attachment *list;
	size_t n, i;
	int err = ft_status(&list, &n);

	s->v = NULL;
	s->n = 0;
	if (err)
		return err;
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	if (!s->v) {
		free(list);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		s->v[s->n++] = list[i].ifindex;
	free(list);
	return 0;
}

static bool attached_has(const struct attached_set *s, int ifindex)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == ifindex)
			return true;
	return false;
}

static void veth_json(json_object *o, const struct ft_cveth *e)
{
	const struct ft_ct_labels *l = &e->labels;
	json_object *members = json_object_new_array();
	int i;

	json_object_object_add(o, "iface", json_object_new_string(e->ifname));
	json_object_object_add(o, "ifindex", json_object_new_int(e->ifindex));
	json_object_object_add(o, "peer_ifindex", json_object_new_int(e->peer_ifindex));
	json_object_object_add(o, "link_netnsid", json_object_new_int(e->link_netnsid));
	json_object_object_add(o, "netns",
			       l->netns_ino ? json_object_new_uint64(l->netns_ino) : NULL);
	json_object_object_add(o, "netns_name",
			       l->netns_name[0] ? json_object_new_string(l->netns_name) : NULL);
	ft_ct_labels_json(l, o);
	json_object_object_add(o, "pid", l->pid ? json_object_new_int(l->pid) : NULL);
	for (i = 0; i < l->nmembers; i++) {
		const struct ft_ct_member *m = &l->members[i];
		json_object *mo = json_object_new_object();

		json_object_object_add(mo, "runtime",
				       json_object_new_string(ft_runtime_name(m->runtime)));
		json_object_object_add(mo, "container_id", json_object_new_string(m->id));
		json_object_object_add(mo, "container", json_object_new_string(m->name));
		json_object_object_add(mo, "sandbox", json_object_new_boolean(m->sandbox));
		json_object_object_add(mo, "pid", json_object_new_int(m->pid));
		json_object_array_add(members, mo);
	}
	json_object_object_add(o, "containers", members);
}

static const char *or_dash(const char *s)
{
	return s[0] ? s : "-";
}

static void list_text(const struct ft_cveth *v, size_t n, const struct attached_set *att)
{
	size_t i;

	if (!n) {
		printf("no veth leads into another network namespace\n");
		return;
	}
	printf("%-15s %7s %-10s %-10s %-12s %-20s %-20s %-15s %7s %s\n", "IFACE", "IFINDEX",
	       "NETNS", "RUNTIME", "CONTAINER-ID", "CONTAINER", "POD", "NAMESPACE", "PID",
	       "ATTACHED");
	for (i = 0; i < n; i++) {
		const struct ft_ct_labels *l = &v[i].labels;
		char ino[24] = "-", pid[16] = "-";

		if (l->netns_ino)
			snprintf(ino, sizeof(ino), "%llu", (unsigned long long)l->netns_ino);
		if (l->pid)
			snprintf(pid, sizeof(pid), "%d", l->pid);
		printf("%-15s %7d %-10s %-10s %-12.12s %-20s %-20s %-15s %7s %s\n", v[i].ifname,
		       v[i].ifindex, ino, ft_runtime_name(l->runtime), or_dash(l->container_id),
		       or_dash(l->container), or_dash(l->pod), or_dash(l->pod_namespace), pid,
		       attached_has(att, v[i].ifindex) ? "yes" : "no");
	}
}

static int containers_list(struct containers_cfg *c, struct ft_cwatch *w)
{
	struct attached_set att;
	const struct ft_cveth *v;
	size_t n, i;
	int err;

	err = ft_cwatch_scan(w);
	if (!err)
		err = attached_load(&att);
	if (err)
		return ft_fail("containers", "listing interfaces", err);
	n = ft_cwatch_list(w, &v);
	if (c->json) {
		json_object *arr = json_object_new_array();

		for (i = 0; i < n; i++) {
			json_object *o = json_object_new_object();

			veth_json(o, &v[i]);
			json_object_object_add(
			    o, "attached",
			    json_object_new_boolean(attached_has(&att, v[i].ifindex)));
			json_object_array_add(arr, o);
		}
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	} else {
		list_text(v, n, &att);
	}
	free(att.v);
	return 0;
}

struct watch_ctx {
	const struct containers_cfg *c;
	struct ft_knobs k;
};

static const char *const event_names[] = {"added", "removed", "labels"};

static void watch_print(const struct watch_ctx *x, const struct ft_cwatch_event *ev,
			const char *attach, int forgot)
{
	const struct ft_cveth *e = ev->veth;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(event_names[ev->kind]));
	if (ev->kind == FT_CW_LABELS) {
		veth_json(o, e);
	} else {
		json_object_object_add(o, "iface", json_object_new_string(e->ifname));
		json_object_object_add(o, "ifindex", json_object_new_int(e->ifindex));
	}
	if (attach)
		json_object_object_add(o, "attach", json_object_new_string(attach));
	if (forgot >= 0)
		json_object_object_add(o, "forgot", json_object_new_int(forgot));
	if (x->c->json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	} else {
		char kv[512] = "";

		if (ev->kind == FT_CW_LABELS)
			ft_ct_labels_kv(&e->labels, kv, sizeof(kv));
		printf("%s iface=%s ifindex=%d%s%s%s%s", event_names[ev->kind], e->ifname,
		       e->ifindex, attach ? " attach=" : "", attach ? attach : "", kv[0] ? " " : "",
		       kv);
		if (ev->kind == FT_CW_LABELS)
			printf(" netns=%llu pid=%d", (unsigned long long)e->labels.netns_ino,
			       e->labels.pid);
		if (forgot >= 0)
			printf(" forgot=%d", forgot);
		printf("\n");
	}
	fflush(stdout);
	json_object_put(o);
}

static void watch_event(const struct ft_cwatch_event *ev, void *ctx)
{
	struct watch_ctx *x = ctx;
	const char *attach = NULL;
	int forgot = -1, r;

	switch (ev->kind) {
	case FT_CW_ADDED:
		if (x->c->no_attach) {
			attach = "off";
			break;
		}
		r = ft_ct_attach(ft_pin_root(), &x->k, ev->veth->ifindex);
		attach = r == -ENODEV ? "gone" : r < 0 ? "failed" : r ? "adopted" : "attached";
		break;
	case FT_CW_REMOVED:
		/* Its filters went with the device; what the maps hold stays. */
		if (!x->c->no_attach)
			forgot = ft_ct_forget(ft_pin_root(), ev->veth->ifindex);
		break;
	case FT_CW_LABELS:
		break;
	}
	watch_print(x, ev, attach, forgot);
}

static void watch_detach(struct ft_cwatch *w)
{
	const struct ft_cveth *v;
	size_t n = ft_cwatch_list(w, &v), i;

	for (i = 0; i < n; i++)
		ft_detach(v[i].ifindex);
}

static int containers_watch(struct containers_cfg *c, struct ft_cwatch *w, struct watch_ctx *x)
{
	struct pollfd p = {.fd = ft_cwatch_fd(w), .events = POLLIN};
	int err;

	if (!c->no_attach) {
		if (ft_pin_root_check(ft_pin_root()))
			return 1;
		/* Load the datapath now: loading it on the first veth would
		 * take longer than attaching should. */
		err = ft_datapath_prog_fd(ft_pin_root(), &x->k, FT_PROG_TC_INGRESS);
		if (err < 0)
			return ft_fail("containers", "loading the datapath", err);
		close(err);
	}
	ft_signals_init();
	err = ft_cwatch_scan(w);
	if (!err) /* what is there is attached: from now on, within a poll */
		printf(c->json ? "{\"event\":\"ready\"}\n" : "ready\n");
	fflush(stdout);
	while (!err && !ft_stop) {
		int r = poll(&p, 1, 250);

		if (r < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		err = r > 0 ? ft_cwatch_process(w) : 0;
		if (!err)
			err = ft_cwatch_tick(w);
	}
	if (!c->no_attach && !c->keep)
		watch_detach(w);
	return err ? ft_fail("containers", "watching links", err) : 0;
}

static int containers_run(void *p, int argc, char **argv)
{
	struct containers_cfg *c = p;
	struct watch_ctx x = {.c = c};
	struct ft_cwatch_opts o = {
	    .include = c->include,
	    .exclude = c->exclude,
	    .state_root = c->state_root,
	};
	struct ft_cwatch *w;
	int err, ret;

	(void)argc;
	(void)argv;
	if (!c->watch && (c->keep || c->no_attach)) {
		pr_err("containers: --keep and --no-attach go with --watch\n");
		return 2;
	}
	if (c->watch) {
		ft_knobs_default(&x.k);
		o.cb = watch_event;
		o.ctx = &x;
	}
	err = ft_cwatch_new(&o, &w);
	if (err)
		return ft_fail("containers", "netlink", err);
	ret = c->watch ? containers_watch(c, w, &x) : containers_list(c, w);
	ft_cwatch_free(w);
	return ret;
}

static const struct ft_opt containers_opts[] = {
    {"json", 'j', FT_OPT_FLAG, offsetof(struct containers_cfg, json), NULL,
     "JSON output (with --watch: one object per line)"},
    {"include", 0, FT_OPT_STRING, offsetof(struct containers_cfg, include), "PATTERNS",
     "only veths whose name matches one of these comma-separated globs"},
    {"exclude", 0, FT_OPT_STRING, offsetof(struct containers_cfg, exclude), "PATTERNS",
     "skip veths whose name matches one of these comma-separated globs"},
    {"watch", 'w', FT_OPT_FLAG, offsetof(struct containers_cfg, watch), NULL,
     "attach TC to container veths as they appear, print events until SIGINT"},
    {"keep", 0, FT_OPT_FLAG, offsetof(struct containers_cfg, keep), NULL,
     "with --watch: stay attached on exit (a restart adopts them)"},
    {"no-attach", 0, FT_OPT_FLAG, offsetof(struct containers_cfg, no_attach), NULL,
     "with --watch: only report, attach nothing"},
    {"state-root", 0, FT_OPT_STRING, offsetof(struct containers_cfg, state_root), "DIR",
     "where the runtimes' state is mounted (default /; e.g. /host in a pod)"},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_containers = {
    .name = "containers",
    .summary = "list veths into other network namespaces and their containers",
    .opts = containers_opts,
    .cfg_size = sizeof(struct containers_cfg),
    .max_args = 0,
    .run = containers_run,
};
