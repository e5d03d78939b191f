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
run_one() { # NAME SCRIPT [FOGPROBE_ARGS]
	local name=$1 t=$2 start rc dur
	echo "--- $name"
	start=$(date +%s)
	FOGPROBE_ARGS=${3:-} bash "./$t"
	rc=$?
	dur=$(($(date +%s) - start))
	if [[ $rc -eq 0 ]]; then
		pass=$((pass + 1)); echo "PASS $name (${dur}s)"
	elif [[ $rc -eq 77 && "${CI:-}" != "true" ]]; then
		echo "SKIP $name"
	else
		fail=$((fail + 1)); echo "FAIL $name (rc=$rc, ${dur}s)"
	fi
}

for t in ${TESTS:-test_*.sh}; do
	run_one "$t" "$t"
done
# Where the kernel offers the fast hooks (tp_btf), the runs above used them: run the
# accuracy tests again on the tracepoint fallbacks, so that both paths are proven (the L7
# ones on the syscall tracepoints instead of the socket hooks).
# TESTS narrows these too; FALLBACK_TESTS replaces the list.
if ../../build/fogprobe check 2>/dev/null | grep -q '^.*tp_btf/.*yes *<- chosen'; then
	for t in ${FALLBACK_TESTS:-test_tcp.sh test_loss.sh test_unclosed.sh test_latency.sh test_crash.sh test_reuseport.sh test_http.sh test_http_older.sh test_tls.sh test_betanet.sh test_websocket.sh}; do
		[[ -z "${FALLBACK_TESTS:-}" && -n "${TESTS:-}" && " $TESTS " != *" $t "* ]] && continue
		[[ -f $t ]] && run_one "$t [tracepoint fallbacks]" "$t" "--disable-hooks tp_btf"
	done
fi
# Bytes, segments and retransmits came from the kernel's per-socket counters above (the
# flow iterator, else sock_diag): count them per packet too, and through sock_diag where
# the iterator was chosen. COUNTER_TESTS replaces the list; TESTS narrows it.
counter_runs() { # LABEL DISABLE
	local t
	for t in ${COUNTER_TESTS:-test_tcp.sh test_loss.sh test_unclosed.sh}; do
		[[ -z "${COUNTER_TESTS:-}" && -n "${TESTS:-}" && " $TESTS " != *" $t "* ]] && continue
		[[ -f $t ]] && run_one "$t [$1]" "$t" "--disable-hooks $2"
	done
}
check_out=$(../../build/fogprobe check 2>/dev/null)
if grep -Eq '^socket_counters *iter/.*yes *<- chosen|^ *syscall/sock_diag .*yes *<- chosen' \
	<<<"$check_out"; then
	counter_runs "per-packet counters" "iter,syscall"
fi
if grep -Eq '^socket_counters *iter/.*yes *<- chosen' <<<"$check_out" &&
	grep -Eq '^ *syscall/sock_diag *yes' <<<"$check_out"; then
	counter_runs "sock_diag counters" "iter"
fi
# message_queue_size without the map iterator: from the send queues the kernel keeps at
# each inbound segment, read and write (the only path where iterators are refused).
if [[ -z "${TESTS:-}" || " $TESTS " == *" test_websocket.sh "* ]] &&
	../../build/fogprobe check 2>/dev/null | grep -q '^send_queue *iter/.*yes *<- chosen'; then
	run_one "test_websocket.sh [no map iterator]" test_websocket.sh "--disable-hooks iter"
fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
