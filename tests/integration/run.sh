#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Run every tests/integration/test_*.sh as root. Exit code 77 means skipped: allowed
# only for what the kernel truly lacks, and never under CI=true.
set -u
cd "$(dirname "$0")"
pass=0 fail=0
if [[ $EUID -ne 0 ]]; then
	echo "integration tests need root"
	echo "0 passed, 1 failed"
	exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
for t in ${TESTS:-test_*.sh}; do
	echo "--- $t"
	start=$(date +%s)
	bash "./$t"
	rc=$?
	dur=$(($(date +%s) - start))
	if [[ $rc -eq 0 ]]; then
		pass=$((pass + 1)); echo "PASS $t (${dur}s)"
	elif [[ $rc -eq 77 && "${CI:-}" != "true" ]]; then
		echo "SKIP $t"
	else
		fail=$((fail + 1)); echo "FAIL $t (rc=$rc, ${dur}s)"
	fi
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
