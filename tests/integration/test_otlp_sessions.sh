#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Spans of BitChat and Betanet sessions, decoded by tests/workloads/otlp_receiver.js with
# the official OpenTelemetry definitions, against what the workloads did:
#   1. bitchat.py: 4 WebSocket connections, the first closed with code 1011: 4 session
#      spans, one ERROR (close code 1011, abnormal_close, a span event), three closed 1000;
#      every push acked: one message span per ack (clients x direct messages)
#   2. betanet.py: 2 connections of 5 data + 1 control requests (+1 cover): 2 circuit
#      spans, 12 message spans by type; a server that breaks the handshake: a circuit
#      span with status ERROR, error.type bad_handshake and a span event
#   3. exemplars (python3-prometheus-client's OpenMetrics parser) on the BitChat message
#      latency and the Betanet message, routing and circuit histograms, each the span of
#      that measure that the receiver got
#   4. the event log (the daemon's stdout, JSON lines): websocket_abnormal_close and
#      betanet_failure events carrying the trace_id and span_id of those ERROR spans; a
#      connect refused by a service port nobody listens on: a connect_failure event
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"
. "$(dirname "$0")/otlplib.sh"

command -v node >/dev/null || { echo "  node missing (make deps)"; exit 1; }
NS_SRV=fpot-srv-$ID NS_CLI=fpot-cli-$ID
METRICS_PORT=19405 OTLP=19417 CTL=19418 WS=19430 BN=19431 BNBAD=19432
B=$ROOT/tests/workloads/betanet.py
setup_netns
start_receiver $OTLP $CTL || exit 1
start_daemon '{"services": [
  {"name": "backend", "protocol": "websocket", "ports": ['$WS'], "paths": ["/api/bitchat/ws/"]},
  {"name": "betanet", "protocol": "betanet", "ports": ['$BN', '$BNBAD']}],
  "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 200}}' || exit 1

n_spans() { count_received "s['resource']['service.name'] == '$1' and s['name'] == '$2'${3:+ and $3}"; }

echo "1. BitChat"
start_bitchat "$NS_SRV" $WS --bind "$SRV_IP" --clients 4 --direct 2 --room-messages 0 || exit 1
ns_cli "$L7_PY" "$BITCHAT" client "$SRV_IP" $WS --clients 4 --direct 2 --room-messages 0 \
	--rooms 0 --pings 1 --abnormal-close 1 >"$WORK/bitchat.client.json" 2>"$WORK/bitchat.client.err"
wait "$BITCHAT_PID" 2>/dev/null
check "4 session spans" await_spans 4 "s['name'] == 'WebSocket session'" 10
check "8 message spans (4 clients x 2 pushes acked)" await_spans 8 "s['name'] == 'BitChat message'" 10
sleep 1
check "exactly 4 sessions, 8 messages" eq "$(n_spans backend 'WebSocket session') $(n_spans backend 'BitChat message')" "4 8"
check "one session ERROR: close code 1011, abnormal_close, an event" eq \
	"$(n_spans backend 'WebSocket session' "s['status'] == 2 and s['attrs'].get('fogprobe.websocket.close_code') == 1011 and s['attrs']['fogprobe.websocket.drop_reason'] == 'abnormal_close' and s['events'] == ['connection dropped']")" 1
check "three sessions closed 1000, status UNSET" eq \
	"$(n_spans backend 'WebSocket session' "s['status'] == 0 and s['attrs'].get('fogprobe.websocket.close_code') == 1000 and s['attrs']['fogprobe.websocket.drop_reason'] == 'none'")" 3
check "sessions and messages: server spans, end after start" eq \
	"$(count_received "s['resource']['service.name'] == 'backend' and s['kind'] == 2 and int(s['end']) > int(s['start'])")" 12

echo "2. Betanet"
ns_srv "$L7_PY" "$B" server $BN --bind "$SRV_IP" --count 2 --duration 30 >"$WORK/bn.json" 2>"$WORK/bn.err" &
BNS=$!
on_exit "stop_pid $BNS"
for i in $(seq 1 50); do grep -q listening "$WORK/bn.err" 2>/dev/null && break; sleep 0.1; done
ns_cli "$L7_PY" "$B" client "$SRV_IP" $BN --connections 2 --data 5 --control 1 --cover 1 >"$WORK/bn.client.json"
check "2 circuit spans" await_spans 2 "s['name'] == 'Betanet circuit build' and s['status'] == 0" 10
check "12 message spans" await_spans 12 "s['name'] == 'Betanet message'" 10
sleep 1
check "by type: 10 data, 2 control" eq \
	"$(n_spans betanet 'Betanet message' "s['attrs']['fogprobe.betanet.message_type'] == 'data'") $(n_spans betanet 'Betanet message' "s['attrs']['fogprobe.betanet.message_type'] == 'control'")" "10 2"
ns_srv "$L7_PY" "$B" server $BNBAD --bind "$SRV_IP" --count 1 --duration 30 --misbehave bad-handshake \
	>"$WORK/bnbad.json" 2>"$WORK/bnbad.err" &
BNB=$!
on_exit "stop_pid $BNB"
for i in $(seq 1 50); do grep -q listening "$WORK/bnbad.err" 2>/dev/null && break; sleep 0.1; done
ns_cli "$L7_PY" "$B" client "$SRV_IP" $BNBAD --data 2 --control 0 --cover 0 >/dev/null 2>&1
check "a failed handshake: one circuit span, ERROR, error.type bad_handshake" \
	await_spans 1 "s['name'] == 'Betanet circuit build' and s['status'] == 2 and s['attrs'].get('error.type') == 'bad_handshake'" 10
curl -sf -X GET "$RECEIVER_CTL/spans" >"$WORK/all.json"
check "... with its failure as a span event" /usr/bin/python3 -c '
import json, sys
raw = json.load(open(sys.argv[1]))
sys.exit(0 if any(s["name"] == "Betanet circuit build" and s["status"] == 2 and s.get("events") == ["handshake failed"] for s in raw) else 1)' "$WORK/all.json"

echo "3. exemplars"
sleep 1.5 # the last batch confirmed
curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' \
	"http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/m.om"
curl -sf "$RECEIVER_CTL/spans" >"$WORK/all.json"
ex_check() { # FAMILY SPAN_NAME
	/usr/bin/python3 - "$WORK/m.om" "$WORK/all.json" "$1" "$2" <<'PY'
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
spans = {(s["traceId"], s["spanId"]): s for s in json.load(open(sys.argv[2]))}
fam, name = sys.argv[3], sys.argv[4]
n = bad = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    if f.name != fam:
        continue
    for smp in f.samples:
        if smp.exemplar is None:
            continue
        n += 1
        sp = spans.get((smp.exemplar.labels["trace_id"], smp.exemplar.labels["span_id"]))
        d = (int(sp["end"]) - int(sp["start"])) / 1e9 if sp else None
        if not sp or sp["name"] != name or abs(d - smp.exemplar.value) > 1e-6:
            bad += 1
print(f"    {fam}: {n} exemplars, {bad} not the span of their value")
sys.exit(0 if n and not bad else 1)
PY
}
check "fogcompute_bitchat_message_latency_seconds: exemplars of BitChat message spans" \
	ex_check fogcompute_bitchat_message_latency_seconds "BitChat message"
check "fogcompute_betanet_message_latency_seconds: exemplars of Betanet message spans" \
	ex_check fogcompute_betanet_message_latency_seconds "Betanet message"
check "fogcompute_betanet_routing_latency_seconds: exemplars of Betanet message spans" \
	ex_check fogcompute_betanet_routing_latency_seconds "Betanet message"
check "fogcompute_betanet_circuit_build_seconds: exemplars of circuit spans" \
	ex_check fogcompute_betanet_circuit_build_seconds "Betanet circuit build"

echo "4. event log"
ns_cli bash -c "exec 3<>/dev/tcp/$SRV_IP/$WS" 2>/dev/null # the BitChat server has exited
sleep 1
grep '^{' "$WORK/daemon.log" >"$WORK/events.jsonl"
curl -sf "$RECEIVER_CTL/spans" >"$WORK/all.json"
ev_check() { # KIND PYTHON-CONDITION over e (the event) and spans (all received)
	/usr/bin/python3 -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
spans = json.load(open(sys.argv[2]))
kind, cond = sys.argv[3], sys.argv[4]
got = [e for e in evs if e.get("kind") == kind]
ok = [e for e in got if eval(cond, {"json": json, "spans": spans, "e": e})]
print("    %s: %d events, %d as expected" % (kind, len(got), len(ok)))
sys.exit(0 if got and len(ok) == len(got) else 1)' "$WORK/events.jsonl" "$WORK/all.json" "$1" "$2"
}
check "websocket_abnormal_close: reason, close code, the ids of its ERROR session span" ev_check \
	websocket_abnormal_close 'e["service"] == "backend" and e["reason"] == "abnormal_close" and e["close_code"] == 1011 and any(s["traceId"] == e["trace_id"] and s["spanId"] == e["span_id"] and s["status"] == 2 for s in spans)'
check "betanet_failure: reason, the ids of its ERROR circuit span" ev_check \
	betanet_failure 'e["service"] == "betanet" and e["reason"] == "bad_handshake" and any(s["traceId"] == e["trace_id"] and s["spanId"] == e["span_id"] and s["name"] == "Betanet circuit build" for s in spans)'
check "connect_failure: refused, no address" ev_check \
	connect_failure 'e["service"] == "backend" and e["reason"] == "refused" and "'"$SRV_IP"'" not in json.dumps(e) and "time" in e'
finish
