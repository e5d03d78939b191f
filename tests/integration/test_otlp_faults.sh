#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The OTLP exporter against a collector that misbehaves (tests/workloads/otlp_receiver.js
# on command), nginx's access log counting the requests whose spans are owed (two each:
# nginx's server span and the client span of hey, which runs on this host too):
#   1. down for 30 s, then back: every span queued meanwhile arrives, none dropped;
#      /metrics answers throughout
#   2. 503 with Retry-After: 3 s: the retries wait that long, then the spans arrive
#   3. a partial_success rejecting 3 spans: counted as dropped{partial_success} exactly
#   4. down while more requests come than the queue holds: arrived + dropped{queue_full}
#      = spans owed, exactly
#   5. accepting and never answering: each export bounded by timeout_ms, /metrics
#      answers, the spans arrive when the collector answers again
# and the daemon's memory stays bounded throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"
. "$(dirname "$0")/otlplib.sh"

for tool in nginx curl node hey; do
	command -v $tool >/dev/null || { echo "  $tool missing (make deps)"; exit 1; }
done
NS_SRV=fpot-srv-$ID NS_CLI=fpot-cli-$ID
METRICS_PORT=19403 OTLP=19412 CTL=19413 WEB=19424
setup_netns
start_receiver $OTLP $CTL || exit 1
start_nginx "$NS_SRV" "$SRV_IP" $WEB || exit 1
start_daemon '{"services": [{"name": "web", "protocol": "http", "ports": ['$WEB']}],
  "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "queue_spans": 64, "batch_spans": 16,
           "batch_delay_ms": 200, "timeout_ms": 2000}}' || exit 1

RSS_MAX=0
rss() { # the daemon's resident set now, KiB; remembers the largest
	local r
	r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
	((r > RSS_MAX)) && RSS_MAX=$r
	echo "$r"
}
owed() { echo $((2 * $(wc -l <"$NGINX_LOG"))); } # spans: server's and client's
send() { # N: N requests, two connections
	ns_cli hey -n "$1" -c 2 "http://$SRV_IP:$WEB/f" >/dev/null 2>&1
}
dropped() { metric fogprobe_otlp_spans_dropped_total "reason=\"$1\""; }
# /metrics answers within a second, whatever the collector does
metrics_fast() {
	local t
	t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$METRICS_PORT/metrics")
	awk -v t="$t" 'BEGIN { exit !(t < 1.0) }' || { echo "    /metrics took $t s"; return 1; }
}

send 10
check "warm-up: 20 spans arrive (10 requests)" await_spans 20 True 10
RSS0=$(rss)

echo "1. collector down for 30 s"
receiver_mode down
n0=$(count_received) r0=$(owed)
send 20 # 40 spans: the queue (64) holds them all
want=$(($(owed) - r0))
for i in 1 2 3; do
	sleep 10
	rss >/dev/null
	check "down, ${i}0 s: /metrics answers" metrics_fast
done
check "down: nothing arrived" eq "$(count_received)" "$n0"
receiver_mode ok
check "back: the $want spans queued arrive (backoff at most 8 s)" await_spans $((n0 + want)) True 15
check "back: no span dropped" eq "$(metric fogprobe_otlp_spans_dropped_total)" 0

echo "2. 503 with Retry-After: 3"
receiver_mode 503 retry_after=3
n0=$(count_received) r0=$(owed) q0=$(curl -sf "$RECEIVER_CTL/requests" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
send 5
want=$(($(owed) - r0))
sleep 8
receiver_mode ok
check "after the 503s: the $want spans arrive" await_spans $((n0 + want)) True 10
curl -sf "$RECEIVER_CTL/requests" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)[int(sys.argv[1]):]
t = [x["t"] for x in r if x["answer"] == 503]
gaps = [b - a for a, b in zip(t, t[1:])]
print(len(t), " ".join("%.2f" % g for g in gaps))
' "$q0" >"$WORK/gaps"
read -r n503 gaps <"$WORK/gaps"
echo "    $n503 answers 503, retried after: $gaps s"
check "503: retried at least twice" between "$n503" 2 100
check "503: every retry waited the 3 s of Retry-After (not the 1 s backoff)" \
	awk -v g="$gaps" 'BEGIN { n = split(g, a, " "); for (i = 1; i <= n; i++) if (a[i] < 2.95 || a[i] > 4.5) exit 1 }'

echo "3. partial success"
p0=$(dropped partial_success) n0=$(count_received)
receiver_mode ok reject=3
r0=$(owed)
send 10
want=$(($(owed) - r0))
check "partial: the $want spans reached the receiver" await_spans $((n0 + want)) True 10
check "partial: dropped{partial_success} +3" eq $(($(dropped partial_success) - p0)) 3

echo "4. queue overflow while the collector is down"
receiver_mode down
n0=$(count_received) f0=$(dropped queue_full) r0=$(owed)
send 300
want=$(($(owed) - r0))
sleep 1
rss >/dev/null
receiver_mode ok
sleep 12 # the backoff (at most 8 s), then what the queue held
got=$(($(count_received) - n0)) full=$(($(dropped queue_full) - f0))
echo "    $want spans owed: $got arrived, $full dropped as queue_full"
check "overflow: some dropped (queue 64)" between "$full" 1 "$want"
check "overflow: arrived + dropped{queue_full} = spans owed" eq $((got + full)) "$want"

echo "5. a collector that never answers"
receiver_mode hang
c0=$(metric fogprobe_otlp_export_duration_seconds_count)
n0=$(count_received) r0=$(owed)
send 5
want=$(($(owed) - r0))
sleep 7
check "hang: /metrics answers" metrics_fast
c1=$(metric fogprobe_otlp_export_duration_seconds_count)
b1=$(metric fogprobe_otlp_export_duration_seconds_bucket 'le="2.5"')
check "hang: exports timed out and were retried" between $((c1 - c0)) 2 100
check "hang: every export ended within timeout_ms (2 s) + 0.5 s" eq "$b1" "$c1"
receiver_mode ok
check "hang over: the $want spans arrive" await_spans $((n0 + want)) True 15
rss >/dev/null

owed=$(owed) got=$(count_received)
check "all along: exported_total = spans received - partial rejections" \
	eq "$(metric fogprobe_otlp_spans_exported_total)" $((got - $(dropped partial_success)))
# the receiver keeps the spans it rejected in a partial success too
check "all along: every span owed arrived or was counted dropped" \
	eq $((got + $(metric fogprobe_otlp_spans_dropped_total) - $(dropped partial_success))) "$owed"
echo "    daemon RSS: $RSS0 KiB after warm-up, at most $RSS_MAX KiB"
check "memory bounded: RSS grew by less than 8 MiB" between $((RSS_MAX - RSS0)) -1e9 8192
finish
