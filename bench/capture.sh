#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench/capture.sh: capture benchmarks.
#  1. Lossless rate: the highest packet rate on a veth pair at which
#     `flowtap capture -w FILE udp` writes every packet sent, and the same
#     for `tcpdump -w FILE udp` on the same traffic, side by side.
#  2. Cost: what a filter that matches nothing adds per packet to the
#     datapath's XDP and TC programs (BPF_PROG_TEST_RUN, capture_cost).
#
#   bench/capture.sh [--quick] [--out FILE.jsonl] [--seconds S]
#                    [--tools "none flowtap tcpdump"] [--no-cost]
#
# Needs root and a built tree (make). Traffic stays between two namespaces
# this script creates (198.18.0.0/15, no routes); everything it creates is
# removed on exit, on failure too. Both tools get the same buffer memory
# (2 MiB: tcpdump's default; flowtap -B 1024 per CPU on 2 CPUs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bench
FT=${FLOWTAP_BIN:-$ROOT/flowtap}
SND=ftcb-snd-$$
RCV=ftcb-rcv-$$
SDEV=ftcbs$$
RDEV=ftcbr$$
SECONDS_PER_TRIAL=2
QUICK=0
TOOLS="none flowtap tcpdump"
COST=1
OUT=
TOOL_PID=

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--seconds) SECONDS_PER_TRIAL=$2; shift ;;
	--tools) TOOLS=$2; shift ;;
	--no-cost) COST=0 ;;
	-h | --help) sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/capture.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

log() { echo "capture-bench: $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "bench/capture.sh: needs root" >&2; exit 1; }
for t in "$BIN/capture_send" "$BIN/capture_cost" "$FT"; do
	[ -x "$t" ] || { echo "bench/capture.sh: $t missing: run make first" >&2; exit 1; }
done
"$FT" capture --help >/dev/null 2>&1 || { echo "bench/capture.sh: $FT has no capture command" >&2; exit 1; }

WORK=$(mktemp -d /tmp/flowtap-capbench.XXXXXX)
mkdir -p "$WORK/bpf" "$WORK/cost"
OUT=${OUT:-$WORK/capture.jsonl}
cleanup() {
	set +e
	[ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null && wait "$TOOL_PID" 2>/dev/null
	ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" LIBXDP_BPFFS="$WORK/bpf" \
		"$FT" detach --all >/dev/null 2>&1
	ip netns del "$SND" 2>/dev/null
	ip netns del "$RCV" 2>/dev/null
	umount "$WORK/bpf" "$WORK/cost" 2>/dev/null
	rm -f "$WORK"/*.pcap
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The sender is pinned to CPU 0, and the receiving veth's NAPI (GRO on, so
# that it takes XDP frames) runs in the sender's softirq there too; the
# capture process has CPU 1. XDP live frames from capture_send: the
# cheapest sender there is, so that the capture side is what gives out.
setup() {
	ip netns add "$SND"
	ip netns add "$RCV"
	ip link add "$SDEV" netns "$SND" type veth peer name "$RDEV" netns "$RCV"
	for ns in "$SND" "$RCV"; do
		ip -n "$ns" link set lo up
		# No neighbour discovery or router solicitations on the link.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	ip -n "$SND" addr add 198.18.0.1/15 dev "$SDEV"
	ip -n "$RCV" addr add 198.19.0.1/15 dev "$RDEV"
	ip -n "$SND" link set "$SDEV" up
	ip -n "$RCV" link set "$RDEV" up
	ip netns exec "$RCV" ethtool -K "$RDEV" gro on >/dev/null
	mount -t bpf bpf "$WORK/bpf"
	ft attach --tc "$RDEV" >/dev/null
}

ft() {
	ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" LIBXDP_BPFFS="$WORK/bpf" "$FT" "$@"
}

rx_packets() { ip netns exec "$RCV" cat "/sys/class/net/$RDEV/statistics/rx_packets"; }

# start_tool TOOL: the capture in the background, listening.
start_tool() {
	local tool=$1 i
	rm -f "$WORK/t.pcap" "$WORK/tool.err"
	case $tool in
	flowtap)
		ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" \
			LIBXDP_BPFFS="$WORK/bpf" taskset -c 1 "$FT" capture -i "$RDEV" -B 1024 \
			-w "$WORK/t.pcap" udp 2>"$WORK/tool.err" & ;;
	tcpdump)
		ip netns exec "$RCV" taskset -c 1 tcpdump -Z root -i "$RDEV" -B 2048 -w "$WORK/t.pcap" udp \
			2>"$WORK/tool.err" & ;;
	none)
		TOOL_PID=
		return 0 ;;
	esac
	TOOL_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -qs "listening on" "$WORK/tool.err" && return 0
		sleep 0.1
	done
	echo "bench/capture.sh: $tool did not start: $(cat "$WORK/tool.err")" >&2
	return 1
}

# trial TOOL RATE: sends RATE pps for SECONDS_PER_TRIAL; prints "sent
# received captured" and succeeds when the tool captured every frame sent
# that the receiving veth received; 3 when the sender could not keep the
# rate or the veth dropped frames before the receiver saw them.
trial() {
	local tool=$1 rate=$2 n rx0 rx1 rx cap achieved
	n=$((rate * SECONDS_PER_TRIAL))
	start_tool "$tool" || return 2
	rx0=$(rx_packets)
	[ -n "$TOOL_PID" ] && awk '{print $14 + $15}' "/proc/$TOOL_PID/stat" >"$WORK/cpu.start"
	ip netns exec "$SND" taskset -c 0 "$BIN/capture_send" -x -b 64 -i "$SDEV" -r "$rate" -c "$n" \
		>"$WORK/send.json"
	sleep 1
	rx1=$(rx_packets)
	if [ -n "$TOOL_PID" ]; then
		# CPU time of the capture process itself (its userspace and
		# syscalls) while the traffic ran: what draining a packet costs.
		awk -v s="$(cat "$WORK/cpu.start")" '{print $14 + $15 - s}' "/proc/$TOOL_PID/stat" \
			>"$WORK/cpu.ticks"
		kill -INT "$TOOL_PID"
		wait "$TOOL_PID" || true
		TOOL_PID=
		cap=$(awk '/packets captured/ {print $1}' "$WORK/tool.err")
	else
		cap=$((rx1 - rx0))
	fi
	rx=$((rx1 - rx0))
	achieved=$(sed -n 's/.*"rate":\([0-9]*\).*/\1/p' "$WORK/send.json")
	echo "$n $rx ${cap:-0} (sent at ${achieved:-0} pps)"
	# A rate the sender could not keep, or frames the veth dropped before
	# the receiver saw them: no verdict about the tool.
	[ "$((${achieved:-0} * 100))" -ge "$((rate * 97))" ] || return 3
	[ "$((rx * 100))" -ge "$((n * 97))" ] || return 3
	[ "${cap:-0}" -ge "$((rx < n ? rx : n))" ]
}

# lossless TOOL: doubles the rate until a loss, then narrows the interval
# to 5%. Appends a JSON line; prints the rate. A rate the sender cannot
# keep ends the search: the result is then a lower bound ("sender_limited").
lossless() {
	local tool=$1 r=50000 lo=0 hi=0 mid res rc limited=false line
	while :; do
		res=$(trial "$tool" "$r") && rc=0 || rc=$?
		if [ "$rc" = 0 ]; then
			log "$tool $r: ok ($res)"
			lo=$r
			r=$((r * 2))
			continue
		fi
		if [ "$rc" = 3 ]; then
			log "$tool $r: the sender or the veth cannot keep this rate ($res)"
			limited=true
		else
			log "$tool $r: loss (sent received captured: $res)"
		fi
		hi=$r
		break
	done
	while [ "$QUICK" = 0 ] && [ $(((hi - lo) * 100)) -gt $((lo * 5)) ]; do
		mid=$(((lo + hi) / 2))
		res=$(trial "$tool" "$mid") && rc=0 || rc=$?
		case $rc in
		0) lo=$mid; log "$tool $mid: ok ($res)" ;;
		3) hi=$mid; limited=true; log "$tool $mid: the sender or the veth cannot keep this rate ($res)" ;;
		*) hi=$mid; limited=false; log "$tool $mid: loss ($res)" ;;
		esac
	done
	line=$(printf '{"bench":"capture_lossless","tool":"%s","lossless_pps":%d,"first_loss_pps":%d,"sender_limited":%s,"seconds":%d,"frame_bytes":64}' \
		"$tool" "$lo" "$hi" "$limited" "$SECONDS_PER_TRIAL")
	echo "$line" >>"$OUT"
	echo "$lo"
}

# cpu TOOL RATE: the capture process's CPU time per packet at RATE.
cpu() {
	local tool=$1 rate=$2 res ticks hz ns
	res=$(trial "$tool" "$rate") || true
	ticks=$(cat "$WORK/cpu.ticks")
	hz=$(getconf CLK_TCK)
	ns=$(awk -v t="$ticks" -v hz="$hz" -v n="$((rate * SECONDS_PER_TRIAL))" \
		'BEGIN { printf "%.0f", t / hz * 1e9 / n }')
	log "$tool at $rate pps: $ns ns of its own CPU per packet ($res)"
	printf '{"bench":"capture_cpu","tool":"%s","rate_pps":%d,"process_ns_per_packet":%d}\n' \
		"$tool" "$rate" "$ns" >>"$OUT"
}

cost() {
	local f
	for f in "tcp port 9999" "udp port 53 or tcp port 80 or (ip6 and tcp[tcpflags] & tcp-syn != 0)"; do
		mount -t bpf bpf "$WORK/cost"
		FLOWTAP_PIN_ROOT="$WORK/cost/flowtap" taskset -c 1 "$BIN/capture_cost" "$f" 2>/dev/null |
			sed 's/^{/{"bench":"capture_cost",/' >>"$OUT"
		umount "$WORK/cost"
	done
}

main() {
	local t pps=() ft=0 td=0 none=0
	: >"$OUT"
	if [ "$COST" = 1 ]; then
		log "cost of a filter that matches nothing (BPF_PROG_TEST_RUN)"
		cost
	fi
	setup
	log "lossless rates, 64-byte UDP frames, ${SECONDS_PER_TRIAL}s per trial"
	for t in $TOOLS; do
		case $t in
		none) none=$(lossless none) ;;
		flowtap) ft=$(lossless flowtap) ;;
		tcpdump) td=$(lossless tcpdump) ;;
		esac
	done
	for t in $TOOLS; do
		[ "$t" = none ] || cpu "$t" 400000
	done
	printf '{"bench":"capture_ratio","flowtap_pps":%d,"tcpdump_pps":%d,"receiver_pps":%d,"ratio":%s}\n' \
		"$ft" "$td" "$none" "$(awk -v a="$ft" -v b="$td" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" >>"$OUT"
	cat "$OUT"
	log "results in $OUT"
}

main
