// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "names.h"

static const char *const class_names[FT_CLASS_MAX] = {
    [FT_CLASS_IPV4] = "ipv4",	      [FT_CLASS_IPV6] = "ipv6",
    [FT_CLASS_ARP] = "arp",	      [FT_CLASS_OTHER_L2] = "other_l2",
    [FT_CLASS_TCP] = "tcp",	      [FT_CLASS_UDP] = "udp",
    [FT_CLASS_ICMP] = "icmp",	      [FT_CLASS_ICMPV6] = "icmpv6",
    [FT_CLASS_OTHER_L4] = "other_l4", [FT_CLASS_VLAN] = "vlan",
    [FT_CLASS_FRAGMENT] = "fragment", [FT_CLASS_MALFORMED] = "malformed",
    [FT_CLASS_HTTP] = "http",
};

static const char *const reason_names[FT_MAL_MAX] = {
    [FT_MAL_NONE] = "none",
    [FT_MAL_ETH_TRUNCATED] = "eth_truncated",
    [FT_MAL_VLAN_TRUNCATED] = "vlan_truncated",
    [FT_MAL_VLAN_DEPTH] = "vlan_depth",
    [FT_MAL_ARP_TRUNCATED] = "arp_truncated",
    [FT_MAL_IP_VERSION] = "ip_version",
    [FT_MAL_IPV4_TRUNCATED] = "ipv4_truncated",
    [FT_MAL_IPV4_IHL] = "ipv4_ihl",
    [FT_MAL_IPV4_TOTAL_LEN] = "ipv4_total_len",
    [FT_MAL_IPV6_TRUNCATED] = "ipv6_truncated",
    [FT_MAL_IPV6_EXT_TRUNCATED] = "ipv6_ext_truncated",
    [FT_MAL_IPV6_EXT_CHAIN] = "ipv6_ext_chain",
    [FT_MAL_TCP_TRUNCATED] = "tcp_truncated",
    [FT_MAL_TCP_DOFF] = "tcp_doff",
    [FT_MAL_UDP_TRUNCATED] = "udp_truncated",
    [FT_MAL_UDP_LEN] = "udp_len",
    [FT_MAL_ICMP_TRUNCATED] = "icmp_truncated",
    [FT_MAL_ICMPV6_TRUNCATED] = "icmpv6_truncated",
};

static const char *const method_names[FT_HTTP_MAX] = {
    [FT_HTTP_NONE] = "none",	   [FT_HTTP_GET] = "GET",     [FT_HTTP_HEAD] = "HEAD",
    [FT_HTTP_POST] = "POST",	   [FT_HTTP_PUT] = "PUT",     [FT_HTTP_DELETE] = "DELETE",
    [FT_HTTP_OPTIONS] = "OPTIONS", [FT_HTTP_PATCH] = "PATCH", [FT_HTTP_CONNECT] = "CONNECT",
    [FT_HTTP_TRACE] = "TRACE",
};

#define NAME_OR(tbl, i) ((i) < sizeof(tbl) / sizeof(tbl[0]) && tbl[i] ? tbl[i] : "unknown")

const char *ft_class_name(unsigned int c)
{
	return NAME_OR(class_names, c);
}

const char *ft_reason_name(unsigned int r)
{
	return NAME_OR(reason_names, r);
}

const char *ft_method_name(unsigned int m)
{
	return NAME_OR(method_names, m);
}

const char *ft_dir_name(unsigned int d)
{
	return d == FT_DIR_EGRESS ? "egress" : "ingress";
}

int ft_is_icmp(__u8 family, __u8 proto)
{
	return (family == FT_FAMILY_IPV4 && proto == IPPROTO_ICMP) ||
	       (family == FT_FAMILY_IPV6 && proto == IPPROTO_ICMPV6);
}

const char *ft_proto_name(unsigned int proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

const char *ft_tcp_flags_str(__u8 flags, char *buf, size_t len)
{
	static const char *const names[8] = {"FIN", "SYN", "RST", "PSH",
					     "ACK", "URG", "ECE", "CWR"};
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < 8; i++) {
		if (!(flags & (1 << i)))
			continue;
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s", off ? "|" : "",
				names[i]);
	}
	return buf;
}

const char *ft_addr_str(__u8 family, const __u8 *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == FT_FAMILY_IPV6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *ft_drop_reason_name(unsigned int reason, char *buf, size_t len)
{
	static const char prefix[] = "SKB_DROP_REASON_";
	static struct btf *btf;
	static int enum_id = -1;
	const struct btf_enum *e;
	const struct btf_type *t;
	int i;

	if (enum_id < 0 && !btf) {
		btf = btf__load_vmlinux_btf();
		if (libbpf_get_error(btf))
			btf = NULL;
		else
			enum_id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	}
	snprintf(buf, len, "%u", reason);
	if (!btf || enum_id < 0)
		return buf;
	t = btf__type_by_id(btf, enum_id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++) {
		const char *name = btf__name_by_offset(btf, e->name_off);
		size_t j;

		if ((unsigned int)e->val != reason || !name)
			continue;
		if (!strncmp(name, prefix, sizeof(prefix) - 1))
			name += sizeof(prefix) - 1;
		for (j = 0; name[j] && j + 1 < len; j++)
			buf[j] = tolower((unsigned char)name[j]);
		buf[j] = 0;
		break;
	}
	return buf;
}

const char *ft_ethertype_name(unsigned int proto, char *buf, size_t len)
{
	switch (proto) {
	case 0x0800:
		return "ipv4";
	case 0x86dd:
		return "ipv6";
	case 0x0806:
		return "arp";
	}
	snprintf(buf, len, "0x%04x", proto);
	return buf;
}
