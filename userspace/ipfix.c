// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * IPFIX export (RFC 7011) through libfixbuf: one record per closed flow
 * record (idle, active timeout, end of TCP connection, forced, lack of
 * resources), with standard information elements, and three of flowtap's
 * own for what IANA has none (TCP retransmission hints, handshake time and
 * round-trip time, in enterprise elements 6..8). Two templates, IPv4
 * and IPv6; over UDP they are re-sent every template_refresh seconds (RFC
 * 7011 section 10.3.6), over TCP once per connection.
 *
 * Counts: octetDeltaCount is IP bytes as IPFIX defines it (the frame
 * minus its Ethernet header and VLAN tag); layer2OctetDeltaCount is the
 * frame as flowtap counts it everywhere else.
 *
 * Records of a container veth use two more templates that add the
 * standard interfaceName and enterprise-specific elements for the
 * container's labels (id, name, pod, namespace, runtime), variable-length
 * strings. Their enterprise number is RFC 5612's number for documentation,
 * a placeholder until flowtap has one of its own (docs/collector.md).
 *
 * Built only when libfixbuf's headers (and glib's) are on the include path:
 * `pkg-config --cflags --libs libfixbuf`. Otherwise --ipfix reports that
 * this build has no IPFIX.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "collector.h"
#include "containers.h"
#include "log.h"

#if __has_include(<glib.h>) && __has_include(<fixbuf/public.h>)
#include <fixbuf/public.h>

#define TID_V4	 0x3100
#define TID_V6	 0x3101
#define TID_V4CT 0x3102
#define TID_V6CT 0x3103
#define SPEC_V4	 1
#define SPEC_V6	 2
#define SPEC_CT	 4 /* a container veth's labels */

/* RFC 5612: the Private Enterprise Number reserved for documentation. A
 * placeholder: a collector that should keep these elements apart from
 * anyone else's needs flowtap's own registered number here. */
#define FT_IPFIX_PEN 32473

static fbInfoElement_t ft_ipfix_ies[] = {
    FB_IE_INIT_FULL("flowtapContainerId", FT_IPFIX_PEN, 1, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		    FB_STRING, NULL),
    FB_IE_INIT_FULL("flowtapContainerName", FT_IPFIX_PEN, 2, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		    FB_STRING, NULL),
    FB_IE_INIT_FULL("flowtapPodName", FT_IPFIX_PEN, 3, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0, FB_STRING,
		    NULL),
    FB_IE_INIT_FULL("flowtapPodNamespace", FT_IPFIX_PEN, 4, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		    FB_STRING, NULL),
    FB_IE_INIT_FULL("flowtapContainerRuntime", FT_IPFIX_PEN, 5, FB_IE_VARLEN, FB_IE_DEFAULT, 0, 0,
		    FB_STRING, NULL),
    FB_IE_INIT_FULL("flowtapTcpRetransmitCount", FT_IPFIX_PEN, 6, 8, FB_IE_F_ENDIAN, 0, 0,
		    FB_UINT_64, NULL),
    FB_IE_INIT_FULL("flowtapTcpHandshakeMicroseconds", FT_IPFIX_PEN, 7, 4, FB_IE_F_ENDIAN, 0, 0,
		    FB_UINT_32, NULL),
    FB_IE_INIT_FULL("flowtapTcpRttMicroseconds", FT_IPFIX_PEN, 8, 4, FB_IE_F_ENDIAN, 0, 0,
		    FB_UINT_32, NULL),
    FB_IE_NULL,
};

/* Order of the records below: fixbuf copies fields back to back. */
static fbInfoElementSpec_t ft_ipfix_spec[] = {{"flowStartMilliseconds", 8, 0},
					      {"flowEndMilliseconds", 8, 0},
					      {"octetDeltaCount", 8, 0},
					      {"packetDeltaCount", 8, 0},
					      {"layer2OctetDeltaCount", 8, 0},
					      {"tcpRstTotalCount", 8, 0},
					      {"flowtapTcpRetransmitCount", 8, 0},
					      {"flowtapTcpHandshakeMicroseconds", 4, 0},
					      {"flowtapTcpRttMicroseconds", 4, 0},
					      {"sourceIPv4Address", 4, SPEC_V4},
					      {"destinationIPv4Address", 4, SPEC_V4},
					      {"sourceIPv6Address", 16, SPEC_V6},
					      {"destinationIPv6Address", 16, SPEC_V6},
					      {"ingressInterface", 4, 0},
					      {"egressInterface", 4, 0},
					      {"sourceTransportPort", 2, 0},
					      {"destinationTransportPort", 2, 0},
					      {"tcpControlBits", 2, 0},
					      {"vlanId", 2, 0},
					      {"protocolIdentifier", 1, 0},
					      {"flowEndReason", 1, 0},
					      {"flowDirection", 1, 0},
					      {"interfaceName", FB_IE_VARLEN, SPEC_CT},
					      {"flowtapContainerId", FB_IE_VARLEN, SPEC_CT},
					      {"flowtapContainerName", FB_IE_VARLEN, SPEC_CT},
					      {"flowtapPodName", FB_IE_VARLEN, SPEC_CT},
					      {"flowtapPodNamespace", FB_IE_VARLEN, SPEC_CT},
					      {"flowtapContainerRuntime", FB_IE_VARLEN, SPEC_CT},
					      FB_IESPEC_NULL};

struct ft_ipfix_head {
	uint64_t start_ms, end_ms;
	uint64_t octets, packets, l2_octets;
	uint64_t resets, retransmits;  /* of the flow so far, as the flow records have them */
	uint32_t handshake_us, rtt_us; /* 0: not measured */
} __attribute__((packed));

struct ft_ipfix_tail {
	uint32_t ingress, egress;
	uint16_t sport, dport, tcp_flags, vlan;
	uint8_t proto, end_reason, direction;
} __attribute__((packed));

struct ft_ipfix_v4 {
	struct ft_ipfix_head h;
	uint32_t src, dst; /* network order: fixbuf copies addresses as integers */
	struct ft_ipfix_tail t;
} __attribute__((packed));

struct ft_ipfix_v6 {
	struct ft_ipfix_head h;
	uint8_t src[16], dst[16];
	struct ft_ipfix_tail t;
} __attribute__((packed));

/* Strings, without their NUL; empty when unknown. */
struct ft_ipfix_ct {
	fbVarfield_t ifname, id, name, pod, ns, runtime;
} __attribute__((packed));

struct ft_ipfix_v4ct {
	struct ft_ipfix_v4 b;
	struct ft_ipfix_ct c;
} __attribute__((packed));

struct ft_ipfix_v6ct {
	struct ft_ipfix_v6 b;
	struct ft_ipfix_ct c;
} __attribute__((packed));

struct ft_ipfix {
	fbConnSpec_t spec;
	char host[64], port[8];
	__u32 domain;
	double refresh;
	fbInfoModel_t *model;
	fBuf_t *fbuf; /* owns the session and the exporter */
	time_t templates_sent;
	bool labels; /* the container templates too */
	bool failed;
};

bool ft_ipfix_available(void)
{
	return true;
}

static void ft_ipfix_err(struct ft_ipfix *x, const char *what, GError *err)
{
	if (!x->failed)
		pr_err("ipfix %s:%s: %s: %s\n", x->host, x->port, what,
		       err ? err->message : "failed");
	x->failed = true;
	g_clear_error(&err);
}

static fbTemplate_t *ft_ipfix_template(struct ft_ipfix *x, uint32_t flags, GError **err)
{
	fbTemplate_t *t = fbTemplateAlloc(x->model);

	if (!fbTemplateAppendSpecArray(t, ft_ipfix_spec, flags, err)) {
		fbTemplateFreeUnused(t);
		return NULL;
	}
	return t;
}

/* The session, its templates and the exporter; torn down and rebuilt
 * after a failed send so templates go out again on the new connection. */
static int ft_ipfix_connect(struct ft_ipfix *x)
{
	static const struct {
		uint16_t tid;
		uint32_t flags;
	} tmpls[] = {{TID_V4, SPEC_V4},
		     {TID_V6, SPEC_V6},
		     {TID_V4CT, SPEC_V4 | SPEC_CT},
		     {TID_V6CT, SPEC_V6 | SPEC_CT}};
	fbSession_t *s = fbSessionAlloc(x->model);
	fbExporter_t *e;
	GError *err = NULL;
	size_t i;

	fbSessionSetDomain(s, x->domain);
	for (i = 0; i < (x->labels ? 4 : 2); i++) {
		/* Each template is owned by the session it is added to. */
		fbTemplate_t *in = ft_ipfix_template(x, tmpls[i].flags, &err);
		fbTemplate_t *ex = in ? ft_ipfix_template(x, tmpls[i].flags, &err) : NULL;

		if (!ex || !fbSessionAddTemplate(s, TRUE, tmpls[i].tid, in, &err) ||
		    !fbSessionAddTemplate(s, FALSE, tmpls[i].tid, ex, &err)) {
			ft_ipfix_err(x, "templates", err);
			fbSessionFree(s);
			return -EINVAL;
		}
	}
	e = fbExporterAllocNet(&x->spec);
	x->fbuf = fBufAllocForExport(s, e);
	fBufSetExportTime(x->fbuf, 0);
	x->templates_sent = 0;
	return 0;
}

static void ft_ipfix_reset(struct ft_ipfix *x)
{
	if (x->fbuf)
		fBufFree(x->fbuf);
	x->fbuf = NULL;
}

/* fixbuf warns through glib (e.g. a refused UDP send while the collector
 * restarts); flowtap reports export failures itself, once, so glib's
 * messages are shown only with -v. */
static void ft_glib_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
	(void)data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		pr_warn("ipfix: %s%s%s\n", domain ? domain : "", domain ? ": " : "", msg);
	else
		pr_info("ipfix: %s%s%s\n", domain ? domain : "", domain ? ": " : "", msg);
}

struct ft_ipfix *ft_ipfix_open(const struct ft_addrport *dst, bool tcp, __u32 domain,
			       double template_refresh, bool labels)
{
	struct ft_ipfix *x = calloc(1, sizeof(*x));
	const struct sockaddr_in *sin = (const void *)&dst->ss;
	const struct sockaddr_in6 *sin6 = (const void *)&dst->ss;

	if (!x)
		return NULL;
	g_log_set_default_handler(ft_glib_log, NULL);
	if (dst->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, x->host, sizeof(x->host));
		snprintf(x->port, sizeof(x->port), "%u", ntohs(sin6->sin6_port));
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, x->host, sizeof(x->host));
		snprintf(x->port, sizeof(x->port), "%u", ntohs(sin->sin_port));
	}
	x->spec.transport = tcp ? FB_TCP : FB_UDP;
	x->spec.host = x->host;
	x->spec.svc = x->port;
	x->domain = domain;
	x->refresh = template_refresh > 0 ? template_refresh : 60;
	x->labels = labels;
	x->model = fbInfoModelAlloc();
	if (x->model)
		fbInfoModelAddElementArray(x->model, ft_ipfix_ies);
	if (!x->model || ft_ipfix_connect(x)) {
		ft_ipfix_close(x);
		return NULL;
	}
	return x;
}

void ft_ipfix_close(struct ft_ipfix *x)
{
	if (!x)
		return;
	if (x->fbuf) {
		GError *err = NULL;

		fBufEmit(x->fbuf, &err);
		g_clear_error(&err);
	}
	ft_ipfix_reset(x);
	if (x->model)
		fbInfoModelFree(x->model);
	free(x);
}

static void ft_ipfix_fill(const struct ft_report *r, const struct ft_cflow *f,
			  struct ft_ipfix_head *h, struct ft_ipfix_tail *t)
{
	const struct ft_flow_key *k = &f->f.key;
	__u64 l2 = ft_cflow_rbytes(f), pk = ft_cflow_rpackets(f);
	__u64 hdr = pk * (14 + (k->vlan ? 4 : 0));

	h->start_ms = ft_record_start_ms(r, f);
	h->end_ms = ft_record_end_ms(r, f);
	h->packets = pk;
	h->l2_octets = l2;
	h->octets = l2 > hdr ? l2 - hdr : 0;
	h->resets = f->f.v.resets;
	h->retransmits = f->f.v.retransmits;
	h->handshake_us = f->f.v.handshake_us;
	h->rtt_us = f->f.v.rtt_us;
	t->ingress = k->dir == FT_DIR_INGRESS ? k->ifindex : 0;
	t->egress = k->dir == FT_DIR_EGRESS ? k->ifindex : 0;
	if (k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6) {
		/* The NetFlow convention collectors decode: type and code in
		 * the destination port. */
		t->sport = 0;
		t->dport = (__u16)(k->sport << 8 | (k->dport & 0xff));
	} else {
		t->sport = k->sport;
		t->dport = k->dport;
	}
	t->tcp_flags = f->f.v.tcp_flags;
	t->vlan = k->vlan;
	t->proto = k->proto;
	t->end_reason = f->reason;
	t->direction = k->dir == FT_DIR_EGRESS ? 1 : 0;
}

static fbVarfield_t ft_ipfix_str(const char *s)
{
	return (fbVarfield_t){.len = strlen(s), .buf = (uint8_t *)s};
}

/* The labels point into v, which outlives the append (fixbuf copies). */
static void ft_ipfix_labels(const struct ft_cveth *v, struct ft_ipfix_ct *c)
{
	const struct ft_ct_labels *l = &v->labels;

	c->ifname = ft_ipfix_str(v->ifname);
	c->id = ft_ipfix_str(l->container_id);
	c->name = ft_ipfix_str(l->container);
	c->pod = ft_ipfix_str(l->pod);
	c->ns = ft_ipfix_str(l->pod_namespace);
	c->runtime = ft_ipfix_str(ft_runtime_name(l->runtime));
}

static int ft_ipfix_emit(struct ft_ipfix *x, uint16_t tid, const void *rec, size_t len,
			 GError **err)
{
	if (!fBufSetInternalTemplate(x->fbuf, tid, err) ||
	    !fBufSetExportTemplate(x->fbuf, tid, err))
		return -EINVAL;
	return fBufAppend(x->fbuf, (uint8_t *)rec, len, err) ? 0 : -EIO;
}

static int ft_ipfix_append(struct ft_ipfix *x, const struct ft_report *r, const struct ft_cflow *f,
			   GError **err)
{
	const struct ft_cveth *v = ft_report_veth(r, f->f.key.ifindex);

	if (f->f.key.family == FT_FAMILY_IPV6) {
		struct ft_ipfix_v6ct rec;

		memcpy(rec.b.src, f->f.key.src, 16);
		memcpy(rec.b.dst, f->f.key.dst, 16);
		ft_ipfix_fill(r, f, &rec.b.h, &rec.b.t);
		if (!v || !x->labels)
			return ft_ipfix_emit(x, TID_V6, &rec.b, sizeof(rec.b), err);
		ft_ipfix_labels(v, &rec.c);
		return ft_ipfix_emit(x, TID_V6CT, &rec, sizeof(rec), err);
	} else {
		struct ft_ipfix_v4ct rec;
		uint32_t a;

		memcpy(&a, f->f.key.src, 4);
		rec.b.src = ntohl(a);
		memcpy(&a, f->f.key.dst, 4);
		rec.b.dst = ntohl(a);
		ft_ipfix_fill(r, f, &rec.b.h, &rec.b.t);
		if (!v || !x->labels)
			return ft_ipfix_emit(x, TID_V4, &rec.b, sizeof(rec.b), err);
		ft_ipfix_labels(v, &rec.c);
		return ft_ipfix_emit(x, TID_V4CT, &rec, sizeof(rec), err);
	}
}

int ft_ipfix_report(struct ft_ipfix *x, const struct ft_report *r)
{
	GError *err = NULL;
	time_t now = time(NULL);
	size_t i, sent = 0;

	if (!x->fbuf && ft_ipfix_connect(x))
		return -EIO;
	if (!x->templates_sent ||
	    (x->spec.transport == FB_UDP && difftime(now, x->templates_sent) >= x->refresh)) {
		if (!fbSessionExportTemplates(fBufGetSession(x->fbuf), &err))
			goto fail;
		x->templates_sent = now;
	}
	for (i = 0; i < r->nrecs; i++) {
		const struct ft_cflow *f = r->recs[i];

		/* A record closes when its flow ends or at the active timeout;
		 * one with no packets (idle since the last) says nothing. */
		if (f->reason == FT_END_NONE || !ft_cflow_rpackets(f))
			continue;
		if (ft_ipfix_append(x, r, f, &err))
			goto fail;
		sent++;
	}
	if (!fBufEmit(x->fbuf, &err))
		goto fail;
	if (x->failed)
		pr_warn("ipfix %s:%s: exporting again\n", x->host, x->port);
	x->failed = false;
	return (int)sent;
fail:
	ft_ipfix_err(x, "export", err);
	ft_ipfix_reset(x);
	return -EIO;
}

#else /* no libfixbuf */

bool ft_ipfix_available(void)
{
	return false;
}

struct ft_ipfix *ft_ipfix_open(const struct ft_addrport *dst, bool tcp, __u32 domain,
			       double template_refresh, bool labels)
{
	(void)dst;
	(void)labels;
	(void)tcp;
	(void)domain;
	(void)template_refresh;
	pr_err("--ipfix: this flowtap was built without libfixbuf "
	       "(build with pkg-config --cflags --libs libfixbuf)\n");
	errno = ENOTSUP;
	return NULL;
}

int ft_ipfix_report(struct ft_ipfix *x, const struct ft_report *r)
{
	(void)x;
	(void)r;
	return -ENOTSUP;
}

void ft_ipfix_close(struct ft_ipfix *x)
{
	(void)x;
}

#endif
