#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# OOM kill of a service process in a memory-limited cgroup, against the kernel's own
# count of OOM kills in that cgroup (memory.events oom_kill on cgroup v2,
# memory.oom_control oom_kill on v1) and the wait status the shell sees.
# Uses the v2 memory controller when the v2 root offers it, else the v1 memory
# hierarchy (hybrid hosts); skips only when neither exists.
. "$(dirname "$0")/lib.sh"
W=$ROOT/tests/workloads/crasher.py
PY=/usr/bin/python3
LIMIT=$((64 << 20))
MEMCG=

oom_cleanup() {
	[[ -n "$MEMCG" && -d "$MEMCG" ]] && { cat "$MEMCG/cgroup.procs" 2>/dev/null | xargs -r kill -KILL; sleep 0.2; rmdir "$MEMCG"; }
	if [[ -n "${V2_MAIN:-}" && -d "$V2_MAIN" ]]; then
		echo $$ >"$CG_ROOT/cgroup.procs"
		rmdir "$V2_MAIN"
	fi
}
trap 'oom_cleanup 2>/dev/null; cleanup' EXIT

if [[ -n "$TEST_CG_DIR" ]] && grep -qw memory "$CG_ROOT/cgroup.controllers" 2>/dev/null &&
	grep -qw memory "$CG_ROOT/cgroup.subtree_control" 2>/dev/null; then
	# v2: the test's cgroup may only delegate the controller once it holds no process
	V2_MAIN=$TEST_CG_DIR/main
	mkdir "$V2_MAIN" && echo $$ >"$V2_MAIN/cgroup.procs"
	echo +memory >"$TEST_CG_DIR/cgroup.subtree_control" || exit 1
	MEMCG=$TEST_CG_DIR/oom
	mkdir "$MEMCG"
	echo $LIMIT >"$MEMCG/memory.max"
	echo 0 >"$MEMCG/memory.swap.max" 2>/dev/null
	kernel_ooms() { awk '$1 == "oom_kill" { print $2 }' "$MEMCG/memory.events"; }
	echo "memory controller: cgroup v2 ($MEMCG)"
else
	V1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)
	[[ -n "$V1" ]] || skip "no memory cgroup controller (neither v2 nor v1)"
	own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
	MEMCG=$V1${own%/}/fogprobe-oom-$ID
	mkdir "$MEMCG" || exit 1
	echo $LIMIT >"$MEMCG/memory.limit_in_bytes"
	[[ -f "$MEMCG/memory.memsw.limit_in_bytes" ]] && echo $LIMIT >"$MEMCG/memory.memsw.limit_in_bytes"
	grep -q '^oom_kill ' "$MEMCG/memory.oom_control" || skip "memory.oom_control has no oom_kill count (kernel < 4.13)"
	kernel_ooms() { awk '$1 == "oom_kill" { print $2 }' "$MEMCG/memory.oom_control"; }
	echo "memory controller: cgroup v1 ($MEMCG)"
fi

start_daemon '{"services": [{"name": "hog", "protocol": "tcp", "ports": [7600]}]}' || exit 1
o0=$(metric fogprobe_oom_kills_total 'service="hog"')
check "oom_kills_total{hog} is exported before any kill" eq "$(scrape | grep -c '^fogprobe_oom_kills_total{service="hog"}')" 1

echo "a service process allocates past the cgroup's ${LIMIT}-byte limit"
sh -c "echo \$\$ >'$MEMCG/cgroup.procs' && exec $PY '$W' serve 7600 --after 1 --end oom" >"$WORK/hog" 2>&1 &
HOG=$!
wait $HOG
st=$?
sleep 0.5
k=$(kernel_ooms)
echo "    pid $HOG exited with status $st (128 + 9 = SIGKILL); kernel oom_kill count $k"
rss=$(curl -sf "http://127.0.0.1:$METRICS_PORT/api/events" | $PY -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("pid") == int(sys.argv[1]): print(e.get("anon_rss_bytes", 0)); break' "$HOG")
echo "    anonymous RSS when chosen: $rss bytes (limit $LIMIT)"
# the victim's anonymous memory is what filled the cgroup: at most the limit, most of it
check "victim anonymous RSS between half the limit and the limit" awk -v r="${rss:-0}" -v l="$LIMIT" 'BEGIN { exit !(r > l / 2 && r <= l) }'
check "the shell saw SIGKILL" eq "$st" 137
check "the kernel killed one process in the cgroup" eq "$k" 1
check "oom_kills_total{hog} == the kernel's count" eq $(($(metric fogprobe_oom_kills_total 'service="hog"') - o0)) "$k"
check "exits{hog,oom} == 1" eq "$(metric fogprobe_process_exits_total 'service="hog",reason="oom"')" 1
check "an OOM kill is not a crash" eq "$(metric fogprobe_process_crashes_total 'service="hog"')" 0
ev=$(curl -sf "http://127.0.0.1:$METRICS_PORT/api/events" | $PY -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("pid") == int(sys.argv[1]):
        print(e["type"], e["service"], e.get("signal", "-"), e["comm"],
              "rss" if e.get("anon_rss_bytes", 0) > 0 else "no-rss"); break' "$HOG")
echo "    event: $ev"
check "one oom event for the pid: service hog, SIGKILL, python3, its RSS" eq "$ev" "oom hog SIGKILL python3 rss"

finish
