# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# shellcheck shell=bash
#
# Helpers for tests/integration/*.sh. Source it first thing:
#
#	. "$(dirname "$0")/../lib.sh"
#	ft_require_root
#	ft_require_cmd tcpdump
#	ft_netns_pair || { ft_fail setup "cannot create namespaces"; exit 1; }
#	ft_ns A ping -c1 "$FT_IP4_B" >/dev/null && ft_pass ping || ft_fail ping "no reply"
#	ft_done
#
# Result lines are "PASS <test>/<name>", "FAIL <test>/<name>: <why>" and
# "SKIP <test>/<name>: <why>", <test> being the script's name without .sh
# (FT_TEST overrides it), the format tests/run collects. Everything the
# helpers create (namespaces, veths, bpffs mounts, temporary files,
# background processes) is removed by an EXIT trap, also on failure or
# interruption; scripts add their own steps with ft_on_exit.

FT_TEST=${FT_TEST:-$(basename "$0" .sh)}
FT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FT_BIN=$FT_ROOT/flowtap
FT_SKIP_CODE=77
FT_FAILURES=0
FT_FAIL_LINES=0
FT_NAMESPACES=()
FT_MOUNTS=()
FT_PIDS=()
FT_EXIT_HOOKS=()
FT_PAIRS=0
FT_TMP=$(mktemp -d "/tmp/ftt-$$-${FT_TEST}.XXXXXX") || exit 1

ft_pass() { # NAME
	echo "PASS $FT_TEST/$1"
}

ft_fail() { # NAME WHY
	FT_FAILURES=$((FT_FAILURES + 1))
	FT_FAIL_LINES=$((FT_FAIL_LINES + 1))
	echo "FAIL $FT_TEST/$1: ${2:-failed}"
}

ft_skip() { # NAME WHY
	echo "SKIP $FT_TEST/$1: ${2:-skipped}"
}

# ft_expect NAME GOT WANT: PASS when the strings are equal.
ft_expect() {
	if [ "$2" = "$3" ]; then
		ft_pass "$1"
	else
		ft_fail "$1" "got '$2', want '$3'"
	fi
}

# ft_skip_all WHY: the whole script cannot run here (a missing feature).
ft_skip_all() {
	ft_skip all "$1"
	exit $FT_SKIP_CODE
}

ft_require_root() {
	[ "$(id -u)" = 0 ] || ft_skip_all "needs root"
}

ft_require_cmd() { # CMD...
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || ft_skip_all "$c is not installed"
	done
}

# Exit status for the end of a script: 1 if anything failed. A failure
# counted without a FAIL line of this shell (FT_FAILURES raised by hand,
# e.g. for a background check) still gets one, so the status never
# contradicts the lines.
ft_done() {
	if [ "$FT_FAILURES" = 0 ]; then
		exit 0
	fi
	if [ "$FT_FAIL_LINES" = 0 ]; then
		echo "FAIL $FT_TEST/unreported: $FT_FAILURES failure(s) counted without a FAIL line"
	fi
	exit 1
}

# ft_on_exit CMD: run CMD (a string, eval'd) at exit, before the namespaces
# go; the last one registered runs first.
ft_on_exit() {
	FT_EXIT_HOOKS+=("$1")
}

# ft_bg CMD...: start CMD in the background; it is killed at exit. The PID
# is in FT_LAST_PID.
ft_bg() {
	"$@" &
	FT_LAST_PID=$!
	FT_PIDS+=("$FT_LAST_PID")
}

# The EXIT trap. The script's status is what it was when the trap began
# (ft_done's, or 130/143 on a signal): nothing cleanup does may change it.
ft_cleanup() {
	local rc=$? i ns pid m
	trap - EXIT INT TERM
	for ((i = ${#FT_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${FT_EXIT_HOOKS[$i]}" >/dev/null 2>&1
	done
	for pid in "${FT_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for ns in "${FT_NAMESPACES[@]}"; do
		# A namespace lives on while a process is inside it.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	# wait returns the status of a killed child (143): not ours.
	if [ ${#FT_PIDS[@]} -gt 0 ]; then
		wait "${FT_PIDS[@]}" 2>/dev/null
	fi
	for ns in "${FT_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for m in "${FT_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$FT_TMP"
	exit "$rc"
}
trap ft_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ft_netns_add NAME: a namespace with lo up and its own bpffs, removed at
# exit. Prints nothing; fails if NAME exists.
ft_netns_add() {
	local ns=$1 fs=$FT_TMP/bpf-$1
	ip netns add "$ns" || return 1
	FT_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up || return 1
	# `ip netns exec` remounts /sys, so /sys/fs/bpf is no bpffs inside:
	# give each namespace a bpffs of its own for flowtap's pins (ifindexes
	# repeat across namespaces, so they must not share a datapath).
	mkdir -p "$fs" && mount -t bpf bpf "$fs" || return 1
	FT_MOUNTS+=("$fs")
}

# ft_bpffs NS: the bpffs mounted for namespace NS.
ft_bpffs() {
	echo "$FT_TMP/bpf-$1"
}

# ft_ns NS CMD...: run CMD in namespace NS (a name or A/B of the last pair),
# with flowtap's pin root on that namespace's bpffs.
ft_ns() {
	local ns=$1
	shift
	case $ns in
	A) ns=$FT_NS_A ;;
	B) ns=$FT_NS_B ;;
	esac
	ip netns exec "$ns" env FLOWTAP_PIN_ROOT="$(ft_bpffs "$ns")/flowtap" \
		LIBXDP_BPFFS="$(ft_bpffs "$ns")" "$@"
}

# ft_flowtap NS ARGS...: ./flowtap in namespace NS.
ft_flowtap() {
	local ns=$1
	shift
	ft_ns "$ns" "$FT_BIN" "$@"
}

# ft_netns_pair: two new namespaces joined by a veth pair, up, no default
# route. The Nth pair of a script (N from 0) uses 198.18.N.1/24 and
# 198.18.N.2/24, and fd00::1/64 and fd00::2/64 (fd00:0:0:N::/64 for N > 0).
# Sets FT_NS_A FT_NS_B (namespaces), FT_IF_A FT_IF_B (their veth ends),
# FT_IP4_A FT_IP4_B FT_IP6_A FT_IP6_B (addresses, no prefix length).
ft_netns_pair() {
	local n=$FT_PAIRS net6
	FT_PAIRS=$((n + 1))
	FT_NS_A=ftt-$$-${n}a
	FT_NS_B=ftt-$$-${n}b
	FT_IF_A=veth${n}a
	FT_IF_B=veth${n}b
	FT_IP4_A=198.18.$n.1
	FT_IP4_B=198.18.$n.2
	if [ "$n" = 0 ]; then net6=fd00:: ; else net6=fd00:0:0:$n:: ; fi
	FT_IP6_A=${net6}1
	FT_IP6_B=${net6}2
	ft_netns_add "$FT_NS_A" && ft_netns_add "$FT_NS_B" || return 1
	ip -n "$FT_NS_A" link add "$FT_IF_A" type veth peer name "$FT_IF_B" netns "$FT_NS_B" ||
		return 1
	ip -n "$FT_NS_A" addr add "$FT_IP4_A/24" dev "$FT_IF_A" &&
		ip -n "$FT_NS_B" addr add "$FT_IP4_B/24" dev "$FT_IF_B" &&
		ip -n "$FT_NS_A" addr add "$FT_IP6_A/64" dev "$FT_IF_A" nodad &&
		ip -n "$FT_NS_B" addr add "$FT_IP6_B/64" dev "$FT_IF_B" nodad &&
		ip -n "$FT_NS_A" link set "$FT_IF_A" up &&
		ip -n "$FT_NS_B" link set "$FT_IF_B" up
}

# ft_wait_listen NETNS ADDR PORT [SECONDS]: wait until a TCP socket listens
# on ADDR:PORT in NETNS (a namespace name, or A/B of the last pair). Asks
# the socket table, so no connection is made that flowtap would count.
ft_wait_listen() {
	local ns=$1 i
	case $ns in A) ns=$FT_NS_A ;; B) ns=$FT_NS_B ;; esac
	for ((i = 0; i < ${4:-5} * 10; i++)); do
		ip netns exec "$ns" ss -Hltn "sport = :$3" 2>/dev/null | grep -qF " $2:$3 " && return 0
		sleep 0.1
	done
	return 1
}

# ft_udp_send NS DST SPORT DPORT COUNT PAYLOAD-BYTES: COUNT datagrams from
# SPORT in namespace NS (IPv4 or IPv6 by DST).
ft_udp_send() {
	ip netns exec "$1" python3 -c '
import socket, sys
dst, sport, dport, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
for _ in range(n):
    s.sendto(b"x" * size, (dst, dport))
' "$2" "$3" "$4" "$5" "$6"
}

# ft_syslog_listener: a datagram socket at $FT_TMP/devlog writing each
# message as a line to $FT_TMP/syslog.txt (bind it over /dev/log in a
# private mount namespace); returns once it listens.
ft_syslog_listener() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(65536).decode(errors="replace").rstrip("\n") + "\n")
' "$FT_TMP/devlog" "$FT_TMP/syslog.txt" &
	FT_PIDS+=($!)
	for _ in $(seq 30); do [ -S "$FT_TMP/devlog" ] && return 0; sleep 0.1; done
	return 1
}
