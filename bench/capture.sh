#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench/capture.sh: capture benchmarks, flowtap against tcpdump on the same
# traffic (64-byte UDP frames over a veth pair, filter `udp`, snap length
# 262144, each capture process on CPU 1, the sender on CPU 0).
#  1. Lossless rate: for each tool, the highest paced rate at which the file
#     it wrote holds every frame sent (counted by reading the file back with
#     capinfos), found by doubling the rate until a loss and bisecting to 5%.
#     Tools: flowtap (`capture -w`, default -B), tcpdump (`-w`, default
#     buffer), tcpdump-B (`-B 131072`: 128 MiB).
#  2. CPU per packet at fixed rates: the capture process's own CPU time
#     (all its threads, /proc/PID/task/*/schedstat) per packet, and the
#     receive path's (the sender's CPU time, in whose softirqs the veth,
#     flowtap's programs and AF_PACKET run, plus ksoftirqd/0), next to the
#     same traffic with no capture ("none").
#  3. Cost of a filter that matches nothing (BPF_PROG_TEST_RUN, capture_cost).
#
#   bench/capture.sh [--reps N] [--seconds S] [--tools "flowtap tcpdump tcpdump-B"]
#                    [--cpu-rates "100000 300000"] [--out FILE] [--no-doc] [--no-cost]
#                    [--quick]
#
# --quick: one round of 1 s trials without bisection, printed, nothing
# written. Otherwise writes bench/results/capture.json (--out) and the
# "Capture (issue 8)" section of docs/benchmarks.md (bench/report.py).
# FLOWTAP_BIN=PATH measures another flowtap binary; FLOWTAP_OLD_BIN=PATH
# adds the tool flowtap-old, that binary's capture (e.g. a build from before
# a change) measured in the same rounds.
# Needs root, a built tree (make), tcpdump and capinfos. Traffic stays
# between two namespaces this script creates (198.18.0.0/15, no routes);
# everything it creates is removed on exit, on failure too. flowtap's
# datapath (TC) is attached to the receiving veth for every run, tcpdump's
# and "none" included, so all see the same receive path.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/netns.sh"
BIN=$ROOT/build/bench
FT=${FLOWTAP_BIN:-$ROOT/flowtap}
SND=ftcb-snd-$$
RCV=ftcb-rcv-$$
SDEV=ftcbs$$
RDEV=ftcbr$$
SECS=2
REPS=3
QUICK=0
TOOLS="flowtap tcpdump tcpdump-B"
CPU_RATES="100000 300000"
START_RATE=100000
SNAP=262144
COST=1
DOC=1
OUT=$ROOT/bench/results/capture.json
TOOL_PID=

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1; SECS=1; REPS=1; OUT= ;;
	--reps) REPS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--tools) TOOLS=$2; shift ;;
	--cpu-rates) CPU_RATES=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-doc) DOC=0 ;;
	--no-cost) COST=0 ;;
	-h | --help) sed -n '4,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/capture.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

log() { echo "capture-bench: $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "bench/capture.sh: needs root" >&2; exit 1; }
for t in "$BIN/capture_send" "$BIN/capture_cost" "$FT"; do
	[ -x "$t" ] || { echo "bench/capture.sh: $t missing: run make first" >&2; exit 1; }
done
for t in tcpdump capinfos; do
	command -v "$t" >/dev/null || { echo "bench/capture.sh: needs $t" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/flowtap-capbench.XXXXXX)
mkdir -p "$WORK/bpf" "$WORK/cost"
JSONL=$WORK/capture.jsonl
cleanup() {
	set +e
	[ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null && wait "$TOOL_PID" 2>/dev/null
	ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" LIBXDP_BPFFS="$WORK/bpf" \
		"$FT" detach --all >/dev/null 2>&1
	ip netns del "$SND" 2>/dev/null
	ip netns del "$RCV" 2>/dev/null
	umount "$WORK/bpf" "$WORK/cost" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ft() {
	ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" LIBXDP_BPFFS="$WORK/bpf" "$FT" "$@"
}

setup() {
	bench_veth_pair "$SND" "$RCV" "$SDEV" "$RDEV"
	mount -t bpf bpf "$WORK/bpf"
	ft attach --tc "$RDEV" >/dev/null
}

rx_packets() { ip netns exec "$RCV" cat "/sys/class/net/$RDEV/statistics/rx_packets"; }

# CPU time in ns of every thread of PID (0 when there is none).
task_ns() {
	[ -n "$1" ] || { echo 0; return; }
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'
}

KSOFTIRQD0=$(pgrep -x ksoftirqd/0 | head -1 || true)

# start_tool TOOL: the capture in the background, listening.
start_tool() {
	local tool=$1 i
	rm -f "$WORK/t.pcap" "$WORK/tool.err"
	TOOL_PID=
	case $tool in
	flowtap)
		ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" \
			LIBXDP_BPFFS="$WORK/bpf" taskset -c 1 "$FT" capture -i "$RDEV" -s "$SNAP" \
			-w "$WORK/t.pcap" udp 2>"$WORK/tool.err" & ;;
	flowtap-old)
		ip netns exec "$RCV" env FLOWTAP_PIN_ROOT="$WORK/bpf/flowtap" \
			LIBXDP_BPFFS="$WORK/bpf" taskset -c 1 "$FLOWTAP_OLD_BIN" capture -i "$RDEV" \
			-s "$SNAP" -w "$WORK/t.pcap" udp 2>"$WORK/tool.err" & ;;
	tcpdump)
		ip netns exec "$RCV" taskset -c 1 tcpdump -Z root -n -i "$RDEV" -s "$SNAP" \
			-w "$WORK/t.pcap" udp 2>"$WORK/tool.err" & ;;
	tcpdump-B)
		ip netns exec "$RCV" taskset -c 1 tcpdump -Z root -n -i "$RDEV" -s "$SNAP" \
			-B 131072 -w "$WORK/t.pcap" udp 2>"$WORK/tool.err" & ;;
	none) return 0 ;;
	*) echo "bench/capture.sh: unknown tool $tool" >&2; return 1 ;;
	esac
	TOOL_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -qs "listening on" "$WORK/tool.err" && return 0
		sleep 0.1
	done
	echo "bench/capture.sh: $tool did not start: $(cat "$WORK/tool.err")" >&2
	return 1
}

# trial KIND TOOL RATE REP: sends RATE pps for SECS seconds with the tool
# capturing; appends a JSON line and prints its verdict: ok (the file holds
# every frame sent), loss, or sender (the sender fell more than 3% short
# of the rate, or the veth dropped frames: no verdict about the tool).
trial() {
	local kind=$1 tool=$2 rate=$3 rep=$4 n rx0 rx1 c0 c1 k0 k1 file=0 sent achieved scpu
	local dropped=null verdict
	n=$((rate * SECS))
	start_tool "$tool" || return 1
	rx0=$(rx_packets)
	c0=$(task_ns "$TOOL_PID")
	k0=$(task_ns "$KSOFTIRQD0")
	ip netns exec "$SND" taskset -c 0 "$BIN/capture_send" -b 64 -i "$SDEV" -r "$rate" -c "$n" \
		-t "$(awk -v s="$SECS" 'BEGIN { print s * 1.1 }')" >"$WORK/send.json"
	# tcpdump's TPACKET_V3 ring hands a partly filled block over after its
	# timeout (tcpdump's 1 s); flowtap reads at least every 100 ms.
	sleep 1.5
	rx1=$(rx_packets)
	c1=$(task_ns "$TOOL_PID")
	k1=$(task_ns "$KSOFTIRQD0")
	if [ -n "$TOOL_PID" ]; then
		kill -INT "$TOOL_PID"
		wait "$TOOL_PID" || true
		TOOL_PID=
		file=$(capinfos -c -M "$WORK/t.pcap" | awk '/Number of packets/ {print $NF}')
		dropped=$(awk '/packets dropped by kernel/ {print $1}' "$WORK/tool.err")
	fi
	sent=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' "$WORK/send.json")
	achieved=$(sed -n 's/.*"rate":\([0-9]*\).*/\1/p' "$WORK/send.json")
	scpu=$(sed -n 's/.*"cpu_s":\([0-9.]*\).*/\1/p' "$WORK/send.json")
	if [ "$((achieved * 100))" -lt "$((rate * 97))" ] || [ "$(((rx1 - rx0) * 100))" -lt "$((sent * 97))" ]; then
		verdict=sender
	elif [ "$tool" = none ] || [ "${file:-0}" -eq "$sent" ]; then
		verdict=ok
	else
		verdict=loss
	fi
	printf '{"bench":"capture_trial","kind":"%s","tool":"%s","rep":%d,"rate":%d,"seconds":%d,"sent":%d,"achieved_pps":%d,"rx":%d,"file":%d,"tool_dropped":%s,"tool_cpu_ns":%d,"sender_cpu_ns":%.0f,"ksoftirqd_ns":%d,"verdict":"%s"}\n' \
		"$kind" "$tool" "$rep" "$rate" "$SECS" "$sent" "$achieved" "$((rx1 - rx0))" "${file:-0}" \
		"${dropped:-null}" "$((c1 - c0))" "$(awk -v s="$scpu" 'BEGIN { print s * 1e9 }')" \
		"$((k1 - k0))" "$verdict" >>"$JSONL"
	log "$kind $tool $rate pps: sent $sent at $achieved pps, in the file ${file:-0}: $verdict"
	echo "$verdict"
}

# lossless TOOL REP: doubles the rate until a trial is not lossless, then
# bisects to 5%. Appends a JSON line with the highest rate that was
# lossless and whether the sender, not the tool, ended the search.
lossless() {
	local tool=$1 rep=$2 r=$START_RATE lo=0 hi=0 mid v limited=false loss=0
	while :; do
		v=$(trial search "$tool" "$r" "$rep")
		[ "$v" = ok ] || break
		lo=$r
		r=$((r * 2))
	done
	hi=$r
	[ "$v" = sender ] && limited=true
	[ "$v" = loss ] && loss=$r
	while [ "$QUICK" = 0 ] && [ $(((hi - lo) * 100)) -gt $((lo * 5)) ] && [ $((hi - lo)) -gt 5000 ]; do
		mid=$(((lo + hi) / 2))
		v=$(trial search "$tool" "$mid" "$rep")
		case $v in
		ok) lo=$mid ;;
		sender) hi=$mid; limited=true ;;
		*) hi=$mid; limited=false; loss=$mid ;;
		esac
	done
	printf '{"bench":"capture_lossless","tool":"%s","rep":%d,"lossless_pps":%d,"first_loss_pps":%d,"sender_limited":%s}\n' \
		"$tool" "$rep" "$lo" "$loss" "$limited" >>"$JSONL"
	log "$tool round $rep: lossless up to $lo pps$([ "$limited" = true ] && echo ' (the sender could not go faster)')"
}

cost() {
	local f
	for f in "tcp port 9999" "udp port 53 or tcp port 80 or (ip6 and tcp[tcpflags] & tcp-syn != 0)"; do
		mount -t bpf bpf "$WORK/cost"
		FLOWTAP_PIN_ROOT="$WORK/cost/flowtap" taskset -c 1 "$BIN/capture_cost" "$f" 2>/dev/null |
			sed 's/^{/{"bench":"capture_cost",/' >>"$JSONL"
		umount "$WORK/cost"
	done
}

# The order of the tools rotates between rounds.
rotate() {
	local rep=$1 list=($2) i n
	n=${#list[@]}
	for ((i = 0; i < n; i++)); do echo "${list[$(((i + rep) % n))]}"; done
}

main() {
	local rep t rate
	: >"$JSONL"
	setup
	log "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); ${SECS}s trials, $REPS rounds"
	for ((rep = 0; rep < REPS; rep++)); do
		for rate in $CPU_RATES; do
			for t in $(rotate "$rep" "none $TOOLS"); do
				trial cpu "$t" "$rate" "$rep" >/dev/null
			done
		done
		for t in $(rotate "$rep" "$TOOLS"); do
			lossless "$t" "$rep"
		done
	done
	if [ "$COST" = 1 ]; then
		log "cost of a filter that matches nothing (BPF_PROG_TEST_RUN)"
		cost
	fi
}

[ -z "${FLOWTAP_OLD_BIN:-}" ] || TOOLS="$TOOLS flowtap-old"
main
if [ -z "$OUT" ]; then
	PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.capture_assemble(*sys.argv[1:])' \
		"$JSONL" "$WORK/capture.json" "$SECS" "$FT" "${FLOWTAP_OLD_BIN:-}"
	PYTHONPATH=$ROOT/bench python3 -c 'import json, sys, report; print("\n".join(report.capture_render(json.load(open(sys.argv[1])))))' "$WORK/capture.json"
	exit 0
fi
mkdir -p "$(dirname "$OUT")"
PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.capture_assemble(*sys.argv[1:])' \
	"$JSONL" "$OUT" "$SECS" "$FT" "${FLOWTAP_OLD_BIN:-}"
log "results in $OUT"
if [ "$DOC" = 1 ]; then
	PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.capture_doc(*sys.argv[1:])' \
		"$OUT" "$ROOT/docs/benchmarks.md"
	log "section written to docs/benchmarks.md"
fi
