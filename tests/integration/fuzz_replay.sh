#!/usr/bin/env bash
# Replays every fuzzer's seed corpus and every crash file under
# tests/fuzz/regressions/ once, without fuzzing: a fixed crash stays fixed.
# One line per corpus and per regression file (from tests/fuzz/Makefile).
set -u
cd "$(dirname "$0")/../.."

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
	echo "SKIP fuzz_replay: clang with libFuzzer missing (apt-get install clang libclang-rt-14-dev)"
	exit 0
fi
if ! out=$(make -s -C tests/fuzz all 2>&1); then
	echo "FAIL fuzz_replay/build: $(echo "$out" | grep -m1 -E 'error|Error' || echo "$out" | tail -1)"
	exit 1
fi
# -k: one failing target must not hide the others' results.
make -s -k --no-print-directory -C tests/fuzz regress 2>/dev/null | grep -E '^(PASS|FAIL|SKIP) '
exit "${PIPESTATUS[0]}"
