# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the bench scripts: a peer is another tool doing the probe's work during the
# same load. start_peer OUT CMD... runs CMD (stdout OUT.out, stderr OUT.err) until its
# first line of output (bpftrace's "Attaching", bcc's header), then 1 s more; returns 1,
# with OUT.skip saying why, if it exited. stop_peer ends it with SIGINT (bpftrace then
# prints its maps); each script's cleanup calls it too.
PEER_PID=
start_peer() {
	local out=$1 i
	shift
	"$@" >"$out.out" 2>"$out.err" &
	PEER_PID=$!
	for i in $(seq 1 200); do
		[[ -s "$out.out" ]] && break
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1 # the first line comes before (bpftrace) or right after the attach
	if ! kill -0 "$PEER_PID" 2>/dev/null; then
		wait "$PEER_PID" 2>/dev/null
		echo "$1 could not run: $(grep -v '^Traceback\|^  ' "$out.err" | head -n 2 | tr '\n' ' ' | cut -c 1-200)" >"$out.skip"
		PEER_PID=
		return 1
	fi
}
stop_peer() {
	[[ -n "$PEER_PID" ]] || return 0
	kill -INT "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
}
