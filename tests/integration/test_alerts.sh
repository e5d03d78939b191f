#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon's own alerts reach a real Alertmanager (Debian prometheus-alertmanager on
# loopback) with the right labels, and resolve when the condition clears: Alertmanager
# itself notifies "firing" and then "resolved" to a recording webhook. Conditions, one
# after another, with shortened windows and `for:` (the thresholds are the defaults):
# a Betanet node with fewer than 3 peers, p95 message latency above 1 s (a server that
# answers after 1.2 s), packet loss (nftables drops 20 % in the server's namespace), a
# service down (kill -9), a crash (SIGSEGV), a filesystem nearly full (a test tmpfs).
# Then Alertmanager is stopped while an alert fires: delivery fails and is retried, the
# queue stays at its bound and counts what it drops, the alert arrives once it is back.
METRICS_PORT=19350
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alertlib.sh"
B=$ROOT/tests/workloads/betanet.py
W=$ROOT/tests/workloads/crasher.py
PY=/usr/bin/python3
INST=fpal-node

[[ -x $AM ]] || skip "prometheus-alertmanager is not installed (tests/deps.sh)"
setup_netns
mkdir -p "$WORK/fs"
mount -t tmpfs -o size=8m "fpal$ID" "$WORK/fs" || exit 1
on_exit "umount $WORK/fs"
start_recorder || exit 1
start_am || exit 1

start_daemon '{"services": [
  {"name": "betanet", "protocol": "betanet", "ports": [19351, 19353]},
  {"name": "control-panel", "protocol": "tcp", "ports": [19352]}],
 "containers": {"enabled": false},
 "alerts": {"instance": "'$INST'", "interval": "1s", "resend": "3s", "queue": 4,
  "timeout": "2s",
  "alertmanagers": [{"url": "http://127.0.0.1:'$AM_PORT'"}],
  "rules": [
   {"alert": "BetanetLowPeerCount", "for": "3s"},
   {"alert": "BetanetHighLatency", "window": "10s", "for": "2s"},
   {"alert": "BetanetHighPacketLoss", "window": "10s", "for": "2s"},
   {"alert": "ControlPanelDown", "for": "3s"},
   {"alert": "ServiceProcessCrashed", "window": "15s"},
   {"alert": "DiskSpaceLow", "for": "2s"},
   {"alert": "FogprobeEventsLost", "disabled": true},
   {"alert": "FogprobeHookMissing", "disabled": true},
   {"alert": "HighCPUUsage", "disabled": true},
   {"alert": "HighMemoryUsage", "disabled": true},
   {"alert": "LowServiceAvailability", "disabled": true},
   {"alert": "ServiceFlapping", "disabled": true},
   {"alert": "SlowBetanetThroughput", "disabled": true}]}}' || exit 1
# (the rules disabled above follow the machine or the test's own flapping: they would
# fill the 4-alert queue of (h) with alerts the test does not control)

# labels NAME SEVERITY [k=v...]: the exact label set an alert must carry
labels() {
	local name=$1 sev=$2
	shift 2
	$PY -c '
import json, sys
d = {"alertname": sys.argv[1], "severity": sys.argv[2], "instance": sys.argv[3]}
d.update(a.split("=", 1) for a in sys.argv[4:])
print(json.dumps(d, sort_keys=True))' "$name" "$sev" "$INST" "$@"
}
# fires NAME LABELS: in Alertmanager with exactly these labels, and notified firing
fires() {
	local t
	t=$(wait_for 40 am_has "$1" "$2")
	echo "    $1 in Alertmanager after ${t}s"
	check "$1 reaches Alertmanager with labels $2" [ "$t" != timeout ]
	t=$(wait_for 10 notified firing "$2")
	check "Alertmanager notified $1 firing" [ "$t" != timeout ]
}
resolves() {
	local t
	t=$(wait_for 40 notified resolved "$2")
	echo "    $1 resolved in Alertmanager after ${t}s"
	check "Alertmanager notified $1 resolved" [ "$t" != timeout ]
	check "$1 no longer active in Alertmanager" bash -c "! am_has '$1' '$2'"
}
export -f am_has am_alerts
export AM_PORT

server() { # PORT ARGS...
	local port=$1
	shift
	ns_srv $PY "$B" server "$port" --duration 120 "$@" >"$WORK/server$port.json" \
		2>"$WORK/server$port.err" &
	echo $!
}

echo "(a) a Betanet node with 0 peers (fewer than 3)"
mark_notified
S1=$(server 19351 --response-delay-ms 1200)
on_exit "kill $S1"
PEERS=$(labels BetanetLowPeerCount warning)
fires BetanetLowPeerCount "$PEERS"
check "fogprobe_alerts{BetanetLowPeerCount,firing,warning} == 1" eq "$(metric fogprobe_alerts 'alertname="BetanetLowPeerCount",alertstate="firing"')" 1
check "/api/v1/alerts lists it firing" bash -c "curl -sf http://127.0.0.1:$METRICS_PORT/api/v1/alerts | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"status\"] == \"success\"
assert any(a[\"labels\"][\"alertname\"] == \"BetanetLowPeerCount\" and a[\"state\"] == \"firing\" for a in d[\"data\"][\"alerts\"])'"
check "the event log has its pending and firing" bash -c "curl -sf http://127.0.0.1:$METRICS_PORT/api/events | $PY -c '
import json, sys
s = [e[\"state\"] for e in json.load(sys.stdin)[\"events\"] if e.get(\"type\") == \"alert\" and e[\"alertname\"] == \"BetanetLowPeerCount\"]
assert s[:2] == [\"pending\", \"firing\"], s'"

echo "(b) p95 message latency above 1 s: the server answers after 1.2 s"
LAT=$(labels BetanetHighLatency warning)
mark_notified
for round in 1 2 3; do
	ns_cli $PY "$B" client "$SRV_IP" 19351 --connections 2 --parallel --data 6 --control 0 \
		--cover 0 --response-timeout 3 >/dev/null 2>&1
	am_has BetanetHighLatency "$LAT" && break
done
fires BetanetHighLatency "$LAT"
mark_notified # the requests have stopped: the 10 s window empties
resolves BetanetHighLatency "$LAT"

echo "(c) packet loss: nftables drops 20 % of the packets to a second mixnode"
S2=$(server 19353)
on_exit "kill $S2"
ns_srv nft -f - <<NFT
table inet fpal_loss {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 19353 numgen random mod 100 < 20 drop
	}
}
NFT
on_exit "ip netns exec $NS_SRV nft delete table inet fpal_loss"
mark_notified
LOSS=$(labels BetanetHighPacketLoss warning form=rate)
LOSSR=$(labels BetanetHighPacketLoss warning form=ratio)
# (2 connections at a time throughout: 2 peers, so BetanetLowPeerCount stays firing)
(for i in $(seq 1 20); do
	ns_cli $PY "$B" client "$SRV_IP" 19353 --connections 2 --parallel --data 400 --control 0 \
		--cover 0 --mode pipelined --response-timeout 5 >/dev/null 2>&1
done) &
CL=$!
fires "BetanetHighPacketLoss" "$LOSS"
fires "BetanetHighPacketLoss" "$LOSSR"
mark_notified
kill $CL
kill $(ip netns pids "$NS_CLI") 2>/dev/null
ns_srv nft delete table inet fpal_loss
resolves BetanetHighPacketLoss "$LOSS"
resolves BetanetHighPacketLoss "$LOSSR"

echo "(d) the mixnodes stop: the peer alert resolves"
check "BetanetLowPeerCount still active" am_has BetanetLowPeerCount "$PEERS"
mark_notified
# the servers run under `ip netns exec` in a subshell: end what runs in their namespace
kill $(ip netns pids "$NS_SRV") 2>/dev/null
resolves BetanetLowPeerCount "$PEERS"

echo "(e) the Control Panel is killed: ControlPanelDown, then back up"
$PY "$W" serve 19352 --end none >"$WORK/cp1" 2>&1 &
CP=$!
on_exit "kill $CP"
await_metric fogprobe_service_up 'service="control-panel"' 1
mark_notified
kill -KILL $CP
DOWN=$(labels ControlPanelDown critical service=control-panel)
fires ControlPanelDown "$DOWN"
check "fogprobe_alerts{ControlPanelDown,firing,critical} == 1" eq "$(metric fogprobe_alerts 'alertname="ControlPanelDown",alertstate="firing",severity="critical"')" 1
mark_notified
$PY "$W" serve 19352 --end none >"$WORK/cp2" 2>&1 &
CP=$!
on_exit "kill $CP"
resolves ControlPanelDown "$DOWN"

echo "(f) the Control Panel crashes once (SIGSEGV): its crash series exist from 0, so the"
echo "    first crash is an increase"
mark_notified
kill -KILL $CP
check "the crash series exists before any crash (0)" eq "$(metric fogprobe_process_crashes_total 'service="control-panel",signal="SIGSEGV"')" 0
$PY "$W" serve 19352 --after 1 --end segv >"$WORK/crash1" 2>&1
await_metric fogprobe_process_crashes_total 'service="control-panel",signal="SIGSEGV"' 1
CRASH=$(labels ServiceProcessCrashed warning service=control-panel signal=SIGSEGV)
fires ServiceProcessCrashed "$CRASH"
mark_notified
resolves ServiceProcessCrashed "$CRASH"
mark_notified
$PY "$W" serve 19352 --end none >"$WORK/cp3" 2>&1 &
CP=$!
on_exit "kill $CP"
resolves ControlPanelDown "$DOWN"

echo "(g) a filesystem 95 % full (test tmpfs of 8 MiB)"
mark_notified
dd if=/dev/zero of="$WORK/fs/fill" bs=1M count=7 status=none
dd if=/dev/zero of="$WORK/fs/fill2" bs=512K count=1 status=none
DISK=$(labels DiskSpaceLow warning device=fpal$ID fstype=tmpfs mountpoint=$WORK/fs)
fires DiskSpaceLow "$DISK"
mark_notified
rm -f "$WORK/fs/fill" "$WORK/fs/fill2"
resolves DiskSpaceLow "$DISK"

echo "(h) Alertmanager down while an alert fires: retried, bounded, delivered when back"
stop_am
f0=$(metric fogprobe_alert_notifications_total 'result="failed"')
kill -KILL $CP
await_metric fogprobe_service_up 'service="control-panel"' 0
maxq=0
for i in $(seq 1 30); do # 15 s: every 3 s a resend, and the resolved ones of (a)-(g)
	q=$(metric fogprobe_alert_queue_length)
	((q > maxq)) && maxq=$q
	sleep 0.5
done
f1=$(metric fogprobe_alert_notifications_total 'result="failed"')
dropped=$(metric fogprobe_alert_notifications_dropped_total 'reason="queue_full"')
echo "    failed posts $((f1 - f0)), queue at most $maxq of 4, dropped $dropped"
check "failed posts counted while Alertmanager is down (at least 3, backoff)" [ $((f1 - f0)) -ge 3 ]
check "the queue never above its capacity of 4" [ "$maxq" -le 4 ]
check "queue full: fogprobe_alert_queue_length == 4" eq "$(metric fogprobe_alert_queue_length)" 4
check "what did not fit is counted (dropped{queue_full} > 0)" [ "$dropped" -gt 0 ]
check "ControlPanelDown is firing in the engine" eq "$(metric fogprobe_alerts 'alertname="ControlPanelDown",alertstate="firing"')" 1
s0=$(metric fogprobe_alert_notifications_total 'result="success"')
start_am || exit 1
t=$(wait_for 40 am_has ControlPanelDown "$DOWN")
echo "    delivered ${t}s after Alertmanager came back"
check "ControlPanelDown delivered once Alertmanager is back" [ "$t" != timeout ]
check "successful posts counted again" [ "$(metric fogprobe_alert_notifications_total 'result="success"')" -gt "$s0" ]
check "the queue drains" settle 0 metric fogprobe_alert_queue_length
finish
