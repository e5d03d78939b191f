#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Several processes listening on one service port with SO_REUSEPORT (nginx `reuseport`,
# envoy, haproxy, many Go and Rust servers) are all processes of the service. Against
# the pids the test started and the wait statuses it saw (nginx: its master's own log of
# its workers' wait statuses), and the kernel's run-queue account (schedstat):
#   (a) three servers that listen before the probe starts (the /proc scan),
#   (b) three that listen after it,
# each ended by SIGSEGV, SIGABRT and exit 3: crashes and exits counted under the
# service and none under "none", run-queue waits of all three counted, service_up 1
# until the last one ends; (c) nginx with `listen ... reuseport` and 2 workers: the
# master and the workers it forks, respawned ones included, are the service's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"
W=$ROOT/tests/workloads/crasher.py
PY=/usr/bin/python3
ulimit -c 0 # no core files: the signal is what is counted

setup_netns
PRE=7700 POST=7701 WEB=7702

events() { curl -sf "http://127.0.0.1:$METRICS_PORT/api/events?since=${1:-0}"; }
last_seq() { events | $PY -c 'import json, sys; print(max([e["seq"] for e in json.load(sys.stdin)["events"]] or [0]))'; }
# event_of SINCE PID: "type service signal exit_status" of that pid's event after SINCE
event_of() {
	events "$1" | $PY -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("pid") == int(sys.argv[1]):
        print(e["type"], e["service"], e.get("signal", "-"), e.get("exit_status", "-")); break' "$2"
}
# none_crashes SINCE PIDS...: "N ours" = crash events of service none after SINCE, and how
# many of them name one of PIDS (other processes of the host may crash meanwhile)
none_crashes() {
	local since=$1
	shift
	events "$since" | $PY -c '
import json, sys
ours = {int(p) for p in sys.argv[1:]}
ev = [e for e in json.load(sys.stdin)["events"] if e["service"] == "none" and e["type"] == "crash"]
print(len(ev), sum(e["pid"] in ours for e in ev))' "$@"
}
now() { date +%s.%N; }
# wait_metric NAME LABELS VALUE TIMEOUT_S: poll every 50 ms; prints the seconds it took
wait_metric() {
	local t0
	t0=$(now)
	until [[ "$(metric "$1" "$2")" == "$3" ]]; do
		if awk -v a="$t0" -v b="$(now)" -v m="$4" 'BEGIN { exit !(b - a > m) }'; then
			echo "timeout"
			return 1
		fi
		sleep 0.05
	done
	awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'
}
# kill_ours PID: SIGKILL PID if it is still a crasher.py of this test (cleanup)
kill_ours() { grep -qs crasher.py "/proc/$1/cmdline" && kill -KILL "$1"; }
# ups SERVICE: service_up sampled 10 times over a second
ups() {
	local s="" i
	for i in $(seq 1 10); do s="$s$(metric fogprobe_service_up "service=\"$1\"")"; sleep 0.1; done
	echo "$s"
}

# start_three TAG PORT: three SO_REUSEPORT servers on PORT in the server namespace, to
# end by SIGSEGV, SIGABRT and exit 3 when each gets SIGUSR2; each spins 2 s on SIGUSR1.
# ip netns exec execs the server: $! is its pid. Sets PIDS.
start_three() {
	local tag=$1 port=$2 mode i=0
	PIDS=()
	for mode in segv abort exit:3; do
		i=$((i + 1))
		ip netns exec "$NS_SRV" $PY "$W" serve "$port" --reuseport --after 0 --go --spin 2 \
			--hold --end "$mode" >"$WORK/$tag.$i" 2>&1 &
		PIDS+=($!)
		on_exit "kill_ours $!"
	done
	for i in 1 2 3; do
		settle 1 grep -c listening "$WORK/$tag.$i" || echo "    server $tag.$i did not start"
	done
}

# three TAG SERVICE PORT: the checks on the three servers of start_three
three() {
	local tag=$1 svc=$2 port=$3 i pid st s0 c0 s1 c1 n0 n1 seq0 truth got t nev ours
	local want=(139 134 3) end=(SIGSEGV SIGABRT "exit 3")
	check "three listening sockets on :$port (ss)" eq "$(ns_srv ss -ltnH "sport = :$port" | wc -l)" 3
	for pid in "${PIDS[@]}"; do
		check "pid $pid holds one of them" bash -c "ip netns exec $NS_SRV ss -ltnpH 'sport = :$port' | grep -q 'pid=$pid,'"
	done
	await_metric fogprobe_service_up "service=\"$svc\"" 1
	check "service_up{$svc} == 1" eq "$(metric fogprobe_service_up "service=\"$svc\"")" 1

	# Run-queue waits: the three spin at once on 2 CPUs, each waits about a third of the
	# time; each reports its own schedstat run_delay over its spin. One server missed by
	# the probe would leave it a third short.
	sleep 0.3 # (before the fix the first listener's event was drained by now)
	s0=$(metricf fogprobe_runqueue_latency_seconds_sum "service=\"$svc\"")
	c0=$(metric fogprobe_runqueue_latency_seconds_count "service=\"$svc\"")
	kill -USR1 "${PIDS[@]}"
	for i in 1 2 3; do
		for _ in $(seq 1 100); do grep -q run_delay_ns "$WORK/$tag.$i" && break; sleep 0.1; done
	done
	sleep 0.3
	s1=$(metricf fogprobe_runqueue_latency_seconds_sum "service=\"$svc\"")
	c1=$(metric fogprobe_runqueue_latency_seconds_count "service=\"$svc\"")
	truth=$(cat "$WORK/$tag".[123] | sed -n 's/^run_delay_ns=//p' | awk '{ t += $1; printf "%s ", $1 } END { printf "= %.0f\n", t }')
	got=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", (b - a) * 1e9 }')
	echo "    schedstat run_delay of the three: $truth ns; probe: $got ns over $((c1 - c0)) waits"
	check "run-queue wait total of the three within 5% of schedstat" within "$got" "${truth##*= }" 5

	seq0=$(last_seq)
	n0=$(metric fogprobe_process_crashes_total 'service="none"')
	for i in 0 1 2; do
		pid=${PIDS[i]}
		kill -USR2 "$pid"
		wait "$pid" 2>/dev/null # (bash's own "Segmentation fault" line)
		st=$?
		echo "    pid $pid ended by ${end[i]}: wait status $st"
		check "the shell saw ${end[i]} ($st)" eq "$st" "${want[i]}"
		if ((i < 2)); then
			check "service_up{$svc} stays 1 for 1 s after ${end[i]} of a sibling" eq "$(ups "$svc")" 1111111111
		fi
	done
	t=$(wait_metric fogprobe_service_up "service=\"$svc\"" 0 4)
	echo "    down after ${t}s"
	check "service_up{$svc} == 0 within 2 s of the last one's end" le "$t" 2
	sleep 0.3
	check "crashes{$svc,SIGSEGV} == 1" eq "$(metric fogprobe_process_crashes_total "service=\"$svc\",signal=\"SIGSEGV\"")" 1
	check "crashes{$svc,SIGABRT} == 1" eq "$(metric fogprobe_process_crashes_total "service=\"$svc\",signal=\"SIGABRT\"")" 1
	check "crashes{$svc} == 2" eq "$(metric fogprobe_process_crashes_total "service=\"$svc\"")" 2
	check "exits{$svc,crash} == 2" eq "$(metric fogprobe_process_exits_total "service=\"$svc\",reason=\"crash\"")" 2
	check "exits{$svc,error} == 1" eq "$(metric fogprobe_process_exits_total "service=\"$svc\",reason=\"error\"")" 1
	check "exits{$svc} == 3" eq "$(metric fogprobe_process_exits_total "service=\"$svc\"")" 3
	check "event of pid ${PIDS[0]}: crash of $svc by SIGSEGV" eq "$(event_of "$seq0" "${PIDS[0]}")" "crash $svc SIGSEGV -"
	check "event of pid ${PIDS[1]}: crash of $svc by SIGABRT" eq "$(event_of "$seq0" "${PIDS[1]}")" "crash $svc SIGABRT -"
	check "event of pid ${PIDS[2]}: exit of $svc, status 3" eq "$(event_of "$seq0" "${PIDS[2]}")" "exit $svc - 3"
	n1=$(metric fogprobe_process_crashes_total 'service="none"')
	read -r nev ours < <(none_crashes "$seq0" "${PIDS[@]}")
	echo "    crashes under none meanwhile: $((n1 - n0)) (other processes of the host: $nev events)"
	check "none of the three counted under service none" eq "$ours" 0
	check "crashes{none} grew by the other processes' crashes only" eq "$((n1 - n0))" "$nev"
}

echo "(a) three SO_REUSEPORT servers listening before the probe starts"
start_three pre $PRE
start_daemon '{"services": [
  {"name": "pre", "protocol": "tcp", "ports": ['$PRE']},
  {"name": "post", "protocol": "tcp", "ports": ['$POST']},
  {"name": "web", "protocol": "tcp", "ports": ['$WEB']}]}' || exit 1
check "the /proc scan found the three" grep -q "3 processes already listening" "$WORK/daemon.log"
three pre pre $PRE

echo "(b) three SO_REUSEPORT servers listening after the probe started"
start_three post $POST
three post post $POST

echo "(c) nginx, listen ... reuseport, 2 workers: master and workers are the service's"
if ! command -v nginx >/dev/null; then
	check "nginx is installed (tests/deps.sh installs it)" false
	finish
fi
NGINX_WORKERS=2 NGINX_LISTEN_OPTS=reuseport NGINX_ERROR_LOG_LEVEL=notice NGINX_ACCESS_LOG=off \
	start_nginx "$NS_SRV" 127.0.0.1 $WEB || exit 1
workers() { pgrep -P "$NGINX_PID" | sort -n | tr '\n' ' '; }
# nginx's log of its workers' wait statuses: "worker process N exited on signal S" /
# "... exited with code C" (ngx_process_get_status)
nginx_status() { sed -n "s/.*worker process $1 exited \(on signal [0-9]*\|with code [0-9]*\).*/\1/p" "$NGINX_DIR/error.log"; }
await_worker_status() { local i; for i in $(seq 1 50); do [[ -n "$(nginx_status "$1")" ]] && break; sleep 0.1; done; nginx_status "$1"; }
for i in $(seq 1 50); do [[ $(workers | wc -w) -eq 2 ]] && break; sleep 0.1; done
read -r w1 w2 < <(workers)
echo "    master $NGINX_PID, workers $w1 $w2"
check "two listening sockets on :$WEB (one per worker)" eq "$(ns_srv ss -ltnH "sport = :$WEB" | wc -l)" 2
await_metric fogprobe_service_up 'service="web"' 1
check "service_up{web} == 1" eq "$(metric fogprobe_service_up 'service="web"')" 1
c0=$(metric fogprobe_runqueue_latency_seconds_count 'service="web"')
for i in $(seq 1 200); do echo "url = \"http://127.0.0.1:$WEB/\""; done >"$WORK/curl.cfg"
ns_srv curl -s -K "$WORK/curl.cfg" >/dev/null
sleep 0.3
c1=$(metric fogprobe_runqueue_latency_seconds_count 'service="web"')
echo "    run-queue waits of web over 200 requests: $((c1 - c0))"
check "the workers' run-queue waits are counted (200 requests served)" [ $((c1 - c0)) -gt 0 ]
seq0=$(last_seq)
kill -SEGV "$w1"
st=$(await_worker_status "$w1")
echo "    worker $w1 killed by SIGSEGV; nginx: exited $st"
check "nginx saw worker $w1 end on signal 11" eq "$st" "on signal 11"
await_metric fogprobe_process_crashes_total 'service="web",signal="SIGSEGV"' 1
check "crashes{web,SIGSEGV} == 1" eq "$(metric fogprobe_process_crashes_total 'service="web",signal="SIGSEGV"')" 1
check "event of worker $w1: crash of web by SIGSEGV" eq "$(event_of "$seq0" "$w1")" "crash web SIGSEGV -"
for i in $(seq 1 50); do [[ $(workers | wc -w) -eq 2 && " $(workers)" != *" $w1 "* ]] && break; sleep 0.1; done
w3=$(workers | tr ' ' '\n' | grep -vx -e "$w1" -e "$w2" | head -n 1)
echo "    the master respawned worker $w3"
check "service_up{web} stays 1 for 1 s after a worker's crash" eq "$(ups web)" 1111111111
kill -ABRT "$w3"
st=$(await_worker_status "$w3")
echo "    respawned worker $w3 killed by SIGABRT; nginx: exited $st"
check "nginx saw worker $w3 end on signal 6" eq "$st" "on signal 6"
await_metric fogprobe_process_crashes_total 'service="web",signal="SIGABRT"' 1
check "crashes{web,SIGABRT} == 1 (a worker the master forked later)" eq "$(metric fogprobe_process_crashes_total 'service="web",signal="SIGABRT"')" 1
check "event of worker $w3: crash of web by SIGABRT" eq "$(event_of "$seq0" "$w3")" "crash web SIGABRT -"
for i in $(seq 1 50); do [[ $(workers | wc -w) -eq 2 && " $(workers)" != *" $w3 "* ]] && break; sleep 0.1; done
read -r w4 w5 < <(workers)
kill -QUIT "$NGINX_PID" # graceful shutdown: the workers exit 0, then the master
wait "$NGINX_PID"
st=$?
ok=$(grep -c 'exited with code 0' "$NGINX_DIR/error.log")
echo "    master ended with status $st; nginx logged $ok workers exiting with code 0 ($w4 $w5)"
check "the master exited 0" eq "$st" 0
check "nginx saw its 2 workers exit 0" eq "$ok" 2
await_metric fogprobe_process_exits_total 'service="web",reason="ok"' 3
check "exits{web,ok} == 3 (master and 2 workers)" eq "$(metric fogprobe_process_exits_total 'service="web",reason="ok"')" 3
check "exits{web,crash} == 2" eq "$(metric fogprobe_process_exits_total 'service="web",reason="crash"')" 2
await_metric fogprobe_service_up 'service="web"' 0
check "service_up{web} == 0 once nginx ended" eq "$(metric fogprobe_service_up 'service="web"')" 0
read -r nev ours < <(none_crashes "$seq0" "$NGINX_PID" "$w1" "$w2" "$w3" "$w4" "$w5")
check "no nginx process counted under service none" eq "$ours" 0

finish
