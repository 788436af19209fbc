#!/usr/bin/env bash
# The benchmark tools must not rot: bench/run --smoke runs each of them
# briefly (ns/packet under BPF_PROG_TEST_RUN, the live-frames generator over
# a veth pair with no program, flowtap XDP and flowtap TC) and checks that
# the numbers are plausible and flowtap saw every flow. Leaves docs alone.
set -u
cd "$(dirname "$0")/../.."
OUT=$(mktemp /tmp/ftt-bench.XXXXXX)
trap 'rm -f "$OUT"' EXIT

for t in nsbench gen rxattach; do
	if [ ! -x build/bench/$t ]; then
		echo "FAIL bench_smoke: build/bench/$t missing (run make)"
		exit 1
	fi
done
start=$(date +%s)
if timeout 120 bench/run --smoke >"$OUT" 2>&1; then
	took=$(($(date +%s) - start))
	if [ "$took" -lt 60 ]; then
		echo "PASS bench_smoke"
	else
		echo "FAIL bench_smoke: took ${took}s, the smoke mode must stay under 60s"
	fi
else
	why=$(grep -m1 -E '^FAIL|rror|failed' "$OUT" | sed 's/^FAIL //')
	echo "FAIL bench_smoke: ${why:-bench/run --smoke exited non-zero}"
	sed 's/^/  | /' "$OUT" | tail -20 >&2
fi
