# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Sourced by the bench scripts that need a sender and a receiver.

# bench_veth_pair SND RCV SDEV RDEV: namespaces SND and RCV joined by the
# veth pair SDEV (in SND, 198.18.0.1/15) and RDEV (in RCV, 198.19.0.1/15),
# up, no routes, IPv6 off so that no neighbour discovery or router
# solicitation shares the link with the measured traffic.
bench_veth_pair() {
	local snd=$1 rcv=$2 sdev=$3 rdev=$4 ns
	ip netns add "$snd"
	ip netns add "$rcv"
	ip link add "$sdev" netns "$snd" type veth peer name "$rdev" netns "$rcv"
	for ns in "$snd" "$rcv"; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	ip -n "$snd" addr add 198.18.0.1/15 dev "$sdev"
	ip -n "$rcv" addr add 198.19.0.1/15 dev "$rdev"
	ip -n "$snd" link set "$sdev" up
	ip -n "$rcv" link set "$rdev" up
}
