// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "cli.h"
#include "log.h"
#include "flowtap.h"

/* Commands that parse their own arguments. */
int ft_cmd_capture(int argc, char **argv);
int ft_cmd_run(int argc, char **argv);

static const struct ft_cmd *const commands[] = {
    &ft_cmd_attach, &ft_cmd_detach,	&ft_cmd_status,	 &ft_cmd_stats, &ft_cmd_flows,
    &ft_cmd_http,   &ft_cmd_containers, &ft_cmd_metrics, &ft_cmd_top,
};

static const struct {
	const char *name;
	ft_raw_cmd_fn fn;
	const char *summary;
} raw_commands[] = {
    {"run", ft_cmd_run, "attach, collect flows and report them periodically"},
    {"capture", ft_cmd_capture,
     "capture packets matching a tcpdump expression, filtered in the kernel"},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

volatile sig_atomic_t ft_stop;

static void ft_on_signal(int sig)
{
	(void)sig;
	ft_stop = 1;
}

void ft_signals_init(void)
{
	struct sigaction sa = {.sa_handler = ft_on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

const char *ft_pin_root(void)
{
	const char *r = getenv("FLOWTAP_PIN_ROOT");

	return r && *r ? r : FT_PIN_ROOT;
}

const char *ft_ifname(int ifindex, char *buf)
{
	/* Counters of packets whose interface had no entry (ft_ifstats full). */
	if (ifindex == FT_IFINDEX_OTHER)
		snprintf(buf, IF_NAMESIZE, "unattributed");
	else if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
	return buf;
}

int ft_fail(const char *cmd, const char *what, int err)
{
	if (err < 0)
		err = -err;
	if (err == EPERM || err == EACCES)
		pr_err("%s: %s: permission denied (flowtap needs root: CAP_BPF, CAP_PERFMON, "
		       "CAP_NET_ADMIN)\n",
		       cmd, what);
	else
		pr_err("%s: %s: %s\n", cmd, what, strerror(err));
	return 1;
}

int ft_require_caps(const char *cmd, bool net_admin)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	const char *missing = NULL;
	__u64 eff;

	if (syscall(SYS_capget, &hdr, data))
		return 0; /* cannot tell: let the kernel decide */
	eff = data[0].effective | (__u64)data[1].effective << 32;
#define HAS(c) (eff & (1ULL << (c)))
	/* Loading needs BPF and PERFMON (the drop tracer is a tracing
	 * program); attaching and detaching NET_ADMIN. Not SYS_ADMIN: our
	 * programs are recognised by the ids of their pins, not looked up by
	 * id (docs/security.md). */
	if (!HAS(CAP_BPF))
		missing = "CAP_BPF";
	else if (!HAS(CAP_PERFMON))
		missing = "CAP_PERFMON";
	else if (net_admin && !HAS(CAP_NET_ADMIN))
		missing = "CAP_NET_ADMIN";
#undef HAS
	if (!missing)
		return 0;
	pr_err("%s: permission denied: missing %s (flowtap needs root: CAP_BPF, CAP_PERFMON%s)\n",
	       cmd, missing, net_admin ? ", CAP_NET_ADMIN" : "");
	return -EPERM;
}

static void ft_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: flowtap COMMAND [options]   (flowtap COMMAND --help for its options)\n\n");
	for (i = 0; i < ARRAY_SIZE(raw_commands); i++)
		fprintf(f, "  %-11s %s\n", raw_commands[i].name, raw_commands[i].summary);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  %-11s %s\n", "version", "print the version");
}

int ft_main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	size_t i;

	ft_log_setup_libs();
	if (!name || !strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
		ft_usage(name ? stdout : stderr);
		return name ? 0 : 2;
	}
	if (!strcmp(name, "version") || !strcmp(name, "--version")) {
		printf("flowtap %s\n", FLOWTAP_VERSION);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i]->name))
			return ft_cmd_exec(commands[i], argc - 1, argv + 1);
	for (i = 0; i < ARRAY_SIZE(raw_commands); i++) {
		if (strcmp(name, raw_commands[i].name))
			continue;
		if (!raw_commands[i].fn) {
			pr_err("%s: not available in this build\n", name);
			return 1;
		}
		return raw_commands[i].fn(argc - 1, argv + 1);
	}
	pr_err("unknown command '%s' (flowtap help lists them)\n", name);
	return 2;
}
