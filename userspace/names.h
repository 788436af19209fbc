/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Names of the datapath's enums, as they appear in every output. */
#ifndef FT_NAMES_H
#define FT_NAMES_H

#include <stddef.h>
#include <linux/types.h>
#include "flowtap.h"

const char *ft_class_name(unsigned int c);  /* "ipv4", "tcp", ... */
const char *ft_reason_name(unsigned int r); /* "tcp_truncated", ... */
const char *ft_method_name(unsigned int m); /* "GET", ... */
const char *ft_dir_name(unsigned int d);    /* "ingress" / "egress" */
/* "tcp", "udp", "icmp", "icmpv6", or the number in buf. */
const char *ft_proto_name(unsigned int proto, char *buf, size_t len);
/* "SYN|ACK"; "" when none. */
const char *ft_tcp_flags_str(__u8 flags, char *buf, size_t len);
/* Textual address of a flow key's src/dst. */
const char *ft_addr_str(__u8 family, const __u8 *addr, char *buf, size_t len);
int ft_is_icmp(__u8 family, __u8 proto);
/* Kernel drop reason: "netfilter_drop", from the running kernel's BTF
 * (enum skb_drop_reason); the number when unknown. */
const char *ft_drop_reason_name(unsigned int reason, char *buf, size_t len);
/* "ipv4", "ipv6", "arp" or the ethertype in hex. */
const char *ft_ethertype_name(unsigned int proto, char *buf, size_t len);

#endif
