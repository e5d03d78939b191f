#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every suite: unit (cmocka), BPF (BPF_PROG_TEST_RUN, trigger-then-read), integration
# (network namespaces against ground truth), fuzz smoke. Each prints its own summary;
# the last line is the total, "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
total_p=0
total_f=0

suite() {
	local name=$1 out p f log
	shift
	echo "=== $name"
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	out=$(tail -n 1 "$log")
	rm -f "$log"
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<<"$out")
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<<"$out")
	if [[ -z "$p" ]]; then
		echo "$name: no summary line"
		p=0 f=1
	fi
	total_p=$((total_p + p))
	total_f=$((total_f + f))
}

suite unit ./tests/run_unit.sh build/tests/unit/test_*
suite bpf ./tests/run_unit.sh build/tests/bpf/test_*
suite integration ./tests/integration/run.sh
suite fuzz ./tests/fuzz/run.sh "${FUZZ_SECONDS:-20}"

echo "=== total"
echo "$total_p passed, $total_f failed"
[[ $total_f -eq 0 ]]
