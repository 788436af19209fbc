#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench/drops.sh: what the kernel drop tracer (trace/flowtap_drops.bpf.c on
# skb:kfree_skb) costs under a high drop rate. One CPU sends UDP datagrams
# as fast as it can over a veth to a port nobody listens on; the receiving
# namespace frees each one (no_socket). Each round runs, back to back:
#   none      no tracer: drops/s and CPU per drop of the bare path
#   flowtap   flowtap's tracer (tp_btf), attached as flowtap attaches it
#   raw       the raw_tp program it replaced (bench/drops_raw.bpf.c)
#   flowtap+stats, raw+stats   again with BPF run-time statistics on, for the
#             programs' own ns per run (stats add their own clock reads, so
#             rates come from the runs without them)
#   empty+stats   a tp_btf program that does nothing (bench/drops_empty.bpf.c):
#             the dispatch any tracer pays
# and the order of the three rate runs alternates between rounds.
#
#   bench/drops.sh [--reps N] [--seconds S] [--out FILE] [--no-doc] [--quick]
#
# --quick: one round of 1 s runs, results printed, nothing written.
# Writes bench/results/drops.json (--out) and the "Kernel drop tracer"
# section of docs/benchmarks.md (bench/report.py). Needs root and a built
# tree (make). Traffic stays between two namespaces this script creates
# (198.18.0.0/15, no routes); everything it creates is removed on exit, on
# failure too. Other flowtap instances on the machine attach tracers of their
# own to the same tracepoint; each trial records how many there were.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/netns.sh"
SEND=$ROOT/build/bench/drops_send
SND=ftdb-snd-$$
RCV=ftdb-rcv-$$
SDEV=ftdbs$$
RDEV=ftdbr$$
REPS=9
SECS=2
OUT=$ROOT/bench/results/drops.json
DOC=1

while [ $# -gt 0 ]; do
	case "$1" in
	--reps) REPS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-doc) DOC=0 ;;
	--quick) REPS=1; SECS=1; DOC=0; OUT= ;;
	-h | --help) sed -n '4,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/drops.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

log() { echo "drops-bench: $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "bench/drops.sh: needs root" >&2; exit 1; }
[ -x "$SEND" ] || { echo "bench/drops.sh: $SEND missing: run make first" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "bench/drops.sh: needs bpftool" >&2; exit 1; }

WORK=$(mktemp -d /tmp/flowtap-dropbench.XXXXXX)
cleanup() {
	set +e
	ip netns del "$SND" 2>/dev/null
	ip netns del "$RCV" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_veth_pair "$SND" "$RCV" "$SDEV" "$RDEV"
NETNS=$(stat -L -c %i "/run/netns/$RCV")

# UDP datagrams to a closed port, as the receiving namespace counts them.
# shellcheck disable=SC2016 # awk's own $3
noports() { ip netns exec "$RCV" awk '/^Udp:/ && ++n == 2 {print $3}' /proc/net/snmp; }

# Programs attached to kfree_skb that are not this benchmark's.
others() {
	bpftool -j link show 2>/dev/null |
		python3 -c 'import json, sys; print(sum(1 for l in json.load(sys.stdin) if l.get("tp_name") == "kfree_skb"))'
}

# trial ROUND TRACER [-S]: one JSON line on stdout.
trial() {
	local round=$1 tracer=$2 stats=${3:-} a b o line
	o=$(others)
	a=$(noports)
	line=$(ip netns exec "$SND" "$SEND" -d 198.19.0.1 -p 9 -t "$SECS" -c 0 -T "$tracer" \
		${stats:+"$stats"} -N "$NETNS")
	b=$(noports)
	echo "${line%\}},\"round\":$round,\"drops\":$((b - a)),\"other_tracers\":$o}"
}

ip netns exec "$SND" "$SEND" -d 198.19.0.1 -t 0.3 >/dev/null # neighbour, warm-up
: >"$WORK/drops.jsonl"
for ((r = 0; r < REPS; r++)); do
	if ((r % 2)); then order="raw flowtap none"; else order="none flowtap raw"; fi
	{
		for t in $order; do
			trial "$r" "$t"
		done
		trial "$r" flowtap -S
		trial "$r" raw -S
		trial "$r" empty -S
	} >>"$WORK/drops.jsonl"
	log "round $((r + 1))/$REPS: $(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    t = json.loads(l)
    if t["round"] == int(sys.argv[2]):
        print("%s%s %.0fk/s" % (t["tracer"], "+stats" if t["stats"] else "", t["drops"] / t["seconds"] / 1e3), end="  ")
' "$WORK/drops.jsonl" $r)"
done

if [ -z "$OUT" ]; then
	PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.drops_assemble(*sys.argv[1:])' \
		"$WORK/drops.jsonl" "$WORK/drops.json" "$SECS"
	PYTHONPATH=$ROOT/bench python3 -c 'import json, sys, report; print("\n".join(report.drops_render(json.load(open(sys.argv[1])))))' "$WORK/drops.json"
	exit 0
fi
mkdir -p "$(dirname "$OUT")"
PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.drops_assemble(*sys.argv[1:])' \
	"$WORK/drops.jsonl" "$OUT" "$SECS"
log "results in $OUT"
if [ "$DOC" = 1 ]; then
	PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.drops_doc(*sys.argv[1:])' \
		"$OUT" "$ROOT/docs/benchmarks.md"
	log "section written to docs/benchmarks.md"
fi
