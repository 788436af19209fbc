// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The Prometheus exporter without the system: synthetic map contents in,
 * exposition text out. Formatting and escaping, content negotiation, the
 * handshake histogram's buckets, the series cap and its "other", retention
 * of gone containers, collector values.
 *
 * Usage: test_metrics [FILTER] | test_metrics --bench N...
 * --bench N: scrape time of N container veths' worth of series (both
 * directions, every class, HTTP methods, handshake histograms, container
 * labels), as one JSON line per N.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "names.h"
#include "test.h"

#define SELF_NS 4026531840u

static struct if_nameindex links_all[] = {
    {2, (char *)"eth0"},
    {3, (char *)"veth1"},
    {4, (char *)"veth2"},
    {5, (char *)"veth3"},
    {6, (char *)"veth4"},
    {7, (char *)"veth5"},
    {0, NULL},
};

/* The exposition has this exact line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
		p += n;
	}
	return false;
}

#define ASSERT_LINE(text, line)                                                                    \
	({                                                                                         \
		bool ___ok = has_line((text), (line));                                             \
		if (!___ok)                                                                        \
			test_fail("%s:%d: missing line: %s", TEST__WHERE, (line));                 \
		___ok;                                                                             \
	})

#define ASSERT_NO(text, what)                                                                      \
	({                                                                                         \
		bool ___ok = !strstr((text), (what));                                              \
		if (!___ok)                                                                        \
			test_fail("%s:%d: unexpected: %s", TEST__WHERE, (what));                   \
		___ok;                                                                             \
	})

static struct ft_metrics *new_exporter(size_t max_ifaces, double retention)
{
	struct ft_metrics_cfg cfg;

	ft_metrics_cfg_default(&cfg);
	cfg.pin_root = "/nonexistent";
	if (max_ifaces)
		cfg.max_ifaces = max_ifaces;
	if (retention > 0)
		cfg.retention = retention;
	return ft_metrics_new(&cfg);
}

static struct ft_metrics_input input(const struct ft_if_totals *ifs, size_t n)
{
	return (struct ft_metrics_input){
	    .datapath = true,
	    .ifs = ifs,
	    .nifs = n,
	    .drops_available = true,
	    .self_netns = SELF_NS,
	    .links = links_all,
	    .flow_capacity = 65536,
	    .flow_entries = 12,
	    .attached = 1,
	};
}

static char *render(struct ft_metrics *m, const struct ft_metrics_input *in, double now,
		    enum ft_metrics_format fmt)
{
	char *out = NULL;
	size_t len;

	if (!ASSERT_OK(ft_metrics_render(m, in, now, fmt, &out, &len), "render"))
		return NULL;
	if (!ASSERT_EQ(strlen(out), len, "length"))
		return NULL;
	return out;
}

static void test_escape(void)
{
	char buf[64];

	if (!test_start("metrics/escape"))
		return;
	ASSERT_EQ(ft_metrics_escape("a\\b\"c\nd", buf, sizeof(buf)), 10, "length");
	ASSERT_STREQ(buf, "a\\\\b\\\"c\\nd", "escaped");
	ASSERT_EQ(ft_metrics_escape("plain", buf, sizeof(buf)), 5, "plain");
	ASSERT_STREQ(buf, "plain", "plain text");
	/* Cut short: never half an escape, always terminated. */
	ASSERT_EQ(ft_metrics_escape("ab\"", buf, 4), 4, "needed");
	ASSERT_STREQ(buf, "ab", "truncated");
	test_end();
}

static void test_negotiate(void)
{
	/* What Prometheus 2.42 sends. */
	static const char prom[] = "application/openmetrics-text;version=1.0.0,application/"
				   "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
				   "q=0.5,*/*;q=0.1";

	if (!test_start("metrics/negotiate"))
		return;
	ASSERT_EQ(ft_metrics_negotiate(prom), FT_METRICS_OPENMETRICS, "prometheus");
	ASSERT_EQ(ft_metrics_negotiate(NULL), FT_METRICS_TEXT, "no header");
	ASSERT_EQ(ft_metrics_negotiate("*/*"), FT_METRICS_TEXT, "curl");
	ASSERT_EQ(ft_metrics_negotiate("text/plain;version=0.0.4"), FT_METRICS_TEXT, "text");
	ASSERT_EQ(ft_metrics_negotiate("application/openmetrics-text"), FT_METRICS_OPENMETRICS,
		  "om");
	ASSERT_EQ(ft_metrics_negotiate("application/openmetrics-text; q=0.2, text/plain; q=0.5"),
		  FT_METRICS_TEXT, "text preferred");
	ASSERT_EQ(ft_metrics_negotiate("application/openmetrics-text;version=2.0.0"),
		  FT_METRICS_TEXT, "unknown version");
	ASSERT_EQ(ft_metrics_negotiate("application/openmetrics-text;q=0"), FT_METRICS_TEXT, "q=0");
	ASSERT_TRUE(strstr(ft_metrics_content_type(FT_METRICS_TEXT), "version=0.0.4") != NULL,
		    "text type");
	ASSERT_TRUE(strstr(ft_metrics_content_type(FT_METRICS_OPENMETRICS),
			   "application/openmetrics-text; version=1.0.0") != NULL,
		    "om type");
	test_end();
}

static void test_traffic(void)
{
	struct ft_if_totals t[2] = {{.ifindex = 2, .dir = FT_DIR_INGRESS},
				    {.ifindex = 2, .dir = FT_DIR_EGRESS}};
	struct ft_metrics *m = new_exporter(0, 0);
	struct ft_metrics_input in;
	char *out = NULL;

	if (!test_start("metrics/traffic"))
		goto out;
	t[0].s.cls[FT_CLASS_IPV4] = (struct ft_counter){10, 1420};
	t[0].s.cls[FT_CLASS_UDP] = (struct ft_counter){7, 994};
	t[0].s.malformed[FT_MAL_TCP_DOFF] = (struct ft_counter){2, 120};
	t[1].s.http[FT_HTTP_GET] = (struct ft_counter){3, 300};
	t[1].s.http_samples_lost = 4;
	t[0].s.http_samples_lost = 1;
	t[1].s.tcp_retransmits = 5;
	t[0].s.tcp_conn_refused = 1;
	t[1].s.capture_calls = 9;
	in = input(t, 2);
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_LINE(out, "# TYPE flowtap_packets_total counter");
	ASSERT_LINE(
	    out, "flowtap_packets_total{interface=\"eth0\",direction=\"ingress\",class=\"udp\"} 7");
	ASSERT_LINE(
	    out,
	    "flowtap_bytes_total{interface=\"eth0\",direction=\"ingress\",class=\"ipv4\"} 1420");
	/* Every class is there from the start, so rate() sees first packets. */
	ASSERT_LINE(
	    out, "flowtap_packets_total{interface=\"eth0\",direction=\"egress\",class=\"arp\"} 0");
	ASSERT_LINE(out, "flowtap_malformed_packets_total{interface=\"eth0\",direction=\"ingress\","
			 "reason=\"tcp_doff\"} 2");
	ASSERT_NO(out, "reason=\"udp_len\"");
	ASSERT_LINE(out, "flowtap_http_requests_total{interface=\"eth0\",direction=\"egress\","
			 "method=\"GET\"} 3");
	ASSERT_LINE(out, "flowtap_ringbuf_lost_total{ring=\"http\"} 5");
	ASSERT_LINE(out,
		    "flowtap_tcp_retransmits_total{interface=\"eth0\",direction=\"egress\"} 5");
	ASSERT_LINE(out, "flowtap_tcp_connection_failures_total{interface=\"eth0\",direction="
			 "\"ingress\",reason=\"refused\"} 1");
	ASSERT_NO(out, "reason=\"timeout\""); /* no collector */
	ASSERT_LINE(out, "flowtap_capture_examined_packets_total{interface=\"eth0\",direction="
			 "\"egress\"} 9");
	ASSERT_NO(out, "flowtap_capture_examined_packets_total{interface=\"eth0\",direction="
		       "\"ingress\"}");
	ASSERT_LINE(out, "flowtap_flow_table_entries 12");
	ASSERT_LINE(out, "flowtap_flow_table_capacity 65536");
	ASSERT_LINE(out, "flowtap_attached_interfaces 1");
	ASSERT_LINE(out, "flowtap_datapath_loaded 1");
	ASSERT_NO(out, "flowtap_flows_active"); /* only with a collector */
	ASSERT_NO(out, "# EOF");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

static void test_openmetrics(void)
{
	struct ft_if_totals t = {.ifindex = 2, .dir = FT_DIR_INGRESS};
	struct ft_metrics *m = new_exporter(0, 0);
	struct ft_metrics_input in = input(&t, 1);
	char *out = NULL;
	size_t len;

	if (!test_start("metrics/openmetrics"))
		goto out;
	t.s.cls[FT_CLASS_TCP] = (struct ft_counter){1, 60};
	out = render(m, &in, 100, FT_METRICS_OPENMETRICS);
	if (!out)
		goto out;
	len = strlen(out);
	/* Counter families are named without _total; samples keep it. */
	ASSERT_LINE(out, "# TYPE flowtap_packets counter");
	ASSERT_LINE(out, "# HELP flowtap_packets Packets seen by the datapath, by interface, "
			 "direction and traffic class; a packet is in every class it belongs to "
			 "(ipv4 and tcp and http).");
	ASSERT_LINE(
	    out, "flowtap_packets_total{interface=\"eth0\",direction=\"ingress\",class=\"tcp\"} 1");
	ASSERT_LINE(out, "# TYPE flowtap_build_info gauge");
	ASSERT_NO(out, "# TYPE flowtap_packets_total");
	ASSERT_TRUE(len > 6 && !strcmp(out + len - 6, "# EOF\n"), "ends with # EOF");
	/* HELP escapes quotes in OpenMetrics only. */
	ASSERT_TRUE(strstr(out, "folded into interface=\\\"other\\\"") != NULL, "om help escape");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

static void test_histogram(void)
{
	struct ft_if_totals t[2] = {{.ifindex = 2, .dir = FT_DIR_INGRESS},
				    {.ifindex = 2, .dir = FT_DIR_EGRESS}};
	struct ft_metrics *m = new_exporter(0, 0);
	struct ft_metrics_input in = input(t, 2);
	char *out = NULL;

	if (!test_start("metrics/handshake_histogram"))
		goto out;
	ASSERT_TRUE(ft_metrics_hs_le(0) == 1e-6, "bucket 0 is below 1 us");
	ASSERT_TRUE(ft_metrics_hs_le(10) == 1024e-6, "bucket 10 is below 1024 us");
	ASSERT_TRUE(isinf(ft_metrics_hs_le(FT_HS_BUCKETS - 1)), "last bucket is open");
	/* 0 us, 1 us x2 (egress), 5 us, 20 ms, 9 s (clamped to the last). */
	t[0].s.tcp_handshake_hist[0] = 1;
	t[1].s.tcp_handshake_hist[1] = 2;
	t[0].s.tcp_handshake_hist[3] = 1;
	t[0].s.tcp_handshake_hist[15] = 1;
	t[0].s.tcp_handshake_hist[FT_HS_BUCKETS - 1] = 1;
	t[0].s.tcp_handshake_sum_us = 0 + 5 + 20000 + 9000000;
	t[1].s.tcp_handshake_sum_us = 2;
	/* A count read mid-update must not break the histogram. */
	t[0].s.tcp_handshakes = 5;
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_LINE(out, "# TYPE flowtap_tcp_handshake_seconds histogram");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"1e-06\"} 1");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"2e-06\"} 3");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"4e-06\"} 3");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"8e-06\"} 4");
	ASSERT_LINE(out,
		    "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"0.016384\"} 4");
	ASSERT_LINE(out,
		    "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"0.032768\"} 5");
	ASSERT_LINE(out,
		    "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"4.194304\"} 5");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_bucket{interface=\"eth0\",le=\"+Inf\"} 6");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_count{interface=\"eth0\"} 6");
	ASSERT_LINE(out, "flowtap_tcp_handshake_seconds_sum{interface=\"eth0\"} 9.020007");
	ASSERT_NO(out, "le=\"8.388608\"");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

static struct ft_if_totals iface(int ifindex, __u64 udp)
{
	struct ft_if_totals t = {.ifindex = ifindex, .dir = FT_DIR_INGRESS};

	t.s.cls[FT_CLASS_UDP] = (struct ft_counter){udp, udp * 100};
	t.s.http_samples_lost = 1;
	return t;
}

static void test_cap(void)
{
	struct ft_if_totals t[5] = {iface(2, 1), iface(3, 10), iface(4, 100), iface(5, 1000)};
	struct ft_metrics *m = new_exporter(2, 30);
	struct ft_metrics_input in = input(t, 4);
	char *out = NULL;

	if (!test_start("metrics/series_cap"))
		goto out;
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	/* The first two label sets are kept; the rest are summed. */
	ASSERT_LINE(
	    out, "flowtap_packets_total{interface=\"eth0\",direction=\"ingress\",class=\"udp\"} 1");
	ASSERT_LINE(
	    out,
	    "flowtap_packets_total{interface=\"veth1\",direction=\"ingress\",class=\"udp\"} 10");
	ASSERT_LINE(
	    out,
	    "flowtap_packets_total{interface=\"other\",direction=\"ingress\",class=\"udp\"} 1100");
	ASSERT_NO(out, "interface=\"veth2\"");
	ASSERT_LINE(out, "flowtap_metrics_interfaces_folded_total 2");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"exported\"} 2");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"folded\"} 2");
	ASSERT_LINE(out, "flowtap_metrics_interfaces_max 2");
	ASSERT_LINE(out, "flowtap_ringbuf_lost_total{ring=\"http\"} 4");
	free(out);

	/* veth3 (folded) and veth1 (exported) go; veth5 comes. */
	t[1] = t[0];
	t[0] = iface(4, 200);
	t[2] = iface(7, 5);
	in.nifs = 3;
	links_all[1].if_index = 99;
	links_all[3].if_index = 98;
	out = render(m, &in, 110, FT_METRICS_TEXT);
	if (!out)
		goto out;
	/* Within the retention, the gone keep their last values. */
	ASSERT_LINE(
	    out,
	    "flowtap_packets_total{interface=\"veth1\",direction=\"ingress\",class=\"udp\"} 10");
	ASSERT_LINE(
	    out,
	    "flowtap_packets_total{interface=\"other\",direction=\"ingress\",class=\"udp\"} 1205");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"gone\"} 2");
	/* veth5 came while the slots were taken: folded. */
	ASSERT_LINE(out, "flowtap_metrics_interfaces_folded_total 3");
	ASSERT_NO(out, "interface=\"veth5\"");
	ASSERT_LINE(out, "flowtap_ringbuf_lost_total{ring=\"http\"} 5");
	free(out);

	out = render(m, &in, 141, FT_METRICS_TEXT);
	if (!out)
		goto out;
	/* Past it: veth1's series are gone, its slot goes to the first folded
	 * label set (veth2); what veth2 and the gone veth3 counted stays in
	 * "other", which never goes down. */
	ASSERT_NO(out, "interface=\"veth1\"");
	ASSERT_NO(out, "interface=\"veth3\"");
	ASSERT_LINE(
	    out,
	    "flowtap_packets_total{interface=\"veth2\",direction=\"ingress\",class=\"udp\"} 200");
	ASSERT_LINE(
	    out,
	    "flowtap_packets_total{interface=\"other\",direction=\"ingress\",class=\"udp\"} 1205");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"exported\"} 2");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"folded\"} 1");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"gone\"} 0");
	ASSERT_LINE(out, "flowtap_ringbuf_lost_total{ring=\"http\"} 5");
out:
	links_all[1].if_index = 3;
	links_all[3].if_index = 5;
	free(out);
	ft_metrics_free(m);
	test_end();
}

static void test_cap_priority(void)
{
	struct ft_if_totals t = iface(2, 3);
	struct ft_drop_total d[2] = {
	    {.key = {.ifindex = 0, .netns = 9, .reason = 2}, .c = {4, 400}},
	    {.key = {.ifindex = 7, .netns = 1234, .reason = 2}, .c = {5, 500}},
	};
	struct ft_metrics *m = new_exporter(1, 0);
	struct ft_metrics_input in = input(&t, 1);
	char *out = NULL, line[256], reason[48];

	if (!test_start("metrics/cap_priority"))
		goto out;
	/* Devices known only from drops sort first but come second. */
	in.drops = d;
	in.ndrops = 2;
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ft_drop_reason_name(2, reason, sizeof(reason));
	ASSERT_LINE(
	    out, "flowtap_packets_total{interface=\"eth0\",direction=\"ingress\",class=\"udp\"} 3");
	snprintf(line, sizeof(line),
		 "flowtap_kernel_drops_total{interface=\"other\",reason=\"%s\"} 9", reason);
	ASSERT_LINE(out, line);
	ASSERT_NO(out, "interface=\"none\"");
	ASSERT_LINE(out, "flowtap_metrics_interfaces_folded_total 2");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

static void labels(struct ft_metrics_labels *l, const char *name, __u64 netns)
{
	memset(l, 0, sizeof(*l));
	l->netns_ino = netns;
	snprintf(l->runtime, sizeof(l->runtime), "docker");
	snprintf(l->container_id, sizeof(l->container_id), "0123456789ab");
	snprintf(l->container, sizeof(l->container), "%s", name);
}

static void test_containers(void)
{
	struct ft_if_totals t[2] = {iface(3, 7), iface(2, 1)};
	struct ft_drop_total d[4] = {
	    {.key = {.ifindex = 3, .netns = SELF_NS, .reason = 2, .proto = 0x0800}, .c = {4, 400}},
	    {.key = {.ifindex = 3, .netns = SELF_NS, .reason = 2, .proto = 0x86dd}, .c = {1, 100}},
	    {.key = {.ifindex = 1, .netns = 1234, .reason = 2, .proto = 0x0800}, .c = {6, 600}},
	    {.key = {.ifindex = 0, .netns = 77, .reason = 2, .proto = 0x0800}, .c = {9, 900}},
	};
	struct ft_drop_total dd[5];
	struct ft_metrics *m = new_exporter(0, 10);
	struct ft_metrics_input in = input(t, 2);
	struct ft_metrics_labels l;
	char *out = NULL, line[512], reason[48];

	if (!test_start("metrics/containers"))
		goto out;
	ft_drop_reason_name(2, reason, sizeof(reason));
	/* The same key twice (key iteration restarted): counted once. */
	memcpy(dd, d, sizeof(d));
	dd[4] = d[0];
	in.drops = dd;
	in.ndrops = 5;
	labels(&l, "web \"1\"\\x", 1234);
	ft_metrics_set_labels(m, 3, &l);
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_LINE(out,
		    "flowtap_packets_total{interface=\"veth1\",container=\"web \\\"1\\\"\\\\x\","
		    "runtime=\"docker\",container_id=\"0123456789ab\",direction=\"ingress\","
		    "class=\"udp\"} 7");
	snprintf(line, sizeof(line),
		 "flowtap_kernel_drops_total{interface=\"veth1\",container=\"web \\\"1\\\"\\\\x\","
		 "runtime=\"docker\",container_id=\"0123456789ab\",reason=\"%s\"} 5",
		 reason);
	ASSERT_LINE(out, line);
	/* Inside the container's namespace: its labels too. */
	snprintf(line, sizeof(line),
		 "flowtap_kernel_drops_total{interface=\"netns:1234/if1\",container=\"web "
		 "\\\"1\\\"\\\\x\","
		 "runtime=\"docker\",container_id=\"0123456789ab\",reason=\"%s\"} 6",
		 reason);
	ASSERT_LINE(out, line);
	snprintf(line, sizeof(line),
		 "flowtap_kernel_drops_total{interface=\"none\",reason=\"%s\"} 9", reason);
	ASSERT_LINE(out, line);
	free(out);

	/* The container goes: its series stay for the retention (10 s). */
	ft_metrics_set_labels(m, 3, NULL);
	out = render(m, &in, 105, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_TRUE(strstr(out, "container=\"web") != NULL, "kept within the retention");
	ASSERT_LINE(out, "flowtap_metrics_interfaces{state=\"gone\"} 2");
	free(out);
	out = render(m, &in, 116, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_NO(out, "container=\"web");
	ASSERT_NO(out, "interface=\"veth1\"");
	ASSERT_NO(out, "netns:1234");
	ASSERT_LINE(
	    out, "flowtap_packets_total{interface=\"eth0\",direction=\"ingress\",class=\"udp\"} 1");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

struct writer {
	struct ft_metrics *m;
	int stop; /* atomic */
	unsigned long rounds;
};

static bool provider(int ifindex, struct ft_metrics_labels *out, void *ctx)
{
	struct writer *w = ctx;

	if (ifindex != 3 || w->rounds % 2)
		return false;
	labels(out, "flappy", 0);
	return true;
}

/* The collector's side: setters and label refreshes, as fast as it can. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		ft_metrics_set_flows(w->m, w->rounds, w->rounds);
		ft_metrics_observe_drain(w->m, 0.001);
		ft_metrics_add_tcp_timeouts(w->m, 2, FT_DIR_EGRESS, 1);
		ft_metrics_refresh_labels(w->m);
		w->rounds++;
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct ft_if_totals t[3] = {iface(2, 1), iface(3, 2), iface(2, 1)};
	struct ft_metrics_input in = input(t, 3);
	struct ft_metrics_cfg cfg;
	struct writer w = {0};
	pthread_t th;
	char *out = NULL, line[128];
	size_t len;
	int i, err = 0;

	if (!test_start("metrics/concurrent_collector"))
		return;
	t[2].dir = FT_DIR_EGRESS;
	ft_metrics_cfg_default(&cfg);
	cfg.pin_root = "/nonexistent";
	cfg.labels = provider;
	cfg.labels_ctx = &w;
	w.m = ft_metrics_new(&cfg);
	if (!ASSERT_OK(pthread_create(&th, NULL, writer_main, &w), "thread"))
		goto out;
	for (i = 0; i < 300 && !err; i++) {
		err = ft_metrics_render(w.m, &in, 100 + i * 0.01, i % 2, &out, &len);
		free(out);
		out = NULL;
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ASSERT_OK(err, "renders");
	out = render(w.m, &in, 200, FT_METRICS_TEXT);
	if (!out)
		goto out;
	snprintf(line, sizeof(line), "flowtap_drain_duration_seconds_count %lu", w.rounds);
	ASSERT_LINE(out, line);
	snprintf(line, sizeof(line),
		 "flowtap_tcp_connection_failures_total{interface=\"eth0\",direction=\"egress\","
		 "reason=\"timeout\"} %lu",
		 w.rounds);
	ASSERT_LINE(out, line);
out:
	free(out);
	ft_metrics_free(w.m);
	test_end();
}

static void test_collector(void)
{
	struct ft_if_totals t[2] = {iface(2, 1), iface(2, 1)};
	struct ft_metrics *m = new_exporter(0, 0);
	struct ft_metrics_input in = input(t, 2);
	char *out = NULL;

	if (!test_start("metrics/collector_values"))
		goto out;
	t[1].dir = FT_DIR_EGRESS;
	ft_metrics_set_flows(m, 42, 50);
	ft_metrics_set_flows_ended(m, "idle", 7);
	ft_metrics_set_flows_ended(m, "end_of_flow", 3);
	ft_metrics_set_flows_ended(m, "idle", 8);
	ft_metrics_observe_drain(m, 0.003);
	ft_metrics_observe_drain(m, 0.0004);
	ft_metrics_observe_drain(m, 7);
	ft_metrics_set_capture(m, 100, 2);
	ft_metrics_set_ringbuf_lost(m, "capture", 9);
	ft_metrics_set_attached(m, 3);
	ft_metrics_add_tcp_timeouts(m, 2, FT_DIR_EGRESS, 2);
	ft_metrics_add_tcp_timeouts(m, 2, FT_DIR_EGRESS, 1);
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_LINE(out, "flowtap_flows_active 42");
	ASSERT_LINE(out, "flowtap_flow_table_entries 50"); /* the collector's, not the input's */
	ASSERT_LINE(out, "flowtap_flows_ended_total{reason=\"idle\"} 8");
	ASSERT_LINE(out, "flowtap_flows_ended_total{reason=\"end_of_flow\"} 3");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_bucket{le=\"0.0005\"} 1");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_bucket{le=\"0.0025\"} 1");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_bucket{le=\"0.005\"} 2");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_bucket{le=\"2.5\"} 2");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_bucket{le=\"+Inf\"} 3");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_count 3");
	ASSERT_LINE(out, "flowtap_drain_duration_seconds_sum 7.0034");
	ASSERT_LINE(out, "flowtap_capture_packets_total 100");
	ASSERT_LINE(out, "flowtap_capture_dropped_total 2");
	ASSERT_LINE(out, "flowtap_ringbuf_lost_total{ring=\"capture\"} 9");
	ASSERT_LINE(out, "flowtap_attached_interfaces 3");
	ASSERT_LINE(out, "flowtap_tcp_connection_failures_total{interface=\"eth0\",direction="
			 "\"ingress\",reason=\"timeout\"} 0");
	ASSERT_LINE(out, "flowtap_tcp_connection_failures_total{interface=\"eth0\",direction="
			 "\"egress\",reason=\"timeout\"} 3");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

static void test_no_datapath(void)
{
	struct ft_metrics *m = new_exporter(0, 0);
	struct ft_metrics_input in = input(NULL, 0);
	char *out = NULL;

	if (!test_start("metrics/no_datapath"))
		goto out;
	in.datapath = false;
	in.drops_available = false;
	in.flow_capacity = 0;
	in.flow_entries = -1;
	in.attached = -1;
	out = render(m, &in, 100, FT_METRICS_TEXT);
	if (!out)
		goto out;
	ASSERT_LINE(out, "flowtap_datapath_loaded 0");
	ASSERT_NO(out, "flowtap_flow_table_capacity");
	ASSERT_NO(out, "flowtap_kernel_drops_total");
	ASSERT_LINE(out, "flowtap_ringbuf_lost_total{ring=\"http\"} 0");
out:
	free(out);
	ft_metrics_free(m);
	test_end();
}

/* ---- --bench ---- */

static double bench_now(const clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Busy counters on every series a container veth can have. */
static void bench_iface(struct ft_if_totals *t, int ifindex, unsigned int dir, __u64 k)
{
	unsigned int c, b;

	memset(t, 0, sizeof(*t));
	t->ifindex = (__u32)ifindex;
	t->dir = dir;
	for (c = 0; c < FT_CLASS_MAX; c++)
		t->s.cls[c] = (struct ft_counter){k * (c + 1), k * (c + 1) * 700};
	t->s.malformed[FT_MAL_TCP_TRUNCATED] = (struct ft_counter){k, k * 60};
	t->s.http[FT_HTTP_GET] = (struct ft_counter){k, k * 300};
	t->s.tcp_handshakes = k;
	for (b = 0; b < FT_HS_BUCKETS; b++)
		t->s.tcp_handshake_hist[b] = k / (b + 1);
	t->s.tcp_retransmits = k / 3;
	t->s.tcp_resets = k / 5;
}

static int bench(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		unsigned long n = strtoul(argv[i], NULL, 0), j;
		struct if_nameindex *links = calloc(n + 1, sizeof(*links));
		struct ft_if_totals *t = calloc(2 * n, sizeof(*t));
		char(*names)[IF_NAMESIZE] = calloc(n, IF_NAMESIZE);
		double wall[21], cpu0, cpu1, total_cpu = 0;
		struct ft_metrics_input in;
		struct ft_metrics_labels l;
		struct ft_metrics *m;
		size_t len = 0, series = 0, r, rounds = sizeof(wall) / sizeof(wall[0]);
		struct rusage ru;
		char *out = NULL, *p;

		if (!n || !links || !t || !names)
			return 1;
		m = new_exporter(n, 0);
		if (!m)
			return 1;
		for (j = 0; j < n; j++) {
			snprintf(names[j], IF_NAMESIZE, "veth%u", (unsigned int)(j % 1000000));
			links[j] = (struct if_nameindex){(unsigned)(j + 10), names[j]};
			bench_iface(&t[2 * j], (int)(j + 10), FT_DIR_INGRESS, 1000 + j);
			bench_iface(&t[2 * j + 1], (int)(j + 10), FT_DIR_EGRESS, 2000 + j);
			labels(&l, names[j], 4026532000u + j);
			snprintf(l.pod, sizeof(l.pod), "web-%lu-7d9f8c6b5-x2x9q", j);
			snprintf(l.pod_namespace, sizeof(l.pod_namespace), "prod");
			ft_metrics_set_labels(m, (int)(j + 10), &l);
		}
		in = input(t, 2 * n);
		in.links = links;
		in.attached = (long long)n;
		for (r = 0; r < rounds; r++) {
			free(out);
			out = NULL;
			cpu0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
			wall[r] = bench_now(CLOCK_MONOTONIC);
			if (ft_metrics_render(m, &in, 100 + (double)r, FT_METRICS_TEXT, &out, &len))
				return 1;
			wall[r] = bench_now(CLOCK_MONOTONIC) - wall[r];
			cpu1 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
			if (r)
				total_cpu += cpu1 - cpu0; /* the first sets up the series */
		}
		for (p = out; p && *p; p = strchr(p, '\n') + 1) {
			if (*p != '#')
				series++;
			if (!strchr(p, '\n'))
				break;
		}
		qsort(wall + 1, rounds - 1, sizeof(wall[0]), bench_cmp);
		getrusage(RUSAGE_SELF, &ru);
		printf("{\"bench\":\"scrape\",\"containers\":%lu,\"series\":%zu,\"bytes\":%zu,"
		       "\"first_ms\":%.2f,\"median_ms\":%.2f,\"min_ms\":%.2f,\"max_ms\":%.2f,"
		       "\"cpu_ms\":%.2f,\"rss_mib\":%.1f}\n",
		       n, series, len, wall[0] * 1e3, wall[rounds / 2] * 1e3, wall[1] * 1e3,
		       wall[rounds - 1] * 1e3, total_cpu / (rounds - 1) * 1e3,
		       ru.ru_maxrss / 1024.0);
		free(out);
		ft_metrics_free(m);
		free(names);
		free(t);
		free(links);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "--bench"))
		return bench(argc - 2, argv + 2);
	test_set_filter(argc > 1 ? argv[1] : NULL);
	test_escape();
	test_negotiate();
	test_traffic();
	test_openmetrics();
	test_histogram();
	test_cap();
	test_cap_priority();
	test_containers();
	test_collector();
	test_concurrent();
	test_no_datapath();
	return test_exit_code();
}
