#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Run cmocka test binaries; print one summary line "N passed, N failed".
set -u
pass=0 fail=0
for t in "$@"; do
	[[ -x "$t" && "$t" != *.d ]] || continue
	out=$("$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '^\[  (FAILED|  PASSED|  ERROR) \]|^\[  FAILED  \]' >/dev/null
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass=$((pass + ${p:-0}))
	if [[ $rc -ne 0 ]]; then
		echo "$out" | grep -vE '^\[ (RUN|      OK) ' >&2
		fail=$((fail + ${f:-1}))
		echo "FAIL $(basename "$t")"
	else
		echo "ok   $(basename "$t") (${p:-0} tests)"
	fi
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
