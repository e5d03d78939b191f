#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Crashes and exits of service processes, against the exit status the shell sees (the
# kernel's wait status) and the pid it started; run-queue latency against the kernel's
# own per-task account (/proc/<pid>/schedstat run_delay).
. "$(dirname "$0")/lib.sh"
W=$ROOT/tests/workloads/crasher.py
PY=/usr/bin/python3
ulimit -c 0 # no core files: the signal is what is counted

start_daemon '{"services": [
  {"name": "crashy", "protocol": "tcp", "ports": [7400, 7401, 7402, 7403]},
  {"name": "spinner", "protocol": "tcp", "ports": [7410]}]}' || exit 1

events() { curl -sf "http://127.0.0.1:$METRICS_PORT/api/events"; }
# event_field PID FIELD: FIELD of the event of that pid ("" if none)
event_field() {
	events | $PY -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("pid") == int(sys.argv[1]):
        print(e.get(sys.argv[2], "")); break' "$1" "$2"
}

# crash PORT MODE: run a server that ends by MODE; prints "pid status"
crash() {
	$PY "$W" serve "$1" --end "$2" >"$WORK/out.$1" 2>/dev/null &
	local pid=$!
	wait $pid
	echo "$pid $?"
}

echo "(a) SIGSEGV: a real invalid access in a process of service crashy"
read -r pid st < <(crash 7400 segv)
sleep 0.5
echo "    pid $pid exited with status $st (128 + 11 = SIGSEGV)"
check "the shell saw SIGSEGV" eq "$st" 139
check "crashes{crashy,SIGSEGV} == 1" eq "$(metric fogprobe_process_crashes_total 'service="crashy",signal="SIGSEGV"')" 1
check "crash event: signal SIGSEGV" eq "$(event_field "$pid" signal)" SIGSEGV
check "crash event: type crash" eq "$(event_field "$pid" type)" crash
check "crash event: service crashy" eq "$(event_field "$pid" service)" crashy
check "crash event: comm python3" eq "$(event_field "$pid" comm)" python3
check "crash event: a fault (si_code SEGV_MAPERR = 1)" eq "$(event_field "$pid" si_code)" 1
check "crash event: cgroup is the test's" eq "$(event_field "$pid" cgroup)" "$TEST_CG"
check "crash event: RFC 3339 time" bash -c "[[ '$(event_field "$pid" time)' =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]]"

echo "(b) SIGABRT: abort() in a process of service crashy"
read -r pid st < <(crash 7401 abort)
sleep 0.5
echo "    pid $pid exited with status $st (128 + 6 = SIGABRT)"
check "the shell saw SIGABRT" eq "$st" 134
check "crashes{crashy,SIGABRT} == 1" eq "$(metric fogprobe_process_crashes_total 'service="crashy",signal="SIGABRT"')" 1
check "crashes{crashy,SIGSEGV} still 1" eq "$(metric fogprobe_process_crashes_total 'service="crashy",signal="SIGSEGV"')" 1
check "crash event: signal SIGABRT" eq "$(event_field "$pid" signal)" SIGABRT
# abort() raises the signal with tgkill: SI_TKILL (-6)
check "crash event: raised by the process (si_code SI_TKILL = -6)" eq "$(event_field "$pid" si_code)" -6

echo "(c) exits that are not crashes"
read -r pid st < <(crash 7402 exit:3)
read -r pid2 st2 < <(crash 7403 exit:0)
sleep 0.5
echo "    statuses $st and $st2"
check "exits{crashy,crash} == 2" eq "$(metric fogprobe_process_exits_total 'service="crashy",reason="crash"')" 2
check "exits{crashy,error} == 1" eq "$(metric fogprobe_process_exits_total 'service="crashy",reason="error"')" 1
check "exits{crashy,ok} == 1" eq "$(metric fogprobe_process_exits_total 'service="crashy",reason="ok"')" 1
check "exit event: status 3" eq "$(event_field "$pid" exit_status)" 3
check "no event for a clean exit" eq "$(event_field "$pid2" type)" ""
check "crash total of crashy == 2" eq "$(metric fogprobe_process_crashes_total 'service="crashy"')" 2

echo "(d) a crash of a process of no service is counted under service=\"none\""
n0=$(metric fogprobe_process_crashes_total 'service="none",signal="SIGSEGV"')
$PY -c 'import ctypes; ctypes.string_at(0)' 2>/dev/null &
pid=$!
wait $pid
st=$?
sleep 0.5
check "the shell saw SIGSEGV" eq "$st" 139
# other processes of the host may crash too: at least this one
check "crashes{none,SIGSEGV} grew" [ "$(metric fogprobe_process_crashes_total 'service="none",signal="SIGSEGV"')" -gt "$n0" ]
check "its event names service none" eq "$(event_field "$pid" service)" none

echo "(e) run-queue latency: 3 forked workers spin 2 s each (2 CPUs here) vs. schedstat"
# The workers fork on SIGUSR1, sent once the counters are read: the probe's window then
# holds every wait of the truth's. (Forking on a timer let a slow scrape on a loaded host
# read them after the workers had run, so that their waits before it were missing from
# the probe's side only: one loaded run came out 31 % short.)
$PY "$W" serve 7410 --after 0 --go --spin 2 --procs 3 --end exit:0 >"$WORK/spin" &
SP=$!
for i in $(seq 1 30); do grep -q listening "$WORK/spin" && break; sleep 0.1; done
# The kernel makes the process the service's at its listen(); a connection wakes the
# serving thread, and a counted wait says the probe is reading the service's waits.
for i in $(seq 1 50); do
	[ "$(metric fogprobe_runqueue_latency_seconds_count 'service="spinner"')" -gt 0 ] && break
	(exec 3<>/dev/tcp/127.0.0.1/7410) 2>/dev/null
	sleep 0.1
done
sleep 0.2 # the serving thread is back in accept()
s0=$(metricf fogprobe_runqueue_latency_seconds_sum 'service="spinner"')
c0=$(metric fogprobe_runqueue_latency_seconds_count 'service="spinner"')
kill -USR1 $SP
wait $SP
sleep 0.3
s1=$(metricf fogprobe_runqueue_latency_seconds_sum 'service="spinner"')
c1=$(metric fogprobe_runqueue_latency_seconds_count 'service="spinner"')
truth=$(sed -n 's/^run_delay_ns=//p' "$WORK/spin")
got=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", (b - a) * 1e9 }')
echo "    schedstat run_delay of the workers and server: $truth ns; probe: $got ns over $((c1 - c0)) waits"
check "run-queue waits were seen" [ $((c1 - c0)) -gt 0 ]
# The truth is read by each task while it runs: the probe also holds the waits after a
# worker read its schedstat and those of the serving thread, which the truth leaves out.
# Exactness per wait is the BPF suite's (test_proc_bpf, against schedstat between points
# where every task sleeps). Measured here on the sched_info hooks: +0.001 % to +0.3 %;
# before them, timing from wakeups, over 33 runs at load average 5 to 55: -2.2 % to
# +0.6 %. 5 %.
check "run-queue wait total within 5% of schedstat" within "$got" "${truth:-0}" 5
check "forked workers counted as the service's processes" eq "$(metric fogprobe_process_exits_total 'service="spinner",reason="ok"')" 4

finish
