// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics: the Prometheus exporter without the collector. Serves what the
 * pinned maps hold (traffic, losses, TCP health, kernel drops); flows,
 * drain times and container labels need `flowtap run --metrics`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "cli.h"
#include "datapath.h"
#include "log.h"
#include "metrics.h"

struct metrics_opts {
	struct ft_addrport listen;
	bool once;
	bool openmetrics;
	unsigned long max_ifaces;
	double retention;
};

/* "127.0.0.1:9477" / "[::1]:9477" with the port actually bound. */
static void metrics_url_host(const struct ft_addrport *a, int port, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, host,
			  sizeof(host));
		snprintf(buf, len, "[%s]:%d", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, host,
			  sizeof(host));
		snprintf(buf, len, "%s:%d", host, port);
	}
}

static int metrics_once(struct ft_metrics *m, bool om)
{
	char *body;
	size_t len;
	int err = ft_metrics_scrape(m, om ? FT_METRICS_OPENMETRICS : FT_METRICS_TEXT, &body, &len);

	if (err)
		return ft_fail("metrics", "scrape", err);
	err = fwrite(body, 1, len, stdout) != len || fflush(stdout);
	free(body);
	return err ? ft_fail("metrics", "writing the exposition", errno) : 0;
}

static int metrics_serve(struct ft_metrics *m, const struct ft_addrport *listen)
{
	struct timespec ts = {0, 200000000};
	char where[INET6_ADDRSTRLEN + 16];
	int fd;

	ft_signals_init();
	if (ft_metrics_listen(m, listen))
		return 1;
	fd = ft_map_fd(ft_pin_root(), "ft_ifstats");
	if (fd < 0)
		pr_warn("metrics: no flowtap state under %s yet (flowtap_datapath_loaded is 0 "
			"until something is attached)\n",
			ft_pin_root());
	else
		close(fd);
	metrics_url_host(listen, ft_metrics_port(m), where, sizeof(where));
	printf("serving http://%s/metrics\n", where);
	fflush(stdout);
	while (!ft_stop)
		nanosleep(&ts, NULL);
	return 0;
}

static int metrics_run(void *p, int argc, char **argv)
{
	struct metrics_opts *o = p;
	struct ft_metrics_cfg cfg;
	struct ft_metrics *m;
	int rc;

	(void)argc;
	(void)argv;
	if (o->openmetrics && !o->once) {
		pr_err("metrics: --openmetrics goes with --once (a scraper asks for it itself)\n");
		return 2;
	}
	if (!o->listen.len && ft_parse_addrport(FT_METRICS_LISTEN, &o->listen))
		return 2;
	ft_metrics_cfg_default(&cfg);
	cfg.pin_root = ft_pin_root();
	if (o->max_ifaces)
		cfg.max_ifaces = o->max_ifaces;
	if (o->retention > 0)
		cfg.retention = o->retention;
	m = ft_metrics_new(&cfg);
	if (!m)
		return ft_fail("metrics", "setup", -ENOMEM);
	rc = o->once ? metrics_once(m, o->openmetrics) : metrics_serve(m, &o->listen);
	ft_metrics_free(m);
	return rc;
}

static const struct ft_opt metrics_opts[] = {
    {"listen", 'l', FT_OPT_ADDRPORT, offsetof(struct metrics_opts, listen), "ADDR:PORT",
     "serve /metrics there (default " FT_METRICS_LISTEN "; port 0: any free port)"},
    {"once", 0, FT_OPT_FLAG, offsetof(struct metrics_opts, once), NULL,
     "print one scrape on stdout and exit"},
    {"openmetrics", 0, FT_OPT_FLAG, offsetof(struct metrics_opts, openmetrics), NULL,
     "with --once: OpenMetrics 1.0 instead of the text format 0.0.4"},
    {"max-interfaces", 0, FT_OPT_UINT, offsetof(struct metrics_opts, max_ifaces), "N",
     "interface label sets exported before folding into interface=\"other\" (default 1024)", NULL,
     1000000, 1},
    {"retention", 0, FT_OPT_DURATION, offsetof(struct metrics_opts, retention), "DURATION",
     "how long a gone interface's series stay, at least 1s (default 5m)", NULL, 0, 1000},
    FT_OPT_END,
};

const struct ft_cmd ft_cmd_metrics = {
    .name = "metrics",
    .summary = "serve Prometheus metrics of the datapath (without the collector)",
    .opts = metrics_opts,
    .cfg_size = sizeof(struct metrics_opts),
    .max_args = 0,
    .run = metrics_run,
};
