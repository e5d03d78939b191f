#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Delivery options against real peers: an Alertmanager serving TLS (a certificate made
# here, trusted through ca_file) with basic auth (its own --web.config.file, a bcrypt
# hash from the C library's crypt()), reached with username + password_file; a second
# entry with a wrong password is refused (401: counted as rejected, not retried); and a
# Slack-compatible webhook gets one message when the alert fires and one when it
# resolves, however many times the alert is resent in between.
METRICS_PORT=19380
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alertlib.sh"
PY=/usr/bin/python3
W=$ROOT/tests/workloads/crasher.py
AM_PORT=19383
REC_PORT=19381
[[ -x $AM ]] || skip "prometheus-alertmanager is not installed (tests/deps.sh)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$WORK/am.key" -out "$WORK/am.crt" 2>/dev/null || exit 1
HASH=$($PY -W ignore -c "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH)))")
cat >"$WORK/web.yml" <<YML
tls_server_config:
  cert_file: $WORK/am.crt
  key_file: $WORK/am.key
basic_auth_users:
  fogprobe: '$HASH'
YML
printf 's3cret\n' >"$WORK/pw"
printf 'wrong\n' >"$WORK/badpw"
chmod 600 "$WORK/pw" "$WORK/badpw"
cat >"$WORK/am.yml" <<YML
route:
  receiver: none
receivers:
  - name: none
YML
mkdir -p "$WORK/am-data"
$AM --config.file="$WORK/am.yml" --storage.path="$WORK/am-data" --web.config.file="$WORK/web.yml" \
	--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$WORK/am.log" 2>&1 &
on_exit "kill $!"
for i in $(seq 1 100); do
	curl -sf --cacert "$WORK/am.crt" -u fogprobe:s3cret "https://127.0.0.1:$AM_PORT/-/ready" >/dev/null && break
	sleep 0.1
done
check "Alertmanager refuses a client without the password" eq "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/am.crt" "https://127.0.0.1:$AM_PORT/api/v2/alerts")" 401
start_recorder || exit 1

start_daemon '{"services": [{"name": "control-panel", "protocol": "tcp", "ports": [19382]}],
 "containers": {"enabled": false}, "host": {"enabled": false},
 "alerts": {"instance": "fpal-node", "interval": "1s", "resend": "2s", "timeout": "2s",
  "alertmanagers": [
   {"url": "https://127.0.0.1:'$AM_PORT'", "username": "fogprobe", "password_file": "'$WORK/pw'",
    "ca_file": "'$WORK/am.crt'"},
   {"url": "https://127.0.0.1:'$AM_PORT'/", "username": "fogprobe", "password_file": "'$WORK/badpw'",
    "ca_file": "'$WORK/am.crt'"}],
  "webhook": {"url": "http://127.0.0.1:'$REC_PORT'/hook"},
  "rules": [{"alert": "ControlPanelDown", "for": "2s"}]}}' || exit 1

$PY "$W" serve 19382 --end none >"$WORK/cp1" 2>&1 &
CP=$!
on_exit "kill $CP"
await_metric fogprobe_service_up 'service="control-panel"' 1
kill -KILL $CP
# am_has over TLS with the password
am_tls() {
	curl -sf --cacert "$WORK/am.crt" -u fogprobe:s3cret "https://127.0.0.1:$AM_PORT/api/v2/alerts" |
		$PY -c 'import json, sys; sys.exit(0 if any(a["labels"].get("alertname") == "ControlPanelDown" and a["labels"].get("service") == "control-panel" for a in json.load(sys.stdin)) else 1)'
}
t=$(wait_for 30 am_tls)
echo "    ControlPanelDown in the TLS Alertmanager after ${t}s"
check "delivered over TLS with basic auth" [ "$t" != timeout ]
sleep 7 # >= 3 resends of the firing alert
check "posts with the wrong password counted as rejected" [ "$(metric fogprobe_alert_notifications_total 'result="rejected"')" -gt 0 ]
check "posts with the right one counted as success" [ "$(metric fogprobe_alert_notifications_total 'result="success"')" -gt 0 ]
check "no post failed (a 401 is not retried)" eq "$(metric fogprobe_alert_notifications_total 'result="failed"')" 0
$PY "$W" serve 19382 --end none >"$WORK/cp2" 2>&1 &
CP=$!
on_exit "kill $CP"
resolved_msg() { grep -q '\[RESOLVED\] ControlPanelDown' "$WORK/notified.jsonl"; }
t=$(wait_for 20 resolved_msg)
check "the webhook got the resolution" [ "$t" != timeout ]
sleep 5 # resolved alerts are resent too
firing=$(grep -c '\[FIRING\] ControlPanelDown' "$WORK/notified.jsonl")
resolved=$(grep -c '\[RESOLVED\] ControlPanelDown' "$WORK/notified.jsonl")
echo "    webhook messages: $firing firing, $resolved resolved; posts $(metric fogprobe_alert_webhook_notifications_total 'result="success"')"
check "one webhook message for the firing alert" eq "$firing" 1
check "one webhook message for its resolution" eq "$resolved" 1
check "the message is Slack's {\"text\": ...}" $PY -c '
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if all(list(x) == ["text"] for x in m) and any(x["text"].startswith("[FIRING] ControlPanelDown: Control Panel down on fpal-node") for x in m) else 1)' "$WORK/notified.jsonl"
finish
