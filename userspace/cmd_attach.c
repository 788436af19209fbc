// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* attach, detach, status: what is hooked where. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>
#include "cli.h"
#include "datapath.h"
#include "log.h"

struct attach_cfg {
	bool xdp, tc;
	int mode;
	unsigned long flows;
	const char *sample_rate;
	bool keep_query;
};

static const char *const xdp_modes[] = {"auto", "native", "skb", NULL};

/* Knob options shared by every command that may load the datapath. */
int ft_knobs_from_opts(const char *cmd, unsigned long flows, const char *sample_rate,
		       bool keep_query, struct ft_knobs *k)
{
	unsigned long rate;

	ft_knobs_default(k);
	if (flows)
		k->flow_table_size = flows;
	if (sample_rate) {
		if (ft_parse_uint(sample_rate, 1UL << 31, &rate)) {
			pr_err("%s: invalid value '%s' for --http-sample-rate\n", cmd, sample_rate);
			return -EINVAL;
		}
		k->http_sample_rate = rate;
	}
	k->http_keep_query = keep_query;
	return 0;
}

static int attach_run(void *p, int argc, char **argv)
{
	char esc[4 * IF_NAMESIZE + 8];
	struct attach_cfg *c = p;
	struct ft_attach_opts o = {.mode = c->mode};
	struct ft_knobs k;
	struct ft_iface ifc;
	int err;

	(void)argc;
	if (c->xdp && c->tc) {
		pr_err("attach: --xdp and --tc exclude each other\n");
		return 2;
	}
	if (ft_parse_iface(argv[0], &ifc)) {
		pr_err("attach: no such interface '%s'\n", ft_printable(argv[0], esc, sizeof(esc)));
		return 2;
	}
	if (ft_knobs_from_opts("attach", c->flows, c->sample_rate, c->keep_query, &k))
		return 2;
	o.hook = c->xdp ? FT_HOOK_XDP : c->tc ? FT_HOOK_TC : FT_HOOK_AUTO;
	if (ft_require_caps("attach", true) || ft_pin_root_check(ft_pin_root()))
		return 1;
	err = ft_attach(ft_pin_root(), &k, ifc.ifindex, &o);
	if (err == -EPERM || err == -EACCES)
		ft_fail("attach", ifc.name, err);
	if (err)
		ft_unload_if_unused(ft_pin_root());
	return err ? 1 : 0;
}

static const struct ft_opt attach_opts[] = {
    {"xdp", 0, FT_OPT_FLAG, offsetof(struct attach_cfg, xdp), NULL,
     "attach XDP (default for physical NICs)"},
    {"tc", 0, FT_OPT_FLAG, offsetof(struct attach_cfg, tc), NULL,
     "attach TC clsact ingress+egress (default for veths and virtual devices)"},
    {"mode", 0, FT_OPT_CHOICE, offsetof(struct attach_cfg, mode), "native|skb|auto",
     "XDP mode (default auto)", xdp_modes},
    {"flow-table-size", 0, FT_OPT_UINT, offsetof(struct attach_cfg, flows), "N",
     "flow table entries when first loaded (default 65536)", NULL, 1UL << 26, 1},
    {"http-sample-rate", 0, FT_OPT_STRING, offsetof(struct attach_cfg, sample_rate), "N",
     "sample 1 in N HTTP requests, 0 for none (default 1)"},
    {"http-keep-query", 0, FT_OPT_FLAG, offsetof(struct attach_cfg, keep_query), NULL,
     "keep query strings in HTTP samples (default: removed)"},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_attach = {
    .name = "attach",
    .args = "IFACE",
    .summary = "attach the datapath to an interface",
    .opts = attach_opts,
    .cfg_size = sizeof(struct attach_cfg),
    .min_args = 1,
    .max_args = 1,
    .run = attach_run,
};

struct detach_cfg {
	bool all;
};

static int detach_run(void *p, int argc, char **argv)
{
	char esc[4 * IF_NAMESIZE + 8];
	struct detach_cfg *c = p;
	struct ft_iface ifc;
	int err;

	if (c->all == (argc == 1)) {
		pr_err("detach: give either IFACE or --all\n");
		return 2;
	}
	if (ft_require_caps("detach", true))
		return 1;
	if (c->all) {
		err = ft_detach_all(ft_pin_root());
		return err ? ft_fail("detach", "--all", err) : 0;
	}
	if (ft_parse_iface(argv[0], &ifc)) {
		pr_err("detach: no such interface '%s'\n", ft_printable(argv[0], esc, sizeof(esc)));
		return 2;
	}
	err = ft_detach(ifc.ifindex);
	if (err == -ENOENT) {
		pr_err("detach: flowtap is not attached to %s\n", ifc.name);
		return 1;
	}
	return err ? ft_fail("detach", ifc.name, err) : 0;
}

static const struct ft_opt detach_opts[] = {
    {"all", 'a', FT_OPT_FLAG, offsetof(struct detach_cfg, all), NULL,
     "detach from every interface and remove all pinned state"},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_detach = {
    .name = "detach",
    .args = "IFACE|--all",
    .summary = "detach the datapath from an interface, or from all",
    .opts = detach_opts,
    .cfg_size = sizeof(struct detach_cfg),
    .min_args = 0,
    .max_args = 1,
    .run = detach_run,
};

struct status_cfg {
	bool json;
};

static const char *hook_name(const struct ft_attachment *a)
{
	if (a->hook == FT_HOOK_TC)
		return "tc";
	return a->mode == FT_XDP_SKB ? "xdp-skb" : "xdp-native";
}

static int status_run(void *p, int argc, char **argv)
{
	struct status_cfg *c = p;
	struct ft_attachment *list;
	json_object *arr;
	size_t n, i;
	int err;

	(void)argc;
	(void)argv;
	err = ft_status(&list, &n);
	if (err)
		return ft_fail("status", "querying interfaces", err);
	if (c->json) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++) {
			json_object *o = json_object_new_object(), *ids = json_object_new_array();

			json_object_object_add(o, "iface", json_object_new_string(list[i].ifname));
			json_object_object_add(o, "ifindex", json_object_new_int(list[i].ifindex));
			json_object_object_add(
			    o, "hook",
			    json_object_new_string(list[i].hook == FT_HOOK_TC ? "tc" : "xdp"));
			if (list[i].hook == FT_HOOK_XDP)
				json_object_object_add(
				    o, "mode",
				    json_object_new_string(list[i].mode == FT_XDP_SKB ? "skb"
										      : "native"));
			json_object_array_add(ids, json_object_new_int64(list[i].prog_id[0]));
			if (list[i].hook == FT_HOOK_TC)
				json_object_array_add(ids,
						      json_object_new_int64(list[i].prog_id[1]));
			json_object_object_add(o, "prog_ids", ids);
			json_object_array_add(arr, o);
		}
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	} else {
		if (!n)
			printf("flowtap is not attached to any interface\n");
		else
			printf("%-16s %-7s %-11s %s\n", "IFACE", "IFINDEX", "HOOK", "PROGRAM IDS");
		for (i = 0; i < n; i++) {
			printf("%-16s %-7d %-11s %u", list[i].ifname, list[i].ifindex,
			       hook_name(&list[i]), list[i].prog_id[0]);
			if (list[i].hook == FT_HOOK_TC)
				printf(",%u", list[i].prog_id[1]);
			printf("\n");
		}
	}
	free(list);
	return 0;
}

static const struct ft_opt status_opts[] = {
    {"json", 'j', FT_OPT_FLAG, offsetof(struct status_cfg, json), NULL, "JSON output"},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_status = {
    .name = "status",
    .summary = "show where flowtap is attached",
    .opts = status_opts,
    .cfg_size = sizeof(struct status_cfg),
    .max_args = 0,
    .run = status_run,
};
