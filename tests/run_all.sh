#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every suite: the layout of includes (tests/check_layout.sh), unit (cmocka), BPF
# (BPF_PROG_TEST_RUN, trigger-then-read), integration (network namespaces against ground
# truth), fuzz smoke, and the kernel matrix under qemu. SUITES="unit bpf" runs a subset. Each prints its own summary; the last line is
# the total, "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
total_p=0
total_f=0
failures=""

# Every suite's failing tests and checks are repeated at the end, just above the total,
# so that the tail of a long run says what failed.
suite() {
	local name=$1 out p f log
	shift
	echo "=== $name"
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	out=$(tail -n 1 "$log")
	failures+=$(grep -E '^(\[[^]]*\] )?( *FAIL |\[  FAILED  \] [a-z_]|load: (FAILED|a collector)|kernels: .*(lacks|expected|no result|cannot))' "$log" |
		sed "s/^/  $name: /")
	failures+=$'\n'
	rm -f "$log"
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<<"$out")
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<<"$out")
	if [[ -z "$p" ]]; then
		echo "$name: no summary line"
		failures+="  $name: no summary line"$'\n'
		p=0 f=1
	fi
	total_p=$((total_p + p))
	total_f=$((total_f + f))
}

want() { [[ " ${SUITES:-layout unit bpf integration fuzz kernels} " == *" $1 "* ]]; }

want layout && suite layout ./tests/check_layout.sh
want unit && suite unit ./tests/run_unit.sh build/tests/unit/test_*
want bpf && suite bpf ./tests/run_unit.sh build/tests/bpf/test_*
want integration && suite integration ./tests/integration/run.sh
want fuzz && suite fuzz ./tests/fuzz/run.sh "${FUZZ_SECONDS:-20}"
# The kernel matrix (tests/kernels) boots other kernels under qemu: under CI=true, or
# when asked with KERNELS=1. With KVM, every suite in every kernel. Without a /dev/kvm
# that can run these kernels (none, or kvm_pvm), qemu emulates (TCG, some 15 times
# slower): the Debian kernels run the load check (every program of every chain, on each
# kernel's verifier) and the unit and BPF suites, side by side, some 7 minutes; the
# running kernel's own suites are the ones above. `make test-kernels` runs the accuracy
# tests emulated.
if want kernels && [[ "${CI:-}" == "true" || "${KERNELS:-}" == "1" ]]; then
	if why=$(./tests/kernels/matrix.sh --kvm-check); then
		suite kernels ./tests/kernels/matrix.sh
	else
		KERNELS=${KERNELS_EMULATED:-debian-6.1 debian-6.1-rt} KERNELS_SUITES=unit,bpf \
			KERNELS_WHY="$why" suite kernels ./tests/kernels/matrix.sh
	fi
fi

if [[ -n "${failures//$'\n'/}" ]]; then
	echo "=== failures"
	grep -v '^$' <<<"$failures"
fi
echo "=== total"
echo "$total_p passed, $total_f failed"
[[ $total_f -eq 0 ]]
