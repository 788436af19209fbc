// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The configuration file of `flowtap run` (userspace/config.c): any text
 * either parses into a configuration whose every value is in its range,
 * or fails with one "FILE:LINE: why" line. Parsing is deterministic, and
 * comment and blank lines change nothing.
 *
 * Input: the file's bytes.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "fuzz.h"
#include "collector.h"

#define MAX_DUR (30 * 86400.0)

static void check_duration(double d, const char *what)
{
	FUZZ_CHECK(isfinite(d) && d > 0 && d <= MAX_DUR, "%s = %g", what, d);
}

static void check_config(const struct ft_run_config *c)
{
	const struct ft_timeouts *t = &c->coll.to;
	size_t i;

	check_duration(c->interval, "interval");
	check_duration(c->ipfix_template_refresh, "ipfix_template_refresh");
	check_duration(t->idle_tcp, "idle_timeout_tcp");
	check_duration(t->idle_udp, "idle_timeout_udp");
	check_duration(t->idle_icmp, "idle_timeout_icmp");
	check_duration(t->idle_other, "idle_timeout_other");
	check_duration(t->tcp_fin, "tcp_fin_timeout");
	check_duration(t->tcp_rst, "tcp_rst_timeout");
	check_duration(t->active, "active_timeout");
	FUZZ_CHECK(c->hook >= FT_RUN_HOOK_AUTO && c->hook <= FT_RUN_HOOK_TC, "hook %d", c->hook);
	FUZZ_CHECK(c->coll.low_water <= c->coll.high_water && c->coll.high_water <= 100 &&
		       c->coll.low_water >= 1,
		   "water marks %u/%u", c->coll.low_water, c->coll.high_water);
	FUZZ_CHECK(c->flow_table_size <= 1UL << 26, "flow_table_size %lu", c->flow_table_size);
	FUZZ_CHECK(c->sl.top <= 10000 && c->sl.max_lines >= 1 && c->sl.max_lines <= 1000000,
		   "syslog top %lu, max_lines %lu", c->sl.top, c->sl.max_lines);
	FUZZ_CHECK(c->sl.facility >= 0, "syslog facility %d", c->sl.facility);
	FUZZ_CHECK(c->flow_log_keep <= 1000 && c->flow_log_size <= 1UL << 40,
		   "flow log keep %lu size %lu", c->flow_log_keep, c->flow_log_size);
	FUZZ_CHECK(memchr(c->flow_log, 0, sizeof(c->flow_log)), "flow_log not terminated");
	FUZZ_CHECK(c->ifaces.n <= FT_MAX_IFACE_ARGS, "%zu interfaces", c->ifaces.n);
	for (i = 0; i < c->ifaces.n; i++)
		FUZZ_CHECK(c->ifaces.v[i].ifindex > 0, "interface %zu", i);
	if (c->ipfix)
		FUZZ_CHECK(c->ipfix_dst.len, "ipfix enabled without an address");
	if (c->metrics)
		FUZZ_CHECK(c->metrics_addr.len, "metrics enabled without an address");
}

static int parse(const char *text, size_t len, struct ft_run_config *c, char *err, size_t el)
{
	int ret;

	ft_run_config_default(c);
	memset(err, 0x5a, el);
	err[el - 1] = 0;
	ret = ft_config_parse(c, text, len, "fuzz.conf", err, el);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL, "returned %d", ret);
	if (ret) {
		FUZZ_CHECK(!strncmp(err, "fuzz.conf:", 10), "error '%s' does not name the file",
			   err);
		FUZZ_CHECK(!strchr(err, '\n'), "error is not one line: '%s'", err);
	}
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ft_run_config a, b;
	char ea[512], eb[512], *text, *more;
	static const char extra[] = "\n# a comment\n\n   \t\n";
	int ra, rb;

	/* Exactly the file's bytes, not NUL-terminated: a read past them is seen. */
	text = malloc(size ? size : 1);
	more = malloc(size + sizeof(extra) - 1);
	if (!text || !more)
		goto out;
	memcpy(text, data, size);
	ra = parse(text, size, &a, ea, sizeof(ea));
	if (!ra)
		check_config(&a);

	rb = parse(text, size, &b, eb, sizeof(eb));
	FUZZ_CHECK(ra == rb && (ra ? !strcmp(ea, eb) : !memcmp(&a, &b, sizeof(a))),
		   "two parses of the same text differ");

	/* A comment and blank lines at the end change nothing (a last line
	 * without its newline gets one: that is all that can differ). */
	if (size && data[size - 1] == '\n') {
		memcpy(more, data, size);
		memcpy(more + size, extra + 1, sizeof(extra) - 2);
		rb = parse(more, size + sizeof(extra) - 2, &b, eb, sizeof(eb));
		FUZZ_CHECK(ra == rb && (ra ? !strcmp(ea, eb) : !memcmp(&a, &b, sizeof(a))),
			   "trailing comment changed the result: %d '%s' / %d '%s'", ra,
			   ra ? ea : "", rb, rb ? eb : "");
	}
out:
	free(text);
	free(more);
	return 0;
}
