#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The OTLP receiver of the tests (tests/workloads/otlp_receiver.js: the official
# OpenTelemetry definitions decode what the daemon sends), sourced after lib.sh.
#   start_receiver OTLP_PORT CONTROL_PORT   sets RECEIVER_PID, RECEIVER_CTL
#   receiver_mode MODE [QUERY]              ok, down, 503, hang (see the receiver)
#   received FILTER                         spans the receiver kept, as JSON lines, filtered
#                                           by a python expression over `s`
#   await_spans N FILTER [SECONDS]          wait until at least N spans match

OTLP_RECEIVER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../workloads" && pwd)/otlp_receiver.js

start_receiver() {
	local i
	RECEIVER_CTL=http://127.0.0.1:$2
	node "$OTLP_RECEIVER" "$1" "$2" >"$WORK/receiver.out" 2>"$WORK/receiver.err" &
	RECEIVER_PID=$!
	on_exit "stop_pid $RECEIVER_PID"
	for i in $(seq 1 100); do
		grep -q '^ready' "$WORK/receiver.out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "  the OTLP receiver did not start: $(head -c 300 "$WORK/receiver.err")"
	return 1
}

receiver_mode() { curl -sf -X POST "$RECEIVER_CTL/mode?m=$1${2:+&$2}" >/dev/null; }

received() { # FILTER: one JSON object per line
	curl -sf "$RECEIVER_CTL/spans" | /usr/bin/python3 -c '
import json, sys
f = sys.argv[1]
for s in json.load(sys.stdin):
    if eval(f, {}, {"s": s}):
        print(json.dumps(s, sort_keys=True))
' "${1:-True}"
}

count_received() { received "${1:-True}" | wc -l; }

await_spans() { # N FILTER [SECONDS]
	local i
	for i in $(seq 1 $((${3:-10} * 10))); do
		(($(count_received "$2") >= $1)) && return 0
		sleep 0.1
	done
	return 1
}
