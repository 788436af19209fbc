#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# bench/collector.sh: what the collector and the exporter cost at scale.
#   drain   one drain-and-report cycle of `flowtap run` over N flows that
#           all moved since the last (tests/unit/test_collector --bench N:
#           a real per-CPU hash map filled with N entries, the drain with
#           its deltas and expiry, the syslog lines, the checkpoint
#           commit): wall and CPU time, peak RSS of the process;
#   scrape  one /metrics rendering over N container veths' worth of series
#           (tests/unit/test_metrics --bench N: both directions, every
#           class, HTTP methods, handshake histograms, container labels):
#           wall and CPU time, series, bytes.
# Each N runs in a process of its own (RSS is per N), REPS times.
#
#   bench/collector.sh [--reps N] [--flows "10000 100000 1000000"]
#                      [--containers "100 1000"] [--out FILE] [--no-doc] [--quick]
#
# --quick: one rep of 10k flows and 100 containers, printed, nothing written.
# Writes bench/results/collector.json and the "Collector and exporter"
# section of docs/benchmarks.md (bench/report.py). Needs root and a bpffs at
# /sys/fs/bpf (the drain uses a real map, pinned under a directory of its
# own that it removes).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
COLL=$ROOT/build/tests/test_collector
METR=$ROOT/build/tests/test_metrics
REPS=5
FLOWS="10000 100000 1000000"
CONTAINERS="100 1000"
OUT=$ROOT/bench/results/collector.json
DOC=1

usage() {
	sed -n '/^#   bench/,/^# --quick/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--reps) REPS=$2 && shift ;;
	--flows) FLOWS=$2 && shift ;;
	--containers) CONTAINERS=$2 && shift ;;
	--out) OUT=$2 && shift ;;
	--no-doc) DOC=0 ;;
	--quick) REPS=1 FLOWS=10000 CONTAINERS=100 OUT= DOC=0 ;;
	*) usage ;;
	esac
	shift
done
case $REPS in '' | *[!0-9]* | 0) usage ;; esac
for t in "$COLL" "$METR"; do
	[ -x "$t" ] || { echo "bench/collector.sh: $t missing (run make)" >&2 && exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench/collector.sh: needs root" >&2 && exit 1; }

WORK=$(mktemp -d /tmp/ftbc.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

log() { echo "bench: $*" >&2; }

for ((rep = 0; rep < REPS; rep++)); do
	for n in $FLOWS; do
		# flows drain_ms drain_cpu sinks_ms commit_ms cycle_cpu rss_MiB
		"$COLL" --bench "$n" | awk -v rep="$rep" 'NR > 1 {
			printf "{\"bench\":\"drain\",\"rep\":%d,\"flows\":%d,\"drain_ms\":%s," \
				"\"drain_cpu_ms\":%s,\"sinks_ms\":%s,\"commit_ms\":%s,\"cycle_cpu_ms\":%s," \
				"\"rss_mib\":%s}\n", rep, $1, $2, $3, $4, $5, $6, $7 }' >>"$WORK/collector.jsonl"
		log "drain, $n flows: $(tail -n1 "$WORK/collector.jsonl")"
	done
	for n in $CONTAINERS; do
		"$METR" --bench "$n" | sed "s/^{/{\"rep\":$rep,/" >>"$WORK/collector.jsonl"
		log "scrape, $n containers: $(tail -n1 "$WORK/collector.jsonl")"
	done
done

if [ -z "$OUT" ]; then
	cat "$WORK/collector.jsonl"
	exit 0
fi
mkdir -p "$(dirname "$OUT")"
PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.collector_assemble(*sys.argv[1:])' \
	"$WORK/collector.jsonl" "$OUT"
log "results: $OUT"
if [ "$DOC" = 1 ]; then
	PYTHONPATH=$ROOT/bench python3 -c 'import sys, report; report.collector_doc(*sys.argv[1:])' \
		"$OUT" "$ROOT/docs/benchmarks.md"
	log "doc: docs/benchmarks.md"
fi
